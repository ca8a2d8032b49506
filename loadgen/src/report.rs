//! What a run measured, and how it is printed.

use std::{collections::BTreeMap, fmt, time::Duration};

use ballot::Tally;

use crate::{client::Failure, settings::Settings};

/// Request latencies in microseconds, sorted.
#[derive(Debug, Clone)]
pub struct Latencies(Vec<u64>);

impl Latencies {
    pub fn new(mut micros: Vec<u64>) -> Latencies {
        micros.sort_unstable();
        Latencies(micros)
    }

    /// How many requests were timed.
    pub fn count(&self) -> usize {
        self.0.len()
    }

    /// The nearest-rank percentile `p` (0 < p <= 100), or zero without samples.
    pub fn percentile(&self, p: f64) -> Duration {
        let rank = ((p / 100.0) * self.0.len() as f64).ceil() as usize;
        let micros = self.0.get(rank.saturating_sub(1)).copied().unwrap_or(0);
        Duration::from_micros(micros)
    }
}

/// How waiting for the result service ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResultWait {
    /// The result service showed `expected`, `after` the last vote was answered.
    Shown { expected: Tally, after: Duration },
    /// The deadline passed; `last_seen` is the last tally read, if any was.
    TimedOut {
        expected: Tally,
        last_seen: Option<Tally>,
    },
    /// Whether some votes were recorded is unknown, and so are the totals to expect.
    Skipped,
}

#[derive(Debug, Clone)]
pub struct Report {
    pub settings: Settings,
    /// The votes sent, per option.
    pub cast: Tally,
    /// Acknowledged: `303` (form) or `202` (API).
    pub accepted: u64,
    /// Not recorded, as the service said (a 4xx or a 503) or since no connection was made.
    pub refused: u64,
    /// Whether they were recorded is unknown: no answer, or an unexpected one.
    pub unknown: u64,
    /// How many requests were in flight at once: the concurrency asked for, or fewer when
    /// there are fewer voters (one voter's votes go one after the other).
    pub lanes: u64,
    /// Failed votes by cause.
    pub failures: BTreeMap<Failure, u64>,
    /// From the first vote sent to the last one answered.
    pub elapsed: Duration,
    pub latencies: Latencies,
    /// With `--wait-result`.
    pub result: Option<ResultWait>,
}

impl Report {
    /// Every vote accepted and, if asked, shown by the result service. With
    /// `--allow-failures`, votes that were not accepted are only reported, and the result
    /// must show the accepted ones when it can be known what that is.
    pub fn succeeded(&self) -> bool {
        let allowed = self.settings.allow_failures;
        (self.failures.is_empty() || allowed)
            && match self.result {
                None | Some(ResultWait::Shown { .. }) => true,
                Some(ResultWait::Skipped) => allowed,
                Some(ResultWait::TimedOut { .. }) => false,
            }
    }

    pub fn votes_per_second(&self) -> f64 {
        self.accepted as f64 / self.elapsed.as_secs_f64().max(f64::EPSILON)
    }
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let settings = &self.settings;
        let who = match settings.voters {
            Some(voters) => format!("re-votes by {voters} voters"),
            None => "each by a new voter".to_owned(),
        };
        let pace = if settings.rate > 0.0 {
            format!(", aiming at {} votes/s", settings.rate)
        } else {
            String::new()
        };
        writeln!(
            f,
            "posted {} votes (a {}, b {}) to {} ({}), {who}, {} at once{pace}",
            self.cast.total(),
            self.cast.a,
            self.cast.b,
            settings.vote_url,
            settings.endpoint.as_str(),
            self.lanes,
        )?;
        writeln!(
            f,
            "accepted {} in {:.3} s: {:.0} votes/s",
            self.accepted,
            self.elapsed.as_secs_f64(),
            self.votes_per_second()
        )?;
        writeln!(
            f,
            "sent {}: acknowledged {}, refused {}, unknown {}, failed {}",
            self.cast.total(),
            self.accepted,
            self.refused,
            self.unknown,
            self.refused + self.unknown,
        )?;
        writeln!(
            f,
            "latency ms: p50 {:.2}  p90 {:.2}  p99 {:.2}  max {:.2}",
            millis(self.latencies.percentile(50.0)),
            millis(self.latencies.percentile(90.0)),
            millis(self.latencies.percentile(99.0)),
            millis(self.latencies.percentile(100.0)),
        )?;
        for (cause, count) in &self.failures {
            writeln!(f, "failed: {count} × {cause}")?;
        }
        match &self.result {
            None => Ok(()),
            Some(ResultWait::Shown { expected, after }) => writeln!(
                f,
                "result shows a {} b {} (total {}) {:.3} s after the last vote",
                expected.a,
                expected.b,
                expected.total(),
                after.as_secs_f64()
            ),
            Some(ResultWait::TimedOut {
                expected,
                last_seen,
            }) => {
                write!(
                    f,
                    "result did not show a {} b {} within {} s; ",
                    expected.a,
                    expected.b,
                    settings.wait_timeout.as_secs(),
                )?;
                match last_seen {
                    Some(seen) => writeln!(f, "it last showed a {} b {}", seen.a, seen.b),
                    None => writeln!(f, "it did not answer"),
                }
            }
            Some(ResultWait::Skipped) => writeln!(
                f,
                "result not awaited: whether {} votes were recorded is unknown",
                self.unknown
            ),
        }?;
        match &settings.acks {
            Some(path) => writeln!(f, "every vote's outcome is in {}", path.display()),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let latencies = Latencies::new((1..=100).rev().collect());
        assert_eq!(latencies.percentile(50.0), Duration::from_micros(50));
        assert_eq!(latencies.percentile(99.0), Duration::from_micros(99));
        assert_eq!(latencies.percentile(100.0), Duration::from_micros(100));
        let one = Latencies::new(vec![7]);
        assert_eq!(one.percentile(50.0), Duration::from_micros(7));
        assert_eq!(Latencies::new(vec![]).percentile(99.0), Duration::ZERO);
    }
}
