//! Page sessions and CSRF tokens.
//!
//! - The session cookie holds a refresh token of its own family (one per sign-in): HttpOnly,
//!   SameSite=Lax, `Secure` and `__Host-` prefixed in production. It is looked up on every page,
//!   never rotated by a page; signing out revokes its family.
//! - Every visitor gets a random CSRF cookie; each form carries `HMAC-SHA256(key, cookie ‖
//!   session cookie)` and a POST is accepted only when the field matches the cookies it was
//!   derived from (the signed double-submit pattern, bound to the session: a cross-site page can
//!   neither read the cookies nor compute the token, and a token planted with a cookie of the
//!   attacker's own does not match the victim's session). Tokens change with every sign-in.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::HttpRequest;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The cookie names, `__Host-` prefixed when `Secure` (the prefix requires it): such a cookie
/// cannot be planted by a sibling subdomain.
#[derive(Debug, Clone, Copy)]
pub struct CookieNames {
    pub session: &'static str,
    pub csrf: &'static str,
}

impl CookieNames {
    pub const fn new(secure: bool) -> Self {
        if secure {
            Self { session: "__Host-tollgate_session", csrf: "__Host-tollgate_csrf" }
        } else {
            Self { session: "tollgate_session", csrf: "tollgate_csrf" }
        }
    }
}

/// How page cookies are made.
#[derive(Clone)]
pub struct PageKeys {
    /// The HMAC key of CSRF tokens (derived from the JWT secret, so replicas agree).
    csrf_key: Vec<u8>,
    pub secure: bool,
    pub names: CookieNames,
    /// The session cookie's lifetime (the refresh token's).
    pub session_ttl: time::Duration,
    /// Where forms may lead (CSP `form-action`): here, and Stripe's Checkout and portal, to which
    /// an upgrade's POST is redirected.
    pub form_targets: Vec<String>,
}

impl std::fmt::Debug for PageKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PageKeys").field("secure", &self.secure).finish_non_exhaustive()
    }
}

type HmacSha256 = Hmac<Sha256>;

