//! "Will Gmail take my newsletter?": each provider's requirements
//! ([`super::providers`]) applied to one message's facts, one verdict per
//! provider and audience.

use super::providers::{Audience, Condition, Level, Provider, Providers, Requirement, Subject};
use crate::checks::facts::Facts;
use serde::{Deserialize, Serialize};

crate::checks::facts::words! {
    /// A provider's verdict on the message.
    Ready {
        /// A required fact could not be checked (DNS did not answer…) and
        /// nothing required failed.
        NotChecked => "not_checked",
        Ready => "ready",
        NotReady => "not_ready",
    }
}

/// Fact values that mean "could not be checked", not "failed".
const UNKNOWN: &[&str] = &["temperror", "unknown", "not_checked"];

/// One provider's verdict for one audience. Stored in every report, so it
/// names requirements by id; their texts stay in the provider's table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct Readiness {
    /// The provider's id: `gmail`, `microsoft`, `yahoo` (the file names in
    /// `scoring-rules/providers/`).
    pub provider: String,
    /// `all` senders, or `bulk` senders (more than 5,000 a day), who must
    /// meet the requirements for all senders too.
    pub audience: Audience,
    /// `ready` when every required requirement is met.
    pub verdict: Ready,
    /// The required requirements the message does not meet, by id.
    pub failing: Vec<String>,
    /// Required requirements that could not be checked.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_checked: Vec<String>,
    /// Recommended practices the message does not follow (they do not
    /// decide the verdict).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub advised: Vec<String>,
}

impl Readiness {
    /// `gmail` for all senders, `gmail-bulk` for bulk senders: the names
    /// `mailscore wait --require` takes.
    pub fn key(&self) -> String {
        key(&self.provider, self.audience)
    }
}

