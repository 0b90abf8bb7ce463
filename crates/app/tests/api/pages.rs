//! The billing pages over plain HTTP (the browser flow is `api::browser`): cookies, CSRF, errors
//! as pages, security headers, and who may see what.

use reqwest::header::{HeaderMap, CONTENT_TYPE, LOCATION, SET_COOKIE};
use reqwest::{redirect, Response, StatusCode};
use serde_json::json;

use crate::helpers::{spawn_app, spawn_app_with, TestApp};

/// A client that keeps no cookies and follows no redirects: each test says what it sends.
fn client() -> reqwest::Client {
    reqwest::Client::builder().redirect(redirect::Policy::none()).build().expect("client")
}

/// `name=value` of the `Set-Cookie` named `name`, and the whole header.
fn set_cookie(headers: &HeaderMap, name: &str) -> Option<(String, String)> {
    headers.get_all(SET_COOKIE).iter().filter_map(|v| v.to_str().ok()).find_map(|v| {
        let pair = v.split(';').next()?;
        let (n, value) = pair.split_once('=')?;
        (n == name).then(|| (value.to_owned(), v.to_owned()))
    })
}

fn csrf_field(html: &str) -> String {
    let start = html.find("name=\"csrf\" value=\"").expect("a csrf field") + "name=\"csrf\" value=\"".len();
    html[start..].split('"').next().expect("value").to_owned()
}

/// A visitor: the CSRF cookie and the form token of the sign-in page.
async fn visit(app: &TestApp) -> (String, String) {
    let res = client().get(app.url("/")).send().await.expect("sent");
    assert_eq!(res.status(), StatusCode::OK);
    let (nonce, _) = set_cookie(res.headers(), "tollgate_csrf").expect("a csrf cookie");
    let token = csrf_field(&res.text().await.expect("html"));
    (nonce, token)
}

async fn post_form(app: &TestApp, path: &str, cookies: &str, form: &[(&str, &str)]) -> Response {
    client().post(app.url(path)).header("cookie", cookies).form(form).send().await.expect("sent")
}

async fn sign_up(app: &TestApp, email: &str) -> (String, String, String) {
    let (nonce, token) = visit(app).await;
    let cookies = format!("tollgate_csrf={nonce}");
    let form = [
        ("csrf", token.as_str()),
        ("fullname", "Ada Lovelace"),
        ("email", email),
        ("password", "correct horse"),
    ];
    let res = post_form(app, "/signup", &cookies, &form).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()[LOCATION], "/account/billing");
    let (session, _) = set_cookie(res.headers(), "tollgate_session").expect("a session cookie");
    (nonce, token, session)
}

fn is_page(res: &Response) {
    let media = res.headers()[CONTENT_TYPE].to_str().expect("ascii");
    assert!(media.starts_with("text/html"), "{media}");
}

#[tokio::test]
async fn pages_carry_the_security_headers_and_a_strict_csp() {
    let app = spawn_app().await;
    let res = client().get(app.url("/")).send().await.expect("sent");
    is_page(&res);
    let h = res.headers();
    let csp = h["content-security-policy"].to_str().expect("ascii");
    for directive in
        ["default-src 'none'", "style-src 'self'", "frame-ancestors 'none'", "form-action 'self'"]
    {
        assert!(csp.contains(directive), "{csp}");
    }
    assert!(!csp.contains("script-src"), "no scripts at all: {csp}");
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["referrer-policy"], "same-origin");
    assert_eq!(h["cache-control"], "no-store");
    let (_, cookie) = set_cookie(h, "tollgate_csrf").expect("csrf cookie");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && !cookie.contains("Secure"),
        "{cookie}"
    );
    let css = client().get(app.url("/assets/tollgate.css")).send().await.expect("sent");
    assert_eq!(css.headers()[CONTENT_TYPE], "text/css; charset=utf-8");
}

