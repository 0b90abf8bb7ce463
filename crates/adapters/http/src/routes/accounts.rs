//! Accounts, members and invitations (SPEC §13). The account in the path is resolved like
//! `X-Tollgate-Account`: a non-member (or an unknown account) gets 403 `NOT_A_MEMBER` and learns
//! nothing about it.

use actix_web::{web, HttpResponse};
use tollgate_domain::{AccountId, Email, MemberRole, UserId};
use tollgate_usecases::accounts::{Acting, MemberUpdate};

use crate::dto::{
    AcceptedView, AccountDetail, AccountView, AccountsResponse, CreateAccountRequest, InvitationView,
    InviteRequest, MemberView, MembersResponse, SubscriptionView, UpdateMemberRequest,
};
use crate::extract::Caller;
use crate::problem::{ApiError, FieldError, Problem};
use crate::state::AppState;

/// The account `raw` names, as the caller acts for it (a malformed id is no account of theirs).
async fn acting(state: &AppState, caller: &Caller, raw: &str) -> Result<Acting, ApiError> {
    let account = raw.parse::<AccountId>().map_err(|_| crate::problem::catalog::not_a_member())?;
    Ok(state.services.accounts.acting(caller.0.user_id, Some(account)).await?)
}

fn member_id(raw: &str) -> Result<UserId, ApiError> {
    raw.parse().map_err(|_| ApiError::from(tollgate_usecases::accounts::AccountError::NotFound))
}

/// The caller's accounts and their role in each, the personal one first.
#[utoipa::path(get, path = "/api/v1/accounts", tag = "accounts", security(("bearer" = [])),
    responses((status = 200, body = AccountsResponse), (status = 401, body = Problem)))]
pub async fn list(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    let accounts = state.services.accounts.mine(caller.0.user_id).await?;
    Ok(HttpResponse::Ok()
        .json(AccountsResponse { accounts: accounts.iter().map(AccountView::from).collect() }))
}

/// Make an organisation; the caller is its owner. It starts on the free plan.
#[utoipa::path(post, path = "/api/v1/accounts", tag = "accounts", security(("bearer" = [])),
    request_body = CreateAccountRequest,
    responses((status = 201, body = AccountView), (status = 401, body = Problem),
        (status = 422, body = Problem, description = "A blank, too long or control-character name")))]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<CreateAccountRequest>,
) -> Result<HttpResponse, ApiError> {
    let account = state.services.accounts.create_organisation(caller.0.user_id, &body.name).await?;
    Ok(HttpResponse::Created().json(AccountView::new(&account, MemberRole::Owner)))
}

/// One of the caller's accounts, with its subscription (every member may read it).
#[utoipa::path(get, path = "/api/v1/accounts/{id}", tag = "accounts", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path,)),
    responses((status = 200, body = AccountDetail), (status = 401, body = Problem),
        (status = 403, body = Problem, description = "`NOT_A_MEMBER` (also for an unknown account)")))]
pub async fn get(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let acting = acting(&state, &caller, &id).await?;
    let account = state.services.accounts.account(&acting).await?;
    let sub = state.services.billing.subscription(acting.account).await?;
    Ok(HttpResponse::Ok().json(AccountDetail {
        account: AccountView::new(&account, acting.role),
        subscription: SubscriptionView::new(&sub, state.services.billing.catalog()),
    }))
}

/// The account's members, each with the runs charged to them this period.
#[utoipa::path(get, path = "/api/v1/accounts/{id}/members", tag = "accounts", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path,)),
    responses((status = 200, body = MembersResponse), (status = 401, body = Problem),
        (status = 403, body = Problem, description = "`NOT_A_MEMBER`")))]
pub async fn members(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let acting = acting(&state, &caller, &id).await?;
    let pool = state.services.billing.subscription(acting.account).await?.runs_used();
    let members = state.services.accounts.members(&acting, pool).await?;
    Ok(HttpResponse::Ok().json(MembersResponse { members: members.iter().map(MemberView::from).collect() }))
}

