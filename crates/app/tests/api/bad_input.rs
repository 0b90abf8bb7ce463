//! SPEC §6 bad input: never a 500, always a problem with a stable code.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{problem, spawn_app};

#[tokio::test]
async fn malformed_json_is_400() {
    let app = spawn_app().await;
    let res = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header("content-type", "application/json")
        .body("{\"email\": ")
        .send()
        .await
        .unwrap();
    problem(res, StatusCode::BAD_REQUEST, "MALFORMED_REQUEST").await;
}

#[tokio::test]
async fn wrong_types_are_422_naming_the_problem() {
    let app = spawn_app().await;
    let res =
        app.post("/api/v1/auth/register", None, json!({"fullname": 5, "email": [], "password": true})).await;
    let body = problem(res, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED").await;
    assert!(!body["errors"].as_array().unwrap().is_empty());
    let res = app.post("/api/v1/auth/login", None, json!("not an object")).await;
    problem(res, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED").await;
    // Trailing data after a complete value is a syntax error to serde: 400, still a problem.
    let res = app.post("/api/v1/auth/login", None, json!(["not", "an", "object"])).await;
    assert!(res.status().is_client_error());
}

#[tokio::test]
async fn a_non_json_body_is_415() {
    let app = spawn_app().await;
    let res = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header("content-type", "text/plain")
        .body("hi")
        .send()
        .await
        .unwrap();
    problem(res, StatusCode::UNSUPPORTED_MEDIA_TYPE, "UNSUPPORTED_MEDIA_TYPE").await;
}

#[tokio::test]
async fn oversized_bodies_are_413() {
    let app = spawn_app().await;
    let huge = json!({"fullname": "A", "email": "a@example.com", "password": "x".repeat(200_000)});
    problem(
        app.post("/api/v1/auth/register", None, huge).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "PAYLOAD_TOO_LARGE",
    )
    .await;
    let webhook = app
        .client
        .post(app.url("/api/v1/billing/webhook"))
        .body(vec![b'a'; 2 * 1024 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(webhook.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn a_session_id_that_is_not_a_uuid_is_404() {
    let app = spawn_app().await;
    let ada = app.register("ada@example.com").await;
    problem(
        app.get("/api/v1/sessions/not-a-uuid", Some(&ada.access)).await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;
    problem(app.get("/api/v1/sessions/%00", Some(&ada.access)).await, StatusCode::NOT_FOUND, "NOT_FOUND")
        .await;
}

#[tokio::test]
async fn an_overlong_title_is_422_and_consumes_nothing() {
    let app = spawn_app().await;
    let ada = app.register("ada@example.com").await;
    let res = app.post("/api/v1/sessions", Some(&ada.access), json!({"title": "x".repeat(201)})).await;
    let body = problem(res, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED").await;
    assert_eq!(body["errors"][0]["field"], "title");
    assert_eq!(app.subscription(&ada.access).await["monthly_agent_runs"], 0);
}
