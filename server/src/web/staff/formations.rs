//! The formations' dashboard: for each formation of the member's scope, its
//! places, how many candidatures stand in each state and under each decision,
//! and the waiting list in rank order.

use std::sync::Arc;

use axum::http::StatusCode;
use guichet_engine::model::FieldType;
use guichet_engine::{list_columns, Store};
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
    waiting: Vec<Waiting>,
}

#[derive(Serialize)]
struct DashboardPage {
    formations: Vec<FormationView>,
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
            let mut counts = Vec::new();
            let mut rows = Vec::new();
            for state_id in &states {
                let found = store
                    .rows_of(formation, Some(state_id))
                    .map_err(PageError::internal)?;
                counts.push(Count {
                    label: definition
                        .state(state_id)
                        .map_or((*state_id).to_owned(), |s| s.label.get(code).to_owned()),
                    count: found.len(),
                    href: link(format!("state={state_id}")),
                });
                rows.extend(found);
            }
            let mut decisions = Vec::new();
            for field in list_columns(&definition) {
                if field.kind != FieldType::Choice {
                    continue;
                }
                let options =
                    guichet_engine::options(&definition, field, &serde_json::Value::Null, code);
                let counted = options
                    .unwrap_or_default()
                    .iter()
                    .map(|option| Count {
                        count: rows
                            .iter()
                            .filter(|r| {
                                r.columns.get(&field.id).and_then(|v| v.as_str())
                                    == Some(&option.id)
                            })
                            .count(),
                        href: link(format!("{}={}", field.id, option.id)),
                        label: option.label.clone(),
                    })
                    .collect();
                decisions.push((field.label.get(code).to_owned(), counted));
            }
            let mut waiting = Vec::new();
            for rule in guichet_engine::promotion_rules(&definition) {
                for (dossier, candidature, rank) in
                    state
                        .engine
                        .waiting_list(&definition, formation, rule, now, None)?
                {
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
                total: rows.len(),
                states: counts,
                decisions,
                waiting,
            });
        }
        Ok(views)
    })
    .await??;
    Ok(staff.render(
        "staff/formations.html",
        StatusCode::OK,
        &DashboardPage { formations },
    ))
}
