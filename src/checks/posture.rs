//! Domain posture: what the From domain publishes in DNS beyond SPF, DKIM
//! and DMARC, in the manner of MSchecker: its MX (or null MX, RFC 7505),
//! whether its zone is DNSSEC-signed, and its MTA-STS (RFC 8461), TLS-RPT
//! (RFC 8460) and BIMI (draft-brand-indicators-for-message-identification)
//! records. Informational: nothing here decides a verdict.
//!
//! Every part distinguishes "not published" (NXDOMAIN/NODATA) from "could
//! not ask" (timeout, SERVFAIL): the latter is `unknown`, never `absent`.

pub mod validation;

use super::CheckId;
use super::Setup;
use super::facts::{Facts, Field};
use super::row::{Row, Tone};
use crate::dns::zone_apex::ZoneApexes;
use crate::dns::{Answer, Dns, answer, txt_strings};
use crate::i18n::{Lang, phrases};
use mail_auth::hickory_resolver::net::{DnsError, NetError};
use mail_auth::hickory_resolver::proto::rr::RecordType;
use serde::{Deserialize, Serialize};

/// What the From domain publishes, one field per record family.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct PostureFinding {
    /// The domain asked about, lower-case, without a trailing dot.
    pub domain: String,
    /// Mail exchanger names, by preference (then name); empty when there is
    /// no MX, or only the null MX, or when `mx_error` is set.
    pub mx: Vec<String>,
    /// The domain publishes the null MX "0 ." (RFC 7505): it accepts no
    /// mail. An MX whose exchange is "." counts whatever its preference.
    pub null_mx: bool,
    /// Why the MX lookup gave no answer (timeout, SERVFAIL). When set, an
    /// empty `mx` means "unknown", not "no MX".
    pub mx_error: Option<String>,
    /// DNSSEC keys for the domain's zone: a DNSKEY at the zone apex, or a DS
    /// for it at the parent. Publication only: `dnssec_validation` says
    /// whether the answers validate.
    pub dnssec: Presence,
    /// The domain's answers validated from the trust anchor. Reports
    /// stored before validation read as `not_checked`.
    #[serde(default)]
    pub dnssec_validation: validation::DnssecValidation,
    /// `_mta-sts.<domain>` TXT (RFC 8461 §3.1).
    pub mta_sts: RecordStatus,
    /// `_smtp._tls.<domain>` TXT (RFC 8460 §3).
    pub tls_rpt: RecordStatus,
    /// `default._bimi.<domain>` TXT (BIMI draft §4.3).
    pub bimi: RecordStatus,
}

/// Whether DNSSEC keys are published for the domain's zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[serde(tag = "status", rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", schemars(rename = "DnssecPresence"))]
pub enum Presence {
    /// `zone` (the domain, or the zone it lies in) has the record types in
    /// `found`: "DNSKEY" at the apex and/or "DS" at the parent.
    Present { zone: String, found: Vec<String> },
    /// `zone` has neither: it is not signed.
    Absent { zone: String },
    /// DNS did not answer, so nobody knows.
    Unknown { error: String },
}

/// One TXT-published policy record, as found and checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[serde(tag = "status", rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", schemars(rename = "PolicyRecord"))]
pub enum RecordStatus {
    /// Exactly one record of this kind, and it is well-formed. (For BIMI
    /// this includes the declination "v=BIMI1; l=; a=;".)
    Present { record: String },
    /// No record of this kind (other TXT records at the name are ignored,
    /// as the RFCs say).
    Absent,
    /// A record of this kind that its RFC says to ignore: malformed, or one
    /// of several. `record` is the text (several joined by " | ").
    Invalid { record: String, error: String },
    /// DNS did not answer, so nobody knows.
    Unknown { error: String },
}

