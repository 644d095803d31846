//! Databases written by earlier builds, brought to [`SCHEMA_VERSION`] when
//! opened, in one transaction: a crash leaves the old schema whole.

use super::{SCHEMA_VERSION, StoreError};
use crate::store::history;
use crate::store::sled_store::stored_report;
use rusqlite::{Connection, params};

/// Schema 1 kept each latest report in `reports` as well as in `history`.
/// A report with no history entry of its seq (none is written so, but a
/// copy from sled may hold one saved before the history existed) becomes
/// one, saved now; then the table goes.
pub(super) fn from_1(conn: &Connection) -> Result<(), StoreError> {
    conn.execute_batch("BEGIN IMMEDIATE")?;
    let upgraded = (|| {
        let now = history::now() as i64;
        let reports: Vec<(String, Vec<u8>)> = conn
            .prepare("SELECT id, value FROM reports")?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        let mut kept = conn.prepare("SELECT 1 FROM history WHERE id = ?1 AND seq >= ?2")?;
        let mut insert =
            conn.prepare("INSERT INTO history (id, seq, saved_at, value) VALUES (?1, ?2, ?3, ?4)")?;
        for (id, value) in &reports {
            let seq = stored_report::seq(value);
            if !kept.exists(params![id, seq as i64])? {
                let entry = history::encode(seq, now as u64, stored_report::json(value));
                insert.execute(params![id, seq as i64, now, entry])?;
            }
        }
        drop((kept, insert));
        conn.execute_batch(&format!(
            "DROP TABLE reports; PRAGMA user_version = {SCHEMA_VERSION};"
        ))?;
        Ok::<_, StoreError>(())
    })();
    match upgraded {
        Ok(()) => Ok(conn.execute_batch("COMMIT")?),
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}
