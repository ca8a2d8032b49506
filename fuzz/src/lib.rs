//! The properties every parser of outside input must have, one module per parser. The fuzz
//! targets (`fuzz_targets/`) feed them libFuzzer's inputs; the property tests of service-kit
//! and ballot (`tests/parsers.rs`) include the same modules and feed them generated inputs,
//! so both check one set of properties. Each check panics when a property fails.

pub mod cookie;
pub mod database_url;
pub mod queue_message;
pub mod redis_url;
pub mod secret;
pub mod settings;
pub mod text;
pub mod vote_body;
