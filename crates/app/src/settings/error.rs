//! What stops start-up: [`SettingsError`], and the run mode a value is checked against.

use std::str::FromStr;

/// `dev` or `production`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RunMode {
    #[default]
    Dev,
    Production,
}

impl FromStr for RunMode {
    type Err = &'static str;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().to_ascii_lowercase().as_str() {
            "dev" | "development" => Ok(Self::Dev),
            "production" | "prod" => Ok(Self::Production),
            _ => Err("must be `dev` or `production`"),
        }
    }
}

/// A setting that cannot be used. The message names the variable, never its (maybe secret) value.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("invalid setting `{key}`: {reason}")]
    Invalid { key: &'static str, reason: String },
    #[error("unknown setting `{name}` in {place}{}", closest.as_ref().map(|c| format!("; did you mean `{c}`?")).unwrap_or_default())]
    Unknown { name: String, place: String, closest: Option<String> },
    #[error("{file} is not valid TOML: {position} (the line is not shown: it may hold a secret)")]
    Syntax { file: String, position: String },
    #[error("could not read the configuration: {0}")]
    Load(#[from] config::ConfigError),
}

pub(crate) fn invalid(key: &'static str, reason: impl Into<String>) -> SettingsError {
    SettingsError::Invalid { key, reason: reason.into() }
}
