//! fjall 3: LSM tree with a journal; a commit is one write batch, then
//! `Database::persist(PersistMode::SyncAll)` (fsync of the journal).

use crate::store::{Error, Put, Store, Table};
use fjall::{Database, Keyspace, KeyspaceCreateOptions, PersistMode};
use std::path::Path;

pub struct Fjall {
    db: Database,
    messages: Keyspace,
    reports: Keyspace,
}

impl Fjall {
    pub fn open(dir: &Path, cache: Option<u64>) -> Result<Fjall, Error> {
        let mut builder = Database::builder(dir);
        if let Some(bytes) = cache {
            builder = builder.cache_size(bytes);
        }
        let db = builder.open()?;
        Ok(Fjall {
            messages: db.keyspace("messages", KeyspaceCreateOptions::default)?,
            reports: db.keyspace("reports", KeyspaceCreateOptions::default)?,
            db,
        })
    }

    fn keyspace(&self, table: Table) -> &Keyspace {
        match table {
            Table::Message => &self.messages,
            Table::Report => &self.reports,
        }
    }
}

impl Store for Fjall {
    fn commit(&mut self, puts: &[Put]) -> Result<(), Error> {
        let mut batch = self.db.batch();
        for put in puts {
            batch.insert(self.keyspace(put.table), &put.key[..], &put.value[..]);
        }
        batch.commit()?;
        self.db.persist(PersistMode::SyncAll)?;
        Ok(())
    }

    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, Error> {
        Ok(self.keyspace(table).get(key)?.map(|v| v.to_vec()))
    }

    fn delete(&mut self, keys: &[Vec<u8>]) -> Result<(), Error> {
        let mut batch = self.db.batch();
        for key in keys {
            batch.remove(&self.messages, &key[..]);
            batch.remove(&self.reports, &key[..]);
        }
        batch.commit()?;
        self.db.persist(PersistMode::SyncAll)?;
        Ok(())
    }

    fn compact(&mut self) -> Result<&'static str, Error> {
        self.messages.major_compact()?;
        self.reports.major_compact()?;
        Ok("major_compact of both keyspaces")
    }
}
