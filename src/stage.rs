//! The stages of one message's analysis outside the checks' own guards:
//! what a failed analysis names in its report ([`crate::report`]) and
//! what the metrics count by. The stages themselves run in
//! [`crate::analysis::stage`]; this is only their names, a leaf every
//! layer may use.

use serde::{Deserialize, Serialize};

/// A stage of one message's analysis outside the checks' own guards, in
/// the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Parsing the message and assembling what the checks found.
    Checks,
    /// Applying the rule table and the providers' requirements.
    Score,
    /// Building the report from the findings and the score.
    Report,
    /// Counting the message in its survey.
    Survey,
    /// Queueing the report for its webhooks.
    Webhook,
    /// Encoding the report for the store.
    Store,
}

impl Stage {
    pub const ALL: [Stage; 6] = [
        Stage::Checks,
        Stage::Score,
        Stage::Report,
        Stage::Survey,
        Stage::Webhook,
        Stage::Store,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Checks => "checks",
            Stage::Score => "score",
            Stage::Report => "report",
            Stage::Survey => "survey",
            Stage::Webhook => "webhook",
            Stage::Store => "store",
        }
    }

    /// What the report says the failed stage left undone.
    pub fn could_not(self) -> &'static str {
        match self {
            Stage::Checks => "could not check the message",
            Stage::Score => "could not score the message",
            Stage::Report => "could not build the report",
            Stage::Survey => "could not count the message in its survey",
            Stage::Webhook => "could not queue the report for its webhook",
            Stage::Store => "could not store the report",
        }
    }

    /// Where the stage is in [`Stage::ALL`] (the metrics' counters).
    pub fn index(self) -> usize {
        self as usize
    }
}

/// The stage an analysis failed in, in the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct StageFailure {
    pub stage: Stage,
    /// What was left undone, in English: "could not score the message
    /// (a bug in mailscore, logged)".
    pub error: String,
}

impl StageFailure {
    pub fn of(stage: Stage) -> StageFailure {
        StageFailure {
            stage,
            error: format!("{} (a bug in mailscore, logged)", stage.could_not()),
        }
    }
}
