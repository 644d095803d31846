//! Page sections for the signals beyond authentication: S/MIME, DNS
//! blocklists, and what the From domain publishes (MSchecker-style).

use super::page::{CheckRow, Lang, check_html, deductions_html, join};
use crate::analyze::dnsbl::{BlocklistFinding, BlocklistResult};
use crate::analyze::posture::{Presence, RecordStatus};
use crate::analyze::smime::SmimeResult;
use crate::analyze::{Setup, Verdict};
use crate::report::Report;

pub(super) fn smime_section(lang: Lang, report: &Report) -> String {
    let smime = &report.checks.smime;
    let (tone, setup) = match smime.result {
        SmimeResult::Trusted => ("ok", Setup::Configured),
        SmimeResult::None => ("info", Setup::Missing),
        SmimeResult::Encrypted => ("info", Setup::Configured),
        SmimeResult::Untrusted => ("warn", Setup::Configured),
        _ => ("bad", Setup::Misconfigured),
    };
    let signer = smime.signer.as_ref().map(|cert| {
        format!(
            "{} · {} {} · {} {} {} · {} {} bits · {}",
            cert.subject,
            lang.pick("issuer", "発行者"),
            cert.issuer,
            lang.pick("valid", "有効期間"),
            cert.not_before,
            cert.not_after,
            cert.key_algorithm,
            cert.key_bits,
            cert.emails.join(", "),
        )
    });
    let row = CheckRow {
        check: "smime",
        name: "S/MIME".into(),
        result: Verdict::None,
        word: Some(smime.result.as_str()),
        tone: Some(tone),
        setup,
        detail: join(&[signer, smime.digest.clone(), smime.error.clone()]),
        records: &[],
    };
    let badge = if smime.result == SmimeResult::Trusted {
        format!(
            "<p><span class=\"badge\">✔ {}</span></p>",
            lang.pick(
                "Signed with a trusted S/MIME certificate",
                "信頼された S/MIME 証明書で署名されています"
            )
        )
    } else {
        String::new()
    };
    format!(
        "<section><h2>S/MIME</h2>{badge}{}</section>",
        check_html(lang, report, &row)
    )
}

pub(super) fn blocklist_section(lang: Lang, report: &Report) -> String {
    let checks = &report.checks;
    let ip = blocklist_row(
        lang,
        "ip_blocklists",
        lang.pick("IP blocklists", "IP ブロックリスト"),
        &checks.ip_blocklists,
    );
    let domains = blocklist_row(
        lang,
        "domain_blocklists",
        lang.pick("Domain blocklists", "ドメインブロックリスト"),
        &checks.domain_blocklists,
    );
    format!(
        "<section><h2>{}</h2>{}{}</section>",
        lang.pick("Blocklists", "ブロックリスト"),
        check_html(lang, report, &ip),
        check_html(lang, report, &domains)
    )
}

fn blocklist_row<'a>(
    lang: Lang,
    check: &'a str,
    name: &str,
    finding: &'a BlocklistFinding,
) -> CheckRow<'a> {
    let (tone, word) = match finding.result {
        BlocklistResult::Listed => ("bad", "listed"),
        BlocklistResult::Unknown => ("warn", "unknown"),
        BlocklistResult::Clean => ("ok", "clean"),
        BlocklistResult::Skipped => ("info", "skipped"),
    };
    let listings = finding.listings.iter().map(|l| {
        Some(format!(
            "{} {} {} ({}){}",
            l.item,
            lang.pick("listed by", "掲載:"),
            l.zone,
            l.codes.join(", "),
            l.reason
                .as_deref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default()
        ))
    });
    let mut parts: Vec<Option<String>> = listings.collect();
    if !finding.not_checked.is_empty() {
        parts.push(Some(format!(
            "{}: {}",
            lang.pick("not checked", "未確認"),
            finding.not_checked.join(", ")
        )));
    }
    if !finding.checked.is_empty() {
        parts.push(Some(format!(
            "{}: {}",
            lang.pick("checked", "確認済み"),
            finding.checked.join(", ")
        )));
    }
    parts.push(finding.note.clone());
    CheckRow {
        check,
        name: name.to_string(),
        result: Verdict::None,
        word: Some(word),
        tone: Some(tone),
        setup: Setup::Configured,
        detail: join(&parts),
        records: &[],
    }
}

pub(super) fn posture_section(lang: Lang, report: &Report) -> String {
    let posture = &report.checks.posture;
    let mx = if posture.null_mx {
        (
            "bad",
            "null",
            lang.pick("null MX: accepts no mail", "null MX：メールを受信しません")
                .to_string(),
        )
    } else if !posture.mx.is_empty() {
        ("ok", "present", posture.mx.join(", "))
    } else if let Some(error) = &posture.mx_error {
        ("warn", "unknown", error.clone())
    } else {
        ("bad", "absent", String::new())
    };
    let dnssec = match &posture.dnssec {
        Presence::Present { zone, found } => {
            ("ok", "present", format!("{zone}: {}", found.join(", ")))
        }
        Presence::Absent { zone } => ("info", "absent", zone.clone()),
        Presence::Unknown { error } => ("warn", "unknown", error.clone()),
    };
    let rows = [
        ("MX", mx),
        ("DNSSEC", dnssec),
        ("MTA-STS", record_status(&posture.mta_sts)),
        ("TLS-RPT", record_status(&posture.tls_rpt)),
        ("BIMI", record_status(&posture.bimi)),
    ];
    let mut out = format!(
        "<section><h2>{} ({})</h2>",
        lang.pick("From domain posture", "From ドメインの設定状況"),
        super::html::escape(&posture.domain)
    );
    for (name, (tone, word, detail)) in rows {
        let row = CheckRow {
            // Not "posture": the posture rules are listed once, below.
            check: "posture-row",
            name: name.into(),
            result: Verdict::None,
            word: Some(word),
            tone: Some(tone),
            setup: match word {
                "present" => Setup::Configured,
                "invalid" | "null" => Setup::Misconfigured,
                "unknown" => Setup::Unknown,
                _ => Setup::Missing,
            },
            detail,
            records: &[],
        };
        out += &check_html(lang, report, &row);
    }
    out + &deductions_html(lang, report, "posture") + "</section>"
}

fn record_status(status: &RecordStatus) -> (&'static str, &'static str, String) {
    match status {
        RecordStatus::Present { record } => ("ok", "present", record.clone()),
        RecordStatus::Absent => ("info", "absent", String::new()),
        RecordStatus::Invalid { record, error } => {
            ("bad", "invalid", format!("{record} · {error}"))
        }
        RecordStatus::Unknown { error } => ("warn", "unknown", error.clone()),
    }
}
