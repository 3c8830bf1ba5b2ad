//! The candidate's dashboard: who they are, where each section of the dossier
//! stands, each candidature with what to do next, and what happened.

use axum::http::StatusCode;
use axum::response::Response;
use guichet_engine::{Definition, Dossier, Event, SectionState};
use jiff::Timestamp;
use serde::Serialize;

use super::error::PageError;
use super::extract::{SignedIn, Visit};
use super::history::{describe, next_step, HistoryLine, Reader};
use super::site::Lang;
use crate::account_store::Account;

#[derive(Serialize)]
struct Who<'a> {
    first_name: &'a str,
    last_name: &'a str,
    email: &'a str,
}

#[derive(Serialize)]
struct SectionLine<'a> {
    id: &'a str,
    title: &'a str,
    complete: bool,
}

#[derive(Serialize)]
struct CandidatureLine<'a> {
    id: &'a str,
    formation: &'a str,
    state: &'a str,
    next: String,
}

#[derive(Serialize)]
struct DashboardPage<'a> {
    account: Who<'a>,
    sections: Vec<SectionLine<'a>>,
    candidatures: Vec<CandidatureLine<'a>>,
    history: Vec<HistoryLine>,
}

/// Each section of `definition`'s profile, complete as `states` say (none
/// is without a dossier, or when its conditions could not be evaluated).
fn sections<'a>(
    definition: &'a Definition,
    states: &[SectionState],
    lang: Lang,
) -> Vec<SectionLine<'a>> {
    definition
        .file()
        .profile
        .iter()
        .map(|s| SectionLine {
            id: &s.id,
            title: s.title.get(lang.code()),
            complete: states
                .iter()
                .any(|state| state.section == s.id && state.complete),
        })
        .collect()
}

fn candidatures<'a>(
    definition: &'a Definition,
    dossier: &'a Dossier,
    (lang, now): (Lang, Timestamp),
) -> Vec<CandidatureLine<'a>> {
    dossier
        .candidatures
        .iter()
        .map(|c| CandidatureLine {
            id: &c.id,
            formation: definition
                .formation(&c.formation)
                .map_or(c.formation.as_str(), |f| f.title.get(lang.code())),
            state: definition.state_label(&c.state, lang.code()),
            next: next_step(definition, dossier, c, (lang, now)),
        })
        .collect()
}

/// `GET /tableau-de-bord`
pub async fn dashboard(visit: Visit, SignedIn(account): SignedIn) -> Result<Response, PageError> {
    let state = &visit.state;
    let dossier = match state.dossier_id(&account) {
        Some(id) => state.engine.dossier(&id)?,
        None => None,
    };
    // The dossier's own definition version decides its sections.
    let definition = dossier
        .as_ref()
        .map_or_else(|| state.engine.definition(), |d| state.definition_of(d));
    let history = match &dossier {
        Some(d) => state.engine.history_without_changes(&d.id)?,
        None => Vec::new(),
    };
    let profile = dossier.as_ref().and_then(|d| {
        let now = state.clock.now();
        state.engine.profile_state(&definition, d, now).ok()
    });
    Ok(render_dashboard(
        &visit,
        &account,
        (&definition, dossier.as_ref()),
        (&history, profile.as_deref().unwrap_or_default()),
    ))
}

/// The dashboard of `account`, whose dossier (if any) follows `definition`,
/// with what happened to it and where its profile stands.
pub fn render_dashboard(
    visit: &Visit,
    account: &Account,
    (definition, dossier): (&Definition, Option<&Dossier>),
    (history, profile): (&[Event], &[SectionState]),
) -> Response {
    let lang = visit.lang;
    let now = visit.state.clock.now();
    let history = match dossier {
        Some(_) => describe(definition, history, lang, Reader::Candidate),
        None => Vec::new(),
    };
    let page = DashboardPage {
        account: Who {
            first_name: &account.first_name,
            last_name: &account.last_name,
            email: &account.email,
        },
        sections: sections(definition, profile, lang),
        candidatures: dossier
            .map(|d| candidatures(definition, d, (lang, now)))
            .unwrap_or_default(),
        history,
    };
    visit.render_form("dashboard.html", StatusCode::OK, &page)
}
