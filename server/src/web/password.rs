//! Choosing a password behind a mailed link: activating an account, or
//! resetting a forgotten password. Links work once and for a limited time.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use guichet_engine::Candidate;
use jiff::Timestamp;

use super::account::{admit, mailed_link, send_account_mail, signed_in_redirect, AccountMail};
use super::error::{blocking, PageError};
use super::extract::{CsrfForm, Lang};
use super::forms::{message, password_problem, required, AccountForm, Errors, Input};
use super::AppState;
use crate::account_store::{Account, Purpose, TokenProblem};

/// The page of a link that cannot be used, with the way to get a new one.
pub fn token_problem(state: &AppState, lang: Lang, problem: TokenProblem, again: &str) -> Response {
    let heading = match problem {
        TokenProblem::Used => "link_used",
        TokenProblem::Expired => "link_expired",
        TokenProblem::Unknown => "link_unknown",
    };
    message(
        state,
        lang,
        StatusCode::GONE,
        (heading, "link_help"),
        Some(("new_link", again)),
    )
}

fn forgot_page() -> AccountForm {
    AccountForm {
        heading: "forgot",
        intro: Some("forgot_intro"),
        action: "/mot-de-passe-oublie".into(),
        submit: "forgot_button",
        inputs: vec![Input::new("email", "identifier", "email", "username")],
        links: Vec::new(),
    }
}

/// `GET /mot-de-passe-oublie`
pub async fn forgot_form(
    State(state): State<Arc<AppState>>,
    lang: Lang,
    headers: HeaderMap,
) -> Response {
    forgot_page().blank(&state, &headers, lang)
}

/// `POST /mot-de-passe-oublie`: a reset link (an activation link for an
/// account never activated) goes to the address, if it has an account.
pub async fn forgot(
    State(state): State<Arc<AppState>>,
    lang: Lang,
    ConnectInfo(address): ConnectInfo<SocketAddr>,
    form: CsrfForm,
) -> Result<Response, PageError> {
    let email = form.trimmed("email").to_lowercase();
    let keys = admit(&state, &address, Some(&email))?;
    state.throttle.fail(&keys);
    let worker = Arc::clone(&state);
    blocking(move || {
        let Ok(Some(account)) = worker.accounts.find_by_email(&email) else {
            return;
        };
        let (purpose, kind, path, ttl) = if account.password.is_some() {
            let ttl = worker.links.password_reset;
            (
                Purpose::PasswordReset,
                "password_reset",
                "mot-de-passe",
                ttl,
            )
        } else {
            let ttl = worker.links.activation;
            (Purpose::Activation, "activation", "activation", ttl)
        };
        let now = Timestamp::now();
        if let Ok((token, expires_at)) = worker.accounts.issue_token(purpose, &account.id, ttl, now)
        {
            let link = mailed_link(&worker, path, &token);
            let mail = AccountMail {
                kind,
                account: &account,
                to: &account.email,
                link: &link,
                expires_at,
            };
            send_account_mail(&worker, &mail, lang);
        }
    })
    .await?;
    Ok(message(
        &state,
        lang,
        StatusCode::OK,
        ("sent_title", "sent_text"),
        None,
    ))
}

/// The two kinds of link that lead to choosing a password.
#[derive(Clone, Copy)]
enum PasswordLink {
    Activation,
    Reset,
}

impl PasswordLink {
    fn path(self) -> &'static str {
        match self {
            PasswordLink::Activation => "activation",
            PasswordLink::Reset => "mot-de-passe",
        }
    }

    fn purpose(self) -> Purpose {
        match self {
            PasswordLink::Activation => Purpose::Activation,
            PasswordLink::Reset => Purpose::PasswordReset,
        }
    }

    /// Where to ask for a new link.
    fn again(self) -> &'static str {
        match self {
            PasswordLink::Activation => "/inscription",
            PasswordLink::Reset => "/mot-de-passe-oublie",
        }
    }

    fn page(self, token: &str) -> AccountForm {
        AccountForm {
            heading: match self {
                PasswordLink::Activation => "choose_password",
                PasswordLink::Reset => "new_password",
            },
            intro: None,
            action: format!("/{}/{token}", self.path()),
            submit: "choose_password_button",
            inputs: vec![
                Input::new("password", "password", "password", "new-password")
                    .with_help("password_help"),
                Input::new(
                    "password_confirm",
                    "password_confirm",
                    "password",
                    "new-password",
                ),
            ],
            links: Vec::new(),
        }
    }
}

