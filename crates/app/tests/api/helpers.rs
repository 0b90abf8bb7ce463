//! `spawn_app()`: the real application on port 0 over a fresh store, and a client for it.

use std::collections::HashMap;
use std::sync::Arc;

use reqwest::{Method, Response, StatusCode};
use serde_json::{json, Value};
use tollgate::settings::Settings;
use tollgate::startup::Application;
use tollgate::store::Store;
use tollgate_domain::FixedClock;
use tollgate_store_contract::harness::TestDatabase;

pub const SECRET: &str = "test-secret-test-secret-test-secret-32";

pub struct TestApp {
    pub address: String,
    /// `http://127.0.0.1:<port>` of the metrics listener.
    pub metrics_address: Option<String>,
    pub client: reqwest::Client,
    pub clock: Arc<FixedClock>,
    pub store: Store,
    pub services: tollgate_http::Services,
    /// The store's URL (a replica opens the same).
    pub database_url: String,
    _dir: tempfile::TempDir,
    database: Option<TestDatabase>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(db) = self.database.take() {
            // Dropping needs async I/O; do it on a thread of its own so any runtime state is fine.
            let _ = std::thread::spawn(move || {
                if let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() {
                    rt.block_on(db.drop_now());
                }
            })
            .join();
        }
    }
}

/// The application with the default test settings.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

/// The application with extra settings (environment names). Uses Postgres when
/// `TOLLGATE_TEST_STORE=postgres`, else a fresh SQLite file.
pub async fn spawn_app_with(extra: &[(&str, &str)]) -> TestApp {
    spawn_on(None, extra).await
}

/// Another server on `app`'s store: a second replica.
pub async fn spawn_replica(app: &TestApp) -> TestApp {
    spawn_on(Some(app.database_url.clone()), &[]).await
}

async fn spawn_on(shared: Option<String>, extra: &[(&str, &str)]) -> TestApp {
    // `TEST_LOG=1` shows the application's logs (zero2prod's switch).
    if std::env::var("TEST_LOG").is_ok() {
        tollgate::telemetry::init(tollgate::settings::RunMode::Dev, "info");
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let database = match std::env::var("TOLLGATE_TEST_STORE").as_deref() {
        _ if shared.is_some() => None,
        Ok("postgres") => {
            Some(TestDatabase::create().await.expect("TOLLGATE_TEST_STORE=postgres needs Postgres"))
        }
        _ => None,
    };
    let url = match (&database, shared) {
        (_, Some(url)) => url,
        (Some(db), None) => db.url().to_owned(),
        (None, None) => format!("sqlite://{}/tollgate.db", dir.path().display()),
    };
    let mut env: HashMap<String, String> = HashMap::from([
        ("TOLLGATE_LISTEN".into(), "127.0.0.1:0".into()),
        ("TOLLGATE_METRICS_LISTEN".into(), "127.0.0.1:0".into()),
        ("DATABASE_URL".into(), url.clone()),
        ("JWT_SECRET_KEY".into(), SECRET.into()),
        ("TOLLGATE_AUTH_RATE_PER_MINUTE".into(), "10000".into()),
    ]);
    for (k, v) in extra {
        env.insert((*k).into(), (*v).into());
    }
    let settings = Settings::load_from(dir.path(), Some(env)).expect("settings");
    let clock = Arc::new(FixedClock::new(now_to_micros()));
    let app = Application::build_with(&settings, clock.clone()).await.expect("application");
    let address = format!("http://127.0.0.1:{}", app.port());
    let metrics_address = app.metrics_port().map(|port| format!("http://127.0.0.1:{port}"));
    let store = app.store().clone();
    let services = app.services().clone();
    tokio::spawn(app.run_until_stopped());
    TestApp {
        address,
        metrics_address,
        client: reqwest::Client::new(),
        clock,
        store,
        services,
        database_url: url,
        _dir: dir,
        database,
    }
}

fn now_to_micros() -> time::OffsetDateTime {
    let now = time::OffsetDateTime::now_utc();
    now.replace_nanosecond(now.nanosecond() / 1_000 * 1_000).unwrap_or(now)
}

/// A registered user and their tokens.
pub struct Account {
    pub access: String,
    pub refresh: String,
    pub id: String,
}

impl TestApp {
    /// The Postgres database's name (Postgres runs only).
    pub fn database_name(&self) -> &str {
        self.database.as_ref().map(|db| db.name()).expect("a Postgres test app")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn request(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Response {
        let mut req = self.client.request(method, self.url(path));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        req.send().await.expect("request sent")
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Response {
        self.request(Method::POST, path, token, Some(body)).await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Response {
        self.request(Method::GET, path, token, None).await
    }

    pub async fn register(&self, email: &str) -> Account {
        let res = self
            .post(
                "/api/v1/auth/register",
                None,
                json!({"fullname": "Ada Lovelace", "email": email, "password": "correct horse"}),
            )
            .await;
        assert_eq!(res.status(), StatusCode::CREATED);
        let body: Value = res.json().await.expect("json");
        Account {
            access: body["access_token"].as_str().expect("access").to_owned(),
            refresh: body["refresh_token"].as_str().expect("refresh").to_owned(),
            id: body["user"]["id"].as_str().expect("id").to_owned(),
        }
    }

    pub async fn create_session(&self, token: &str) -> Response {
        self.post("/api/v1/sessions", Some(token), json!({"title": "agent run"})).await
    }

    /// A new service key's secret (`tgk_…`).
    pub async fn service_key(&self, name: &str) -> String {
        self.services
            .keys
            .create(name, &tollgate_usecases::admin::Actor::cli("test"))
            .await
            .expect("service key")
            .secret
    }

    pub async fn subscription(&self, token: &str) -> Value {
        let res = self.get("/api/v1/billing/subscription", Some(token)).await;
        assert_eq!(res.status(), StatusCode::OK);
        res.json().await.expect("json")
    }
}

/// The body of a problem answer, after checking its status, media type and code.
pub async fn problem(res: Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(res.status(), status, "unexpected status");
    let media =
        res.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    assert_eq!(media, "application/problem+json");
    let body: Value = res.json().await.expect("problem json");
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["status"], status.as_u16());
    assert!(body["type"].is_string() && body["title"].is_string() && body["detail"].is_string(), "{body}");
    body
}

/// An answer read off a raw socket.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    /// Header lines, lower-cased names.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

impl TestApp {
    /// Sends `head` (request line and headers, without the final blank line) and `body` exactly
    /// as written, over a socket of its own (no client normalises the path), and reads the answer
    /// until the server closes the connection (`Connection: close` is added).
    pub async fn raw(&self, head: &str, body: &[u8]) -> RawResponse {
        let port = self.address.rsplit(':').next().expect("port").to_owned();
        let request =
            [format!("{head}\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").into_bytes(), body.to_vec()]
                .concat();
        tokio::task::spawn_blocking(move || {
            use std::io::{Read, Write};
            let mut socket = std::net::TcpStream::connect(format!("127.0.0.1:{port}")).expect("connect");
            socket.set_read_timeout(Some(std::time::Duration::from_secs(60))).expect("timeout");
            socket.write_all(&request).expect("request written");
            let mut answer = Vec::new();
            let _ = socket.read_to_end(&mut answer);
            parse_raw(&answer)
        })
        .await
        .expect("raw request")
    }
}

pub fn parse_raw(answer: &[u8]) -> RawResponse {
    let text = String::from_utf8_lossy(answer);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status =
        lines.next().and_then(|l| l.split_whitespace().nth(1)).and_then(|s| s.parse().ok()).unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    RawResponse { status, headers, body: body.to_owned() }
}
