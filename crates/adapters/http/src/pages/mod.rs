//! The billing pages (SPEC §9), server-rendered by the same binary: `/` (sign in, sign up) and
//! `/account/billing` (plan, usage meter, 30-day chart, trial, upgrade, portal, sign out).
//!
//! Every page works without JavaScript; every form carries a CSRF token; errors are messages on
//! the page (never JSON). Actions are POST → 303 (post/redirect/get); a failed action comes back
//! as `?error=<code>`, shown from a fixed table (nothing from the URL is echoed).
//!
//! From the bottom: `session` (cookies, CSRF) and `chart`; `render` (the views, and the messages
//! a code stands for); `form` (reading a page request: its form, its query, its signed-in user);
//! `sign_in` and `billing` (the handlers); this module mounts them.

mod billing;
pub mod chart;
mod form;
mod render;
pub mod session;
mod sign_in;

use actix_web::http::{header, Method, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};

use crate::state::AppState;
use billing::{billing, checkout, portal, trial};
use render::Page;
use sign_in::{home, sign_in, sign_out, sign_up};

/// Mounts the pages and their stylesheet. Each page answers `HEAD` like `GET`, another method
/// with a 405 page (and `Allow`), and an unknown path under `/account/` or `/assets/` with a 404
/// page: a browser never gets JSON from here.
pub fn configure(cfg: &mut web::ServiceConfig) {
    fn page<F, Args>(cfg: &mut web::ServiceConfig, path: &'static str, method: Method, handler: F)
    where
        F: actix_web::Handler<Args>,
        Args: actix_web::FromRequest + 'static,
        F::Output: actix_web::Responder + 'static,
    {
        let allow = if method == Method::GET { "GET, HEAD" } else { "POST" };
        let mut resource = web::resource(path).route(web::method(method.clone()).to(handler.clone()));
        if method == Method::GET {
            resource = resource.route(web::head().to(handler));
        }
        cfg.service(resource.default_service(web::to(
            move |state: web::Data<AppState>, req: HttpRequest| async move {
                let mut res = Page::error(
                    &state,
                    &req,
                    StatusCode::METHOD_NOT_ALLOWED,
                    "This page does not answer that method.",
                );
                res.headers_mut().insert(header::ALLOW, header::HeaderValue::from_static(allow));
                res
            },
        )));
    }
    page(cfg, "/", Method::GET, home);
    page(cfg, "/signin", Method::POST, sign_in);
    page(cfg, "/signup", Method::POST, sign_up);
    page(cfg, "/signout", Method::POST, sign_out);
    page(cfg, "/account/billing", Method::GET, billing);
    page(cfg, "/account/billing/trial", Method::POST, trial);
    page(cfg, "/account/billing/checkout", Method::POST, checkout);
    page(cfg, "/account/billing/portal", Method::POST, portal);
    page(cfg, "/assets/tollgate.css", Method::GET, stylesheet);
    for prefix in ["/account/{rest:.*}", "/assets/{rest:.*}"] {
        cfg.route(
            prefix,
            web::to(|state: web::Data<AppState>, req: HttpRequest| async move {
                Page::error(&state, &req, StatusCode::NOT_FOUND, "There is no such page.")
            }),
        );
    }
}

const STYLESHEET: &str = include_str!("../../assets/tollgate.css");

async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(STYLESHEET)
}

#[cfg(test)]
mod tests {
    use super::STYLESHEET;

    /// `--name: #rrggbb` from the stylesheet's `:root`.
    fn colour(name: &str) -> [f64; 3] {
        let at = STYLESHEET.find(&format!("--{name}:")).unwrap_or_else(|| panic!("--{name} is defined"));
        let hex = STYLESHEET[at..].split('#').nth(1).expect("a hex colour");
        let channel = |i: usize| f64::from(u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"));
        [channel(0), channel(2), channel(4)]
    }

    /// WCAG 2.x relative luminance and contrast ratio.
    fn contrast(a: [f64; 3], b: [f64; 3]) -> f64 {
        let luminance = |c: [f64; 3]| {
            let lin = |v: f64| {
                let s = v / 255.0;
                if s <= 0.03928 {
                    s / 12.92
                } else {
                    ((s + 0.055) / 1.055).powf(2.4)
                }
            };
            0.2126 * lin(c[0]) + 0.7152 * lin(c[1]) + 0.0722 * lin(c[2])
        };
        let (x, y) = (luminance(a), luminance(b));
        (x.max(y) + 0.05) / (x.min(y) + 0.05)
    }

    #[test]
    fn every_text_colour_meets_wcag_aa_on_its_background() {
        for (text, background) in [
            ("ink", "bg"),
            ("ink", "card"),
            ("muted", "card"),
            ("muted", "bg"),
            ("accent", "card"),
            ("accent-ink", "accent"),
            ("error", "error-bg"),
            ("notice", "notice-bg"),
            ("warn", "warn-bg"),
        ] {
            let ratio = contrast(colour(text), colour(background));
            assert!(ratio >= 4.5, "--{text} on --{background}: {ratio:.2} < 4.5");
        }
    }
}
