//! Choosing a password behind a mailed link: activating an account, or
//! resetting a forgotten password. Links work once and for a limited time.

use std::sync::Arc;

use axum::extract::{FromRequestParts, MatchedPath, Path};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::Response;
use jiff::Timestamp;

use super::error::{blocking, PageError, PageResult};
use super::extract::{CsrfForm, PublicForm, Visit};
use super::forms::{
    password_problem, required, signed_in_redirect, valid_name, AccountForm, Errors, Input,
};
use super::links::{send_account_mail, AccountMail, MailedLink};
use super::site::Lang;
use super::state::AppState;
use crate::account_store::{Account, TokenProblem};

/// The page of a link that cannot be used, with the way to get a new one.
pub fn token_problem(visit: &Visit, problem: TokenProblem, again: &str) -> Response {
    let heading = match problem {
        TokenProblem::Used => "link_used",
        TokenProblem::Expired => "link_expired",
        TokenProblem::Unknown => "link_unknown",
    };
    let words = (heading, "link_help");
    visit.message(StatusCode::GONE, words, Some(("new_link", again)))
}

/// The forgotten-password form.
pub fn forgot_page() -> AccountForm {
    AccountForm::new("forgot", "forgot_button", "/mot-de-passe-oublie")
        .intro("forgot_intro")
        .input(Input::new("email", "identifier", "email", "username"))
}

/// `POST /mot-de-passe-oublie`: a reset link (an activation link for an
/// account never activated) goes to the address, if it has an account.
pub async fn forgot(visit: Visit, post: PublicForm) -> PageResult {
    // Each request counts against the account: its mailbox is not flooded.
    post.failed(&visit.state);
    let email = post.email;
    let (worker, lang) = (Arc::clone(&visit.state), visit.lang);
    blocking(move || {
        let Ok(Some(account)) = worker.accounts.find_by_email(&email) else {
            return;
        };
        let link = if account.password.is_some() {
            MailedLink::PasswordReset
        } else {
            MailedLink::Activation
        };
        let sent = link.send(&worker, &account, &account.email, lang);
        if let Err(error) = sent {
            tracing::error!(error = %super::error::chain(&error), "reset link not sent");
        }
    })
    .await?;
    Ok(visit.message(StatusCode::OK, ("sent_title", "sent_text"), None))
}

/// The two kinds of link that lead to choosing a password, told apart by the
/// route that matched (`/activation/{token}`, `/mot-de-passe/{token}`).
#[derive(Clone, Copy)]
pub enum PasswordLink {
    /// Activating a new account.
    Activation,
    /// Resetting a forgotten password.
    Reset,
}

impl<S: Send + Sync> FromRequestParts<S> for PasswordLink {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let matched = MatchedPath::from_request_parts(parts, state)
            .await
            .map_err(|_| PageError::NotFound)?;
        // The route, under the procedure's prefix on a server of several.
        Ok(if matched.as_str().ends_with("/activation/{token}") {
            PasswordLink::Activation
        } else {
            PasswordLink::Reset
        })
    }
}

