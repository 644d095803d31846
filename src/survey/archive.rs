//! A researcher's archive, one message at a time: mbox files (mboxrd and
//! mboxo: a `From ` line starts each message, `>From ` in a body is
//! unquoted once), Maildir folders (`cur/` and `new/`), and directories of
//! `.eml` files (searched recursively), in a stable order. Only one message
//! is in memory at a time, and one larger than the limit is skipped, not
//! read whole.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

/// One archived message.
#[derive(Debug)]
pub struct Archived {
    /// Where it is: the file, and `#n` for the n-th message of an mbox.
    pub source: String,
    pub raw: Vec<u8>,
}

/// What the archive could not hand over; the survey counts and reports it,
/// and goes on.
#[derive(Debug)]
pub struct Skipped {
    pub source: String,
    pub reason: String,
}

pub type Entry = Result<Archived, Skipped>;

/// The messages under `paths`, in order.
pub struct Archive {
    /// Single-message files and mbox files still to read.
    files: std::vec::IntoIter<PathBuf>,
    mbox: Option<Mbox>,
    max_size: usize,
}

impl Archive {
    /// Lists the files under `paths` (a missing path is an error now,
    /// not a surprise later). `max_size`: the largest message read.
    pub fn open(paths: &[PathBuf], max_size: usize) -> std::io::Result<Archive> {
        let mut files = Vec::new();
        for path in paths {
            collect(path, &mut files)?;
        }
        Ok(Archive {
            files: files.into_iter(),
            mbox: None,
            max_size,
        })
    }

    fn next_file(&mut self) -> Option<Entry> {
        let path = self.files.next()?;
        let source = path.display().to_string();
        let skipped = |reason: String| {
            Some(Err(Skipped {
                source: source.clone(),
                reason,
            }))
        };
        let mut file = match File::open(&path) {
            Ok(file) => file,
            Err(e) => return skipped(e.to_string()),
        };
        let mut start = [0u8; 5];
        let read = file.read(&mut start).unwrap_or(0);
        let file = match File::open(&path) {
            Ok(file) => file,
            Err(e) => return skipped(e.to_string()),
        };
        if &start[..read] == b"From " {
            self.mbox = Some(Mbox::new(file, source, self.max_size));
            return self.next();
        }
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        if size > self.max_size as u64 {
            return skipped(format!("larger than {} bytes", self.max_size));
        }
        let mut raw = Vec::with_capacity(size as usize);
        match file.take(self.max_size as u64 + 1).read_to_end(&mut raw) {
            Ok(_) => Some(Ok(Archived { source, raw })),
            Err(e) => skipped(e.to_string()),
        }
    }
}

impl Iterator for Archive {
    type Item = Entry;

    fn next(&mut self) -> Option<Entry> {
        if let Some(mbox) = &mut self.mbox {
            match mbox.next() {
                Some(entry) => return Some(entry),
                None => self.mbox = None,
            }
        }
        self.next_file()
    }
}

/// Files under `path`: itself, a Maildir's `cur/` and `new/`, or every
/// file of a directory tree (sorted, hidden ones left out).
fn collect(path: &Path, files: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let meta = std::fs::metadata(path)?;
    if meta.is_file() {
        files.push(path.to_path_buf());
        return Ok(());
    }
    let maildir = path.join("cur").is_dir() && path.join("new").is_dir();
    let dirs = if maildir {
        vec![path.join("cur"), path.join("new")]
    } else {
        vec![path.to_path_buf()]
    };
    for dir in dirs {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(&dir)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                !p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'))
            })
            .collect();
        entries.sort();
        for entry in entries {
            if entry.is_dir() && !maildir {
                collect(&entry, files)?;
            } else if entry.is_file() {
                files.push(entry);
            }
        }
    }
    Ok(())
}

/// The messages of one mbox file, read line by line.
struct Mbox {
    lines: BufReader<File>,
    source: String,
    max_size: usize,
    /// Messages handed out so far.
    count: usize,
    /// The `From ` line that starts the next message has been read.
    started: bool,
    done: bool,
}

impl Mbox {
    fn new(file: File, source: String, max_size: usize) -> Mbox {
        Mbox {
            lines: BufReader::new(file),
            source,
            max_size,
            count: 0,
            started: false,
            done: false,
        }
    }
}

impl Iterator for Mbox {
    type Item = Entry;

