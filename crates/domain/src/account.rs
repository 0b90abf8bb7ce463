//! Accounts: who pays for runs. Every user has a personal account, made with them; an
//! organisation is a team that shares one subscription and one pool of runs. Its members have a
//! role — `owner`, `admin` (members and billing) or `member` (uses runs) — and an optional cap on
//! their own runs per period. People join an organisation through an invitation: single use,
//! bound to one email, valid for seven days.
//!
//! The rules here are who may change what ([`authorise`]) and when an invitation may be accepted
//! ([`Invitation::accept`]); the pool and the caps are decided in [`crate::pool`].

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::Duration;

use crate::ids::{AccountId, InvitationId};
use crate::plan::RunCount;
use crate::user::Email;
use crate::{Timestamp, UserId};

/// How long an invitation may be accepted.
pub const INVITATION_TTL: Duration = Duration::days(7);

/// A personal account (one per user, made with them) or an organisation (a team).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountKind {
    Personal,
    Organisation,
}

impl AccountKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Personal => "personal",
            Self::Organisation => "organisation",
        }
    }
}

impl FromStr for AccountKind {
    type Err = UnknownName;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "personal" => Ok(Self::Personal),
            "organisation" => Ok(Self::Organisation),
            other => Err(UnknownName(other.chars().take(32).collect())),
        }
    }
}

/// A stored name that is not one of the known ones (an account kind or a member role).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown name `{0}`")]
pub struct UnknownName(pub String);

/// An account's name: what its members see in the account switcher.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AccountName(String);

/// Why a name cannot be an account's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InvalidAccountName {
    #[error("must not be empty")]
    Empty,
    #[error("must be at most {max} characters", max = AccountName::MAX_CHARS)]
    TooLong,
    #[error("must not contain control characters")]
    ControlCharacters,
}

impl AccountName {
    pub const MAX_CHARS: usize = 100;

    /// The name, trimmed: 1 to 100 characters, none of them control characters.
    pub fn parse(raw: &str) -> Result<Self, InvalidAccountName> {
        let name = raw.trim();
        if name.is_empty() {
            return Err(InvalidAccountName::Empty);
        }
        if name.chars().count() > Self::MAX_CHARS {
            return Err(InvalidAccountName::TooLong);
        }
        if name.chars().any(char::is_control) {
            return Err(InvalidAccountName::ControlCharacters);
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AccountName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Who pays: a person or a team.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: AccountId,
    pub kind: AccountKind,
    pub name: AccountName,
    pub created_at: Timestamp,
}

impl Account {
    /// The personal account of `user`, made with the user: named after them (their first 100
    /// characters; their email when their name is blank), as the accounts migration names it.
    pub fn personal(user: &crate::User) -> Self {
        let short = |text: &str| text.chars().take(AccountName::MAX_CHARS).collect::<String>();
        let fullname = user.fullname.as_str();
        let name = AccountName(if fullname.trim().is_empty() {
            short(user.email.as_str())
        } else {
            short(fullname)
        });
        Self {
            id: AccountId::personal(user.id),
            kind: AccountKind::Personal,
            name,
            created_at: user.created_at,
        }
    }
}

/// What a member may do in an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MemberRole {
    /// Everything an admin may, and making or unmaking owners. An account always has one.
    Owner,
    /// Members (invite, remove, set caps and roles below owner) and billing (trial, Checkout,
    /// the portal).
    Admin,
    /// Uses the account's runs and reads its subscription.
    Member,
}

impl MemberRole {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Owner => "owner",
            Self::Admin => "admin",
            Self::Member => "member",
        }
    }

    /// Owners and admins manage members and billing.
    pub const fn manages(self) -> bool {
        matches!(self, Self::Owner | Self::Admin)
    }
}

impl FromStr for MemberRole {
    type Err = UnknownName;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "owner" => Ok(Self::Owner),
            "admin" => Ok(Self::Admin),
            "member" => Ok(Self::Member),
            other => Err(UnknownName(other.chars().take(32).collect())),
        }
    }
}

/// A user's place in an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    pub account_id: AccountId,
    pub user_id: UserId,
    pub role: MemberRole,
    /// At most this many of the pool's runs per period for this member; `None`: only the pool
    /// limits them.
    pub runs_cap: Option<RunCount>,
    pub joined_at: Timestamp,
}

/// A change to an account's members, asked for by one of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MembershipChange {
    /// Invite someone in this role.
    Invite { role: MemberRole },
    /// Give `target` this role.
    SetRole { target: UserId, role: MemberRole },
    /// Set or clear `target`'s cap.
    SetCap { target: UserId },
    /// Remove `target` (a member removing themself leaves).
    Remove { target: UserId },
}

