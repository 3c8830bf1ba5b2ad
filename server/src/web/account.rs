//! Account pages: sign-up, sign-in and out, and the change of email address.
//! Answers never tell whether an address has an account.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, MatchedPath, Path};
use axum::http::StatusCode;
use axum::response::Response;
use jiff::Timestamp;

use super::error::{blocking, PageError, PageResult};
use super::extract::{client_address, CsrfForm, PublicForm, SignedIn, Visit};
use super::forms::{
    required, signed_in_redirect, valid_email, valid_name, AccountForm, Errors, Input,
};
use super::links::MailedLink;
use super::password::token_problem;
use super::session::{cookie, set_cookie, with_cookie, SESSION_COOKIE};
use super::site::Lang;
use super::state::AppState;
use crate::account_store::{Account, Purpose, TokenProblem};

/// The page after a mailed link was sent (or would have been).
const SENT: (&str, &str) = ("sent_title", "sent_text");

fn signup_page() -> AccountForm {
    AccountForm::new("sign_up", "sign_up_button", "/inscription")
        .intro("sign_up_intro")
        .input(Input::new("last_name", "last_name", "text", "family-name"))
        .input(Input::new("first_name", "first_name", "text", "given-name"))
        .input(Input::new("email", "email", "email", "email"))
        .link("sign_in", "/connexion")
}

fn signin_page() -> AccountForm {
    AccountForm::new("sign_in", "sign_in_button", "/connexion")
        .credentials()
        .link("forgot", "/mot-de-passe-oublie")
        .link("sign_up", "/inscription")
}

fn email_page() -> AccountForm {
    AccountForm::new("change_email", "change_email_button", "/compte/email")
        .intro("change_email_intro")
        .input(Input::new("email", "new_email", "email", "email"))
        .input(Input::new(
            "password",
            "current_password",
            "password",
            "current-password",
        ))
        .link("dashboard", "/tableau-de-bord")
}

/// `GET /inscription`, `GET /connexion`, `GET /mot-de-passe-oublie`: the
/// public account forms, blank.
pub async fn public_form(visit: Visit, path: MatchedPath) -> Result<Response, PageError> {
    let own = path.as_str();
    let form = match own
        .strip_prefix(visit.state.site().prefix.as_str())
        .unwrap_or(own)
    {
        "/inscription" => signup_page(),
        "/connexion" => signin_page(),
        "/mot-de-passe-oublie" => super::password::forgot_page(),
        _ => return Err(PageError::NotFound),
    };
    Ok(form.blank(&visit))
}

/// `POST /inscription`
pub async fn signup(visit: Visit, post: PublicForm) -> PageResult {
    let (state, lang, form) = (&visit.state, visit.lang, &post.form);
    let mut errors = required(form, &["last_name", "first_name", "email"], lang);
    let email = post.email.clone();
    if !email.is_empty() && !valid_email(&email) {
        errors.insert("email", lang.t("email_invalid"));
    }
    for name in ["last_name", "first_name"] {
        if !valid_name(form.trimmed(name)) {
            errors.insert(name, lang.t("name_invalid"));
        }
    }
    if !errors.is_empty() {
        return Ok(signup_page().render(&visit, &form.0, &errors, None));
    }

    let first_name = form.trimmed("first_name").to_owned();
    let last_name = form.trimmed("last_name").to_owned();
    let worker = Arc::clone(state);
    blocking(move || -> Result<(), PageError> {
        let now = Timestamp::now();
        let (account, _created) = worker.accounts.create(
            &first_name,
            &last_name,
            &email,
            (now, worker.links.activation),
        )?;
        // An activated account gets nothing: the answer is the same either way.
        if account.password.is_none() {
            MailedLink::Activation.send(&worker, &account, &account.email, lang)?;
        }
        Ok(())
    })
    .await??;
    Ok(visit.message(StatusCode::OK, SENT, None))
}

