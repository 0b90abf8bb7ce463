//! The forward-auth gate (SPEC §7.3) behind a real nginx (Debian's package, `auth_request`),
//! started on free ports with the configuration `docs/integration.md` gives, in front of a small
//! upstream this test runs.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{problem, spawn_app_with, TestApp};

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("port").local_addr().expect("addr").port()
}

/// An upstream that answers 200 and remembers the `X-Tollgate-*` headers of each request.
#[derive(Clone, Default)]
struct Upstream {
    seen: Arc<Mutex<Vec<HashMap<String, String>>>>,
}

impl Upstream {
    fn start(&self) -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").expect("upstream");
        let port = listener.local_addr().expect("addr").port();
        let seen = self.seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let seen = seen.clone();
                std::thread::spawn(move || {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                        match stream.read(&mut chunk) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let head = String::from_utf8_lossy(&buf).to_string();
                    let headers = head
                        .lines()
                        .skip(1)
                        .filter_map(|l| l.split_once(':'))
                        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
                        .filter(|(n, _)| n.starts_with("x-tollgate") || n.starts_with("ratelimit"))
                        .collect();
                    seen.lock().expect("lock").push(headers);
                    let _ = stream.write_all(
                        b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\nConnection: close\r\n\r\nupstream",
                    );
                });
            }
        });
        port
    }

    fn hits_for(&self, user: &str) -> Vec<HashMap<String, String>> {
        let seen = self.seen.lock().expect("lock");
        seen.iter()
            .filter(|h| h.get("x-tollgate-user-id").map(String::as_str) == Some(user))
            .cloned()
            .collect()
    }
}

