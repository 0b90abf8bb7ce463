//! SPEC §10 over real HTTP: the holes a black-box probe found, each closed and named here.

use std::net::IpAddr;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{problem, spawn_app, spawn_app_with, Account, TestApp};

async fn runs_used(app: &TestApp, account: &Account) -> u64 {
    app.subscription(&account.access).await["monthly_agent_runs"].as_u64().expect("runs")
}

async fn session_count(app: &TestApp, account: &Account) -> u64 {
    let res = app.get("/api/v1/sessions?limit=1", Some(&account.access)).await;
    res.json::<Value>().await.expect("json")["total"].as_u64().expect("total")
}

/// The same request (`POST` a session) with the path spelled many ways, sent byte for byte.
const SPELLINGS: &[&str] = &[
    "/api/v1/sessions",
    "/api/v1/%73essions",
    "/api/v1/sess%69ons",
    "/%61pi/v1/sessions",
    "/%61%70%69/%76%31/%73%65%73%73%69%6f%6e%73",
    "/api/v1/sessions?x=1",
    "/api/v1/%73essions?%73",
    "http://127.0.0.1/api/v1/%73essions",
    "/api/v1/SESSIONS",
    "/api/v1/sessions/",
    "//api/v1/sessions",
    "/api/v1//sessions",
    "/api/v1/./sessions",
    "/api/v1/x/../sessions",
    "/api/v1/sessions%2F",
    "/api%2Fv1/sessions",
    "/api/v1/%2573essions",
    "/api/v1/sessions;x",
    "/api/v1/sessions%00",
    "/api/v1/sessions%20",
];

/// Spellings the router does route to the sessions handler (so the test cannot pass vacuously).
const ROUTED: &[&str] = &[
    "/api/v1/sessions",
    "/api/v1/%73essions",
    "/api/v1/sess%69ons",
    "/%61pi/v1/sessions",
    "/%61%70%69/%76%31/%73%65%73%73%69%6f%6e%73",
    "/api/v1/sessions?x=1",
    "/api/v1/%73essions?%73",
    "http://127.0.0.1/api/v1/%73essions",
];

async fn post_session_raw(
    app: &TestApp,
    path: &str,
    token: &str,
    key: Option<&str>,
) -> crate::helpers::RawResponse {
    let key = key.map(|k| format!("\r\nIdempotency-Key: {k}")).unwrap_or_default();
    let head = format!(
        "POST {path} HTTP/1.1\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: 2{key}"
    );
    app.raw(&head, b"{}").await
}

#[tokio::test]
async fn every_spelling_of_a_metered_path_that_reaches_the_handler_is_metered() {
    let app = spawn_app().await;
    let ada = app.register("ada@example.com").await;
    let mut created = 0;
    for path in SPELLINGS {
        let before = runs_used(&app, &ada).await;
        let res = post_session_raw(&app, path, &ada.access, None).await;
        let after = runs_used(&app, &ada).await;
        if res.status == 201 {
            created += 1;
            assert_eq!(after, before + 1, "{path}: a session was created without its run being counted");
            assert!(
                res.header("ratelimit-remaining").is_some(),
                "{path}: metered answer without quota headers"
            );
        } else {
            assert_eq!(after, before, "{path}: {} charged a run", res.status);
            assert!(res.status >= 400 && res.status < 500, "{path}: {}", res.status);
        }
        assert_eq!(res.status == 201, ROUTED.contains(path), "{path} answered {}", res.status);
    }
    assert_eq!(created, ROUTED.len());
    assert_eq!(session_count(&app, &ada).await, created as u64);
    // With the quota spent, no spelling creates a session.
    while app.create_session(&ada.access).await.status() == StatusCode::CREATED {}
    assert_eq!(runs_used(&app, &ada).await, 10);
    for path in SPELLINGS {
        let res = post_session_raw(&app, path, &ada.access, None).await;
        assert_ne!(res.status, 201, "{path} created a session on a spent quota");
        if ROUTED.contains(path) {
            assert_eq!(res.status, 402, "{path}");
        }
    }
    assert_eq!(session_count(&app, &ada).await, 10);
}

