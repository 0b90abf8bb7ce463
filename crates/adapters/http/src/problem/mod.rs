//! Every error answer is RFC 9457 `application/problem+json` with a stable `code`. 5xx bodies are
//! opaque; their cause chain goes to the log inside the request's span (with its request id).
//!
//! Here: the answer ([`ApiError`], its wire form [`Problem`]) and the middleware that makes every
//! error answer one; `code`, the stable codes; `catalog`, every named problem and every use-case
//! error mapped to one.

pub mod catalog;
pub mod code;

use std::{fmt, io};

use actix_web::error::PayloadError;
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

use code::ErrorCode;

/// One invalid input field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl fmt::Display) -> Self {
        Self { field: field.into(), message: message.to_string() }
    }
}

/// The problem document as it goes on the wire.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the problem type.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Stable, machine-readable.
    pub code: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// The account refused, on 402 answers (SPEC §13).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    /// The quota, on 402 answers.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<crate::dto::QuotaView>)]
    pub subscription: Option<serde_json::Value>,
}

/// An error answer (boxed: it travels in `Result`s).
pub struct ApiError(Box<Inner>);

struct Inner {
    status: StatusCode,
    code: ErrorCode,
    detail: String,
    errors: Vec<FieldError>,
    subscription: Option<serde_json::Value>,
    account_id: Option<String>,
    retry_after_secs: Option<u64>,
    headers: Vec<(header::HeaderName, HeaderValue)>,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl fmt::Debug for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiError")
            .field("status", &self.0.status)
            .field("code", &self.0.code)
            .finish_non_exhaustive()
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.0.status.as_u16(), self.0.code, self.0.detail)
    }
}

impl ApiError {
    pub fn new(status: StatusCode, code: ErrorCode, detail: impl Into<String>) -> Self {
        Self(Box::new(Inner {
            status,
            code,
            detail: detail.into(),
            errors: Vec::new(),
            subscription: None,
            account_id: None,
            retry_after_secs: None,
            headers: Vec::new(),
            source: None,
        }))
    }

    /// The problem for an error answer made outside Tollgate's handlers (actix, CORS), by status.
    pub fn from_status(status: StatusCode) -> Self {
        let (code, detail) = match status.as_u16() {
            400 => (ErrorCode::MalformedRequest, "The request could not be read."),
            404 => (ErrorCode::NotFound, "No such resource."),
            405 => (ErrorCode::MethodNotAllowed, "This resource does not support the request's method."),
            408 => (ErrorCode::RequestTimeout, "The request took too long to arrive."),
            413 => (ErrorCode::PayloadTooLarge, "The request body is too large."),
            414 => (ErrorCode::UriTooLong, "The request URI is too long."),
            415 => (ErrorCode::UnsupportedMediaType, "The body's media type is not supported."),
            431 => (ErrorCode::HeadersTooLarge, "The request headers are too large."),
            s if s >= 500 => (ErrorCode::InternalError, "An internal error occurred."),
            _ => (ErrorCode::BadRequest, "The request was refused."),
        };
        Self::new(status, code, detail)
    }

    /// 405 with the `Allow` header listing what the resource accepts.
    pub fn method_not_allowed(allow: &str) -> Self {
        let mut e = Self::from_status(StatusCode::METHOD_NOT_ALLOWED);
        if let Ok(value) = HeaderValue::from_str(allow) {
            e.0.headers.push((header::ALLOW, value));
        }
        e
    }

    /// 408: the request body stalled.
    pub fn request_timeout() -> Self {
        Self::from_status(StatusCode::REQUEST_TIMEOUT)
    }

    /// An extra header on the answer (e.g. `RateLimit-*` on a 402).
    pub fn with_header(mut self, name: header::HeaderName, value: HeaderValue) -> Self {
        self.0.headers.push((name, value));
        self
    }

