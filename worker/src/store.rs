//! The PostgreSQL side: the connection pool and the one-transaction-per-batch upsert.

use std::{collections::HashMap, time::Duration};

use ballot::Ballot;
use deadpool_postgres::Pool;
use service_kit::postgres::PostgresConfig;

/// The consumer holds one connection and readiness probes another; two more are slack for a
/// replacement while a broken one is being dropped.
const POOL_SIZE: usize = 4;
/// Waiting longer for a connection from the pool means PostgreSQL is not answering.
const POOL_WAIT: Duration = Duration::from_secs(5);

/// The longest a batch's transaction may sit idle at PostgreSQL between two of its statements,
/// which is normally one round trip. A worker frozen or cut off in the middle of its transaction
/// (a paused machine, a partition that sends no reset) would otherwise keep its voters' rows
/// locked, and every other worker's batch that shares a voter would wait behind it, until
/// PostgreSQL noticed the dead connection: hours, by TCP keepalive. With this bound the
/// server ends that transaction, the others store on, and the messages the frozen worker held
/// come back to them when its lease runs out.
const IDLE_IN_TRANSACTION_LIMIT: &str = "SET LOCAL idle_in_transaction_session_timeout = '5s'";

/// Last write wins (SPEC section 4): a row is replaced when the incoming `ts` is greater than
/// or equal to the stored one. Rows go in sorted by id, so concurrent workers lock the rows
/// they share in the same order and cannot deadlock; an identical row is not rewritten, so
/// replaying an acknowledged batch writes nothing.
const UPSERT_BATCH: &str = "
    INSERT INTO votes (id, vote, ts)
    SELECT id, vote, ts FROM unnest($1::text[], $2::text[], $3::bigint[]) AS batch (id, vote, ts)
    ORDER BY id COLLATE \"C\"
    ON CONFLICT (id) DO UPDATE SET vote = excluded.vote, ts = excluded.ts
    WHERE votes.ts <= excluded.ts
      AND (votes.vote, votes.ts) IS DISTINCT FROM (excluded.vote, excluded.ts)";

/// The pool for `DATABASE_URL`, with TLS as its `sslmode` says. Connects lazily: PostgreSQL
/// need not be up yet.
pub fn connection_pool(database: &PostgresConfig) -> Pool {
    database.pool(POOL_SIZE, POOL_WAIT)
}

/// Runs `$query`, an expression that uses `$client`, a connection from `$pool`, with at most
/// `$limit` to answer. After an error, or no answer in time, the connection is closed instead
/// of going back to the pool, where it could be reused in an unknown state. (A macro: an async
/// closure over a borrowed connection cannot yet be proven `Send` for a spawned task.)
macro_rules! on_connection {
    ($pool:expr, $limit:expr, |$client:ident| $query:expr) => {
        async {
            let limit: ::std::time::Duration = $limit;
            #[allow(unused_mut)]
            let mut $client = $pool.get().await?;
            let failure = match ::tokio::time::timeout(limit, $query).await {
                Ok(Ok(value)) => return Ok(value),
                Ok(Err(err)) => ::anyhow::Error::from(err),
                Err(_elapsed) => ::anyhow::anyhow!("no answer within {limit:?}"),
            };
            drop(::deadpool_postgres::Object::take($client));
            ::anyhow::Result::Err(failure)
        }
    };
}
pub(crate) use on_connection;

/// A batch reduced to one row per voter: the vote with the greatest `ts`; of equal ones, the
/// one that came later in the queue. The three columns are the upsert's parameters.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct FoldedBatch {
    pub voter_ids: Vec<String>,
    pub votes: Vec<&'static str>,
    pub timestamps: Vec<i64>,
}

impl FoldedBatch {
    pub fn fold(ballots: Vec<Ballot>) -> FoldedBatch {
        let mut newest: HashMap<String, Ballot> = HashMap::with_capacity(ballots.len());
        for ballot in ballots {
            match newest.get_mut(&ballot.voter_id) {
                Some(kept) if kept.ts > ballot.ts => {}
                Some(kept) => *kept = ballot,
                None => {
                    newest.insert(ballot.voter_id.clone(), ballot);
                }
            }
        }
        let mut folded = FoldedBatch::default();
        for ballot in newest.into_values() {
            folded.votes.push(ballot.vote.as_str());
            folded.timestamps.push(ballot.ts);
            folded.voter_ids.push(ballot.voter_id);
        }
        folded
    }

    pub fn len(&self) -> usize {
        self.voter_ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.voter_ids.is_empty()
    }
}

/// Writes a folded batch in one transaction. The tally triggers update `vote_tally` and send
/// `NOTIFY votes_changed` when it commits.
pub async fn store_batch(
    client: &mut deadpool_postgres::Object,
    batch: &FoldedBatch,
) -> Result<(), tokio_postgres::Error> {
    let transaction = client.transaction().await?;
    transaction.batch_execute(IDLE_IN_TRANSACTION_LIMIT).await?;
    let upsert = transaction.prepare_cached(UPSERT_BATCH).await?;
    transaction
        .execute(
            &upsert,
            &[&batch.voter_ids, &batch.votes, &batch.timestamps],
        )
        .await?;
    transaction.commit().await
}

#[cfg(test)]
mod tests {
    use ballot::VoteOption;

    use super::*;

    fn ballot(voter_id: &str, vote: VoteOption, ts: i64) -> Ballot {
        Ballot {
            voter_id: voter_id.to_owned(),
            vote,
            ts,
        }
    }

    fn rows(folded: &FoldedBatch) -> Vec<(String, &'static str, i64)> {
        let mut rows: Vec<_> = (0..folded.len())
            .map(|i| {
                (
                    folded.voter_ids[i].clone(),
                    folded.votes[i],
                    folded.timestamps[i],
                )
            })
            .collect();
        rows.sort();
        rows
    }

    #[test]
    fn keeps_each_voters_newest_vote_and_the_later_of_equals() {
        use VoteOption::{A, B};
        let folded = FoldedBatch::fold(vec![
            ballot("v1", A, 5),
            ballot("v2", A, 0),
            ballot("v1", B, 9),
            ballot("v1", A, 7),
            ballot("v2", B, 0),
            ballot("v3", B, 1),
        ]);
        assert_eq!(
            rows(&folded),
            vec![
                ("v1".to_owned(), "b", 9),
                ("v2".to_owned(), "b", 0),
                ("v3".to_owned(), "b", 1),
            ]
        );
    }
}
