//! Benchmarks the embedded stores mailscore could use: sled, redb, fjall,
//! SQLite. See bench/README.md for what each mode measures and run.sh for
//! the whole run.
//!
//!   stores commits --store S --sessions N --count C --size B --dir D --out F
//!   stores fill    --store S --count C --size B --dir D --out F
//!                  [--sessions N] [--cache MB] [--reads R] [--delete] [--keep]
//!   stores table F

mod data;
mod fjall_store;
mod group_commit;
mod measure;
mod redb_store;
mod sled_store;
mod sqlite_store;
mod store;
mod table;

use measure::{dir_size, micros, quantile, rss};
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;
use store::Table;

struct Args(HashMap<String, String>);

impl Args {
    fn parse(args: &[String]) -> Args {
        let mut map = HashMap::new();
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            let key = arg.strip_prefix("--").unwrap_or_else(|| panic!("unexpected {arg}"));
            let value = if key == "delete" || key == "keep" { "1".into() } else { it.next().expect("a value").clone() };
            map.insert(key.to_string(), value);
        }
        Args(map)
    }
    fn get(&self, key: &str) -> &str {
        self.0.get(key).unwrap_or_else(|| panic!("--{key} is required"))
    }
    fn num(&self, key: &str, default: u64) -> u64 {
        self.0.get(key).map_or(default, |v| v.parse().expect("a number"))
    }
}

fn main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    match argv.first().map(String::as_str) {
        Some("commits") => commits(&Args::parse(&argv[1..])),
        Some("fill") => fill(&Args::parse(&argv[1..])),
        Some("table") => table::print(Path::new(&argv[1])),
        _ => {
            eprintln!("usage: stores commits|fill --store sled|redb|fjall|sqlite ... | stores table RESULTS");
            std::process::exit(2);
        }
    }
}

/// A fresh, empty directory for one run.
fn fresh(dir: &str) -> PathBuf {
    let dir = PathBuf::from(dir);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("data dir");
    dir
}

fn record(out: &str, row: &[String]) {
    let line = row.join("\t");
    println!("{line}");
    let mut file = std::fs::OpenOptions::new().create(true).append(true).open(out).expect("results file");
    writeln!(file, "{line}").expect("write results");
}

fn cache(args: &Args) -> Option<u64> {
    args.0.get("cache").filter(|c| *c != "default").map(|mb| mb.parse::<u64>().expect("MB") << 20)
}

/// Durable commits/s: `count` messages from `sessions` threads.
fn commits(args: &Args) {
    let engine = args.get("store");
    let (sessions, count, size) = (args.num("sessions", 1), args.num("count", 20_000), args.num("size", 2048));
    let dir = fresh(args.get("dir"));
    let store = store::open(engine, &dir, cache(args)).expect("open");
    let outcome = group_commit::run(store, sessions as usize, count, size as usize);
    let mut lat = outcome.latencies;
    lat.sort();
    let secs = outcome.elapsed.as_secs_f64();
    record(
        args.get("out"),
        &[
            "commits".into(),
            engine.into(),
            sessions.to_string(),
            size.to_string(),
            count.to_string(),
            format!("{secs:.3}"),
            format!("{:.1}", count as f64 / secs),
            outcome.commits.to_string(),
            format!("{:.0}", micros(quantile(&lat, 0.5))),
            format!("{:.0}", micros(quantile(&lat, 0.99))),
        ],
    );
    drop(outcome.store);
    if !args.0.contains_key("keep") {
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// Fills a store, then measures its size, memory, report reads, and what
/// deleting half of it frees.
fn fill(args: &Args) {
    let engine = args.get("store");
    let (sessions, count, size) = (args.num("sessions", 20), args.num("count", 100_000), args.num("size", 2048));
    let reads = args.num("reads", 0);
    let cache_name = args.0.get("cache").cloned().unwrap_or_else(|| "default".into());
    let dir = fresh(args.get("dir"));
    let (base_rss, _) = rss();
    let store = store::open(engine, &dir, cache(args)).expect("open");
    let outcome = group_commit::run(store, sessions as usize, count, size as usize);
    let store = outcome.store;
    let (fill_rss, fill_hwm) = rss();

    let mut read_lat = Vec::new();
    let mut rng = data::Rng::new(42);
    for _ in 0..reads {
        let n = rng.next() % count;
        let key = data::id(n);
        let start = Instant::now();
        let report = store.get(Table::Report, &key).expect("get");
        read_lat.push(start.elapsed());
        assert_eq!(report.as_deref(), Some(&data::report(n)[..]), "report {n}");
    }
    read_lat.sort();
    let (read_rss, read_hwm) = rss();
    drop(store);

    let raw: u64 = (0..count)
        .map(|n| (2 * data::id(n).len() + data::message(n, size as usize).len() + data::report(n).len()) as u64)
        .sum();
    let (apparent, allocated) = dir_size(&dir);
    let secs = outcome.elapsed.as_secs_f64();
    record(
        args.get("out"),
        &[
            "fill".into(),
            engine.into(),
            cache_name,
            size.to_string(),
            count.to_string(),
            format!("{:.1}", count as f64 / secs),
            raw.to_string(),
            apparent.to_string(),
            allocated.to_string(),
            base_rss.to_string(),
            fill_rss.to_string(),
            fill_hwm.to_string(),
            read_rss.to_string(),
            read_hwm.to_string(),
            reads.to_string(),
            format!("{:.1}", micros(quantile(&read_lat, 0.5))),
            format!("{:.1}", micros(quantile(&read_lat, 0.99))),
        ],
    );

    if args.0.contains_key("delete") {
        let mut store = store::open(engine, &dir, cache(args)).expect("reopen");
        let half: Vec<Vec<u8>> = (0..count).step_by(2).map(data::id).collect();
        for chunk in half.chunks(1000) {
            store.delete(chunk).expect("delete");
        }
        drop(store);
        let deleted = dir_size(&dir);
        let mut store = store::open(engine, &dir, cache(args)).expect("reopen");
        let what = store.compact().expect("compact");
        drop(store);
        let compacted = dir_size(&dir);
        record(
            args.get("out"),
            &[
                "delete".into(),
                engine.into(),
                size.to_string(),
                count.to_string(),
                apparent.to_string(),
                deleted.0.to_string(),
                compacted.0.to_string(),
                allocated.to_string(),
                deleted.1.to_string(),
                compacted.1.to_string(),
                what.into(),
            ],
        );
    }
    if !args.0.contains_key("keep") {
        let _ = std::fs::remove_dir_all(&dir);
    }
}
