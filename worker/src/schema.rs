//! The database schema, owned by the worker (SPEC sections 2 and 4): created or migrated at
//! start-up, safely when several replicas start at once, with the applied versions recorded.
//!
//! Migrations only add (tables, columns with defaults, functions, triggers), so the previous
//! version of the worker still runs on the newest schema and a rollback needs no down-migration.
//! A worker that finds a newer schema than it knows carries on with the part it knows.

use tokio_postgres::Client;

/// The advisory lock every migrating worker takes: any 64-bit constant, the same in every
/// version of the worker. It is scoped to the database, so tests in their own databases do not
/// wait on each other.
pub const MIGRATION_LOCK: i64 = 0x766f_7465_5f73_6368;

struct Migration {
    version: i32,
    name: &'static str,
    sql: &'static str,
}

/// Every migration ever shipped, in order. Never edit one that has shipped: add another.
const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "votes",
        sql: include_str!("../migrations/0001_votes.sql"),
    },
    Migration {
        version: 2,
        name: "vote_tally",
        sql: include_str!("../migrations/0002_vote_tally.sql"),
    },
];

/// The schema version this worker writes to.
pub fn latest_version() -> i32 {
    MIGRATIONS.last().map_or(0, |migration| migration.version)
}

/// Brings the schema up to [`latest_version`] in one transaction under the advisory lock;
/// returns the version the database is at afterwards.
pub async fn migrate(client: &mut Client) -> Result<i32, tokio_postgres::Error> {
    let transaction = client.transaction().await?;
    // Held until commit: the second of two workers starting together waits here, then finds
    // the schema migrated.
    transaction
        .execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    transaction
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_version (
                version INTEGER PRIMARY KEY,
                name TEXT NOT NULL,
                applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
            )",
        )
        .await?;
    let current: i32 = transaction
        .query_one("SELECT coalesce(max(version), 0) FROM schema_version", &[])
        .await?
        .get(0);
    for migration in MIGRATIONS.iter().filter(|m| m.version > current) {
        tracing::info!(
            version = migration.version,
            name = migration.name,
            "applying schema migration"
        );
        transaction.batch_execute(migration.sql).await?;
        transaction
            .execute(
                "INSERT INTO schema_version (version, name) VALUES ($1, $2)",
                &[&migration.version, &migration.name],
            )
            .await?;
    }
    transaction.commit().await?;
    Ok(current.max(latest_version()))
}
