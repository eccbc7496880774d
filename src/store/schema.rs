//! Creating and upgrading the schema (`schema.sql`), versioned with `PRAGMA user_version`, and the
//! per-connection settings every connection gets.

use rusqlite::{Connection, TransactionBehavior};

use super::error::{StoreError, StoreResult};

/// The schema version this binary writes and understands.
pub const SCHEMA_VERSION: i64 = 1;

const SCHEMA_SQL: &str = include_str!("../../schema.sql");

/// Settings for every connection: WAL (set once per file, harmless to repeat), foreign keys, a busy
/// timeout so a concurrent writer (the CLI while the server runs) waits instead of failing.
pub fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = NORMAL;
         PRAGMA foreign_keys = ON;
         PRAGMA temp_store = MEMORY;",
    )?;
    conn.set_prepared_statement_cache_capacity(128);
    Ok(())
}

/// Brings the file to `SCHEMA_VERSION`, or refuses a file written by a newer binary.
pub fn migrate(conn: &mut Connection) -> StoreResult<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let found: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::NewerSchema {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    if found == 0 {
        tx.execute_batch(SCHEMA_SQL)?;
        log::info!("created database schema version {SCHEMA_VERSION}");
    }
    // Later versions add `if found < N { ... }` steps here, oldest first.
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    tx.commit()?;
    Ok(())
}
