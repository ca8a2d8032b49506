//! SPEC section 9: the worker's metrics, each read from `/metrics` after the event it counts,
//! and exactly the list of `docs/metrics.md`.

use ballot::now_millis;
use test_support::wait_until_async;

use crate::helpers::{TcpProxy, TestDatabase, TestQueue, TestWorker, ballot, settings};

/// The value of the unlabelled sample `name` in a scrape.
fn sample(metrics: &str, name: &str) -> Option<f64> {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test]
async fn in_flight_commit_delay_ready_and_the_documented_list() {
    let database = TestDatabase::create().await;
    let queue = TestQueue::create().await;
    // PostgreSQL behind a proxy the test can freeze, to hold a batch in flight.
    let proxy = TcpProxy::start("127.0.0.1:5432").await;
    let worker =
        TestWorker::spawn(settings(&database.url_via(proxy.address), &queue.name, 100)).await;
    wait_until_async("the worker is ready", async || {
        worker.get("/readyz").await.0 == 200
    })
    .await;
    let (_, metrics) = worker.get("/metrics").await;
    assert_eq!(sample(&metrics, "worker_ready"), Some(1.0), "{metrics}");
    assert!(
        metrics.contains("worker_build_info{version=\""),
        "{metrics}"
    );

    // Three votes accepted two seconds ago, while PostgreSQL hangs: taken, not acknowledged.
    proxy.freeze();
    let accepted = now_millis() - 2_000;
    queue
        .push(&[
            ballot("in-flight-1", "a", accepted),
            ballot("in-flight-2", "b", accepted),
            // The original's form carries no ts: stored, but no delay to measure.
            r#"{"voter_id":"in-flight-3","vote":"a"}"#.to_owned(),
        ])
        .await;
    wait_until_async("the batch is held in flight", async || {
        sample(&worker.get("/metrics").await.1, "worker_in_flight") == Some(3.0)
    })
    .await;

    proxy.restore();
    wait_until_async("the batch is stored and acknowledged", async || {
        let metrics = worker.get("/metrics").await.1;
        sample(&metrics, "worker_in_flight") == Some(0.0)
            && sample(&metrics, "worker_votes_processed_total") == Some(3.0)
    })
    .await;
    let (_, metrics) = worker.get("/metrics").await;
    assert_eq!(
        sample(&metrics, "worker_vote_commit_delay_seconds_count"),
        Some(2.0),
        "one delay per stored message that has a ts:\n{metrics}"
    );
    let total_delay = sample(&metrics, "worker_vote_commit_delay_seconds_sum").unwrap();
    assert!(
        (4.0..60.0).contains(&total_delay),
        "two delays of at least 2 s each: {total_delay}"
    );
    assert_eq!(
        test_support::metrics::exposed(&metrics),
        test_support::metrics::documented("worker"),
        "docs/metrics.md and what the worker exposes differ"
    );
    worker.stop().await;
}
