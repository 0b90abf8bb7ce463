//! `UsageRepository`: atomic consumption, refunds, usage records, idempotency keys.

use async_trait::async_trait;
use serde::Serialize;
use tollgate_domain::plan::{RunCount, RunLimit};
use tollgate_domain::{AccountId, Timestamp, UserId};
use uuid::Uuid;

use crate::error::StoreError;

/// A client-supplied idempotency key, unique per paying account. 1–255 visible ASCII characters. It may
/// carry a fingerprint of the request it came with: a later request with the same key but
/// another fingerprint is a mistake, not a retry.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey {
    key: String,
    fingerprint: Option<String>,
}

impl IdempotencyKey {
    pub fn parse(raw: &str) -> Option<Self> {
        let ok = !raw.is_empty() && raw.len() <= 255 && raw.bytes().all(|b| b.is_ascii_graphic());
        ok.then(|| Self { key: raw.to_owned(), fingerprint: None })
    }

    /// The key bound to a fingerprint (a hash) of its request.
    pub fn for_request(self, fingerprint: impl Into<String>) -> Self {
        Self { fingerprint: Some(fingerprint.into()), ..self }
    }

    pub fn as_str(&self) -> &str {
        &self.key
    }

    pub fn fingerprint(&self) -> Option<&str> {
        self.fingerprint.as_deref()
    }

    /// Whether a consumption stored with `stored` answers this request (a missing fingerprint on
    /// either side matches).
    pub fn matches(&self, stored: Option<&str>) -> bool {
        match (self.fingerprint(), stored) {
            (Some(mine), Some(theirs)) => mine == theirs,
            _ => true,
        }
    }
}

/// What consumed runs, as recorded with them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum UsageReason {
    /// `POST /sessions`: the run is paid with the session it creates.
    SessionCreate,
    /// A metered route gated upfront: `METHOD /route/{pattern}`.
    Route(String),
    /// The service API (`POST /usage/consume`), with the caller's own reason (may be empty).
    Service(String),
    /// A reservation's commit (the record's resource is the reservation).
    ReservationCommit,
}

impl UsageReason {
    const SESSION_CREATE: &'static str = "session.create";
    const SERVICE: &'static str = "service:";
    const RESERVATION_COMMIT: &'static str = "reservation.commit";

    /// As stored: `session.create`, `METHOD /pattern`, or `service:<reason>`.
    pub fn stored(&self) -> String {
        match self {
            Self::SessionCreate => Self::SESSION_CREATE.to_owned(),
            Self::Route(route) => route.clone(),
            Self::Service(reason) => format!("{}{reason}", Self::SERVICE),
            Self::ReservationCommit => Self::RESERVATION_COMMIT.to_owned(),
        }
    }

    /// From its stored form.
    pub fn from_stored(stored: String) -> Self {
        if stored == Self::SESSION_CREATE {
            Self::SessionCreate
        } else if stored == Self::RESERVATION_COMMIT {
            Self::ReservationCommit
        } else if let Some(reason) = stored.strip_prefix(Self::SERVICE) {
            Self::Service(reason.to_owned())
        } else {
            Self::Route(stored)
        }
    }
}

impl Serialize for UsageReason {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.stored())
    }
}

/// What a refund did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundOutcome {
    /// Given back now: this many runs.
    Refunded { runs: u32 },
    /// Refunded before; nothing changed.
    AlreadyRefunded,
    /// No consumption with this id.
    NotFound,
}

/// Who a metered request charges: the account whose pool pays, and the member who ran the work
/// (held to their cap), or nobody for the account's own use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Payer {
    pub account: AccountId,
    pub member: Option<UserId>,
}

impl Payer {
    /// `user` paying from their personal account.
    pub const fn personal(user: UserId) -> Self {
        Self { account: AccountId::personal(user), member: Some(user) }
    }

    /// `user`'s use of `account` (their personal one, or an organisation they belong to).
    pub const fn member(account: AccountId, user: UserId) -> Self {
        Self { account, member: Some(user) }
    }
}

/// A request to spend runs, conditional on the state the decision was made on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consumption {
    pub record_id: Uuid,
    /// Who pays: the account whose pool the runs come from.
    pub account_id: AccountId,
    /// Who ran it: a member of the account, or `None` for the account's own use (the service
    /// API naming only an account). When it names someone other than a personal account's own
    /// user, the store requires their membership and holds them to their cap, in the same
    /// decision as the pool.
    pub user_id: Option<UserId>,
    pub units: RunCount,
    /// The limit the decision allowed; the store enforces `used + units <= limit` itself.
    pub limit: RunLimit,
    /// The subscription version the decision was made on; the store refuses if it moved.
    pub expected_version: i64,
    pub idempotency_key: Option<IdempotencyKey>,
    /// What consumed the runs.
    pub reason: UsageReason,
    pub at: Timestamp,
}

/// What a conditional consumption did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsumeOutcome<T> {
    /// Counted; `runs_used` is the counter after this consumption.
    Consumed { value: T, runs_used: RunCount },
    /// A consumption with the same idempotency key exists; nothing was counted. `value` is what
    /// it produced, if that still exists.
    Replayed { value: Option<T> },
    /// `used + units` would pass the limit; nothing was written.
    LimitReached { runs_used: RunCount },
    /// The idempotency key was used before with another request (fingerprints differ); nothing
    /// was written.
    KeyMismatch,
    /// The subscription changed since the decision (version moved); nothing was written.
    StaleState,
    /// The user is not a member of the account (never was, or was removed); nothing was written.
    NotAMember,
    /// The member's own cap would be passed (the pool had room); nothing was written.
    /// `runs_used` is the member's use this period.
    MemberCapReached { runs_used: RunCount },
}

/// A recorded consumption.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UsageRecord {
    pub id: Uuid,
    /// The account that paid.
    pub account_id: AccountId,
    /// The member who ran it; `None` for the account's own use (or a member since deleted).
    pub user_id: Option<UserId>,
    pub units: u32,
    pub reason: UsageReason,
    pub idempotency_key: Option<String>,
    pub resource_id: Option<Uuid>,
    pub refunded: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub at: Timestamp,
}

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait UsageRepository: Send + Sync {
    /// Atomically: increments the period counter by `units` where the version matches and
    /// `used + units <= limit` (one conditional statement, never read-modify-write) and writes
    /// the usage record. Returns the record id as the value.
    ///
    /// # Errors
    /// [`StoreError::Overloaded`] when the write queue is full (nothing is written), else `Unavailable`
    /// or `Failed`. A refusal (the limit, a stale version, a key seen with another request) is an
    /// outcome, never an error.
    async fn consume(&self, consumption: &Consumption) -> Result<ConsumeOutcome<Uuid>, StoreError>;

    /// Gives back the runs of a consumption whose work failed (counter decremented, if the
    /// consumption is in the current period; record marked refunded), once.
    ///
    /// # Errors
    /// Only [`StoreError`]; an unknown or refunded record is an outcome.
    async fn refund(&self, record_id: Uuid) -> Result<RefundOutcome, StoreError>;

    /// The account's usage records made in `[from, to)` — only `member`'s when given — oldest
    /// first (usage history).
    ///
    /// # Errors
    /// Only [`StoreError`].
    async fn between(
        &self,
        account: AccountId,
        member: Option<UserId>,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<UsageRecord>, StoreError>;

    /// The account's usage records, newest first.
    ///
    /// # Errors
    /// Only [`StoreError`].
    async fn list(&self, account: AccountId, limit: u32) -> Result<Vec<UsageRecord>, StoreError>;
}
