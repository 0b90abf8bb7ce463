//! Every named problem a handler answers with, and the one place where use-case errors become
//! HTTP answers.

use actix_web::http::StatusCode;
use tollgate_domain::account::InvitationError;
use tollgate_domain::quota::{QuotaSnapshot, Refusal};
use tollgate_domain::subscription::TrialError;
use tollgate_ports::{ProviderError, WebhookError};
use tollgate_usecases::accounts::AccountError;
use tollgate_usecases::auth::{LoginError, MeError, RefreshError, RegisterError};
use tollgate_usecases::billing::{ActivateTrialError, CheckoutError, PortalError, SubscriptionError};
use tollgate_usecases::metering::MeterError;
use tollgate_usecases::webhooks::HandleWebhookError;
use tollgate_usecases::Failure;

use super::code::ErrorCode;
use super::{ApiError, FieldError};
use crate::dto::QuotaView;

impl From<Failure> for ApiError {
    fn from(f: Failure) -> Self {
        match f {
            Failure::Unavailable(source) => ApiError::unavailable(source),
            Failure::Overloaded => ApiError::overloaded(),
            Failure::Internal(source) => ApiError::internal(source),
        }
    }
}

impl From<RegisterError> for ApiError {
    fn from(e: RegisterError) -> Self {
        match e {
            RegisterError::EmailTaken => ApiError::new(
                StatusCode::CONFLICT,
                ErrorCode::EmailTaken,
                "An account with this email already exists.",
            ),
            RegisterError::Failure(f) => f.into(),
        }
    }
}

impl From<LoginError> for ApiError {
    fn from(e: LoginError) -> Self {
        match e {
            LoginError::InvalidCredentials => ApiError::new(
                StatusCode::UNAUTHORIZED,
                ErrorCode::InvalidCredentials,
                "The email or password is incorrect.",
            ),
            LoginError::Failure(f) => f.into(),
        }
    }
}

impl From<RefreshError> for ApiError {
    fn from(e: RefreshError) -> Self {
        match e {
            RefreshError::InvalidToken => ApiError::new(
                StatusCode::UNAUTHORIZED,
                ErrorCode::InvalidRefreshToken,
                "The refresh token is unknown, expired or already used; sign in again.",
            ),
            RefreshError::RecentlyRotated => ApiError::new(
                StatusCode::UNAUTHORIZED,
                ErrorCode::RefreshTokenRotated,
                "This refresh token was just exchanged by another request; use the newest tokens.",
            ),
            RefreshError::Failure(f) => f.into(),
        }
    }
}

impl From<MeError> for ApiError {
    fn from(e: MeError) -> Self {
        match e {
            MeError::NotFound => ApiError::unauthenticated(),
            MeError::Failure(f) => f.into(),
        }
    }
}

impl From<SubscriptionError> for ApiError {
    fn from(e: SubscriptionError) -> Self {
        match e {
            SubscriptionError::NotFound => ApiError::not_found(),
            SubscriptionError::RoleRequired => role_required(),
            SubscriptionError::Failure(f) => f.into(),
        }
    }
}

impl From<ActivateTrialError> for ApiError {
    fn from(e: ActivateTrialError) -> Self {
        match e {
            ActivateTrialError::Unavailable(reason) => {
                let detail = match reason {
                    TrialError::AlreadyUsed => "The trial has already been used on this account.",
                    TrialError::NotOnFreePlan => "A trial can only start from the free plan.",
                    TrialError::AfterPaidSubscription => {
                        "A trial is not available after a paid subscription."
                    }
                };
                ApiError::new(StatusCode::CONFLICT, ErrorCode::TrialUnavailable, detail)
            }
            ActivateTrialError::Subscription(e) => e.into(),
        }
    }
}

fn not_configured() -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::StripeNotConfigured,
        "Payments are not configured on this server.",
    )
}

