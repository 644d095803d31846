//! Test ids: the local part of a throwaway address, and the key of its report.
//!
//! Two forms: a plain id (`ci-build-42`), and a survey's address
//! (`<survey id>.<label>`, e.g. `k3v….mail-magazine`), whose mail is a test
//! like any other and is also counted in the survey.

/// What an invalid id is told, wherever one is refused.
pub const INVALID: &str =
    "invalid test id: use 3-64 of [a-z0-9-], or <survey id>.<label> with a label of 1-40";

/// [`is_valid`] as a regular expression, for the API document.
pub const PATTERN: &str = "^[a-z0-9-]{3,64}(\\.[a-z0-9-]{1,40})?$";

/// [`is_plain`] as a regular expression: a test or survey id.
pub const PLAIN_PATTERN: &str = "^[a-z0-9-]{3,64}$";

/// A test id: plain, or a survey's `<survey id>.<label>`. SMTP (RCPT) and
/// the web API (URLs) both check with this, so an address that receives
/// mail always has a page.
pub fn is_valid(id: &str) -> bool {
    is_plain(id) || survey_address(id).is_some()
}

/// 3–64 of `[a-z0-9-]`: the ids a client may choose, and survey ids.
pub fn is_plain(id: &str) -> bool {
    (3..=64).contains(&id.len()) && id.bytes().all(is_id_byte)
}

/// The survey id and the label of a survey's address, `<survey>.<label>`
/// (the label names what the address was given to, e.g. a newsletter).
pub fn survey_address(id: &str) -> Option<(&str, &str)> {
    let (survey, label) = id.split_once('.')?;
    let label_ok = (1..=40).contains(&label.len()) && label.bytes().all(is_id_byte);
    (is_plain(survey) && label_ok).then_some((survey, label))
}

fn is_id_byte(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'
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

    #[test]
    fn a_survey_address_is_a_survey_id_and_a_label() {
        assert_eq!(survey_address("gov-2026.news"), Some(("gov-2026", "news")));
        assert!(is_valid("gov-2026.news") && !is_plain("gov-2026.news"));
        assert!(is_valid(&format!("abc.{}", "l".repeat(40))));
        for bad in [
            "ab.news",
            "abc.",
            "abc.a.b",
            "abc.Up",
            &format!("abc.{}", "l".repeat(41)),
        ] {
            assert!(!is_valid(bad), "{bad}");
        }
    }
}
