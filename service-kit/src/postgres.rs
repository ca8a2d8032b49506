//! Connections to PostgreSQL as SPEC section 1 describes them, alike in every program:
//! `DATABASE_URL` in either of libpq's forms, libpq's `sslmode` and `sslrootcert`,
//! `DATABASE_PASSWORD_FILE`, and a form of the settings fit for a log line.
//!
//! tokio-postgres parses only `disable`, `prefer` and `require` and leaves certificates to the
//! TLS connector, so `sslmode` and `sslrootcert` are taken out of the URL here, the rest is
//! handed to `tokio_postgres::Config`, and the connector is built to match the mode: rustls with
//! the `ring` provider, verifying as much as the mode asks and no more.

use std::{
    fmt,
    os::unix::ffi::OsStrExt,
    path::{Path, PathBuf},
    str::FromStr,
    sync::Arc,
    time::Duration,
};

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use rustls::{
    ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
    client::{
        danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier},
        verify_server_cert_signed_by_trust_anchor, verify_server_name,
    },
    crypto::{WebPkiSupportedAlgorithms, ring},
    pki_types::{CertificateDer, ServerName, UnixTime, pem::PemObject},
    server::ParsedCertificate,
};
use tokio_postgres::{
    Client, Connection, Socket,
    config::{Host, SslMode as WireSslMode},
    tls::MakeTlsConnect,
};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::{config::ConfigError, url_encoding::encoded as url_encoded};

/// A connection attempt that takes longer has failed, unless `DATABASE_URL` sets its own
/// `connect_timeout`: long enough for a database across a region, short enough that an
/// unreachable address shows in the logs within seconds.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The TLS stream of a connection; its type is private to the connector crate.
pub type TlsStream = <MakeRustlsConnect as MakeTlsConnect<Socket>>::Stream;

/// libpq's `sslmode`, all of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// Never TLS.
    Disable,
    /// TLS when the server offers it, certificate not checked; plain otherwise. The default.
    Prefer,
    /// TLS or no connection; certificate not checked.
    Require,
    /// TLS with a certificate that chains to a trusted root.
    VerifyCa,
    /// As `VerifyCa`, and the certificate names the host connected to.
    VerifyFull,
}

impl SslMode {
    fn parse(value: &str) -> Option<SslMode> {
        Some(match value {
            "disable" => SslMode::Disable,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            // libpq's `allow` tries plain first; no TLS-capable server refuses plain and
            // TLS-only servers need `prefer` anyway, so it is `prefer` here.
            "allow" => SslMode::Prefer,
            _ => return None,
        })
    }

    fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }

    /// What tokio-postgres itself enforces: whether TLS is tried and whether it is a must.
    fn wire(self) -> WireSslMode {
        match self {
            SslMode::Disable => WireSslMode::Disable,
            SslMode::Prefer => WireSslMode::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => WireSslMode::Require,
        }
    }

    fn verifies(self) -> bool {
        matches!(self, SslMode::VerifyCa | SslMode::VerifyFull)
    }
}

/// Where the certificates that a verifying mode trusts come from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum RootCertificates {
    /// The system's store (which honours `SSL_CERT_FILE`), also `sslrootcert=system`.
    System,
    /// The PEM file named by `sslrootcert`.
    File(PathBuf),
}

/// Everything needed to connect to PostgreSQL, parsed and checked at start-up.
#[derive(Clone)]
pub struct PostgresConfig {
    config: tokio_postgres::Config,
    ssl_mode: SslMode,
    root_certificates: RootCertificates,
    /// Whether the password came from `DATABASE_PASSWORD_FILE`, for the log line.
    password_from_file: bool,
    tls: MakeRustlsConnect,
}

impl PostgresConfig {
    /// `DATABASE_URL` and `DATABASE_PASSWORD_FILE` through a program's list of the variables
    /// it reads, whose defaults are the program's.
    pub fn from_environment(
        environment: &crate::environment::Environment,
    ) -> Result<PostgresConfig, ConfigError> {
        let url = environment.text("DATABASE_URL");
        let password_file = environment.get("DATABASE_PASSWORD_FILE").map(PathBuf::from);
        PostgresConfig::parse(&url, password_file.as_deref())
    }

