//! The load generator: posts votes to the vote service, at a chosen concurrency and split
//! between the options, as new voters or as re-votes by a fixed population; measures
//! throughput and latency; and can wait until the result service shows the votes.
//!
//! - [`settings`]: flags and their environment variables.
//! - [`plan`]: which vote each request casts and the totals to expect.
//! - [`client`]: HTTP to the vote and result services.
//! - [`report`]: what a run measured.
//!
//! It runs on one thread (actix's runtime, which its HTTP client needs): one thread posts
//! tens of thousands of votes a second, more than the services on the same machine take.

pub mod client;
pub mod plan;
pub mod report;
pub mod settings;

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use ballot::{Tally, VoterId};
use client::{ResultClient, VoteClient};
use plan::Plan;
use report::{Latencies, Report, ResultWait};
use settings::Settings;

/// How often the result service is read while waiting: fine enough to time a propagation of
/// a fraction of a second, and a negligible load.
const RESULT_POLL: Duration = Duration::from_millis(50);

/// Posts the votes `settings` ask for and, with a result URL, waits for them to show.
/// Fails only when the result service cannot be read before any vote is sent.
pub async fn run(settings: Settings) -> anyhow::Result<Report> {
    let plan = Plan::new(
        settings.votes,
        settings.split,
        settings.voters,
        settings.concurrency,
    );
    // The poll may hold votes already: what this run adds comes on top of them.
    let watch = match &settings.result_url {
        Some(url) => {
            let results = ResultClient::new(url);
            let baseline = results.tally().await?;
            Some((results, baseline))
        }
        None => None,
    };
    let voter_ids: Option<Vec<String>> = settings.voters.map(|voters| {
        (0..voters)
            .map(|_| VoterId::generate().into_string())
            .collect()
    });
    let votes = VoteClient::new(&settings.vote_url, settings.endpoint, plan.lanes() as usize);

    let started = Instant::now();
    let lanes = (0..plan.lanes()).map(|lane| send_lane(&plan, lane, &votes, voter_ids.as_deref()));
    let total = futures_util::future::join_all(lanes)
        .await
        .into_iter()
        .fold(LaneOutcome::default(), LaneOutcome::merge);
    let elapsed = started.elapsed();

    let result = match watch {
        Some(_) if !total.failures.is_empty() => Some(ResultWait::Skipped),
        Some((results, baseline)) => Some(
            wait_for(
                &results,
                baseline.plus(plan.counted()),
                settings.wait_timeout,
            )
            .await,
        ),
        None => None,
    };
    Ok(Report {
        settings,
        cast: plan.cast(),
        accepted: total.accepted,
        lanes: plan.lanes(),
        failures: total.failures,
        elapsed,
        latencies: Latencies::new(total.latencies),
        result,
    })
}

/// What one lane saw.
#[derive(Default)]
struct LaneOutcome {
    accepted: u64,
    failures: BTreeMap<client::Failure, u64>,
    latencies: Vec<u64>,
}

impl LaneOutcome {
    fn merge(mut self, other: LaneOutcome) -> LaneOutcome {
        self.accepted += other.accepted;
        self.latencies.extend(other.latencies);
        for (failure, count) in other.failures {
            *self.failures.entry(failure).or_default() += count;
        }
        self
    }
}

/// Sends lane `lane`'s votes one after the other, as the voters `voter_ids` (or as new voters).
async fn send_lane(
    plan: &Plan,
    lane: u64,
    votes: &VoteClient,
    voter_ids: Option<&[String]>,
) -> LaneOutcome {
    let mut outcome = LaneOutcome::default();
    for i in plan.lane(lane) {
        let voter_id = voter_ids.map(|ids| ids[plan.voter(i) as usize].as_str());
        let sent = Instant::now();
        let answer = votes.vote(plan.option(i), voter_id).await;
        outcome.latencies.push(sent.elapsed().as_micros() as u64);
        match answer {
            Ok(()) => outcome.accepted += 1,
            Err(failure) => *outcome.failures.entry(failure).or_default() += 1,
        }
    }
    outcome
}

/// Reads the result service until it shows `expected` or `timeout` passes.
async fn wait_for(results: &ResultClient, expected: Tally, timeout: Duration) -> ResultWait {
    let started = Instant::now();
    let mut last_seen = None;
    loop {
        // A failed read (the result service restarting) is retried until the deadline.
        if let Ok(tally) = results.tally().await {
            if tally == expected {
                return ResultWait::Shown {
                    expected,
                    after: started.elapsed(),
                };
            }
            last_seen = Some(tally);
        }
        if started.elapsed() >= timeout {
            return ResultWait::TimedOut {
                expected,
                last_seen,
            };
        }
        actix_rt::time::sleep(RESULT_POLL).await;
    }
}
