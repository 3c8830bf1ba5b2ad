//! The dossier's sections as forms, generated from the definition.
//!
//! A section is checked as a whole on the server (conditions, required fields,
//! kinds, patterns, dependent lists) and saved only when every answer is right;
//! otherwise the page comes back with each message next to its field and the
//! answers kept. Without JavaScript, sending the form is what re-evaluates which
//! fields apply and which options a dependent list offers.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use guichet_engine::model::{FieldDef, FieldType, SectionDef};
use guichet_engine::{
    base_context, check_entry, entry_context, options, Actor, Command, Definition, Dossier,
    EngineError, Problem,
};
use jiff::Timestamp;
use serde_json::{json, Map, Value};

use super::accounts::{csrf_refused, must_sign_in, render_with_csrf, signed_in};
use super::{language, AppState, LanguageChoice};
use crate::accounts::Account;

type Pairs = Vec<(String, String)>;

fn not_found(state: &AppState, lang: &str) -> Response {
    state.pages.not_found(&state.engine, lang)
}

/// The signed-in candidate's account and dossier, and the definition version
/// the dossier follows (its pages follow it too).
pub(super) async fn owner(
    state: &Arc<AppState>,
    headers: &HeaderMap,
) -> Option<(Account, Dossier, Arc<Definition>)> {
    let account = signed_in(state, headers).await?;
    let dossier = state.engine.dossier(account.dossier.as_deref()?).ok()??;
    let definition = state.definition_of(&dossier);
    Some((account, dossier, definition))
}

fn section<'a>(definition: &'a Definition, id: &str) -> Option<&'a SectionDef> {
    definition.file().profile.iter().find(|s| s.id == id)
}

/// Form values → typed answers, by each field's kind; a value that does not
/// read as its kind is kept as text, for the check to report.
fn answers_from(fields: &[FieldDef], pairs: &Pairs) -> Map<String, Value> {
    let mut answers = Map::new();
    for field in fields {
        let given: Vec<&str> = pairs
            .iter()
            .filter(|(name, _)| name == &field.id)
            .map(|(_, value)| value.trim())
            .filter(|value| !value.is_empty())
            .collect();
        let value = match field.kind {
            FieldType::MultiChoice => {
                if given.is_empty() {
                    continue;
                }
                json!(given)
            }
            _ => {
                let Some(text) = given.first() else { continue };
                match field.kind {
                    FieldType::Year | FieldType::Number => text
                        .replace(',', ".")
                        .parse::<f64>()
                        .ok()
                        .and_then(|n| {
                            if n.fract() == 0.0 && n.abs() < 1e15 {
                                Some(json!(n as i64))
                            } else {
                                serde_json::Number::from_f64(n).map(Value::Number)
                            }
                        })
                        .unwrap_or_else(|| json!(text)),
                    FieldType::Boolean => match *text {
                        "oui" => json!(true),
                        "non" => json!(false),
                        other => json!(other),
                    },
                    _ => json!(text),
                }
            }
        };
        answers.insert(field.id.clone(), value);
    }
    answers
}

fn display(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(text) => text.clone(),
        Value::Bool(true) => "oui".into(),
        Value::Bool(false) => "non".into(),
        other => other.to_string(),
    }
}

struct FormState<'a> {
    section: &'a SectionDef,
    action: String,
    entry: Map<String, Value>,
    problems: Vec<(String, Problem)>,
}