    fn next(&mut self) -> Option<Entry> {
        if self.done {
            return None;
        }
        let mut raw = Vec::new();
        let mut too_big = false;
        let mut line = Vec::new();
        loop {
            line.clear();
            match self.lines.read_until(b'\n', &mut line) {
                Ok(0) => {
                    self.done = true;
                    break;
                }
                Ok(_) => {}
                Err(e) => {
                    self.done = true;
                    return Some(Err(Skipped {
                        source: self.source.clone(),
                        reason: e.to_string(),
                    }));
                }
            }
            if line.starts_with(b"From ") {
                if self.started {
                    break;
                }
                self.started = true;
                continue;
            }
            if too_big {
                continue;
            }
            raw.extend_from_slice(unquote(&line));
            too_big = raw.len() > self.max_size;
            if too_big {
                raw = Vec::new();
            }
        }
        // The line that ended this message starts the next one.
        self.started = !self.done;
        if raw.is_empty() && !too_big && self.done && self.count > 0 {
            return None;
        }
        self.count += 1;
        let source = format!("{}#{}", self.source, self.count);
        if too_big {
            return Some(Err(Skipped {
                source,
                reason: format!("larger than {} bytes", self.max_size),
            }));
        }
        // The blank line before the next `From ` belongs to the mbox.
        if raw.ends_with(b"\r\n\r\n") || raw.ends_with(b"\n\n") {
            let cut = if raw.ends_with(b"\r\n\r\n") { 2 } else { 1 };
            raw.truncate(raw.len() - cut);
        }
        Some(Ok(Archived { source, raw }))
    }
}

/// mboxrd: `>From `, `>>From `… lose one `>`.
fn unquote(line: &[u8]) -> &[u8] {
    let quotes = line.iter().take_while(|b| **b == b'>').count();
    if quotes > 0 && line[quotes..].starts_with(b"From ") {
        &line[1..]
    } else {
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir() -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("mailscore-archive-{}", crate::test_id::generate()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn read_all(paths: &[PathBuf], max: usize) -> Vec<Entry> {
        Archive::open(paths, max).unwrap().collect()
    }

    #[test]
    fn an_mbox_gives_each_message_unquoted() {
        let dir = temp_dir();
        let mbox = dir.join("inbox.mbox");
        std::fs::write(
            &mbox,
            "From a@x Tue Nov 25 10:00:00 2025\nSubject: one\n\n>From the start\n>>From deeper\n\nFrom b@y Tue Nov 25 10:00:00 2025\nSubject: two\r\n\r\nbody\r\n",
        )
        .unwrap();
        let entries = read_all(std::slice::from_ref(&mbox), 1 << 20);
        let raws: Vec<String> = entries
            .iter()
            .map(|e| String::from_utf8(e.as_ref().unwrap().raw.clone()).unwrap())
            .collect();
        assert_eq!(
            raws,
            [
                "Subject: one\n\nFrom the start\n>From deeper\n",
                "Subject: two\r\n\r\nbody\r\n"
            ]
        );
        assert!(
            entries[1]
                .as_ref()
                .unwrap()
                .source
                .ends_with("inbox.mbox#2")
        );
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn maildirs_and_eml_trees_are_read_in_order_and_big_ones_skipped() {
        let dir = temp_dir();
        let maildir = dir.join("Maildir");
        for sub in ["cur", "new", "tmp"] {
            std::fs::create_dir_all(maildir.join(sub)).unwrap();
        }
        std::fs::write(maildir.join("cur/1.host:2,S"), "Subject: cur\r\n\r\nx\r\n").unwrap();
        std::fs::write(maildir.join("new/2.host"), "Subject: new\r\n\r\nx\r\n").unwrap();
        std::fs::write(maildir.join("tmp/3.host"), "Subject: tmp\r\n\r\nx\r\n").unwrap();
        let tree = dir.join("eml");
        std::fs::create_dir_all(tree.join("2025")).unwrap();
        std::fs::write(tree.join("a.eml"), "Subject: a\r\n\r\nx\r\n").unwrap();
        std::fs::write(tree.join("2025/b.eml"), "Subject: b\r\n\r\nx\r\n").unwrap();
        std::fs::write(tree.join("big.eml"), vec![b'x'; 2048]).unwrap();
        let entries = read_all(&[maildir, tree], 1024);
        let subjects: Vec<String> = entries
            .iter()
            .map(|e| match e {
                Ok(m) => String::from_utf8_lossy(&m.raw)
                    .lines()
                    .next()
                    .unwrap()
                    .to_string(),
                Err(s) => format!("skipped {}", s.reason),
            })
            .collect();
        assert_eq!(
            subjects,
            [
                "Subject: cur",
                "Subject: new",
                "Subject: b",
                "Subject: a",
                "skipped larger than 1024 bytes"
            ]
        );
        assert!(Archive::open(&[dir.join("missing")], 1024).is_err());
        std::fs::remove_dir_all(dir).ok();
    }
}
