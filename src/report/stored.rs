//! How a report is stored: whole, except for its deductions' explanations.
//!
//! A deduction's title and advice come from the rule table, in English and
//! Japanese, and are the same in every report the rule hits: 4.8 KB of an
//! 8 KB report. sled rewrites a leaf of 16 values whole every few updates,
//! so each stored byte was written about seven times. Each explanation is
//! therefore stored once, under a hash of its own text (not of the rule id),
//! and a report names the hash: it keeps the explanation it was scored with
//! after the rule table is edited. Reading puts the texts back in, so the
//! JSON served is the report as [`Report`] serialises it.
//!
//! The probe of the sender's servers is kept the same way: one probe
//! answers every report of that sender for ten minutes, and its ~1.5 KB
//! stored in each of them cost 12 % of ingest (measured: 20 sessions,
//! 39-40 % of smtp-sink against 45-51 % without). A report with a probe is
//! stored with the probe's place in its head and the hash of its JSON.

use super::Report;
use super::compressed;
use crate::checks::mail_server::{MailServerFinding, ProbeStatus};
use crate::fnv::Fnv;
use crate::score::{Deduction, Text};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::hash::Hasher;
use std::sync::{Arc, Mutex, PoisonError};

/// Marks the stored form. A report stored whole, as before, starts with `{`.
const TAG: u8 = 0x01;
/// The stored form with the probe of the sender's servers kept apart:
/// after the head's length, where the probe goes in the head (u32) and
/// the hash of its JSON (u64).
const TAG_SERVERS: u8 = 0x02;

/// The newest stored form this build writes and reads: its first byte
/// is the format (a report stored whole, format 0, starts with `{`).
/// Format 3 is format 1 or 2 compressed ([`compressed`]).
pub const FORMAT: u8 = compressed::TAG;

/// The first bytes a later build may give its own stored forms.
const NEWER: std::ops::RangeInclusive<u8> = 0x04..=0x1f;

/// The format of a report a newer build stored, which this one must
/// leave alone.
pub fn newer_format(stored: &[u8]) -> Option<u8> {
    stored.first().copied().filter(|tag| NEWER.contains(tag))
}

/// The texts `stored` names: its deductions' explanations and the probe's
/// JSON. A report stored whole (format 0) names none.
pub fn referenced_texts(stored: &[u8]) -> Vec<u64> {
    match compressed::unpack(stored) {
        Ok(inner) if inner.first() != Some(&compressed::TAG) => texts_named(&inner),
        // Unreadable: it names nothing this build can see.
        _ => Vec::new(),
    }
}

/// The stored form inside `stored`, uncompressed (as it is if it was not
/// compressed).
pub fn uncompressed(stored: &[u8]) -> Result<std::borrow::Cow<'_, [u8]>, String> {
    compressed::unpack(stored)
}

/// [`referenced_texts`] of a stored form not compressed.
fn texts_named(stored: &[u8]) -> Vec<u64> {
    let mut hashes = Vec::new();
    let Some((&tag, rest)) = stored.split_first() else {
        return hashes;
    };
    if tag != TAG && tag != TAG_SERVERS {
        return hashes;
    }
    let Some((len, mut rest)) = rest.split_first_chunk::<4>() else {
        return hashes;
    };
    if tag == TAG_SERVERS {
        let Some((hash, after)) = rest.get(4..).and_then(|r| r.split_first_chunk::<8>()) else {
            return hashes;
        };
        hashes.push(u64::from_le_bytes(*hash));
        rest = after;
    }
    let entries = rest
        .get(u32::from_le_bytes(*len) as usize..)
        .unwrap_or_default();
    if let Ok(entries) = serde_json::from_slice::<Vec<Entry>>(entries) {
        hashes.extend(entries.iter().map(|Entry(_, _, _, hash)| *hash));
    }
    hashes
}

/// The end of a report serialised with no deductions: `deductions` is its
/// last field, so the stored head stops just before the list.
const EMPTY_TAIL: &[u8] = b"[]}";

