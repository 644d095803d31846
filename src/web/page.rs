//! The HTML views: the score page of one test (or its pending page) and the
//! landing page. Markup lives in `src/web/templates/` (askama, escaping on);
//! this file gathers what the templates show. Every phrase comes from
//! [`i18n`](crate::i18n) or from a check's own words; rule titles and
//! advice come from the rule table.

use super::WebState;
use super::assets;
use super::changes::{self, ChangesView};
use super::fix_first::{self, Fix};
use super::html;
use super::reports::SendPair;
use super::rows::{self, DeductionView, Shown};
use crate::analysis::stage::Stage;
use crate::checks::CheckId;
use crate::checks::message::MessageFacts;
use crate::checks::row::Tone;
use crate::i18n::{Lang, Ui};
use crate::report::{Band, Report};
use crate::score::providers::Providers;
use crate::test_id;
use askama::Template;
use serde::Deserialize;
use warp::http::StatusCode;
use warp::reply::Response;

/// `?lang=en|ja` on any page.
#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    pub lang: Option<String>,
}

impl PageQuery {
    pub fn lang(&self, accept_language: Option<&str>) -> Lang {
        Lang::choose(self.lang.as_deref(), accept_language)
    }
}

/// What `templates/base.html` needs: the document's language, title, head
/// extras and the language switch.
pub struct Frame {
    pub lang: &'static str,
    pub title: String,
    /// The scripts the page loads from `/assets/` (never inline: the CSP).
    pub scripts: Vec<&'static str>,
    pub style_url: &'static str,
    pub other_lang: &'static str,
    pub other_name: &'static str,
}

impl Frame {
    pub fn new(lang: Lang, title: String) -> Frame {
        Frame {
            lang: lang.code(),
            title,
            scripts: Vec::new(),
            style_url: assets::style_url(),
            other_lang: lang.other().code(),
            other_name: lang.other().ui().language_name,
        }
    }
}

#[derive(Template)]
#[template(path = "report.html")]
struct ReportPage<'a> {
    frame: Frame,
    t: &'static Ui,
    report: &'a Report,
    band: &'static str,
    score: String,
    max_score: String,
    verdict: &'static str,
    sections: Vec<Section>,
    envelope: Vec<(&'static str, String)>,
    fixes: Vec<Fix>,
    /// "Deductions total 29.6; the score stops at 0" (or without the stop).
    total: String,
    grade: super::grade::GradeView,
    readiness: Vec<super::readiness::ProviderView>,
    /// Since the previous send to this address, when there was one.
    changes: Option<ChangesView>,
    /// The checks that could not be done, by name; empty when all ran.
    could_not: String,
    /// Why the analysis failed, when it did; else empty.
    analysis_failed: String,
}

#[derive(Template)]
#[template(path = "pending.html")]
struct PendingPage {
    frame: Frame,
    t: &'static Ui,
    id: String,
    address: String,
    received: bool,
}

#[derive(Template)]
#[template(path = "landing.html")]
struct LandingPage {
    frame: Frame,
    t: &'static Ui,
    id: String,
    address: String,
}

/// A page of one sentence: an invalid id, a send that does not exist.
#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage {
    frame: Frame,
    t: &'static Ui,
    message: &'static str,
}

fn message_page(lang: Lang, message: &'static str, status: StatusCode) -> Response {
    let page = MessagePage {
        frame: Frame::new(lang, "mailscore".into()),
        t: lang.ui(),
        message,
    };
    html::render(&page, status)
}

/// One section of the report: a heading, its rows, and rules that belong to
/// the section rather than to one row.
pub struct Section {
    pub id: &'static str,
    pub title: &'static str,
    /// Shown after the title in parentheses (the From domain), if not empty.
    pub subtitle: String,
    pub rows: Vec<Shown>,
    pub rules: Vec<DeductionView>,
    /// The trusted S/MIME signature badge.
    pub badge: bool,
}

