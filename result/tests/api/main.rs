//! Black-box tests of the result service against the real PostgreSQL, each in its own database.

mod helpers;
mod page;
mod shutdown;
mod sockets;
mod websocket;
