//! A file in a researcher's archive, through the survey's reader
//! (`survey::archive::Archive`): an mbox when it starts with `From `, a
//! single message otherwise.
//!
//! The reader takes paths, and its mbox reader is private, so each run
//! writes the input to one temporary file (per process) and opens that.
//! The first byte sets the size limit (`16 × n` bytes, 0 to 4080), the rest
//! is the file.
//!
//! Asserted, besides "no panic": no message handed over is larger than the
//! limit; every entry is accounted for: the entries are numbered `#1`, `#2`…
//! in order, one per `From ` line (the last one left out when it is empty),
//! each one either the message (the lines up to the next `From ` line,
//! `>From ` unquoted once, the blank line before the next `From ` dropped)
//! or skipped as larger than the limit, exactly as an independent reading of
//! the same bytes says; a file that is not an mbox is one entry, skipped
//! exactly when it is over the limit.

#![no_main]

use libfuzzer_sys::fuzz_target;
use mailscore::survey::archive::Archive;
use std::path::PathBuf;
use std::sync::LazyLock;

static FILE: LazyLock<PathBuf> = LazyLock::new(|| {
    std::env::temp_dir().join(format!("mailscore-fuzz-mbox-{}", std::process::id()))
});

/// What an entry should be: the message's bytes, or `None` for skipped.
type Expected = Option<Vec<u8>>;

/// The same file read independently: split into lines, cut at `From `.
fn expected(file: &[u8], max_size: usize) -> Vec<Expected> {
    let mut messages: Vec<Vec<u8>> = Vec::new();
    for line in file.split_inclusive(|&b| b == b'\n') {
        if line.starts_with(b"From ") {
            messages.push(Vec::new());
            continue;
        }
        let quotes = line.iter().take_while(|&&b| b == b'>').count();
        let line = if quotes > 0 && line[quotes..].starts_with(b"From ") {
            &line[1..]
        } else {
            line
        };
        messages
            .last_mut()
            .expect("an mbox starts with From ")
            .extend_from_slice(line);
    }
    if messages.len() > 1 && messages.last().is_some_and(Vec::is_empty) {
        messages.pop();
    }
    messages
        .into_iter()
        .map(|mut raw| {
            if raw.len() > max_size {
                return None;
            }
            if raw.ends_with(b"\r\n\r\n") {
                raw.truncate(raw.len() - 2);
            } else if raw.ends_with(b"\n\n") {
                raw.truncate(raw.len() - 1);
            }
            Some(raw)
        })
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, file)) = data.split_first() else {
        return;
    };
    let max_size = usize::from(first) * 16;
    std::fs::write(&*FILE, file).expect("the temporary file is written");
    let entries: Vec<_> = Archive::open(std::slice::from_ref(&*FILE), max_size)
        .expect("the file exists")
        .collect();
    let path = FILE.display().to_string();

    for entry in &entries {
        match entry {
            Ok(message) => assert!(
                message.raw.len() <= max_size,
                "{} bytes handed over, limit {max_size}",
                message.raw.len()
            ),
            Err(skipped) => assert_eq!(skipped.reason, format!("larger than {max_size} bytes")),
        }
    }

    if !file.starts_with(b"From ") {
        assert_eq!(entries.len(), 1);
        match &entries[0] {
            Ok(message) => {
                assert!(file.len() <= max_size);
                assert_eq!(message.raw, file);
                assert_eq!(message.source, path);
            }
            Err(skipped) => {
                assert!(file.len() > max_size);
                assert_eq!(skipped.source, path);
            }
        }
        return;
    }

    let want = expected(file, max_size);
    assert_eq!(entries.len(), want.len(), "entries vs From lines");
    for (n, (entry, want)) in entries.iter().zip(&want).enumerate() {
        let source = format!("{path}#{}", n + 1);
        match (entry, want) {
            (Ok(message), Some(raw)) => {
                assert_eq!(message.source, source);
                assert_eq!(&message.raw, raw, "{source}");
            }
            (Err(skipped), None) => assert_eq!(skipped.source, source),
            (Ok(_), None) => panic!("{source} handed over, over the limit"),
            (Err(skipped), Some(_)) => panic!("{source} skipped: {}", skipped.reason),
        }
    }
});
