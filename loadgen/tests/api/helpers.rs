//! What the tests share: the vote and result services started in-process through their
//! production start-up code, and a Redis queue and a PostgreSQL database of the test's own,
//! both removed when the test ends, also when it fails.

use std::time::Duration;

use ballot::{Ballot, Tally};
use loadgen::settings::{Endpoint, Settings};
use test_support::{LOCAL_REDIS, QueueCleanup, TestDatabase, unique_name};

/// What the load generator does by default, aimed at `vote_url`.
pub fn load(vote_url: &str, votes: u64, concurrency: usize, split: f64) -> Settings {
    Settings {
        vote_url: vote_url.to_owned(),
        votes,
        concurrency,
        split,
        voters: None,
        endpoint: Endpoint::Form,
        result_url: None,
        wait_timeout: Duration::from_secs(30),
        duration: None,
        rate: 0.0,
        acks: None,
        allow_failures: false,
    }
}

/// A vote service on a random port, appending to a queue of its own.
pub struct TestVote {
    pub address: String,
    pub queue: Queue,
}

impl TestVote {
    pub async fn spawn(redis_url: &str) -> TestVote {
        let mut settings =
            vote::configuration::Settings::from_env().expect("the defaults are valid settings");
        settings.port = 0;
        settings.redis_url = redis_url.to_owned();
        let queue = Queue::new("test:loadgen");
        settings.vote_queue = queue.name.clone();
        settings.shutdown_drain = Duration::ZERO;
        let app = vote::startup::Application::build(settings)
            .await
            .expect("the vote service builds");
        let address = format!("http://127.0.0.1:{}", app.port());
        // Serves until the test's runtime ends.
        actix_rt::spawn(app.run_until_stopped(std::future::pending()));
        TestVote { address, queue }
    }
}

/// A worker draining `queue` into `database`, until the test's runtime ends.
pub async fn spawn_worker(database: &Database, queue: &str) {
    let mut settings =
        worker::configuration::Settings::from_env().expect("the defaults are valid settings");
    settings.port = 0;
    settings.redis_url = LOCAL_REDIS.to_owned();
    settings.queue = queue.to_owned();
    settings.database = service_kit::postgres::PostgresConfig::parse(&database.url(), None)
        .expect("the test database's URL is valid");
    let app = worker::startup::Application::build(settings)
        .await
        .expect("the worker builds");
    actix_rt::spawn(app.run_until_stopped(std::future::pending()));
}

/// A result service on a random port, reading `database`. Returns its address.
pub async fn spawn_result(database: &Database) -> String {
    let mut settings =
        result::configuration::Settings::from_env().expect("the defaults are valid settings");
    settings.port = 0;
    settings.database = service_kit::postgres::PostgresConfig::parse(&database.url(), None)
        .expect("the test database's URL is valid");
    settings.shutdown_drain = Duration::ZERO;
    let app = result::startup::Application::build(settings)
        .await
        .expect("the result service builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    actix_rt::spawn(app.run_until_stopped(std::future::pending()));
    address
}

/// A Redis queue, and the worker's keys beside it, deleted at the end.
pub struct Queue {
    pub name: String,
    _cleanup: QueueCleanup,
}

impl Queue {
    pub fn new(prefix: &str) -> Queue {
        let name = unique_name(prefix);
        Queue {
            _cleanup: QueueCleanup::new(LOCAL_REDIS, &name),
            name,
        }
    }

    /// The queue's messages, oldest first.
    pub fn queued(&self) -> Vec<Ballot> {
        let messages: Vec<Vec<u8>> = redis::cmd("LRANGE")
            .arg(&self.name)
            .arg(0)
            .arg(-1)
            .query(&mut redis_connection().expect("the local Redis answers"))
            .expect("LRANGE answers");
        messages
            .iter()
            .map(|message| Ballot::from_queue(message).expect("the vote service queues ballots"))
            .collect()
    }
}

pub fn redis_connection() -> redis::RedisResult<redis::Connection> {
    redis::Client::open(LOCAL_REDIS)?.get_connection()
}

/// A fresh PostgreSQL database, dropped at the end, and the queries the tests ask of it.
pub struct Database(TestDatabase);

impl Database {
    pub fn create() -> Database {
        Database(TestDatabase::create("loadgen_test"))
    }

    pub fn url(&self) -> String {
        self.0.url()
    }

    /// `SELECT vote, COUNT(id) FROM votes GROUP BY vote`, the original app's count.
    pub fn counts(&self) -> Tally {
        let rows = query(
            &self.url(),
            "SELECT vote, COUNT(id) FROM votes GROUP BY vote",
        )
        .expect("the worker made the votes table");
        Tally::from_rows(rows.iter().map(|row| (row.get::<_, String>(0), row.get(1))))
    }
}

impl Database {
    /// Runs `statement` (and returns the rows it changed).
    pub fn execute(&self, statement: &str) -> Vec<tokio_postgres::Row> {
        query(&self.url(), statement).expect("the statement runs")
    }
}

/// Runs one statement on a connection and a runtime of its own, so that it works anywhere: in
/// a plain test, inside another runtime's thread.
fn query(url: &str, statement: &str) -> Result<Vec<tokio_postgres::Row>, String> {
    let (url, statement) = (url.to_owned(), statement.to_owned());
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|err| err.to_string())?;
        runtime.block_on(async {
            let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                .await
                .map_err(|err| format!("cannot connect to {url}: {err}"))?;
            tokio::spawn(connection);
            client
                .query(&statement, &[])
                .await
                .map_err(|err| format!("{statement}: {err}"))
        })
    })
    .join()
    .expect("the query thread does not panic")
}
