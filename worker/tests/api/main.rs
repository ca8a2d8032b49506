//! Black-box tests of the worker against the real Redis and PostgreSQL of the test machine.

mod helpers;

mod consumer;
mod dead_letters;
mod metrics;
mod outages;
mod queue;
mod recovery;
mod reset;
mod schema;
mod secrets;
mod stop;
mod tally;
mod tls;
