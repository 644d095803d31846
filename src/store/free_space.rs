//! Room on the data directory's filesystem, checked before a message is
//! taken. sled does not survive a full disk: once a write fails with
//! ENOSPC its flush waits for ever (measured: every later session hung
//! until its client timed out, and `/readyz` still said ready). So, as
//! Postfix's smtpd does with `queue_minfree`, we refuse new mail with
//! `452 4.3.1` while less than a reserve is free, and the reserve keeps
//! room for the reports of mail already taken.
//!
//! With SQLite a committed message sits in the WAL until a checkpoint
//! copies it into the database file, which may grow by as much again.
//! Counted only against the reserve, a burst of mail between two
//! checkpoints filled a 10 MB disk in the copy: the checkpoint failed, and
//! so did every report after it (tests/disk_full.rs, 2 runs in 4 when the
//! writer ran under SCHED_BATCH). So the journal's size counts as needed.

use std::ffi::CString;
use std::fmt;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// What sled writes per byte of message (the message, its log entry and
/// page rewrites): a message is taken only if this many times its size
/// fits above the reserve.
const WRITE_FACTOR: u64 = 4;

/// The reserve on one directory's filesystem.
#[derive(Debug, Clone)]
pub struct FreeSpace {
    dir: PathBuf,
    reserve: u64,
    /// The largest message we take: ready means one more fits.
    max_message: u64,
    /// A journal (SQLite's WAL) whose bytes a checkpoint may copy into the
    /// database file: that much more is needed.
    journal: Option<PathBuf>,
}

/// Not enough room: what is free and what was needed, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shortage {
    pub free: u64,
    pub needed: u64,
}

impl fmt::Display for Shortage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mb = |bytes: u64| bytes as f64 / 1_048_576.0;
        write!(
            f,
            "disk nearly full: {:.1} MB free, {:.1} MB needed",
            mb(self.free),
            mb(self.needed)
        )
    }
}

impl FreeSpace {
    pub fn new(dir: &Path, reserve: u64, max_message: u64) -> FreeSpace {
        FreeSpace {
            dir: dir.to_path_buf(),
            reserve,
            max_message,
            journal: None,
        }
    }

    /// Counts `journal`'s size as needed too (a missing file counts 0).
    /// Its length bounds what a checkpoint may add to the database file;
    /// after a restart it overstates (SQLite reuses the file, cut back to
    /// `journal_size_limit`, 16 MB), which errs on the side of refusing.
    pub fn with_journal(mut self, journal: PathBuf) -> FreeSpace {
        self.journal = Some(journal);
        self
    }

    /// Whether a message of the largest size we take would fit: what
    /// `/readyz` says, so a balancer sends mail elsewhere before senders
    /// start getting 452.
    pub fn ready(&self) -> Result<(), Shortage> {
        self.room_for(self.max_message)
    }

    /// Whether a message of `incoming` bytes may be taken. A filesystem
    /// that cannot be asked counts as having room: the write will tell.
    pub fn room_for(&self, incoming: u64) -> Result<(), Shortage> {
        let Some(free) = available(&self.dir) else {
            return Ok(());
        };
        let journal = self
            .journal
            .as_ref()
            .and_then(|path| std::fs::metadata(path).ok())
            .map_or(0, |meta| meta.len());
        let needed = self
            .reserve
            .saturating_add(incoming.saturating_mul(WRITE_FACTOR))
            .saturating_add(journal);
        if free >= needed {
            Ok(())
        } else {
            Err(Shortage { free, needed })
        }
    }
}

/// Bytes an unprivileged process may still write on `dir`'s filesystem.
fn available(dir: &Path) -> Option<u64> {
    let path = CString::new(dir.as_os_str().as_bytes()).ok()?;
    let mut stats = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: `path` is NUL-terminated and `stats` is written by the call
    // before it is read (only when it returns 0).
    let stats = unsafe {
        if libc::statvfs(path.as_ptr(), stats.as_mut_ptr()) != 0 {
            return None;
        }
        stats.assume_init()
    };
    // The field types differ between platforms (u32 on some 32-bit ones).
    #[allow(clippy::unnecessary_cast)]
    let (blocks, size) = (stats.f_bavail as u64, stats.f_frsize as u64);
    Some(blocks.saturating_mul(size))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reserve_larger_than_the_disk_refuses_and_none_accepts() {
        let dir = std::env::temp_dir();
        assert_eq!(FreeSpace::new(&dir, 0, 0).room_for(0), Ok(()));
        assert_eq!(FreeSpace::new(&dir, 0, 0).ready(), Ok(()));
        let shortage = FreeSpace::new(&dir, u64::MAX / 2, 0)
            .room_for(10)
            .unwrap_err();
        assert!(shortage.free < shortage.needed);
        assert!(shortage.to_string().starts_with("disk nearly full: "));
    }

    #[test]
    fn a_journal_not_yet_copied_counts_as_needed() {
        let dir = std::env::temp_dir().join(format!(
            "mailscore-free-space-{}",
            crate::test_id::generate()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let journal = dir.join("db-wal");
        let free = available(&dir).unwrap();
        // Room for 1 MB more than the reserve; a journal of 2 MB takes it.
        let space =
            FreeSpace::new(&dir, free.saturating_sub(1 << 20), 0).with_journal(journal.clone());
        assert_eq!(space.room_for(0), Ok(()), "a missing journal counts 0");
        std::fs::write(&journal, vec![0; 2 << 20]).unwrap();
        let shortage = space.room_for(0).unwrap_err();
        assert!(shortage.needed >= free.saturating_sub(1 << 20) + (2 << 20));
        std::fs::remove_dir_all(&dir).ok();
    }
}
