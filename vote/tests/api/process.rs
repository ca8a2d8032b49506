//! The program as a process: its logs, and SIGTERM (SPEC sections 1 and 6).

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::TcpStream,
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use test_support::QueueCleanup;

use crate::helpers::{LOCAL_REDIS, free_port, unique_queue, wait_until};

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
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("the port is open");
        write!(
            stream,
            "{method} {path} HTTP/1.0\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .expect("the request is sent");
        let mut answer = String::new();
        stream.read_to_string(&mut answer).expect("an answer");
        answer[9..12].parse().expect("a status line")
    }

    fn logs(&self) -> Vec<serde_json::Value> {
        self.logs
            .lock()
            .expect("no reader panics while holding the lock")
            .iter()
            .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}")))
            .collect()
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
    }
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

    vote.signal("-TERM");
    let signalled = Instant::now();

    wait_until("readiness turns 503", || {
        vote.request("GET", "/readyz", "") == 503
    });
    // Still serving while load balancers move away: votes are taken, not failed.
    assert_eq!(vote.request("POST", "/", "vote=a"), 303);
    assert_eq!(vote.request("GET", "/healthz", ""), 200);
    let status = loop {
        if let Some(status) = vote.child.try_wait().expect("the child can be waited on") {
            break status;
        }
        assert!(
            signalled.elapsed() < STOP_LIMIT,
            "still running {STOP_LIMIT:?} after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "exit status {status:?}");
    assert!(vote.logs().iter().any(|line| line["message"] == "stopped"));
}

#[test]
fn sigint_stops_it_too() {
    let mut vote = VoteProcess::start(&[("SHUTDOWN_DRAIN_SECONDS", "0")]);

    vote.signal("-INT");

    let signalled = Instant::now();
    let status = loop {
        if let Some(status) = vote.child.try_wait().unwrap() {
            break status;
        }
        assert!(signalled.elapsed() < STOP_LIMIT);
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success());
}

#[test]
fn logs_are_json_with_the_configuration_once_and_a_line_per_request_without_voter_ids() {
    let vote = VoteProcess::start(&[]);

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
    assert!(vote_line["latency_ms"].as_f64().is_some());
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
