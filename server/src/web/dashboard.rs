//! The candidate's dashboard: who they are, where each section of the dossier
//! stands, each candidature with what to do next, and what happened.

use std::fmt::Write;

use axum::extract::rejection::QueryRejection;
use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::Response;
use guichet_engine::{Definition, Dossier, Event, SectionState};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::error::PageError;
use super::extract::{SignedIn, Visit};
use super::history::{history_html, next_step, Reader};
use super::site::{Escaped, Lang};
use crate::account_store::Account;

#[derive(Serialize)]
struct Who<'a> {
    first_name: &'a str,
    last_name: &'a str,
    email: &'a str,
}

#[derive(Serialize)]
struct DashboardPage<'a> {
    account: Who<'a>,
    /// The dossier's sections, each a list item: its page, and whether it
    /// is complete.
    sections: minijinja::Value,
    /// The candidatures, each a list item: its page, where it stands and
    /// what comes next; nothing when there is none.
    candidatures: minijinja::Value,
    /// What happened to the dossier lately; nothing when there is no
    /// dossier.
    history: minijinja::Value,
    /// Whether the dashboard shows only the latest events: it then links
    /// to the page of the whole history.
    more_history: bool,
}

/// How many of the latest events the dashboard shows: a dossier's history
/// grows with every save, upload and decision, and the rest has its own
/// page.
const LATEST_EVENTS: usize = 10;

// The lists below are written here rather than in the template, as the
// pieces are (see `super::pieces`): each line's link and words evaluated in
// the template were a good part of the dashboard's time. Every value goes
// through `Escaped`, which escapes as the templates do, and each link is
// written as the templates' `href` writes it.

/// Each section of `definition`'s profile, complete as `states` say (none
/// is without a dossier, or when its conditions could not be evaluated).
fn sections_html(definition: &Definition, states: &[SectionState], lang: Lang) -> String {
    let (complete, to_fill) = (
        Escaped(lang.word("complete")),
        Escaped(lang.word("to_fill")),
    );
    let mut html = String::with_capacity(128 * definition.file().profile.len());
    for section in &definition.file().profile {
        let done = states
            .iter()
            .any(|state| state.section == section.id && state.complete);
        // Writing to a `String` cannot fail.
        let _ = writeln!(
            html,
            "<li><a href=\"{}\">{}</a> — {}</li>",
            lang.href_attribute(&format!("/dossier/{}", section.id)),
            Escaped(section.title.get(lang.code())),
            if done { &complete } else { &to_fill },
        );
    }
    html
}

/// Each candidature of `dossier`, with where it stands and the next thing
/// its candidate can do.
fn candidatures_html(
    definition: &Definition,
    dossier: &Dossier,
    (lang, now): (Lang, Timestamp),
) -> String {
    let mut html = String::with_capacity(256 * dossier.candidatures.len());
    for candidature in &dossier.candidatures {
        let formation = definition
            .formation(&candidature.formation)
            .map_or(candidature.formation.as_str(), |f| f.title.get(lang.code()));
        // Writing to a `String` cannot fail.
        let _ = write!(
            html,
            "<li><a href=\"{}\">{}</a> — {}",
            lang.href_attribute(&format!("/candidatures/{}", candidature.id)),
            Escaped(formation),
            Escaped(definition.state_label(&candidature.state, lang.code())),
        );
        let next = next_step(definition, dossier, candidature, (lang, now));
        if !next.is_empty() {
            let _ = write!(
                html,
                "<br><span class=\"next\">{} {}</span>",
                Escaped(lang.word("next_step")),
                Escaped(&next)
            );
        }
        html.push_str("</li>");
    }
    html
}

