//! Wire shapes of `/api/v1/sessions`: metered agent sessions and their pages.

use serde::{Deserialize, Serialize};
use tollgate_ports::Session;
use utoipa::ToSchema;
use uuid::Uuid;

use super::wire::rfc3339;

#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
pub struct CreateSessionRequest {
    /// Trimmed; blank or `null` means none.
    #[schema(max_length = 200, pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$")]
    pub title: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionView {
    pub id: Uuid,
    pub title: Option<String>,
    pub created_at: String,
}

impl From<&Session> for SessionView {
    fn from(s: &Session) -> Self {
        Self { id: *s.id.as_uuid(), title: s.title.clone(), created_at: rfc3339(s.created_at) }
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// 1–100, default 20.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// Default 0.
    #[param(minimum = 0, maximum = 4294967295u32)]
    pub offset: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionPage {
    pub items: Vec<SessionView>,
    pub total: u64,
    pub limit: u32,
    pub offset: u32,
}
