//! The OpenAPI 3 document, generated from the handlers' annotations.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::routes::{auth, billing, ops, sessions};

#[derive(OpenApi)]
#[openapi(
    info(title = "Tollgate", description = "Billing and usage quotas for AI-agent products."),
    paths(
        ops::health, ops::ready, ops::openapi,
        auth::register, auth::login, auth::refresh, auth::logout, auth::me,
        billing::plans, billing::subscription, billing::activate_trial, billing::create_checkout_session,
        billing::create_portal_session, billing::webhook,
        sessions::create, sessions::list, sessions::get, sessions::delete,
    ),
    components(schemas(crate::problem::Problem, crate::problem::FieldError, crate::dto::QuotaView)),
    modifiers(&Bearer),
    tags((name = "auth"), (name = "billing"), (name = "sessions"), (name = "operations"))
)]
struct ApiDoc;

struct Bearer;

impl Modify for Bearer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build(),
            ),
        );
    }
}

/// The document served at `/api/v1/openapi.json`.
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_registered_route_is_in_the_openapi_document() {
        let doc = serde_json::to_value(document()).expect("serialisable");
        for (method, path) in crate::routes::ROUTES {
            let operation = &doc["paths"][*path][*method];
            assert!(operation.is_object(), "{method} {path} is registered but not documented");
        }
    }

    #[test]
    fn every_documented_operation_is_registered() {
        let doc = serde_json::to_value(document()).expect("serialisable");
        let paths = doc["paths"].as_object().expect("paths");
        for (path, item) in paths {
            for method in item.as_object().expect("operations").keys() {
                assert!(
                    crate::routes::ROUTES.contains(&(method.as_str(), path.as_str())),
                    "{method} {path} is documented but not registered"
                );
            }
        }
    }
}
