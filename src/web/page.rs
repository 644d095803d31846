//! The HTML views: the score page of one test and the landing page. Every
//! user-visible phrase exists in English and Japanese; rule titles and
//! advice come from the rule table.

use super::WebState;
use super::html::escape;
use crate::analyze::arc::ArcFinding;
use crate::analyze::helo::HeloResult;
use crate::analyze::tls::TlsResult;
use crate::analyze::{Setup, Verdict};
use crate::report::Report;
use crate::test_id;
use serde::Deserialize;
use std::fmt::Write;
use warp::http::StatusCode;
use warp::reply::{Reply, Response};

/// Seconds between refreshes of a pending page.
const REFRESH_SECONDS: u32 = 5;

#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    pub lang: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Lang {
    En,
    Ja,
}

impl Lang {
    /// `?lang=` first, then the first supported language in Accept-Language.
    fn choose(query: &PageQuery, accept: Option<&str>) -> Lang {
        match query.lang.as_deref() {
            Some("ja") => return Lang::Ja,
            Some("en") => return Lang::En,
            _ => {}
        }
        let accept = accept.unwrap_or("").to_ascii_lowercase();
        for tag in accept.split(',') {
            let tag = tag.split(';').next().unwrap_or("").trim();
            if tag.starts_with("ja") {
                return Lang::Ja;
            }
            if tag.starts_with("en") {
                return Lang::En;
            }
        }
        Lang::En
    }

    pub(super) fn pick<'a>(self, en: &'a str, ja: &'a str) -> &'a str {
        match self {
            Lang::En => en,
            Lang::Ja => ja,
        }
    }

    fn code(self) -> &'static str {
        self.pick("en", "ja")
    }
}

pub fn report_page(
    id: String,
    query: PageQuery,
    accept_language: Option<String>,
    state: WebState,
) -> Response {
    let lang = Lang::choose(&query, accept_language.as_deref());
    if !test_id::is_valid(&id) {
        let body = layout(
            lang,
            "mailscore",
            "",
            &format!(
                "<p>{}</p>",
                lang.pick("Invalid test id.", "テスト ID が正しくありません。")
            ),
        );
        return with_status(body, StatusCode::BAD_REQUEST);
    }
    let report = state
        .store
        .report(&id)
        .ok()
        .flatten()
        .and_then(|raw| serde_json::from_slice::<Report>(&raw).ok());
    let address = format!("{id}@{}", state.domain);
    let body = match report {
        Some(report) => render_report(lang, &report),
        None => render_pending(lang, &address),
    };
    with_status(body, StatusCode::OK)
}

pub fn landing(query: PageQuery, accept_language: Option<String>, state: WebState) -> Response {
    let lang = Lang::choose(&query, accept_language.as_deref());
    let id = test_id::generate();
    let address = escape(&format!("{id}@{}", state.domain));
    let body = format!(
        "<h1>mailscore</h1><p>{}</p><p class=\"address\"><input readonly size=\"40\" value=\"{address}\" aria-label=\"address\"></p><p>{}</p><p><a class=\"button\" href=\"/tests/{id}?lang={}\">{}</a></p>",
        lang.pick(
            "Send a message to this address from the system you want to test:",
            "テストしたいシステムから、このアドレスにメールを送ってください："
        ),
        lang.pick(
            "Then open your score. The address stays valid; mail it again to re-test.",
            "送信後、スコアを確認してください。アドレスはそのまま使えます。再送すると再テストします。"
        ),
        lang.code(),
        lang.pick("Then check your score", "スコアを確認する"),
    );
    with_status(layout(lang, "mailscore", "", &body), StatusCode::OK)
}

fn with_status(body: String, status: StatusCode) -> Response {
    warp::reply::with_status(warp::reply::html(body), status).into_response()
}

