use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{problem, spawn_app, spawn_app_with, SECRET};

#[tokio::test]
async fn register_creates_the_user_and_a_free_subscription_and_signs_in() {
    let app = spawn_app().await;
    let res = app
        .post(
            "/api/v1/auth/register",
            None,
            json!({"fullname": " Ada Lovelace ", "email": "Ada@Example.COM", "password": "correct horse"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["user"]["email"], "ada@example.com");
    assert_eq!(body["user"]["fullname"], "Ada Lovelace");
    assert_eq!(body["user"]["role"], "user");
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], 900);
    let access = body["access_token"].as_str().unwrap();
    let sub = app.subscription(access).await;
    assert_eq!((sub["plan"].as_str(), sub["status"].as_str()), (Some("free"), Some("active")));
    assert_eq!(
        (sub["monthly_agent_runs"].as_u64(), sub["monthly_agent_runs_limit"].as_u64()),
        (Some(0), Some(10))
    );
    let me: Value = app.get("/api/v1/auth/me", Some(access)).await.json().await.unwrap();
    assert_eq!(me["id"], body["user"]["id"]);
}

#[tokio::test]
async fn a_taken_email_is_409_whatever_its_case() {
    let app = spawn_app().await;
    app.register("ada@example.com").await;
    let res = app
        .post(
            "/api/v1/auth/register",
            None,
            json!({"fullname": "Ada", "email": "ADA@example.com", "password": "another pass"}),
        )
        .await;
    problem(res, StatusCode::CONFLICT, "EMAIL_TAKEN").await;
}

