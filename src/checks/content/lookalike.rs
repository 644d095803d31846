//! Look-alike From domains: internationalised names (punycode), labels that
//! mix scripts so a Cyrillic "а" passes for a Latin "a", and names one edit
//! away from a well-known brand (`scoring-rules/brands.txt`).

use super::domains::{org_domain, org_label, to_unicode};
use super::words;

const BRANDS: &str = include_str!("../../../scoring-rules/brands.txt");
/// Brand names shorter than this have too many innocent neighbours.
const MIN_BRAND_LEN: usize = 5;

words! {
    /// How a From domain imitates another, worst first after `none`.
    Lookalike {
        None => "none",
        Punycode => "punycode",
        MixedScript => "mixed_script",
        Brand => "brand",
    }
}

/// The verdict for `domain`, and the brand it imitates if any.
pub fn lookalike(domain: &str) -> (Lookalike, Option<String>) {
    let domain = domain.to_ascii_lowercase();
    let unicode = to_unicode(&domain);
    let idn = domain.split('.').any(|l| l.starts_with("xn--")) || !domain.is_ascii();
    if let Some(text) = &unicode
        && text.split('.').any(mixed_script)
    {
        return (Lookalike::MixedScript, None);
    }
    if let Some(brand) = imitated_brand(&domain) {
        return (Lookalike::Brand, Some(brand));
    }
    if idn || unicode.is_none() {
        return (Lookalike::Punycode, None);
    }
    (Lookalike::None, None)
}

/// The brand domain whose name `domain`'s name is one edit from (or equal
/// to once look-alike characters are folded), unless it is that brand.
fn imitated_brand(domain: &str) -> Option<String> {
    let own = org_domain(domain);
    let label = own.split('.').next().unwrap_or_default();
    let folded = fold(label);
    let length = label.chars().count();
    brands().iter().find_map(|brand| {
        if own == brand.org_domain {
            return None;
        }
        // One edit changes the length by at most one: most brands are
        // ruled out before the distance is computed.
        let near = (label != brand.name
            && length.abs_diff(brand.length) <= 1
            && edit_distance(label, &brand.name) <= 1)
            || (folded != label && folded == brand.name);
        near.then(|| brand.domain.to_string())
    })
}

/// A brand of `brands.txt`, with what every message is compared against
/// worked out once.
struct Brand {
    domain: &'static str,
    org_domain: String,
    /// The first label of its organisational domain: `paypal`.
    name: String,
    length: usize,
}

/// The brands long enough to compare (see [`MIN_BRAND_LEN`]).
fn brands() -> &'static [Brand] {
    static BRANDS_PARSED: std::sync::LazyLock<Vec<Brand>> = std::sync::LazyLock::new(|| {
        BRANDS
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(|domain| {
                let name = org_label(domain);
                Brand {
                    domain,
                    org_domain: org_domain(domain),
                    length: name.chars().count(),
                    name,
                }
            })
            .filter(|brand| brand.length >= MIN_BRAND_LEN)
            .collect()
    });
    &BRANDS_PARSED
}

/// Folds characters people misread for others: `rn` for `m`, `vv` for
/// `w`, `0` for `o`, `1` for `l`.
fn fold(label: &str) -> String {
    label
        .replace("rn", "m")
        .replace("vv", "w")
        .replace('0', "o")
        .replace('1', "l")
}

#[derive(PartialEq, Eq, Clone, Copy)]
enum Script {
    Latin,
    Greek,
    Cyrillic,
    Other,
}

fn script(c: char) -> Option<Script> {
    match c as u32 {
        0x30..=0x39 | 0x2d | 0x5f => None,
        0x41..=0x5a | 0x61..=0x7a | 0xc0..=0x24f | 0x1e00..=0x1eff => Some(Script::Latin),
        0x370..=0x3ff | 0x1f00..=0x1fff => Some(Script::Greek),
        0x400..=0x52f => Some(Script::Cyrillic),
        _ => Some(Script::Other),
    }
}

/// A label with letters from two of Latin, Greek and Cyrillic: the scripts
/// whose letters look alike. Japanese mixing kanji, kana and Latin is normal
/// and not counted.
fn mixed_script(label: &str) -> bool {
    let mut seen: Vec<Script> = Vec::new();
    for s in label.chars().take(63).filter_map(script) {
        if s != Script::Other && !seen.contains(&s) {
            seen.push(s);
        }
    }
    seen.len() > 1
}

/// Damerau–Levenshtein (optimal string alignment) distance; labels are at
/// most 63 characters, so the table stays small.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().take(63).collect();
    let b: Vec<char> = b.chars().take(63).collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_edit_from_a_brand_is_a_lookalike() {
        assert_eq!(lookalike("paypa1.com").0, Lookalike::Brand);
        assert_eq!(
            lookalike("mail.amazom.co.jp").1.as_deref(),
            Some("amazon.com")
        );
        assert_eq!(lookalike("rnicrosoft.com").0, Lookalike::Brand);
        assert_eq!(lookalike("micorsoft.com").0, Lookalike::Brand);
    }

    #[test]
    fn the_brand_itself_and_unrelated_names_are_not() {
        assert_eq!(lookalike("paypal.com").0, Lookalike::None);
        assert_eq!(lookalike("email.paypal.com").0, Lookalike::None);
        assert_eq!(lookalike("example.com").0, Lookalike::None);
        assert_eq!(lookalike("news.example.co.jp").0, Lookalike::None);
    }

    #[test]
    fn scripts_and_punycode() {
        assert_eq!(lookalike("xn--pypal-4ve.com").0, Lookalike::MixedScript);
        assert_eq!(lookalike("xn--bcher-kva.example").0, Lookalike::Punycode);
        assert_eq!(lookalike("xn--80ak6aa92e.com").0, Lookalike::Punycode);
        assert_eq!(lookalike("xn--!!.com").0, Lookalike::Punycode);
    }
}
