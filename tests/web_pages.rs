//! The web pages end to end, as a browser or a CI script meets them: the
//! real `mailscore serve` binary, real SMTP from loopback, a real DNS server,
//! and plain HTTP/1.1 read byte for byte (headers included).

mod support;

use serde_json::Value;
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};
use support::dkim::rsa_signed;
use support::dns::{TestDns, Zone};
use support::server::{Server, send_mail};
use support::zones::{bank_example, good_example};

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const OTHER_SENDER: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));

/// The section headings of the score page, in page order.
const HEADINGS_EN: [&str; 7] = [
    "Authentication",
    "Sending host and TLS",
    "S/MIME",
    "Blocklists",
    "From-domain posture",
    "Message",
    "Raw message",
];
const HEADINGS_JA: [&str; 7] = [
    "送信ドメイン認証",
    "送信サーバーと TLS",
    "S/MIME",
    "ブロックリスト",
    "From ドメインの設定状況",
    "メッセージ",
    "メッセージのソース",
];

fn zone() -> Zone {
    bank_example(good_example(Zone::new()))
}

/// A CRLF message ending in CRLF: what the server stores is exactly this.
fn message(from: &str, subject: &str, body: &str) -> String {
    format!(
        "From: {from}\r\nTo: box@localhost\r\nSubject: {subject}\r\nDate: Tue, 25 Nov 2025 10:00:00 +0000\r\nMessage-ID: <{}@example>\r\n\r\n{body}",
        mailscore::test_id::generate()
    )
}

fn send_good(server: &Server, id: &str, body: &str) -> String {
    let raw = message("Alice <alice@good.example>", "Hello", body);
    send_mail(
        server.smtp,
        LOCALHOST,
        "mail.good.example",
        "alice@good.example",
        &[&format!("{id}@localhost")],
        raw.as_bytes(),
    );
    raw
}

fn send_spoofed(server: &Server, id: &str) {
    let raw = message("Bank <ceo@bank.example>", "Urgent", "Pay now.\r\n");
    send_mail(
        server.smtp,
        OTHER_SENDER,
        "mail.bank.example",
        "ceo@bank.example",
        &[&format!("{id}@localhost")],
        raw.as_bytes(),
    );
}

/// One HTTP/1.1 exchange: status, header lines (lower-cased names), body.
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("no {name} header in {:?}", self.headers))
    }

    fn text(&self) -> String {
        String::from_utf8(self.body.clone()).expect("UTF-8 body")
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }
}

fn get(addr: SocketAddr, path: &str) -> Reply {
    let mut stream = TcpStream::connect(addr).expect("connect HTTP");
    stream
        .set_read_timeout(Some(Duration::from_secs(90)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("end of headers");
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    let mut body = response[split + 4..].to_vec();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    if headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"))
    {
        body = dechunk(&body);
    }
    Reply {
        status,
        headers,
        body,
    }
}

fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = body.windows(2).position(|w| w == b"\r\n").unwrap();
        let size =
            usize::from_str_radix(std::str::from_utf8(&body[..line_end]).unwrap().trim(), 16)
                .unwrap();
        if size == 0 {
            return out;
        }
        let start = line_end + 2;
        out.extend_from_slice(&body[start..start + size]);
        body = &body[start + size + 2..];
    }
}

/// Tags balance and every `<` opens a tag: enough to catch broken markup
/// (an unescaped `<` or `&` in a value would fail it).
fn assert_well_formed_xml(xml: &str) {
    let mut open: Vec<&str> = Vec::new();
    let mut rest = xml.trim();
    while let Some(start) = rest.find('<') {
        assert!(
            !rest[..start].contains('&') || rest[..start].contains(';'),
            "bare & in {xml}"
        );
        let end = rest[start..].find('>').expect("unclosed tag") + start;
        let tag = &rest[start + 1..end];
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(
                open.pop(),
                Some(name.trim()),
                "mismatched </{name}> in {xml}"
            );
        } else if !tag.ends_with('/') {
            open.push(tag.split_whitespace().next().expect("tag name"));
        }
        rest = &rest[end + 1..];
    }
    assert!(open.is_empty(), "unclosed {open:?} in {xml}");
}