/// `POST /connexion`
pub async fn signin(visit: Visit, post: PublicForm) -> PageResult {
    let (email, form) = (post.email.clone(), &post.form);
    let password = form.get("password").unwrap_or_default().to_owned();
    let worker = Arc::clone(&visit.state);
    let checked = blocking(move || -> Option<String> {
        let account = worker.accounts.find_by_email(&email).ok().flatten();
        let hash = account.as_ref().and_then(|a| a.password.as_deref());
        // Without an account (or a password yet), a hash is checked all the
        // same: the answer takes as long, and tells nothing.
        if !crate::passwords::matches(&password, hash) {
            return None;
        }
        let now = Timestamp::now();
        worker.accounts.open_session(&account?.id, now).ok()
    })
    .await?;
    let (page, hand_over) = (signin_page(), signed_in_redirect);
    Ok(sign_in_answer((&visit, &post), page, checked, hand_over))
}

/// The answer to a sign-in form once its password was checked: the session
/// handed to the browser by `hand_over`, or the form again saying the
/// credentials are wrong (without telling which); the throttle is told
/// either way.
pub(super) fn sign_in_answer(
    (visit, post): (&Visit, &PublicForm),
    page: AccountForm,
    session: Option<String>,
    hand_over: fn(&Visit, &str) -> Response,
) -> Response {
    match session {
        Some(session) => {
            post.succeeded(&visit.state);
            hand_over(visit, &session)
        }
        None => {
            post.failed(&visit.state);
            let error = Some(visit.t("wrong_credentials"));
            page.render(visit, &post.form.0, &Errors::new(), error)
        }
    }
}

/// The answer to a sign-out: the session (named by cookie `name`, in
/// `accounts`) closed, its cookie expired, and a link to sign in again.
pub(super) fn sign_out_answer(
    visit: &Visit,
    accounts: &crate::account_store::AccountStore,
    name: &str,
    sign_in: &'static str,
) -> Response {
    if let Some(session) = cookie(&visit.headers, name) {
        let _ = accounts.close_session(&session);
    }
    let words = ("signed_out", "signed_out");
    let response = visit.message(StatusCode::OK, words, Some(("sign_in", sign_in)));
    let expired = set_cookie(visit.state.secure_cookies, name, "", "Lax", Some(0));
    with_cookie(response, Some(expired))
}

/// `POST /deconnexion`
pub async fn signout(visit: Visit, _: CsrfForm) -> Response {
    sign_out_answer(&visit, &visit.state.accounts, SESSION_COOKIE, "/connexion")
}

/// `GET /compte/email`
pub async fn email_form(visit: Visit, _: SignedIn) -> Response {
    email_page().blank(&visit)
}

/// `POST /compte/email`: a link goes to the new address.
pub async fn change_email(
    visit: Visit,
    ConnectInfo(connection): ConnectInfo<SocketAddr>,
    SignedIn(account): SignedIn,
    form: CsrfForm,
) -> Result<Response, PageError> {
    let lang = visit.lang;
    let email = form.trimmed("email").to_lowercase();
    if !valid_email(&email) {
        let errors = Errors::from([("email", lang.t("email_invalid"))]);
        return Ok(email_page().render(&visit, &form.0, &errors, None));
    }
    // A session alone does not move the account elsewhere: its password does.
    let throttle = &visit.state.throttle;
    let attempt = throttle
        .reserve(
            client_address(&visit.state, connection, &visit.headers),
            Some(&account.email),
        )
        .map_err(|_| PageError::Throttled)?;
    let password = form.get("password").unwrap_or_default().to_owned();
    let hash = account.password.clone();
    let right = blocking(move || crate::passwords::matches(&password, hash.as_deref())).await?;
    if !right {
        throttle.failed(&attempt);
        let errors = Errors::from([("password", lang.t("wrong_password"))]);
        return Ok(email_page().render(&visit, &form.0, &errors, None));
    }
    throttle.succeeded(&attempt);
    let worker = Arc::clone(&visit.state);
    blocking(move || -> Result<(), PageError> {
        let link = MailedLink::EmailChange(email.clone());
        link.send(&worker, &account, &email, lang)?;
        Ok(())
    })
    .await??;
    Ok(visit.message(StatusCode::OK, SENT, None))
}

/// The account a mailed link about its address belongs to, and where the
/// link moves the address (the new one, or back to the former one).
fn address_link(state: &AppState, token: &str) -> Result<(Account, Purpose), TokenProblem> {
    let unknown = |_| TokenProblem::Unknown;
    let (id, purpose) = state
        .accounts
        .use_token(token, Timestamp::now())
        .map_err(unknown)??;
    let account = state.accounts.get(&id).map_err(unknown)?;
    Ok((account.ok_or(TokenProblem::Unknown)?, purpose))
}

