//! The built-in proxy (SPEC §7.4) in front of a real upstream server on loopback (actix-web, run
//! by the test): streaming, settlement on the upstream's answer, failures that charge nothing.

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use futures_util::StreamExt;
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{problem, spawn_app_with, TestApp};

/// What the upstream saw and did.
#[derive(Default)]
struct Seen {
    hits: AtomicUsize,
    stream_finished: AtomicBool,
    headers: Mutex<Vec<HashMap<String, String>>>,
    bodies: Mutex<Vec<String>>,
    /// Each request's method and path as the upstream received them.
    requests: Mutex<Vec<String>>,
}

async fn echo(req: HttpRequest, body: web::Bytes, seen: web::Data<Arc<Seen>>) -> HttpResponse {
    seen.hits.fetch_add(1, Ordering::SeqCst);
    seen.requests.lock().expect("lock").push(format!("{} {}", req.method(), req.uri()));
    let headers: HashMap<String, String> = req
        .headers()
        .iter()
        .map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap_or_default().to_owned()))
        .collect();
    seen.headers.lock().expect("lock").push(headers);
    seen.bodies.lock().expect("lock").push(String::from_utf8_lossy(&body).to_string());
    HttpResponse::Ok()
        .insert_header(("x-upstream", "yes"))
        .insert_header(("keep-alive", "timeout=5"))
        .body("echo")
}

async fn events(seen: web::Data<Arc<Seen>>) -> HttpResponse {
    seen.hits.fetch_add(1, Ordering::SeqCst);
    let seen = seen.get_ref().clone();
    let stream = futures_util::stream::unfold(0, move |n| {
        let seen = seen.clone();
        async move {
            if n == 3 {
                seen.stream_finished.store(true, Ordering::SeqCst);
                return None;
            }
            if n > 0 {
                actix_web::rt::time::sleep(Duration::from_millis(400)).await;
            }
            Some((Ok::<_, std::io::Error>(web::Bytes::from(format!("data: event {n}\n\n"))), n + 1))
        }
    });
    HttpResponse::Ok().content_type("text/event-stream").streaming(stream)
}

async fn fail(seen: web::Data<Arc<Seen>>) -> HttpResponse {
    seen.hits.fetch_add(1, Ordering::SeqCst);
    HttpResponse::ServiceUnavailable().body("the agent crashed")
}

async fn slow(seen: web::Data<Arc<Seen>>) -> HttpResponse {
    seen.hits.fetch_add(1, Ordering::SeqCst);
    actix_web::rt::time::sleep(Duration::from_secs(5)).await;
    HttpResponse::Ok().body("late")
}

/// Starts the upstream on a free port.
fn upstream() -> (String, Arc<Seen>) {
    let seen = Arc::new(Seen::default());
    let listener = TcpListener::bind("127.0.0.1:0").expect("upstream port");
    let port = listener.local_addr().expect("addr").port();
    let data = web::Data::new(seen.clone());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .route("/v1/agents/{id}/run", web::post().to(echo))
            .route("/v1/agents/{id}", web::get().to(echo))
            .route("/public/status", web::get().to(echo))
            .route("/v1/agents/{id}/events", web::post().to(events))
            .route("/v1/agents/{id}/fail", web::post().to(fail))
            .route("/v1/agents/{id}/slow", web::post().to(slow))
            // Anything else is answered and recorded too: where a request lands is the test.
            .default_service(web::to(echo))
    })
    .workers(1)
    .listen(listener)
    .expect("upstream listens")
    .run();
    tokio::spawn(server);
    (format!("http://127.0.0.1:{port}"), seen)
}

const ROUTES: &str = "POST /api/v1/sessions, POST /v1/agents/*/run, POST /v1/agents/*/events, POST /v1/agents/*/fail, POST /v1/agents/*/slow, GET /v1/reports/*=2, POST /v1/uploads";

async fn proxied(upstream_url: &str, extra: &[(&str, &str)]) -> TestApp {
    let mut settings = vec![
        ("TOLLGATE_UPSTREAM_URL", upstream_url),
        ("TOLLGATE_METERED_ROUTES", ROUTES),
        ("TOLLGATE_PROXY_PUBLIC_ROUTES", "/public/**"),
    ];
    settings.extend_from_slice(extra);
    spawn_app_with(&settings).await
}

