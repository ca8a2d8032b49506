//! Which vote each request casts, who casts it, and in which lane (concurrent sequence of
//! requests) it travels; and from that, the totals the result service must end up showing.
//!
//! Everything here is a pure function of the settings, so a run is reproducible and its
//! expected totals are exact.

use ballot::{Tally, VoteOption};

/// The votes of one run, numbered `0..votes`.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    votes: u64,
    /// The share of votes for option a, from 0 to 1.
    split: f64,
    /// Vote `i` is cast by voter `i % population`. Without a fixed population it equals
    /// `votes`: every vote has a voter of its own.
    population: u64,
    /// How many lanes run at once.
    lanes: u64,
}

impl Plan {
    /// `voters`: a fixed population that re-votes, or `None` for a new voter per vote.
    pub fn new(votes: u64, split: f64, voters: Option<u64>, concurrency: usize) -> Plan {
        let population = voters.unwrap_or(votes).max(1);
        // Votes of one voter travel in one lane, one after the other, so that the voter's last
        // vote is also the last one the vote service accepts (and the one that counts). Hence
        // no more lanes than voters.
        let lanes = (concurrency as u64).min(population).min(votes).max(1);
        Plan {
            votes,
            split,
            population,
            lanes,
        }
    }

    pub fn lanes(&self) -> u64 {
        self.lanes
    }

    /// The option vote `i` casts. The a's are spread evenly through the run, and there are
    /// exactly `floor(votes * split)` of them.
    pub fn option(&self, i: u64) -> VoteOption {
        let a_before = |n: u64| (n as f64 * self.split).floor();
        if a_before(i + 1) > a_before(i) {
            VoteOption::A
        } else {
            VoteOption::B
        }
    }

    /// The voter who casts vote `i`, numbered `0..population`.
    pub fn voter(&self, i: u64) -> u64 {
        i % self.population
    }

    /// The votes lane `lane` sends, in order: those of the voters `lane`, `lane + lanes`, ...,
    /// round after round of the population.
    pub fn lane(&self, lane: u64) -> impl Iterator<Item = u64> + use<> {
        let Plan {
            votes,
            population,
            lanes,
            ..
        } = *self;
        (0..votes)
            .step_by(population as usize)
            .flat_map(move |round| {
                (lane..population)
                    .step_by(lanes as usize)
                    .map(move |voter| round + voter)
            })
            .take_while(move |&i| i < votes)
    }

    /// What every vote of the run adds up to.
    pub fn cast(&self) -> Tally {
        let mut tally = Tally::default();
        (0..self.votes).for_each(|i| tally.add(self.option(i)));
        tally
    }

    /// What the run adds to the result: each voter's last vote, since a re-vote replaces the
    /// voter's earlier one. The voters are new to the poll, so this adds to what was there.
    pub fn counted(&self) -> Tally {
        let mut tally = Tally::default();
        for voter in 0..self.population.min(self.votes) {
            let rounds_after_first = (self.votes - 1 - voter) / self.population;
            tally.add(self.option(voter + rounds_after_first * self.population));
        }
        tally
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_split_is_exact_and_even() {
        let plan = Plan::new(10, 0.3, None, 4);
        let options: String = (0..10)
            .map(|i| plan.option(i).as_str())
            .collect::<Vec<_>>()
            .concat();
        assert_eq!(options, "bbbabbabba");
        assert_eq!(plan.cast(), Tally { a: 3, b: 7 });
        assert_eq!(Plan::new(7, 1.0, None, 1).cast(), Tally { a: 7, b: 0 });
        assert_eq!(Plan::new(7, 0.0, None, 1).cast(), Tally { a: 0, b: 7 });
    }

    #[test]
    fn lanes_cover_every_vote_once_in_order_and_keep_a_voter_in_one_lane() {
        for (votes, voters, concurrency) in [(10, None, 3), (23, Some(5), 2), (9, Some(4), 8)] {
            let plan = Plan::new(votes, 0.5, voters, concurrency);
            let mut seen = Vec::new();
            for lane in 0..plan.lanes() {
                let sent: Vec<u64> = plan.lane(lane).collect();
                assert!(sent.windows(2).all(|w| w[0] < w[1]), "in order: {sent:?}");
                for &i in &sent {
                    assert_eq!(plan.voter(i) % plan.lanes(), lane, "vote {i}");
                }
                seen.extend(sent);
            }
            seen.sort_unstable();
            assert_eq!(seen, (0..votes).collect::<Vec<_>>());
        }
        assert_eq!(Plan::new(9, 0.5, Some(4), 8).lanes(), 4);
        assert_eq!(Plan::new(3, 0.5, None, 8).lanes(), 3);
    }

    #[test]
    fn counted_is_each_voters_last_vote() {
        // Votes 0..7 by voters 0,1,2,0,1,2,0; split 0.5 casts b,a,b,a,b,a,b. The last votes:
        // voter 0 vote 6 (b), voter 1 vote 4 (b), voter 2 vote 5 (a).
        let plan = Plan::new(7, 0.5, Some(3), 2);
        assert_eq!(plan.counted(), Tally { a: 1, b: 2 });
        assert_eq!(plan.cast(), Tally { a: 3, b: 4 });
        // More voters than votes: every vote counts.
        assert_eq!(
            Plan::new(4, 0.5, Some(10), 2).counted(),
            Tally { a: 2, b: 2 }
        );
        // New voters: counted equals cast.
        let plan = Plan::new(101, 0.7, None, 5);
        assert_eq!(plan.counted(), plan.cast());
    }
}
