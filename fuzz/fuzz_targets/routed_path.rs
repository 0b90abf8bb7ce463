//! The one parse of a request path (`RoutedPath`, the gate's and the proxy's) against actix's own
//! URL handling. For any path it accepts:
//! - what it forwards (`encoded`) parses back to the same path;
//! - actix, routing that forwarded path as an upstream would, sees the same decoded path;
//! - actix's matcher, given one dynamic segment per segment, captures exactly its segments (as
//!   its `web::Path` extractor decodes them).
#![no_main]

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use actix_web::dev::{Path, ResourceDef, Url};
use actix_web::http::Uri;
use libfuzzer_sys::fuzz_target;
use percent_encoding::percent_decode_str;
use tollgate_http::path::RoutedPath;

/// `/{s0}/{s1}/…` (with a trailing slash when asked), made once per shape: actix leaks the names
/// of a pattern's segments on purpose (a routing table is built once), so building one per input
/// would be a leak of the target's own making.
fn pattern(segments: usize, trailing_slash: bool) -> ResourceDef {
    static MADE: OnceLock<Mutex<HashMap<(usize, bool), ResourceDef>>> = OnceLock::new();
    let mut made = MADE.get_or_init(Mutex::default).lock().expect("not poisoned");
    made.entry((segments, trailing_slash))
        .or_insert_with(|| {
            let mut text: String = (0..segments).map(|i| format!("/{{s{i}}}")).collect();
            if text.is_empty() || trailing_slash {
                text.push('/');
            }
            ResourceDef::new(text)
        })
        .clone()
}

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else { return };
    let Ok(routed) = RoutedPath::parse(raw) else { return };
    let encoded = routed.encoded();
    assert_eq!(RoutedPath::parse(&encoded).as_ref(), Ok(&routed), "the forwarded path parses to another");

    let uri: Uri = encoded.parse().expect("the forwarded path is a valid request target");
    let url = Url::new(uri);
    let seen = percent_decode_str(url.path()).decode_utf8().expect("UTF-8");
    assert_eq!(seen, routed.as_str(), "actix decodes the forwarded path to another path");

    let segments: Vec<&str> = routed.as_str().split('/').filter(|s| !s.is_empty()).collect();
    // actix's patterns take at most 16 dynamic segments.
    if segments.len() > 16 {
        return;
    }
    let def = pattern(segments.len(), routed.as_str().ends_with('/'));
    let mut path = Path::new(url);
    assert!(def.capture_match_info(&mut path), "actix does not route the forwarded path to its segments");
    for (i, segment) in segments.iter().enumerate() {
        // actix keeps `%25`, `%2B` and `%2F` encoded in a capture; its `web::Path` extractor
        // decodes them, so a handler sees the capture fully decoded.
        let captured = path.get(&format!("s{i}")).expect("every segment is captured");
        let captured = percent_decode_str(captured).decode_utf8().expect("UTF-8");
        assert_eq!(captured, *segment, "actix captures another segment");
    }
});
