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
}

async fn echo(req: HttpRequest, body: web::Bytes, seen: web::Data<Arc<Seen>>) -> HttpResponse {
    seen.hits.fetch_add(1, Ordering::SeqCst);
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
    })
    .workers(1)
    .listen(listener)
    .expect("upstream listens")
    .run();
    tokio::spawn(server);
    (format!("http://127.0.0.1:{port}"), seen)
}

const ROUTES: &str = "POST /api/v1/sessions, POST /v1/agents/*/run, POST /v1/agents/*/events, POST /v1/agents/*/fail, POST /v1/agents/*/slow";

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
    assert_eq!(headers.get("x-forwarded-for").map(String::as_str), Some("203.0.113.9, 127.0.0.1"));
    assert_eq!(headers.get("x-forwarded-proto").map(String::as_str), Some("http"));
    assert!(headers.get("x-forwarded-host").is_some_and(|h| h.starts_with("127.0.0.1:")));
    for dropped in ["x-hop", "te", "connection"] {
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
