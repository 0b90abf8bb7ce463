//! Money as integer minor units with an ISO 4217 currency code. Never floats.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Why a money value could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("currency must be three ASCII letters (ISO 4217), got `{0}`")]
    InvalidCurrency(String),
}

/// A three-letter ISO 4217 currency code, stored upper case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency([u8; 3]);

impl Currency {
    pub const USD: Currency = Currency(*b"USD");

    pub fn as_str(&self) -> &str {
        // Only ASCII letters are ever stored (checked in `from_str`).
        std::str::from_utf8(&self.0).unwrap_or("???")
    }
}

impl FromStr for Currency {
    type Err = MoneyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bytes = s.trim().as_bytes();
        match bytes {
            [a, b, c] if bytes.iter().all(u8::is_ascii_alphabetic) => {
                Ok(Currency([a.to_ascii_uppercase(), b.to_ascii_uppercase(), c.to_ascii_uppercase()]))
            }
            _ => Err(MoneyError::InvalidCurrency(s.chars().take(16).collect())),
        }
    }
}

impl TryFrom<String> for Currency {
    type Error = MoneyError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<Currency> for String {
    fn from(value: Currency) -> Self {
        value.as_str().to_owned()
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A non-negative amount in the currency's minor unit (cents for USD).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    amount_minor: u64,
    currency: Currency,
}

impl Money {
    pub const fn new(amount_minor: u64, currency: Currency) -> Self {
        Self { amount_minor, currency }
    }

    pub const fn zero(currency: Currency) -> Self {
        Self::new(0, currency)
    }

    pub const fn amount_minor(&self) -> u64 {
        self.amount_minor
    }

    pub const fn currency(&self) -> Currency {
        self.currency
    }

    pub const fn is_zero(&self) -> bool {
        self.amount_minor == 0
    }
}

impl fmt::Display for Money {
    /// `19.00 USD`. Assumes a two-decimal minor unit, which holds for the catalog's currencies.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02} {}", self.amount_minor / 100, self.amount_minor % 100, self.currency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn currency_codes_are_normalised_to_upper_case() {
        assert_eq!("usd".parse::<Currency>(), Ok(Currency::USD));
        assert_eq!(" Eur ".parse::<Currency>().map(|c| c.to_string()), Ok("EUR".to_owned()));
    }

    #[test]
    fn a_currency_code_must_be_three_letters() {
        for bad in ["", "US", "USDD", "U$D", "12 "] {
            assert!(bad.parse::<Currency>().is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn money_prints_major_and_minor_units() {
        assert_eq!(Money::new(1900, Currency::USD).to_string(), "19.00 USD");
        assert_eq!(Money::new(4905, Currency::USD).to_string(), "49.05 USD");
    }

    #[test]
    fn money_serialises_as_minor_units_and_code() {
        let json = serde_json::to_value(Money::new(4900, Currency::USD)).expect("serialise");
        assert_eq!(json, serde_json::json!({"amount_minor": 4900, "currency": "USD"}));
    }
}
