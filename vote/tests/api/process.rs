//! The program as a process: its logs, and SIGTERM (SPEC sections 1 and 6).

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::TcpStream,
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use test_support::QueueCleanup;

use service_kit::lifecycle::WATCHDOG_MESSAGE;

use crate::helpers::{
    LOCAL_REDIS, OwnRedis, free_port, redis_connection, unique_queue, wait_until,
};

/// Long enough for a request written to the socket to reach its handler and its RPUSH to reach
/// Redis, and well inside the 1.5 s within which the vote service gives up on Redis.
const REQUEST_UNDER_WAY: Duration = Duration::from_millis(200);

/// Linux's default pipe buffer.
const PIPE_CAPACITY: usize = 64 * 1024;

/// The queue `queue` in a test's own Redis.
fn own_queue(redis: &OwnRedis, queue: &str) -> Vec<String> {
    redis::cmd("LRANGE")
        .arg(queue)
        .arg(0)
        .arg(-1)
        .query(&mut redis_connection(&redis.url()))
        .expect("LRANGE answers")
}

/// SPEC section 6: the process exits within 10 s of SIGTERM.
const STOP_LIMIT: Duration = Duration::from_secs(10);

pub struct VoteProcess {
    child: Child,
    port: u16,
    queue: String,
    /// Every line the process printed so far.
    logs: Arc<Mutex<Vec<String>>>,
    /// Deletes the queue when the test ends.
    _cleanup: QueueCleanup,
}