fn band_of(score: f64) -> &'static str {
    match score {
        s if s >= 9.0 => "band-excellent",
        s if s >= 7.0 => "band-good",
        s if s >= 5.0 => "band-fair",
        s if s >= 3.0 => "band-poor",
        _ => "band-bad",
    }
}

#[test]
fn raw_view_escapes_the_message_and_download_returns_the_exact_bytes() {
    let dns = TestDns::start(zone());
    let server = Server::start(dns.addr, &[]);
    let sent = send_good(
        &server,
        "raw-view",
        "<script>alert('raw')</script>\r\n.leading dot line\r\nBye.\r\n",
    );
    server.wait_for_report("raw-view");

    let page = get(server.http, "/tests/raw-view/raw");
    assert_eq!(page.status, 200);
    assert!(page.header("content-type").starts_with("text/html"));
    let html = page.text();
    assert!(!html.contains("<script>alert"), "message script ran live");
    assert!(html.contains("&lt;script&gt;alert(&#39;raw&#39;)&lt;/script&gt;"));
    // SMTP transparency is undone: the line has one dot, as written.
    assert!(html.contains("\r\n.leading dot line\r\n"), "{html}");
    assert!(html.contains("href=\"/tests/raw-view/message.eml\""));

    let eml = get(server.http, "/tests/raw-view/message.eml");
    assert_eq!(eml.status, 200);
    assert_eq!(eml.header("content-type"), "text/plain");
    assert_eq!(
        eml.header("content-disposition"),
        "attachment; filename=\"raw-view.eml\""
    );
    assert_eq!(
        eml.body,
        sent.as_bytes(),
        "download differs from what was sent"
    );

    for path in ["/tests/no-mail-yet/raw", "/tests/no-mail-yet/message.eml"] {
        let missing = get(server.http, path);
        assert_eq!(missing.status, 404, "{path}");
        assert_eq!(missing.json()["status"], 404, "{path}");
        assert!(
            missing.json()["error"]
                .as_str()
                .unwrap()
                .contains("no message")
        );
    }
    for path in ["/tests/NOT_VALID/raw", "/tests/NOT_VALID/message.eml"] {
        let bad = get(server.http, path);
        assert_eq!(bad.status, 400, "{path}");
        assert!(
            bad.json()["error"]
                .as_str()
                .unwrap()
                .contains("invalid test id")
        );
    }
}

#[test]
fn raw_view_shows_at_most_256_kib_and_the_download_has_it_all() {
    let dns = TestDns::start(zone());
    let server = Server::start(dns.addr, &[]);
    let line = "x".repeat(98) + "\r\n";
    let body = line.repeat(3000) + "TAIL-MARKER\r\n";
    let sent = send_good(&server, "raw-large", &body);
    assert!(sent.len() > 256 * 1024);
    server.wait_for_report("raw-large");

    let html = get(server.http, "/tests/raw-large/raw").text();
    assert!(!html.contains("TAIL-MARKER"), "raw view is not bounded");
    assert!(
        html.contains(&format!("Showing the first 262144 of {} bytes", sent.len())),
        "no truncation note"
    );
    let japanese = get(server.http, "/tests/raw-large/raw?lang=ja").text();
    assert!(japanese.contains(&format!("全 {} バイトのうち先頭 262144 バイト", sent.len())));

    let eml = get(server.http, "/tests/raw-large/message.eml");
    assert_eq!(eml.body.len(), sent.len());
    assert!(eml.body.ends_with(b"TAIL-MARKER\r\n"));
}

