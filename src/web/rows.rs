//! A check as the page shows it: one collapsible row with a marker that reads
//! without colour (icon and result word), what was found, what the check
//! means, and the rules that took points for it with their advice. The rows
//! of the authentication and sending-host sections are built here; the
//! others in [`trust`](super::trust).

use super::i18n::{Lang, Ui};
use crate::checks::CheckId;
use crate::checks::arc::ArcFinding;
use crate::checks::dmarc::TreeWalkVerdict;
use crate::checks::helo::HeloResult;
use crate::checks::tls::TlsResult;
use crate::checks::{Setup, Verdict};
use crate::report::Report;
use crate::score::Deduction;

/// How a row is marked. Ordered by severity, so the worst of several is
/// their maximum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Tone {
    Ok,
    Info,
    Warn,
    Bad,
}

impl Tone {
    /// The colour of an authentication result.
    pub fn of(result: Verdict) -> Tone {
        match result {
            Verdict::Pass => Tone::Ok,
            Verdict::Temperror | Verdict::Neutral | Verdict::Softfail => Tone::Warn,
            _ => Tone::Bad,
        }
    }

    /// The CSS class: `check ok|warn|bad|info`.
    pub fn class(self) -> &'static str {
        match self {
            Tone::Ok => "ok",
            Tone::Info => "info",
            Tone::Warn => "warn",
            Tone::Bad => "bad",
        }
    }

    /// The marker shown beside the colour, so colour is never the only cue.
    pub fn icon(self) -> &'static str {
        match self {
            Tone::Ok => "✔",
            Tone::Info => "i",
            Tone::Warn => "!",
            Tone::Bad => "✘",
        }
    }
}

/// One check on the page.
#[derive(Debug)]
pub struct Row {
    /// The rule-table check whose deductions this row shows.
    pub check: CheckId,
    pub tone: Tone,
    pub name: String,
    /// The result as the check words it (`pass`, `listed`, `present`…).
    pub word: &'static str,
    /// The localised setup label (設定あり, 設定なし…).
    pub setup: &'static str,
    /// What the check is, in one sentence.
    pub about: &'static str,
    pub detail: String,
    /// DNS records found, shown verbatim.
    pub records: Vec<String>,
    pub deductions: Vec<DeductionView>,
}

impl Row {
    pub fn class(&self) -> &'static str {
        self.tone.class()
    }

    pub fn icon(&self) -> &'static str {
        self.tone.icon()
    }

    /// Problems start open; passing and informational rows start closed.
    pub fn open(&self) -> bool {
        matches!(self.tone, Tone::Warn | Tone::Bad)
    }

    /// The points this row cost ("−1.5"), if any.
    pub fn points(&self) -> Option<String> {
        lost(&self.deductions)
    }
}

/// A matched rule, in the page's language.
#[derive(Debug)]
pub struct DeductionView {
    pub rule: String,
    /// "−1.5", or "0" for a rule that only informs.
    pub points: String,
    pub value: f64,
    pub title: String,
    pub advice: String,
}

impl DeductionView {
    pub fn new(lang: Lang, d: &Deduction) -> DeductionView {
        let (title, advice) = match lang {
            Lang::En => (&d.title.en, &d.advice.en),
            Lang::Ja => (&d.title.ja, &d.advice.ja),
        };
        DeductionView {
            rule: d.rule.clone(),
            points: points_text(d.points),
            value: d.points,
            title: title.clone(),
            advice: advice.clone(),
        }
    }
}

/// The deductions of `check`, in the page's language.
pub fn deductions_of(lang: Lang, report: &Report, check: CheckId) -> Vec<DeductionView> {
    report
        .deductions
        .iter()
        .filter(|d| d.check == check)
        .map(|d| DeductionView::new(lang, d))
        .collect()
}

/// Gives each check's deductions to one of its rows: the worst-marked one
/// (the first of equals). A check shown as several rows (one per DKIM
/// signature) thus counts its points once.
pub fn attach_deductions(lang: Lang, report: &Report, rows: &mut [Row]) {
    let mut done: Vec<CheckId> = Vec::new();
    for i in 0..rows.len() {
        let check = rows[i].check;
        if done.contains(&check) {
            continue;
        }
        done.push(check);
        let worst = (0..rows.len())
            .filter(|&j| rows[j].check == check)
            .fold(i, |best, j| {
                if rows[j].tone > rows[best].tone {
                    j
                } else {
                    best
                }
            });
        rows[worst].deductions = deductions_of(lang, report, check);
    }
}