    /// `url` as libpq reads it (`postgres://…` or `key=value …`); the password, if
    /// `password_file` is given, is that file's content without its trailing newline. Errors
    /// name the variable to fix and never repeat the URL, which may hold a password.
    pub fn parse(url: &str, password_file: Option<&Path>) -> Result<PostgresConfig, ConfigError> {
        let database_url = |reason: String| ConfigError {
            name: "DATABASE_URL",
            value: None,
            reason,
        };
        let TlsParameters {
            rest,
            ssl_mode,
            root_certificate,
        } = TlsParameters::take_out(url).map_err(database_url)?;
        let ssl_mode = match ssl_mode {
            None => SslMode::Prefer,
            Some(value) => SslMode::parse(&value).ok_or_else(|| {
                // A misspelt mode is shown; anything else may be the end of a password that
                // lost its quotes (`password=a sslmode=b…`).
                let looks_like_a_mode =
                    value.len() <= 16 && value.bytes().all(|b| b.is_ascii_lowercase() || b == b'-');
                let setting = if looks_like_a_mode {
                    format!("sslmode={value:?}")
                } else {
                    "sslmode".to_owned()
                };
                database_url(format!(
                    "{setting} is not one of disable, allow, prefer, require, verify-ca, \
                     verify-full"
                ))
            })?,
        };
        let root_certificates = match root_certificate.as_deref() {
            None | Some("" | "system") => RootCertificates::System,
            Some(path) => RootCertificates::File(PathBuf::from(path)),
        };
        let mut config = tokio_postgres::Config::from_str(&rest)
            .map_err(|err| database_url(explain_parse_error(&err)))?;
        config.ssl_mode(ssl_mode.wire());
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(DEFAULT_CONNECT_TIMEOUT);
        }
        if let Some(path) = password_file {
            config.password(read_password_file(path)?);
        }
        let tls = connector(ssl_mode, &root_certificates).map_err(database_url)?;
        Ok(PostgresConfig {
            config,
            ssl_mode,
            root_certificates,
            password_from_file: password_file.is_some(),
            tls,
        })
    }

    /// The settings as parsed, for checks of the parser (its property tests and fuzz targets).
    pub fn settings(&self) -> &tokio_postgres::Config {
        &self.config
    }

    pub fn ssl_mode(&self) -> SslMode {
        self.ssl_mode
    }

    /// The file `sslrootcert` names; `None` for the system's roots.
    pub fn root_certificate_file(&self) -> Option<&Path> {
        match &self.root_certificates {
            RootCertificates::System => None,
            RootCertificates::File(path) => Some(path),
        }
    }

    /// One connection of the caller's own, whose `Connection` half the caller drives (to
    /// receive notifications, say). The connect timeout bounds the whole of it, the TLS
    /// handshake and the log-in included, which tokio-postgres's own bounds only the TCP part
    /// of: a server that accepts and never answers is an error too.
    pub async fn connect(&self) -> Result<(Client, Connection<Socket, TlsStream>), ConnectError> {
        let limit = self.connect_timeout();
        tokio::time::timeout(limit, self.config.connect(self.tls.clone()))
            .await
            .map_err(|_| ConnectError::NoAnswer(limit))?
            .map_err(ConnectError::Refused)
    }

    fn connect_timeout(&self) -> Duration {
        *self
            .config
            .get_connect_timeout()
            .expect("parse always sets a connect timeout")
    }

    /// A pool of at most `max_size` connections, made lazily: PostgreSQL need not be up yet.
    /// Taking a connection waits at most `wait`, making one at most the connect timeout.
    pub fn pool(&self, max_size: usize, wait: Duration) -> Pool {
        let connect_timeout = self.connect_timeout();
        let manager = Manager::from_config(
            self.config.clone(),
            self.tls.clone(),
            ManagerConfig {
                // A broken connection is found by the query that fails, and then dropped;
                // checking every connection before use would cost a round trip per query.
                recycling_method: RecyclingMethod::Fast,
            },
        );
        Pool::builder(manager)
            .max_size(max_size)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(wait))
            .create_timeout(Some(connect_timeout))
            .recycle_timeout(Some(connect_timeout))
            .build()
            .expect("a pool with a runtime set builds")
    }
}

