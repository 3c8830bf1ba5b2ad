//! The dossier's sections as forms, generated from the definition.
//!
//! A section is checked as a whole on the server (conditions, required fields,
//! kinds, patterns, dependent lists) and saved only when every answer is right;
//! otherwise the page comes back with each message next to its field and the
//! answers kept. Without JavaScript, sending the form is what re-evaluates which
//! fields apply and which options a dependent list offers.

use std::sync::Arc;

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use guichet_engine::model::{FieldDef, FieldType, SectionDef, Text};
use guichet_engine::{
    base_context, check_entry, check_entry_in, entry_context, options, reads_context, Command,
    Definition, Dossier, EngineError, Problem, WorkflowError,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::error::{blocking, PageError, PageResult};
use super::extract::{CsrfForm, OwnDossier};
use super::fields::{display, field_view, fields_html, problem_links, FieldView, ProblemLink};
use super::site::Lang;

type Pairs = Vec<(String, String)>;

/// An entry of a repeatable section, as its path names it.
#[derive(Deserialize)]
pub struct EntryAt {
    section: String,
    /// `1`, `2`… or `nouveau`.
    entry: String,
}

/// Section `id` of the definition; a 404 page otherwise.
fn section<'a>(definition: &'a Definition, id: &str) -> Result<&'a SectionDef, PageError> {
    definition
        .file()
        .profile
        .iter()
        .find(|s| s.id == id)
        .ok_or(PageError::NotFound)
}

/// A form value read as its field's kind; a value that does not read as its
/// kind is kept as text, for the check to report.
fn typed(kind: FieldType, text: &str) -> Value {
    match kind {
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
        FieldType::Boolean => match text {
            "oui" => json!(true),
            "non" => json!(false),
            other => json!(other),
        },
        _ => json!(text),
    }
}

/// Form values → typed answers, by each field's kind.
pub(super) fn answers_from(fields: &[FieldDef], pairs: &Pairs) -> Map<String, Value> {
    let mut answers = Map::new();
    for field in fields {
        let given: Vec<&str> = pairs
            .iter()
            .filter(|(name, _)| name == &field.id)
            .map(|(_, value)| value.trim())
            .filter(|value| !value.is_empty())
            .collect();
        let value = match (field.kind, given.first()) {
            (_, None) => continue,
            (FieldType::MultiChoice, _) => json!(given),
            (kind, Some(text)) => typed(kind, text),
        };
        answers.insert(field.id.clone(), value);
    }
    answers
}

/// A form as the page shows it (a section's, or a candidature's
/// complementary form): its answers and their problems.
pub(super) struct SectionForm<'a> {
    pub(super) title: &'a Text,
    pub(super) help: Option<&'a Text>,
    pub(super) fields: &'a [FieldDef],
    /// The path the form posts to (without the language).
    pub(super) action: String,
    /// The path of its live preview.
    pub(super) preview: String,
    /// The path it leads back to, and the key of its words.
    pub(super) back: (String, &'static str),
    pub(super) entry: Map<String, Value>,
    pub(super) problems: Vec<(String, Problem)>,
}

#[derive(Serialize)]
struct SectionHeading<'a> {
    title: &'a str,
    help: Option<&'a str>,
}

#[derive(Serialize)]
struct SectionPage<'a> {
    section: SectionHeading<'a>,
    fields_html: minijinja::Value,
    summary: Vec<ProblemLink<'a>>,
    action: String,
    preview: String,
    /// Where the page leads back to, and its words.
    back: (String, String),
}

impl SectionForm<'_> {
    pub(super) fn render(&self, own: &OwnDossier) -> Response {
        let (visit, lang) = (&own.visit, own.visit.lang);
        let definition = own.definition.as_ref();
        let (context, hidden) = if reads_context(self.fields) {
            let base = base_context(definition, &own.dossier, visit.state.clock.now());
            let context = entry_context(&base, self.fields, &self.entry);
            let hidden = match check_entry_in(definition, &context, self.fields, &self.entry) {
                Ok(check) => check.hidden,
                Err(error) => {
                    tracing::error!(error = %super::error::chain(&error), "a condition of the definition failed");
                    Vec::new()
                }
            };
            (context, hidden)
        } else {
            (Value::Null, Vec::new())
        };
        let code = lang.code();
        let fields: Vec<FieldView> = self
            .fields
            .iter()
            .map(|field| {
                let answers = (&self.entry, self.problems.as_slice());
                field_view(field, answers, (definition, &context, &hidden), lang)
            })
            .collect();
        let page = SectionPage {
            section: SectionHeading {
                title: self.title.get(code),
                help: self.help.map(|h| h.get(code)),
            },
            fields_html: fields_html(&fields, &lang.t("choose")),
            summary: problem_links(&fields),
            action: lang.href(&self.action),
            preview: lang.href(&self.preview),
            back: (lang.href(&self.back.0), lang.t(self.back.1)),
        };
        let status = if self.problems.is_empty() {
            StatusCode::OK
        } else {
            StatusCode::UNPROCESSABLE_ENTITY
        };
        visit.render_form("section.html", status, &page)
    }
}

