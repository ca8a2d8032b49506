//! The result service's benchmark client; `bench/result.sh` runs it and writes the numbers.
//!
//! ```text
//! result_bench latency --vote URL --result URL [--rate 200] [--seconds 30]
//! result_bench tally-read --database-url URL [--votes 10000000] [--reads 2000]
//! result_bench fanout --vote URL --result URL [--clients 10000] [--changes 20]
//!                     [--threads 2] [--result-pid PID]
//! ```
//!
//! - `latency`: new voters post at a steady rate, one after another, so the queue's order is
//!   the order of the acknowledgements; vote number k is on screen when a frame's total first
//!   reaches k. Prints the time from each vote's 303 to that frame.
//! - `tally-read`: a database of its own with that many votes; the result service's own read
//!   next to the GROUP BY count of the same table.
//! - `fanout`: that many WebSockets, each change made through the vote service; prints, per
//!   change, the spread between the first and the last client to receive it, and the result
//!   process's memory.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use awc::ws::{Frame, Message};
use futures_util::{SinkExt, StreamExt, future::join_all};
use result::tally;
use service_kit::postgres::PostgresConfig;

/// The longest any one step may take before the benchmark gives up: far above the targets, so
/// reaching it means something is broken, not slow.
const PATIENCE: Duration = Duration::from_secs(60);

/// Sockets opened at once while connecting the fan-out clients: enough to connect 10,000 in a
/// few seconds, few enough for the listen backlog.
const CONNECT_CONCURRENCY: usize = 200;

/// The pause between fan-out changes, so that each change's frames are measured alone.
const PAUSE_BETWEEN_CHANGES: Duration = Duration::from_millis(500);

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_default();
    let options = Options::parse(args)?;
    match mode.as_str() {
        "latency" => actix_web::rt::System::new().block_on(latency(&options)),
        "tally-read" => actix_web::rt::System::new().block_on(tally_read(&options)),
        "fanout" => fanout(&options),
        _ => bail!("usage: result_bench latency|tally-read|fanout --option value ..."),
    }
}

struct Options(HashMap<String, String>);

impl Options {
    fn parse(args: impl Iterator<Item = String>) -> anyhow::Result<Options> {
        let args: Vec<String> = args.collect();
        let mut options = HashMap::new();
        for pair in args.chunks(2) {
            match pair {
                [name, value] if name.starts_with("--") => {
                    options.insert(name[2..].to_owned(), value.clone());
                }
                _ => bail!("expected --option value pairs, got {pair:?}"),
            }
        }
        Ok(Options(options))
    }

    fn text(&self, name: &str) -> anyhow::Result<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .with_context(|| format!("--{name} is required"))
    }

    fn number(&self, name: &str, default: u64) -> anyhow::Result<u64> {
        self.0.get(name).map_or(Ok(default), |value| {
            value.parse().with_context(|| format!("--{name} {value}"))
        })
    }
}

fn client() -> awc::Client {
    awc::Client::builder()
        // The vote service's 303 is the acknowledgement; following it would time the page too.
        .disable_redirects()
        .connector(awc::Connector::new().limit(0))
        .timeout(PATIENCE)
        .finish()
}

/// Posts one vote as a new voter (no cookie) and returns when the vote service acknowledged it.
async fn cast_vote(client: &awc::Client, vote_url: &str, option: &str) -> anyhow::Result<()> {
    let response = client
        .post(vote_url)
        .send_form(&[("vote", option)])
        .await
        .map_err(|err| anyhow::anyhow!("posting a vote: {err}"))?;
    if response.status() != 303 {
        bail!("the vote service answered {}", response.status());
    }
    Ok(())
}

