//! Rspamd, when the operator runs it: the message is POSTed to rspamd's
//! normal worker over its HTTP protocol (`/checkv2`, with the envelope in
//! request headers) and the report keeps its action, score and every
//! symbol it returned, with score, description and options. rspamd down
//! or slow is "not checked", with why; it never holds up or changes the
//! rest of the report. Everything rspamd says is cut to size: it is shown
//! to users.

use super::CheckId;
use super::facts::words;
use super::facts::{Facts, Field};
use super::row::{Row, Tone};
use crate::i18n::{Lang, phrases};
use crate::smtp::Envelope;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// rspamd's own default `max_message` (50 MB): larger is "not checked".
pub const MAX_MESSAGE_BYTES: usize = 50 * 1024 * 1024;
/// rspamd's answer is read up to this size.
const MAX_RESPONSE_BYTES: usize = 1024 * 1024;
const MAX_SYMBOLS: usize = 300;
const MAX_OPTIONS: usize = 20;
const MAX_NAME_CHARS: usize = 100;
const MAX_DESCRIPTION_CHARS: usize = 300;
const MAX_OPTION_CHARS: usize = 200;

/// Where rspamd's normal worker listens and how long one scan may take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RspamdSettings {
    pub addr: SocketAddr,
    pub timeout: Duration,
}

words! {
    RspamdStatus { NotConfigured => "not_configured", Checked => "checked", NotChecked => "not_checked" }
}

/// One rspamd symbol in the answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct RspamdSymbol {
    /// The symbol, e.g. MISSING_DATE.
    pub name: String,
    /// Its score (may be negative or zero).
    pub score: f64,
    /// rspamd's description of the symbol; empty when it gave none.
    pub description: String,
    /// What the symbol matched, as rspamd lists it (domains, counts…).
    pub options: Vec<String>,
}

/// Rspamd's verdict (`/checkv2`), when the operator configures one.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct RspamdFinding {
    /// `not_checked`: rspamd unreachable, slow or refusing; `error` says which.
    pub status: RspamdStatus,
    /// The rspamd address asked, when one is configured.
    pub server: Option<String>,
    /// The action rspamd would take, as it names it: `no action`,
    /// `greylist`, `add header`, `rewrite subject`, `soft reject`, `reject`.
    pub action: Option<String>,
    /// Rspamd's score.
    pub score: Option<f64>,
    /// The score of rspamd's reject action (its `required_score`).
    pub required_score: Option<f64>,
    /// Every symbol rspamd returned, highest score first.
    pub symbols: Vec<RspamdSymbol>,
    /// Why it was not checked.
    pub error: Option<String>,
}

// Findings are compared whole; scores are parsed finite (never NaN), so
// equality is reflexive.
impl Eq for RspamdFinding {}

/// Scores `raw` with rspamd, or says why not.
pub async fn rspamd_verdict(
    settings: Option<&RspamdSettings>,
    envelope: &Envelope,
    raw: &[u8],
) -> RspamdFinding {
    let Some(settings) = settings else {
        return RspamdFinding::default();
    };
    let not_checked = |error: String| RspamdFinding {
        status: RspamdStatus::NotChecked,
        server: Some(settings.addr.to_string()),
        error: Some(error),
        ..RspamdFinding::default()
    };
    if raw.len() > MAX_MESSAGE_BYTES {
        return not_checked(format!(
            "message is {} bytes; rspamd takes at most {MAX_MESSAGE_BYTES}",
            raw.len()
        ));
    }
    match tokio::time::timeout(settings.timeout, exchange(settings.addr, envelope, raw)).await {
        Err(_) => not_checked(format!(
            "rspamd at {} did not answer within {} s",
            settings.addr,
            settings.timeout.as_secs_f64()
        )),
        Ok(Err(e)) => not_checked(format!("rspamd at {}: {e}", settings.addr)),
        Ok(Ok(body)) => match parse_response(&body) {
            Ok(mut finding) => {
                finding.server = Some(settings.addr.to_string());
                finding
            }
            Err(e) => not_checked(format!("rspamd at {}: {e}", settings.addr)),
        },
    }
}

