//! The HTTP layer: a thin shell over the engine.
//!
//! Handlers take what they need from extractors ([`extract`]: the page
//! language, the signed-in candidate and their dossier, a CSRF-checked form),
//! ask the engine (commands, and the queries that say what an actor may do),
//! and answer with a typed page or a [`PageError`], which one layer renders.
//!
//! This module holds the routes; the handlers are below it, and what they
//! share below them: the procedure's [`state`], its pages' [`site`] and the
//! [`layers`] every response passes through. Nothing below imports the
//! routes.

mod account;
pub(crate) mod archives;
mod candidature;
mod catalogue;
mod complementary;
mod dashboard;
mod dossier;
mod dossier_pdf;
mod error;
mod extract;
mod fields;
pub(crate) mod forms;
mod history;
mod layers;
mod links;
mod pages;
mod password;
mod pieces;
pub mod preview;
mod reading;
pub(crate) mod session;
mod site;
mod staff;
pub(crate) mod state;
mod third_party;
mod uploads;
pub(crate) mod words;

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Serialize;

use error::PageError;
use extract::Visit;
use layers::{error_pages, private_pages, read_forms_first, remember_language, security_headers};
use pages::{script, stylesheet, Pages};
use site::{Lang, Site};
use state::{App, AppState};

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
    let site = Site::kept(Site {
        languages: first.site().languages.clone(),
        ..Default::default()
    });
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
        .route("/tableau-de-bord/historique", get(dashboard::whole_history))
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
    // Read on the request's own thread, as a signed-in page's session is: a
    // lookup in sled's cache costs less than the blocking pool's hand-over,
    // which was most of this answer's time.
    let readable = state.engine.dossier("health-check").is_ok();
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

async fn not_found() -> PageError {
    PageError::NotFound
}
