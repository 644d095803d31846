//! sled 0.34 as mailscore uses it (src/store/sled_store.rs): one tree per
//! table; a commit is the inserts, `Db::flush` (only sync_file_range), then
//! `syncfs` of the data directory's filesystem.

use crate::store::{Error, Put, Store, Table};
use std::os::fd::AsRawFd;
use std::path::Path;

pub struct Sled {
    db: sled::Db,
    messages: sled::Tree,
    reports: sled::Tree,
    dir: std::fs::File,
}

impl Sled {
    pub fn open(dir: &Path, cache: Option<u64>) -> Result<Sled, Error> {
        let mut config = sled::Config::new().path(dir);
        if let Some(bytes) = cache {
            config = config.cache_capacity(bytes);
        }
        let db = config.open()?;
        Ok(Sled {
            messages: db.open_tree("messages")?,
            reports: db.open_tree("reports")?,
            dir: std::fs::File::open(dir)?,
            db,
        })
    }

    fn tree(&self, table: Table) -> &sled::Tree {
        match table {
            Table::Message => &self.messages,
            Table::Report => &self.reports,
        }
    }

    fn sync(&self) -> Result<(), Error> {
        self.db.flush()?;
        // SAFETY: a valid open descriptor.
        if unsafe { libc::syncfs(self.dir.as_raw_fd()) } != 0 {
            return Err(std::io::Error::last_os_error().into());
        }
        Ok(())
    }
}

impl Store for Sled {
    fn commit(&mut self, puts: &[Put]) -> Result<(), Error> {
        for put in puts {
            self.tree(put.table).insert(&put.key[..], &put.value[..])?;
        }
        self.sync()
    }

    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, Error> {
        Ok(self.tree(table).get(key)?.map(|v| v.to_vec()))
    }

    fn delete(&mut self, keys: &[Vec<u8>]) -> Result<(), Error> {
        for key in keys {
            self.messages.remove(&key[..])?;
            self.reports.remove(&key[..])?;
        }
        self.sync()
    }

    fn compact(&mut self) -> Result<&'static str, Error> {
        // sled 0.34 has no compaction call: its segment cleaner runs on its
        // own; a reopen (done by the caller) is all there is.
        Ok("none (no API; reopen only)")
    }
}
