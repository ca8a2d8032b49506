//! What the black-box tests share: a vote service started through the production start-up
//! code on a random port, with its own queue name, and a Redis server a test can stop.

use std::{
    net::TcpListener,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use actix_web::http::StatusCode;
use awc::{Client, ClientResponse, http::header::HeaderMap};
use vote::{settings::Settings, startup::Application};

pub const LOCAL_REDIS: &str = "redis://127.0.0.1:6379/0";

/// Long enough for a slow CI machine, short enough that a hung test fails.
pub const PATIENCE: Duration = Duration::from_secs(15);

pub struct TestApp {
    pub address: String,
    pub queue: String,
    pub redis_url: String,
    pub client: Client,
}

/// A queue name no other test uses.
pub fn unique_queue() -> String {
    format!("test:vote:{}", vote::voter::VoterId::generate().as_str())
}

/// The settings a production start would read, pointed at the local Redis and a fresh queue.
pub fn test_settings() -> Settings {
    let mut settings = Settings::from_env().expect("the defaults are valid settings");
    settings.port = 0;
    settings.redis_url = LOCAL_REDIS.to_owned();
    settings.vote_queue = unique_queue();
    settings.option_a = "Cats".into();
    settings.option_b = "Dogs".into();
    settings.app_version = "1.2.3-test".into();
    settings.shutdown_drain = Duration::ZERO;
    settings
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(test_settings()).await
}

pub async fn spawn_app_with(settings: Settings) -> TestApp {
    let queue = settings.vote_queue.clone();
    let redis_url = settings.redis_url.clone();
    let app = Application::build(settings).await.expect("the app builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    // Runs until the test's runtime ends.
    actix_web::rt::spawn(app.run_until_stopped(std::future::pending()));
    TestApp {
        address,
        queue,
        redis_url,
        // Redirects are part of what is tested, so they are not followed.
        client: Client::builder()
            .disable_redirects()
            .timeout(PATIENCE)
            .finish(),
    }
}

/// A whole answer, read.
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Reply {
    /// The `Set-Cookie` header for `name`, with its flags.
    pub fn set_cookie(&self, name: &str) -> Option<&str> {
        self.headers
            .get_all("set-cookie")
            .filter_map(|value| value.to_str().ok())
            .find(|value| value.starts_with(&format!("{name}=")))
    }

    /// Just the value the response sets for cookie `name`.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.set_cookie(name).map(|header| {
            let pair = header
                .split(';')
                .next()
                .expect("split yields at least one part");
            pair.split_once('=').expect("a cookie pair has '='").1
        })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn get(&self, path: &str, cookies: &[(&str, &str)]) -> Reply {
        let request = with_cookies(self.client.get(self.url(path)), cookies);
        let response = request.send().await.expect("the service answers");
        read(response).await
    }

    /// `POST /` with a body and content type as given.
    pub async fn post(
        &self,
        path: &str,
        content_type: &str,
        body: impl Into<String>,
        cookies: &[(&str, &str)],
    ) -> Reply {
        let request = self
            .client
            .post(self.url(path))
            .insert_header(("Content-Type", content_type));
        let request = with_cookies(request, cookies);
        let response = request
            .send_body(body.into())
            .await
            .expect("the service answers");
        read(response).await
    }

    pub async fn vote_form(&self, vote: &str, cookies: &[(&str, &str)]) -> Reply {
        self.post("/", FORM, format!("vote={vote}"), cookies).await
    }

    pub async fn vote_api(&self, body: &str, cookies: &[(&str, &str)]) -> Reply {
        self.post("/api/vote", JSON, body, cookies).await
    }

    /// The messages in the queue, oldest first, as JSON values.
    pub fn queued(&self) -> Vec<serde_json::Value> {
        let mut redis = redis_connection(&self.redis_url);
        let messages: Vec<String> = redis::cmd("LRANGE")
            .arg(&self.queue)
            .arg(0)
            .arg(-1)
            .query(&mut redis)
            .expect("LRANGE answers");
        messages
            .iter()
            .map(|message| serde_json::from_str(message).expect("every queued message is JSON"))
            .collect()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // Leave nothing behind; a stopped test Redis has nothing to clean.
        if let Ok(client) = redis::Client::open(self.redis_url.as_str())
            && let Ok(mut redis) = client.get_connection_with_timeout(Duration::from_secs(1))
        {
            let _: Result<(), _> = redis::cmd("DEL").arg(&self.queue).query(&mut redis);
        }
    }
}

pub const FORM: &str = "application/x-www-form-urlencoded";
pub const JSON: &str = "application/json";

/// Sends `cookies` as a browser would, in one `Cookie` header.
fn with_cookies(request: awc::ClientRequest, cookies: &[(&str, &str)]) -> awc::ClientRequest {
    if cookies.is_empty() {
        return request;
    }
    let header: Vec<String> = cookies
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect();
    request.insert_header(("Cookie", header.join("; ")))
}

pub async fn read(mut response: ClientResponse) -> Reply {
    let body = response.body().await.expect("the body arrives");
    Reply {
        status: response.status(),
        headers: response.headers().clone(),
        body: String::from_utf8(body.to_vec()).expect("bodies are UTF-8"),
    }
}

pub fn redis_connection(url: &str) -> redis::Connection {
    redis::Client::open(url)
        .expect("a valid Redis URL")
        .get_connection_with_timeout(Duration::from_secs(2))
        .expect("Redis answers")
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("the loopback has free ports")
        .port()
}

/// A Redis server of the test's own, on a free port, that the test may stop and restart.
pub struct OwnRedis {
    pub port: u16,
    process: Option<Child>,
}

impl OwnRedis {
    pub fn start() -> OwnRedis {
        let mut redis = OwnRedis {
            port: free_port(),
            process: None,
        };
        redis.restart();
        redis
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// Starts (again) on the same port, and waits until it answers.
    pub fn restart(&mut self) {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is installed");
        self.process = Some(child);
        wait_until("the test's Redis answers", || {
            redis::Client::open(self.url())
                .ok()
                .and_then(|client| {
                    client
                        .get_connection_with_timeout(Duration::from_millis(200))
                        .ok()
                })
                .is_some()
        });
    }

    /// Kills the server (SIGKILL): every connection drops at once.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.process.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Freezes (SIGSTOP) or thaws (SIGCONT) the server: connected, but not answering.
    pub fn signal(&self, signal: &str) {
        let pid = self.process.as_ref().expect("the server runs").id();
        let status = Command::new("kill")
            .args([signal, &pid.to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        if self.process.is_some() {
            self.signal("-CONT");
        }
        self.stop();
    }
}

/// Polls `condition` until it holds, failing the test after [`PATIENCE`].
pub fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}