/// The points a set of deductions cost ("−2.5"), if any.
pub fn lost(deductions: &[DeductionView]) -> Option<String> {
    let sum: f64 = deductions.iter().map(|d| d.value).sum();
    (round(sum) > 0.0).then(|| points_text(sum))
}

/// "−1.5", "−3", or "0".
pub fn points_text(points: f64) -> String {
    let points = round(points);
    if points == 0.0 {
        "0".to_string()
    } else {
        format!("−{points}")
    }
}

fn round(points: f64) -> f64 {
    (points * 10.0).round() / 10.0
}

/// The present, non-empty parts, joined with a middle dot.
pub fn join(parts: &[Option<String>]) -> String {
    parts
        .iter()
        .flatten()
        .filter(|p| !p.is_empty())
        .cloned()
        .collect::<Vec<_>>()
        .join(" · ")
}

/// What an SPF row says besides its result: the exact problem (or the
/// domain's explanation), the term that decided, and the lookups used
/// against RFC 7208's limits of 10 and 2 (shown once any were made).
fn spf_detail(t: &super::i18n::Ui, spf: &crate::checks::spf::SpfFinding) -> String {
    let lookups = (spf.dns_lookups > 0 || spf.void_lookups > 0).then(|| {
        format!(
            "{} {}/10 · {} {}/2",
            t.spf_dns_lookups, spf.dns_lookups, t.spf_void_lookups, spf.void_lookups
        )
    });
    join(&[
        spf.error.clone().or(spf.explanation.clone()),
        spf.matched
            .as_ref()
            .map(|m| format!("{}: {m}", t.spf_matched)),
        lookups,
    ])
}

/// SPF, SPF HELO, DKIM (one row per signature), DMARC and ARC.
pub fn authentication(lang: Lang, report: &Report) -> Vec<Row> {
    let t = lang.ui();
    let c = &report.checks;
    let mut rows = vec![
        Row {
            check: CheckId::Spf,
            tone: Tone::of(c.spf.result),
            name: format!("SPF ({})", c.spf.domain),
            word: c.spf.result.as_str(),
            setup: t.setup(c.spf.setup),
            about: t.about_spf,
            detail: spf_detail(t, &c.spf),
            records: c.spf.records.clone(),
            deductions: Vec::new(),
        },
        Row {
            check: CheckId::SpfHelo,
            // No SPF for the HELO name is common and only a warning.
            tone: match c.spf_helo.result {
                Verdict::None => Tone::Warn,
                result => Tone::of(result),
            },
            name: format!("SPF HELO ({})", c.spf_helo.domain),
            word: c.spf_helo.result.as_str(),
            setup: t.setup(c.spf_helo.setup),
            about: t.about_spf_helo,
            detail: spf_detail(t, &c.spf_helo),
            records: c.spf_helo.records.clone(),
            deductions: Vec::new(),
        },
    ];
    if c.dkim.is_empty() {
        rows.push(Row {
            check: CheckId::Dkim,
            tone: Tone::Bad,
            name: "DKIM".into(),
            word: Verdict::None.as_str(),
            setup: t.setup(Setup::Missing),
            about: t.about_dkim,
            detail: t.no_dkim_signature.into(),
            records: Vec::new(),
            deductions: Vec::new(),
        });
    }
    for sig in &c.dkim {
        rows.push(Row {
            check: CheckId::Dkim,
            tone: Tone::of(sig.result),
            name: format!(
                "DKIM (d={} s={} {}{})",
                sig.domain,
                sig.selector,
                sig.algorithm,
                sig.key
                    .as_ref()
                    .map(|k| format!(", {} {} {}", k.key_type, k.bits, t.bits))
                    .unwrap_or_default()
            ),
            word: sig.result.as_str(),
            setup: t.setup(sig.setup),
            about: t.about_dkim,
            detail: join(&[
                sig.error.clone(),
                (!sig.author_domain && !sig.domain.is_empty())
                    .then(|| t.third_party_signature.to_string()),
                sig.body_length_limited
                    .then(|| t.body_length_limited.to_string()),
                (!sig.signed_headers.is_empty()).then(|| {
                    format!(
                        "{}: {}",
                        t.dkim_signed_headers,
                        sig.signed_headers.join(", ")
                    )
                }),
            ]),
            records: sig.records.clone(),
            deductions: Vec::new(),
        });
    }
    let dmarc = &c.dmarc;
    rows.push(Row {
        check: CheckId::Dmarc,
        tone: Tone::of(dmarc.result),
        name: format!(
            "DMARC ({}, p={})",
            dmarc.from_domain,
            dmarc.policy.as_deref().unwrap_or("-")
        ),
        word: dmarc.result.as_str(),
        setup: t.setup(dmarc.setup),
        about: t.about_dmarc,
        detail: join(&[
            Some(format!(
                "SPF {}: {} · DKIM {}: {}",
                t.aligned,
                t.yes_no(dmarc.spf_aligned),
                t.aligned,
                t.yes_no(dmarc.dkim_aligned),
            )),
            dmarc.record.as_ref().map(|r| {
                format!(
                    "p={} sp={} pct={} adkim={} aspf={} rua={}",
                    r.p,
                    r.sp,
                    r.pct,
                    r.adkim,
                    r.aspf,
                    if r.rua.is_empty() {
                        "-".to_string()
                    } else {
                        r.rua.join(",")
                    }
                )
            }),
            dmarc
                .record_domain
                .as_ref()
                .filter(|d| **d != dmarc.from_domain)
                .map(|d| format!("{} _dmarc.{d}", t.policy_from)),
            dmarc.error.clone(),
            dmarc.dmarcbis.as_ref().map(|bis| dmarcbis_note(t, bis)),
        ]),
        records: dmarc.records.clone(),
        deductions: Vec::new(),
    });
    rows.push(arc_row(lang, &c.arc));
    attach_deductions(lang, report, &mut rows);
    rows
}

