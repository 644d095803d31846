//! What every engine is asked to do: one durable commit of a batch of puts,
//! a point lookup, durable deletes, and whatever compaction it has.

use std::path::Path;

/// The two records mailscore keeps per test: the raw message, and later the
/// JSON report.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Table {
    Message,
    Report,
}

pub struct Put {
    pub table: Table,
    pub key: Vec<u8>,
    pub value: Vec<u8>,
}

pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// One engine, owned by one writer thread.
pub trait Store: Send {
    /// Writes every put and returns once they are on stable storage
    /// (fsync/fdatasync semantics), as one commit.
    fn commit(&mut self, puts: &[Put]) -> Result<(), Error>;
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, Error>;
    /// Removes the keys from both tables, durably, as one commit.
    fn delete(&mut self, keys: &[Vec<u8>]) -> Result<(), Error>;
    /// Reclaims space the engine's own way; says what it did.
    fn compact(&mut self) -> Result<&'static str, Error>;
}

/// Which engine, and its cache: `None` is the engine's default.
pub fn open(engine: &str, dir: &Path, cache: Option<u64>) -> Result<Box<dyn Store>, Error> {
    std::fs::create_dir_all(dir)?;
    Ok(match engine {
        "sled" => Box::new(crate::sled_store::Sled::open(dir, cache)?),
        "redb" => Box::new(crate::redb_store::Redb::open(dir, cache)?),
        "fjall" => Box::new(crate::fjall_store::Fjall::open(dir, cache)?),
        "sqlite" => Box::new(crate::sqlite_store::Sqlite::open(dir, cache)?),
        other => return Err(format!("unknown store {other}: sled, redb, fjall or sqlite").into()),
    })
}