/// The zone apex of `domain` and, when it could not be found, why: the
/// owner of the SOA answer, or of the SOA a negative answer carries
/// (RFC 2308 §3); the domain itself when no SOA comes back at all.
async fn zone_apex(dns: &Dns, apexes: &ZoneApexes, domain: &str) -> (String, Option<String>) {
    let reply = dns.lookup(&fqdn(domain), RecordType::SOA).await;
    let found = match &*reply {
        Ok(lookup) => {
            let owner = lookup
                .answers()
                .iter()
                .find(|record| record.record_type() == RecordType::SOA)
                .map(|record| record.name.to_ascii());
            (owner.unwrap_or_else(|| domain.to_string()), None)
        }
        Err(NetError::Dns(DnsError::NoRecordsFound(none))) => {
            let owner = none.soa.as_ref().map(|soa| soa.name.to_ascii());
            (owner.unwrap_or_else(|| domain.to_string()), None)
        }
        Err(_) => match answer(&reply) {
            Answer::Failed(error) => (domain.to_string(), Some(error)),
            _ => (domain.to_string(), None),
        },
    };
    if found.1.is_none() {
        apexes.remember(domain, &found.0);
    }
    found
}

/// Looks up everything at once; the slowest part is two round trips (the
/// zone apex, then its keys).
pub async fn posture(dns: &Dns, apexes: &ZoneApexes, domain: &str) -> PostureFinding {
    let domain = domain.trim().trim_end_matches('.').to_ascii_lowercase();
    let ((mx, null_mx, mx_error), dnssec, mta_sts, tls_rpt, bimi) = tokio::join!(
        mx(dns, &domain),
        dnssec(dns, apexes, &domain),
        policy(dns, &domain, &MTA_STS),
        policy(dns, &domain, &TLS_RPT),
        policy(dns, &domain, &BIMI),
    );
    PostureFinding {
        domain,
        mx,
        null_mx,
        mx_error,
        dnssec,
        dnssec_validation: validation::DnssecValidation::NotChecked,
        mta_sts,
        tls_rpt,
        bimi,
    }
}

async fn mx(dns: &Dns, domain: &str) -> (Vec<String>, bool, Option<String>) {
    let reply = dns.lookup(&fqdn(domain), RecordType::MX).await;
    let lookup = match answer(&reply) {
        Answer::Records(lookup) => lookup,
        Answer::NoRecords => return (Vec::new(), false, None),
        Answer::Failed(error) => return (Vec::new(), false, Some(error)),
    };
    let exchanges = crate::dns::mx_exchanges(lookup);
    // The root name "." is "" once its dot is trimmed.
    let null_mx = exchanges.iter().any(|(_, name)| name.is_empty());
    let mx = exchanges
        .into_iter()
        .map(|(_, name)| name)
        .filter(|name| !name.is_empty())
        .collect();
    (mx, null_mx, None)
}

/// DNSKEY at the zone apex and DS for it. A From domain is often not a zone
/// apex (`mail.example.com` inside `example.com`), and only apexes hold
/// keys, so the apex is found first: the owner of the SOA answer, or of the
/// SOA a negative answer carries (RFC 2308 §3). When no SOA comes back at
/// all the domain itself is asked.
async fn dnssec(dns: &Dns, apexes: &ZoneApexes, domain: &str) -> Presence {
    let (zone, apex_error) = match apexes.get(domain) {
        Some(apex) => (apex, None),
        None => zone_apex(dns, apexes, domain).await,
    };
    let zone = zone.trim_end_matches('.').to_ascii_lowercase();
    let name = fqdn(&zone);
    let (dnskey, ds) = tokio::join!(
        dns.lookup(name.as_str(), RecordType::DNSKEY),
        dns.lookup(name.as_str(), RecordType::DS),
    );
    let mut found = Vec::new();
    let mut errors = Vec::new();
    for (kind, result) in [("DNSKEY", dnskey), ("DS", ds)] {
        match answer(&result) {
            Answer::Records(_) => found.push(kind.to_string()),
            Answer::NoRecords => {}
            Answer::Failed(error) => errors.push(format!("{kind} lookup: {error}")),
        }
    }
    if !found.is_empty() {
        return Presence::Present { zone, found };
    }
    if let Some(error) = apex_error {
        // Without the apex, no keys at the domain itself proves nothing.
        errors.insert(0, format!("SOA lookup (finding the zone): {error}"));
    }
    if errors.is_empty() {
        Presence::Absent { zone }
    } else {
        Presence::Unknown {
            error: errors.join("; "),
        }
    }
}

