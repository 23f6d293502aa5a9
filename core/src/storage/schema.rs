//! Creating and upgrading the store's schema, in the style of mozilla/application-services'
//! `ConnectionInitializer`: the version lives in `PRAGMA user_version`, a new store runs
//! [`ConnectionInitializer::init`], an older one runs [`ConnectionInitializer::upgrade_from`] once
//! per version, and all of it happens in one `IMMEDIATE` transaction, so a crash or a failed step
//! leaves the store as it was. A store newer than this build is refused, never downgraded.
//!
//! To change the schema: bump [`FieldbookSchema::END_VERSION`], write `core/sql/upgrade_vN_to_vM.sql`
//! and add its arm to `upgrade_from`, update `core/sql/schema.sql` (columns added by `ALTER TABLE`
//! go last), and freeze the old schema as `core/sql/tests/create_vN_db.sql` with a test.

use super::StoreError;
use rusqlite::{Connection, Transaction, TransactionBehavior};

/// How a store's schema is created and upgraded.
pub(super) trait ConnectionInitializer {
    /// The schema version this build creates and upgrades to.
    const END_VERSION: u32;

    /// Creates the current schema in an empty database.
    fn init(&self, tx: &Transaction<'_>) -> rusqlite::Result<()>;

    /// Upgrades from `version` to `version + 1`.
    fn upgrade_from(&self, tx: &Transaction<'_>, version: u32) -> Result<(), StoreError>;
}

/// Fieldbook's device store.
#[derive(Debug)]
pub(super) struct FieldbookSchema;

impl ConnectionInitializer for FieldbookSchema {
    const END_VERSION: u32 = 5;

    fn init(&self, tx: &Transaction<'_>) -> rusqlite::Result<()> {
        tx.execute_batch(include_str!("../../sql/schema.sql"))
    }

    fn upgrade_from(&self, tx: &Transaction<'_>, version: u32) -> Result<(), StoreError> {
        match version {
            1 => tx
                .execute_batch(include_str!("../../sql/upgrade_v1_to_v2.sql"))
                .map_err(super::classify),
            2 => tx
                .execute_batch(include_str!("../../sql/upgrade_v2_to_v3.sql"))
                .map_err(super::classify),
            3 => tx
                .execute_batch(include_str!("../../sql/upgrade_v3_to_v4.sql"))
                .map_err(super::classify),
            4 => tx
                .execute_batch(include_str!("../../sql/upgrade_v4_to_v5.sql"))
                .map_err(super::classify),
            other => Err(StoreError::Corrupt {
                detail: format!("schema version {other} has no upgrade path"),
            }),
        }
    }
}

/// Brings the schema of `conn` to `I::END_VERSION`. The usual case (already current) reads one
/// pragma and starts no transaction.
pub(super) fn initialize<I: ConnectionInitializer>(
    conn: &mut Connection,
    initializer: &I,
) -> Result<(), StoreError> {
    let found = user_version(conn)?;
    if found == I::END_VERSION {
        return Ok(());
    }
    check_not_too_new::<I>(found)?;
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(super::classify)?;
    // Another connection may have migrated between the read above and the lock.
    let version = user_version(&tx)?;
    check_not_too_new::<I>(version)?;
    if version == 0 {
        let tables: i64 = tx
            .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
            .map_err(super::classify)?;
        if tables != 0 {
            return Err(StoreError::Corrupt {
                detail: "the database has tables but no schema version: not a fieldbook store"
                    .into(),
            });
        }
        initializer.init(&tx).map_err(super::classify)?;
    } else {
        for from in version..I::END_VERSION {
            tracing::info!(from, to = from + 1, "upgrading the store schema");
            initializer.upgrade_from(&tx, from)?;
        }
    }
    tx.pragma_update(None, "user_version", I::END_VERSION)
        .map_err(super::classify)?;
    tx.commit().map_err(super::classify)
}

/// The schema version recorded in the file.
pub(super) fn user_version(conn: &Connection) -> Result<u32, StoreError> {
    let v: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(super::classify)?;
    // user_version is a signed 32-bit header field; a negative one is not ours.
    u32::try_from(v).map_err(|_| StoreError::Corrupt {
        detail: format!("schema version {v} is not valid"),
    })
}

pub(super) fn check_not_too_new<I: ConnectionInitializer>(found: u32) -> Result<(), StoreError> {
    if found > I::END_VERSION {
        Err(StoreError::TooNew {
            found,
            supported: I::END_VERSION,
        })
    } else {
        Ok(())
    }
}
