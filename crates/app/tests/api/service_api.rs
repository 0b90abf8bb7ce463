//! The service API (SPEC §7.2) over real HTTP: service keys, check, consume, refund.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{problem, spawn_app, spawn_replica, TestApp};

async fn call(app: &TestApp, path: &str, key: &str, body: Value) -> reqwest::Response {
    app.post(path, Some(key), body).await
}

async fn consume(app: &TestApp, key: &str, body: Value, idempotency: Option<&str>) -> reqwest::Response {
    let mut req = app.client.post(app.url("/api/v1/usage/consume")).bearer_auth(key).json(&body);
    if let Some(k) = idempotency {
        req = req.header("idempotency-key", k);
    }
    req.send().await.expect("sent")
}

#[tokio::test]
async fn keys_and_user_tokens_never_work_on_each_others_endpoints() {
    let app = spawn_app().await;
    let ada = app.register("ada@example.com").await;
    let key = app.service_key("agents").await;
    assert!(key.starts_with("tgk_") && key.len() >= 4 + 43, "{key}");
    // A user token on the service API.
    let res = call(&app, "/api/v1/usage/check", &ada.access, json!({"user_id": ada.id})).await;
    problem(res, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED").await;
    // A service key on a user endpoint.
    problem(
        app.get("/api/v1/billing/subscription", Some(&key)).await,
        StatusCode::UNAUTHORIZED,
        "UNAUTHENTICATED",
    )
    .await;
    problem(app.create_session(&key).await, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED").await;
    // Forged and missing keys.
    for bad in ["tgk_forged", "", "Basic abc"] {
        let res = call(&app, "/api/v1/usage/check", bad, json!({"user_id": ada.id})).await;
        problem(res, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED").await;
    }
    let listed = app.services.keys.list().await.expect("keys");
    assert_eq!(listed[0].last_used_at, None, "refused calls are not a use");
    let res = call(&app, "/api/v1/usage/check", &key, json!({"user_id": ada.id})).await;
    assert_eq!(res.status(), StatusCode::OK);
    // The key's last use is recorded (for `tollgate key list`), and its first characters kept.
    let listed = app.services.keys.list().await.expect("keys");
    assert!(listed[0].last_used_at.is_some(), "{listed:?}");
    assert_eq!(listed[0].prefix.as_deref(), Some(&key[..12]));
}

#[tokio::test]
async fn a_revoked_key_stops_working_at_once() {
    let app = spawn_app().await;
    let ada = app.register("ada@example.com").await;
    let key = app.service_key("agents").await;
    assert_eq!(
        call(&app, "/api/v1/usage/check", &key, json!({"user_id": ada.id})).await.status(),
        StatusCode::OK
    );
    assert!(app
        .services
        .keys
        .revoke("agents", &tollgate_usecases::admin::Actor::cli("test"))
        .await
        .expect("revoked"));
    let res = call(&app, "/api/v1/usage/check", &key, json!({"user_id": ada.id})).await;
    problem(res, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED").await;
}

#[tokio::test]
async fn check_says_whether_runs_are_allowed_and_debits_nothing() {
    let app = spawn_app().await;
    let ada = app.register("ada@example.com").await;
    let key = app.service_key("agents").await;
    let res = call(&app, "/api/v1/usage/check", &key, json!({"user_id": ada.id, "runs": 10})).await;
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["allowed"], true);
    assert!(body.get("code").is_none());
    let sub = &body["subscription"];
    assert_eq!((sub["plan"].as_str(), sub["monthly_agent_runs"].as_u64()), (Some("free"), Some(0)));
    assert_eq!((sub["reserved_runs"].as_u64(), sub["remaining_runs"].as_u64()), (Some(0), Some(10)));
    assert!(sub["resets_at"].is_string());
    let body: Value = call(&app, "/api/v1/usage/check", &key, json!({"user_id": ada.id, "runs": 11}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (body["allowed"].as_bool(), body["code"].as_str()),
        (Some(false), Some("SUBSCRIPTION_LIMIT_REACHED"))
    );
    assert_eq!(app.subscription(&ada.access).await["monthly_agent_runs"], 0);
}

#[tokio::test]
async fn consume_debits_any_cost_and_refuses_with_the_same_402_as_sessions() {
    let app = spawn_app().await;
    let ada = app.register("ada@example.com").await;
    let key = app.service_key("agents").await;
    let res =
        consume(&app, &key, json!({"user_id": ada.id, "runs": 7, "reason": "research agent"}), None).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers().get("ratelimit-remaining").unwrap(), "3");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["runs"], 7);
    assert!(body["consumption_id"].is_string());
    assert_eq!(body["subscription"]["monthly_agent_runs"], 7);
    let refused = consume(&app, &key, json!({"user_id": ada.id, "runs": 4}), None).await;
    let problem_body = problem(refused, StatusCode::PAYMENT_REQUIRED, "SUBSCRIPTION_LIMIT_REACHED").await;
    assert_eq!(problem_body["subscription"]["monthly_agent_runs_limit"], 10);
    assert_eq!(app.subscription(&ada.access).await["monthly_agent_runs"], 7);
    // The usage record carries the caller's reason.
    let shown = app
        .services
        .metering
        .check(tollgate_ports::Payer::personal(ada.id.parse().unwrap()), tollgate_domain::RunCount::new(3))
        .await;
    assert!(shown.is_ok(), "3 runs are still allowed");
}

#[tokio::test]
async fn a_replayed_consume_answers_the_same_and_another_body_with_the_key_is_refused() {
    let app = spawn_app().await;
    let ada = app.register("ada@example.com").await;
    let key = app.service_key("agents").await;
    let request = json!({"user_id": ada.id, "runs": 2});
    let first: Value = consume(&app, &key, request.clone(), Some("job-1")).await.json().await.unwrap();
    let again = consume(&app, &key, request, Some("job-1")).await;
    assert_eq!(again.headers().get("idempotent-replayed").unwrap(), "true");
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["consumption_id"], first["consumption_id"]);
    assert_eq!(again["runs"], 2);
    let other = consume(&app, &key, json!({"user_id": ada.id, "runs": 3}), Some("job-1")).await;
    problem(other, StatusCode::UNPROCESSABLE_ENTITY, "IDEMPOTENCY_KEY_MISMATCH").await;
    assert_eq!(app.subscription(&ada.access).await["monthly_agent_runs"], 2);
}

#[tokio::test]
async fn refund_gives_the_runs_back_exactly_once() {
    let app = spawn_app().await;
    let ada = app.register("ada@example.com").await;
    let key = app.service_key("agents").await;
    let body: Value =
        consume(&app, &key, json!({"user_id": ada.id, "runs": 4}), None).await.json().await.unwrap();
    let id = body["consumption_id"].clone();
    for _ in 0..2 {
        let res = call(&app, "/api/v1/usage/refund", &key, json!({"consumption_id": id})).await;
        let refunded: Value = res.json().await.unwrap();
        assert_eq!(
            (refunded["consumption_id"].clone(), refunded["refunded"].clone()),
            (id.clone(), json!(true))
        );
        assert_eq!(app.subscription(&ada.access).await["monthly_agent_runs"], 0);
    }
    let unknown =
        call(&app, "/api/v1/usage/refund", &key, json!({"consumption_id": uuid::Uuid::nil()})).await;
    problem(unknown, StatusCode::NOT_FOUND, "CONSUMPTION_NOT_FOUND").await;
}

#[tokio::test]
async fn unknown_users_and_bad_input_are_refused_and_cost_nothing() {
    let app = spawn_app().await;
    let ada = app.register("ada@example.com").await;
    let key = app.service_key("agents").await;
    let nobody = uuid::Uuid::nil();
    for path in ["/api/v1/usage/check", "/api/v1/usage/consume"] {
        problem(
            call(&app, path, &key, json!({"user_id": nobody})).await,
            StatusCode::NOT_FOUND,
            "USER_NOT_FOUND",
        )
        .await;
        for bad in [
            json!({"user_id": ada.id, "runs": 0}),
            json!({"user_id": ada.id, "runs": 1_000_001}),
            json!({"user_id": "not-a-uuid"}),
            json!({"runs": 1}),
        ] {
            problem(call(&app, path, &key, bad).await, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED")
                .await;
        }
    }
    let res = consume(&app, &key, json!({"user_id": ada.id, "reason": "x".repeat(201)}), None).await;
    problem(res, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED").await;
    let res = consume(&app, &key, json!({"user_id": ada.id}), Some("has space")).await;
    problem(res, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED").await;
    assert_eq!(app.subscription(&ada.access).await["monthly_agent_runs"], 0);
}

#[tokio::test]
async fn concurrent_consumes_by_many_callers_never_oversell() {
    let app = spawn_app().await;
    let ada = app.register("ada@example.com").await;
    let key = app.service_key("agents").await;
    let calls = (0..30).map(|_| consume(&app, &key, json!({"user_id": ada.id, "runs": 1}), None));
    let statuses: Vec<StatusCode> =
        futures_util::future::join_all(calls).await.iter().map(|r| r.status()).collect();
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::OK).count(), 10, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::PAYMENT_REQUIRED).count(), 20);
    assert_eq!(app.subscription(&ada.access).await["monthly_agent_runs"], 10);
}

#[tokio::test]
async fn a_revoked_key_stops_working_on_every_replica_at_once() {
    let app = spawn_app().await;
    let replica = spawn_replica(&app).await;
    let ada = app.register("ada@example.com").await;
    let key = app.service_key("agents").await;
    for server in [&app, &replica] {
        let res = call(server, "/api/v1/usage/check", &key, json!({"user_id": ada.id})).await;
        assert_eq!(res.status(), StatusCode::OK);
    }
    // Revoked through the first replica; the second has no cache to wait for.
    assert!(app
        .services
        .keys
        .revoke("agents", &tollgate_usecases::admin::Actor::cli("test"))
        .await
        .expect("revoked"));
    for server in [&replica, &app] {
        let res = call(server, "/api/v1/usage/check", &key, json!({"user_id": ada.id})).await;
        problem(res, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED").await;
    }
}

/// SPEC §12.1 over HTTP: a refunded consumption's key, and a released hold's, charge anew.
#[tokio::test]
async fn a_refunded_or_released_key_is_a_new_attempt_and_charges_anew() {
    let app = spawn_app().await;
    let ada = app.register("ada@example.com").await;
    let key = app.service_key("agents").await;
    let body = json!({"user_id": ada.id, "runs": 2});
    let first: Value = consume(&app, &key, body.clone(), Some("job-1")).await.json().await.unwrap();
    let replay = consume(&app, &key, body.clone(), Some("job-1")).await;
    assert_eq!(replay.headers().get("idempotent-replayed").unwrap(), "true");
    let res =
        call(&app, "/api/v1/usage/refund", &key, json!({"consumption_id": first["consumption_id"]})).await;
    assert_eq!(res.status(), StatusCode::OK);
    let again = consume(&app, &key, body.clone(), Some("job-1")).await;
    assert!(again.headers().get("idempotent-replayed").is_none(), "a refunded key does not replay");
    let again: Value = again.json().await.unwrap();
    assert_ne!(again["consumption_id"], first["consumption_id"]);
    assert_eq!(again["subscription"]["monthly_agent_runs"], 2, "charged anew");
    // A released hold's key holds anew.
    let hold = |k: &'static str| {
        app.client
            .post(app.url("/api/v1/reservations"))
            .bearer_auth(&key)
            .header("idempotency-key", k)
            .json(&json!({"user_id": ada.id, "runs": 3}))
            .send()
    };
    let held: Value = hold("hold-1").await.unwrap().json().await.unwrap();
    let id = held["id"].as_str().unwrap().to_owned();
    let res = call(&app, &format!("/api/v1/reservations/{id}/release"), &key, json!({})).await;
    assert_eq!(res.status(), StatusCode::OK);
    let again = hold("hold-1").await.unwrap();
    assert_eq!(again.status(), StatusCode::CREATED);
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["status"], "held", "{again}");
    assert_ne!(again["id"], held["id"]);
    assert_eq!(again["subscription"]["reserved_runs"], 3);
}

