//! The admin API (SPEC §8): admins only (403 `FORBIDDEN` for everyone else, decided on the role
//! as stored now), plan changes and grants through the domain rules, each with its audit entry.

use reqwest::StatusCode;
use serde_json::{json, Value};
use tollgate_domain::{Email, Role};
use tollgate_usecases::admin::Actor;

use crate::helpers::{problem, spawn_app, Account, TestApp};

pub async fn admin_account(app: &TestApp, email: &str) -> Account {
    let account = app.register(email).await;
    app.services
        .admin
        .set_role(&Email::parse(email).expect("ok"), Role::Admin, &Actor::cli("test"))
        .await
        .expect("promoted");
    account
}

async fn audit(app: &TestApp, token: &str) -> Value {
    let res = app.get("/api/v1/admin/audit", Some(token)).await;
    assert_eq!(res.status(), StatusCode::OK);
    res.json().await.expect("ok")
}

#[tokio::test]
async fn only_admins_get_in_and_a_demotion_holds_at_once() {
    let app = spawn_app().await;
    let user = app.register("ada@example.com").await;
    let root = admin_account(&app, "root@example.com").await;
    let target = format!("/api/v1/admin/users/{}", user.id);
    let plan = format!("{target}/plan");
    let grant = format!("{target}/grant");
    let gets = ["/api/v1/admin/users", target.as_str(), "/api/v1/admin/audit"];
    for path in gets {
        problem(app.get(path, None).await, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED").await;
        problem(app.get(path, Some(&user.access)).await, StatusCode::FORBIDDEN, "FORBIDDEN").await;
        assert_eq!(app.get(path, Some(&root.access)).await.status(), StatusCode::OK, "{path}");
    }
    let change = json!({"plan": "pro"});
    let gift = json!({"runs": 5, "reason": "please"});
    for (path, body) in [(&plan, &change), (&grant, &gift)] {
        problem(app.post(path, Some(&user.access), body.clone()).await, StatusCode::FORBIDDEN, "FORBIDDEN")
            .await;
    }
    // Extractors run side by side: a bad body still gets the 403, never a hint about the body.
    for body in [json!({"plan": 5}), json!("not an object")] {
        problem(app.post(&plan, Some(&user.access), body).await, StatusCode::FORBIDDEN, "FORBIDDEN").await;
    }
    // Nothing the user tried was written.
    assert_eq!(audit(&app, &root.access).await["total"], 1, "only the promotion");
    assert_eq!(app.subscription(&user.access).await["plan"], "free");
    // The root's token still says nothing about roles that could outlive a demotion.
    app.services
        .admin
        .set_role(&Email::parse("root@example.com").expect("ok"), Role::User, &Actor::cli("test"))
        .await
        .expect("ok");
    problem(app.get("/api/v1/admin/users", Some(&root.access)).await, StatusCode::FORBIDDEN, "FORBIDDEN")
        .await;
}

#[tokio::test]
async fn a_grant_lets_a_user_past_their_limit_for_this_period_and_is_audited() {
    let app = spawn_app().await;
    let user = app.register("ada@example.com").await;
    let root = admin_account(&app, "root@example.com").await;
    for _ in 0..10 {
        assert_eq!(app.create_session(&user.access).await.status(), StatusCode::CREATED);
    }
    problem(
        app.create_session(&user.access).await,
        StatusCode::PAYMENT_REQUIRED,
        "SUBSCRIPTION_LIMIT_REACHED",
    )
    .await;
    let res = app
        .client
        .post(app.url(&format!("/api/v1/admin/users/{}/grant", user.id)))
        .bearer_auth(&root.access)
        .header("x-request-id", "support-ticket-42")
        .json(&json!({"runs": 3, "reason": "  outage on the 3rd  "}))
        .send()
        .await
        .expect("ok");
    assert_eq!(res.status(), StatusCode::OK);
    let detail: Value = res.json().await.expect("ok");
    assert_eq!(detail["user"]["email"], "ada@example.com");
    assert_eq!(detail["subscription"]["granted_runs"], 3);
    assert_eq!(detail["subscription"]["monthly_agent_runs_limit"], 13);
    assert_eq!(detail["subscription"]["remaining_runs"], 3);
    assert_eq!(detail["recent_usage"].as_array().expect("ok").len(), 10);
    assert_eq!(detail["recent_usage"][0]["reason"], "session.create");
    for _ in 0..3 {
        assert_eq!(app.create_session(&user.access).await.status(), StatusCode::CREATED);
    }
    problem(
        app.create_session(&user.access).await,
        StatusCode::PAYMENT_REQUIRED,
        "SUBSCRIPTION_LIMIT_REACHED",
    )
    .await;
    let log = audit(&app, &root.access).await;
    let entry = &log["items"][0];
    assert_eq!(entry["action"], "user.grant_runs");
    assert_eq!(entry["actor"], format!("user:{} root@example.com", root.id));
    assert_eq!(entry["target_user_id"], user.id.as_str());
    assert_eq!(entry["reason"], "outage on the 3rd");
    assert_eq!(entry["request_id"], "support-ticket-42");
    assert_eq!(entry["before"]["runs_granted"], 0);
    assert_eq!(entry["after"]["runs_granted"], 3);
    assert_eq!(entry["after"]["runs_used"], 10);
    assert_eq!(log["items"][1]["action"], "user.set_role");
    assert_eq!(log["items"][1]["actor"], "cli:test");
}

#[tokio::test]
async fn plans_are_set_through_the_domain_rules_and_bad_input_changes_nothing() {
    let app = spawn_app().await;
    let user = app.register("ada@example.com").await;
    let root = admin_account(&app, "root@example.com").await;
    let plan = format!("/api/v1/admin/users/{}/plan", user.id);
    let grant = format!("/api/v1/admin/users/{}/grant", user.id);
    let res = app.post(&plan, Some(&root.access), json!({"plan": "enterprise", "runs_limit": 25000})).await;
    assert_eq!(res.status(), StatusCode::OK);
    let detail: Value = res.json().await.expect("ok");
    assert_eq!(detail["subscription"]["plan"], "enterprise");
    assert_eq!(detail["subscription"]["monthly_agent_runs_limit"], 25000);
    let res = app.post(&plan, Some(&root.access), json!({"plan": "pro", "runs_limit": "unlimited"})).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(app.subscription(&user.access).await["monthly_agent_runs_limit"], Value::Null);
    let before = audit(&app, &root.access).await["total"].clone();
    assert_eq!(before, 3);
    for (path, body) in [
        (&plan, json!({"plan": "platinum"})),
        (&plan, json!({})),
        (&plan, json!({"plan": "pro", "runs_limit": "lots"})),
        (&plan, json!({"plan": "pro", "runs_limit": -1})),
        (&plan, json!({"plan": "free", "runs_limit": "unlimited"})),
        (&grant, json!({"runs": 0, "reason": "x"})),
        (&grant, json!({"runs": 1000001, "reason": "x"})),
        (&grant, json!({"runs": 5})),
        (&grant, json!({"runs": 5, "reason": "   "})),
        (&grant, json!({"runs": 5, "reason": "a\u{0}b"})),
    ] {
        let res = app.post(path, Some(&root.access), body.clone()).await;
        problem(res, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED").await;
    }
    let nobody = format!("/api/v1/admin/users/{}", uuid::Uuid::new_v4());
    problem(app.get(&nobody, Some(&root.access)).await, StatusCode::NOT_FOUND, "USER_NOT_FOUND").await;
    let res =
        app.post(&format!("{nobody}/grant"), Some(&root.access), json!({"runs": 1, "reason": "x"})).await;
    problem(res, StatusCode::NOT_FOUND, "USER_NOT_FOUND").await;
    problem(
        app.get("/api/v1/admin/users/not-a-uuid", Some(&root.access)).await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;
    assert_eq!(audit(&app, &root.access).await["total"], before, "no refused change is audited");
    assert_eq!(app.subscription(&user.access).await["plan"], "pro");
}

#[tokio::test]
async fn users_are_searched_and_paged() {
    let app = spawn_app().await;
    let root = admin_account(&app, "root@example.com").await;
    for email in ["ada@example.com", "grace@navy.mil", "linus@example.org"] {
        app.register(email).await;
    }
    let found: Value =
        app.get("/api/v1/admin/users?query=NAVY", Some(&root.access)).await.json().await.expect("ok");
    assert_eq!(found["total"], 1);
    assert_eq!(found["items"][0]["email"], "grace@navy.mil");
    let page: Value =
        app.get("/api/v1/admin/users?limit=2&offset=2", Some(&root.access)).await.json().await.expect("ok");
    assert_eq!((page["total"].clone(), page["items"].as_array().expect("ok").len()), (json!(4), 2));
    let res = app.get("/api/v1/admin/users?limit=0", Some(&root.access)).await;
    problem(res, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED").await;
}

#[tokio::test]
async fn racing_admins_never_get_a_500_and_every_answered_grant_counts_once() {
    let app = spawn_app().await;
    let user = app.register("ada@example.com").await;
    let root = admin_account(&app, "root@example.com").await;
    let path = format!("/api/v1/admin/users/{}/grant", user.id);
    let grants = (0..24).map(|_| app.post(&path, Some(&root.access), json!({"runs": 1, "reason": "race"})));
    let answers = futures_util::future::join_all(grants).await;
    let mut granted = 0;
    for res in answers {
        match res.status() {
            StatusCode::OK => granted += 1,
            StatusCode::CONFLICT => {
                problem(res, StatusCode::CONFLICT, "CONCURRENT_UPDATE").await;
            }
            other => panic!("a racing grant answered {other}"),
        }
    }
    assert!(granted > 0);
    assert_eq!(app.subscription(&user.access).await["granted_runs"], granted);
    // One audit entry per grant that happened (plus the promotion).
    assert_eq!(audit(&app, &root.access).await["total"], granted + 1);
}

#[tokio::test]
async fn limits_stay_in_range_plan_names_are_exact_and_a_no_op_is_not_audited() {
    let app = spawn_app().await;
    let user = app.register("ada@example.com").await;
    let root = admin_account(&app, "root@example.com").await;
    let plan = format!("/api/v1/admin/users/{}/plan", user.id);
    let grant = format!("/api/v1/admin/users/{}/grant", user.id);
    for body in [
        json!({"plan": "PRO"}),
        json!({"plan": " basic"}),
        json!({"plan": "free\n"}),
        json!({"plan": "enterprise", "runs_limit": 1_000_000_001u32}),
    ] {
        problem(
            app.post(&plan, Some(&root.access), body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "VALIDATION_FAILED",
        )
        .await;
    }
    for reason in ["\u{200b}", "\u{feff}", "a\u{202e}b", "line\u{2028}break"] {
        let res = app.post(&grant, Some(&root.access), json!({"runs": 5, "reason": reason})).await;
        problem(res, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED").await;
    }
    // The period's grants stop at 1,000,000,000 extra runs.
    for _ in 0..1000 {
        let res = app.post(&grant, Some(&root.access), json!({"runs": 1_000_000, "reason": "lots"})).await;
        assert_eq!(res.status(), StatusCode::OK);
    }
    let res = app.post(&grant, Some(&root.access), json!({"runs": 1, "reason": "one more"})).await;
    problem(res, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED").await;
    assert_eq!(app.subscription(&user.access).await["granted_runs"], 1_000_000_000u32);
    // Setting the plan a user already has changes nothing and writes no audit entry.
    let before = audit(&app, &root.access).await["total"].clone();
    let res = app.post(&plan, Some(&root.access), json!({"plan": "free"})).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(audit(&app, &root.access).await["total"], before);
}

/// A search for text holding a NUL matches nobody (and is no server error on Postgres, which
/// cannot be asked about one).
#[tokio::test]
async fn a_search_holding_a_nul_matches_nobody() {
    let app = spawn_app().await;
    let root = admin_account(&app, "root@example.com").await;
    let res = app.get("/api/v1/admin/users?query=ro%00ot", Some(&root.access)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let page: Value = res.json().await.expect("json");
    assert_eq!(page["total"], 0);
}
