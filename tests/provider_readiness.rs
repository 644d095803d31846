//! "Will Gmail take my newsletter?" end to end: real SMTP (STARTTLS unless
//! a case needs plaintext) into `mailscore serve`, real DKIM signatures,
//! real DNS. One newsletter is ready for all three providers; each other
//! one breaks one requirement (SPF, DKIM, the DMARC record, alignment,
//! one-click unsubscribe, TLS, a Gmail From sent from elsewhere), and the
//! verdicts name exactly that requirement, in the JSON, on the page in
//! both languages, and through `mailscore wait --require`.

mod support;

use mail_auth::common::headers::HeaderWriter;
use mail_auth::dkim::DkimSigner;
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::process::Command;
use support::dkim::{rsa_key_record, split_255};
use support::dns::{TestDns, Zone};
use support::server::{Server, send_mail};
use support::zones::good_example;

/// good.example (SPF, DKIM, DMARC p=reject, reverse DNS for 127.0.0.1),
/// and the domains the broken cases send with.
fn zone() -> Zone {
    let key = rsa_key_record();
    good_example(Zone::new())
        // A MAIL FROM domain that does not list 127.0.0.1: SPF fails.
        .txt("bounce.elsewhere.example", &["v=spf1 ip4:192.0.2.1 -all"])
        // SPF and DKIM, but no DMARC record.
        .txt("nodmarc.example", &["v=spf1 ip4:127.0.0.1 -all"])
        .txt("sel1._domainkey.nodmarc.example", &split_255(&key))
        // An ESP that signs and bounces for its own domain only.
        .txt("esp.example", &["v=spf1 ip4:127.0.0.1 -all"])
        .txt("sel1._domainkey.esp.example", &split_255(&key))
}

/// A newsletter from `from`, with List-Unsubscribe (https and mailto) and,
/// when `one_click`, List-Unsubscribe-Post.
fn newsletter(id: &str, from: &str, one_click: bool) -> String {
    let post = if one_click {
        "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
    } else {
        ""
    };
    format!(
        "From: Good News <{from}>\r\nTo: {id}@localhost\r\nSubject: This week at Good News\r\n\
Date: Wed, 25 Nov 2026 10:00:00 +0000\r\nMessage-ID: <{id}@good.example>\r\n\
List-Unsubscribe: <https://good.example/unsubscribe/{id}>, <mailto:unsub@good.example>\r\n\
{post}MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
This week: three articles and a recipe.\r\n"
    )
}

/// `text` signed by `domain` with the test key, the list headers in `h=`.
fn signed(text: &str, domain: &str) -> Vec<u8> {
    let signature = DkimSigner::from_key(support::dkim::rsa_key())
        .domain(domain)
        .selector("sel1")
        .headers([
            "From",
            "To",
            "Subject",
            "Date",
            "Message-ID",
            "List-Unsubscribe",
            "List-Unsubscribe-Post",
        ])
        .sign(text.as_bytes())
        .unwrap();
    let mut out = signature.to_header().into_bytes();
    out.extend_from_slice(text.as_bytes());
    out
}

/// How a case is sent.
struct Send {
    mail_from: &'static str,
    tls: bool,
    raw: Vec<u8>,
}

/// The report's verdicts: key (`gmail`, `gmail-bulk`…) → (verdict, failing).
fn verdicts(report: &Value) -> BTreeMap<String, (String, Vec<String>)> {
    let mut all = BTreeMap::new();
    for r in report["readiness"]
        .as_array()
        .expect("readiness in the report")
    {
        let provider = r["provider"].as_str().unwrap();
        let key = match r["audience"].as_str().unwrap() {
            "all" => provider.to_string(),
            audience => format!("{provider}-{audience}"),
        };
        let failing = r["failing"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f.as_str().unwrap().to_string())
            .collect();
        all.insert(key, (r["verdict"].as_str().unwrap().to_string(), failing));
    }
    all
}

fn deliver(server: &Server, id: &str, send: &Send) -> Value {
    let rcpt = format!("{id}@localhost");
    if send.tls {
        server.send_mail_tls("mail.good.example", send.mail_from, &[&rcpt], &send.raw);
    } else {
        send_mail(
            server.smtp,
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            "mail.good.example",
            send.mail_from,
            &[&rcpt],
            &send.raw,
        );
    }
    server.wait_for_report(id)
}

