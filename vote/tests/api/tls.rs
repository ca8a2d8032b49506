//! SPEC section 1: a `rediss://` URL connects over TLS with rustls and the system's roots.
//! The test's own certificate authority stands in for the system's through `SSL_CERT_FILE`,
//! which the native root store honours, so nothing is trusted that production would not.

use std::{
    path::PathBuf,
    process::{Child, Command, Stdio},
};

use crate::{
    helpers::{free_port, wait_until},
    process::VoteProcess,
};

/// A throwaway folder with a CA and a server certificate for `localhost` signed by it.
struct Certificates {
    dir: PathBuf,
}

impl Certificates {
    fn make() -> Certificates {
        let dir = std::env::temp_dir().join(format!(
            "vote-tls-{}",
            vote::voter::VoterId::generate().as_str()
        ));
        std::fs::create_dir_all(&dir).expect("the temp folder is writable");
        let openssl = |args: &[&str]| {
            let status = Command::new("openssl")
                .args(args)
                .current_dir(&dir)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .expect("openssl is installed");
            assert!(status.success(), "openssl {args:?}");
        };
        std::fs::write(
            dir.join("server.ext"),
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
        )
        .unwrap();
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=vote test CA",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
        ]);
        openssl(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
        ]);
        openssl(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "1",
            "-extfile",
            "server.ext",
            "-out",
            "server.pem",
        ]);
        Certificates { dir }
    }

    fn path(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }
}

impl Drop for Certificates {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// redis-server speaking only TLS on a free port.
fn tls_redis(certificates: &Certificates, port: u16) -> Child {
    Command::new("redis-server")
        .args([
            "--port",
            "0",
            "--tls-port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
        ])
        .args(["--tls-cert-file", &certificates.path("server.pem")])
        .args(["--tls-key-file", &certificates.path("server.key")])
        .args(["--tls-ca-cert-file", &certificates.path("ca.pem")])
        .args([
            "--tls-auth-clients",
            "no",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .stdout(Stdio::null())
        .spawn()
        .expect("redis-server is installed")
}

#[test]
fn votes_reach_a_redis_that_speaks_only_tls() {
    let certificates = Certificates::make();
    let port = free_port();
    let mut redis = tls_redis(&certificates, port);
    wait_until("the TLS Redis listens", || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    let url = format!("rediss://localhost:{port}/0");
    let vote = VoteProcess::start(&[
        ("REDIS_URL", &url),
        ("SSL_CERT_FILE", &certificates.path("ca.pem")),
    ]);

    let status = vote.request("POST", "/", "vote=a");

    let _ = redis.kill();
    let _ = redis.wait();
    assert_eq!(status, 303, "the vote went through TLS");
}

#[test]
fn a_redis_certificate_the_system_does_not_trust_is_refused() {
    let certificates = Certificates::make();
    let port = free_port();
    let mut redis = tls_redis(&certificates, port);
    wait_until("the TLS Redis listens", || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    let url = format!("rediss://localhost:{port}/0");
    // No SSL_CERT_FILE: the test CA is not among the system's roots.
    let vote = VoteProcess::start(&[("REDIS_URL", &url)]);

    let status = vote.request("POST", "/", "vote=a");

    let _ = redis.kill();
    let _ = redis.wait();
    assert_eq!(status, 503);
}
