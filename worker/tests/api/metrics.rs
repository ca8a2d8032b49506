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

/// A database, a queue, and a worker reaching PostgreSQL through a proxy the test can freeze to
/// hold a batch in flight; once the worker is ready.
async fn worker_behind_a_proxy() -> (TestDatabase, TestQueue, TcpProxy, TestWorker) {
    let database = TestDatabase::create().await;
    let queue = TestQueue::create().await;
    let proxy = TcpProxy::start("127.0.0.1:5432").await;
    let worker =
        TestWorker::spawn(settings(&database.url_via(proxy.address), &queue.name, 100)).await;
    wait_until_async("the worker is ready", async || {
        worker.get("/readyz").await.0 == 200
    })
    .await;
    (database, queue, proxy, worker)
}

async fn held_in_flight(worker: &TestWorker, messages: f64) {
    wait_until_async("the batch is held in flight", async || {
        sample(&worker.get("/metrics").await.1, "worker_in_flight") == Some(messages)
    })
    .await;
}

#[tokio::test]
async fn in_flight_commit_delay_ready_and_the_documented_list() {
    let (_database, queue, proxy, worker) = worker_behind_a_proxy().await;
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
    held_in_flight(&worker, 3.0).await;

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

/// `worker_counted_twice_total`: a batch given back to the queue while its worker still held it
/// (the worker's lease lapsed: it was frozen, or cut off from Redis) is stored twice, changing
/// no row, and counted twice; the counter says how many, so that the vote ledger counts every
/// message once (docs/ledger.md).
#[tokio::test]
async fn a_batch_given_back_while_its_commit_hung_is_stored_once_and_counted_twice() {
    let (database, queue, proxy, worker) = worker_behind_a_proxy().await;
    proxy.freeze();
    let votes: Vec<String> = (0..4)
        .map(|i| ballot(&format!("twice-{i}"), "a", 1))
        .collect();
    queue.push(&votes).await;
    held_in_flight(&worker, 4.0).await;

    // What another worker's housekeeping does to a list whose lease lapsed: back to the queue.
    let [processing] = queue
        .processing_lists()
        .await
        .try_into()
        .expect("one worker's list");
    let mut redis = queue.redis.clone();
    let moved: i64 = redis::Script::new(
        "local n = 0 while redis.call('LMOVE', KEYS[1], KEYS[2], 'RIGHT', 'LEFT') do n = n + 1 end return n",
    )
    .key(&processing)
    .key(&queue.name)
    .invoke_async(&mut redis)
    .await
    .unwrap();
    assert_eq!(moved, 4);
    proxy.restore();

    // The worker commits and acknowledges the batch it held, then takes the four again from
    // the queue (as the other worker would) and stores them once more.
    wait_until_async("both copies are stored and counted", async || {
        let metrics = worker.get("/metrics").await.1;
        sample(&metrics, "worker_votes_processed_total") == Some(8.0)
            && sample(&metrics, "worker_in_flight") == Some(0.0)
    })
    .await;
    let (_, metrics) = worker.get("/metrics").await;
    assert_eq!(
        sample(&metrics, "worker_counted_twice_total"),
        Some(4.0),
        "{metrics}"
    );
    assert_eq!(database.vote_count().await, 4);
    assert_eq!(queue.messages_in_redis().await, 0);
    database.assert_tally_exact().await;
    worker.stop().await;
}