/// Shown when a report names texts the store no longer has.
const MISSING_TEXTS: &str = r#"{"title":{"en":"(explanation not found)","ja":"(説明が見つかりません)"},"advice":{"en":"","ja":""}}"#;

/// A report ready for the store, and the explanations it refers to.
pub struct Stored {
    pub bytes: Vec<u8>,
    deductions: Vec<(u64, Deduction)>,
    servers: Option<ServersText>,
}

/// The probe of the sender's servers as stored: its JSON, once, under its
/// hash.
#[derive(Clone)]
struct ServersText {
    hash: u64,
    json: Arc<[u8]>,
}

impl Stored {
    /// Each explanation the report names, by its hash, as the store keeps
    /// it ([`expand`] reads it back).
    fn texts(&self) -> impl Iterator<Item = (u64, Texts<'_>)> {
        self.deductions.iter().map(|(hash, d)| {
            (
                *hash,
                Texts {
                    title: &d.title,
                    advice: &d.advice,
                },
            )
        })
    }
}

/// The hashes of the texts this process has stored, so that each is
/// written once, not once a report.
#[derive(Default)]
pub struct SavedTexts(Mutex<HashMap<u64, std::time::Instant>>);

/// How long the analysis trusts that a text it saved is still kept:
/// shorter than the retention sweep's interval, so a text the sweep
/// collects (unnamed at two sweeps) is saved again before it is named
/// ([`collect`](super::collect)).
const SAVED_FOR: std::time::Duration = std::time::Duration::from_secs(300);

impl SavedTexts {
    /// The texts of `stored` not saved yet, as the store keeps them: to
    /// store before the report itself.
    pub fn unsaved(&self, stored: &Stored) -> Vec<(u64, Vec<u8>)> {
        let saved = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let fresh = |hash: &u64| saved.get(hash).is_some_and(|at| at.elapsed() < SAVED_FOR);
        let mut unsaved: Vec<(u64, Vec<u8>)> = Vec::new();
        for (hash, texts) in stored.texts() {
            if !fresh(&hash) && unsaved.iter().all(|(h, _)| *h != hash) {
                unsaved.push((hash, texts.to_json()));
            }
        }
        if let Some(servers) = &stored.servers
            && !fresh(&servers.hash)
        {
            unsaved.push((servers.hash, servers.json.to_vec()));
        }
        unsaved
    }

    /// Notes texts the store now has.
    pub fn saved(&self, hashes: impl IntoIterator<Item = u64>) {
        let mut saved = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let now = std::time::Instant::now();
        saved.extend(hashes.into_iter().map(|hash| (hash, now)));
        // Bounded by what was saved lately, not by every probe ever kept.
        if saved.len() > 4096 {
            saved.retain(|_, at| at.elapsed() < SAVED_FOR);
        }
    }
}

/// One deduction's explanation, as stored.
#[derive(Serialize)]
struct Texts<'a> {
    title: &'a Text,
    advice: &'a Text,
}

impl Texts<'_> {
    fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("texts serialise")
    }
}

/// A deduction as stored: rule, check, points, and the hash of its texts.
#[derive(Deserialize)]
struct Entry<'a>(
    #[serde(borrow)] Cow<'a, str>,
    #[serde(borrow)] Cow<'a, str>,
    f64,
    u64,
);