/// One `name=value` field of a record.
type Tag<'a> = (&'a str, &'a str);

/// How to recognise and check one kind of TXT policy record.
struct Policy {
    /// Where it lives: `<prefix>.<domain>`.
    prefix: &'static str,
    /// The version tag's value; a record whose first tag is `v=<this>` is of
    /// this kind, any other TXT record at the name is someone else's.
    version: &'static str,
    /// Whether the grammar allows spaces around "=" (BIMI follows DKIM's
    /// tag-list; MTA-STS and TLS-RPT do not).
    spaces_around_equals: bool,
    /// The remaining tags, checked by the kind's RFC.
    check: fn(&[Tag]) -> Result<(), String>,
    /// Where the rules come from, for error messages.
    rfc: &'static str,
}

const MTA_STS: Policy = Policy {
    prefix: "_mta-sts",
    version: "STSv1",
    spaces_around_equals: false,
    check: check_mta_sts,
    rfc: "RFC 8461 §3.1",
};

const TLS_RPT: Policy = Policy {
    prefix: "_smtp._tls",
    version: "TLSRPTv1",
    spaces_around_equals: false,
    check: check_tls_rpt,
    rfc: "RFC 8460 §3",
};

const BIMI: Policy = Policy {
    // The default selector (BIMI draft §4.4); the message may name another
    // in BIMI-Selector, which this domain-level check does not read.
    prefix: "default._bimi",
    version: "BIMI1",
    spaces_around_equals: true,
    check: check_bimi,
    rfc: "BIMI draft §4.3",
};

/// The TXT records at `<prefix>.<domain>`, sorted by `policy`: records of other kinds
/// are discarded, and exactly one must remain (RFC 8461 §3.1, RFC 8460 §3
/// and the BIMI draft all say so).
async fn policy(dns: &Dns, domain: &str, policy: &Policy) -> RecordStatus {
    let name = format!("{}.{domain}.", policy.prefix);
    let reply = dns.lookup(&name, RecordType::TXT).await;
    let lookup = match answer(&reply) {
        Answer::Records(lookup) => lookup,
        Answer::NoRecords => return RecordStatus::Absent,
        Answer::Failed(error) => return RecordStatus::Unknown { error },
    };
    // RFC 8461 §3.1 and the BIMI draft: strings are joined without a
    // separator, as for SPF (RFC 7208 §3.3); txt_strings does that.
    let records: Vec<String> = txt_strings(lookup)
        .into_iter()
        .filter(|record| is_version(record, policy))
        .collect();
    match records.as_slice() {
        [] => RecordStatus::Absent,
        [record] => match parse(record, policy) {
            Ok(()) => RecordStatus::Present {
                record: record.clone(),
            },
            Err(error) => RecordStatus::Invalid {
                record: record.clone(),
                error,
            },
        },
        several => RecordStatus::Invalid {
            record: several.join(" | "),
            error: format!(
                "{} records begin with v={}; {} asks for exactly one, \
                 so receivers ignore them all",
                several.len(),
                policy.version,
                policy.rfc
            ),
        },
    }
}

/// Whether `record`'s first tag is this kind's version tag.
fn is_version(record: &str, policy: &Policy) -> bool {
    let first = trim_wsp(record.split(';').next().unwrap_or_default());
    match first.split_once('=') {
        Some((name, value)) if policy.spaces_around_equals => {
            trim_wsp(name) == "v" && trim_wsp(value) == policy.version
        }
        Some((name, value)) => name == "v" && value == policy.version,
        None => false,
    }
}

