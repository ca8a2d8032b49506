//! SPEC section 9: the vote service exposes exactly the metrics of `docs/metrics.md`.

use crate::helpers::spawn_app;

#[actix_web::test]
async fn the_metrics_exposed_are_exactly_the_documented_ones() {
    let app = spawn_app().await;
    // Every labelled family shows once it has a child: a vote, then a scrape.
    app.vote_form("a", &[]).await;
    app.get("/metrics", &[]).await;
    let body = app.get("/metrics", &[]).await.body;

    assert_eq!(
        test_support::metrics::exposed(&body),
        test_support::metrics::documented("vote"),
        "docs/metrics.md and what vote exposes differ"
    );
}