async fn runs(app: &TestApp, token: &str) -> (u64, u64) {
    let sub = app.subscription(token).await;
    (sub["monthly_agent_runs"].as_u64().expect("used"), sub["reserved_runs"].as_u64().expect("reserved"))
}

#[tokio::test]
async fn a_metered_request_is_forwarded_with_who_pays_and_charged_once() {
    let (url, seen) = upstream();
    let app = proxied(&url, &[]).await;
    let ada = app.register("ada@example.com").await;
    let res = app
        .client
        .post(app.url("/v1/agents/7/run?mode=fast"))
        .bearer_auth(&ada.access)
        .header("connection", "keep-alive, x-hop")
        .header("x-hop", "secret")
        .header("te", "trailers")
        .header("x-tollgate-user-id", "spoofed")
        .header("x-forwarded-for", "203.0.113.9")
        .header("x-forwarded-host", "evil.example")
        .header("forwarded", "for=6.6.6.6")
        .header("x-real-ip", "6.6.6.6")
        .header("cookie", "tollgate_session=refresh-secret; theme=dark; tollgate_csrf=nonce")
        .body("task: summarise")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers().get("x-upstream").unwrap(), "yes");
    assert!(res.headers().get("keep-alive").is_none(), "hop-by-hop headers are not passed back");
    assert_eq!(res.headers().get("ratelimit-limit").unwrap(), "10");
    assert_eq!(res.text().await.unwrap(), "echo");
    assert_eq!(runs(&app, &ada.access).await, (1, 0), "committed: one run used, nothing held");
    let headers = seen.headers.lock().unwrap()[0].clone();
    assert_eq!(headers.get("x-tollgate-user-id"), Some(&ada.id), "the proxy says who the user is");
    assert_eq!(headers.get("x-tollgate-plan").map(String::as_str), Some("free"));
    assert!(headers.contains_key("x-tollgate-consumption-id"));
    // Nobody is trusted by default: the client's own forwarding headers say nothing.
    assert_eq!(headers.get("x-forwarded-for").map(String::as_str), Some("127.0.0.1"));
    assert_eq!(headers.get("x-forwarded-proto").map(String::as_str), Some("http"));
    assert!(headers.get("x-forwarded-host").is_some_and(|h| h.starts_with("127.0.0.1:")), "{headers:?}");
    // Tollgate's own cookies and the token it authenticated stay with Tollgate.
    assert_eq!(headers.get("cookie").map(String::as_str), Some("theme=dark"));
    assert!(!headers.contains_key("authorization"), "the user's Tollgate token reached the upstream");
    for dropped in ["x-hop", "te", "connection", "forwarded", "x-real-ip"] {
        assert!(!headers.contains_key(dropped), "{dropped} reached the upstream");
    }
    assert_eq!(seen.bodies.lock().unwrap()[0], "task: summarise");
}

#[tokio::test]
async fn server_sent_events_reach_the_client_one_by_one() {
    let (url, seen) = upstream();
    let app = proxied(&url, &[]).await;
    let ada = app.register("ada@example.com").await;
    let res = app.client.post(app.url("/v1/agents/7/events")).bearer_auth(&ada.access).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers().get("content-type").unwrap(), "text/event-stream");
    let mut stream = res.bytes_stream();
    let first = stream.next().await.expect("a first event").expect("bytes");
    assert!(String::from_utf8_lossy(&first).contains("event 0"));
    assert!(
        !seen.stream_finished.load(Ordering::SeqCst),
        "the first event arrived before the upstream finished"
    );
    let mut rest = String::new();
    while let Some(chunk) = stream.next().await {
        rest.push_str(&String::from_utf8_lossy(&chunk.expect("bytes")));
    }
    assert!(rest.contains("event 1") && rest.contains("event 2"));
    assert_eq!(runs(&app, &ada.access).await, (1, 0));
}

