//! The properties every parser of outside input must have, one module per parser. The fuzz
//! targets (`fuzz_targets/`) feed them libFuzzer's inputs; the property tests of service-kit,
//! vote and worker (`tests/parsers.rs`) include the same modules and feed them generated
//! inputs, so both check one set of properties. Each check panics when a property fails.

pub mod database_url;
pub mod redis_url;
pub mod settings;
pub mod text;
