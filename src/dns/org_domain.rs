//! The organisational domain of RFC 7489 §3.2: the registered domain, one
//! label below the longest public suffix that ends the name, taken from the
//! Public Suffix List. This is how Gmail, Yahoo and Microsoft decide today
//! whether `news.brand.example` and `brand.example` belong to one owner, and
//! that `example.co.jp` and `other.co.jp` do not.
//!
//! The list is the `psl` crate's, compiled in (no file to ship or parse at
//! start); a newer list is a dependency update.

/// The organisational domain of `domain`, lowercased and without a trailing
/// dot. A name that is itself a public suffix (`co.jp`), or has no label
/// left below one, is its own organisational domain: RFC 7489 §3.2 step 3
/// has nothing shorter to offer.
pub fn organisational_domain(domain: &str) -> String {
    let name = normalise(domain);
    match psl::domain_str(&name) {
        Some(registered) => registered.to_string(),
        None => name,
    }
}

/// RFC 7489 §3.1: relaxed alignment is the same organisational domain,
/// strict alignment the identical name. Case, a trailing dot and the IDN
/// spelling (U-label or A-label) do not count.
pub fn aligned(identifier: &str, from_domain: &str, strict: bool) -> bool {
    let (id, from) = (normalise(identifier), normalise(from_domain));
    if id.is_empty() || from.is_empty() {
        return false;
    }
    id == from || (!strict && organisational_domain(&id) == organisational_domain(&from))
}

/// Lowercase, no trailing dot, and an IDN as its A-label: `例え.jp` and
/// `xn--r8jz45g.jp` are one domain.
fn normalise(domain: &str) -> String {
    super::idn::a_label(domain.trim_end_matches('.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_label_below_the_public_suffix() {
        assert_eq!(organisational_domain("news.brand.example"), "brand.example");
        assert_eq!(organisational_domain("a.b.example.co.jp"), "example.co.jp");
        assert_eq!(
            organisational_domain("Mail.Example.CO.UK."),
            "example.co.uk"
        );
        assert_eq!(organisational_domain("example.com"), "example.com");
    }

    #[test]
    fn a_public_suffix_is_its_own_organisational_domain() {
        assert_eq!(organisational_domain("co.jp"), "co.jp");
        assert_eq!(organisational_domain("com"), "com");
        assert_eq!(organisational_domain(""), "");
    }

    #[test]
    fn relaxed_and_strict_alignment() {
        assert!(aligned("brand.example", "news.brand.example", false));
        assert!(!aligned("brand.example", "news.brand.example", true));
        assert!(aligned("NEWS.brand.example.", "news.brand.example", true));
        assert!(!aligned("other.co.jp", "example.co.jp", false));
        assert!(aligned("bounce.example.co.jp", "example.co.jp", false));
        assert!(!aligned("", "example.co.jp", false));
    }
}
