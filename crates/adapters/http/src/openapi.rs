//! The OpenAPI 3 document, generated from the handlers' annotations.

use actix_web::HttpResponse;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::routes::{accounts, admin, auth, billing, gate, ops, reservations, sessions, usage};

#[derive(OpenApi)]
#[openapi(
    info(title = "Tollgate", description = "Billing and usage quotas for AI-agent products."),
    paths(
        ops::health, ops::ready, openapi,
        auth::register, auth::login, auth::refresh, auth::logout, auth::me,
        accounts::list, accounts::create, accounts::get, accounts::members, accounts::invite, accounts::accept,
        accounts::update_member, accounts::remove_member,
        billing::plans, billing::subscription, billing::usage, billing::activate_trial, billing::create_checkout_session,
        billing::create_portal_session, billing::webhook, gate::gate,
        sessions::create, sessions::list, sessions::get, sessions::delete,
        usage::check, usage::consume, usage::refund,
        reservations::reserve, reservations::get, reservations::commit, reservations::release,
        admin::users, admin::user, admin::set_plan, admin::grant, admin::account, admin::set_account_plan,
        admin::grant_account, admin::audit,
    ),
    components(schemas(crate::problem::Problem, crate::problem::FieldError, crate::dto::QuotaView,
        crate::dto::StripeEvent, crate::dto::StripeEventData, crate::dto::CheckoutPlan, crate::dto::AdminPlan)),
    modifiers(&Bearer, &OnePayer),
    tags((name = "auth"), (name = "accounts", description = "Personal accounts and organisations that share a pool of runs"), (name = "billing"), (name = "sessions"), (name = "service", description = "Server to server, with a service key"),
        (name = "gate", description = "Forward-auth for nginx, Traefik and Caddy"), (name = "operations"),
        (name = "admin", description = "Support without SQL, for users with the admin role"))
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
        components.add_security_scheme(
            "service_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("tgk_…")
                    .description(Some("A service key from `tollgate key create NAME`"))
                    .build(),
            ),
        );
    }
}

/// What the derives cannot say. The service API's bodies name who pays with `user_id`,
/// `account_id` or both (SPEC §13): at least one ("one of these is required"); and a member
/// update takes no other field.
struct OnePayer;

impl Modify for OnePayer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::schema::{AllOfBuilder, AnyOfBuilder, ObjectBuilder, Schema};
        use utoipa::openapi::RefOr;
        let Some(components) = openapi.components.as_mut() else { return };
        for name in ["UsageCheckRequest", "UsageConsumeRequest", "ReserveRequest"] {
            let Some(body) = components.schemas.remove(name) else { continue };
            let one_of_them = AnyOfBuilder::new()
                .item(ObjectBuilder::new().required("user_id"))
                .item(ObjectBuilder::new().required("account_id"));
            let schema = AllOfBuilder::new().item(body).item(one_of_them).build();
            components.schemas.insert(name.to_owned(), RefOr::T(Schema::AllOf(schema)));
        }
        // A member update is read from a JSON object field by field (`runs_cap: null` is not an
        // absent cap), so the derive does not see that other fields are refused.
        if let Some(RefOr::T(Schema::Object(update))) = components.schemas.get_mut("UpdateMemberRequest") {
            update.additional_properties =
                Some(Box::new(utoipa::openapi::schema::AdditionalProperties::FreeForm(false)));
        }
    }
}

/// Request bodies that may be left out (`required: false`): the handler takes an
/// `OptionalJson`, and a body that is sent must still be valid.
const OPTIONAL_BODIES: &[(&str, &str)] = &[
    ("post", "/api/v1/reservations/{id}/commit"),
    ("post", "/api/v1/auth/logout"),
    ("post", "/api/v1/billing/create-portal-session"),
    ("post", "/api/v1/sessions"),
];

/// The document served at `/api/v1/openapi.json`: what the annotations say, finished by
/// [`finish`] with what holds for every operation.
pub fn document() -> serde_json::Value {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
    finish(&mut doc);
    doc
}

/// This document.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "operations",
    responses((status = 200, description = "OpenAPI 3.1 document", body = Object)))]
pub async fn openapi() -> HttpResponse {
    static DOCUMENT: std::sync::OnceLock<serde_json::Value> = std::sync::OnceLock::new();
    HttpResponse::Ok().json(DOCUMENT.get_or_init(document))
}

