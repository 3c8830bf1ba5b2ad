//! The HTTP layer: a thin shell over the engine.
//!
//! Handlers take what they need from extractors ([`extract`]: the page
//! language, the signed-in candidate and their dossier, a CSRF-checked form),
//! ask the engine (commands, and the queries that say what an actor may do),
//! and answer with a typed page or a [`PageError`], which one layer renders.

mod account;
mod candidature;
mod catalogue;
mod complementary;
mod dashboard;
mod dossier;
mod dossier_pdf;
mod error;
mod extract;
mod fields;
mod forms;
mod history;
mod links;
mod pages;
mod password;
pub mod preview;
mod session;
mod staff;
mod third_party;
mod uploads;
mod words;

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use guichet_engine::{Actor, Command, Dossier, Engine, EngineError, Outcome, SledStore};

use crate::account_store::Account;
use serde::Serialize;

pub use error::PageError;
use extract::{Lang, Visit};
pub use forms::valid_email;
pub use pages::Pages;
pub use session::{CsrfKey, LinkValidity, Throttle, WriteBudget};
pub use staff::archive::Jobs as ArchiveJobs;
pub use words::unknown_overrides as unknown_words;

/// The procedure's time: the real time, or, for a demonstration
/// (`serve --now`), a moment chosen in the procedure's calendar that goes on
/// at the real pace. Sessions and mailed links always follow the real time.
#[derive(Debug, Clone, Copy, Default)]
pub struct Clock {
    offset: jiff::SignedDuration,
}

impl Clock {
    /// A clock that reads `start` now.
    pub fn starting_at(start: jiff::Timestamp) -> Self {
        Clock {
            offset: start.duration_since(jiff::Timestamp::now()),
        }
    }

    /// The procedure's now.
    pub fn now(&self) -> jiff::Timestamp {
        let real = jiff::Timestamp::now();
        real.checked_add(self.offset).unwrap_or(real)
    }
}

/// The application state as handlers share it.
pub type App = Arc<AppState>;

/// What every request handler can reach.
pub struct AppState {
    /// The engine.
    pub engine: Arc<Engine<SledStore>>,
    /// On a server of several procedures, this one's id (dossiers of an
    /// account and staff rights are per procedure); `None` for a server of one.
    pub procedure: Option<String>,
    /// Every procedure of the server (this one included), once all are
    /// open: what concerns an account (its address) reaches each of its dossiers.
    pub all: Arc<std::sync::OnceLock<Vec<std::sync::Weak<AppState>>>>,
    /// The pages' languages and words, and the templates speaking them:
    /// replaced when a new version of the definition is published.
    pub face: std::sync::RwLock<Face>,
    /// Candidate accounts, tokens and sessions.
    pub accounts: crate::account_store::AccountStore,
    /// Staff accounts, their rights, links and sessions.
    pub staff: crate::staff_store::StaffStore,
    /// Address users reach the server at, for links in mails.
    pub base_url: String,
    /// Cookies get `Secure` when the base URL is https.
    pub secure_cookies: bool,
    /// Uploaded files.
    pub files: crate::files::FileStore,
    /// How long mailed links work.
    pub links: LinkValidity,
    /// The key CSRF tokens are derived with.
    pub csrf: session::CsrfKey,
    /// The procedure's time.
    pub clock: Clock,
    /// Changes each signed-in candidate made lately: one count for every
    /// procedure of the server, as the accounts making them are.
    pub writes: Arc<session::WriteBudget>,
    /// Attempts of the public forms: one for every procedure of the
    /// server, as the accounts they try are.
    pub throttle: Arc<Throttle>,
    /// The reverse proxy whose `X-Forwarded-For` names the client.
    pub trusted_proxy: Option<std::net::IpAddr>,
    /// Log account links (no SMTP server: mails only go to files).
    pub log_links: bool,
    /// Wakes the mail worker when mails are queued.
    pub mail_wake: Arc<tokio::sync::Notify>,
    /// The staff's archives of PDFs, being built or built.
    pub archives: staff::archive::Jobs,
    /// The definition file served, which the editor's publications rewrite.
    pub definition_file: std::path::PathBuf,
    /// Turns to receive an upload (see [`AppState::upload_turn`]).
    pub upload_turns: tokio::sync::Semaphore,
}

