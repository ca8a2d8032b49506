//! `DATABASE_URL`: the first byte picks raw text (even) or parts written into a URL (odd).
#![no_main]

use std::sync::Once;

use libfuzzer_sys::{
    arbitrary::{Result, Unstructured},
    fuzz_target,
};
use voting_app_fuzz::{
    database_url::{Form, PasswordPlace, SSL_MODES, UrlParts, check_any_text, may_read_files},
    secret::MARKER,
};

fuzz_target!(|data: &[u8]| {
    static NO_SYSTEM_ROOTS: Once = Once::new();
    NO_SYSTEM_ROOTS.call_once(|| {
        // SAFETY: set once, before any parse, while libFuzzer runs this one thread. A
        // verifying sslmode then fails at once instead of reading the system's certificates
        // on every run.
        unsafe {
            std::env::set_var("SSL_CERT_FILE", "/nonexistent/fuzzing");
            std::env::set_var("SSL_CERT_DIR", "/nonexistent/fuzzing");
        }
    });
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 2 == 0 {
        if let Ok(url) = std::str::from_utf8(rest)
            && !may_read_files(url)
        {
            check_any_text(url);
        }
    } else if let Ok(parts) = parts(&mut Unstructured::new(rest))
        && parts.are_usable()
    {
        parts.check();
    }
});

fn parts(u: &mut Unstructured) -> Result<UrlParts> {
    let form = if u.arbitrary()? {
        Form::Url
    } else {
        Form::KeyValue
    };
    let password_place = if u.arbitrary()? {
        PasswordPlace::Main
    } else {
        PasswordPlace::Query
    };
    let user = u.arbitrary()?;
    let before: String = u.arbitrary()?;
    let after: String = u.arbitrary()?;
    let hosts = (0..u.int_in_range(1..=3)?)
        .map(|_| Ok((u.arbitrary()?, u.arbitrary()?)))
        .collect::<Result<_>>()?;
    let dbname = u.arbitrary()?;
    let ssl_mode = if u.arbitrary()? {
        Some(*u.choose(&SSL_MODES)?)
    } else {
        None
    };
    Ok(UrlParts {
        form,
        user,
        password: format!("{before}{MARKER}{after}"),
        password_place,
        hosts,
        dbname,
        ssl_mode,
    })
}
