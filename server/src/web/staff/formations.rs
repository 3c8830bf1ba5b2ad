//! The formations' dashboard: for each formation of the member's scope, its
//! places, how many candidatures stand in each state and under each decision
//! (the index's counts: no candidature is read), and the head of its
//! waiting list in rank order.

use std::sync::Arc;

use axum::http::StatusCode;
use guichet_engine::model::FieldType;
use guichet_engine::{list_columns, Store, Tallies};
use serde::Serialize;

use super::super::error::{blocking, PageError, PageResult};
use super::list::visible_states;
use super::member::Staff;

#[derive(Serialize)]
struct Count {
    label: String,
    count: usize,
    href: String,
}

#[derive(Serialize)]
struct Waiting {
    name: String,
    rank: String,
    href: String,
}

#[derive(Serialize)]
struct FormationView {
    id: String,
    title: String,
    capacity: Option<u32>,
    total: usize,
    states: Vec<Count>,
    decisions: Vec<(String, Vec<Count>)>,
    /// The first [`WAITING_SHOWN`] of each waiting list.
    waiting: Vec<Waiting>,
    /// A waiting list holds more than those shown.
    waiting_more: bool,
}

/// How many candidatures of a waiting list the dashboard shows, best rank
/// first: who comes next. Each is read from its dossier, and a formation's
/// list may hold thousands (the whole of them took the server past 400 MB
/// at 100,000 candidatures, docs/performance.md, twenty-seventh round).
const WAITING_SHOWN: usize = 50;

#[derive(Serialize)]
struct DashboardPage {
    formations: Vec<FormationView>,
    waiting_shown: usize,
}

/// `GET /staff/formations`
pub async fn dashboard(staff: Staff) -> PageResult {
    let state = Arc::clone(&staff.visit.state);
    let (lang, rights) = (staff.visit.lang, staff.member.rights.clone());
    let formations = blocking(move || -> Result<Vec<FormationView>, PageError> {
        let definition = state.engine.definition();
        let store = state.engine.store();
        let code = lang.code();
        let states = visible_states(&rights, &definition);
        let now = state.clock.now();
        let mut views = Vec::new();
        for formation in rights.formations(&definition) {
            let Some(def) = definition.formation(formation) else {
                continue;
            };
            let link = |query: String| lang.href(&format!("/staff?formation={formation}&{query}"));
            // Counted from the index's counts: no row is read.
            let mut counts = Vec::new();
            let mut total = 0;
            let mut tallies = Tallies::new();
            for state_id in &states {
                let count = store
                    .count_of(formation, state_id)
                    .map_err(PageError::internal)?;
                total += count;
                counts.push(Count {
                    label: definition.state_label(state_id, code).to_owned(),
                    count,
                    href: link(format!("state={state_id}")),
                });
                let in_state = store
                    .tallies_of(formation, state_id)
                    .map_err(PageError::internal)?;
                for (field, options) in in_state {
                    let tally = tallies.entry(field).or_default();
                    for (option, count) in options {
                        *tally.entry(option).or_default() += count;
                    }
                }
            }
            let choices = list_columns(&definition)
                .into_iter()
                .filter(|field| field.kind == FieldType::Choice);
            let mut decisions = Vec::new();
            for field in choices {
                let tally = tallies.get(&field.id);
                let options =
                    guichet_engine::options(&definition, field, &serde_json::Value::Null, code);
                let counted = options
                    .unwrap_or_default()
                    .iter()
                    .map(|option| Count {
                        count: tally.and_then(|t| t.get(&option.id)).copied().unwrap_or(0),
                        href: link(format!("{}={}", field.id, option.id)),
                        label: option.label.clone(),
                    })
                    .collect();
                decisions.push((field.label.get(code).to_owned(), counted));
            }
            let mut waiting = Vec::new();
            let mut waiting_more = false;
            for rule in guichet_engine::promotion_rules(&definition) {
                let entries = state.engine.waiting_list(
                    &definition,
                    formation,
                    rule,
                    now,
                    Some(WAITING_SHOWN + 1),
                )?;
                waiting_more |= entries.len() > WAITING_SHOWN;
                for (dossier, candidature, rank) in entries.into_iter().take(WAITING_SHOWN) {
                    let seen = dossier
                        .candidatures
                        .iter()
                        .find(|c| c.id == candidature)
                        .is_some_and(|c| rights.sees_state(&definition, &c.state));
                    if !seen {
                        continue;
                    }
                    waiting.push(Waiting {
                        name: format!(
                            "{} {}",
                            dossier.candidate.last_name.to_uppercase(),
                            dossier.candidate.first_name
                        ),
                        rank: if rank.is_finite() {
                            rank.to_string()
                        } else {
                            String::new()
                        },
                        href: lang
                            .href(&format!("/staff/candidatures/{}/{candidature}", dossier.id)),
                    });
                }
            }
            views.push(FormationView {
                id: formation.to_owned(),
                title: def.title.get(code).to_owned(),
                capacity: def.capacity,
                total,
                states: counts,
                decisions,
                waiting,
                waiting_more,
            });
        }
        Ok(views)
    })
    .await??;
    Ok(staff.render(
        "staff/formations.html",
        StatusCode::OK,
        &DashboardPage {
            formations,
            waiting_shown: WAITING_SHOWN,
        },
    ))
}