/// What an RFC 9989 receiver would conclude, beside today's verdict.
fn dmarcbis_note(t: &Ui, bis: &TreeWalkVerdict) -> String {
    format!(
        "{} {} (SPF {}: {} · DKIM {}: {}{}); {}",
        t.dmarcbis_differs,
        bis.result.as_str(),
        t.aligned,
        t.yes_no(bis.spf_aligned),
        t.aligned,
        t.yes_no(bis.dkim_aligned),
        bis.record_domain
            .as_ref()
            .map(|d| format!(" · {} _dmarc.{d}", t.policy_from))
            .unwrap_or_default(),
        t.dmarcbis_today,
    )
}

/// ARC: most mail has none, which is shown as information, not a failure.
fn arc_row(lang: Lang, arc: &ArcFinding) -> Row {
    let t = lang.ui();
    let name = if arc.instances == 0 {
        "ARC".to_string()
    } else {
        let unit = if arc.instances == 1 {
            t.arc_set
        } else {
            t.arc_sets
        };
        let sets = format!("{} {unit}", arc.instances);
        if arc.sealers.is_empty() {
            format!("ARC ({sets})")
        } else {
            format!("ARC ({sets}: {})", arc.sealers.join(", "))
        }
    };
    let none = arc.result == Verdict::None;
    Row {
        check: CheckId::Arc,
        tone: if none {
            Tone::Info
        } else {
            Tone::of(arc.result)
        },
        name,
        word: arc.result.as_str(),
        setup: t.setup(arc.result.setup()),
        about: t.about_arc,
        detail: if none {
            t.arc_none.to_string()
        } else {
            arc.error.clone().unwrap_or_default()
        },
        records: Vec::new(),
        deductions: Vec::new(),
    }
}