/// One client for every scan: plain HTTP to the operator's rspamd, no
/// proxy, no redirects. rustls is built with ring only, so reqwest is
/// given a configuration (never used: the URL is http).
fn client() -> Result<&'static reqwest::Client, String> {
    static CLIENT: OnceLock<Result<reqwest::Client, String>> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth();
            reqwest::Client::builder()
                .tls_backend_preconfigured(tls)
                .no_proxy()
                .redirect(reqwest::redirect::Policy::none())
                .user_agent(concat!("mailscore/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(|e| format!("HTTP client: {e}"))
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// The request headers rspamd reads the envelope from (its protocol page):
/// the client's IP and HELO, MAIL FROM and each RCPT TO. Values a header
/// cannot carry (a CR or LF, from a hostile client) are left out.
fn envelope_headers(envelope: &Envelope) -> Vec<(&'static str, String)> {
    let mut headers = vec![("IP", envelope.client_ip.to_string())];
    if !envelope.helo.is_empty() {
        headers.push(("Helo", envelope.helo.clone()));
    }
    // An empty MAIL FROM (a bounce) is `<>` to rspamd.
    let from = match envelope.mail_from.as_str() {
        "" => "<>".to_string(),
        address => address.to_string(),
    };
    headers.push(("From", from));
    headers.extend(envelope.rcpt_to.iter().map(|r| ("Rcpt", r.clone())));
    headers.retain(|(_, value)| reqwest::header::HeaderValue::from_str(value).is_ok());
    headers
}

/// POST /checkv2 and rspamd's answer, read up to [`MAX_RESPONSE_BYTES`].
async fn exchange(addr: SocketAddr, envelope: &Envelope, raw: &[u8]) -> Result<Vec<u8>, String> {
    let mut request = client()?
        .post(format!("http://{addr}/checkv2"))
        .body(raw.to_vec());
    for (name, value) in envelope_headers(envelope) {
        request = request.header(name, value);
    }
    let mut response = request.send().await.map_err(|e| innermost(&e))?;
    let status = response.status();
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| innermost(&e))? {
        if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
            return Err(format!("answer larger than {MAX_RESPONSE_BYTES} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    if !status.is_success() {
        // rspamd explains a refusal in `{"error": "…"}`.
        let why = serde_json::from_slice::<Value>(&body)
            .ok()
            .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_string))
            .unwrap_or_default();
        return Err(
            format!("answered HTTP {} {}", status.as_u16(), cut(&why, 200))
                .trim_end()
                .to_string(),
        );
    }
    Ok(body)
}

/// The innermost cause: "Connection refused" says more than "error
/// sending request".
fn innermost(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cut(&cause.to_string(), 200)
}

fn cut(text: &str, chars: usize) -> String {
    text.trim().chars().take(chars).collect()
}

fn finite(value: Option<&Value>) -> Option<f64> {
    value.and_then(Value::as_f64).filter(|n| n.is_finite())
}

/// rspamd's `/checkv2` JSON: `action`, `score`, `required_score` and
/// `symbols`, an object of `{name, score, description?, options?}`.
pub fn parse_response(body: &[u8]) -> Result<RspamdFinding, String> {
    let reply: Value =
        serde_json::from_slice(body).map_err(|e| format!("answer is not JSON: {e}"))?;
    if let Some(error) = reply.get("error").and_then(Value::as_str) {
        return Err(format!("refused the message: {}", cut(error, 200)));
    }
    let action = reply
        .get("action")
        .and_then(Value::as_str)
        .map(|a| cut(a, MAX_NAME_CHARS))
        .ok_or("answer has no action")?;
    let score = finite(reply.get("score")).ok_or("answer has no score")?;
    let mut symbols: Vec<RspamdSymbol> = reply
        .get("symbols")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .take(MAX_SYMBOLS)
        .map(|(key, symbol)| RspamdSymbol {
            name: cut(
                symbol.get("name").and_then(Value::as_str).unwrap_or(key),
                MAX_NAME_CHARS,
            ),
            score: finite(symbol.get("score")).unwrap_or_default(),
            description: cut(
                symbol
                    .get("description")
                    .and_then(Value::as_str)
                    .unwrap_or_default(),
                MAX_DESCRIPTION_CHARS,
            ),
            options: symbol
                .get("options")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .take(MAX_OPTIONS)
                .map(|o| cut(o, MAX_OPTION_CHARS))
                .collect(),
        })
        .collect();
    symbols.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| a.name.cmp(&b.name))
    });
    Ok(RspamdFinding {
        status: RspamdStatus::Checked,
        server: None,
        action: Some(action),
        score: Some(score),
        required_score: finite(reply.get("required_score")),
        symbols,
        error: None,
    })
}

/// rspamd's actions in the rule table's words; `other` for a custom one.
const ACTIONS: &[&str] = &[
    "unknown",
    "no_action",
    "greylist",
    "add_header",
    "rewrite_subject",
    "soft_reject",
    "reject",
    "other",
];

