//! Staff sign-in and out, and the link a new member (or one who forgot)
//! chooses a password with. The same forms, throttle and sessions as the
//! candidates', over the staff's own accounts.

use std::sync::Arc;

use axum::extract::Path;
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use jiff::Timestamp;

use super::super::account::{sign_in_answer, sign_out_answer};
use super::super::error::{blocking, PageError, PageResult};
use super::super::extract::{CsrfForm, PublicForm, Visit};
use super::super::forms::{AccountForm, Input};
use super::super::password::{password_errors, token_problem};
use super::super::session::{cookie, set_cookie, STAFF_SESSION_COOKIE};
use crate::account_store::{Purpose, SESSION_MAX};

fn signin_page() -> AccountForm {
    AccountForm::new("staff_sign_in", "sign_in_button", "/staff/connexion")
        .intro("staff_sign_in_intro")
        .credentials()
}

fn password_page(token: &str) -> AccountForm {
    let action = format!("/staff/mot-de-passe/{token}");
    AccountForm::new("choose_password", "choose_password_button", action)
        .input(
            Input::new("password", "password", "password", "new-password")
                .with_help("password_help"),
        )
        .input(Input::new(
            "password_confirm",
            "password_confirm",
            "password",
            "new-password",
        ))
}

/// `GET /staff/connexion`
pub async fn form(visit: Visit) -> Response {
    signin_page().blank(&visit)
}

/// Hands the browser its staff session (ending the one it had) and goes to
/// the list.
fn signed_in(visit: &Visit, session: &str) -> Response {
    let state = &visit.state;
    if let Some(previous) = cookie(&visit.headers, STAFF_SESSION_COOKIE) {
        let _ = state.staff.accounts.close_session(&previous);
    }
    let mut response = Redirect::to(&visit.href("/staff")).into_response();
    let max_age = Some(SESSION_MAX.as_secs());
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(
            state.secure_cookies,
            STAFF_SESSION_COOKIE,
            session,
            "Lax",
            max_age,
        ),
    );
    response
}

/// `POST /staff/connexion`
pub async fn sign_in(visit: Visit, post: PublicForm) -> PageResult {
    let (email, form) = (post.email.clone(), &post.form);
    let password = form.get("password").unwrap_or_default().to_owned();
    let worker = Arc::clone(&visit.state);
    let session = blocking(move || -> Option<String> {
        let member = worker.staff.find_by_email(&email).ok().flatten();
        let hash = member.as_ref().and_then(|m| m.account.password.as_deref());
        // A disabled member's password is checked all the same: the answer
        // takes as long and says the same.
        let right = crate::passwords::matches(&password, hash);
        // A member of another procedure on this server is unknown here.
        let procedure = worker.procedure.as_deref();
        let member =
            member.filter(|m| right && !m.rights.disabled && m.rights.works_in(procedure))?;
        let now = Timestamp::now();
        worker
            .staff
            .accounts
            .open_session(&member.account.id, now)
            .ok()
    })
    .await?;
    Ok(sign_in_answer(
        (&visit, &post),
        signin_page(),
        session,
        signed_in,
    ))
}

/// `POST /staff/deconnexion`
pub async fn sign_out(visit: Visit, _: CsrfForm) -> Response {
    let accounts = &visit.state.staff.accounts;
    sign_out_answer(&visit, accounts, STAFF_SESSION_COOKIE, "/staff/connexion")
}

/// `GET /staff/mot-de-passe/{token}`
pub async fn password_form(visit: Visit, Path(token): Path<String>) -> PageResult {
    let accounts = &visit.state.staff.accounts;
    Ok(match accounts.check_token(&token, Timestamp::now())? {
        Ok(_) => password_page(&token).blank(&visit),
        Err(problem) => token_problem(&visit, problem, "/staff/connexion"),
    })
}

/// `POST /staff/mot-de-passe/{token}`: chooses the password, then signs in.
pub async fn set_password(visit: Visit, Path(token): Path<String>, form: CsrfForm) -> PageResult {
    let state = Arc::clone(&visit.state);
    let checked = state.staff.accounts.check_token(&token, Timestamp::now())?;
    let member = match checked {
        Ok((id, Purpose::PasswordReset)) => state.staff.member(&id)?,
        Ok(_) => None,
        Err(problem) => return Ok(token_problem(&visit, problem, "/staff/connexion")),
    };
    let Some(mut member) = member.filter(|m| !m.rights.disabled) else {
        let unknown = crate::account_store::TokenProblem::Unknown;
        return Ok(token_problem(&visit, unknown, "/staff/connexion"));
    };
    let errors = password_errors(&form, &member.account, visit.lang);
    if !errors.is_empty() {
        return Ok(password_page(&token).render(&visit, &form.0, &errors, None));
    }
    let password = form.get("password").unwrap_or_default().to_owned();
    let session = blocking(move || -> Result<Option<String>, PageError> {
        let now = Timestamp::now();
        let accounts = &state.staff.accounts;
        if accounts.use_token(&token, now)?.is_err() {
            return Ok(None);
        }
        let hash = crate::passwords::hash(&password)
            .map_err(|error| PageError::Internal(error.to_string().into()))?;
        member.account.password = Some(hash);
        accounts.save(&member.account)?;
        accounts.revoke_links(&member.account.id)?;
        accounts.close_sessions_of(&member.account.id)?;
        Ok(Some(accounts.open_session(&member.account.id, now)?))
    })
    .await??;
    Ok(match session {
        Some(session) => signed_in(&visit, &session),
        None => {
            let used = crate::account_store::TokenProblem::Used;
            token_problem(&visit, used, "/staff/connexion")
        }
    })
}
