//! What handlers need from a request, as axum extractors: the page language
//! and what rendering needs (`Visit`), the signed-in candidate (and their
//! dossier), and a form whose CSRF token was checked (and, on public pages,
//! not throttled). A handler names what it needs in its arguments and reads as
//! its job; a missing session or a forged form never reaches it.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::Form;
use guichet_engine::{Definition, Dossier};
use serde::Deserialize;

use super::error::PageError;
use super::session::{cookie, csrf_valid, Attempt, Refusal, LANGUAGE_COOKIE, SESSION_COOKIE};
use super::words;
use super::{App, AppState};
use crate::account_store::Account;

/// What a procedure says of its pages' languages: which (the default
/// first) and the words it overrides. Made once at start-up and kept for the
/// process, so that every `Lang` can carry it.
#[derive(Debug, Default)]
pub struct Site {
    /// Languages, the default first.
    pub languages: Vec<&'static str>,
    /// The definition's own words, by language then key.
    pub words: std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>>,
    /// Where the procedure's pages live: empty for a server of one
    /// procedure, `/<id>` when it serves several.
    pub prefix: String,
}

impl Site {
    /// The site of `definition`, its pages under `prefix`, kept for the
    /// rest of the process.
    pub fn of(definition: &Definition, prefix: String) -> &'static Site {
        let languages = definition
            .languages()
            .into_iter()
            .filter_map(|code| {
                guichet_engine::SUPPORTED_LANGUAGES
                    .into_iter()
                    .find(|known| *known == code)
            })
            .collect();
        let words = definition.file().words.clone();
        Box::leak(Box::new(Site {
            languages,
            words,
            prefix,
        }))
    }

    /// Every page word in `code`, the procedure's over the built-in ones.
    pub fn words_in(&self, code: &str) -> serde_json::Value {
        let mut all = words::all(code);
        if let (Some(own), serde_json::Value::Object(map)) = (self.words.get(code), &mut all) {
            for (key, text) in own {
                map.insert(key.clone(), serde_json::Value::String(text.clone()));
            }
        }
        all
    }
}

/// The page language: `?lang=`, else the language the visitor chose before
/// (its cookie), else the browser's first preference among the procedure's
/// languages, else the procedure's default language.
#[derive(Debug, Clone, Copy)]
pub struct Lang {
    code: &'static str,
    site: &'static Site,
}

impl PartialEq for Lang {
    fn eq(&self, other: &Self) -> bool {
        self.code == other.code
    }
}

impl Eq for Lang {}

#[derive(Deserialize)]
struct LanguageChoice {
    lang: Option<String>,
}

impl Lang {
    /// The language a request asks for explicitly with `?lang=`, if any.
    pub fn chosen(uri: &axum::http::Uri, site: &'static Site) -> Option<Lang> {
        let Query(choice) = Query::<LanguageChoice>::try_from_uri(uri).ok()?;
        Self::known(choice.lang.as_deref()?, site)
    }

    fn known(code: &str, site: &'static Site) -> Option<Lang> {
        let code = site.languages.iter().find(|l| **l == code)?;
        Some(Lang { code, site })
    }

    /// The procedure's default language.
    pub fn default_of(site: &'static Site) -> Lang {
        let code = site.languages.first().copied().unwrap_or("fr");
        Lang { code, site }
    }

    /// The language of a request.
    pub fn of(uri: &axum::http::Uri, headers: &HeaderMap, site: &'static Site) -> Lang {
        if let Some(lang) = Self::chosen(uri, site) {
            return lang;
        }
        let kept = cookie(headers, LANGUAGE_COOKIE);
        if let Some(lang) = kept.and_then(|c| Self::known(&c, site)) {
            return lang;
        }
        let accepted = headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        // The first language listed is the preferred one.
        accepted
            .split([',', ';', '-'])
            .next()
            .and_then(|first| Self::known(first.trim(), site))
            .unwrap_or_else(|| Self::default_of(site))
    }

    /// The language code.
    pub fn code(self) -> &'static str {
        self.code
    }

    /// The procedure's languages, the default first.
    pub fn languages(self) -> &'static [&'static str] {
        &self.site.languages
    }

    /// A page word in this language: the procedure's, else the built-in one.
    pub fn t(self, key: &str) -> String {
        let own = self.site.words.get(self.code).and_then(|w| w.get(key));
        own.cloned().unwrap_or_else(|| words::t(self.code, key))
    }

    /// A link to `path` that keeps this language.
    pub fn href(self, path: &str) -> String {
        with_language(&prefixed(&self.site.prefix, path), self.code)
    }
}

/// `path` of a procedure whose pages live under `prefix`: its home is the
/// prefix itself.
pub fn prefixed(prefix: &str, path: &str) -> String {
    match path {
        "/" if !prefix.is_empty() => prefix.to_owned(),
        _ => format!("{prefix}{path}"),
    }
}

/// `path` with `lang=` added to its query: the one way links keep the page
/// language (templates call it as `href(path)`).
pub fn with_language(path: &str, lang: &str) -> String {
    let separator = if path.contains('?') { '&' } else { '?' };
    format!("{path}{separator}lang={lang}")
}

impl FromRequestParts<App> for Lang {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &App) -> Result<Self, Self::Rejection> {
        Ok(Lang::of(&parts.uri, &parts.headers, state.site()))
    }
}

/// What every page handler needs: the application, the page language, and
/// the request's headers (its cookies: the CSRF token of the forms a page
/// holds, the session).
pub struct Visit {
    /// The application.
    pub state: Arc<AppState>,
    /// The page language.
    pub lang: Lang,
    /// The request's headers.
    pub headers: HeaderMap,
}

impl FromRequestParts<App> for Visit {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &App) -> Result<Self, Self::Rejection> {
        Ok(Visit {
            state: Arc::clone(state),
            lang: Lang::of(&parts.uri, &parts.headers, state.site()),
            headers: parts.headers.clone(),
        })
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
    pub dossier: Dossier,
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
