//! SPEC §6: the database goes away mid-load. Requests fail with 503, nothing is half-written,
//! and the service recovers by itself. Postgres only (behind a TCP proxy the test can cut).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

use crate::helpers::{problem, spawn_app_with};

/// Forwards to Postgres while up; when cut, drops every connection and refuses new ones.
struct Proxy {
    port: u16,
    up: Arc<AtomicBool>,
    cut: Arc<Notify>,
}

impl Proxy {
    async fn start(target: &'static str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let port = listener.local_addr().expect("proxy address").port();
        let up = Arc::new(AtomicBool::new(true));
        let cut = Arc::new(Notify::new());
        let (up2, cut2) = (up.clone(), cut.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else { return };
                if !up2.load(Ordering::SeqCst) {
                    continue; // dropped: the connection is refused
                }
                let cut = cut2.clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(target).await else { return };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = cut.notified() => {}
                    }
                });
            }
        });
        Self { port, up, cut }
    }

    fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        self.cut.notify_waiters();
    }

    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

#[tokio::test]
async fn a_database_outage_gives_503s_writes_nothing_half_and_recovers() {
    if std::env::var("TOLLGATE_TEST_STORE").as_deref() != Ok("postgres") {
        eprintln!("SKIPPED here: runs in the Postgres pass of the API suite");
        return;
    }
    let proxy = Proxy::start("127.0.0.1:5432").await;
    let app = spawn_app_with(&[("TOLLGATE_DB_ACQUIRE_TIMEOUT_SECS", "1")]).await;
    // Point a second app at the same database through the proxy.
    let db_name = app.database_name().to_owned();
    let via_proxy = format!("postgres://postgres@127.0.0.1:{}/{db_name}", proxy.port);
    let app2 =
        spawn_app_with(&[("DATABASE_URL", via_proxy.as_str()), ("TOLLGATE_DB_ACQUIRE_TIMEOUT_SECS", "1")])
            .await;
    let ada = app2.register("ada@example.com").await;
    let mut statuses = Vec::new();
    for i in 0..30 {
        if i == 10 {
            proxy.cut();
        }
        if i == 20 {
            // An outage lasts a while: connections idle longer than a second are re-checked.
            tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
            proxy.restore();
        }
        let res = app2.create_session(&ada.access).await;
        if (10..20).contains(&i) {
            let res_status = res.status();
            let body = problem(res, StatusCode::SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE").await;
            assert!(!body["detail"].as_str().unwrap().contains("postgres"), "no internals: {body}");
            statuses.push(res_status);
        } else {
            statuses.push(res.status());
        }
    }
    // Ready reflects the outage too.
    proxy.cut();
    assert_eq!(app2.get("/ready", None).await.status(), StatusCode::SERVICE_UNAVAILABLE);
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    proxy.restore();
    // Recovered: the very first requests after the database is back succeed.
    assert_eq!(app2.get("/ready", None).await.status(), StatusCode::OK);
    assert_eq!(app2.subscription(&ada.access).await["plan"], "free");
    let created = statuses.iter().filter(|s| **s == StatusCode::CREATED).count();
    let refused = statuses.iter().filter(|s| **s == StatusCode::PAYMENT_REQUIRED).count();
    let unavailable = statuses.iter().filter(|s| **s == StatusCode::SERVICE_UNAVAILABLE).count();
    assert_eq!((unavailable, created + refused), (10, 20), "{statuses:?}");
    assert_eq!(created, 10, "the free plan's 10 runs, all after or before the outage: {statuses:?}");
    // Nothing half-written: every counted run has its session, read through the direct app.
    let sub = app.subscription(&ada.access).await;
    let page: Value = app.get("/api/v1/sessions?limit=100", Some(&ada.access)).await.json().await.unwrap();
    assert_eq!(sub["monthly_agent_runs"], 10);
    assert_eq!(page["total"], 10);
}
