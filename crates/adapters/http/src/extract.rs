//! Extractors: the authenticated caller, JSON bodies with problem+json errors.

use std::future::{ready, Ready};

use actix_web::dev::Payload;
use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};
use tollgate_domain::{AccountId, UserId};
use tollgate_ports::{AccessClaims, Page, Payer};
use tollgate_usecases::accounts::Acting;

use crate::problem::{ApiError, FieldError};
use crate::state::AppState;

/// The caller, from `Authorization: Bearer <access token>`.
#[derive(Debug, Clone, Copy)]
pub struct Caller(pub AccessClaims);

/// Checks the bearer token of a request.
pub fn authenticate(req: &HttpRequest) -> Result<AccessClaims, ApiError> {
    let state = req.app_data::<web::Data<AppState>>().ok_or_else(ApiError::unauthenticated)?;
    let token = bearer(req).ok_or_else(ApiError::unauthenticated)?;
    state.services.auth.authenticate(token).map_err(|_| ApiError::unauthenticated())
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(authenticate(req).map(Caller))
    }
}

/// A service-API caller, from `Authorization: Bearer tgk_…` (an active service key; looked up on
/// every request, so a revocation holds at once). User tokens are refused here, as keys are on
/// user endpoints.
#[derive(Debug, Clone)]
pub struct ServiceCaller(pub tollgate_ports::ServiceKey);

impl FromRequest for ServiceCaller {
    type Error = ApiError;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let bearer = bearer(req).map(str::to_owned);
        Box::pin(async move {
            let (Some(state), Some(bearer)) = (state, bearer) else {
                return Err(crate::problem::catalog::invalid_service_key());
            };
            match state.services.keys.authenticate(&bearer).await {
                Ok(key) => Ok(ServiceCaller(key)),
                Err(tollgate_usecases::service_keys::KeyAuthError::Invalid) => {
                    Err(crate::problem::catalog::invalid_service_key())
                }
                Err(tollgate_usecases::service_keys::KeyAuthError::Failure(f)) => Err(f.into()),
            }
        })
    }
}

/// The account a signed-in user's request acts for: `X-Tollgate-Account`, or their personal
/// account. Every user request that reads or charges an account takes it (SPEC §13).
#[derive(Debug, Clone, Copy)]
pub struct ActingFor(pub Acting);

/// The account `X-Tollgate-Account` names, if the request names one.
///
/// # Errors
/// 422 when the header is not an account id.
pub fn named_account(req: &HttpRequest) -> Result<Option<AccountId>, ApiError> {
    let Some(raw) = req.headers().get(crate::headers::ACCOUNT) else { return Ok(None) };
    raw.to_str().ok().and_then(|text| text.trim().parse::<AccountId>().ok()).map(Some).ok_or_else(|| {
        ApiError::validation(vec![FieldError::new("X-Tollgate-Account", "must be an account id (a UUID)")])
    })
}

/// Which account `user` acts for in `req` (a read of their membership, unless it is their
/// personal account).
///
/// # Errors
/// 422 for a malformed header; 403 `NOT_A_MEMBER` for someone else's account.
pub async fn acting(req: &HttpRequest, user: UserId) -> Result<Acting, ApiError> {
    let named = named_account(req)?;
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError::internal("the application state is not configured".into()))?;
    Ok(state.services.accounts.acting(user, named).await?)
}

impl FromRequest for ActingFor {
    type Error = ApiError;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let claims = authenticate(&req)?;
            acting(&req, claims.user_id).await.map(ActingFor)
        })
    }
}

/// Who a service-API call charges, from its body's `user_id` and `account_id` (SPEC §13).
///
/// # Errors
/// 422 when neither is given.
pub fn payer_of(user_id: Option<uuid::Uuid>, account_id: Option<uuid::Uuid>) -> Result<Payer, ApiError> {
    let user = user_id.map(UserId::from_uuid);
    match (account_id.map(AccountId::from_uuid), user) {
        (Some(account), member) => Ok(Payer { account, member }),
        (None, Some(user)) => Ok(Payer::personal(user)),
        (None, None) => {
            Err(ApiError::validation(vec![FieldError::new("user_id", "user_id or account_id is required")]))
        }
    }
}

/// A page of a listing: `limit` 1–100 (`default` when absent, 422 otherwise), `offset` from 0.
pub fn page(limit: Option<u32>, offset: Option<u32>, default: u32) -> Result<Page, ApiError> {
    let limit = limit.unwrap_or(default);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::validation(vec![FieldError::new("limit", "must be between 1 and 100")]));
    }
    Ok(Page { limit, offset: offset.unwrap_or(0) })
}

/// The token of `Authorization: Bearer <token>`.
fn bearer(req: &HttpRequest) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// JSON body errors as problem+json: too large → 413, not JSON → 415, broken syntax → 400,
/// wrong types or shapes → 422 naming the field where serde says which.
pub fn json_error(err: JsonPayloadError, _: &HttpRequest, limit: usize) -> actix_web::Error {
    let problem = match &err {
        JsonPayloadError::Overflow { .. } | JsonPayloadError::OverflowKnownLength { .. } => {
            ApiError::payload_too_large(limit)
        }
        JsonPayloadError::ContentType => crate::problem::catalog::not_json(),
        JsonPayloadError::Deserialize(e) if e.is_data() => {
            ApiError::validation(vec![FieldError::new(field_of(&e.to_string()), e)])
        }
        JsonPayloadError::Deserialize(e) => ApiError::malformed(format!("The body is not valid JSON: {e}")),
        JsonPayloadError::Payload(e) => ApiError::payload(e, limit),
        _ => ApiError::malformed("The body could not be read."),
    };
    problem.into()
}

/// serde names the field in "missing field `x`" / "unknown field `x`" messages; else `body`.
fn field_of(message: &str) -> String {
    let names_field = message.starts_with("missing field") || message.starts_with("unknown field");
    match message.split('`').nth(1) {
        Some(field) if names_field && !field.is_empty() => field.to_owned(),
        _ => "body".to_owned(),
    }
}

pub fn query_error(err: QueryPayloadError, _: &HttpRequest) -> actix_web::Error {
    ApiError::validation(vec![FieldError::new("query", err)]).into()
}

pub fn path_error(_: PathError, _: &HttpRequest) -> actix_web::Error {
    ApiError::not_found().into()
}

#[cfg(test)]
mod tests {
    use super::field_of;

    #[test]
    fn only_missing_and_unknown_field_messages_name_a_field() {
        assert_eq!(field_of("missing field `email` at line 1 column 2"), "email");
        assert_eq!(field_of("unknown field `x`, expected one of"), "x");
        assert_eq!(field_of("invalid type: integer `5`, expected a string"), "body");
    }
}