#[test]
fn badge_is_svg_pending_before_mail_then_coloured_by_band() {
    let dns = TestDns::start(zone());
    let server = Server::start(dns.addr, &[]);

    let pending = get(server.http, "/api/tests/badge-good/badge.svg");
    assert_eq!(pending.status, 200);
    assert_eq!(pending.header("content-type"), "image/svg+xml");
    assert_eq!(pending.header("cache-control"), "no-cache");
    let svg = pending.text();
    assert_well_formed_xml(&svg);
    assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert!(svg.contains(">mailscore</text>") && svg.contains(">pending</text>"));
    assert!(svg.contains("class=\"pending\"") && !svg.contains("band-"));

    // Signed, over STARTTLS, from an SPF-listed host: 10/10.
    let signed = rsa_signed(
        &message("Alice <alice@good.example>", "Hello", "Hello.\r\n"),
        "good.example",
        "sel1",
    );
    server.send_mail_tls(
        "mail.good.example",
        "alice@good.example",
        &["badge-good@localhost"],
        &signed,
    );
    send_spoofed(&server, "badge-bad");
    let mut classes = Vec::new();
    for id in ["badge-good", "badge-bad"] {
        let report = server.wait_for_report(id);
        let score = report["score"].as_f64().unwrap();
        let badge = get(server.http, &format!("/api/tests/{id}/badge.svg"));
        assert_eq!(badge.status, 200);
        assert_eq!(badge.header("content-type"), "image/svg+xml");
        assert!(badge.header("cache-control").contains("max-age="));
        let svg = badge.text();
        assert_well_formed_xml(&svg);
        let shown = if score.fract() == 0.0 {
            format!("{score:.0}/10")
        } else {
            format!("{score:.1}/10")
        };
        assert!(
            svg.contains(&format!(">{shown}</text>")),
            "{shown} not in {svg}"
        );
        assert!(
            svg.contains(&format!("mailscore: {shown}")),
            "no accessible label"
        );
        let class = band_of(score);
        assert!(
            svg.contains(&format!("class=\"{class}\"")),
            "{class} not in {svg}"
        );
        classes.push(class);
    }
    assert_eq!(classes, ["band-excellent", "band-bad"]);
    let excellent = get(server.http, "/api/tests/badge-good/badge.svg").text();
    assert!(excellent.contains(">10/10</text>") && excellent.contains("fill=\"#1a7f37\""));

    assert_eq!(
        get(server.http, "/api/tests/NOT_VALID/badge.svg").status,
        400
    );
}

