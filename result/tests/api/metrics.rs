//! SPEC section 9: the result service's metrics, each read from `/metrics` after the event it
//! counts, and exactly the list of `docs/metrics.md`.

use test_support::wait_until_async;

use crate::helpers::{Schema, TestApp, tally_json};

/// The value of the unlabelled sample `name` in a scrape.
fn sample(metrics: &str, name: &str) -> Option<f64> {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

#[actix_web::test]
async fn push_delay_ready_and_the_documented_list() {
    let app = TestApp::spawn(Schema::Worker).await;
    let mut socket = app.connect_socket().await;
    assert_eq!(socket.next_tally().await, tally_json(0, 0));

    // A committed batch notifies; the tally it causes reaches the socket.
    app.database
        .write_batch(&[("m-1", "a"), ("m-2", "b")])
        .await;
    socket.wait_for(1, 1).await;
    let mut metrics = String::new();
    wait_until_async("the push is measured", async || {
        metrics = app.get("/metrics").await.1;
        sample(&metrics, "result_tally_push_delay_seconds_count").is_some_and(|n| n >= 1.0)
    })
    .await;
    assert_eq!(sample(&metrics, "result_ready"), Some(1.0), "{metrics}");
    assert_eq!(
        sample(&metrics, "result_websockets_open"),
        Some(1.0),
        "{metrics}"
    );
    assert!(
        metrics.contains("result_build_info{version=\""),
        "{metrics}"
    );
    assert_eq!(
        test_support::metrics::exposed(&metrics),
        test_support::metrics::documented("result"),
        "docs/metrics.md and what result exposes differ"
    );
}
