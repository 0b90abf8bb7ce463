use actix_web::{web, HttpRequest, HttpResponse};
use tollgate_domain::SessionId;
use tollgate_usecases::sessions::parse_title;

use crate::body::OptionalJson;
use crate::dto::{CreateSessionRequest, PageQuery, SessionPage, SessionView};
use crate::extract::{ActingFor, Caller};
use crate::metering::{metered_headers, Bill, Body, Entry};
use crate::problem::{ApiError, FieldError, Problem};
use crate::state::AppState;

fn session_id(raw: &str) -> Result<SessionId, ApiError> {
    raw.parse().map_err(|_| ApiError::not_found())
}

/// Create a session; **consumes the route's cost** when the route table meters it, in the same
/// transaction as the session, and honours `Idempotency-Key`.
#[utoipa::path(post, path = "/api/v1/sessions", tag = "sessions", security(("bearer" = [])),
    request_body(content = CreateSessionRequest, description = "Optional; a body that is sent must be a valid JSON object"),
    params(("Idempotency-Key" = Option<String>, Header, description = "A retry with the same key and body returns the original session and consumes nothing",
        min_length = 1, max_length = 255, pattern = "^[!-~]+$"),
        ("X-Tollgate-Account" = Option<uuid::Uuid>, Header, nullable = false, description = "The account that pays (default: the caller's personal account); 403 `NOT_A_MEMBER` for one not theirs")),
    responses((status = 201, body = SessionView, headers(("RateLimit-Remaining" = u32, description = "Runs left in the period (limited plans)"))),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 402, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "`NOT_A_MEMBER`"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 413, body = Problem, content_type = "application/problem+json"),
        (status = 415, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn create(
    state: web::Data<AppState>,
    req: HttpRequest,
    acting: ActingFor,
    body: OptionalJson<CreateSessionRequest>,
) -> Result<HttpResponse, ApiError> {
    let acting = acting.0;
    let bill = Bill::for_route_as(&req, Entry::Own, &acting)?;
    let body = body.into_inner().unwrap_or_default();
    let title = parse_title(body.title.as_deref())
        .map_err(|e| ApiError::validation(vec![FieldError::new("title", e)]))?;
    let sessions = &state.services.sessions;
    let Some(bill) = bill else {
        let session = sessions.create_unmetered(acting.account, acting.user, title).await?;
        return Ok(HttpResponse::Created().json(SessionView::from(&session)));
    };
    // The fingerprint is of the request as understood (the parsed body), not its spelling.
    let key = bill.key_for(Body::Parsed(&body));
    let metered = sessions.create(bill.payer, acting.user, title, bill.cost, key).await?;
    let Some(session) = metered.value else {
        return Err(crate::problem::catalog::idempotency_key_reused());
    };
    let mut res = HttpResponse::Created();
    for header in metered_headers(&metered.quota, metered.replayed) {
        res.insert_header(header);
    }
    Ok(res.json(SessionView::from(&session)))
}

/// The sessions the caller made in the account they act for, newest first.
#[utoipa::path(get, path = "/api/v1/sessions", tag = "sessions", security(("bearer" = [])),
    params(PageQuery, ("X-Tollgate-Account" = Option<uuid::Uuid>, Header, nullable = false, description = "The account (default: the caller's personal account)")),
    responses((status = 200, body = SessionPage), (status = 401, body = Problem),
        (status = 403, body = Problem, description = "`NOT_A_MEMBER`"), (status = 422, body = Problem)))]
pub async fn list(
    state: web::Data<AppState>,
    acting: ActingFor,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = crate::extract::page(query.limit, query.offset, 20)?;
    let (items, total) = state.services.sessions.list(acting.0.user, acting.0.account, page).await?;
    Ok(HttpResponse::Ok().json(SessionPage {
        items: items.iter().map(SessionView::from).collect(),
        total,
        limit: page.limit,
        offset: page.offset,
    }))
}

/// One of the caller's sessions (404 also for someone else's).
#[utoipa::path(get, path = "/api/v1/sessions/{id}", tag = "sessions", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path,)), responses((status = 200, body = SessionView), (status = 404, body = Problem)))]
pub async fn get(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let session = state
        .services
        .sessions
        .get(caller.0.user_id, session_id(&id)?)
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(HttpResponse::Ok().json(SessionView::from(&session)))
}

/// Delete one of the caller's sessions; the run is not refunded.
#[utoipa::path(delete, path = "/api/v1/sessions/{id}", tag = "sessions", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path,)), responses((status = 204), (status = 404, body = Problem)))]
pub async fn delete(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    if state.services.sessions.delete(caller.0.user_id, session_id(&id)?).await? {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::not_found())
    }
}