#[tokio::test]
async fn an_idempotency_key_is_honoured_on_every_spelling_of_the_path() {
    let app = spawn_app().await;
    let ada = app.register("ada@example.com").await;
    let first = post_session_raw(&app, "/api/v1/sessions", &ada.access, Some("k-1")).await;
    assert_eq!(first.status, 201);
    for path in ROUTED {
        let again = post_session_raw(&app, path, &ada.access, Some("k-1")).await;
        assert_eq!(again.status, 201, "{path}");
        assert_eq!(again.header("idempotent-replayed"), Some("true"), "{path}");
        let (a, b): (Value, Value) =
            (serde_json::from_str(&first.body).unwrap(), serde_json::from_str(&again.body).unwrap());
        assert_eq!(a["id"], b["id"], "{path}");
    }
    assert_eq!(runs_used(&app, &ada).await, 1);
}

#[tokio::test]
async fn a_path_below_a_metered_route_is_not_charged_and_gets_405_or_404() {
    for table in
        ["POST /api/v1/sessions", "POST /api/v1/sessions, POST /api/v1/sessions/*, POST /api/v1/sessions/**"]
    {
        let app = spawn_app_with(&[("TOLLGATE_METERED_ROUTES", table)]).await;
        let ada = app.register("ada@example.com").await;
        let res = app.post("/api/v1/sessions/abc", Some(&ada.access), json!({})).await;
        let allow = res.headers().get("allow").map(|v| v.to_str().unwrap().to_owned());
        problem(res, StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED").await;
        assert_eq!(allow.as_deref(), Some("GET, DELETE"));
        let res = app.post("/api/v1/sessions/abc/def", Some(&ada.access), json!({})).await;
        problem(res, StatusCode::NOT_FOUND, "NOT_FOUND").await;
        assert_eq!(runs_used(&app, &ada).await, 0, "{table}");
    }
}

#[tokio::test]
async fn a_route_cost_from_the_table_is_what_a_request_consumes() {
    let app = spawn_app_with(&[("TOLLGATE_METERED_ROUTES", "POST /api/v1/sessions=3")]).await;
    let ada = app.register("ada@example.com").await;
    for _ in 0..3 {
        assert_eq!(app.create_session(&ada.access).await.status(), StatusCode::CREATED);
    }
    assert_eq!(runs_used(&app, &ada).await, 9);
    let refused = app.create_session(&ada.access).await;
    problem(refused, StatusCode::PAYMENT_REQUIRED, "SUBSCRIPTION_LIMIT_REACHED").await;
    assert_eq!(runs_used(&app, &ada).await, 9);
}

#[tokio::test]
async fn an_invalid_session_body_is_refused_before_any_run_is_consumed() {
    let app = spawn_app().await;
    let ada = app.register("ada@example.com").await;
    let huge = vec![b'a'; 10 * 1024 * 1024];
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        ("application/json", b"{\"title\": ".to_vec(), 400),
        ("application/json", b"{\"title\": 5}".to_vec(), 422),
        ("application/json", b"[1, 2]".to_vec(), 422),
        ("application/json", b"\"text\"".to_vec(), 422),
        ("text/plain", b"{\"title\": \"x\"}".to_vec(), 415),
        ("application/json", b"{\"title\": \"\xff\xfe\"}".to_vec(), 400),
        ("application/json", huge, 413),
    ];
    for (media, body, status) in cases {
        let res = app
            .client
            .post(app.url("/api/v1/sessions"))
            .bearer_auth(&ada.access)
            .header("content-type", media)
            .body(body)
            .send()
            .await
            .expect("sent");
        assert_eq!(res.status().as_u16(), status, "{media}");
        let media_type = res.headers().get("content-type").unwrap().to_str().unwrap().to_owned();
        assert_eq!(media_type, "application/problem+json");
    }
    assert_eq!(runs_used(&app, &ada).await, 0);
    assert_eq!(session_count(&app, &ada).await, 0);
    // No body at all is a session without a title, and costs its run.
    let res = app.client.post(app.url("/api/v1/sessions")).bearer_auth(&ada.access).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(runs_used(&app, &ada).await, 1);
}

