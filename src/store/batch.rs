//! A writer round's writes, handed to the store together. SQLite and sled
//! take them one after another into the batch the round's flush commits.
//! Redis has no such batch: one round trip at a time, each answered after
//! Redis's fsync (`appendfsync always`), held a node to ~570 msg/s where
//! SQLite did ~3,500 (bench/README.md, "Scale-out"). So for Redis the
//! round's writes are in flight together, and Redis fsyncs once for all
//! the commands it read in one turn of its event loop.

use super::{Store, StoreError, redis_store};
use crate::smtp::Envelope;
use futures_util::future::join_all;
use std::collections::HashMap;

/// A message to store as the latest of one id.
pub struct MessageWrite<'a> {
    pub id: &'a str,
    pub envelope: &'a Envelope,
    pub raw: &'a [u8],
}

/// A report to save, after the explanation texts it names.
pub struct ReportWrite<'a> {
    pub id: &'a str,
    pub seq: u64,
    pub json: &'a [u8],
    pub texts: &'a [(u64, Vec<u8>)],
}

impl Store {
    /// [`Store::put_message_unflushed`] for each write; the answers in
    /// the same order.
    pub fn put_messages_unflushed(
        &self,
        writes: &[MessageWrite<'_>],
    ) -> Vec<Result<u64, StoreError>> {
        let Store::Redis(redis) = self else {
            return writes
                .iter()
                .map(|w| self.put_message_unflushed(w.id, w.envelope, w.raw))
                .collect();
        };
        let mut answers: Vec<Option<Result<u64, StoreError>>> =
            writes.iter().map(|_| None).collect();
        for wave in waves(writes) {
            let stored = join_all(wave.iter().map(|&i| {
                let w = &writes[i];
                redis.put_message(w.id, w.envelope, w.raw)
            }));
            for (i, answer) in wave.into_iter().zip(redis_store::wait(stored)) {
                answers[i] = Some(answer);
            }
        }
        answers
            .into_iter()
            .map(|a| a.expect("every write is in one wave"))
            .collect()
    }

    /// [`Store::put_texts`] and [`Store::put_report`] for each write; the
    /// answers (whether each report was saved) in the same order. Reports
    /// to one id need no order: only the one its pending mark names is saved.
    pub fn put_reports(&self, writes: &[ReportWrite<'_>]) -> Vec<Result<bool, StoreError>> {
        let Store::Redis(redis) = self else {
            return writes
                .iter()
                .map(|w| {
                    w.texts
                        .iter()
                        .try_for_each(|(hash, texts)| self.put_texts(*hash, texts))
                        .and_then(|()| self.put_report(w.id, w.seq, w.json))
                })
                .collect();
        };
        redis_store::wait(join_all(writes.iter().map(|w| async move {
            for (hash, texts) in w.texts {
                redis.put_texts(*hash, texts).await?;
            }
            redis.put_report(w.id, w.seq, w.json).await
        })))
    }
}

/// The indices of `writes` in waves in which no id comes twice: two
/// messages to one id go in turn, so that the later one is the latest
/// (Redis's write script does not compare sequence numbers).
fn waves(writes: &[MessageWrite<'_>]) -> Vec<Vec<usize>> {
    let mut waves: Vec<Vec<usize>> = Vec::new();
    let mut next_wave: HashMap<&str, usize> = HashMap::new();
    for (i, write) in writes.iter().enumerate() {
        let wave = next_wave.entry(write.id).or_insert(0);
        if waves.len() == *wave {
            waves.push(Vec::new());
        }
        waves[*wave].push(i);
        *wave += 1;
    }
    waves
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_envelope;

    #[test]
    fn a_repeated_id_waits_for_the_next_wave() {
        let envelope = test_envelope();
        let write = |id| MessageWrite {
            id,
            envelope: &envelope,
            raw: b"m",
        };
        let writes = [write("a"), write("b"), write("a"), write("c"), write("a")];
        assert_eq!(waves(&writes), vec![vec![0, 1, 3], vec![2], vec![4]]);
    }
}
