//! MTA-STS (RFC 8461): when the domain publishes `_mta-sts` TXT, its
//! policy fetched from `https://mta-sts.<domain>/.well-known/mta-sts.txt`
//! as a sending MTA would (a certificate valid for that name against our
//! roots, no redirects, `text/plain`, bounded in size and time), parsed
//! (§3.2), and every MX of the domain matched against its `mx` patterns
//! (§4.1). A policy in `enforce` mode that does not cover an MX stops
//! every MTA-STS sender from delivering there.

use super::ProbeSettings;
use super::certificate::Roots;
use super::dialogue::kept;
use super::targets::refusal;
use crate::dns::{Answer, Dns, addresses, answer, txt_strings};
use mail_auth::hickory_resolver::proto::rr::RecordType;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;

/// RFC 8461 §3.3 lets senders stop reading a policy this long.
const MAX_POLICY: usize = 64 * 1024;
/// §3.2: max_age is at most a year.
const MAX_AGE: u64 = 31_557_600;

crate::checks::facts::words! {
    /// What the MTA-STS policy says of the domain's MX.
    StsState {
        /// No `_mta-sts` TXT record: MTA-STS not used.
        NotPublished => "not_published",
        /// Fetched, well-formed, and it covers every MX.
        Valid => "valid",
        /// Fetched and well-formed, but an MX matches none of its patterns.
        MxMismatch => "mx_mismatch",
        /// The TXT record is there, but the policy could not be fetched
        /// over validated HTTPS, or is malformed.
        Invalid => "invalid",
        /// DNS did not answer.
        Unknown => "unknown",
    }
}

/// The policy and how it was judged.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct MtaStsFinding {
    pub state: StsState,
    /// The `id` of the TXT record.
    pub id: Option<String>,
    /// Where the policy was fetched from.
    pub url: Option<String>,
    /// `enforce`, `testing` or `none`.
    pub mode: Option<String>,
    pub max_age: Option<u64>,
    /// The policy's `mx` patterns.
    pub mx: Vec<String>,
    /// The domain's MX hosts that no pattern matches.
    pub unmatched: Vec<String>,
    pub error: Option<String>,
}

/// Checks `domain`'s policy against its MX `hosts`.
pub async fn check(
    dns: &Dns,
    settings: &ProbeSettings,
    roots: &Roots,
    domain: &str,
    hosts: &[String],
) -> MtaStsFinding {
    let mut found = MtaStsFinding::default();
    match record_id(dns, domain).await {
        Ok(None) => return found,
        Ok(Some(id)) => found.id = Some(id),
        Err(error) => {
            found.state = StsState::Unknown;
            found.error = Some(error);
            return found;
        }
    }
    let policy = match fetch(dns, settings, roots, domain, &mut found).await {
        Ok(text) => text,
        Err(error) => {
            found.state = StsState::Invalid;
            found.error = Some(error);
            return found;
        }
    };
    if let Err(error) = parse(&policy, &mut found) {
        found.state = StsState::Invalid;
        found.error = Some(error);
        return found;
    }
    if found.mode.as_deref() != Some("none") {
        found.unmatched = hosts
            .iter()
            .filter(|host| !found.mx.iter().any(|pattern| mx_match(pattern, host)))
            .cloned()
            .collect();
    }
    found.state = if found.unmatched.is_empty() {
        StsState::Valid
    } else {
        StsState::MxMismatch
    };
    found
}

/// The `id` of the `v=STSv1` record at `_mta-sts.<domain>`, if any
/// (posture judges the record's syntax).
async fn record_id(dns: &Dns, domain: &str) -> Result<Option<String>, String> {
    let reply = dns
        .lookup(&format!("_mta-sts.{domain}."), RecordType::TXT)
        .await;
    let lookup = match answer(&reply) {
        Answer::Records(lookup) => lookup,
        Answer::NoRecords => return Ok(None),
        Answer::Failed(error) => return Err(format!("_mta-sts TXT lookup: {error}")),
    };
    Ok(txt_strings(lookup)
        .into_iter()
        .find(|record| record.starts_with("v=STSv1"))
        .map(|record| {
            record
                .split(';')
                .filter_map(|tag| tag.trim().strip_prefix("id="))
                .next()
                .map(kept)
                .unwrap_or_default()
        }))
}