    pub fn validation(errors: Vec<FieldError>) -> Self {
        let mut e = Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::ValidationFailed,
            "Some fields are invalid.",
        );
        e.0.errors = errors;
        e
    }

    pub fn malformed(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, ErrorCode::MalformedRequest, detail)
    }

    pub fn unauthenticated() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::Unauthenticated,
            "A valid bearer access token is required.",
        )
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, "No such resource.")
    }

    /// A request body that could not be read: 408 for one cut by the deadline (`body::deadline`
    /// ends a stalled body with an [`io::ErrorKind::TimedOut`]), 413 too large, else 400.
    pub fn payload(e: &PayloadError, limit: usize) -> Self {
        match e {
            e if is_timeout(e) => Self::request_timeout(),
            PayloadError::Overflow => Self::payload_too_large(limit),
            _ => Self::malformed("The body could not be read."),
        }
    }

    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::PayloadTooLarge,
            format!("The request body exceeds {limit} bytes."),
        )
    }

    pub fn rate_limited(retry_after_secs: u64) -> Self {
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::RateLimited,
            format!("Too many attempts; retry in {retry_after_secs} s."),
        );
        e.0.retry_after_secs = Some(retry_after_secs);
        e
    }

    /// 503: a dependency is down; the cause is logged.
    pub fn unavailable(source: Box<dyn std::error::Error + Send + Sync>) -> Self {
        let mut e = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::ServiceUnavailable,
            "The service is temporarily unavailable; retry shortly.",
        );
        e.0.source = Some(source);
        e
    }

    /// 503 `OVERLOADED`: more writes wait than `TOLLGATE_WRITE_QUEUE_LIMIT`; nothing was
    /// charged; retry after a second.
    pub fn overloaded() -> Self {
        let mut e = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Overloaded,
            "Too many requests are waiting to be written; nothing was charged. Retry in a moment.",
        );
        e.0.retry_after_secs = Some(1);
        e
    }

    /// 500: opaque; the cause is logged.
    pub fn internal(source: Box<dyn std::error::Error + Send + Sync>) -> Self {
        let mut e = Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::InternalError,
            "An internal error occurred.",
        );
        e.0.source = Some(source);
        e
    }

    /// The account a 402 refused (its pool, or its member's cap).
    pub fn with_account(mut self, account: tollgate_domain::AccountId) -> Self {
        self.0.account_id = Some(account.to_string());
        self
    }

    pub fn with_subscription(mut self, snapshot: serde_json::Value) -> Self {
        self.0.subscription = Some(snapshot);
        self
    }

    /// The problem document, as one line of JSON.
    pub fn problem_json(&self) -> String {
        let body = Problem {
            kind: format!(
                "urn:tollgate:problem:{}",
                self.0.code.as_str().to_ascii_lowercase().replace('_', "-")
            ),
            title: self.title().to_owned(),
            status: self.0.status.as_u16(),
            detail: self.0.detail.clone(),
            code: self.0.code.as_str().to_owned(),
            errors: self.0.errors.clone(),
            account_id: self.0.account_id.clone(),
            subscription: self.0.subscription.clone(),
        };
        serde_json::to_string(&body).unwrap_or_default()
    }

    pub fn code(&self) -> ErrorCode {
        self.0.code
    }

    fn title(&self) -> &'static str {
        self.0.status.canonical_reason().unwrap_or("Error")
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.0.status
    }

    fn error_response(&self) -> HttpResponse {
        if self.0.status.is_server_error() {
            let chain =
                cause_chain(self.0.source.as_deref().map(|e| e as &(dyn std::error::Error + 'static)));
            tracing::error!(code = self.0.code.as_str(), status = self.0.status.as_u16(), cause = %chain, "request failed");
        }
        let mut response = HttpResponse::build(self.0.status);
        response.insert_header((header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json")));
        if let Some(secs) = self.0.retry_after_secs {
            response.insert_header((header::RETRY_AFTER, secs.to_string()));
        }
        if self.0.status == StatusCode::UNAUTHORIZED {
            response.insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")));
        }
        for (name, value) in &self.0.headers {
            response.insert_header((name.clone(), value.clone()));
        }
        response.body(self.problem_json())
    }
}

/// `outer: middle: inner`.
fn cause_chain(mut error: Option<&(dyn std::error::Error + 'static)>) -> String {
    let mut parts = Vec::new();
    while let Some(e) = error {
        parts.push(e.to_string());
        error = e.source();
    }
    if parts.is_empty() {
        "unknown".to_owned()
    } else {
        parts.join(": ")
    }
}

/// Whether a payload error is the body deadline's cut.
fn is_timeout(e: &PayloadError) -> bool {
    matches!(e, PayloadError::Io(io) if io.kind() == io::ErrorKind::TimedOut)
}

/// Marks an answer [`render_errors`] leaves as it is: the upstream's (the proxy relays it) or a
/// page's (its message is the answer, never problem+json).
#[derive(Debug, Clone, Copy)]
pub struct AsIs;

/// Outermost middleware: every error answer is problem+json, including the ones made outside
/// Tollgate's handlers (actix's 413/400 from extractors, a CORS refusal, a panic-free 5xx).
/// Headers that matter to the client (`Allow`, `Retry-After`, CORS) are kept.
pub async fn render_errors(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody + 'static>,
) -> Result<actix_web::dev::ServiceResponse<actix_web::body::BoxBody>, actix_web::Error> {
    let res = next.call(req).await?.map_into_boxed_body();
    let status = res.status();
    let is_problem = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/problem+json"));
    let as_is = res.response().extensions().get::<AsIs>().is_some();
    if !(status.is_client_error() || status.is_server_error()) || is_problem || as_is {
        return Ok(res);
    }
    let problem = match res.response().error() {
        Some(e) if e.as_error::<actix_cors::CorsError>().is_some() => ApiError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::CorsRefused,
            "This origin, method or header is not allowed by the server's CORS policy.",
        ),
        Some(e) if e.as_error::<PayloadError>().is_some_and(is_timeout) => ApiError::request_timeout(),
        _ => ApiError::from_status(status),
    };
    let mut answer = problem.error_response();
    for (name, value) in res.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            answer.headers_mut().insert(name.clone(), value.clone());
        }
    }
    Ok(res.into_response(answer))
}