/// `GET /tableau-de-bord`
pub async fn dashboard(visit: Visit, SignedIn(account): SignedIn) -> Result<Response, PageError> {
    let state = &visit.state;
    let dossier = state.dossier_of(&account)?;
    // The dossier's own definition version decides its sections.
    let definition = dossier
        .as_ref()
        .map_or_else(|| state.engine.definition(), |d| state.definition_of(d));
    let read = |event: &Event| Reader::Candidate.reads(event);
    let history = match &dossier {
        Some(d) => state
            .engine
            .latest_history(&d.id, None, LATEST_EVENTS, &read)?,
        None => Vec::new(),
    };
    let profile = dossier.as_ref().and_then(|d| {
        let now = state.clock.now();
        state.engine.profile_state(&definition, d, now).ok()
    });
    Ok(render_dashboard(
        &visit,
        &account,
        (&definition, dossier.as_deref()),
        (&history, profile.as_deref().unwrap_or_default()),
    ))
}

/// The dashboard of `account`, whose dossier (if any) follows `definition`,
/// with what happened to it (its latest events, or all of them; oldest
/// first) and where its profile stands.
pub fn render_dashboard(
    visit: &Visit,
    account: &Account,
    (definition, dossier): (&Definition, Option<&Dossier>),
    (history, profile): (&[Event], &[SectionState]),
) -> Response {
    let lang = visit.lang;
    let now = visit.state.clock.now();
    let latest = &history[history.len().saturating_sub(LATEST_EVENTS)..];
    let more_history = older_than(latest).is_some();
    let page = DashboardPage {
        account: Who {
            first_name: &account.first_name,
            last_name: &account.last_name,
            email: &account.email,
        },
        sections: minijinja::Value::from_safe_string(sections_html(definition, profile, lang)),
        candidatures: minijinja::Value::from_safe_string(
            dossier
                .map(|d| candidatures_html(definition, d, (lang, now)))
                .unwrap_or_default(),
        ),
        history: history_html(definition, latest, lang, Reader::Candidate),
        more_history,
    };
    visit.render_form("dashboard.html", StatusCode::OK, &page)
}

/// The version the events before `shown` (oldest first) stop at, when
/// there are some: a dossier's first event, its making, is one the
/// candidate reads, so when the oldest shown is another, there are more.
fn older_than(shown: &[Event]) -> Option<u64> {
    let oldest = shown.first()?;
    oldest.command.is_some().then_some(oldest.version)
}

/// How many events a page of the whole history shows.
pub const HISTORY_PAGE: usize = 100;

#[derive(Serialize)]
struct HistoryPage {
    history: minijinja::Value,
    /// The page of the events before these, when there are some.
    older: Option<minijinja::Value>,
    /// The first page, from a page further back.
    newest: Option<minijinja::Value>,
}

/// The page of the history asked for: the events before a version.
#[derive(Deserialize)]
pub struct HistoryQuery {
    avant: Option<u64>,
}

/// `GET /tableau-de-bord/historique[?avant=VERSION]`: what happened to the
/// candidate's dossier, newest first, a page of [`HISTORY_PAGE`] events
/// at a time (those before version `avant`, from an older page's link).
pub async fn whole_history(
    visit: Visit,
    SignedIn(account): SignedIn,
    asked: Result<Query<HistoryQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let state = &visit.state;
    let dossier = state.dossier_of(&account)?;
    let lang = visit.lang;
    // A mistyped page number shows the first page.
    let before = asked.ok().and_then(|Query(asked)| asked.avant);
    let read = |event: &Event| Reader::Candidate.reads(event);
    let link = |path: String| minijinja::Value::from_safe_string(lang.href_attribute(&path));
    let mut page = HistoryPage {
        history: minijinja::Value::from_safe_string(String::new()),
        older: None,
        newest: before.map(|_| link("/tableau-de-bord/historique".into())),
    };
    if let Some(dossier) = &dossier {
        let events = state
            .engine
            .latest_history(&dossier.id, before, HISTORY_PAGE, &read)?;
        page.older = older_than(&events)
            .map(|version| link(format!("/tableau-de-bord/historique?avant={version}")));
        let definition = state.definition_of(dossier);
        page.history = history_html(&definition, &events, lang, Reader::Candidate);
    }
    Ok(visit.render("history.html", StatusCode::OK, &page))
}
