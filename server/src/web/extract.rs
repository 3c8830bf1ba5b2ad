//! What handlers need from a request, as axum extractors: the page language
//! and what rendering needs (`Visit`), the signed-in candidate (and their
//! dossier), and a form whose CSRF token was checked (and, on public pages,
//! not throttled). A handler names what it needs in its arguments and reads as
//! its job; a missing session or a forged form never reaches it.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Form;
use guichet_engine::{Definition, Dossier};
use serde::Serialize;

use super::error::{self, PageError};
use super::session::{self, cookie, csrf_valid, Attempt, Refusal, SESSION_COOKIE};
use super::site::Lang;
use super::state::{App, AppState, Face};
use crate::account_store::Account;

impl FromRequestParts<App> for Lang {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &App) -> Result<Self, Self::Rejection> {
        Ok(Lang::of(&parts.uri, &parts.headers, state.site()))
    }
}

/// What every page handler needs: the application, the page language, the
/// pages it is rendered with, and the request's headers (its cookies: the
/// CSRF token of the forms a page holds, the session).
pub struct Visit {
    /// The application.
    pub state: Arc<AppState>,
    /// The page language.
    pub lang: Lang,
    /// The pages, as the version in service when the request came speaks
    /// them (or a draft's, previewed in the editor).
    pub face: Face,
    /// The request's headers.
    pub headers: HeaderMap,
}

impl Visit {
    /// The visit of a request with `headers` to `uri`, on `state`'s pages.
    pub fn of(state: &Arc<AppState>, uri: &axum::http::Uri, headers: HeaderMap) -> Visit {
        let face = state.face();
        Visit {
            state: Arc::clone(state),
            lang: Lang::of(uri, &headers, face.site),
            face,
            headers,
        }
    }

    /// The same visit to the pages of `face` (a draft previewed), in the same
    /// language where those pages speak it.
    pub fn seeing(self, face: Face) -> Visit {
        Visit {
            lang: self.lang.on(face.site),
            face,
            ..self
        }
    }

    /// A page word in the visit's language.
    pub fn t(&self, key: &str) -> String {
        self.lang.t(key)
    }

    /// A link to `path` that keeps the visit's language.
    pub fn href(&self, path: &str) -> String {
        self.lang.href(path)
    }

    /// Renders `template` with `page`'s values.
    pub fn render(&self, template: &str, status: StatusCode, page: &impl Serialize) -> Response {
        self.face.render(self.lang, template, status, page)
    }

    /// Renders a page holding forms: with this browser's CSRF token (and its
    /// cookie when the token is new).
    pub fn render_form<T: Serialize>(
        &self,
        template: &str,
        status: StatusCode,
        page: &T,
    ) -> Response {
        self.render_form_with(template, status, |_| page)
    }

    /// [`Visit::render_form`] of a page made with the token, for forms the
    /// page writes itself.
    pub fn render_form_with<T: Serialize>(
        &self,
        template: &str,
        status: StatusCode,
        page: impl FnOnce(&str) -> T,
    ) -> Response {
        self.render_form_adding(template, status, Vec::new(), page)
    }

    /// [`Visit::render_form_with`], with values `added` to the page's (see
    /// [`super::pages::Pages::render_with`]).
    pub fn render_form_adding<T: Serialize>(
        &self,
        template: &str,
        status: StatusCode,
        mut added: Vec<(&'static str, minijinja::Value)>,
        page: impl FnOnce(&str) -> T,
    ) -> Response {
        let secure = self.state.secure_cookies;
        let (csrf, new_cookie) = session::csrf_token(&self.state.csrf, secure, &self.headers);
        let page = page(&csrf);
        added.push(("csrf", minijinja::Value::from(csrf)));
        let response = self
            .face
            .render_with(self.lang, template, status, added, &page);
        session::with_cookie(response, new_cookie)
    }

    /// A message page: heading and text (words keys), and a link onwards
    /// (words key and path).
    pub fn message(
        &self,
        status: StatusCode,
        (heading, text): (&str, &str),
        link: Option<(&str, &str)>,
    ) -> Response {
        let page = error::MessagePage {
            heading: self.t(heading),
            message: self.t(text),
            link: link.map(|(label, path)| error::Link {
                label: self.t(label),
                href: self.href(path),
            }),
        };
        self.render("message.html", status, &page)
    }
}

impl FromRequestParts<App> for Visit {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &App) -> Result<Self, Self::Rejection> {
        Ok(Visit::of(state, &parts.uri, parts.headers.clone()))
    }
}

/// The signed-in candidate's account; a 401 page otherwise.
pub struct SignedIn(pub Account);

impl FromRequestParts<App> for SignedIn {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &App) -> Result<Self, PageError> {
        let id = cookie(&parts.headers, SESSION_COOKIE).ok_or(PageError::SignInNeeded)?;
        // Read on the request's own thread, as the dossier is: two lookups in
        // sled's cache (and, once a minute, a last-seen time written without
        // a flush) cost less than handing them to the blocking pool and
        // back, which was a quarter of a signed-in page's time.
        let session = state.accounts.session(&id, jiff::Timestamp::now())?;
        let account = match session {
            Some(session) => state.accounts.get(&session.account)?,
            None => None,
        };
        account.map(SignedIn).ok_or(PageError::SignInNeeded)
    }
}