fn provider(e: ProviderError) -> ApiError {
    tracing::warn!(error = %e, "payment provider call failed");
    ApiError::new(
        StatusCode::BAD_GATEWAY,
        ErrorCode::PaymentProviderError,
        "The payment provider could not complete the request.",
    )
}

fn invalid_redirect() -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        ErrorCode::InvalidRedirectUrl,
        "The redirect URL's origin is not allowed.",
    )
}

impl From<CheckoutError> for ApiError {
    fn from(e: CheckoutError) -> Self {
        match e {
            CheckoutError::InvalidPlan => ApiError::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::InvalidPlan,
                "Only `basic` and `pro` can be bought through checkout.",
            ),
            CheckoutError::InvalidRedirect => invalid_redirect(),
            CheckoutError::AlreadySubscribed => ApiError::new(
                StatusCode::CONFLICT,
                ErrorCode::AlreadySubscribed,
                "A paid subscription is already active; change plans in the customer portal.",
            ),
            CheckoutError::NotConfigured => not_configured(),
            CheckoutError::Provider(e) => provider(e),
            CheckoutError::Subscription(e) => e.into(),
        }
    }
}

impl From<PortalError> for ApiError {
    fn from(e: PortalError) -> Self {
        match e {
            PortalError::NoBillingAccount => ApiError::new(
                StatusCode::CONFLICT,
                ErrorCode::NoBillingAccount,
                "There is no billing account yet; subscribe through checkout first.",
            ),
            PortalError::InvalidRedirect => invalid_redirect(),
            PortalError::NotConfigured => not_configured(),
            PortalError::Provider(e) => provider(e),
            PortalError::Subscription(e) => e.into(),
        }
    }
}

impl From<HandleWebhookError> for ApiError {
    fn from(e: HandleWebhookError) -> Self {
        match e {
            HandleWebhookError::NotConfigured => not_configured(),
            HandleWebhookError::Rejected(WebhookError::InvalidSignature) => ApiError::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::InvalidSignature,
                "The Stripe-Signature header is missing, malformed, too old or does not match.",
            ),
            HandleWebhookError::Rejected(WebhookError::Malformed(_)) => {
                ApiError::malformed("The event payload is not a valid event.")
            }
            HandleWebhookError::Failure(f) => f.into(),
        }
    }
}

/// The code of a refusal.
pub fn refusal_code(reason: Refusal) -> ErrorCode {
    match reason {
        Refusal::LimitReached => ErrorCode::SubscriptionLimitReached,
        Refusal::Inactive => ErrorCode::SubscriptionInactive,
        Refusal::MemberCap => ErrorCode::MemberCapReached,
    }
}

/// A refused metered request: 402 with what the user can do about it.
pub fn refused(reason: Refusal, quota: &QuotaSnapshot) -> ApiError {
    let view = QuotaView::from(quota);
    let (code, detail) = match reason {
        Refusal::LimitReached => {
            let limit =
                view.monthly_agent_runs_limit.map_or_else(|| "unlimited".to_owned(), |l| l.to_string());
            let detail = match view.remaining_runs {
                // Runs are left, but fewer than this request costs.
                Some(left) if left > 0 => format!(
                    "This request needs more runs than are left: {left} of the {limit} runs of this period remain. \
                     They reset at {}; upgrade your plan to continue now.",
                    view.resets_at_text(),
                ),
                _ => format!(
                    "All {limit} runs of this period are used. They reset at {}; upgrade your plan to continue now.",
                    view.resets_at_text(),
                ),
            };
            (ErrorCode::SubscriptionLimitReached, detail)
        }
        Refusal::Inactive => (
            ErrorCode::SubscriptionInactive,
            format!(
                "The subscription is `{}`; update your payment method in the customer portal to continue.",
                quota.status
            ),
        ),
        Refusal::MemberCap => (
            ErrorCode::MemberCapReached,
            format!(
                "Your own cap of this account's runs for this period is used. It resets at {}; an owner or \
                 admin of the account can raise it.",
                view.resets_at_text(),
            ),
        ),
    };
    let problem = ApiError::new(StatusCode::PAYMENT_REQUIRED, code, detail)
        .with_account(quota.account_id)
        .with_subscription(serde_json::to_value(&view).unwrap_or_default());
    crate::headers::rate_limit_headers(quota)
        .into_iter()
        .fold(problem, |problem, (name, value)| problem.with_header(name, value))
}