fn encode(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

impl PageKeys {
    pub fn new(secret: &[u8], secure: bool, session_ttl: time::Duration) -> Self {
        // A key of its own, not the JWT key itself.
        #[expect(clippy::expect_used, reason = "HMAC takes keys of any length")]
        let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes keys of any length");
        mac.update(b"tollgate page csrf v1");
        let csrf_key = mac.finalize().into_bytes().to_vec();
        let form_targets = vec!["https://checkout.stripe.com".into(), "https://billing.stripe.com".into()];
        Self { csrf_key, secure, names: CookieNames::new(secure), session_ttl, form_targets }
    }

    /// Also lets forms lead to `origin` (a Stripe emulator's).
    #[must_use]
    pub fn with_form_target(mut self, origin: String) -> Self {
        if !self.form_targets.contains(&origin) {
            self.form_targets.push(origin);
        }
        self
    }

    fn mac(&self, nonce: &str, session: &str) -> HmacSha256 {
        #[expect(clippy::expect_used, reason = "HMAC takes keys of any length")]
        let mut mac = HmacSha256::new_from_slice(&self.csrf_key).expect("HMAC takes keys of any length");
        // Length-prefixed, so no two (nonce, session) pairs make the same input.
        mac.update(&(nonce.len() as u64).to_be_bytes());
        mac.update(nonce.as_bytes());
        mac.update(session.as_bytes());
        mac
    }

    /// The form token for the CSRF cookie value `nonce` and the session cookie value (`""`
    /// when signed out).
    pub fn token(&self, nonce: &str, session: &str) -> String {
        encode(&self.mac(nonce, session).finalize().into_bytes())
    }

    /// Whether `token` (a form field) was made for these cookies, in constant time.
    pub fn verify(&self, nonce: &str, session: &str, token: &str) -> bool {
        let Ok(token) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token) else {
            return false;
        };
        self.mac(nonce, session).verify_slice(&token).is_ok()
    }

    fn cookie<'a>(&self, name: &'a str, value: String, max_age: time::Duration) -> Cookie<'a> {
        Cookie::build(name, value)
            .path("/")
            .http_only(true)
            .same_site(SameSite::Lax)
            .secure(self.secure)
            .max_age(max_age)
            .finish()
    }

    pub fn session_cookie(&self, refresh_token: String) -> Cookie<'static> {
        self.cookie(self.names.session, refresh_token, self.session_ttl)
    }

    /// An expired session cookie (sign-out).
    pub fn cleared_session(&self) -> Cookie<'static> {
        self.cookie(self.names.session, String::new(), time::Duration::ZERO)
    }

    pub fn csrf_cookie(&self, nonce: String) -> Cookie<'static> {
        self.cookie(self.names.csrf, nonce, time::Duration::days(1))
    }

    /// The request's session token, if it carries one.
    pub fn session_of(&self, req: &HttpRequest) -> Option<String> {
        req.cookie(self.names.session).map(|c| c.value().to_owned()).filter(|v| !v.is_empty())
    }

    /// The form token for this request's cookies (`nonce` is its CSRF cookie, or the one about
    /// to be set).
    pub fn token_for(&self, req: &HttpRequest, nonce: &str) -> String {
        self.token(nonce, &self.session_of(req).unwrap_or_default())
    }

    /// Whether `token` is the form token of this request's cookies.
    pub fn verify_for(&self, req: &HttpRequest, token: &str) -> bool {
        self.csrf_nonce(req)
            .is_some_and(|nonce| self.verify(&nonce, &self.session_of(req).unwrap_or_default(), token))
    }

    /// The request's CSRF nonce, if it has one.
    pub fn csrf_nonce(&self, req: &HttpRequest) -> Option<String> {
        req.cookie(self.names.csrf).map(|c| c.value().to_owned()).filter(|v| v.len() >= 32)
    }

    /// The request's CSRF nonce, or a new one to set (`true`).
    pub fn nonce_of(&self, req: &HttpRequest) -> (String, bool) {
        match self.csrf_nonce(req) {
            Some(nonce) => (nonce, false),
            None => (new_nonce(), true),
        }
    }
}

/// 32 random bytes, base64url.
fn new_nonce() -> String {
    let mut bytes = [0u8; 32];
    // getrandom only fails without an OS entropy source; a zero nonce then still verifies only
    // against its own cookie, and the failure is logged.
    if let Err(e) = getrandom::fill(&mut bytes) {
        tracing::error!(error = %e, "no entropy for a CSRF nonce");
    }
    encode(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_verifies_only_against_the_nonce_and_key_it_was_made_with() {
        let keys = PageKeys::new(b"secret-one", false, time::Duration::days(1));
        let token = keys.token("nonce-a", "session-1");
        assert!(keys.verify("nonce-a", "session-1", &token));
        assert!(!keys.verify("nonce-b", "session-1", &token));
        assert!(!keys.verify("nonce-a", "session-2", &token), "bound to the session");
        assert!(!keys.verify("nonce-a", "", &token));
        assert!(!keys.verify("nonce-a", "session-1", "not base64 !"));
        assert!(!keys.verify("nonce-a", "session-1", ""));
        let other = PageKeys::new(b"secret-two", false, time::Duration::days(1));
        assert!(!other.verify("nonce-a", "session-1", &token));
    }

    #[test]
    fn production_cookies_are_secure_and_host_prefixed() {
        let keys = PageKeys::new(b"k", true, time::Duration::days(30));
        let cookie = keys.session_cookie("t".into());
        assert_eq!(cookie.name(), "__Host-tollgate_session");
        assert_eq!(
            (cookie.secure(), cookie.http_only(), cookie.same_site()),
            (Some(true), Some(true), Some(SameSite::Lax))
        );
        assert_eq!(cookie.path(), Some("/"));
        let dev = PageKeys::new(b"k", false, time::Duration::days(30)).session_cookie("t".into());
        assert_eq!((dev.name(), dev.secure()), ("tollgate_session", Some(false)));
    }
}
