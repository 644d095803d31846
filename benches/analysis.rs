//! Parse + analyse + score one message, the work `serve` does after each 250,
//! for three messages: a 2 KB plain note, a 50 KB HTML newsletter with 40
//! links and a DKIM signature, and a 5 MB message with attachments.
//!
//! DNS comes from the real in-process test server on loopback, asked once
//! before measuring so the resolver's cache is warm (every zone has an SOA,
//! so negative answers are cached too); the line printed per message says how
//! many queries still reached the server during the measured runs.
//! A counting allocator reports bytes allocated per message. A last group
//! runs every message of tests/corpus (time per message = time / count);
//! the three messages are written to target/bench-messages/ for
//! `bench/spamc.sh`, which times SpamAssassin on the same bytes.
//!
//! Run with `cargo bench --bench analysis`; `cargo test` only builds it.

#[path = "../tests/support/mod.rs"]
#[allow(dead_code)]
mod support;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mailscore::analysis::pipeline::Pipeline;
use mailscore::report::Subject;
use mailscore::smtp::Envelope;
use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicU64, Ordering};
use support::dns::{QUERIES, TestDns, Zone};

/// System allocator that counts what is asked of it.
struct Counting;

static ALLOCATED_BYTES: AtomicU64 = AtomicU64::new(0);
static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATED_BYTES.fetch_add(layout.size() as u64, Ordering::Relaxed);
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATED_BYTES.fetch_add(new_size as u64, Ordering::Relaxed);
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const SENDER_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1));

/// `good.example` signs and publishes everything, plus an SOA so NXDOMAIN
/// and NODATA answers carry a negative TTL the resolver can cache.
fn zone() -> Zone {
    // The corpus's senders live under these; an SOA makes their negative
    // answers cacheable as a real authoritative server's would be.
    let corpus_tlds = ["com", "net", "org", "jp", "test"];
    corpus_tlds.into_iter().fold(
        support::zones::good_example(Zone::new())
            .soa("good.example")
            .soa("example")
            .soa("in-addr.arpa"),
        |zone, tld| zone.soa(tld),
    )
}

fn envelope() -> Envelope {
    Envelope {
        client_ip: SENDER_IP,
        client_port: 40000,
        helo: "mail.good.example".into(),
        mail_from: "news@good.example".into(),
        rcpt_to: vec!["bench@localhost".into()],
        received_at: 1_764_000_000,
        tls: None,
    }
}

const HEADERS: &str = "From: Good News <news@good.example>\r\n\
To: bench@localhost\r\n\
Date: Tue, 25 Nov 2026 10:00:00 +0000\r\n\
Message-ID: <bench-1@good.example>\r\n\
MIME-Version: 1.0\r\n";

/// About 2 KB of plain text.
fn plain_2k() -> Vec<u8> {
    let mut body = String::new();
    while body.len() < 1800 {
        body.push_str("Hello, the minutes of Tuesday's meeting are below. Nothing urgent.\r\n");
    }
    format!(
        "{HEADERS}Subject: Meeting minutes\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}"
    )
    .into_bytes()
}

/// A ~50 KB multipart/alternative newsletter with 40 links, DKIM-signed by
/// the From domain.
fn newsletter_50k() -> Vec<u8> {
    let mut html = String::from("<html><body><h1>This week</h1>\r\n");
    let mut text = String::from("This week\r\n\r\n");
    for n in 0..40 {
        html.push_str(&format!(
            "<p><a href=\"https://news.good.example/articles/{n}?utm_source=mail\">Article {n}</a> \
             <img src=\"https://cdn.good.example/img/{n}.png\" alt=\"Picture {n}\"></p>\r\n"
        ));
        text.push_str(&format!(
            "Article {n}: https://news.good.example/articles/{n}\r\n"
        ));
    }
    while html.len() < 38_000 {
        html.push_str("<p>Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore.</p>\r\n");
    }
    while text.len() < 10_000 {
        text.push_str(
            "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod.\r\n",
        );
    }
    html.push_str("</body></html>\r\n");
    let message = format!(
        "{HEADERS}Subject: Good News weekly\r\n\
List-Unsubscribe: <https://news.good.example/unsubscribe/abc>, <mailto:unsub@good.example>\r\n\
List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n\
Content-Type: multipart/alternative; boundary=\"b1\"\r\n\r\n\
--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n\
--b1\r\nContent-Type: text/html; charset=utf-8\r\n\r\n{html}\r\n--b1--\r\n"
    );
    support::dkim::rsa_signed(&message, "good.example", "sel1")
}