/// Reverse DNS, the HELO name and TLS on receipt.
pub fn sending_host(lang: Lang, report: &Report) -> Vec<Row> {
    let t = lang.ui();
    let c = &report.checks;
    let iprev = &c.iprev;
    let (helo_tone, helo_setup) = match c.helo.result {
        HeloResult::Match => (Tone::Ok, Setup::Configured),
        HeloResult::Mismatch => (Tone::Warn, Setup::Configured),
        HeloResult::Unresolvable => (Tone::Bad, Setup::Missing),
        HeloResult::Invalid => (Tone::Bad, Setup::Misconfigured),
        HeloResult::Unknown => (Tone::Warn, Setup::Unknown),
    };
    let (tls_tone, tls_setup) = match c.tls.result {
        TlsResult::Encrypted => (Tone::Ok, Setup::Configured),
        TlsResult::Plaintext => (Tone::Bad, Setup::Missing),
        TlsResult::Unknown => (Tone::Warn, Setup::Unknown),
    };
    let mut rows = vec![
        Row {
            check: CheckId::Iprev,
            tone: Tone::of(iprev.result),
            name: format!("{} ({})", t.reverse_dns, iprev.ip),
            word: iprev.result.as_str(),
            setup: t.setup(iprev.setup),
            about: t.about_iprev,
            detail: if iprev.ptr.is_empty() {
                iprev.error.clone().unwrap_or_default()
            } else {
                join(&[
                    Some(format!("PTR: {}", iprev.ptr.join(", "))),
                    iprev.generic.then(|| t.generic_name.to_string()),
                ])
            },
            records: Vec::new(),
            deductions: Vec::new(),
        },
        Row {
            check: CheckId::Helo,
            tone: helo_tone,
            name: format!("HELO ({})", c.helo.name),
            word: c.helo.result.as_str(),
            setup: t.setup(helo_setup),
            about: t.about_helo,
            detail: c
                .helo
                .addresses
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            records: Vec::new(),
            deductions: Vec::new(),
        },
        Row {
            check: CheckId::Tls,
            tone: tls_tone,
            name: format!(
                "TLS{}",
                c.tls
                    .version
                    .as_ref()
                    .map(|v| format!(" ({v}, {})", c.tls.cipher.as_deref().unwrap_or("")))
                    .unwrap_or_default()
            ),
            word: c.tls.result.as_str(),
            setup: t.setup(tls_setup),
            about: t.about_tls,
            detail: String::new(),
            records: Vec::new(),
            deductions: Vec::new(),
        },
    ];
    attach_deductions(lang, report, &mut rows);
    rows
}

/// The tone and word of a content row: what its rules took.
fn content_tone(deductions: &[DeductionView]) -> (Tone, &'static str) {
    let lost: f64 = deductions.iter().map(|d| d.value).sum();
    match lost {
        l if l >= 1.5 => (Tone::Bad, "problem"),
        l if l > 0.0 => (Tone::Warn, "attention"),
        _ if !deductions.is_empty() => (Tone::Info, "ok"),
        _ => (Tone::Ok, "ok"),
    }
}

/// One content row; its tone comes from the rules that matched.
fn content_row(
    lang: Lang,
    report: &Report,
    check: CheckId,
    name: String,
    about: &'static str,
    detail: String,
    records: Vec<String>,
) -> Row {
    let deductions = deductions_of(lang, report, check);
    let (tone, word) = content_tone(&deductions);
    Row {
        check,
        tone,
        name,
        word,
        setup: "",
        about,
        detail,
        records,
        deductions,
    }
}