/// Opens a WebSocket to the result service and calls `on_total` with each frame's total as it
/// arrives, answering pings, until the socket closes.
async fn watch_totals(
    client: &awc::Client,
    result_url: &str,
    mut on_total: impl FnMut(i64, Instant),
) -> anyhow::Result<()> {
    let ws_url = format!("{}/ws", result_url.replacen("http", "ws", 1));
    let (_, mut socket) = client
        .ws(ws_url)
        .connect()
        .await
        .map_err(|err| anyhow::anyhow!("connecting the WebSocket: {err}"))?;
    while let Some(frame) = socket.next().await {
        match frame? {
            Frame::Text(text) => {
                let arrived = Instant::now();
                let frame: serde_json::Value = serde_json::from_slice(&text)?;
                on_total(frame["total"].as_i64().context("a total")?, arrived);
            }
            Frame::Ping(bytes) => socket.send(Message::Pong(bytes)).await?,
            Frame::Close(_) => break,
            _ => {}
        }
    }
    Ok(())
}

async fn latency(options: &Options) -> anyhow::Result<()> {
    let vote_url = format!("{}/", options.text("vote")?);
    let result_url = options.text("result")?.to_owned();
    let rate = options.number("rate", 200)?;
    let votes = rate * options.number("seconds", 30)?;
    let client = client();

    let frames: Arc<Mutex<Vec<(i64, Instant)>>> = Arc::default();
    let recorder = frames.clone();
    let watcher_client = client.clone();
    actix_web::rt::spawn(async move {
        let recorded = watch_totals(&watcher_client, &result_url, |total, at| {
            recorder.lock().expect("never poisoned").push((total, at));
        })
        .await;
        if let Err(err) = recorded {
            eprintln!("the WebSocket failed: {err:#}");
        }
    });
    let base = wait_for(|| frames.lock().expect("never poisoned").first().map(|f| f.0)).await?;

    let mut acknowledged = Vec::with_capacity(votes as usize);
    let mut ticker = actix_web::rt::time::interval(Duration::from_secs_f64(1.0 / rate as f64));
    for k in 0..votes {
        ticker.tick().await;
        cast_vote(&client, &vote_url, if k % 2 == 0 { "a" } else { "b" }).await?;
        acknowledged.push(Instant::now());
    }
    let last = base + votes as i64;
    wait_for(|| {
        let frames = frames.lock().expect("never poisoned");
        frames.last().filter(|f| f.0 >= last).map(|_| ())
    })
    .await?;

    let frames = frames.lock().expect("never poisoned");
    let mut latencies: Vec<Duration> = acknowledged
        .iter()
        .enumerate()
        .map(|(k, acked)| {
            let shown = frames
                .iter()
                .find(|(total, _)| *total > base + k as i64)
                .expect("the last frame shows every vote")
                .1;
            // The worker can commit before the 303 reaches the client: count that as zero.
            shown.saturating_duration_since(*acked)
        })
        .collect();
    println!(
        "latency: {votes} votes at {rate}/s, {} frames; vote acknowledged -> frame at a client:",
        frames.len()
    );
    print_percentiles(&mut latencies);
    Ok(())
}

