//! `/account/billing` and its actions: trial, checkout, portal.

use actix_web::{web, HttpRequest, HttpResponse};
use tollgate_domain::subscription::TrialError;
use tollgate_usecases::accounts::Acting;
use tollgate_usecases::billing::{ActivateTrialError, CheckoutError, PortalError};

use super::form::{action, page_origin, page_query, read_form, see_other, signed_in, ActionForm};
use super::render::{BillingView, Page};
use crate::state::AppState;

pub(super) async fn billing(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
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

pub(super) async fn trial(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    let Some(body) = read_form(payload).await else {
        return see_other("/account/billing?error=too_large");
    };
    let (user, _) = match action::<ActionForm>(&state, &req, &body).await {
        Ok(found) => found,
        Err(res) => return res,
    };
    match state.services.billing.activate_trial(&Acting::personal(user.id)).await {
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

pub(super) async fn checkout(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
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
        tollgate_usecases::redirect::CHECKOUT_SESSION_ID
    );
    let cancel = format!("{origin}/account/billing?notice=cancelled");
    match state
        .services
        .billing
        .start_checkout(&Acting::personal(user.id), &plan, Some(&success), Some(&cancel))
        .await
    {
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

pub(super) async fn portal(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    let Some(body) = read_form(payload).await else {
        return see_other("/account/billing?error=too_large");
    };
    let (user, _) = match action::<ActionForm>(&state, &req, &body).await {
        Ok(found) => found,
        Err(res) => return res,
    };
    let back = format!("{}/account/billing", page_origin(&req, &state));
    match state.services.billing.open_portal(&Acting::personal(user.id), Some(&back)).await {
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
