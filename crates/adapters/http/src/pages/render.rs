//! The pages' templates (askama: compiled and type-checked at build time), their view models,
//! and the headers every page answer carries.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;
use tollgate_domain::{PlanId, SubscriptionStatus, Timestamp, User};
use tollgate_usecases::usage_history::Granularity;

use super::chart;
use crate::problem::AsIs;
use crate::state::AppState;

/// A plan offered for upgrade.
pub struct Offer {
    pub id: &'static str,
    pub name: String,
    pub runs: String,
    pub price: String,
}

#[derive(Default)]
pub struct SignInView {
    pub error: Option<&'static str>,
    /// An error built from validation messages (shown like `error`).
    pub error_text: Option<String>,
    pub notice: Option<&'static str>,
    pub email: String,
    pub fullname: String,
}

#[derive(Template)]
#[template(path = "signin.html")]
struct SignInTemplate<'a> {
    title: &'a str,
    refresh_secs: u32,
    error: Option<&'a str>,
    notice: Option<&'a str>,
    csrf: &'a str,
    email: &'a str,
    fullname: &'a str,
}

pub struct BillingView {
    email: String,
    plan_name: String,
    status: &'static str,
    status_text: &'static str,
    trial_end: Option<String>,
    cancel_at_period_end: bool,
    used: u32,
    reserved: u32,
    limit: Option<u32>,
    used_percent: u32,
    reserved_percent: u32,
    resets_on: String,
    at_limit: bool,
    chart: String,
    first_day: String,
    last_day: String,
    can_trial: bool,
    trial_days: u16,
    trial_runs: u32,
    upgrades: Vec<Offer>,
    can_manage: bool,
    processing: bool,
    error: Option<&'static str>,
    notice: Option<&'static str>,
}

#[derive(Template)]
#[template(path = "billing.html")]
struct BillingTemplate<'a> {
    title: &'a str,
    refresh_secs: u32,
    error: Option<&'a str>,
    notice: Option<&'a str>,
    csrf: &'a str,
    v: &'a BillingView,
}

impl BillingTemplate<'_> {
    /// Templates pass `u32`, `&u32` or `&&u32`: any of them displays as its digits.
    fn grouped(&self, n: impl std::fmt::Display) -> String {
        n.to_string().parse::<u32>().map_or_else(|_| n.to_string(), |n| grouped(&n))
    }
}

/// `5,000`.
pub fn grouped(n: &u32) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `30 December 2026`.
fn date(at: Timestamp) -> String {
    format!("{} {} {}", at.day(), at.month(), at.year())
}

fn status_text(status: SubscriptionStatus) -> &'static str {
    match status {
        SubscriptionStatus::Active => "active",
        SubscriptionStatus::Trialing => "on trial",
        SubscriptionStatus::PastDue => "payment overdue",
        SubscriptionStatus::Canceled => "canceled",
        SubscriptionStatus::Unpaid => "unpaid",
        SubscriptionStatus::Incomplete => "incomplete",
        SubscriptionStatus::IncompleteExpired => "expired",
        _ => "paused",
    }
}

fn percent(part: u32, whole: u32) -> u32 {
    if whole == 0 {
        return if part == 0 { 0 } else { 100 };
    }
    u32::try_from((u64::from(part) * 100 / u64::from(whole)).min(100)).unwrap_or(100)
}

