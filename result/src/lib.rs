//! The result service of SPEC section 5: a live page of the tally, pushed over WebSockets.
//!
//! - [`configuration`]: the settings, from environment variables.
//! - [`tally`]: how the tally is read from PostgreSQL.
//! - [`feed`]: the one task per process that keeps the tally current (LISTEN, safety poll,
//!   reconnects) and publishes it to every socket.
//! - [`routes`]: the page, its assets, `/api/results` and `/ws`.
//! - [`metrics`]: the service's own Prometheus metrics.
//! - [`startup`]: builds and runs the whole application.

pub mod configuration;
pub mod feed;
pub mod metrics;
pub mod routes;
pub mod startup;
pub mod tally;