#[tokio::test]
async fn a_client_that_disconnects_mid_stream_pays_and_leaves_nothing_held() {
    let (url, seen) = upstream();
    let app = proxied(&url, &[]).await;
    let ada = app.register("ada@example.com").await;
    let res = app.client.post(app.url("/v1/agents/7/events")).bearer_auth(&ada.access).send().await.unwrap();
    let mut stream = res.bytes_stream();
    stream.next().await.expect("first event").expect("bytes");
    drop(stream);
    // The upstream answered below 500: the run is charged; nothing stays held; the proxy serves on.
    assert_eq!(runs(&app, &ada.access).await, (1, 0));
    let again = app.client.post(app.url("/v1/agents/7/run")).bearer_auth(&ada.access).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(seen.hits.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn an_upstream_5xx_is_passed_on_and_charges_nothing() {
    let (url, _seen) = upstream();
    let app = proxied(&url, &[]).await;
    let ada = app.register("ada@example.com").await;
    let res = app.client.post(app.url("/v1/agents/7/fail")).bearer_auth(&ada.access).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(res.headers().get("ratelimit-remaining").unwrap(), "10", "the released run is not counted");
    assert_eq!(res.text().await.unwrap(), "the agent crashed");
    assert_eq!(runs(&app, &ada.access).await, (0, 0), "released");
}

#[tokio::test]
async fn an_upstream_that_is_down_is_a_502_and_charges_nothing() {
    let closed = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let app = proxied(&format!("http://127.0.0.1:{closed}"), &[]).await;
    let ada = app.register("ada@example.com").await;
    let res = app.client.post(app.url("/v1/agents/7/run")).bearer_auth(&ada.access).send().await.unwrap();
    problem(res, StatusCode::BAD_GATEWAY, "UPSTREAM_UNAVAILABLE").await;
    assert_eq!(runs(&app, &ada.access).await, (0, 0));
}

#[tokio::test]
async fn a_slow_upstream_is_a_504_and_charges_nothing() {
    let (url, seen) = upstream();
    let app = proxied(&url, &[("TOLLGATE_UPSTREAM_TIMEOUT_SECS", "1")]).await;
    let ada = app.register("ada@example.com").await;
    let res = app.client.post(app.url("/v1/agents/7/slow")).bearer_auth(&ada.access).send().await.unwrap();
    problem(res, StatusCode::GATEWAY_TIMEOUT, "UPSTREAM_TIMEOUT").await;
    assert_eq!(seen.hits.load(Ordering::SeqCst), 1);
    assert_eq!(runs(&app, &ada.access).await, (0, 0));
}

#[tokio::test]
async fn tokens_spent_quotas_and_public_routes_are_honoured_and_own_routes_are_not_proxied() {
    let (url, seen) = upstream();
    let app = proxied(&url, &[]).await;
    let ada = app.register("ada@example.com").await;
    // No token: 401, nothing forwarded; a public route passes without one.
    let res = app.client.post(app.url("/v1/agents/7/run")).send().await.unwrap();
    problem(res, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED").await;
    let res = app.client.get(app.url("/public/status")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    // Unmetered with a token: forwarded, nothing charged.
    let res = app.client.get(app.url("/v1/agents/7")).bearer_auth(&ada.access).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    // Tollgate's own routes are served by Tollgate.
    let plans: Value = app.get("/api/v1/billing/plans", None).await.json().await.unwrap();
    assert!(plans["plans"].is_array());
    assert_eq!(seen.hits.load(Ordering::SeqCst), 2);
    // Spent: 402 before anything reaches the upstream.
    for _ in 0..10 {
        assert_eq!(
            app.client
                .post(app.url("/v1/agents/7/run"))
                .bearer_auth(&ada.access)
                .send()
                .await
                .unwrap()
                .status(),
            StatusCode::OK
        );
    }
    let refused = app.client.post(app.url("/v1/agents/7/run")).bearer_auth(&ada.access).send().await.unwrap();
    problem(refused, StatusCode::PAYMENT_REQUIRED, "SUBSCRIPTION_LIMIT_REACHED").await;
    assert_eq!(seen.hits.load(Ordering::SeqCst), 12);
    assert_eq!(runs(&app, &ada.access).await, (10, 0));
}

/// What reached the upstream: `METHOD /path?query`.
fn requests(seen: &Seen) -> Vec<String> {
    seen.requests.lock().expect("lock").clone()
}

#[tokio::test]
async fn every_spelling_that_would_route_elsewhere_is_refused_before_anything_is_charged_or_forwarded() {
    let (url, seen) = upstream();
    let app = proxied(&url, &[("TOLLGATE_PROXY_ROUTES", "/v1/**, /public/**")]).await;
    let ada = app.register("ada@example.com").await;
    // Spend the quota: any of these reaching the upstream would be work for free.
    for _ in 0..10 {
        let res = app.client.post(app.url("/v1/agents/7/run")).bearer_auth(&ada.access).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
    }
    let hits = seen.hits.load(Ordering::SeqCst);
    let auth = format!("Authorization: Bearer {}", ada.access);
    for (head, with_token) in [
        ("POST /v1/agents/7/run%23 HTTP/1.1", true),
        ("POST /v1/agents/7/run%3F HTTP/1.1", true),
        ("POST /v1/agents/7/run%20 HTTP/1.1", true),
        ("POST /v1/agents/7%5Crun HTTP/1.1", true),
        ("POST /v1/agents/7\\run HTTP/1.1", true),
        ("POST /v1/agents/7/%2e/run HTTP/1.1", true),
        ("POST /v1/agents/x/%2E%2E/7/run HTTP/1.1", true),
        ("POST /v1/agents/x/..;/7/run HTTP/1.1", true),
        ("POST /public/..%5Cv1/agents/7/run HTTP/1.1", false),
        ("GET /v1/..%5C..%5Cinternal/admin HTTP/1.1", true),
        ("GET /v1/a%2Fb HTTP/1.1", true),
        ("GET /v1/a%00b HTTP/1.1", true),
    ] {
        let head = if with_token { format!("{head}\r\n{auth}") } else { head.to_owned() };
        let res = app.raw(&head, b"").await;
        assert_eq!(res.status, 400, "{head}: {res:?}");
        assert!(res.body.contains("INVALID_PATH"), "{head}: {}", res.body);
    }
    assert_eq!(seen.hits.load(Ordering::SeqCst), hits, "nothing reached the upstream: {:?}", requests(&seen));
    assert_eq!(runs(&app, &ada.access).await, (10, 0));
}

#[tokio::test]
async fn the_upstream_receives_exactly_the_path_that_was_metered_below_its_base_path() {
    let (url, seen) = upstream();
    let app = proxied(&format!("{url}/base"), &[("TOLLGATE_METERED_ROUTES", "POST /v1/agents/*/run")]).await;
    let ada = app.register("ada@example.com").await;
    let auth = format!("Authorization: Bearer {}", ada.access);
    for head in [
        "POST /v1/agents/7/r%75n?mode=fast HTTP/1.1",
        "POST /v1//agents/7/run HTTP/1.1",
        "POST /v1/agents/caf%C3%A9/run HTTP/1.1",
        "POST /v1/agents/a%25b/run HTTP/1.1",
    ] {
        let res = app.raw(&format!("{head}\r\n{auth}\r\nContent-Length: 0"), b"").await;
        assert_eq!(res.status, 200, "{head}: {res:?}");
    }
    assert_eq!(
        requests(&seen),
        [
            "POST /base/v1/agents/7/run?mode=fast",
            "POST /base/v1/agents/7/run",
            "POST /base/v1/agents/caf%C3%A9/run",
            "POST /base/v1/agents/a%25b/run",
        ]
    );
    assert_eq!(runs(&app, &ada.access).await, (4, 0), "each was metered as what it reached");
}

#[tokio::test]
async fn head_on_a_metered_get_route_is_charged_as_get() {
    let (url, seen) = upstream();
    let app = proxied(&url, &[]).await;
    let ada = app.register("ada@example.com").await;
    let res = app.client.head(app.url("/v1/reports/7")).bearer_auth(&ada.access).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(requests(&seen), ["HEAD /v1/reports/7"]);
    assert_eq!(runs(&app, &ada.access).await, (2, 0));
}

#[tokio::test]
async fn a_trusted_proxys_forwarding_headers_are_kept_and_the_token_goes_on_only_when_asked() {
    let (url, seen) = upstream();
    let app = proxied(
        &url,
        &[("TOLLGATE_TRUSTED_PROXIES", "127.0.0.0/8"), ("TOLLGATE_PROXY_FORWARD_AUTHORIZATION", "true")],
    )
    .await;
    let ada = app.register("ada@example.com").await;
    let res = app
        .client
        .post(app.url("/v1/agents/7/run"))
        .bearer_auth(&ada.access)
        .header("x-forwarded-for", "203.0.113.9")
        .header("x-forwarded-host", "agents.example.com")
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let headers = seen.headers.lock().unwrap()[0].clone();
    assert_eq!(headers.get("x-forwarded-for").map(String::as_str), Some("203.0.113.9, 127.0.0.1"));
    assert_eq!(headers.get("x-forwarded-host").map(String::as_str), Some("agents.example.com"));
    assert_eq!(headers.get("x-forwarded-proto").map(String::as_str), Some("https"));
    assert_eq!(headers.get("authorization"), Some(&format!("Bearer {}", ada.access)));
}

#[tokio::test]
async fn a_reused_key_is_refused_before_the_upstream_and_a_released_one_charges_anew() {
    let (url, seen) = upstream();
    let app = proxied(&url, &[]).await;
    let ada = app.register("ada@example.com").await;
    let post = |path: &str, key: &str| {
        app.client.post(app.url(path)).bearer_auth(&ada.access).header("idempotency-key", key).send()
    };
    assert_eq!(post("/v1/agents/7/run", "job-1").await.unwrap().status(), StatusCode::OK);
    for _ in 0..3 {
        problem(
            post("/v1/agents/7/run", "job-1").await.unwrap(),
            StatusCode::CONFLICT,
            "IDEMPOTENCY_KEY_REUSED",
        )
        .await;
    }
    assert_eq!(seen.hits.load(Ordering::SeqCst), 1, "a reused key never reaches the upstream");
    assert_eq!(runs(&app, &ada.access).await, (1, 0));
    // The upstream fails: the hold is released, and a retry with the key is a new attempt.
    assert_eq!(post("/v1/agents/7/fail", "job-2").await.unwrap().status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(runs(&app, &ada.access).await, (1, 0));
    assert_eq!(post("/v1/agents/7/run", "job-2").await.unwrap().status(), StatusCode::OK);
    assert_eq!(runs(&app, &ada.access).await, (2, 0), "the retry was charged");
    assert_eq!(seen.hits.load(Ordering::SeqCst), 3);
    // Ten at once with one new key: exactly one is forwarded and charged.
    let calls = (0..10).map(|_| post("/v1/agents/7/run", "job-3"));
    let answers = futures_util::future::join_all(calls).await;
    let statuses: Vec<StatusCode> = answers.into_iter().map(|r| r.unwrap().status()).collect();
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::OK).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::CONFLICT).count(), 9, "{statuses:?}");
    assert_eq!(seen.hits.load(Ordering::SeqCst), 4);
    assert_eq!(runs(&app, &ada.access).await, (3, 0));
}

#[tokio::test]
async fn an_upstream_that_deduplicates_gets_a_reused_key_uncharged() {
    let (url, seen) = upstream();
    let app = proxied(&url, &[("TOLLGATE_UPSTREAM_DEDUPLICATES", "true")]).await;
    let ada = app.register("ada@example.com").await;
    for _ in 0..2 {
        let res = app
            .client
            .post(app.url("/v1/agents/7/run"))
            .bearer_auth(&ada.access)
            .header("idempotency-key", "job-1")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
    }
    assert_eq!(seen.hits.load(Ordering::SeqCst), 2);
    assert_eq!(runs(&app, &ada.access).await, (1, 0));
}

#[tokio::test]
async fn a_long_streaming_upload_lives_under_the_upstream_timeout_not_the_body_deadline() {
    let (url, seen) = upstream();
    let app = proxied(&url, &[("TOLLGATE_BODY_TIMEOUT_SECS", "1")]).await;
    let ada = app.register("ada@example.com").await;
    // Six chunks 0.5 s apart: three seconds, three times the body deadline.
    let chunks = futures_util::stream::unfold(0, |n| async move {
        if n == 6 {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        Some((Ok::<_, std::io::Error>(format!("part {n};")), n + 1))
    });
    let res = app
        .client
        .post(app.url("/v1/uploads"))
        .bearer_auth(&ada.access)
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(seen.bodies.lock().unwrap()[0], "part 0;part 1;part 2;part 3;part 4;part 5;");
    assert_eq!(runs(&app, &ada.access).await, (1, 0), "committed, not released");
}
