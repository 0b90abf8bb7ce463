//! The billing pages (SPEC §9), server-rendered by the same binary: `/` (sign in, sign up) and
//! `/account/billing` (plan, usage meter, 30-day chart, trial, upgrade, portal, sign out).
//!
//! Every page works without JavaScript; every form carries a CSRF token; errors are messages on
//! the page (never JSON). Actions are POST → 303 (post/redirect/get); a failed action comes back
//! as `?error=<code>`, shown from a fixed table (nothing from the URL is echoed).

pub mod chart;
mod render;
pub mod session;

use actix_web::http::{header, Method, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use tollgate_domain::subscription::TrialError;
use tollgate_domain::{Email, FullName, Password, PlanId, User};
use tollgate_ports::services::auth::{LoginError, RegisterError, Registration};
use tollgate_ports::services::billing::{ActivateTrialError, CheckoutError, PortalError};

use crate::state::AppState;
use render::{BillingView, Page, SignInView};

/// Mounts the pages and their stylesheet. Each page answers `HEAD` like `GET`, another method
/// with a 405 page (and `Allow`), and an unknown path under `/account/` or `/assets/` with a 404
/// page: a browser never gets JSON from here.
pub fn configure(cfg: &mut web::ServiceConfig) {
    fn page<F, Args>(cfg: &mut web::ServiceConfig, path: &'static str, method: Method, handler: F)
    where
        F: actix_web::Handler<Args>,
        Args: actix_web::FromRequest + 'static,
        F::Output: actix_web::Responder + 'static,
    {
        let allow = if method == Method::GET { "GET, HEAD" } else { "POST" };
        let mut resource = web::resource(path).route(web::method(method.clone()).to(handler.clone()));
        if method == Method::GET {
            resource = resource.route(web::head().to(handler));
        }
        cfg.service(resource.default_service(web::to(
            move |state: web::Data<AppState>, req: HttpRequest| async move {
                let mut res = Page::error(
                    &state,
                    &req,
                    StatusCode::METHOD_NOT_ALLOWED,
                    "This page does not answer that method.",
                );
                res.headers_mut().insert(header::ALLOW, header::HeaderValue::from_static(allow));
                res
            },
        )));
    }
    page(cfg, "/", Method::GET, home);
    page(cfg, "/signin", Method::POST, sign_in);
    page(cfg, "/signup", Method::POST, sign_up);
    page(cfg, "/signout", Method::POST, sign_out);
    page(cfg, "/account/billing", Method::GET, billing);
    page(cfg, "/account/billing/trial", Method::POST, trial);
    page(cfg, "/account/billing/checkout", Method::POST, checkout);
    page(cfg, "/account/billing/portal", Method::POST, portal);
    page(cfg, "/assets/tollgate.css", Method::GET, stylesheet);
    for prefix in ["/account/{rest:.*}", "/assets/{rest:.*}"] {
        cfg.route(
            prefix,
            web::to(|state: web::Data<AppState>, req: HttpRequest| async move {
                Page::error(&state, &req, StatusCode::NOT_FOUND, "There is no such page.")
            }),
        );
    }
}

/// Form bodies larger than this are refused with a page (413).
const MAX_FORM_BYTES: usize = 16 * 1024;

/// The form body, or `None` past [`MAX_FORM_BYTES`] (or when it could not be read).
async fn read_form(mut payload: web::Payload) -> Option<web::BytesMut> {
    use futures_util::StreamExt;
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.ok()?;
        if body.len() + chunk.len() > MAX_FORM_BYTES {
            return None;
        }
        body.extend_from_slice(&chunk);
    }
    Some(body)
}

/// The page's query, leniently: anything malformed (a repeated parameter, bad encoding) reads
/// as no query rather than an error.
fn page_query(req: &HttpRequest) -> PageQuery {
    serde_urlencoded::from_str(req.query_string()).unwrap_or_default()
}

/// Marks a page answer: `problem::render_errors` leaves its status and HTML alone.
#[derive(Debug, Clone, Copy)]
pub struct Rendered;

const STYLESHEET: &str = include_str!("../../assets/tollgate.css");

async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(STYLESHEET)
}

fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther().insert_header((header::LOCATION, location)).finish()
}

/// The messages a `?error=` / `?notice=` code stands for. Unknown codes show nothing.
fn message(code: &str) -> Option<&'static str> {
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

/// The origin people reach these pages at, for Stripe's return URLs (checked against
/// `TOLLGATE_ALLOWED_REDIRECT_ORIGINS` by the billing use case like any other).
fn page_origin(req: &HttpRequest, state: &AppState) -> String {
    // A client's own `X-Forwarded-Host` is believed only from a trusted proxy.
    let seen = crate::forwarded::forwarding(req, &state.config.trusted_proxies);
    let scheme = if state.config.pages.secure { "https" } else { seen.proto.as_str() };
    format!("{scheme}://{}", seen.host)
}

