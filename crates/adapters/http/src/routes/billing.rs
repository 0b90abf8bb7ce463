use actix_web::{web, HttpRequest, HttpResponse};

use tollgate_usecases::webhooks::WebhookStatus;

use crate::body::{read_limited, OptionalJson};
use crate::dto::{
    CheckoutRequest, CheckoutResponse, PlansResponse, PortalRequest, PortalResponse, SubscriptionView,
    TrialResponse, WebhookResponse,
};
use crate::extract::ActingFor;
use crate::problem::{ApiError, FieldError, Problem};
use crate::state::AppState;

/// The plan catalog (public).
#[utoipa::path(get, path = "/api/v1/billing/plans", tag = "billing", responses((status = 200, body = PlansResponse)))]
pub async fn plans(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(PlansResponse::from(state.services.billing.catalog()))
}

/// The subscription and quota of the account the caller acts for (never blocked by an exhausted
/// quota); every member may read it.
#[utoipa::path(get, path = "/api/v1/billing/subscription", tag = "billing", security(("bearer" = [])),
    params(("X-Tollgate-Account" = Option<uuid::Uuid>, Header, nullable = false, description = "The account (default: the caller's personal account); 403 `NOT_A_MEMBER` for one not theirs")),
    responses((status = 200, body = SubscriptionView), (status = 401, body = Problem), (status = 403, body = Problem, description = "`NOT_A_MEMBER`"),
        (status = 422, body = Problem, description = "`X-Tollgate-Account` is not an account id")))]
pub async fn subscription(state: web::Data<AppState>, acting: ActingFor) -> Result<HttpResponse, ApiError> {
    let sub = state.services.billing.subscription(acting.0.account).await?;
    Ok(HttpResponse::Ok().json(SubscriptionView::new(&sub, state.services.billing.catalog())))
}

/// Start the account's one-time trial (an organisation's owners and admins).
#[utoipa::path(post, path = "/api/v1/billing/activate-trial", tag = "billing", security(("bearer" = [])),
    params(("X-Tollgate-Account" = Option<uuid::Uuid>, Header, nullable = false, description = "The account (default: the caller's personal account); 403 `NOT_A_MEMBER` for one not theirs")),
    responses((status = 200, body = TrialResponse), (status = 403, body = Problem, description = "`NOT_A_MEMBER`, `ROLE_REQUIRED`"), (status = 409, body = Problem, description = "`TRIAL_UNAVAILABLE`"),
        (status = 422, body = Problem, description = "`X-Tollgate-Account` is not an account id")))]
pub async fn activate_trial(state: web::Data<AppState>, acting: ActingFor) -> Result<HttpResponse, ApiError> {
    let sub = state.services.billing.activate_trial(&acting.0).await?;
    let catalog = state.services.billing.catalog();
    let trial_end = sub.trial().map(|t| t.ends_at).unwrap_or(sub.period().end());
    Ok(HttpResponse::Ok().json(TrialResponse {
        message: format!("Your {}-day trial has started.", catalog.trial().days),
        trial_end: trial_end.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
        runs_limit: catalog.trial().runs.get(),
    }))
}

/// Open a Stripe Checkout session for `basic` or `pro`, for the account the caller acts for (an
/// organisation's owners and admins).
#[utoipa::path(post, path = "/api/v1/billing/create-checkout-session", tag = "billing", security(("bearer" = [])),
    request_body = CheckoutRequest, params(("X-Tollgate-Account" = Option<uuid::Uuid>, Header, nullable = false, description = "The account (default: the caller's personal account); 403 `NOT_A_MEMBER` for one not theirs")),
    responses((status = 200, body = CheckoutResponse),
        (status = 400, body = Problem, description = "`INVALID_PLAN` or `INVALID_REDIRECT_URL` (the URL's origin is not allowed)"),
        (status = 403, body = Problem, description = "`NOT_A_MEMBER`, `ROLE_REQUIRED`"),
        (status = 409, body = Problem, description = "`ALREADY_SUBSCRIBED`"),
        (status = 429, body = Problem, description = "Too many Checkout sessions for this user (`RATE_LIMITED`, `Retry-After`)"),
        (status = 422, body = Problem, description = "`X-Tollgate-Account` is not an account id"),
        (status = 502, body = Problem, description = "`PAYMENT_PROVIDER_ERROR`"),
        (status = 503, body = Problem, description = "`STRIPE_NOT_CONFIGURED`")))]