/// What the pages speak, from one version of the definition.
#[derive(Clone)]
pub struct Face {
    /// The pages' languages, the procedure's own words, its prefix.
    pub site: &'static extract::Site,
    /// The templates, with the site's words.
    pub pages: Arc<Pages>,
}

impl Face {
    /// The face of `definition`, its pages under `prefix`.
    pub fn of(definition: &guichet_engine::Definition, prefix: String) -> anyhow::Result<Face> {
        let site = extract::Site::of(definition, prefix);
        Ok(Face {
            site,
            pages: Arc::new(Pages::new(site)?),
        })
    }

    /// The face of a preview of `definition`: every page says so.
    pub fn preview_of(definition: &guichet_engine::Definition) -> anyhow::Result<Face> {
        let site = extract::Site::of(definition, String::new());
        Ok(Face {
            site,
            pages: Arc::new(Pages::new(site)?.previewing()),
        })
    }

    /// The face of another version of the same procedure, like this one:
    /// under the same prefix, a preview if this is one.
    pub fn next(&self, definition: &guichet_engine::Definition) -> anyhow::Result<Face> {
        if self.pages.is_preview() {
            Face::preview_of(definition)
        } else {
            Face::of(definition, self.site.prefix.clone())
        }
    }
}

impl AppState {
    /// Waits for a turn to receive an upload (one of [`UPLOADS_AT_ONCE`]),
    /// held until what it returns is dropped. Taken once the sender is
    /// known (a session, a referee's link) and just before the body is
    /// read: nobody else's request waits behind uploads, and a request that
    /// will be refused takes no turn.
    pub async fn upload_turn(
        &self,
    ) -> Result<tokio::sync::SemaphorePermit<'_>, tokio::sync::AcquireError> {
        self.upload_turns.acquire().await
    }

    /// The pages' languages, the procedure's own words and its prefix.
    pub fn site(&self) -> &'static extract::Site {
        self.face().site
    }

    /// The pages' languages and words, and the templates speaking them.
    pub fn face(&self) -> Face {
        self.face
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// The candidate's dossier in this procedure, if they have one yet.
    pub fn dossier_id(&self, account: &Account) -> Option<String> {
        match &self.procedure {
            None => account.dossier.clone(),
            Some(procedure) => account.dossiers.get(procedure).cloned(),
        }
    }

    /// The candidate's dossier in this procedure, created if they have none
    /// (at activation, or a first visit to a procedure among several), and
    /// noted in `account`. On a server of several procedures the note is
    /// stored at once (of two tabs racing, one dossier is kept); on a server
    /// of one, the caller saves the account.
    pub fn open_dossier(&self, account: &mut Account, lang: Lang) -> Result<String, PageError> {
        if let Some(id) = self.dossier_id(account) {
            return Ok(id);
        }
        let candidate = guichet_engine::Candidate {
            last_name: account.last_name.clone(),
            first_name: account.first_name.clone(),
            email: account.email.clone(),
        };
        let now = self.clock.now();
        let dossier = self
            .engine
            .create_dossier(&account.id, candidate, lang.code(), now)?;
        match &self.procedure {
            None => {
                account.dossier = Some(dossier.id.clone());
                Ok(dossier.id)
            }
            Some(procedure) => {
                let kept = self
                    .accounts
                    .record_dossier(&account.id, procedure, &dossier.id)?;
                account.dossiers.insert(procedure.clone(), kept.clone());
                Ok(kept)
            }
        }
    }

    /// The definition version `dossier` follows (the current one if that
    /// version cannot be loaded, which the engine reports when acting).
    pub fn definition_of(&self, dossier: &Dossier) -> Arc<guichet_engine::Definition> {
        self.engine.definition_of(dossier).unwrap_or_else(|error| {
            tracing::error!(error = %error::chain(&error), "pinned definition unavailable");
            self.engine.definition()
        })
    }

    /// Renders `template` in `lang` with `page`'s values.
    pub fn render(
        &self,
        lang: Lang,
        template: &str,
        status: StatusCode,
        page: &impl Serialize,
    ) -> Response {
        let definition = self.engine.definition();
        let institution = definition.file().title.get(lang.code());
        self.face()
            .pages
            .render(template, status, lang, institution, page)
    }

    /// Performs `command` as the candidate `account` on `dossier` (at the
    /// version read), waking the mail worker when mails are queued.
    /// Blocking: sled writes durably before answering.
    pub fn run_as_candidate(
        &self,
        account: &str,
        dossier: &Dossier,
        command: Command,
    ) -> Result<Outcome, EngineError> {
        let role = self.definition_of(dossier).candidate_role().to_owned();
        self.run_as(&Actor::new(role, account), dossier, command)
    }

    /// The same for a staff member (an actor of a staff role).
    pub fn run_as_staff(
        &self,
        actor: &Actor,
        dossier: &Dossier,
        command: Command,
    ) -> Result<Outcome, EngineError> {
        self.run_as(actor, dossier, command)
    }

    fn run_as(
        &self,
        actor: &Actor,
        dossier: &Dossier,
        command: Command,
    ) -> Result<Outcome, EngineError> {
        let writer = self.files.writer(&dossier.id);
        let _one_at_a_time = writer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.apply_and_sweep(actor, dossier, command)
    }

    /// The same for an upload: the file is stored first (a dossier never
    /// refers to a file that is not there), then `command` is made with its
    /// SHA-256 and performed.
    pub fn upload_as_candidate(
        &self,
        account: &str,
        dossier: &Dossier,
        bytes: &[u8],
        command: impl FnOnce(String) -> Command,
    ) -> std::io::Result<Result<Outcome, EngineError>> {
        let writer = self.files.writer(&dossier.id);
        let _one_at_a_time = writer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let sha256 = self.files.put(&dossier.id, bytes)?;
        let role = self.definition_of(dossier).candidate_role().to_owned();
        let actor = Actor::new(role, account);
        Ok(self.apply_and_sweep(&actor, dossier, command(sha256)))
    }

    /// A third party's piece, sent through their link `token`: stored first,
    /// then delivered (the engine checks the link).
    pub fn deliver(
        &self,
        token: &str,
        dossier: &Dossier,
        bytes: &[u8],
        name: String,
        format: guichet_engine::model::FileFormat,
    ) -> std::io::Result<Result<Outcome, EngineError>> {
        let writer = self.files.writer(&dossier.id);
        let _one_at_a_time = writer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let file = guichet_engine::FileRef {
            name,
            sha256: self.files.put(&dossier.id, bytes)?,
            size: bytes.len() as u64,
            format: format.name().to_owned(),
        };
        let outcome = self.engine.deliver(token, file, self.clock.now());
        if outcome.as_ref().is_ok_and(|o| !o.mails.is_empty()) {
            self.mail_wake.notify_one();
        }
        Ok(outcome)
    }

    /// Applies `command`; then, if it is one that can drop a file (a piece
    /// transition, or a transition replacing the sent copy), deletes the
    /// dossier's files it no longer refers to (in its pieces or sent copies).
    fn apply_and_sweep(
        &self,
        actor: &Actor,
        dossier: &Dossier,
        command: Command,
    ) -> Result<Outcome, EngineError> {
        let may_drop_files = matches!(command, Command::Piece { .. } | Command::Transition { .. });
        let outcome = self.engine.apply(
            &dossier.id,
            dossier.version,
            actor,
            command,
            self.clock.now(),
        )?;
        if !outcome.mails.is_empty() || !outcome.follow_ups.is_empty() {
            self.mail_wake.notify_one();
        }
        if !may_drop_files {
            return Ok(outcome);
        }
        let after = &outcome.dossier;
        let pieces = after.candidatures.iter().flat_map(|c| {
            let sent = c.sent.iter().flat_map(|s| s.pieces.values());
            c.pieces.values().chain(sent)
        });
        let letters = after
            .candidatures
            .iter()
            .flat_map(|c| c.requests.iter().filter_map(|r| r.letter.as_ref()));
        let referenced = pieces
            .filter_map(|p| p.file.as_ref())
            .chain(letters)
            .map(|f| f.sha256.as_str())
            .collect();
        if let Err(error) = self.files.keep_only(&after.id, &referenced) {
            tracing::warn!(%error, dossier = %after.id, "files no longer used were not deleted");
        }
        Ok(outcome)
    }
}

