//! Domain names as the content checks compare them: the organisational
//! domain (what a person reads as "who this is", by the Public Suffix List), whether a word looks like
//! a domain, and IDNA punycode (RFC 3492) decoding for look-alike checks.

/// The organisational domain by the Public Suffix List, as DMARC decides
/// it (`www.shop.example.co.jp` → `example.co.jp`). Lower-case, without a
/// trailing dot.
pub fn org_domain(domain: &str) -> String {
    crate::dns::org_domain::organisational_domain(domain.trim())
}

/// The label a person reads as the name: `paypal` in `www.paypal.co.jp`.
pub fn org_label(domain: &str) -> String {
    org_domain(domain)
        .split('.')
        .next()
        .unwrap_or_default()
        .to_string()
}

/// The domain of an address (`a@b.example` → `b.example`), lower-case.
pub fn domain_of(address: &str) -> Option<String> {
    let (_, domain) = address.trim().trim_matches(['<', '>']).rsplit_once('@')?;
    let domain = domain.trim().trim_end_matches('.').to_ascii_lowercase();
    (!domain.is_empty()).then_some(domain)
}

/// Whether two domains belong to the same organisation.
pub fn related(a: &str, b: &str) -> bool {
    org_domain(a) == org_domain(b)
}

/// `word` read as a host name: `Example.COM`, `www.shop.example`; a URL's
/// host counts too. None for `Mr.`, `v1.2` or a bare word.
pub fn as_domain(word: &str) -> Option<String> {
    let word = word
        .trim()
        .trim_matches(|c: char| "()[]<>\"',;:!?".contains(c));
    let lower = word.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"))
        .unwrap_or(&lower);
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    let host = host
        .split(':')
        .next()
        .unwrap_or_default()
        .trim_end_matches('.');
    let labels: Vec<&str> = host.split('.').collect();
    let tld = labels.last()?;
    let ok = labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b >= 0x80)
        })
        && (2..=24).contains(&tld.len())
        && tld.bytes().all(|b| b.is_ascii_alphabetic());
    ok.then(|| host.to_string())
}

/// The domain with each `xn--` label decoded to Unicode; None when a label
/// is not valid punycode.
pub fn to_unicode(domain: &str) -> Option<String> {
    let labels: Option<Vec<String>> = domain
        .split('.')
        .map(|label| match label.strip_prefix("xn--") {
            Some(encoded) => punycode_decode(encoded),
            None => Some(label.to_string()),
        })
        .collect();
    Some(labels?.join("."))
}

/// RFC 3492 §6.2, for one label. Bounded: labels are at most 63 octets.
fn punycode_decode(input: &str) -> Option<String> {
    const BASE: u32 = 36;
    const T_MIN: u32 = 1;
    const T_MAX: u32 = 26;
    if input.len() > 63 || !input.is_ascii() {
        return None;
    }
    let (basic, extended) = match input.rfind('-') {
        Some(i) => (&input[..i], &input[i + 1..]),
        None => ("", input),
    };
    let mut output: Vec<char> = basic.chars().collect();
    let (mut n, mut i, mut bias) = (128u32, 0u32, 72u32);
    let mut digits = extended.bytes().peekable();
    while digits.peek().is_some() {
        let old_i = i;
        let mut w = 1u32;
        let mut k = BASE;
        loop {
            let digit = match digits.next()? {
                c @ b'a'..=b'z' => u32::from(c - b'a'),
                c @ b'A'..=b'Z' => u32::from(c - b'A'),
                c @ b'0'..=b'9' => u32::from(c - b'0') + 26,
                _ => return None,
            };
            i = i.checked_add(digit.checked_mul(w)?)?;
            let t = if k <= bias {
                T_MIN
            } else if k >= bias + T_MAX {
                T_MAX
            } else {
                k - bias
            };
            if digit < t {
                break;
            }
            w = w.checked_mul(BASE - t)?;
            k += BASE;
        }
        let len = output.len() as u32 + 1;
        bias = adapt(i - old_i, len, old_i == 0);
        n = n.checked_add(i / len)?;
        i %= len;
        output.insert(i as usize, char::from_u32(n)?);
        i += 1;
    }
    Some(output.into_iter().collect())
}

fn adapt(delta: u32, points: u32, first: bool) -> u32 {
    let mut delta = if first { delta / 700 } else { delta / 2 };
    delta += delta / points;
    let mut k = 0;
    while delta > ((36 - 1) * 26) / 2 {
        delta /= 36 - 1;
        k += 36;
    }
    k + (36 * delta) / (delta + 38)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn organisational_domain_keeps_cctld_second_levels() {
        assert_eq!(org_domain("mail.example.com"), "example.com");
        assert_eq!(org_domain("www.shop.example.co.jp"), "example.co.jp");
        assert_eq!(org_domain("Example.COM."), "example.com");
        assert!(related("bounce.esp.example", "news.esp.example"));
        assert_eq!(org_label("login.paypal.co.uk"), "paypal");
        // Two owners under one shared suffix (the list's private section):
        // a last-two-labels guess would call them one organisation.
        assert!(!related("alice.github.io", "mallory.github.io"));
        assert_eq!(org_domain("www.city.example.tokyo.jp"), "example.tokyo.jp");
    }

    #[test]
    fn words_that_are_domains() {
        assert_eq!(as_domain("PayPal.com").as_deref(), Some("paypal.com"));
        assert_eq!(
            as_domain("https://www.bank.example/login?x").as_deref(),
            Some("www.bank.example")
        );
        assert_eq!(as_domain("Mr."), None);
        assert_eq!(as_domain("v1.2"), None);
        assert_eq!(as_domain("hello"), None);
    }

    #[test]
    fn punycode_decodes_rfc3492_examples() {
        // RFC 3492 §7.1 (L) Japanese and the well-known "bücher".
        assert_eq!(
            to_unicode("xn--3B-ww4c5e180e575a65lsy2b").as_deref(),
            Some("3年B組金八先生")
        );
        assert_eq!(
            to_unicode("xn--bcher-kva.example").as_deref(),
            Some("bücher.example")
        );
        // Cyrillic "а" in "pаypal".
        assert_eq!(
            to_unicode("xn--pypal-4ve.com").as_deref(),
            Some("pаypal.com")
        );
        assert_eq!(to_unicode("xn--!!!"), None);
    }
}