impl Section {
    /// The section's marker in the contents: its worst problem, else ok.
    fn tone(&self) -> Tone {
        let worst = self.rows.iter().map(|r| r.tone).max().unwrap_or(Tone::Info);
        if worst == Tone::Info && self.rows.iter().any(|r| r.tone == Tone::Ok) {
            Tone::Ok
        } else {
            worst
        }
    }

    pub fn class(&self) -> &'static str {
        self.tone().class()
    }

    pub fn icon(&self) -> &'static str {
        self.tone().icon()
    }

    /// The section's own rules that took points (listed below its rows).
    pub fn costly_rules(&self) -> Vec<&DeductionView> {
        rows::costly(&self.rules)
    }

    /// Advice that costs no points (DNSSEC, MTA-STS, BIMI…), from every row
    /// and the section's rules: folded at the end of the section, so what
    /// costs points is what the reader sees first.
    pub fn good_to_have(&self) -> Vec<&DeductionView> {
        self.rows
            .iter()
            .flat_map(|r| &r.deductions)
            .chain(&self.rules)
            .filter(|d| d.advises_only())
            .collect()
    }

    /// The points the whole section cost, if any.
    pub fn points(&self) -> Option<String> {
        let all: Vec<&DeductionView> = self
            .rows
            .iter()
            .flat_map(|r| &r.deductions)
            .chain(&self.rules)
            .collect();
        let sum: f64 = all.iter().map(|d| d.value).sum();
        (sum > 0.05).then(|| rows::points_text(sum))
    }
}

/// `GET /tests/{id}`: the report, or a page that waits for it.
pub fn report_page(
    id: String,
    query: PageQuery,
    accept_language: Option<String>,
    state: WebState,
) -> Response {
    let lang = query.lang(accept_language.as_deref());
    let t = lang.ui();
    if !test_id::is_valid(&id) {
        return message_page(lang, t.invalid_id, StatusCode::BAD_REQUEST);
    }
    match state.reports.send_and_previous(&id, None) {
        Ok(Some(send)) => {
            let providers = &state.rules.current().providers;
            html::response(render_send(lang, &send, providers), StatusCode::OK)
        }
        // Not "pending": a report that is there but unreadable (a newer
        // build's format, a store error) would otherwise wait for ever.
        Err(e) => {
            tracing::warn!(test_id = %id, error = %e, "could not read a report");
            message_page(lang, t.report_unreadable, super::api::store_status(&e))
        }
        Ok(None) => {
            let mut frame = Frame::new(lang, format!("{} · mailscore", t.pending_title));
            frame.scripts.push(assets::copy_js_url());
            frame.scripts.push(assets::wait_js_url());
            let page = PendingPage {
                frame,
                t,
                address: format!("{id}@{}", state.domain),
                received: state.store.is_pending(&id).unwrap_or(false),
                id,
            };
            html::render(&page, StatusCode::OK)
        }
    }
}

/// `GET /tests/{id}/{n}`: the page of one earlier (or the latest) send,
/// with what changed since the one before it.
pub fn send_page(
    id: String,
    n: usize,
    query: PageQuery,
    accept_language: Option<String>,
    state: WebState,
) -> Response {
    let lang = query.lang(accept_language.as_deref());
    let t = lang.ui();
    if !test_id::is_valid(&id) {
        return message_page(lang, t.invalid_id, StatusCode::BAD_REQUEST);
    }
    match state.reports.send_and_previous(&id, Some(n)) {
        Ok(Some(send)) => {
            let providers = &state.rules.current().providers;
            html::response(render_send(lang, &send, providers), StatusCode::OK)
        }
        Ok(None) => message_page(lang, t.no_such_send, StatusCode::NOT_FOUND),
        Err(e) => {
            tracing::warn!(error = %e, "could not read a send");
            message_page(lang, t.no_such_send, StatusCode::INTERNAL_SERVER_ERROR)
        }
    }
}