impl VoteProcess {
    pub fn start(env: &[(&str, &str)]) -> VoteProcess {
        let port = free_port();
        let queue = unique_queue();
        let mut child = Command::new(env!("CARGO_BIN_EXE_vote"))
            .env("PORT", port.to_string())
            .env("REDIS_URL", LOCAL_REDIS)
            .env("VOTE_QUEUE", &queue)
            .env("LOG_FORMAT", "json")
            .env("RUST_LOG", "info")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the vote binary starts");
        let logs = Arc::new(Mutex::new(Vec::new()));
        let stdout = child.stdout.take().expect("stdout is piped");
        let sink = Arc::clone(&logs);
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                sink.lock()
                    .expect("no reader panics while holding the lock")
                    .push(line);
            }
        });
        let process = VoteProcess {
            child,
            port,
            _cleanup: QueueCleanup::new(LOCAL_REDIS, &queue),
            queue,
            logs,
        };
        wait_until("the vote process answers", || {
            service_kit::healthcheck::probe(port).is_ok()
        });
        process
    }

    /// A plain HTTP/1.0 request; returns the status code.
    pub fn request(&self, method: &str, path: &str, body: &str) -> u16 {
        http_request(self.port, method, path, body, || {})
    }

    /// The same request on a thread of its own, written to the socket before this returns.
    fn request_in_background(
        &self,
        method: &'static str,
        path: &'static str,
        body: &'static str,
    ) -> std::thread::JoinHandle<u16> {
        let (sent, is_sent) = std::sync::mpsc::channel();
        let port = self.port;
        let request = std::thread::spawn(move || {
            http_request(port, method, path, body, || {
                let _ = sent.send(());
            })
        });
        is_sent.recv().expect("the request is written");
        request
    }

    fn logs(&self) -> Vec<serde_json::Value> {
        self.logs
            .lock()
            .expect("no reader panics while holding the lock")
            .iter()
            .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}")))
            .collect()
    }

    /// Waits for the process to exit, failing once [`STOP_LIMIT`] has passed since `signalled`.
    fn exit_status(&mut self, signalled: Instant) -> std::process::ExitStatus {
        loop {
            if let Some(status) = self.child.try_wait().expect("the child can be waited on") {
                return status;
            }
            assert!(
                signalled.elapsed() < STOP_LIMIT,
                "still running {STOP_LIMIT:?} after the signal"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Everything printed so far, as one text.
    fn log_text(&self) -> String {
        self.logs
            .lock()
            .expect("no reader panics while holding the lock")
            .join("\n")
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
    }
}

/// A plain HTTP/1.0 request to the loopback, calling `written` once it is on the wire; returns
/// the status code.
fn http_request(port: u16, method: &str, path: &str, body: &str, written: impl FnOnce()) -> u16 {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("the port is open");
    write!(
        stream,
        "{method} {path} HTTP/1.0\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .expect("the request is sent");
    written();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("an answer");
    answer
        .get(9..12)
        .unwrap_or_else(|| panic!("not an HTTP answer: {answer:?}"))
        .parse()
        .expect("a status line")
}

impl Drop for VoteProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn sigterm_turns_readiness_503_keeps_serving_during_the_drain_and_exits_0_within_10s() {
    let mut vote = VoteProcess::start(&[("SHUTDOWN_DRAIN_SECONDS", "2")]);
    assert_eq!(vote.request("GET", "/readyz", ""), 200);

    let signalled = Instant::now();
    vote.signal("-TERM");

    wait_until("readiness turns 503", || {
        vote.request("GET", "/readyz", "") == 503
    });
    // Still serving while load balancers move away: votes are taken, not failed.
    assert_eq!(vote.request("POST", "/", "vote=a"), 303);
    assert_eq!(vote.request("GET", "/healthz", ""), 200);
    let status = vote.exit_status(signalled);
    assert!(status.success(), "exit status {status:?}");
    assert!(vote.logs().iter().any(|line| line["message"] == "stopped"));
}

#[test]
fn sigint_stops_it_too() {
    let mut vote = VoteProcess::start(&[("SHUTDOWN_DRAIN_SECONDS", "0")]);

    let signalled = Instant::now();
    vote.signal("-INT");

    let status = vote.exit_status(signalled);
    assert!(status.success(), "exit status {status:?}");
}

#[test]
fn logs_are_json_with_the_configuration_once_and_a_line_per_request_without_voter_ids() {
    let vote = VoteProcess::start(&[("POD_NAME", "vote-7d9f-x2k4q")]);

    assert_eq!(vote.request("POST", "/", "vote=b"), 303);
    assert_eq!(vote.request("GET", "/nowhere/42", ""), 404);

    wait_until("both access lines are logged", || {
        vote.logs()
            .iter()
            .filter(|line| line["message"] == "request")
            .count()
            >= 3
    });
    let logs = vote.logs();
    // Every line says which replica wrote it, and none carries a terminal's colour codes.
    for line in &logs {
        assert_eq!(line["instance"], "vote-7d9f-x2k4q", "{line}");
        assert!(!line.to_string().contains('\u{1b}'), "{line}");
    }
    let startup: Vec<_> = logs
        .iter()
        .filter(|line| line["message"] == "vote service starting")
        .collect();
    assert_eq!(startup.len(), 1);
    assert_eq!(startup[0]["vote_queue"], vote.queue.as_str());
    assert_eq!(startup[0]["redis_url"], LOCAL_REDIS);
    let vote_line = logs
        .iter()
        .find(|line| line["message"] == "request" && line["method"] == "POST")
        .expect("an access line for the vote");
    assert_eq!(vote_line["route"], "/");
    assert_eq!(vote_line["status"], 303);
    assert!(vote_line["latency_us"].as_u64().is_some(), "{vote_line}");
    let missing = logs
        .iter()
        .find(|line| line["message"] == "request" && line["status"] == 404)
        .expect("an access line for the unknown path");
    assert_eq!(
        missing["route"], "unmatched",
        "raw paths are never logged as routes"
    );
    let everything = vote.logs.lock().unwrap().join("\n");
    let mut redis = redis::Client::open(LOCAL_REDIS)
        .unwrap()
        .get_connection()
        .unwrap();
    let queued: Vec<String> = redis::cmd("LRANGE")
        .arg(&vote.queue)
        .arg(0)
        .arg(-1)
        .query(&mut redis)
        .unwrap();
    let ballot: serde_json::Value = serde_json::from_str(&queued[0]).unwrap();
    let voter_id = ballot["voter_id"].as_str().unwrap();
    assert!(
        !everything.contains(voter_id),
        "a voter id was logged at info level"
    );
}

#[test]
fn the_healthcheck_subcommand_reports_the_running_service() {
    let vote = VoteProcess::start(&[]);
    let healthcheck = |port: u16| {
        Command::new(env!("CARGO_BIN_EXE_vote"))
            .arg("healthcheck")
            .env("PORT", port.to_string())
            .stderr(Stdio::null())
            .status()
            .expect("the binary runs")
    };

    assert!(healthcheck(vote.port).success());
    assert!(!healthcheck(free_port()).success());
}

#[test]
fn an_unreachable_redis_is_logged_at_start_naming_the_variable_and_the_page_still_serves() {
    let closed = format!("redis://127.0.0.1:{}/0", free_port());
    let vote = VoteProcess::start(&[("REDIS_URL", &closed)]);

    wait_until("the outage is logged", || {
        vote.logs().iter().any(|line| {
            line["level"] == "ERROR" && line["message"].as_str().unwrap_or("").contains("REDIS_URL")
        })
    });
    assert_eq!(vote.request("GET", "/", ""), 200);
    assert_eq!(vote.request("GET", "/readyz", ""), 200);
    assert_eq!(vote.request("POST", "/", "vote=a"), 503);
}

#[test]
fn a_vote_in_flight_at_sigterm_is_answered_while_readiness_is_503() {
    let redis = OwnRedis::start();
    let mut vote =
        VoteProcess::start(&[("REDIS_URL", &redis.url()), ("SHUTDOWN_DRAIN_SECONDS", "2")]);
    assert_eq!(vote.request("POST", "/", "vote=a"), 303);

    // Redis holds the next vote's RPUSH unanswered until it is thawed.
    redis.signal("-STOP");
    let in_flight = vote.request_in_background("POST", "/", "vote=b");
    std::thread::sleep(REQUEST_UNDER_WAY);
    let signalled = Instant::now();
    vote.signal("-TERM");
    wait_until("readiness turns 503", || {
        vote.request("GET", "/readyz", "") == 503
    });
    redis.signal("-CONT");

    let answered = in_flight.join().expect("the request thread does not panic");
    assert_eq!(answered, 303, "the vote in flight was not recorded");
    let queued = own_queue(&redis, &vote.queue);
    assert_eq!(queued.len(), 2, "{queued:?}");
    assert!(vote.exit_status(signalled).success());
}

#[test]
fn a_frozen_redis_at_sigterm_still_lets_it_exit_0_within_10s_of_the_signal() {
    let redis = OwnRedis::start();
    // The default drain, so that the drain and the votes waiting on Redis add up.
    let mut vote = VoteProcess::start(&[("REDIS_URL", &redis.url())]);
    assert_eq!(vote.request("POST", "/", "vote=a"), 303);

    redis.signal("-STOP");
    let in_flight: Vec<_> = (0..3)
        .map(|_| vote.request_in_background("POST", "/", "vote=b"))
        .collect();
    std::thread::sleep(REQUEST_UNDER_WAY);
    let signalled = Instant::now();
    vote.signal("-TERM");

    let status = vote.exit_status(signalled);
    let stopped_after = signalled.elapsed();
    assert!(status.success(), "exit status {status:?}");
    eprintln!("exited {stopped_after:?} after SIGTERM with Redis frozen");
    for request in in_flight {
        // Each was answered: Redis did not take the vote, and the voter is told so.
        assert_eq!(
            request.join().expect("the request thread does not panic"),
            503
        );
    }
    let logs = vote.log_text();
    assert!(
        !logs.contains(WATCHDOG_MESSAGE),
        "the watchdog had to end it:\n{logs}"
    );
    assert!(
        vote.logs().iter().any(|line| line["message"] == "stopped"),
        "{logs}"
    );
}

#[test]
fn sigterm_during_start_up_ends_it_with_status_0() {
    // The start-up line carries the labels: one larger than a pipe holds keeps the process
    // inside its start-up, writing that line, until the test reads it. (A quarter more: one
    // environment variable may not pass 128 KiB.)
    let label = "x".repeat(PIPE_CAPACITY + PIPE_CAPACITY / 4);
    let queue = unique_queue();
    let _cleanup = QueueCleanup::new(LOCAL_REDIS, &queue);
    let mut child = Command::new(env!("CARGO_BIN_EXE_vote"))
        .env("PORT", free_port().to_string())
        .env("REDIS_URL", LOCAL_REDIS)
        .env("VOTE_QUEUE", &queue)
        .env("LOG_FORMAT", "json")
        .env("OPTION_A", &label)
        .stdout(Stdio::piped())
        .spawn()
        .expect("the vote binary starts");
    let mut stdout = child.stdout.take().expect("stdout is piped");
    // The first byte of that line: the handlers are installed, and the start-up is under way,
    // blocked on the rest of the line.
    stdout
        .read_exact(&mut [0])
        .expect("the start-up line begins");

    let signalled = Instant::now();
    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(kill.success());
    // Let the signal land while the process is still blocked, then let it go on.
    std::thread::sleep(REQUEST_UNDER_WAY);
    let drain = std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));

    let status = loop {
        if let Some(status) = child.try_wait().expect("the child can be waited on") {
            break status;
        }
        if signalled.elapsed() > STOP_LIMIT {
            let _ = child.kill();
            panic!("still running {STOP_LIMIT:?} after SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "exit status {status:?}");
    drain
        .join()
        .expect("the drain thread does not panic")
        .expect("the log is read");
}
