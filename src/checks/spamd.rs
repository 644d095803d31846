//! SpamAssassin, when the operator runs it: the message is handed to spamd
//! over its own protocol (SPAMC/1.5, `REPORT`) and the report keeps its
//! score and every rule it hit, with points and description, as
//! mail-tester shows them. spamd down or slow is "not checked", with why;
//! it never holds up or changes the rest of the report.

use super::CheckId;
use super::facts::words;
use super::facts::{Facts, Field};
use super::row::{Row, Tone};
use crate::i18n::{Lang, phrases};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// spamc does not send messages above 500 KB (its `-s` default); we follow
/// it, so a large message is "not checked" rather than a slow scan.
pub const MAX_MESSAGE_BYTES: usize = 500 * 1024;
/// spamd's answer is read up to this size.
const MAX_RESPONSE_BYTES: u64 = 256 * 1024;
const MAX_RULES: usize = 200;
const MAX_DESCRIPTION_CHARS: usize = 300;

/// Where spamd listens and how long one scan may take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpamdSettings {
    pub addr: SocketAddr,
    pub timeout: Duration,
}

words! {
    SpamdStatus { NotConfigured => "not_configured", Checked => "checked", NotChecked => "not_checked" }
}

/// One SpamAssassin rule that matched.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct SpamRule {
    /// The rule name, e.g. MISSING_HEADERS.
    pub name: String,
    /// Its points (may be negative).
    pub points: f64,
    /// SpamAssassin's description of the rule.
    pub description: String,
}

/// SpamAssassin's verdict from spamd (SPAMC/1.5 REPORT), when the operator
/// configures one.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct SpamdFinding {
    /// `not_checked`: spamd unreachable, slow, refusing, or the message above
    /// 500 KB; `error` says which.
    pub status: SpamdStatus,
    /// The spamd address asked, when one is configured.
    pub server: Option<String>,
    /// SpamAssassin's verdict: the score reached the threshold.
    pub spam: Option<bool>,
    /// SpamAssassin's score.
    pub score: Option<f64>,
    /// SpamAssassin's spam threshold (usually 5).
    pub threshold: Option<f64>,
    /// Every rule SpamAssassin hit, as its report lists them.
    pub rules: Vec<SpamRule>,
    /// Why it was not checked.
    pub error: Option<String>,
}

// Findings are compared whole; scores are parsed finite (never NaN), so
// equality is reflexive.
impl Eq for SpamdFinding {}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SpamdError {
    #[error("spamd answered {0:?}")]
    Refused(String),
    #[error("spamd's answer has no usable Spam header")]
    NoVerdict,
    #[error("{0}")]
    Io(String),
}

/// Scores `raw` with spamd, or says why not.
pub async fn spamd_verdict(settings: Option<&SpamdSettings>, raw: &[u8]) -> SpamdFinding {
    let Some(settings) = settings else {
        return SpamdFinding::default();
    };
    let not_checked = |error: String| SpamdFinding {
        status: SpamdStatus::NotChecked,
        server: Some(settings.addr.to_string()),
        error: Some(error),
        ..SpamdFinding::default()
    };
    if raw.len() > MAX_MESSAGE_BYTES {
        return not_checked(format!(
            "message is {} bytes; spamc sends at most {MAX_MESSAGE_BYTES}",
            raw.len()
        ));
    }
    match tokio::time::timeout(settings.timeout, exchange(settings.addr, raw)).await {
        Err(_) => not_checked(format!(
            "spamd at {} did not answer within {} s",
            settings.addr,
            settings.timeout.as_secs_f64()
        )),
        Ok(Err(e)) => not_checked(format!("spamd at {}: {e}", settings.addr)),
        Ok(Ok(response)) => match parse_response(&response) {
            Ok(mut finding) => {
                finding.server = Some(settings.addr.to_string());
                finding
            }
            Err(e) => not_checked(e.to_string()),
        },
    }
}

/// One SPAMC/1.5 REPORT request and spamd's whole answer (spamd closes the
/// connection after answering).
async fn exchange(addr: SocketAddr, raw: &[u8]) -> Result<Vec<u8>, SpamdError> {
    let io = |e: std::io::Error| SpamdError::Io(e.to_string());
    let mut stream = TcpStream::connect(addr).await.map_err(io)?;
    let head = format!("REPORT SPAMC/1.5\r\nContent-length: {}\r\n\r\n", raw.len());
    stream.write_all(head.as_bytes()).await.map_err(io)?;
    stream.write_all(raw).await.map_err(io)?;
    stream.shutdown().await.map_err(io)?;
    let mut response = Vec::new();
    stream
        .take(MAX_RESPONSE_BYTES)
        .read_to_end(&mut response)
        .await
        .map_err(io)?;
    Ok(response)
}