#[tokio::test]
async fn invalid_registration_fields_are_all_listed() {
    let app = spawn_app().await;
    let res = app
        .post(
            "/api/v1/auth/register",
            None,
            json!({"fullname": "  ", "email": "not-an-email", "password": "short"}),
        )
        .await;
    let body = problem(res, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED").await;
    let fields: Vec<&str> =
        body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["fullname", "email", "password"]);
    let res = app.post("/api/v1/auth/register", None, json!({})).await;
    let body = problem(res, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED").await;
    assert_eq!(body["errors"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn login_works_and_a_wrong_password_looks_exactly_like_an_unknown_email() {
    let app = spawn_app().await;
    app.register("ada@example.com").await;
    let ok = app
        .post("/api/v1/auth/login", None, json!({"email": "ADA@example.com", "password": "correct horse"}))
        .await;
    assert_eq!(ok.status(), StatusCode::OK);
    let body: Value = ok.json().await.unwrap();
    assert!(body["access_token"].is_string() && body["refresh_token"].is_string());
    let wrong = app
        .post("/api/v1/auth/login", None, json!({"email": "ada@example.com", "password": "wrong horse"}))
        .await;
    let wrong = problem(wrong, StatusCode::UNAUTHORIZED, "INVALID_CREDENTIALS").await;
    let unknown = app
        .post("/api/v1/auth/login", None, json!({"email": "bob@example.com", "password": "wrong horse"}))
        .await;
    let unknown = problem(unknown, StatusCode::UNAUTHORIZED, "INVALID_CREDENTIALS").await;
    assert_eq!(wrong, unknown);
}

fn forge(header: Value, claims: Value, signature: &str) -> String {
    format!(
        "{}.{}.{signature}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

#[tokio::test]
async fn only_a_valid_access_token_is_accepted() {
    let app = spawn_app().await;
    let account = app.register("ada@example.com").await;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let claims = |typ: &str, exp: i64| json!({"sub": account.id, "iss": "tollgate", "aud": "tollgate-api", "exp": exp, "iat": now, "typ": typ, "role": "user"});
    let sign = |c: Value, key: &str| {
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
            &c,
            &jsonwebtoken::EncodingKey::from_secret(key.as_bytes()),
        )
        .unwrap()
    };
    let bad = [
        account.refresh.clone(),
        forge(json!({"alg": "none", "typ": "JWT"}), claims("access", now + 600), ""),
        sign(claims("access", now + 600), "some-other-secret-some-other-secret"),
        sign(claims("access", now - 1), SECRET),
        sign(claims("refresh", now + 600), SECRET),
        "garbage".to_owned(),
    ];
    for token in bad {
        let res = app.get("/api/v1/auth/me", Some(&token)).await;
        assert_eq!(res.headers().get("www-authenticate").and_then(|v| v.to_str().ok()), Some("Bearer"));
        problem(res, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED").await;
    }
    problem(app.get("/api/v1/auth/me", None).await, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED").await;
    let basic = app.client.get(app.url("/api/v1/auth/me")).basic_auth("ada", Some("x")).send().await.unwrap();
    problem(basic, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED").await;
    // And the genuine one, signed with the server's key, works.
    assert_eq!(
        app.get("/api/v1/auth/me", Some(&sign(claims("access", now + 600), SECRET))).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn refresh_rotates_and_reusing_a_rotated_token_revokes_the_family() {
    let app = spawn_app().await;
    let account = app.register("ada@example.com").await;
    let first = app.post("/api/v1/auth/refresh", None, json!({"refresh_token": account.refresh})).await;
    assert_eq!(first.status(), StatusCode::OK);
    let first: Value = first.json().await.unwrap();
    let second_refresh = first["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(second_refresh, account.refresh);
    assert!(first["user"].is_null(), "refresh answers tokens only");
    // The new access token works.
    assert_eq!(app.get("/api/v1/auth/me", first["access_token"].as_str()).await.status(), StatusCode::OK);
    // Reusing the old refresh token after the reuse grace window: refused, and the whole family
    // is revoked.
    app.clock.advance(time::Duration::seconds(11));
    let reuse = app.post("/api/v1/auth/refresh", None, json!({"refresh_token": account.refresh})).await;
    problem(reuse, StatusCode::UNAUTHORIZED, "INVALID_REFRESH_TOKEN").await;
    let after = app.post("/api/v1/auth/refresh", None, json!({"refresh_token": second_refresh})).await;
    problem(after, StatusCode::UNAUTHORIZED, "INVALID_REFRESH_TOKEN").await;
    let unknown = app.post("/api/v1/auth/refresh", None, json!({"refresh_token": "nope"})).await;
    problem(unknown, StatusCode::UNAUTHORIZED, "INVALID_REFRESH_TOKEN").await;
}

#[tokio::test]
async fn logout_revokes_the_refresh_token_family() {
    let app = spawn_app().await;
    let account = app.register("ada@example.com").await;
    let res = app
        .post("/api/v1/auth/logout", Some(&account.access), json!({"refresh_token": account.refresh}))
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let refresh = app.post("/api/v1/auth/refresh", None, json!({"refresh_token": account.refresh})).await;
    problem(refresh, StatusCode::UNAUTHORIZED, "INVALID_REFRESH_TOKEN").await;
    problem(
        app.post("/api/v1/auth/logout", None, json!({})).await,
        StatusCode::UNAUTHORIZED,
        "UNAUTHENTICATED",
    )
    .await;
}

#[tokio::test]
async fn sign_in_attempts_are_rate_limited_with_retry_after() {
    let app = spawn_app_with(&[("TOLLGATE_AUTH_RATE_PER_MINUTE", "3")]).await;
    for _ in 0..3 {
        let res = app
            .post("/api/v1/auth/login", None, json!({"email": "x@example.com", "password": "whatever1"}))
            .await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    let res = app
        .post("/api/v1/auth/login", None, json!({"email": "y@example.com", "password": "whatever1"}))
        .await;
    let retry_after: u64 = res.headers().get("retry-after").unwrap().to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry_after));
    problem(res, StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED").await;
    let res = app
        .post(
            "/api/v1/auth/register",
            None,
            json!({"fullname": "A", "email": "z@example.com", "password": "whatever1"}),
        )
        .await;
    problem(res, StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED").await;
}

/// One hashing worker and a queue of one, flooded with sign-ups and logins: every answer is a
/// success or a 503 `OVERLOADED` with `Retry-After`, never a 500; a refused sign-up made no user.
#[tokio::test]
async fn a_full_password_hashing_queue_answers_503_overloaded_and_creates_nothing() {
    let app = spawn_app_with(&[
        ("TOLLGATE_PASSWORD_HASH_WORKERS", "1"),
        ("TOLLGATE_PASSWORD_HASH_QUEUE", "1"),
        ("TOLLGATE_AUTH_RATE_PER_MINUTE", "0"),
    ])
    .await;
    let ada = app.register("ada@example.com").await;
    assert!(!ada.access.is_empty());
    let signups = (0..24).map(|n| {
        app.post(
            "/api/v1/auth/register",
            None,
            json!({"fullname": "Burst", "email": format!("burst{n}@example.com"), "password": "correct horse"}),
        )
    });
    let logins = (0..24).map(|_| {
        app.post("/api/v1/auth/login", None, json!({"email": "ada@example.com", "password": "correct horse"}))
    });
    let (signups, logins) = futures_util::future::join(
        futures_util::future::join_all(signups),
        futures_util::future::join_all(logins),
    )
    .await;
    let mut created = 0;
    let mut overloaded = 0;
    for (res, ok) in signups
        .into_iter()
        .map(|r| (r, StatusCode::CREATED))
        .chain(logins.into_iter().map(|r| (r, StatusCode::OK)))
    {
        if res.status() == ok {
            created += usize::from(ok == StatusCode::CREATED);
            continue;
        }
        assert_eq!(res.headers().get("retry-after").and_then(|v| v.to_str().ok()), Some("1"));
        problem(res, StatusCode::SERVICE_UNAVAILABLE, "OVERLOADED").await;
        overloaded += 1;
    }
    assert!(overloaded > 0, "48 hashes at once never filled a queue of one");
    // The refused sign-ups made no user: each created one signs in, the others are unknown.
    let users = app.services.admin.search(None, tollgate_ports::Page { limit: 100, offset: 0 }).await;
    assert_eq!(users.expect("search").1, 1 + created as u64);
}