#[tokio::test]
async fn a_form_without_its_csrf_token_changes_nothing() {
    let app = spawn_app().await;
    let (nonce, token) = visit(&app).await;
    let (other_nonce, _) = visit(&app).await;
    for (cookies, csrf) in [
        (String::new(), token.clone()),                            // no cookie
        (format!("tollgate_csrf={nonce}"), String::new()),         // no token
        (format!("tollgate_csrf={other_nonce}"), token.clone()),   // another visitor's token
        (format!("tollgate_csrf={nonce}"), "forged-token".into()), // a made-up token
    ] {
        let form = [
            ("csrf", csrf.as_str()),
            ("fullname", "Ada Lovelace"),
            ("email", "ada@example.com"),
            ("password", "correct horse"),
        ];
        let res = post_form(&app, "/signup", &cookies, &form).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
        is_page(&res);
        assert!(set_cookie(res.headers(), "tollgate_session").is_none());
        assert!(res.text().await.expect("html").contains("The form had expired"));
    }
    // No account was made.
    let login = app
        .post("/api/v1/auth/login", None, json!({"email": "ada@example.com", "password": "correct horse"}))
        .await;
    assert_eq!(login.status(), StatusCode::UNAUTHORIZED);

    // A signed-in user's actions need the token too.
    let (nonce, _, session) = sign_up(&app, "ada@example.com").await;
    let cookies = format!("tollgate_csrf={nonce}; tollgate_session={session}");
    let res = post_form(&app, "/account/billing/trial", &cookies, &[("csrf", "forged")]).await;
    assert_eq!(res.headers()[LOCATION], "/account/billing?error=csrf");
    let page =
        client().get(app.url("/account/billing")).header("cookie", &cookies).send().await.expect("sent");
    assert!(page.text().await.expect("html").contains("id=\"start-trial\""), "the trial did not start");
}

#[tokio::test]
async fn errors_are_messages_on_the_page_never_json() {
    let app = spawn_app().await;
    sign_up(&app, "ada@example.com").await;
    let (nonce, token) = visit(&app).await;
    let cookies = format!("tollgate_csrf={nonce}");
    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, StatusCode, &'a str);
    let cases: [Case; 3] = [
        (
            "/signin",
            vec![("email", "ada@example.com"), ("password", "wrong password")],
            StatusCode::UNAUTHORIZED,
            "The email or the password is wrong.",
        ),
        (
            "/signup",
            vec![("fullname", "Ada"), ("email", "ada@example.com"), ("password", "correct horse")],
            StatusCode::CONFLICT,
            "already exists",
        ),
        (
            "/signup",
            vec![("fullname", ""), ("email", "not an email"), ("password", "short")],
            StatusCode::UNPROCESSABLE_ENTITY,
            "Password:",
        ),
    ];
    for (path, fields, status, message) in cases {
        let mut form = vec![("csrf", token.as_str())];
        form.extend(fields);
        let res = post_form(&app, path, &cookies, &form).await;
        assert_eq!(res.status(), status, "{path}");
        is_page(&res);
        let html = res.text().await.expect("html");
        assert!(html.contains(message) && html.contains("role=\"alert\""), "{html}");
        // What the visitor typed is kept (escaped), never the password.
        assert!(!html.contains("wrong password") && !html.contains("correct horse"));
    }
    // Error codes in the URL show fixed messages; anything else shows nothing.
    let page = client().get(app.url("/?error=%3Cscript%3E")).send().await.expect("sent");
    assert!(!page.text().await.expect("html").contains("<script"));
}

