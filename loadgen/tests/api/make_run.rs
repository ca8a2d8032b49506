//! `make run` end to end: scripts/run.sh starts vote, worker and result (the debug build) the
//! way `make run` does, against the real Redis and a fresh PostgreSQL database; the load
//! generator posts votes and waits until the result service shows them; then Ctrl-C (SIGINT
//! to the script) stops all three.

use std::{
    io::{BufRead, BufReader, Read},
    net::TcpStream,
    path::Path,
    process::{Child, Command, ExitStatus, Stdio},
    sync::{Arc, Mutex},
    thread,
    time::{Duration, Instant},
};

use ballot::Tally;
use loadgen::client::ResultClient;

use test_support::{LOCAL_REDIS, free_port};

use crate::helpers::{Database, Queue};

/// The script builds the three programs before it starts them: from cold, on a busy two-core
/// machine, a debug build takes minutes.
const START_PATIENCE: Duration = Duration::from_secs(20 * 60);

/// Every program exits within 10 s of the signal (SPEC section 6); the rest is slack for a busy
/// machine.
const STOP_PATIENCE: Duration = Duration::from_secs(30);

/// How often a condition is checked while waiting for it.
const POLL: Duration = Duration::from_millis(100);

#[test]
fn make_run_serves_votes_end_to_end_and_ctrl_c_stops_everything() {
    let database = Database::create();
    let queue = Queue::new("test:make-run");
    let [vote_port, result_port, worker_port] = [free_port(), free_port(), free_port()];

    let mut run = RunScript::start(&[
        ("BUILD_PROFILE", "debug".to_owned()),
        ("REDIS_URL", LOCAL_REDIS.to_owned()),
        ("DATABASE_URL", database.url()),
        ("VOTE_QUEUE", queue.name.clone()),
        ("VOTE_PORT", vote_port.to_string()),
        ("RESULT_PORT", result_port.to_string()),
        ("WORKER_PORT", worker_port.to_string()),
    ]);
    run.wait_for_output("Ctrl-C stops all three", START_PATIENCE);
    assert!(
        run.output()
            .contains(&format!("vote:   http://localhost:{vote_port}")),
        "{}",
        run.output()
    );

    // 200 votes by 50 voters, 70 % for a: each voter's last vote (votes 150 to 199) counts,
    // and 35 of those are for a.
    let loadgen = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args(["--url", &format!("http://127.0.0.1:{vote_port}")])
        .args(["--votes", "200", "--concurrency", "8", "--split", "0.7"])
        .args(["--voters", "50", "--timeout-secs", "60"])
        .args(["--wait-result", &format!("http://127.0.0.1:{result_port}")])
        .output()
        .expect("the load generator runs");
    let report = String::from_utf8_lossy(&loadgen.stdout);
    assert!(
        loadgen.status.success(),
        "{report}{}\n--- make run's output:\n{}",
        String::from_utf8_lossy(&loadgen.stderr),
        run.output()
    );
    assert!(report.contains("accepted 200 in"), "{report}");
    assert!(
        report.contains("result shows a 35 b 15 (total 50)"),
        "{report}"
    );

    let shown = actix_rt::System::new()
        .block_on(ResultClient::new(&format!("http://127.0.0.1:{result_port}")).tally())
        .expect("the result service answers");
    assert_eq!(shown, Tally { a: 35, b: 15 });
    assert_eq!(database.counts(), Tally { a: 35, b: 15 });

    run.interrupt();
    let status = run.wait_for_exit(STOP_PATIENCE);
    assert!(status.success(), "{status}\n{}", run.output());
    for port in [vote_port, result_port, worker_port] {
        assert!(
            TcpStream::connect(("127.0.0.1", port)).is_err(),
            "something still listens on {port} after Ctrl-C\n{}",
            run.output()
        );
    }
}

