//! Loading a subscription with its lazy time-based changes applied and saved exactly once.

use tollgate_domain::{AccountId, Clock, Subscription, Timestamp, UsageEffect};

use crate::{Failure, MAX_ATTEMPTS};
use tollgate_ports::{SubscriptionRepository, UpdateSubscriptionError};

/// The account has no subscription (every account gets one when it is made, so this is an
/// unknown account).
#[derive(Debug, thiserror::Error)]
pub enum CurrentError {
    #[error("no subscription for this account")]
    NotFound,
    /// Every compare-and-set attempt lost to a concurrent change.
    #[error("the subscription kept changing")]
    Contended,
    #[error(transparent)]
    Failure(#[from] Failure),
}

impl CurrentError {
    /// `Contended` as an internal failure, for callers that retry enough never to see it.
    pub(crate) fn into_failure(self) -> Option<Failure> {
        match self {
            Self::NotFound => None,
            Self::Contended => Some(Failure::internal("subscription kept changing")),
            Self::Failure(f) => Some(f),
        }
    }
}

/// The account's subscription as of `now`: an ended trial or period is rolled over and saved with a
/// compare-and-set, so concurrent callers open the next period once.
pub(crate) async fn load_current(
    subs: &dyn SubscriptionRepository,
    account: AccountId,
    now: Timestamp,
) -> Result<Subscription, CurrentError> {
    for _ in 0..MAX_ATTEMPTS {
        let mut sub =
            subs.get_by_account(account).await.map_err(Failure::from)?.ok_or(CurrentError::NotFound)?;
        // Holds past their expiry count for nothing: give them back before anything is decided
        // or shown (only users with holds pay for this).
        if sub.runs_reserved() > tollgate_domain::RunCount::ZERO
            && subs.expire_holds(account, now).await.map_err(Failure::from)? > 0
        {
            sub = subs.get_by_account(account).await.map_err(Failure::from)?.ok_or(CurrentError::NotFound)?;
        }
        let expected = sub.version();
        let effect = sub.refresh(now);
        if !effect.changed() {
            return Ok(sub);
        }
        match subs.update(&sub, expected, effect).await {
            Ok(()) => return Ok(sub),
            Err(UpdateSubscriptionError::Conflict) => continue,
            Err(UpdateSubscriptionError::Store(e)) => return Err(Failure::from(e).into()),
        }
    }
    Err(Failure::internal("subscription kept changing while it was rolled over").into())
}

/// Loads the current subscription, applies `f` at the clock's `now` and saves the result with a
/// compare-and-set, retrying on conflict. `f` returns [`UsageEffect::Unchanged`] to save nothing.
pub(crate) async fn update_current<E: From<CurrentError>>(
    subs: &dyn SubscriptionRepository,
    clock: &dyn Clock,
    account: AccountId,
    f: impl Fn(&mut Subscription, Timestamp) -> Result<UsageEffect, E>,
) -> Result<Subscription, E> {
    update_current_with(subs, clock, account, MAX_ATTEMPTS, f, async |_, after, expected, effect| {
        subs.update(after, expected, effect).await
    })
    .await
}

/// [`update_current`] saving with `save(before, after, expected_version, effect)` (e.g. the
/// change and its audit entry in one transaction).
pub(crate) async fn update_current_with<E: From<CurrentError>>(
    subs: &dyn SubscriptionRepository,
    clock: &dyn Clock,
    account: AccountId,
    attempts: usize,
    f: impl Fn(&mut Subscription, Timestamp) -> Result<UsageEffect, E>,
    save: impl AsyncFn(&Subscription, &Subscription, i64, UsageEffect) -> Result<(), UpdateSubscriptionError>,
) -> Result<Subscription, E> {
    for _ in 0..attempts {
        let now = clock.now();
        let before = load_current(subs, account, now).await?;
        let mut sub = before.clone();
        let expected = sub.version();
        let effect = f(&mut sub, now)?;
        if !effect.changed() {
            return Ok(sub);
        }
        match save(&before, &sub, expected, effect).await {
            Ok(()) => return Ok(sub),
            Err(UpdateSubscriptionError::Conflict) => continue,
            Err(UpdateSubscriptionError::Store(e)) => return Err(CurrentError::Failure(e.into()).into()),
        }
    }
    Err(CurrentError::Contended.into())
}
