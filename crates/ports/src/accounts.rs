//! `AccountRepository`: organisations, their members and invitations (SPEC §13). A personal
//! account is made with its user (`UserRepository::create`); an organisation with its owner.

use async_trait::async_trait;
use tollgate_domain::account::{Account, Invitation, MemberRole, Membership};
use tollgate_domain::{AccountId, Email, InvitationId, RunCount, Subscription, Timestamp, UserId};

use crate::error::StoreError;

/// An account as one of its members sees it: the account and their role in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountMembership {
    pub account: Account,
    pub role: MemberRole,
}

/// A member with their share of the pool this period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberUse {
    pub membership: Membership,
    pub email: Email,
    /// Runs charged to them this period (an organisation's members; a personal account's one
    /// member's use is the account's, which the caller reads from the subscription).
    pub runs_used: RunCount,
    /// Runs their live holds keep.
    pub runs_reserved: RunCount,
}

/// What a change to a member did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberChange {
    Done,
    /// No such member.
    NotFound,
    /// It would leave the account without an owner; nothing changed.
    LastOwner,
}

/// What accepting an invitation did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accepted {
    /// The user joined in the invitation's role.
    Joined,
    /// The user was a member already: the invitation is used, their role unchanged.
    AlreadyMember(MemberRole),
    /// Someone accepted it first; nothing changed.
    Used,
}

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait AccountRepository: Send + Sync {
    /// Makes an organisation with `owner` as its owner and its (free) subscription, in one
    /// transaction.
    ///
    /// # Errors
    /// Only [`StoreError`].
    async fn create_organisation(
        &self,
        account: &Account,
        owner: UserId,
        subscription: &Subscription,
        at: Timestamp,
    ) -> Result<(), StoreError>;

    /// The account, if it exists.
    ///
    /// # Errors
    /// Only [`StoreError`].
    async fn find_account(&self, id: AccountId) -> Result<Option<Account>, StoreError>;

    /// `user`'s membership of `account`, if any.
    ///
    /// # Errors
    /// Only [`StoreError`].
    async fn membership(&self, account: AccountId, user: UserId) -> Result<Option<Membership>, StoreError>;

    /// The accounts `user` belongs to, with their role: the personal one first, then by name.
    ///
    /// # Errors
    /// Only [`StoreError`].
    async fn accounts_of(&self, user: UserId) -> Result<Vec<AccountMembership>, StoreError>;

    /// The account's members with their use this period, owners first, then by email.
    ///
    /// # Errors
    /// Only [`StoreError`].
    async fn members(&self, account: AccountId) -> Result<Vec<MemberUse>, StoreError>;

    /// How many members the account has (its seats).
    ///
    /// # Errors
    /// Only [`StoreError`].
    async fn count_members(&self, account: AccountId) -> Result<u32, StoreError>;

    /// Sets a member's role and cap, unless that would leave the account without an owner
    /// (decided under the account's lock: two owners demoting each other leave one).
    ///
    /// # Errors
    /// Only [`StoreError`]; an unknown member or the last owner is an outcome.
    async fn update_member(
        &self,
        account: AccountId,
        user: UserId,
        role: MemberRole,
        runs_cap: Option<RunCount>,
    ) -> Result<MemberChange, StoreError>;

    /// Removes a member, unless they are the last owner (decided under the account's lock). Their
    /// past use stays in the account's records; their live holds stay held until committed,
    /// released or expired.
    ///
    /// # Errors
    /// Only [`StoreError`]; an unknown member or the last owner is an outcome.
    async fn remove_member(&self, account: AccountId, user: UserId) -> Result<MemberChange, StoreError>;

    /// Stores an invitation with the hash of its token.
    ///
    /// # Errors
    /// Only [`StoreError`].
    async fn create_invitation(&self, invitation: &Invitation, token_hash: &str) -> Result<(), StoreError>;

    /// The invitation whose token hashes to `token_hash`, if any.
    ///
    /// # Errors
    /// Only [`StoreError`].
    async fn find_invitation(&self, token_hash: &str) -> Result<Option<Invitation>, StoreError>;

    /// Marks the invitation accepted by `user` at `at` — once: a second acceptance, even racing,
    /// is [`Accepted::Used`] — and makes them a member in its role, in one transaction.
    ///
    /// # Errors
    /// Only [`StoreError`].
    async fn accept_invitation(
        &self,
        id: InvitationId,
        user: UserId,
        at: Timestamp,
    ) -> Result<Accepted, StoreError>;
}