impl Visit {
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
        self.state.render(self.lang, template, status, page)
    }

    /// Renders a page holding forms: with this browser's CSRF token (and its
    /// cookie when the token is new).
    pub fn render_form<T: Serialize>(
        &self,
        template: &str,
        status: StatusCode,
        page: &T,
    ) -> Response {
        #[derive(Serialize)]
        struct WithToken<'a, T> {
            csrf: String,
            #[serde(flatten)]
            page: &'a T,
        }
        let secure = self.state.secure_cookies;
        let (csrf, new_cookie) = session::csrf_token(&self.state.csrf, secure, &self.headers);
        let response = self.render(template, status, &WithToken { csrf, page });
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

/// The application's routes.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/", get(home))
        .merge(account_routes())
        .merge(candidature_routes())
        .merge(dossier_routes())
        .merge(staff::routes())
        .route("/health", get(health))
        .route("/static/guichet.css", get(stylesheet))
        .route("/static/guichet.js", get(script))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(
            Arc::clone(&state),
            error_pages,
        ))
        .layer(middleware::from_fn_with_state(
            Arc::clone(&state),
            remember_language,
        ))
        .layer(middleware::from_fn(private_pages))
        .layer(middleware::from_fn(read_forms_first))
        .layer(middleware::from_fn(security_headers))
        .with_state(state)
}

