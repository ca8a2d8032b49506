//! The HTTP server every program runs, set up once: the listener on every interface, the
//! security headers (SPEC section 3), the access log and request metrics (section 9), the
//! operator routes, the 404 page, and the stop of section 6 left to the program (signals off,
//! in-flight requests given [`IN_FLIGHT_GRACE_SECS`]). A program adds its own routes and
//! what `/readyz` means to it.

use std::{fmt, io, net::TcpListener};

use actix_web::{
    App, FromRequest, Handler, HttpServer, Responder, dev::Server, middleware::from_fn, web,
};

use crate::{
    http::{not_found, operator_routes, security_headers},
    lifecycle::{IN_FLIGHT_GRACE_SECS, Lifecycle},
    metrics::{Metrics, observe},
    net::listen_on_all_interfaces,
};

/// A program's HTTP server, bound and not yet serving.
pub struct WebServer {
    listener: TcpListener,
    port: u16,
    workers: Option<usize>,
}

/// The port could not be bound; names the variable that sets it.
#[derive(Debug)]
pub struct BindError {
    port: u16,
    source: io::Error,
}

impl fmt::Display for BindError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot listen on PORT={}: {}", self.port, self.source)
    }
}

impl std::error::Error for BindError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

impl WebServer {
    /// Binds `port` (the `PORT` setting; 0 picks a free one) on every interface, IPv6 and
    /// IPv4. Binding comes first, so that a taken port fails the start before anything else
    /// is built.
    pub fn bind(port: u16) -> Result<WebServer, BindError> {
        let bound = listen_on_all_interfaces(port)
            .and_then(|listener| Ok((listener.local_addr()?.port(), listener)));
        match bound {
            Ok((port, listener)) => Ok(WebServer {
                listener,
                port,
                workers: None,
            }),
            Err(source) => Err(BindError { port, source }),
        }
    }

    /// The port it listens on: the one asked for, or the free one picked for 0.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// How many threads serve HTTP; by default one per core, as actix-web does.
    pub fn workers(self, workers: usize) -> WebServer {
        WebServer {
            workers: Some(workers),
            ..self
        }
    }

    /// Starts serving `routes` (which also add the program's own shared state with
    /// `ServiceConfig::app_data`), with `/healthz`, `/readyz` answered by `readyz`, and
    /// `/metrics` from `metrics`. `lifecycle` is shared with the handlers as
    /// `web::Data<Lifecycle>`. The returned server runs until [`crate::lifecycle::serve_until`]
    /// stops it.
    pub fn start<R, Args, C>(
        self,
        metrics: Metrics,
        lifecycle: Lifecycle,
        readyz: R,
        routes: C,
    ) -> io::Result<Server>
    where
        R: Handler<Args> + Send,
        Args: FromRequest + 'static,
        R::Output: Responder + 'static,
        C: Fn(&mut web::ServiceConfig) + Clone + Send + 'static,
    {
        let metrics = web::Data::new(metrics);
        let lifecycle = web::Data::new(lifecycle);
        let server = HttpServer::new(move || {
            App::new()
                .app_data(metrics.clone())
                .app_data(lifecycle.clone())
                .wrap(security_headers())
                .wrap(from_fn(observe))
                .configure(routes.clone())
                .configure(operator_routes(readyz.clone()))
                .default_service(web::to(not_found))
        });
        let server = match self.workers {
            Some(workers) => server.workers(workers),
            None => server,
        };
        Ok(server
            .listen(self.listener)?
            // Signals are the program's to handle: readiness must turn 503 before the
            // listener closes, and the worker's batch in hand must finish first.
            .disable_signals()
            .shutdown_timeout(IN_FLIGHT_GRACE_SECS)
            .run())
    }
}

#[cfg(test)]
mod tests {
    use std::{
        io::{Read, Write},
        net::{Ipv4Addr, TcpStream},
    };

    use actix_web::HttpResponse;

    use super::*;
    use crate::lifecycle;

    /// One request over a connection of its own; the whole answer, head and body.
    fn request(port: u16, request_line: &str) -> String {
        let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).expect("it listens");
        write!(
            stream,
            "{request_line} HTTP/1.0\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n"
        )
        .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        answer
    }

    async fn hello() -> HttpResponse {
        HttpResponse::Ok().body("hello")
    }

    #[actix_web::test]
    async fn every_answer_has_the_chassis_headers_routes_and_metrics() {
        let server = WebServer::bind(0).expect("a free port").workers(1);
        let port = server.port();
        let running = server
            .start(
                Metrics::new("kit", "1.2.3"),
                Lifecycle::new(),
                lifecycle::readyz,
                |config: &mut web::ServiceConfig| {
                    config.service(crate::http::get("/hello", hello));
                },
            )
            .expect("it starts");
        let handle = running.handle();
        actix_web::rt::spawn(running);

        let answers = actix_web::rt::task::spawn_blocking(move || {
            [
                "GET /hello",
                "GET /nowhere",
                "POST /hello",
                "GET /readyz",
                "GET /metrics",
            ]
            .map(|line| request(port, line))
        })
        .await
        .unwrap();
        handle.stop(false).await;

        let status = |answer: &str| answer.split(' ').nth(1).unwrap_or_default().to_owned();
        let [hello, missing, wrong_method, ready, metrics] = &answers;
        assert_eq!(status(hello), "200", "{hello}");
        assert!(hello.ends_with("hello"), "{hello}");
        assert_eq!(status(missing), "404", "{missing}");
        assert!(missing.contains("<h1>404 Not Found</h1>"), "{missing}");
        assert_eq!(status(wrong_method), "405", "{wrong_method}");
        assert_eq!(status(ready), "200", "{ready}");
        let headers = [
            "content-security-policy: default-src 'self'",
            "x-content-type-options: nosniff",
            "referrer-policy: no-referrer",
        ];
        for (answer, header) in answers.iter().flat_map(|a| headers.map(|h| (a, h))) {
            assert!(
                answer.to_ascii_lowercase().contains(header),
                "{header}: {answer}"
            );
        }
        // The requests before the scrape are counted by route pattern, unmatched paths apart.
        assert!(
            metrics.contains(r#"http_requests_total{method="GET",route="/hello",status="200"} 1"#),
            "{metrics}"
        );
        assert!(
            metrics.contains(r#"route="unmatched",status="404"} 1"#),
            "{metrics}"
        );
        assert!(
            metrics.contains(r#"kit_build_info{version="1.2.3"} 1"#),
            "{metrics}"
        );
    }

    #[test]
    fn a_taken_port_is_refused_naming_the_variable() {
        let taken = WebServer::bind(0).expect("a free port");
        let err = WebServer::bind(taken.port())
            .err()
            .expect("the port is taken");
        assert!(
            err.to_string()
                .starts_with(&format!("cannot listen on PORT={}: ", taken.port())),
            "{err}"
        );
    }
}