/// Uses a link about the account's address: whether the address changed
/// (`false`: it is taken), or why the link cannot be used.
///
/// A confirmed change is told to the former address, with a link back. Going
/// back also ends every session of the account and spends every link still
/// out: whoever changed the address may hold them.
fn use_address_link(state: &AppState, token: &str, lang: Lang) -> Result<bool, TokenProblem> {
    let (mut account, purpose) = address_link(state, token)?;
    let (address, back) = match purpose {
        Purpose::EmailChange { new_email } => (new_email, false),
        Purpose::EmailRevert { old_email } => (old_email, true),
        _ => return Err(TokenProblem::Unknown),
    };
    let unknown = |_| TokenProblem::Unknown;
    let former = account.email.clone();
    let changed = state
        .accounts
        .change_email(&mut account, &address)
        .map_err(unknown)?;
    if back {
        state
            .accounts
            .close_sessions_of(&account.id)
            .map_err(unknown)?;
        state.accounts.revoke_links(&account.id).map_err(unknown)?;
    }
    if changed {
        // Mails about the dossier go to the account's address from now on.
        update_dossier_email(state, &account);
    }
    if changed && !back {
        let undo = MailedLink::EmailRevert(former.clone());
        if let Err(error) = undo.send(state, &account, &former, lang) {
            tracing::error!(error = %super::error::chain(&error), "the former address was not told");
        }
    }
    Ok(changed)
}

/// The page after a link about the account's address: `done` (heading and
/// text keys, and a link onwards), the address taken, or the link's problem
/// (with `again`, where to start over).
async fn address_page(
    visit: Visit,
    token: String,
    done: ((&str, &str), (&str, &str)),
    again: &str,
) -> PageResult {
    let (worker, lang) = (Arc::clone(&visit.state), visit.lang);
    let outcome = blocking(move || use_address_link(&worker, &token, lang)).await?;
    Ok(match outcome {
        Ok(true) => visit.message(StatusCode::OK, done.0, Some(done.1)),
        Ok(false) => visit.message(StatusCode::CONFLICT, ("email_taken", "email_taken"), None),
        Err(problem) => token_problem(&visit, problem, again),
    })
}

/// `GET /compte/email/{token}`: the new address is confirmed.
pub async fn confirm_email(visit: Visit, Path(token): Path<String>) -> PageResult {
    let done = (
        ("email_changed", "email_changed"),
        ("dashboard", "/tableau-de-bord"),
    );
    address_page(visit, token, done, "/compte/email").await
}

/// `GET /compte/email/annuler/{token}`: the change of address is undone.
pub async fn revert_email(visit: Visit, Path(token): Path<String>) -> PageResult {
    let done = (
        ("email_reverted", "email_reverted_text"),
        ("forgot", "/mot-de-passe-oublie"),
    );
    address_page(visit, token, done, "/mot-de-passe-oublie").await
}

/// Records the account's address in its dossier of every procedure of the server.
fn update_dossier_email(state: &AppState, account: &Account) {
    let all: Vec<Arc<AppState>> = state
        .all
        .get()
        .map(|all| all.iter().filter_map(std::sync::Weak::upgrade).collect())
        .unwrap_or_default();
    if all.is_empty() {
        update_dossier_email_in(state, account);
    }
    for procedure in all {
        update_dossier_email_in(&procedure, account);
    }
}

/// Records the account's address in its dossier of `state`'s procedure,
/// retrying once on a concurrent change.
fn update_dossier_email_in(state: &AppState, account: &Account) {
    let Some(dossier) = state.dossier_id(account) else {
        return;
    };
    for _ in 0..2 {
        let Ok(Some(current)) = state.engine.dossier(&dossier) else {
            return;
        };
        let mut candidate = current.candidate.clone();
        candidate.email = account.email.clone();
        let command = guichet_engine::Command::UpdateCandidate { candidate };
        match state.run_as_candidate(&account.id, &current, command) {
            Ok(_) => return,
            Err(error) if error.is_conflict() => continue,
            Err(error) => {
                tracing::error!(error = %super::error::chain(&error), "the dossier's email was not updated");
                return;
            }
        }
    }
}
