//! `Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>…]`: HMAC-SHA256 with the endpoint secret over
//! `"<t>.<raw body>"`. Any one `v1` may match (secrets roll); the comparison is constant-time;
//! a timestamp further than the tolerance from now is refused (replays).

use hmac::{Hmac, Mac};
use sha2::Sha256;
use tollgate_domain::Timestamp;
use tollgate_ports::WebhookError;

/// Stripe's default tolerance.
pub const TOLERANCE: time::Duration = time::Duration::seconds(300);

type HmacSha256 = Hmac<Sha256>;

/// At most this many `v1` entries are considered; a header with more is refused before any HMAC
/// (an unauthenticated caller must not be able to make the server hash the body many times).
pub const MAX_V1_SIGNATURES: usize = 8;

/// Checks `header` against `payload`. Every failure is the same `InvalidSignature`. The HMAC is
/// computed once, then compared in constant time against each `v1` entry.
pub fn verify(
    payload: &[u8],
    header: &str,
    secret: &[u8],
    now: Timestamp,
    tolerance: time::Duration,
) -> Result<(), WebhookError> {
    let mut timestamp: Option<i64> = None;
    let mut candidates: Vec<Vec<u8>> = Vec::new();
    let mut v1_entries = 0usize;
    for part in header.split(',') {
        let Some((key, value)) = part.trim().split_once('=') else { continue };
        match key {
            "t" => timestamp = value.parse().ok(),
            "v1" => {
                v1_entries += 1;
                if v1_entries > MAX_V1_SIGNATURES {
                    return Err(WebhookError::InvalidSignature);
                }
                if let Ok(bytes) = hex::decode(value) {
                    candidates.push(bytes);
                }
            }
            _ => {}
        }
    }
    let t = timestamp.ok_or(WebhookError::InvalidSignature)?;
    // `abs_diff`: a timestamp at either end of i64 must not overflow (the fuzz target's seed
    // `min-timestamp` panicked here with overflow checks on).
    if candidates.is_empty() || now.unix_timestamp().abs_diff(t) > tolerance.whole_seconds().unsigned_abs() {
        return Err(WebhookError::InvalidSignature);
    }
    #[expect(clippy::expect_used, reason = "HMAC accepts keys of any length")]
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC accepts keys of any length");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(payload);
    let matches = candidates.iter().any(|candidate| mac.clone().verify_slice(candidate).is_ok());
    if matches {
        Ok(())
    } else {
        Err(WebhookError::InvalidSignature)
    }
}

/// The header Stripe would send for `payload` at `t` (for tests and the benchmark's load generator).
pub fn sign(payload: &[u8], secret: &[u8], t: i64) -> String {
    #[expect(clippy::expect_used, reason = "HMAC accepts keys of any length")]
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC accepts keys of any length");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(payload);
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"whsec_test_secret";
    const BODY: &[u8] = br#"{"id":"evt_1","type":"invoice.paid"}"#;

    fn at(t: i64) -> Timestamp {
        Timestamp::from_unix_timestamp(t).expect("valid")
    }

    /// The `stripe_signature` fuzz target's seed `min-timestamp`: `now - t` overflowed (a panic
    /// with overflow checks on) for a timestamp at the end of i64.
    #[test]
    fn timestamps_at_the_ends_of_i64_are_refused_without_overflowing() {
        for t in [i64::MIN, i64::MIN + 1, i64::MAX] {
            let header = format!("t={t},v1={}", sign(BODY, SECRET, t).split(",v1=").nth(1).expect("v1"));
            assert!(verify(BODY, &header, SECRET, at(1_700_000_000), TOLERANCE).is_err(), "t={t}");
        }
    }

    #[test]
    fn a_correct_signature_within_tolerance_passes() {
        let header = sign(BODY, SECRET, 1_700_000_000);
        assert!(verify(BODY, &header, SECRET, at(1_700_000_000 + 299), TOLERANCE).is_ok());
        assert!(verify(BODY, &header, SECRET, at(1_700_000_000 - 299), TOLERANCE).is_ok());
    }

    #[test]
    fn any_one_of_several_v1_signatures_may_match() {
        let good = sign(BODY, SECRET, 1_700_000_000);
        let v1 = good.split_once("v1=").expect("v1").1;
        let header = format!("t=1700000000,v1={},v0=abc,v1={v1}", "00".repeat(32));
        assert!(verify(BODY, &header, SECRET, at(1_700_000_000), TOLERANCE).is_ok());
    }

    #[test]
    fn more_than_eight_v1_entries_are_refused_even_when_one_matches() {
        let good = sign(BODY, SECRET, 1_700_000_000);
        let v1 = good.split_once("v1=").expect("v1").1;
        let filler = format!(",v1={}", "00".repeat(32));
        let eight = format!("t=1700000000{}{}", filler.repeat(7), format_args!(",v1={v1}"));
        assert!(verify(BODY, &eight, SECRET, at(1_700_000_000), TOLERANCE).is_ok());
        let nine = format!("t=1700000000{}{}", filler.repeat(8), format_args!(",v1={v1}"));
        assert!(matches!(
            verify(BODY, &nine, SECRET, at(1_700_000_000), TOLERANCE),
            Err(WebhookError::InvalidSignature)
        ));
    }

    #[test]
    fn forged_tampered_stale_and_malformed_signatures_are_refused() {
        let now = at(1_700_000_000);
        let good = sign(BODY, SECRET, 1_700_000_000);
        let cases: Vec<(Vec<u8>, String)> = vec![
            (BODY.to_vec(), sign(BODY, b"another secret", 1_700_000_000)),
            (br#"{"id":"evt_1","type":"invoice.paid "}"#.to_vec(), good.clone()),
            (BODY.to_vec(), sign(BODY, SECRET, 1_700_000_000 - 301)),
            (BODY.to_vec(), sign(BODY, SECRET, 1_700_000_000 + 301)),
            (BODY.to_vec(), good.replace("t=", "x=")),
            (BODY.to_vec(), "t=1700000000".into()),
            (BODY.to_vec(), "t=1700000000,v1=not-hex".into()),
            (BODY.to_vec(), "v1=abcd".into()),
            (BODY.to_vec(), String::new()),
            (BODY.to_vec(), good.replace("v1=", "v0=")),
        ];
        for (payload, header) in cases {
            assert!(
                matches!(
                    verify(&payload, &header, SECRET, now, TOLERANCE),
                    Err(WebhookError::InvalidSignature)
                ),
                "{header}"
            );
        }
    }
}
