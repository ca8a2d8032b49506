//! What the three programs of the voting app share.
//!
//! - [`config`]: settings from environment variables, with errors that name the variable.
//! - [`environment`]: each program's list of the variables it reads, with their defaults.
//! - [`telemetry`]: logging set-up (`RUST_LOG`, `LOG_FORMAT`).
//! - [`metrics`]: the Prometheus registry, `/metrics`, and the per-request access log.
//! - [`lifecycle`]: `/healthz`, `/readyz`, the shutdown signal and the graceful stop.
//! - [`net`]: the listener on every interface, IPv6 and IPv4.
//! - [`http`]: the security headers and the small error pages every web program serves.
//! - [`healthcheck`]: the `healthcheck` subcommand container images use instead of curl.
//! - [`postgres`] (feature `postgres`): `DATABASE_URL` with libpq's `sslmode`, the password
//!   file, the connection pool and the URL as logs may show it.
//! - [`redis_url`] (feature `redis`): `REDIS_URL` as logs may show it.

pub mod config;
pub mod environment;
pub mod healthcheck;
pub mod http;
pub mod lifecycle;
pub mod metrics;
pub mod net;
#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "redis")]
pub mod redis_url;
pub mod telemetry;
