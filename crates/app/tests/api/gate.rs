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

/// An upstream that answers 200 and remembers each request's path and `X-Tollgate-*` headers; a
/// path ending in `/events` streams five server-sent events 0.4 s apart (the moment the last one
/// was written is kept).
#[derive(Clone, Default)]
struct Upstream {
    seen: Arc<Mutex<Vec<HashMap<String, String>>>>,
    last_event_sent: Arc<Mutex<Option<std::time::Instant>>>,
}

impl Upstream {
    fn start(&self) -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").expect("upstream");
        let port = listener.local_addr().expect("addr").port();
        let this = self.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let this = this.clone();
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
                    let target = head
                        .lines()
                        .next()
                        .and_then(|l| l.split_whitespace().nth(1))
                        .unwrap_or("")
                        .to_owned();
                    let mut headers: HashMap<String, String> = head
                        .lines()
                        .skip(1)
                        .filter_map(|l| l.split_once(':'))
                        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
                        .filter(|(n, _)| n.starts_with("x-tollgate") || n.starts_with("ratelimit"))
                        .collect();
                    // Read the body (by its length) before answering, as a real upstream does.
                    let length: usize = head
                        .lines()
                        .filter_map(|l| l.split_once(':'))
                        .find(|(n, _)| n.trim().eq_ignore_ascii_case("content-length"))
                        .and_then(|(_, v)| v.trim().parse().ok())
                        .unwrap_or(0);
                    let start = buf.windows(4).position(|w| w == b"\r\n\r\n").map_or(buf.len(), |p| p + 4);
                    let mut body = buf.len() - start;
                    while body < length {
                        match stream.read(&mut chunk) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => body += n,
                        }
                    }
                    headers.insert(":path".into(), target.clone());
                    this.seen.lock().expect("lock").push(headers);
                    if target.ends_with("/events") {
                        let _ = stream.write_all(
                            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n",
                        );
                        for n in 0..5 {
                            if n > 0 {
                                std::thread::sleep(std::time::Duration::from_millis(400));
                            }
                            let _ = stream.write_all(format!("data: event {n}\n\n").as_bytes());
                            let _ = stream.flush();
                        }
                        *this.last_event_sent.lock().expect("lock") = Some(std::time::Instant::now());
                        return;
                    }
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

    fn hits(&self) -> usize {
        self.seen.lock().expect("lock").len()
    }
}

/// nginx in the foreground, stopped with the test (its folder removed after).
struct Nginx {
    child: Child,
    _dir: tempfile::TempDir,
}

impl Nginx {
    /// The worker processes this nginx's master started.
    fn workers(&self) -> Vec<u32> {
        children_of(self.child.id())
    }
}

/// The processes whose parent is `pid` (from `/proc`).
fn children_of(pid: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|child| {
            let stat = std::fs::read_to_string(format!("/proc/{child}/stat")).unwrap_or_default();
            // `pid (comm) state ppid …`: the parent is the second field after the command.
            let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
            after.split_whitespace().nth(1).and_then(|p| p.parse::<u32>().ok()) == Some(pid)
        })
        .collect()
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|stat| stat.rsplit_once(')').is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z')))
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGQUIT: the master stops its workers, waits for them, then exits (SIGKILL of the
        // master alone would leave the workers running, holding every inherited descriptor).
        let _ = Command::new("kill").args(["-QUIT", &self.child.id().to_string()]).status();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::time::Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
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

const ROUTES: &str =
    "POST /api/v1/sessions, POST /v1/agents/*/run, POST /v1/agents/*/deep=3, GET /v1/reports/*=2, POST /v1/agents/*/events";

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
        StatusCode::BAD_REQUEST,
        "INVALID_PATH",
    )
    .await;
    // A forwarded Idempotency-Key that already paid: refused, so the upstream never runs twice.
    for attempt in 0..2 {
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
        if attempt == 0 {
            assert_eq!(res.status(), StatusCode::OK);
        } else {
            problem(res, StatusCode::CONFLICT, "IDEMPOTENCY_KEY_REUSED").await;
        }
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

#[tokio::test]
async fn the_gate_reads_only_the_configured_header_pair() {
    let app = spawn_app_with(&[("TOLLGATE_METERED_ROUTES", ROUTES)]).await;
    let ada = app.register("ada@example.com").await;
    // The client adds the other pair, naming an unmetered request: it is ignored.
    let res = app
        .client
        .get(app.url("/api/v1/gate"))
        .header("x-forwarded-method", "POST")
        .header("x-forwarded-uri", "/v1/agents/1/run")
        .header("x-original-method", "GET")
        .header("x-original-uri", "/")
        .bearer_auth(&ada.access)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers().get("x-tollgate-consumption-id").is_some(), "the forwarded pair was metered");
    assert_eq!(runs_used(&app, &ada.access).await, 1);
    // Only the other pair: missing.
    let res = app
        .client
        .get(app.url("/api/v1/gate"))
        .header("x-original-method", "POST")
        .header("x-original-uri", "/v1/agents/1/run")
        .bearer_auth(&ada.access)
        .send()
        .await
        .unwrap();
    problem(res, StatusCode::BAD_REQUEST, "FORWARD_HEADERS_MISSING").await;
    // `original`: the other way round.
    let nginx_style =
        spawn_app_with(&[("TOLLGATE_METERED_ROUTES", ROUTES), ("TOLLGATE_GATE_HEADERS", "original")]).await;
    let bob = nginx_style.register("bob@example.com").await;
    let res = nginx_style
        .client
        .get(nginx_style.url("/api/v1/gate"))
        .header("x-original-method", "POST")
        .header("x-original-uri", "/v1/agents/1/run")
        .header("x-forwarded-method", "GET")
        .header("x-forwarded-uri", "/")
        .bearer_auth(&bob.access)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(runs_used(&nginx_style, &bob.access).await, 1);
}

