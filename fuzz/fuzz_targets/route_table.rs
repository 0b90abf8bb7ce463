//! The route table (`TOLLGATE_METERED_ROUTES`) and path patterns on arbitrary text: parsing never
//! panics, and a parsed table answers any method and path, metering only paths its patterns match.
#![no_main]

use actix_web::http::Method;
use libfuzzer_sys::fuzz_target;
use tollgate_http::route_table::PathPatterns;
use tollgate_http::RouteTable;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    // The text up to the first line break is the table; every later line a path to ask about.
    let mut lines = text.lines();
    let spec = lines.next().unwrap_or_default();
    let paths: Vec<&str> = lines.collect();
    if let Ok(table) = spec.parse::<RouteTable>() {
        for path in &paths {
            for method in [Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
                if table.cost(&method, path).is_some() {
                    assert!(
                        table.routes().iter().any(|r| r.matches(&method, path)),
                        "a cost without a matching route"
                    );
                }
            }
        }
    }
    if let Ok(patterns) = spec.parse::<PathPatterns>() {
        for path in &paths {
            let _ = patterns.matches(path);
        }
    }
});
