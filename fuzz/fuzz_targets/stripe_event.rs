//! Webhook event parsing on arbitrary bytes (both API-version shapes are in the seeds): it never
//! panics, and it parses what it accepts the same way twice.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(event) = tollgate_stripe::parse::event(data) {
        let again = tollgate_stripe::parse::event(data).expect("the same bytes parse again");
        assert_eq!(format!("{event:?}"), format!("{again:?}"));
    }
});
