//! The staff's side: sign-in, the list of candidatures in a member's scope,
//! a candidature's sent copy with the actions their roles give, bulk
//! actions, exports, the formations' dashboard and the team page.
//!
//! Every page is generated from the definition's roles, states, transitions
//! and pieces. Access is checked by the extractors, on every request: a
//! candidature outside the member's scope, or in a state their roles do not
//! see, is a 404 (nothing tells it exists); an action their roles do not
//! give is refused by the engine, with nothing written.

mod archive;
mod bulk;
mod candidature;
mod editor;
mod export;
mod formations;
mod list;
mod member;
mod runs;
mod signin;
mod team;
mod versions;
pub mod words;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;

use super::state::App;

/// The staff's routes, under `/staff`.
///
/// As on the candidate's side (`candidature_routes`), a word beside a
/// transition's id in an address holds a `-` (`fichier-envoye`), which no
/// id holds: a procedure naming a piece's transition `fichier` reaches it.
pub fn routes() -> Router<App> {
    use candidature::{file, note, piece_action, show, transition, transition_form};
    Router::new()
        .route("/staff", get(list::list))
        .route("/staff/connexion", get(signin::form).post(signin::sign_in))
        .route("/staff/deconnexion", post(signin::sign_out))
        .route(
            "/staff/mot-de-passe/{token}",
            get(signin::password_form).post(signin::set_password),
        )
        .route("/staff/export.csv", get(export::csv))
        .route("/staff/export.xlsx", get(export::xlsx))
        .route("/staff/lot", post(bulk::confirm))
        .route("/staff/archive", post(archive::start))
        .route("/staff/archive/{id}", get(archive::progress))
        .route("/staff/archive/{id}/fichier", get(archive::download))
        .route("/staff/lot/appliquer", post(bulk::apply))
        .route("/staff/formations", get(formations::dashboard))
        .route("/staff/equipe", get(team::page).post(team::add))
        .route("/staff/equipe/{id}", post(team::change))
        .route("/staff/versions", get(versions::page))
        .route("/staff/editeur", get(editor::page))
        .route("/staff/editeur/schema.json", get(editor::schema))
        .route("/staff/editeur/verifier", post(editor::check))
        .route("/staff/editeur/scenarios", post(editor::play))
        .route("/staff/editeur/apercu", post(editor::preview))
        .route("/staff/editeur/apercu/page", post(editor::page_preview))
        .route("/staff/editeur/publier", post(editor::publish))
        .route("/staff/editeur/retour", post(editor::back))
        .route("/static/editor.js", get(editor::script))
        .route("/staff/versions/migrer", post(versions::migrate))
        .route("/staff/versions/{hash}", post(versions::restore))
        .route("/staff/candidatures/{dossier}/{candidature}", get(show))
        .route(
            "/staff/candidatures/{dossier}/{candidature}/note",
            post(note),
        )
        .route(
            "/staff/candidatures/{dossier}/{candidature}/dossier.pdf",
            get(candidature::pdf),
        )
        .route(
            "/staff/candidatures/{dossier}/{candidature}/courrier/{letter}",
            get(candidature::issued_letter),
        )
        .route(
            "/staff/candidatures/{dossier}/{candidature}/transitions/{transition}",
            get(transition_form).post(transition),
        )
        .route(
            "/staff/candidatures/{dossier}/{candidature}/pieces/{piece}/fichier-envoye",
            get(file),
        )
        .route(
            "/staff/candidatures/{dossier}/{candidature}/pieces/{piece}/{transition}",
            post(piece_action),
        )
        .route(
            "/staff/candidatures/{dossier}/{candidature}/pieces/{piece}/lettres/{entry}",
            get(candidature::letter),
        )
        // Staff forms hold text (a note, a reason), never files.
        .layer(DefaultBodyLimit::max(256 * 1024))
}
