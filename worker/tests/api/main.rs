//! Black-box tests of the worker against the real Redis and PostgreSQL of the test machine.

mod helpers;

mod dead_letters;
mod drain;
mod outages;
mod queue;
mod recovery;
mod schema;
mod secrets;
mod tally;
mod tls;