/// Headers, bulk-mail headers, body, links and attachments.
pub fn content(lang: Lang, report: &Report) -> Vec<Row> {
    let t = lang.ui();
    let c = &report.checks.content;
    let h = &c.headers;
    let header_detail = join(&[
        Some(format!(
            "Date: {} · Message-ID: {} · From: {} · Subject: {} · To: {}",
            h.date.as_str(),
            h.message_id.as_str(),
            h.from.as_str(),
            h.subject.as_str(),
            t.yes_no(h.to_present),
        )),
        Some(format!(
            "Reply-To: {} · Return-Path: {} · {}: {}",
            h.reply_to.as_str(),
            h.return_path.as_str(),
            t.display_name,
            h.display_name.as_str(),
        )),
        (h.lookalike.as_str() != "none").then(|| h.lookalike.as_str().to_string()),
        (c.profile.as_str() != "default").then(|| format!("{}: {}", t.profile, c.profile.as_str())),
    ]);
    let b = &c.bulk;
    let bulk_detail = format!(
        "List-Unsubscribe: {} · One-Click: {} · Precedence: {}",
        b.list_unsubscribe.as_str(),
        t.yes_no(b.one_click),
        b.precedence.as_str()
    );
    let body = &c.body;
    let body_detail = join(&[
        Some(format!(
            "MIME: {} · HTML: {} · {}: {} · {}: {} ({} {}) · {} {}",
            body.structure.as_str(),
            t.yes_no(body.html),
            t.text_alternative,
            t.yes_no(body.plain_alternative),
            t.images_label,
            body.images,
            body.images_without_alt,
            t.without_alt,
            body.size_bytes,
            t.bytes,
        )),
        (!body.forbidden_tags.is_empty()).then(|| {
            body.forbidden_tags
                .iter()
                .map(|tag| format!("<{tag}>"))
                .collect::<Vec<_>>()
                .join(" ")
        }),
    ]);
    let l = &c.links;
    let mut link_records = l.mismatched.clone();
    link_records.extend(l.shorteners.iter().map(|h| format!("shortener: {h}")));
    link_records.extend(l.raw_ip.iter().map(|h| format!("IP: {h}")));
    let a = &c.attachments;
    let files: Vec<String> = a
        .files
        .iter()
        .map(|f| {
            let flags = if f.flags.is_empty() {
                String::new()
            } else {
                format!(" — {}", f.flags.join(", "))
            };
            format!(
                "{} ({}, {} {}){flags}",
                f.name, f.content_type, f.size, t.bytes
            )
        })
        .collect();
    vec![
        content_row(
            lang,
            report,
            CheckId::Headers,
            t.headers.into(),
            t.about_headers,
            header_detail,
            h.notes.clone(),
        ),
        content_row(
            lang,
            report,
            CheckId::Bulk,
            t.content_bulk.into(),
            t.about_bulk,
            bulk_detail,
            Vec::new(),
        ),
        content_row(
            lang,
            report,
            CheckId::Body,
            t.content_body.into(),
            t.about_body,
            body_detail,
            body.notes.clone(),
        ),
        content_row(
            lang,
            report,
            CheckId::Links,
            t.content_links.into(),
            t.about_links,
            format!("{}: {}", t.links_found, l.count),
            link_records,
        ),
        content_row(
            lang,
            report,
            CheckId::Attachments,
            format!("{} ({})", t.content_attachments, a.count),
            t.about_attachments,
            if a.count == 0 {
                t.no_attachments.into()
            } else {
                String::new()
            },
            files,
        ),
    ]
}

/// SpamAssassin's verdict, one line per rule it hit.
pub fn spamassassin(lang: Lang, report: &Report) -> Vec<Row> {
    use crate::checks::spamd::SpamdStatus;
    let t = lang.ui();
    let sa = &report.checks.spamassassin;
    let deductions = deductions_of(lang, report, CheckId::Spamassassin);
    let (tone, word, name, detail) = match sa.status {
        SpamdStatus::NotConfigured => (
            Tone::Info,
            "not configured",
            "SpamAssassin".to_string(),
            t.spamassassin_not_configured.to_string(),
        ),
        SpamdStatus::NotChecked => (
            Tone::Warn,
            "not checked",
            "SpamAssassin".to_string(),
            sa.error.clone().unwrap_or_default(),
        ),
        SpamdStatus::Checked => {
            let spam = sa.spam == Some(true);
            let (tone, _) = content_tone(&deductions);
            (
                if spam { Tone::Bad } else { tone },
                if spam { "spam" } else { "ham" },
                format!(
                    "SpamAssassin ({} {:.1} / {:.1})",
                    t.score_of,
                    sa.score.unwrap_or_default(),
                    sa.threshold.unwrap_or_default()
                ),
                sa.server.clone().unwrap_or_default(),
            )
        }
    };
    let records = sa
        .rules
        .iter()
        .map(|r| format!("{:>6.1} {:<24} {}", r.points, r.name, r.description))
        .collect();
    vec![Row {
        check: CheckId::Spamassassin,
        tone,
        name,
        word,
        setup: "",
        about: t.about_spamassassin,
        detail,
        records,
        deductions,
    }]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_read_as_losses_rounded_to_a_tenth() {
        assert_eq!(points_text(3.0), "−3");
        assert_eq!(points_text(0.1 + 0.2), "−0.3");
        assert_eq!(points_text(0.0), "0");
    }

    #[test]
    fn severity_orders_tones() {
        assert!(Tone::Bad > Tone::Warn && Tone::Warn > Tone::Info && Tone::Info > Tone::Ok);
        assert_eq!(Tone::of(Verdict::Softfail), Tone::Warn);
        assert_eq!(Tone::of(Verdict::Permerror), Tone::Bad);
    }
}
