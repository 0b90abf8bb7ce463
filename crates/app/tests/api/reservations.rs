//! Reservations (SPEC §7.2) over real HTTP: hold, commit, release, expiry, idempotency.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{problem, spawn_app, spawn_replica, Account, TestApp};

async fn reserve(app: &TestApp, key: &str, body: Value, idempotency: Option<&str>) -> reqwest::Response {
    let mut req = app.client.post(app.url("/api/v1/reservations")).bearer_auth(key).json(&body);
    if let Some(k) = idempotency {
        req = req.header("idempotency-key", k);
    }
    req.send().await.expect("sent")
}

async fn settle(app: &TestApp, key: &str, id: &str, action: &str, body: Option<Value>) -> reqwest::Response {
    let mut req = app.client.post(app.url(&format!("/api/v1/reservations/{id}/{action}"))).bearer_auth(key);
    if let Some(body) = body {
        req = req.json(&body);
    }
    req.send().await.expect("sent")
}

async fn quota(app: &TestApp, account: &Account) -> (u64, u64, u64) {
    let sub = app.subscription(&account.access).await;
    let n = |f: &str| sub[f].as_u64().unwrap_or(u64::MAX);
    (n("monthly_agent_runs"), n("reserved_runs"), n("remaining_runs"))
}

#[tokio::test]
async fn a_hold_counts_at_once_and_a_commit_charges_what_the_work_cost() {
    let app = spawn_app().await;
    let ada = app.register("ada@example.com").await;
    let key = app.service_key("agents").await;
    let res = reserve(&app, &key, json!({"user_id": ada.id, "runs": 6, "ttl_seconds": 600}), None).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let held: Value = res.json().await.unwrap();
    assert_eq!((held["status"].as_str(), held["runs"].as_u64()), (Some("held"), Some(6)));
    assert_eq!(held["subscription"]["reserved_runs"], 6);
    assert_eq!(held["subscription"]["remaining_runs"], 4);
    assert_eq!(quota(&app, &ada).await, (0, 6, 4));
    // Held runs count against the quota: 5 more runs (a session, a consume, a hold) do not fit.
    let more = reserve(&app, &key, json!({"user_id": ada.id, "runs": 5}), None).await;
    problem(more, StatusCode::PAYMENT_REQUIRED, "SUBSCRIPTION_LIMIT_REACHED").await;
    let id = held["id"].as_str().unwrap();
    let got: Value = app.get(&format!("/api/v1/reservations/{id}"), Some(&key)).await.json().await.unwrap();
    assert_eq!(got["status"], "held");
    let done = settle(&app, &key, id, "commit", Some(json!({"runs": 2}))).await;
    assert_eq!(done.status(), StatusCode::OK);
    let done: Value = done.json().await.unwrap();
    assert_eq!((done["status"].as_str(), done["runs"].as_u64()), (Some("committed"), Some(2)));
    assert_eq!(quota(&app, &ada).await, (2, 0, 8));
    // A repeat answers the same and charges nothing more; a release is refused.
    let again: Value = settle(&app, &key, id, "commit", None).await.json().await.unwrap();
    assert_eq!(again["runs"], 2);
    problem(settle(&app, &key, id, "release", None).await, StatusCode::CONFLICT, "RESERVATION_COMMITTED")
        .await;
    assert_eq!(quota(&app, &ada).await, (2, 0, 8));
}

#[tokio::test]
async fn a_release_gives_everything_back_and_a_later_commit_is_refused() {
    let app = spawn_app().await;
    let ada = app.register("ada@example.com").await;
    let key = app.service_key("agents").await;
    let held: Value =
        reserve(&app, &key, json!({"user_id": ada.id, "runs": 3}), None).await.json().await.unwrap();
    let id = held["id"].as_str().unwrap();
    for _ in 0..2 {
        let released: Value = settle(&app, &key, id, "release", None).await.json().await.unwrap();
        assert_eq!(released["status"], "released");
    }
    assert_eq!(quota(&app, &ada).await, (0, 0, 10));
    problem(settle(&app, &key, id, "commit", None).await, StatusCode::CONFLICT, "RESERVATION_RELEASED").await;
}

#[tokio::test]
async fn an_expired_hold_counts_for_nothing_and_is_never_committed() {
    let app = spawn_app().await;
    let ada = app.register("ada@example.com").await;
    let key = app.service_key("agents").await;
    let held: Value = reserve(&app, &key, json!({"user_id": ada.id, "runs": 10, "ttl_seconds": 60}), None)
        .await
        .json()
        .await
        .unwrap();
    let id = held["id"].as_str().unwrap().to_owned();
    assert_eq!(quota(&app, &ada).await, (0, 10, 0));
    problem(
        app.create_session(&ada.access).await,
        StatusCode::PAYMENT_REQUIRED,
        "SUBSCRIPTION_LIMIT_REACHED",
    )
    .await;
    app.clock.advance(time::Duration::seconds(61));
    // No answer counts the expired hold: the quota shows it back, a session fits again.
    assert_eq!(quota(&app, &ada).await, (0, 0, 10));
    let got: Value = app.get(&format!("/api/v1/reservations/{id}"), Some(&key)).await.json().await.unwrap();
    assert_eq!(got["status"], "expired");
    problem(settle(&app, &key, &id, "commit", None).await, StatusCode::CONFLICT, "RESERVATION_EXPIRED").await;
    assert_eq!(app.create_session(&ada.access).await.status(), StatusCode::CREATED);
    assert_eq!(quota(&app, &ada).await, (1, 0, 9));
}