#[tokio::test]
async fn an_unreadable_optional_body_is_refused_not_treated_as_absent() {
    let app = spawn_app().await;
    let ada = app.register("ada@example.com").await;
    // Logout with a text/plain body: 415, and the refresh token is not revoked by accident.
    let res = app
        .client
        .post(app.url("/api/v1/auth/logout"))
        .bearer_auth(&ada.access)
        .header("content-type", "text/plain")
        .body(format!("{{\"refresh_token\": \"{}\"}}", ada.refresh))
        .send()
        .await
        .unwrap();
    problem(res, StatusCode::UNSUPPORTED_MEDIA_TYPE, "UNSUPPORTED_MEDIA_TYPE").await;
    // Broken JSON to the portal: 400, not "no return_url".
    let res = app
        .client
        .post(app.url("/api/v1/billing/create-portal-session"))
        .bearer_auth(&ada.access)
        .header("content-type", "application/json")
        .body("{\"return_url\": ")
        .send()
        .await
        .unwrap();
    problem(res, StatusCode::BAD_REQUEST, "MALFORMED_REQUEST").await;
    // The refresh token still works, and an empty logout is still a logout of nothing.
    let res = app.post("/api/v1/auth/refresh", None, json!({"refresh_token": ada.refresh})).await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = app.client.post(app.url("/api/v1/auth/logout")).bearer_auth(&ada.access).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn an_idempotency_key_reused_with_another_body_is_refused() {
    let app = spawn_app().await;
    let ada = app.register("ada@example.com").await;
    let send = |title: &'static str| {
        app.client
            .post(app.url("/api/v1/sessions"))
            .bearer_auth(&ada.access)
            .header("idempotency-key", "order-1")
            .json(&json!({"title": title}))
            .send()
    };
    assert_eq!(send("first").await.unwrap().status(), StatusCode::CREATED);
    let replay = send("first").await.unwrap();
    assert_eq!(replay.status(), StatusCode::CREATED);
    assert_eq!(replay.headers().get("idempotent-replayed").unwrap(), "true");
    problem(send("second").await.unwrap(), StatusCode::UNPROCESSABLE_ENTITY, "IDEMPOTENCY_KEY_MISMATCH")
        .await;
    // The same request spelled differently is the same request.
    let spelled = app
        .client
        .post(app.url("/api/v1/sessions"))
        .bearer_auth(&ada.access)
        .header("idempotency-key", "order-1")
        .header("content-type", "application/json")
        .body("{ \"title\" :\"first\" }")
        .send()
        .await
        .unwrap();
    assert_eq!(spelled.status(), StatusCode::CREATED);
    assert_eq!(runs_used(&app, &ada).await, 1);
}

#[tokio::test]
async fn an_idempotency_key_reused_with_another_body_on_an_upfront_metered_route_is_refused() {
    let table = "POST /api/v1/sessions, POST /api/v1/auth/logout=2";
    let app = spawn_app_with(&[("TOLLGATE_METERED_ROUTES", table)]).await;
    let ada = app.register("ada@example.com").await;
    let send = |body: Value| {
        app.client
            .post(app.url("/api/v1/auth/logout"))
            .bearer_auth(&ada.access)
            .header("idempotency-key", "logout-1")
            .json(&body)
            .send()
    };
    assert_eq!(send(json!({})).await.unwrap().status(), StatusCode::NO_CONTENT);
    let replay = send(json!({})).await.unwrap();
    assert_eq!(replay.status(), StatusCode::NO_CONTENT);
    assert_eq!(replay.headers().get("idempotent-replayed").unwrap(), "true");
    let other = send(json!({"refresh_token": "x"})).await.unwrap();
    problem(other, StatusCode::UNPROCESSABLE_ENTITY, "IDEMPOTENCY_KEY_MISMATCH").await;
    assert_eq!(runs_used(&app, &ada).await, 2);
}

