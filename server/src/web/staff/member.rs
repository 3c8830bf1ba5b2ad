//! Who is asking, on the staff's side: a signed-in member of this
//! procedure ([`Staff`]), and a candidature they may see ([`SeenCandidature`]),
//! checked on every request before a handler runs.

use std::sync::Arc;

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use guichet_engine::{Actor, Candidature, Definition, Dossier};

use crate::staff_store::StaffMember;
use crate::web::error::PageError;
use crate::web::extract::Visit;
use crate::web::session::{cookie, STAFF_SESSION_COOKIE};
use crate::web::state::App;

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
        let staff = minijinja::context! {
            name => self.member.name(),
            admin => self.member.rights.admin,
        };
        self.visit
            .render_form_adding(template, status, vec![("staff", staff)], |_| page)
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
    pub dossier: Arc<Dossier>,
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
