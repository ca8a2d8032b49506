//! Black-box tests of the result service against the real PostgreSQL, each in its own database.

mod helpers;
mod metrics;
mod outage;
mod page;
mod pipeline;
mod secrets;
mod shutdown;
mod sockets;
mod tls;
mod websocket;