fn render_form(
    state: &AppState,
    headers: &HeaderMap,
    lang: &str,
    (dossier, definition): (&Dossier, &Definition),
    form: &FormState<'_>,
) -> Response {
    let base = base_context(definition, dossier, Timestamp::now());
    let context = entry_context(&base, &form.section.fields, &form.entry);
    let hidden = match check_entry(definition, &base, &form.section.fields, &form.entry) {
        Ok(check) => check.hidden,
        Err(error) => {
            tracing::error!(%error, "a condition of the definition failed");
            Vec::new()
        }
    };
    let fields: Vec<Value> = form
        .section
        .fields
        .iter()
        .map(|field| {
            let value = form.entry.get(&field.id).cloned().unwrap_or(Value::Null);
            let error = form.problems.iter().find(|(id, _)| id == &field.id).map(|(_, p)| p.message(lang));
            let selected: Vec<String> = match &value {
                Value::Array(items) => items.iter().map(display).collect(),
                Value::Null => Vec::new(),
                other => vec![display(other)],
            };
            let offered = match field.kind {
                FieldType::Boolean => vec![("oui", if lang == "en" { "Yes" } else { "Oui" }), ("non", if lang == "en" { "No" } else { "Non" })]
                    .into_iter()
                    .map(|(id, label)| json!({"id": id, "label": label, "selected": selected.iter().any(|s| s == id)}))
                    .collect(),
                FieldType::Choice | FieldType::MultiChoice => options(definition, field, &context, lang)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|c| json!({"selected": selected.contains(&c.id), "id": c.id, "label": c.label}))
                    .collect(),
                _ => Vec::new(),
            };
            let kind = match field.kind {
                // Short fixed lists read best as radios; lists from data stay lists.
                FieldType::Choice if field.options.is_some() && offered.len() <= 4 => "choice_radios",
                FieldType::Choice => "choice",
                FieldType::MultiChoice => "multi_choice",
                FieldType::Boolean => "boolean",
                FieldType::Textarea => "textarea",
                _ => "input",
            };
            let (input, inputmode) = match field.kind {
                FieldType::Email => ("email", None),
                FieldType::Phone => ("tel", None),
                FieldType::Date => ("date", None),
                FieldType::Year | FieldType::Number => ("text", Some("numeric")),
                _ => ("text", None),
            };
            let mut describedby = Vec::new();
            if field.help.is_some() {
                describedby.push(format!("{}-help", field.id));
            }
            if error.is_some() {
                describedby.push(format!("{}-error", field.id));
            }
            json!({
                "id": field.id, "label": field.label.get(lang), "kind": kind, "input": input, "inputmode": inputmode,
                "required": field.required, "help": field.help.as_ref().map(|h| h.get(lang)),
                "placeholder": field.placeholder.as_ref().map(|p| p.get(lang)),
                "value": display(&value), "options": offered, "error": error,
                "hidden": hidden.contains(&field.id), "describedby": describedby.join(" "),
            })
        })
        .collect();
    let status = if form.problems.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    render_with_csrf(state, headers, lang, "section.html", status, |map| {
        map.insert("section".into(), json!({"title": form.section.title.get(lang), "help": form.section.help.as_ref().map(|h| h.get(lang))}));
        map.insert("fields".into(), json!(fields));
        map.insert("problems".into(), json!(!form.problems.is_empty()));
        map.insert("action".into(), json!(form.action));
        map.insert(
            "preview".into(),
            json!(format!("/dossier/{}/apercu", form.section.id)),
        );
    })
}

fn entries_of(dossier: &Dossier, section: &SectionDef) -> Vec<Map<String, Value>> {
    match dossier.profile.get(&section.id) {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|i| i.as_object().cloned())
            .collect(),
        Some(Value::Object(map)) => vec![map.clone()],
        _ => Vec::new(),
    }
}

fn render_entries(
    state: &AppState,
    headers: &HeaderMap,
    lang: &str,
    dossier: &Dossier,
    section: &SectionDef,
) -> Response {
    let entries = entries_of(dossier, section);
    let columns: Vec<&str> = section.fields.iter().map(|f| f.label.get(lang)).collect();
    let rows: Vec<Value> = entries
        .iter()
        .enumerate()
        .map(|(n, entry)| {
            let cells: Vec<String> = section
                .fields
                .iter()
                .map(|f| display(entry.get(&f.id).unwrap_or(&Value::Null)))
                .collect();
            json!({
                "cells": cells,
                "edit": format!("/dossier/{}/{}?lang={lang}", section.id, n + 1),
                "remove": format!("/dossier/{}/{}/supprimer?lang={lang}", section.id, n + 1),
            })
        })
        .collect();
    render_with_csrf(
        state,
        headers,
        lang,
        "entries.html",
        StatusCode::OK,
        |map| {
            map.insert(
            "section".into(),
            json!({
                "title": section.title.get(lang), "help": section.help.as_ref().map(|h| h.get(lang)),
                "add_label": section.repeat.as_ref().map(|r| r.add_label.get(lang)),
            }),
        );
            map.insert("columns".into(), json!(columns));
            map.insert("entries".into(), json!(rows));
            map.insert("readonly".into(), json!(section.import.is_some()));
            map.insert(
                "contact".into(),
                json!(section
                    .import
                    .as_ref()
                    .and_then(|i| i.contact.as_ref())
                    .map(|c| c.get(lang))),
            );
            map.insert(
                "add".into(),
                json!(format!("/dossier/{}/nouveau?lang={lang}", section.id)),
            );
        },
    )
}

