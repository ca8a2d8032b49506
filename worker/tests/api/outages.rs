use test_support::{POSTGRES_ADDRESS, wait_until_async};

use crate::helpers::{TcpProxy, TestDatabase, TestQueue, TestWorker, ballot, settings};

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