/// `SPAMD/1.1 0 EX_OK`, headers (`Spam: True ; 7.5 / 5.0`), a blank line,
/// then the report text whose table lists the rules.
pub fn parse_response(response: &[u8]) -> Result<SpamdFinding, SpamdError> {
    if response.is_empty() {
        return Err(SpamdError::Io(
            "closed the connection without answering".into(),
        ));
    }
    let text = String::from_utf8_lossy(response);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .or_else(|| text.split_once("\n\n"))
        .unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines.next().unwrap_or_default().trim();
    let mut words = status.split_whitespace();
    let ok = words.next().is_some_and(|w| w.starts_with("SPAMD/")) && words.next() == Some("0");
    if !ok {
        let shown: String = status.chars().take(100).collect();
        return Err(SpamdError::Refused(shown));
    }
    let (spam, score, threshold) = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("Spam"))
        .and_then(|(_, value)| spam_header(value))
        .ok_or(SpamdError::NoVerdict)?;
    Ok(SpamdFinding {
        status: SpamdStatus::Checked,
        server: None,
        spam: Some(spam),
        score: Some(score),
        threshold: Some(threshold),
        rules: report_rules(body),
        error: None,
    })
}

/// `True ; 7.5 / 5.0`
fn spam_header(value: &str) -> Option<(bool, f64, f64)> {
    let (verdict, scores) = value.split_once(';')?;
    let spam = matches!(verdict.trim().to_ascii_lowercase().as_str(), "true" | "yes");
    let (score, threshold) = scores.split_once('/')?;
    let number = |s: &str| s.trim().parse::<f64>().ok().filter(|n| n.is_finite());
    Some((spam, number(score)?, number(threshold)?))
}

/// The rows under the ` pts rule name  description` table heading; a
/// description that wraps continues on indented lines without points.
fn report_rules(body: &str) -> Vec<SpamRule> {
    let mut rules: Vec<SpamRule> = Vec::new();
    let mut in_table = false;
    for line in body.lines() {
        if !in_table {
            in_table = line.starts_with("----");
            continue;
        }
        if line.trim().is_empty() {
            break;
        }
        let mut parts = line.split_whitespace();
        let first = parts.next().unwrap_or_default();
        match first.parse::<f64>().ok().filter(|p| p.is_finite()) {
            Some(points) if rules.len() < MAX_RULES => {
                let Some(name) = parts.next() else { continue };
                rules.push(SpamRule {
                    name: name.chars().take(100).collect(),
                    points,
                    description: describe(&parts.collect::<Vec<_>>().join(" ")),
                });
            }
            Some(_) => break,
            None => {
                if let Some(last) = rules.last_mut() {
                    last.description = describe(&format!("{} {}", last.description, line.trim()));
                }
            }
        }
    }
    rules
}

fn describe(text: &str) -> String {
    text.trim().chars().take(MAX_DESCRIPTION_CHARS).collect()
}

/// SpamAssassin's score in bands, for rules that map it to our points.
const SCORE_BANDS: &[&str] = &[
    "unknown", "below_1", "1_to_3", "3_to_5", "5_to_10", "10_plus",
];

/// The rule fields of `spamassassin`.
pub const FIELDS: &[Field] = &[
    ("status", SpamdStatus::WORDS),
    ("spam", &["true", "false", "unknown"]),
    ("score", SCORE_BANDS),
];

impl SpamdFinding {
    pub fn facts(&self, facts: &mut Facts) {
        let check = CheckId::Spamassassin;
        facts.put(check, "status", self.status.as_str());
        let spam = match self.spam {
            Some(true) => "true",
            Some(false) => "false",
            None => "unknown",
        };
        facts.put(check, "spam", spam);
        let band = match self.score {
            None => "unknown",
            Some(s) if s < 1.0 => "below_1",
            Some(s) if s < 3.0 => "1_to_3",
            Some(s) if s < 5.0 => "3_to_5",
            Some(s) if s < 10.0 => "5_to_10",
            Some(_) => "10_plus",
        };
        facts.put(check, "score", band);
    }
}

phrases! {
    /// The page's words for this check, in English and Japanese.
    SpamassassinWords {
        about: "SpamAssassin, the filter many receivers run, scored the message; its threshold for spam is usually 5.",
            "多くの受信側が使う迷惑メールフィルター SpamAssassin による評価です。通常、5 点以上で迷惑メールと判定されます。";
        not_configured: "Not configured: this mailscore does not run SpamAssassin (spamd).",
            "未設定：この mailscore では SpamAssassin（spamd）を使用していません。";
        score_of: "score", "スコア";
    }
}

