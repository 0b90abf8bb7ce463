//! The admin API (SPEC §8): support without SQL, for users with the `admin` role. Every change
//! is written with its audit entry in one transaction (by the use case).

use actix_web::{web, FromRequest, HttpMessage, HttpRequest, HttpResponse};
use tollgate_domain::plan::RunLimit;
use tollgate_domain::{AccountId, PlanId, RunCount, User, UserId};
use tollgate_usecases::admin::{Actor, MAX_GRANT};

use crate::dto::{
    AdminAccountDetail, AdminGrantRequest, AdminPlanRequest, AdminUserDetail, AdminUserPage, AdminUserQuery,
    AuditEntryView, AuditPage, AuditQuery, RunsLimitInput, UserView,
};
use crate::extract::authenticate;
use crate::middleware::RequestId;
use crate::problem::{ApiError, FieldError, Problem};
use crate::state::AppState;

/// How many usage records a user's detail shows.
const RECENT_USAGE: u32 = 20;

/// An admin: a valid bearer token (else 401) of a user whose role is `admin` *now*, as stored
/// (else 403 `FORBIDDEN`): a demotion holds at once, whatever an unexpired token says.
pub struct AdminCaller {
    user: User,
    request_id: Option<String>,
}

impl AdminCaller {
    fn actor(&self) -> Actor {
        Actor::user(&self.user, self.request_id.clone())
    }
}

impl FromRequest for AdminCaller {
    type Error = ApiError;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let claims = authenticate(req);
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let request_id = req.extensions().get::<RequestId>().map(|id| id.0.clone());
        Box::pin(async move {
            let (claims, state) = (claims?, state.ok_or_else(ApiError::unauthenticated)?);
            match state.services.admin.is_admin(claims.user_id).await? {
                Some(user) => Ok(Self { user, request_id }),
                None => Err(crate::problem::catalog::forbidden()),
            }
        })
    }
}

/// The JSON body, read only once the caller is known to be an admin (extractors run side by
/// side: a body error must not answer before the 403).
async fn json_body<T: serde::de::DeserializeOwned + 'static>(
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<web::Json<T>, actix_web::Error> {
    web::Json::<T>::from_request(req, &mut payload.into_inner()).await
}

/// Characters an audit text may not hold: controls, zero-width and direction-changing marks,
/// line and paragraph separators (they make stored text display as something else).
fn hidden(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
}

/// 1 to `max` characters, none hidden, at least one visible (the document's pattern, in code).
fn audit_text(text: &str, max: usize) -> bool {
    let count = text.chars().count();
    (1..=max).contains(&count) && !text.chars().any(hidden) && text.chars().any(|c| !c.is_whitespace())
}

fn user_id(raw: &str) -> Result<UserId, ApiError> {
    raw.parse::<uuid::Uuid>().map(UserId::from_uuid).map_err(|_| ApiError::not_found())
}

async fn detail(state: &AppState, id: UserId) -> Result<HttpResponse, ApiError> {
    let detail = state.services.admin.detail(id, RECENT_USAGE).await?;
    Ok(HttpResponse::Ok().json(AdminUserDetail::new(&detail, &state.services.metering.policy().catalog)))
}

/// Users whose email or name contains `query`, oldest first.
#[utoipa::path(get, path = "/api/v1/admin/users", tag = "admin", security(("bearer" = [])),
    params(AdminUserQuery),
    responses((status = 200, body = AdminUserPage), (status = 401, body = Problem),
        (status = 403, body = Problem, description = "`FORBIDDEN`: not an admin"), (status = 422, body = Problem)))]
pub async fn users(
    state: web::Data<AppState>,
    _admin: AdminCaller,
    query: web::Query<AdminUserQuery>,
) -> Result<HttpResponse, ApiError> {
    if query.query.as_deref().is_some_and(|q| q.chars().count() > 200) {
        return Err(ApiError::validation(vec![FieldError::new("query", "must be at most 200 characters")]));
    }
    let page = crate::extract::page(query.limit, query.offset, 20)?;
    let (users, total) = state.services.admin.search(query.query.as_deref(), page).await?;
    Ok(HttpResponse::Ok().json(AdminUserPage {
        items: users.iter().map(UserView::from).collect(),
        total,
        limit: page.limit,
        offset: page.offset,
    }))
}