impl BillingView {
    pub async fn load(state: &AppState, user: &User, query: &PageQuery) -> Result<Self, String> {
        let services = &state.services;
        let sub = services
            .billing
            .subscription(tollgate_domain::AccountId::personal(user.id))
            .await
            .map_err(|e| format!("{e:?}"))?;
        let catalog = services.billing.catalog();
        let limit = sub.runs_limit(catalog).as_option();
        let (used, reserved) = (sub.runs_used().get(), sub.runs_reserved().get());
        let now = services.usage_history.now();
        let today = now.replace_time(time::Time::MIDNIGHT);
        let buckets = services
            .usage_history
            .history(
                tollgate_domain::AccountId::personal(user.id),
                None,
                today - time::Duration::days(29),
                now,
                Granularity::Day,
            )
            .await
            .map_err(|e| format!("{e:?}"))?;
        let used_percent = limit.map_or(0, |l| percent(used, l));
        let (first_day, last_day) = chart::span(&buckets);
        let trial = catalog.trial();
        let on_free = sub.plan() == PlanId::Free && !sub.is_trial();
        let paid = sub.billing().granted && sub.plan() != PlanId::Free;
        Ok(Self {
            email: user.email.as_str().to_owned(),
            plan_name: if sub.is_trial() { "Trial".to_owned() } else { catalog.get(sub.plan()).name.clone() },
            status: sub.status().as_str(),
            status_text: status_text(sub.status()),
            trial_end: sub.trial().map(|t| date(t.ends_at)),
            cancel_at_period_end: sub.cancel_at_period_end(),
            used,
            reserved,
            limit,
            used_percent,
            reserved_percent: limit.map_or(0, |l| percent(reserved, l).min(100 - used_percent)),
            resets_on: date(sub.period().end()),
            at_limit: limit.is_some_and(|l| used.saturating_add(reserved) >= l),
            chart: chart::bars(&buckets),
            first_day,
            last_day,
            can_trial: on_free && !sub.trial_used() && !sub.has_paid(),
            trial_days: trial.days,
            trial_runs: trial.runs.get(),
            upgrades: if paid { Vec::new() } else { upgrades(state, sub.plan()) },
            can_manage: sub.billing().customer_id.is_some(),
            // Back from Checkout, until the webhook grants the plan.
            processing: query.checkout.as_deref() == Some("success") && !paid,
            error: query.error.as_deref().and_then(message),
            notice: query.notice.as_deref().and_then(message),
        })
    }
}

/// Page answers.
pub struct Page;

impl Page {
    /// Headers every page carries: no caching, a strict CSP (no scripts at all, styles from
    /// here, forms to here and Stripe), no framing, no referrer to other sites.
    fn respond(state: &AppState, status: StatusCode, html: String, set_csrf: Option<String>) -> HttpResponse {
        let keys = &state.config.pages;
        let csp = format!(
            "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self' {}; frame-ancestors 'none'; base-uri 'none'",
            keys.form_targets.join(" ")
        );
        let mut res = HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header((header::CONTENT_SECURITY_POLICY, csp))
            .insert_header((header::X_FRAME_OPTIONS, "DENY"))
            .insert_header((header::REFERRER_POLICY, "same-origin"))
            .body(html);
        if let Some(nonce) = set_csrf {
            let _ = res.add_cookie(&keys.csrf_cookie(nonce));
        }
        res.extensions_mut().insert(AsIs);
        res
    }

    fn render(
        state: &AppState,
        status: StatusCode,
        page: Result<String, askama::Error>,
        nonce: (String, bool),
    ) -> HttpResponse {
        match page {
            Ok(html) => Self::respond(state, status, html, nonce.1.then_some(nonce.0)),
            Err(e) => {
                tracing::error!(error = %e, "a page template failed");
                let mut res = HttpResponse::InternalServerError()
                    .content_type("text/plain; charset=utf-8")
                    .body("Something went wrong.");
                res.extensions_mut().insert(AsIs);
                res
            }
        }
    }

    pub fn sign_in(
        state: &AppState,
        req: &HttpRequest,
        status: StatusCode,
        view: SignInView,
    ) -> HttpResponse {
        let nonce = state.config.pages.nonce_of(req);
        let csrf = state.config.pages.token_for(req, &nonce.0);
        let page = SignInTemplate {
            title: "Sign in",
            refresh_secs: 0,
            error: view.error.or(view.error_text.as_deref()),
            notice: view.notice,
            csrf: &csrf,
            email: &view.email,
            fullname: &view.fullname,
        }
        .render();
        Self::render(state, status, page, nonce)
    }

