//! A DMARC record read tag by tag (RFC 7489 §6.3), so that a record a
//! receiver would partly ignore is called misconfigured, not "set up".
//!
//! mail-auth's parser is lenient the way a receiver must be: `pct=150`
//! becomes 100, a bad `rua=` URI is skipped. A sender's tester must say
//! what it skipped. Unknown tags are ignored, as §6.3 says; `v=DMARC1`
//! first is checked by discovery (a record without it is not a DMARC
//! record at all).

/// Every problem of `record`, one line each naming the tag: empty when
/// each tag we know is well-formed.
pub(super) fn problems(record: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    for (i, pair) in record.split(';').enumerate() {
        let pair = pair.trim();
        if pair.is_empty() {
            continue;
        }
        let Some((tag, value)) = pair.split_once('=') else {
            problems.push(format!("{pair:?} is not a tag=value pair"));
            continue;
        };
        let (tag, value) = (tag.trim().to_ascii_lowercase(), value.trim());
        if i > 0 && tag == "v" {
            problems.push("v= must appear once, first".into());
        }
        if seen.contains(&tag) {
            problems.push(format!("{tag}= appears twice"));
        }
        seen.push(tag.clone());
        if let Some(reason) = problem(&tag, value) {
            problems.push(format!("{tag}={value}: {reason}"));
        }
    }
    problems
}

/// What is wrong with one tag's value, if anything.
fn problem(tag: &str, value: &str) -> Option<&'static str> {
    let ok = match tag {
        "p" | "sp" => {
            ["none", "quarantine", "reject"].contains(&value.to_ascii_lowercase().as_str())
        }
        "pct" => value.parse::<u8>().is_ok_and(|pct| pct <= 100),
        "adkim" | "aspf" => ["r", "s"].contains(&value.to_ascii_lowercase().as_str()),
        "ri" => value.parse::<u32>().is_ok(),
        "fo" => value
            .split(':')
            .all(|option| ["0", "1", "d", "s"].contains(&option.trim())),
        "rf" => value
            .split(':')
            .all(|format| format.trim().eq_ignore_ascii_case("afrf")),
        "rua" | "ruf" => value.split(',').all(|uri| is_report_uri(uri.trim())),
        _ => true,
    };
    (!ok).then_some(match tag {
        "p" | "sp" => "must be none, quarantine or reject",
        "pct" => "must be an integer from 0 to 100",
        "adkim" | "aspf" => "must be r (relaxed) or s (strict)",
        "ri" => "must be a number of seconds",
        "fo" => "must be 0, 1, d or s, separated by colons",
        "rf" => "must be afrf",
        _ => "must be mailto: addresses, comma-separated, each with an optional !size (e.g. !10m)",
    })
}

/// `mailto:local@domain` with an optional `!<digits>[kmgt]` size limit
/// (§6.2). Receivers send reports by mail only, so another scheme is a
/// destination nobody sends to.
fn is_report_uri(uri: &str) -> bool {
    let (address, size) = match uri.rsplit_once('!') {
        Some((address, size)) => (address, Some(size)),
        None => (uri, None),
    };
    let size_ok = size.is_none_or(|size| {
        let digits = size.trim_end_matches(['k', 'm', 'g', 't', 'K', 'M', 'G', 'T']);
        !digits.is_empty()
            && digits.len() + 1 >= size.len()
            && digits.bytes().all(|b| b.is_ascii_digit())
    });
    let address_ok = address
        .get(..7)
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("mailto:"))
        && mailto_domain(address).is_some();
    size_ok && address_ok
}

/// The domain of a `mailto:` report URI (lowercase), if it has one.
pub(super) fn mailto_domain(uri: &str) -> Option<String> {
    let address = uri.get(7..)?.split('!').next()?;
    let (local, domain) = address.rsplit_once('@')?;
    let domain = domain.trim().trim_end_matches('.').to_ascii_lowercase();
    (!local.is_empty() && domain.contains('.') && !domain.contains(['/', ' ', '?']))
        .then_some(domain)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_correct_record_has_no_problems() {
        for record in [
            "v=DMARC1; p=reject",
            "v=DMARC1; p=none; rua=mailto:d@example.com",
            "v=DMARC1;p=quarantine;sp=reject;pct=50;adkim=s;aspf=r;ri=86400;fo=0:d;rf=afrf;\
             rua=mailto:a@example.com!10m,mailto:b@example.net;ruf=mailto:f@example.com",
            "v=DMARC1; p=reject; np=reject; psd=n; t=y; future=whatever;",
        ] {
            assert_eq!(problems(record), Vec::<String>::new(), "{record}");
        }
    }

    #[test]
    fn each_bad_tag_is_named_with_its_reason() {
        let cases = [
            (
                "v=DMARC1; p=reject; pct=150",
                "pct=150: must be an integer from 0 to 100",
            ),
            ("v=DMARC1; p=reject; pct=-1", "pct=-1: must be an integer"),
            (
                "v=DMARC1; p=block",
                "p=block: must be none, quarantine or reject",
            ),
            ("v=DMARC1; p=none; sp=rejected", "sp=rejected: must be"),
            (
                "v=DMARC1; p=none; adkim=strict",
                "adkim=strict: must be r (relaxed) or s",
            ),
            (
                "v=DMARC1; p=none; ri=daily",
                "ri=daily: must be a number of seconds",
            ),
            ("v=DMARC1; p=none; fo=2", "fo=2: must be 0, 1, d or s"),
            (
                "v=DMARC1; p=none; rua=dmarc@example.com",
                "rua=dmarc@example.com: must be mailto:",
            ),
            (
                "v=DMARC1; p=none; rua=mailto:d@example.com!10x",
                "rua=mailto:d@example.com!10x",
            ),
            (
                "v=DMARC1; p=none; ruf=https://example.com/r",
                "ruf=https://example.com/r",
            ),
            ("v=DMARC1; p=none; p=reject", "p= appears twice"),
            ("v=DMARC1; p=none; v=DMARC1", "v= must appear once, first"),
            (
                "v=DMARC1; p=none; nonsense",
                "\"nonsense\" is not a tag=value pair",
            ),
        ];
        for (record, expected) in cases {
            let found = problems(record);
            assert!(
                found.iter().any(|p| p.starts_with(expected)),
                "{record}: {found:?}"
            );
        }
    }

    #[test]
    fn report_domains_come_from_mailto_uris() {
        assert_eq!(
            mailto_domain("mailto:d@Reports.Example.NET!10m").as_deref(),
            Some("reports.example.net")
        );
        assert_eq!(mailto_domain("mailto:nobody"), None);
        assert_eq!(mailto_domain("mailto:@example.com"), None);
    }
}
