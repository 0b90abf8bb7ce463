//! `/` and its forms: sign in, sign up, sign out.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use tollgate_domain::{Email, FullName, Password};
use tollgate_usecases::auth::{LoginError, RegisterError, Registration};

use super::form::{
    client, form, page_query, read_form, see_other, signed_in, ActionForm, SignInForm, SignUpForm,
};
use super::render::{message, Page, SignInView};
use crate::state::AppState;

pub(super) async fn home(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let query = page_query(&req);
    match signed_in(&state, &req).await {
        Ok(Some(_)) => return see_other("/account/billing"),
        Ok(None) => {}
        Err(page) => return page,
    }
    let view = SignInView {
        error: query.error.as_deref().and_then(message),
        notice: query.notice.as_deref().and_then(message),
        ..SignInView::default()
    };
    Page::sign_in(&state, &req, actix_web::http::StatusCode::OK, view)
}

pub(super) async fn sign_in(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    let Some(body) = read_form(payload).await else {
        return Page::error(&state, &req, StatusCode::PAYLOAD_TOO_LARGE, "The form was too large.");
    };
    let (form, csrf_ok) = form::<SignInForm>(&state, &req, &body);
    let email = form.email.unwrap_or_default();
    let again = |status, error: &'static str| {
        let view = SignInView { error: Some(error), email: email.clone(), ..SignInView::default() };
        Page::sign_in(&state, &req, status, view)
    };
    if !csrf_ok {
        return again(StatusCode::FORBIDDEN, "The form had expired. Please try again.");
    }
    if let Err(wait) = state.limits.sign_in_attempt(client(&req), Some(&email)) {
        tracing::info!(retry_after = wait, "page sign-in rate limited");
        return again(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many attempts; please wait a minute and try again.",
        );
    }
    let password = form.password.unwrap_or_default();
    let done = state.services.auth.login(&email, &password).await;
    if matches!(done, Ok(_) | Err(LoginError::InvalidCredentials)) {
        state.limits.sign_in_result(client(&req), &email, done.is_ok());
    }
    match done {
        Ok(signed) => Page::start_session(&state, signed.tokens.refresh_token),
        Err(LoginError::InvalidCredentials) => {
            again(StatusCode::UNAUTHORIZED, "The email or the password is wrong.")
        }
        Err(LoginError::Failure(e)) => {
            tracing::warn!(error = ?e, "page sign-in failed");
            Page::unavailable(&state, &req)
        }
    }
}

pub(super) async fn sign_up(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    let Some(body) = read_form(payload).await else {
        return Page::error(&state, &req, StatusCode::PAYLOAD_TOO_LARGE, "The form was too large.");
    };
    let (form, csrf_ok) = form::<SignUpForm>(&state, &req, &body);
    let (email, fullname) = (form.email.unwrap_or_default(), form.fullname.unwrap_or_default());
    let again = |status, error: String| {
        let view = SignInView {
            error_text: Some(error),
            email: email.clone(),
            fullname: fullname.clone(),
            ..SignInView::default()
        };
        Page::sign_in(&state, &req, status, view)
    };
    if !csrf_ok {
        return again(StatusCode::FORBIDDEN, "The form had expired. Please try again.".into());
    }
    if let Err(wait) = state.limits.sign_in_attempt(client(&req), None) {
        tracing::info!(retry_after = wait, "page sign-up rate limited");
        return again(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many attempts; please wait a minute and try again.".into(),
        );
    }
    let mut problems = Vec::new();
    let name = FullName::parse(&fullname).map_err(|e| problems.push(format!("Full name: {e}."))).ok();
    let address = Email::parse(&email).map_err(|e| problems.push(format!("Email: {e}."))).ok();
    let password = Password::parse(form.password.unwrap_or_default())
        .map_err(|e| problems.push(format!("Password: {e}.")))
        .ok();
    let (Some(fullname), Some(email), Some(password)) = (name, address, password) else {
        return again(StatusCode::UNPROCESSABLE_ENTITY, problems.join(" "));
    };
    match state.services.auth.register(Registration { fullname, email, password }).await {
        Ok(signed) => Page::start_session(&state, signed.tokens.refresh_token),
        Err(RegisterError::EmailTaken) => {
            again(StatusCode::CONFLICT, "An account with this email already exists: sign in instead.".into())
        }
        Err(RegisterError::Failure(e)) => {
            tracing::warn!(error = ?e, "page sign-up failed");
            Page::unavailable(&state, &req)
        }
    }
}

pub(super) async fn sign_out(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    let Some(body) = read_form(payload).await else {
        return see_other("/account/billing?error=too_large");
    };
    let (_, csrf_ok) = form::<ActionForm>(&state, &req, &body);
    if !csrf_ok {
        return see_other("/account/billing?error=csrf");
    }
    if let Ok(Some((user, token))) = signed_in(&state, &req).await {
        if let Err(e) = state.services.auth.logout(user.id, Some(&token)).await {
            tracing::warn!(error = ?e, "could not revoke a page session");
            return see_other("/account/billing?error=unavailable");
        }
    }
    let mut res = see_other("/?notice=signed_out");
    let _ = res.add_cookie(&state.config.pages.cleared_session());
    res
}