#[tokio::test]
async fn the_gate_meters_head_as_get_and_refuses_spellings_that_route_elsewhere() {
    let app = spawn_app_with(&[("TOLLGATE_METERED_ROUTES", ROUTES)]).await;
    let ada = app.register("ada@example.com").await;
    let ask = |method: &str, uri: &str| {
        app.client
            .get(app.url("/api/v1/gate"))
            .header("x-forwarded-method", method)
            .header("x-forwarded-uri", uri)
            .bearer_auth(&ada.access)
            .send()
    };
    assert_eq!(ask("HEAD", "/v1/reports/7").await.unwrap().status(), StatusCode::OK);
    assert_eq!(runs_used(&app, &ada.access).await, 2, "HEAD costs what GET costs");
    for uri in [
        "/v1/agents/7/run%23",
        "/v1/agents/7/run%3F",
        "/v1/agents/7/run%20",
        "/v1/agents/7%5Crun",
        "/v1/agents/7\\run",
        "/public/..%5Cv1/agents/7/run",
        "/v1/agents/7/./run",
        "/v1/agents/x/../7/run",
    ] {
        problem(ask("POST", uri).await.unwrap(), StatusCode::BAD_REQUEST, "INVALID_PATH").await;
    }
    assert_eq!(runs_used(&app, &ada.access).await, 2, "refusals charge nothing");
}

#[tokio::test]
async fn through_nginx_events_stream_reused_keys_are_refused_and_no_worker_outlives_the_test() {
    let app = spawn_app_with(&[("TOLLGATE_METERED_ROUTES", ROUTES)]).await;
    let upstream = Upstream::default();
    let Some((nginx, url)) = nginx_in_front(&app, &upstream).await else { return };
    let ada = app.register("ada@example.com").await;
    // Server-sent events pass through one by one: the first arrives before the last is sent.
    let res =
        app.client.post(format!("{url}/v1/agents/7/events")).bearer_auth(&ada.access).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let mut stream = res.bytes_stream();
    let first = futures_util::StreamExt::next(&mut stream).await.expect("a first event").expect("bytes");
    let first_at = std::time::Instant::now();
    assert!(String::from_utf8_lossy(&first).contains("event 0"));
    while futures_util::StreamExt::next(&mut stream).await.is_some() {}
    let last_sent = upstream.last_event_sent.lock().expect("lock").expect("the last event was sent");
    assert!(first_at < last_sent, "nginx buffered the stream: the first event came after the last was sent");
    assert_eq!(runs_used(&app, &ada.access).await, 1);
    // A reused key: refused before the upstream (409 through nginx), nothing charged.
    let send = |key: &str| {
        app.client
            .post(format!("{url}/v1/agents/7/run"))
            .bearer_auth(&ada.access)
            .header("idempotency-key", key)
            .send()
    };
    assert_eq!(send("job-1").await.unwrap().status(), StatusCode::OK);
    let hits = upstream.hits();
    problem(send("job-1").await.unwrap(), StatusCode::CONFLICT, "IDEMPOTENCY_KEY_REUSED").await;
    assert_eq!(upstream.hits(), hits, "the reused key never reached the upstream");
    assert_eq!(runs_used(&app, &ada.access).await, 2);
    // A body over nginx's default 1 MiB passes (the documented limit is 32 MiB).
    let big = vec![b'x'; 2 * 1024 * 1024];
    let res = app
        .client
        .post(format!("{url}/v1/agents/7/run"))
        .bearer_auth(&ada.access)
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    // Stopping nginx stops its workers too.
    let workers = nginx.workers();
    assert!(!workers.is_empty(), "nginx runs a worker");
    drop(nginx);
    for worker in workers {
        assert!(!alive(worker), "nginx worker {worker} outlived the test");
    }
}