/// The signed-in candidate with their dossier, and the definition version the
/// dossier follows (its pages follow it too); a 401 page otherwise.
pub struct OwnDossier {
    /// The visit (language, headers) the dossier's pages are rendered for.
    pub visit: Visit,
    /// The account.
    pub account: Account,
    /// Its dossier.
    pub dossier: Arc<Dossier>,
    /// The definition version the dossier is pinned to.
    pub definition: Arc<Definition>,
}

impl FromRequestParts<App> for OwnDossier {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &App) -> Result<Self, PageError> {
        let SignedIn(account) = SignedIn::from_request_parts(parts, state).await?;
        // Every post on the dossier is a change (but the live preview of a
        // form, which changes nothing): each account has a budget.
        let preview = parts.uri.path().ends_with("/apercu");
        if parts.method == axum::http::Method::POST && !preview {
            state
                .writes
                .spend(&account.id)
                .map_err(PageError::WritesPaused)?;
        }
        let mut account = account;
        let id = match state.dossier_id(&account) {
            Some(id) => id,
            // A procedure among several, entered for the first time.
            None if state.procedure.is_some() => {
                let lang = Lang::of(&parts.uri, &parts.headers, state.site());
                let (worker, mut entering) = (Arc::clone(state), account.clone());
                let id = super::error::blocking(move || {
                    worker
                        .open_dossier(&mut entering, lang)
                        .map(|id| (id, entering))
                })
                .await??;
                account = id.1;
                id.0
            }
            None => return Err(PageError::SignInNeeded),
        };
        let dossier = state
            .engine
            .dossier(&id)
            .map_err(PageError::internal)?
            .ok_or(PageError::SignInNeeded)?;
        let definition = state.definition_of(&dossier);
        let Ok(visit) = Visit::from_request_parts(parts, state).await;
        Ok(OwnDossier {
            visit,
            account,
            dossier,
            definition,
        })
    }
}

impl OwnDossier {
    /// The candidature `id` of the dossier; a 404 page otherwise.
    pub fn candidature(&self, id: &str) -> Result<&guichet_engine::Candidature, PageError> {
        self.dossier
            .candidatures
            .iter()
            .find(|c| c.id == id)
            .ok_or(PageError::NotFound)
    }
}

/// A public form post (sign-up, sign-in, forgotten password): its CSRF token
/// checked, and an attempt reserved for the client's address (and the
/// account its `email` field names) by the throttle; a 429 page otherwise.
pub struct PublicForm {
    /// The form.
    pub form: CsrfForm,
    /// Its `email` field, trimmed and in lowercase.
    pub email: String,
    attempt: Attempt,
}

impl PublicForm {
    /// The attempt failed: it counts against the account.
    pub fn failed(&self, state: &AppState) {
        state.throttle.failed(&self.attempt);
    }

    /// The attempt succeeded: the address gets it back, the account's
    /// failures are forgotten.
    pub fn succeeded(&self, state: &AppState) {
        state.throttle.succeeded(&self.attempt);
    }
}

/// The client's address: the connection's, or, behind the proxy named by
/// `--trusted-proxy`, the one that proxy appended to `X-Forwarded-For`.
pub fn client_address(state: &AppState, connection: SocketAddr, headers: &HeaderMap) -> IpAddr {
    let direct = connection.ip();
    if state.trusted_proxy != Some(direct) {
        return direct;
    }
    headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .next_back()
        .and_then(|last| last.trim().parse().ok())
        .unwrap_or(direct)
}

impl FromRequest<App> for PublicForm {
    type Rejection = Response;

    async fn from_request(request: Request, state: &App) -> Result<Self, Response> {
        let (mut parts, body) = request.into_parts();
        let ConnectInfo(connection) =
            ConnectInfo::<SocketAddr>::from_request_parts(&mut parts, state)
                .await
                .map_err(IntoResponse::into_response)?;
        let address = client_address(state, connection, &parts.headers);
        let form = CsrfForm::from_request(Request::from_parts(parts, body), state).await?;
        let email = form.trimmed("email").to_lowercase();
        let account = Some(email.as_str()).filter(|e| !e.is_empty());
        let attempt = state
            .throttle
            .reserve(address, account)
            .map_err(|refusal| {
                let error = match refusal {
                    Refusal::Address => PageError::Throttled,
                    Refusal::Account(seconds) => PageError::SlowedDown(seconds),
                };
                error.into_response()
            })?;
        Ok(PublicForm {
            form,
            email,
            attempt,
        })
    }
}

/// A posted form whose CSRF field matches the browser's token; a 403 page
/// otherwise. Fields keep their order (a multiple choice repeats its name).
pub struct CsrfForm(pub Vec<(String, String)>);

impl CsrfForm {
    /// The first value of field `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// The trimmed value of field `name` (empty when missing).
    pub fn trimmed(&self, name: &str) -> &str {
        self.get(name).map_or("", str::trim)
    }
}

impl FromRequest<App> for CsrfForm {
    type Rejection = Response;

    async fn from_request(request: Request, state: &App) -> Result<Self, Self::Rejection> {
        let headers = request.headers().clone();
        let Form(pairs) = Form::<Vec<(String, String)>>::from_request(request, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let field = pairs
            .iter()
            .find(|(key, _)| key == "csrf")
            .map(|(_, value)| value.as_str());
        if !csrf_valid(&state.csrf, state.secure_cookies, &headers, field) {
            return Err(PageError::CsrfRefused.into_response());
        }
        Ok(CsrfForm(pairs))
    }
}