/// `GET /dossier/{section}`: the form, or the list of entries of a repeatable or imported section.
pub async fn show_section(
    State(state): State<Arc<AppState>>,
    Path(section_id): Path<String>,
    Query(choice): Query<LanguageChoice>,
    headers: HeaderMap,
) -> Response {
    let lang = language(&choice, &headers);
    let Some((_, dossier, definition)) = owner(&state, &headers).await else {
        return must_sign_in(&state, lang);
    };
    let Some(section) = section(&definition, &section_id) else {
        return not_found(&state, lang);
    };
    if section.repeat.is_some() || section.import.is_some() {
        return render_entries(&state, &headers, lang, &dossier, section);
    }
    let entry = entries_of(&dossier, section)
        .into_iter()
        .next()
        .unwrap_or_default();
    let action = format!("/dossier/{}?lang={lang}", section.id);
    render_form(
        &state,
        &headers,
        lang,
        (&dossier, &definition),
        &FormState {
            section,
            action,
            entry,
            problems: Vec::new(),
        },
    )
}

/// `GET /dossier/{section}/{entry}`: one entry of a repeatable section (`nouveau` for a new one).
pub async fn show_entry(
    State(state): State<Arc<AppState>>,
    Path((section_id, number)): Path<(String, String)>,
    Query(choice): Query<LanguageChoice>,
    headers: HeaderMap,
) -> Response {
    let lang = language(&choice, &headers);
    let Some((_, dossier, definition)) = owner(&state, &headers).await else {
        return must_sign_in(&state, lang);
    };
    let Some(section) = section(&definition, &section_id).filter(|s| s.repeat.is_some()) else {
        return not_found(&state, lang);
    };
    let entries = entries_of(&dossier, section);
    let entry = match entry_index(&number, entries.len()) {
        Some(Some(index)) => entries[index].clone(),
        Some(None) => Map::new(),
        None => return not_found(&state, lang),
    };
    let action = format!("/dossier/{}/{number}?lang={lang}", section.id);
    render_form(
        &state,
        &headers,
        lang,
        (&dossier, &definition),
        &FormState {
            section,
            action,
            entry,
            problems: Vec::new(),
        },
    )
}

/// `nouveau` → `Some(None)`; `1`…`count` → `Some(Some(index))`; anything else → `None`.
fn entry_index(number: &str, count: usize) -> Option<Option<usize>> {
    if number == "nouveau" {
        return Some(None);
    }
    let n: usize = number.parse().ok()?;
    (1..=count).contains(&n).then(|| Some(n - 1))
}

/// Saves a section's answers (all its entries) as the candidate.
fn save(
    state: &AppState,
    role: &str,
    account: &Account,
    dossier: &Dossier,
    section: &str,
    answers: Value,
) -> Result<(), EngineError> {
    let actor = Actor::new(role, &account.id);
    let command = Command::SaveSection {
        section: section.to_owned(),
        answers,
    };
    state
        .engine
        .apply(
            &dossier.id,
            dossier.version,
            &actor,
            command,
            Timestamp::now(),
        )
        .map(|_| ())
}

