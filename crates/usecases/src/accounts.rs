//! Accounts (SPEC §13): which account a user's request acts for, organisations, their members and
//! invitations. Who may change what is the domain's (`account::authorise`); the store re-checks
//! what only it can see atomically (the last owner, an invitation used once, a member's cap).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tollgate_domain::account::{
    authorise, InvalidAccountName, InvitationError, MembershipChange, MembershipError,
};
use tollgate_domain::PlanCatalog;
use tollgate_domain::{
    Account, AccountId, AccountKind, AccountName, Clock, Email, Invitation, InvitationId, MemberRole,
    RunCount, Subscription, SubscriptionId, Timestamp, UserId,
};
use tollgate_ports::{
    Accepted, AccountMembership, AccountRepository, IdGenerator, MemberChange, MemberUse, Payer,
    PaymentProvider, SubscriptionRepository, TokenIssuer, UserRepository,
};

use crate::Failure;

/// A user acting for an account: who they are, which account, and their role in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Acting {
    pub user: UserId,
    pub account: AccountId,
    pub kind: AccountKind,
    pub role: MemberRole,
}

impl Acting {
    /// `user` acting for their personal account (its owner; no read needed).
    pub const fn personal(user: UserId) -> Self {
        Self {
            user,
            account: AccountId::personal(user),
            kind: AccountKind::Personal,
            role: MemberRole::Owner,
        }
    }

    /// Who their metered requests charge: the account, with them as the member.
    pub const fn payer(&self) -> Payer {
        Payer::member(self.account, self.user)
    }

    /// Whether they may manage the account's billing (trial, Checkout, the portal): everyone
    /// for their personal account, owners and admins for an organisation.
    pub const fn manages_billing(&self) -> bool {
        self.role.manages()
    }
}

/// Why an account operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// No such account, or no such member of it.
    #[error("no such account or member")]
    NotFound,
    /// The user is not a member of the account they named.
    #[error("not a member of this account")]
    NotAMember,
    /// Their role does not allow it.
    #[error("your role in this account does not allow this")]
    RoleRequired,
    /// It would leave the account without an owner.
    #[error("an account keeps at least one owner")]
    LastOwner,
    /// A personal account has one member, its user: nobody joins or leaves it.
    #[error("a personal account has no other members")]
    PersonalAccount,
    #[error("invalid account name: {0}")]
    InvalidName(InvalidAccountName),
    /// No invitation has this token.
    #[error("no such invitation")]
    UnknownInvitation,
    #[error(transparent)]
    Invitation(InvitationError),
    #[error(transparent)]
    Failure(#[from] Failure),
}

impl From<tollgate_ports::StoreError> for AccountError {
    fn from(e: tollgate_ports::StoreError) -> Self {
        Self::Failure(e.into())
    }
}

impl From<MembershipError> for AccountError {
    fn from(e: MembershipError) -> Self {
        match e {
            MembershipError::PersonalAccount => Self::PersonalAccount,
            MembershipError::NotAllowed => Self::RoleRequired,
            MembershipError::NotAMember => Self::NotFound,
            MembershipError::LastOwner => Self::LastOwner,
        }
    }
}

/// An invitation just made, with its token (shown once; only its hash is kept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedInvitation {
    pub invitation: Invitation,
    pub token: String,
}

/// A member's new role and cap (`None` fields are left as they are; `runs_cap: Some(None)`
/// removes the cap).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MemberUpdate {
    pub role: Option<MemberRole>,
    pub runs_cap: Option<Option<RunCount>>,
}

pub struct AccountsService {
    accounts: Arc<dyn AccountRepository>,
    users: Arc<dyn UserRepository>,
    secrets: Arc<dyn TokenIssuer>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGenerator>,
    /// Where per-seat subscriptions' quantities are kept in step with the members.
    seats: Option<SeatSync>,
    /// Memberships read in the last [`MEMBERSHIP_MAX_AGE`] (see [`Self::acting`]).
    recent: Mutex<HashMap<(AccountId, UserId), (MemberRole, Timestamp)>>,
}

/// How long a membership read answers again. The store re-checks membership (and the cap) in the
/// same statements as every charge, so a remembered membership can never let a non-member
/// charge; what it allows is a member removed on another replica reading the account's
/// subscription for at most this long.
pub const MEMBERSHIP_MAX_AGE: time::Duration = time::Duration::seconds(1);

/// Memberships remembered at most (past it, all are forgotten: a forgotten one costs a read).
const MEMBERSHIPS_REMEMBERED: usize = 65_536;

/// What keeping a per-seat subscription's quantity in step needs.
pub struct SeatSync {
    pub subs: Arc<dyn SubscriptionRepository>,
    pub provider: Arc<dyn PaymentProvider>,
    pub catalog: Arc<PlanCatalog>,
}

impl AccountsService {
    pub fn new(
        accounts: Arc<dyn AccountRepository>,
        users: Arc<dyn UserRepository>,
        secrets: Arc<dyn TokenIssuer>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdGenerator>,
    ) -> Self {
        Self { accounts, users, secrets, clock, ids, seats: None, recent: Mutex::default() }
    }

