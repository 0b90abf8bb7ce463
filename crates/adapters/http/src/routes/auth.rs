use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse, HttpResponseBuilder};
use tollgate_domain::{Email, FullName, Password};
use tollgate_usecases::auth::{LoginError, Registration, SignedIn, TokenPair};

use crate::body::OptionalJson;
use crate::dto::{
    AuthResponse, LoginRequest, LogoutRequest, RefreshRequest, RegisterRequest, TokenResponse, UserView,
};
use crate::extract::Caller;
use crate::problem::{ApiError, FieldError, Problem};
use crate::state::AppState;

fn tokens(pair: TokenPair) -> TokenResponse {
    TokenResponse {
        access_token: pair.access.token,
        refresh_token: pair.refresh_token,
        token_type: "bearer",
        expires_in: pair.access.expires_in_secs,
    }
}

fn signed_in(s: SignedIn) -> AuthResponse {
    AuthResponse { user: UserView::from(&s.user), tokens: tokens(s.tokens) }
}

fn required<'a>(value: &'a Option<String>, field: &str, errors: &mut Vec<FieldError>) -> &'a str {
    match value.as_deref() {
        Some(v) => v,
        None => {
            errors.push(FieldError::new(field, "is required"));
            ""
        }
    }
}

fn client(req: &HttpRequest) -> Option<std::net::IpAddr> {
    req.peer_addr().map(|a| a.ip())
}

/// An answer that carries tokens: never stored by a cache.
fn with_tokens(mut res: HttpResponseBuilder, body: impl serde::Serialize) -> HttpResponse {
    res.insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(body)
}

/// Create an account (and its free subscription) and sign in.
#[utoipa::path(post, path = "/api/v1/auth/register", tag = "auth", request_body = RegisterRequest,
    responses((status = 201, body = AuthResponse), (status = 409, body = Problem, description = "`EMAIL_TAKEN`"),
        (status = 429, body = Problem, description = "Too many attempts from this address (`RATE_LIMITED`, `Retry-After`)")))]
pub async fn register(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<RegisterRequest>,
) -> Result<HttpResponse, ApiError> {
    state.limits.sign_in_attempt(client(&req), None).map_err(ApiError::rate_limited)?;
    let mut errors = Vec::new();
    let fullname = FullName::parse(required(&body.fullname, "fullname", &mut errors))
        .map_err(|e| errors.push(FieldError::new("fullname", e)))
        .ok();
    let email = Email::parse(required(&body.email, "email", &mut errors))
        .map_err(|e| errors.push(FieldError::new("email", e)))
        .ok();
    let password = Password::parse(required(&body.password, "password", &mut errors).to_owned())
        .map_err(|e| errors.push(FieldError::new("password", e)))
        .ok();
    errors.dedup_by(|a, b| a.field == b.field);
    let (Some(fullname), Some(email), Some(password)) = (fullname, email, password) else {
        return Err(ApiError::validation(errors));
    };
    let done = state.services.auth.register(Registration { fullname, email, password }).await?;
    Ok(with_tokens(HttpResponse::Created(), signed_in(done)))
}

/// Sign in with email and password.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = AuthResponse), (status = 401, body = Problem, description = "`INVALID_CREDENTIALS`"),
        (status = 429, body = Problem, description = "Too many attempts from this address, or failures for this email from it (`RATE_LIMITED`, `Retry-After`)")))]
pub async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<LoginRequest>,
) -> Result<HttpResponse, ApiError> {
    let mut errors = Vec::new();
    let email = required(&body.email, "email", &mut errors);
    let password = required(&body.password, "password", &mut errors);
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    state.limits.sign_in_attempt(client(&req), Some(email)).map_err(ApiError::rate_limited)?;
    let done = state.services.auth.login(email, password).await;
    if matches!(done, Ok(_) | Err(LoginError::InvalidCredentials)) {
        state.limits.sign_in_result(client(&req), email, done.is_ok());
    }
    Ok(with_tokens(HttpResponse::Ok(), signed_in(done?)))
}

/// Exchange a refresh token for a new pair (the old one stops working; reuse revokes the family).
#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses((status = 200, body = TokenResponse),
        (status = 401, body = Problem, description = "`INVALID_REFRESH_TOKEN`, or `REFRESH_TOKEN_ROTATED` within the reuse grace window")))]
pub async fn refresh(
    state: web::Data<AppState>,
    body: web::Json<RefreshRequest>,
) -> Result<HttpResponse, ApiError> {
    let Some(token) = body.refresh_token.as_deref() else {
        return Err(ApiError::validation(vec![FieldError::new("refresh_token", "is required")]));
    };
    let pair = state.services.auth.refresh(token).await?;
    Ok(with_tokens(HttpResponse::Ok(), tokens(pair)))
}

/// Revoke the refresh token's family.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", request_body(content = LogoutRequest, description = "optional"),
    security(("bearer" = [])), responses((status = 204), (status = 401, body = Problem)))]
pub async fn logout(
    state: web::Data<AppState>,
    caller: Caller,
    body: OptionalJson<LogoutRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let token = body.as_ref().and_then(|b| b.refresh_token.as_deref());
    state.services.auth.logout(caller.0.user_id, token).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The signed-in user.
#[utoipa::path(get, path = "/api/v1/auth/me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = UserView), (status = 401, body = Problem)))]
pub async fn me(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    let user = state.services.auth.me(caller.0.user_id).await?;
    Ok(HttpResponse::Ok().json(UserView::from(&user)))
}
