//! The `healthcheck` subcommand: `vote healthcheck` asks the running program's own `/healthz`
//! and exits 0 on a 200, 1 otherwise. Container images use it for `HEALTHCHECK`, so they need
//! no shell or curl.

use std::{
    io::{Read, Write},
    net::{Ipv4Addr, SocketAddr, TcpStream},
    time::Duration,
};

/// A probe that takes longer than this counts as failed, well inside any probe's own timeout.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// If the program was started as `<program> healthcheck`, probes and exits; else returns.
pub fn run_if_requested(default_port: u16) {
    if std::env::args().nth(1).as_deref() != Some("healthcheck") {
        return;
    }
    let port = match crate::config::parse_or("PORT", default_port) {
        Ok(port) => port,
        Err(err) => {
            eprintln!("healthcheck: {err}");
            std::process::exit(1);
        }
    };
    match probe(port) {
        Ok(()) => std::process::exit(0),
        Err(err) => {
            eprintln!("healthcheck: {err}");
            std::process::exit(1);
        }
    }
}

/// `GET /healthz` on the loopback at `port`; Ok when the answer is 200.
pub fn probe(port: u16) -> Result<(), String> {
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut stream = TcpStream::connect_timeout(&address, PROBE_TIMEOUT)
        .map_err(|err| format!("cannot connect to {address}: {err}"))?;
    stream
        .set_read_timeout(Some(PROBE_TIMEOUT))
        .and_then(|()| stream.set_write_timeout(Some(PROBE_TIMEOUT)))
        .and_then(|()| {
            stream
                .write_all(b"GET /healthz HTTP/1.0\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        })
        .map_err(|err| format!("cannot send the request: {err}"))?;
    let mut head = [0u8; 12];
    stream
        .read_exact(&mut head)
        .map_err(|err| format!("no answer: {err}"))?;
    // "HTTP/1.1 200" is exactly 12 bytes.
    if head.starts_with(b"HTTP/1.") && &head[8..] == b" 200" {
        Ok(())
    } else {
        Err(format!(
            "unhealthy answer: {}",
            String::from_utf8_lossy(&head)
        ))
    }
}