/// The routes of a server of several procedures: each under `/<its id>`
/// with all its pages, and at `/` the list of them.
pub fn procedures_router(states: &[Arc<AppState>]) -> anyhow::Result<Router> {
    let first = states
        .first()
        .ok_or_else(|| anyhow::anyhow!("no procedure to serve"))?;
    // The list speaks the first procedure's languages, from the root.
    let site: &'static extract::Site = Box::leak(Box::new(extract::Site {
        languages: first.site().languages.clone(),
        ..Default::default()
    }));
    let pages = Arc::new(Pages::new(site)?);
    let procedures: Vec<(String, guichet_engine::model::Text)> = states
        .iter()
        .map(|state| {
            let definition = state.engine.definition();
            (
                definition.file().id.clone(),
                definition.file().title.clone(),
            )
        })
        .collect();
    let index = move |uri: axum::http::Uri, headers: HeaderMap| {
        let pages = Arc::clone(&pages);
        let procedures = procedures.clone();
        async move {
            let lang = Lang::of(&uri, &headers, site);
            let list: Vec<(String, String)> = procedures
                .iter()
                .map(|(id, title)| {
                    (
                        lang.href(&format!("/{id}")),
                        title.get(lang.code()).to_owned(),
                    )
                })
                .collect();
            let page = serde_json::json!({ "procedures": list });
            let title = lang.t("procedures");
            pages.render("procedures.html", StatusCode::OK, lang, &title, &page)
        }
    };
    let staff = first.staff.clone();
    let prefixes: Vec<(String, String)> = states
        .iter()
        .map(|state| {
            let id = state.engine.definition().file().id.clone();
            (id, state.site().prefix.clone())
        })
        .collect();
    let password_link = move |axum::extract::Path(token): axum::extract::Path<String>,
                              uri: axum::http::Uri| {
        // The path as asked, under its procedure: `/<id>/staff/…`.
        let asked = uri.path_and_query().map_or("", |p| p.as_str());
        let to = format!("{}{asked}", member_prefix(&staff, &prefixes, &token));
        async move { axum::response::Redirect::to(&to) }
    };
    let mut all = Router::new()
        .route("/", get(index))
        .route("/health", get(|| async { "ok" }))
        .route("/static/guichet.css", get(stylesheet))
        .route("/static/guichet.js", get(script))
        .route("/staff/mot-de-passe/{token}", get(password_link));
    for state in states {
        let home = state.site().prefix.clone();
        // `/<id>/` as typed by people: the procedure's home.
        let typed = format!("{home}/");
        all = all
            .route(
                &typed,
                get(move || async move { axum::response::Redirect::permanent(&home) }),
            )
            .nest(&state.site().prefix, router(Arc::clone(state)));
    }
    Ok(all.layer(middleware::from_fn(security_headers)))
}

