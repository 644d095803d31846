//! Internationalised domain names (RFC 5890). DNS holds A-labels
//! (`xn--r8jz45g.jp`); SMTPUTF8 mail carries U-labels (`例え.jp`) in the
//! envelope and the From header. Every lookup and every alignment uses the
//! A-label, so both spellings of one domain are one domain; what the
//! sender wrote stays in the report as written.

/// `domain` as its A-label, lowercase. A name IDNA cannot convert (not a
/// valid IDN) is only lowercased: it will not be found, and that is the
/// answer DNS would give.
pub fn a_label(domain: &str) -> String {
    if domain.is_ascii() {
        return domain.to_ascii_lowercase();
    }
    idna::domain_to_ascii(domain).unwrap_or_else(|_| domain.to_lowercase())
}

/// `local@domain` with the domain as its A-label (the local part may stay
/// UTF-8: RFC 6531 allows it, and SPF macros use it as sent).
pub fn a_label_address(address: &str) -> String {
    match address.rsplit_once('@') {
        Some((local, domain)) if !domain.is_ascii() => format!("{local}@{}", a_label(domain)),
        _ => address.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn u_labels_become_a_labels() {
        assert_eq!(a_label("例え.jp"), "xn--r8jz45g.jp");
        assert_eq!(a_label("メール.例え.JP"), "xn--4dkua4c.xn--r8jz45g.jp");
        assert_eq!(a_label("Example.COM"), "example.com");
        assert_eq!(a_label_address("送信者@例え.jp"), "送信者@xn--r8jz45g.jp");
        assert_eq!(a_label_address("a@b.example"), "a@b.example");
    }
}