/// Splits `record` into its tags and checks them; the version tag is known
/// to come first.
fn parse(record: &str, policy: &Policy) -> Result<(), String> {
    let mut fields: Vec<&str> = record.split(';').map(trim_wsp).collect();
    // One trailing ";" is allowed.
    if fields.len() > 1 && fields.last() == Some(&"") {
        fields.pop();
    }
    let mut tags = Vec::with_capacity(fields.len());
    for field in fields {
        if field.is_empty() {
            return Err(format!(
                "an empty field between semicolons ({})",
                policy.rfc
            ));
        }
        let Some((name, value)) = field.split_once('=') else {
            return Err(format!("field {field:?} has no \"=\" ({})", policy.rfc));
        };
        let (name, value) = if policy.spaces_around_equals {
            (trim_wsp(name), trim_wsp(value))
        } else {
            (name, value)
        };
        tags.push((name, value));
    }
    (policy.check)(&tags[1..])
}

/// RFC 8461 §3.1: `id=` 1–32 letters and digits, once; extensions
/// well-formed.
fn check_mta_sts(tags: &[Tag]) -> Result<(), String> {
    let ids: Vec<&str> = tags
        .iter()
        .filter(|(name, _)| *name == "id")
        .map(|(_, value)| *value)
        .collect();
    match ids.as_slice() {
        [] => return Err("no id= field (RFC 8461 §3.1 requires one)".to_string()),
        [id] => {
            if id.is_empty() || id.len() > 32 || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(format!(
                    "id {id:?} is not 1 to 32 letters and digits (RFC 8461 §3.1)"
                ));
            }
        }
        _ => return Err("more than one id= field (RFC 8461 §3.1)".to_string()),
    }
    check_extensions(tags, &["id"], "RFC 8461 §3.1")
}

/// RFC 8460 §3: `rua=` required, a comma-separated list of `mailto:` or
/// `https:` URIs; extensions well-formed.
fn check_tls_rpt(tags: &[Tag]) -> Result<(), String> {
    let ruas: Vec<&str> = tags
        .iter()
        .filter(|(name, _)| *name == "rua")
        .map(|(_, value)| *value)
        .collect();
    if ruas.is_empty() {
        return Err("no rua= field (RFC 8460 §3 requires one)".to_string());
    }
    for uri in ruas.iter().flat_map(|rua| rua.split(',')).map(trim_wsp) {
        let lower = uri.to_ascii_lowercase();
        let ok = if let Some(address) = lower.strip_prefix("mailto:") {
            address
                .split_once('@')
                .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
        } else {
            https_uri(uri)
        };
        if !ok {
            return Err(format!(
                "rua {uri:?} is not a mailto: address or an https: URL (RFC 8460 §3)"
            ));
        }
    }
    check_extensions(tags, &["rua"], "RFC 8460 §3")
}

/// BIMI draft §4.3: `l=` required, empty (declining) or one https: URL;
/// `a=` optional, empty or one https: URL. Other tags are ignored, as the
/// draft says.
fn check_bimi(tags: &[Tag]) -> Result<(), String> {
    let value = |tag: &str| tags.iter().find(|(name, _)| *name == tag).map(|(_, v)| *v);
    let Some(location) = value("l") else {
        return Err("no l= field (the BIMI draft §4.3 requires one, empty to decline)".to_string());
    };
    for (tag, uri) in [("l", Some(location)), ("a", value("a"))] {
        let Some(uri) = uri.filter(|uri| !uri.is_empty()) else {
            continue;
        };
        if uri.contains(',') {
            return Err(format!(
                "{tag}= holds one URI, not a list (BIMI draft §4.3), got {uri:?}"
            ));
        }
        if !https_uri(uri) {
            return Err(format!(
                "{tag}= must be empty or an https: URL (BIMI draft §4.3), got {uri:?}"
            ));
        }
    }
    Ok(())
}