/// The settings as a URL for a log line, rebuilt from what was parsed: whatever form the
/// password came in (`user:pass@`, `?password=`, `password=` in a key/value string, a file),
/// it shows as `***`. Each part is percent-encoded, so that the line reads back as the same
/// settings (a socket directory as `%2Frun%2Fpostgresql`, as libpq writes it).
impl fmt::Display for PostgresConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let config = &self.config;
        f.write_str("postgres://")?;
        if let Some(user) = config.get_user() {
            f.write_str(&url_encoded(user.as_bytes(), b""))?;
            if config.get_password().is_some() {
                f.write_str(":***")?;
            }
            f.write_str("@")?;
        }
        let ports = config.get_ports();
        for (i, host) in config.get_hosts().iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            match host {
                Host::Tcp(name) if name.contains(':') => {
                    write!(f, "[{}]", url_encoded(name.as_bytes(), b":"))?
                }
                Host::Tcp(name) => f.write_str(&url_encoded(name.as_bytes(), b""))?,
                Host::Unix(path) => f.write_str(&url_encoded(path.as_os_str().as_bytes(), b""))?,
            }
            // tokio-postgres's own default, as libpq's.
            let port = ports.get(i).or(ports.first()).unwrap_or(&5432);
            write!(f, ":{port}")?;
        }
        f.write_str("/")?;
        if let Some(dbname) = config.get_dbname() {
            f.write_str(&url_encoded(dbname.as_bytes(), b""))?;
        }
        write!(f, "?sslmode={}", self.ssl_mode.as_str())?;
        if let RootCertificates::File(path) = &self.root_certificates {
            let path = url_encoded(path.as_os_str().as_bytes(), b"/");
            write!(f, "&sslrootcert={path}")?;
        }
        for address in config.get_hostaddrs() {
            write!(f, "&hostaddr={address}")?;
        }
        if self.password_from_file {
            f.write_str(" (password from DATABASE_PASSWORD_FILE)")?;
        }
        Ok(())
    }
}

impl fmt::Debug for PostgresConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Why a connection could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("{}", explain(.0))]
    Refused(tokio_postgres::Error),
    #[error("no answer within {0:?}")]
    NoAnswer(Duration),
}

/// An error with its causes: tokio-postgres's own message names only the kind of failure
/// ("error performing TLS handshake") and leaves the reason to its cause.
pub fn explain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// tokio-postgres's reason for refusing a connection string, without the name of an unknown
/// option, which in a malformed string may be part of a password (`password=a b=c`).
fn explain_parse_error(err: &tokio_postgres::Error) -> String {
    let reason = explain(err);
    match reason.find("unknown option") {
        Some(at) => format!(
            "{}an option that libpq does not know (a value with spaces or `&` needs quoting \
             or percent-encoding)",
            &reason[..at]
        ),
        None => reason,
    }
}

fn read_password_file(path: &Path) -> Result<String, ConfigError> {
    let file_error = |reason: String| ConfigError {
        name: "DATABASE_PASSWORD_FILE",
        value: Some(path.display().to_string()),
        reason,
    };
    let content = std::fs::read_to_string(path)
        .map_err(|err| file_error(format!("cannot read the password from it: {err}")))?;
    let password = content.trim_end_matches(['\n', '\r']);
    if password.is_empty() {
        return Err(file_error("the file is empty".to_owned()));
    }
    Ok(password.to_owned())
}