async fn tally_read(options: &Options) -> anyhow::Result<()> {
    let admin_url = options.text("database-url")?;
    let votes = options.number("votes", 10_000_000)?;
    let reads = options.number("reads", 2000)?;
    let name = format!("result_bench_{}", std::process::id());
    let admin = connect(admin_url).await?;
    admin
        .batch_execute(&format!(r#"CREATE DATABASE "{name}""#))
        .await?;
    let measured = measure_reads(admin_url, &name, votes, reads).await;
    admin
        .batch_execute(&format!(r#"DROP DATABASE "{name}" WITH (FORCE)"#))
        .await?;
    measured
}

/// A connection of the benchmark's own, driven on a task of its own.
async fn connect(url: &str) -> anyhow::Result<tokio_postgres::Client> {
    let (client, connection) = PostgresConfig::parse(url, None)?.connect().await?;
    actix_web::rt::spawn(connection);
    Ok(client)
}

async fn measure_reads(admin_url: &str, name: &str, votes: u64, reads: u64) -> anyhow::Result<()> {
    let url = format!("{}/{name}", admin_url.rsplit_once('/').context("a URL")?.0);
    let client = connect(&url).await?;
    let started = Instant::now();
    // The unique index after the rows: the same table as the contract's, built much faster.
    client
        .batch_execute(&format!(
            "CREATE TABLE votes (id VARCHAR(255) NOT NULL, vote VARCHAR(255) NOT NULL, \
                 ts BIGINT NOT NULL DEFAULT 0);
             INSERT INTO votes (id, vote, ts) SELECT md5(g::text), \
                 CASE WHEN g % 5 < 3 THEN 'a' ELSE 'b' END, g FROM generate_series(1, {votes}) g;
             ALTER TABLE votes ADD CONSTRAINT votes_id_key UNIQUE (id);
             CREATE TABLE vote_tally (vote TEXT PRIMARY KEY, n BIGINT NOT NULL);
             INSERT INTO vote_tally (vote, n) SELECT vote, COUNT(id) FROM votes GROUP BY vote;
             VACUUM ANALYZE votes;
             VACUUM ANALYZE vote_tally;"
        ))
        .await?;
    println!(
        "tally-read: {votes} votes loaded in {:.0?}",
        started.elapsed()
    );

    // The service's own pool and read, as it runs them.
    let pool = PostgresConfig::parse(&url, None)?.pool(1, PATIENCE);
    let tally = tally::read(&pool, PATIENCE).await?;
    anyhow::ensure!(tally.total() == votes, "the tally is {tally:?}");
    let mut tally_reads = Vec::new();
    // The first reads warm the connection's prepared statement and the buffer cache.
    for _ in 0..100 {
        tally::read(&pool, PATIENCE).await?;
    }
    for _ in 0..reads {
        let started = Instant::now();
        tally::read(&pool, PATIENCE).await?;
        tally_reads.push(started.elapsed());
    }
    println!("tally-read: the result service's read (vote_tally), {reads} reads:");
    print_percentiles(&mut tally_reads);

    let mut counts = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        client
            .query("SELECT vote, COUNT(id) FROM votes GROUP BY vote", &[])
            .await?;
        counts.push(started.elapsed());
    }
    println!("tally-read: SELECT vote, COUNT(id) FROM votes GROUP BY vote, 5 runs:");
    print_percentiles(&mut counts);
    pool.close();
    Ok(())
}

/// When each client received the frame with each total.
type Arrivals = Arc<Mutex<HashMap<i64, Vec<Instant>>>>;

fn fanout(options: &Options) -> anyhow::Result<()> {
    let vote_url = format!("{}/", options.text("vote")?);
    let result_url = options.text("result")?.to_owned();
    let clients = options.number("clients", 10_000)? as usize;
    let changes = options.number("changes", 20)?;
    let threads = options.number("threads", 2)?.max(1) as usize;
    let arrivals: Arrivals = Arc::default();
    let connected = Arc::new(AtomicUsize::new(0));

    // The clients run on threads of their own, so that reading 10,000 frames is not one
    // thread's queue added to the spread being measured.
    for shard in 0..threads {
        let share = clients / threads + usize::from(shard < clients % threads);
        let (result_url, arrivals, connected) =
            (result_url.clone(), arrivals.clone(), connected.clone());
        std::thread::spawn(move || {
            actix_web::rt::System::new()
                .block_on(run_clients(share, result_url, arrivals, connected))
        });
    }

    actix_web::rt::System::new().block_on(async {
        let started = Instant::now();
        wait_for(|| (connected.load(Ordering::SeqCst) == clients).then_some(())).await?;
        println!(
            "fanout: {clients} WebSockets open in {:.1?}",
            started.elapsed()
        );
        let base = wait_for(|| {
            let arrivals = arrivals.lock().expect("never poisoned");
            arrivals
                .iter()
                .find(|(_, seen)| seen.len() == clients)
                .map(|(total, _)| *total)
        })
        .await?;
        if let Some(pid) = options.0.get("result-pid") {
            println!(
                "fanout: result service memory with {clients} sockets open: {}",
                memory(pid)?
            );
        }

        let client = client();
        let mut spreads = Vec::new();
        let mut last_latencies = Vec::new();
        for change in 1..=changes {
            let sent = Instant::now();
            cast_vote(&client, &vote_url, "a").await?;
            let total = base + change as i64;
            wait_for(|| {
                let arrivals = arrivals.lock().expect("never poisoned");
                arrivals
                    .get(&total)
                    .filter(|seen| seen.len() == clients)
                    .map(|_| ())
            })
            .await
            .with_context(|| format!("not every client received total {total}"))?;
            let (first, last) = {
                let arrivals = arrivals.lock().expect("never poisoned");
                let seen = &arrivals[&total];
                (
                    *seen.iter().min().expect("every client's arrival"),
                    *seen.iter().max().expect("every client's arrival"),
                )
            };
            spreads.push(last - first);
            last_latencies.push(last - sent);
            actix_web::rt::time::sleep(PAUSE_BETWEEN_CHANGES).await;
        }
        println!(
            "fanout: {changes} changes, every one received by all {clients} clients; \
             spread from the first to the last client per change:"
        );
        print_percentiles(&mut spreads);
        println!("fanout: vote posted -> frame at the last of the {clients} clients:");
        print_percentiles(&mut last_latencies);
        if let Some(pid) = options.0.get("result-pid") {
            println!(
                "fanout: result service memory after the changes: {}",
                memory(pid)?
            );
        }
        Ok(())
    })
}

async fn run_clients(
    count: usize,
    result_url: String,
    arrivals: Arrivals,
    connected: Arc<AtomicUsize>,
) {
    let client = client();
    let mut pending = (0..count).collect::<Vec<_>>();
    while !pending.is_empty() {
        let batch: Vec<_> = pending
            .drain(..pending.len().min(CONNECT_CONCURRENCY))
            .collect();
        join_all(batch.into_iter().map(|_| {
            let (client, result_url, arrivals, connected) = (
                client.clone(),
                result_url.clone(),
                arrivals.clone(),
                connected.clone(),
            );
            async move {
                let ws_url = format!("{}/ws", result_url.replacen("http", "ws", 1));
                let (_, mut socket) = match client.ws(ws_url).connect().await {
                    Ok(connection) => connection,
                    Err(err) => {
                        eprintln!("a client could not connect: {err}");
                        return;
                    }
                };
                connected.fetch_add(1, Ordering::SeqCst);
                // Each client reads in a task of its own, so the batch connects and moves on.
                actix_web::rt::spawn(async move {
                    while let Some(Ok(frame)) = socket.next().await {
                        match frame {
                            Frame::Text(text) => {
                                let arrived = Instant::now();
                                let Ok(frame) = serde_json::from_slice::<serde_json::Value>(&text)
                                else {
                                    continue;
                                };
                                if let Some(total) = frame["total"].as_i64() {
                                    arrivals
                                        .lock()
                                        .expect("never poisoned")
                                        .entry(total)
                                        .or_default()
                                        .push(arrived);
                                }
                            }
                            Frame::Ping(bytes) => {
                                let _ = socket.send(Message::Pong(bytes)).await;
                            }
                            _ => {}
                        }
                    }
                });
            }
        }))
        .await;
    }
    // Keeps the clients' tasks running until the process exits.
    std::future::pending::<()>().await;
}

/// The resident memory of a process, now and at its peak.
fn memory(pid: &str) -> anyhow::Result<String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let field = |name: &str| {
        status
            .lines()
            .find(|line| line.starts_with(name))
            .and_then(|line| line.split_whitespace().nth(1))
            .and_then(|kib| kib.parse::<f64>().ok())
            .map(|kib| kib / 1024.0)
    };
    Ok(format!(
        "RSS {:.1} MiB (peak {:.1} MiB)",
        field("VmRSS:").context("VmRSS")?,
        field("VmHWM:").context("VmHWM")?
    ))
}

/// Polls `check` until it gives a value, for at most PATIENCE.
async fn wait_for<T>(mut check: impl FnMut() -> Option<T>) -> anyhow::Result<T> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(value) = check() {
            return Ok(value);
        }
        if Instant::now() > deadline {
            bail!("timed out after {PATIENCE:?}");
        }
        actix_web::rt::time::sleep(Duration::from_millis(1)).await;
    }
}

fn print_percentiles(samples: &mut [Duration]) {
    samples.sort();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "  n={} p50={:.3} ms p90={:.3} ms p99={:.3} ms max={:.3} ms",
        samples.len(),
        ms(at(0.5)),
        ms(at(0.9)),
        ms(at(0.99)),
        ms(at(1.0)),
    );
}