fn entries_of(dossier: &Dossier, section: &SectionDef) -> Vec<Map<String, Value>> {
    entries_in(dossier, &section.id)
}

/// The entries (or the one answer) the dossier holds for section `id`.
fn entries_in(dossier: &Dossier, id: &str) -> Vec<Map<String, Value>> {
    match dossier.profile.get(id) {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|i| i.as_object().cloned())
            .collect(),
        Some(Value::Object(map)) => vec![map.clone()],
        _ => Vec::new(),
    }
}

#[derive(Serialize)]
struct EntryRow {
    cells: Vec<String>,
    edit: String,
    remove: String,
}

#[derive(Serialize)]
struct EntriesHeading<'a> {
    title: &'a str,
    help: Option<&'a str>,
    add_label: Option<&'a str>,
}

#[derive(Serialize)]
struct EntriesPage<'a> {
    section: EntriesHeading<'a>,
    columns: Vec<&'a str>,
    entries: Vec<EntryRow>,
    readonly: bool,
    contact: Option<&'a str>,
    /// Where to add an entry; none once the section holds as many as it takes.
    add: Option<String>,
    /// How many entries the section takes, said when it is full.
    full: Option<u32>,
}

/// The most entries a repeatable section takes.
fn max_entries(section: &SectionDef) -> usize {
    let max = section.repeat.as_ref().and_then(|r| r.max);
    max.unwrap_or(guichet_engine::DEFAULT_MAX_ENTRIES) as usize
}

/// The entries of a repeatable (or imported) section, as a table.
fn render_entries(own: &OwnDossier, section: &SectionDef) -> Response {
    let (visit, dossier) = (&own.visit, &own.dossier);
    let (lang, code) = (visit.lang, visit.lang.code());
    let id = &section.id;
    let entries: Vec<EntryRow> = entries_of(dossier, section)
        .iter()
        .enumerate()
        .map(|(n, entry)| EntryRow {
            cells: section
                .fields
                .iter()
                .map(|f| display(entry.get(&f.id).unwrap_or(&Value::Null)))
                .collect(),
            edit: lang.href(&format!("/dossier/{id}/{}", n + 1)),
            remove: lang.href(&format!("/dossier/{id}/{}/supprimer", n + 1)),
        })
        .collect();
    let page = EntriesPage {
        section: EntriesHeading {
            title: section.title.get(code),
            help: section.help.as_ref().map(|h| h.get(code)),
            add_label: section.repeat.as_ref().map(|r| r.add_label.get(code)),
        },
        columns: section.fields.iter().map(|f| f.label.get(code)).collect(),
        readonly: section.import.is_some(),
        contact: section
            .import
            .as_ref()
            .and_then(|i| i.contact.as_ref())
            .map(|c| c.get(code)),
        add: (entries.len() < max_entries(section))
            .then(|| lang.href(&format!("/dossier/{id}/nouveau"))),
        full: (entries.len() >= max_entries(section)).then_some(max_entries(section) as u32),
        entries,
    };
    visit.render_form("entries.html", StatusCode::OK, &page)
}

/// `GET /dossier/{section}`: the form, or the list of entries of a repeatable or imported section.
pub async fn show_section(own: OwnDossier, Path(section_id): Path<String>) -> PageResult {
    render_section(&own, &section_id)
}

/// The page of section `section_id` of the dossier: its form, or its entries.
pub fn render_section(own: &OwnDossier, section_id: &str) -> PageResult {
    let section = section(&own.definition, section_id)?;
    if section.repeat.is_some() || section.import.is_some() {
        return Ok(render_entries(own, section));
    }
    let form = SectionForm {
        title: &section.title,
        help: section.help.as_ref(),
        fields: &section.fields,
        preview: format!("/dossier/{}/apercu", section.id),
        back: ("/tableau-de-bord".into(), "back_to_dashboard"),
        action: format!("/dossier/{}", section.id),
        entry: entries_of(&own.dossier, section)
            .into_iter()
            .next()
            .unwrap_or_default(),
        problems: Vec::new(),
    };
    Ok(form.render(own))
}

