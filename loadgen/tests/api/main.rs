//! The load generator's black-box tests, against the real vote and result services, Redis and
//! PostgreSQL; one test binary, so that the helpers compile once.

mod acks;
mod helpers;
mod ledger;
mod make_run;
mod voting;
mod waiting;
