//! The tally: how many votes each option has, the frame of SPEC section 5 that carries it, and
//! how the result page words it.

use serde::{Deserialize, Serialize};

use crate::VoteOption;

/// The counts of the two options. Other values stored in `votes.vote` are ignored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    pub a: u64,
    pub b: u64,
}

/// The JSON frame of SPEC section 5, sent on `/ws` and answered by `/api/results`.
#[derive(Serialize, Deserialize)]
struct Frame {
    counts: Tally,
    total: u64,
}

impl Tally {
    /// The tally of `(stored value, count)` rows, as `SELECT vote, COUNT(id) … GROUP BY vote`
    /// or the `vote_tally` table give them: values other than `a` and `b` are ignored, and so
    /// is a negative count, which neither read can give.
    pub fn from_rows<S: AsRef<str>>(rows: impl IntoIterator<Item = (S, i64)>) -> Tally {
        let mut tally = Tally::default();
        for (vote, n) in rows {
            if let (Some(option), Ok(n)) = (VoteOption::parse(vote.as_ref()), u64::try_from(n)) {
                *tally.count_mut(option) = n;
            }
        }
        tally
    }

    pub fn count(&self, option: VoteOption) -> u64 {
        match option {
            VoteOption::A => self.a,
            VoteOption::B => self.b,
        }
    }

    fn count_mut(&mut self, option: VoteOption) -> &mut u64 {
        match option {
            VoteOption::A => &mut self.a,
            VoteOption::B => &mut self.b,
        }
    }

    /// One more vote for `option`.
    pub fn add(&mut self, option: VoteOption) {
        *self.count_mut(option) += 1;
    }

    /// Takes back a vote [`Tally::add`] counted (a voter's re-vote replaces it). Panics if
    /// `option` has no vote to take back: that is a counting error of the caller's.
    pub fn remove(&mut self, option: VoteOption) {
        let count = self.count_mut(option);
        *count = count
            .checked_sub(1)
            .expect("only a vote that was added is taken back");
    }

    pub fn plus(&self, other: Tally) -> Tally {
        Tally {
            a: self.a + other.a,
            b: self.b + other.b,
        }
    }

    pub fn total(&self) -> u64 {
        self.a + self.b
    }

    /// The frame of SPEC section 5: `{"counts":{"a":1,"b":2},"total":3}`.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&Frame {
            counts: *self,
            total: self.total(),
        })
        .expect("two integers always serialize")
    }

    /// Reads a frame of SPEC section 5. Its `total` is the sum of the counts by contract, and
    /// the counts are what is read.
    pub fn from_json(frame: &[u8]) -> Result<Tally, serde_json::Error> {
        serde_json::from_slice::<Frame>(frame).map(|frame| frame.counts)
    }

    /// Whole percentages that add up to 100: A = round(100·a/total), B = 100 − A. None while
    /// there are no votes (the page then shows both bars half and no number).
    pub fn percentages(&self) -> Option<(u64, u64)> {
        let total = self.total();
        if total == 0 {
            return None;
        }
        // round(x/y) for non-negative integers, halves up, without floating point.
        let a = (200 * self.a + total) / (2 * total);
        Some((a, 100 - a))
    }

    /// "No votes yet", "1 vote" or "N votes".
    pub fn total_text(&self) -> String {
        match self.total() {
            0 => "No votes yet".to_owned(),
            1 => "1 vote".to_owned(),
            n => format!("{n} votes"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_add_up_to_100_and_round_half_up() {
        assert_eq!(Tally { a: 0, b: 0 }.percentages(), None);
        assert_eq!(Tally { a: 1, b: 0 }.percentages(), Some((100, 0)));
        assert_eq!(Tally { a: 1, b: 2 }.percentages(), Some((33, 67)));
        assert_eq!(Tally { a: 2, b: 1 }.percentages(), Some((67, 33)));
        assert_eq!(Tally { a: 1, b: 7 }.percentages(), Some((13, 87))); // 12.5 rounds up
        assert_eq!(Tally { a: 1, b: 199 }.percentages(), Some((1, 99))); // 0.5 rounds up
        assert_eq!(Tally { a: 1, b: 999 }.percentages(), Some((0, 100)));
    }

    #[test]
    fn total_text_counts_in_words() {
        assert_eq!(Tally { a: 0, b: 0 }.total_text(), "No votes yet");
        assert_eq!(Tally { a: 0, b: 1 }.total_text(), "1 vote");
        assert_eq!(Tally { a: 1, b: 1 }.total_text(), "2 votes");
    }

    #[test]
    fn the_frame_matches_the_contract_both_ways() {
        let tally = Tally { a: 3, b: 4 };
        assert_eq!(tally.to_json(), r#"{"counts":{"a":3,"b":4},"total":7}"#);
        assert_eq!(Tally::from_json(tally.to_json().as_bytes()).unwrap(), tally);
        assert!(Tally::from_json(br#"{"counts":{"a":-1,"b":0},"total":-1}"#).is_err());
        assert!(Tally::from_json(b"{}").is_err());
    }

    #[test]
    fn unknown_stored_values_and_negative_counts_are_ignored() {
        let rows = [("b", 5), ("c", 9), ("a", 2)];
        assert_eq!(Tally::from_rows(rows), Tally { a: 2, b: 5 });
        assert_eq!(
            Tally::from_rows([("a", -3), ("b", 1)]),
            Tally { a: 0, b: 1 }
        );
    }

    #[test]
    fn adding_votes_counts_each_option() {
        let mut tally = Tally::default();
        tally.add(VoteOption::B);
        tally.add(VoteOption::B);
        tally.add(VoteOption::A);
        assert_eq!(tally, Tally { a: 1, b: 2 });
        assert_eq!(tally.count(VoteOption::B), 2);
        assert_eq!(tally.plus(tally), Tally { a: 2, b: 4 });
        tally.remove(VoteOption::B);
        assert_eq!(tally, Tally { a: 1, b: 1 });
    }

    #[test]
    #[should_panic(expected = "only a vote that was added is taken back")]
    fn taking_back_a_vote_never_added_is_a_counting_error() {
        Tally::default().remove(VoteOption::A);
    }
}