/// `sslmode` and `sslrootcert` taken out of a connection string, and the rest of it.
#[derive(Debug, PartialEq, Eq)]
struct TlsParameters {
    rest: String,
    ssl_mode: Option<String>,
    root_certificate: Option<String>,
}

impl TlsParameters {
    fn take_out(url: &str) -> Result<TlsParameters, String> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(TlsParameters::from_url(url))
        } else {
            TlsParameters::from_key_values(url)
        }
    }

    /// The URL form: the parameters are the query's `key=value` pairs, percent-encoded. The
    /// query starts at the first `?` after the user info, which may itself hold a `?` and
    /// ends, as tokio-postgres reads it, at the first `@` — unless a `/` and then a `?` come
    /// before that `@`: it is then in the query (`postgres://db/x?password=p@ss`), as libpq
    /// reads it, and tokio-postgres, which would take all before it for a user name, is
    /// handed it percent-encoded.
    fn from_url(url: &str) -> TlsParameters {
        let scheme_end = url.find("://").map_or(0, |at| at + 3);
        let slash = url[scheme_end..].find('/').map(|at| scheme_end + at);
        let question = slash.and_then(|slash| url[slash..].find('?').map(|at| slash + at));
        let query_before_at = match (question, url.find('@')) {
            (Some(question), Some(at)) => question < at,
            _ => false,
        };
        let url = if query_before_at {
            url.replace('@', "%40")
        } else {
            url.to_owned()
        };
        let after_user_info = url.find('@').map_or(0, |at| at + 1);
        let mut taken = TlsParameters {
            rest: url.clone(),
            ssl_mode: None,
            root_certificate: None,
        };
        let Some(question) = url[after_user_info..].find('?') else {
            return taken;
        };
        let (base, query) = url.split_at(after_user_info + question);
        let mut kept = Vec::new();
        for pair in query[1..].split('&') {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            match percent_decode(key).as_str() {
                "sslmode" => taken.ssl_mode = Some(percent_decode(value)),
                "sslrootcert" => taken.root_certificate = Some(percent_decode(value)),
                _ => kept.push(pair),
            }
        }
        taken.rest = if kept.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{}", kept.join("&"))
        };
        taken
    }

    /// libpq's key/value form: `key = value` separated by spaces, a value either bare or in
    /// single quotes, with `\` escaping the next character in both.
    fn from_key_values(text: &str) -> Result<TlsParameters, String> {
        let mut taken = TlsParameters {
            rest: String::new(),
            ssl_mode: None,
            root_certificate: None,
        };
        let mut chars = text.char_indices().peekable();
        loop {
            while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
            let Some(&(start, _)) = chars.peek() else {
                break;
            };
            let mut key = String::new();
            while let Some((_, c)) = chars.next_if(|(_, c)| *c != '=' && !c.is_whitespace()) {
                key.push(c);
            }
            while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
            if chars.next_if(|(_, c)| *c == '=').is_none() {
                // The word is not repeated: in a malformed string it may be part of a password
                // (`password=two words`).
                return Err(format!(
                    "not a postgres:// URL, and the word at byte {start} is not followed by `=` \
                     as in `host=db user=postgres` (a value with spaces needs quotes: \
                     password='…')"
                ));
            }
            while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
            let value_start = chars.peek().map_or(text.len(), |&(at, _)| at);
            let mut value = String::new();
            let quoted = chars.next_if(|(_, c)| *c == '\'').is_some();
            let mut closed = !quoted;
            while let Some((_, c)) = chars.next_if(|(_, c)| quoted || !c.is_whitespace()) {
                match c {
                    '\\' => value.extend(chars.next().map(|(_, escaped)| escaped)),
                    '\'' if quoted => {
                        closed = true;
                        break;
                    }
                    c => value.push(c),
                }
            }
            if !closed {
                return Err(format!(
                    "the quoted value at byte {value_start} has no closing quote"
                ));
            }
            let end = chars.peek().map_or(text.len(), |&(end, _)| end);
            match key.as_str() {
                "sslmode" => taken.ssl_mode = Some(value),
                "sslrootcert" => taken.root_certificate = Some(value),
                _ => {
                    taken.rest.push_str(&text[start..end]);
                    taken.rest.push(' ');
                }
            }
        }
        Ok(taken)
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                decoded.push(byte);
                i += 3;
            }
            (byte, _) => {
                decoded.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

/// The TLS connector for `mode`. Every mode gets one (tokio-postgres does not call it for
/// `disable`), so that every program has one connection type.
fn connector(mode: SslMode, roots: &RootCertificates) -> Result<MakeRustlsConnect, String> {
    let provider = Arc::new(ring::default_provider());
    let verifier = CertificateCheck {
        roots: if mode.verifies() {
            Some(Arc::new(root_store(roots)?))
        } else {
            None
        },
        check_host_name: mode == SslMode::VerifyFull,
        algorithms: provider.signature_verification_algorithms,
    };
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|err| format!("the TLS provider: {err}"))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

fn root_store(roots: &RootCertificates) -> Result<RootCertStore, String> {
    let certificates: Vec<CertificateDer<'static>> = match roots {
        RootCertificates::System => {
            let found = rustls_native_certs::load_native_certs();
            if found.certs.is_empty() {
                return Err(format!(
                    "sslmode verifies the server, but no system root certificate could be \
                     loaded ({:?}); install them or name a file with sslrootcert",
                    found.errors
                ));
            }
            found.certs
        }
        RootCertificates::File(path) => CertificateDer::pem_file_iter(path)
            .and_then(|certificates| certificates.collect::<Result<Vec<_>, _>>())
            .map_err(|err| format!("sslrootcert={}: {err}", path.display()))?,
    };
    let mut store = RootCertStore::empty();
    let (_, unparsable) = store.add_parsable_certificates(certificates);
    if store.is_empty() {
        return Err(format!(
            "no usable root certificate ({unparsable} could not be parsed)"
        ));
    }
    Ok(store)
}

