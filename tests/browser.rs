//! In a real browser, as a person uses mailscore: headless Chromium opens the
//! landing page of the real `mailscore serve` binary, reads the address and
//! the "check your score" link from the rendered page, a real DKIM-signed
//! message goes to that address over STARTTLS, and Chromium renders the score
//! page in English and Japanese (DOM after scripts ran, and a screenshot of
//! each, kept under `target/browser-artifacts/`). A second message with a
//! hostile subject shows the subject reaches the page only as text.
//!
//! Needs `chromium` on PATH (`.ci/run` installs Debian's). Without it the
//! test fails when `CI` is set and is skipped, with a message, otherwise.

mod support;

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::dkim::rsa_signed;
use support::dns::{TestDns, Zone};
use support::server::{Server, send_mail};
use support::zones::good_example;

/// How long one Chromium run may take before it is killed.
const CHROMIUM_TIMEOUT: Duration = Duration::from_secs(60);

/// A subject that runs script if the page ever puts it into markup unescaped.
const HOSTILE_SUBJECT: &str = "<script>document.body.setAttribute('data-pwned','script')</script>\
<img src=x onerror=\"document.body.setAttribute('data-pwned','img')\"> & 'quotes'";

/// The good.example zone of `tests/serve_e2e.rs`: SPF, DKIM, DMARC p=reject,
/// forward-confirmed reverse DNS for 127.0.0.1, and an MX.
fn zone() -> Zone {
    good_example(Zone::new())
}

fn message(from: &str, subject: &str) -> String {
    format!(
        "From: {from}\r\nTo: you@localhost\r\nSubject: {subject}\r\nDate: Tue, 25 Nov 2025 10:00:00 +0000\r\nMessage-ID: <{}@good.example>\r\n\r\nHello from a real browser test.\r\n",
        mailscore::test_id::generate()
    )
}

#[test]
fn score_page_in_a_real_browser() {
    let Some(browser) = Browser::find() else {
        return;
    };
    let dns = TestDns::start(zone());
    let server = Server::start(dns.addr, &[]);
    let base = format!("http://{}", server.http);

    // The landing page, as the browser shows it: an address to copy and a link.
    let landing = browser.dump_dom(&format!("{base}/"));
    let (address, link) = landing_address_and_link(&landing);
    let id = address.split('@').next().unwrap().to_string();
    let report_path = link.split('?').next().unwrap().to_string();
    assert_eq!(
        report_path,
        format!("/tests/{id}"),
        "the score link is not for the address shown: {landing}"
    );

    // Before any mail: the link shows a page that waits for it.
    let pending = browser.dump_dom(&format!("{base}{link}"));
    assert!(!visible_text(&pending).contains("10.0"), "{pending}");
    assert!(
        shows(&pending, &address),
        "pending page without {address}: {pending}"
    );

    // Real SMTP over STARTTLS, DKIM-signed, from the domain's own IP.
    let signed = rsa_signed(
        &message("Alice <alice@good.example>", "Quarterly report"),
        "good.example",
        "sel1",
    );
    server.send_mail_tls(
        "mail.good.example",
        "alice@good.example",
        &[&address],
        &signed,
    );
    let report = server.wait_for_report(&id);
    assert_eq!(report["score"], 10.0, "{report:#}");

    let artifacts = artifacts_dir();
    for (lang, headings) in [
        (
            "en",
            &[
                "Authentication",
                "Sending host and TLS",
                "S/MIME",
                "Blocklists",
                "From-domain posture",
                "Message",
                "Raw message",
            ],
        ),
        (
            "ja",
            &[
                "送信ドメイン認証",
                "送信サーバーと TLS",
                "S/MIME",
                "ブロックリスト",
                "From ドメインの設定状況",
                "メッセージ",
                "メッセージのソース",
            ],
        ),
    ] {
        let url = format!("{base}{report_path}?lang={lang}");
        let dom = browser.dump_dom(&url);
        assert!(
            dom.contains(&format!("<html lang=\"{lang}\"")),
            "{url} is not in {lang}: {dom}"
        );
        let text = visible_text(&dom);
        assert!(text.contains("10.0"), "no score 10.0 on {url}: {text}");
        assert!(shows(&dom, &address), "no address on {url}: {dom}");
        assert!(text.contains("Quarterly report"), "no subject on {url}");
        let found = h2_texts(&dom);
        for heading in headings {
            assert!(
                found.iter().any(|h| h.starts_with(heading)),
                "no heading {heading:?} on {url}; headings: {found:?}"
            );
        }
        assert!(
            !dom.contains("http-equiv=\"refresh\""),
            "a finished report still refreshes: {dom}"
        );

        let png = artifacts.join(format!("report-{lang}.png"));
        browser.screenshot(&url, &png);
        say(&format!("screenshot of {url}: {}", png.display()));
    }
}