#[tokio::test]
async fn a_signature_header_with_more_than_eight_v1_values_is_refused() {
    let settings = crate::stripe_events::stripe_settings("http://127.0.0.1:9");
    let pairs: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = spawn_app_with(&pairs).await;
    let body = r#"{"id":"evt_1","type":"ping","created":1,"data":{"object":{}}}"#;
    let now = app.clock_now().unix_timestamp();
    let good = tollgate_stripe::signature::sign(
        body.as_bytes(),
        crate::stripe_events::WEBHOOK_SECRET.as_bytes(),
        now,
    );
    let v1 = good.split_once("v1=").unwrap().1;
    let send = |fillers: usize| {
        let header = format!("t={now}{},v1={v1}", format!(",v1={}", "00".repeat(32)).repeat(fillers));
        app.client
            .post(app.url("/api/v1/billing/webhook"))
            .header("stripe-signature", header)
            .body(body)
            .send()
    };
    assert_eq!(send(7).await.unwrap().status(), StatusCode::OK);
    problem(send(8).await.unwrap(), StatusCode::BAD_REQUEST, "INVALID_SIGNATURE").await;
    problem(send(1000).await.unwrap(), StatusCode::BAD_REQUEST, "INVALID_SIGNATURE").await;
}

fn client_from(address: IpAddr) -> reqwest::Client {
    reqwest::Client::builder().local_address(address).build().expect("client")
}

#[tokio::test]
async fn someone_elses_failed_logins_never_lock_the_right_password_out_from_another_address() {
    let app = spawn_app_with(&[("TOLLGATE_AUTH_RATE_PER_MINUTE", "5")]).await;
    app.register("ada@example.com").await;
    let attacker = client_from([127, 0, 1, 2].into());
    let login = |client: &reqwest::Client, password: &str| {
        client
            .post(app.url("/api/v1/auth/login"))
            .json(&json!({"email": "ada@example.com", "password": password}))
            .send()
    };
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(login(&attacker, "wrong password").await.unwrap().status());
    }
    assert_eq!(statuses[..4], [StatusCode::UNAUTHORIZED; 4]);
    assert_eq!(*statuses.last().unwrap(), StatusCode::TOO_MANY_REQUESTS, "{statuses:?}");
    // The attacker's address is locked out of this email, even with the right password…
    let locked = login(&attacker, "correct horse").await.unwrap();
    assert!(locked.headers().get("retry-after").is_some());
    problem(locked, StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED").await;
    // …while Ada, from her own address, signs in.
    let ada = client_from([127, 0, 1, 3].into());
    assert_eq!(login(&ada, "correct horse").await.unwrap().status(), StatusCode::OK);
}

#[tokio::test]
async fn two_tabs_refreshing_at_once_stay_signed_in() {
    let app = spawn_app().await;
    let ada = app.register("ada@example.com").await;
    let refresh = || app.post("/api/v1/auth/refresh", None, json!({"refresh_token": ada.refresh}));
    let (a, b) = tokio::join!(refresh(), refresh());
    let mut answers = vec![a, b];
    answers.sort_by_key(|r| r.status());
    let loser = answers.pop().unwrap();
    let winner = answers.pop().unwrap();
    assert_eq!(winner.status(), StatusCode::OK);
    problem(loser, StatusCode::UNAUTHORIZED, "REFRESH_TOKEN_ROTATED").await;
    // Nothing was revoked: the winner's tokens keep working.
    let tokens: Value = winner.json().await.unwrap();
    let next =
        app.post("/api/v1/auth/refresh", None, json!({"refresh_token": tokens["refresh_token"]})).await;
    assert_eq!(next.status(), StatusCode::OK);
}

