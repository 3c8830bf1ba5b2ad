//! Account pages: sign-up, sign-in and out, and the change of email address.
//! Answers never tell whether an address has an account.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use jiff::Timestamp;
use serde_json::json;

use super::error::{blocking, PageError};
use super::extract::{CsrfForm, Lang, SignedIn};
use super::forms::{message, required, valid_email, AccountForm, Errors, Input};
use super::password::token_problem;
use super::session::{cookie, set_cookie, with_cookie, SESSION_COOKIE};
use super::AppState;
use crate::account_store::{Account, Purpose, TokenProblem, SESSION_MAX};

/// The page after a mailed link was sent (or would have been).
const SENT: (&str, &str) = ("sent_title", "sent_text");

/// What every public form post goes through once its CSRF token is checked:
/// the throttle on the client's address (and on the account it names, if
/// any). Gives the throttle keys to charge a failure to.
pub fn admit(
    state: &AppState,
    address: &SocketAddr,
    account: Option<&str>,
) -> Result<Vec<String>, PageError> {
    let mut keys = vec![format!("ip:{}", address.ip())];
    if let Some(email) = account {
        keys.push(format!("account:{email}"));
    }
    if state.throttle.recent(&keys) {
        return Err(PageError::Throttled);
    }
    Ok(keys)
}

/// A link of a mail, to `path/token` on this server.
pub fn mailed_link(state: &AppState, path: &str, token: &str) -> String {
    format!("{}/{path}/{token}", state.base_url.trim_end_matches('/'))
}

/// An account mail of the definition.
pub struct AccountMail<'a> {
    /// Which one: `activation`, `activated`, `password_reset`, `email_change`.
    pub kind: &'static str,
    /// The account it is about.
    pub account: &'a Account,
    /// Where it goes.
    pub to: &'a str,
    /// The link it carries.
    pub link: &'a str,
    /// When the link stops working.
    pub expires_at: Timestamp,
}

/// Queues an account mail, if the definition has one of its kind.
pub fn send_account_mail(state: &AppState, mail: &AccountMail<'_>, lang: Lang) {
    let mails = &state.engine.definition().file().accounts.mails;
    let template = match mail.kind {
        "activation" => &mails.activation,
        "activated" => &mails.activated,
        "password_reset" => &mails.password_reset,
        _ => &mails.email_change,
    };
    let Some(template) = template else {
        tracing::warn!(
            kind = mail.kind,
            "the definition declares no mail for this account event"
        );
        return;
    };
    let expires = mail
        .expires_at
        .to_zoned(state.engine.definition().timezone().clone())
        .strftime("%Y-%m-%d %H:%M")
        .to_string();
    let account = mail.account;
    let context = json!({
        "account": {"first_name": account.first_name, "last_name": account.last_name, "email": mail.to, "identifier": account.email},
        "link": mail.link,
        "expires_at": expires,
    });
    match state.engine.queue_account_mail(
        template,
        mail.to,
        lang.code(),
        &context,
        Timestamp::now(),
    ) {
        Ok(_) => {
            if state.log_links {
                // Without SMTP, the person running the server needs the link.
                tracing::info!(
                    kind = mail.kind,
                    to = mail.to,
                    link = mail.link,
                    "account link"
                );
            }
            state.mail_wake.notify_one();
        }
        Err(error) => {
            tracing::error!(error = %super::error::chain(&error), kind = mail.kind, "account mail not queued")
        }
    }
}

fn signup_page() -> AccountForm {
    AccountForm {
        heading: "sign_up",
        intro: Some("sign_up_intro"),
        action: "/inscription".into(),
        submit: "sign_up_button",
        inputs: vec![
            Input::new("last_name", "last_name", "text", "family-name"),
            Input::new("first_name", "first_name", "text", "given-name"),
            Input::new("email", "email", "email", "email"),
        ],
        links: vec![("sign_in", "/connexion")],
    }
}

/// `GET /inscription`
pub async fn signup_form(
    State(state): State<Arc<AppState>>,
    lang: Lang,
    headers: HeaderMap,
) -> Response {
    signup_page().blank(&state, &headers, lang)
}