/// Extension tags shared by MTA-STS and TLS-RPT: a name of a letter or
/// digit then up to 31 of those or `_-.`, and a non-empty value of visible
/// characters other than ";" and "=".
fn check_extensions(tags: &[Tag], known: &[&str], rfc: &str) -> Result<(), String> {
    for (name, value) in tags.iter().filter(|(name, _)| !known.contains(name)) {
        let name_ok = name.len() <= 32
            && name
                .bytes()
                .next()
                .is_some_and(|b| b.is_ascii_alphanumeric())
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
        let value_ok = !value.is_empty()
            && value
                .bytes()
                .all(|b| (0x21..=0x7e).contains(&b) && b != b';' && b != b'=');
        if !name_ok || !value_ok {
            return Err(format!("malformed field {name}={value} ({rfc})"));
        }
    }
    Ok(())
}

/// `https://` and a host with a dot in it, no spaces.
fn https_uri(uri: &str) -> bool {
    let Some(rest) = uri
        .get(..8)
        .filter(|scheme| scheme.eq_ignore_ascii_case("https://"))
        .map(|_| &uri[8..])
    else {
        return false;
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = host.rsplit_once('@').map_or(host, |(_, host)| host);
    let host = host.split(':').next().unwrap_or_default();
    host.contains('.')
        && !host.starts_with('.')
        && !host.ends_with('.')
        && !uri
            .bytes()
            .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
}

fn trim_wsp(s: &str) -> &str {
    s.trim_matches([' ', '\t'])
}

fn fqdn(name: &str) -> String {
    format!("{}.", name.trim_end_matches('.'))
}

const RECORD_STATES: &[&str] = &["present", "absent", "invalid", "unknown"];

/// The rule fields of `posture`.
pub const FIELDS: &[Field] = &[
    ("mx", &["present", "null", "absent", "unknown"]),
    ("dnssec", &["present", "absent", "unknown"]),
    ("dnssec_validation", validation::WORDS),
    ("mta_sts", RECORD_STATES),
    ("tls_rpt", RECORD_STATES),
    ("bimi", RECORD_STATES),
];

impl PostureFinding {
    pub fn facts(&self, facts: &mut Facts) {
        let check = CheckId::Posture;
        facts.put(check, "mx", self.mx_state());
        let dnssec = match self.dnssec {
            Presence::Present { .. } => "present",
            Presence::Absent { .. } => "absent",
            Presence::Unknown { .. } => "unknown",
        };
        facts.put(check, "dnssec", dnssec);
        facts.put(check, "dnssec_validation", self.dnssec_validation.word());
        facts.put(check, "mta_sts", self.mta_sts.word());
        facts.put(check, "tls_rpt", self.tls_rpt.word());
        facts.put(check, "bimi", self.bimi.word());
    }

    fn mx_state(&self) -> &'static str {
        if self.null_mx {
            "null"
        } else if !self.mx.is_empty() {
            "present"
        } else if self.mx_error.is_some() {
            "unknown"
        } else {
            "absent"
        }
    }
}

impl RecordStatus {
    fn word(&self) -> &'static str {
        match self {
            RecordStatus::Present { .. } => "present",
            RecordStatus::Absent => "absent",
            RecordStatus::Invalid { .. } => "invalid",
            RecordStatus::Unknown { .. } => "unknown",
        }
    }
}

