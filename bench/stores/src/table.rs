//! The results file (tab-separated rows from `commits` and `fill`) as
//! Markdown tables.

use std::path::Path;

const STORES: [&str; 4] = ["sled", "redb", "fjall", "sqlite"];

fn mb(bytes: &str) -> String {
    format!("{:.0}", bytes.parse::<f64>().unwrap_or(0.0) / 1_048_576.0)
}

/// "median (min–max)" of the values.
fn spread(mut v: Vec<f64>, decimals: usize) -> String {
    if v.is_empty() {
        return "–".into();
    }
    v.sort_by(f64::total_cmp);
    let median = v[v.len() / 2];
    if v.len() == 1 {
        return format!("{median:.decimals$} (1 round)");
    }
    format!("{median:.decimals$} ({:.decimals$}–{:.decimals$}, {} rounds)", v[0], v[v.len() - 1], v.len())
}

pub fn print(results: &Path) {
    let text = std::fs::read_to_string(results).expect("results file");
    let rows: Vec<Vec<&str>> = text.lines().map(|l| l.split('\t').collect()).collect();
    let of = |kind: &'static str| rows.iter().filter(move |r| r[0] == kind);

    let mut sessions: Vec<u64> = of("commits").map(|r| r[2].parse().unwrap()).collect();
    sessions.sort();
    sessions.dedup();
    println!("### Durable commits/s (2 KB messages; median (min–max) over rounds)\n");
    print!("| store |");
    for n in &sessions {
        print!(" {n} session(s): msgs/s | p99 ack ms |");
    }
    println!();
    print!("|---|");
    for _ in &sessions {
        print!("---:|---:|");
    }
    println!();
    for store in STORES {
        print!("| {store} |");
        for n in &sessions {
            let these: Vec<_> = of("commits").filter(|r| r[1] == store && r[2] == n.to_string()).collect();
            let counts: Vec<&str> = these.iter().map(|r| r[4]).collect();
            let rate = spread(these.iter().map(|r| r[6].parse().unwrap()).collect(), 0);
            let p99 = spread(these.iter().map(|r| r[9].parse::<f64>().unwrap() / 1000.0).collect(), 1);
            let count = counts.first().map_or(String::new(), |c| format!(" ×{c}"));
            print!(" {rate}{count} | {p99} |");
        }
        println!();
    }

    println!("\n### Bytes on disk, memory, report reads (filled by 20 sessions)\n");
    println!("| store | cache | message | count | fill msgs/s | raw B/msg | on disk B/msg (du -sb) | allocated B/msg | RSS after fill MB | RSS after reads MB | peak (VmHWM) MB | report read p50 µs | p99 µs |");
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for store in STORES {
        for r in of("fill").filter(|r| r[1] == store) {
            let count: f64 = r[4].parse().unwrap();
            let per = |i: usize| format!("{:.0}", r[i].parse::<f64>().unwrap() / count);
            let cache = if r[2] == "default" { "default".to_string() } else { format!("{} MB", r[2]) };
            let reads = if r[14] == "0" { ("–".into(), "–".into()) } else { (r[15].to_string(), r[16].to_string()) };
            println!(
                "| {store} | {cache} | {} KB | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                r[3].parse::<u64>().unwrap() / 1024, r[4], r[5], per(6), per(7), per(8),
                mb(r[10]), mb(r[12]), mb(r[13]), reads.0, reads.1
            );
        }
    }

    println!("\n### Deleting half (messages and reports), directory size (du -sb)\n");
    println!("| store | message | count | before MB | after delete + close MB | after compaction MB | compaction |");
    println!("|---|---:|---:|---:|---:|---:|---|");
    for store in STORES {
        for r in of("delete").filter(|r| r[1] == store) {
            println!(
                "| {store} | {} KB | {} | {} | {} | {} | {} |",
                r[2].parse::<u64>().unwrap() / 1024, r[3], mb(r[4]), mb(r[5]), mb(r[6]), r[10]
            );
        }
    }
}