    pub fn billing(state: &AppState, req: &HttpRequest, v: BillingView) -> HttpResponse {
        let nonce = state.config.pages.nonce_of(req);
        let csrf = state.config.pages.token_for(req, &nonce.0);
        let page = BillingTemplate {
            title: "Billing",
            refresh_secs: if v.processing { 3 } else { 0 },
            error: v.error,
            notice: v.notice,
            csrf: &csrf,
            v: &v,
        }
        .render();
        Self::render(state, StatusCode::OK, page, nonce)
    }

    /// A page with `status` and `message` (the sign-in page, which needs no session to render).
    pub fn error(
        state: &AppState,
        req: &HttpRequest,
        status: StatusCode,
        message: &'static str,
    ) -> HttpResponse {
        Self::sign_in(state, req, status, SignInView { error: Some(message), ..SignInView::default() })
    }

    /// The store is down or something failed: a page saying so (503), never JSON.
    pub fn unavailable(state: &AppState, req: &HttpRequest) -> HttpResponse {
        let message = "Something went wrong on our side. Please try again shortly.";
        Self::error(state, req, StatusCode::SERVICE_UNAVAILABLE, message)
    }

    /// Signed in: the session cookie, then the billing page.
    pub fn start_session(state: &AppState, refresh_token: String) -> HttpResponse {
        let mut res = HttpResponse::SeeOther()
            .insert_header((header::LOCATION, "/account/billing"))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .finish();
        let _ = res.add_cookie(&state.config.pages.session_cookie(refresh_token));
        res
    }
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct PageQuery {
    pub(super) error: Option<String>,
    pub(super) notice: Option<String>,
    pub(super) checkout: Option<String>,
}

/// The messages a `?error=` / `?notice=` code stands for. Unknown codes show nothing.
pub(super) fn message(code: &str) -> Option<&'static str> {
    Some(match code {
        "csrf" => "The form had expired. Please try again.",
        "signed_out" => "You are signed out.",
        "trial" => "Your trial has started.",
        "trial_used" => "You have already used your trial.",
        "trial_not_free" => "The trial starts from the Free plan only.",
        "trial_after_paid" => "The trial is not available after a paid subscription.",
        "already_subscribed" => "You already have a paid subscription; manage it with “Manage billing”.",
        "payments_off" => "Payments are not set up on this server yet.",
        "redirect" => {
            "This address is not allowed to return from Stripe (TOLLGATE_ALLOWED_REDIRECT_ORIGINS)."
        }
        "provider" => "Stripe could not be reached. Nothing was charged; please try again.",
        "plan" => "That plan cannot be bought here.",
        "no_billing_account" => "There is no billing account yet: upgrade first.",
        "rate_limited" => "Too many attempts; please wait a minute and try again.",
        "unavailable" => "Something went wrong on our side. Please try again shortly.",
        "cancelled" => "Checkout was cancelled; nothing changed.",
        "too_large" => "The form was too large.",
        _ => return None,
    })
}

/// The plans a user may buy from the page.
pub(super) fn upgrades(state: &AppState, current: PlanId) -> Vec<Offer> {
    let catalog = state.services.billing.catalog();
    [PlanId::Basic, PlanId::Pro]
        .into_iter()
        .filter(|id| *id != current)
        .map(|id| catalog.get(id))
        .filter(|plan| plan.self_serve)
        .map(|plan| Offer {
            id: plan.id.as_str(),
            name: plan.name.clone(),
            runs: plan.runs.as_option().map_or_else(|| "unlimited".to_owned(), |n| grouped(&n)),
            price: plan.price.map_or_else(|| "custom price".to_owned(), |p| format!("{p}/month")),
        })
        .collect()
}
