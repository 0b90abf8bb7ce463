//! The service API (SPEC §7.2): an agent backend, authenticated with a service key, asks whether
//! a user may run, consumes runs for them and gives back the runs of work that failed.

use actix_web::{web, HttpRequest, HttpResponse};
use tollgate_domain::RunCount;
use tollgate_ports::{RefundOutcome, UsageReason};
use tollgate_usecases::metering::MeterError;

use crate::dto::{
    ServiceQuotaView, UsageCheckRequest, UsageCheckResponse, UsageConsumeRequest, UsageConsumeResponse,
    UsageRefundRequest, UsageRefundResponse,
};
use crate::extract::ServiceCaller;
use crate::metering::{metered_headers, Bill, Body};
use crate::problem::{ApiError, FieldError, Problem};
use crate::state::AppState;

/// At most this many runs in one call.
const MAX_RUNS: u32 = 1_000_000;

pub(crate) fn runs(requested: Option<u32>) -> Result<RunCount, ApiError> {
    match requested.unwrap_or(1) {
        n @ 1..=MAX_RUNS => Ok(RunCount::new(n)),
        _ => Err(ApiError::validation(vec![FieldError::new("runs", "must be between 1 and 1000000")])),
    }
}

/// May the user spend `runs` now? Nothing is debited (a due period rollover is applied).
#[utoipa::path(post, path = "/api/v1/usage/check", tag = "service", security(("service_key" = [])),
    request_body = UsageCheckRequest,
    responses((status = 200, body = UsageCheckResponse),
        (status = 404, body = Problem, description = "`USER_NOT_FOUND`")))]
pub async fn check(
    state: web::Data<AppState>,
    _caller: ServiceCaller,
    body: web::Json<UsageCheckRequest>,
) -> Result<HttpResponse, ApiError> {
    let runs = runs(body.runs)?;
    let metering = &state.services.metering;
    let (allowed, code, quota) =
        match metering.check(crate::extract::payer_of(body.user_id, body.account_id)?, runs).await {
            Ok(quota) => (true, None, quota),
            Err(MeterError::Refused { reason, quota }) => {
                (false, Some(crate::problem::catalog::refusal_code(reason).as_str()), quota)
            }
            Err(e) => return Err(e.into()),
        };
    Ok(HttpResponse::Ok().json(UsageCheckResponse {
        allowed,
        code,
        subscription: ServiceQuotaView::from(&quota),
    }))
}

/// Consume runs for a user, atomically against their quota; 402 (as `POST /sessions`) when it
/// does not allow them. A retry with the same `Idempotency-Key` and body answers the same and
/// consumes nothing.
#[utoipa::path(post, path = "/api/v1/usage/consume", tag = "service", security(("service_key" = [])),
    request_body = UsageConsumeRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "A retry with the same key and body answers the same and consumes nothing",
        min_length = 1, max_length = 255, pattern = "^[!-~]+$")),
    responses((status = 200, body = UsageConsumeResponse),
        (status = 402, body = Problem, description = "`SUBSCRIPTION_LIMIT_REACHED` or `SUBSCRIPTION_INACTIVE`"),
        (status = 404, body = Problem, description = "`USER_NOT_FOUND`"),
        (status = 422, body = Problem, description = "Invalid fields, or `IDEMPOTENCY_KEY_MISMATCH`")))]
pub async fn consume(
    state: web::Data<AppState>,
    req: HttpRequest,
    _caller: ServiceCaller,
    body: web::Json<UsageConsumeRequest>,
) -> Result<HttpResponse, ApiError> {
    let runs = runs(body.runs)?;
    let reason = body.reason.as_deref().map(str::trim).unwrap_or_default();
    if reason.chars().count() > 200 || reason.chars().any(char::is_control) {
        return Err(ApiError::validation(vec![FieldError::new(
            "reason",
            "must be at most 200 characters without control characters",
        )]));
    }
    let bill = Bill::for_service(&req, crate::extract::payer_of(body.user_id, body.account_id)?, runs)?;
    let key = bill.key_for(Body::Parsed(&body.0));
    let metered = state
        .services
        .metering
        .consume(bill.payer, bill.cost, key, UsageReason::Service(reason.to_owned()))
        .await?;
    let consumption_id =
        metered.value.ok_or_else(|| ApiError::internal("a consumption without a record".into()))?;
    let mut res = HttpResponse::Ok();
    for header in metered_headers(&metered.quota, metered.replayed) {
        res.insert_header(header);
    }
    Ok(res.json(UsageConsumeResponse {
        consumption_id,
        runs: runs.get(),
        subscription: ServiceQuotaView::from(&metered.quota),
    }))
}

/// Give back the runs of a consumption whose work failed; once (a repeat answers the same).
#[utoipa::path(post, path = "/api/v1/usage/refund", tag = "service", security(("service_key" = [])),
    request_body = UsageRefundRequest,
    responses((status = 200, body = UsageRefundResponse),
        (status = 404, body = Problem, description = "`CONSUMPTION_NOT_FOUND`")))]
pub async fn refund(
    state: web::Data<AppState>,
    _caller: ServiceCaller,
    body: web::Json<UsageRefundRequest>,
) -> Result<HttpResponse, ApiError> {
    match state.services.metering.refund(body.consumption_id).await? {
        RefundOutcome::Refunded { .. } | RefundOutcome::AlreadyRefunded => Ok(HttpResponse::Ok()
            .json(UsageRefundResponse { consumption_id: body.consumption_id, refunded: true })),
        RefundOutcome::NotFound => Err(crate::problem::catalog::consumption_not_found()),
    }
}
