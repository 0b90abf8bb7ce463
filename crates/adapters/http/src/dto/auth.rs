//! Wire shapes of `/api/v1/auth/*`: registration, login, tokens, the user.

use serde::{Deserialize, Serialize};
use tollgate_domain::User;
use utoipa::ToSchema;
use uuid::Uuid;

use super::wire::rfc3339;

/// Fields are read as optional so that every missing one is listed in the 422; the document says
/// what a valid request is.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RegisterRequest {
    /// Not blank, no control characters.
    #[schema(value_type = String, required = true, min_length = 1, max_length = 100, pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*[^\\s\\u0000-\\u001F\\u007F-\\u009F][^\\u0000-\\u001F\\u007F-\\u009F]*$")]
    pub fullname: Option<String>,
    #[schema(value_type = String, required = true, format = Email, max_length = 254)]
    pub email: Option<String>,
    #[schema(value_type = String, required = true, min_length = 8, max_length = 128)]
    pub password: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginRequest {
    #[schema(value_type = String, required = true)]
    pub email: Option<String>,
    #[schema(value_type = String, required = true)]
    pub password: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RefreshRequest {
    #[schema(value_type = String, required = true)]
    pub refresh_token: Option<String>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct LogoutRequest {
    /// The refresh token whose family to revoke; absent or `null` revokes nothing.
    pub refresh_token: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    pub id: Uuid,
    pub fullname: String,
    pub email: String,
    pub role: String,
    pub created_at: String,
}

impl From<&User> for UserView {
    fn from(u: &User) -> Self {
        Self {
            id: *u.id.as_uuid(),
            fullname: u.fullname.as_str().to_owned(),
            email: u.email.as_str().to_owned(),
            role: u.role.as_str().to_owned(),
            created_at: rfc3339(u.created_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    pub refresh_token: String,
    /// Always `bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuthResponse {
    pub user: UserView,
    #[serde(flatten)]
    pub tokens: TokenResponse,
}
