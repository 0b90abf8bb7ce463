//! The billing pages in a real browser (SPEC §9): headless Chromium (Debian's `chromium` and
//! `chromium-driver`, installed by scripts/test.sh) driven over WebDriver with fantoccini, against
//! the real server on a socket and a Stripe mock. Screenshots of each step go to
//! `target/screenshots/pages/` (git-ignored).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use reqwest::StatusCode;
use serde_json::{json, Value};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{spawn_app_with, TestApp};
use crate::stripe_events::{stripe_settings, Billing, PRICE_PRO};

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("a port").local_addr().expect("addr").port()
}

fn fixture(name: &str) -> Value {
    let path = format!("{}/../adapters/stripe/fixtures/{name}.json", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("json")
}

/// chromedriver on a port of its own, stopped on drop.
struct Driver {
    child: Child,
    port: u16,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn chromedriver() -> Option<Driver> {
    let binary = ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists());
    let Some(binary) = binary else {
        assert!(!in_ci(), "chromedriver is not installed (scripts/test.sh installs chromium-driver)");
        eprintln!("SKIPPED: chromedriver not installed; run scripts/test.sh");
        return None;
    };
    let port = free_port();
    let child = Command::new(binary)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    Some(Driver { child, port })
}

async fn browser(driver: &Driver) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({"args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                        "--window-size=1280,1000", "--hide-scrollbars", "--force-color-profile=srgb"]}),
    );
    let url = format!("http://127.0.0.1:{}", driver.port);
    for _ in 0..100 {
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        if let Ok(client) = ClientBuilder::new(connector).capabilities(caps.clone()).connect(&url).await {
            return client;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromedriver did not answer on {url}");
}

struct Shots {
    dir: PathBuf,
}

impl Shots {
    fn new() -> Self {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots/pages");
        std::fs::create_dir_all(&dir).expect("screenshot folder");
        Self { dir }
    }

    async fn take(&self, browser: &Client, name: &str) {
        let png = browser.screenshot().await.expect("screenshot");
        std::fs::write(self.dir.join(format!("{name}.png")), png).expect("saved");
    }
}

/// The element's text. A page that refreshes itself may replace the element between finding
/// and reading it: then it is found again.
async fn text(browser: &Client, css: &str) -> String {
    let mut last = String::new();
    for _ in 0..20 {
        match browser.find(Locator::Css(css)).await {
            Ok(element) => match element.text().await {
                Ok(text) => return text,
                Err(e) => last = e.to_string(),
            },
            Err(e) => last = e.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{css}: {last}");
}

async fn present(browser: &Client, css: &str) -> bool {
    browser.find(Locator::Css(css)).await.is_ok()
}

/// Clicks a submit button and waits until the next page has replaced this one.
async fn click(browser: &Client, css: &str) {
    let page = browser.find(Locator::Css("html")).await.expect("a page");
    browser
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .click()
        .await
        .expect("clicked");
    for _ in 0..100 {
        // The old page's root goes stale once the browser has navigated.
        if page.tag_name().await.is_err() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("clicking {css} did not lead to another page");
}

async fn fill(browser: &Client, css: &str, value: &str) {
    browser
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .send_keys(value)
        .await
        .expect("typed");
}

/// Runs through the API with the user's own token, as their agent backend would.
async fn use_runs(app: &TestApp, token: &str, n: usize) {
    for _ in 0..n {
        assert_eq!(app.create_session(token).await.status(), StatusCode::CREATED);
    }
}

/// A Stripe mock: a customer, and a Checkout session whose page the mock serves itself.
async fn stripe_with_checkout_page() -> (MockServer, Value) {
    let stripe = MockServer::start().await;
    let mut session = fixture("checkout.session");
    session["url"] = json!(format!("{}/c/pay/cs_test_browser", stripe.uri()));
    let customer = fixture("customer");
    Mock::given(method("POST"))
        .and(path("/v1/customers"))
        .respond_with(ResponseTemplate::new(200).set_body_json(customer.clone()))
        .mount(&stripe)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(session))
        .mount(&stripe)
        .await;
    Mock::given(method("GET"))
        .and(path_regex("^/c/pay/"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            "<!doctype html><title>Checkout</title><h1 id=\"stripe-checkout\">Stripe Checkout (mock)</h1>",
            "text/html",
        ))
        .mount(&stripe)
        .await;
    (stripe, customer)
}

/// The app on a port of its own, its origin allowed as Checkout's return address.
async fn spawn_on_own_origin(stripe: &MockServer) -> (TestApp, String) {
    let port = free_port();
    let origin = format!("http://127.0.0.1:{port}");
    let mut settings = stripe_settings(&stripe.uri());
    settings.push(("TOLLGATE_LISTEN", format!("127.0.0.1:{port}")));
    settings.push(("TOLLGATE_ALLOWED_REDIRECT_ORIGINS", origin.clone()));
    let pairs: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = spawn_app_with(&pairs).await;
    assert_eq!(app.address, origin);
    (app, origin)
}

/// The `success_url` of the Checkout session the app asked Stripe for.
async fn sent_success_url(stripe: &MockServer) -> String {
    let sent = stripe.received_requests().await.expect("recorded");
    let form = sent.iter().find(|r| r.url.path() == "/v1/checkout/sessions").expect("a checkout session");
    url::form_urlencoded::parse(&form.body)
        .find(|(k, _)| k == "success_url")
        .map(|(_, v)| v.into_owned())
        .expect("success_url")
}

/// Whether the page is no wider than the window (it does not scroll sideways).
async fn fits_the_window(b: &Client) -> bool {
    let fits = b
        .execute("return document.documentElement.scrollWidth <= window.innerWidth", vec![])
        .await
        .expect("js");
    fits == json!(true)
}

/// The plan the page shows once it shows `expected` (it refreshes itself), or the last one seen
/// after 10 s.
async fn plan_within_10s(b: &Client, expected: &str) -> String {
    let mut plan = String::new();
    for _ in 0..40 {
        plan = text(b, "#plan-name").await;
        if plan == expected {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    plan
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_signs_up_watches_the_meter_starts_the_trial_and_upgrades_to_pro() {
    let Some(driver) = chromedriver() else { return };
    let (stripe, customer) = stripe_with_checkout_page().await;
    let (app, origin) = spawn_on_own_origin(&stripe).await;

    let b = browser(&driver).await;
    let shots = Shots::new();

    // Sign up.
    b.goto(&format!("{origin}/")).await.expect("opened");
    shots.take(&b, "01-sign-in").await;
    fill(&b, "#signup-name", "Ada Lovelace").await;
    fill(&b, "#signup-email", "ada@example.com").await;
    fill(&b, "#signup-password", "correct horse").await;
    click(&b, "#signup-form button").await;
    assert_eq!(b.current_url().await.expect("url").path(), "/account/billing");
    assert_eq!(text(&b, "#plan-name").await, "Free");
    assert_eq!((text(&b, "#runs-used").await, text(&b, "#runs-limit").await), ("0".into(), "10".into()));
    shots.take(&b, "02-free-meter").await;

    // The user's agent uses runs through the API; the meter and the chart move.
    let login = app
        .post("/api/v1/auth/login", None, json!({"email": "ada@example.com", "password": "correct horse"}))
        .await;
    let signed: Value = login.json().await.expect("json");
    let token = signed["access_token"].as_str().expect("token").to_owned();
    let user_id = signed["user"]["id"].as_str().expect("id").to_owned();
    use_runs(&app, &token, 3).await;
    b.refresh().await.expect("reloaded");
    assert_eq!(text(&b, "#runs-used").await, "3");
    let chart = b.find(Locator::Css("svg.chart")).await.expect("chart").html(false).await.expect("svg");
    assert!(chart.contains(": 3 runs</title>"), "today's bar: {chart}");
    shots.take(&b, "03-meter-moved").await;

    // At the limit the page explains and offers the upgrade.
    use_runs(&app, &token, 7).await;
    assert_eq!(app.create_session(&token).await.status(), StatusCode::PAYMENT_REQUIRED);
    b.refresh().await.expect("reloaded");
    let explained = text(&b, "#limit-reached").await;
    assert!(explained.contains("used all 10 runs") && explained.contains("upgrade"), "{explained}");
    assert!(present(&b, "#upgrade-pro").await && present(&b, "#upgrade-basic").await);
    shots.take(&b, "04-at-limit").await;

    // The trial: 50 runs.
    click(&b, "#start-trial").await;
    assert_eq!(text(&b, "#plan-name").await, "Trial");
    assert_eq!((text(&b, "#runs-used").await, text(&b, "#runs-limit").await), ("0".into(), "50".into()));
    assert!(!present(&b, "#start-trial").await, "the trial is offered once");
    shots.take(&b, "05-trial").await;

    // Usable at 375 px: nothing wider than the window.
    b.set_window_size(375, 900).await.expect("resized");
    assert!(fits_the_window(&b).await, "the billing page scrolls sideways at 375 px");
    shots.take(&b, "06-billing-375").await;
    b.set_window_size(1280, 1000).await.expect("resized");

    // Upgrade: to Stripe Checkout (the mock's page), with return URLs on this origin.
    click(&b, "#upgrade-pro").await;
    let at = b.current_url().await.expect("url");
    assert_eq!(at.as_str(), format!("{}/c/pay/cs_test_browser", stripe.uri()));
    assert_eq!(text(&b, "#stripe-checkout").await, "Stripe Checkout (mock)");
    shots.take(&b, "07-checkout").await;
    let success = format!("{origin}/account/billing?checkout=success&session_id={{CHECKOUT_SESSION_ID}}");
    assert_eq!(sent_success_url(&stripe).await, success);

    // Back from Checkout before the webhook: "processing", refreshing itself (no JavaScript).
    b.goto(&format!("{origin}/account/billing?checkout=success&session_id=cs_test_browser"))
        .await
        .expect("back");
    assert!(present(&b, "#processing").await);
    assert_eq!(text(&b, "#plan-name").await, "Trial");
    shots.take(&b, "08-processing").await;

    // Stripe's webhooks land; the page, refreshing by itself, shows Pro.
    let billing = Billing {
        customer: customer["id"].as_str().expect("id").to_owned(),
        subscription: "sub_browser_1".into(),
        t0: app.clock_now().unix_timestamp(),
        counter: std::cell::Cell::new(0),
    };
    let t = billing.t0;
    for event in [
        billing.checkout_completed(t, "pro", true),
        billing.subscription("customer.subscription.created", t + 1, "active", PRICE_PRO, t, false),
    ] {
        assert_eq!(app.deliver(&event).await.status(), StatusCode::OK, "{event}");
    }
    assert_eq!(plan_within_10s(&b, "Pro").await, "Pro", "the page never showed the new plan");
    assert!(!present(&b, "#processing").await);
    assert_eq!(text(&b, "#runs-limit").await, "5,000");
    assert!(present(&b, "#manage-billing").await);
    shots.take(&b, "09-pro").await;
    // A busier month through the service API (as an agent backend would), then the whole page
    // for docs/ and the README.
    let key = app.service_key("agents").await;
    let consumed = app
        .client
        .post(app.url("/api/v1/usage/consume"))
        .bearer_auth(&key)
        .json(&json!({"user_id": user_id, "runs": 1234, "reason": "nightly batch"}))
        .send()
        .await
        .expect("sent");
    assert_eq!(consumed.status(), StatusCode::OK);
    b.goto(&format!("{origin}/account/billing")).await.expect("opened");
    assert_eq!(text(&b, "#runs-used").await, "1,234");
    b.set_window_size(1280, 940).await.expect("resized");
    shots.take(&b, "billing-desktop").await;
    b.set_window_size(375, 812).await.expect("resized");
    shots.take(&b, "billing-375").await;

    // Sign out: back to the sign-in page, and the old session no longer opens the billing page.
    b.set_window_size(1280, 1000).await.expect("resized");
    click(&b, ".signout button").await;
    let out = b.current_url().await.expect("url");
    assert_eq!(out.path(), "/", "{out}");
    b.goto(&format!("{origin}/account/billing")).await.expect("opened");
    assert_eq!(b.current_url().await.expect("url").path(), "/");
    b.close().await.expect("closed");
}
