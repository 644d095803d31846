//! The report: one serialisable document per test address. The JSON API
//! returns it as is and the HTML page is rendered from it, so the two views
//! can never disagree.

use crate::checks::message::MessageFacts;
use crate::checks::{Analysis, Findings};
use crate::score::jipdec::{self, SetupGrid};
use crate::score::mschecker::{self, Grade};
use crate::score::readiness::Readiness;
use crate::score::{Deduction, Score};
use crate::smtp::Envelope;
use crate::stage::StageFailure;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

pub mod collect;
mod compressed;
pub mod diff;
mod failed;
pub mod stored;

/// The report of one test address: what `GET /api/tests/{id}` returns once a
/// message was analysed. The HTML page is rendered from the same document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct Report {
    /// The test id.
    #[cfg_attr(feature = "openapi", schemars(regex(pattern = crate::test_id::PATTERN)))]
    pub id: String,
    /// The address the message was sent to.
    pub address: String,
    /// "done" once analysis finished; "error" when it finished without
    /// some checks (`checks.failed` names them; they read "could not
    /// check" and deducted nothing), or when the analysis itself failed
    /// (`failed_stage` says where).
    #[cfg_attr(feature = "openapi", schemars(extend("enum" = ["done", "error"])))]
    pub status: String,
    /// The stage the analysis failed in (a bug in mailscore): then no check
    /// has a finding of its own, nothing was scored and `score` is 0.
    /// Absent when the analysis ran to its end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_stage: Option<StageFailure>,
    /// `max_score` minus the deductions' points, clamped to [0, max_score],
    /// one decimal (0 when the analysis failed).
    #[cfg_attr(feature = "openapi", schemars(range(min = 0)))]
    pub score: f64,
    /// The most a message can score: 10.
    pub max_score: f64,
    /// When the message was received: RFC 3339, UTC.
    #[cfg_attr(feature = "openapi", schemars(extend("format" = "date-time")))]
    pub received_at: String,
    pub envelope: EnvelopeView,
    pub message: MessageFacts,
    /// What each check found, as the checks wrote it.
    pub checks: Findings,
    /// MSchecker's four-level grade of the sender (safe, review, improve,
    /// danger), beside the 10 points. Reports stored before it read as
    /// `not_checked`.
    #[serde(default)]
    pub grade: Grade,
    /// S/MIME, SPF, DKIM, DMARC as the Japanese surveys count them.
    #[serde(default)]
    pub setup: SetupGrid,
    /// Ready or not for each big mailbox provider's published sender
    /// requirements (`scoring-rules/providers/`), for all senders and for
    /// bulk senders. Reports stored before it have none.
    #[serde(default)]
    pub readiness: Vec<Readiness>,
    /// The message's top-level header fields, for the page's raw view.
    pub headers: Vec<(String, String)>,
    /// Every rule that matched, zero-point ones included (they inform).
    // Last: the stored form ([`stored`]) splices them back in at the end.
    pub deductions: Vec<Deduction>,
}

/// The SMTP envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "openapi", schemars(rename = "Envelope"))]
pub struct EnvelopeView {
    /// The connecting client's IP address.
    pub client_ip: IpAddr,
    /// Its TCP source port (0 for a message that did not come over the
    /// network).
    pub client_port: u16,
    /// The EHLO/HELO name as given.
    pub helo: String,
    /// The MAIL FROM address; empty for the null sender.
    pub mail_from: String,
    /// The RCPT TO addresses.
    pub rcpt_to: Vec<String>,
}

impl EnvelopeView {
    /// The envelope as a report shows it (no TLS details: they are the
    /// TLS check's).
    pub fn of(envelope: &Envelope) -> EnvelopeView {
        EnvelopeView {
            client_ip: envelope.client_ip,
            client_port: envelope.client_port,
            helo: envelope.helo.clone(),
            mail_from: envelope.mail_from.clone(),
            rcpt_to: envelope.rcpt_to.clone(),
        }
    }
}

/// Who the report is for: the test id and the address it was sent to.
#[derive(Clone, Copy)]
pub struct Subject<'a> {
    pub id: &'a str,
    pub address: &'a str,
}

impl Report {
    pub fn new(
        subject: Subject<'_>,
        envelope: &Envelope,
        analysis: Analysis,
        score: Score,
        readiness: Vec<Readiness>,
    ) -> Self {
        Report {
            id: subject.id.to_string(),
            address: subject.address.to_string(),
            status: match analysis.findings.failed.is_empty() {
                true => "done".into(),
                false => "error".into(),
            },
            failed_stage: None,
            score: score.score,
            max_score: score.max_score,
            received_at: rfc3339(envelope.received_at),
            envelope: EnvelopeView::of(envelope),
            message: analysis.message,
            grade: mschecker::grade(&analysis.findings),
            setup: jipdec::grid(&analysis.findings),
            readiness,
            checks: analysis.findings,
            headers: analysis.headers,
            deductions: score.deductions,
        }
    }

    /// The band the score falls in, as on mail-tester: 0–3, 3–5, 5–7, 7–9, 9–10.
    pub fn band(&self) -> Band {
        Band::of(self.score)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Band {
    Bad,
    Poor,
    Fair,
    Good,
    Excellent,
}

impl Band {
    pub fn of(score: f64) -> Band {
        match score {
            s if s >= 9.0 => Band::Excellent,
            s if s >= 7.0 => Band::Good,
            s if s >= 5.0 => Band::Fair,
            s if s >= 3.0 => Band::Poor,
            _ => Band::Bad,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Band::Bad => "bad",
            Band::Poor => "poor",
            Band::Fair => "fair",
            Band::Good => "good",
            Band::Excellent => "excellent",
        }
    }
}

fn rfc3339(unix_seconds: u64) -> String {
    mail_parser::DateTime::from_timestamp(unix_seconds as i64).to_rfc3339()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bands_follow_mail_tester() {
        assert_eq!(Band::of(10.0), Band::Excellent);
        assert_eq!(Band::of(9.0), Band::Excellent);
        assert_eq!(Band::of(8.9), Band::Good);
        assert_eq!(Band::of(5.0), Band::Fair);
        assert_eq!(Band::of(3.0), Band::Poor);
        assert_eq!(Band::of(2.9), Band::Bad);
    }

    #[test]
    fn timestamps_are_rfc3339_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
    }
}