fn render_pending(lang: Lang, address: &str) -> String {
    let head = format!("<meta http-equiv=\"refresh\" content=\"{REFRESH_SECONDS}\">");
    let body = format!(
        "<h1>{}</h1><p class=\"address\"><code>{}</code></p><p>{}</p>",
        lang.pick("Waiting for your message", "メールの到着を待っています"),
        escape(address),
        lang.pick(
            "This page refreshes itself every few seconds until the message arrives.",
            "メールが届くまで、このページは数秒ごとに自動で更新されます。"
        ),
    );
    layout(lang, "mailscore", &head, &body)
}

fn render_report(lang: Lang, report: &Report) -> String {
    let mut body = String::new();
    let band = report.band().as_str();
    let _ = write!(
        body,
        "<section class=\"score band-{band}\"><div class=\"big\">{:.1}<span>/{}</span></div><p>{}</p><p><code>{}</code></p></section>",
        report.score,
        report.max_score,
        verdict_line(lang, report.score),
        escape(&report.address),
    );
    body += &auth_section(lang, report);
    body += &super::trust::smime_section(lang, report);
    body += &super::trust::blocklist_section(lang, report);
    body += &super::trust::posture_section(lang, report);
    body += &envelope_section(lang, report);
    body += &headers_section(lang, report);
    let title = format!("mailscore {:.1}/10", report.score);
    layout(lang, &title, "", &body)
}

fn verdict_line(lang: Lang, score: f64) -> &'static str {
    match score {
        s if s >= 9.0 => lang.pick(
            "Excellent: this message is well authenticated.",
            "優秀：このメールは正しく認証されています。",
        ),
        s if s >= 7.0 => lang.pick(
            "Good, with a few things to fix.",
            "良好：いくつか改善点があります。",
        ),
        s if s >= 5.0 => lang.pick(
            "Fair: receivers may treat this as suspicious.",
            "普通：受信側で不審なメールと扱われる可能性があります。",
        ),
        s if s >= 3.0 => lang.pick(
            "Poor: this message is likely to land in spam.",
            "不良：迷惑メールと判定される可能性が高いです。",
        ),
        _ => lang.pick(
            "Bad: this message looks spoofed or will be rejected.",
            "危険：なりすましと判定されるか、拒否されます。",
        ),
    }
}

/// One row of the authentication section.
pub(super) struct CheckRow<'a> {
    pub check: &'a str,
    pub name: String,
    /// Drives the colour and icon, unless `tone` says otherwise.
    pub result: Verdict,
    /// The result as the check itself words it (defaults to `result`).
    pub word: Option<&'static str>,
    /// Overrides the colour: "ok", "warn", "bad" or "info".
    pub tone: Option<&'static str>,
    pub setup: Setup,
    pub detail: String,
    pub records: &'a [String],
}

