//! SPEC section 5: a database outage keeps the last tally on screen and the replica ready,
//! rather than taking every replica out; the page catches up when the database is back.

use test_support::{POSTGRES_ADDRESS, TcpProxy, wait_until_async};

use crate::helpers::{Database, FAST_SAFETY_POLL, Schema, TestApp, tally_json};

#[actix_web::test]
async fn the_last_tally_stays_and_the_replica_stays_ready_while_the_database_is_down() {
    let database = Database::create(Schema::Worker).await;
    database
        .write_batch(&[("o1", "a"), ("o2", "b"), ("o3", "b")])
        .await;
    let proxy = TcpProxy::start(POSTGRES_ADDRESS).await;
    let url = database.url_via(proxy.address);
    let app = TestApp::spawn_at(database, &url, |settings| {
        settings.safety_poll = FAST_SAFETY_POLL;
    })
    .await;
    let mut socket = app.connect_socket().await;
    assert_eq!(socket.next_tally().await, tally_json(1, 2));

    proxy.cut();
    wait_until_async("the service finds the database down", async || {
        app.get("/metrics").await.1.contains("result_database_up 0")
    })
    .await;

    assert_eq!(app.get("/readyz").await.0, 200);
    assert_eq!(app.results().await, tally_json(1, 2));
    assert!(app.get("/").await.1.contains("3 votes"));

    app.database.write_batch(&[("o4", "a")]).await;
    proxy.restore();
    socket.wait_for(2, 2).await;
}