#[test]
fn long_poll_answers_as_soon_as_the_report_exists() {
    let dns = TestDns::start(zone());
    let server = Server::start(dns.addr, &[]);
    let http = server.http;

    let waiting = std::thread::spawn(move || {
        let started = Instant::now();
        let reply = get(http, "/api/tests/long-poll?wait=10");
        (started.elapsed(), reply)
    });
    // Let the request arrive and start waiting, then send the mail.
    std::thread::sleep(Duration::from_millis(700));
    send_good(&server, "long-poll", "Hello.\r\n");
    let (elapsed, reply) = waiting.join().unwrap();
    assert_eq!(reply.status, 200);
    let report = reply.json();
    assert_eq!(report["status"], "done", "{report:#}");
    assert_eq!(report["id"], "long-poll");
    assert!(
        elapsed >= Duration::from_millis(600),
        "did not wait: {elapsed:?}"
    );
    assert!(
        elapsed < Duration::from_secs(6),
        "answered late: {elapsed:?}"
    );

    // Nothing arrives: the answer is "pending", after about the time asked.
    let started = Instant::now();
    let reply = get(http, "/api/tests/nobody-writes?wait=1");
    let elapsed = started.elapsed();
    assert_eq!(reply.json()["status"], "pending");
    assert!(elapsed >= Duration::from_millis(900), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");

    // With a report already there, wait does not wait.
    let started = Instant::now();
    assert_eq!(
        get(http, "/api/tests/long-poll?wait=30").json()["status"],
        "done"
    );
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[test]
fn long_poll_ends_with_the_report_and_refuses_waits_out_of_range() {
    let dns = TestDns::start(zone());
    let server = Server::start(dns.addr, &[]);
    let http = server.http;
    // The longest wait allowed still ends as soon as the report exists.
    let waiting = std::thread::spawn(move || {
        let started = Instant::now();
        (get(http, "/api/tests/capped?wait=60"), started.elapsed())
    });
    std::thread::sleep(Duration::from_millis(300));
    send_good(&server, "capped", "Hello.\r\n");
    let (reply, elapsed) = waiting.join().unwrap();
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["status"], "done");
    assert!(elapsed < Duration::from_secs(6), "{elapsed:?}");

    // Over the range is refused like any bad value, not silently capped.
    for wait in ["86400", "61", "soon", "-1", "1.5"] {
        let reply = get(http, &format!("/api/tests/capped?wait={wait}"));
        assert_eq!(reply.status, 400, "wait={wait}");
        assert!(reply.json()["error"].as_str().unwrap().contains("wait"));
    }
    let bad = get(http, "/api/tests/NOT_VALID?wait=5");
    assert_eq!(bad.status, 400);
}

#[test]
fn every_section_heading_is_on_the_page_in_english_and_japanese() {
    let dns = TestDns::start(zone());
    let server = Server::start(dns.addr, &[]);
    send_spoofed(&server, "sections");
    let json = server.wait_for_report("sections");

    for (lang, headings) in [("en", HEADINGS_EN), ("ja", HEADINGS_JA)] {
        let reply = get(server.http, &format!("/tests/sections?lang={lang}"));
        assert_eq!(reply.status, 200);
        let page = reply.text();
        assert!(page.contains(&format!("<html lang=\"{lang}\">")));
        let mut last = 0;
        for heading in headings {
            let at = page
                .find(&format!("<h2>{heading}"))
                .unwrap_or_else(|| panic!("{lang}: no heading {heading:?}"));
            assert!(at > last, "{lang}: {heading:?} out of order");
            last = at;
        }
        // Fully readable without JavaScript: the one script is ours and
        // only opens the folds for printing; the one stylesheet is ours.
        assert_eq!(
            page.matches("<script").count(),
            1,
            "{lang}: the report page loads only print.js"
        );
        assert!(page.contains("<script src=\"/assets/print.js?v="));
        assert!(page.contains("<link rel=\"stylesheet\" href=\"/assets/style.css?v="));
        assert!(!page.contains("<style"));
        // Rows are collapsible, problems start open, and each marker reads
        // without colour.
        let fail = if lang == "ja" { "失敗" } else { "fail" };
        assert!(page.contains(&format!("<details id=\"spf\" class=\"check bad\" open><summary><span class=\"icon\" aria-hidden=\"true\">✘</span> <strong>SPF (bank.example)</strong> <span class=\"result\">{fail}</span>")));
        assert!(page.contains("<a href=\"/tests/sections/raw?lang="));
        assert!(page.contains("<a href=\"/tests/sections/message.eml\" download>"));
    }
    let english = get(server.http, "/tests/sections?lang=en").text();
    assert!(english.contains("What it means:") && english.contains("How to fix:"));
    assert!(english.contains("Bad: this message looks spoofed or will be rejected."));
    let japanese = get(server.http, "/tests/sections?lang=ja").text();
    assert!(japanese.contains("概要：") && japanese.contains("対処方法："));
    assert!(japanese.contains("危険：なりすましと判定されるか、拒否されます。"));
    // The English side's phrases do not leak into the Japanese page.
    for phrase in [
        "What it means",
        "How to fix",
        "Record found",
        "not set up",
        "Headers",
    ] {
        assert!(!japanese.contains(phrase), "{phrase:?} untranslated");
    }

    // The public renderer is what the server serves.
    let report: mailscore::report::Report = serde_json::from_value(json).unwrap();
    assert_eq!(mailscore::web::render_report_page(&report, "ja"), japanese);
    assert_eq!(mailscore::web::render_report_page(&report, "en"), english);
}

#[test]
fn assets_are_served_from_the_binary_with_their_types_and_a_cache() {
    let dns = TestDns::start(zone());
    let server = Server::start(dns.addr, &[]);
    let css = get(server.http, "/assets/style.css");
    assert_eq!(css.status, 200);
    assert_eq!(css.header("content-type"), "text/css; charset=utf-8");
    assert!(css.header("cache-control").contains("max-age="));
    let text = css.text();
    for class in [
        ".band-excellent",
        ".band-bad",
        ".check.ok",
        ".check.warn",
        ".check.bad",
        ".check.info",
    ] {
        assert!(text.contains(class), "{class} missing from the stylesheet");
    }
    assert!(text.contains("@media print"), "no print stylesheet");
    for (script, word) in [
        ("copy.js", "clipboard"),
        ("print.js", "beforeprint"),
        ("wait.js", "location.reload"),
    ] {
        let js = get(server.http, &format!("/assets/{script}"));
        assert_eq!(js.status, 200, "{script}");
        assert!(js.header("content-type").starts_with("text/javascript"));
        assert!(js.text().contains(word), "{script} without {word}");
    }
    assert_eq!(get(server.http, "/assets/nothing.js").status, 404);
}

#[test]
fn landing_page_offers_an_address_to_copy_and_the_score_link() {
    let dns = TestDns::start(zone());
    let server = Server::start(dns.addr, &[]);
    let reply = get(server.http, "/");
    assert_eq!(reply.status, 200);
    assert!(
        reply
            .header("content-security-policy")
            .contains("script-src 'self'")
    );
    let page = reply.text();
    let value_at = page
        .find("<input id=\"address\" readonly size=\"40\" value=\"")
        .expect("readonly address input")
        + "<input id=\"address\" readonly size=\"40\" value=\"".len();
    let address = &page[value_at..value_at + page[value_at..].find('"').unwrap()];
    let (id, domain) = address.split_once('@').unwrap();
    assert_eq!(domain, "localhost");
    assert!(mailscore::test_id::is_valid(id), "{id}");
    assert!(
        page.contains("<script src=\"/assets/copy.js?v="),
        "no copy script"
    );
    assert!(page.contains("data-copy=\"address\""), "no copy button");
    assert!(page.contains(&format!(
        "href=\"/tests/{id}?lang=en\">Then check your score</a>"
    )));

    let japanese = get(server.http, "/?lang=ja").text();
    assert!(japanese.contains("スコアを確認する</a>") && japanese.contains("コピー"));

    // The score link leads to the pending page, which long-polls for its
    // report (wait.js) and keeps a plain link for a browser without script.
    let pending = get(server.http, &format!("/tests/{id}")).text();
    assert!(!pending.contains("http-equiv=\"refresh\""), "{pending}");
    assert!(pending.contains(&format!("data-wait=\"/api/tests/{id}?wait=30\"")));
    assert!(pending.contains("<script src=\"/assets/wait.js?v="));
    assert!(pending.contains("<a href=\"?lang=en\">Refresh</a>"));
    assert!(pending.contains(&format!("value=\"{address}\"")));
}

#[test]
fn every_answer_carries_the_security_headers() {
    let dns = TestDns::start(zone());
    let server = Server::start(dns.addr, &[]);
    send_good(&server, "headers-all", "Hello.\r\n");
    server.wait_for_report("headers-all");
    let paths = [
        "/",
        "/?lang=ja",
        "/tests/headers-all",
        "/tests/headers-all/raw",
        "/tests/headers-all/message.eml",
        "/tests/headers-all/1",
        "/api/tests/headers-all",
        "/api/tests/headers-all/history",
        "/api/tests/headers-all/badge.svg",
        "/api/openapi.json",
        "/healthz",
        "/readyz",
        "/metrics",
        "/tests/not-here-yet",
        "/api/tests/not-here-yet",
        "/no/such/page",
        "/api/tests/BAD!",
    ];
    for path in paths {
        let reply = get(server.http, path);
        assert_eq!(reply.header("x-content-type-options"), "nosniff", "{path}");
        assert_eq!(reply.header("referrer-policy"), "no-referrer", "{path}");
        let csp = reply.header("content-security-policy");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
        let script = csp
            .split(';')
            .map(str::trim)
            .find(|d| d.starts_with("script-src") || d.starts_with("default-src"))
            .unwrap_or_default();
        assert!(
            script == "script-src 'self'" || script == "default-src 'none'",
            "{path}: {csp}"
        );
    }
}
