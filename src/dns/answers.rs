//! DNS answers already had, kept until their TTL runs out.
//!
//! hickory caches too, but a hit there parses the name, clones the whole
//! response and lowers each record's TTL by the time it has been kept. A
//! message makes a dozen lookups (SPF, DMARC, blocklists, posture), most
//! of them the same as the last message's: under a 20-session flood
//! hickory was 8.4 % of mailscore's CPU. Here a hit is a map lookup and
//! an `Arc` clone.
//!
//! Kept: answers with records, until hickory's `valid_until` (the lowest
//! TTL), and NXDOMAIN or NODATA until their negative TTL (the SOA's, RFC
//! 2308), as hickory would. Not kept: timeouts, SERVFAIL and every other
//! failure, so the next message asks again.

use super::ttl_map::TtlMap;
use mail_auth::hickory_resolver::lookup::Lookup;
use mail_auth::hickory_resolver::net::{DnsError, NetError, NoRecords};
use mail_auth::hickory_resolver::proto::rr::{Name, RecordType};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// hickory's result for one question, shared by every message asking it.
pub type Reply = Arc<Result<Lookup, NetError>>;

#[derive(Default)]
pub struct Answers {
    kept: TtlMap<Question, Reply>,
}

/// What was asked: a name as text (hashed as is, so a hit costs no name
/// parsing) or as a parsed [`Name`], which compares case-insensitively, as
/// DNS does, but not on whether it is fully qualified, which decides the
/// search list; hence the flag.
#[derive(PartialEq, Eq, Hash)]
pub enum Question {
    Text(RecordType, Box<str>),
    Name(RecordType, bool, Name),
}

impl Question {
    pub fn text(name: &str, rtype: RecordType) -> Self {
        Question::Text(rtype, Box::from(name))
    }

    pub fn name(name: &Name, rtype: RecordType) -> Self {
        Question::Name(rtype, name.is_fqdn(), name.clone())
    }
}

impl Answers {
    /// The reply kept for `question`, if it has not expired.
    pub fn get(&self, question: &Question, now: Instant) -> Option<Reply> {
        self.kept.get(question, now)
    }

    /// Keeps `reply` to `question`, if it is an answer.
    pub fn keep(&self, question: Question, reply: &Reply, now: Instant) {
        if let Some(until) = valid_until(reply, now) {
            self.kept.insert(question, reply.clone(), until, now);
        }
    }

    /// How many replies are kept, expired or not.
    pub fn len(&self) -> usize {
        self.kept.len()
    }

    pub fn is_empty(&self) -> bool {
        self.kept.is_empty()
    }
}

/// Until when `reply` may be used again; `None` for a failure.
pub fn valid_until(reply: &Result<Lookup, NetError>, now: Instant) -> Option<Instant> {
    match reply {
        Ok(lookup) => Some(lookup.valid_until()),
        Err(NetError::Dns(DnsError::NoRecordsFound(NoRecords {
            negative_ttl: Some(ttl),
            ..
        }))) => Some(now + Duration::from_secs(u64::from(*ttl))),
        Err(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mail_auth::hickory_resolver::proto::op::{Query, ResponseCode};

    fn question(name: &str) -> Question {
        Question::text(name, RecordType::A)
    }

    /// NXDOMAIN for `name`, with the negative TTL an SOA would give.
    fn nxdomain(name: &str, negative_ttl: Option<u32>) -> Reply {
        let name = Name::from_ascii(name).unwrap();
        let query = Query::query(name, RecordType::A);
        let mut none = NoRecords::new(query, ResponseCode::NXDomain);
        none.negative_ttl = negative_ttl;
        Arc::new(Err(NetError::from(none)))
    }

    #[test]
    fn a_negative_answer_is_kept_for_its_negative_ttl() {
        let answers = Answers::default();
        let now = Instant::now();
        answers.keep(question("n.test."), &nxdomain("n.test.", Some(5)), now);
        assert!(
            answers
                .get(&question("n.test."), now + Duration::from_secs(4))
                .is_some()
        );
        assert!(
            answers
                .get(&question("n.test."), now + Duration::from_secs(5))
                .is_none()
        );
    }

    #[test]
    fn failures_are_not_kept() {
        let answers = Answers::default();
        let now = Instant::now();
        answers.keep(question("t.test."), &Arc::new(Err(NetError::Timeout)), now);
        // NXDOMAIN without an SOA has no negative TTL: nothing says how long.
        answers.keep(question("b.test."), &nxdomain("b.test.", None), now);
        assert!(answers.is_empty());
    }
}