/// The prefix of the procedure whose staff the holder of password link
/// `token` belongs to: `guichet staff add` prints the link from the
/// server's root, which knows no procedure. The first procedure's when the
/// link names none of them (it says there why the link does not work).
fn member_prefix(
    staff: &crate::staff_store::StaffStore,
    prefixes: &[(String, String)],
    token: &str,
) -> String {
    let procedure = staff
        .accounts
        .check_token(token, jiff::Timestamp::now())
        .ok()
        .and_then(Result::ok)
        .and_then(|(id, _)| staff.rights(&id).ok())
        .and_then(|rights| rights.procedure);
    let named = procedure.and_then(|id| prefixes.iter().find(|(served, _)| *served == id));
    named
        .or(prefixes.first())
        .map(|(_, prefix)| prefix.clone())
        .unwrap_or_default()
}

/// Signing up, in and out, passwords, the email address, the dashboard.
fn account_routes() -> Router<App> {
    use password::{password_form, set_password};
    Router::new()
        .route(
            "/inscription",
            get(account::public_form).post(account::signup),
        )
        .route(
            "/connexion",
            get(account::public_form).post(account::signin),
        )
        .route("/deconnexion", post(account::signout))
        .route(
            "/mot-de-passe-oublie",
            get(account::public_form).post(password::forgot),
        )
        .route("/activation/{token}", get(password_form).post(set_password))
        .route(
            "/mot-de-passe/{token}",
            get(password_form).post(set_password),
        )
        .route(
            "/compte/email",
            get(account::email_form).post(account::change_email),
        )
        .route("/compte/email/{token}", get(account::confirm_email))
        .route("/compte/email/annuler/{token}", get(account::revert_email))
        .route("/tableau-de-bord", get(dashboard::dashboard))
}