impl From<MeterError> for ApiError {
    fn from(e: MeterError) -> Self {
        match e {
            MeterError::Refused { reason, quota } => refused(reason, &quota),
            MeterError::NoUnits => ApiError::malformed("A metered request must consume at least one run."),
            MeterError::UnknownUser => ApiError::new(
                StatusCode::NOT_FOUND,
                ErrorCode::UserNotFound,
                "There is no user with this id.",
            ),
            MeterError::NotAMember => not_a_member(),
            MeterError::KeyMismatch => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::IdempotencyKeyMismatch,
                "This Idempotency-Key was already used with a different request; use a new key.",
            ),
            MeterError::Failure(f) => f.into(),
        }
    }
}

/// 403: the account named is not the caller's (nothing about it is said).
pub fn not_a_member() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        ErrorCode::NotAMember,
        "You are not a member of this account. Name one of your accounts in X-Tollgate-Account (GET /api/v1/accounts lists them), or leave the header out for your personal account.",
    )
}

/// 404: no such account (the admin API; a user naming one gets `NOT_A_MEMBER`).
pub fn account_not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        ErrorCode::AccountNotFound,
        "There is no such account, or no such member of it.",
    )
}

/// 403: the caller's role in the account does not allow the change.
pub fn role_required() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        ErrorCode::RoleRequired,
        "Your role in this account does not allow this: owners and admins manage members and billing, and only owners make or unmake owners.",
    )
}

impl From<AccountError> for ApiError {
    fn from(e: AccountError) -> Self {
        match e {
            AccountError::NotFound => account_not_found(),
            AccountError::NotAMember => not_a_member(),
            AccountError::RoleRequired => role_required(),
            AccountError::LastOwner => ApiError::new(
                StatusCode::CONFLICT,
                ErrorCode::LastOwner,
                "An account keeps at least one owner: make someone else an owner first.",
            ),
            AccountError::PersonalAccount => ApiError::new(
                StatusCode::CONFLICT,
                ErrorCode::PersonalAccount,
                "A personal account has one member, its user; make an organisation (POST /api/v1/accounts) to share runs.",
            ),
            AccountError::InvalidName(e) => ApiError::validation(vec![FieldError::new("name", e)]),
            AccountError::UnknownInvitation => ApiError::new(
                StatusCode::NOT_FOUND,
                ErrorCode::InvitationNotFound,
                "There is no invitation with this token.",
            ),
            AccountError::Invitation(InvitationError::Expired) => ApiError::new(
                StatusCode::GONE,
                ErrorCode::InvitationExpired,
                "This invitation has expired; ask for a new one.",
            ),
            AccountError::Invitation(InvitationError::Used) => ApiError::new(
                StatusCode::CONFLICT,
                ErrorCode::InvitationUsed,
                "This invitation has been accepted already.",
            ),
            AccountError::Invitation(InvitationError::OtherEmail) => ApiError::new(
                StatusCode::FORBIDDEN,
                ErrorCode::InvitationForAnotherEmail,
                "This invitation is for another email address; sign in as its recipient.",
            ),
            AccountError::Failure(f) => f.into(),
        }
    }
}

/// A webhook event that depends on one not applied yet: non-2xx, so Stripe delivers it again.
pub fn event_out_of_order() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        ErrorCode::EventOutOfOrder,
        "This event depends on one not received yet; deliver it again later.",
    )
}

