//! Every stable, machine-readable error `code` Tollgate answers with, in one place (docs/http.md
//! lists what each means). A handler never spells a code itself.

use std::fmt;

/// A problem's `code`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    UpstreamUnavailable,
    UpstreamTimeout,
    ForwardHeadersMissing,
    ReservationCommitted,
    ReservationExpired,
    ReservationReleased,
    ReservationNotFound,
    ConsumptionNotFound,
    UserNotFound,
    Forbidden,
    ConcurrentUpdate,
    AlreadySubscribed,
    BadRequest,
    CorsRefused,
    EmailTaken,
    EventOutOfOrder,
    HeadersTooLarge,
    IdempotencyKeyMismatch,
    IdempotencyKeyReused,
    InternalError,
    InvalidCredentials,
    InvalidPath,
    InvalidPlan,
    InvalidRedirectUrl,
    InvalidRefreshToken,
    InvalidSignature,
    MalformedRequest,
    MethodNotAllowed,
    NotFound,
    NoBillingAccount,
    Overloaded,
    PayloadTooLarge,
    PaymentProviderError,
    RateLimited,
    RefreshTokenRotated,
    RequestTimeout,
    ServiceUnavailable,
    StripeNotConfigured,
    SubscriptionInactive,
    SubscriptionLimitReached,
    TrialUnavailable,
    Unauthenticated,
    UnsupportedMediaType,
    UriTooLong,
    ValidationFailed,
}

impl ErrorCode {
    /// Every code, for the documentation test.
    pub const ALL: &'static [ErrorCode] = &[
        Self::UpstreamUnavailable,
        Self::UpstreamTimeout,
        Self::ForwardHeadersMissing,
        Self::ReservationCommitted,
        Self::ReservationExpired,
        Self::ReservationReleased,
        Self::ReservationNotFound,
        Self::ConsumptionNotFound,
        Self::UserNotFound,
        Self::Forbidden,
        Self::ConcurrentUpdate,
        Self::AlreadySubscribed,
        Self::BadRequest,
        Self::CorsRefused,
        Self::EmailTaken,
        Self::EventOutOfOrder,
        Self::HeadersTooLarge,
        Self::IdempotencyKeyMismatch,
        Self::IdempotencyKeyReused,
        Self::InternalError,
        Self::InvalidCredentials,
        Self::InvalidPath,
        Self::InvalidPlan,
        Self::InvalidRedirectUrl,
        Self::InvalidRefreshToken,
        Self::InvalidSignature,
        Self::MalformedRequest,
        Self::MethodNotAllowed,
        Self::NotFound,
        Self::NoBillingAccount,
        Self::Overloaded,
        Self::PayloadTooLarge,
        Self::PaymentProviderError,
        Self::RateLimited,
        Self::RefreshTokenRotated,
        Self::RequestTimeout,
        Self::ServiceUnavailable,
        Self::StripeNotConfigured,
        Self::SubscriptionInactive,
        Self::SubscriptionLimitReached,
        Self::TrialUnavailable,
        Self::Unauthenticated,
        Self::UnsupportedMediaType,
        Self::UriTooLong,
        Self::ValidationFailed,
    ];

    /// The code on the wire, e.g. `SUBSCRIPTION_LIMIT_REACHED`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::UpstreamUnavailable => "UPSTREAM_UNAVAILABLE",
            Self::UpstreamTimeout => "UPSTREAM_TIMEOUT",
            Self::ForwardHeadersMissing => "FORWARD_HEADERS_MISSING",
            Self::ReservationCommitted => "RESERVATION_COMMITTED",
            Self::ReservationExpired => "RESERVATION_EXPIRED",
            Self::ReservationReleased => "RESERVATION_RELEASED",
            Self::ReservationNotFound => "RESERVATION_NOT_FOUND",
            Self::ConsumptionNotFound => "CONSUMPTION_NOT_FOUND",
            Self::UserNotFound => "USER_NOT_FOUND",
            Self::Forbidden => "FORBIDDEN",
            Self::ConcurrentUpdate => "CONCURRENT_UPDATE",
            Self::AlreadySubscribed => "ALREADY_SUBSCRIBED",
            Self::BadRequest => "BAD_REQUEST",
            Self::CorsRefused => "CORS_REFUSED",
            Self::EmailTaken => "EMAIL_TAKEN",
            Self::EventOutOfOrder => "EVENT_OUT_OF_ORDER",
            Self::HeadersTooLarge => "HEADERS_TOO_LARGE",
            Self::IdempotencyKeyMismatch => "IDEMPOTENCY_KEY_MISMATCH",
            Self::IdempotencyKeyReused => "IDEMPOTENCY_KEY_REUSED",
            Self::InternalError => "INTERNAL_ERROR",
            Self::InvalidCredentials => "INVALID_CREDENTIALS",
            Self::InvalidPath => "INVALID_PATH",
            Self::InvalidPlan => "INVALID_PLAN",
            Self::InvalidRedirectUrl => "INVALID_REDIRECT_URL",
            Self::InvalidRefreshToken => "INVALID_REFRESH_TOKEN",
            Self::InvalidSignature => "INVALID_SIGNATURE",
            Self::MalformedRequest => "MALFORMED_REQUEST",
            Self::MethodNotAllowed => "METHOD_NOT_ALLOWED",
            Self::NotFound => "NOT_FOUND",
            Self::NoBillingAccount => "NO_BILLING_ACCOUNT",
            Self::Overloaded => "OVERLOADED",
            Self::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            Self::PaymentProviderError => "PAYMENT_PROVIDER_ERROR",
            Self::RateLimited => "RATE_LIMITED",
            Self::RefreshTokenRotated => "REFRESH_TOKEN_ROTATED",
            Self::RequestTimeout => "REQUEST_TIMEOUT",
            Self::ServiceUnavailable => "SERVICE_UNAVAILABLE",
            Self::StripeNotConfigured => "STRIPE_NOT_CONFIGURED",
            Self::SubscriptionInactive => "SUBSCRIPTION_INACTIVE",
            Self::SubscriptionLimitReached => "SUBSCRIPTION_LIMIT_REACHED",
            Self::TrialUnavailable => "TRIAL_UNAVAILABLE",
            Self::Unauthenticated => "UNAUTHENTICATED",
            Self::UnsupportedMediaType => "UNSUPPORTED_MEDIA_TYPE",
            Self::UriTooLong => "URI_TOO_LONG",
            Self::ValidationFailed => "VALIDATION_FAILED",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::ErrorCode;

    #[test]
    fn every_code_is_documented_in_docs_http_md() {
        let doc = include_str!("../../../../../docs/http.md");
        for code in ErrorCode::ALL {
            assert!(doc.contains(&format!("`{code}`")), "{code} is not in docs/http.md");
        }
    }
}
