//! How long a survey's tables take from its stored rows: 10,000 senders
//! with three messages each (30,000 rows of a few hundred bytes) in a sled
//! store, read back, decoded, folded per sender and counted — what
//! `GET /api/surveys/{id}` does for each answer. The target: the
//! table in under 1 s for 10,000 senders.
//!
//! Run with `cargo bench --bench survey`; `cargo test` only builds it.

use criterion::{Criterion, criterion_group, criterion_main};
use mailscore::store::Store;
use mailscore::survey::online::{self, KeptRow, Period, Survey};
use mailscore::survey::{SenderRow, State};
use std::hint::black_box;

const SENDERS: usize = 10_000;
const MESSAGES_EACH: usize = 3;

/// Sender `n`'s message `m`: the states vary with `n` so every table has
/// several cells filled.
fn row(n: usize, m: usize) -> SenderRow {
    let state = |k: usize| State::ALL[(n / k) % 3];
    SenderRow {
        from: format!("news{n}@sender{}.go.jp", n % 997),
        label: format!("magazine-{n}"),
        messages: 1,
        first_seen: format!("2026-0{}-01T09:00:00Z", m + 1),
        last_seen: format!("2026-0{}-01T09:00:00Z", m + 1),
        smime: state(7),
        spf: state(1),
        dkim: state(2),
        dmarc: state(5),
        score: (n % 100) as f64 / 10.0,
        grade: ["safe", "review", "improve", "danger"][n % 4].into(),
        changed: false,
        tls_receive: Some(n.is_multiple_of(2)),
        tls_send: None,
        spf_ok: Some(n.is_multiple_of(3)),
        dkim_ok: Some(n.is_multiple_of(5)),
        rdns: Some(true),
        dnssec: Some(false),
        listed: Some(false),
    }
}

fn survey_tables(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("mailscore-bench-survey-{}", std::process::id()));
    let store = Store::open(&dir).expect("a sled store");
    let survey = Survey {
        id: "bench".into(),
        name: "bench".into(),
        expect_domain: Some("go.jp".into()),
        created_at: "2026-01-01T00:00:00Z".into(),
    };
    store.put_survey(&survey.id, &survey.encode()).unwrap();
    let mut seq = 0;
    for m in 0..MESSAGES_EACH {
        for n in 0..SENDERS {
            let entry = online::entry(seq, &format!("magazine-{n}"));
            let kept = KeptRow {
                entry: entry.clone(),
                row: row(n, m),
            };
            store
                .put_survey_row(&survey.id, &entry, &kept.encode())
                .unwrap();
            seq += 1;
        }
    }
    store.flush().unwrap();
    let tables = || {
        let rows: Vec<KeptRow> = store
            .survey_rows("bench")
            .unwrap()
            .iter()
            .filter_map(|bytes| KeptRow::decode(bytes).ok())
            .collect();
        online::tables(&survey, &rows, &Period::default())
    };
    let once = tables();
    assert_eq!(
        (once.senders, once.messages),
        (SENDERS, SENDERS * MESSAGES_EACH)
    );
    let mut group = c.benchmark_group("survey");
    group.sample_size(10);
    group.bench_function("tables of 10,000 senders (30,000 stored rows)", |b| {
        b.iter(|| black_box(tables()))
    });
    group.bench_function("the same as JSON", |b| {
        b.iter(|| serde_json::to_vec(&black_box(tables())).unwrap())
    });
    group.finish();
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, survey_tables);
criterion_main!(benches);
