//! Route handlers, one module per resource, and the one table that mounts them.

pub mod auth;
pub mod billing;
pub mod ops;
pub mod sessions;

use actix_web::web;

/// Declares every route once: `configure` mounts them and `ROUTES` lists them (the OpenAPI test
/// checks that each one is documented).
macro_rules! routes {
    ($($method:ident $path:literal => $handler:path),* $(,)?) => {
        /// Every registered `(method, path)`, paths in OpenAPI form.
        pub const ROUTES: &[(&str, &str)] = &[$((stringify!($method), $path)),*];

        /// Mounts every route.
        pub fn configure(cfg: &mut web::ServiceConfig) {
            $(cfg.route(&actix_path($path), web::$method().to($handler));)*
        }
    };
}

/// `{id}` is the same in OpenAPI and actix; kept as a seam should they differ.
fn actix_path(path: &str) -> String {
    path.to_owned()
}

routes! {
    get "/health" => ops::health,
    get "/ready" => ops::ready,
    get "/api/v1/openapi.json" => ops::openapi,
    post "/api/v1/auth/register" => auth::register,
    post "/api/v1/auth/login" => auth::login,
    post "/api/v1/auth/refresh" => auth::refresh,
    post "/api/v1/auth/logout" => auth::logout,
    get "/api/v1/auth/me" => auth::me,
    get "/api/v1/billing/plans" => billing::plans,
    get "/api/v1/billing/subscription" => billing::subscription,
    post "/api/v1/billing/activate-trial" => billing::activate_trial,
    post "/api/v1/billing/create-checkout-session" => billing::create_checkout_session,
    post "/api/v1/billing/create-portal-session" => billing::create_portal_session,
    post "/api/v1/billing/webhook" => billing::webhook,
    post "/api/v1/sessions" => sessions::create,
    get "/api/v1/sessions" => sessions::list,
    get "/api/v1/sessions/{id}" => sessions::get,
    delete "/api/v1/sessions/{id}" => sessions::delete,
}
