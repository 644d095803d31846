//! The JIPDEC study's 72 sending addresses, rebuilt so that a survey of
//! their mail must print the study's published tables: each sender a domain
//! of its own on the test DNS server (SPF, DKIM key, `_dmarc`, A and PTR of
//! its mail host 192.0.2.n) and real messages (DKIM-signed with the
//! committed RSA test key, S/MIME-signed by the `openssl` command).
//!
//! | group | combination (set)     | senders | what else                                   |
//! |-------|-----------------------|---------|---------------------------------------------|
//! | a     | SPF + DKIM            | 30      | DMARC: 17 none, 7 tag errors, 6 refused rua |
//! | b     | SPF                   | 21      | DKIM: 1 body altered; DMARC: 15/3/3         |
//! | c     | S/MIME + SPF          | 12      | DMARC: 6 none, 3 tag errors, 3 refused rua  |
//! | d     | SPF + DKIM + DMARC    | 6       | rua: none, own domain, authorised external  |
//! | e     | SPF + DMARC           | 1       | DKIM: key revoked (`p=`)                     |
//! | f     | DKIM                  | 1       | no SPF; DMARC `pct=150`; outside go.jp       |
//! | g     | none                  | 1       | SPF syntax error, DKIM key cut at 255 bytes, refused rua |
//!
//! a30 and f01 are outside `go.jp`. No state depends on the connecting IP:
//! "set" SPF is a valid record (pass or fail), DMARC a usable record
//! (pass or fail), DKIM a signature that verifies, S/MIME one that verifies
//! (trusted or not). So the same messages give the same grid as archive
//! entries ([`StudySender::archived`], from 192.0.2.n) and as SMTP DATA
//! from 127.0.0.1.
#![allow(dead_code)]

use super::dkim::{rsa_key_record, rsa_signed, split_255};
use super::dns::Zone;
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

