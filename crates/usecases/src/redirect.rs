//! Which redirect URLs (Checkout success/cancel, Portal return) are allowed.

use url::Url;

/// The template Stripe replaces with the Checkout session's id in a success URL.
pub const CHECKOUT_SESSION_ID: &str = "{CHECKOUT_SESSION_ID}";

/// The URL is malformed or its origin is not allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the redirect URL is not allowed")]
pub struct InvalidRedirect;

/// A listed origin is not an `http(s)` origin.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not an http(s) origin")]
pub struct InvalidOrigin(pub String);

impl std::str::FromStr for RedirectPolicy {
    type Err = InvalidOrigin;

    /// Comma-separated origins.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::new(text.split(',')).map_err(InvalidOrigin)
    }
}

/// Allowed origins (`scheme://host[:port]`), from `TOLLGATE_ALLOWED_REDIRECT_ORIGINS`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedirectPolicy {
    origins: Vec<url::Origin>,
    default_origin: Option<String>,
}

impl RedirectPolicy {
    /// # Errors
    /// Names the first entry that is not an `http(s)` origin.
    pub fn new<'a>(origins: impl IntoIterator<Item = &'a str>) -> Result<Self, String> {
        let mut parsed = Vec::new();
        let mut default_origin = None;
        for raw in origins.into_iter().map(str::trim).filter(|s| !s.is_empty()) {
            let url = Url::parse(raw).map_err(|_| raw.to_owned())?;
            if !matches!(url.scheme(), "http" | "https") || url.host().is_none() || url.path() != "/" {
                return Err(raw.to_owned());
            }
            default_origin.get_or_insert_with(|| url.origin().ascii_serialization());
            parsed.push(url.origin());
        }
        Ok(Self { origins: parsed, default_origin })
    }

    /// The allowed origins, serialised (`scheme://host[:port]`).
    pub fn origins(&self) -> Vec<String> {
        self.origins.iter().map(url::Origin::ascii_serialization).collect()
    }

    /// Checks `url` and returns it normalised. Stripe's `{CHECKOUT_SESSION_ID}` template stays
    /// as written (normalising would percent-escape its braces, and Stripe would no longer
    /// substitute it).
    pub fn check(&self, url: &str) -> Result<String, InvalidRedirect> {
        let parsed = Url::parse(url.trim()).map_err(|_| InvalidRedirect)?;
        if self.origins.contains(&parsed.origin()) {
            Ok(String::from(parsed).replace("%7BCHECKOUT_SESSION_ID%7D", CHECKOUT_SESSION_ID))
        } else {
            Err(InvalidRedirect)
        }
    }

    /// `path` on the first allowed origin, for when the client gives no URL.
    pub fn default_url(&self, path: &str) -> Option<String> {
        self.default_origin.as_ref().map(|o| format!("{o}{path}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RedirectPolicy {
        RedirectPolicy::new(["http://localhost:3000", "https://app.example.com"]).expect("valid")
    }

    #[test]
    fn the_checkout_session_id_template_reaches_stripe_unescaped_in_path_and_query() {
        let url = "http://localhost:3000/done/{CHECKOUT_SESSION_ID}?session={CHECKOUT_SESSION_ID}";
        assert_eq!(policy().check(url).expect("allowed"), url);
        // Other braces are still normalised.
        assert_eq!(
            policy().check("http://localhost:3000/{x}").expect("allowed"),
            "http://localhost:3000/%7Bx%7D"
        );
    }

    #[test]
    fn urls_on_an_allowed_origin_pass() {
        assert!(policy().check("http://localhost:3000/billing?ok=1").is_ok());
        assert!(policy().check("https://app.example.com/").is_ok());
    }

    #[test]
    fn other_origins_schemes_ports_and_lookalikes_are_refused() {
        for bad in [
            "http://localhost:3001/",
            "https://localhost:3000/",
            "https://app.example.com.evil.com/",
            "https://evil.com/?https://app.example.com",
            "javascript:alert(1)",
            "//app.example.com/",
            "not a url",
        ] {
            assert_eq!(policy().check(bad), Err(InvalidRedirect), "{bad}");
        }
    }

    #[test]
    fn a_configured_origin_must_be_a_bare_http_origin() {
        assert!(RedirectPolicy::new(["ftp://x.com"]).is_err());
        assert!(RedirectPolicy::new(["https://x.com/path"]).is_err());
        assert!(RedirectPolicy::new(["nope"]).is_err());
    }

    #[test]
    fn the_default_url_uses_the_first_origin() {
        assert_eq!(policy().default_url("/billing"), Some("http://localhost:3000/billing".into()));
    }
}
