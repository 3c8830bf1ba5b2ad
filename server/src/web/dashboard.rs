//! The candidate's dashboard: who they are, where each section of the dossier
//! stands, each candidature with what to do next, and what happened.

use axum::http::StatusCode;
use axum::response::Response;
use std::fmt::{self, Write};

use guichet_engine::{Candidature, Definition, Dossier, Event, SectionState};
use jiff::Timestamp;
use minijinja::HtmlEscape;
use serde::Serialize;

use super::error::PageError;
use super::extract::{SignedIn, Visit};
use super::history::{describe, next_step, HistoryLine, Reader};
use super::pages::push_link;
use super::site::Lang;
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
    /// The dossier's sections, each linked, and whether it is complete.
    sections_html: minijinja::Value,
    /// The candidatures, each linked, where it stands and what comes next.
    candidatures_html: minijinja::Value,
    history: Vec<HistoryLine>,
}

/// Each section of `definition`'s profile, complete as `states` say (none
/// is without a dossier, or when its conditions could not be evaluated),
/// as list items.
///
/// Written here rather than in the template, as the candidature's pieces
/// are: a link and a test per line was half of the dashboard's rendering.
fn sections_html(definition: &Definition, states: &[SectionState], lang: Lang) -> minijinja::Value {
    let (complete, to_fill) = (lang.t("complete"), lang.t("to_fill"));
    let mut html = String::with_capacity(definition.file().profile.len() * 120);
    for section in &definition.file().profile {
        let done = states
            .iter()
            .any(|state| state.section == section.id && state.complete);
        html.push_str("<li><a href=\"");
        push_link(&mut html, &lang.href(&format!("/dossier/{}", section.id)));
        let word = if done { &complete } else { &to_fill };
        // Writing to a `String` cannot fail.
        let _ = writeln!(
            html,
            "\">{}</a> — {}</li>",
            HtmlEscape(section.title.get(lang.code())),
            HtmlEscape(word)
        );
    }
    minijinja::Value::from_safe_string(html)
}

/// The candidatures of `dossier` (none without one), each with its
/// formation, status and next step; a sentence when there are none.
fn candidatures_html(
    definition: &Definition,
    dossier: Option<&Dossier>,
    (lang, now): (Lang, Timestamp),
) -> minijinja::Value {
    let candidatures = dossier.map_or(&[][..], |d| d.candidatures.as_slice());
    let mut html = String::with_capacity(candidatures.len() * 240 + 64);
    let _ = write_candidatures(&mut html, definition, dossier, candidatures, (lang, now));
    minijinja::Value::from_safe_string(html)
}

fn write_candidatures(
    html: &mut String,
    definition: &Definition,
    dossier: Option<&Dossier>,
    candidatures: &[Candidature],
    (lang, now): (Lang, Timestamp),
) -> fmt::Result {
    let (Some(dossier), false) = (dossier, candidatures.is_empty()) else {
        return write!(html, "<p>{}</p>", HtmlEscape(&lang.t("no_candidature")));
    };
    let next_words = lang.t("next_step");
    html.push_str("<ul>");
    for c in candidatures {
        let formation = definition
            .formation(&c.formation)
            .map_or(c.formation.as_str(), |f| f.title.get(lang.code()));
        let state = definition
            .state(&c.state)
            .map_or(c.state.as_str(), |s| s.label.get(lang.code()));
        html.push_str("<li><a href=\"");
        push_link(html, &lang.href(&format!("/candidatures/{}", c.id)));
        write!(
            html,
            "\">{}</a> — {}",
            HtmlEscape(formation),
            HtmlEscape(state)
        )?;
        let next = next_step(definition, dossier, c, (lang, now));
        if !next.is_empty() {
            write!(
                html,
                "<br><span class=\"next\">{} {}</span>",
                HtmlEscape(&next_words),
                HtmlEscape(&next)
            )?;
        }
        html.push_str("</li>");
    }
    html.push_str("</ul>");
    Ok(())
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
        Some(d) => state.engine.history(&d.id)?,
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
        sections_html: sections_html(definition, profile, lang),
        candidatures_html: candidatures_html(definition, dossier, (lang, now)),
        history,
    };
    visit.render_form("dashboard.html", StatusCode::OK, &page)
}
