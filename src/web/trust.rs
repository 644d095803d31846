//! Rows for the signals beyond authentication: S/MIME, DNS blocklists, and
//! what the From domain publishes (MSchecker-style).

use super::i18n::Lang;
use super::rows::{DeductionView, Row, Tone, attach_deductions, deductions_of, join};
use crate::checks::CheckId;
use crate::checks::Setup;
use crate::checks::dnsbl::{BlocklistFinding, BlocklistResult};
use crate::checks::posture::{Presence, RecordStatus};
use crate::checks::smime::SmimeResult;
use crate::report::Report;

/// The S/MIME row, and whether the trusted-signature badge is earned.
pub fn smime(lang: Lang, report: &Report) -> (Vec<Row>, bool) {
    let t = lang.ui();
    let smime = &report.checks.smime;
    let (tone, setup) = match smime.result {
        SmimeResult::Trusted => (Tone::Ok, Setup::Configured),
        SmimeResult::None => (Tone::Info, Setup::Missing),
        SmimeResult::Encrypted => (Tone::Info, Setup::Configured),
        SmimeResult::Untrusted => (Tone::Warn, Setup::Configured),
        _ => (Tone::Bad, Setup::Misconfigured),
    };
    let signer = smime.signer.as_ref().map(|cert| {
        format!(
            "{} · {} {} · {} {} {} · {} {} {} · {}",
            cert.subject,
            t.issuer,
            cert.issuer,
            t.valid,
            cert.not_before,
            cert.not_after,
            cert.key_algorithm,
            cert.key_bits,
            t.bits,
            cert.emails.join(", "),
        )
    });
    let mut rows = vec![Row {
        check: CheckId::Smime,
        tone,
        name: "S/MIME".into(),
        word: smime.result.as_str(),
        setup: t.setup(setup),
        about: t.about_smime,
        detail: join(&[signer, smime.digest.clone(), smime.error.clone()]),
        records: Vec::new(),
        deductions: Vec::new(),
    }];
    attach_deductions(lang, report, &mut rows);
    (rows, smime.result == SmimeResult::Trusted)
}

/// The IP and domain blocklist rows.
pub fn blocklists(lang: Lang, report: &Report) -> Vec<Row> {
    let t = lang.ui();
    let checks = &report.checks;
    let mut rows = vec![
        blocklist_row(
            lang,
            CheckId::IpBlocklists,
            t.ip_blocklists,
            t.about_ip_blocklists,
            &checks.ip_blocklists,
        ),
        blocklist_row(
            lang,
            CheckId::DomainBlocklists,
            t.domain_blocklists,
            t.about_domain_blocklists,
            &checks.domain_blocklists,
        ),
    ];
    attach_deductions(lang, report, &mut rows);
    rows
}

fn blocklist_row(
    lang: Lang,
    check: CheckId,
    name: &str,
    about: &'static str,
    finding: &BlocklistFinding,
) -> Row {
    let t = lang.ui();
    let (tone, word) = match finding.result {
        BlocklistResult::Listed => (Tone::Bad, "listed"),
        BlocklistResult::Unknown => (Tone::Warn, "unknown"),
        BlocklistResult::Clean => (Tone::Ok, "clean"),
        BlocklistResult::Skipped => (Tone::Info, "skipped"),
    };
    let mut parts: Vec<Option<String>> = finding
        .listings
        .iter()
        .map(|l| {
            Some(format!(
                "{} {} {} ({}){}",
                l.item,
                t.listed_by,
                l.zone,
                l.codes.join(", "),
                l.reason
                    .as_deref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default()
            ))
        })
        .collect();
    if !finding.not_checked.is_empty() {
        parts.push(Some(format!(
            "{}: {}",
            t.not_checked,
            finding.not_checked.join(", ")
        )));
    }
    if !finding.checked.is_empty() {
        parts.push(Some(format!(
            "{}: {}",
            t.checked,
            finding.checked.join(", ")
        )));
    }
    parts.push(finding.note.clone());
    Row {
        check,
        tone,
        name: name.to_string(),
        word,
        // Listing is about the sender's reputation, not its setup.
        setup: "",
        about,
        detail: join(&parts),
        records: Vec::new(),
        deductions: Vec::new(),
    }
}

/// MX, DNSSEC, MTA-STS, TLS-RPT and BIMI of the From domain, and the
/// posture rules that matched (listed once for the section: a rule may
/// concern several of the rows).
pub fn posture(lang: Lang, report: &Report) -> (Vec<Row>, Vec<DeductionView>) {
    let t = lang.ui();
    let posture = &report.checks.posture;
    let mx: Found = if posture.null_mx {
        (Tone::Bad, "null", t.null_mx.to_string(), Vec::new())
    } else if !posture.mx.is_empty() {
        (Tone::Ok, "present", String::new(), posture.mx.clone())
    } else if let Some(error) = &posture.mx_error {
        (Tone::Warn, "unknown", error.clone(), Vec::new())
    } else {
        (Tone::Bad, "absent", String::new(), Vec::new())
    };
    let dnssec: Found = match &posture.dnssec {
        Presence::Present { zone, found } => (
            Tone::Ok,
            "present",
            format!("{zone}: {}", found.join(", ")),
            Vec::new(),
        ),
        Presence::Absent { zone } => (Tone::Info, "absent", zone.clone(), Vec::new()),
        Presence::Unknown { error } => (Tone::Warn, "unknown", error.clone(), Vec::new()),
    };
    let found = [
        ("MX", t.about_mx, mx),
        ("DNSSEC", t.about_dnssec, dnssec),
        ("MTA-STS", t.about_mta_sts, record_status(&posture.mta_sts)),
        ("TLS-RPT", t.about_tls_rpt, record_status(&posture.tls_rpt)),
        ("BIMI", t.about_bimi, record_status(&posture.bimi)),
    ];
    let rows = found
        .into_iter()
        .map(|(name, about, (tone, word, detail, records))| Row {
            // Its rules are listed once for the section, below.
            check: CheckId::Posture,
            tone,
            name: name.into(),
            word,
            setup: t.setup(match word {
                "present" => Setup::Configured,
                "invalid" | "null" => Setup::Misconfigured,
                "unknown" => Setup::Unknown,
                _ => Setup::Missing,
            }),
            about,
            detail,
            records,
            deductions: Vec::new(),
        })
        .collect();
    (rows, deductions_of(lang, report, CheckId::Posture))
}

/// A posture row's marking, word, detail and the records found.
type Found = (Tone, &'static str, String, Vec<String>);

fn record_status(status: &RecordStatus) -> Found {
    match status {
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
