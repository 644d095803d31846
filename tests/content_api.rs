//! The content and SpamAssassin words in the OpenAPI document are exactly
//! the ones the code emits (and the rule table may test): the schemas are
//! generated from the same enums whose `WORDS` the rule table checks
//! against, and this holds the two together.

use mailscore::checks::content::Profile;
use mailscore::checks::content::body::{Charset, Size, Structure, TextRatio};
use mailscore::checks::content::bulk::{Precedence, Unsubscribe};
use mailscore::checks::content::encoding::HeaderEncoding;
use mailscore::checks::content::headers::{
    DateState, DisplayName, FromState, MessageIdState, ReplyTo, ReturnPath, SubjectState,
};
use mailscore::checks::content::lookalike::Lookalike;
use mailscore::checks::rspamd::RspamdStatus;
use mailscore::checks::spamd::SpamdStatus;
use serde_json::Value;

#[test]
fn document_enums_match_the_finding_words() {
    let doc = mailscore::web::openapi::document();
    let schemas = &doc["components"]["schemas"];
    // A word enum is a schema of its own that the property refers to.
    let resolved = |property: &Value| -> Value {
        match property["$ref"].as_str() {
            Some(pointer) => doc
                .pointer(pointer.trim_start_matches('#'))
                .unwrap()
                .clone(),
            None => property.clone(),
        }
    };
    let cases: &[(&str, &str, &[&str])] = &[
        ("ContentFinding", "profile", Profile::WORDS),
        ("HeaderFinding", "date", DateState::WORDS),
        ("HeaderFinding", "message_id", MessageIdState::WORDS),
        ("HeaderFinding", "from", FromState::WORDS),
        ("HeaderFinding", "subject", SubjectState::WORDS),
        ("HeaderFinding", "reply_to", ReplyTo::WORDS),
        ("HeaderFinding", "return_path", ReturnPath::WORDS),
        ("HeaderFinding", "display_name", DisplayName::WORDS),
        ("HeaderFinding", "lookalike", Lookalike::WORDS),
        ("HeaderFinding", "encoding", HeaderEncoding::WORDS),
        ("BulkFinding", "list_unsubscribe", Unsubscribe::WORDS),
        ("BulkFinding", "precedence", Precedence::WORDS),
        ("BodyFinding", "structure", Structure::WORDS),
        ("BodyFinding", "text_ratio", TextRatio::WORDS),
        ("BodyFinding", "charset", Charset::WORDS),
        ("BodyFinding", "size", Size::WORDS),
        ("SpamdFinding", "status", SpamdStatus::WORDS),
        ("RspamdFinding", "status", RspamdStatus::WORDS),
    ];
    for (schema, property, words) in cases {
        let listed: Vec<String> = resolved(&schemas[schema]["properties"][property])["enum"]
            .as_array()
            .unwrap_or_else(|| panic!("{schema}.{property} has no enum"))
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        assert_eq!(listed, *words, "{schema}.{property}");
    }
}

#[test]
fn words_serialise_as_the_report_shows_them() {
    for (value, word) in [
        (serde_json::to_value(DateState::Future).unwrap(), "future"),
        (
            serde_json::to_value(Lookalike::MixedScript).unwrap(),
            "mixed_script",
        ),
        (
            serde_json::to_value(SpamdStatus::NotChecked).unwrap(),
            "not_checked",
        ),
        (
            serde_json::to_value(RspamdStatus::NotChecked).unwrap(),
            "not_checked",
        ),
        (serde_json::to_value(Profile::Fisc).unwrap(), "fisc"),
    ] {
        assert_eq!(value, word);
    }
}
