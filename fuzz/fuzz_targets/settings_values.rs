//! The settings values read from the environment and files, on arbitrary text: run limits, path
//! patterns, trusted proxies, the gate's header pair and redirect origins never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate_domain::RunLimit;
use tollgate_http::forwarded::TrustedProxies;
use tollgate_http::headers::GateHeaders;
use tollgate_http::route_table::PathPatterns;
use tollgate_usecases::redirect::RedirectPolicy;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(limit) = text.parse::<RunLimit>() {
        // A limit reads back as written.
        let shown = limit.as_option().map_or_else(|| "unlimited".to_owned(), |n| n.to_string());
        assert_eq!(shown.parse::<RunLimit>(), Ok(limit));
    }
    let _ = text.parse::<PathPatterns>();
    if let Ok(proxies) = text.parse::<TrustedProxies>() {
        let _ = proxies.trusts(Some(std::net::IpAddr::from([127, 0, 0, 1])));
    }
    let _ = text.parse::<GateHeaders>();
    if let Ok(policy) = text.parse::<RedirectPolicy>() {
        let _ = policy.check(text);
    }
});