/// `GET /dossier/{section}/{entry}`: one entry of a repeatable section (`nouveau` for a new one).
pub async fn show_entry(own: OwnDossier, Path(at): Path<EntryAt>) -> PageResult {
    render_entry(&own, &at.section, &at.entry)
}

/// The form of entry `number` (from 1, or `nouveau`) of the repeatable
/// section `section_id`.
pub fn render_entry(own: &OwnDossier, section_id: &str, number: &str) -> PageResult {
    let section = section(&own.definition, section_id)?;
    if section.repeat.is_none() {
        return Err(PageError::NotFound);
    }
    let entries = entries_of(&own.dossier, section);
    let entry = match entry_index(number, entries.len()).ok_or(PageError::NotFound)? {
        Some(index) => entries[index].clone(),
        None => Map::new(),
    };
    let form = SectionForm {
        title: &section.title,
        help: section.help.as_ref(),
        fields: &section.fields,
        preview: format!("/dossier/{}/apercu", section.id),
        back: ("/tableau-de-bord".into(), "back_to_dashboard"),
        action: format!("/dossier/{}/{number}", section.id),
        entry,
        problems: Vec::new(),
    };
    Ok(form.render(own))
}

/// `nouveau` → `Some(None)`; `1`…`count` → `Some(Some(index))`; anything else → `None`.
fn entry_index(number: &str, count: usize) -> Option<Option<usize>> {
    if number == "nouveau" {
        return Some(None);
    }
    let n: usize = number.parse().ok()?;
    (1..=count).contains(&n).then(|| Some(n - 1))
}

/// What a section's form saves.
enum Saving {
    /// The section's answers as sent: saved over another tab's landed
    /// first (see `AppState::run_as_candidate`).
    Answers(Value),
    /// A repeatable section's entries as read, one changed or removed by
    /// its place: refused if another tab changed them first, rather than
    /// saved over an entry it added or removed.
    Entries(Value),
    /// An entry added: to the entries as they are when it is saved, so
    /// that another tab's added meanwhile is kept too.
    Added(Map<String, Value>),
}

/// Saves a section's answers as the candidate, then back to the section;
/// a conflict refused is said in words.
async fn save(own: OwnDossier, section: &str, saving: Saving) -> PageResult {
    let OwnDossier {
        visit,
        account,
        dossier,
        ..
    } = own;
    let worker = Arc::clone(&visit.state);
    let section_id = section.to_owned();
    let saved = blocking(move || {
        let save = |answers| Command::SaveSection {
            section: section_id.clone(),
            answers,
        };
        match saving {
            Saving::Answers(answers) => {
                worker.run_as_candidate(&account.id, &dossier, save(answers))
            }
            Saving::Entries(answers) => {
                worker.run_as_candidate_once(&account.id, &dossier, save(answers))
            }
            Saving::Added(entry) => worker.run_as_candidate_on(&account.id, &dossier, |now| {
                let mut entries = entries_in(now, &section_id);
                entries.push(entry.clone());
                save(json!(entries))
            }),
        }
    })
    .await?;
    let refused = match saved {
        Ok(_) => None,
        Err(error) if error.is_conflict() => Some(visit.t("refused_conflict")),
        // A limit of the section (its number of entries): said, not a failure.
        Err(EngineError::Workflow(WorkflowError::InvalidValue { problem, .. })) => {
            Some(problem.message(visit.lang.code()))
        }
        Err(error) => return Err(PageError::internal(error)),
    };
    if let Some(message) = refused {
        let page = super::error::MessagePage {
            heading: visit.t("refused_title"),
            message,
            link: Some(super::error::Link {
                label: visit.t("back_to_dashboard"),
                href: visit.href(&format!("/dossier/{section}")),
            }),
        };
        return Ok(visit.render("message.html", StatusCode::UNPROCESSABLE_ENTITY, &page));
    }
    Ok(Redirect::to(&visit.href(&format!("/dossier/{section}"))).into_response())
}

/// `POST /dossier/{section}`
pub async fn save_section(
    own: OwnDossier,
    Path(section): Path<String>,
    form: CsrfForm,
) -> PageResult {
    submit(own, (&section, None), form).await
}

