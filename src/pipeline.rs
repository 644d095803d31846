//! One message through analyze → score → report. `serve` runs this after
//! each delivery; `check` runs it on a file. Same code path, same report.

use crate::analyze;
use crate::report::{Report, Subject};
use crate::score::{self, RuleTable};
use crate::smtp::Envelope;
use mail_auth::MessageAuthenticator;

/// What the pipeline needs besides the message: DNS, the rule table, and the
/// name we receive mail as (SPF's `%{r}` macro).
pub struct Pipeline {
    pub dns: MessageAuthenticator,
    pub rules: RuleTable,
    pub hostname: String,
}

impl Pipeline {
    pub async fn report(&self, subject: Subject<'_>, envelope: &Envelope, raw: &[u8]) -> Report {
        let findings = analyze::analyze(&self.dns, envelope, raw, &self.hostname).await;
        let score = score::score(&self.rules, &findings);
        Report::new(subject, envelope, findings, score)
    }
}
