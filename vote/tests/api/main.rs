//! Black-box tests of the vote service over HTTP against the real Redis (SPEC section 3).

mod bad_input;
mod helpers;
mod metrics;
mod page;
mod process;
mod redis_outage;
mod secrets;
mod tls;
mod voting;