fn auth_section(lang: Lang, report: &Report) -> String {
    let c = &report.checks;
    let mut rows = vec![
        CheckRow {
            check: "spf",
            name: format!("SPF ({})", c.spf.domain),
            result: c.spf.result,
            word: None,
            tone: None,
            setup: c.spf.setup,
            detail: c
                .spf
                .error
                .clone()
                .or(c.spf.explanation.clone())
                .unwrap_or_default(),
            records: &c.spf.records,
        },
        CheckRow {
            check: "spf_helo",
            name: format!("SPF HELO ({})", c.spf_helo.domain),
            result: c.spf_helo.result,
            word: None,
            tone: None,
            setup: c.spf_helo.setup,
            detail: c.spf_helo.error.clone().unwrap_or_default(),
            records: &c.spf_helo.records,
        },
    ];
    if c.dkim.is_empty() {
        rows.push(CheckRow {
            check: "dkim",
            name: "DKIM".into(),
            result: Verdict::None,
            word: None,
            tone: None,
            setup: Setup::Missing,
            detail: lang
                .pick(
                    "No DKIM-Signature header.",
                    "DKIM-Signature ヘッダーがありません。",
                )
                .into(),
            records: &[],
        });
    }
    for sig in &c.dkim {
        rows.push(CheckRow {
            check: "dkim",
            name: format!(
                "DKIM (d={} s={} {}{})",
                sig.domain,
                sig.selector,
                sig.algorithm,
                sig.key
                    .as_ref()
                    .map(|k| format!(", {} {} bits", k.key_type, k.bits))
                    .unwrap_or_default()
            ),
            result: sig.result,
            word: None,
            tone: None,
            setup: sig.setup,
            detail: join(&[
                sig.error.clone(),
                (!sig.author_domain && !sig.domain.is_empty()).then(|| {
                    lang.pick(
                        "third-party signature (not the From domain)",
                        "第三者署名（From ドメインではない）",
                    )
                    .to_string()
                }),
                sig.body_length_limited.then(|| {
                    lang.pick(
                        "l=: only part of the body is signed",
                        "l=：本文の一部のみ署名",
                    )
                    .to_string()
                }),
            ]),
            records: &sig.records,
        });
    }
    rows.push(CheckRow {
        check: "dmarc",
        name: format!(
            "DMARC ({}, p={})",
            c.dmarc.from_domain,
            c.dmarc.policy.as_deref().unwrap_or("-")
        ),
        result: c.dmarc.result,
        word: None,
        tone: None,
        setup: c.dmarc.setup,
        detail: join(&[
            Some(format!(
                "SPF {}: {} · DKIM {}: {}",
                lang.pick("aligned", "アライメント"),
                yes_no(lang, c.dmarc.spf_aligned),
                lang.pick("aligned", "アライメント"),
                yes_no(lang, c.dmarc.dkim_aligned),
            )),
            c.dmarc.record.as_ref().map(|r| {
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
            c.dmarc
                .record_domain
                .as_ref()
                .filter(|d| **d != c.dmarc.from_domain)
                .map(|d| format!("{} _dmarc.{d}", lang.pick("policy from", "適用レコード"))),
            c.dmarc.error.clone(),
        ]),
        records: &c.dmarc.records,
    });
    rows.push(arc_row(lang, &c.arc));
    rows.push(CheckRow {
        check: "iprev",
        name: format!(
            "{} ({})",
            lang.pick("Reverse DNS", "逆引き DNS"),
            c.iprev.ip
        ),
        result: c.iprev.result,
        word: None,
        tone: None,
        setup: c.iprev.setup,
        detail: if c.iprev.ptr.is_empty() {
            c.iprev.error.clone().unwrap_or_default()
        } else {
            join(&[
                Some(format!("PTR: {}", c.iprev.ptr.join(", "))),
                c.iprev.generic.then(|| {
                    lang.pick(
                        "looks like a dynamic/end-user name",
                        "動的・一般利用者向けの名前に見えます",
                    )
                    .to_string()
                }),
            ])
        },
        records: &[],
    });
    let (helo_result, helo_setup) = helo_status(c.helo.result);
    rows.push(CheckRow {
        check: "helo",
        name: format!("HELO ({})", c.helo.name),
        result: helo_result,
        word: Some(c.helo.result.as_str()),
        tone: None,
        setup: helo_setup,
        detail: c
            .helo
            .addresses
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        records: &[],
    });

    let (tls_result, tls_setup) = match c.tls.result {
        TlsResult::Encrypted => (Verdict::Pass, Setup::Configured),
        TlsResult::Plaintext => (Verdict::Fail, Setup::Missing),
        TlsResult::Unknown => (Verdict::Temperror, Setup::Unknown),
    };
    rows.push(CheckRow {
        check: "tls",
        name: format!(
            "TLS{}",
            c.tls
                .version
                .as_ref()
                .map(|v| format!(" ({v}, {})", c.tls.cipher.as_deref().unwrap_or("")))
                .unwrap_or_default()
        ),
        result: tls_result,
        word: Some(c.tls.result.as_str()),
        tone: None,
        setup: tls_setup,
        detail: String::new(),
        records: &[],
    });

    let mut out = format!(
        "<section><h2>{}</h2>",
        lang.pick("Authentication", "送信ドメイン認証")
    );
    for row in &rows {
        out += &check_html(lang, report, row);
    }
    out + "</section>"
}

/// ARC: most mail has none, which is shown as information, not a failure.
fn arc_row(lang: Lang, arc: &ArcFinding) -> CheckRow<'static> {
    let name = if arc.instances == 0 {
        "ARC".to_string()
    } else {
        let sets = match (arc.instances, lang) {
            (1, Lang::En) => "1 set".to_string(),
            (n, Lang::En) => format!("{n} sets"),
            (n, Lang::Ja) => format!("{n} セット"),
        };
        if arc.sealers.is_empty() {
            format!("ARC ({sets})")
        } else {
            format!("ARC ({sets}: {})", arc.sealers.join(", "))
        }
    };
    let detail = if arc.result == Verdict::None {
        lang.pick(
            "No ARC headers: the message did not pass through a forwarder or mailing list that seals it.",
            "ARC ヘッダーはありません（ARC 署名を付ける転送サーバーやメーリングリストを経由していません）。",
        )
        .to_string()
    } else {
        arc.error.clone().unwrap_or_default()
    };
    CheckRow {
        check: "arc",
        name,
        result: arc.result,
        word: None,
        tone: (arc.result == Verdict::None).then_some("info"),
        setup: arc.result.setup(),
        detail,
        records: &[],
    }
}

pub(super) fn check_html(lang: Lang, report: &Report, row: &CheckRow<'_>) -> String {
    let class = row.tone.unwrap_or(match row.result {
        Verdict::Pass => "ok",
        Verdict::Temperror | Verdict::Neutral | Verdict::Softfail => "warn",
        Verdict::None if row.check == "spf_helo" => "warn",
        _ => "bad",
    });
    let icon = match class {
        "ok" => "✔",
        "warn" => "!",
        "info" => "i",
        _ => "✘",
    };
    let mut out = format!(
        "<details class=\"check {class}\"{}><summary><span class=\"icon\" aria-hidden=\"true\">{icon}</span> <strong>{}</strong> <span class=\"result\">{}</span> <span class=\"setup\">{}</span></summary>",
        if matches!(class, "ok" | "info") {
            ""
        } else {
            " open"
        },
        escape(&row.name),
        row.word.unwrap_or(row.result.as_str()),
        setup_label(lang, row.setup),
    );
    if !row.detail.is_empty() {
        let _ = write!(out, "<p>{}</p>", escape(&row.detail));
    }
    for record in row.records {
        let _ = write!(out, "<pre>{}</pre>", escape(record));
    }
    out += &deductions_html(lang, report, row.check);
    out + "</details>"
}

/// The rules of `check` that matched, with their points and advice.
pub(super) fn deductions_html(lang: Lang, report: &Report, check: &str) -> String {
    let mut out = String::new();
    for d in report.deductions.iter().filter(|d| d.check == check) {
        let _ = write!(
            out,
            "<div class=\"deduction\"><p><strong>−{} · {}</strong> <code>{}</code></p><p>{}</p></div>",
            d.points,
            escape(lang.pick(&d.title.en, &d.title.ja)),
            escape(&d.rule),
            escape(lang.pick(&d.advice.en, &d.advice.ja)),
        );
    }
    out
}

/// The HELO check's colour and setup label, in the other checks' terms.
fn helo_status(result: HeloResult) -> (Verdict, Setup) {
    match result {
        HeloResult::Match => (Verdict::Pass, Setup::Configured),
        HeloResult::Mismatch => (Verdict::Neutral, Setup::Configured),
        HeloResult::Unresolvable => (Verdict::Fail, Setup::Missing),
        HeloResult::Invalid => (Verdict::Fail, Setup::Misconfigured),
        HeloResult::Unknown => (Verdict::Temperror, Setup::Unknown),
    }
}

/// The present parts, joined with a middle dot.
pub(super) fn join(parts: &[Option<String>]) -> String {
    parts
        .iter()
        .flatten()
        .filter(|p| !p.is_empty())
        .cloned()
        .collect::<Vec<_>>()
        .join(" · ")
}

fn setup_label(lang: Lang, setup: Setup) -> &'static str {
    match setup {
        Setup::Configured => lang.pick("set up", "設定あり"),
        Setup::Missing => lang.pick("not set up", "設定なし"),
        Setup::Misconfigured => lang.pick("misconfigured", "設定誤り"),
        Setup::Unknown => lang.pick("could not check", "確認不可"),
    }
}

