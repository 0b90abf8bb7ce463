//! Reading a page request: its form (bounded, CSRF-checked), its query, its signed-in user and
//! the origin it was reached at; and the 303 every action answers with.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use tollgate_domain::User;

use super::render::{Page, PageQuery};
use crate::state::AppState;

/// Form bodies larger than this are refused with a page (413).
pub(super) const MAX_FORM_BYTES: usize = 16 * 1024;

/// The form body, or `None` past [`MAX_FORM_BYTES`] (or when it could not be read).
pub(super) async fn read_form(mut payload: web::Payload) -> Option<web::BytesMut> {
    use futures_util::StreamExt;
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.ok()?;
        if body.len() + chunk.len() > MAX_FORM_BYTES {
            return None;
        }
        body.extend_from_slice(&chunk);
    }
    Some(body)
}

/// The page's query, leniently: anything malformed (a repeated parameter, bad encoding) reads
/// as no query rather than an error.
pub(super) fn page_query(req: &HttpRequest) -> PageQuery {
    serde_urlencoded::from_str(req.query_string()).unwrap_or_default()
}

pub(super) fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther().insert_header((header::LOCATION, location)).finish()
}

/// The origin people reach these pages at, for Stripe's return URLs (checked against
/// `TOLLGATE_ALLOWED_REDIRECT_ORIGINS` by the billing use case like any other).
pub(super) fn page_origin(req: &HttpRequest, state: &AppState) -> String {
    // A client's own `X-Forwarded-Host` is believed only from a trusted proxy.
    let seen = crate::forwarded::forwarding(req, &state.config.trusted_proxies);
    let scheme = if state.config.pages.secure { "https" } else { seen.proto.as_str() };
    format!("{scheme}://{}", seen.host)
}

pub(super) fn client(req: &HttpRequest) -> Option<std::net::IpAddr> {
    req.peer_addr().map(|a| a.ip())
}

/// The signed-in user of a page request, if its session cookie is current.
pub(super) async fn signed_in(
    state: &AppState,
    req: &HttpRequest,
) -> Result<Option<(User, String)>, HttpResponse> {
    let Some(token) = state.config.pages.session_of(req) else {
        return Ok(None);
    };
    match state.services.auth.session(&token).await {
        Ok(user) => Ok(user.map(|u| (u, token))),
        Err(e) => {
            tracing::warn!(error = ?e, "could not read a page session");
            Err(Page::unavailable(state, req))
        }
    }
}

/// A form, parsed leniently (missing fields are empty), and whether its CSRF token is valid.
pub(super) fn form<T>(state: &AppState, req: &HttpRequest, body: &[u8]) -> (T, bool)
where
    T: for<'de> Deserialize<'de> + Default + HasCsrf,
{
    let parsed: T = serde_urlencoded::from_bytes(body).unwrap_or_default();
    let valid = parsed.csrf().is_some_and(|token| state.config.pages.verify_for(req, token));
    (parsed, valid)
}

pub(super) trait HasCsrf {
    fn csrf(&self) -> Option<&str>;
}

macro_rules! form_struct {
    ($name:ident { $($field:ident),* }) => {
        #[derive(Debug, Default, Deserialize)]
        pub(super) struct $name {
            csrf: Option<String>,
            $(pub(super) $field: Option<String>,)*
        }
        impl HasCsrf for $name {
            fn csrf(&self) -> Option<&str> {
                self.csrf.as_deref()
            }
        }
    };
}

form_struct!(SignInForm { email, password });
form_struct!(SignUpForm { fullname, email, password });
form_struct!(ActionForm { plan });

/// An action's common start: a valid CSRF token and a signed-in user, else where to go.
pub(super) async fn action<T: for<'de> Deserialize<'de> + Default + HasCsrf>(
    state: &AppState,
    req: &HttpRequest,
    body: &[u8],
) -> Result<(User, T), HttpResponse> {
    let (form, csrf_ok) = form::<T>(state, req, body);
    let user = match signed_in(state, req).await? {
        Some((user, _)) => user,
        None => return Err(see_other("/")),
    };
    if !csrf_ok {
        return Err(see_other("/account/billing?error=csrf"));
    }
    Ok((user, form))
}
