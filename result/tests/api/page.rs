use crate::helpers::{Database, Schema, TestApp, header, tally_json};

#[actix_web::test]
async fn before_any_vote_and_without_a_votes_table_the_page_says_no_votes_yet() {
    let app = TestApp::spawn(Schema::Absent).await;

    let (status, body, headers) = app.get("/").await;

    assert_eq!(status, 200);
    assert!(body.contains("<h1>Cats vs Dogs</h1>"), "{body}");
    assert!(body.contains("No votes yet"), "{body}");
    // No percentage while there are no votes, and both bars half.
    assert!(body.contains(r#"id="percent-a"></p>"#), "{body}");
    assert!(body.contains(r#"id="percent-b"></p>"#), "{body}");
    assert_eq!(body.matches(r#"value="50""#).count(), 2, "{body}");
    assert_eq!(header(&headers, "cache-control"), "no-store");
    assert!(header(&headers, "content-security-policy").contains("default-src 'self'"));
    assert_eq!(header(&headers, "x-content-type-options"), "nosniff");
    assert!(headers.contains_key("referrer-policy"));
    assert_eq!(app.results().await, tally_json(0, 0));
    assert_eq!(app.get("/healthz").await.0, 200);
    assert_eq!(app.get("/readyz").await.0, 200);
}

#[actix_web::test]
async fn api_results_is_not_cached() {
    let app = TestApp::spawn(Schema::Worker).await;

    let (status, body, headers) = app.get("/api/results").await;

    assert_eq!(status, 200);
    assert_eq!(header(&headers, "cache-control"), "no-store");
    assert_eq!(
        header(&headers, "content-type"),
        "application/json",
        "{body}"
    );
    assert_eq!(app.results().await, tally_json(0, 0));
}

#[actix_web::test]
async fn the_page_is_rendered_with_the_current_tally() {
    let database = Database::create(Schema::Worker).await;
    database
        .write_batch(&[("v1", "a"), ("v2", "a"), ("v3", "b")])
        .await;

    let app = TestApp::spawn_on(database, |_| {}).await;
    let (_, body, _) = app.get("/").await;

    assert!(
        body.contains(r#"<p class="percent" id="percent-a">67%</p>"#),
        "{body}"
    );
    assert!(
        body.contains(r#"<p class="percent" id="percent-b">33%</p>"#),
        "{body}"
    );
    assert!(body.contains(r#"value="67""#), "{body}");
    assert!(body.contains("3 votes"), "{body}");
    assert_eq!(app.results().await, tally_json(2, 1));
}

#[actix_web::test]
async fn one_vote_is_counted_in_the_singular() {
    let database = Database::create(Schema::Worker).await;
    database.write_batch(&[("v1", "b")]).await;

    let app = TestApp::spawn_on(database, |_| {}).await;
    let (_, body, _) = app.get("/").await;

    assert!(body.contains(">1 vote<"), "{body}");
    assert!(body.contains(r#"id="percent-b">100%<"#), "{body}");
}

#[actix_web::test]
async fn without_vote_tally_the_votes_are_counted_with_group_by() {
    let database = Database::create(Schema::VotesOnly).await;
    // As the original worker writes: plain inserts, no tally, no NOTIFY; other values ignored.
    database
        .sql("INSERT INTO votes (id, vote) VALUES ('x', 'a'), ('y', 'b'), ('z', 'b'), ('w', 'c')")
        .await;

    let app = TestApp::spawn_on(database, |_| {}).await;

    assert_eq!(app.results().await, tally_json(1, 2));
}

#[actix_web::test]
async fn labels_come_from_the_settings_and_are_escaped() {
    let app = TestApp::spawn_with(Schema::Absent, |settings| {
        settings.option_a = "<b>Tea</b>".to_owned();
        settings.option_b = "Coffee & cake".to_owned();
    })
    .await;

    let (_, body, _) = app.get("/").await;

    assert!(body.contains("&lt;b&gt;Tea&lt;"), "{body}");
    assert!(body.contains("Coffee &amp; cake"), "{body}");
    assert!(!body.contains("<b>Tea</b>"), "{body}");
}

#[actix_web::test]
async fn the_assets_are_served_by_the_service_itself() {
    let app = TestApp::spawn(Schema::Absent).await;
    let (_, page, _) = app.get("/").await;

    for path in ["/static/result.css", "/static/result.js", "/favicon.svg"] {
        let (status, body, _) = app.get(path).await;
        assert_eq!(status, 200, "{path}");
        assert!(!body.is_empty(), "{path}");
        let link = path.trim_start_matches('/');
        assert!(page.contains(link), "the page links {path}");
    }
    // Nothing from another origin.
    assert!(
        !page.contains("http://") && !page.contains("https://"),
        "{page}"
    );
}

#[actix_web::test]
async fn unknown_paths_are_404_and_wrong_methods_405() {
    let app = TestApp::spawn(Schema::Absent).await;

    assert_eq!(app.get("/nothing-here").await.0, 404);
    let response = app
        .client
        .post(format!("{}/api/results", app.address))
        .send()
        .await
        .expect("the service answers");
    assert_eq!(response.status(), 405);
    assert_eq!(
        crate::helpers::header(response.headers(), "allow"),
        "GET, HEAD"
    );
}

#[actix_web::test]
async fn metrics_show_sockets_frames_reads_and_database_health() {
    let app = TestApp::spawn(Schema::Worker).await;
    let mut socket = app.connect_socket().await;
    socket.next_tally().await;

    let (status, metrics, _) = app.get("/metrics").await;

    assert_eq!(status, 200);
    assert!(metrics.contains("result_websockets_open 1"), "{metrics}");
    assert!(
        metrics.contains("result_websocket_frames_sent_total"),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"result_tally_reads_total{outcome="ok"}"#),
        "{metrics}"
    );
    assert!(metrics.contains("result_database_up 1"), "{metrics}");
    assert!(metrics.contains(r#"route="/ws""#), "{metrics}");
}
