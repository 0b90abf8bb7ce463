//! SPEC §7.1's route table, `TOLLGATE_METERED_ROUTES`: which routes consume runs, and how many.
//!
//! An entry is `METHOD PATTERN[=COST]` (COST ≥ 1, default 1). A pattern's segments are literal,
//! `*` (exactly one non-empty segment) or a final `**` (any rest, including none). Entries are
//! matched in order and the first match decides. A table is matched against the path the router
//! itself routed (percent-decoded by actix), never a second parse of the raw request line.

use std::fmt;
use std::str::FromStr;

use actix_web::http::Method;
use tollgate_domain::RunCount;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    One,
    Rest,
}

/// One entry of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeteredRoute {
    method: Method,
    segments: Vec<Segment>,
    cost: RunCount,
}

/// Why an entry could not be read; the message says what is expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{entry}` is not `METHOD /pattern[=COST]`: {reason}")]
pub struct RouteTableError {
    entry: String,
    reason: &'static str,
}

impl MeteredRoute {
    /// The runs a request on this route consumes.
    pub fn cost(&self) -> RunCount {
        self.cost
    }

    /// Whether `method` and `path` (a routed, percent-decoded path) match this entry. HEAD
    /// matches a GET entry too: frameworks answer HEAD by running the GET handler (SPEC §12).
    pub fn matches(&self, method: &Method, path: &str) -> bool {
        let method_matches =
            self.method == *method || (*method == Method::HEAD && self.method == Method::GET);
        method_matches && matches_segments(&self.segments, path)
    }
}

fn matches_segments(pattern: &[Segment], path: &str) -> bool {
    let Some(rest) = path.strip_prefix('/') else { return false };
    let mut parts = if rest.is_empty() { Vec::new() } else { rest.split('/').collect::<Vec<_>>() };
    if let Some(Segment::Rest) = pattern.last() {
        let fixed = &pattern[..pattern.len() - 1];
        // `/v1/**` matches `/v1`, `/v1/` and anything below `/v1/`.
        if parts.last() == Some(&"") {
            parts.pop();
        }
        return parts.len() >= fixed.len() && fixed.iter().zip(&parts).all(|(s, p)| segment_matches(s, p));
    }
    parts.len() == pattern.len() && pattern.iter().zip(&parts).all(|(s, p)| segment_matches(s, p))
}

fn segment_matches(segment: &Segment, part: &str) -> bool {
    match segment {
        Segment::Literal(literal) => literal == part,
        Segment::One => !part.is_empty(),
        Segment::Rest => true,
    }
}

impl FromStr for MeteredRoute {
    type Err = RouteTableError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let entry = text.trim();
        let fail = |reason| RouteTableError { entry: entry.to_owned(), reason };
        let (method, rest) = entry.split_once(char::is_whitespace).ok_or_else(|| fail("no pattern"))?;
        let method = Method::from_bytes(method.to_ascii_uppercase().as_bytes())
            .map_err(|_| fail("the method is not an HTTP method"))?;
        let (pattern, cost) = match rest.split_once('=') {
            Some((pattern, cost)) => {
                let cost: u32 = cost.trim().parse().map_err(|_| fail("COST must be a whole number"))?;
                if cost == 0 {
                    return Err(fail("COST must be at least 1"));
                }
                (pattern.trim(), RunCount::new(cost))
            }
            None => (rest.trim(), RunCount::new(1)),
        };
        let body = pattern.strip_prefix('/').ok_or_else(|| fail("the pattern must start with `/`"))?;
        let body = body.strip_suffix('/').unwrap_or(body);
        let mut segments = Vec::new();
        let parts: Vec<&str> = if body.is_empty() { Vec::new() } else { body.split('/').collect() };
        for (i, part) in parts.iter().enumerate() {
            let segment = match *part {
                "" => return Err(fail("empty segment")),
                "*" => Segment::One,
                "**" if i + 1 == parts.len() => Segment::Rest,
                "**" => return Err(fail("`**` may only be the last segment")),
                p if p.contains('*') || p.contains('%') || p.contains(char::is_whitespace) => {
                    return Err(fail("a literal segment may not contain `*`, `%` or spaces"))
                }
                p => Segment::Literal(p.to_owned()),
            };
            segments.push(segment);
        }
        Ok(Self { method, segments, cost })
    }
}

impl fmt::Display for MeteredRoute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ", self.method)?;
        if self.segments.is_empty() {
            f.write_str("/")?;
        }
        for segment in &self.segments {
            match segment {
                Segment::Literal(l) => write!(f, "/{l}")?,
                Segment::One => f.write_str("/*")?,
                Segment::Rest => f.write_str("/**")?,
            }
        }
        write!(f, "={}", self.cost.get())
    }
}

/// A path pattern without a method (`TOLLGATE_PROXY_ROUTES`, `TOLLGATE_PROXY_PUBLIC_ROUTES`):
/// the same segments as the route table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathPattern(Vec<Segment>);

impl PathPattern {
    pub fn matches(&self, path: &str) -> bool {
        matches_segments(&self.0, path)
    }
}

impl FromStr for PathPattern {
    type Err = RouteTableError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let route: MeteredRoute = format!("ANY {}", text.trim()).parse()?;
        if route.cost != RunCount::new(1) || text.contains('=') {
            return Err(RouteTableError {
                entry: text.trim().to_owned(),
                reason: "a path pattern has no cost",
            });
        }
        Ok(Self(route.segments))
    }
}