impl SpamdFinding {
    /// SpamAssassin's verdict, one record per rule it hit. A ham verdict
    /// is marked by the points our rules took for its score.
    pub fn row(&self, lang: Lang) -> Row {
        let w = SpamassassinWords::of(lang);
        let (tone, word, name, detail) = match self.status {
            SpamdStatus::NotConfigured => (
                Some(Tone::Info),
                "not configured",
                "SpamAssassin".to_string(),
                w.not_configured.to_string(),
            ),
            SpamdStatus::NotChecked => (
                Some(Tone::Warn),
                "not checked",
                "SpamAssassin".to_string(),
                self.error.clone().unwrap_or_default(),
            ),
            SpamdStatus::Checked => {
                let spam = self.spam == Some(true);
                (
                    spam.then_some(Tone::Bad),
                    if spam { "spam" } else { "ham" },
                    format!(
                        "SpamAssassin ({} {:.1} / {:.1})",
                        w.score_of,
                        self.score.unwrap_or_default(),
                        self.threshold.unwrap_or_default()
                    ),
                    self.server.clone().unwrap_or_default(),
                )
            }
        };
        Row {
            check: CheckId::Spamassassin,
            tone,
            name,
            word: Some(word),
            setup: "",
            about: w.about,
            detail,
            records: self
                .rules
                .iter()
                .map(|r| format!("{:>6.1} {:<24} {}", r.points, r.name, r.description))
                .collect(),
        }
    }
}

impl SpamdFinding {
    /// The `mailscore check` lines, when spamd was asked: its verdict and
    /// each rule it hit.
    pub fn text(&self) -> String {
        match self.status {
            SpamdStatus::NotConfigured => String::new(),
            SpamdStatus::NotChecked => format!(
                "{:<9} {:<10} {}\n",
                "spamassn",
                "unchecked",
                self.error.as_deref().unwrap_or("no answer")
            ),
            SpamdStatus::Checked => {
                let mut out = format!(
                    "{:<9} {:<10} score {} / threshold {}\n",
                    "spamassn",
                    if self.spam == Some(true) {
                        "spam"
                    } else {
                        "ham"
                    },
                    self.score.map_or("-".to_string(), |s| format!("{s:.1}")),
                    self.threshold
                        .map_or("-".to_string(), |t| format!("{t:.1}")),
                );
                for rule in &self.rules {
                    out += &format!(
                        "          {:>5.1} {:<24} {}\n",
                        rule.points, rule.name, rule.description
                    );
                }
                out
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ANSWER: &str = "SPAMD/1.1 0 EX_OK\r\nContent-length: 600\r\nSpam: True ; 1002.5 / 5.0\r\n\r\n\
Spam detection software, running on the system \"host\", has\n\
identified this incoming email as possible spam.\n\n\
Content analysis details:   (1002.5 points, 5.0 required)\n\n \
pts rule name              description\n\
---- ---------------------- --------------------------------------------------\n\
1000 GTUBE                  BODY: Generic Test for Unsolicited Bulk Email\n \
1.2 MISSING_HEADERS        Missing To: header\n\
-0.0 NO_RELAYS              Informational: message was not relayed via SMTP\n \
0.8 BAYES_50               BODY: Bayes spam probability is 40 to 60%\n                            \
[score: 0.5000]\n\n";

    #[test]
    fn reads_the_verdict_and_every_rule() {
        let f = parse_response(ANSWER.as_bytes()).unwrap();
        assert_eq!(f.status, SpamdStatus::Checked);
        assert_eq!(
            (f.spam, f.score, f.threshold),
            (Some(true), Some(1002.5), Some(5.0))
        );
        let names: Vec<&str> = f.rules.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["GTUBE", "MISSING_HEADERS", "NO_RELAYS", "BAYES_50"]);
        assert_eq!(f.rules[1].points, 1.2);
        assert_eq!(f.rules[1].description, "Missing To: header");
        assert_eq!(
            f.rules[3].description,
            "BODY: Bayes spam probability is 40 to 60% [score: 0.5000]"
        );
    }

    #[test]
    fn errors_are_not_checked() {
        let err = parse_response(b"SPAMD/1.0 76 Bad header line: x\r\n\r\n").unwrap_err();
        assert!(err.to_string().contains("76"), "{err}");
        assert_eq!(
            parse_response(b"SPAMD/1.1 0 EX_OK\r\nSpam: maybe\r\n\r\n").unwrap_err(),
            SpamdError::NoVerdict
        );
        assert!(parse_response(b"").is_err());
    }
}