/// The catalogue, applying, candidatures and their pieces.
///
/// A transition's id takes the place of a segment beside the pages' own
/// words (`/candidatures/{id}/{transition}`); an id never holds a `-` or a
/// `.`, so each word beside one holds either (`formulaire-complementaire`,
/// `fichier-envoye`, `dossier.pdf`) and no procedure's id can hide it.
fn candidature_routes() -> Router<App> {
    use candidature::{apply, apply_form, perform, piece_action, transition_form};
    // The handlers cut each upload at its own piece's limit, as the
    // sender's version of the definition sets it.
    let body_limit = DefaultBodyLimit::disable();
    let upload = post(uploads::upload).layer(body_limit);
    Router::new()
        .route("/formations", get(catalogue::catalogue))
        .route("/formations/{id}", get(catalogue::formation))
        .route("/formations/{id}/candidater", get(apply_form).post(apply))
        .route("/candidatures/{id}", get(candidature::candidature))
        .route("/candidatures/{id}/dossier.pdf", get(candidature::pdf))
        .route(
            "/candidatures/{id}/courrier/{letter}",
            get(candidature::letter),
        )
        .route(
            "/candidatures/{id}/formulaire-complementaire",
            get(complementary::show).post(complementary::save),
        )
        .route(
            "/candidatures/{id}/formulaire-complementaire/apercu",
            post(complementary::preview),
        )
        .route(
            "/candidatures/{id}/{transition}",
            get(transition_form).post(perform),
        )
        .route("/candidatures/{id}/pieces/{piece}", upload)
        .route(
            "/candidatures/{id}/pieces/{piece}/fichier-envoye",
            get(uploads::download),
        )
        .route(
            "/candidatures/{id}/pieces/{piece}/{transition}",
            post(piece_action),
        )
        .route("/candidatures/{id}/tiers/{role}", post(third_party::ask))
        .route(
            "/tiers/{token}",
            get(third_party::show)
                .post(third_party::send)
                .layer(body_limit),
        )
}

/// Uploads handled at once by a procedure; the others wait their turn
/// before their body is read (their bytes wait in the connection). Each
/// upload is held whole in memory while it is checked and stored: this
/// bounds that memory when hundreds arrive together on the last day.
pub const UPLOADS_AT_ONCE: usize = 16;

/// The dossier's sections, their entries, and the live preview of a form.
fn dossier_routes() -> Router<App> {
    use dossier::{remove_entry, save_entry, save_section, show_entry, show_section};
    Router::new()
        .route("/dossier/{section}", get(show_section).post(save_section))
        .route("/dossier/{section}/apercu", post(dossier::preview))
        .route(
            "/dossier/{section}/{entry}",
            get(show_entry).post(save_entry),
        )
        .route("/dossier/{section}/{entry}/supprimer", post(remove_entry))
}

/// Renders the page of every [`PageError`] response, in the visitor's language.
async fn error_pages(
    State(state): State<Arc<AppState>>,
    lang: Lang,
    request: Request,
    next: Next,
) -> Response {
    let response = next.run(request).await;
    error_page(&state, lang, response)
}

/// The page of `response` if it is a [`PageError`]'s, in `lang`; otherwise
/// `response` itself.
fn error_page(state: &AppState, lang: Lang, response: Response) -> Response {
    let Some(words) = error::ErrorWords::of(&response) else {
        return response;
    };
    let mut message = lang.t(words.text);
    if let Some(seconds) = words.seconds {
        message = message.replace("{seconds}", &seconds.to_string());
    }
    let page = error::MessagePage {
        heading: lang.t(words.heading),
        message,
        link: words.link.map(|(label, path)| error::Link {
            label: lang.t(label),
            href: lang.href(path),
        }),
    };
    state.render(lang, words.template, response.status(), &page)
}

/// The pages' policy: nothing but this server's own files, no framing; the
/// styles of `style_nonce` also, for a page whose script writes its own
/// (the definition editor).
pub fn content_security_policy(style_nonce: Option<&str>) -> String {
    let styles = style_nonce.map_or_else(String::new, |nonce| format!(" 'nonce-{nonce}'"));
    format!(
        "default-src 'self'; script-src 'self'; style-src 'self'{styles}; img-src 'self' data:; \
         form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    )
}

/// Headers every response carries: no inline script, no framing, no sniffing.
async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    // A response that set its own policy (a piece shown inline) keeps it.
    let set = |headers: &mut HeaderMap, name: &'static str, value: &'static str| {
        if !headers.contains_key(name) {
            headers.insert(name, HeaderValue::from_static(value));
        }
    };
    if !headers.contains_key("content-security-policy") {
        if let Ok(policy) = HeaderValue::from_str(&content_security_policy(None)) {
            headers.insert("content-security-policy", policy);
        }
    }
    set(headers, "x-content-type-options", "nosniff");
    set(headers, "x-frame-options", "DENY");
    set(headers, "referrer-policy", "same-origin");
    response
}