/// Invite someone by email (owners and admins; only owners invite owners): a single-use token,
/// valid for 7 days, accepted by the user signed in with that email.
#[utoipa::path(post, path = "/api/v1/accounts/{id}/invitations", tag = "accounts", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path,)), request_body = InviteRequest,
    responses((status = 201, body = InvitationView), (status = 401, body = Problem),
        (status = 403, body = Problem, description = "`NOT_A_MEMBER`, `ROLE_REQUIRED`"),
        (status = 409, body = Problem, description = "`PERSONAL_ACCOUNT`"),
        (status = 422, body = Problem, description = "An invalid email or role")))]
pub async fn invite(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    body: web::Json<InviteRequest>,
) -> Result<HttpResponse, ApiError> {
    let email =
        Email::parse(&body.email).map_err(|e| ApiError::validation(vec![FieldError::new("email", e)]))?;
    let role = body.role.map_or(MemberRole::Member, MemberRole::from);
    let acting = acting(&state, &caller, &id).await?;
    let issued = state.services.accounts.invite(&acting, email, role).await?;
    Ok(HttpResponse::Created().json(InvitationView::new(&issued)))
}

/// Accept an invitation as the user whose email it names: they join the account in its role.
#[utoipa::path(post, path = "/api/v1/invitations/{token}/accept", tag = "accounts", security(("bearer" = [])),
    params(("token" = String, Path,)),
    responses((status = 200, body = AcceptedView), (status = 401, body = Problem),
        (status = 403, body = Problem, description = "`INVITATION_FOR_ANOTHER_EMAIL`"),
        (status = 404, body = Problem, description = "`INVITATION_NOT_FOUND`"),
        (status = 409, body = Problem, description = "`INVITATION_USED`"),
        (status = 410, body = Problem, description = "`INVITATION_EXPIRED`")))]
pub async fn accept(
    state: web::Data<AppState>,
    caller: Caller,
    token: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (account, role) = state.services.accounts.accept(caller.0.user_id, &token).await?;
    Ok(HttpResponse::Ok().json(AcceptedView { account_id: *account.as_uuid(), role: role.as_str() }))
}

/// Change a member's role or cap (owners and admins; only owners make or unmake owners).
#[utoipa::path(patch, path = "/api/v1/accounts/{id}/members/{user_id}", tag = "accounts", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path,), ("user_id" = uuid::Uuid, Path,)), request_body = UpdateMemberRequest,
    responses((status = 200, body = MemberView), (status = 401, body = Problem),
        (status = 403, body = Problem, description = "`NOT_A_MEMBER`, `ROLE_REQUIRED`"),
        (status = 404, body = Problem, description = "`ACCOUNT_NOT_FOUND`: no such member"),
        (status = 409, body = Problem, description = "`LAST_OWNER`, `PERSONAL_ACCOUNT`"),
        (status = 422, body = Problem, description = "An invalid role or cap")))]
pub async fn update_member(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
    body: web::Json<UpdateMemberRequest>,
) -> Result<HttpResponse, ApiError> {
    let acting = acting(&state, &caller, &path.0).await?;
    let target = member_id(&path.1)?;
    let update = MemberUpdate {
        role: body.role.map(MemberRole::from),
        runs_cap: body.runs_cap.map(|cap| cap.map(tollgate_domain::RunCount::new)),
    };
    if acting.kind == tollgate_domain::AccountKind::Personal {
        return Err(tollgate_usecases::accounts::AccountError::PersonalAccount.into());
    }
    let member = state.services.accounts.update_member(&acting, target, update).await?;
    Ok(HttpResponse::Ok().json(MemberView::from(&member)))
}

/// Remove a member (owners and admins), or leave (any member). The last owner cannot go. Their
/// past use stays in the account's history.
#[utoipa::path(delete, path = "/api/v1/accounts/{id}/members/{user_id}", tag = "accounts", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path,), ("user_id" = uuid::Uuid, Path,)),
    responses((status = 204), (status = 401, body = Problem),
        (status = 403, body = Problem, description = "`NOT_A_MEMBER`, `ROLE_REQUIRED`"),
        (status = 404, body = Problem, description = "`ACCOUNT_NOT_FOUND`: no such member"),
        (status = 409, body = Problem, description = "`LAST_OWNER`, `PERSONAL_ACCOUNT`")))]
pub async fn remove_member(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let acting = acting(&state, &caller, &path.0).await?;
    let target = member_id(&path.1)?;
    state.services.accounts.remove_member(&acting, target).await?;
    Ok(HttpResponse::NoContent().finish())
}