#[tokio::test]
async fn the_billing_page_needs_a_current_session_and_sign_out_ends_it() {
    let app = spawn_app().await;
    let res = client().get(app.url("/account/billing")).send().await.expect("sent");
    assert_eq!(
        (res.status(), res.headers()[LOCATION].to_str().expect("ascii")),
        (StatusCode::SEE_OTHER, "/")
    );
    let (nonce, token, session) = sign_up(&app, "ada@example.com").await;
    let cookies = format!("tollgate_csrf={nonce}; tollgate_session={session}");
    let page =
        client().get(app.url("/account/billing")).header("cookie", &cookies).send().await.expect("sent");
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.expect("html").contains("ada@example.com"));
    // A made-up session is no session.
    let forged = client()
        .get(app.url("/account/billing"))
        .header("cookie", "tollgate_session=abc")
        .send()
        .await
        .expect("sent");
    assert_eq!(forged.status(), StatusCode::SEE_OTHER);
    // The session cookie is a refresh token of its own family: refreshing it through the API
    // rotates it, and the page no longer opens with the old one.
    // Sign out with the billing page's form token (tokens are bound to the session).
    let stale = post_form(&app, "/signout", &cookies, &[("csrf", token.as_str())]).await;
    assert_eq!(stale.headers()[LOCATION], "/account/billing?error=csrf", "the signed-out page's token");
    let page =
        client().get(app.url("/account/billing")).header("cookie", &cookies).send().await.expect("sent");
    let token = csrf_field(&page.text().await.expect("html"));
    let out = post_form(&app, "/signout", &cookies, &[("csrf", token.as_str())]).await;
    assert_eq!(out.headers()[LOCATION], "/?notice=signed_out");
    let (cleared, header) = set_cookie(out.headers(), "tollgate_session").expect("cleared");
    assert!(cleared.is_empty() && header.contains("Max-Age=0"), "{header}");
    let after =
        client().get(app.url("/account/billing")).header("cookie", &cookies).send().await.expect("sent");
    assert_eq!(after.status(), StatusCode::SEE_OTHER, "the family is revoked");
    let refresh = app.post("/api/v1/auth/refresh", None, json!({"refresh_token": session})).await;
    assert_eq!(refresh.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn production_cookies_are_secure_and_host_prefixed() {
    let app = spawn_app_with(&[("TOLLGATE_ENV", "production")]).await;
    let res = client().get(app.url("/")).send().await.expect("sent");
    let (_, cookie) = set_cookie(res.headers(), "__Host-tollgate_csrf").expect("a __Host- csrf cookie");
    assert!(
        cookie.contains("Secure") && cookie.contains("HttpOnly") && cookie.contains("Path=/"),
        "{cookie}"
    );
}

#[tokio::test]
async fn a_token_made_for_another_session_is_refused() {
    let app = spawn_app().await;
    // An attacker's own cookie and token, made without a session, planted next to the victim's
    // session cookie: not the token of the victim's cookies.
    let (planted_nonce, planted_token) = visit(&app).await;
    let (_, _, victim_session) = sign_up(&app, "ada@example.com").await;
    let cookies = format!("tollgate_csrf={planted_nonce}; tollgate_session={victim_session}");
    let res = post_form(&app, "/account/billing/trial", &cookies, &[("csrf", planted_token.as_str())]).await;
    assert_eq!(res.headers()[LOCATION], "/account/billing?error=csrf");
    // The billing page's own token (made for these cookies) is accepted.
    let page =
        client().get(app.url("/account/billing")).header("cookie", &cookies).send().await.expect("sent");
    let token = csrf_field(&page.text().await.expect("html"));
    let res = post_form(&app, "/account/billing/trial", &cookies, &[("csrf", token.as_str())]).await;
    assert_eq!(res.headers()[LOCATION], "/account/billing?notice=trial");
}

#[tokio::test]
async fn odd_requests_to_pages_get_pages_not_json() {
    let app = spawn_app().await;
    let http = client();
    let get = |path: &str| http.get(app.url(path)).send();
    // A repeated query parameter reads as no message, not a 422.
    let res = get("/?error=csrf&error=signed_out").await.expect("sent");
    assert_eq!(res.status(), StatusCode::OK);
    is_page(&res);
    // HEAD answers like GET.
    let head = http.head(app.url("/")).send().await.expect("sent");
    assert_eq!(head.status(), StatusCode::OK);
    let css = http.head(app.url("/assets/tollgate.css")).send().await.expect("sent");
    assert_eq!(css.status(), StatusCode::OK);
    // Wrong methods: 405 pages with `Allow`; unknown pages: 404 pages.
    let wrong = get("/signin").await.expect("sent");
    assert_eq!(wrong.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(wrong.headers()["allow"], "POST");
    is_page(&wrong);
    let put = http.put(app.url("/account/billing")).send().await.expect("sent");
    assert_eq!(
        (put.status(), put.headers()["allow"].to_str().expect("ascii")),
        (StatusCode::METHOD_NOT_ALLOWED, "GET, HEAD")
    );
    for path in ["/account/nope", "/assets/nope.css"] {
        let res = get(path).await.expect("sent");
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{path}");
        is_page(&res);
    }
    // A form past 16 KiB: a 413 page, nothing done.
    let (nonce, token) = visit(&app).await;
    let big = "x".repeat(20 * 1024);
    let form = [
        ("csrf", token.as_str()),
        ("fullname", big.as_str()),
        ("email", "ada@example.com"),
        ("password", "correct horse"),
    ];
    let res = post_form(&app, "/signup", &format!("tollgate_csrf={nonce}"), &form).await;
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    is_page(&res);
    let login = app
        .post("/api/v1/auth/login", None, json!({"email": "ada@example.com", "password": "correct horse"}))
        .await;
    assert_eq!(login.status(), StatusCode::UNAUTHORIZED, "no account was made");
}