/// The most a form (not an upload) may hold, read before its handler runs:
/// axum's own default limit, which the handlers then apply.
const FORM_LIMIT: usize = 2 << 20;

/// Reads a posted form whole before the handler runs. A request refused
/// before its body is read (a 401 without a session, a 404 outside one's
/// scope) would otherwise end its connection while the browser is still
/// sending: the browser would show a reset connection instead of the page.
/// Uploads (multipart) are read by their handler, which cuts them at the
/// piece's limit.
async fn read_forms_first(request: Request, next: Next) -> Response {
    let is_form = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    match axum::body::to_bytes(body, FORM_LIMIT).await {
        Ok(bytes) => next.run(Request::from_parts(parts, bytes.into())).await,
        Err(_) => StatusCode::PAYLOAD_TOO_LARGE.into_response(),
    }
}

/// What a signed-in visitor is shown is theirs alone: no cache, shared or
/// the browser's, keeps it (static assets say otherwise for themselves).
async fn private_pages(request: Request, next: Next) -> Response {
    let signed_in = [session::SESSION_COOKIE, session::STAFF_SESSION_COOKIE]
        .iter()
        .any(|name| session::cookie(request.headers(), name).is_some());
    let mut response = next.run(request).await;
    if signed_in && !response.headers().contains_key(header::CACHE_CONTROL) {
        let no_store = HeaderValue::from_static("no-store");
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, no_store);
    }
    response
}

/// A language chosen with `?lang=` is kept (a cookie) for pages reached
/// without it.
async fn remember_language(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    let kept = session::cookie(request.headers(), session::LANGUAGE_COOKIE);
    let chosen =
        Lang::chosen(request.uri(), state.site()).filter(|l| kept.as_deref() != Some(l.code()));
    let response = next.run(request).await;
    let cookie = chosen.map(|lang| {
        let year = Some(365 * 24 * 3600);
        let secure = state.secure_cookies;
        session::set_cookie(secure, session::LANGUAGE_COOKIE, lang.code(), "Lax", year)
    });
    session::with_cookie(response, cookie)
}

/// A formation as the home page lists it.
#[derive(Serialize)]
struct Listed<'a> {
    title: &'a str,
    composante: Option<String>,
}

#[derive(Serialize)]
struct HomePage<'a> {
    opens: &'a str,
    closes: &'a str,
    open: bool,
    formations: Vec<Listed<'a>>,
}

/// `GET /`: the procedure, its campaign and its catalogue.
async fn home(visit: Visit) -> Response {
    let (definition, lang) = (visit.state.engine.definition(), visit.lang);
    let file = definition.file();
    let page = HomePage {
        opens: &file.campaign.opens,
        closes: &file.campaign.closes,
        open: definition.campaign_is_open(visit.state.clock.now()),
        formations: file
            .formations
            .iter()
            .map(|f| Listed {
                title: f.title.get(lang.code()),
                composante: catalogue::composante_label(
                    &definition,
                    f.composante.as_deref(),
                    lang.code(),
                ),
            })
            .collect(),
    };
    visit.render("home.html", StatusCode::OK, &page)
}

async fn health(State(state): State<Arc<AppState>>) -> Response {
    let engine = Arc::clone(&state.engine);
    let readable = error::blocking(move || engine.dossier("health-check").is_ok())
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

/// An embedded asset; its URL carries the content's hash, so it can be kept
/// for a year.
pub fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
        ],
        body,
    )
        .into_response()
}

async fn stylesheet() -> Response {
    asset("text/css; charset=utf-8", pages::STYLESHEET)
}

async fn script() -> Response {
    asset("text/javascript; charset=utf-8", pages::SCRIPT)
}

async fn not_found() -> PageError {
    PageError::NotFound
}