phrases! {
    /// The page's words for this check, in English and Japanese.
    PostureWords {
        about_mx: "MX records say where the From domain receives mail; replies and bounces to a domain without them go nowhere.",
            "MX レコードは From ドメインのメール受信先を示します。ない場合、返信やエラーメールが届きません。";
        dnssec_validated: "DNSSEC validated", "DNSSEC 検証";
        about_dnssec_validation: "Whether the domain's answers validate from the DNS root's trust anchor down: secure (signed and valid), insecure (not signed), or bogus (signed but invalid: validating receivers cannot resolve it and refuse its mail).",
            "ドメインの応答が DNS ルートのトラストアンカーから検証できるかどうかです。secure（署名あり・有効）、insecure（署名なし）、bogus（署名が無効：検証する受信側は名前解決できず、メールを拒否します）。";
        about_dnssec: "DNSSEC signs the domain's DNS records, so SPF, DKIM and DMARC answers cannot be forged on the way.",
            "DNSSEC はドメインの DNS レコードに署名し、SPF・DKIM・DMARC の応答が途中で偽造されないようにします。";
        about_mta_sts: "MTA-STS tells senders to deliver to this domain only over verified TLS.",
            "MTA-STS は、このドメイン宛てのメールを検証済みの TLS でのみ配送するよう送信側に求めます。";
        about_tls_rpt: "TLS-RPT asks senders to report failed TLS deliveries to the domain owner.",
            "TLS-RPT は、TLS での配送失敗をドメイン管理者に報告するよう送信側に求めます。";
        about_bimi: "BIMI publishes a brand logo that some mailboxes show next to authenticated mail; it needs an enforcing DMARC policy.",
            "BIMI は、認証済みメールの横に表示されるブランドロゴを公開します。DMARC の強制ポリシーが必要です。";
        null_mx: "null MX: accepts no mail", "null MX：メールを受信しません";
    }
}

