//! Test ids: the local part of a throwaway address, and the key of its report.

/// What an invalid id is told, wherever one is refused.
pub const INVALID: &str = "invalid test id: use 3-64 of [a-z0-9-]";

/// [`is_valid`] as a regular expression, for the API document.
pub const PATTERN: &str = "^[a-z0-9-]{3,64}$";

/// A test id is 3–64 of `[a-z0-9-]`. SMTP (RCPT) and the web API (URLs) both
/// check with this, so an address that receives mail always has a page.
pub fn is_valid(id: &str) -> bool {
    (3..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// A fresh unguessable id: 16 characters of `[a-z0-9]`, about 82 bits.
pub fn generate() -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the OS random source is available");
    // 256 is not a multiple of 36; rejection-free modulo bias is ~1.5%, which
    // costs well under a bit of the 82 and keeps this simple.
    bytes
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_are_valid_and_distinct() {
        let a = generate();
        let b = generate();
        assert!(is_valid(&a), "{a}");
        assert_ne!(a, b);
    }

    #[test]
    fn rejects_uppercase_short_long_and_symbols() {
        assert!(is_valid("ci-build-42"));
        assert!(!is_valid("ab"));
        assert!(!is_valid(&"a".repeat(65)));
        assert!(!is_valid("Upper"));
        assert!(!is_valid("a.b.c"));
        assert!(!is_valid("../etc"));
    }
}