/// The rule fields of `rspamd`.
pub const FIELDS: &[Field] = &[("status", RspamdStatus::WORDS), ("action", ACTIONS)];

impl RspamdFinding {
    /// The action in the rule table's words, and as the page shows it.
    fn action_word(&self) -> (&'static str, &'static str) {
        match self.action.as_deref() {
            None => ("unknown", "unknown"),
            Some("no action") => ("no_action", "no action"),
            Some("greylist") => ("greylist", "greylist"),
            Some("add header") => ("add_header", "add header"),
            Some("rewrite subject") => ("rewrite_subject", "rewrite subject"),
            Some("soft reject") => ("soft_reject", "soft reject"),
            Some("reject") => ("reject", "reject"),
            Some(_) => ("other", "other action"),
        }
    }

    pub fn facts(&self, facts: &mut Facts) {
        let check = CheckId::Rspamd;
        facts.put(check, "status", self.status.as_str());
        facts.put(check, "action", self.action_word().0);
    }
}

phrases! {
    /// The page's words for this check, in English and Japanese.
    RspamdWords {
        about: "Rspamd, the filter many receivers run, scored the message; the action is what a receiver at its defaults would do (reject from 15, spam header from 6, greylist from 4).",
            "多くの受信側が使う迷惑メールフィルター Rspamd による評価です。アクションは既定設定の受信側が取る処置です（15 点以上で拒否、6 点以上で迷惑メールヘッダー付与、4 点以上でグレーリスト）。";
        not_configured: "Not configured: this mailscore does not run Rspamd.",
            "未設定：この mailscore では Rspamd を使用していません。";
        score_of: "score", "スコア";
    }
}

impl RspamdFinding {
    /// Rspamd's verdict, one record per symbol it returned.
    pub fn row(&self, lang: Lang) -> Row {
        let w = RspamdWords::of(lang);
        let (tone, word, name, detail) = match self.status {
            RspamdStatus::NotConfigured => (
                Some(Tone::Info),
                "not configured",
                "Rspamd".to_string(),
                w.not_configured.to_string(),
            ),
            RspamdStatus::NotChecked => (
                Some(Tone::Warn),
                "not checked",
                "Rspamd".to_string(),
                self.error.clone().unwrap_or_default(),
            ),
            RspamdStatus::Checked => {
                let (rule_word, shown) = self.action_word();
                let tone = match rule_word {
                    "no_action" => None,
                    "greylist" | "soft_reject" | "other" => Some(Tone::Warn),
                    _ => Some(Tone::Bad),
                };
                (
                    tone,
                    shown,
                    format!(
                        "Rspamd ({} {:.1} / {:.1})",
                        w.score_of,
                        self.score.unwrap_or_default(),
                        self.required_score.unwrap_or_default()
                    ),
                    self.server.clone().unwrap_or_default(),
                )
            }
        };
        Row {
            check: CheckId::Rspamd,
            tone,
            name,
            word: Some(word),
            setup: "",
            about: w.about,
            detail,
            records: self.symbols.iter().map(record).collect(),
        }
    }

    /// The `mailscore check` lines, when rspamd was asked: its action and
    /// score, and each symbol.
    pub fn text(&self) -> String {
        match self.status {
            RspamdStatus::NotConfigured => String::new(),
            RspamdStatus::NotChecked => format!(
                "{:<9} {:<10} {}\n",
                "rspamd",
                "unchecked",
                self.error.as_deref().unwrap_or("no answer")
            ),
            RspamdStatus::Checked => {
                let mut out = format!(
                    "{:<9} {:<10} score {} / required {}\n",
                    "rspamd",
                    self.action.as_deref().unwrap_or("-"),
                    self.score.map_or("-".to_string(), |s| format!("{s:.2}")),
                    self.required_score
                        .map_or("-".to_string(), |t| format!("{t:.2}")),
                );
                for symbol in &self.symbols {
                    out += &format!("          {}\n", record(symbol));
                }
                out
            }
        }
    }
}