#[test]
fn hostile_subject_is_only_text_in_a_real_browser() {
    let Some(browser) = Browser::find() else {
        return;
    };
    let dns = TestDns::start(zone());
    let server = Server::start(dns.addr, &[]);
    let base = format!("http://{}", server.http);

    let landing = browser.dump_dom(&format!("{base}/?lang=ja"));
    let (address, link) = landing_address_and_link(&landing);
    let id = address.split('@').next().unwrap().to_string();
    // A tracking pixel in the subject and in an HTML body: had the page
    // (or the raw view) loaded either, the beacon would hear of it.
    let beacon = Beacon::listen();
    let subject = format!("{HOSTILE_SUBJECT}<img src=\"{}/subject.gif\">", beacon.url);
    send_mail(
        server.smtp,
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        "mail.good.example",
        "alice@good.example",
        &[&address],
        html_message("alice@good.example", &subject, &beacon.url).as_bytes(),
    );
    let report = server.wait_for_report(&id);
    assert_eq!(report["message"]["subject"], subject, "{report:#}");

    let url = format!("{base}{link}");
    let dom = browser.dump_dom(&url);
    // Had the markup been live, its script or onerror handler would have run
    // before the DOM was dumped, and the elements would be in it.
    assert!(!dom.contains("data-pwned=\""), "subject script ran: {dom}");
    assert!(!dom.contains("<script>document"), "live script: {dom}");
    assert!(!dom.contains("<img src=\"x\""), "live img: {dom}");
    // …and the subject is on the page, as the characters that were sent.
    assert!(
        visible_text(&dom).contains(HOSTILE_SUBJECT),
        "subject not shown as text: {dom}"
    );
    assert!(dom.contains("&lt;script&gt;document.body"), "{dom}");

    let png = artifacts_dir().join("report-hostile-subject.png");
    browser.screenshot(&url, &png);
    say(&format!("screenshot of {url}: {}", png.display()));
    let raw = browser.dump_dom(&format!("{base}/tests/{id}/raw"));
    assert!(
        raw.contains("&lt;img src="),
        "the raw view shows the HTML as text"
    );
    assert_eq!(beacon.hits(), 0, "a remote image was loaded");
}

/// A message whose HTML part loads a remote image and stylesheet.
fn html_message(from: &str, subject: &str, beacon: &str) -> String {
    format!(
        "From: {from}\r\nTo: you@localhost\r\nSubject: {subject}\r\n\
         Date: Tue, 25 Nov 2025 10:00:00 +0000\r\nMessage-ID: <{}@good.example>\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n\
         <html><head><link rel=stylesheet href=\"{beacon}/style.css\"></head>\
         <body><img src=\"{beacon}/open.gif\" width=1 height=1>Hello.</body></html>\r\n",
        mailscore::test_id::generate()
    )
}

