//! How long the score page takes to render, and how big it is.
//!
//! The report is `benches/fixtures/report.json`, captured from the real
//! `mailscore serve` binary: a message From a p=reject bank domain, sent in
//! plaintext from the wrong IP, DKIM-signed by a third party, with a link to
//! a blocklisted domain — so most sections have findings and deductions.
//! Targets (the issue's): page under 100 KB, render under 10 ms.
//!
//! Run with `cargo bench --bench report_page`; `cargo test` only builds it.

use criterion::{Criterion, criterion_group, criterion_main};
use mailscore::report::Report;
use mailscore::web::render_report_page;
use std::hint::black_box;

const FIXTURE: &str = include_str!("fixtures/report.json");

fn report() -> Report {
    serde_json::from_str(FIXTURE).expect("benches/fixtures/report.json is a Report")
}

fn report_page(c: &mut Criterion) {
    let report = report();
    for lang in ["en", "ja"] {
        let page = render_report_page(&report, lang);
        println!(
            "report page ({lang}): {} bytes ({:.1} KB), {} deductions",
            page.len(),
            page.len() as f64 / 1024.0,
            report.deductions.len()
        );
        c.bench_function(&format!("render_report_page {lang}"), |b| {
            b.iter(|| render_report_page(black_box(&report), black_box(lang)))
        });
    }
    let json = serde_json::to_vec(&report).expect("serialise report");
    println!("report JSON: {} bytes", json.len());
    c.bench_function("serde_json::to_vec(report)", |b| {
        b.iter(|| serde_json::to_vec(black_box(&report)).expect("serialise report"))
    });
}

criterion_group!(benches, report_page);
criterion_main!(benches);
