//! A setting's raw value, as the operating system hands it over, read and parsed.
#![no_main]

use std::{ffi::OsStr, os::unix::ffi::OsStrExt};

use libfuzzer_sys::fuzz_target;
use voting_app_fuzz::settings::check_raw_value;

fuzz_target!(|data: &[u8]| {
    check_raw_value(OsStr::from_bytes(data));
});