pub async fn create_checkout_session(
    state: web::Data<AppState>,
    acting: ActingFor,
    body: web::Json<CheckoutRequest>,
) -> Result<HttpResponse, ApiError> {
    let Some(plan) = body.plan.as_deref() else {
        return Err(ApiError::validation(vec![FieldError::new("plan", "is required")]));
    };
    state.limits.checkout(acting.0.user).map_err(ApiError::rate_limited)?;
    let session = state
        .services
        .billing
        .start_checkout(&acting.0, plan, body.success_url.as_deref(), body.cancel_url.as_deref())
        .await?;
    Ok(HttpResponse::Ok()
        .json(CheckoutResponse { checkout_session_id: session.id, checkout_url: session.url }))
}

/// Open the Stripe customer portal of the account the caller acts for (an organisation's owners
/// and admins); `return_url` in the body or the query.
#[utoipa::path(post, path = "/api/v1/billing/create-portal-session", tag = "billing", security(("bearer" = [])),
    params(PortalRequest, ("X-Tollgate-Account" = Option<uuid::Uuid>, Header, nullable = false, description = "The account (default: the caller's personal account); 403 `NOT_A_MEMBER` for one not theirs")), request_body(content = PortalRequest, description = "Optional; `return_url` here wins over the query's"),
    responses((status = 200, body = PortalResponse),
        (status = 400, body = Problem, description = "`INVALID_REDIRECT_URL` (the URL's origin is not allowed)"),
        (status = 403, body = Problem, description = "`NOT_A_MEMBER`, `ROLE_REQUIRED`"),
        (status = 409, body = Problem, description = "`NO_BILLING_ACCOUNT`"),
        (status = 422, body = Problem, description = "`X-Tollgate-Account` is not an account id"),
        (status = 502, body = Problem, description = "`PAYMENT_PROVIDER_ERROR`"),
        (status = 503, body = Problem, description = "`STRIPE_NOT_CONFIGURED`")))]
pub async fn create_portal_session(
    state: web::Data<AppState>,
    acting: ActingFor,
    query: web::Query<PortalRequest>,
    body: OptionalJson<PortalRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let from_body = body.as_ref().and_then(|b| b.return_url.as_deref());
    let return_url = from_body.or(query.return_url.as_deref());
    let url = state.services.billing.open_portal(&acting.0, return_url).await?;
    Ok(HttpResponse::Ok().json(PortalResponse { portal_url: url }))
}

/// Stripe webhook: the raw body is verified against `Stripe-Signature` before it is read.
#[utoipa::path(post, path = "/api/v1/billing/webhook", tag = "billing",
    request_body(content = crate::dto::StripeEvent, description = "The event exactly as Stripe sent it (the signature covers these bytes)"),
    params(("Stripe-Signature" = String, Header, description = "`t=<unix seconds>,v1=<hex HMAC-SHA256>[,v1=…]` (at most 8 `v1`)")),
    responses((status = 200, body = WebhookResponse),
        (status = 400, body = Problem, description = "`INVALID_SIGNATURE`, or a signed body that is not an event (`MALFORMED_REQUEST`)"),
        (status = 409, body = Problem, description = "`EVENT_OUT_OF_ORDER`: delivered before an event it depends on; not recorded, Stripe retries"),
        (status = 413, body = Problem, description = "`PAYLOAD_TOO_LARGE` (over 1 MiB)"),
        (status = 503, body = Problem, description = "`STRIPE_NOT_CONFIGURED`, or the store is unavailable (Stripe retries)")))]
