//! One transition applied to several candidatures of the list: a
//! confirmation page that says how many will change and which cannot (and
//! why, in the guard's words), then each candidature as its own durable
//! command, and a page of what came of each.

use std::sync::Arc;

use axum::http::StatusCode;
use guichet_engine::{Candidature, Command, Dossier};
use serde::Serialize;

use super::super::error::{blocking, PageError, PageResult};
use super::super::extract::CsrfForm;
use super::super::history::concerns;
use super::super::words::refusal;
use super::candidature::{actions_of, role_for};
use super::list::bulk_transitions;
use super::member::Staff;
use crate::web::state::AppState;

/// Most candidatures one bulk action takes (a list page shows 50).
const MAX_SELECTED: usize = 500;

#[derive(Serialize)]
struct Line {
    key: String,
    name: String,
    formation: String,
    href: String,
    reason: Option<String>,
}

#[derive(Serialize)]
struct BulkPage {
    heading: String,
    transition: String,
    /// Those that change (or will, on the confirmation page)…
    changing: Vec<Line>,
    /// …and those that do not, each with why.
    unchanged: Vec<Line>,
    action: String,
    back: String,
    confirming: bool,
}

/// A selected candidature the member sees, with its dossier.
struct Selected {
    dossier: Arc<Dossier>,
    candidature: String,
    /// The dossier's version the confirmation page showed it at (none from
    /// the list's own form).
    shown_at: Option<u64>,
}

impl Selected {
    fn candidature(&self) -> Option<&Candidature> {
        let id = &self.candidature;
        self.dossier.candidatures.iter().find(|c| &c.id == id)
    }
}

/// The candidatures `keys` (`dossier/candidature`) name that `staff` sees;
/// the others are left out, as if they did not exist.
fn selected(state: &AppState, staff: &Staff, keys: &[String]) -> Result<Vec<Selected>, PageError> {
    let mut found = Vec::new();
    for key in keys.iter().take(MAX_SELECTED) {
        // `dossier/candidature`, and `/version` from the confirmation page.
        let mut parts = key.split('/');
        let (Some(dossier_id), Some(candidature)) = (parts.next(), parts.next()) else {
            continue;
        };
        let shown_at = parts.next().and_then(|version| version.parse().ok());
        let Some(dossier) = state.engine.dossier(dossier_id)? else {
            continue;
        };
        let definition = state.definition_of(&dossier);
        let seen = dossier
            .candidatures
            .iter()
            .find(|c| c.id == candidature)
            .is_some_and(|c| staff.sees(&definition, &c.formation, &c.state));
        if seen {
            found.push(Selected {
                dossier,
                candidature: candidature.to_owned(),
                shown_at,
            });
        }
    }
    Ok(found)
}

fn line(
    state: &AppState,
    selected: &Selected,
    reason: Option<String>,
    lang: super::super::site::Lang,
) -> Line {
    let definition = state.definition_of(&selected.dossier);
    let formation = selected
        .candidature()
        .and_then(|c| definition.formation(&c.formation))
        .map_or(String::new(), |f| f.title.get(lang.code()).to_owned());
    let candidate = &selected.dossier.candidate;
    let (dossier, version) = (&selected.dossier.id, selected.dossier.version);
    Line {
        key: format!("{dossier}/{}/{version}", selected.candidature),
        name: format!(
            "{} {}",
            candidate.last_name.to_uppercase(),
            candidate.first_name
        ),
        formation,
        href: lang.href(&format!(
            "/staff/candidatures/{}/{}",
            selected.dossier.id, selected.candidature
        )),
        reason,
    }
}

/// Whether the member may take `transition` on `selected` now: the role
/// they take it with, or why not in words.
fn decide(
    staff: &Staff,
    selected: &Selected,
    transition: &str,
) -> Result<Result<String, String>, PageError> {
    let state = &staff.visit.state;
    let lang = staff.visit.lang;
    let definition = state.definition_of(&selected.dossier);
    let Some(candidature) = selected.candidature() else {
        return Ok(Err(lang.t("staff_bulk_not_here")));
    };
    let actions = actions_of(staff, &definition, &selected.dossier, candidature)?;
    let Some(role) = role_for(&actions, transition, None) else {
        return Ok(Err(lang.t("staff_bulk_not_from_state")));
    };
    let action = actions
        .iter()
        .find_map(|(_, a)| a.transition(transition).filter(|a| a.allowed));
    Ok(match action {
        Some(_) => Ok(role),
        None => {
            let refused = actions.iter().find_map(|(_, a)| a.transition(transition));
            let words = refused.and_then(|a| a.refusal.as_ref());
            Err(words.map_or_else(|| lang.t("refused_now"), |w| w.get(lang.code()).to_owned()))
        }
    })
}

