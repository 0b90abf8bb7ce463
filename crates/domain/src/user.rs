//! Users and the validated values they are built from.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{Timestamp, UserId};

/// Why a user-supplied value was refused. The messages are safe to show to the user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidUserInput {
    #[error("is not a valid email address")]
    Email,
    #[error("must be between {min} and {max} characters")]
    PasswordLength { min: usize, max: usize },
    #[error("must not be blank and at most {max} characters")]
    FullName { max: usize },
    #[error("unknown role")]
    Role,
}

/// An email address: trimmed, lower-cased, syntactically valid (RFC 5321 sizes).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    /// One spelling per mailbox (SPEC §12): NFKC, then lower case, then NFKC again (lowering can
    /// leave a string unnormalised), so `café` typed precomposed or with a combining accent, and
    /// full-width letters, are the same account.
    pub fn parse(raw: &str) -> Result<Self, InvalidUserInput> {
        use unicode_normalization::UnicodeNormalization;
        let lowered = raw.trim().nfkc().collect::<String>().to_lowercase();
        let normalised: String = lowered.nfkc().collect();
        if normalised.len() > 254 || !email_address::EmailAddress::is_valid(&normalised) {
            return Err(InvalidUserInput::Email);
        }
        // `email_address` accepts display-name and quoted forms; an account email is a bare
        // `local@domain` with a dotted domain.
        let (local, domain) = normalised.split_once('@').ok_or(InvalidUserInput::Email)?;
        let plain = |c: char| !c.is_whitespace() && !matches!(c, '<' | '>' | '"' | '(' | ')' | ',');
        if local.is_empty()
            || local.len() > 64
            || !local.chars().all(plain)
            || !domain.contains('.')
            || domain.starts_with('.')
            || domain.ends_with('.')
            || !domain.chars().all(|c| c.is_alphanumeric() || c == '-' || c == '.')
        {
            return Err(InvalidUserInput::Email);
        }
        Ok(Self(normalised))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Email {
    type Err = InvalidUserInput;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for Email {
    type Error = InvalidUserInput;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Email> for String {
    fn from(value: Email) -> Self {
        value.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A plain-text password that meets the policy (8–128 characters). Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    pub const MIN_CHARS: usize = 8;
    pub const MAX_CHARS: usize = 128;

    pub fn parse(raw: impl Into<String>) -> Result<Self, InvalidUserInput> {
        let raw = raw.into();
        let chars = raw.chars().count();
        if (Self::MIN_CHARS..=Self::MAX_CHARS).contains(&chars) {
            Ok(Self(raw))
        } else {
            Err(InvalidUserInput::PasswordLength { min: Self::MIN_CHARS, max: Self::MAX_CHARS })
        }
    }

    /// The secret itself, for the password hasher only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password([REDACTED])")
    }
}

/// A person's display name: trimmed, not blank, at most 100 characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct FullName(String);

impl FullName {
    pub const MAX_CHARS: usize = 100;

    pub fn parse(raw: &str) -> Result<Self, InvalidUserInput> {
        let trimmed = raw.trim();
        if trimmed.is_empty()
            || trimmed.chars().count() > Self::MAX_CHARS
            || trimmed.chars().any(char::is_control)
        {
            return Err(InvalidUserInput::FullName { max: Self::MAX_CHARS });
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for FullName {
    type Error = InvalidUserInput;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<FullName> for String {
    fn from(value: FullName) -> Self {
        value.0
    }
}

/// What a user may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    #[default]
    User,
    Admin,
}

impl Role {
    pub const fn as_str(&self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Admin => "admin",
        }
    }
}

impl FromStr for Role {
    type Err = InvalidUserInput;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "user" => Ok(Self::User),
            "admin" => Ok(Self::Admin),
            _ => Err(InvalidUserInput::Role),
        }
    }
}

/// A user account. The password hash lives with the credentials, not here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub fullname: FullName,
    pub email: Email,
    pub role: Role,
    pub created_at: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_and_lower_cased() {
        let email = Email::parse("  Ada.Lovelace@Example.COM ").expect("valid");
        assert_eq!(email.as_str(), "ada.lovelace@example.com");
    }

    #[test]
    fn one_mailbox_has_one_spelling_whatever_its_unicode_form() {
        let nfc = Email::parse("caf\u{e9}@example.com").expect("NFC");
        let nfd = Email::parse("cafe\u{301}@example.com").expect("NFD");
        assert_eq!(nfc, nfd);
        assert_eq!(nfc.as_str(), "caf\u{e9}@example.com");
        // Full-width letters (NFKC) and upper case fold to the same address.
        assert_eq!(
            Email::parse("\u{FF21}da@Example.com").expect("full-width"),
            Email::parse("ada@example.com").expect("plain")
        );
    }

    #[test]
    fn malformed_emails_are_refused() {
        for bad in [
            "",
            "plain",
            "@example.com",
            "ada@",
            "ada@localhost",
            "ada@@example.com",
            "ada@exa mple.com",
            "Ada <ada@example.com>",
            "ada@.example.com",
            "ada@example.com.",
        ] {
            assert_eq!(Email::parse(bad), Err(InvalidUserInput::Email), "{bad:?} was accepted");
        }
        let long_local = format!("{}@example.com", "a".repeat(65));
        assert!(Email::parse(&long_local).is_err());
        let long_total = format!("a@{}.com", "b".repeat(260));
        assert!(Email::parse(&long_total).is_err());
    }

    #[test]
    fn passwords_must_be_8_to_128_characters() {
        assert!(Password::parse("1234567").is_err());
        assert!(Password::parse("12345678").is_ok());
        assert!(Password::parse("x".repeat(128)).is_ok());
        assert!(Password::parse("x".repeat(129)).is_err());
    }

    #[test]
    fn password_length_counts_characters_not_bytes() {
        // Eight characters, sixteen bytes.
        assert!(Password::parse("éééééééé").is_ok());
        assert!(Password::parse("€".repeat(128)).is_ok());
    }

    #[test]
    fn a_password_is_never_printed() {
        let p = Password::parse("correct horse battery").expect("valid");
        assert!(!format!("{p:?}").contains("horse"));
    }

    #[test]
    fn full_names_are_trimmed_and_must_not_be_blank() {
        assert_eq!(
            FullName::parse("  Ada Lovelace ").map(|n| n.as_str().to_owned()),
            Ok("Ada Lovelace".into())
        );
        assert!(FullName::parse("   ").is_err());
        assert!(FullName::parse(&"x".repeat(101)).is_err());
        assert!(FullName::parse("Ada\u{0}").is_err());
    }

    #[test]
    fn roles_parse_case_insensitively() {
        assert_eq!("ADMIN".parse(), Ok(Role::Admin));
        assert!("root".parse::<Role>().is_err());
    }
}