async fn fetch(
    dns: &Dns,
    settings: &ProbeSettings,
    roots: &Roots,
    domain: &str,
    found: &mut MtaStsFinding,
) -> Result<String, String> {
    let host = format!("mta-sts.{domain}");
    let reply = dns.lookup(&format!("{host}."), RecordType::A).await;
    let address = match answer(&reply) {
        Answer::Records(lookup) => addresses(lookup).into_iter().next(),
        Answer::NoRecords => None,
        Answer::Failed(error) => return Err(format!("{host} A lookup: {error}")),
    }
    .ok_or_else(|| format!("{host} has no address: the policy cannot be fetched"))?;
    if let Some(why) = refusal(address)
        && !settings.allow_private
    {
        return Err(format!("{host} is at {address}, {why}: not fetched"));
    }
    let url = match settings.https_port {
        443 => format!("https://{host}/.well-known/mta-sts.txt"),
        port => format!("https://{host}:{port}/.well-known/mta-sts.txt"),
    };
    found.url = Some(url.clone());
    let client = reqwest::Client::builder()
        .tls_backend_preconfigured(roots.client_config())
        .resolve(&host, SocketAddr::new(address, 0))
        // §3.3: "HTTP 3xx redirects MUST NOT be followed".
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .connect_timeout(settings.step_timeout)
        .timeout(settings.step_timeout)
        .user_agent(concat!("mailscore/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("HTTPS client: {e}"))?;
    let mut response = client.get(&url).send().await.map_err(|e| describe(&e))?;
    let status = response.status();
    if !status.is_success() {
        return Err(match status.is_redirection() {
            true => format!("HTTP {status}: redirects are not followed (RFC 8461 §3.3)"),
            false => format!("HTTP {status}"),
        });
    }
    let media = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if !media.starts_with("text/plain") {
        return Err(format!(
            "served as {:?}, not text/plain (RFC 8461 §3.2)",
            kept(&media)
        ));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| describe(&e))? {
        if body.len() + chunk.len() > MAX_POLICY {
            return Err(format!(
                "the policy is larger than {} KiB",
                MAX_POLICY / 1024
            ));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(String::from_utf8_lossy(&body).into_owned())
}

/// The innermost cause: "invalid peer certificate: UnknownIssuer" says
/// more than "error sending request".
fn describe(error: &dyn std::error::Error) -> String {
    let mut cause = error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    kept(&format!("fetching the policy: {cause}"))
}

/// §3.2: `key: value` lines; version, mode and max_age required, mx at
/// least once unless the mode is none; unknown keys ignored.
fn parse(policy: &str, found: &mut MtaStsFinding) -> Result<(), String> {
    let mut version = None;
    for line in policy.lines().take(1000) {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        let Some((key, value)) = line.split_once(':') else {
            return Err(format!("not a \"key: value\" line: {:?}", kept(line)));
        };
        let value = value.trim_matches([' ', '\t']);
        match key {
            "version" => version = Some(value.to_string()),
            "mode" => found.mode = Some(kept(value)),
            "max_age" => {
                let age = value
                    .parse::<u64>()
                    .ok()
                    .filter(|age| *age <= MAX_AGE && value.len() <= 10)
                    .ok_or_else(|| {
                        format!(
                            "max_age {:?} is not a number of seconds up to {MAX_AGE}",
                            kept(value)
                        )
                    })?;
                found.max_age = Some(age);
            }
            "mx" if found.mx.len() < 50 => found.mx.push(kept(&value.to_ascii_lowercase())),
            _ => {}
        }
    }
    if version.as_deref() != Some("STSv1") {
        return Err("no \"version: STSv1\" line".into());
    }
    match found.mode.as_deref() {
        Some("enforce" | "testing") if found.mx.is_empty() => {
            Err("no mx line (required unless mode is none)".into())
        }
        Some("enforce" | "testing" | "none") if found.max_age.is_none() => {
            Err("no max_age line".into())
        }
        Some("enforce" | "testing" | "none") => Ok(()),
        Some(other) => Err(format!("mode {other:?} is not enforce, testing or none")),
        None => Err("no mode line".into()),
    }
}

/// §4.1: a pattern is a host name, or `*.` and a domain matching exactly
/// one more label on the left: the certificate rule of RFC 6125.
pub fn mx_match(pattern: &str, host: &str) -> bool {
    super::certificate::name_match(pattern, host)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(policy: &str) -> Result<MtaStsFinding, String> {
        let mut found = MtaStsFinding::default();
        parse(policy, &mut found).map(|()| found)
    }

    #[test]
    fn policies_follow_rfc_8461() {
        let ok = parsed("version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: *.example.net\r\nmax_age: 604800\r\n").unwrap();
        assert_eq!(ok.mode.as_deref(), Some("enforce"));
        assert_eq!(ok.mx, ["mail.example.com", "*.example.net"]);
        assert_eq!(ok.max_age, Some(604800));
        assert!(parsed("version: STSv1\nmode: none\nmax_age: 86400\n").is_ok());
        for bad in [
            "mode: enforce\nmx: a.example\nmax_age: 1\n",
            "version: STSv1\nmode: enforce\nmax_age: 1\n",
            "version: STSv1\nmode: strict\nmx: a.example\nmax_age: 1\n",
            "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 99999999999\n",
            "version: STSv1\nmode: testing\nmx: a.example\n",
            "<html>not a policy</html>",
        ] {
            assert!(parsed(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn mx_patterns_match_one_label() {
        assert!(mx_match("mail.example.com", "MAIL.example.com."));
        assert!(mx_match("*.example.com", "mx1.example.com"));
        assert!(!mx_match("*.example.com", "a.mx1.example.com"));
        assert!(!mx_match("*.example.com", "example.com"));
        assert!(!mx_match("mail.example.com", "mail2.example.com"));
    }
}
