use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use test_support::{OwnRedis, PATIENCE, unique_name, wait_until_async};
use worker::queue::block_for;

use crate::helpers::{
    TEST_LEASE, TestDatabase, TestQueue, TestWorker, ballot, http, listen, settings,
};

/// Fisher-Yates with the operating system's randomness: the order differs on every run.
fn shuffle<T>(items: &mut [T]) {
    for i in (1..items.len()).rev() {
        let mut bytes = [0u8; 8];
        getrandom::fill(&mut bytes).expect("the operating system's random source is available");
        let j = (u64::from_le_bytes(bytes) % (i as u64 + 1)) as usize;
        items.swap(i, j);
    }
}

/// Waits until `voters` votes are stored and nothing is left in the queue or held by a worker.
async fn wait_stored(database: &TestDatabase, queue: &TestQueue, voters: i64) {
    wait_until_async("every vote is stored and nothing is held", async || {
        database.vote_count().await == voters && queue.messages_in_redis().await == 0
    })
    .await;
}

#[tokio::test]
async fn revotes_in_shuffled_order_drained_by_two_workers_end_with_each_voters_newest() {
    // Arrange: 150 voters, each voting 8 times at distinct times, all in random order.
    let database = TestDatabase::create().await;
    let queue = TestQueue::create().await;
    let mut messages = Vec::new();
    let mut newest = BTreeMap::new();
    for voter in 0..150 {
        let voter_id = format!("voter-{voter}");
        for revote in 0..8_i64 {
            let vote = if (voter + revote) % 3 == 0 { "a" } else { "b" };
            let ts = 1_700_000_000_000 + revote * 1000 + voter;
            messages.push(ballot(&voter_id, vote, ts));
            newest.insert(voter_id.clone(), (vote.to_owned(), ts));
        }
    }
    shuffle(&mut messages);
    // Small batches, so that the two workers interleave many commits.
    let first = TestWorker::spawn(settings(&database.url(), &queue.name, 23)).await;
    let second = TestWorker::spawn(settings(&database.url(), &queue.name, 31)).await;

    // Act
    for chunk in messages.chunks(100) {
        queue.push(chunk).await;
    }
    wait_stored(&database, &queue, 150).await;

    // Assert
    assert_eq!(database.votes().await, newest);
    database.assert_tally_exact().await;
    first.stop().await;
    second.stop().await;
}