/// A loopback HTTP listener that counts the connections made to it.
struct Beacon {
    url: String,
    hits: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl Beacon {
    fn listen() -> Beacon {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = hits.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                drop(stream);
            }
        });
        Beacon { url, hits }
    }

    fn hits(&self) -> usize {
        self.hits.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// The readonly input's value and the link to the score page, from the
/// landing page's DOM.
fn landing_address_and_link(dom: &str) -> (String, String) {
    let address = start_tags(dom, "input")
        .into_iter()
        .find(|tag| attr(tag, "readonly").is_some())
        .and_then(|tag| attr(tag, "value"))
        .unwrap_or_else(|| panic!("no readonly address input on the landing page: {dom}"));
    assert!(
        address.ends_with("@localhost") && address.len() > "@localhost".len(),
        "{address}"
    );
    let (link, text) = links(dom)
        .into_iter()
        .find(|(href, _)| href.starts_with("/tests/"))
        .unwrap_or_else(|| panic!("no link to a score page on the landing page: {dom}"));
    assert!(
        text.to_lowercase().contains("score") || text.contains("スコア"),
        "the score link says {text:?}"
    );
    (address, link)
}

/// A headless Chromium, started afresh (new profile) for every page.
struct Browser {
    exe: PathBuf,
}

impl Browser {
    /// `chromium` on PATH; or, without it, fails under CI and skips elsewhere.
    fn find() -> Option<Browser> {
        let found = std::env::var_os("PATH").and_then(|path| {
            std::env::split_paths(&path)
                .map(|dir| dir.join("chromium"))
                .find(|exe| exe.is_file())
        });
        match found {
            Some(exe) => Some(Browser { exe }),
            None if std::env::var_os("CI").is_some_and(|v| !v.is_empty()) => panic!(
                "chromium is not installed (not on PATH), and CI is set: the browser test must run \
                 in CI. .ci/run installs it (apt-get install -y chromium)."
            ),
            None => {
                say(
                    "SKIPPED browser test: chromium is not on PATH (Debian: apt-get install chromium; \
                     CI installs it and fails without it)",
                );
                None
            }
        }
    }

    /// The DOM of `url` after its scripts ran, serialised.
    fn dump_dom(&self, url: &str) -> String {
        let out = self.run(&["--dump-dom", url]);
        let dom = String::from_utf8(out).expect("UTF-8 DOM");
        assert!(dom.contains("</html>"), "no document from {url}: {dom:?}");
        dom
    }

    /// A 1000×2000 PNG of `url` at `path`.
    fn screenshot(&self, url: &str, path: &Path) {
        let _ = std::fs::remove_file(path);
        self.run(&[
            &format!("--screenshot={}", path.display()),
            "--window-size=1000,2000",
            url,
        ]);
        let png = std::fs::read(path)
            .unwrap_or_else(|e| panic!("no screenshot of {url} at {}: {e}", path.display()));
        assert_eq!(
            &png[..8],
            b"\x89PNG\r\n\x1a\n",
            "not a PNG: {}",
            path.display()
        );
        let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
        let height = u32::from_be_bytes(png[20..24].try_into().unwrap());
        assert_eq!((width, height), (1000, 2000), "{}", path.display());
    }

    /// Runs Chromium with the fixed flags and `args`, in a fresh profile,
    /// killed after [`CHROMIUM_TIMEOUT`]. Returns its stdout; panics, with
    /// its stderr, if it failed.
    fn run(&self, args: &[&str]) -> Vec<u8> {
        let scratch = scratch_dir();
        let profile = scratch.join("profile");
        let stdout_path = scratch.join("stdout");
        let stderr_path = scratch.join("stderr");
        let mut command = Command::new(&self.exe);
        command
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--disable-default-apps",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .args(args)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&stdout_path).unwrap())
            .stderr(std::fs::File::create(&stderr_path).unwrap());
        // Its own process group, so a timeout kills its helpers too.
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let started = Instant::now();
        let mut child = command.spawn().expect("start chromium");
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait for chromium") {
                break Some(status);
            }
            if started.elapsed() > CHROMIUM_TIMEOUT {
                let _ = Command::new("kill")
                    .args(["-KILL", "--", &format!("-{}", child.id())])
                    .status();
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let stdout = std::fs::read(&stdout_path).unwrap_or_default();
        let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
        let _ = std::fs::remove_dir_all(&scratch);
        match status {
            Some(status) if status.success() => stdout,
            Some(status) => panic!("chromium {args:?} exited with {status}:\n{stderr}"),
            None => panic!("chromium {args:?} killed after {CHROMIUM_TIMEOUT:?}:\n{stderr}"),
        }
    }
}

/// A line on stderr that the test harness does not capture, so a skip or an
/// artefact path shows in a plain `cargo test` run.
fn say(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// A new, empty directory for one Chromium run.
fn scratch_dir() -> PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "mailscore-chromium-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create chromium scratch dir");
    dir
}

