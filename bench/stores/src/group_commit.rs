//! The same group commit for every engine, shaped like mailscore's writer
//! (src/store/writer.rs): sessions send their message to one writer thread
//! and wait; the writer takes everything queued (at most 256 messages),
//! commits it durably in one go, and acks every message in it. A session
//! then queues its report, which rides along with the next commit.

use crate::data;
use crate::store::{Put, Store, Table};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const MAX_BATCH: usize = 256;

struct Work {
    put: Put,
    ack: Option<mpsc::Sender<Duration>>,
}

pub struct Outcome {
    pub store: Box<dyn Store>,
    /// From the first send to the last message's ack.
    pub elapsed: Duration,
    pub commits: u64,
    /// Per message: send to ack.
    pub latencies: Vec<Duration>,
}

/// Stores messages `0..count` of `size` bytes (and a report each) from
/// `sessions` threads.
pub fn run(store: Box<dyn Store>, sessions: usize, count: u64, size: usize) -> Outcome {
    let (jobs, queue) = mpsc::channel::<Work>();
    let writer = std::thread::spawn(move || writer(store, &queue));
    let start = Instant::now();
    let threads: Vec<_> = (0..sessions as u64)
        .map(|session| {
            let jobs = jobs.clone();
            std::thread::spawn(move || {
                let (ack, acked) = mpsc::channel();
                let mut latencies = Vec::new();
                let mut n = session;
                while n < count {
                    let key = data::id(n);
                    let value = data::message(n, size);
                    let sent = Instant::now();
                    let put = Put { table: Table::Message, key: key.clone(), value };
                    jobs.send(Work { put, ack: Some(ack.clone()) }).expect("writer alive");
                    acked.recv().expect("ack");
                    latencies.push(sent.elapsed());
                    let put = Put { table: Table::Report, key, value: data::report(n) };
                    jobs.send(Work { put, ack: None }).expect("writer alive");
                    n += sessions as u64;
                }
                latencies
            })
        })
        .collect();
    drop(jobs);
    let mut latencies = Vec::with_capacity(count as usize);
    for thread in threads {
        latencies.extend(thread.join().expect("session"));
    }
    let elapsed = start.elapsed();
    let (store, commits) = writer.join().expect("writer");
    Outcome { store, elapsed, commits, latencies }
}

fn writer(mut store: Box<dyn Store>, queue: &mpsc::Receiver<Work>) -> (Box<dyn Store>, u64) {
    let mut commits = 0;
    while let Ok(first) = queue.recv() {
        let mut puts = Vec::new();
        let mut acks = Vec::new();
        let mut take = |work: Work, acks: &mut Vec<mpsc::Sender<Duration>>| {
            puts.push(work.put);
            if let Some(ack) = work.ack {
                acks.push(ack);
            }
        };
        take(first, &mut acks);
        while acks.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(work) => take(work, &mut acks),
                Err(_) => break,
            }
        }
        store.commit(&puts).expect("durable commit");
        commits += 1;
        for ack in acks {
            let _ = ack.send(Duration::ZERO);
        }
    }
    (store, commits)
}