fn yes_no(lang: Lang, value: bool) -> &'static str {
    match value {
        true => lang.pick("yes", "あり"),
        false => lang.pick("no", "なし"),
    }
}

fn envelope_section(lang: Lang, report: &Report) -> String {
    let e = &report.envelope;
    let m = &report.message;
    let none = "—".to_string();
    let rows = [
        (
            lang.pick("Received", "受信日時"),
            report.received_at.clone(),
        ),
        (
            lang.pick("Client", "送信元"),
            format!("{}:{}", e.client_ip, e.client_port),
        ),
        ("HELO", e.helo.clone()),
        ("MAIL FROM", format!("<{}>", e.mail_from)),
        ("RCPT TO", e.rcpt_to.join(", ")),
        ("From", m.from.clone().unwrap_or_else(|| none.clone())),
        (
            lang.pick("Subject", "件名"),
            m.subject.clone().unwrap_or_else(|| none.clone()),
        ),
        (
            "Message-ID",
            m.message_id.clone().unwrap_or_else(|| none.clone()),
        ),
        (lang.pick("Size", "サイズ"), format!("{} bytes", m.size)),
    ];
    let mut out = format!(
        "<section><h2>{}</h2><table>",
        lang.pick("Message", "メッセージ")
    );
    for (name, value) in rows {
        let _ = write!(
            out,
            "<tr><th>{}</th><td>{}</td></tr>",
            escape(name),
            escape(&value)
        );
    }
    out + "</table></section>"
}

