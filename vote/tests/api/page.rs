use crate::helpers::{spawn_app, spawn_app_with, test_settings};

#[actix_web::test]
async fn the_page_shows_both_options_the_tip_the_host_and_the_version() {
    let app = spawn_app().await;

    let reply = app.get("/", &[]).await;

    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert!(
        reply.body.contains("<title>Cats vs Dogs!</title>"),
        "{}",
        reply.body
    );
    assert!(reply.body.contains("<h1>Cats vs Dogs!</h1>"));
    assert!(reply.body.contains(r#"name="vote" value="a""#));
    assert!(reply.body.contains(r#"name="vote" value="b""#));
    assert!(reply.body.contains("(Tip: you can change your vote)"));
    let hostname = service_kit::config::hostname();
    assert!(reply.body.contains(&format!(
        "Processed by container ID <code id=\"hostname\">{hostname}</code>"
    )));
    assert!(reply.body.contains("1.2.3-test"));
    // A plain form: voting needs no script.
    assert!(reply.body.contains(r#"<form method="post" action="/""#));
    assert!(!reply.body.contains("<script"));
}

#[actix_web::test]
async fn the_labels_come_from_the_settings_and_are_escaped() {
    let mut settings = test_settings();
    settings.option_a = "<b>Tea</b>".into();
    settings.option_b = "Coffee & cake".into();
    let app = spawn_app_with(settings).await;

    let reply = app.get("/", &[]).await;

    assert!(
        reply
            .body
            .contains("<title>&lt;b&gt;Tea&lt;&#x2F;b&gt; vs Coffee &amp; cake!</title>"),
        "{}",
        reply.body
    );
    assert!(!reply.body.contains("<b>Tea</b>"));
    assert!(!reply.body.contains("Cats"));
}

#[actix_web::test]
async fn the_error_page_for_an_unknown_option_names_the_labels_escaped() {
    let mut settings = test_settings();
    settings.option_a = "<b>Tea</b>".into();
    let app = spawn_app_with(settings).await;

    let reply = app.vote_form("c", &[]).await;

    assert_eq!(reply.status, 400);
    // Tera's escaping, which escapes the slash too.
    assert!(
        reply.body.contains("&lt;b&gt;Tea&lt;&#x2F;b&gt;"),
        "{}",
        reply.body
    );
    assert!(!reply.body.contains("<b>Tea</b>"), "{}", reply.body);
    assert!(app.queued().is_empty());
}

#[actix_web::test]
async fn everything_the_page_needs_is_served_by_the_service_itself() {
    let app = spawn_app().await;

    let page = app.get("/", &[]).await;

    // Every link and source on the page is a path on this service.
    for attribute in ["href=\"", "src=\""] {
        for (index, _) in page.body.match_indices(attribute) {
            let target = &page.body[index + attribute.len()..];
            assert!(
                target.starts_with('/'),
                "external reference: {}",
                &target[..40.min(target.len())]
            );
        }
    }
    let css = app.get("/static/vote.css?v=1.2.3-test", &[]).await;
    assert_eq!(css.status, 200);
    assert_eq!(css.header("content-type"), Some("text/css; charset=utf-8"));
    assert!(css.body.contains(".option"));
    for favicon in ["/favicon.svg", "/favicon.ico"] {
        let icon = app.get(favicon, &[]).await;
        assert_eq!(icon.status, 200, "{favicon}");
        assert_eq!(icon.header("content-type"), Some("image/svg+xml"));
        assert!(icon.body.starts_with("<svg"));
    }
}

#[actix_web::test]
async fn the_security_headers_are_on_every_answer_and_the_page_is_not_cached() {
    let app = spawn_app().await;

    let page = app.get("/", &[]).await;
    let missing = app.get("/nowhere", &[]).await;

    for reply in [&page, &missing] {
        let csp = reply.header("content-security-policy").expect("a CSP");
        assert!(csp.contains("default-src 'self'"), "{csp}");
        assert!(
            !csp.contains("http"),
            "the CSP allows only the service itself: {csp}"
        );
        assert_eq!(reply.header("x-content-type-options"), Some("nosniff"));
        assert!(reply.header("referrer-policy").is_some());
    }
    assert_eq!(page.header("cache-control"), Some("no-store"));
}

#[actix_web::test]
async fn health_readiness_and_metrics_answer() {
    let app = spawn_app().await;
    app.vote_form("a", &[]).await;

    assert_eq!(app.get("/healthz", &[]).await.status, 200);
    assert_eq!(app.get("/readyz", &[]).await.status, 200);
    let metrics = app.get("/metrics", &[]).await;
    assert_eq!(metrics.status, 200);
    assert!(
        metrics
            .header("content-type")
            .unwrap()
            .starts_with("text/plain")
    );
    for expected in [
        // Counted by option, and the option nobody chose yet is there at 0.
        r#"vote_ballots_queued_total{vote="a"} 1"#,
        r#"vote_ballots_queued_total{vote="b"} 0"#,
        "vote_redis_up 1",
        r#"vote_build_info{version="1.2.3-test"} 1"#,
        "vote_ready 1",
        "process_resident_memory_bytes ",
        "process_cpu_seconds_total ",
        "process_open_fds ",
    ] {
        assert!(
            metrics.body.lines().any(|line| line.starts_with(expected)),
            "{expected} missing from\n{}",
            metrics.body
        );
    }
    // Labelled by the route pattern and the status, never by the raw path.
    assert!(
        metrics
            .body
            .contains(r#"http_requests_total{method="POST",route="/",status="303"} 1"#),
        "{}",
        metrics.body
    );
}

#[actix_web::test]
async fn head_answers_like_get_without_a_body() {
    let app = spawn_app().await;

    for path in ["/", "/healthz", "/static/vote.css"] {
        let reply = app
            .client
            .head(app.url(path))
            .send()
            .await
            .expect("the service answers");
        let reply = crate::helpers::read(reply).await;

        assert_eq!(reply.status, 200, "{path}");
        assert!(reply.body.is_empty(), "{path}: {}", reply.body);
    }
}

#[actix_web::test]
async fn the_service_answers_on_ipv6_and_ipv4() {
    let app = spawn_app().await;
    let port = app
        .address
        .rsplit(':')
        .next()
        .expect("the address has a port");
    // Skipped only where the host has no IPv6 loopback at all.
    let mut addresses = vec![format!("http://127.0.0.1:{port}/healthz")];
    if std::net::TcpListener::bind("[::1]:0").is_ok() {
        addresses.push(format!("http://[::1]:{port}/healthz"));
    }
    for address in addresses {
        let reply = app.client.get(&address).send().await;
        assert_eq!(
            reply.map(|reply| reply.status().as_u16()).ok(),
            Some(200),
            "{address}"
        );
    }
}