/// A posture row's marking, word, detail and the records found.
type Found = (Tone, &'static str, String, Vec<String>);

impl PostureFinding {
    /// MX, DNSSEC, MTA-STS, TLS-RPT and BIMI. The posture rules concern
    /// the section as a whole: the page lists them once, below the rows.
    pub fn rows(&self, lang: Lang) -> Vec<Row> {
        let (t, w) = (lang.ui(), PostureWords::of(lang));
        let mx: Found = if self.null_mx {
            (Tone::Bad, "null", w.null_mx.to_string(), Vec::new())
        } else if !self.mx.is_empty() {
            (Tone::Ok, "present", String::new(), self.mx.clone())
        } else if let Some(error) = &self.mx_error {
            (Tone::Warn, "unknown", error.clone(), Vec::new())
        } else {
            (Tone::Bad, "absent", String::new(), Vec::new())
        };
        let dnssec: Found = match &self.dnssec {
            Presence::Present { zone, found } => (
                Tone::Ok,
                "present",
                format!("{zone}: {}", found.join(", ")),
                Vec::new(),
            ),
            Presence::Absent { zone } => (Tone::Info, "absent", zone.clone(), Vec::new()),
            Presence::Unknown { error } => (Tone::Warn, "unknown", error.clone(), Vec::new()),
        };
        let mut found = vec![("MX", w.about_mx, mx), ("DNSSEC", w.about_dnssec, dnssec)];
        if let Some(validated) = self.dnssec_validation.found() {
            found.push((w.dnssec_validated, w.about_dnssec_validation, validated));
        }
        found.extend([
            ("MTA-STS", w.about_mta_sts, self.mta_sts.found()),
            ("TLS-RPT", w.about_tls_rpt, self.tls_rpt.found()),
            ("BIMI", w.about_bimi, self.bimi.found()),
        ]);
        found
            .into_iter()
            .map(|(name, about, (tone, word, detail, records))| Row {
                check: CheckId::Posture,
                tone: Some(tone),
                name: name.into(),
                word: Some(word),
                setup: match word {
                    "present" | "secure" => Setup::Configured,
                    "invalid" | "null" | "bogus" => Setup::Misconfigured,
                    "unknown" => Setup::Unknown,
                    _ => Setup::Missing,
                }
                .label(t),
                about,
                detail,
                records,
            })
            .collect()
    }
}

impl validation::DnssecValidation {
    /// Its row, once validation was asked for.
    fn found(&self) -> Option<Found> {
        use validation::DnssecValidation as V;
        Some(match self {
            V::Secure => (Tone::Ok, "secure", String::new(), Vec::new()),
            V::Insecure => (Tone::Info, "insecure", String::new(), Vec::new()),
            V::Bogus { reason } => (Tone::Bad, "bogus", reason.clone(), Vec::new()),
            V::Unknown { error } => (Tone::Warn, "unknown", error.clone(), Vec::new()),
            V::NotChecked => return None,
        })
    }
}

impl RecordStatus {
    fn found(&self) -> Found {
        match self {
            RecordStatus::Present { record } => {
                (Tone::Ok, "present", String::new(), vec![record.clone()])
            }
            RecordStatus::Absent => (Tone::Info, "absent", String::new(), Vec::new()),
            RecordStatus::Invalid { record, error } => {
                (Tone::Bad, "invalid", error.clone(), vec![record.clone()])
            }
            RecordStatus::Unknown { error } => (Tone::Warn, "unknown", error.clone(), Vec::new()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(record: &str, policy: &Policy) -> Result<(), String> {
        assert!(is_version(record, policy), "{record}");
        parse(record, policy)
    }

    #[test]
    fn mta_sts_records_follow_rfc_8461() {
        for ok in [
            "v=STSv1; id=20160831085700Z;",
            "v=STSv1;id=abc",
            "v=STSv1; id=20160831085700Z; ext_1=yes",
        ] {
            assert_eq!(status(ok, &MTA_STS), Ok(()), "{ok}");
        }
        for bad in [
            "v=STSv1",
            "v=STSv1; id=",
            "v=STSv1; id=2016-08-31",
            "v=STSv1; id=123456789012345678901234567890123",
            "v=STSv1; id=1; id=2",
            "v=STSv1;; id=1",
            "v=STSv1; id = 1",
        ] {
            assert!(status(bad, &MTA_STS).is_err(), "{bad}");
        }
        assert!(!is_version("v=STSv2; id=1", &MTA_STS));
        assert!(!is_version("v=spf1 -all", &MTA_STS));
    }

    #[test]
    fn tls_rpt_records_follow_rfc_8460() {
        for ok in [
            "v=TLSRPTv1; rua=mailto:reports@example.com",
            "v=TLSRPTv1;rua=https://reporting.example.com/v1/tlsrpt",
            "v=TLSRPTv1; rua=mailto:a@example.com, https://r.example.com/x;",
        ] {
            assert_eq!(status(ok, &TLS_RPT), Ok(()), "{ok}");
        }
        for bad in [
            "v=TLSRPTv1;",
            "v=TLSRPTv1; rua=http://reporting.example.com/",
            "v=TLSRPTv1; rua=mailto:nobody",
            "v=TLSRPTv1; rua=ftp://example.com/",
        ] {
            assert!(status(bad, &TLS_RPT).is_err(), "{bad}");
        }
    }

    #[test]
    fn bimi_records_follow_the_draft() {
        for ok in [
            "v=BIMI1; l=https://example.com/logo.svg; a=https://example.com/vmc.pem",
            "v = BIMI1; l = https://example.com/logo.svg",
            "v=BIMI1; l=; a=;",
            "v=BIMI1; l=https://example.com/logo.svg; avp=brand",
        ] {
            assert_eq!(status(ok, &BIMI), Ok(()), "{ok}");
        }
        for bad in [
            "v=BIMI1; a=https://example.com/vmc.pem",
            "v=BIMI1; l=http://example.com/logo.svg",
            "v=BIMI1; l=https://a.example/1.svg,https://b.example/2.svg",
        ] {
            assert!(status(bad, &BIMI).is_err(), "{bad}");
        }
    }
}
