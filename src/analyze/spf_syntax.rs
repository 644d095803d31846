//! Placeholder until the strict RFC 7208 syntax check lands.

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub term: String,
    pub reason: String,
}

impl std::fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "term {:?}: {}", self.term, self.reason)
    }
}

pub fn check(_record: &str) -> Result<(), SyntaxError> {
    Ok(())
}