/// A write queue of one, flooded: every answer is a 201 or a 503 `OVERLOADED` with
/// `Retry-After`, and exactly the 201s were charged.
#[tokio::test]
async fn a_full_write_queue_answers_503_overloaded_and_charges_nothing() {
    let app = crate::helpers::spawn_app_with(&[
        ("TOLLGATE_WRITE_QUEUE_LIMIT", "1"),
        ("TOLLGATE_PLAN_FREE_RUNS", "100000"),
    ])
    .await;
    let ada = app.register("ada@example.com").await;
    let calls = (0..128).map(|_| app.create_session(&ada.access));
    let answers = futures_util::future::join_all(calls).await;
    let mut created = 0u64;
    let mut overloaded = 0u64;
    for res in answers {
        if res.status() == StatusCode::CREATED {
            created += 1;
        } else {
            assert_eq!(
                res.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned()),
                Some("1".into())
            );
            problem(res, StatusCode::SERVICE_UNAVAILABLE, "OVERLOADED").await;
            overloaded += 1;
        }
    }
    assert!(overloaded > 0, "128 writes at once never filled a queue of one");
    assert_eq!(created + overloaded, 128);
    let sub = app.subscription(&ada.access).await;
    assert_eq!(
        sub["monthly_agent_runs"].as_u64(),
        Some(created),
        "exactly the created sessions were charged"
    );
    let sessions: Value = app.get("/api/v1/sessions?limit=1", Some(&ada.access)).await.json().await.unwrap();
    assert_eq!(sessions["total"].as_u64(), Some(created));
}

