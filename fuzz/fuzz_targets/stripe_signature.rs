//! `Stripe-Signature` verification on arbitrary headers and bodies: it never panics, accepts
//! only what `sign` made with the secret within the tolerance, and accepts every such header.
#![no_main]

use libfuzzer_sys::fuzz_target;
use time::macros::datetime;
use tollgate_stripe::signature::{sign, verify, TOLERANCE};

const SECRET: &[u8] = b"whsec_fuzz";

fuzz_target!(|data: &[u8]| {
    let now = datetime!(2026-12-03 12:00 UTC);
    // The first line is the header, the rest the body.
    let (header, payload) = match data.iter().position(|&b| b == b'\n') {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &b""[..]),
    };
    let Ok(header) = std::str::from_utf8(header) else { return };
    if verify(payload, header, SECRET, now, TOLERANCE).is_ok() {
        // Accepted: the header carries a v1 that `sign` would have written for this body.
        let t = header
            .split(',')
            .filter_map(|p| p.trim().split_once('='))
            .find(|(k, _)| *k == "t")
            .and_then(|(_, v)| v.parse::<i64>().ok())
            .expect("an accepted header has a timestamp");
        let expected = sign(payload, SECRET, t);
        let v1 = expected.split(",v1=").nth(1).expect("sign writes v1");
        // Hex in either case is the same signature (found by a long run: `…77C3b6…`).
        assert!(header.to_ascii_lowercase().contains(v1), "accepted a signature that is not the body's");
    }
    // The body signed now, and up to the tolerance either side, is accepted.
    for offset in [-TOLERANCE.whole_seconds(), 0, TOLERANCE.whole_seconds()] {
        let header = sign(payload, SECRET, now.unix_timestamp() + offset);
        assert!(verify(payload, &header, SECRET, now, TOLERANCE).is_ok(), "refused a valid signature");
    }
});