/// `POST /dossier/{section}/{entry}`
pub async fn save_entry(own: OwnDossier, Path(at): Path<EntryAt>, form: CsrfForm) -> PageResult {
    submit(own, (&at.section, Some(&at.entry)), form).await
}

/// Checks a sent form and saves it, or shows it again with its problems.
async fn submit(
    own: OwnDossier,
    (section_id, number): (&str, Option<&str>),
    CsrfForm(pairs): CsrfForm,
) -> Result<Response, PageError> {
    let definition = Arc::clone(&own.definition);
    let section = section(&definition, section_id)?;
    if section.import.is_some() || section.repeat.is_some() != number.is_some() {
        return Err(PageError::NotFound);
    }
    let mut entries = entries_of(&own.dossier, section);
    let index = match number {
        Some(number) => entry_index(number, entries.len()).ok_or(PageError::NotFound)?,
        None => None,
    };
    let entry = answers_from(&section.fields, &pairs);
    let base = base_context(&definition, &own.dossier, own.visit.state.clock.now());
    let check =
        check_entry(&definition, &base, &section.fields, &entry).map_err(PageError::internal)?;
    if !check.problems.is_empty() {
        let action = match number {
            Some(number) => format!("/dossier/{section_id}/{number}"),
            None => format!("/dossier/{section_id}"),
        };
        let form = SectionForm {
            title: &section.title,
            help: section.help.as_ref(),
            fields: &section.fields,
            preview: format!("/dossier/{}/apercu", section.id),
            back: ("/tableau-de-bord".into(), "back_to_dashboard"),
            action,
            entry,
            problems: check.problems,
        };
        return Ok(form.render(&own));
    }
    let saving = match (section.repeat.is_some(), index) {
        (false, _) => Saving::Answers(Value::Object(check.answers)),
        (true, Some(index)) => {
            entries[index] = check.answers;
            Saving::Entries(json!(entries))
        }
        (true, None) => Saving::Added(check.answers),
    };
    save(own, section_id, saving).await
}

/// `POST /dossier/{section}/{entry}/supprimer`
pub async fn remove_entry(own: OwnDossier, Path(at): Path<EntryAt>, _: CsrfForm) -> PageResult {
    let (section_id, number) = (at.section, at.entry);
    let section = section(&own.definition, &section_id)?;
    if section.repeat.is_none() {
        return Err(PageError::NotFound);
    }
    let mut entries = entries_of(&own.dossier, section);
    let Some(Some(index)) = entry_index(&number, entries.len()) else {
        return Err(PageError::NotFound);
    };
    entries.remove(index);
    save(own, &section_id, Saving::Entries(json!(entries))).await
}

/// `POST /dossier/{section}/apercu` with the answers given so far: which
/// fields apply and which options the lists offer (the form's script).
pub async fn preview(
    lang: Lang,
    own: Result<OwnDossier, PageError>,
    Path(section_id): Path<String>,
    form: Result<CsrfForm, Response>,
) -> Response {
    let (Ok(own), Ok(CsrfForm(pairs))) = (own, form) else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    let definition = Arc::clone(&own.definition);
    let Ok(section) = section(&definition, &section_id) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    preview_of(&own, &section.fields, &pairs, lang)
}

/// Which of `fields` apply and which options their lists offer, with the
/// answers given so far (`pairs`): the JSON the form's script reads.
pub(super) fn preview_of(
    own: &OwnDossier,
    fields: &[FieldDef],
    pairs: &Pairs,
    lang: Lang,
) -> Response {
    let definition = own.definition.as_ref();
    let entry = answers_from(fields, pairs);
    let base = base_context(definition, &own.dossier, own.visit.state.clock.now());
    let context = entry_context(&base, fields, &entry);
    let check = match check_entry_in(definition, &context, fields, &entry) {
        Ok(check) => check,
        Err(error) => {
            tracing::error!(error = %super::error::chain(&error), "a condition of the definition failed");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let mut lists = Map::new();
    for field in fields.iter().filter(|f| f.options_from.is_some()) {
        let offered: Vec<Value> = options(definition, field, &context, lang.code())
            .unwrap_or_default()
            .iter()
            .map(|c| json!({"id": c.id, "label": c.label}))
            .collect();
        lists.insert(field.id.clone(), json!(offered));
    }
    let body = json!({"hidden": check.hidden, "options": lists});
    (
        [(header::CONTENT_TYPE, "application/json")],
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