async fn submit(
    state: Arc<AppState>,
    section_id: String,
    number: Option<String>,
    lang: &'static str,
    headers: HeaderMap,
    pairs: Pairs,
) -> Response {
    let form: std::collections::HashMap<String, String> = pairs.iter().cloned().collect();
    if !super::accounts::csrf_valid(&headers, &form) {
        return csrf_refused(&state, lang);
    }
    let Some((account, dossier, definition)) = owner(&state, &headers).await else {
        return must_sign_in(&state, lang);
    };
    let Some(section) = section(&definition, &section_id) else {
        return not_found(&state, lang);
    };
    if section.import.is_some() || section.repeat.is_some() != number.is_some() {
        return not_found(&state, lang);
    }
    let mut entries = entries_of(&dossier, section);
    let index = match &number {
        Some(number) => match entry_index(number, entries.len()) {
            Some(index) => index,
            None => return not_found(&state, lang),
        },
        None => None,
    };
    let entry = answers_from(&section.fields, &pairs);
    let base = base_context(&definition, &dossier, Timestamp::now());
    let check = match check_entry(&definition, &base, &section.fields, &entry) {
        Ok(check) => check,
        Err(error) => {
            tracing::error!(%error, "a condition of the definition failed");
            return (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response();
        }
    };
    if !check.problems.is_empty() {
        let action = match &number {
            Some(number) => format!("/dossier/{}/{number}?lang={lang}", section.id),
            None => format!("/dossier/{}?lang={lang}", section.id),
        };
        return render_form(
            &state,
            &headers,
            lang,
            (&dossier, &definition),
            &FormState {
                section,
                action,
                entry,
                problems: check.problems,
            },
        );
    }
    let answers = match (section.repeat.is_some(), index) {
        (false, _) => Value::Object(check.answers),
        (true, Some(index)) => {
            entries[index] = check.answers;
            json!(entries)
        }
        (true, None) => {
            entries.push(check.answers);
            json!(entries)
        }
    };
    let worker = Arc::clone(&state);
    let role = definition.candidate_role().to_owned();
    let saved = tokio::task::spawn_blocking(move || {
        save(&worker, &role, &account, &dossier, &section_id, answers)
    })
    .await;
    match saved {
        Ok(Ok(())) => Redirect::to(&format!("/dossier/{}?lang={lang}", section.id)).into_response(),
        Ok(Err(error)) if error.is_conflict() => {
            Redirect::to(&format!("/dossier/{}?lang={lang}", section.id)).into_response()
        }
        Ok(Err(error)) => {
            tracing::error!(%error, "saving a section failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
        Err(error) => {
            tracing::error!(%error, "saving a section failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}

/// `POST /dossier/{section}`
pub async fn save_section(
    State(state): State<Arc<AppState>>,
    Path(section_id): Path<String>,
    Query(choice): Query<LanguageChoice>,
    headers: HeaderMap,
    Form(pairs): Form<Pairs>,
) -> Response {
    let lang = language(&choice, &headers);
    submit(state, section_id, None, lang, headers, pairs).await
}

/// `POST /dossier/{section}/{entry}`
pub async fn save_entry(
    State(state): State<Arc<AppState>>,
    Path((section_id, number)): Path<(String, String)>,
    Query(choice): Query<LanguageChoice>,
    headers: HeaderMap,
    Form(pairs): Form<Pairs>,
) -> Response {
    let lang = language(&choice, &headers);
    submit(state, section_id, Some(number), lang, headers, pairs).await
}

/// `POST /dossier/{section}/{entry}/supprimer`
pub async fn remove_entry(
    State(state): State<Arc<AppState>>,
    Path((section_id, number)): Path<(String, String)>,
    Query(choice): Query<LanguageChoice>,
    headers: HeaderMap,
    Form(pairs): Form<Pairs>,
) -> Response {
    let lang = language(&choice, &headers);
    let form: std::collections::HashMap<String, String> = pairs.into_iter().collect();
    if !super::accounts::csrf_valid(&headers, &form) {
        return csrf_refused(&state, lang);
    }
    let Some((account, dossier, definition)) = owner(&state, &headers).await else {
        return must_sign_in(&state, lang);
    };
    let Some(section) = section(&definition, &section_id).filter(|s| s.repeat.is_some()) else {
        return not_found(&state, lang);
    };
    let mut entries = entries_of(&dossier, section);
    let Some(Some(index)) = entry_index(&number, entries.len()) else {
        return not_found(&state, lang);
    };
    entries.remove(index);
    let role = definition.candidate_role().to_owned();
    let worker = Arc::clone(&state);
    let target = section_id.clone();
    let saved = tokio::task::spawn_blocking(move || {
        save(&worker, &role, &account, &dossier, &target, json!(entries))
    })
    .await;
    if let Ok(Err(error)) = &saved {
        tracing::warn!(%error, "removing an entry failed");
    }
    Redirect::to(&format!("/dossier/{section_id}?lang={lang}")).into_response()
}

/// `GET /dossier/{section}/apercu?…answers`: which fields apply and which
/// options the lists offer, for the answers given so far (the form's script).
pub async fn preview(
    State(state): State<Arc<AppState>>,
    Path(section_id): Path<String>,
    Query(pairs): Query<Pairs>,
    headers: HeaderMap,
) -> Response {
    let lang = language(&LanguageChoice { lang: None }, &headers);
    let Some((_, dossier, definition)) = owner(&state, &headers).await else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    let Some(section) = section(&definition, &section_id) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let entry = answers_from(&section.fields, &pairs);
    let base = base_context(&definition, &dossier, Timestamp::now());
    let context = entry_context(&base, &section.fields, &entry);
    let Ok(check) = check_entry(&definition, &base, &section.fields, &entry) else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let mut lists = Map::new();
    for field in section.fields.iter().filter(|f| f.options_from.is_some()) {
        let offered: Vec<Value> = options(&definition, field, &context, lang)
            .unwrap_or_default()
            .into_iter()
            .map(|c| json!({"id": c.id, "label": c.label}))
            .collect();
        lists.insert(field.id.clone(), json!(offered));
    }
    let body = json!({"hidden": check.hidden, "options": lists});
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_numbered_from_one() {
        assert_eq!(entry_index("nouveau", 2), Some(None));
        assert_eq!(entry_index("1", 2), Some(Some(0)));
        assert_eq!(entry_index("2", 2), Some(Some(1)));
        assert_eq!(entry_index("3", 2), None);
        assert_eq!(entry_index("0", 2), None);
        assert_eq!(entry_index("x", 2), None);
    }
}
