//! Wire shapes of accounts, members and invitations (SPEC §13).

use serde::{Deserialize, Serialize};
use tollgate_domain::{Account, MemberRole};
use tollgate_ports::{AccountMembership, MemberUse};
use utoipa::ToSchema;
use uuid::Uuid;

use super::billing::SubscriptionView;
use super::wire::rfc3339;

/// An account as one of its members sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountView {
    pub id: Uuid,
    pub name: String,
    /// `personal` or `organisation`.
    #[schema(pattern = "^(personal|organisation)$")]
    pub kind: &'static str,
    /// The caller's role in it: `owner`, `admin` or `member`.
    #[schema(pattern = "^(owner|admin|member)$")]
    pub role: &'static str,
}

impl AccountView {
    pub fn new(account: &Account, role: MemberRole) -> Self {
        Self {
            id: *account.id.as_uuid(),
            name: account.name.as_str().to_owned(),
            kind: account.kind.as_str(),
            role: role.as_str(),
        }
    }
}

impl From<&AccountMembership> for AccountView {
    fn from(m: &AccountMembership) -> Self {
        Self::new(&m.account, m.role)
    }
}

/// `GET /accounts`: the caller's accounts, the personal one first.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountsResponse {
    pub accounts: Vec<AccountView>,
}

/// `GET /accounts/{id}`: the account and its subscription.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountDetail {
    #[serde(flatten)]
    pub account: AccountView,
    pub subscription: SubscriptionView,
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAccountRequest {
    /// 1–100 characters, no control characters (trimmed).
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*[^\\s\\u0000-\\u001F\\u007F-\\u009F][^\\u0000-\\u001F\\u007F-\\u009F]*$"
    )]
    pub name: String,
}

/// A member and their use of the pool this period.
#[derive(Debug, Serialize, ToSchema)]
pub struct MemberView {
    pub user_id: Uuid,
    pub email: String,
    #[schema(pattern = "^(owner|admin|member)$")]
    pub role: &'static str,
    /// At most this many runs per period; `null`: only the pool limits them.
    pub runs_cap: Option<u32>,
    /// Runs charged to them this period.
    pub runs_used: u32,
}

impl From<&MemberUse> for MemberView {
    fn from(m: &MemberUse) -> Self {
        Self {
            user_id: *m.membership.user_id.as_uuid(),
            email: m.email.as_str().to_owned(),
            role: m.membership.role.as_str(),
            runs_cap: m.membership.runs_cap.map(|c| c.get()),
            runs_used: m.runs_used.get(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MembersResponse {
    pub members: Vec<MemberView>,
}

/// A role on the wire.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RoleName {
    Owner,
    Admin,
    Member,
}

impl From<RoleName> for MemberRole {
    fn from(role: RoleName) -> Self {
        match role {
            RoleName::Owner => Self::Owner,
            RoleName::Admin => Self::Admin,
            RoleName::Member => Self::Member,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteRequest {
    /// Who may accept it: the user signed in with this email.
    #[schema(format = Email, max_length = 254)]
    pub email: String,
    /// Default `member`; only owners invite owners.
    pub role: Option<RoleName>,
}

/// A new invitation: its token is shown once, here (send it as a link; e-mail is not sent yet).
#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationView {
    pub id: Uuid,
    pub email: String,
    #[schema(pattern = "^(owner|admin|member)$")]
    pub role: &'static str,
    /// Single use; accepted with `POST /api/v1/invitations/{token}/accept`.
    pub token: String,
    pub expires_at: String,
}

impl InvitationView {
    pub fn new(issued: &tollgate_usecases::accounts::IssuedInvitation) -> Self {
        let i = &issued.invitation;
        Self {
            id: *i.id.as_uuid(),
            email: i.email.as_str().to_owned(),
            role: i.role.as_str(),
            token: issued.token.clone(),
            expires_at: rfc3339(i.expires_at),
        }
    }
}

/// An accepted invitation.
#[derive(Debug, Serialize, ToSchema)]
pub struct AcceptedView {
    pub account_id: Uuid,
    #[schema(pattern = "^(owner|admin|member)$")]
    pub role: &'static str,
}

/// `PATCH …/members/{user_id}`: what to change (an absent field is left as it is; `runs_cap:
/// null` removes the cap). Only a JSON object is one.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(try_from = "serde_json::Map<String, serde_json::Value>")]
pub struct UpdateMemberRequest {
    pub role: Option<RoleName>,
    #[schema(value_type = Option<u32>, minimum = 0, maximum = 1000000000)]
    pub runs_cap: Option<Option<u32>>,
}

impl TryFrom<serde_json::Map<String, serde_json::Value>> for UpdateMemberRequest {
    type Error = String;

    fn try_from(mut object: serde_json::Map<String, serde_json::Value>) -> Result<Self, Self::Error> {
        let role = match object.remove("role") {
            None | Some(serde_json::Value::Null) => None,
            Some(role) => Some(serde_json::from_value::<RoleName>(role).map_err(|e| format!("role: {e}"))?),
        };
        let runs_cap = match object.remove("runs_cap") {
            None => None,
            Some(serde_json::Value::Null) => Some(None),
            Some(cap) => {
                let cap = cap.as_f64().filter(|n| n.fract() == 0.0 && (0.0..=1e9).contains(n));
                Some(Some(cap.ok_or("runs_cap: must be a whole number from 0 to 1000000000")? as u32))
            }
        };
        if let Some(unknown) = object.keys().next() {
            return Err(format!("unknown field `{unknown}`, expected `role` or `runs_cap`"));
        }
        Ok(Self { role, runs_cap })
    }
}