impl PasswordLink {
    /// The mailed link this page is behind.
    fn link(self) -> MailedLink {
        match self {
            PasswordLink::Activation => MailedLink::Activation,
            PasswordLink::Reset => MailedLink::PasswordReset,
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
        let heading = match self {
            PasswordLink::Activation => "choose_password",
            PasswordLink::Reset => "new_password",
        };
        let action = format!("/{}/{token}", self.link().path());
        let password = Input::new("password", "password", "password", "new-password");
        let confirm = Input::new(
            "password_confirm",
            "password_confirm",
            "password",
            "new-password",
        );
        let form = AccountForm::new(heading, "choose_password_button", action);
        // Whoever activates an address says who they are, whatever whoever
        // signed it up wrote.
        let form = match self {
            PasswordLink::Activation => form
                .input(Input::new("last_name", "last_name", "text", "family-name"))
                .input(Input::new("first_name", "first_name", "text", "given-name")),
            PasswordLink::Reset => form,
        };
        form.input(password.with_help("password_help"))
            .input(confirm)
    }
}

/// `GET /activation/{token}`, `GET /mot-de-passe/{token}`: the password page
/// behind a mailed link.
pub async fn password_form(
    visit: Visit,
    link: PasswordLink,
    Path(token): Path<String>,
) -> Result<Response, PageError> {
    let accounts = &visit.state.accounts;
    Ok(match accounts.check_token(&token, Timestamp::now())? {
        Ok((account, _)) => {
            let names = match (link, accounts.get(&account)?) {
                (PasswordLink::Activation, Some(account)) => vec![
                    ("last_name".to_owned(), account.last_name),
                    ("first_name".to_owned(), account.first_name),
                ],
                _ => Vec::new(),
            };
            link.page(&token)
                .render(&visit, &names, &Errors::new(), None)
        }
        Err(problem) => token_problem(&visit, problem, link.again()),
    })
}

/// The names an activation form gives (a form without them keeps those of
/// the sign-up), or what is wrong with them.
fn names_from(form: &CsrfForm, account: &mut Account, errors: &mut Errors, lang: Lang) {
    for (name, value) in [
        ("last_name", &mut account.last_name),
        ("first_name", &mut account.first_name),
    ] {
        let Some(given) = form.get(name).map(str::trim) else {
            continue;
        };
        if given.is_empty() {
            errors.insert(name, lang.t("required"));
        } else if !valid_name(given) {
            errors.insert(name, lang.t("name_invalid"));
        } else {
            *value = given.to_owned();
        }
    }
}

/// What is wrong with the two password fields, if anything.
pub(super) fn password_errors(form: &CsrfForm, account: &Account, lang: Lang) -> Errors {
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

/// `POST /activation/{token}`, `POST /mot-de-passe/{token}`: chooses a
/// password, then signs in.
pub async fn set_password(
    visit: Visit,
    link: PasswordLink,
    Path(token): Path<String>,
    form: CsrfForm,
) -> Result<Response, PageError> {
    let (state, lang) = (&visit.state, visit.lang);
    let account = match state.accounts.check_token(&token, Timestamp::now()) {
        Ok(Ok((account, purpose))) if purpose == link.link().purpose() => {
            state.accounts.get(&account).ok().flatten()
        }
        Ok(Ok(_)) | Err(_) => None,
        Ok(Err(problem)) => return Ok(token_problem(&visit, problem, link.again())),
    };
    let Some(mut account) = account else {
        return Ok(token_problem(&visit, TokenProblem::Unknown, link.again()));
    };
    let mut errors = Errors::new();
    if let PasswordLink::Activation = link {
        names_from(&form, &mut account, &mut errors, lang);
    }
    errors.extend(password_errors(&form, &account, lang));
    if !errors.is_empty() {
        return Ok(link.page(&token).render(&visit, &form.0, &errors, None));
    }
    let password = form.get("password").unwrap_or_default().to_owned();
    let worker = Arc::clone(state);
    let session =
        blocking(move || store_password(&worker, account, &token, &password, lang)).await??;
    Ok(match session {
        Some(session) => signed_in_redirect(&visit, &session),
        None => token_problem(&visit, TokenProblem::Used, link.again()),
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
    let now = Timestamp::now();
    // Used only now, once everything else is right: a mistyped password does
    // not burn the link.
    if state.accounts.use_token(token, now)?.is_err() {
        return Ok(None);
    }
    let hash = crate::passwords::hash(password)
        .map_err(|error| PageError::Internal(error.to_string().into()))?;
    let first_activation = account.password.is_none();
    account.password = Some(hash);
    state.open_dossier(&mut account, lang)?;
    state.accounts.save(&account)?;
    // A new password ends what the old one opened: other sessions, and every
    // other link still out (an older reset link, a pending email change).
    state.accounts.revoke_links(&account.id)?;
    state.accounts.close_sessions_of(&account.id)?;
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