/// Caddy (Debian's package) in the foreground with the Caddyfile of docs/integration.md.
struct Caddy {
    child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for Caddy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn caddy_in_front(app: &TestApp, upstream: &Upstream) -> Option<(Caddy, String)> {
    let Some(binary) =
        ["/usr/bin/caddy", "/usr/local/bin/caddy"].into_iter().find(|p| std::path::Path::new(p).exists())
    else {
        assert!(!in_ci(), "caddy is not installed (scripts/test.sh installs it)");
        eprintln!("SKIPPED: caddy is not installed; scripts/test.sh installs it");
        return None;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    let tollgate: u16 = app.address.rsplit(':').next().and_then(|p| p.parse().ok()).expect("port");
    let config = include_str!("../../../../docs/caddy-gate.Caddyfile")
        .replace("127.0.0.1:8080", &format!("127.0.0.1:{tollgate}"))
        .replace("127.0.0.1:9000", &format!("127.0.0.1:{}", upstream.start()))
        .replace(":80 {", &format!("http://127.0.0.1:{port} {{"));
    let file = dir.path().join("Caddyfile");
    std::fs::write(&file, config).expect("Caddyfile");
    let child = Command::new(binary)
        .args(["run", "--adapter", "caddyfile", "--config", &file.display().to_string()])
        .env("HOME", dir.path())
        .env("XDG_DATA_HOME", dir.path())
        .env("XDG_CONFIG_HOME", dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("caddy starts");
    let caddy = Caddy { child, _dir: dir };
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Some((caddy, format!("http://127.0.0.1:{port}")));
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("caddy did not start");
}

#[tokio::test]
async fn behind_caddy_the_client_cannot_choose_what_is_metered_and_reused_keys_are_refused() {
    let app = spawn_app_with(&[("TOLLGATE_METERED_ROUTES", ROUTES)]).await;
    let upstream = Upstream::default();
    let Some((_caddy, url)) = caddy_in_front(&app, &upstream).await else { return };
    let ada = app.register("ada@example.com").await;
    let post = |path: &str| app.client.post(format!("{url}{path}")).bearer_auth(&ada.access);
    // Metered through Caddy, charged once.
    assert_eq!(post("/v1/agents/7/run").send().await.unwrap().status(), StatusCode::OK);
    assert_eq!(runs_used(&app, &ada.access).await, 1);
    // Spend the rest, then try to pass as an unmetered request with the other header pair.
    for _ in 0..9 {
        assert_eq!(post("/v1/agents/7/run").send().await.unwrap().status(), StatusCode::OK);
    }
    let hits = upstream.hits();
    let spoofed = post("/v1/agents/7/run")
        .header("x-original-method", "GET")
        .header("x-original-uri", "/")
        .send()
        .await
        .unwrap();
    problem(spoofed, StatusCode::PAYMENT_REQUIRED, "SUBSCRIPTION_LIMIT_REACHED").await;
    assert_eq!(upstream.hits(), hits, "nothing reached the upstream past the spent quota");
    assert_eq!(runs_used(&app, &ada.access).await, 10);
    // A reused key is refused before the upstream (a new user with runs left).
    let bob = app.register("bob@example.com").await;
    let keyed = || {
        app.client
            .post(format!("{url}/v1/agents/7/run"))
            .bearer_auth(&bob.access)
            .header("idempotency-key", "job-1")
            .send()
    };
    assert_eq!(keyed().await.unwrap().status(), StatusCode::OK);
    let hits = upstream.hits();
    problem(keyed().await.unwrap(), StatusCode::CONFLICT, "IDEMPOTENCY_KEY_REUSED").await;
    assert_eq!(upstream.hits(), hits);
    assert_eq!(runs_used(&app, &bob.access).await, 1);
    // HEAD on a metered GET route is charged as GET.
    let res = app.client.head(format!("{url}/v1/reports/1")).bearer_auth(&bob.access).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(runs_used(&app, &bob.access).await, 3);
}
