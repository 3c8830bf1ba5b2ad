//! The staff's side: sign-in, the list of candidatures in a member's scope,
//! a candidature's sent copy with the actions their roles give, bulk
//! actions, exports, the formations' dashboard and the team page.
//!
//! Every page is generated from the definition's roles, states, transitions
//! and pieces. Access is checked by the extractors, on every request: a
//! candidature outside the member's scope, or in a state their roles do not
//! see, is a 404 (nothing tells it exists); an action their roles do not
//! give is refused by the engine, with nothing written.

pub mod archive;
mod bulk;
mod candidature;
mod editor;
mod export;
mod formations;
mod list;
mod signin;
mod team;
mod versions;
pub mod words;

pub(super) use candidature::section_view;

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, FromRequestParts, Path};
use axum::http::request::Parts;
use axum::routing::{get, post};
use axum::Router;
use guichet_engine::{Actor, Candidature, Definition, Dossier};

use super::error::PageError;
use super::extract::Visit;
use super::session::{cookie, STAFF_SESSION_COOKIE};
use super::App;
use crate::staff_store::StaffMember;

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

/// A signed-in, enabled staff member, with the visit; a 401 page (the staff
/// sign-in) otherwise. A candidate's session is not a staff session.
pub struct Staff {
    /// The visit (language, headers).
    pub visit: Visit,
    /// Who, with their rights.
    pub member: StaffMember,
}

impl FromRequestParts<App> for Staff {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &App) -> Result<Self, PageError> {
        let id =
            cookie(&parts.headers, STAFF_SESSION_COOKIE).ok_or(PageError::StaffSignInNeeded)?;
        // On the request's own thread, as a candidate's session (see
        // `SignedIn`): reads from sled's cache.
        let session = state.staff.accounts.session(&id, jiff::Timestamp::now())?;
        let member = match session {
            Some(session) => state.staff.member(&session.account)?,
            None => None,
        };
        let member = member
            .filter(|m| !m.rights.disabled)
            .ok_or(PageError::StaffSignInNeeded)?;
        // Signed in for another procedure of this server: nothing of this one.
        if !member.rights.works_in(state.procedure.as_deref()) {
            return Err(PageError::Forbidden);
        }
        let Ok(visit) = Visit::from_request_parts(parts, state).await;
        Ok(Staff { visit, member })
    }
}

#[derive(serde::Serialize)]
struct WithMember<'a, T> {
    staff: MemberView,
    #[serde(flatten)]
    page: &'a T,
}

#[derive(serde::Serialize)]
struct MemberView {
    name: String,
    admin: bool,
}

impl Staff {
    /// Nothing, for an administrator; forbidden to anyone else.
    pub fn admin(&self) -> Result<(), PageError> {
        if self.member.rights.admin {
            Ok(())
        } else {
            Err(PageError::Forbidden)
        }
    }

    /// Renders a staff page: the menu (with the member's name, and the team
    /// page for administrators) and the forms' CSRF token come with it.
    pub fn render<T: serde::Serialize>(
        &self,
        template: &str,
        status: axum::http::StatusCode,
        page: &T,
    ) -> axum::response::Response {
        let staff = MemberView {
            name: self.member.name(),
            admin: self.member.rights.admin,
        };
        self.visit
            .render_form(template, status, &WithMember { staff, page })
    }

    /// Whether the member may see candidatures of `formation` in `state`:
    /// the formation is in their scope, and the state is visible to one of
    /// their roles (or to all staff).
    pub fn sees(&self, definition: &Definition, formation: &str, state: &str) -> bool {
        let rights = &self.member.rights;
        rights.covers(definition, formation) && rights.sees_state(definition, state)
    }

    /// The member acting with `role` (one they hold), named in history.
    pub fn actor(&self, role: &str) -> Actor {
        Actor::new(role, &self.member.account.id).named(self.member.name())
    }

    /// The staff roles the member holds, in the definition's order: those
    /// they act with.
    pub fn roles<'d>(&self, definition: &'d Definition) -> Vec<&'d str> {
        let roles = self.member.rights.staff_roles(definition);
        roles.into_iter().map(|r| r.id.as_str()).collect()
    }
}

/// A candidature the signed-in member may see, with its dossier and the
/// definition version the dossier follows; a 404 page otherwise.
pub struct SeenCandidature {
    /// The member.
    pub staff: Staff,
    /// The dossier.
    pub dossier: Dossier,
    /// The candidature's id.
    pub id: String,
    /// The dossier's definition version.
    pub definition: Arc<Definition>,
}

impl SeenCandidature {
    /// The candidature.
    pub fn candidature(&self) -> Result<&Candidature, PageError> {
        self.dossier
            .candidatures
            .iter()
            .find(|c| c.id == self.id)
            .ok_or(PageError::NotFound)
    }

    /// Its page's path.
    pub fn path(&self) -> String {
        format!("/staff/candidatures/{}/{}", self.dossier.id, self.id)
    }
}

impl FromRequestParts<App> for SeenCandidature {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &App) -> Result<Self, PageError> {
        let staff = Staff::from_request_parts(parts, state).await?;
        let Path(at) = Path::<Vec<(String, String)>>::from_request_parts(parts, state)
            .await
            .map_err(|_| PageError::NotFound)?;
        let named = |key: &str| at.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
        let (Some(dossier_id), Some(id)) = (named("dossier"), named("candidature")) else {
            return Err(PageError::NotFound);
        };
        let dossier = state
            .engine
            .dossier(&dossier_id)?
            .ok_or(PageError::NotFound)?;
        let definition = state.definition_of(&dossier);
        let seen = SeenCandidature {
            staff,
            dossier,
            id,
            definition,
        };
        let candidature = seen.candidature()?;
        if !seen
            .staff
            .sees(&seen.definition, &candidature.formation, &candidature.state)
        {
            return Err(PageError::NotFound);
        }
        Ok(seen)
    }
}