pub async fn webhook(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = read_limited(payload, state.config.max_webhook_bytes).await?;
    let signature = req.headers().get("stripe-signature").and_then(|v| v.to_str().ok()).unwrap_or_default();
    let receipt = state.services.webhooks.handle(&body, signature).await?;
    if receipt.status == WebhookStatus::Deferred {
        // Non-2xx, so Stripe delivers it again once the event it depends on has been applied.
        return Err(crate::problem::catalog::event_out_of_order());
    }
    Ok(HttpResponse::Ok().json(WebhookResponse {
        status: receipt.status.as_str(),
        event_id: receipt.event_id,
        event_type: receipt.event_type,
    }))
}

/// The usage of the account the caller acts for, by UTC day or by period (default: the last 30
/// days by day; at most 366 buckets), from the usage records; `user_id` narrows it to one member
/// (owners and admins may name anyone, members themselves).
#[utoipa::path(get, path = "/api/v1/billing/usage", tag = "billing", security(("bearer" = [])),
    params(crate::dto::UsageQuery, ("X-Tollgate-Account" = Option<uuid::Uuid>, Header, nullable = false, description = "The account (default: the caller's personal account); 403 `NOT_A_MEMBER` for one not theirs")),
    responses((status = 200, body = crate::dto::UsageHistoryResponse),
        (status = 403, body = Problem, description = "`NOT_A_MEMBER`, or `ROLE_REQUIRED` (a member asking for someone else's use)"),
        (status = 422, body = Problem, description = "Bad `from`, `to` or `granularity`, `from` not before `to`, or more than 366 buckets")))]
pub async fn usage(
    state: web::Data<AppState>,
    acting: ActingFor,
    query: web::Query<crate::dto::UsageQuery>,
) -> Result<HttpResponse, ApiError> {
    use time::format_description::well_known::Rfc3339;
    use tollgate_usecases::usage_history::{Granularity, HistoryError};
    let history = &state.services.usage_history;
    let instant = |field: &str, raw: &Option<String>| -> Result<Option<time::OffsetDateTime>, ApiError> {
        raw.as_deref()
            .map(|text| time::OffsetDateTime::parse(text, &Rfc3339))
            .transpose()
            .map_err(|_| ApiError::validation(vec![FieldError::new(field, "must be an RFC 3339 date-time")]))
    };
    let to = instant("to", &query.to)?.unwrap_or_else(|| history.now());
    let from = instant("from", &query.from)?.unwrap_or(to - time::Duration::days(30));
    let granularity = match query.granularity.as_deref() {
        None | Some("day") => Granularity::Day,
        Some("period") => Granularity::Period,
        Some(_) => {
            return Err(ApiError::validation(vec![FieldError::new(
                "granularity",
                "must be `day` or `period`",
            )]))
        }
    };
    let acting = acting.0;
    let member = match query.user_id.as_deref() {
        None => None,
        Some(raw) => {
            let member = raw.parse::<tollgate_domain::UserId>().map_err(|_| {
                ApiError::validation(vec![FieldError::new("user_id", "must be a user id (a UUID)")])
            })?;
            if member != acting.user && !acting.role.manages() {
                return Err(crate::problem::catalog::role_required());
            }
            Some(member)
        }
    };
    let buckets =
        history.history(acting.account, member, from, to, granularity).await.map_err(|e| match e {
            HistoryError::EmptyRange => {
                ApiError::validation(vec![FieldError::new("from", "must be before `to`")])
            }
            HistoryError::TooManyBuckets => {
                ApiError::validation(vec![FieldError::new("from", "the range spans more than 366 buckets")])
            }
            HistoryError::UnknownUser => ApiError::unauthenticated(),
            HistoryError::Failure(f) => f.into(),
        })?;
    Ok(HttpResponse::Ok().json(crate::dto::UsageHistoryResponse::new(&buckets)))
}
