//! Redis going away: a 503 within 2 s, the service stays up and ready, and votes are accepted
//! again once Redis is back, without a restart.

use std::time::{Duration, Instant};

use crate::helpers::{OwnRedis, PATIENCE, TestApp, spawn_app_with, test_settings};

/// SPEC section 3: the answer to a vote Redis cannot take arrives within 2 s.
const SPEC_LIMIT: Duration = Duration::from_secs(2);

async fn app_on(redis: &OwnRedis) -> TestApp {
    let mut settings = test_settings();
    settings.redis_url = redis.url();
    spawn_app_with(settings).await
}

/// Votes until one is accepted, as a voter pressing the button again would.
async fn vote_until_accepted(app: &TestApp) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let reply = app.vote_form("b", &[]).await;
        if reply.status == 303 {
            return;
        }
        assert_eq!(reply.status, 503, "{}", reply.body);
        assert!(
            Instant::now() < deadline,
            "votes are still refused after Redis came back"
        );
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn assert_not_recorded_within_the_limit(app: &TestApp) {
    let started = Instant::now();
    let page = app.vote_form("b", &[]).await;
    assert!(
        started.elapsed() < SPEC_LIMIT,
        "the page answered after {:?}",
        started.elapsed()
    );
    assert_eq!(page.status, 503);
    assert!(page.body.contains("not recorded"), "{}", page.body);
    assert!(page.body.contains("try again"));

    let started = Instant::now();
    let api = app.vote_api(r#"{"vote":"a"}"#, &[]).await;
    assert!(
        started.elapsed() < SPEC_LIMIT,
        "the API answered after {:?}",
        started.elapsed()
    );
    assert_eq!(api.status, 503);
    let error: serde_json::Value = serde_json::from_str(&api.body).expect("a JSON error");
    assert!(error["error"].as_str().unwrap().contains("not recorded"));
}

async fn assert_up_and_ready(app: &TestApp) {
    assert_eq!(app.get("/healthz", &[]).await.status, 200);
    assert_eq!(app.get("/readyz", &[]).await.status, 200);
    assert_eq!(app.get("/", &[]).await.status, 200);
}

#[actix_web::test]
async fn a_stopped_redis_is_a_503_and_votes_are_accepted_again_when_it_returns() {
    let mut redis = OwnRedis::start();
    let app = app_on(&redis).await;
    assert_eq!(app.vote_form("a", &[]).await.status, 303);

    redis.stop();

    assert_not_recorded_within_the_limit(&app).await;
    assert_up_and_ready(&app).await;
    let metrics = app.get("/metrics", &[]).await.body;
    assert!(metrics.contains("vote_redis_up 0"), "{metrics}");
    assert!(metrics.contains("vote_queue_failures_total 2"), "{metrics}");

    redis.restart();

    vote_until_accepted(&app).await;
    // The restarted Redis keeps nothing, so the queue holds just the vote taken after it.
    let queued = app.queued();
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0]["vote"], "b");
    assert!(
        app.get("/metrics", &[])
            .await
            .body
            .contains("vote_redis_up 1")
    );
}

#[actix_web::test]
async fn a_redis_that_stops_answering_is_a_503_within_2s_and_then_recovers() {
    let redis = OwnRedis::start();
    let app = app_on(&redis).await;
    assert_eq!(app.vote_form("a", &[]).await.status, 303);

    redis.signal("-STOP");

    assert_not_recorded_within_the_limit(&app).await;
    assert_up_and_ready(&app).await;

    redis.signal("-CONT");

    vote_until_accepted(&app).await;
    assert!(app.queued().iter().any(|ballot| ballot["vote"] == "b"));
}