    /// Keeps per-seat subscriptions' quantities at their member counts (a provider is
    /// configured).
    #[must_use]
    pub fn with_seat_sync(mut self, seats: SeatSync) -> Self {
        self.seats = Some(seats);
        self
    }

    /// After the members changed: a per-seat plan's subscription at the provider gets the new
    /// seat count as its quantity (proration is the provider's). The change itself stands if the
    /// provider cannot be reached: it is logged, and the next change sends the count again — the
    /// key is the subscription's version, so a retry of one count is one change at the provider.
    async fn sync_seats(&self, account: AccountId) {
        let Some(sync) = &self.seats else { return };
        let sub = match sync.subs.get_by_account(account).await {
            Ok(Some(sub)) => sub,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(error = %e, %account, "could not read the subscription to update its seats");
                return;
            }
        };
        let Some(subscription_id) = sub.billing().subscription_id.clone() else { return };
        if !sync.catalog.get(sub.plan()).per_seat {
            return;
        }
        let key = format!("seats-{account}-{}", sub.version());
        if let Err(e) = sync.provider.set_quantity(&subscription_id, sub.seats(), &key).await {
            tracing::warn!(error = %e, %account, seats = sub.seats(), "the provider's quantity is behind the members");
        }
    }

    /// Which account `user`'s request acts for: `named` (`X-Tollgate-Account`), or their personal
    /// account. Naming their personal account costs no read; any other needs their membership,
    /// read at most once per [`MEMBERSHIP_MAX_AGE`] (a refusal is never remembered).
    ///
    /// # Errors
    /// [`AccountError::NotAMember`] when they do not belong to the account named (whether or not
    /// it exists: a non-member learns nothing about it).
    pub async fn acting(&self, user: UserId, named: Option<AccountId>) -> Result<Acting, AccountError> {
        let account = match named {
            None => return Ok(Acting::personal(user)),
            Some(account) if account == AccountId::personal(user) => return Ok(Acting::personal(user)),
            Some(account) => account,
        };
        let now = self.clock.now();
        let remembered = self.remembered().get(&(account, user)).copied();
        if let Some((role, _)) = remembered.filter(|(_, at)| now - *at < MEMBERSHIP_MAX_AGE) {
            return Ok(Acting { user, account, kind: AccountKind::Organisation, role });
        }
        let membership = self.accounts.membership(account, user).await?.ok_or(AccountError::NotAMember)?;
        let mut recent = self.remembered();
        if recent.len() >= MEMBERSHIPS_REMEMBERED {
            recent.clear();
        }
        recent.insert((account, user), (membership.role, now));
        Ok(Acting { user, account, kind: AccountKind::Organisation, role: membership.role })
    }

    fn remembered(&self) -> std::sync::MutexGuard<'_, HashMap<(AccountId, UserId), (MemberRole, Timestamp)>> {
        self.recent.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Forgets what this replica remembers of a membership it changed.
    fn forget(&self, account: AccountId, user: UserId) {
        self.remembered().remove(&(account, user));
    }

    /// The accounts `user` belongs to, personal first.
    ///
    /// # Errors
    /// Only a [`Failure`].
    pub async fn mine(&self, user: UserId) -> Result<Vec<AccountMembership>, AccountError> {
        Ok(self.accounts.accounts_of(user).await?)
    }

    /// The account as `acting` sees it.
    ///
    /// # Errors
    /// [`AccountError::NotFound`] when it is gone.
    pub async fn account(&self, acting: &Acting) -> Result<Account, AccountError> {
        self.accounts.find_account(acting.account).await?.ok_or(AccountError::NotFound)
    }

    /// Makes an organisation named `name` with `user` as its owner and a free subscription.
    ///
    /// # Errors
    /// [`AccountError::InvalidName`].
    pub async fn create_organisation(&self, user: UserId, name: &str) -> Result<Account, AccountError> {
        let name = AccountName::parse(name).map_err(AccountError::InvalidName)?;
        let now = self.clock.now();
        let account = Account {
            id: AccountId::from_uuid(self.ids.new_id()),
            kind: AccountKind::Organisation,
            name,
            created_at: now,
        };
        let subscription =
            Subscription::new_free(SubscriptionId::from_uuid(self.ids.new_id()), account.id, now);
        self.accounts.create_organisation(&account, user, &subscription, now).await?;
        Ok(account)
    }

    /// The account's members with their use this period. A personal account's one member's use
    /// is its pool's (`pool_used`).
    ///
    /// # Errors
    /// Only a [`Failure`].
    pub async fn members(
        &self,
        acting: &Acting,
        pool_used: RunCount,
    ) -> Result<Vec<MemberUse>, AccountError> {
        let mut members = self.accounts.members(acting.account).await?;
        if acting.kind == AccountKind::Personal {
            for member in &mut members {
                member.runs_used = pool_used;
            }
        }
        Ok(members)
    }

    /// Invites `email` in `role` (owners and admins; owners alone invite owners): a single-use
    /// token valid for seven days.
    ///
    /// # Errors
    /// [`AccountError::RoleRequired`] or [`AccountError::PersonalAccount`].
    pub async fn invite(
        &self,
        acting: &Acting,
        email: Email,
        role: MemberRole,
    ) -> Result<IssuedInvitation, AccountError> {
        self.authorise(acting, MembershipChange::Invite { role }).await?;
        let invitation = Invitation::new(
            InvitationId::from_uuid(self.ids.new_id()),
            acting.account,
            email,
            role,
            acting.user,
            self.clock.now(),
        );
        let secret = self.secrets.new_refresh_token();
        self.accounts.create_invitation(&invitation, &secret.hash).await?;
        Ok(IssuedInvitation { invitation, token: secret.token })
    }

    /// Accepts the invitation whose token is `token` for `user`: once, before it expires, by the
    /// person whose email it names. Returns the account and the role they now have.
    ///
    /// # Errors
    /// [`AccountError::UnknownInvitation`], or [`AccountError::Invitation`] (expired, used, for
    /// another email).
    pub async fn accept(&self, user: UserId, token: &str) -> Result<(AccountId, MemberRole), AccountError> {
        let hash = self.secrets.hash_refresh_token(token);
        let mut invitation =
            self.accounts.find_invitation(&hash).await?.ok_or(AccountError::UnknownInvitation)?;
        let me = self.users.find_by_id(user).await.map_err(Failure::from)?.ok_or(AccountError::NotFound)?;
        let now: Timestamp = self.clock.now();
        invitation.accept(&me.email, now).map_err(AccountError::Invitation)?;
        match self.accounts.accept_invitation(invitation.id, user, now).await? {
            Accepted::Joined => {
                self.sync_seats(invitation.account_id).await;
                Ok((invitation.account_id, invitation.role))
            }
            Accepted::AlreadyMember(role) => Ok((invitation.account_id, role)),
            Accepted::Used => Err(AccountError::Invitation(InvitationError::Used)),
        }
    }

    /// Changes a member's role or cap.
    ///
    /// # Errors
    /// [`AccountError::RoleRequired`], [`AccountError::NotFound`], [`AccountError::LastOwner`] or
    /// [`AccountError::PersonalAccount`].
    pub async fn update_member(
        &self,
        acting: &Acting,
        target: UserId,
        update: MemberUpdate,
    ) -> Result<MemberUse, AccountError> {
        let members = self.accounts.members(acting.account).await?;
        let current =
            members.iter().find(|m| m.membership.user_id == target).ok_or(AccountError::NotFound)?;
        let role = update.role.unwrap_or(current.membership.role);
        let runs_cap = update.runs_cap.unwrap_or(current.membership.runs_cap);
        let role_changes = role != current.membership.role;
        if role_changes {
            self.authorise_with(acting, MembershipChange::SetRole { target, role }, &members)?;
        }
        // A change of nothing is still asked of someone allowed to make it.
        if runs_cap != current.membership.runs_cap || !role_changes {
            self.authorise_with(acting, MembershipChange::SetCap { target }, &members)?;
        }
        let changed = self.accounts.update_member(acting.account, target, role, runs_cap).await?;
        self.forget(acting.account, target);
        match changed {
            MemberChange::Done => {}
            MemberChange::NotFound => return Err(AccountError::NotFound),
            MemberChange::LastOwner => return Err(AccountError::LastOwner),
        }
        let mut updated = current.clone();
        updated.membership.role = role;
        updated.membership.runs_cap = runs_cap;
        Ok(updated)
    }

    /// Removes a member (owners and admins), or lets a member leave.
    ///
    /// # Errors
    /// As [`Self::update_member`].
    pub async fn remove_member(&self, acting: &Acting, target: UserId) -> Result<(), AccountError> {
        self.authorise(acting, MembershipChange::Remove { target }).await?;
        let removed = self.accounts.remove_member(acting.account, target).await?;
        self.forget(acting.account, target);
        match removed {
            MemberChange::Done => {
                self.sync_seats(acting.account).await;
                Ok(())
            }
            MemberChange::NotFound => Err(AccountError::NotFound),
            MemberChange::LastOwner => Err(AccountError::LastOwner),
        }
    }

    async fn authorise(&self, acting: &Acting, change: MembershipChange) -> Result<(), AccountError> {
        if acting.kind == AccountKind::Personal {
            return Err(AccountError::PersonalAccount);
        }
        let members = self.accounts.members(acting.account).await?;
        self.authorise_with(acting, change, &members)
    }

    fn authorise_with(
        &self,
        acting: &Acting,
        change: MembershipChange,
        members: &[MemberUse],
    ) -> Result<(), AccountError> {
        let memberships: Vec<_> = members.iter().map(|m| m.membership.clone()).collect();
        let actor = memberships.iter().find(|m| m.user_id == acting.user).ok_or(AccountError::NotAMember)?;
        Ok(authorise(acting.kind, actor, change, &memberships)?)
    }
}