/// `target/browser-artifacts/` (under CARGO_TARGET_DIR if set), created.
fn artifacts_dir() -> PathBuf {
    let target = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("target dir")
        .to_path_buf();
    let dir = target.join("browser-artifacts");
    std::fs::create_dir_all(&dir).expect("create target/browser-artifacts");
    dir
}

/// The attribute text of every `<name …>` start tag in `dom`.
fn start_tags<'a>(dom: &'a str, name: &str) -> Vec<&'a str> {
    let open = format!("<{name}");
    let mut tags = Vec::new();
    let mut rest = dom;
    while let Some(start) = rest.find(&open) {
        let after = &rest[start + open.len()..];
        let Some(end) = after.find('>') else { break };
        if after.starts_with([' ', '>', '/']) {
            tags.push(&after[..end]);
        }
        rest = &after[end..];
    }
    tags
}

/// The decoded value of attribute `name` in a start tag's attribute text, as
/// Chromium serialises them (`name="value"`, a bare attribute as `name=""`).
fn attr(tag: &str, name: &str) -> Option<String> {
    let needle = format!(" {name}=\"");
    let start = format!(" {tag}").find(&needle)? + needle.len() - 1;
    let value = &tag[start..];
    let end = value.find('"')?;
    Some(decode(&value[..end]))
}

/// Every link: (href, its text).
fn links(dom: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = dom;
    while let Some(start) = rest.find("<a ") {
        rest = &rest[start + 3..];
        let Some(tag_end) = rest.find('>') else { break };
        let Some(close) = rest.find("</a>") else {
            break;
        };
        if let Some(href) = attr(&rest[..tag_end], "href") {
            out.push((href, visible_text(&rest[tag_end + 1..close])));
        }
        rest = &rest[close..];
    }
    out
}

/// Whether a person sees `wanted` on the page: in its text or in an input.
fn shows(dom: &str, wanted: &str) -> bool {
    visible_text(dom).contains(wanted)
        || start_tags(dom, "input")
            .iter()
            .any(|tag| attr(tag, "value").is_some_and(|v| v.contains(wanted)))
}

/// The text of every `<h2>`, trimmed.
fn h2_texts(dom: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = dom;
    while let Some(start) = rest.find("<h2") {
        rest = &rest[start..];
        let Some(tag_end) = rest.find('>') else { break };
        let Some(close) = rest.find("</h2>") else {
            break;
        };
        out.push(visible_text(&rest[tag_end + 1..close]).trim().to_string());
        rest = &rest[close..];
    }
    out
}

/// The text of the body: tags removed, entities decoded, whitespace runs
/// collapsed to one space.
fn visible_text(dom: &str) -> String {
    let body = dom.find("<body").map_or(dom, |i| &dom[i..]);
    let mut text = String::new();
    let mut in_tag = false;
    for ch in body.chars() {
        match ch {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            _ if !in_tag => text.push(ch),
            _ => {}
        }
    }
    decode(&text)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// The entities Chromium writes when it serialises text and attributes.
fn decode(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&nbsp;", "\u{a0}")
        .replace("&amp;", "&")
}

#[test]
fn dom_helpers_read_chromium_serialisation() {
    let dom = "<html><body><p class=\"address\"><input readonly=\"\" size=\"40\" value=\"a&amp;b@localhost\"></p>\
        <a class=\"button\" href=\"/tests/abc?lang=en\">Then check <b>your</b> score</a>\
        <h2>Authentication</h2><details><summary><h2 id=\"x\">Headers</h2></summary></details>\
        <p>&lt;script&gt; &amp;amp;</p></body></html>";
    let inputs = start_tags(dom, "input");
    assert_eq!(attr(inputs[0], "readonly").as_deref(), Some(""));
    assert_eq!(attr(inputs[0], "value").as_deref(), Some("a&b@localhost"));
    assert_eq!(attr(inputs[0], "alue"), None);
    assert_eq!(
        links(dom),
        vec![("/tests/abc?lang=en".into(), "Then check your score".into())]
    );
    assert_eq!(h2_texts(dom), ["Authentication", "Headers"]);
    assert!(visible_text(dom).ends_with("<script> &amp;"));
}
