//! The vote service (SPEC section 3): a page with two options; each vote is appended to the
//! Redis queue as a ballot for the worker to store.
//!
//! - [`configuration`]: what the environment configures.
//! - [`startup`]: binding the listener and wiring the routes.
//! - [`page`]: the HTML page and its assets, compiled into the binary.
//! - [`routes`]: the handlers, and how each bad input is answered.
//! - [`voter`]: the voter id and the cookies that carry it.
//! - [`queue`]: the producer that appends ballots to Redis.

pub mod configuration;
pub mod page;
pub mod queue;
pub mod routes;
pub mod startup;
pub mod voter;