/// `GET /`: a fresh address, a copy button, and the way to the score.
pub fn landing(query: PageQuery, accept_language: Option<String>, state: WebState) -> Response {
    let lang = query.lang(accept_language.as_deref());
    let id = test_id::generate();
    let mut frame = Frame::new(lang, "mailscore".into());
    frame.scripts.push(assets::copy_js_url());
    let page = LandingPage {
        frame,
        t: lang.ui(),
        address: format!("{id}@{}", state.domain),
        id,
    };
    html::render(&page, StatusCode::OK)
}

/// The sections of the score page, in order, and the checks each shows.
struct SectionSpec {
    id: &'static str,
    title: fn(&Ui) -> &'static str,
    checks: &'static [CheckId],
    /// The section's rules concern all its rows: listed once, below them.
    rules_below: bool,
}

const SECTIONS: &[SectionSpec] = &[
    SectionSpec {
        id: "auth",
        title: |t| t.section_auth,
        checks: &[
            CheckId::Spf,
            CheckId::SpfHelo,
            CheckId::Dkim,
            CheckId::Dmarc,
            CheckId::Arc,
        ],
        rules_below: false,
    },
    SectionSpec {
        id: "host",
        title: |t| t.section_host,
        checks: &[CheckId::Iprev, CheckId::Helo, CheckId::Tls],
        rules_below: false,
    },
    SectionSpec {
        id: "mail-server",
        title: |t| t.section_mail_server,
        checks: &[CheckId::MailServer],
        rules_below: true,
    },
    SectionSpec {
        id: "smime",
        title: |t| t.section_smime,
        checks: &[CheckId::Smime],
        rules_below: false,
    },
    SectionSpec {
        id: "blocklists",
        title: |t| t.section_blocklists,
        checks: &[CheckId::IpBlocklists, CheckId::DomainBlocklists],
        rules_below: false,
    },
    SectionSpec {
        id: "posture",
        title: |t| t.section_posture,
        checks: &[CheckId::Posture],
        rules_below: true,
    },
    SectionSpec {
        id: "content",
        title: |t| t.section_content,
        checks: &[
            CheckId::Headers,
            CheckId::MessageIdDomain,
            CheckId::Bulk,
            CheckId::Body,
            CheckId::Links,
            CheckId::Attachments,
        ],
        rules_below: false,
    },
    SectionSpec {
        id: "spamassassin",
        title: |t| t.section_spamassassin,
        checks: &[CheckId::Spamassassin],
        rules_below: false,
    },
    SectionSpec {
        id: "rspamd",
        title: |t| t.section_rspamd,
        checks: &[CheckId::Rspamd],
        rules_below: false,
    },
];

/// The whole score page of `report`.
/// `providers`: the tables that name the requirements a report fails.
pub fn render_report(lang: Lang, report: &Report, providers: &Providers) -> String {
    render_page(lang, report, None, providers)
}

/// The score page of one send, with what changed since the one before.
pub fn render_send(lang: Lang, send: &SendPair, providers: &Providers) -> String {
    let changes = send
        .diff()
        .map(|diff| changes::view(lang, &diff, &send.report, send.count));
    render_page(lang, &send.report, changes, providers)
}

fn render_page(
    lang: Lang,
    report: &Report,
    changes: Option<ChangesView>,
    providers: &Providers,
) -> String {
    let t = lang.ui();
    let band = report.band();
    let sections: Vec<Section> = SECTIONS
        .iter()
        .map(|spec| section(lang, report, spec))
        .collect();
    let order: Vec<CheckId> = SECTIONS.iter().flat_map(|s| s.checks).copied().collect();
    let fixes = fix_first::fixes(lang, report, &order, |check| anchor_of(&sections, check));
    let total = fix_first::total(report);
    let total = if total > report.max_score {
        format!(
            "{} {:.1}; {}",
            t.deductions_total, total, t.score_stops_at_zero
        )
    } else {
        format!("{} {:.1}", t.deductions_total, total)
    };
    let mut frame = Frame::new(lang, format!("mailscore {:.1}/10", report.score));
    frame.scripts.push(assets::print_js_url());
    let could_not: Vec<String> = report
        .checks
        .failed
        .iter()
        .map(|f| changes::check_name(lang, f.check.as_str(), report))
        .collect();
    let analysis_failed = report.failed_stage.as_ref().map_or(String::new(), |f| {
        format!("{}: {}", t.analysis_failed, stage_words(t, f.stage))
    });
    let page = ReportPage {
        could_not: could_not.join(", "),
        analysis_failed,
        fixes,
        total,
        frame,
        t,
        report,
        band: band.as_str(),
        score: format!("{:.1}", report.score),
        max_score: report.max_score.to_string(),
        verdict: verdict(t, band),
        sections,
        envelope: envelope_rows(t, report),
        grade: super::grade::view(t, report),
        readiness: super::readiness::view(lang, report, providers),
        changes,
    };
    html::render_string(&page)
}