/// Rules that hold for every operation, applied once instead of on each annotation:
/// - every error answer is `application/problem+json` (RFC 9457);
/// - an operation with `security` can answer 401; one with a request body 400, 413, 415 and
///   422; one with query parameters 422 — each a problem;
/// - the bodies in [`OPTIONAL_BODIES`] are not required.
fn finish(doc: &mut serde_json::Value) {
    // The gate answers every method a proxy asks with; one annotation documents them all.
    if let Some(gate) = doc["paths"]["/api/v1/gate"]["get"].as_object().cloned() {
        for method in ["post", "put", "patch", "delete"] {
            let mut op = gate.clone();
            op.insert("operationId".into(), format!("gate_{method}").into());
            doc["paths"]["/api/v1/gate"][method] = op.into();
        }
    }
    let problem = serde_json::json!({
        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    });
    let Some(paths) = doc.get_mut("paths").and_then(|p| p.as_object_mut()) else { return };
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else { continue };
        for (method, op) in item.iter_mut() {
            let Some(op) = op.as_object_mut() else { continue };
            let secured = op.get("security").is_some_and(|s| s.as_array().is_some_and(|a| !a.is_empty()));
            let has_body = op.contains_key("requestBody");
            let has_query = op
                .get("parameters")
                .and_then(|p| p.as_array())
                .is_some_and(|ps| ps.iter().any(|p| p["in"] == "query"));
            if has_body && OPTIONAL_BODIES.contains(&(method.as_str(), path.as_str())) {
                op["requestBody"]["required"] = false.into();
            }
            let Some(responses) = op.get_mut("responses").and_then(|r| r.as_object_mut()) else { continue };
            let mut add = |status: &str, description: &str| {
                let entry = responses.entry(status).or_insert_with(|| problem.clone());
                if entry.get("description").is_none() {
                    entry["description"] = description.into();
                }
            };
            if secured {
                add("401", "No valid bearer access token (`UNAUTHENTICATED`)");
            }
            if has_body {
                add("400", "The body is not JSON (`MALFORMED_REQUEST`)");
                add("413", "The body is too large (`PAYLOAD_TOO_LARGE`)");
                add("415", "The body is not `application/json` (`UNSUPPORTED_MEDIA_TYPE`)");
                add("422", "Invalid fields, listed in `errors` (`VALIDATION_FAILED`)");
            }
            if has_query {
                add("422", "Invalid query parameters (`VALIDATION_FAILED`)");
            }
            for response in responses.values_mut() {
                let Some(content) = response.get_mut("content").and_then(|c| c.as_object_mut()) else {
                    continue;
                };
                let is_problem = content
                    .get("application/json")
                    .is_some_and(|c| c["schema"]["$ref"] == "#/components/schemas/Problem");
                if is_problem {
                    if let Some(json) = content.remove("application/json") {
                        content.insert("application/problem+json".to_owned(), json);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_registered_route_is_in_the_openapi_document() {
        let doc = document();
        for (method, path) in crate::routes::ROUTES {
            let operation = &doc["paths"][*path][*method];
            assert!(operation.is_object(), "{method} {path} is registered but not documented");
        }
    }

    #[test]
    fn every_documented_operation_is_registered() {
        let doc = document();
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

#[cfg(test)]
mod rules {
    use super::document;

    fn operations() -> Vec<(String, String, serde_json::Value)> {
        let doc = document();
        let mut all = Vec::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for (method, op) in item.as_object().expect("operations") {
                all.push((method.clone(), path.clone(), op.clone()));
            }
        }
        all
    }

    #[test]
    fn every_error_answer_is_documented_as_problem_json() {
        for (method, path, op) in operations() {
            for (status, response) in op["responses"].as_object().expect("responses") {
                if status.starts_with('4') || (status.starts_with('5') && path != "/ready") {
                    let content = response["content"].as_object().expect("content");
                    assert!(
                        content.contains_key("application/problem+json") && content.len() == 1,
                        "{method} {path} {status}: {content:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn secured_operations_document_401_and_bodies_document_their_refusals() {
        for (method, path, op) in operations() {
            let responses = op["responses"].as_object().expect("responses");
            if op.get("security").is_some() {
                assert!(responses.contains_key("401"), "{method} {path}");
            }
            if op.get("requestBody").is_some() {
                for status in ["400", "413", "415", "422"] {
                    assert!(responses.contains_key(status), "{method} {path} {status}");
                }
            }
        }
    }

    #[test]
    fn query_parameters_are_in_the_query_and_optional_bodies_are_not_required() {
        for (method, path, op) in operations() {
            for param in op["parameters"].as_array().into_iter().flatten() {
                let name = param["name"].as_str().expect("name");
                let place = param["in"].as_str().expect("in");
                let expected = if path.contains(&format!("{{{name}}}")) {
                    "path"
                } else if name.chars().next().is_some_and(char::is_uppercase) {
                    "header"
                } else {
                    "query"
                };
                assert_eq!(place, expected, "{method} {path} {name}");
            }
        }
        let doc = document();
        for (method, path) in super::OPTIONAL_BODIES {
            assert_eq!(doc["paths"][*path][*method]["requestBody"]["required"], false, "{method} {path}");
        }
        assert_eq!(doc["paths"]["/api/v1/auth/register"]["post"]["requestBody"]["required"], true);
    }

    #[test]
    fn request_schemas_say_what_is_required_and_how_long() {
        let doc = document();
        let schema = |name: &str| doc["components"]["schemas"][name].clone();
        let register = schema("RegisterRequest");
        assert_eq!(register["required"], serde_json::json!(["fullname", "email", "password"]));
        assert_eq!(register["properties"]["password"]["minLength"], 8);
        assert_eq!(register["properties"]["email"]["format"], "email");
        assert_eq!(schema("CheckoutPlan")["enum"], serde_json::json!(["basic", "pro"]));
        assert_eq!(schema("CreateSessionRequest")["properties"]["title"]["maxLength"], 200);
        assert!(schema("Problem")["properties"]["subscription"].to_string().contains("QuotaView"));
        let webhook = &doc["paths"]["/api/v1/billing/webhook"]["post"];
        assert!(webhook["requestBody"]["content"]["application/json"].is_object());
        let signature = webhook["parameters"].as_array().expect("parameters");
        assert!(signature.iter().any(|p| p["name"] == "Stripe-Signature" && p["required"] == true));
    }
}
