use ballot::now_millis;

use awc::http::header::{self, HeaderValue};

use crate::helpers::spawn_app;

#[actix_web::test]
async fn a_form_vote_is_queued_with_the_cookies_voter_id_and_redirects_to_the_page() {
    let app = spawn_app().await;
    let before = now_millis();

    let reply = app.vote_form("b", &[]).await;

    let after = now_millis();
    assert_eq!(reply.status, 303);
    assert_eq!(reply.header("location"), Some("/"));
    let voter_id = reply
        .cookie("voter_id")
        .expect("a voter id is set")
        .to_owned();
    assert_eq!(reply.cookie("vote"), Some("b"));
    let queued = app.queued();
    assert_eq!(queued.len(), 1);
    let ballot = queued[0].as_object().expect("a JSON object");
    assert_eq!(ballot.len(), 3, "exactly voter_id, vote and ts: {ballot:?}");
    assert_eq!(ballot["voter_id"], voter_id.as_str());
    assert_eq!(ballot["vote"], "b");
    let ts = ballot["ts"].as_i64().expect("ts is an integer");
    assert!(
        (before..=after).contains(&ts),
        "{before} <= {ts} <= {after}"
    );
}

#[actix_web::test]
async fn an_api_vote_answers_202_with_the_voter_id_and_ignores_an_id_in_the_body() {
    let app = spawn_app().await;

    let reply = app
        .vote_api(
            r#"{"vote":"a","voter_id":"someone-else"}"#,
            &[("voter_id", "me-123")],
        )
        .await;

    assert_eq!(reply.status, 202);
    let body: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
    assert_eq!(body, serde_json::json!({"voter_id": "me-123", "vote": "a"}));
    assert_eq!(reply.cookie("voter_id"), Some("me-123"));
    assert_eq!(reply.cookie("vote"), Some("a"));
    let queued = app.queued();
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0]["voter_id"], "me-123");
    assert_eq!(queued[0]["vote"], "a");
}

#[actix_web::test]
async fn a_voter_can_change_their_vote() {
    let app = spawn_app().await;

    let first = app.vote_form("a", &[]).await;
    let voter_id = first.cookie("voter_id").unwrap().to_owned();
    let second = app
        .vote_form("b", &[("voter_id", &voter_id), ("vote", "a")])
        .await;

    assert_eq!(second.status, 303);
    assert_eq!(second.cookie("voter_id"), Some(voter_id.as_str()));
    assert_eq!(second.cookie("vote"), Some("b"));
    let queued = app.queued();
    assert_eq!(queued.len(), 2);
    assert_eq!(queued[0]["voter_id"], queued[1]["voter_id"]);
    assert_eq!(
        (queued[0]["vote"].as_str(), queued[1]["vote"].as_str()),
        (Some("a"), Some("b"))
    );
    assert!(
        queued[1]["ts"].as_i64() >= queued[0]["ts"].as_i64(),
        "the later vote is not older"
    );
}