/// The archive's receiving server, named in each `Received:` field.
pub const RECEIVER: &str = "mx.study.test";
/// Every sender's DKIM selector.
pub const SELECTOR: &str = "study2025";
/// A shared sending service whose SPF record several senders include.
const RELAY_SPF: &str = "_spf.haishin-relay.example";
/// An aggregate-report service: it accepts reports for the d senders that
/// use it (RFC 7489 §7.1 authorisation records), for nobody else.
const AGGREGATOR: &str = "dmarc-watch.example";
/// An auditor's mailbox in another organisation that accepts no reports.
const AUDITOR: &str = "kansa.example.net";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spf {
    /// `v=spf1 ip4:192.0.2.n -all`
    Ip4,
    /// `v=spf1 a:mail.<domain> -all`
    A,
    /// `v=spf1 include:_spf.haishin-relay.example ~all`
    Include,
    /// No SPF record (a site-verification TXT only).
    NotSet,
    /// A record with an unknown mechanism (`inclde:`): permerror.
    SyntaxError,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dkim {
    Signed,
    /// Not signed (some of these domains publish a key all the same).
    NotSigned,
    /// Signed, then a footer appended: body hash mismatch.
    BodyAltered,
    /// Signed, the key record revoked (`p=` empty).
    RevokedKey,
    /// Signed, the key record published as its first 255 bytes only (the
    /// classic TXT-splitting mistake): the signature does not verify.
    TruncatedKey,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rua {
    None,
    /// `rua=mailto:` in the sender's own domain.
    Own,
    /// At the aggregator, which publishes the authorisation record.
    Authorised,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dmarc {
    NotSet,
    Set(Rua),
    /// A record with a tag error ([`TAG_ERRORS`], `{d}` is the domain).
    TagError(&'static str),
    /// Two `v=DMARC1` records: permerror.
    TwoRecords,
    /// `rua=mailto:` at another organisation that does not publish
    /// `<domain>._report._dmarc.<destination>`.
    RuaRefused(&'static str),
}

/// The "deficient" DMARC records of the study, one tag wrong in each.
pub const TAG_ERRORS: [&str; 8] = [
    "v=DMARC1; p=reject; pct=150",
    "v=DMARC1; p=quarantne; rua=mailto:dmarc@{d}",
    "v=DMARC1; p=none; rua=dmarc@{d}",
    "v=DMARC1; p=none; adkim=x",
    "v=DMARC1; p=reject; sp=rejct",
    "v=DMARC1; p=none; rua=https://{d}/dmarc",
    "v=DMARC1; p=quarantine; pct=50%",
    "v=DMARC1; p=none; ri=daily",
];

/// One sending address of the study and its mail.
#[derive(Debug, Clone)]
pub struct StudySender {
    /// Its place in the study (0..72); the mail host is 192.0.2.(index+1).
    pub index: usize,
    /// `a01`…: the group letter and number (see the module's table).
    pub label: String,
    /// The From address, lower case (the survey's row key).
    pub from: String,
    pub domain: String,
    /// The address its mail host has (A of `mail.<domain>`, with PTR).
    pub ip: Ipv4Addr,
    pub smime: bool,
    pub spf: Spf,
    pub dkim: Dkim,
    pub dmarc: Dmarc,
    /// Whether an earlier message had other states than the latest.
    pub changes: bool,
    /// Raw RFC 5322 messages, CRLF, oldest first, without `Received:` or
    /// `Return-Path:`: SMTP DATA as is, archive entries with
    /// [`StudySender::archived`].
    pub messages: Vec<Vec<u8>>,
}

impl StudySender {
    /// The states the survey must give the latest message, in the survey's
    /// words and order: S/MIME, SPF, DKIM, DMARC.
    pub fn expected(&self) -> [&'static str; 4] {
        let smime = if self.smime { "set" } else { "not_set" };
        let spf = match self.spf {
            Spf::NotSet => "not_set",
            Spf::SyntaxError => "misconfigured",
            Spf::Ip4 | Spf::A | Spf::Include => "set",
        };
        let dkim = match self.dkim {
            Dkim::Signed => "set",
            Dkim::NotSigned => "not_set",
            Dkim::BodyAltered | Dkim::RevokedKey | Dkim::TruncatedKey => "misconfigured",
        };
        let dmarc = match self.dmarc {
            Dmarc::NotSet => "not_set",
            Dmarc::Set(_) => "set",
            Dmarc::TagError(_) | Dmarc::TwoRecords | Dmarc::RuaRefused(_) => "misconfigured",
        };
        [smime, spf, dkim, dmarc]
    }

    /// Message `n` as the archive's server `receiver` stored it: received
    /// over TLS from `mail.<domain>` [192.0.2.n], MAIL FROM the sender.
    pub fn archived(&self, n: usize, receiver: &str) -> Vec<u8> {
        let domain = &self.domain;
        let mut raw = format!(
            "Return-Path: <{}>\r\nReceived: from mail.{domain} (mail.{domain} [{}]) \
             by {receiver} with ESMTPS id S{}N{n}; {}\r\n",
            self.from,
            self.ip,
            self.index,
            date(n, self.index)
        )
        .into_bytes();
        raw.extend_from_slice(&self.messages[n]);
        raw
    }
}

/// What each sender is made of, without its messages.
struct Plan {
    index: usize,
    label: String,
    local: &'static str,
    domain: String,
    smime: bool,
    spf: Spf,
    dkim: Dkim,
    dmarc: Dmarc,
}

impl Plan {
    fn ip(&self) -> Ipv4Addr {
        Ipv4Addr::new(192, 0, 2, self.index as u8 + 1)
    }
}

fn plan() -> Vec<Plan> {
    const LOCALS: [&str; 6] = ["info", "news", "kouhou", "mailmag", "no-reply", "oshirase"];
    const SPF_SET: [Spf; 3] = [Spf::Ip4, Spf::A, Spf::Include];
    let mut tag_errors = TAG_ERRORS.iter().cycle();
    let mut tag_error = move || Dmarc::TagError(tag_errors.next().unwrap());
    let refused = |i: usize| {
        Dmarc::RuaRefused(if i.is_multiple_of(2) {
            AGGREGATOR
        } else {
            AUDITOR
        })
    };
    let mut plans = Vec::new();
    let mut add = |group: char, n: usize, smime: bool, spf: Spf, dkim: Dkim, dmarc: Dmarc| {
        let index = plans.len();
        let label = format!("{group}{n:02}");
        let domain = match label.as_str() {
            "a30" => "kouhou.example".to_string(),
            "f01" => "haishin.example".to_string(),
            _ => format!("{label}.go.jp"),
        };
        plans.push(Plan {
            index,
            label,
            local: LOCALS[index % LOCALS.len()],
            domain,
            smime,
            spf,
            dkim,
            dmarc,
        });
    };
    // a: SPF + DKIM. DMARC 17 not set, 7 tag errors, 6 refused rua.
    for i in 0..30 {
        let dmarc = match i {
            0..17 => Dmarc::NotSet,
            17..23 => tag_error(),
            23 => Dmarc::TwoRecords,
            _ => refused(i),
        };
        add('a', i + 1, false, SPF_SET[i % 3], Dkim::Signed, dmarc);
    }
    // b: SPF only. One signature broken by a footer. DMARC 15/3/3.
    for i in 0..21 {
        let dkim = if i == 20 {
            Dkim::BodyAltered
        } else {
            Dkim::NotSigned
        };
        let dmarc = match i {
            0..15 => Dmarc::NotSet,
            15..18 => tag_error(),
            _ => refused(i),
        };
        add('b', i + 1, false, SPF_SET[i % 3], dkim, dmarc);
    }
    // c: S/MIME + SPF. DMARC 6/3/3.
    for i in 0..12 {
        let dmarc = match i {
            0..6 => Dmarc::NotSet,
            6..9 => tag_error(),
            _ => refused(i),
        };
        add('c', i + 1, true, SPF_SET[i % 3], Dkim::NotSigned, dmarc);
    }
    // d: SPF + DKIM + DMARC, reports nowhere, home, or to an aggregator
    // that accepts them.
    for i in 0..6 {
        let rua = [Rua::None, Rua::Own, Rua::Authorised][i % 3];
        add(
            'd',
            i + 1,
            false,
            SPF_SET[i % 3],
            Dkim::Signed,
            Dmarc::Set(rua),
        );
    }
    add(
        'e',
        1,
        false,
        Spf::Ip4,
        Dkim::RevokedKey,
        Dmarc::Set(Rua::Own),
    );
    add(
        'f',
        1,
        false,
        Spf::NotSet,
        Dkim::Signed,
        Dmarc::TagError(TAG_ERRORS[0]),
    );
    add(
        'g',
        1,
        false,
        Spf::SyntaxError,
        Dkim::TruncatedKey,
        Dmarc::RuaRefused(AGGREGATOR),
    );
    plans
}

/// The records of all 72 senders, the relay's SPF and the aggregator's
/// authorisations, for one [`super::dns::TestDns`].
pub fn zone() -> Zone {
    let key = rsa_key_record();
    let mut zone = Zone::new()
        .txt(RELAY_SPF, &["v=spf1 ip4:192.0.2.0/24 -all"])
        .txt(&format!("_dmarc.{AGGREGATOR}"), &["v=DMARC1; p=reject"])
        .txt(&format!("_dmarc.{AUDITOR}"), &["v=DMARC1; p=none"]);
    for p in plan() {
        let (d, ip) = (p.domain.as_str(), p.ip());
        let host = format!("mail.{d}");
        zone = zone.a(&host, ip).ptr(IpAddr::V4(ip), &host);
        let spf = match p.spf {
            Spf::Ip4 => format!("v=spf1 ip4:{ip} -all"),
            Spf::A => format!("v=spf1 a:{host} -all"),
            Spf::Include => format!("v=spf1 include:{RELAY_SPF} ~all"),
            Spf::NotSet => format!("site-verification={}", p.label),
            Spf::SyntaxError => format!("v=spf1 ip4:{ip} inclde:{RELAY_SPF} -all"),
        };
        zone = zone.txt(d, &[&spf]);
        let key_name = format!("{SELECTOR}._domainkey.{d}");
        zone = match p.dkim {
            Dkim::Signed | Dkim::BodyAltered => zone.txt(&key_name, &split_255(&key)),
            // A key left published from an earlier set-up, or none.
            Dkim::NotSigned if p.index.is_multiple_of(2) => zone.txt(&key_name, &split_255(&key)),
            Dkim::NotSigned => zone,
            Dkim::RevokedKey => zone.txt(&key_name, &["v=DKIM1; k=rsa; p="]),
            Dkim::TruncatedKey => zone.txt(&key_name, &[split_255(&key)[0]]),
        };
        let dmarc_name = format!("_dmarc.{d}");
        zone = match p.dmarc {
            Dmarc::NotSet => zone,
            Dmarc::Set(Rua::None) => zone.txt(&dmarc_name, &["v=DMARC1; p=quarantine"]),
            Dmarc::Set(Rua::Own) => zone.txt(
                &dmarc_name,
                &[&format!("v=DMARC1; p=reject; rua=mailto:dmarc@{d}")],
            ),
            Dmarc::Set(Rua::Authorised) => zone
                .txt(
                    &dmarc_name,
                    &[&format!(
                        "v=DMARC1; p=none; rua=mailto:{}@{AGGREGATOR}",
                        p.label
                    )],
                )
                .txt(&format!("{d}._report._dmarc.{AGGREGATOR}"), &["v=DMARC1"]),
            Dmarc::TagError(record) => zone.txt(&dmarc_name, &[&record.replace("{d}", d)]),
            Dmarc::TwoRecords => zone
                .txt(&dmarc_name, &["v=DMARC1; p=none"])
                .txt(&dmarc_name, &["v=DMARC1; p=reject"]),
            Dmarc::RuaRefused(destination) => zone.txt(
                &dmarc_name,
                &[&format!(
                    "v=DMARC1; p=none; rua=mailto:{}@{destination}",
                    p.label
                )],
            ),
        };
    }
    zone
}

/// The 72 senders with their messages (built once per test binary: the
/// S/MIME signatures take a few `openssl` runs).
pub fn senders() -> Vec<StudySender> {
    corpus().senders.clone()
}

/// The PEM of the CA that issued the S/MIME signer certificate: with it as
/// a trust anchor (`--smime-ca`) the signatures are trusted, without it
/// untrusted; both are S/MIME "set".
pub fn smime_ca_pem() -> Vec<u8> {
    corpus().smime_ca.clone()
}

struct Corpus {
    senders: Vec<StudySender>,
    smime_ca: Vec<u8>,
}

fn corpus() -> &'static Corpus {
    static CORPUS: OnceLock<Corpus> = OnceLock::new();
    CORPUS.get_or_init(build)
}

/// How many messages each sender has (1 unless listed), and the senders
/// whose first message was not DKIM-signed yet.
const MESSAGES: [(&str, usize); 4] = [("a01", 3), ("a02", 2), ("a03", 2), ("c01", 2)];
const SIGNED_LATER: &str = "a03";
/// The sender whose second message writes its From address in mixed case.
const MIXED_CASE: &str = "a02";
/// Senders whose (only) message has body lines starting with `From `,
/// which an mbox must quote (`>From `) and its reader unquote.
const FROM_LINES: [&str; 2] = ["a04", "c02"];

fn build() -> Corpus {
    let plans = plan();
    let smime: Vec<String> = plans
        .iter()
        .filter(|p| p.smime)
        .map(|p| format!("{}@{}", p.local, p.domain))
        .collect();
    let pki = Pki::create(&smime);
    let senders = plans
        .iter()
        .map(|p| {
            let from = format!("{}@{}", p.local, p.domain);
            let count = MESSAGES
                .iter()
                .find(|(label, _)| *label == p.label)
                .map_or(1, |(_, n)| *n);
            let messages = (0..count).map(|n| message(p, n, &pki)).collect();
            StudySender {
                index: p.index,
                label: p.label.clone(),
                from,
                domain: p.domain.clone(),
                ip: p.ip(),
                smime: p.smime,
                spf: p.spf,
                dkim: p.dkim,
                dmarc: p.dmarc,
                changes: p.label == SIGNED_LATER,
                messages,
            }
        })
        .collect();
    let smime_ca = std::fs::read(pki.dir.join("ca.pem")).unwrap();
    std::fs::remove_dir_all(&pki.dir).ok();
    Corpus { senders, smime_ca }
}

/// Message `n` of sender `p`, signed as its plan says.
fn message(p: &Plan, n: usize, pki: &Pki) -> Vec<u8> {
    let domain = &p.domain;
    let from = if p.label == MIXED_CASE && n == 1 {
        let local = p.local[..1].to_uppercase() + &p.local[1..];
        format!("{local}@{}", domain.to_uppercase())
    } else {
        format!("{}@{domain}", p.local)
    };
    let headers = format!(
        "From: \"{label} public relations\" <{from}>\r\nTo: reader@study.test\r\n\
         Subject: {label} newsletter no. {number}\r\nDate: {date}\r\n\
         Message-ID: <{label}.{n}.study@{domain}>\r\n",
        label = p.label.to_uppercase(),
        number = n + 1,
        date = date(n, p.index),
    );
    let mut body = format!(
        "Dear reader,\r\n\r\nthis is issue {} of the {} newsletter.\r\n",
        n + 1,
        p.label
    );
    if FROM_LINES.contains(&p.label.as_str()) {
        body.push_str("From the editor: an mbox quotes this line.\r\n>From here, twice.\r\n");
    }
    body.push_str("\r\nRegards,\r\nthe public relations office\r\n");
    if p.smime {
        let mut raw = headers.into_bytes();
        raw.extend_from_slice(&pki.sign(&body, &format!("{}-{n}", p.label)));
        return crlf(&raw);
    }
    let text = format!(
        "{headers}MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n{body}"
    );
    let unsigned_yet = p.label == SIGNED_LATER && n == 0;
    match p.dkim {
        Dkim::NotSigned => text.into_bytes(),
        Dkim::Signed if unsigned_yet => text.into_bytes(),
        Dkim::Signed | Dkim::RevokedKey | Dkim::TruncatedKey => {
            rsa_signed(&text, &p.domain, SELECTOR)
        }
        Dkim::BodyAltered => {
            let mut raw = rsa_signed(&text, &p.domain, SELECTOR);
            raw.extend_from_slice(b"--\r\nSent through the ministry's list server.\r\n");
            raw
        }
    }
}

/// The date of message `n` of sender `index`: each round of issues an
/// hour after the previous one.
fn date(n: usize, index: usize) -> String {
    format!(
        "Tue, 25 Nov 2025 {:02}:{:02}:00 +0900",
        9 + n + index / 60,
        index % 60
    )
}

/// The senders' messages as one mbox (mboxrd): a `From ` line before each
/// message, a blank line after it, and every line that starts with
/// `From ` (after any `>`) given one more `>`. Messages are archived in
/// rounds (every sender's first message, then the second ones…), so one
/// sender's messages are far apart, the latest last.
pub fn mbox(senders: &[StudySender], receiver: &str) -> Vec<u8> {
    let rounds = senders.iter().map(|s| s.messages.len()).max().unwrap_or(0);
    let mut out = Vec::new();
    for n in 0..rounds {
        for sender in senders.iter().filter(|s| n < s.messages.len()) {
            out.extend_from_slice(
                format!(
                    "From {} Tue Nov 25 {:02}:{:02}:00 2025\n",
                    sender.from,
                    9 + n + sender.index / 60,
                    sender.index % 60
                )
                .as_bytes(),
            );
            for line in sender
                .archived(n, receiver)
                .split_inclusive(|b| *b == b'\n')
            {
                let quotes = line.iter().take_while(|b| **b == b'>').count();
                if line[quotes..].starts_with(b"From ") {
                    out.push(b'>');
                }
                out.extend_from_slice(line);
            }
            out.push(b'\n');
        }
    }
    out
}

/// A test CA and one signer certificate (EC P-256, fast to make and use)
/// naming every S/MIME sender's address, in a directory of their own.
struct Pki {
    dir: std::path::PathBuf,
}

impl Pki {
    fn create(addresses: &[String]) -> Pki {
        let dir = std::env::temp_dir().join(format!(
            "mailscore-study-{}-{}",
            std::process::id(),
            mailscore::test_id::generate()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let sans: Vec<String> = addresses.iter().map(|a| format!("email:{a}")).collect();
        std::fs::write(
            dir.join("signer.ext"),
            format!(
                "basicConstraints = CA:FALSE\nkeyUsage = digitalSignature, nonRepudiation\n\
                 extendedKeyUsage = emailProtection\nsubjectAltName = {}\n",
                sans.join(",")
            ),
        )
        .unwrap();
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];
        openssl(
            &dir,
            &[
                &["req", "-x509", "-nodes", "-days", "3650"][..],
                &ec,
                &["-keyout", "ca.key", "-out", "ca.pem"],
                &["-subj", "/O=mailscore study/CN=Study test CA"],
            ]
            .concat(),
        );
        openssl(
            &dir,
            &[
                &["req", "-new", "-nodes"][..],
                &ec,
                &["-keyout", "signer.key", "-out", "signer.csr"],
                &["-subj", "/O=mailscore study/CN=Public relations"],
            ]
            .concat(),
        );
        openssl(
            &dir,
            &[
                "x509",
                "-req",
                "-in",
                "signer.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "825",
                "-extfile",
                "signer.ext",
                "-out",
                "signer.pem",
            ],
        );
        Pki { dir }
    }

    /// `openssl smime -sign -text` of `body`: the MIME-Version and
    /// multipart/signed entity a mail client puts under its headers.
    fn sign(&self, body: &str, name: &str) -> Vec<u8> {
        let file = format!("{name}.txt");
        std::fs::write(self.dir.join(&file), body).unwrap();
        openssl(
            &self.dir,
            &[
                "smime",
                "-sign",
                "-text",
                "-in",
                &file,
                "-signer",
                "signer.pem",
                "-inkey",
                "signer.key",
            ],
        )
    }
}

fn openssl(dir: &Path, args: &[&str]) -> Vec<u8> {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the openssl command line is installed");
    assert!(
        out.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Bare LF line ends made CRLF, as SMTP carries them.
fn crlf(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + bytes.len() / 16);
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'\n' && (i == 0 || bytes[i - 1] != b'\r') {
            out.push(b'\r');
        }
        out.push(b);
    }
    out
}
