//! Answers as people read them, on the staff's pages, in their lists and
//! exports, and in the PDF of a candidature: an option's label for its id,
//! yes or no, a section's entries as a table.

use guichet_engine::model::{FieldDef, FieldType, FormDef, SectionDef};
use guichet_engine::Definition;
use serde::Serialize;
use serde_json::Value;

use super::fields::display;
use super::site::Lang;

/// An answer as read: its field's label and its text.
#[derive(Serialize)]
pub(in crate::web) struct Answer {
    pub(in crate::web) label: String,
    pub(in crate::web) value: String,
}

/// A profile section as read.
#[derive(Serialize)]
pub(in crate::web) struct SectionView {
    pub(in crate::web) title: String,
    /// A single entry's answers…
    pub(in crate::web) answers: Vec<Answer>,
    /// …or a repeatable section's entries, as a table.
    pub(in crate::web) columns: Vec<String>,
    pub(in crate::web) entries: Vec<Vec<String>>,
    pub(in crate::web) repeated: bool,
}

/// An answer as people read it: an option's label, dates and numbers as given.
pub(in crate::web) fn answer_text(
    definition: &guichet_engine::Definition,
    field: &FieldDef,
    value: &Value,
    lang: Lang,
) -> String {
    match value {
        Value::Array(items) => items
            .iter()
            .map(|item| answer_text(definition, field, item, lang))
            .collect::<Vec<_>>()
            .join(", "),
        Value::Bool(yes) => lang.t(if *yes { "yes" } else { "no" }),
        Value::String(_) if field.options.is_some() || field.options_from.is_some() => {
            column_text(definition, field, Some(value), lang)
        }
        other => display(other),
    }
}

/// A column's value as people read it: an option's label, a number.
pub(in crate::web) fn column_text(
    definition: &Definition,
    field: &FieldDef,
    value: Option<&Value>,
    lang: Lang,
) -> String {
    let Some(value) = value else {
        return String::new();
    };
    let text = cell_text(value);
    if field.kind != FieldType::Choice {
        return text;
    }
    let options = guichet_engine::options(definition, field, &Value::Null, lang.code());
    let options = options.unwrap_or_default();
    options
        .iter()
        .find(|o| o.id == text)
        .map_or(text, |o| o.label.clone())
}

/// A column's value as text (an option id, a number).
pub(in crate::web) fn cell_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// `section` as read in `answers`.
pub(in crate::web) fn section_view(
    definition: &guichet_engine::Definition,
    section: &SectionDef,
    answers: Option<&Value>,
    lang: Lang,
) -> SectionView {
    let code = lang.code();
    let text = |entry: &Value, field: &FieldDef| match entry.get(&field.id) {
        Some(value) => answer_text(definition, field, value, lang),
        None => String::new(),
    };
    let title = section.title.get(code).to_owned();
    match answers {
        Some(Value::Array(entries)) => SectionView {
            title,
            answers: Vec::new(),
            columns: section
                .fields
                .iter()
                .map(|f| f.label.get(code).to_owned())
                .collect(),
            entries: entries
                .iter()
                .map(|entry| section.fields.iter().map(|f| text(entry, f)).collect())
                .collect(),
            repeated: true,
        },
        other => {
            let entry = other.cloned().unwrap_or(Value::Null);
            SectionView {
                title,
                answers: section
                    .fields
                    .iter()
                    .filter(|f| entry.get(&f.id).is_some())
                    .map(|f| Answer {
                        label: f.label.get(code).to_owned(),
                        value: text(&entry, f),
                    })
                    .collect(),
                columns: Vec::new(),
                entries: Vec::new(),
                repeated: section.repeat.is_some(),
            }
        }
    }
}

/// The form as a section, for the pages and the PDF that show its answers.
pub(in crate::web) fn as_section(form: &FormDef) -> SectionDef {
    SectionDef {
        id: form.id.clone(),
        title: form.title.clone(),
        help: None,
        when: None,
        repeat: None,
        import: None,
        fields: form.fields.clone(),
    }
}