fn client(req: &HttpRequest) -> Option<std::net::IpAddr> {
    req.peer_addr().map(|a| a.ip())
}

/// The signed-in user of a page request, if its session cookie is current.
async fn signed_in(state: &AppState, req: &HttpRequest) -> Result<Option<(User, String)>, HttpResponse> {
    let Some(token) = state.config.pages.session_of(req) else {
        return Ok(None);
    };
    match state.services.auth.session(&token).await {
        Ok(user) => Ok(user.map(|u| (u, token))),
        Err(e) => {
            tracing::warn!(error = ?e, "could not read a page session");
            Err(Page::unavailable(state, req))
        }
    }
}

/// A form, parsed leniently (missing fields are empty), and whether its CSRF token is valid.
fn form<T>(state: &AppState, req: &HttpRequest, body: &[u8]) -> (T, bool)
where
    T: for<'de> Deserialize<'de> + Default + HasCsrf,
{
    let parsed: T = serde_urlencoded::from_bytes(body).unwrap_or_default();
    let valid = parsed.csrf().is_some_and(|token| state.config.pages.verify_for(req, token));
    (parsed, valid)
}

trait HasCsrf {
    fn csrf(&self) -> Option<&str>;
}

macro_rules! form_struct {
    ($name:ident { $($field:ident),* }) => {
        #[derive(Debug, Default, Deserialize)]
        struct $name {
            csrf: Option<String>,
            $($field: Option<String>,)*
        }
        impl HasCsrf for $name {
            fn csrf(&self) -> Option<&str> {
                self.csrf.as_deref()
            }
        }
    };
}

form_struct!(SignInForm { email, password });
form_struct!(SignUpForm { fullname, email, password });
form_struct!(ActionForm { plan });

#[derive(Debug, Default, Deserialize)]
struct PageQuery {
    error: Option<String>,
    notice: Option<String>,
    checkout: Option<String>,
}

async fn home(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let query = page_query(&req);
    match signed_in(&state, &req).await {
        Ok(Some(_)) => return see_other("/account/billing"),
        Ok(None) => {}
        Err(page) => return page,
    }
    let view = SignInView {
        error: query.error.as_deref().and_then(message),
        notice: query.notice.as_deref().and_then(message),
        ..SignInView::default()
    };
    Page::sign_in(&state, &req, actix_web::http::StatusCode::OK, view)
}

async fn sign_in(state: web::Data<AppState>, req: HttpRequest, payload: web::Payload) -> HttpResponse {
    let Some(body) = read_form(payload).await else {
        return Page::error(&state, &req, StatusCode::PAYLOAD_TOO_LARGE, "The form was too large.");
    };
    let (form, csrf_ok) = form::<SignInForm>(&state, &req, &body);
    let email = form.email.unwrap_or_default();
    let again = |status, error: &'static str| {
        let view = SignInView { error: Some(error), email: email.clone(), ..SignInView::default() };
        Page::sign_in(&state, &req, status, view)
    };
    if !csrf_ok {
        return again(StatusCode::FORBIDDEN, "The form had expired. Please try again.");
    }
    if let Err(wait) = state.limits.sign_in_attempt(client(&req), Some(&email)) {
        tracing::info!(retry_after = wait, "page sign-in rate limited");
        return again(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many attempts; please wait a minute and try again.",
        );
    }
    let password = form.password.unwrap_or_default();
    let done = state.services.auth.login(&email, &password).await;
    if matches!(done, Ok(_) | Err(LoginError::InvalidCredentials)) {
        state.limits.sign_in_result(client(&req), &email, done.is_ok());
    }
    match done {
        Ok(signed) => Page::start_session(&state, signed.tokens.refresh_token),
        Err(LoginError::InvalidCredentials) => {
            again(StatusCode::UNAUTHORIZED, "The email or the password is wrong.")
        }
        Err(LoginError::Failure(e)) => {
            tracing::warn!(error = ?e, "page sign-in failed");
            Page::unavailable(&state, &req)
        }
    }
}