/// About 5 MB: a short text part and three base64 attachments.
fn attachments_5m() -> Vec<u8> {
    let mut message = format!(
        "{HEADERS}Subject: Quarterly files\r\n\
Content-Type: multipart/mixed; boundary=\"b2\"\r\n\r\n\
--b2\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nThe files are attached.\r\n"
    );
    let names = [
        ("report.pdf", "application/pdf", 1_800_000),
        ("photo.jpg", "image/jpeg", 1_200_000),
        ("data.csv", "text/csv", 700_000),
    ];
    for (name, mime, size) in names {
        message.push_str(&format!(
            "--b2\r\nContent-Type: {mime}; name=\"{name}\"\r\n\
Content-Disposition: attachment; filename=\"{name}\"\r\n\
Content-Transfer-Encoding: base64\r\n\r\n"
        ));
        message.push_str(&base64_lines(size));
    }
    message.push_str("--b2--\r\n");
    message.into_bytes()
}

/// About 10 MB: a short text part and one 7.5 MB PDF in base64, the case
/// issue 24 compares with rspamd.
fn attachment_10m() -> Vec<u8> {
    let mut message = format!(
        "{HEADERS}Subject: The scan\r\n\
Content-Type: multipart/mixed; boundary=\"b3\"\r\n\r\n\
--b3\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nThe scan is attached.\r\n\
--b3\r\nContent-Type: application/pdf; name=\"scan.pdf\"\r\n\
Content-Disposition: attachment; filename=\"scan.pdf\"\r\n\
Content-Transfer-Encoding: base64\r\n\r\n"
    );
    message.push_str(&base64_lines(7_500_000));
    message.push_str("--b3--\r\n");
    message.into_bytes()
}

/// `size` pseudo-random bytes as base64 in 76-character lines.
fn base64_lines(size: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let chars = size.div_ceil(3) * 4;
    let mut state: u32 = 0x2545_f491;
    let mut out = String::with_capacity(chars + chars / 76 * 2 + 2);
    for i in 0..chars {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        out.push(ALPHABET[(state % 64) as usize] as char);
        if i % 76 == 75 {
            out.push_str("\r\n");
        }
    }
    out.push_str("\r\n");
    out
}

fn analyse(runtime: &tokio::runtime::Runtime, pipeline: &Pipeline, raw: &[u8]) -> f64 {
    let subject = Subject {
        id: "bench",
        address: "bench@localhost",
    };
    let report = runtime.block_on(pipeline.report(subject, &envelope(), raw));
    report.score
}

