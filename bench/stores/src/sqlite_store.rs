//! SQLite (bundled): WAL, synchronous=FULL, one transaction per commit.

use crate::store::{Error, Put, Store, Table};
use rusqlite::{Connection, OptionalExtension, params};
use std::path::Path;

pub struct Sqlite {
    conn: Connection,
}

impl Sqlite {
    pub fn open(dir: &Path, cache: Option<u64>) -> Result<Sqlite, Error> {
        let conn = Connection::open(dir.join("store.sqlite"))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        if let Some(bytes) = cache {
            // Negative: KiB rather than pages.
            conn.pragma_update(None, "cache_size", -((bytes / 1024) as i64))?;
        }
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS messages (id BLOB PRIMARY KEY, raw BLOB NOT NULL);
             CREATE TABLE IF NOT EXISTS reports (id BLOB PRIMARY KEY, json BLOB NOT NULL);",
        )?;
        Ok(Sqlite { conn })
    }
}

impl Store for Sqlite {
    fn commit(&mut self, puts: &[Put]) -> Result<(), Error> {
        let tx = self.conn.transaction()?;
        {
            let mut messages = tx.prepare_cached("INSERT OR REPLACE INTO messages VALUES (?1, ?2)")?;
            let mut reports = tx.prepare_cached("INSERT OR REPLACE INTO reports VALUES (?1, ?2)")?;
            for put in puts {
                let statement = match put.table {
                    Table::Message => &mut messages,
                    Table::Report => &mut reports,
                };
                statement.execute(params![put.key, put.value])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, Error> {
        let sql = match table {
            Table::Message => "SELECT raw FROM messages WHERE id = ?1",
            Table::Report => "SELECT json FROM reports WHERE id = ?1",
        };
        Ok(self
            .conn
            .prepare_cached(sql)?
            .query_row(params![key], |row| row.get::<_, Vec<u8>>(0))
            .optional()?)
    }

    fn delete(&mut self, keys: &[Vec<u8>]) -> Result<(), Error> {
        let tx = self.conn.transaction()?;
        {
            let mut messages = tx.prepare_cached("DELETE FROM messages WHERE id = ?1")?;
            let mut reports = tx.prepare_cached("DELETE FROM reports WHERE id = ?1")?;
            for key in keys {
                messages.execute(params![key])?;
                reports.execute(params![key])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn compact(&mut self) -> Result<&'static str, Error> {
        self.conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE); VACUUM;")?;
        Ok("wal_checkpoint(TRUNCATE) + VACUUM")
    }
}