#[tokio::test]
async fn token_answers_are_not_cached_and_every_answer_is_nosniff() {
    let app = spawn_app().await;
    let res = app
        .post(
            "/api/v1/auth/register",
            None,
            json!({"fullname": "Ada", "email": "ada@example.com", "password": "correct horse"}),
        )
        .await;
    assert_eq!(res.headers().get("cache-control").unwrap(), "no-store");
    let body: Value = res.json().await.unwrap();
    let login = app
        .post("/api/v1/auth/login", None, json!({"email": "ada@example.com", "password": "correct horse"}))
        .await;
    assert_eq!(login.headers().get("cache-control").unwrap(), "no-store");
    let refresh =
        app.post("/api/v1/auth/refresh", None, json!({"refresh_token": body["refresh_token"]})).await;
    assert_eq!(refresh.headers().get("cache-control").unwrap(), "no-store");
    for path in ["/health", "/api/v1/openapi.json", "/api/v1/nope", "/api/v1/auth/me"] {
        let res = app.get(path, None).await;
        assert_eq!(res.headers().get("x-content-type-options").unwrap(), "nosniff", "{path}");
        assert!(res.headers().get("strict-transport-security").is_none(), "no HSTS in dev");
    }
}

#[tokio::test]
async fn production_answers_carry_hsts() {
    let app = spawn_app_with(&[("TOLLGATE_ENV", "production")]).await;
    for path in ["/health", "/api/v1/nope"] {
        let res = app.get(path, None).await;
        let hsts = res.headers().get("strict-transport-security").expect("HSTS").to_str().unwrap();
        assert!(hsts.starts_with("max-age="), "{hsts}");
    }
}