/// nginx in the foreground, stopped with the test (its folder removed after).
struct Nginx {
    child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The nginx configuration of docs/integration.md, on these ports.
fn nginx_config(dir: &std::path::Path, port: u16, tollgate: u16, upstream: u16) -> String {
    let d = dir.display();
    let template = include_str!("../../../../docs/nginx-gate.conf");
    let http = template
        .replace("127.0.0.1:8080", &format!("127.0.0.1:{tollgate}"))
        .replace("127.0.0.1:9000", &format!("127.0.0.1:{upstream}"))
        .replace("listen 80;", &format!("listen 127.0.0.1:{port};"));
    format!(
        "daemon off;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;\n\
         events {{ worker_connections 512; }}\n\
         http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n\
         fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n{http}\n}}\n"
    )
}

async fn nginx_in_front(app: &TestApp, upstream: &Upstream) -> Option<(Nginx, String)> {
    let binary = ["/usr/sbin/nginx", "/usr/bin/nginx"].into_iter().find(|p| std::path::Path::new(p).exists());
    let Some(binary) = binary else {
        assert!(!in_ci(), "nginx is not installed (scripts/test.sh installs it)");
        eprintln!("SKIPPED: nginx is not installed; scripts/test.sh installs it");
        return None;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    let tollgate: u16 = app.address.rsplit(':').next().and_then(|p| p.parse().ok()).expect("port");
    let config = dir.path().join("nginx.conf");
    std::fs::write(&config, nginx_config(dir.path(), port, tollgate, upstream.start())).expect("config");
    let mut child = Command::new(binary)
        .args([
            "-c",
            &config.display().to_string(),
            "-e",
            &dir.path().join("error.log").display().to_string(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("nginx starts");
    let url = format!("http://127.0.0.1:{port}");
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Some((Nginx { child, _dir: dir }, url));
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!(
        "nginx did not start: {}",
        std::fs::read_to_string(dir.path().join("error.log")).unwrap_or_default()
    );
}

const ROUTES: &str = "POST /api/v1/sessions, POST /v1/agents/*/run, POST /v1/agents/*/deep=3";

async fn runs_used(app: &TestApp, token: &str) -> u64 {
    app.subscription(token).await["monthly_agent_runs"].as_u64().expect("runs")
}

#[tokio::test]
async fn through_nginx_metered_routes_are_charged_once_and_others_pass_after_authentication() {
    let app = spawn_app_with(&[("TOLLGATE_METERED_ROUTES", ROUTES)]).await;
    let upstream = Upstream::default();
    let Some((_nginx, url)) = nginx_in_front(&app, &upstream).await else { return };
    let ada = app.register("ada@example.com").await;
    let send = |method: reqwest::Method, path: &str, token: Option<&str>| {
        let mut req = app.client.request(method, format!("{url}{path}"));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        req.send()
    };
    // Unmetered: passes after authentication, nothing charged, the upstream learns the user.
    let res = send(reqwest::Method::GET, "/v1/agents/7", Some(&ada.access)).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.text().await.unwrap(), "upstream");
    assert_eq!(runs_used(&app, &ada.access).await, 0);
    // No token: 401 problem+json from nginx, nothing reaches the upstream.
    let res = send(reqwest::Method::POST, "/v1/agents/7/run", None).await.unwrap();
    problem(res, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED").await;
    // Metered: charged the route's cost once per request, whatever the spelling.
    for path in ["/v1/agents/7/run", "/v1/agents/7/%72un", "/v1//agents/./7/run"] {
        let before = runs_used(&app, &ada.access).await;
        let res = send(reqwest::Method::POST, path, Some(&ada.access)).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        assert_eq!(runs_used(&app, &ada.access).await, before + 1, "{path}");
    }
    let res = send(reqwest::Method::POST, "/v1/agents/7/deep", Some(&ada.access)).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(runs_used(&app, &ada.access).await, 6);
    let hits = upstream.hits_for(&ada.id);
    assert_eq!(hits.len(), 5, "one unmetered and four metered requests reached the upstream");
    let metered: Vec<_> = hits.iter().filter(|h| h.contains_key("x-tollgate-consumption-id")).collect();
    assert_eq!(metered.len(), 4);
    assert!(metered.iter().all(|h| h.get("x-tollgate-plan").map(String::as_str) == Some("free")));
}

#[tokio::test]
async fn through_nginx_a_refusal_is_a_402_problem_and_forty_concurrent_requests_let_exactly_ten_through() {
    let app = spawn_app_with(&[("TOLLGATE_METERED_ROUTES", ROUTES)]).await;
    let upstream = Upstream::default();
    let Some((_nginx, url)) = nginx_in_front(&app, &upstream).await else { return };
    let ada = app.register("ada@example.com").await;
    let calls =
        (0..40).map(|_| app.client.post(format!("{url}/v1/agents/7/run")).bearer_auth(&ada.access).send());
    let answers: Vec<reqwest::Response> =
        futures_util::future::join_all(calls).await.into_iter().map(|r| r.expect("answer")).collect();
    let statuses: Vec<StatusCode> = answers.iter().map(|r| r.status()).collect();
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::OK).count(), 10, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::PAYMENT_REQUIRED).count(), 30, "{statuses:?}");
    assert_eq!(upstream.hits_for(&ada.id).len(), 10, "exactly the paid requests reached the upstream");
    assert_eq!(runs_used(&app, &ada.access).await, 10);
    let refused =
        answers.into_iter().find(|r| r.status() == StatusCode::PAYMENT_REQUIRED).expect("a refusal");
    let body: Value = problem(refused, StatusCode::PAYMENT_REQUIRED, "SUBSCRIPTION_LIMIT_REACHED").await;
    assert_eq!(body["subscription"]["monthly_agent_runs_limit"], 10);
}

#[tokio::test]
async fn the_gate_answers_traefik_and_caddy_directly() {
    let app = spawn_app_with(&[("TOLLGATE_METERED_ROUTES", ROUTES)]).await;
    let ada = app.register("ada@example.com").await;
    let ask = |method: &str, uri: &str, token: Option<&str>| {
        let mut req = app
            .client
            .get(app.url("/api/v1/gate"))
            .header("x-forwarded-method", method)
            .header("x-forwarded-uri", uri);
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        req.send()
    };
    let ok = ask("POST", "/v1/agents/1/run?stream=1", Some(&ada.access)).await.unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    assert_eq!(ok.headers().get("x-tollgate-user-id").unwrap(), ada.id.as_str());
    assert_eq!(ok.headers().get("x-tollgate-plan").unwrap(), "free");
    assert!(ok.headers().get("x-tollgate-consumption-id").is_some());
    assert_eq!(ok.headers().get("ratelimit-remaining").unwrap(), "9");
    let pass = ask("GET", "/v1/agents/1", Some(&ada.access)).await.unwrap();
    assert_eq!(pass.status(), StatusCode::OK);
    assert!(pass.headers().get("x-tollgate-consumption-id").is_none());
    problem(
        ask("POST", "/v1/agents/1/run", None).await.unwrap(),
        StatusCode::UNAUTHORIZED,
        "UNAUTHENTICATED",
    )
    .await;
    let missing = app.client.get(app.url("/api/v1/gate")).bearer_auth(&ada.access).send().await.unwrap();
    problem(missing, StatusCode::BAD_REQUEST, "FORWARD_HEADERS_MISSING").await;
    problem(
        ask("POST", "/../etc", Some(&ada.access)).await.unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "VALIDATION_FAILED",
    )
    .await;
    // A forwarded Idempotency-Key: a retry is answered and consumes nothing.
    for _ in 0..2 {
        let res = app
            .client
            .post(app.url("/api/v1/gate"))
            .header("x-forwarded-method", "POST")
            .header("x-forwarded-uri", "/v1/agents/1/deep")
            .header("idempotency-key", "deep-1")
            .bearer_auth(&ada.access)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
    }
    assert_eq!(runs_used(&app, &ada.access).await, 4);
    // Spent: 402 problem with RateLimit-* for Traefik and Caddy.
    for _ in 0..2 {
        ask("POST", "/v1/agents/1/deep", Some(&ada.access)).await.unwrap();
    }
    let refused = ask("POST", "/v1/agents/1/deep", Some(&ada.access)).await.unwrap();
    assert!(refused.headers().get("ratelimit-limit").is_some());
    problem(refused, StatusCode::PAYMENT_REQUIRED, "SUBSCRIPTION_LIMIT_REACHED").await;
}