pub fn encode(mut report: Report) -> serde_json::Result<Stored> {
    let deductions: Vec<(u64, Deduction)> = std::mem::take(&mut report.deductions)
        .into_iter()
        .map(|d| (rule_hash(&d.rule, &d.title, &d.advice), d))
        .collect();
    let servers = match report.checks.mail_server.status {
        ProbeStatus::Probed => {
            let text = servers_text(&report.checks.mail_server)?;
            report.checks.mail_server = MailServerFinding::default();
            Some(text)
        }
        _ => None,
    };
    let head = serde_json::to_vec(&report)?;
    let head = head
        .strip_suffix(EMPTY_TAIL)
        .expect("deductions is the report's last field");
    let mut bytes = Vec::with_capacity(17 + head.len() + 48 * deductions.len());
    match &servers {
        None => bytes.push(TAG),
        Some(_) => bytes.push(TAG_SERVERS),
    }
    bytes.extend_from_slice(&(head.len() as u32).to_le_bytes());
    if let Some(servers) = &servers {
        let at = servers_place(head).expect("the probe's place is in the head");
        bytes.extend_from_slice(&(at as u32).to_le_bytes());
        bytes.extend_from_slice(&servers.hash.to_le_bytes());
    }
    bytes.extend_from_slice(head);
    let entries: Vec<(&str, &str, f64, u64)> = deductions
        .iter()
        .map(|(hash, d)| (d.rule.as_str(), d.check.as_str(), d.points, *hash))
        .collect();
    serde_json::to_writer(&mut bytes, &entries)?;
    Ok(Stored {
        bytes: compressed::pack(&bytes).map_err(serde_json::Error::io)?,
        deductions,
        servers,
    })
}

/// `{"status":"not_checked","domains":[]}`: what stands in the head for
/// a probe kept apart.
fn placeholder() -> &'static [u8] {
    static PLACEHOLDER: std::sync::LazyLock<Vec<u8>> = std::sync::LazyLock::new(|| {
        serde_json::to_vec(&MailServerFinding::default()).expect("the default serialises")
    });
    &PLACEHOLDER
}

/// Where the placeholder starts in `head`: the value of `checks`' last
/// field, just before `grade`. Field names and structure are ours: a
/// sender's text is a JSON string, its quotes escaped, so it cannot
/// contain this unescaped sequence.
fn servers_place(head: &[u8]) -> Option<usize> {
    let mut pattern = b"\"mail_server\":".to_vec();
    pattern.extend_from_slice(placeholder());
    pattern.extend_from_slice(b"},\"grade\":");
    // memmem, not a memcmp at each of the head's ~5,000 windows (1 % of
    // the ingest's CPU, measured under a flood).
    memchr::memmem::rfind(head, &pattern).map(|at| at + b"\"mail_server\":".len())
}

/// The probe's JSON and hash; the last few are remembered with their
/// findings, since a flood from one sender repeats one probe: comparing
/// costs less than serialising and hashing again.
fn servers_text(servers: &MailServerFinding) -> serde_json::Result<ServersText> {
    static LAST: Mutex<Vec<(MailServerFinding, ServersText)>> = Mutex::new(Vec::new());
    let mut last = LAST.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some((_, text)) = last.iter().find(|(kept, _)| kept == servers) {
        return Ok(text.clone());
    }
    let json = serde_json::to_vec(servers)?;
    let mut hasher = Fnv::default();
    hasher.write(b"mail_server\xff");
    hasher.write(&json);
    let text = ServersText {
        hash: hasher.finish(),
        json: json.into(),
    };
    if last.len() >= 32 {
        last.remove(0);
    }
    last.push((servers.clone(), text.clone()));
    Ok(text)
}

/// The report's JSON from what the store holds, with each deduction's
/// texts from `texts` (by hash). A report stored whole is returned as is.
pub fn expand(
    stored: Vec<u8>,
    texts: impl Fn(u64) -> Option<Arc<[u8]>>,
) -> Result<Vec<u8>, String> {
    if let Some(format) = newer_format(&stored) {
        return Err(format!(
            "written by a newer mailscore (report format {format}; this one reads up to {FORMAT})"
        ));
    }
    if stored.first() == Some(&compressed::TAG) {
        let inner = compressed::unpack(&stored)?.into_owned();
        if inner.first() == Some(&compressed::TAG) {
            return Err("stored report compressed twice".into());
        }
        return expand_plain(inner, texts);
    }
    expand_plain(stored, texts)
}