#[test]
fn make_run_starts_nothing_and_says_what_to_start_when_redis_or_postgres_is_missing() {
    let closed = free_port();
    let mut run = RunScript::start(&[
        ("REDIS_URL", format!("redis://127.0.0.1:{closed}/0")),
        (
            "DATABASE_URL",
            format!("postgres://postgres:s3cret@127.0.0.1:{closed}/postgres"),
        ),
    ]);

    let status = run.wait_for_exit(STOP_PATIENCE);

    let output = run.output();
    assert_eq!(status.code(), Some(1), "{output}");
    assert!(output.contains("Redis does not answer"), "{output}");
    assert!(output.contains("the address in REDIS_URL"), "{output}");
    assert!(output.contains("PostgreSQL does not answer"), "{output}");
    assert!(output.contains("the address in DATABASE_URL"), "{output}");
    assert!(
        !output.contains("s3cret"),
        "the password is not shown: {output}"
    );
    assert!(
        output.contains("sudo apt-get install redis-server postgresql"),
        "{output}"
    );
    assert!(output.contains("docker compose up -d redis db"), "{output}");
    assert!(
        !output.contains("building"),
        "nothing is built or started: {output}"
    );
}

/// scripts/run.sh as a child process, its output collected as it comes.
struct RunScript {
    child: Child,
    output: Arc<Mutex<String>>,
    readers: Vec<thread::JoinHandle<()>>,
}

impl RunScript {
    fn start(env: &[(&str, String)]) -> RunScript {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/run.sh");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| env!("CARGO").to_owned());
        // A shell cannot trap a signal it was started with ignored, and a command started in the
        // background of a non-interactive shell (as CI may start this test) ignores SIGINT:
        // `env` gives the script SIGINT's default disposition back, as a terminal would.
        let mut child = Command::new("env")
            .args(["--default-signal=INT", "bash"])
            .arg(script)
            .env("CARGO", cargo)
            .envs(env.iter().map(|(name, value)| (name, value)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("bash runs the script");
        let output = Arc::new(Mutex::new(String::new()));
        let stdout = child.stdout.take().expect("stdout is piped");
        let stderr = child.stderr.take().expect("stderr is piped");
        let readers = vec![collect(stdout, &output), collect(stderr, &output)];
        RunScript {
            child,
            output,
            readers,
        }
    }

    fn output(&self) -> String {
        self.output
            .lock()
            .expect("a reader thread never panics holding the lock")
            .clone()
    }

    /// Waits until the output contains `text`; fails if the script exits first.
    fn wait_for_output(&mut self, text: &str, patience: Duration) {
        let deadline = Instant::now() + patience;
        while !self.output().contains(text) {
            if let Some(status) = self.child.try_wait().expect("the child can be polled") {
                panic!(
                    "make run exited ({status}) before {text:?}:\n{}",
                    self.output()
                );
            }
            assert!(
                Instant::now() < deadline,
                "no {text:?} from make run within {patience:?}:\n{}",
                self.output()
            );
            thread::sleep(POLL);
        }
    }

    /// Ctrl-C, as a person at the terminal would press it.
    fn interrupt(&self) {
        signal(&self.child, "-INT");
    }

    fn wait_for_exit(&mut self, patience: Duration) -> ExitStatus {
        let deadline = Instant::now() + patience;
        loop {
            if let Some(status) = self.child.try_wait().expect("the child can be polled") {
                // The readers may still hold the last lines: give them until the deadline to
                // reach the end (a program left running would hold its pipe open forever).
                while !self.readers.iter().all(|reader| reader.is_finished())
                    && Instant::now() < deadline
                {
                    thread::sleep(POLL);
                }
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "make run still runs {patience:?} after it was told to stop:\n{}",
                self.output()
            );
            thread::sleep(POLL);
        }
    }
}

impl Drop for RunScript {
    /// A failed test must not leave the three programs running: SIGTERM makes the script stop
    /// them.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            signal(&self.child, "-TERM");
            let deadline = Instant::now() + STOP_PATIENCE;
            while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
                thread::sleep(POLL);
            }
            let _ = self.child.kill();
        }
    }
}

fn signal(child: &Child, signal: &str) {
    let status = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill {signal} failed");
}

fn collect(
    stream: impl Read + Send + 'static,
    output: &Arc<Mutex<String>>,
) -> thread::JoinHandle<()> {
    let output = Arc::clone(output);
    thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            let mut output = output.lock().expect("no reader panics holding the lock");
            output.push_str(&line);
            output.push('\n');
        }
    })
}