#[tokio::test]
async fn the_sweep_expires_holds_of_users_who_never_come_back() {
    let app = spawn_app().await;
    let ada = app.register("ada@example.com").await;
    let key = app.service_key("agents").await;
    reserve(&app, &key, json!({"user_id": ada.id, "runs": 4, "ttl_seconds": 30}), None).await;
    app.clock.advance(time::Duration::seconds(31));
    assert_eq!(app.services.reservations.sweep().await.expect("swept"), 1);
    assert_eq!(app.services.reservations.sweep().await.expect("swept"), 0, "each hold expires once");
    let user: tollgate_domain::UserId = ada.id.parse().unwrap();
    let sub = app
        .store
        .ports()
        .subs
        .get_by_account(tollgate_domain::AccountId::personal(user))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(sub.runs_reserved().get(), 0, "given back by the sweep, not by a read");
}

#[tokio::test]
async fn a_replayed_hold_answers_the_first_and_another_body_is_refused() {
    let app = spawn_app().await;
    let ada = app.register("ada@example.com").await;
    let key = app.service_key("agents").await;
    let body = json!({"user_id": ada.id, "runs": 2});
    let first: Value = reserve(&app, &key, body.clone(), Some("run-7")).await.json().await.unwrap();
    let again = reserve(&app, &key, body, Some("run-7")).await;
    assert_eq!(again.status(), StatusCode::CREATED);
    assert_eq!(again.headers().get("idempotent-replayed").unwrap(), "true");
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["id"], first["id"]);
    let other = reserve(&app, &key, json!({"user_id": ada.id, "runs": 3}), Some("run-7")).await;
    problem(other, StatusCode::UNPROCESSABLE_ENTITY, "IDEMPOTENCY_KEY_MISMATCH").await;
    assert_eq!(quota(&app, &ada).await, (0, 2, 8));
}

#[tokio::test]
async fn bad_reservation_requests_are_refused_and_hold_nothing() {
    let app = spawn_app().await;
    let ada = app.register("ada@example.com").await;
    let key = app.service_key("agents").await;
    for bad in [
        json!({"user_id": ada.id, "ttl_seconds": 0}),
        json!({"user_id": ada.id, "ttl_seconds": 86_401}),
        json!({"user_id": ada.id, "runs": 0}),
    ] {
        problem(reserve(&app, &key, bad, None).await, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED")
            .await;
    }
    problem(
        reserve(&app, &key, json!({"user_id": uuid::Uuid::nil()}), None).await,
        StatusCode::NOT_FOUND,
        "USER_NOT_FOUND",
    )
    .await;
    let held: Value =
        reserve(&app, &key, json!({"user_id": ada.id, "runs": 2}), None).await.json().await.unwrap();
    let id = held["id"].as_str().unwrap();
    let too_many = settle(&app, &key, id, "commit", Some(json!({"runs": 3}))).await;
    problem(too_many, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED").await;
    let nil = uuid::Uuid::nil().to_string();
    for action in ["commit", "release"] {
        problem(settle(&app, &key, &nil, action, None).await, StatusCode::NOT_FOUND, "RESERVATION_NOT_FOUND")
            .await;
    }
    problem(
        app.get("/api/v1/reservations/not-an-id", Some(&key)).await,
        StatusCode::NOT_FOUND,
        "RESERVATION_NOT_FOUND",
    )
    .await;
    // User tokens are refused on reservations.
    problem(
        app.get(&format!("/api/v1/reservations/{id}"), Some(&ada.access)).await,
        StatusCode::UNAUTHORIZED,
        "UNAUTHENTICATED",
    )
    .await;
    assert_eq!(quota(&app, &ada).await, (0, 2, 8));
}

#[tokio::test]
async fn concurrent_holds_never_oversell() {
    let app = spawn_app().await;
    let ada = app.register("ada@example.com").await;
    let key = app.service_key("agents").await;
    let calls = (0..30).map(|_| reserve(&app, &key, json!({"user_id": ada.id, "runs": 1}), None));
    let statuses: Vec<StatusCode> =
        futures_util::future::join_all(calls).await.iter().map(|r| r.status()).collect();
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::CREATED).count(), 10, "{statuses:?}");
    assert_eq!(quota(&app, &ada).await, (0, 10, 0));
}

#[tokio::test]
async fn concurrent_holds_through_two_replicas_never_oversell() {
    let app = spawn_app().await;
    let replica = spawn_replica(&app).await;
    let ada = app.register("ada@example.com").await;
    let key = app.service_key("agents").await;
    let calls = (0..40).map(|i| {
        let server = if i % 2 == 0 { &app } else { &replica };
        reserve(server, &key, json!({"user_id": ada.id, "runs": 1}), None)
    });
    let statuses: Vec<StatusCode> =
        futures_util::future::join_all(calls).await.iter().map(|r| r.status()).collect();
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::CREATED).count(), 10, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::PAYMENT_REQUIRED).count(), 30);
    assert_eq!(quota(&app, &ada).await, (0, 10, 0));
}