/// Comma-separated path patterns; a path matches when any does.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PathPatterns(Vec<PathPattern>);

impl PathPatterns {
    pub fn matches(&self, path: &str) -> bool {
        self.0.iter().any(|p| p.matches(path))
    }
}

impl FromStr for PathPatterns {
    type Err = RouteTableError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        text.split(',').filter(|e| !e.trim().is_empty()).map(str::parse).collect::<Result<_, _>>().map(Self)
    }
}

/// The whole table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RouteTable(Vec<MeteredRoute>);

impl RouteTable {
    /// SPEC §7.1's default: `POST /api/v1/sessions`.
    pub fn default_table() -> Self {
        Self::from_str("POST /api/v1/sessions").unwrap_or_default()
    }

    pub fn new(routes: Vec<MeteredRoute>) -> Self {
        Self(routes)
    }

    pub fn routes(&self) -> &[MeteredRoute] {
        &self.0
    }

    /// The cost of a request to `path` (as routed), or `None` when it is not metered.
    pub fn cost(&self, method: &Method, path: &str) -> Option<RunCount> {
        self.0.iter().find(|r| r.matches(method, path)).map(MeteredRoute::cost)
    }
}

impl FromStr for RouteTable {
    type Err = RouteTableError;

    /// Comma-separated entries; blank entries are skipped.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        text.split(',').filter(|e| !e.trim().is_empty()).map(str::parse).collect::<Result<_, _>>().map(Self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str) -> RouteTable {
        text.parse().expect("valid table")
    }

    #[test]
    fn a_literal_pattern_matches_only_its_own_path_never_a_path_below_it() {
        let t = table("post /api/v1/sessions/");
        assert_eq!(t.cost(&Method::POST, "/api/v1/sessions"), Some(RunCount::new(1)));
        assert_eq!(t.cost(&Method::POST, "/api/v1/sessions/abc"), None);
        assert_eq!(t.cost(&Method::POST, "/api/v1/sessionsx"), None);
        assert_eq!(t.cost(&Method::GET, "/api/v1/sessions"), None);
        assert_eq!(t.cost(&Method::POST, "/api/v1/sessions/"), None, "the router routes no trailing slash");
    }

    #[test]
    fn a_star_matches_exactly_one_non_empty_segment() {
        let t = table("POST /api/v1/sessions/*/chat=3");
        assert_eq!(t.cost(&Method::POST, "/api/v1/sessions/42/chat"), Some(RunCount::new(3)));
        assert_eq!(t.cost(&Method::POST, "/api/v1/sessions//chat"), None);
        assert_eq!(t.cost(&Method::POST, "/api/v1/sessions/4/2/chat"), None);
        // A percent-encoded slash stays inside its segment (actix keeps `%2F` encoded).
        assert_eq!(t.cost(&Method::POST, "/api/v1/sessions/a%2Fb/chat"), Some(RunCount::new(3)));
    }

    #[test]
    fn a_final_double_star_matches_any_rest_including_none() {
        let t = table("POST /v1/agents/**=5, GET /**");
        for path in ["/v1/agents", "/v1/agents/", "/v1/agents/a", "/v1/agents/a/b/c"] {
            assert_eq!(t.cost(&Method::POST, path), Some(RunCount::new(5)), "{path}");
        }
        assert_eq!(t.cost(&Method::POST, "/v1/agentsx"), None);
        assert_eq!(t.cost(&Method::GET, "/"), Some(RunCount::new(1)));
        assert_eq!(t.cost(&Method::GET, "/anything/at/all"), Some(RunCount::new(1)));
    }

    #[test]
    fn head_is_metered_as_get_and_nothing_else_is() {
        let t = table("GET /v1/reports/*=2, POST /v1/agents/*/run");
        assert_eq!(t.cost(&Method::HEAD, "/v1/reports/7"), Some(RunCount::new(2)));
        assert_eq!(t.cost(&Method::GET, "/v1/reports/7"), Some(RunCount::new(2)));
        assert_eq!(t.cost(&Method::HEAD, "/v1/agents/7/run"), None);
        assert_eq!(t.cost(&Method::OPTIONS, "/v1/reports/7"), None);
        assert_eq!(table("HEAD /x").cost(&Method::HEAD, "/x"), Some(RunCount::new(1)));
    }

    #[test]
    fn the_first_matching_entry_decides() {
        let t = table("POST /a/special=7, POST /a/*=2");
        assert_eq!(t.cost(&Method::POST, "/a/special"), Some(RunCount::new(7)));
        assert_eq!(t.cost(&Method::POST, "/a/other"), Some(RunCount::new(2)));
    }

    #[test]
    fn bad_entries_are_refused_with_a_reason() {
        for bad in [
            "/no-method",
            "POST no-slash",
            "POST /a=0",
            "POST /a=x",
            "POST /a/**/b",
            "POST /a//b",
            "POST /a*",
            "POST /a%2Fb",
            "PO ST /a",
        ] {
            assert!(bad.parse::<MeteredRoute>().is_err(), "{bad}");
        }
        assert_eq!(table("").routes().len(), 0);
    }

    #[test]
    fn an_entry_prints_back_as_it_was_read() {
        let t = table("POST /api/v1/sessions, post /v1/*/run=5 , GET /**");
        let printed: Vec<String> = t.routes().iter().map(ToString::to_string).collect();
        assert_eq!(printed, ["POST /api/v1/sessions=1", "POST /v1/*/run=5", "GET /**=1"]);
    }
}