/// Why a change to an account's members is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MembershipError {
    /// A personal account has one member, its person, for good.
    #[error("a personal account has no other members")]
    PersonalAccount,
    /// The change needs an owner or an admin (or an owner, to make or unmake owners).
    #[error("your role in this account does not allow this")]
    NotAllowed,
    /// The change is about someone who is not a member.
    #[error("this user is not a member of the account")]
    NotAMember,
    /// The change would leave the account without an owner.
    #[error("an account keeps at least one owner")]
    LastOwner,
}

/// Whether `actor` may make `change` to an account of `kind` whose members are `members`
/// (including the actor). Who may:
/// - invite, set caps, and set or remove members and admins: owners and admins;
/// - make someone an owner, or change or remove an owner: owners only;
/// - remove themself (leave): every member — except the last owner, as no change may leave the
///   account without an owner.
///
/// # Errors
/// The [`MembershipError`] that forbids the change; nothing is to be written then.
pub fn authorise(
    kind: AccountKind,
    actor: &Membership,
    change: MembershipChange,
    members: &[Membership],
) -> Result<(), MembershipError> {
    if kind == AccountKind::Personal {
        return Err(MembershipError::PersonalAccount);
    }
    let target_role = |target: UserId| {
        members.iter().find(|m| m.user_id == target).map(|m| m.role).ok_or(MembershipError::NotAMember)
    };
    let owners = members.iter().filter(|m| m.role == MemberRole::Owner).count();
    let owner_only = |involves_owner: bool| {
        if involves_owner && actor.role != MemberRole::Owner {
            Err(MembershipError::NotAllowed)
        } else {
            Ok(())
        }
    };
    let managing = if actor.role.manages() { Ok(()) } else { Err(MembershipError::NotAllowed) };
    match change {
        MembershipChange::Invite { role } => managing.and(owner_only(role == MemberRole::Owner)),
        MembershipChange::SetCap { target } => {
            target_role(target)?;
            managing
        }
        MembershipChange::SetRole { target, role } => {
            let current = target_role(target)?;
            managing?;
            owner_only(current == MemberRole::Owner || role == MemberRole::Owner)?;
            if current == MemberRole::Owner && role != MemberRole::Owner && owners <= 1 {
                return Err(MembershipError::LastOwner);
            }
            Ok(())
        }
        MembershipChange::Remove { target } => {
            let current = target_role(target)?;
            if target != actor.user_id {
                managing?;
                owner_only(current == MemberRole::Owner)?;
            }
            if current == MemberRole::Owner && owners <= 1 {
                return Err(MembershipError::LastOwner);
            }
            Ok(())
        }
    }
}

/// An invitation to join an organisation: single use, for one email, valid for
/// [`INVITATION_TTL`]. Its token is shown once to the admin who made it; only its hash is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invitation {
    pub id: InvitationId,
    pub account_id: AccountId,
    pub email: Email,
    pub role: MemberRole,
    pub invited_by: UserId,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub accepted_at: Option<Timestamp>,
}

/// Why an invitation cannot be accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InvitationError {
    #[error("the invitation has expired")]
    Expired,
    #[error("the invitation has been used")]
    Used,
    /// It names someone else: only the user whose email it names may accept it.
    #[error("the invitation is for another email address")]
    OtherEmail,
}

impl Invitation {
    /// A new invitation, valid from `now` for [`INVITATION_TTL`].
    pub fn new(
        id: InvitationId,
        account_id: AccountId,
        email: Email,
        role: MemberRole,
        invited_by: UserId,
        now: Timestamp,
    ) -> Self {
        Self {
            id,
            account_id,
            email,
            role,
            invited_by,
            created_at: now,
            expires_at: now + INVITATION_TTL,
            accepted_at: None,
        }
    }

    /// Accepts the invitation for the user whose email is `by` at `now`: once, before it
    /// expires, by the person it names. Used beats expired: a used invitation says so forever.
    ///
    /// # Errors
    /// [`InvitationError::Used`], [`InvitationError::Expired`] (at or after `expires_at`) or
    /// [`InvitationError::OtherEmail`]; the invitation is unchanged then.
    pub fn accept(&mut self, by: &Email, now: Timestamp) -> Result<(), InvitationError> {
        if self.accepted_at.is_some() {
            return Err(InvitationError::Used);
        }
        if now >= self.expires_at {
            return Err(InvitationError::Expired);
        }
        if by != &self.email {
            return Err(InvitationError::OtherEmail);
        }
        self.accepted_at = Some(now);
        Ok(())
    }
}

#[cfg(test)]
#[path = "account_tests.rs"]
mod tests;
