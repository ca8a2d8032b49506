//! What the three programs of the voting app share.
//!
//! - [`config`]: settings from environment variables, with errors that name the variable.
//! - [`environment`]: each program's list of the variables it reads, with their defaults.
//! - [`logging`]: logging set-up (`RUST_LOG`, `LOG_FORMAT`).
//! - [`net`]: the listener on every interface, IPv6 and IPv4.
//! - With the feature `web`, the HTTP side of the web programs:
//!   - [`server`]: the HTTP server every program runs, set up once;
//!   - [`http`]: the security headers, the error pages, page templates with Tera's escaping,
//!     the assets, and the routing helpers;
//!   - [`metrics`]: the Prometheus registry, `/metrics`, and the per-request access log;
//!   - [`lifecycle`]: `/healthz`, `/readyz`, the shutdown signal and the graceful stop.
//! - [`backoff`]: capped exponential backoff for every retry loop.
//! - [`healthcheck`]: the `healthcheck` subcommand container images use instead of curl.
//! - [`postgres`] (feature `postgres`): `DATABASE_URL` with libpq's `sslmode`, the password
//!   file, the connection pool and the URL as logs may show it.
//! - [`redis_url`] (feature `redis`): `REDIS_URL` as logs may show it.

pub mod backoff;
pub mod config;
pub mod environment;
pub mod healthcheck;
#[cfg(feature = "web")]
pub mod http;
#[cfg(feature = "web")]
pub mod lifecycle;
pub mod logging;
#[cfg(feature = "web")]
pub mod metrics;
pub mod net;
#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "redis")]
pub mod redis_url;
#[cfg(feature = "web")]
pub mod server;
#[cfg(any(feature = "postgres", feature = "redis"))]
mod url_encoding;