/// ` 1.00 DATE_IN_PAST  Message date is in past [9180]`
fn record(symbol: &RspamdSymbol) -> String {
    let mut line = format!(
        "{:>6.2} {:<24} {}",
        symbol.score, symbol.name, symbol.description
    );
    if !symbol.options.is_empty() {
        line += &format!(" [{}]", symbol.options.join(", "));
    }
    line.trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ANSWER: &str = r#"{
        "is_skipped": false, "score": 7.5, "required_score": 15.0, "action": "add header",
        "symbols": {
            "DATE_IN_PAST": {"name": "DATE_IN_PAST", "score": 1.0, "metric_score": 1.0,
                "description": "Message date is in past", "options": ["9180"]},
            "MIME_TRACE": {"name": "MIME_TRACE", "score": 0.0, "options": ["0:+"]},
            "R_SPF_ALLOW": {"name": "R_SPF_ALLOW", "score": -0.2, "description": "SPF verification allows sending"},
            "HFILTER_HOSTNAME_UNKNOWN": {"name": "HFILTER_HOSTNAME_UNKNOWN", "score": 2.5,
                "description": "<b>Unknown</b> client hostname"}
        },
        "messages": {}, "message-id": "x@example.com", "time_real": 0.1
    }"#;

    #[test]
    fn reads_the_action_score_and_every_symbol() {
        let f = parse_response(ANSWER.as_bytes()).unwrap();
        assert_eq!(f.status, RspamdStatus::Checked);
        assert_eq!(f.action.as_deref(), Some("add header"));
        assert_eq!((f.score, f.required_score), (Some(7.5), Some(15.0)));
        let names: Vec<&str> = f.symbols.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "HFILTER_HOSTNAME_UNKNOWN",
                "DATE_IN_PAST",
                "MIME_TRACE",
                "R_SPF_ALLOW"
            ]
        );
        assert_eq!(f.symbols[1].options, ["9180"]);
        assert_eq!(f.symbols[2].description, "");
        assert_eq!(f.symbols[3].score, -0.2);
        let mut facts = Facts::default();
        f.facts(&mut facts);
        assert_eq!(facts.get(CheckId::Rspamd, "action"), Some("add_header"));
        let text = f.text();
        assert!(text.starts_with("rspamd    add header score 7.50 / required 15.00\n"));
        assert!(text.contains("  1.00 DATE_IN_PAST             Message date is in past [9180]\n"));
    }

    #[test]
    fn untrusted_text_is_cut_to_size() {
        let long = "A".repeat(5000);
        let options: Vec<String> = (0..100).map(|_| long.clone()).collect();
        let symbols: serde_json::Map<String, Value> = (0..1000)
            .map(|i| {
                let symbol = serde_json::json!({
                    "name": format!("{long}{i}"), "score": 1.0,
                    "description": long, "options": options,
                });
                (format!("S{i}"), symbol)
            })
            .collect();
        let answer = serde_json::json!({
            "action": long, "score": 1e308, "symbols": symbols,
        });
        let f = parse_response(answer.to_string().as_bytes()).unwrap();
        assert_eq!(f.action.as_ref().unwrap().len(), MAX_NAME_CHARS);
        assert_eq!(f.symbols.len(), MAX_SYMBOLS);
        let s = &f.symbols[0];
        assert_eq!(s.name.len(), MAX_NAME_CHARS);
        assert_eq!(s.description.len(), MAX_DESCRIPTION_CHARS);
        assert_eq!(s.options.len(), MAX_OPTIONS);
        assert!(s.options.iter().all(|o| o.len() == MAX_OPTION_CHARS));
        let mut facts = Facts::default();
        f.facts(&mut facts);
        assert_eq!(facts.get(CheckId::Rspamd, "action"), Some("other"));
    }

    #[test]
    fn errors_and_garbage_are_not_checked() {
        let err = parse_response(br#"{"error": "bad request"}"#).unwrap_err();
        assert!(err.contains("bad request"), "{err}");
        assert!(parse_response(b"").is_err());
        assert!(parse_response(b"<html>").is_err());
        assert!(parse_response(br#"{"score": 1.0}"#).is_err());
        assert!(parse_response(br#"{"action": "reject"}"#).is_err());
    }

    #[test]
    fn envelope_headers_skip_what_a_header_cannot_carry() {
        let envelope = Envelope {
            client_ip: "192.0.2.25".parse().unwrap(),
            client_port: 25,
            helo: "mail.example.com".into(),
            mail_from: String::new(),
            rcpt_to: vec!["a@localhost".into(), "b\r\nX: y@localhost".into()],
            received_at: 0,
            tls: None,
        };
        let headers = envelope_headers(&envelope);
        assert_eq!(
            headers,
            [
                ("IP", "192.0.2.25".to_string()),
                ("Helo", "mail.example.com".to_string()),
                ("From", "<>".to_string()),
                ("Rcpt", "a@localhost".to_string()),
            ]
        );
    }
}