/// `mailscore wait ID --require KEY`'s exit code and output.
fn wait_require(server: &Server, id: &str, key: &str) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_mailscore"))
        .args(["wait", id, "--min-score", "0", "--require", key])
        .args(["--server", &format!("http://{}", server.http)])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), format!("{stdout}{stderr}"))
}

/// A test id, how it is sent, and the verdicts that are not ready with
/// the requirements each fails, in table order.
type Case = (&'static str, Send, Vec<(&'static str, Vec<&'static str>)>);

const KEYS: [&str; 5] = [
    "gmail",
    "gmail-bulk",
    "microsoft-bulk",
    "yahoo",
    "yahoo-bulk",
];

#[test]
fn a_good_newsletter_is_ready_for_all_three_providers() {
    let dns = TestDns::start(zone());
    let server = Server::start(dns.addr, &[]);
    let id = "ready-everywhere";
    let send = Send {
        mail_from: "news@good.example",
        tls: true,
        raw: signed(&newsletter(id, "news@good.example", true), "good.example"),
    };
    let report = deliver(&server, id, &send);
    let verdicts = verdicts(&report);
    assert_eq!(verdicts.keys().collect::<Vec<_>>(), KEYS, "{report:#}");
    for (key, (verdict, failing)) in &verdicts {
        assert_eq!(
            (verdict.as_str(), failing.len()),
            ("ready", 0),
            "{key}: {report:#}"
        );
    }
    for key in KEYS {
        let (code, out) = wait_require(&server, id, key);
        assert_eq!(code, 0, "--require {key}: {out}");
        assert!(
            out.contains(&format!("\n{key}: ready [required]\n")),
            "{out}"
        );
    }
    let (_, en) = server.get(&format!("/tests/{id}"));
    let table = readiness_table(&en);
    assert_eq!(table.matches("class=\"ready-ready\"").count(), 5, "{table}");
    assert!(table.contains("Outlook.com") && table.contains("No requirements published"));
    let (_, ja) = server.get(&format!("/tests/{id}?lang=ja"));
    assert!(readiness_table(&ja).contains("対応済み"), "{ja}");
}

#[test]
fn each_broken_requirement_is_named_and_fails_the_gate() {
    let dns = TestDns::start(zone());
    let server = Server::start(dns.addr, &[]);
    let good = |id: &str, one_click| newsletter(id, "news@good.example", one_click);
    let cases: Vec<Case> = vec![
        (
            "spf-fails",
            Send {
                mail_from: "news@bounce.elsewhere.example",
                tls: true,
                raw: signed(&good("spf-fails", true), "good.example"),
            },
            vec![
                ("gmail-bulk", vec!["SPF_AND_DKIM"]),
                ("microsoft-bulk", vec!["SPF_PASS"]),
                ("yahoo-bulk", vec!["SPF_AND_DKIM"]),
            ],
        ),
        (
            "not-signed",
            Send {
                mail_from: "news@good.example",
                tls: true,
                raw: good("not-signed", true).into_bytes(),
            },
            vec![
                // Unsigned, the one-click headers are not signed either.
                ("gmail-bulk", vec!["SPF_AND_DKIM", "ONE_CLICK_UNSUBSCRIBE"]),
                ("microsoft-bulk", vec!["DKIM_PASS"]),
                ("yahoo-bulk", vec!["SPF_AND_DKIM", "ONE_CLICK_UNSUBSCRIBE"]),
            ],
        ),
        (
            "no-dmarc",
            Send {
                mail_from: "news@nodmarc.example",
                tls: true,
                raw: signed(
                    &newsletter("no-dmarc", "news@nodmarc.example", true),
                    "nodmarc.example",
                ),
            },
            vec![
                ("gmail-bulk", vec!["DMARC_RECORD"]),
                ("microsoft-bulk", vec!["DMARC_RECORD"]),
                ("yahoo-bulk", vec!["DMARC_RECORD"]),
            ],
        ),
        (
            "not-aligned",
            Send {
                mail_from: "bounce@esp.example",
                tls: true,
                raw: signed(&good("not-aligned", true), "esp.example"),
            },
            vec![
                ("gmail-bulk", vec!["DMARC_ALIGNED"]),
                ("microsoft-bulk", vec!["DMARC_ALIGNED"]),
                ("yahoo-bulk", vec!["DMARC_ALIGNED"]),
            ],
        ),
        (
            "no-one-click",
            Send {
                mail_from: "news@good.example",
                tls: true,
                raw: signed(&good("no-one-click", false), "good.example"),
            },
            vec![
                ("gmail-bulk", vec!["ONE_CLICK_UNSUBSCRIBE"]),
                ("yahoo-bulk", vec!["ONE_CLICK_UNSUBSCRIBE"]),
            ],
        ),
        (
            "plaintext",
            Send {
                mail_from: "news@good.example",
                tls: false,
                raw: signed(&good("plaintext", true), "good.example"),
            },
            vec![
                ("gmail", vec!["TLS"]),
                ("gmail-bulk", vec!["TLS"]),
                ("yahoo", vec!["TLS"]),
                ("yahoo-bulk", vec!["TLS"]),
            ],
        ),
        (
            "gmail-from",
            Send {
                mail_from: "news@good.example",
                tls: true,
                raw: signed(
                    &newsletter("gmail-from", "someone@gmail.com", true),
                    "good.example",
                ),
            },
            vec![
                // Not aligned either: the From domain is gmail.com.
                ("gmail", vec!["NO_PROVIDER_FROM"]),
                (
                    "gmail-bulk",
                    vec!["NO_PROVIDER_FROM", "DMARC_RECORD", "DMARC_ALIGNED"],
                ),
                ("microsoft-bulk", vec!["DMARC_RECORD", "DMARC_ALIGNED"]),
                ("yahoo-bulk", vec!["DMARC_RECORD", "DMARC_ALIGNED"]),
            ],
        ),
    ];
    for (id, send, expected) in &cases {
        let report = deliver(&server, id, send);
        let mut not_ready: Vec<(String, Vec<String>)> = verdicts(&report)
            .into_iter()
            .filter(|(_, (verdict, _))| verdict != "ready")
            .map(|(key, (verdict, failing))| {
                assert_eq!(verdict, "not_ready", "{id} {key}: {report:#}");
                (key, failing)
            })
            .collect();
        not_ready.sort();
        let expected: Vec<(String, Vec<String>)> = expected
            .iter()
            .map(|(k, f)| (k.to_string(), f.iter().map(|s| s.to_string()).collect()))
            .collect();
        assert_eq!(not_ready, expected, "{id}: {:#}", report["readiness"]);

        // The gate: not ready exits 1 and says why; ready exits 0.
        for key in KEYS {
            let (code, out) = wait_require(&server, id, key);
            match expected.iter().find(|(k, _)| k == key) {
                Some((_, failing)) => {
                    assert_eq!(code, 1, "{id} --require {key}: {out}");
                    let line = format!("{key}: not ready ({}) [required]", failing.join(", "));
                    assert!(out.contains(&line), "{id}: no {line:?} in {out}");
                }
                None => assert_eq!(code, 0, "{id} --require {key}: {out}"),
            }
        }
    }

    // The page names the failing requirement in the page's language.
    let (_, en) = server.get("/tests/no-one-click");
    let table = readiness_table(&en);
    assert!(table.contains("✖</span> Not ready"), "{table}");
    assert!(
        table.contains(
            "Not met: Marketing mail offers one-click unsubscribe (RFC 8058), DKIM-signed"
        ),
        "{table}"
    );
    let (_, ja) = server.get("/tests/no-one-click?lang=ja");
    let table = readiness_table(&ja);
    assert!(
        table.contains("未対応") && table.contains("満たしていない要件"),
        "{table}"
    );
    assert!(
        table.contains("ワンクリック配信停止（RFC 8058）"),
        "{table}"
    );

    // A gate the report has no verdict for is a usage error, not a pass.
    let (code, out) = wait_require(&server, "no-one-click", "microsoft");
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("microsoft-bulk"), "{out}");
}

/// The readiness table of a score page.
fn readiness_table(page: &str) -> &str {
    let start = page
        .find("<table class=\"readiness\">")
        .unwrap_or_else(|| panic!("no readiness table: {page}"));
    let end = start + page[start..].find("</table>").unwrap();
    &page[start..end]
}
