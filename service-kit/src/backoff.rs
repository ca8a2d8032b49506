//! Capped exponential backoff between attempts to reach a backing service, for every retry
//! loop of the programs: the worker's steps against Redis and PostgreSQL, the result
//! service's LISTEN connection.

use std::time::Duration;

#[derive(Debug)]
pub struct Backoff {
    first: Duration,
    cap: Duration,
    next: Duration,
}

impl Backoff {
    /// Waits `first` after the first failure, twice as long after each further one, never
    /// longer than `cap`.
    pub fn new(first: Duration, cap: Duration) -> Self {
        Backoff {
            first,
            cap,
            next: first.min(cap),
        }
    }

    /// The delay before the next attempt; each call doubles the following one, up to the cap.
    pub fn next_delay(&mut self) -> Duration {
        let delay = self.next;
        self.next = (self.next * 2).min(self.cap);
        delay
    }

    /// After a success, the next failure starts again from the first delay.
    pub fn reset(&mut self) {
        self.next = self.first.min(self.cap);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap_and_resets() {
        let first = Duration::from_millis(100);
        let cap = Duration::from_secs(5);
        let mut backoff = Backoff::new(first, cap);
        let delays: Vec<_> = (0..8).map(|_| backoff.next_delay()).collect();
        assert_eq!(delays[0], first);
        assert_eq!(delays[1], first * 2);
        assert_eq!(delays[5], Duration::from_millis(3200));
        assert_eq!(delays[6], cap);
        assert_eq!(delays[7], cap);
        backoff.reset();
        assert_eq!(backoff.next_delay(), first);
    }

    #[test]
    fn a_first_delay_above_the_cap_is_capped() {
        let mut backoff = Backoff::new(Duration::from_secs(9), Duration::from_secs(1));
        assert_eq!(backoff.next_delay(), Duration::from_secs(1));
    }
}
