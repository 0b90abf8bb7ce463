//! A request path decoded once (SPEC §12): the gate and the proxy decide on its segments, and the
//! proxy forwards exactly those segments, each encoded again — never a string that an HTTP client
//! or the upstream's router would parse a second way.
//!
//! A spelling whose decoded form would route elsewhere is refused rather than guessed at: an
//! encoded `/`, a `\` (raw or encoded), an encoded `#` or `?`, NUL, a space or any other control
//! character, and dot segments (`.`, `..`, encoded or not, also with a `;` parameter as Tomcat
//! reads them). Empty segments (`//`) are dropped, as most routers do; a trailing slash is kept.

use std::fmt;

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// What is written raw in a path segment sent on: RFC 3986's unreserved characters and the
/// sub-delimiters `:` and `@` allowed in a segment; everything else is percent-encoded.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'!')
    .remove(b'$')
    .remove(b'&')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')')
    .remove(b'*')
    .remove(b'+')
    .remove(b',')
    .remove(b';')
    .remove(b'=')
    .remove(b':')
    .remove(b'@');

/// Why a path cannot be decided on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InvalidPath {
    /// Not an absolute path (`/…`).
    #[error("the path must start with `/`")]
    NotAbsolute,
    /// A spelling that another parser would route elsewhere (see the module's list).
    #[error("the path is spelled in a way that could route elsewhere")]
    Ambiguous,
}

/// A path as routed: its decoded segments, without empty ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutedPath {
    segments: Vec<String>,
    trailing_slash: bool,
    /// `/` + the segments joined by `/` (+ the trailing slash): what the route table matches.
    text: String,
}

impl RoutedPath {
    /// Decodes the path part of a request target (no query, no fragment).
    ///
    /// # Errors
    /// [`InvalidPath::NotAbsolute`], or [`InvalidPath::Ambiguous`] for any spelling listed in
    /// the module documentation, a bad percent-encoding or bytes that are not UTF-8.
    pub fn parse(raw: &str) -> Result<Self, InvalidPath> {
        let Some(rest) = raw.strip_prefix('/') else { return Err(InvalidPath::NotAbsolute) };
        let mut segments = Vec::new();
        for raw_segment in rest.split('/') {
            let segment = decode_segment(raw_segment)?;
            let dots = segment.split(';').next().unwrap_or_default();
            if dots == "." || dots == ".." {
                return Err(InvalidPath::Ambiguous);
            }
            if !segment.is_empty() {
                segments.push(segment);
            }
        }
        let trailing_slash = raw.len() > 1 && raw.ends_with('/') && !segments.is_empty();
        let mut text = format!("/{}", segments.join("/"));
        if trailing_slash {
            text.push('/');
        }
        Ok(Self { segments, trailing_slash, text })
    }

    /// The decoded path the route table matches (`/v1/agents/7/run`).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The path to send on, each segment percent-encoded again: it decodes to [`Self::as_str`]
    /// and has no spelling [`Self::parse`] refuses.
    pub fn encoded(&self) -> String {
        let mut out = String::with_capacity(self.text.len() + 8);
        for segment in &self.segments {
            out.push('/');
            out.extend(utf8_percent_encode(segment, SEGMENT));
        }
        if out.is_empty() || self.trailing_slash {
            out.push('/');
        }
        out
    }
}

