//! Where the tally is read from. What a [`Tally`] is, its frame and its wording, is the
//! domain's.

use std::time::Duration;

use ballot::Tally;
use deadpool_postgres::{Object, Pool, PoolError};
use service_kit::postgres::explain;
use tokio_postgres::{Client, error::SqlState};

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

/// Reads the current tally: from `vote_tally`, else by counting `votes`, else (no vote has
/// ever been stored, the worker has not created the schema yet) zero. Gives up after `limit`
/// for the connection and as much again for the answer; a connection that gave no answer is
/// closed rather than given back to the pool, where the next read would wait on it again.
pub async fn read(pool: &Pool, limit: Duration) -> Result<Tally, ReadError> {
    let client = tokio::time::timeout(limit, pool.get())
        .await
        .map_err(|_| ReadError::NoAnswer(limit))??;
    match tokio::time::timeout(limit, query(&client)).await {
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