/// A request that costs more than is left is told what is left, not that everything is used;
/// the 402's subscription carries `remaining_runs`.
#[tokio::test]
async fn a_402_for_a_request_costing_more_than_is_left_says_what_is_left() {
    let app = spawn_app().await;
    let ada = app.register("ada@example.com").await;
    let key = app.service_key("agents").await;
    assert_eq!(
        consume(&app, &key, json!({"user_id": ada.id, "runs": 5}), None).await.status(),
        StatusCode::OK
    );
    let res = consume(&app, &key, json!({"user_id": ada.id, "runs": 6}), None).await;
    assert_eq!(res.headers().get("ratelimit-remaining").unwrap(), "5");
    let body = problem(res, StatusCode::PAYMENT_REQUIRED, "SUBSCRIPTION_LIMIT_REACHED").await;
    let detail = body["detail"].as_str().unwrap();
    assert!(detail.contains("5 of the 10 runs"), "{detail}");
    assert!(!detail.starts_with("All"), "{detail}");
    assert_eq!(body["subscription"]["remaining_runs"], 5);
    // Spent to the last run: then all are used.
    assert_eq!(
        consume(&app, &key, json!({"user_id": ada.id, "runs": 5}), None).await.status(),
        StatusCode::OK
    );
    let body = problem(
        consume(&app, &key, json!({"user_id": ada.id}), None).await,
        StatusCode::PAYMENT_REQUIRED,
        "SUBSCRIPTION_LIMIT_REACHED",
    )
    .await;
    assert!(body["detail"].as_str().unwrap().starts_with("All 10 runs"), "{body}");
    assert_eq!(body["subscription"]["remaining_runs"], 0);
}

/// An idempotent replay right after its original (the subscription remembered from before it)
/// reports the quota after the original, not before.
#[tokio::test]
async fn a_replay_reports_the_remaining_runs_after_its_original() {
    let app = spawn_app().await;
    let ada = app.register("ada@example.com").await;
    let create = || {
        app.client
            .post(app.url("/api/v1/sessions"))
            .bearer_auth(&ada.access)
            .header("idempotency-key", "walkthrough-1")
            .json(&json!({"title": "a"}))
            .send()
    };
    let first = create().await.unwrap();
    assert_eq!(first.status(), StatusCode::CREATED);
    assert_eq!(first.headers().get("ratelimit-remaining").unwrap(), "9");
    let again = create().await.unwrap();
    assert_eq!(again.headers().get("idempotent-replayed").unwrap(), "true");
    assert_eq!(again.headers().get("ratelimit-remaining").unwrap(), "9");
}
