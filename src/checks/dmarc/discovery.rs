//! The `_dmarc` TXT records up the From domain's tree, asked once and read
//! by both policy discoveries: RFC 7489 wants the From domain and its
//! organisational domain, RFC 9989 every name up to the top-level domain.

use crate::dns::{Answer, Dns, answer, txt_strings};
use mail_auth::hickory_resolver::proto::rr::RecordType;

/// What `_dmarc.<name>` holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Published {
    /// The `v=DMARC1` records; other TXT records there are discarded
    /// (RFC 7489 §6.6.3 step 2).
    Records(Vec<String>),
    /// No name, no TXT, or no `v=DMARC1` among them.
    Nothing,
    /// DNS did not answer (timeout, SERVFAIL): nothing can be concluded.
    Failed(String),
}

/// `(name, what _dmarc.<name> holds)`, from the From domain (longest)
/// toward the top-level domain. Like RFC 9989 §4.10 it skips to 7 labels
/// after the first query, so a hostile 100-label From costs at most 8
/// lookups; the organisational domain is asked whatever its length.
pub(super) async fn walk(
    dns: &Dns,
    from_domain: &str,
    org_domain: &str,
) -> Vec<(String, Published)> {
    let mut found = Vec::new();
    let mut name = from_domain;
    while !name.is_empty() {
        if name == from_domain || name == org_domain || name.split('.').count() <= 7 {
            found.push((name.to_string(), published(dns, name).await));
        }
        name = name.split_once('.').map_or("", |(_, parent)| parent);
    }
    found
}

async fn published(dns: &Dns, name: &str) -> Published {
    match answer(
        &*dns
            .lookup(&format!("_dmarc.{name}."), RecordType::TXT)
            .await,
    ) {
        Answer::Records(lookup) => {
            let records: Vec<String> = txt_strings(lookup)
                .into_iter()
                .filter(|r| is_dmarc_record(r))
                .collect();
            if records.is_empty() {
                Published::Nothing
            } else {
                Published::Records(records)
            }
        }
        Answer::NoRecords => Published::Nothing,
        Answer::Failed(error) => Published::Failed(error),
    }
}

/// Starts with the `v=DMARC1` tag (RFC 7489 §6.3: it must come first);
/// spaces around `=` are allowed by the tag grammar.
fn is_dmarc_record(record: &str) -> bool {
    record.split_once('=').is_some_and(|(tag, value)| {
        tag.trim() == "v"
            && value
                .trim_start()
                .get(..6)
                .is_some_and(|v| v.eq_ignore_ascii_case("DMARC1"))
    })
}

/// What `_dmarc.<name>` holds in `walk`; a name not asked counts as nothing.
pub(super) fn at<'a>(walk: &'a [(String, Published)], name: &str) -> &'a Published {
    walk.iter()
        .find(|(n, _)| n == name)
        .map_or(&Published::Nothing, |(_, p)| p)
}

#[cfg(test)]
mod tests {
    use super::is_dmarc_record;

    #[test]
    fn only_records_that_start_with_the_version_tag() {
        assert!(is_dmarc_record("v=DMARC1; p=none"));
        assert!(is_dmarc_record("v = dmarc1;p=none"));
        assert!(!is_dmarc_record("p=none; v=DMARC1"));
        assert!(!is_dmarc_record("v=spf1 -all"));
        assert!(!is_dmarc_record("google-site-verification=x"));
    }
}