/// `GET /activation/{token}`
pub async fn activation_form(
    State(state): State<Arc<AppState>>,
    lang: Lang,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> Result<Response, PageError> {
    password_form(&state, lang, &headers, PasswordLink::Activation, &token)
}

/// `GET /mot-de-passe/{token}`
pub async fn reset_form(
    State(state): State<Arc<AppState>>,
    lang: Lang,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> Result<Response, PageError> {
    password_form(&state, lang, &headers, PasswordLink::Reset, &token)
}

/// `POST /activation/{token}`
pub async fn activate(
    State(state): State<Arc<AppState>>,
    lang: Lang,
    headers: HeaderMap,
    Path(token): Path<String>,
    form: CsrfForm,
) -> Result<Response, PageError> {
    set_password(
        state,
        lang,
        headers,
        (PasswordLink::Activation, token),
        form,
    )
    .await
}

/// `POST /mot-de-passe/{token}`
pub async fn reset(
    State(state): State<Arc<AppState>>,
    lang: Lang,
    headers: HeaderMap,
    Path(token): Path<String>,
    form: CsrfForm,
) -> Result<Response, PageError> {
    set_password(state, lang, headers, (PasswordLink::Reset, token), form).await
}

/// The password page behind a mailed link.
fn password_form(
    state: &AppState,
    lang: Lang,
    headers: &HeaderMap,
    link: PasswordLink,
    token: &str,
) -> Result<Response, PageError> {
    Ok(match state.accounts.check_token(token, Timestamp::now())? {
        Ok(_) => link.page(token).blank(state, headers, lang),
        Err(problem) => token_problem(state, lang, problem, link.again()),
    })
}

/// What is wrong with the two password fields, if anything.
fn password_errors(form: &CsrfForm, account: &Account, lang: Lang) -> Errors {
    let mut errors = required(form, &["password", "password_confirm"], lang);
    if errors.is_empty() {
        let password = form.get("password").unwrap_or_default();
        if let Some(problem) = password_problem(password, account) {
            errors.insert("password", lang.t(problem));
        } else if form.get("password_confirm") != Some(password) {
            errors.insert("password_confirm", lang.t("password_mismatch"));
        }
    }
    errors
}

/// Chooses a password, then signs in.
async fn set_password(
    state: Arc<AppState>,
    lang: Lang,
    headers: HeaderMap,
    (link, token): (PasswordLink, String),
    form: CsrfForm,
) -> Result<Response, PageError> {
    let account = match state.accounts.check_token(&token, Timestamp::now()) {
        Ok(Ok((account, purpose))) if purpose == link.purpose() => {
            state.accounts.get(&account).ok().flatten()
        }
        Ok(Ok(_)) | Err(_) => None,
        Ok(Err(problem)) => return Ok(token_problem(&state, lang, problem, link.again())),
    };
    let Some(account) = account else {
        let problem = TokenProblem::Unknown;
        return Ok(token_problem(&state, lang, problem, link.again()));
    };
    let errors = password_errors(&form, &account, lang);
    if !errors.is_empty() {
        let page = link.page(&token);
        return Ok(page.render(&state, &headers, lang, None, &errors, None));
    }
    let password = form.get("password").unwrap_or_default().to_owned();
    let worker = Arc::clone(&state);
    let session =
        blocking(move || store_password(&worker, account, &token, &password, lang)).await??;
    Ok(match session {
        Some(session) => signed_in_redirect(&state, &headers, &session, lang),
        None => token_problem(&state, lang, TokenProblem::Used, link.again()),
    })
}

/// Uses the link, stores the password's hash (creating the dossier at
/// activation) and opens a session; `None` if the link was used meanwhile.
fn store_password(
    state: &AppState,
    mut account: Account,
    token: &str,
    password: &str,
    lang: Lang,
) -> Result<Option<String>, PageError> {
    use argon2::password_hash::PasswordHasher;
    let now = Timestamp::now();
    // Used only now, once everything else is right: a mistyped password does
    // not burn the link.
    if state.accounts.use_token(token, now)?.is_err() {
        return Ok(None);
    }
    let hash = argon2::Argon2::default()
        .hash_password(password.as_bytes())
        .map_err(|error| PageError::Internal(error.to_string().into()))?
        .to_string();
    let first_activation = account.password.is_none();
    account.password = Some(hash);
    if account.dossier.is_none() {
        let candidate = Candidate {
            last_name: account.last_name.clone(),
            first_name: account.first_name.clone(),
            email: account.email.clone(),
        };
        let dossier = state
            .engine
            .create_dossier(&account.id, candidate, lang.code(), now)?;
        account.dossier = Some(dossier.id);
    }
    state.accounts.save(&account)?;
    if first_activation {
        let link = format!("{}/tableau-de-bord", state.base_url.trim_end_matches('/'));
        let mail = AccountMail {
            kind: "activated",
            account: &account,
            to: &account.email,
            link: &link,
            expires_at: now,
        };
        send_account_mail(state, &mail, lang);
    }
    Ok(Some(state.accounts.open_session(&account.id, now)?))
}
