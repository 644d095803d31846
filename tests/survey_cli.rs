//! `mailscore survey` on the archive shapes a researcher has: a Maildir and
//! a directory of `.eml` files, with a file that is not mail; with and
//! without `--received-by`, to a file with `--out`, and compared with an
//! earlier survey (`--compare`). Real DNS on loopback, real DKIM.

mod support;

use serde_json::Value;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use support::dkim::{rsa_key_record, rsa_signed, split_255};
use support::dns::{TestDns, Zone};
use support::survey::{row, temp_dir};

const RECEIVER: &str = "mx.archive.test";

/// good.go.jp: SPF, DKIM, DMARC. plain.go.jp: SPF only. away.example: nothing.
fn zone() -> Zone {
    Zone::new()
        .txt("good.go.jp", &["v=spf1 ip4:192.0.2.25 -all"])
        .txt("sel1._domainkey.good.go.jp", &split_255(&rsa_key_record()))
        .txt(
            "_dmarc.good.go.jp",
            &["v=DMARC1; p=reject; rua=mailto:d@good.go.jp"],
        )
        .txt("plain.go.jp", &["v=spf1 ip4:192.0.2.25 -all"])
        .a("mail.good.go.jp", Ipv4Addr::new(192, 0, 2, 25))
        .ptr("192.0.2.25".parse().unwrap(), "mail.good.go.jp")
}

/// A message as the archive's server received it from 192.0.2.25 over TLS.
fn message(from: &str, n: usize) -> String {
    let domain = from.rsplit_once('@').unwrap().1;
    format!(
        "From: {from}\r\nTo: reader@archive.test\r\nSubject: issue {n}\r\n\
         Date: Tue, 25 Nov 2025 10:0{n}:00 +0000\r\nMessage-ID: <{n}.{}@{domain}>\r\n\r\nIssue {n}.\r\n",
        mailscore::test_id::generate()
    )
}

fn received(from: &str, body: &[u8]) -> Vec<u8> {
    let mut raw = format!(
        "Return-Path: <{from}>\r\nReceived: from mail.good.go.jp (mail.good.go.jp [192.0.2.25]) \
         by {RECEIVER} with ESMTPS id 1; Tue, 25 Nov 2025 10:00:00 +0000\r\n"
    )
    .into_bytes();
    raw.extend_from_slice(body);
    raw
}

/// A Maildir with good.go.jp (two issues, signed) and plain.go.jp, and a
/// directory of .eml with away.example and a file that is not mail.
fn archive(dir: &Path) -> Vec<PathBuf> {
    let maildir = dir.join("Maildir");
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(maildir.join(sub)).unwrap();
    }
    for n in 1..=2 {
        let signed = rsa_signed(&message("news@good.go.jp", n), "good.go.jp", "sel1");
        std::fs::write(
            maildir.join(format!("cur/{n}.host:2,S")),
            received("news@good.go.jp", &signed),
        )
        .unwrap();
    }
    let plain = received(
        "info@plain.go.jp",
        message("Info@Plain.go.jp", 3).as_bytes(),
    );
    std::fs::write(maildir.join("new/3.host"), plain).unwrap();
    let eml = dir.join("eml");
    std::fs::create_dir_all(&eml).unwrap();
    let away = received("a@away.example", message("a@away.example", 4).as_bytes());
    std::fs::write(eml.join("away.eml"), away).unwrap();
    std::fs::write(eml.join("notes.txt"), "\n\nnot a message at all\n").unwrap();
    vec![maildir, eml]
}

fn survey(dns: &TestDns, paths: &[PathBuf], extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mailscore"))
        .arg("survey")
        .args(paths)
        .args(["--dns", &dns.addr.to_string(), "--dns-timeout", "2"])
        .args(extra)
        .output()
        .unwrap()
}

