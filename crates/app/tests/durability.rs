//! Durability (SPEC §11): a metered load against the real binary, `kill -9` mid-run, restart on
//! the same store. Every 201 and 200 the clients were told about is in the store, and nothing is
//! counted beyond what they were told about plus the requests in flight at the kill.

// Tests run on real time and make their own ids.
#![allow(clippy::disallowed_methods, reason = "tests run on real time and make their own ids")]
#![allow(clippy::expect_used, reason = "a test fails loudly on what it did not expect")]

use std::collections::HashMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use tollgate_domain::{SessionId, UserId};
use tollgate_store_contract::harness::TestDatabase;

const SECRET: &str = "durability-secret-durability-secret-01";
const CLIENTS: usize = 16;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("a port").local_addr().expect("addr").port()
}

struct Server {
    child: Child,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tollgate(args: &[&str], url: &str, dir: &std::path::Path, port: u16) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tollgate"));
    command
        .args(args)
        .arg("--config-dir")
        .arg(dir)
        .env("DATABASE_URL", url)
        .env("JWT_SECRET_KEY", SECRET)
        .env("TOLLGATE_LISTEN", format!("127.0.0.1:{port}"))
        .env("TOLLGATE_METRICS_LISTEN", "off")
        .env("TOLLGATE_AUTH_RATE_PER_MINUTE", "0")
        .env("RUST_LOG", "warn");
    command
}

