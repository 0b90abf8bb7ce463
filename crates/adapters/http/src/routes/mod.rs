//! Route handlers, one module per resource, and the one table that mounts them.

pub mod accounts;
pub mod admin;
pub mod auth;
pub mod billing;
pub mod gate;
pub mod ops;
pub mod reservations;
pub mod sessions;
pub mod usage;

use actix_web::http::Method;
use actix_web::middleware::from_fn;
use actix_web::{web, Route};

use crate::metering::{self, PaidWhen};
use crate::problem::ApiError;

/// Declares every route once: `configure` mounts them, each with who pays when the route table
/// meters it, and `ROUTES` lists them (the OpenAPI test checks that each one is documented).
/// A line ending in `, with_resource` is a handler that consumes in the same transaction as what
/// it creates (it takes a `metering::RouteBill`); every other route is charged upfront (`metering::charge_upfront`).
macro_rules! routes {
    ($($method:ident $path:literal => $handler:path $(, $with:ident)?;)*) => {
        /// Every registered `(method, path)`, paths in OpenAPI form.
        pub const ROUTES: &[(&str, &str)] = &[$((stringify!($method), $path)),*];

        /// Mounts every route, grouped by path into one resource each (so a wrong method gets 405
        /// with `Allow`), with the upfront charge on the route itself.
        pub fn configure(cfg: &mut web::ServiceConfig) {
            let routes: Vec<(&str, Method, PaidWhen, Route)> = vec![$(
                (
                    $path,
                    Method::from_bytes(stringify!($method).to_ascii_uppercase().as_bytes()).expect("an HTTP method"),
                    paid_when(&[$(stringify!($with))?]),
                    web::method(Method::from_bytes(stringify!($method).to_ascii_uppercase().as_bytes()).expect("an HTTP method")).to($handler),
                ),
            )*];
            mount(cfg, routes);
        }
    };
}

fn paid_when(modifiers: &[&str]) -> PaidWhen {
    if modifiers.contains(&"with_resource") {
        PaidWhen::WithResource
    } else {
        PaidWhen::Upfront
    }
}

fn mount(cfg: &mut web::ServiceConfig, routes: Vec<(&'static str, Method, PaidWhen, Route)>) {
    let mut paths: Vec<&'static str> = Vec::new();
    for (path, ..) in &routes {
        if !paths.contains(path) {
            paths.push(path);
        }
    }
    let mut routes = routes;
    for path in paths {
        let (here, rest): (Vec<_>, Vec<_>) = routes.into_iter().partition(|r| r.0 == path);
        routes = rest;
        let allow = here.iter().map(|r| r.1.as_str()).collect::<Vec<_>>().join(", ");
        let mut resource = web::resource(path);
        for (_, _, payment, route) in here {
            resource = resource.route(match payment {
                PaidWhen::Upfront => route.wrap(from_fn(metering::charge_upfront)),
                PaidWhen::WithResource => route,
            });
        }
        cfg.service(resource.default_service(web::to(move || {
            let allow = allow.clone();
            async move { Err::<actix_web::HttpResponse, _>(ApiError::method_not_allowed(&allow)) }
        })));
    }
}

routes! {
    get "/health" => ops::health;
    get "/ready" => ops::ready;
    get "/api/v1/openapi.json" => crate::openapi::openapi;
    post "/api/v1/auth/register" => auth::register;
    post "/api/v1/auth/login" => auth::login;
    post "/api/v1/auth/refresh" => auth::refresh;
    post "/api/v1/auth/logout" => auth::logout;
    get "/api/v1/auth/me" => auth::me;
    get "/api/v1/accounts" => accounts::list;
    post "/api/v1/accounts" => accounts::create;
    get "/api/v1/accounts/{id}" => accounts::get;
    get "/api/v1/accounts/{id}/members" => accounts::members;
    post "/api/v1/accounts/{id}/invitations" => accounts::invite;
    patch "/api/v1/accounts/{id}/members/{user_id}" => accounts::update_member;
    delete "/api/v1/accounts/{id}/members/{user_id}" => accounts::remove_member;
    post "/api/v1/invitations/{token}/accept" => accounts::accept;
    get "/api/v1/billing/plans" => billing::plans;
    get "/api/v1/billing/subscription" => billing::subscription;
    get "/api/v1/billing/usage" => billing::usage;
    post "/api/v1/billing/activate-trial" => billing::activate_trial;
    post "/api/v1/billing/create-checkout-session" => billing::create_checkout_session;
    post "/api/v1/billing/create-portal-session" => billing::create_portal_session;
    post "/api/v1/billing/webhook" => billing::webhook;
    // Proxies ask the gate with the original request's method.
    get "/api/v1/gate" => gate::gate;
    post "/api/v1/gate" => gate::gate;
    put "/api/v1/gate" => gate::gate;
    patch "/api/v1/gate" => gate::gate;
    delete "/api/v1/gate" => gate::gate;
    post "/api/v1/sessions" => sessions::create, with_resource;
    get "/api/v1/sessions" => sessions::list;
    get "/api/v1/sessions/{id}" => sessions::get;
    delete "/api/v1/sessions/{id}" => sessions::delete;
    post "/api/v1/usage/check" => usage::check;
    post "/api/v1/usage/consume" => usage::consume;
    post "/api/v1/usage/refund" => usage::refund;
    post "/api/v1/reservations" => reservations::reserve;
    get "/api/v1/reservations/{id}" => reservations::get;
    post "/api/v1/reservations/{id}/commit" => reservations::commit;
    post "/api/v1/reservations/{id}/release" => reservations::release;
    get "/api/v1/admin/users" => admin::users;
    get "/api/v1/admin/users/{id}" => admin::user;
    post "/api/v1/admin/users/{id}/plan" => admin::set_plan;
    post "/api/v1/admin/users/{id}/grant" => admin::grant;
    get "/api/v1/admin/accounts/{id}" => admin::account;
    post "/api/v1/admin/accounts/{id}/plan" => admin::set_account_plan;
    post "/api/v1/admin/accounts/{id}/grant" => admin::grant_account;
    get "/api/v1/admin/audit" => admin::audit;
}
