use std::time::{Duration, Instant};

use redis::AsyncCommands;
use test_support::{POSTGRES_ADDRESS, free_port, wait_until_async};

use crate::helpers::{
    TcpProxy, TestDatabase, TestQueue, TestWorker, ballot, http, settings, spawn_process,
};

fn ballots(prefix: &str, count: usize) -> Vec<String> {
    (0..count)
        .map(|i| {
            ballot(
                &format!("{prefix}-{i}"),
                if i % 2 == 0 { "a" } else { "b" },
                1,
            )
        })
        .collect()
}

#[tokio::test]
async fn with_postgres_unreachable_nothing_is_lost_and_the_worker_resumes() {
    // Arrange: the worker reaches PostgreSQL only through a proxy the test controls.
    let database = TestDatabase::create().await;
    let queue = TestQueue::create().await;
    let proxy = TcpProxy::start(POSTGRES_ADDRESS).await;
    let worker =
        TestWorker::spawn(settings(&database.url_via(proxy.address), &queue.name, 25)).await;
    queue.push(&ballots("before", 100)).await;
    wait_until_async("the first votes are stored", async || {
        database.vote_count().await == 100
    })
    .await;

    // Act: cut PostgreSQL off while votes keep coming.
    proxy.cut();
    queue.push(&ballots("during", 100)).await;
    wait_until_async("the worker reports PostgreSQL unreachable", async || {
        worker.get("/readyz").await.0 == 503
    })
    .await;

    // Assert: the votes wait in Redis, then get stored once PostgreSQL is back.
    assert_eq!(database.vote_count().await, 100);
    assert_eq!(
        queue.messages_in_redis().await,
        100,
        "every waiting vote is in Redis"
    );
    proxy.restore();
    wait_until_async("the waiting votes are stored", async || {
        database.vote_count().await == 200
    })
    .await;
    wait_until_async("the worker is ready again", async || {
        worker.get("/readyz").await.0 == 200
    })
    .await;
    database.assert_tally_exact().await;
    worker.stop().await;
}

#[tokio::test]
async fn with_redis_unreachable_the_worker_waits_and_resumes() {
    let database = TestDatabase::create().await;
    let queue = TestQueue::create().await;
    let proxy = TcpProxy::start("127.0.0.1:6379").await;
    let mut worker_settings = settings(&database.url(), &queue.name, 25);
    worker_settings.redis_url = format!("redis://{}/0", proxy.address);
    let worker = TestWorker::spawn(worker_settings).await;
    queue.push(&ballots("before", 10)).await;
    wait_until_async("the first votes are stored", async || {
        database.vote_count().await == 10
    })
    .await;

    proxy.cut();
    wait_until_async("the worker reports Redis unreachable", async || {
        let (status, body) = worker.get("/readyz").await;
        status == 503 && body.contains("REDIS_URL")
    })
    .await;
    queue.push(&ballots("during", 10)).await;
    proxy.restore();

    wait_until_async("the votes pushed meanwhile are stored", async || {
        database.vote_count().await == 20
    })
    .await;
    database.assert_tally_exact().await;
    worker.stop().await;
}

#[tokio::test]
async fn sigterm_finishes_the_batch_in_hand_and_exits_zero_within_ten_seconds() {
    let database = TestDatabase::create().await;
    let queue = TestQueue::create().await;
    let port = free_port();
    let mut worker = spawn_process(&database.url(), &queue.name, 50, port);
    wait_until_async("the worker is ready", async || {
        http(port, "GET", "/readyz")
            .await
            .is_ok_and(|(status, _)| status == 200)
    })
    .await;
    queue.push(&ballots("t", 5_000)).await;
    wait_until_async("the drain has begun", async || {
        database.vote_count().await > 0
    })
    .await;

    let signalled = Instant::now();
    let pid = worker.id().expect("the worker is running");
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let exit = tokio::time::timeout(Duration::from_secs(10), worker.wait())
        .await
        .expect("the worker exits within 10 s of SIGTERM")
        .expect("reaped");

    assert!(exit.success(), "exit status {exit:?}");
    assert!(signalled.elapsed() < Duration::from_secs(10));
    // Every vote is either stored or back in the queue; none is held by the stopped worker.
    let stored = database.vote_count().await as usize;
    assert_eq!(stored + queue.len(&queue.name).await, 5_000);
    let mut redis = queue.redis.clone();
    let workers: Vec<String> = redis.smembers(queue.key("workers")).await.unwrap();
    assert!(workers.is_empty(), "deregistered: {workers:?}");
    assert!(
        queue
            .keys()
            .await
            .iter()
            .all(|key| !key.contains(":processing:"))
    );
}