/// What a failed stage left undone, in the page's language.
fn stage_words(t: &Ui, stage: Stage) -> &'static str {
    match stage {
        Stage::Checks => t.stage_checks,
        Stage::Score => t.stage_score,
        Stage::Report => t.stage_report,
        Stage::Survey => t.stage_survey,
        Stage::Webhook => t.stage_webhook,
        Stage::Store => t.stage_store,
    }
}

/// Where `check` is on the page: its first row's anchor, else its section.
fn anchor_of(sections: &[Section], check: CheckId) -> &'static str {
    let name = check.as_str();
    if sections
        .iter()
        .any(|s| s.rows.iter().any(|r| r.anchor == Some(name)))
    {
        return name;
    }
    SECTIONS
        .iter()
        .find(|spec| spec.checks.contains(&check))
        .map_or("auth", |spec| spec.id)
}

fn section(lang: Lang, report: &Report, spec: &SectionSpec) -> Section {
    let rules = if spec.rules_below {
        spec.checks
            .iter()
            .flat_map(|check| rows::deductions_of(lang, report, *check))
            .collect()
    } else {
        Vec::new()
    };
    let checks = &report.checks;
    Section {
        id: spec.id,
        title: (spec.title)(lang.ui()),
        subtitle: spec
            .checks
            .iter()
            .find_map(|check| checks.subject(*check))
            .unwrap_or_default(),
        rows: rows::shown(lang, report, spec.checks, !spec.rules_below)
            .into_iter()
            .map(|mut row| {
                // A section named like its check (posture) is its anchor.
                if row.anchor == Some(spec.id) {
                    row.anchor = None;
                }
                row
            })
            .collect(),
        rules,
        badge: spec.checks.iter().any(|check| checks.trusted(*check)),
    }
}

/// The verdict line of a score band.
fn verdict(t: &Ui, band: Band) -> &'static str {
    match band {
        Band::Excellent => t.verdict_excellent,
        Band::Good => t.verdict_good,
        Band::Fair => t.verdict_fair,
        Band::Poor => t.verdict_poor,
        Band::Bad => t.verdict_bad,
    }
}

/// The From line as people read it: the decoded display name and the
/// address; the header as written when it has no usable address.
fn from_shown(m: &MessageFacts) -> Option<String> {
    match (&m.from_name, &m.from_address) {
        (Some(name), Some(address)) => Some(format!("{name} <{address}>")),
        _ => m.from.clone(),
    }
}

fn envelope_rows(t: &Ui, report: &Report) -> Vec<(&'static str, String)> {
    let e = &report.envelope;
    let m = &report.message;
    let or_dash = |value: &Option<String>| value.clone().unwrap_or_else(|| "—".to_string());
    vec![
        (t.received, report.received_at.clone()),
        (t.client, format!("{}:{}", e.client_ip, e.client_port)),
        (t.helo, e.helo.clone()),
        (t.mail_from, format!("<{}>", e.mail_from)),
        (t.rcpt_to, e.rcpt_to.join(", ")),
        (t.from, from_shown(m).unwrap_or_else(|| "—".to_string())),
        (t.subject, or_dash(&m.subject)),
        (t.message_id, or_dash(&m.message_id)),
        (t.size, format!("{} {}", m.size, t.bytes)),
    ]
}
