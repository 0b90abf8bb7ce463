//! Typed identifiers. Generation happens outside the domain (an id generator seam in `ports`);
//! here they are only parsed, compared and printed.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The text given is not a valid identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a valid identifier")]
pub struct InvalidId(String);

macro_rules! uuid_id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            pub const fn from_uuid(id: Uuid) -> Self {
                Self(id)
            }

            pub const fn as_uuid(&self) -> &Uuid {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = InvalidId;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self).map_err(|_| InvalidId(s.chars().take(64).collect()))
            }
        }
    };
}

uuid_id!(
    /// Identifies a user account.
    UserId
);
uuid_id!(
    /// Identifies a user's subscription record (one per user).
    SubscriptionId
);
uuid_id!(
    /// Identifies an account: a user's personal one, or an organisation.
    AccountId
);
impl AccountId {
    /// A user's personal account: its id is the user's own (every user has one, made with the
    /// user; the accounts migration gave each existing user theirs this way).
    pub const fn personal(user: UserId) -> Self {
        Self(user.0)
    }

    /// The user whose personal account this would be, if it is one (an organisation's id is
    /// never a user's).
    pub const fn as_user(self) -> UserId {
        UserId(self.0)
    }
}

uuid_id!(
    /// Identifies an invitation to join an organisation.
    InvitationId
);
uuid_id!(
    /// Identifies a session, the metered resource.
    SessionId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_round_trips_through_its_text_form() {
        let text = "67e55044-10b1-426f-9247-bb680e5fe0c8";
        let id: UserId = text.parse().expect("valid uuid");
        assert_eq!(id.to_string(), text);
    }

    #[test]
    fn a_malformed_id_is_refused() {
        assert!("not-a-uuid".parse::<SessionId>().is_err());
        assert!("".parse::<SubscriptionId>().is_err());
    }
}

macro_rules! provider_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn new(id: impl Into<String>) -> Self {
                Self(id.into())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        /// Read as the provider's text (comparisons, lookups); made only from the provider's id.
        impl std::ops::Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl From<&str> for $name {
            fn from(id: &str) -> Self {
                Self(id.to_owned())
            }
        }

        impl From<String> for $name {
            fn from(id: String) -> Self {
                Self(id)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }
    };
}

provider_id!(
    /// The payment provider's customer id (Stripe `cus_…`).
    CustomerId
);
provider_id!(
    /// The payment provider's subscription id (Stripe `sub_…`), not Tollgate's [`SubscriptionId`].
    ProviderSubscriptionId
);