impl fmt::Display for RoutedPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// One segment percent-decoded; refused when it holds what could end or split it elsewhere.
fn decode_segment(raw: &str) -> Result<String, InvalidPath> {
    let bytes = raw.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let byte = if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
            let byte = hex.and_then(|h| u8::from_str_radix(h, 16).ok()).ok_or(InvalidPath::Ambiguous)?;
            i += 3;
            // An encoded `/` would split the segment for anyone who decodes before routing.
            if byte == b'/' {
                return Err(InvalidPath::Ambiguous);
            }
            byte
        } else {
            i += 1;
            bytes[i - 1]
        };
        // Raw or decoded alike: a backslash is a `/` to some servers, `#` and `?` end the path.
        if matches!(byte, b'\\' | b' ' | b'#' | b'?') || byte.is_ascii_control() {
            return Err(InvalidPath::Ambiguous);
        }
        decoded.push(byte);
    }
    let text = String::from_utf8(decoded).map_err(|_| InvalidPath::Ambiguous)?;
    if text.chars().any(char::is_control) {
        return Err(InvalidPath::Ambiguous);
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn routed(raw: &str) -> Option<String> {
        RoutedPath::parse(raw).ok().map(|p| p.as_str().to_owned())
    }

    #[test]
    fn a_path_is_decoded_once_and_empty_segments_are_dropped() {
        for (raw, text) in [
            ("/v1/agents/7/run", "/v1/agents/7/run"),
            ("/v1//agents/7/run", "/v1/agents/7/run"),
            ("/v1/%61gents/7/r%75n", "/v1/agents/7/run"),
            ("/v1/agents/", "/v1/agents/"),
            ("/", "/"),
            ("//", "/"),
            ("/a%25b/c%2Bd", "/a%b/c+d"),
            ("/caf%C3%A9", "/café"),
            ("/...", "/..."),
            ("/.well-known/x", "/.well-known/x"),
        ] {
            assert_eq!(routed(raw).as_deref(), Some(text), "{raw}");
        }
    }

    #[test]
    fn spellings_another_parser_would_route_elsewhere_are_refused() {
        for raw in [
            "/v1/agents/7/run%23",
            "/v1/agents/7/run%3F",
            "/v1/agents/7/run%3f",
            "/v1/agents/7/run%20",
            "/v1/agents/7%5Crun",
            "/v1/agents/7\\run",
            "/v1/agents/a%2Fb/run",
            "/v1/agents/a%2fb/run",
            "/public/..%5Cv1/agents/7/run",
            "/v1/..%5C..%5Cinternal/admin",
            "/v1/../internal",
            "/v1/./agents",
            "/v1/%2e%2e/internal",
            "/v1/%2E/agents",
            "/v1/..;/internal",
            "/v1/.;x/agents",
            "/a%00",
            "/a%0a",
            "/a%7f",
            "/a#b",
            "/a?b",
            "/a b",
            "/a%zz",
            "/a%2",
            "/a%ff",
        ] {
            assert_eq!(RoutedPath::parse(raw), Err(InvalidPath::Ambiguous), "{raw}");
        }
        for raw in ["", "v1/agents", "http://x/a", "*"] {
            assert_eq!(RoutedPath::parse(raw), Err(InvalidPath::NotAbsolute), "{raw}");
        }
    }

    #[test]
    fn the_encoded_path_spells_every_special_character_as_an_escape() {
        let path = RoutedPath::parse("/a%25b/c%2Bd/caf%C3%A9/x:y@z/%22q%22").expect("valid");
        assert_eq!(path.encoded(), "/a%25b/c+d/caf%C3%A9/x:y@z/%22q%22");
        assert_eq!(RoutedPath::parse("/").expect("root").encoded(), "/");
        assert_eq!(RoutedPath::parse("/a/").expect("trailing").encoded(), "/a/");
    }

    proptest! {
        /// Whatever the spelling, what is sent on parses back to the very path decided on, and
        /// `url` (reqwest's parser) keeps it as it is: there is no second reading.
        #[test]
        fn what_is_forwarded_routes_exactly_as_what_was_decided(raw in "/[a-zA-Z0-9%./\\\\#?;:@+ _~-]{0,24}") {
            if let Ok(path) = RoutedPath::parse(&raw) {
                let encoded = path.encoded();
                let again = RoutedPath::parse(&encoded).expect("the encoded path parses");
                prop_assert_eq!(again.as_str(), path.as_str());
                let url = reqwest::Url::parse(&format!("http://upstream/base{encoded}")).expect("a URL");
                prop_assert_eq!(url.path(), format!("/base{encoded}"));
                prop_assert!(url.query().is_none() && url.fragment().is_none());
            }
        }
    }
}