async fn sign_up(state: web::Data<AppState>, req: HttpRequest, payload: web::Payload) -> HttpResponse {
    let Some(body) = read_form(payload).await else {
        return Page::error(&state, &req, StatusCode::PAYLOAD_TOO_LARGE, "The form was too large.");
    };
    let (form, csrf_ok) = form::<SignUpForm>(&state, &req, &body);
    let (email, fullname) = (form.email.unwrap_or_default(), form.fullname.unwrap_or_default());
    let again = |status, error: String| {
        let view = SignInView {
            error_text: Some(error),
            email: email.clone(),
            fullname: fullname.clone(),
            ..SignInView::default()
        };
        Page::sign_in(&state, &req, status, view)
    };
    if !csrf_ok {
        return again(StatusCode::FORBIDDEN, "The form had expired. Please try again.".into());
    }
    if let Err(wait) = state.limits.sign_in_attempt(client(&req), None) {
        tracing::info!(retry_after = wait, "page sign-up rate limited");
        return again(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many attempts; please wait a minute and try again.".into(),
        );
    }
    let mut problems = Vec::new();
    let name = FullName::parse(&fullname).map_err(|e| problems.push(format!("Full name: {e}."))).ok();
    let address = Email::parse(&email).map_err(|e| problems.push(format!("Email: {e}."))).ok();
    let password = Password::parse(form.password.unwrap_or_default())
        .map_err(|e| problems.push(format!("Password: {e}.")))
        .ok();
    let (Some(fullname), Some(email), Some(password)) = (name, address, password) else {
        return again(StatusCode::UNPROCESSABLE_ENTITY, problems.join(" "));
    };
    match state.services.auth.register(Registration { fullname, email, password }).await {
        Ok(signed) => Page::start_session(&state, signed.tokens.refresh_token),
        Err(RegisterError::EmailTaken) => {
            again(StatusCode::CONFLICT, "An account with this email already exists: sign in instead.".into())
        }
        Err(RegisterError::Failure(e)) => {
            tracing::warn!(error = ?e, "page sign-up failed");
            Page::unavailable(&state, &req)
        }
    }
}

async fn sign_out(state: web::Data<AppState>, req: HttpRequest, payload: web::Payload) -> HttpResponse {
    let Some(body) = read_form(payload).await else {
        return see_other("/account/billing?error=too_large");
    };
    let (_, csrf_ok) = form::<ActionForm>(&state, &req, &body);
    if !csrf_ok {
        return see_other("/account/billing?error=csrf");
    }
    if let Ok(Some((user, token))) = signed_in(&state, &req).await {
        if let Err(e) = state.services.auth.logout(user.id, Some(&token)).await {
            tracing::warn!(error = ?e, "could not revoke a page session");
            return see_other("/account/billing?error=unavailable");
        }
    }
    let mut res = see_other("/?notice=signed_out");
    let _ = res.add_cookie(&state.config.pages.cleared_session());
    res
}

async fn billing(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let query = page_query(&req);
    let user = match signed_in(&state, &req).await {
        Ok(Some((user, _))) => user,
        Ok(None) => return see_other("/"),
        Err(page) => return page,
    };
    let view = match BillingView::load(&state, &user, &query).await {
        Ok(view) => view,
        Err(e) => {
            tracing::warn!(error = %e, "could not load the billing page");
            return Page::unavailable(&state, &req);
        }
    };
    Page::billing(&state, &req, view)
}

/// An action's common start: a valid CSRF token and a signed-in user, else where to go.
async fn action<T: for<'de> Deserialize<'de> + Default + HasCsrf>(
    state: &AppState,
    req: &HttpRequest,
    body: &[u8],
) -> Result<(User, T), HttpResponse> {
    let (form, csrf_ok) = form::<T>(state, req, body);
    let user = match signed_in(state, req).await? {
        Some((user, _)) => user,
        None => return Err(see_other("/")),
    };
    if !csrf_ok {
        return Err(see_other("/account/billing?error=csrf"));
    }
    Ok((user, form))
}

async fn trial(state: web::Data<AppState>, req: HttpRequest, payload: web::Payload) -> HttpResponse {
    let Some(body) = read_form(payload).await else {
        return see_other("/account/billing?error=too_large");
    };
    let (user, _) = match action::<ActionForm>(&state, &req, &body).await {
        Ok(found) => found,
        Err(res) => return res,
    };
    match state.services.billing.activate_trial(user.id).await {
        Ok(_) => see_other("/account/billing?notice=trial"),
        Err(ActivateTrialError::Unavailable(reason)) => see_other(match reason {
            TrialError::AlreadyUsed => "/account/billing?error=trial_used",
            TrialError::NotOnFreePlan => "/account/billing?error=trial_not_free",
            TrialError::AfterPaidSubscription => "/account/billing?error=trial_after_paid",
        }),
        Err(ActivateTrialError::Subscription(e)) => {
            tracing::warn!(error = ?e, "page trial failed");
            see_other("/account/billing?error=unavailable")
        }
    }
}