/// A replayed `Idempotency-Key` whose session has since been deleted.
pub fn idempotency_key_reused() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        ErrorCode::IdempotencyKeyReused,
        "This Idempotency-Key already created a session that has since been deleted.",
    )
}

/// A JSON route called without `Content-Type: application/json`.
pub fn not_json() -> ApiError {
    ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ErrorCode::UnsupportedMediaType,
        "The body must be JSON (Content-Type: application/json).",
    )
}

/// `POST /usage/refund` for a consumption that does not exist.
pub fn consumption_not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        ErrorCode::ConsumptionNotFound,
        "There is no consumption with this id.",
    )
}

/// No valid service key (`Authorization: Bearer tgk_…`).
pub fn invalid_service_key() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        ErrorCode::Unauthenticated,
        "A valid service key (Authorization: Bearer tgk_…) is required.",
    )
}

/// No reservation with this id.
pub fn reservation_not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        ErrorCode::ReservationNotFound,
        "There is no reservation with this id.",
    )
}

/// A reservation already settled another way (`RESERVATION_RELEASED`, `_EXPIRED`, `_COMMITTED`).
pub fn reservation_settled(code: ErrorCode) -> ApiError {
    let detail = match code {
        ErrorCode::ReservationReleased => "The reservation was released; its runs are back.",
        ErrorCode::ReservationExpired => {
            "The reservation expired before it was committed; its runs are back."
        }
        _ => "The reservation was committed.",
    };
    ApiError::new(StatusCode::CONFLICT, code, detail)
}

/// The gate was asked without the original request's method and URI.
pub fn forward_headers_missing() -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        ErrorCode::ForwardHeadersMissing,
        "The gate needs the original request in the configured header pair (TOLLGATE_GATE_HEADERS): X-Forwarded-Method and X-Forwarded-Uri (`forwarded`, the default) or X-Original-Method and X-Original-URI (`original`).",
    )
}

/// A path spelled so that another parser could route it elsewhere (SPEC §12): refused before
/// anything is charged or forwarded.
pub fn invalid_path(why: crate::path::InvalidPath) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        ErrorCode::InvalidPath,
        format!(
            "{why}: encoded `/`, `#`, `?`, `\\`, spaces, control characters and `.`/`..` segments are refused."
        ),
    )
}

/// A forwarded request whose `Idempotency-Key` already paid for a request (SPEC §12.1).
pub fn forwarded_key_reused() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        ErrorCode::IdempotencyKeyReused,
        "This Idempotency-Key already paid for a request that was sent on; the upstream would do the work again. Use a new key for new work.",
    )
}

pub fn forbidden() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        ErrorCode::Forbidden,
        "This needs the admin role (an operator grants it with `tollgate user set-role EMAIL admin`).",
    )
}

impl From<tollgate_usecases::admin::AdminError> for ApiError {
    fn from(e: tollgate_usecases::admin::AdminError) -> Self {
        use tollgate_usecases::admin::AdminError;
        match e {
            AdminError::UnknownAccount => account_not_found(),
            AdminError::UnknownUser | AdminError::NoSubscription => ApiError::new(
                StatusCode::NOT_FOUND,
                ErrorCode::UserNotFound,
                "There is no user with this id.",
            ),
            AdminError::Refused(reason) => {
                ApiError::validation(vec![crate::problem::FieldError::new("runs_limit", reason)])
            }
            AdminError::LimitTooLarge => {
                ApiError::validation(vec![crate::problem::FieldError::new("runs_limit", &e)])
            }
            AdminError::TooManyGranted => {
                ApiError::validation(vec![crate::problem::FieldError::new("runs", &e)])
            }
            AdminError::Contended => ApiError::new(
                StatusCode::CONFLICT,
                ErrorCode::ConcurrentUpdate,
                "Other changes to this subscription kept winning; nothing was written. Retry.",
            ),
            AdminError::Failure(f) => f.into(),
        }
    }
}
