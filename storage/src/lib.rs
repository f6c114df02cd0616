//! PostgreSQL storage for Ember: schema, migrations, the write/read/history SQL, and the
//! embedded cluster that makes one command start a working server.
//!
//! **API Boundary.** Callers see [`Store`] and the value types in [`model`]; SQL and the
//! schema stay private. Storage knows nothing of HTTP, status codes or actors.

#[doc(hidden)]
pub mod bench_support;
mod condition_lock;
mod embedded;
mod error;
mod history;
mod index_rows;
mod migrate;
pub mod model;
mod pool;
mod read;
mod read_batch;
mod search;
mod store;
mod tenant;
mod token_signature;
mod transaction;
mod write;
mod write_statement;

pub use condition_lock::ConditionLock;
pub use embedded::{EmbeddedOptions, EmbeddedPostgres};
pub use error::Error;
pub use migrate::MIGRATION_LOCK_KEY;
pub use read_batch::ReadBatching;
pub use search::{FoundResource, SearchPage, MAX_INCLUDED, MAX_INCLUDE_ITERATIONS};
pub use store::{PoolUsage, Store};
pub use tenant::TenantKey;
pub use transaction::{LockedResource, Transaction};

#[cfg(feature = "testing")]
pub mod testing;

/// A connection from the pool; a pool that cannot hand one out is "unavailable" (503).
pub(crate) async fn connection(pool: &pool::Pool) -> Result<pool::Client, Error> {
    pool.get()
        .await
        .map_err(|error| Error::Pool(error.to_string()))
}