fn headers_section(lang: Lang, report: &Report) -> String {
    let mut out = format!(
        "<section><details><summary><h2>{}</h2></summary><table class=\"headers\">",
        lang.pick("Headers", "ヘッダー")
    );
    for (name, value) in &report.headers {
        let _ = write!(
            out,
            "<tr><th>{}</th><td>{}</td></tr>",
            escape(name),
            escape(value)
        );
    }
    out + "</table></details></section>"
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem;color:#222}\
.score{text-align:center;padding:1rem;border-radius:.5rem;color:#fff}.big{font-size:4rem;font-weight:700}.big span{font-size:1.5rem}\
.band-excellent{background:#1a7f37}.band-good{background:#4c9a2a}.band-fair{background:#d4a017;color:#222}.band-poor{background:#e36209}.band-bad{background:#cf222e}\
.check{border-left:.4rem solid #999;margin:.5rem 0;padding:.3rem .8rem;background:#f6f8fa}.check.ok{border-color:#1a7f37}.check.info{border-color:#8c959f}.info .icon{color:#57606a}.badge{display:inline-block;padding:.2rem .6rem;border-radius:1rem;background:#1a7f37;color:#fff;font-weight:600}.check.warn{border-color:#d4a017}.check.bad{border-color:#cf222e}\
.ok .icon{color:#1a7f37}.warn .icon{color:#9a6700}.bad .icon{color:#cf222e}.setup{color:#555;font-size:.9em}\
pre{white-space:pre-wrap;word-break:break-all;background:#fff;padding:.4rem}table{border-collapse:collapse;width:100%}th,td{text-align:left;vertical-align:top;padding:.2rem .4rem;border-bottom:1px solid #ddd;word-break:break-all}\
summary h2{display:inline}.button{display:inline-block;padding:.6rem 1rem;background:#0969da;color:#fff;border-radius:.3rem;text-decoration:none}";

fn layout(lang: Lang, title: &str, head: &str, body: &str) -> String {
    let other = match lang {
        Lang::En => "<a href=\"?lang=ja\">日本語</a>",
        Lang::Ja => "<a href=\"?lang=en\">English</a>",
    };
    format!(
        "<!doctype html><html lang=\"{}\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">{head}<title>{}</title><style>{STYLE}</style></head><body><nav>{other}</nav>{body}</body></html>",
        lang.code(),
        escape(title),
    )
}
