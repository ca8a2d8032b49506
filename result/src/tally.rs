//! The tally: how many votes each option has, where it is read from, and how it is shown.

use std::time::Duration;

use deadpool_postgres::{Object, Pool, PoolError};
use serde::Serialize;
use service_kit::{ballot::VoteOption, postgres::explain};
use tokio_postgres::{Client, error::SqlState};

/// The counts of the two options. Other values stored in `votes.vote` are ignored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    pub a: i64,
    pub b: i64,
}

/// The JSON frame of SPEC section 5, sent on `/ws` and answered by `/api/results`.
#[derive(Serialize)]
struct Frame {
    counts: Tally,
    total: i64,
}

/// The read the page's freshness rests on: the table the worker keeps exact, so one read costs
/// the same at ten votes and at ten million.
const READ_TALLY: &str = "SELECT vote, n FROM vote_tally WHERE vote IN ('a', 'b')";

/// The read while only the original worker has written (it makes `votes` but no `vote_tally`):
/// the contract's own count, whose cost grows with the table.
const COUNT_VOTES: &str = "SELECT vote, COUNT(id) FROM votes GROUP BY vote";

/// Why the tally could not be read; the page keeps the last one.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("no connection: {}", explain(.0))]
    Connection(#[from] PoolError),
    #[error("{}", explain(.0))]
    Query(#[from] tokio_postgres::Error),
    #[error("no answer within {0:?}")]
    NoAnswer(Duration),
}

impl Tally {
    /// Reads the current tally: from `vote_tally`, else by counting `votes`, else (no vote
    /// has ever been stored, the worker has not created the schema yet) zero. Gives up after
    /// `limit` for the connection and as much again for the answer; a connection that gave no
    /// answer is closed rather than given back to the pool, where the next read would wait on
    /// it again.
    pub async fn read(pool: &Pool, limit: Duration) -> Result<Tally, ReadError> {
        let client = tokio::time::timeout(limit, pool.get())
            .await
            .map_err(|_| ReadError::NoAnswer(limit))??;
        match tokio::time::timeout(limit, Tally::query(&client)).await {
            Ok(read) => read,
            Err(_) => {
                drop(Object::take(client));
                Err(ReadError::NoAnswer(limit))
            }
        }
    }

    async fn query(client: &Client) -> Result<Tally, ReadError> {
        for query in [READ_TALLY, COUNT_VOTES] {
            match client.query(query, &[]).await {
                Ok(rows) => {
                    let rows = rows
                        .iter()
                        .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
                        .collect::<Result<Vec<(String, i64)>, tokio_postgres::Error>>()?;
                    return Ok(Tally::from_rows(rows));
                }
                Err(err) if err.code() == Some(&SqlState::UNDEFINED_TABLE) => continue,
                Err(err) => return Err(err.into()),
            }
        }
        Ok(Tally::default())
    }

    fn from_rows(rows: impl IntoIterator<Item = (String, i64)>) -> Tally {
        let mut tally = Tally::default();
        for (vote, n) in rows {
            match VoteOption::parse(&vote) {
                Some(VoteOption::A) => tally.a = n,
                Some(VoteOption::B) => tally.b = n,
                None => {}
            }
        }
        tally
    }

    pub fn total(&self) -> i64 {
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

    /// Whole percentages that add up to 100: A = round(100·a/total), B = 100 − A. None while
    /// there are no votes (the page then shows both bars half and no number).
    pub fn percentages(&self) -> Option<(i64, i64)> {
        let total = self.total();
        if total <= 0 {
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
    fn frame_matches_the_contract() {
        assert_eq!(
            Tally { a: 3, b: 4 }.to_json(),
            r#"{"counts":{"a":3,"b":4},"total":7}"#
        );
    }

    #[test]
    fn unknown_stored_values_are_ignored() {
        let rows = [
            ("b".to_owned(), 5),
            ("c".to_owned(), 9),
            ("a".to_owned(), 2),
        ];
        assert_eq!(Tally::from_rows(rows), Tally { a: 2, b: 5 });
    }
}