pub fn key(provider: &str, audience: Audience) -> String {
    match audience {
        Audience::All => provider.to_string(),
        Audience::Bulk => format!("{provider}-bulk"),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Met,
    NotMet,
    NotChecked,
}

/// Every provider's verdicts, in table order, for a message whose From
/// domain (an A-label; empty without one) is `from_domain`.
pub fn readiness(providers: &Providers, facts: &Facts, from_domain: &str) -> Vec<Readiness> {
    let mut verdicts = Vec::new();
    for provider in &providers.0 {
        let own = is_own(provider, from_domain);
        let states: Vec<(&Requirement, State)> = provider
            .requirements
            .iter()
            .map(|r| (r, state(r, facts, own)))
            .collect();
        for audience in provider.audiences() {
            verdicts.push(verdict(provider, audience, &states));
        }
    }
    verdicts
}

fn verdict(provider: &Provider, audience: Audience, states: &[(&Requirement, State)]) -> Readiness {
    let applies = |r: &Requirement| r.audience == Audience::All || r.audience == audience;
    let ids = |level: Level, wanted: State| -> Vec<String> {
        states
            .iter()
            .filter(|(r, s)| applies(r) && r.level == level && *s == wanted)
            .map(|(r, _)| r.id.clone())
            .collect()
    };
    let failing = ids(Level::Required, State::NotMet);
    let not_checked = ids(Level::Required, State::NotChecked);
    let verdict = if !failing.is_empty() {
        Ready::NotReady
    } else if !not_checked.is_empty() {
        Ready::NotChecked
    } else {
        Ready::Ready
    };
    Readiness {
        provider: provider.id.clone(),
        audience,
        verdict,
        failing,
        not_checked,
        advised: ids(Level::Recommended, State::NotMet),
    }
}

/// Met when a condition holds; else not checked when one could have held
/// but for a fact that could not be checked.
fn state(requirement: &Requirement, facts: &Facts, own: bool) -> State {
    fn value<'a>(facts: &'a Facts, own: bool, subject: &'a Subject) -> Option<&'a str> {
        match subject {
            Subject::Fact(check, field) => facts.get(*check, field),
            Subject::FromDomain => Some(if own { "own" } else { "other" }),
        }
    }
    let holds = |c: &Condition| {
        c.0.iter()
            .all(|(s, values)| value(facts, own, s).is_some_and(|v| values.iter().any(|w| w == v)))
    };
    let unknown = |c: &Condition| {
        c.0.iter()
            .any(|(s, _)| value(facts, own, s).is_none_or(|v| UNKNOWN.contains(&v)))
    };
    if requirement.met_when.iter().any(holds) {
        State::Met
    } else if requirement.met_when.iter().any(unknown) {
        State::NotChecked
    } else {
        State::NotMet
    }
}

/// The From domain is one of the provider's or under one.
fn is_own(provider: &Provider, from_domain: &str) -> bool {
    let domain = from_domain.trim_end_matches('.').to_ascii_lowercase();
    provider.domains.iter().any(|own| {
        domain == *own
            || domain
                .strip_suffix(own.as_str())
                .is_some_and(|rest| rest.ends_with('.'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::CheckId;

    fn facts(pairs: &[(CheckId, &'static str, &'static str)]) -> Facts {
        let mut facts = Facts::default();
        for (check, field, value) in pairs {
            facts.put(*check, field, *value);
        }
        facts
    }

    /// The facts of a message that meets every requirement of every table.
    fn good() -> Vec<(CheckId, &'static str, &'static str)> {
        vec![
            (CheckId::Spf, "result", "pass"),
            (CheckId::Dkim, "result", "pass"),
            (CheckId::Iprev, "result", "pass"),
            (CheckId::Tls, "result", "encrypted"),
            (CheckId::Headers, "from", "ok"),
            (CheckId::Headers, "date", "ok"),
            (CheckId::Headers, "message_id", "ok"),
            (CheckId::Dmarc, "result", "pass"),
            (CheckId::Dmarc, "policy", "none"),
            (CheckId::Dmarc, "spf_aligned", "true"),
            (CheckId::Dmarc, "dkim_aligned", "true"),
            (CheckId::Bulk, "list_unsubscribe", "https"),
            (CheckId::Bulk, "one_click_signed", "true"),
        ]
    }

    fn with(change: (CheckId, &'static str, &'static str)) -> Facts {
        let mut pairs = good();
        pairs.retain(|(c, f, _)| (*c, *f) != (change.0, change.1));
        pairs.push(change);
        facts(&pairs)
    }

    fn verdicts(facts: &Facts, from: &str) -> Vec<(String, Ready, Vec<String>)> {
        readiness(&Providers::embedded().unwrap(), facts, from)
            .into_iter()
            .map(|r| (r.key(), r.verdict, r.failing))
            .collect()
    }

    #[test]
    fn a_good_message_is_ready_everywhere() {
        let all = verdicts(&facts(&good()), "news.example");
        let keys: Vec<&str> = all.iter().map(|(k, _, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "gmail",
                "gmail-bulk",
                "microsoft-bulk",
                "yahoo",
                "yahoo-bulk"
            ]
        );
        assert!(all.iter().all(|(_, v, _)| *v == Ready::Ready), "{all:?}");
    }

    #[test]
    fn bulk_needs_both_spf_and_dkim_all_senders_either() {
        let all = verdicts(&with((CheckId::Spf, "result", "softfail")), "news.example");
        assert_eq!(all[0], ("gmail".into(), Ready::Ready, vec![]));
        assert_eq!(
            all[1],
            (
                "gmail-bulk".into(),
                Ready::NotReady,
                vec!["SPF_AND_DKIM".into()]
            )
        );
        assert_eq!(all[2].2, ["SPF_PASS"]);
    }

    #[test]
    fn a_dns_timeout_is_not_checked_not_a_failure() {
        let mut pairs = good();
        pairs.retain(|(c, _, _)| *c != CheckId::Iprev);
        pairs.push((CheckId::Iprev, "result", "temperror"));
        let gmail = &readiness(&Providers::embedded().unwrap(), &facts(&pairs), "a.example")[0];
        assert_eq!(gmail.verdict, Ready::NotChecked);
        assert_eq!(gmail.not_checked, ["REVERSE_DNS"]);
        assert!(gmail.failing.is_empty());
    }

    #[test]
    fn a_providers_own_domain_from_elsewhere_fails_unless_dmarc_passes() {
        let spoof = with((CheckId::Dmarc, "result", "fail"));
        let all = verdicts(&spoof, "gmail.com");
        assert_eq!(all[0].2, ["NO_PROVIDER_FROM"]);
        assert_eq!(all[3].1, Ready::Ready, "yahoo does not mind gmail.com");
        assert_eq!(
            verdicts(&spoof, "mail.yahoo.com")[3].2,
            ["NO_PROVIDER_FROM"]
        );
        assert_eq!(verdicts(&spoof, "notyahoo.com")[3].1, Ready::Ready);
        assert_eq!(verdicts(&facts(&good()), "gmail.com")[0].1, Ready::Ready);
    }

    #[test]
    fn a_recommended_practice_advises_without_deciding() {
        let r = readiness(
            &Providers::embedded().unwrap(),
            &with((CheckId::Bulk, "list_unsubscribe", "absent")),
            "a.example",
        );
        let microsoft = r.iter().find(|r| r.provider == "microsoft").unwrap();
        assert_eq!(microsoft.verdict, Ready::Ready);
        assert_eq!(microsoft.advised, ["UNSUBSCRIBE_LINK"]);
        assert_eq!(r[1].failing, ["ONE_CLICK_UNSUBSCRIBE"]);
    }
}