#[tokio::test]
async fn every_error_is_problem_json_including_the_ones_actix_and_cors_make() {
    let settings = crate::stripe_events::stripe_settings("http://127.0.0.1:9");
    let pairs: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = spawn_app_with(&pairs).await;
    // Unknown route.
    problem(app.get("/api/v1/nope", None).await, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    // Wrong method on a known route: 405 with Allow.
    let res = app.request(reqwest::Method::DELETE, "/api/v1/sessions", None, None).await;
    assert_eq!(res.headers().get("allow").unwrap(), "POST, GET");
    problem(res, StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED").await;
    let res = app.request(reqwest::Method::PUT, "/health", None, None).await;
    assert_eq!(res.headers().get("allow").unwrap(), "GET");
    problem(res, StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED").await;
    // The webhook's body limit.
    let big = vec![b'x'; 1024 * 1024 + 1];
    let res = app
        .client
        .post(app.url("/api/v1/billing/webhook"))
        .header("stripe-signature", "t=1,v1=00")
        .body(big)
        .send()
        .await
        .unwrap();
    problem(res, StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE").await;
    // A CORS refusal (an origin not configured).
    let res = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/api/v1/sessions"))
        .header("origin", "https://evil.example")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    problem(res, StatusCode::BAD_REQUEST, "CORS_REFUSED").await;
    // A 402 carries the quota headers.
    let ada = app.register("ada@example.com").await;
    for _ in 0..10 {
        assert_eq!(app.create_session(&ada.access).await.status(), StatusCode::CREATED);
    }
    let refused = app.create_session(&ada.access).await;
    assert_eq!(refused.headers().get("ratelimit-limit").unwrap(), "10");
    assert_eq!(refused.headers().get("ratelimit-remaining").unwrap(), "0");
    assert!(refused.headers().get("ratelimit-reset").is_some());
    problem(refused, StatusCode::PAYMENT_REQUIRED, "SUBSCRIPTION_LIMIT_REACHED").await;
}

#[tokio::test]
async fn a_stalled_request_body_is_cut_and_charges_nothing() {
    let app = spawn_app_with(&[("TOLLGATE_BODY_TIMEOUT_SECS", "1")]).await;
    let ada = app.register("ada@example.com").await;
    let started = std::time::Instant::now();
    // Announces 100 bytes, sends 10, then nothing.
    let head = format!(
        "POST /api/v1/sessions HTTP/1.1\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: 100",
        ada.access
    );
    let res = app.raw(&head, b"{\"title\": ").await;
    assert_eq!(res.status, 408, "{res:?}");
    assert_eq!(res.header("content-type"), Some("application/problem+json"));
    assert!(res.body.contains("REQUEST_TIMEOUT"), "{}", res.body);
    // `raw` reads until the server closes: the connection was cut, long before a minute.
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    assert_eq!(runs_used(&app, &ada).await, 0);
}

#[tokio::test]
async fn checkout_is_rate_limited_per_user_and_keeps_the_session_id_template() {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let stripe = MockServer::start().await;
    let fixture = |name: &str| -> Value {
        let path = format!("{}/../adapters/stripe/fixtures/{name}.json", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    };
    for (route, name) in [("/v1/customers", "customer"), ("/v1/checkout/sessions", "checkout.session")] {
        Mock::given(method("POST"))
            .and(path(route))
            .respond_with(ResponseTemplate::new(200).set_body_json(fixture(name)))
            .mount(&stripe)
            .await;
    }
    let mut settings = crate::stripe_events::stripe_settings(&stripe.uri());
    settings.push(("TOLLGATE_CHECKOUT_RATE_PER_MINUTE", "2".to_owned()));
    let pairs: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = spawn_app_with(&pairs).await;
    let ada = app.register("ada@example.com").await;
    let grace = app.register("grace@example.com").await;
    let success = "http://localhost:3000/thanks/{CHECKOUT_SESSION_ID}?id={CHECKOUT_SESSION_ID}";
    let checkout = |token: String| {
        let app = &app;
        async move {
            app.post(
                "/api/v1/billing/create-checkout-session",
                Some(&token),
                json!({"plan": "basic", "success_url": success}),
            )
            .await
        }
    };
    assert_eq!(checkout(ada.access.clone()).await.status(), StatusCode::OK);
    assert_eq!(checkout(ada.access.clone()).await.status(), StatusCode::OK);
    let limited = checkout(ada.access.clone()).await;
    assert!(limited.headers().get("retry-after").is_some());
    problem(limited, StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED").await;
    // Another user is not affected (the mock has one customer, so Grace asks for a plan that
    // cannot be bought: she gets past the limit to the plan check).
    let res = app
        .post("/api/v1/billing/create-checkout-session", Some(&grace.access), json!({"plan": "free"}))
        .await;
    problem(res, StatusCode::BAD_REQUEST, "INVALID_PLAN").await;
    // Stripe received the template exactly as written, so it can substitute the session id.
    let requests = stripe.received_requests().await.unwrap();
    let form = requests.iter().find(|r| r.url.path() == "/v1/checkout/sessions").expect("checkout sent");
    let params: Vec<(String, String)> = url::form_urlencoded::parse(&form.body).into_owned().collect();
    let sent = params.iter().find(|(k, _)| k == "success_url").map(|(_, v)| v.as_str());
    assert_eq!(sent, Some(success));
}

#[tokio::test]
async fn a_subscription_that_was_never_paid_gets_no_paid_limit_in_a_grace_window() {
    let settings = crate::stripe_events::stripe_settings("http://127.0.0.1:9");
    let pairs: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = spawn_app_with(&pairs).await;
    let ada = app.register("ada@example.com").await;
    let billing = crate::stripe_events::Billing::for_account(&app, &ada).await;
    let t0 = billing.t0;
    let pro = crate::stripe_events::PRICE_PRO;
    let past_due = billing.subscription("customer.subscription.created", t0, "past_due", pro, t0, false);
    let res = app.deliver(&past_due).await;
    problem(res, StatusCode::CONFLICT, "EVENT_OUT_OF_ORDER").await;
    let sub = app.subscription(&ada.access).await;
    assert_eq!((sub["plan"].as_str(), sub["monthly_agent_runs_limit"].as_u64()), (Some("free"), Some(10)));
    // Once Stripe reports it active, a later past_due keeps the paid plan within grace.
    let active = billing.subscription("customer.subscription.updated", t0 + 1, "active", pro, t0, false);
    assert_eq!(app.deliver_status(&active).await, "processed");
    let late = billing.subscription("customer.subscription.updated", t0 + 2, "past_due", pro, t0, false);
    assert_eq!(app.deliver_status(&late).await, "processed");
    let sub = app.subscription(&ada.access).await;
    assert_eq!((sub["plan"].as_str(), sub["status"].as_str()), (Some("pro"), Some("past_due")));
    assert_eq!(app.create_session(&ada.access).await.status(), StatusCode::CREATED);
}