#[tokio::test]
async fn a_message_in_the_originals_format_is_stored_as_written_at_time_zero() {
    let database = TestDatabase::create().await;
    let queue = TestQueue::create().await;
    let worker = TestWorker::spawn(settings(&database.url(), &queue.name, 100)).await;

    queue
        .push(&[r#"{"voter_id":"original-1","vote":"b"}"#.to_owned()])
        .await;
    wait_stored(&database, &queue, 1).await;
    assert_eq!(
        database.votes().await["original-1"],
        ("b".to_owned(), 0),
        "stored with ts 0"
    );

    // A timed vote replaces it; a later untimed one (ts 0 < 5) does not replace that.
    queue.push(&[ballot("original-1", "a", 5)]).await;
    wait_until_async("the timed vote replaces it", async || {
        database.votes().await["original-1"] == ("a".to_owned(), 5)
    })
    .await;
    queue
        .push(&[
            r#"{"voter_id":"original-1","vote":"b"}"#.to_owned(),
            ballot("marker", "a", 1),
        ])
        .await;
    wait_stored(&database, &queue, 2).await;
    assert_eq!(database.votes().await["original-1"], ("a".to_owned(), 5));
    database.assert_tally_exact().await;
    worker.stop().await;
}

#[tokio::test]
async fn a_notification_follows_each_committed_batch() {
    let database = TestDatabase::create().await;
    let queue = TestQueue::create().await;
    let worker = TestWorker::spawn(settings(&database.url(), &queue.name, 100)).await;
    wait_until_async("the schema exists", async || {
        worker.get("/readyz").await.0 == 200
            && database
                .connect()
                .await
                .query("SELECT 1 FROM vote_tally", &[])
                .await
                .is_ok()
    })
    .await;
    let (_listener, mut notifications) = listen(&database.url()).await;

    queue.push(&[ballot("listener-1", "a", 1)]).await;

    let channel = tokio::time::timeout(PATIENCE, notifications.recv())
        .await
        .expect("a notification arrives")
        .expect("the listening connection is open");
    assert_eq!(channel, "votes_changed");
    assert_eq!(
        database.tally().await["a"],
        1,
        "the tally is committed when it arrives"
    );
    worker.stop().await;
}

#[tokio::test]
async fn serves_health_readiness_and_metrics_and_stops_holding_nothing() {
    let database = TestDatabase::create().await;
    let queue = TestQueue::create().await;
    let worker = TestWorker::spawn(settings(&database.url(), &queue.name, 100)).await;

    assert_eq!(worker.get("/healthz").await.0, 200);
    wait_until_async("the worker is ready", async || {
        worker.get("/readyz").await.0 == 200
    })
    .await;
    queue
        .push(&[
            ballot("m-1", "a", 1),
            ballot("m-2", "b", 1),
            "not json".to_owned(),
        ])
        .await;
    wait_stored(&database, &queue, 2).await;
    let (status, metrics) = worker.get("/metrics").await;
    assert_eq!(status, 200);
    for expected in [
        "worker_votes_processed_total 2",
        "worker_dead_letters_total{reason=\"not_json\"} 1",
        "worker_batch_size_count",
        "worker_batch_duration_seconds_count",
        "worker_queue_depth",
        "worker_redis_up 1",
        "worker_postgres_up 1",
        "http_requests_total",
    ] {
        assert!(
            metrics.contains(expected),
            "{expected} missing from:\n{metrics}"
        );
    }
    assert_eq!(worker.get("/nowhere").await.0, 404);
    let (status, _) = http(worker.port, "POST", "/healthz")
        .await
        .expect("an answer");
    assert_eq!(status, 405);

    worker.stop().await;
    assert_eq!(
        queue.keys().await,
        vec![queue.key("dead")],
        "a stopped worker holds nothing and is deregistered"
    );
}

#[tokio::test]
async fn an_unreachable_address_leaves_the_worker_running_and_unready() {
    let queue = TestQueue::create().await;
    let nowhere = format!("postgres://postgres@127.0.0.1:1/{}", unique_name("none"));
    let worker = TestWorker::spawn(settings(&nowhere, &queue.name, 10)).await;
    wait_until_async("the worker reports PostgreSQL unreachable", async || {
        let (status, body) = worker.get("/readyz").await;
        status == 503 && body.contains("DATABASE_URL")
    })
    .await;
    assert_eq!(worker.get("/healthz").await.0, 200, "still alive");
    worker.stop().await;
}

/// Every command Redis has run since it started, by name (`INFO commandstats`), without the
/// test's own `INFO`.
async fn commands_run(redis: &mut redis::aio::MultiplexedConnection) -> BTreeMap<String, u64> {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(redis)
        .await
        .expect("INFO commandstats");
    info.lines()
        .filter_map(|line| {
            let (name, stats) = line.strip_prefix("cmdstat_")?.split_once(':')?;
            let calls = stats
                .strip_prefix("calls=")?
                .split(',')
                .next()?
                .parse()
                .ok()?;
            Some((name.to_owned(), calls))
        })
        .filter(|(name, _)| name != "info")
        .collect()
}

#[tokio::test]
async fn an_idle_worker_blocks_instead_of_polling_redis() {
    // Arrange: a ready worker on an empty queue, alone on a Redis of the test's own, so that
    // Redis's own statistics count its commands only.
    let database = TestDatabase::create().await;
    let redis = OwnRedis::start();
    let mut worker_settings = settings(&database.url(), "idle", 100);
    worker_settings.redis_url = redis.url();
    let worker = TestWorker::spawn(worker_settings).await;
    wait_until_async("the worker is ready", async || {
        worker.get("/readyz").await.0 == 200
    })
    .await;
    let mut connection = redis::Client::open(redis.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();

    // Act: count what it asks of Redis over a few seconds of idleness.
    let before = commands_run(&mut connection).await;
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(6)).await;
    let after = commands_run(&mut connection).await;
    let elapsed = started.elapsed();

    // Assert: each read blocks for its whole block time, and the rest is the housekeeping
    // rounds' few commands: a handful a second, where polling would make thousands.
    let calls = |name: &str| after.get(name).unwrap_or(&0) - before.get(name).unwrap_or(&0);
    let reads = calls("blmove");
    let most_reads =
        (elapsed.as_secs_f64() / block_for(TEST_LEASE).as_secs_f64()).ceil() as u64 + 1;
    assert!(reads >= 1, "the idle worker waits in a blocking read");
    assert!(
        reads <= most_reads,
        "{reads} reads in {elapsed:?}: they do not block"
    );
    let total: u64 = after.keys().map(|name| calls(name)).sum();
    let per_second = total as f64 / elapsed.as_secs_f64();
    assert!(
        per_second < 50.0,
        "{total} commands in {elapsed:?} from an idle worker: {after:?}"
    );
    eprintln!("an idle worker: {total} commands in {elapsed:?} ({per_second:.1}/s), {reads} reads");
    worker.stop().await;
}
