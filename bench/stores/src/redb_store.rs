//! redb 5: one file, copy-on-write B-tree; a commit with the default
//! `Durability::Immediate` fsyncs before it returns.

use crate::store::{Error, Put, Store, Table};
use redb::{ReadableDatabase, ReadableTable, TableDefinition};
use std::path::Path;

const MESSAGES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("messages");
const REPORTS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("reports");

fn def(table: Table) -> TableDefinition<'static, &'static [u8], &'static [u8]> {
    match table {
        Table::Message => MESSAGES,
        Table::Report => REPORTS,
    }
}

pub struct Redb {
    db: redb::Database,
}

impl Redb {
    pub fn open(dir: &Path, cache: Option<u64>) -> Result<Redb, Error> {
        let mut builder = redb::Database::builder();
        if let Some(bytes) = cache {
            builder.set_cache_size(bytes as usize);
        }
        let db = builder.create(dir.join("store.redb"))?;
        let tx = db.begin_write()?;
        tx.open_table(MESSAGES)?;
        tx.open_table(REPORTS)?;
        tx.commit()?;
        Ok(Redb { db })
    }
}

impl Store for Redb {
    fn commit(&mut self, puts: &[Put]) -> Result<(), Error> {
        let tx = self.db.begin_write()?;
        {
            let mut messages = tx.open_table(MESSAGES)?;
            let mut reports = tx.open_table(REPORTS)?;
            for put in puts {
                let table = match put.table {
                    Table::Message => &mut messages,
                    Table::Report => &mut reports,
                };
                table.insert(&put.key[..], &put.value[..])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, Error> {
        let tx = self.db.begin_read()?;
        let table = tx.open_table(def(table))?;
        Ok(table.get(key)?.map(|v| v.value().to_vec()))
    }

    fn delete(&mut self, keys: &[Vec<u8>]) -> Result<(), Error> {
        let tx = self.db.begin_write()?;
        {
            let mut messages = tx.open_table(MESSAGES)?;
            let mut reports = tx.open_table(REPORTS)?;
            for key in keys {
                messages.remove(&key[..])?;
                reports.remove(&key[..])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn compact(&mut self) -> Result<&'static str, Error> {
        while self.db.compact(redb::CompactionMode::default())? {}
        Ok("Database::compact until done")
    }
}
