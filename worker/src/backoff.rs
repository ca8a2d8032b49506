//! Capped exponential backoff between attempts to reach a backing service.

use std::time::Duration;

/// The first retry comes quickly: most failures are a connection being re-established.
const FIRST_DELAY: Duration = Duration::from_millis(100);
/// Never wait longer than this, so the worker resumes within seconds of a service's return.
const MAX_DELAY: Duration = Duration::from_secs(5);

#[derive(Debug)]
pub struct Backoff {
    next: Duration,
}

impl Backoff {
    pub fn new() -> Self {
        Backoff { next: FIRST_DELAY }
    }

    /// The delay before the next attempt; each call doubles the following one, up to the cap.
    pub fn next_delay(&mut self) -> Duration {
        let delay = self.next;
        self.next = (self.next * 2).min(MAX_DELAY);
        delay
    }

    /// After a success, the next failure starts again from the first delay.
    pub fn reset(&mut self) {
        self.next = FIRST_DELAY;
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap_and_resets() {
        let mut backoff = Backoff::new();
        let delays: Vec<_> = (0..8).map(|_| backoff.next_delay()).collect();
        assert_eq!(delays[0], FIRST_DELAY);
        assert_eq!(delays[1], FIRST_DELAY * 2);
        assert_eq!(delays[7], MAX_DELAY);
        assert!(delays.windows(2).all(|pair| pair[0] <= pair[1]));
        backoff.reset();
        assert_eq!(backoff.next_delay(), FIRST_DELAY);
    }
}
