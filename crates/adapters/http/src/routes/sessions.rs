use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use tollgate_domain::SessionId;
use tollgate_ports::outbound::Page;
use tollgate_ports::services::sessions::parse_title;

use crate::dto::{CreateSessionRequest, PageQuery, SessionPage, SessionView};
use crate::extract::Caller;
use crate::middleware::{MeterGrant, QuotaAfter};
use crate::problem::{ApiError, FieldError, Problem};
use crate::state::AppState;

fn session_id(raw: &str) -> Result<SessionId, ApiError> {
    raw.parse().map_err(|_| ApiError::not_found())
}

/// Create a session; **consumes one run** (when the route is metered) and honours `Idempotency-Key`.
#[utoipa::path(post, path = "/api/v1/sessions", tag = "sessions", security(("bearer" = [])),
    request_body(content = CreateSessionRequest, description = "optional"),
    params(("Idempotency-Key" = Option<String>, Header, description = "A retry with the same key returns the original session and consumes nothing")),
    responses((status = 201, body = SessionView), (status = 401, body = Problem), (status = 402, body = Problem),
        (status = 422, body = Problem)))]
pub async fn create(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Caller,
    body: Option<web::Json<CreateSessionRequest>>,
) -> Result<HttpResponse, ApiError> {
    let raw_title = body.as_ref().and_then(|b| b.title.as_deref());
    let title =
        parse_title(raw_title).map_err(|e| ApiError::validation(vec![FieldError::new("title", e)]))?;
    let grant = req.extensions().get::<MeterGrant>().cloned();
    let sessions = &state.services.sessions;
    let Some(MeterGrant::InHandler { key }) = grant else {
        let session = sessions.create_unmetered(caller.0.user_id, title).await?;
        return Ok(HttpResponse::Created().json(SessionView::from(&session)));
    };
    let metered = sessions.create(caller.0.user_id, title, key).await?;
    let Some(session) = metered.value else {
        return Err(ApiError::new(
            actix_web::http::StatusCode::CONFLICT,
            "IDEMPOTENCY_KEY_REUSED",
            "This Idempotency-Key already created a session that has since been deleted.",
        ));
    };
    let mut res = HttpResponse::Created().json(SessionView::from(&session));
    if metered.replayed {
        res.headers_mut()
            .insert(HeaderName::from_static("idempotent-replayed"), HeaderValue::from_static("true"));
    }
    res.extensions_mut().insert(QuotaAfter(metered.quota));
    Ok(res)
}

/// The caller's sessions, newest first.
#[utoipa::path(get, path = "/api/v1/sessions", tag = "sessions", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = SessionPage), (status = 401, body = Problem), (status = 422, body = Problem)))]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = query.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::validation(vec![FieldError::new("limit", "must be between 1 and 100")]));
    }
    let offset = query.offset.unwrap_or(0);
    let (items, total) = state.services.sessions.list(caller.0.user_id, Page { limit, offset }).await?;
    Ok(HttpResponse::Ok().json(SessionPage {
        items: items.iter().map(SessionView::from).collect(),
        total,
        limit,
        offset,
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
