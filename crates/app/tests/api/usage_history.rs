//! Usage history (SPEC §8): `GET /billing/usage` by day or by period, from the usage records.

use reqwest::StatusCode;
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::Duration;

use crate::helpers::{problem, spawn_app};

#[tokio::test]
async fn usage_is_bucketed_by_day_with_refunds_and_totals() {
    let app = spawn_app().await;
    let ada = app.register("ada@example.com").await;
    let key = app.service_key("agents").await;
    // Two runs today, then three two days later, one of which is refunded.
    for _ in 0..2 {
        assert_eq!(app.create_session(&ada.access).await.status(), StatusCode::CREATED);
    }
    app.clock.advance(Duration::days(2));
    let res = app.post("/api/v1/usage/consume", Some(&key), json!({"user_id": ada.id, "runs": 3})).await;
    let consumed: Value = res.json().await.unwrap();
    let res = app
        .post("/api/v1/usage/refund", Some(&key), json!({"consumption_id": consumed["consumption_id"]}))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = app.get("/api/v1/billing/usage", Some(&ada.access)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    let buckets = body["buckets"].as_array().unwrap();
    assert_eq!(buckets.len(), 31, "the last 30 days, by UTC day");
    let used: Vec<(u64, u64)> = buckets
        .iter()
        .filter(|b| b["runs_consumed"].as_u64().unwrap() > 0)
        .map(|b| (b["runs_consumed"].as_u64().unwrap(), b["runs_refunded"].as_u64().unwrap()))
        .collect();
    assert_eq!(used, [(2, 0), (3, 3)]);
    assert_eq!((body["total_consumed"].as_u64(), body["total_refunded"].as_u64()), (Some(5), Some(3)));
    // By period: one bucket holding everything.
    let now = app.clock_now();
    let from = (now - Duration::days(5)).format(&Rfc3339).unwrap();
    let res =
        app.get(&format!("/api/v1/billing/usage?granularity=period&from={from}"), Some(&ada.access)).await;
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["total_consumed"], 5);
    assert!(!body["buckets"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn bad_ranges_are_refused_and_the_history_is_the_callers_own() {
    let app = spawn_app().await;
    let ada = app.register("ada@example.com").await;
    let bob = app.register("bob@example.com").await;
    assert_eq!(app.create_session(&bob.access).await.status(), StatusCode::CREATED);
    let body: Value = app.get("/api/v1/billing/usage", Some(&ada.access)).await.json().await.unwrap();
    assert_eq!(body["total_consumed"], 0, "Bob's run is not Ada's");
    for query in [
        "from=yesterday",
        "granularity=week",
        "from=2026-01-01T00:00:00Z&to=2025-01-01T00:00:00Z",
        "from=2020-01-01T00:00:00Z&to=2026-01-01T00:00:00Z",
    ] {
        let res = app.get(&format!("/api/v1/billing/usage?{query}"), Some(&ada.access)).await;
        problem(res, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED").await;
    }
    problem(app.get("/api/v1/billing/usage", None).await, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED").await;
}