async fn start(url: &str, dir: &std::path::Path, port: u16) -> Server {
    // Owned by the guard at once: killed and reaped on every path, a panic included.
    let server = Server {
        child: tollgate(&["serve"], url, dir, port).stdout(Stdio::null()).spawn().expect("server starts"),
    };
    let client = reqwest::Client::new();
    for _ in 0..200 {
        if client.get(format!("http://127.0.0.1:{port}/ready")).send().await.is_ok_and(|r| r.status() == 200)
        {
            return server;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the server did not become ready");
}

/// What the clients were told, and how many requests got no answer.
#[derive(Default)]
struct Told {
    sessions: Vec<String>,
    consumptions: Vec<String>,
}

async fn durable_under_kill(url: &str) {
    let dir = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let server = start(url, dir.path(), port).await;
    let http = reqwest::Client::new();
    let caller = Caller::sign_up(&http, &base, url, dir.path(), port).await;

    let unanswered = Arc::new(AtomicUsize::new(0));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| tokio::spawn(load(c, http.clone(), base.clone(), caller.clone(), unanswered.clone())))
        .collect();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    drop(server); // SIGKILL: no drain, no shutdown.
    let mut told = Told::default();
    for client in clients {
        let t = client.await.expect("client");
        told.sessions.extend(t.sessions);
        told.consumptions.extend(t.consumptions);
    }
    let in_flight = unanswered.load(Ordering::SeqCst);
    assert!(
        told.sessions.len() + told.consumptions.len() > 50,
        "the load ran ({} answers)",
        told.sessions.len()
    );
    assert!(in_flight <= CLIENTS);

    // Restart on the same store: it starts, and holds everything it acknowledged.
    let _again = start(url, dir.path(), port).await;
    assert_kept(url, dir.path(), &caller.user, &told, in_flight).await;
}

/// The user the load runs as: their token, their id, and a service key for the consumptions.
#[derive(Clone)]
struct Caller {
    token: String,
    user: String,
    key: String,
}

impl Caller {
    /// Registers a user on an unlimited plan (so every request is a write) and creates a key.
    async fn sign_up(http: &reqwest::Client, base: &str, url: &str, dir: &Path, port: u16) -> Self {
        let registered: Value = http
            .post(format!("{base}/api/v1/auth/register"))
            .json(
                &json!({"fullname": "Ada Lovelace", "email": "ada@example.com", "password": "correct horse"}),
            )
            .send()
            .await
            .expect("registered")
            .json()
            .await
            .expect("json");
        let token = registered["access_token"].as_str().expect("token").to_owned();
        let user = registered["user"]["id"].as_str().expect("id").to_owned();
        let plan = tollgate(
            &["user", "set-plan", "ada@example.com", "enterprise", "--runs", "unlimited"],
            url,
            dir,
            port,
        )
        .output()
        .expect("set-plan");
        assert!(plan.status.success(), "{}", String::from_utf8_lossy(&plan.stderr));
        let key = tollgate(&["key", "create", "load"], url, dir, port).output().expect("key");
        let key = String::from_utf8_lossy(&key.stdout).trim().to_owned();
        assert!(key.starts_with("tgk_"), "{key}");
        Self { token, user, key }
    }
}

/// One client: sessions and consumptions in turn, each under its own key, until the server dies;
/// what the server acknowledged.
async fn load(
    c: usize,
    http: reqwest::Client,
    base: String,
    caller: Caller,
    unanswered: Arc<AtomicUsize>,
) -> Told {
    let mut told = Told::default();
    for i in 0.. {
        let idempotency = format!("c{c}-{i}");
        let sent = if i % 2 == 0 {
            http.post(format!("{base}/api/v1/sessions"))
                .bearer_auth(&caller.token)
                .header("idempotency-key", &idempotency)
                .send()
                .await
        } else {
            http.post(format!("{base}/api/v1/usage/consume"))
                .bearer_auth(&caller.key)
                .header("idempotency-key", &idempotency)
                .json(&json!({"user_id": caller.user, "runs": 1}))
                .send()
                .await
        };
        let Ok(res) = sent else {
            // The server died with this request in flight: it may or may not have counted.
            unanswered.fetch_add(1, Ordering::SeqCst);
            return told;
        };
        let status = res.status().as_u16();
        let Ok(body) = res.json::<Value>().await else {
            unanswered.fetch_add(1, Ordering::SeqCst);
            return told;
        };
        match (i % 2, status) {
            (0, 201) => told.sessions.push(body["id"].as_str().expect("id").to_owned()),
            (1, 200) => told.consumptions.push(body["consumption_id"].as_str().expect("id").to_owned()),
            _ => panic!("unexpected answer {status}: {body}"),
        }
    }
    told
}

/// Everything acknowledged is in the store after the restart, and no more was counted than was
/// acknowledged or in flight at the kill; the counter agrees with the records.
async fn assert_kept(url: &str, dir: &Path, user: &str, told: &Told, in_flight: usize) {
    let env = HashMap::from([("DATABASE_URL".to_owned(), url.to_owned())]);
    let settings = tollgate::settings::Settings::load_from(dir, Some(env)).expect("settings");
    let store = tollgate::store::Store::open(&settings).await.expect("store");
    let ports = store.ports();
    let user: UserId = user.parse().expect("user id");
    for id in &told.sessions {
        let id: SessionId = id.parse().expect("session id");
        assert!(
            ports.sessions.get(user, id).await.expect("read").is_some(),
            "acknowledged session {id} is lost"
        );
    }
    let records =
        ports.usage.list(tollgate_domain::AccountId::personal(user), 1_000_000).await.expect("records");
    let ids: std::collections::HashSet<String> = records.iter().map(|r| r.id.to_string()).collect();
    for id in &told.consumptions {
        assert!(ids.contains(id), "acknowledged consumption {id} is lost");
    }
    let acknowledged = told.sessions.len() + told.consumptions.len();
    let counted = records.len();
    assert!(
        (acknowledged..=acknowledged + in_flight).contains(&counted),
        "{counted} runs counted; {acknowledged} acknowledged, {in_flight} in flight at the kill"
    );
    let sub = ports
        .subs
        .get_by_account(tollgate_domain::AccountId::personal(user))
        .await
        .expect("read")
        .expect("subscription");
    assert_eq!(sub.runs_used().get() as usize, counted, "the counter and the usage records disagree");
    eprintln!(
        "durability: {acknowledged} acknowledged ({} sessions, {} consumptions), {in_flight} in flight, {counted} counted",
        told.sessions.len(),
        told.consumptions.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_acknowledged_is_lost_when_the_server_is_killed_on_sqlite() {
    let dir = tempfile::tempdir().expect("temp dir");
    durable_under_kill(&format!("sqlite://{}/tollgate.db", dir.path().display())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_acknowledged_is_lost_when_the_server_is_killed_on_postgres() {
    let Some(db) = TestDatabase::create().await else { return };
    durable_under_kill(db.url()).await;
    db.drop_now().await;
}