fn analysis(c: &mut Criterion) {
    let dns = TestDns::start(zone());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    // The resolver spawns its connection tasks on the runtime it is built in.
    let pipeline = runtime.block_on(async { support::pipeline::pipeline(&dns) });
    let messages = [
        ("plain 2 KB", plain_2k()),
        ("newsletter 50 KB, 40 links, DKIM", newsletter_50k()),
        ("attachments 5 MB", attachments_5m()),
        ("attachment 10 MB", attachment_10m()),
    ];
    let mut group = c.benchmark_group("analyse+score");
    for (name, raw) in &messages {
        // Warm the DNS cache, then measure one run's allocations.
        let score = analyse(&runtime, &pipeline, raw);
        let (bytes, count) = (
            ALLOCATED_BYTES.load(Ordering::Relaxed),
            ALLOCATIONS.load(Ordering::Relaxed),
        );
        analyse(&runtime, &pipeline, raw);
        println!(
            "{name}: {} bytes, score {score:.1}/10, {:.1} KB allocated in {} allocations per message",
            raw.len(),
            (ALLOCATED_BYTES.load(Ordering::Relaxed) - bytes) as f64 / 1024.0,
            ALLOCATIONS.load(Ordering::Relaxed) - count,
        );
        group.throughput(Throughput::Bytes(raw.len() as u64));
        let queries = QUERIES.load(Ordering::Relaxed);
        let mut runs = 0u64;
        group.bench_function(*name, |b| {
            b.iter(|| {
                runs += 1;
                analyse(&runtime, &pipeline, black_box(raw))
            })
        });
        println!(
            "{name}: {} DNS queries reached the server in {runs} measured runs",
            QUERIES.load(Ordering::Relaxed) - queries
        );
    }
    group.finish();
    save_for_spamc(&messages);
    corpus(c, &runtime, &pipeline);
    by_size(c, &runtime, &pipeline);
}

/// `size` bytes of mail: a 1 KB text part and, past 1 KB, the rest as one
/// base64 attachment, the shape in which big mail arrives.
fn sized(size: usize) -> Vec<u8> {
    let text = "Hello, the figures you asked for are below and attached.\r\n".repeat(14);
    let mut message = format!(
        "{HEADERS}Subject: Sized\r\n\
Content-Type: multipart/mixed; boundary=\"b4\"\r\n\r\n\
--b4\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}"
    );
    let rest = size.saturating_sub(message.len() + 200);
    if rest > 0 {
        message.push_str(
            "--b4\r\nContent-Type: application/pdf; name=\"f.pdf\"\r\n\
Content-Transfer-Encoding: base64\r\n\r\n",
        );
        message.push_str(&base64_lines(rest * 3 / 4 * 76 / 78));
    }
    message.push_str("--b4--\r\n");
    message.into_bytes()
}

/// How analysis time grows with the message: 1 KB to 10 MB (issue 24).
fn by_size(c: &mut Criterion, runtime: &tokio::runtime::Runtime, pipeline: &Pipeline) {
    let mut group = c.benchmark_group("by size");
    for (name, size) in [
        ("1 KB", 1_000),
        ("100 KB", 100_000),
        ("1 MB", 1_000_000),
        ("10 MB", 10_000_000),
    ] {
        let raw = sized(size);
        analyse(runtime, pipeline, &raw);
        group.throughput(Throughput::Bytes(raw.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| analyse(runtime, pipeline, black_box(&raw)))
        });
    }
    group.finish();
}

/// The three messages as files, so `bench/spamc.sh` times SpamAssassin on
/// exactly the same bytes.
fn save_for_spamc(messages: &[(&str, Vec<u8>)]) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-messages");
    std::fs::create_dir_all(&dir).expect("create target/bench-messages");
    for (name, raw) in messages {
        let file: String = name.split(',').next().unwrap_or(name).replace(' ', "-");
        std::fs::write(dir.join(format!("{file}.eml")), raw).expect("write bench message");
    }
}

/// Every message of tests/corpus, one after another: time per message is
/// the measured time divided by their number.
fn corpus(c: &mut Criterion, runtime: &tokio::runtime::Runtime, pipeline: &Pipeline) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut messages: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .expect("tests/corpus")
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "eml"))
        .map(|path| std::fs::read(path).expect("read corpus message"))
        .collect();
    messages.sort();
    for raw in &messages {
        analyse(runtime, pipeline, raw);
    }
    let mut group = c.benchmark_group("corpus");
    group.throughput(Throughput::Elements(messages.len() as u64));
    group.bench_function(
        format!("{} messages of tests/corpus", messages.len()),
        |b| {
            b.iter(|| {
                for raw in &messages {
                    analyse(runtime, pipeline, black_box(raw));
                }
            })
        },
    );
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30);
    targets = analysis
}
criterion_main!(benches);
