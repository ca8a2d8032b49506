//! The load generator against the real vote service (started in-process through its production
//! start-up code) and the real Redis: the votes land in the queue with the split and the voter
//! ids asked for.

use std::{collections::HashMap, time::Duration};

use loadgen::{
    plan::{Plan, Tally},
    report::Report,
    settings::{Endpoint, Settings},
};
use service_kit::ballot::{Ballot, VoteOption};
use vote::{startup::Application, voter::VoterId};

const LOCAL_REDIS: &str = "redis://127.0.0.1:6379/0";

/// A vote service on a random port with a queue of its own, deleted when the test ends.
struct TestVote {
    address: String,
    queue: String,
}

impl TestVote {
    async fn spawn(redis_url: &str) -> TestVote {
        let mut settings =
            vote::settings::Settings::from_env().expect("the defaults are valid settings");
        settings.port = 0;
        settings.redis_url = redis_url.to_owned();
        settings.vote_queue = format!("test:loadgen:{}", VoterId::generate().as_str());
        settings.shutdown_drain = Duration::ZERO;
        let queue = settings.vote_queue.clone();
        let app = Application::build(settings)
            .await
            .expect("the vote service builds");
        let address = format!("http://127.0.0.1:{}", app.port());
        // Serves until the test's runtime ends.
        actix_rt::spawn(app.run_until_stopped(std::future::pending()));
        TestVote { address, queue }
    }

    fn settings(&self, votes: u64, concurrency: usize, split: f64) -> Settings {
        Settings {
            vote_url: self.address.clone(),
            votes,
            concurrency,
            split,
            voters: None,
            endpoint: Endpoint::Form,
            result_url: None,
            wait_timeout: Duration::from_secs(30),
        }
    }

    /// The queue's messages, oldest first.
    fn queued(&self) -> Vec<Ballot> {
        let messages: Vec<Vec<u8>> = redis::cmd("LRANGE")
            .arg(&self.queue)
            .arg(0)
            .arg(-1)
            .query(&mut redis_connection())
            .expect("LRANGE answers");
        messages
            .iter()
            .map(|message| Ballot::from_queue(message).expect("the vote service queues ballots"))
            .collect()
    }
}

impl Drop for TestVote {
    fn drop(&mut self) {
        // Best effort, also when the test failed: leave nothing behind in the shared Redis.
        let _: Result<(), _> = redis::cmd("DEL")
            .arg(&self.queue)
            .query(&mut redis_connection());
    }
}

fn redis_connection() -> redis::Connection {
    redis::Client::open(LOCAL_REDIS)
        .and_then(|client| client.get_connection())
        .expect("the local Redis answers")
}

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

    let report = loadgen::run(vote.settings(40, 8, 0.25))
        .await
        .expect("no result service to read first");

    assert_all_accepted(&report);
    assert_eq!(report.lanes, 8);
    assert_eq!(report.latencies.count(), 40);
    let queued = vote.queued();
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
    let mut settings = vote.settings(23, 3, 0.5);
    settings.voters = Some(5);
    settings.endpoint = Endpoint::Api;

    let report = loadgen::run(settings).await.expect("no result to read");

    assert_all_accepted(&report);
    let queued = vote.queued();
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

    let report = loadgen::run(vote.settings(3, 3, 0.5))
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
