//! The value types settings parse into, and the deserialisers that read every value as text and
//! parse it through its type's `FromStr`, with a sentence naming the variable (never its value).

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

use secrecy::SecretString;
use serde::de::{self, Deserializer};
use serde::Deserialize;

/// Whole seconds (`TOLLGATE_…_SECS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Secs(pub Duration);

impl FromStr for Secs {
    type Err = &'static str;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        text.trim().parse().map(|s| Self(Duration::from_secs(s))).map_err(|_| "must be whole seconds ≥ 0")
    }
}

/// Where `/metrics` is served: an address, or `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricsListen(pub Option<SocketAddr>);

impl FromStr for MetricsListen {
    type Err = &'static str;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim() {
            "off" => Ok(Self(None)),
            address => {
                address.parse().map(|a| Self(Some(a))).map_err(|_| "must be an address (host:port) or `off`")
            }
        }
    }
}

/// `sqlite://…` or `postgres://…`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseUrl(pub String);

impl FromStr for DatabaseUrl {
    type Err = &'static str;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let url = text.trim();
        if url.starts_with("sqlite:") || url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self(url.to_owned()))
        } else {
            Err("must start with sqlite:// or postgres://")
        }
    }
}

/// An `http(s)://` base URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpUrl(pub String);

impl FromStr for HttpUrl {
    type Err = &'static str;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let url = text.trim();
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err("must be an http(s) URL");
        }
        match url::Url::parse(url) {
            Ok(parsed) if parsed.query().is_none() && parsed.fragment().is_none() => Ok(Self(url.to_owned())),
            Ok(_) => Err("must be an http(s) URL without a query or fragment"),
            Err(_) => Err("must be an http(s) URL"),
        }
    }
}

/// A value parsed through its type's `FromStr`, from text or from a number or boolean in a file.
pub(crate) fn text<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr,
    T::Err: fmt::Display,
{
    let raw = Text::deserialize(deserializer)?.0;
    raw.trim().parse().map_err(|e| de::Error::custom(sentence(raw.trim(), &e)))
}

/// A parse error as a sentence: the standard library's integer errors ("invalid digit found in
/// string") say what the value must be instead.
pub(crate) fn sentence(raw: &str, error: &dyn fmt::Display) -> String {
    let message = error.to_string();
    match message.as_str() {
        "invalid digit found in string" if raw.starts_with('-') => {
            "must be a whole number, not a negative one".to_owned()
        }
        "invalid digit found in string" => "must be a whole number".to_owned(),
        "number too large to fit in target type" => "is larger than this setting allows".to_owned(),
        "number would be zero for non-zero type" => "must be at least 1".to_owned(),
        "cannot parse integer from empty string" => "must not be empty".to_owned(),
        _ => message,
    }
}

/// Like [`text`]; blank means unset.
pub(crate) fn optional<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr,
    T::Err: fmt::Display,
{
    let raw = Text::deserialize(deserializer)?.0;
    match raw.trim() {
        "" => Ok(None),
        value => value.parse().map(Some).map_err(|e| de::Error::custom(sentence(value, &e))),
    }
}

/// A secret; blank means unset. Its value never reaches an error message.
pub(crate) fn secret<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<SecretString>, D::Error> {
    let raw = Text::deserialize(deserializer)?.0;
    Ok((!raw.trim().is_empty()).then(|| SecretString::from(raw)))
}

/// Any scalar, as text.
pub(crate) struct Text(String);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl de::Visitor<'_> for Visitor {
            type Value = Text;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a text, number or boolean")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Text, E> {
                Ok(Text(v.to_owned()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Text, E> {
                Ok(Text(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}