#[actix_web::test]
async fn a_returning_voter_sees_their_choice_marked() {
    let app = spawn_app().await;
    let voted = app.vote_form("b", &[]).await;
    let voter_id = voted.cookie("voter_id").unwrap().to_owned();

    let page = app
        .get("/", &[("voter_id", &voter_id), ("vote", "b")])
        .await;

    assert!(
        page.body.contains("You voted for <strong>Dogs</strong>"),
        "{}",
        page.body
    );
    assert!(page.body.contains(r#"class="option option-b chosen""#));
    assert!(!page.body.contains(r#"class="option option-a chosen""#));
    // A known voter keeps the id: the page does not hand out a new one.
    assert!(page.set_cookie("voter_id").is_none());
}

#[actix_web::test]
async fn a_first_visit_gets_a_128_bit_hex_voter_id_and_no_choice_marked() {
    let app = spawn_app().await;

    let page = app.get("/", &[]).await;

    let voter_id = page.cookie("voter_id").expect("a first visit gets an id");
    assert_eq!(voter_id.len(), 32);
    assert!(
        voter_id
            .chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
    );
    assert!(!page.body.contains("chosen"));
    assert!(!page.body.contains("You voted for"));
}

#[actix_web::test]
async fn a_malformed_voter_id_cookie_is_replaced_by_a_fresh_one() {
    let app = spawn_app().await;
    let too_long = "x".repeat(65);

    for bad in [
        "has space",
        "<script>",
        too_long.as_str(),
        "dot.ted",
        "ünïcode",
    ] {
        let reply = app.vote_form("a", &[("voter_id", bad)]).await;

        assert_eq!(reply.status, 303, "{bad}");
        let fresh = reply.cookie("voter_id").expect("a fresh id").to_owned();
        assert_ne!(fresh, bad);
        assert_eq!(fresh.len(), 32);
        let queued = app.queued();
        assert_eq!(queued.last().unwrap()["voter_id"], fresh.as_str(), "{bad}");
    }
    // A well-formed id of 64 characters is kept.
    let longest = "y".repeat(64);
    let reply = app.vote_form("a", &[("voter_id", &longest)]).await;
    assert_eq!(reply.cookie("voter_id"), Some(longest.as_str()));
}

#[actix_web::test]
async fn the_cookies_are_http_only_lax_site_wide_and_long_lived() {
    let app = spawn_app().await;

    let reply = app.vote_form("a", &[]).await;

    for name in ["voter_id", "vote"] {
        let header = reply.set_cookie(name).expect("the cookie is set");
        for flag in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=31536000"] {
            assert!(header.contains(flag), "{name}: {header} lacks {flag}");
        }
        assert!(!header.contains("Secure"), "plain HTTP: {header}");
    }
}

#[actix_web::test]
async fn the_cookies_are_secure_behind_a_tls_proxy() {
    let app = spawn_app().await;

    let reply = app
        .client
        .post(app.url("/"))
        .insert_header(("Content-Type", crate::helpers::FORM))
        .insert_header(("X-Forwarded-Proto", "https"))
        .send_body("vote=a")
        .await
        .expect("the service answers");
    let reply = crate::helpers::read(reply).await;

    for name in ["voter_id", "vote"] {
        assert!(reply.set_cookie(name).unwrap().contains("Secure"), "{name}");
    }
}

#[actix_web::test]
async fn votes_go_to_the_configured_queue_only() {
    // Two services on one Redis, as two polls in one workshop would run.
    let first = spawn_app().await;
    let second = spawn_app().await;

    first
        .vote_api(r#"{"vote":"b"}"#, &[("voter_id", "first-poll")])
        .await;
    second
        .vote_api(r#"{"vote":"a"}"#, &[("voter_id", "second-poll")])
        .await;

    let (in_first, in_second) = (first.queued(), second.queued());
    assert_eq!(in_first.len(), 1, "{in_first:?}");
    assert_eq!(in_first[0]["voter_id"], "first-poll");
    assert_eq!(in_second.len(), 1, "{in_second:?}");
    assert_eq!(in_second[0]["voter_id"], "second-poll");
}

#[actix_web::test]
async fn a_cookie_header_with_a_byte_that_is_not_utf8_keeps_the_voters_other_cookies() {
    let app = spawn_app().await;
    // Another site on the domain stored a Latin-1 value; the browser sends it along.
    let cookies = HeaderValue::from_bytes(b"theme=caf\xe9; voter_id=me-456; vote=a")
        .expect("bytes above 0x7f are allowed in a header value");

    let request = app
        .client
        .post(app.url("/"))
        .insert_header(("Content-Type", crate::helpers::FORM))
        .insert_header((header::COOKIE, cookies.clone()));
    let reply = crate::helpers::read(request.send_body("vote=b").await.expect("an answer")).await;
    let page = app
        .client
        .get(app.url("/"))
        .insert_header((header::COOKIE, cookies));
    let page = crate::helpers::read(page.send().await.expect("an answer")).await;

    assert_eq!(reply.status, 303);
    assert_eq!(reply.cookie("voter_id"), Some("me-456"));
    assert_eq!(app.queued()[0]["voter_id"], "me-456");
    // The page still knows the voter and their choice.
    assert!(
        page.set_cookie("voter_id").is_none(),
        "a new id was handed out"
    );
    assert!(
        page.body.contains(r#"class="option option-a chosen""#),
        "{}",
        page.body
    );
}
