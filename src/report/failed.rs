//! The report of a message whose analysis failed (a stage panicked, see
//! [`crate::analysis::stage`]): `"status": "error"`, the stage named, every
//! check "could not check", nothing scored. It is made from the envelope
//! and fixed words only, never from what the failing stage worked on: the
//! same bug would meet that again, and this report must always be made.

use super::{EnvelopeView, Report, Subject, rfc3339};
use crate::checks::message::MessageFacts;
use crate::checks::unchecked;
use crate::score::MAX_SCORE;
use crate::smtp::Envelope;
use crate::stage::StageFailure;

impl Report {
    pub fn failed(subject: Subject<'_>, envelope: &Envelope, failure: StageFailure) -> Report {
        Report {
            id: subject.id.to_string(),
            address: subject.address.to_string(),
            status: "error".into(),
            failed_stage: Some(failure),
            // Not 10 with nothing deducted: an analysis that never ran
            // vouches for nothing (`mailscore wait` fails it either way).
            score: 0.0,
            max_score: MAX_SCORE,
            received_at: rfc3339(envelope.received_at),
            envelope: EnvelopeView::of(envelope),
            message: MessageFacts::default(),
            checks: unchecked::findings(envelope),
            grade: Default::default(),
            setup: Default::default(),
            readiness: Vec::new(),
            headers: Vec::new(),
            deductions: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::stored;
    use crate::stage::Stage;

    #[test]
    fn a_failed_analysis_reports_the_stage_and_stores_like_any_report() {
        let envelope: Envelope = serde_json::from_value(serde_json::json!({
            "client_ip": "192.0.2.25", "client_port": 25, "helo": "mail.example.com",
            "mail_from": "a@example.com", "rcpt_to": ["t@localhost"], "tls": null,
            "received_at": 0,
        }))
        .unwrap();
        let subject = Subject {
            id: "t1",
            address: "t1@localhost",
        };
        let report = Report::failed(subject, &envelope, StageFailure::of(Stage::Score));
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["status"], "error");
        assert_eq!(json["failed_stage"]["stage"], "score");
        assert_eq!(json["score"], 0.0);
        assert_eq!(json["checks"]["spf"]["result"], "temperror");
        assert!(
            json["checks"]["spf"]["error"]
                .as_str()
                .unwrap()
                .starts_with("could not check"),
            "{json:#}"
        );
        assert!(json["checks"].get("failed").is_none());
        let stored = stored::encode(report.clone()).unwrap();
        assert!(!stored.bytes.is_empty());
    }
}
