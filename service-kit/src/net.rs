//! The listening socket: every interface, IPv6 and IPv4 (SPEC section 1), so that the programs
//! serve on IPv6-only and dual-stack clusters alike.

use std::{
    io,
    net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener},
};

use socket2::{Domain, Protocol, Socket, Type};

/// How many connections may wait to be accepted; the kernel caps it at `somaxconn` anyway.
const BACKLOG: i32 = 1024;

/// A listener on `port` (0: any free port) on every interface: one IPv6 socket that also takes
/// IPv4 (as `::ffff:a.b.c.d`), set explicitly rather than left to the host's `bindv6only`;
/// where IPv6 is off (no `::` to bind), IPv4 alone.
pub fn listen_on_all_interfaces(port: u16) -> io::Result<TcpListener> {
    match dual_stack(port) {
        Ok(listener) => Ok(listener),
        Err(err) if ipv6_unavailable(&err) => {
            tracing::info!(error = %err, "IPv6 is unavailable; listening on IPv4 only");
            TcpListener::bind((Ipv4Addr::UNSPECIFIED, port))
        }
        Err(err) => Err(err),
    }
}

fn dual_stack(port: u16) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::IPV6, Type::STREAM, Some(Protocol::TCP))?;
    socket.set_only_v6(false)?;
    // As std's `TcpListener::bind` does: a restarted program can bind while old connections
    // of its predecessor linger in TIME_WAIT.
    socket.set_reuse_address(true)?;
    socket.bind(&SocketAddr::from((Ipv6Addr::UNSPECIFIED, port)).into())?;
    socket.listen(BACKLOG)?;
    Ok(socket.into())
}

/// The errors with which a host without IPv6 refuses an IPv6 socket or the `::` address.
fn ipv6_unavailable(err: &io::Error) -> bool {
    const EAFNOSUPPORT: i32 = 97;
    const EADDRNOTAVAIL: i32 = 99;
    matches!(err.raw_os_error(), Some(EAFNOSUPPORT | EADDRNOTAVAIL))
}

#[cfg(test)]
mod tests {
    use std::net::TcpStream;

    use super::*;

    #[test]
    fn one_listener_takes_ipv4_and_ipv6_clients() {
        let listener = listen_on_all_interfaces(0).expect("binds");
        let port = listener.local_addr().expect("bound").port();
        TcpStream::connect((Ipv4Addr::LOCALHOST, port)).expect("an IPv4 client connects");
        // A host without IPv6 falls back to IPv4 alone; one with it must take IPv6 clients too.
        if TcpListener::bind((Ipv6Addr::LOCALHOST, 0)).is_ok() {
            TcpStream::connect((Ipv6Addr::LOCALHOST, port)).expect("an IPv6 client connects");
        }
    }
}
