//! `REDIS_URL`: the first byte picks raw text (even) or parts written into a URL (odd).
#![no_main]

use libfuzzer_sys::{
    arbitrary::{Result, Unstructured},
    fuzz_target,
};
use voting_app_fuzz::{
    redis_url::{RedisParts, Server, check_any_text},
    secret::MARKER,
};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 2 == 0 {
        if let Ok(url) = std::str::from_utf8(rest) {
            check_any_text(url);
        }
    } else if let Ok(parts) = parts(&mut Unstructured::new(rest))
        && parts.are_usable()
    {
        parts.check();
    }
});

fn parts(u: &mut Unstructured) -> Result<RedisParts> {
    let server = if u.ratio(3, 4)? {
        let host = match u.int_in_range(0..=2)? {
            0 => std::net::Ipv4Addr::from(u.arbitrary::<u32>()?).to_string(),
            1 => std::net::Ipv6Addr::from(u.arbitrary::<u128>()?).to_string(),
            _ => u.arbitrary()?,
        };
        let tls = u.arbitrary()?;
        Server::Tcp {
            host,
            port: u.arbitrary()?,
            tls,
            insecure: tls && u.arbitrary()?,
        }
    } else {
        let path: String = u.arbitrary()?;
        Server::Unix {
            path: format!("/{path}"),
        }
    };
    let before: String = u.arbitrary()?;
    let after: String = u.arbitrary()?;
    Ok(RedisParts {
        server,
        user: u.arbitrary()?,
        password: format!("{before}{MARKER}{after}"),
        db: u.arbitrary()?,
    })
}
