//! Schema migrations, applied in order under a PostgreSQL advisory lock so that several Ember
//! processes starting at once against one database apply each migration exactly once.

use tracing::info;

use crate::pool::Client;
use crate::Error;

/// The PostgreSQL advisory lock every Ember process holds while it migrates. Arbitrary but
/// fixed: every Ember process must use the same key. ("EMBRMIGR" in ASCII.)
pub const MIGRATION_LOCK_KEY: i64 = 0x454D_4252_4D49_4752;

struct Migration {
    version: i64,
    name: &'static str,
    sql: &'static str,
}

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "resources",
        sql: include_str!("migrations/0001_resources.sql"),
    },
    Migration {
        version: 2,
        name: "search index",
        sql: include_str!("migrations/0002_search_index.sql"),
    },
    Migration {
        version: 3,
        name: "index order",
        sql: include_str!("migrations/0003_index_order.sql"),
    },
    Migration {
        version: 4,
        name: "covering indexes",
        sql: include_str!("migrations/0004_covering_indexes.sql"),
    },
    Migration {
        version: 5,
        name: "token code then id",
        sql: include_str!("migrations/0005_token_code_then_id.sql"),
    },
    Migration {
        version: 6,
        name: "string folded then id",
        sql: include_str!("migrations/0006_string_folded_then_id.sql"),
    },
    Migration {
        version: 7,
        name: "location near",
        sql: include_str!("migrations/0007_location_near.sql"),
    },
    Migration {
        version: 8,
        name: "reference token signature",
        sql: include_str!("migrations/0008_reference_token_signature.sql"),
    },
    Migration {
        version: 9,
        name: "reference token signature, second word",
        sql: include_str!("migrations/0009_reference_token_signature_high.sql"),
    },
    Migration {
        version: 10,
        name: "absolute references are another server's",
        sql: include_str!("migrations/0010_absolute_references_foreign.sql"),
    },
    Migration {
        version: 11,
        name: "PATCH in history",
        sql: include_str!("migrations/0011_patch_in_history.sql"),
    },
    Migration {
        version: 12,
        name: "wide date rows",
        sql: include_str!("migrations/0012_wide_dates.sql"),
    },
];

/// The schema version this binary expects.
pub(crate) const LATEST_VERSION: i64 = 12;

/// Applies every migration the database lacks; returns how many were applied.
pub(crate) async fn migrate(client: &mut Client) -> Result<usize, Error> {
    // Session-level lock: held across the migration transactions below, released on unlock
    // or when the connection closes, so a crashed migrator cannot leave the lock behind.
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK_KEY])
        .await?;
    let applied = apply_pending(client).await;
    let unlocked = client
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK_KEY])
        .await;
    let applied = applied?;
    unlocked?;
    Ok(applied)
}

async fn apply_pending(client: &mut Client) -> Result<usize, Error> {
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS ember_schema_migration (
                 version    bigint PRIMARY KEY,
                 name       text NOT NULL,
                 applied_at timestamptz NOT NULL DEFAULT now()
             )",
        )
        .await?;
    let current = current_version(client).await?;
    if current > LATEST_VERSION {
        return Err(Error::SchemaTooNew {
            found: current,
            supported: LATEST_VERSION,
        });
    }
    let mut applied = 0;
    for migration in MIGRATIONS
        .iter()
        .filter(|migration| migration.version > current)
    {
        let transaction = client.transaction().await?;
        transaction.batch_execute(migration.sql).await?;
        transaction
            .execute(
                "INSERT INTO ember_schema_migration (version, name) VALUES ($1, $2)",
                &[&migration.version, &migration.name],
            )
            .await?;
        transaction.commit().await?;
        info!(
            version = migration.version,
            name = migration.name,
            "applied schema migration"
        );
        applied += 1;
    }
    Ok(applied)
}

pub(crate) async fn current_version(client: &Client) -> Result<i64, Error> {
    let row = client
        .query_one(
            "SELECT coalesce(max(version), 0) FROM ember_schema_migration",
            &[],
        )
        .await?;
    Ok(row.get(0))
}