/// Whether anything happened to the selected candidature since the
/// confirmation page showed it: the member confirmed what that page said,
/// and a colleague's decision (or note) in between would otherwise be
/// acted over unseen, as on a candidature's own page.
fn changed_since_shown(state: &AppState, selected: &Selected) -> Result<bool, PageError> {
    let (Some(shown_at), Some(candidature)) = (selected.shown_at, selected.candidature()) else {
        return Ok(false);
    };
    if shown_at >= selected.dossier.version {
        return Ok(false);
    }
    let history = state.engine.history_without_changes(&selected.dossier.id)?;
    Ok(history
        .iter()
        .any(|event| event.version > shown_at && concerns(event, candidature)))
}

/// The transition a bulk form names, if the member may use it in bulk.
fn chosen(staff: &Staff, form: &CsrfForm) -> Result<(String, String), PageError> {
    let definition = staff.visit.state.engine.definition();
    let id = form.trimmed("transition");
    let transition = bulk_transitions(staff, &definition)
        .into_iter()
        .find(|t| t.id == id)
        .ok_or(PageError::Forbidden)?;
    let label = transition.label.get(staff.visit.lang.code()).to_owned();
    Ok((transition.id.clone(), label))
}

fn keys(form: &CsrfForm) -> Vec<String> {
    form.0
        .iter()
        .filter(|(name, _)| name == "c")
        .map(|(_, value)| value.clone())
        .collect()
}

/// `POST /staff/lot`: what the transition would do to the selection.
pub async fn confirm(staff: Staff, form: CsrfForm) -> PageResult {
    sort_out(staff, form, false).await
}

/// `POST /staff/lot/appliquer`: each candidature is its own command; one
/// refused never undoes nor stops the others.
pub async fn apply(staff: Staff, form: CsrfForm) -> PageResult {
    sort_out(staff, form, true).await
}

/// Sorts the selection into the candidatures the transition changes (or
/// would, before `perform`) and those it does not, with why; performs it on
/// the first if `perform`.
async fn sort_out(staff: Staff, form: CsrfForm, perform: bool) -> PageResult {
    let (transition, label) = chosen(&staff, &form)?;
    let keys = keys(&form);
    let worker = Arc::clone(&staff.visit.state);
    let id = transition.clone();
    let (staff, sorted) = blocking(move || {
        let sorted = (|| -> Result<(Vec<Line>, Vec<Line>), PageError> {
            let lang = staff.visit.lang;
            let (mut changing, mut unchanged) = (Vec::new(), Vec::new());
            for one in selected(&worker, &staff, &keys)? {
                if perform && changed_since_shown(&worker, &one)? {
                    let reason = lang.t("staff_bulk_changed_meanwhile");
                    unchanged.push(line(&worker, &one, Some(reason), lang));
                    continue;
                }
                let role = match decide(&staff, &one, &id)? {
                    Ok(role) => role,
                    Err(reason) => {
                        unchanged.push(line(&worker, &one, Some(reason), lang));
                        continue;
                    }
                };
                if perform {
                    let command = Command::Transition {
                        candidature: one.candidature.clone(),
                        transition: id.clone(),
                        input: Default::default(),
                    };
                    let actor = staff.actor(&role);
                    if let Err(error) = worker.run_as_staff(&actor, &one.dossier, command) {
                        let reason =
                            refusal(&worker.definition_of(&one.dossier), lang.code(), &error);
                        unchanged.push(line(&worker, &one, Some(reason), lang));
                        continue;
                    }
                }
                changing.push(line(&worker, &one, None, lang));
            }
            Ok((changing, unchanged))
        })();
        (staff, sorted)
    })
    .await?;
    let (changing, unchanged) = sorted?;
    let lang = staff.visit.lang;
    let heading = if perform {
        "staff_bulk_done"
    } else {
        "staff_bulk_confirm"
    };
    let page = BulkPage {
        heading: lang
            .t(heading)
            .replace("{count}", &changing.len().to_string())
            .replace("{action}", &label),
        transition,
        changing,
        unchanged,
        action: lang.href("/staff/lot/appliquer"),
        back: lang.href("/staff"),
        confirming: !perform,
    };
    Ok(staff.render("staff/bulk.html", StatusCode::OK, &page))
}
