//! Accounts (SPEC §13) over HTTP: a team shares one pool, a member's cap holds, a stranger
//! learns nothing, invitations are single use, roles are enforced, and the last owner stays.

use reqwest::{Method, Response, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{problem, spawn_app, spawn_replica, Account, TestApp};

const ACCOUNT: &str = "X-Tollgate-Account";

impl TestApp {
    /// `method path` as `token`, acting for `account`.
    async fn as_account(
        &self,
        method: Method,
        path: &str,
        token: &str,
        account: &str,
        body: Option<Value>,
    ) -> Response {
        let mut req = self.client.request(method, self.url(path)).bearer_auth(token).header(ACCOUNT, account);
        if let Some(body) = body {
            req = req.json(&body);
        }
        req.send().await.expect("request sent")
    }

    async fn session_for(&self, token: &str, account: &str) -> Response {
        self.as_account(Method::POST, "/api/v1/sessions", token, account, Some(json!({"title": "team run"})))
            .await
    }

    /// An organisation made by `owner`: its id.
    async fn organisation(&self, owner: &Account, name: &str) -> String {
        let res = self.post("/api/v1/accounts", Some(&owner.access), json!({"name": name})).await;
        assert_eq!(res.status(), StatusCode::CREATED);
        let body: Value = res.json().await.expect("json");
        assert_eq!((body["kind"].as_str(), body["role"].as_str()), (Some("organisation"), Some("owner")));
        body["id"].as_str().expect("id").to_owned()
    }

    /// `who` invited to `account` by `by` in `role`, and accepted.
    async fn join(&self, account: &str, by: &Account, who: &Account, email: &str, role: &str) {
        let res = self
            .post(
                &format!("/api/v1/accounts/{account}/invitations"),
                Some(&by.access),
                json!({"email": email, "role": role}),
            )
            .await;
        assert_eq!(res.status(), StatusCode::CREATED);
        let invitation: Value = res.json().await.expect("json");
        let token = invitation["token"].as_str().expect("token");
        let res =
            self.post(&format!("/api/v1/invitations/{token}/accept"), Some(&who.access), json!({})).await;
        assert_eq!(res.status(), StatusCode::OK);
        let accepted: Value = res.json().await.expect("json");
        assert_eq!((accepted["account_id"].as_str(), accepted["role"].as_str()), (Some(account), Some(role)));
    }

    async fn set_cap(&self, account: &str, by: &Account, member: &Account, cap: Value) -> Response {
        self.request(
            Method::PATCH,
            &format!("/api/v1/accounts/{account}/members/{}", member.id),
            Some(&by.access),
            Some(json!({"runs_cap": cap})),
        )
        .await
    }

    async fn members(&self, account: &str, token: &str) -> Vec<Value> {
        let res = self.get(&format!("/api/v1/accounts/{account}/members"), Some(token)).await;
        assert_eq!(res.status(), StatusCode::OK);
        let body: Value = res.json().await.expect("json");
        body["members"].as_array().expect("members").clone()
    }
}

fn used_by(members: &[Value], user: &Account) -> u64 {
    members
        .iter()
        .find(|m| m["user_id"] == user.id.as_str())
        .and_then(|m| m["runs_used"].as_u64())
        .expect("a member")
}

/// The worked example of docs/accounts.md: a workspace of three on the free plan's 10 runs, one
/// member capped at 2.
#[tokio::test]
async fn a_team_shares_one_pool_and_a_capped_member_stops_at_their_cap() {
    let app = spawn_app().await;
    let (ada, bob, cyd) = (
        app.register("ada@example.com").await,
        app.register("bob@example.com").await,
        app.register("cyd@example.com").await,
    );
    let acme = app.organisation(&ada, "Acme").await;
    app.join(&acme, &ada, &bob, "bob@example.com", "admin").await;
    app.join(&acme, &bob, &cyd, "cyd@example.com", "member").await;
    let res = app.set_cap(&acme, &bob, &cyd, json!(2)).await;
    assert_eq!(res.status(), StatusCode::OK);

    for _ in 0..2 {
        assert_eq!(app.session_for(&cyd.access, &acme).await.status(), StatusCode::CREATED);
    }
    let capped = problem(
        app.session_for(&cyd.access, &acme).await,
        StatusCode::PAYMENT_REQUIRED,
        "MEMBER_CAP_REACHED",
    )
    .await;
    assert_eq!(capped["account_id"], acme.as_str());
    assert_eq!(capped["subscription"]["monthly_agent_runs"], 2, "the pool is shown: {capped}");
    for _ in 0..8 {
        assert_eq!(app.session_for(&bob.access, &acme).await.status(), StatusCode::CREATED);
    }
    let spent = problem(
        app.session_for(&ada.access, &acme).await,
        StatusCode::PAYMENT_REQUIRED,
        "SUBSCRIPTION_LIMIT_REACHED",
    )
    .await;
    assert_eq!(spent["account_id"], acme.as_str());

    let members = app.members(&acme, &cyd.access).await;
    assert_eq!((used_by(&members, &ada), used_by(&members, &bob), used_by(&members, &cyd)), (0, 8, 2));
    assert_eq!(members[0]["role"], "owner", "owners first: {members:?}");
    let sub: Value = app
        .as_account(Method::GET, "/api/v1/billing/subscription", &cyd.access, &acme, None)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(
        (sub["account_id"].as_str(), sub["monthly_agent_runs"].as_u64()),
        (Some(acme.as_str()), Some(10))
    );
    // Each personal account is its own pool, untouched.
    assert_eq!(app.subscription(&ada.access).await["monthly_agent_runs"], 0);
    assert_eq!(app.create_session(&ada.access).await.status(), StatusCode::CREATED);
    // The team's usage history names the member on request; a member may not read another's.
    let mine = app
        .as_account(
            Method::GET,
            &format!("/api/v1/billing/usage?user_id={}", cyd.id),
            &cyd.access,
            &acme,
            None,
        )
        .await;
    assert_eq!(mine.status(), StatusCode::OK);
    let theirs = app
        .as_account(
            Method::GET,
            &format!("/api/v1/billing/usage?user_id={}", bob.id),
            &cyd.access,
            &acme,
            None,
        )
        .await;
    problem(theirs, StatusCode::FORBIDDEN, "ROLE_REQUIRED").await;
    // The accounts list: personal first.
    let listed: Value = app.get("/api/v1/accounts", Some(&cyd.access)).await.json().await.expect("json");
    let kinds: Vec<&str> =
        listed["accounts"].as_array().expect("accounts").iter().filter_map(|a| a["kind"].as_str()).collect();
    assert_eq!(kinds, ["personal", "organisation"]);
}

#[tokio::test]
async fn a_stranger_naming_an_account_is_refused_and_learns_nothing_about_it() {
    let app = spawn_app().await;
    let (ada, eve) = (app.register("ada@example.com").await, app.register("eve@example.com").await);
    let acme = app.organisation(&ada, "Acme").await;
    let unknown = "0193a1b2-0000-7000-8000-0000000000ff";
    for account in [acme.as_str(), unknown, ada.id.as_str()] {
        problem(app.session_for(&eve.access, account).await, StatusCode::FORBIDDEN, "NOT_A_MEMBER").await;
        let read =
            app.as_account(Method::GET, "/api/v1/billing/subscription", &eve.access, account, None).await;
        problem(read, StatusCode::FORBIDDEN, "NOT_A_MEMBER").await;
        problem(
            app.get(&format!("/api/v1/accounts/{account}"), Some(&eve.access)).await,
            StatusCode::FORBIDDEN,
            "NOT_A_MEMBER",
        )
        .await;
        let invite = app
            .post(
                &format!("/api/v1/accounts/{account}/invitations"),
                Some(&eve.access),
                json!({"email": "eve@example.com"}),
            )
            .await;
        problem(invite, StatusCode::FORBIDDEN, "NOT_A_MEMBER").await;
    }
    let malformed = app.session_for(&eve.access, "not-an-id").await;
    let body = problem(malformed, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED").await;
    assert_eq!(body["errors"][0]["field"], "X-Tollgate-Account");
    // Nothing was charged anywhere.
    let sub: Value =
        app.get(&format!("/api/v1/accounts/{acme}"), Some(&ada.access)).await.json().await.expect("json");
    assert_eq!(sub["subscription"]["monthly_agent_runs"], 0);
    assert_eq!(app.subscription(&eve.access).await["monthly_agent_runs"], 0);
}

#[tokio::test]
async fn an_invitation_is_for_one_email_used_once_and_expires_after_seven_days() {
    let app = spawn_app().await;
    let (ada, bob, eve) = (
        app.register("ada@example.com").await,
        app.register("bob@example.com").await,
        app.register("eve@example.com").await,
    );
    let acme = app.organisation(&ada, "Acme").await;
    let invite = |email: &'static str| {
        let (app, ada, acme) = (&app, &ada, &acme);
        async move {
            let res = app
                .post(
                    &format!("/api/v1/accounts/{acme}/invitations"),
                    Some(&ada.access),
                    json!({"email": email}),
                )
                .await;
            assert_eq!(res.status(), StatusCode::CREATED);
            let body: Value = res.json().await.expect("json");
            assert_eq!(body["role"], "member", "the default role");
            body["token"].as_str().expect("token").to_owned()
        }
    };
    let token = invite("bob@example.com").await;
    let accept = |who: &Account, token: &str| {
        let (path, access) = (format!("/api/v1/invitations/{token}/accept"), who.access.clone());
        let app = &app;
        async move { app.post(&path, Some(&access), json!({})).await }
    };
    problem(accept(&eve, &token).await, StatusCode::FORBIDDEN, "INVITATION_FOR_ANOTHER_EMAIL").await;
    assert_eq!(accept(&bob, &token).await.status(), StatusCode::OK);
    problem(accept(&bob, &token).await, StatusCode::CONFLICT, "INVITATION_USED").await;
    problem(accept(&bob, "no-such-token").await, StatusCode::NOT_FOUND, "INVITATION_NOT_FOUND").await;
    let late = invite("eve@example.com").await;
    app.clock.advance(time::Duration::days(7));
    problem(accept(&eve, &late).await, StatusCode::GONE, "INVITATION_EXPIRED").await;
    assert_eq!(app.members(&acme, &ada.access).await.len(), 2, "ada and bob");
    let bad = app
        .post(
            &format!("/api/v1/accounts/{acme}/invitations"),
            Some(&ada.access),
            json!({"email": "not an email"}),
        )
        .await;
    problem(bad, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED").await;
}

#[tokio::test]
async fn roles_decide_who_manages_and_the_last_owner_stays() {
    let app = spawn_app().await;
    let (ada, bob) = (app.register("ada@example.com").await, app.register("bob@example.com").await);
    let acme = app.organisation(&ada, "Acme").await;
    app.join(&acme, &ada, &bob, "bob@example.com", "member").await;
    // A member uses runs and reads; they manage nothing.
    let invite = app
        .post(
            &format!("/api/v1/accounts/{acme}/invitations"),
            Some(&bob.access),
            json!({"email": "x@example.com"}),
        )
        .await;
    problem(invite, StatusCode::FORBIDDEN, "ROLE_REQUIRED").await;
    problem(app.set_cap(&acme, &bob, &ada, json!(1)).await, StatusCode::FORBIDDEN, "ROLE_REQUIRED").await;
    let trial = app
        .as_account(Method::POST, "/api/v1/billing/activate-trial", &bob.access, &acme, Some(json!({})))
        .await;
    problem(trial, StatusCode::FORBIDDEN, "ROLE_REQUIRED").await;
    let checkout = app
        .as_account(
            Method::POST,
            "/api/v1/billing/create-checkout-session",
            &bob.access,
            &acme,
            Some(json!({"plan": "pro"})),
        )
        .await;
    problem(checkout, StatusCode::FORBIDDEN, "ROLE_REQUIRED").await;
    let portal =
        app.as_account(Method::POST, "/api/v1/billing/create-portal-session", &bob.access, &acme, None).await;
    problem(portal, StatusCode::FORBIDDEN, "ROLE_REQUIRED").await;
    // The owner starts the team's trial: the team's pool, not the owner's own.
    let trial = app
        .as_account(Method::POST, "/api/v1/billing/activate-trial", &ada.access, &acme, Some(json!({})))
        .await;
    assert_eq!(trial.status(), StatusCode::OK);
    assert_eq!(app.subscription(&ada.access).await["plan"], "free");
    // The last owner can neither leave nor be demoted; a member can leave.
    let leave = |who: &Account, target: &Account| {
        let (path, access) = (format!("/api/v1/accounts/{acme}/members/{}", target.id), who.access.clone());
        let app = &app;
        async move { app.request(Method::DELETE, &path, Some(&access), None).await }
    };
    problem(leave(&ada, &ada).await, StatusCode::CONFLICT, "LAST_OWNER").await;
    let demote = app
        .request(
            Method::PATCH,
            &format!("/api/v1/accounts/{acme}/members/{}", ada.id),
            Some(&ada.access),
            Some(json!({"role": "member"})),
        )
        .await;
    problem(demote, StatusCode::CONFLICT, "LAST_OWNER").await;
    problem(leave(&bob, &ada).await, StatusCode::FORBIDDEN, "ROLE_REQUIRED").await;
    assert_eq!(leave(&bob, &bob).await.status(), StatusCode::NO_CONTENT);
    problem(app.session_for(&bob.access, &acme).await, StatusCode::FORBIDDEN, "NOT_A_MEMBER").await;
    // A personal account has no other members.
    let personal = app
        .post(
            &format!("/api/v1/accounts/{}/invitations", ada.id),
            Some(&ada.access),
            json!({"email": "bob@example.com"}),
        )
        .await;
    problem(personal, StatusCode::CONFLICT, "PERSONAL_ACCOUNT").await;
    let blank = app.post("/api/v1/accounts", Some(&ada.access), json!({"name": "  "})).await;
    problem(blank, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED").await;
}

/// Members of one account racing through two replicas on one store: the pool (10) and every cap
/// (4 each, 12 in all) hold exactly.
#[tokio::test]
async fn members_racing_through_two_replicas_never_pass_the_pool_or_their_caps() {
    let app = spawn_app().await;
    let replica = spawn_replica(&app).await;
    let (ada, bob, cyd) = (
        app.register("ada@example.com").await,
        app.register("bob@example.com").await,
        app.register("cyd@example.com").await,
    );
    let acme = app.organisation(&ada, "Acme").await;
    app.join(&acme, &ada, &bob, "bob@example.com", "member").await;
    app.join(&acme, &ada, &cyd, "cyd@example.com", "member").await;
    for member in [&ada, &bob, &cyd] {
        assert_eq!(app.set_cap(&acme, &ada, member, json!(4)).await.status(), StatusCode::OK);
    }
    let members = [&ada, &bob, &cyd];
    let requests = (0..60).map(|i| {
        let server = if i % 2 == 0 { &app } else { &replica };
        server.session_for(&members[i % 3].access, &acme)
    });
    let statuses: Vec<StatusCode> =
        futures_util::future::join_all(requests).await.iter().map(Response::status).collect();
    let created = statuses.iter().filter(|s| **s == StatusCode::CREATED).count();
    let refused = statuses.iter().filter(|s| **s == StatusCode::PAYMENT_REQUIRED).count();
    assert_eq!((created, refused), (10, 50), "{statuses:?}");
    let members = app.members(&acme, &ada.access).await;
    let used: Vec<u64> = [&ada, &bob, &cyd].iter().map(|m| used_by(&members, m)).collect();
    assert_eq!(used.iter().sum::<u64>(), 10, "{used:?}");
    assert!(used.iter().all(|u| *u <= 4), "a cap was passed: {used:?}");
}

/// An idempotency key is the paying account's: a member reusing another member's key gets a
/// mismatch, never the other's session; each member's own retry replays.
#[tokio::test]
async fn two_members_reusing_a_key_never_get_each_others_answer() {
    let app = spawn_app().await;
    let (ada, bob) = (app.register("ada@example.com").await, app.register("bob@example.com").await);
    let acme = app.organisation(&ada, "Acme").await;
    app.join(&acme, &ada, &bob, "bob@example.com", "member").await;
    let keyed = |who: &Account| {
        let req = app
            .client
            .post(app.url("/api/v1/sessions"))
            .bearer_auth(&who.access)
            .header(ACCOUNT, acme.as_str())
            .header("Idempotency-Key", "run-1")
            .json(&json!({"title": "same body"}));
        async move { req.send().await.expect("sent") }
    };
    let first = keyed(&ada).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let again = keyed(&ada).await;
    assert_eq!(again.headers().get("idempotent-replayed").and_then(|v| v.to_str().ok()), Some("true"));
    problem(keyed(&bob).await, StatusCode::UNPROCESSABLE_ENTITY, "IDEMPOTENCY_KEY_MISMATCH").await;
    let sub: Value =
        app.get(&format!("/api/v1/accounts/{acme}"), Some(&ada.access)).await.json().await.expect("json");
    assert_eq!(sub["subscription"]["monthly_agent_runs"], 1);
}

/// Operators address accounts: the admin API shows an organisation with its members, sets its
/// plan and grants it runs, and the audit log names the account (and no user).
#[tokio::test]
async fn operators_set_an_organisations_plan_and_the_audit_names_the_account() {
    let app = spawn_app().await;
    let root = crate::admin::admin_account(&app, "root@example.com").await;
    let ada = app.register("ada@example.com").await;
    let acme = app.organisation(&ada, "Acme").await;
    let res = app
        .post(&format!("/api/v1/admin/accounts/{acme}/plan"), Some(&root.access), json!({"plan": "pro"}))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let detail: Value = res.json().await.expect("json");
    assert_eq!(
        (detail["account"]["kind"].as_str(), detail["subscription"]["plan"].as_str()),
        (Some("organisation"), Some("pro"))
    );
    assert_eq!(detail["members"][0]["user_id"], ada.id.as_str());
    let res = app
        .post(
            &format!("/api/v1/admin/accounts/{acme}/grant"),
            Some(&root.access),
            json!({"runs": 5, "reason": "launch week"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let log: Value = app.get("/api/v1/admin/audit", Some(&root.access)).await.json().await.expect("json");
    let entry = &log["items"][0];
    assert_eq!(
        (entry["action"].as_str(), entry["target_account_id"].as_str()),
        (Some("user.grant_runs"), Some(acme.as_str()))
    );
    assert!(entry["target_user_id"].is_null(), "{entry}");
    // A user's own changes name the user and their personal account.
    let res = app
        .post(&format!("/api/v1/admin/users/{}/plan", ada.id), Some(&root.access), json!({"plan": "basic"}))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let log: Value = app.get("/api/v1/admin/audit", Some(&root.access)).await.json().await.expect("json");
    assert_eq!(log["items"][0]["target_account_id"], ada.id.as_str());
    assert_eq!(log["items"][0]["target_user_id"], ada.id.as_str());
    let unknown =
        app.get("/api/v1/admin/accounts/0193a1b2-0000-7000-8000-0000000000ff", Some(&root.access)).await;
    problem(unknown, StatusCode::NOT_FOUND, "ACCOUNT_NOT_FOUND").await;
    problem(
        app.get("/api/v1/admin/accounts/not-an-id", Some(&root.access)).await,
        StatusCode::NOT_FOUND,
        "ACCOUNT_NOT_FOUND",
    )
    .await;
    problem(
        app.get(&format!("/api/v1/admin/accounts/{acme}"), Some(&ada.access)).await,
        StatusCode::FORBIDDEN,
        "FORBIDDEN",
    )
    .await;
}

/// A per-seat plan (`TOLLGATE_PLAN_PRO_PER_SEAT`): the pool is the plan's runs × the members, and
/// the seats come from the members, never from Stripe's quantity — a webhook for the old
/// quantity arriving after a member joined leaves the new pool alone.
#[tokio::test]
async fn a_per_seat_pool_follows_the_members_and_a_late_webhook_for_the_old_quantity_changes_nothing() {
    use crate::stripe_events::{stripe_settings, Billing, PRICE_PRO};
    // Stripe: the subscription (Stripe's fixture, under Acme's id) and its updates.
    let stripe = wiremock::MockServer::start().await;
    let mut object: Value = serde_json::from_str(
        &std::fs::read_to_string(format!(
            "{}/../adapters/stripe/fixtures/subscription.json",
            env!("CARGO_MANIFEST_DIR")
        ))
        .expect("fixture"),
    )
    .expect("json");
    object["id"] = json!("sub_acme_seats");
    for verb in ["GET", "POST"] {
        wiremock::Mock::given(wiremock::matchers::method(verb))
            .and(wiremock::matchers::path("/v1/subscriptions/sub_acme_seats"))
            .respond_with(wiremock::ResponseTemplate::new(200).set_body_json(object.clone()))
            .mount(&stripe)
            .await;
    }
    let quantities = || {
        let stripe = &stripe;
        async move {
            let received = stripe.received_requests().await.expect("recorded");
            received
                .iter()
                .filter(|r| r.method.as_str() == "POST")
                .filter_map(|r| {
                    url::form_urlencoded::parse(&r.body)
                        .find(|(k, _)| k == "items[0][quantity]")
                        .map(|(_, v)| v.into_owned())
                })
                .collect::<Vec<String>>()
        }
    };
    let mut settings = stripe_settings(&stripe.uri());
    settings.push(("TOLLGATE_PLAN_PRO_PER_SEAT", "true".to_owned()));
    let pairs: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = crate::helpers::spawn_app_with(&pairs).await;
    let (ada, bob, cyd) = (
        app.register("ada@example.com").await,
        app.register("bob@example.com").await,
        app.register("cyd@example.com").await,
    );
    let acme = app.organisation(&ada, "Acme").await;
    app.join(&acme, &ada, &bob, "bob@example.com", "member").await;
    // Acme's Stripe customer, as its first Checkout links it.
    let account: tollgate_domain::AccountId = acme.parse().expect("id");
    let subs = app.store.ports().subs;
    let mut sub = subs.get_by_account(account).await.expect("store").expect("subscription");
    let expected = sub.version();
    let effect = sub.link_customer(&"cus_acme_seats".into(), sub.created_at());
    subs.update(&sub, expected, effect).await.expect("linked");
    let billing = Billing {
        customer: "cus_acme_seats".into(),
        subscription: "sub_acme_seats".into(),
        t0: app.clock_now().unix_timestamp(),
        counter: std::cell::Cell::new(0),
    };
    let limit = || {
        let (app, ada, acme) = (&app, ada.access.clone(), acme.clone());
        async move {
            let body: Value =
                app.get(&format!("/api/v1/accounts/{acme}"), Some(&ada)).await.json().await.expect("json");
            body["subscription"]["monthly_agent_runs_limit"].as_u64().expect("limited")
        }
    };
    let with_quantity = |mut event: Value, quantity: u64| {
        event["data"]["object"]["items"]["data"][0]["quantity"] = json!(quantity);
        event
    };
    let t0 = billing.t0;
    let early =
        billing.subscription("customer.subscription.created", t0 - 60, "active", PRICE_PRO, t0 - 60, false);
    let late =
        billing.subscription("customer.subscription.updated", t0 - 30, "active", PRICE_PRO, t0 - 60, false);
    assert_eq!(app.deliver(&with_quantity(early, 2)).await.status(), StatusCode::OK);
    assert_eq!(limit().await, 10_000, "pro's 5,000 runs × 2 seats");
    app.join(&acme, &ada, &cyd, "cyd@example.com", "member").await;
    assert_eq!(limit().await, 15_000, "a third member, a third seat");
    assert_eq!(quantities().await, ["3"], "Stripe's quantity follows the members");
    assert_eq!(app.deliver(&with_quantity(late, 2)).await.status(), StatusCode::OK);
    assert_eq!(limit().await, 15_000, "Stripe's old quantity does not take the seat away");
    let res = app
        .request(
            Method::DELETE,
            &format!("/api/v1/accounts/{acme}/members/{}", bob.id),
            Some(&ada.access),
            None,
        )
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(limit().await, 10_000);
    assert_eq!(quantities().await, ["3", "2"]);
}

/// A replica remembers a membership for at most a second (it saves a read per request); a member
/// removed on another replica cannot charge even then — the store checks membership in the
/// charge's own statements — and after the second reads are refused too.
#[tokio::test]
async fn a_member_removed_on_another_replica_cannot_charge_and_is_refused_after_a_second() {
    let app = spawn_app().await;
    let other = spawn_replica(&app).await;
    let (ada, bob) = (app.register("ada@example.com").await, app.register("bob@example.com").await);
    let acme = app.organisation(&ada, "Acme").await;
    app.join(&acme, &ada, &bob, "bob@example.com", "member").await;
    let read = || app.as_account(Method::GET, "/api/v1/billing/subscription", &bob.access, &acme, None);
    assert_eq!(read().await.status(), StatusCode::OK, "remembered from here on");
    let res = other
        .request(
            Method::DELETE,
            &format!("/api/v1/accounts/{acme}/members/{}", bob.id),
            Some(&ada.access),
            None,
        )
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    problem(app.session_for(&bob.access, &acme).await, StatusCode::FORBIDDEN, "NOT_A_MEMBER").await;
    assert_eq!(read().await.status(), StatusCode::OK, "a remembered membership reads for up to a second");
    app.clock.advance(time::Duration::seconds(1));
    problem(read().await, StatusCode::FORBIDDEN, "NOT_A_MEMBER").await;
    let sub: Value =
        app.get(&format!("/api/v1/accounts/{acme}"), Some(&ada.access)).await.json().await.expect("json");
    assert_eq!(sub["subscription"]["monthly_agent_runs"], 0, "nothing was charged");
}
