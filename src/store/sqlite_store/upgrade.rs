//! Databases written by earlier builds, brought to [`SCHEMA_VERSION`] when
//! opened, in one transaction: a crash leaves the old schema whole.

use super::{Import, SCHEMA_VERSION, StoreError};
use crate::store::history;
use rusqlite::Connection;

/// Schema 1 kept each latest report in `reports` as well as in `history`.
/// A report with no history entry of its seq (none is written so, but a
/// copy from sled may hold one saved before the history existed) becomes
/// one, saved now; then the table goes.
pub(super) fn from_1(conn: &Connection) -> Result<(), StoreError> {
    conn.execute_batch("BEGIN IMMEDIATE")?;
    let upgraded = (|| {
        let reports: Vec<(String, Vec<u8>)> = conn
            .prepare("SELECT id, value FROM reports")?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        let import = Import::on(conn);
        let now = history::now();
        for (id, value) in &reports {
            import.latest_report(id, value, now)?;
        }
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