/// `POST /inscription`
pub async fn signup(
    State(state): State<Arc<AppState>>,
    lang: Lang,
    ConnectInfo(address): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    form: CsrfForm,
) -> Result<Response, PageError> {
    let keys = admit(&state, &address, None)?;
    let mut errors = required(&form, &["last_name", "first_name", "email"], lang);
    let email = form.trimmed("email").to_lowercase();
    if !email.is_empty() && !valid_email(&email) {
        errors.insert("email", lang.t("email_invalid"));
    }
    if !errors.is_empty() {
        return Ok(signup_page().render(&state, &headers, lang, Some(&form), &errors, None));
    }
    state.throttle.fail(&keys); // every sign-up counts against the address
    let first_name = form.trimmed("first_name").to_owned();
    let last_name = form.trimmed("last_name").to_owned();
    let worker = Arc::clone(&state);
    blocking(move || -> Result<(), PageError> {
        let now = Timestamp::now();
        let (account, _created) = worker
            .accounts
            .create(&first_name, &last_name, &email, now)?;
        // An activated account gets nothing: the answer is the same either way.
        if account.password.is_none() {
            let (token, expires_at) = worker.accounts.issue_token(
                Purpose::Activation,
                &account.id,
                worker.links.activation,
                now,
            )?;
            let link = mailed_link(&worker, "activation", &token);
            let mail = AccountMail {
                kind: "activation",
                account: &account,
                to: &account.email,
                link: &link,
                expires_at,
            };
            send_account_mail(&worker, &mail, lang);
        }
        Ok(())
    })
    .await??;
    Ok(message(&state, lang, StatusCode::OK, SENT, None))
}

/// Ends any previous session of this browser and hands it the new one.
pub fn signed_in_redirect(
    state: &AppState,
    headers: &HeaderMap,
    session: &str,
    lang: Lang,
) -> Response {
    if let Some(previous) = cookie(headers, SESSION_COOKIE) {
        let _ = state.accounts.close_session(&previous);
    }
    let mut response = Redirect::to(&lang.href("/tableau-de-bord")).into_response();
    let max_age = SESSION_MAX.as_secs();
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(
            state.secure_cookies,
            SESSION_COOKIE,
            session,
            "Lax",
            Some(max_age),
        ),
    );
    response
}

fn signin_page() -> AccountForm {
    AccountForm {
        heading: "sign_in",
        intro: None,
        action: "/connexion".into(),
        submit: "sign_in_button",
        inputs: vec![
            Input::new("email", "identifier", "email", "username"),
            Input::new("password", "password", "password", "current-password"),
        ],
        links: vec![
            ("forgot", "/mot-de-passe-oublie"),
            ("sign_up", "/inscription"),
        ],
    }
}

/// `GET /connexion`
pub async fn signin_form(
    State(state): State<Arc<AppState>>,
    lang: Lang,
    headers: HeaderMap,
) -> Response {
    signin_page().blank(&state, &headers, lang)
}

/// `POST /connexion`
pub async fn signin(
    State(state): State<Arc<AppState>>,
    lang: Lang,
    ConnectInfo(address): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    form: CsrfForm,
) -> Result<Response, PageError> {
    let email = form.trimmed("email").to_lowercase();
    let keys = admit(&state, &address, Some(&email))?;
    let password = form.get("password").unwrap_or_default().to_owned();
    let worker = Arc::clone(&state);
    let checked = blocking(move || -> Option<String> {
        use argon2::password_hash::PasswordVerifier;
        let account = worker.accounts.find_by_email(&email).ok()??;
        let hash = account.password.as_deref()?;
        argon2::Argon2::default()
            .verify_password(password.as_bytes(), hash)
            .ok()?;
        worker
            .accounts
            .open_session(&account.id, Timestamp::now())
            .ok()
    })
    .await?;
    Ok(match checked {
        Some(session) => signed_in_redirect(&state, &headers, &session, lang),
        None => {
            state.throttle.fail(&keys);
            let error = Some(lang.t("wrong_credentials"));
            signin_page().render(&state, &headers, lang, Some(&form), &Errors::new(), error)
        }
    })
}

