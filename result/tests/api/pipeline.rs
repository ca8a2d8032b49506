//! The whole way from the queue to the page: a real worker drains real queued votes into
//! PostgreSQL, its triggers NOTIFY, and the result service pushes the new tally to a socket.

use redis::AsyncCommands;
use service_kit::postgres::PostgresConfig;
use test_support::{LOCAL_REDIS, QueueCleanup, unique_name};
use tokio::sync::oneshot;

use crate::helpers::{Schema, TestApp, tally_json};

/// A queue message as the vote service writes it (SPEC section 2).
fn ballot(voter_id: &str, vote: &str, ts: i64) -> String {
    serde_json::json!({"voter_id": voter_id, "vote": vote, "ts": ts}).to_string()
}

#[actix_web::test]
async fn votes_drained_by_the_worker_reach_an_open_socket() {
    // The worker creates the schema itself, as in production.
    let app = TestApp::spawn(Schema::Absent).await;
    let mut socket = app.connect_socket_at_zero().await;
    let queue = unique_name("result_pipeline");
    let _cleanup = QueueCleanup::new(LOCAL_REDIS, &queue);
    let mut settings = worker::configuration::Settings::from_env().expect("the defaults are valid");
    settings.redis_url = LOCAL_REDIS.to_owned();
    settings.database = PostgresConfig::parse(&app.database.url(), None).expect("a valid URL");
    settings.queue = queue.clone();
    settings.port = 0;
    let worker = worker::startup::Application::build(settings)
        .await
        .expect("the worker builds");
    let (stop, stopped) = oneshot::channel::<()>();
    let running = tokio::spawn(worker.run_until_stopped(async {
        let _ = stopped.await;
    }));
    let mut redis = redis::Client::open(LOCAL_REDIS)
        .expect("a valid URL")
        .get_multiplexed_async_connection()
        .await
        .expect("the test Redis answers");

    let _: () = redis
        .rpush(
            &queue,
            &[
                ballot("p1", "a", 1),
                ballot("p2", "b", 1),
                ballot("p3", "a", 1),
            ],
        )
        .await
        .expect("RPUSH");
    // Without a safety poll in the test settings, only the worker's NOTIFY delivers these.
    socket.wait_for(2, 1).await;
    // A changed vote moves one count from a to b.
    let _: () = redis
        .rpush(&queue, ballot("p1", "b", 2))
        .await
        .expect("RPUSH");
    assert_eq!(socket.wait_for(1, 2).await, tally_json(1, 2));

    let _ = stop.send(());
    running
        .await
        .expect("the worker did not panic")
        .expect("the worker stopped cleanly");
}
