//! The worker: drains ballots from the Redis list `VOTE_QUEUE` into PostgreSQL (SPEC section 4).
//!
//! - [`configuration`]: the settings, from environment variables.
//! - [`queue`]: the Redis side: taking batches, acknowledging them, leases and recovery of the
//!   messages a dead worker held, the dead-letter list.
//! - [`store`]: the PostgreSQL side: the connection pool and the per-batch upsert.
//! - [`schema`]: the tables and tally triggers, migrated at start-up under an advisory lock.
//! - [`consumer`]: the loop that ties them together, with backoff when either is down.
//! - [`health`] and [`metrics`]: readiness and the worker's own metrics.
//! - [`startup`]: builds the program and runs it until shutdown.

pub mod configuration;
pub mod consumer;
pub mod health;
pub mod metrics;
pub mod queue;
pub mod schema;
pub mod startup;
pub mod store;
