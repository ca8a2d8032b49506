//! What the black-box tests share: a vote service started through the production start-up
//! code on a random port, with its own queue name; the rest comes from `test-support`.

use std::time::Duration;

use actix_web::http::StatusCode;
use awc::{Client, ClientResponse, http::header::HeaderMap};
pub use test_support::{LOCAL_REDIS, OwnRedis, PATIENCE, free_port, wait_until};
use test_support::{QueueCleanup, unique_name};
use vote::{configuration::Settings, startup::Application};

pub struct TestApp {
    pub address: String,
    pub port: u16,
    pub queue: String,
    pub redis_url: String,
    pub client: Client,
    /// Deletes the queue when the test ends.
    _cleanup: QueueCleanup,
}

/// A queue name no other test uses.
pub fn unique_queue() -> String {
    unique_name("test:vote")
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
    let port = app.port();
    let address = format!("http://127.0.0.1:{port}");
    // Runs until the test's runtime ends.
    actix_web::rt::spawn(app.run_until_stopped(std::future::pending()));
    TestApp {
        address,
        port,
        _cleanup: QueueCleanup::new(&redis_url, &queue),
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