/// One certificate check for every mode: none (`prefer`, `require`: encrypted against a
/// passive listener only, as libpq does), the chain (`verify-ca`), the chain and the host name
/// (`verify-full`). The handshake's own signatures are always checked, so the session is
/// with whoever holds the presented certificate's key.
#[derive(Debug)]
struct CertificateCheck {
    /// `None`: the certificate is not checked.
    roots: Option<Arc<RootCertStore>>,
    check_host_name: bool,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for CertificateCheck {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(roots) = &self.roots else {
            return Ok(ServerCertVerified::assertion());
        };
        let certificate = ParsedCertificate::try_from(end_entity)?;
        verify_server_cert_signed_by_trust_anchor(
            &certificate,
            roots,
            intermediates,
            now,
            self.algorithms.all,
        )?;
        if self.check_host_name {
            verify_server_name(&certificate, server_name)?;
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        certificate: &CertificateDer<'_>,
        signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, certificate, signature, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        certificate: &CertificateDer<'_>,
        signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, certificate, signature, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "s3cr3t-Pw";

    fn parsed(url: &str) -> PostgresConfig {
        PostgresConfig::parse(url, None).unwrap_or_else(|err| panic!("{url}: {err}"))
    }

    #[test]
    fn every_password_form_is_redacted_in_the_log_form() {
        for url in [
            format!("postgres://app:{SECRET}@db:5432/votes"),
            format!("postgresql://db/votes?user=app&password={SECRET}&sslmode=require"),
            format!("host=db user=app password={SECRET} dbname=votes"),
            format!("host=db user=app password='{SECRET} with spaces' dbname=votes"),
        ] {
            let shown = parsed(&url).to_string();
            assert!(!shown.contains(SECRET), "{url} -> {shown}");
            assert!(
                shown.starts_with("postgres://app:***@db:"),
                "{url} -> {shown}"
            );
            assert!(shown.contains("/votes?sslmode="), "{url} -> {shown}");
        }
    }

    /// Found by the property tests (service-kit/tests/parsers.rs): the log form wrote each
    /// part as it was, so that a `?`, `/` or `@` in one made it read back as other settings.
    #[test]
    fn the_log_form_reads_back_as_the_same_settings() {
        for url in [
            "host= ?",
            "postgres://u:pw@h:0/d%3F",
            "user='a@b:c' host='/run/my db' dbname='x/y?z'",
            "host=::1,db.example port=6000 sslmode=disable",
        ] {
            let config = parsed(url);
            let shown = config.to_string();
            let again = parsed(&shown);
            assert_eq!(again.to_string(), shown, "{url}");
            let settings = (config.config.get_user(), config.config.get_hosts());
            let settings_again = (again.config.get_user(), again.config.get_hosts());
            assert_eq!(settings_again, settings, "{url} -> {shown}");
            assert_eq!(
                again.config.get_dbname(),
                config.config.get_dbname(),
                "{shown}"
            );
        }
        assert_eq!(
            parsed("host=/run/postgresql dbname=votes").to_string(),
            "postgres://%2Frun%2Fpostgresql:5432/votes?sslmode=prefer"
        );
    }

    #[test]
    fn errors_about_the_url_never_repeat_it() {
        for url in [
            format!("postgres://app:{SECRET}@db:5432/votes?sslmode=verify-everything"),
            format!("postgres://app:{SECRET}@db:notaport/votes"),
            format!("host=db password={SECRET} sslmode=sometimes"),
            format!("host=db password '{SECRET}"),
            format!("host=db password='{SECRET}"),
            format!("postgres://db/x?password={SECRET}&colour=blue"),
        ] {
            let err = PostgresConfig::parse(&url, None)
                .map(|_| ())
                .expect_err(&url)
                .to_string();
            assert!(!err.contains(SECRET), "{url} -> {err}");
            assert!(err.contains("DATABASE_URL"), "{url} -> {err}");
        }
    }

    #[test]
    fn sslmode_and_sslrootcert_are_libpqs_in_both_forms() {
        let cases = [
            ("postgres://db/x", SslMode::Prefer),
            ("postgres://db/x?sslmode=disable", SslMode::Disable),
            (
                "postgres://db/x?application_name=a&sslmode=require",
                SslMode::Require,
            ),
            ("host=db sslmode=verify-ca", SslMode::VerifyCa),
            (
                "host=db sslmode = 'verify-full' dbname=x",
                SslMode::VerifyFull,
            ),
            ("postgres://db/x?sslmode=verify%2Dfull", SslMode::VerifyFull),
        ];
        for (url, mode) in cases {
            assert_eq!(parsed(url).ssl_mode, mode, "{url}");
        }
        let config = parsed("postgres://u@db:6000/x?sslmode=require&application_name=a");
        assert_eq!(config.config.get_ssl_mode(), WireSslMode::Require);
        assert_eq!(config.config.get_application_name(), Some("a"));
        assert_eq!(config.config.get_ports(), &[6000]);
        assert_eq!(parsed("host=db").config.get_ssl_mode(), WireSslMode::Prefer);
    }

    #[test]
    fn taking_out_the_tls_parameters_keeps_the_rest_intact() {
        assert_eq!(
            TlsParameters::take_out(
                "host=db password='it\\'s ok' sslrootcert='/a b/ca.pem' user=x"
            ),
            Ok(TlsParameters {
                rest: "host=db password='it\\'s ok' user=x ".to_owned(),
                ssl_mode: None,
                root_certificate: Some("/a b/ca.pem".to_owned()),
            })
        );
        assert_eq!(
            TlsParameters::take_out("postgres://u:p?w@db/x?sslmode=require"),
            Ok(TlsParameters {
                rest: "postgres://u:p?w@db/x".to_owned(),
                ssl_mode: Some("require".to_owned()),
                root_certificate: None,
            })
        );
    }

    /// Found by the property tests (service-kit/tests/parsers.rs): with no user info, an `@`
    /// in the query's password made tokio-postgres take all before it for a user name and the
    /// rest for a host, which the log form showed.
    #[test]
    fn an_at_sign_in_the_query_stays_in_the_query() {
        let config = parsed("postgres://h:0/d?password=p@s3cr3t&sslmode=disable");
        assert_eq!(config.config.get_password(), Some(b"p@s3cr3t".as_slice()));
        assert_eq!(config.config.get_user(), None);
        assert_eq!(config.config.get_hosts(), &[Host::Tcp("h".to_owned())]);
        assert_eq!(config.config.get_dbname(), Some("d"));
        assert_eq!(config.ssl_mode, SslMode::Disable);
        assert!(!config.to_string().contains("s3cr3t"), "{config}");
        // An `@` that ends the user info is still that, with a `/` or a `?` before it.
        let config = parsed("postgres://u:p?ss@h/d?sslmode=disable");
        assert_eq!(config.config.get_password(), Some(b"p?ss".as_slice()));
        let config = parsed("postgres://u:p/ss@h/d");
        assert_eq!(config.config.get_password(), Some(b"p/ss".as_slice()));
    }

    /// Found by the property tests (service-kit/tests/parsers.rs): a password with a space,
    /// not quoted, made the next word a key, and the error repeated it.
    #[test]
    fn errors_never_repeat_a_word_that_may_be_part_of_a_password() {
        for (url, reason) in [
            (
                "user='u' password=0 s3cr3t host='h'",
                "the word at byte 20 is not followed by `=`",
            ),
            (
                "host=db password=a s3cr3t=b",
                "an option that libpq does not know",
            ),
            (
                "postgres://db/x?password=a&s3cr3t=b",
                "an option that libpq does not know",
            ),
            (
                "host=db password=a s3cr3t='b",
                "the quoted value at byte 26 has no",
            ),
            // Found by the fuzz target `database_url`.
            (
                "password=LLL sslmode=disable\0s3cr3t host='h'",
                "sslmode is not one of",
            ),
            (
                "host=db sslmode=verfy-full",
                "sslmode=\"verfy-full\" is not one of",
            ),
        ] {
            let err = PostgresConfig::parse(url, None)
                .map(|_| ())
                .expect_err(url)
                .to_string();
            assert!(!err.contains("s3cr3t"), "{url} -> {err}");
            assert!(err.contains(reason), "{url} -> {err}");
        }
    }

    #[test]
    fn a_missing_root_certificate_file_names_the_setting() {
        let err = PostgresConfig::parse(
            "postgres://db/x?sslmode=verify-ca&sslrootcert=/nonexistent/ca.pem",
            None,
        )
        .map(|_| ())
        .unwrap_err()
        .to_string();
        assert!(err.contains("DATABASE_URL"), "{err}");
        assert!(err.contains("sslrootcert=/nonexistent/ca.pem"), "{err}");
    }

    #[test]
    fn the_password_file_replaces_the_urls_password() {
        let dir = std::env::temp_dir().join(format!("pg-password-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("password");
        std::fs::write(&file, format!("{SECRET}\n")).unwrap();

        let config =
            PostgresConfig::parse("postgres://app:other@db/x", Some(&file)).expect("valid");
        assert_eq!(config.config.get_password(), Some(SECRET.as_bytes()));
        assert!(!config.to_string().contains(SECRET));

        std::fs::write(&file, "\n").unwrap();
        let empty = PostgresConfig::parse("postgres://db/x", Some(&file))
            .map(|_| ())
            .unwrap_err()
            .to_string();
        assert!(empty.contains("DATABASE_PASSWORD_FILE"), "{empty}");
        let missing = PostgresConfig::parse("postgres://db/x", Some(&dir.join("none")))
            .map(|_| ())
            .unwrap_err()
            .to_string();
        assert!(missing.contains("DATABASE_PASSWORD_FILE"), "{missing}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