/// `POST /deconnexion`
pub async fn signout(
    State(state): State<Arc<AppState>>,
    lang: Lang,
    headers: HeaderMap,
    _form: CsrfForm,
) -> Response {
    if let Some(session) = cookie(&headers, SESSION_COOKIE) {
        let _ = state.accounts.close_session(&session);
    }
    let words = ("signed_out", "signed_out");
    let response = message(
        &state,
        lang,
        StatusCode::OK,
        words,
        Some(("sign_in", "/connexion")),
    );
    let expired = set_cookie(state.secure_cookies, SESSION_COOKIE, "", "Lax", Some(0));
    with_cookie(response, Some(expired))
}

fn email_page() -> AccountForm {
    AccountForm {
        heading: "change_email",
        intro: Some("change_email_intro"),
        action: "/compte/email".into(),
        submit: "change_email_button",
        inputs: vec![Input::new("email", "new_email", "email", "email")],
        links: vec![("dashboard", "/tableau-de-bord")],
    }
}

/// `GET /compte/email`
pub async fn email_form(
    State(state): State<Arc<AppState>>,
    lang: Lang,
    headers: HeaderMap,
    _: SignedIn,
) -> Response {
    email_page().blank(&state, &headers, lang)
}

/// `POST /compte/email`: a link goes to the new address.
pub async fn change_email(
    State(state): State<Arc<AppState>>,
    lang: Lang,
    headers: HeaderMap,
    SignedIn(account): SignedIn,
    form: CsrfForm,
) -> Result<Response, PageError> {
    let email = form.trimmed("email").to_lowercase();
    if !valid_email(&email) {
        let errors = Errors::from([("email", lang.t("email_invalid"))]);
        return Ok(email_page().render(&state, &headers, lang, Some(&form), &errors, None));
    }
    let worker = Arc::clone(&state);
    blocking(move || -> Result<(), PageError> {
        let purpose = Purpose::EmailChange {
            new_email: email.clone(),
        };
        let (token, expires_at) = worker.accounts.issue_token(
            purpose,
            &account.id,
            worker.links.activation,
            Timestamp::now(),
        )?;
        let link = mailed_link(&worker, "compte/email", &token);
        let mail = AccountMail {
            kind: "email_change",
            account: &account,
            to: &email,
            link: &link,
            expires_at,
        };
        send_account_mail(&worker, &mail, lang);
        Ok(())
    })
    .await??;
    Ok(message(&state, lang, StatusCode::OK, SENT, None))
}

/// `GET /compte/email/{token}`: the new address is confirmed.
pub async fn confirm_email(
    State(state): State<Arc<AppState>>,
    lang: Lang,
    Path(token): Path<String>,
) -> Result<Response, PageError> {
    let worker = Arc::clone(&state);
    let outcome = blocking(move || -> Result<bool, TokenProblem> {
        let (account_id, purpose) = worker
            .accounts
            .use_token(&token, Timestamp::now())
            .map_err(|_| TokenProblem::Unknown)??;
        let Purpose::EmailChange { new_email } = purpose else {
            return Err(TokenProblem::Unknown);
        };
        let mut account = worker
            .accounts
            .get(&account_id)
            .ok()
            .flatten()
            .ok_or(TokenProblem::Unknown)?;
        let changed = worker
            .accounts
            .change_email(&mut account, &new_email)
            .map_err(|_| TokenProblem::Unknown)?;
        if changed {
            // Mails about the dossier go to the new address from now on.
            update_dossier_email(&worker, &account);
        }
        Ok(changed)
    })
    .await?;
    Ok(match outcome {
        Ok(true) => message(
            &state,
            lang,
            StatusCode::OK,
            ("email_changed", "email_changed"),
            Some(("dashboard", "/tableau-de-bord")),
        ),
        Ok(false) => message(
            &state,
            lang,
            StatusCode::CONFLICT,
            ("email_taken", "email_taken"),
            None,
        ),
        Err(problem) => token_problem(&state, lang, problem, "/compte/email"),
    })
}

/// Records the account's address in its dossier, retrying once on a concurrent change.
fn update_dossier_email(state: &AppState, account: &Account) {
    let Some(dossier) = &account.dossier else {
        return;
    };
    for _ in 0..2 {
        let Ok(Some(current)) = state.engine.dossier(dossier) else {
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
