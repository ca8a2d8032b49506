use awc::ws::CloseCode;

use crate::helpers::{Received, Schema, TestApp, tally_json};

#[actix_web::test]
async fn a_client_gets_the_tally_on_connect_and_after_every_batch() {
    let app = TestApp::spawn(Schema::Worker).await;
    let mut socket = app.connect_socket().await;

    assert_eq!(socket.next_tally().await, tally_json(0, 0));

    app.database
        .write_batch(&[("v1", "a"), ("v2", "b"), ("v3", "a")])
        .await;
    assert_eq!(socket.next_tally().await, tally_json(2, 1));

    app.database.write_batch(&[("v4", "b")]).await;
    assert_eq!(socket.next_tally().await, tally_json(2, 2));
}

#[actix_web::test]
async fn plain_sql_insert_update_delete_and_truncate_reach_the_client() {
    let app = TestApp::spawn(Schema::Worker).await;
    let mut socket = app.connect_socket_at_zero().await;

    app.database
        .sql("INSERT INTO votes (id, vote) VALUES ('p1', 'a'), ('p2', 'a')")
        .await;
    assert_eq!(socket.next_tally().await, tally_json(2, 0));

    app.database
        .sql("UPDATE votes SET vote = 'b' WHERE id = 'p1'")
        .await;
    assert_eq!(socket.next_tally().await, tally_json(1, 1));

    app.database.sql("DELETE FROM votes WHERE id = 'p2'").await;
    assert_eq!(socket.next_tally().await, tally_json(0, 1));

    app.database.sql("TRUNCATE votes").await;
    assert_eq!(socket.next_tally().await, tally_json(0, 0));
}

#[actix_web::test]
async fn the_safety_poll_catches_changes_made_without_a_notify() {
    let app = TestApp::spawn_polling(Schema::VotesOnly).await;
    let mut socket = app.connect_socket_at_zero().await;

    app.database
        .sql("INSERT INTO votes (id, vote) VALUES ('o1', 'b')")
        .await;

    assert_eq!(socket.next_tally().await, tally_json(0, 1));
}

#[actix_web::test]
async fn a_votes_table_created_after_start_is_picked_up() {
    let app = TestApp::spawn_polling(Schema::Absent).await;
    let mut socket = app.connect_socket_at_zero().await;

    app.database
        .sql(
            "CREATE TABLE votes (id VARCHAR(255) NOT NULL UNIQUE, vote VARCHAR(255) NOT NULL); \
             INSERT INTO votes VALUES ('n1', 'a')",
        )
        .await;

    assert_eq!(socket.next_tally().await, tally_json(1, 0));
}

#[actix_web::test]
async fn the_service_recovers_after_its_database_connections_are_cut() {
    let app = TestApp::spawn(Schema::Worker).await;
    let mut socket = app.connect_socket_at_zero().await;

    let cut = app.database.cut_connections().await;
    assert!(cut >= 1, "the service held no connection to cut");
    app.database
        .sql("INSERT INTO votes (id, vote) VALUES ('r1', 'a')")
        .await;

    // Without a safety poll, only the new LISTEN connection (or the re-read after it) can
    // deliver this.
    socket.wait_for(1, 0).await;
    app.database
        .sql("INSERT INTO votes (id, vote) VALUES ('r2', 'b')")
        .await;
    assert_eq!(socket.next_tally().await, tally_json(1, 1));
}

#[actix_web::test]
async fn every_client_gets_every_change() {
    let app = TestApp::spawn(Schema::Worker).await;
    let mut first = app.connect_socket().await;
    let mut second = app.connect_socket().await;
    first.next_tally().await;
    second.next_tally().await;

    app.database.write_batch(&[("e1", "a")]).await;

    assert_eq!(first.next_tally().await, tally_json(1, 0));
    assert_eq!(second.next_tally().await, tally_json(1, 0));
}

#[actix_web::test]
async fn sockets_close_with_going_away_when_the_service_stops() {
    let mut app = TestApp::spawn(Schema::Worker).await;
    let mut socket = app.connect_socket().await;
    socket.next_tally().await;

    let stopping = actix_web::rt::spawn(async move {
        app.stop().await;
        app
    });

    match socket.receive().await {
        Received::Closed(Some(reason)) => assert_eq!(reason.code, CloseCode::Away),
        other => panic!("expected a 1001 close, got {other:?}"),
    }
    stopping.await.expect("the service stops");
}