fn json(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

#[test]
fn a_maildir_and_eml_files_are_surveyed_per_sender() {
    let dns = TestDns::start(zone());
    let dir = temp_dir("survey");
    let paths = archive(&dir);
    let out = survey(
        &dns,
        &paths,
        &["--received-by", RECEIVER, "--expect-domain", "go.jp"],
    );
    let tables = json(&out);
    assert_eq!(tables["senders"], 3, "{tables:#}");
    assert_eq!(tables["messages"], 4);
    assert_eq!(tables["skipped"], 1, "the text file is counted as skipped");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("notes.txt"),
        "a warning names it"
    );

    let good = row(&tables, "news@good.go.jp");
    assert_eq!(good["messages"], 2);
    assert_eq!(
        (&good["spf"], &good["dkim"], &good["dmarc"]),
        (&"set".into(), &"set".into(), &"set".into())
    );
    assert_eq!(good["smime"], "not_set");
    assert_eq!(good["tls_receive"], true, "ESMTPS in the receiver's header");
    assert_eq!(good["rdns"], true, "{good:#}");
    // The From address is lower-cased: one sender, however it is written.
    let plain = row(&tables, "info@plain.go.jp");
    assert_eq!(
        (&plain["spf"], &plain["dkim"], &plain["dmarc"]),
        (&"set".into(), &"not_set".into(), &"not_set".into())
    );
    let away = row(&tables, "a@away.example");
    assert_eq!(away["spf"], "not_set");

    let spf = &tables["mechanisms"]["spf"];
    assert_eq!(
        (spf["set"].as_u64(), spf["not_set"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(spf["set_percent"], 66.7);
    assert_eq!(tables["mechanisms"]["dkim"]["set_percent"], 33.3);
    assert_eq!(tables["spf_dkim"]["both_ok"], 1);
    assert_eq!(tables["spf_dkim"]["one_ok"], 1);
    assert_eq!(tables["tls_receive"]["yes"], 3);
    // The senders' MX are not public addresses: never probed, not guessed.
    assert_eq!(tables["tls_send"]["not_checked"], 3);
    assert_eq!(tables["outside_expected_domain"]["count"], 1);
    assert_eq!(
        tables["outside_expected_domain"]["rows"][0],
        "a@away.example"
    );
    let total: u64 = tables["combinations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["count"].as_u64().unwrap())
        .sum();
    assert_eq!(total, 3);

    // --out writes the same tables to a file and prints nothing; --compare
    // sets every figure beside the earlier survey's.
    let earlier = dir.join("earlier.json");
    let out = survey(
        &dns,
        &paths[..1],
        &[
            "--received-by",
            RECEIVER,
            "--out",
            earlier.to_str().unwrap(),
        ],
    );
    assert!(out.status.success() && out.stdout.is_empty());
    let before: Value = serde_json::from_slice(&std::fs::read(&earlier).unwrap()).unwrap();
    assert_eq!(before["senders"], 2);
    let compared = json(&survey(
        &dns,
        &paths,
        &[
            "--received-by",
            RECEIVER,
            "--compare",
            earlier.to_str().unwrap(),
        ],
    ));
    let change = &compared["compare"]["mechanisms.spf.set_percent"];
    assert_eq!(
        (change["before"].as_f64(), change["now"].as_f64()),
        (Some(100.0), Some(66.7))
    );
    assert_eq!(change["change"], -33.3);
    assert_eq!(compared["compare"]["senders"]["change"], 1.0);
    std::fs::remove_dir_all(dir).ok();
}

/// Without `--received-by` the archive does not say where the mail came
/// from: the IP-based figures are not checked, never guessed; the four
/// mechanisms still are.
#[test]
fn without_the_receiving_host_ip_based_figures_are_not_checked() {
    let dns = TestDns::start(zone());
    let dir = temp_dir("survey");
    let paths = archive(&dir);
    let tables = json(&survey(&dns, &paths, &[]));
    let good = row(&tables, "news@good.go.jp");
    assert_eq!(good["dkim"], "set");
    assert_eq!(good["dmarc"], "set");
    for unknown in ["tls_receive", "rdns", "spf_ok", "listed"] {
        assert_eq!(good[unknown], Value::Null, "{unknown}: {good:#}");
    }
    assert_eq!(good["grade"], "not_checked");
    assert_eq!(tables["tls_receive"]["not_checked"], 3);
    assert_eq!(tables["rdns"]["not_checked"], 3);
    assert_eq!(tables["grades"]["not_checked"], 3);

    let csv = survey(&dns, &paths, &["--format", "csv"]);
    let text = String::from_utf8(csv.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("from,label,messages,"), "{text}");
    assert_eq!(lines.len(), 4, "{text}");
    assert!(
        lines.iter().any(|l| l.starts_with("news@good.go.jp,,2,")),
        "{text}"
    );
    std::fs::remove_dir_all(dir).ok();
}
