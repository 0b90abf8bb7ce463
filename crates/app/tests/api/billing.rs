use reqwest::StatusCode;
use serde_json::{json, Value};
use time::Duration;

use crate::helpers::{problem, spawn_app};

#[tokio::test]
async fn the_plan_catalog_is_public() {
    let app = spawn_app().await;
    let res = app.get("/api/v1/billing/plans", None).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    let plans = body["plans"].as_array().unwrap();
    let ids: Vec<&str> = plans.iter().map(|p| p["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["free", "basic", "pro", "enterprise"]);
    assert_eq!(plans[1]["price"], json!({"amount_minor": 1900, "currency": "USD"}));
    assert_eq!(plans[2]["monthly_agent_runs_limit"], 5000);
    assert!(plans[3]["monthly_agent_runs_limit"].is_null());
    assert_eq!(body["trial"], json!({"days": 14, "runs": 50}));
}

#[tokio::test]
async fn the_subscription_needs_a_token() {
    let app = spawn_app().await;
    problem(app.get("/api/v1/billing/subscription", None).await, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED")
        .await;
}

#[tokio::test]
async fn the_trial_starts_once_gives_fifty_runs_and_ends_lazily() {
    let app = spawn_app().await;
    let ada = app.register("ada@example.com").await;
    let res = app.post("/api/v1/billing/activate-trial", Some(&ada.access), json!({})).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["runs_limit"], 50);
    let sub = app.subscription(&ada.access).await;
    assert_eq!((sub["status"].as_str(), sub["is_trial"].as_bool()), (Some("trialing"), Some(true)));
    assert_eq!(sub["trial_end"], body["trial_end"]);
    assert_eq!(sub["monthly_agent_runs_limit"], 50);
    let again = app.post("/api/v1/billing/activate-trial", Some(&ada.access), json!({})).await;
    problem(again, StatusCode::CONFLICT, "TRIAL_UNAVAILABLE").await;
    for _ in 0..11 {
        assert_eq!(app.create_session(&ada.access).await.status(), StatusCode::CREATED);
    }
    app.clock.advance(Duration::days(15));
    let sub = app.subscription(&ada.access).await;
    assert_eq!(
        (sub["plan"].as_str(), sub["status"].as_str(), sub["is_trial"].as_bool()),
        (Some("free"), Some("active"), Some(false))
    );
    assert_eq!(
        (sub["monthly_agent_runs"].as_u64(), sub["monthly_agent_runs_limit"].as_u64()),
        (Some(0), Some(10))
    );
}

#[tokio::test]
async fn without_stripe_checkout_portal_and_webhook_answer_503() {
    let app = spawn_app().await;
    let ada = app.register("ada@example.com").await;
    let checkout =
        app.post("/api/v1/billing/create-checkout-session", Some(&ada.access), json!({"plan": "pro"})).await;
    problem(checkout, StatusCode::SERVICE_UNAVAILABLE, "STRIPE_NOT_CONFIGURED").await;
    let portal = app.post("/api/v1/billing/create-portal-session", Some(&ada.access), json!({})).await;
    problem(portal, StatusCode::SERVICE_UNAVAILABLE, "STRIPE_NOT_CONFIGURED").await;
    let webhook = app
        .client
        .post(app.url("/api/v1/billing/webhook"))
        .header("stripe-signature", "t=1,v1=00")
        .body("{}")
        .send()
        .await
        .unwrap();
    problem(webhook, StatusCode::SERVICE_UNAVAILABLE, "STRIPE_NOT_CONFIGURED").await;
    // Everything else keeps working.
    assert_eq!(app.create_session(&ada.access).await.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn checkout_refuses_plans_that_cannot_be_bought() {
    let app = spawn_app().await;
    let ada = app.register("ada@example.com").await;
    for plan in ["free", "enterprise", "platinum"] {
        let res = app
            .post("/api/v1/billing/create-checkout-session", Some(&ada.access), json!({"plan": plan}))
            .await;
        problem(res, StatusCode::BAD_REQUEST, "INVALID_PLAN").await;
    }
    let res = app.post("/api/v1/billing/create-checkout-session", Some(&ada.access), json!({})).await;
    problem(res, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED").await;
}
