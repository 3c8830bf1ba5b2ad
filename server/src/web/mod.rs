//! The HTTP layer: a thin shell over the engine.

mod accounts;
mod candidatures;
mod dossier;
mod history;
mod pages;
mod strings;

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, Request, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use guichet_engine::{Engine, SledStore};
use serde::Deserialize;

pub use accounts::LinkValidity;
pub use pages::Pages;

/// What every request handler can reach.
pub struct AppState {
    /// The engine.
    pub engine: Arc<Engine<SledStore>>,
    /// Page templates.
    pub pages: Pages,
    /// Candidate accounts, tokens and sessions.
    pub accounts: crate::accounts::Accounts,
    /// Address users reach the server at, for links in mails.
    pub base_url: String,
    /// Cookies get `Secure` when the base URL is https.
    pub secure_cookies: bool,
    /// Uploaded files.
    pub files: crate::files::FileStore,
    /// How long mailed links work.
    pub links: accounts::LinkValidity,
    /// Failed sign-in and sign-up attempts.
    pub throttle: accounts::Throttle,
    /// Log account links (no SMTP server: mails only go to files).
    pub log_links: bool,
    /// Wakes the mail worker when mails are queued.
    pub mail_wake: Arc<tokio::sync::Notify>,
}

impl AppState {
    /// The definition version `dossier` follows (the current one if that
    /// version cannot be loaded, which the engine reports when acting).
    pub fn definition_of(
        &self,
        dossier: &guichet_engine::Dossier,
    ) -> Arc<guichet_engine::Definition> {
        self.engine.definition_of(dossier).unwrap_or_else(|error| {
            tracing::error!(%error, "pinned definition unavailable");
            self.engine.current_definition()
        })
    }
}

/// The application's routes.
pub fn router(state: Arc<AppState>) -> Router {
    // Room for the largest piece and the form around it; the handler itself
    // cuts each upload at its own piece's limit.
    let definition = state.engine.definition();
    let largest = definition
        .file()
        .pieces
        .iter()
        .filter_map(|p| definition.max_size(&p.id))
        .max()
        .unwrap_or(0);
    let upload_limit = usize::try_from(largest)
        .unwrap_or(usize::MAX)
        .saturating_add(1 << 20);
    Router::new()
        .route("/", get(home))
        .route(
            "/inscription",
            get(accounts::signup_form).post(accounts::signup),
        )
        .route(
            "/connexion",
            get(accounts::signin_form).post(accounts::signin),
        )
        .route("/deconnexion", axum::routing::post(accounts::signout))
        .route(
            "/mot-de-passe-oublie",
            get(accounts::forgot_form).post(accounts::forgot),
        )
        .route(
            "/activation/{token}",
            get(accounts::activation_form).post(accounts::activate),
        )
        .route(
            "/mot-de-passe/{token}",
            get(accounts::reset_form).post(accounts::reset),
        )
        .route(
            "/compte/email",
            get(accounts::email_form).post(accounts::change_email),
        )
        .route("/compte/email/{token}", get(accounts::confirm_email))
        .route("/formations", get(candidatures::catalogue))
        .route("/formations/{id}", get(candidatures::formation))
        .route(
            "/formations/{id}/candidater",
            get(candidatures::apply_form).post(candidatures::apply),
        )
        .route("/candidatures/{id}", get(candidatures::candidature))
        .route(
            "/candidatures/{id}/{transition}",
            get(candidatures::transition_form).post(candidatures::perform),
        )
        .route(
            "/candidatures/{id}/pieces/{piece}",
            axum::routing::post(candidatures::upload)
                .layer(axum::extract::DefaultBodyLimit::max(upload_limit)),
        )
        .route(
            "/candidatures/{id}/pieces/{piece}/fichier",
            get(candidatures::download),
        )
        .route(
            "/candidatures/{id}/pieces/{piece}/{transition}",
            axum::routing::post(candidatures::piece_action),
        )
        .route("/tableau-de-bord", get(accounts::dashboard))
        .route(
            "/dossier/{section}",
            get(dossier::show_section).post(dossier::save_section),
        )
        .route("/dossier/{section}/apercu", get(dossier::preview))
        .route(
            "/dossier/{section}/{entry}",
            get(dossier::show_entry).post(dossier::save_entry),
        )
        .route(
            "/dossier/{section}/{entry}/supprimer",
            axum::routing::post(dossier::remove_entry),
        )
        .route("/health", get(health))
        .route("/static/guichet.css", get(stylesheet))
        .route("/static/guichet.js", get(script))
        .fallback(not_found)
        .layer(middleware::from_fn(security_headers))
        .with_state(state)
}

/// Headers every response carries: no inline script, no framing, no sniffing.
async fn security_headers(request: Request<axum::body::Body>, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let set = |headers: &mut HeaderMap, name: &'static str, value: &'static str| {
        headers.insert(name, HeaderValue::from_static(value));
    };
    set(
        headers,
        "content-security-policy",
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    );
    set(headers, "x-content-type-options", "nosniff");
    set(headers, "x-frame-options", "DENY");
    set(headers, "referrer-policy", "same-origin");
    response
}

/// The `?lang=` of a request.
#[derive(Deserialize)]
pub struct LanguageChoice {
    lang: Option<String>,
}

/// French unless the user asks for English (`?lang=en`) or the browser prefers it.
pub fn language(choice: &LanguageChoice, headers: &HeaderMap) -> &'static str {
    match choice.lang.as_deref() {
        Some("en") => return "en",
        Some("fr") => return "fr",
        _ => {}
    }
    let accepted = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    // The first language listed is the preferred one.
    match accepted.split([',', ';', '-']).next().map(str::trim) {
        Some("en") => "en",
        _ => "fr",
    }
}

async fn home(
    State(state): State<Arc<AppState>>,
    Query(choice): Query<LanguageChoice>,
    headers: HeaderMap,
) -> Response {
    let lang = language(&choice, &headers);
    state.pages.home(&state.engine, lang)
}

async fn health(State(state): State<Arc<AppState>>) -> Response {
    let engine = Arc::clone(&state.engine);
    let readable = tokio::task::spawn_blocking(move || engine.dossier("health-check").is_ok())
        .await
        .unwrap_or(false);
    let status = if readable {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = serde_json::json!({
        "status": if readable { "ok" } else { "store unavailable" },
        "definition": state.engine.definition().hash(),
    });
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            // The URL carries the content's hash: it can be kept for a year.
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
        ],
        pages::STYLESHEET,
    )
        .into_response()
}

async fn script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
        ],
        pages::SCRIPT,
    )
        .into_response()
}

async fn not_found(
    State(state): State<Arc<AppState>>,
    Query(choice): Query<LanguageChoice>,
    headers: HeaderMap,
) -> Response {
    let lang = language(&choice, &headers);
    state.pages.not_found(&state.engine, lang)
}
