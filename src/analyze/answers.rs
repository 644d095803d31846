//! DNS answers already had, kept until their TTL runs out.
//!
//! hickory caches too, but a hit there clones the whole response and
//! lowers each record's TTL by the time it has been kept: about 2.5 µs a
//! lookup. A message makes a dozen (SPF, DMARC, blocklists, posture), most
//! of them the same as the last message's, and under a flood that was 8 %
//! of ingest CPU. Here a hit is a map lookup and a clone of the answer.
//!
//! Kept: answers with records, until hickory's `valid_until` (the lowest
//! TTL), and NXDOMAIN or NODATA until their negative TTL (the SOA's, RFC
//! 2308), as hickory would. Not kept: timeouts, SERVFAIL and every other
//! failure, so the next message asks again.

use mail_auth::hickory_resolver::lookup::Lookup;
use mail_auth::hickory_resolver::net::{DnsError, NetError, NoRecords};
use mail_auth::hickory_resolver::proto::rr::{Name, RecordType};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Names are attacker-chosen (SPF includes, link domains): the map is
/// bounded, and emptied of what has expired, or else wholly, when full.
const MAX_KEPT: usize = 4096;

/// hickory's result for one question, shared by every message asking it.
pub type Reply = Arc<Result<Lookup, NetError>>;

#[derive(Default)]
pub struct Answers {
    kept: Mutex<HashMap<Question, Kept>>,
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

struct Kept {
    reply: Reply,
    until: Instant,
}

impl Answers {
    /// The reply kept for `question`, if it has not expired.
    pub fn get(&self, question: &Question, now: Instant) -> Option<Reply> {
        let kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        let found = kept.get(question)?;
        (now < found.until).then(|| found.reply.clone())
    }

    /// Keeps `reply` to `question`, if it is an answer.
    pub fn keep(&self, question: Question, reply: &Reply, now: Instant) {
        let Some(until) = valid_until(reply, now).filter(|until| *until > now) else {
            return;
        };
        let mut kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        if kept.len() >= MAX_KEPT {
            kept.retain(|_, k| k.until > now);
            if kept.len() >= MAX_KEPT {
                kept.clear();
            }
        }
        let reply = reply.clone();
        kept.insert(question, Kept { reply, until });
    }

    /// How many replies are kept, expired or not.
    pub fn len(&self) -> usize {
        self.kept
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Until when `reply` may be used again; `None` for a failure.
fn valid_until(reply: &Result<Lookup, NetError>, now: Instant) -> Option<Instant> {
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

    fn name(i: usize) -> Name {
        Name::from_ascii(format!("n{i}.test.")).unwrap()
    }

    /// NXDOMAIN for `name`, valid for `ttl` seconds.
    fn nxdomain(name: &Name, ttl: u32) -> Reply {
        let mut none = NoRecords::new(
            Query::query(name.clone(), RecordType::A),
            ResponseCode::NXDomain,
        );
        none.negative_ttl = Some(ttl);
        Arc::new(Err(NetError::from(none)))
    }

    #[test]
    fn the_map_stays_bounded_dropping_the_expired_first() {
        let answers = Answers::default();
        let start = Instant::now();
        // Half valid for a second, half for an hour.
        for i in 0..MAX_KEPT {
            let ttl = if i % 2 == 0 { 1 } else { 3600 };
            answers.keep(
                Question::name(&name(i), RecordType::A),
                &nxdomain(&name(i), ttl),
                start,
            );
        }
        assert_eq!(answers.len(), MAX_KEPT);
        let later = start + Duration::from_secs(2);
        let newest = name(MAX_KEPT);
        answers.keep(
            Question::name(&newest, RecordType::A),
            &nxdomain(&newest, 60),
            later,
        );
        assert_eq!(answers.len(), MAX_KEPT / 2 + 1, "the expired half went");
        assert!(
            answers
                .get(&Question::name(&name(1), RecordType::A), later)
                .is_some()
        );
        assert!(
            answers
                .get(&Question::name(&newest, RecordType::A), later)
                .is_some()
        );

        // Full of live replies: all go, the newest stays.
        for i in MAX_KEPT + 1..2 * MAX_KEPT {
            answers.keep(
                Question::name(&name(i), RecordType::A),
                &nxdomain(&name(i), 3600),
                later,
            );
        }
        assert!(answers.len() <= MAX_KEPT);
        let last = name(2 * MAX_KEPT - 1);
        assert!(
            answers
                .get(&Question::name(&last, RecordType::A), later)
                .is_some()
        );
    }

    #[test]
    fn an_expired_reply_is_not_given_and_a_failure_not_kept() {
        let answers = Answers::default();
        let now = Instant::now();
        let question = || Question::name(&name(0), RecordType::A);
        answers.keep(question(), &nxdomain(&name(0), 5), now);
        assert!(
            answers
                .get(&question(), now + Duration::from_secs(4))
                .is_some()
        );
        assert!(
            answers
                .get(&question(), now + Duration::from_secs(5))
                .is_none()
        );

        let timeout: Reply = Arc::new(Err(NetError::Timeout));
        answers.keep(Question::text("t.test.", RecordType::A), &timeout, now);
        assert!(
            answers
                .get(&Question::text("t.test.", RecordType::A), now)
                .is_none()
        );
        // NXDOMAIN without an SOA has no negative TTL: not kept either.
        let mut bare = NoRecords::new(Query::query(name(1), RecordType::A), ResponseCode::NXDomain);
        bare.negative_ttl = None;
        let other = Question::name(&name(1), RecordType::A);
        answers.keep(other, &Arc::new(Err(NetError::from(bare))), now);
        assert_eq!(answers.len(), 1);
    }
}
