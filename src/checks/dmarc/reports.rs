//! External report destinations (RFC 7489 §7.1): a `rua=`/`ruf=` address
//! in another organisational domain receives reports only when that domain
//! says it wants them, with a TXT record `v=DMARC1` at
//! `<policy domain>._report._dmarc.<destination domain>`. Without it,
//! receivers drop the reports: the record looks set up and tells its owner
//! nothing. Much of what JIPDEC's survey counted as DMARC 設定に不備 is this.

use super::tags::mailto_domain;
use crate::dns::org_domain::organisational_domain;
use crate::dns::{Answer, Dns, answer, txt_strings};
use mail_auth::hickory_resolver::proto::rr::RecordType;

/// At most this many destination domains are asked per record: each is a
/// lookup, and the record is the sender's to make long.
const MAX_DESTINATIONS: usize = 4;

/// One line for each report destination of `record` (published at
/// `record_domain`) that does not accept its reports. A destination whose
/// DNS did not answer is left out: nothing is known about it.
pub(super) async fn refused(dns: &Dns, record_domain: &str, record: &str) -> Vec<String> {
    let ours = organisational_domain(record_domain);
    let mut asked: Vec<String> = Vec::new();
    let mut refused = Vec::new();
    for (tag, uri) in report_uris(record) {
        let Some(domain) = mailto_domain(uri) else {
            continue;
        };
        if organisational_domain(&domain) == ours || asked.contains(&domain) {
            continue;
        }
        if asked.len() == MAX_DESTINATIONS {
            break;
        }
        asked.push(domain.clone());
        let name = format!("{record_domain}._report._dmarc.{domain}");
        let accepts = match answer(&*dns.lookup(&format!("{name}."), RecordType::TXT).await) {
            Answer::Records(lookup) => txt_strings(lookup).iter().any(|txt| {
                txt.trim_start()
                    .to_ascii_lowercase()
                    .starts_with("v=dmarc1")
            }),
            Answer::NoRecords => false,
            Answer::Failed(_) => true,
        };
        if !accepts {
            refused.push(format!(
                "{tag}={uri}: {domain} does not accept reports for {record_domain} \
                 (no TXT \"v=DMARC1\" at {name}), so receivers drop them"
            ));
        }
    }
    refused
}

/// `(tag, uri)` for each URI of the record's `rua=` and `ruf=` tags (a
/// tag given twice is read once, as receivers do; `tags` reports it).
fn report_uris(record: &str) -> impl Iterator<Item = (&'static str, &str)> {
    ["rua", "ruf"].into_iter().flat_map(move |tag| {
        super::tag_value(record, tag)
            .into_iter()
            .flat_map(|value| value.split(','))
            .map(str::trim)
            .filter(|uri| !uri.is_empty())
            .map(move |uri| (tag, uri))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_uris_are_read_from_rua_and_ruf() {
        let uris: Vec<_> = report_uris(
            "v=DMARC1; p=none; rua=mailto:a@x.example, mailto:b@y.example!10m; ruf=mailto:c@z.example",
        )
        .collect();
        assert_eq!(
            uris,
            [
                ("rua", "mailto:a@x.example"),
                ("rua", "mailto:b@y.example!10m"),
                ("ruf", "mailto:c@z.example")
            ]
        );
    }
}
