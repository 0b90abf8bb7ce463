//! How the API writes what every resource shares: times (RFC 3339, UTC), whole numbers as JSON
//! Schema means them, a bare status.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

/// A time as the API writes it (RFC 3339, UTC).
pub fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

/// A whole number as JSON Schema's `integer` means it: `5` and `5.0` alike; `null` is absent.
pub(super) fn whole_number<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<u32>, D::Error> {
    use serde::de::Error;
    match Option::<f64>::deserialize(deserializer)? {
        None => Ok(None),
        Some(n) if n.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&n) => Ok(Some(n as u32)),
        Some(n) => Err(D::Error::custom(format!("invalid value: {n}, expected a whole number"))),
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StatusResponse {
    pub status: &'static str,
}
