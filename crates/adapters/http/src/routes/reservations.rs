//! Reservations (SPEC §7.2), for the service API: hold runs before a long agent run of unknown
//! cost, then commit what it cost (the rest comes back) or release it.

use actix_web::{web, HttpRequest, HttpResponse};
use time::Duration;
use tollgate_domain::RunCount;
use tollgate_usecases::reservations::{CommitError, ReleaseError, DEFAULT_TTL};

use crate::body::OptionalJson;
use crate::dto::{
    CommitRequest, ReservationView, ReserveRequest, ReservedResponse, ServiceQuotaView, SettledResponse,
};
use crate::extract::ServiceCaller;
use crate::metering::{metered_headers, Bill, Body};
use crate::problem::{ApiError, FieldError, Problem};
use crate::routes::usage::runs;
use crate::state::AppState;

fn reservation_id(raw: &str) -> Result<uuid::Uuid, ApiError> {
    raw.parse().map_err(|_| crate::problem::catalog::reservation_not_found())
}

/// Hold runs for a user until `ttl_seconds` pass; they count against the quota at once.
#[utoipa::path(post, path = "/api/v1/reservations", tag = "service", security(("service_key" = [])),
    request_body = ReserveRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "A retry with the same key and body answers the first hold",
        min_length = 1, max_length = 255, pattern = "^[!-~]+$")),
    responses((status = 201, body = ReservedResponse),
        (status = 402, body = Problem, description = "`SUBSCRIPTION_LIMIT_REACHED` or `SUBSCRIPTION_INACTIVE`"),
        (status = 404, body = Problem, description = "`USER_NOT_FOUND`"),
        (status = 422, body = Problem, description = "Invalid fields, or `IDEMPOTENCY_KEY_MISMATCH`")))]
pub async fn reserve(
    state: web::Data<AppState>,
    req: HttpRequest,
    _caller: ServiceCaller,
    body: web::Json<ReserveRequest>,
) -> Result<HttpResponse, ApiError> {
    let runs = runs(body.runs)?;
    let ttl = match body.ttl_seconds {
        None => DEFAULT_TTL,
        Some(secs @ 1..=86_400) => Duration::seconds(i64::from(secs)),
        Some(_) => {
            return Err(ApiError::validation(vec![FieldError::new(
                "ttl_seconds",
                "must be between 1 and 86400",
            )]))
        }
    };
    let bill = Bill::for_service(&req, crate::extract::payer_of(body.user_id, body.account_id)?, runs)?;
    let key = bill.key_for(Body::Parsed(&body.0));
    let reservations = &state.services.reservations;
    let held = reservations.reserve(bill.payer, bill.cost, ttl, key).await?;
    let reservation = held.value.ok_or_else(crate::problem::catalog::reservation_not_found)?;
    let mut res = HttpResponse::Created();
    for header in metered_headers(&held.quota, held.replayed) {
        res.insert_header(header);
    }
    Ok(res.json(ReservedResponse {
        reservation: ReservationView::new(&reservation, reservations.now()),
        subscription: ServiceQuotaView::from(&held.quota),
    }))
}

/// Charge what the work cost (at most the runs held; never refused for quota) and give the rest
/// back. A repeat answers the same.
#[utoipa::path(post, path = "/api/v1/reservations/{id}/commit", tag = "service", security(("service_key" = [])),
    params(("id" = uuid::Uuid, Path,)), request_body(content = CommitRequest, description = "Optional"),
    responses((status = 200, body = SettledResponse),
        (status = 404, body = Problem, description = "`RESERVATION_NOT_FOUND`"),
        (status = 409, body = Problem, description = "`RESERVATION_RELEASED` or `RESERVATION_EXPIRED`"),
        (status = 422, body = Problem, description = "`runs` above the runs held")))]
pub async fn commit(
    state: web::Data<AppState>,
    _caller: ServiceCaller,
    id: web::Path<String>,
    body: OptionalJson<CommitRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = reservation_id(&id)?;
    let runs = body.into_inner().unwrap_or_default().runs;
    if runs.is_some_and(|n| n > 1_000_000) {
        return Err(ApiError::validation(vec![FieldError::new("runs", "must be at most the runs held")]));
    }
    match state.services.reservations.commit(id, runs.map(RunCount::new)).await {
        Ok(r) => Ok(HttpResponse::Ok().json(SettledResponse {
            id: r.id,
            status: r.status.as_str(),
            runs: r.committed_runs.map(|n| n.get()),
        })),
        Err(CommitError::NotFound) => Err(crate::problem::catalog::reservation_not_found()),
        Err(CommitError::Released(_)) => Err(crate::problem::catalog::reservation_settled(
            crate::problem::code::ErrorCode::ReservationReleased,
        )),
        Err(CommitError::Expired(_)) => Err(crate::problem::catalog::reservation_settled(
            crate::problem::code::ErrorCode::ReservationExpired,
        )),
        Err(CommitError::TooManyRuns(r)) => Err(ApiError::validation(vec![FieldError::new(
            "runs",
            format!("must be at most the {} runs held", r.runs.get()),
        )])),
        Err(CommitError::Failure(f)) => Err(f.into()),
    }
}

/// Give every held run back. Releasing a released or expired reservation answers it as it is.
#[utoipa::path(post, path = "/api/v1/reservations/{id}/release", tag = "service", security(("service_key" = [])),
    params(("id" = uuid::Uuid, Path,)),
    responses((status = 200, body = SettledResponse),
        (status = 404, body = Problem, description = "`RESERVATION_NOT_FOUND`"),
        (status = 409, body = Problem, description = "`RESERVATION_COMMITTED`")))]
pub async fn release(
    state: web::Data<AppState>,
    _caller: ServiceCaller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = reservation_id(&id)?;
    let reservations = &state.services.reservations;
    match reservations.release(id).await {
        Ok(r) => Ok(HttpResponse::Ok().json(SettledResponse {
            id: r.id,
            status: r.status_at(reservations.now()).as_str(),
            runs: None,
        })),
        Err(ReleaseError::NotFound) => Err(crate::problem::catalog::reservation_not_found()),
        Err(ReleaseError::Committed(_)) => Err(crate::problem::catalog::reservation_settled(
            crate::problem::code::ErrorCode::ReservationCommitted,
        )),
        Err(ReleaseError::Failure(f)) => Err(f.into()),
    }
}

/// A reservation, with its status as of now (a hold past its expiry is `expired`).
#[utoipa::path(get, path = "/api/v1/reservations/{id}", tag = "service", security(("service_key" = [])),
    params(("id" = uuid::Uuid, Path,)),
    responses((status = 200, body = ReservationView), (status = 404, body = Problem, description = "`RESERVATION_NOT_FOUND`")))]
pub async fn get(
    state: web::Data<AppState>,
    _caller: ServiceCaller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = reservation_id(&id)?;
    let reservations = &state.services.reservations;
    let found = reservations.get(id).await?.ok_or_else(crate::problem::catalog::reservation_not_found)?;
    Ok(HttpResponse::Ok().json(ReservationView::new(&found, reservations.now())))
}