async fn checkout(state: web::Data<AppState>, req: HttpRequest, payload: web::Payload) -> HttpResponse {
    let Some(body) = read_form(payload).await else {
        return see_other("/account/billing?error=too_large");
    };
    let (user, form) = match action::<ActionForm>(&state, &req, &body).await {
        Ok(found) => found,
        Err(res) => return res,
    };
    if state.limits.checkout(user.id).is_err() {
        return see_other("/account/billing?error=rate_limited");
    }
    let plan = form.plan.unwrap_or_default();
    let origin = page_origin(&req, &state);
    let success = format!(
        "{origin}/account/billing?checkout=success&session_id={}",
        tollgate_ports::redirect::CHECKOUT_SESSION_ID
    );
    let cancel = format!("{origin}/account/billing?notice=cancelled");
    match state.services.billing.start_checkout(user.id, &plan, Some(&success), Some(&cancel)).await {
        Ok(session) => see_other(&session.url),
        Err(e) => see_other(match e {
            CheckoutError::InvalidPlan => "/account/billing?error=plan",
            CheckoutError::InvalidRedirect => "/account/billing?error=redirect",
            CheckoutError::AlreadySubscribed => "/account/billing?error=already_subscribed",
            CheckoutError::NotConfigured => "/account/billing?error=payments_off",
            CheckoutError::Provider(e) => {
                tracing::warn!(error = ?e, "page checkout: the provider failed");
                "/account/billing?error=provider"
            }
            CheckoutError::Subscription(e) => {
                tracing::warn!(error = ?e, "page checkout failed");
                "/account/billing?error=unavailable"
            }
        }),
    }
}

async fn portal(state: web::Data<AppState>, req: HttpRequest, payload: web::Payload) -> HttpResponse {
    let Some(body) = read_form(payload).await else {
        return see_other("/account/billing?error=too_large");
    };
    let (user, _) = match action::<ActionForm>(&state, &req, &body).await {
        Ok(found) => found,
        Err(res) => return res,
    };
    let back = format!("{}/account/billing", page_origin(&req, &state));
    match state.services.billing.open_portal(user.id, Some(&back)).await {
        Ok(url) => see_other(&url),
        Err(e) => see_other(match e {
            PortalError::NoBillingAccount => "/account/billing?error=no_billing_account",
            PortalError::InvalidRedirect => "/account/billing?error=redirect",
            PortalError::NotConfigured => "/account/billing?error=payments_off",
            PortalError::Provider(e) => {
                tracing::warn!(error = ?e, "page portal: the provider failed");
                "/account/billing?error=provider"
            }
            PortalError::Subscription(e) => {
                tracing::warn!(error = ?e, "page portal failed");
                "/account/billing?error=unavailable"
            }
        }),
    }
}

/// The plans a user may buy from the page.
fn upgrades(state: &AppState, current: PlanId) -> Vec<render::Offer> {
    let catalog = state.services.billing.catalog();
    [PlanId::Basic, PlanId::Pro]
        .into_iter()
        .filter(|id| *id != current)
        .map(|id| catalog.get(id))
        .filter(|plan| plan.self_serve)
        .map(|plan| render::Offer {
            id: plan.id.as_str(),
            name: plan.name.clone(),
            runs: plan.runs.as_option().map_or_else(|| "unlimited".to_owned(), |n| render::grouped(&n)),
            price: plan.price.map_or_else(|| "custom price".to_owned(), |p| format!("{p}/month")),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::STYLESHEET;

    /// `--name: #rrggbb` from the stylesheet's `:root`.
    fn colour(name: &str) -> [f64; 3] {
        let at = STYLESHEET.find(&format!("--{name}:")).unwrap_or_else(|| panic!("--{name} is defined"));
        let hex = STYLESHEET[at..].split('#').nth(1).expect("a hex colour");
        let channel = |i: usize| f64::from(u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"));
        [channel(0), channel(2), channel(4)]
    }

    /// WCAG 2.x relative luminance and contrast ratio.
    fn contrast(a: [f64; 3], b: [f64; 3]) -> f64 {
        let luminance = |c: [f64; 3]| {
            let lin = |v: f64| {
                let s = v / 255.0;
                if s <= 0.03928 {
                    s / 12.92
                } else {
                    ((s + 0.055) / 1.055).powf(2.4)
                }
            };
            0.2126 * lin(c[0]) + 0.7152 * lin(c[1]) + 0.0722 * lin(c[2])
        };
        let (x, y) = (luminance(a), luminance(b));
        (x.max(y) + 0.05) / (x.min(y) + 0.05)
    }

    #[test]
    fn every_text_colour_meets_wcag_aa_on_its_background() {
        for (text, background) in [
            ("ink", "bg"),
            ("ink", "card"),
            ("muted", "card"),
            ("muted", "bg"),
            ("accent", "card"),
            ("accent-ink", "accent"),
            ("error", "error-bg"),
            ("notice", "notice-bg"),
            ("warn", "warn-bg"),
        ] {
            let ratio = contrast(colour(text), colour(background));
            assert!(ratio >= 4.5, "--{text} on --{background}: {ratio:.2} < 4.5");
        }
    }
}