/// One user: their subscription, Stripe ids and newest usage.
#[utoipa::path(get, path = "/api/v1/admin/users/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path,)),
    responses((status = 200, body = AdminUserDetail), (status = 401, body = Problem),
        (status = 403, body = Problem, description = "`FORBIDDEN`"),
        (status = 404, body = Problem, description = "`USER_NOT_FOUND`")))]
pub async fn user(
    state: web::Data<AppState>,
    _admin: AdminCaller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    detail(&state, user_id(&id)?).await
}

/// Sets the user's plan, and optionally their own run limit (a number, or `"unlimited"`).
#[utoipa::path(post, path = "/api/v1/admin/users/{id}/plan", tag = "admin", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path,)), request_body = AdminPlanRequest,
    responses((status = 200, body = AdminUserDetail), (status = 401, body = Problem),
        (status = 403, body = Problem, description = "`FORBIDDEN`"),
        (status = 404, body = Problem, description = "`USER_NOT_FOUND`"),
        (status = 422, body = Problem, description = "Unknown plan, bad limit, or an unlimited free plan")))]
pub async fn set_plan(
    state: web::Data<AppState>,
    admin: AdminCaller,
    id: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, actix_web::Error> {
    let id = user_id(&id)?;
    let body: web::Json<AdminPlanRequest> = json_body(&req, payload).await?;
    let (plan, runs) = plan_input(&body)?;
    let account = tollgate_domain::AccountId::personal(id);
    state.services.admin.set_plan(account, plan, runs, &admin.actor()).await.map_err(user_error)?;
    Ok(detail(&state, id).await?)
}

/// The plan and run limit a plan change asks for, exactly as the document's enum spells them (the
/// CLI is lenient; the API is not).
fn plan_input(body: &AdminPlanRequest) -> Result<(PlanId, Option<RunLimit>), ApiError> {
    let mut errors = Vec::new();
    let plan = match body.plan.as_deref().map(|raw| raw.parse::<PlanId>().map(|p| (p, p.as_str() == raw))) {
        Some(Ok((plan, true))) => Some(plan),
        Some(_) => {
            errors.push(FieldError::new("plan", "must be free, basic, pro or enterprise"));
            None
        }
        None => {
            errors.push(FieldError::new("plan", "is required"));
            None
        }
    };
    let runs = match &body.runs_limit {
        None => None,
        Some(RunsLimitInput::Runs(n)) => Some(RunLimit::limited(*n)),
        Some(RunsLimitInput::Unlimited(_)) => Some(RunLimit::Unlimited),
    };
    match plan.filter(|_| errors.is_empty()) {
        Some(plan) => Ok((plan, runs)),
        None => Err(ApiError::validation(errors)),
    }
}

/// The runs and reason a grant asks for.
fn grant_input(body: &AdminGrantRequest) -> Result<(RunCount, String), ApiError> {
    let mut errors = Vec::new();
    let runs = body.runs.filter(|n| (1..=MAX_GRANT).contains(n));
    if runs.is_none() {
        errors.push(FieldError::new("runs", "must be between 1 and 1000000"));
    }
    let reason = body.reason.as_deref().map(str::trim).unwrap_or_default();
    if !audit_text(reason, 500) {
        errors.push(FieldError::new(
            "reason",
            "must be 1 to 500 characters, some visible, without control, invisible or direction-changing characters",
        ));
    }
    match runs.filter(|_| errors.is_empty()) {
        Some(runs) => Ok((RunCount::new(runs), reason.to_owned())),
        None => Err(ApiError::validation(errors)),
    }
}

/// Grants extra runs for the user's current period, with a reason for the audit log.
#[utoipa::path(post, path = "/api/v1/admin/users/{id}/grant", tag = "admin", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path,)), request_body = AdminGrantRequest,
    responses((status = 200, body = AdminUserDetail), (status = 401, body = Problem),
        (status = 403, body = Problem, description = "`FORBIDDEN`"),
        (status = 404, body = Problem, description = "`USER_NOT_FOUND`"),
        (status = 422, body = Problem)))]
