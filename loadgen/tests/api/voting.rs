//! Votes posted to the real vote service land in the queue with the split and the voter ids
//! asked for.

use std::collections::HashMap;

use ballot::{Ballot, Tally, VoteOption};
use loadgen::{plan::Plan, report::Report, settings::Endpoint};
use test_support::LOCAL_REDIS;

use crate::helpers::{TestVote, load};

fn tally(ballots: &[Ballot]) -> Tally {
    let mut tally = Tally::default();
    ballots.iter().for_each(|ballot| tally.add(ballot.vote));
    tally
}

fn assert_all_accepted(report: &Report) {
    assert!(report.failures.is_empty(), "{report}");
    assert_eq!(report.accepted, report.settings.votes, "{report}");
    assert!(report.succeeded(), "{report}");
}

#[actix_rt::test]
async fn new_voters_land_in_the_queue_with_the_split_asked_for() {
    let vote = TestVote::spawn(LOCAL_REDIS).await;

    let report = loadgen::run(load(&vote.address, 40, 8, 0.25))
        .await
        .expect("no result service to read first");

    assert_all_accepted(&report);
    assert_eq!(report.lanes, 8);
    assert_eq!(report.latencies.count(), 40);
    let queued = vote.queue.queued();
    assert_eq!(queued.len(), 40);
    assert_eq!(tally(&queued), Tally { a: 10, b: 30 });
    let mut voters: Vec<&str> = queued.iter().map(|b| b.voter_id.as_str()).collect();
    voters.sort_unstable();
    voters.dedup();
    assert_eq!(voters.len(), 40, "every vote from a voter of its own");
}

#[actix_rt::test]
async fn a_fixed_population_re_votes_and_each_voters_last_vote_is_the_planned_one() {
    let vote = TestVote::spawn(LOCAL_REDIS).await;
    let mut settings = load(&vote.address, 23, 3, 0.5);
    settings.voters = Some(5);
    settings.endpoint = Endpoint::Api;

    let report = loadgen::run(settings).await.expect("no result to read");

    assert_all_accepted(&report);
    let queued = vote.queue.queued();
    assert_eq!(tally(&queued), Tally { a: 11, b: 12 });
    // The queue is in the order the service accepted the votes; a later message of a voter
    // replaces the earlier one, as the worker's "last write wins" does.
    let mut last_vote: HashMap<&str, VoteOption> = HashMap::new();
    for ballot in &queued {
        last_vote.insert(&ballot.voter_id, ballot.vote);
    }
    assert_eq!(last_vote.len(), 5, "five voters: {last_vote:?}");
    let mut counted = Tally::default();
    last_vote.values().for_each(|option| counted.add(*option));
    assert_eq!(counted, Plan::new(23, 0.5, Some(5), 3).counted());
    // Votes 18 to 22 are the five voters' last: b a b a b.
    assert_eq!(counted, Tally { a: 2, b: 3 });
}

#[actix_rt::test]
async fn votes_the_service_refuses_are_reported_as_failures() {
    // A Redis address where nothing listens: the vote service answers 503.
    let vote = TestVote::spawn("redis://127.0.0.1:1/0").await;

    let report = loadgen::run(load(&vote.address, 3, 3, 0.5))
        .await
        .expect("no result to read");

    assert!(!report.succeeded(), "{report}");
    assert_eq!(report.accepted, 0);
    assert_eq!(
        report.failures.get("HTTP 503 Service Unavailable"),
        Some(&3),
        "{report}"
    );
}