/// [`expand`] of a stored form not compressed.
fn expand_plain(
    stored: Vec<u8>,
    texts: impl Fn(u64) -> Option<Arc<[u8]>>,
) -> Result<Vec<u8>, String> {
    let (tag, rest) = match stored.split_first() {
        Some((&tag, rest)) if tag == TAG || tag == TAG_SERVERS => (tag, rest),
        _ => return Ok(stored),
    };
    let (len, rest) = rest
        .split_first_chunk::<4>()
        .ok_or("stored report cut short")?;
    let len = u32::from_le_bytes(*len) as usize;
    let (servers, rest) = if tag == TAG_SERVERS {
        let (at, rest) = rest
            .split_first_chunk::<4>()
            .ok_or("stored report cut short")?;
        let (hash, rest) = rest
            .split_first_chunk::<8>()
            .ok_or("stored report cut short")?;
        (
            Some((u32::from_le_bytes(*at) as usize, u64::from_le_bytes(*hash))),
            rest,
        )
    } else {
        (None, rest)
    };
    if rest.len() < len {
        return Err("stored report cut short".into());
    }
    let (head, entries) = rest.split_at(len);
    let mut json = Vec::with_capacity(head.len() + 2048 + 600 * entries.len() + 3);
    match servers {
        None => json.extend_from_slice(head),
        Some((at, hash)) => {
            let end = at + placeholder().len();
            if head.get(at..end) != Some(placeholder()) {
                return Err("stored report: the probe's place is not where it says".into());
            }
            json.extend_from_slice(&head[..at]);
            // A probe the store lost reads as not checked.
            match texts(hash) {
                Some(found) if found.first() == Some(&b'{') => json.extend_from_slice(&found),
                _ => json.extend_from_slice(placeholder()),
            }
            json.extend_from_slice(&head[end..]);
        }
    }
    let entries: Vec<Entry> =
        serde_json::from_slice(entries).map_err(|e| format!("stored deductions: {e}"))?;
    json.push(b'[');
    for (i, Entry(rule, check, points, hash)) in entries.iter().enumerate() {
        if i > 0 {
            json.push(b',');
        }
        json.extend_from_slice(b"{\"rule\":");
        write_json(&mut json, rule)?;
        json.extend_from_slice(b",\"check\":");
        write_json(&mut json, check)?;
        json.extend_from_slice(b",\"points\":");
        write_json(&mut json, points)?;
        json.push(b',');
        let found = texts(*hash);
        let record = found
            .as_deref()
            .filter(|r| r.len() >= 2 && r[0] == b'{' && r[r.len() - 1] == b'}')
            .unwrap_or(MISSING_TEXTS.as_bytes());
        // The record is an object: its fields go in without its braces.
        json.extend_from_slice(&record[1..record.len() - 1]);
        json.push(b'}');
    }
    json.extend_from_slice(b"]}");
    Ok(json)
}

fn write_json(json: &mut Vec<u8>, value: &impl Serialize) -> Result<(), String> {
    serde_json::to_writer(json, value).map_err(|e| e.to_string())
}

/// The hash of `rule`'s texts. A rule's texts are the same in every report
/// it hits, so the last hash is kept with the texts it was of: comparing
/// them costs a fraction of hashing them again (3.6 KB a report, byte by
/// byte), and an edited text, or another table's, does not match.
fn rule_hash(rule: &str, title: &Text, advice: &Text) -> u64 {
    static LAST: Mutex<BTreeMap<String, Hashed>> = Mutex::new(BTreeMap::new());
    let mut last = LAST.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(kept) = last.get(rule)
        && kept.title == *title
        && kept.advice == *advice
    {
        return kept.hash;
    }
    let hash = hash(title, advice);
    let (title, advice) = (title.clone(), advice.clone());
    last.insert(
        rule.to_string(),
        Hashed {
            title,
            advice,
            hash,
        },
    );
    hash
}

struct Hashed {
    title: Text,
    advice: Text,
    hash: u64,
}

/// FNV-1a over the four texts, each ended by a 0xff byte (never in UTF-8)
/// so that no two different sets of texts run together alike. Stored, so
/// it must never change.
fn hash(title: &Text, advice: &Text) -> u64 {
    let mut hasher = Fnv::default();
    for text in [&title.en, &title.ja, &advice.en, &advice.ja] {
        hasher.write(text.as_bytes());
        hasher.write(&[0xff]);
    }
    hasher.finish()
}