pub async fn grant(
    state: web::Data<AppState>,
    admin: AdminCaller,
    id: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, actix_web::Error> {
    let id = user_id(&id)?;
    let body: web::Json<AdminGrantRequest> = json_body(&req, payload).await?;
    let (runs, reason) = grant_input(&body)?;
    let account = tollgate_domain::AccountId::personal(id);
    state.services.admin.grant(account, runs, reason, &admin.actor()).await.map_err(user_error)?;
    Ok(detail(&state, id).await?)
}

/// A user route's error: a user without a personal account is no such user.
fn user_error(e: tollgate_usecases::admin::AdminError) -> ApiError {
    use tollgate_usecases::admin::AdminError;
    ApiError::from(match e {
        AdminError::UnknownAccount => AdminError::UnknownUser,
        other => other,
    })
}

fn account_id(raw: &str) -> Result<AccountId, ApiError> {
    raw.parse::<AccountId>().map_err(|_| crate::problem::catalog::account_not_found())
}

async fn account_detail(state: &AppState, id: AccountId) -> Result<HttpResponse, ApiError> {
    let detail = state.services.admin.account_detail(id, RECENT_USAGE).await?;
    Ok(HttpResponse::Ok().json(AdminAccountDetail::new(&detail, &state.services.metering.policy().catalog)))
}

/// One account (personal or organisation): its subscription, Stripe ids, members with their use
/// this period, and newest usage.
#[utoipa::path(get, path = "/api/v1/admin/accounts/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path,)),
    responses((status = 200, body = AdminAccountDetail), (status = 401, body = Problem),
        (status = 403, body = Problem, description = "`FORBIDDEN`"),
        (status = 404, body = Problem, description = "`ACCOUNT_NOT_FOUND`")))]
pub async fn account(
    state: web::Data<AppState>,
    _admin: AdminCaller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    account_detail(&state, account_id(&id)?).await
}

/// Sets an account's plan, and optionally its own run limit; audited with the account's id.
#[utoipa::path(post, path = "/api/v1/admin/accounts/{id}/plan", tag = "admin", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path,)), request_body = AdminPlanRequest,
    responses((status = 200, body = AdminAccountDetail), (status = 401, body = Problem),
        (status = 403, body = Problem, description = "`FORBIDDEN`"),
        (status = 404, body = Problem, description = "`ACCOUNT_NOT_FOUND`"),
        (status = 422, body = Problem, description = "Unknown plan, bad limit, or an unlimited free plan")))]
pub async fn set_account_plan(
    state: web::Data<AppState>,
    admin: AdminCaller,
    id: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, actix_web::Error> {
    let id = account_id(&id)?;
    let body: web::Json<AdminPlanRequest> = json_body(&req, payload).await?;
    let (plan, runs) = plan_input(&body)?;
    state.services.admin.set_plan(id, plan, runs, &admin.actor()).await.map_err(ApiError::from)?;
    Ok(account_detail(&state, id).await?)
}

/// Grants extra runs for an account's current period, with a reason for the audit log.
#[utoipa::path(post, path = "/api/v1/admin/accounts/{id}/grant", tag = "admin", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path,)), request_body = AdminGrantRequest,
    responses((status = 200, body = AdminAccountDetail), (status = 401, body = Problem),
        (status = 403, body = Problem, description = "`FORBIDDEN`"),
        (status = 404, body = Problem, description = "`ACCOUNT_NOT_FOUND`"),
        (status = 422, body = Problem)))]
pub async fn grant_account(
    state: web::Data<AppState>,
    admin: AdminCaller,
    id: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, actix_web::Error> {
    let id = account_id(&id)?;
    let body: web::Json<AdminGrantRequest> = json_body(&req, payload).await?;
    let (runs, reason) = grant_input(&body)?;
    state.services.admin.grant(id, runs, reason, &admin.actor()).await.map_err(ApiError::from)?;
    Ok(account_detail(&state, id).await?)
}

/// The audit log, newest first.
#[utoipa::path(get, path = "/api/v1/admin/audit", tag = "admin", security(("bearer" = [])),
    params(AuditQuery),
    responses((status = 200, body = AuditPage), (status = 401, body = Problem),
        (status = 403, body = Problem, description = "`FORBIDDEN`"), (status = 422, body = Problem)))]
pub async fn audit(
    state: web::Data<AppState>,
    _admin: AdminCaller,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = crate::extract::page(query.limit, query.offset, 50)?;
    let (entries, total) = state.services.admin.audit(page).await?;
    Ok(HttpResponse::Ok().json(AuditPage {
        items: entries.iter().map(AuditEntryView::from).collect(),
        total,
        limit: page.limit,
        offset: page.offset,
    }))
}
