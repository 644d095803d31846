//! One row of a survey: a sending address, as the JIPDEC study counted
//! them. Confirmation mails, welcome mails and issues from the same From
//! address are one row with a message count; the row shows the latest
//! message's states and says whether they changed. A row is small and
//! holds no report, so a survey's tables are computed from rows alone.

use crate::checks::mail_server::host::StartTls;
use crate::checks::{Setup, Verdict};
use crate::report::Report;
use crate::score::mschecker::{self, Item};
use serde::{Deserialize, Serialize};

/// A mechanism's state, in the survey's words: 設定あり, 設定なし, 設定誤り,
/// or not checked (DNS did not answer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum State {
    Set,
    NotSet,
    Misconfigured,
    NotChecked,
}

impl State {
    pub const ALL: [State; 4] = [
        State::Set,
        State::NotSet,
        State::Misconfigured,
        State::NotChecked,
    ];

    pub fn of(setup: Setup) -> State {
        match setup {
            Setup::Configured => State::Set,
            Setup::Missing => State::NotSet,
            Setup::Misconfigured => State::Misconfigured,
            Setup::Unknown => State::NotChecked,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            State::Set => "set",
            State::NotSet => "not_set",
            State::Misconfigured => "misconfigured",
            State::NotChecked => "not_checked",
        }
    }
}

/// The four mechanisms the study counted, in its order.
pub const MECHANISMS: [&str; 4] = ["smime", "spf", "dkim", "dmarc"];

/// A sending address and what its latest message showed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct SenderRow {
    /// The From address, lower-cased.
    pub from: String,
    /// The survey label the mail came to (online), or empty.
    #[serde(default)]
    pub label: String,
    pub messages: usize,
    /// RFC 3339, of the first and the latest message.
    pub first_seen: String,
    pub last_seen: String,
    pub smime: State,
    pub spf: State,
    pub dkim: State,
    pub dmarc: State,
    pub score: f64,
    /// MSchecker's level (`safe`, `review`, `improve`, `danger`,
    /// `not_checked`).
    pub grade: String,
    /// Whether a later message's states differ from an earlier one's.
    #[serde(default)]
    pub changed: bool,
    /// MSchecker's items, None when not checked: TLS on the hop to the
    /// receiver, STARTTLS at the From domain's MX (probed), SPF and DKIM passing,
    /// forward-confirmed reverse DNS, DNSSEC, a blocklist listing.
    pub tls_receive: Option<bool>,
    pub tls_send: Option<bool>,
    pub spf_ok: Option<bool>,
    pub dkim_ok: Option<bool>,
    pub rdns: Option<bool>,
    pub dnssec: Option<bool>,
    pub listed: Option<bool>,
}

impl SenderRow {
    /// The row of one message's report. `ip_known`: whether the
    /// connecting IP was known (an archive without `--received-by` does
    /// not say it): if not, what depends on it is not checked, never
    /// guessed.
    pub fn of(report: &Report, ip_known: bool) -> SenderRow {
        let f = &report.checks;
        let holds = |item| mschecker::holds(item, f);
        let known = |value: Option<bool>| value.filter(|_| ip_known);
        let dkim_ok = f.dkim.iter().any(|d| d.result == Verdict::Pass);
        let spf_ok = match f.spf.result {
            Verdict::Temperror => None,
            result => Some(result == Verdict::Pass),
        };
        SenderRow {
            from: from_address(report),
            label: String::new(),
            messages: 1,
            first_seen: report.received_at.clone(),
            last_seen: report.received_at.clone(),
            smime: State::of(report.setup.smime),
            spf: State::of(report.setup.spf),
            dkim: State::of(report.setup.dkim),
            dmarc: State::of(report.setup.dmarc),
            score: report.score,
            grade: if ip_known {
                report.grade.level.as_str().to_string()
            } else {
                "not_checked".to_string()
            },
            changed: false,
            tls_receive: known(holds(Item::NoTlsToUs).map(|no| !no)),
            // Not MSchecker's item (which counts a domain without mail
            // servers as fine): a domain whose MX was not reached says
            // nothing about sending with TLS.
            tls_send: match f.mail_server.starttls() {
                StartTls::Offered => Some(true),
                StartTls::NotOffered => Some(false),
                StartTls::Unknown => None,
            },
            spf_ok: known(spf_ok),
            dkim_ok: Some(dkim_ok),
            rdns: known(holds(Item::ReverseDnsFails).map(|fails| !fails)),
            dnssec: holds(Item::DnssecNotOk).map(|not_ok| !not_ok),
            listed: known(holds(Item::Blocklisted)),
        }
    }

    pub fn state(&self, mechanism: &str) -> State {
        match mechanism {
            "smime" => self.smime,
            "spf" => self.spf,
            "dkim" => self.dkim,
            _ => self.dmarc,
        }
    }

    /// Folds a later message from the same address into this row: its
    /// states become the row's, the count grows.
    pub fn merge(&mut self, later: SenderRow) {
        let states = |r: &SenderRow| MECHANISMS.map(|m| r.state(m));
        let changed = self.changed || states(self) != states(&later);
        let (messages, first_seen) = (self.messages + later.messages, self.first_seen.clone());
        *self = later;
        self.messages = messages;
        self.first_seen = first_seen;
        self.changed = changed;
    }

    /// The domain of the From address.
    pub fn domain(&self) -> &str {
        self.from.rsplit_once('@').map_or("", |(_, d)| d)
    }
}

/// Rows per From address, each later message folded into the first.
pub fn fold(rows: impl Iterator<Item = SenderRow>) -> Vec<SenderRow> {
    let mut senders: Vec<SenderRow> = Vec::new();
    let mut at: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for row in rows {
        match at.get(&row.from) {
            Some(&i) => senders[i].merge(row),
            None => {
                at.insert(row.from.clone(), senders.len());
                senders.push(row);
            }
        }
    }
    senders
}

/// The From address as the study counted senders: lower-cased.
fn from_address(report: &Report) -> String {
    let from = report.message.from_address.as_deref().unwrap_or_default();
    from.trim().to_lowercase()
}
