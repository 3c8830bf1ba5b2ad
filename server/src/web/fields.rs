//! One generated input of a form (a dossier section's field, a repeatable
//! section's entry, a staff transition's input) with its label, help, error
//! and options, written as HTML.
//!
//! Written here rather than by a template macro: a section holds a dozen
//! fields and lists from data run to hundreds of options, and evaluating the
//! macro per field was most of a section page's time. Every value goes
//! through [`Escaped`], which writes what the templates' escaping writes.

use std::collections::HashMap;
use std::fmt::{self, Write};
use std::sync::{Arc, LazyLock, PoisonError, RwLock};

use guichet_engine::model::{FieldDef, FieldType};
use guichet_engine::{options, Choice, Definition, Problem};
use serde::Serialize;
use serde_json::{Map, Value};

use super::site::{Escaped, Lang};

/// One input of a generated form, as the page draws it.
pub(super) struct FieldView<'a> {
    id: &'a str,
    label: &'a str,
    kind: Widget,
    input: &'static str,
    inputmode: Option<&'static str>,
    required: bool,
    help: Option<&'a str>,
    placeholder: Option<&'a str>,
    value: String,
    /// The options of radios and checkboxes, each marked when chosen.
    options: Vec<(Choice, bool)>,
    /// A drop-down list's options, written already.
    options_html: String,
    error: Option<String>,
    hidden: bool,
}

/// How a field is drawn.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Widget {
    /// A drop-down list.
    Select,
    /// Radios: a short fixed list, or yes and no.
    Radios,
    /// Checkboxes.
    Checkboxes,
    /// A text area.
    Textarea,
    /// A one-line input.
    Input,
}

/// How `field` is drawn: the widget, and the input's type and mode.
fn widget(field: &FieldDef, options: usize) -> (Widget, &'static str, Option<&'static str>) {
    let kind = match field.kind {
        // Short fixed lists read best as radios; lists from data stay lists.
        FieldType::Choice if field.options.is_some() && options <= 4 => Widget::Radios,
        FieldType::Choice => Widget::Select,
        FieldType::MultiChoice => Widget::Checkboxes,
        FieldType::Boolean => Widget::Radios,
        FieldType::Textarea => Widget::Textarea,
        _ => Widget::Input,
    };
    let (input, inputmode) = match field.kind {
        FieldType::Email => ("email", None),
        FieldType::Phone => ("tel", None),
        FieldType::Date => ("date", None),
        FieldType::Year | FieldType::Number => ("text", Some("numeric")),
        _ => ("text", None),
    };
    (kind, input, inputmode)
}

/// A drop-down list's `<option>`s written once, none chosen, with where
/// each option's ` selected` goes: a section page draws lists of a hundred
/// countries, and writing their options took a tenth of its time.
struct OptionsHtml {
    html: String,
    /// Each option's id, and the byte just after its `value="…"`.
    marks: Vec<(String, usize)>,
}

impl OptionsHtml {
    fn of(choices: &[Choice]) -> Self {
        let mut html = String::with_capacity(choices.len() * 48);
        let mut marks = Vec::with_capacity(choices.len());
        for choice in choices {
            let (id, label) = (Escaped(&choice.id), Escaped(&choice.label));
            // Writing to a `String` cannot fail.
            let _ = write!(html, "<option value=\"{id}\"");
            marks.push((choice.id.clone(), html.len()));
            let _ = write!(html, ">{label}</option>");
        }
        Self { html, marks }
    }

    /// The options with the `selected` ones marked.
    fn with_selected(&self, selected: &[String]) -> String {
        let mut html = String::with_capacity(self.html.len() + selected.len() * 9);
        let mut copied = 0;
        for (id, at) in &self.marks {
            if selected.contains(id) {
                html.push_str(&self.html[copied..*at]);
                html.push_str(" selected");
                copied = *at;
            }
        }
        html.push_str(&self.html[copied..]);
        html
    }
}

/// Options written already, by the definition's hash, the list and the
/// language: a list's choices are a function of these alone (the hash
/// covers the list's file), so every procedure and version can share them.
type WrittenOptions = HashMap<(String, String, String), Arc<OptionsHtml>>;

static WRITTEN_OPTIONS: LazyLock<RwLock<WrittenOptions>> = LazyLock::new(Default::default);

/// How many lists' options are kept written (then the keeping starts
/// again, empty): a server has a few lists in a few languages per
/// version.
const WRITTEN_OPTIONS_KEPT: usize = 256;

/// The options of `field`'s list from data, written once per definition
/// and language; `None` for options that depend on the entry (a list's
/// `filter`) or are the field's own.
fn written_options(
    definition: &Definition,
    field: &FieldDef,
    choices: &[Choice],
    code: &str,
) -> Option<Arc<OptionsHtml>> {
    let from = field
        .options_from
        .as_ref()
        .filter(|from| from.filter.is_none())?;
    let key = (
        definition.hash().to_owned(),
        from.list.clone(),
        code.to_owned(),
    );
    let read = WRITTEN_OPTIONS
        .read()
        .unwrap_or_else(PoisonError::into_inner);
    if let Some(written) = read.get(&key) {
        return Some(Arc::clone(written));
    }
    drop(read);
    let written = Arc::new(OptionsHtml::of(choices));
    let mut kept = WRITTEN_OPTIONS
        .write()
        .unwrap_or_else(PoisonError::into_inner);
    if kept.len() >= WRITTEN_OPTIONS_KEPT {
        kept.clear();
    }
    kept.insert(key, Arc::clone(&written));
    Some(written)
}

/// An answer as a form shows it.
pub(super) fn display(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(text) => text.clone(),
        Value::Bool(true) => "oui".into(),
        Value::Bool(false) => "non".into(),
        other => other.to_string(),
    }
}

/// How `field` is drawn with the answers of `entry` and their `problems`,
/// in a form whose conditions are evaluated in `context` (`hidden`: the
/// fields that do not apply).
pub(super) fn field_view<'a>(
    field: &'a FieldDef,
    (entry, problems): (&Map<String, Value>, &[(String, Problem)]),
    (definition, context, hidden): (&Definition, &Value, &[String]),
    lang: Lang,
) -> FieldView<'a> {
    let code = lang.code();
    let value = entry.get(&field.id).unwrap_or(&Value::Null);
    let error = problems
        .iter()
        .find(|(id, _)| id == &field.id)
        .map(|(_, p)| p.message(code));
    let selected: Vec<String> = match value {
        Value::Array(items) => items.iter().map(display).collect(),
        Value::Null => Vec::new(),
        other => vec![display(other)],
    };
    let choices = match field.kind {
        FieldType::Boolean => vec![
            Choice {
                id: "oui".into(),
                label: lang.t("yes"),
            },
            Choice {
                id: "non".into(),
                label: lang.t("no"),
            },
        ]
        .into(),
        FieldType::Choice | FieldType::MultiChoice => {
            options(definition, field, context, code).unwrap_or_default()
        }
        _ => Default::default(),
    };
    let (kind, input, inputmode) = widget(field, choices.len());
    let (options, options_html) = if kind == Widget::Select {
        let html = match written_options(definition, field, &choices, code) {
            Some(written) => written.with_selected(&selected),
            None => OptionsHtml::of(&choices).with_selected(&selected),
        };
        (Vec::new(), html)
    } else {
        let marked = choices.iter().map(|choice| {
            let chosen = selected.contains(&choice.id);
            (choice.clone(), chosen)
        });
        (marked.collect(), String::new())
    };
    FieldView {
        id: &field.id,
        label: field.label.get(code),
        kind,
        input,
        inputmode,
        required: field.required,
        help: field.help.as_ref().map(|h| h.get(code)),
        placeholder: field.placeholder.as_ref().map(|p| p.get(code)),
        value: display(value),
        options,
        options_html,
        error,
        hidden: hidden.contains(&field.id),
    }
}

/// A field with a problem, as the error summary at the top of a form links
/// to it.
#[derive(Serialize)]
pub(super) struct ProblemLink<'a> {
    id: &'a str,
    label: &'a str,
    error: &'a str,
}

/// The problems of `fields`, in their order.
pub(super) fn problem_links<'a>(fields: &'a [FieldView<'a>]) -> Vec<ProblemLink<'a>> {
    fields
        .iter()
        .filter_map(|field| {
            Some(ProblemLink {
                id: field.id,
                label: field.label,
                error: field.error.as_deref()?,
            })
        })
        .collect()
}

/// The HTML of `fields`, in order (`choose`: the words of a drop-down
/// list's empty first option), escaped as it is written: a value templates
/// write as it is, handed to them without a copy.
pub(super) fn fields_html(fields: &[FieldView], choose: &str) -> minijinja::Value {
    let mut html = String::with_capacity(fields.iter().map(|f| 400 + f.options_html.len()).sum());
    for field in fields {
        // Writing to a `String` cannot fail.
        let _ = field.write(&mut html, choose);
    }
    minijinja::Value::from_safe_string(html)
}

impl FieldView<'_> {
    /// Appends the field: its wrapper, label (a legend for a group of
    /// options), the required marker, help, error, and input. The help and
    /// error ids are what the input's `aria-describedby` names.
    fn write(&self, html: &mut String, choose: &str) -> fmt::Result {
        let id = Escaped(self.id);
        let error_class = if self.error.is_some() {
            " has-error"
        } else {
            ""
        };
        let hidden = if self.hidden { " hidden" } else { "" };
        writeln!(
            html,
            "<div class=\"field{error_class}\" data-field=\"{id}\"{hidden}>"
        )?;
        let described = self.described_by();
        match self.kind {
            Widget::Radios | Widget::Checkboxes => {
                html.push_str("<fieldset");
                self.write_described_by(html, &described)?;
                html.push_str(">\n<legend>");
                self.write_label_text(html)?;
                html.push_str("</legend>\n");
                self.write_help_and_error(html)?;
                let kind = if self.kind == Widget::Checkboxes {
                    "checkbox"
                } else {
                    "radio"
                };
                for (number, (choice, chosen)) in self.options.iter().enumerate() {
                    let number = number + 1;
                    let checked = if *chosen { " checked" } else { "" };
                    let (value, label) = (Escaped(&choice.id), Escaped(&choice.label));
                    write!(
                        html,
                        "<div class=\"option\">\n<input type=\"{kind}\" id=\"{id}-{number}\" name=\"{id}\" value=\"{value}\"{checked}>\n<label for=\"{id}-{number}\">{label}</label>\n</div>\n"
                    )?;
                }
                html.push_str("</fieldset>\n");
            }
            Widget::Select | Widget::Textarea | Widget::Input => {
                write!(html, "<label for=\"{id}\">")?;
                self.write_label_text(html)?;
                html.push_str("</label>\n");
                self.write_help_and_error(html)?;
                let invalid = if self.error.is_some() {
                    " aria-invalid=\"true\""
                } else {
                    ""
                };
                match self.kind {
                    Widget::Select => {
                        write!(html, "<select id=\"{id}\" name=\"{id}\"")?;
                        self.write_described_by(html, &described)?;
                        write!(
                            html,
                            "{invalid}>\n<option value=\"\">{}</option>\n",
                            Escaped(choose)
                        )?;
                        html.push_str(&self.options_html);
                        html.push_str("\n</select>\n");
                    }
                    Widget::Textarea => {
                        write!(html, "<textarea id=\"{id}\" name=\"{id}\" rows=\"4\"")?;
                        self.write_described_by(html, &described)?;
                        writeln!(html, "{invalid}>{}</textarea>", Escaped(&self.value))?;
                    }
                    _ => {
                        let (kind, value) = (self.input, Escaped(&self.value));
                        write!(
                            html,
                            "<input id=\"{id}\" name=\"{id}\" type=\"{kind}\" value=\"{value}\""
                        )?;
                        if let Some(placeholder) = self.placeholder {
                            write!(html, " placeholder=\"{}\"", Escaped(placeholder))?;
                        }
                        if let Some(mode) = self.inputmode {
                            write!(html, " inputmode=\"{mode}\"")?;
                        }
                        self.write_described_by(html, &described)?;
                        writeln!(html, "{invalid}>")?;
                    }
                }
            }
        }
        html.push_str("</div>\n");
        Ok(())
    }

    /// The ids of the help and error texts the input is described by.
    fn described_by(&self) -> String {
        let mut ids = Vec::new();
        if self.help.is_some() {
            ids.push(format!("{}-help", self.id));
        }
        if self.error.is_some() {
            ids.push(format!("{}-error", self.id));
        }
        ids.join(" ")
    }

    fn write_described_by(&self, html: &mut String, described: &str) -> fmt::Result {
        if described.is_empty() {
            return Ok(());
        }
        write!(html, " aria-describedby=\"{}\"", Escaped(described))
    }

    fn write_label_text(&self, html: &mut String) -> fmt::Result {
        write!(html, "{}", Escaped(self.label))?;
        if self.required {
            html.push_str(" <span class=\"required\">*</span>");
        }
        Ok(())
    }

    fn write_help_and_error(&self, html: &mut String) -> fmt::Result {
        let id = Escaped(self.id);
        if let Some(help) = self.help {
            writeln!(
                html,
                "<p class=\"help\" id=\"{id}-help\">{}</p>",
                Escaped(help)
            )?;
        }
        if let Some(error) = &self.error {
            writeln!(
                html,
                "<p class=\"error\" id=\"{id}-error\">{}</p>",
                Escaped(error)
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn choice(id: &str, label: &str) -> Choice {
        Choice {
            id: id.into(),
            label: label.into(),
        }
    }

    /// Each option written on its own, as a template would.
    fn one_by_one(choices: &[Choice], selected: &[String]) -> String {
        choices
            .iter()
            .map(|c| {
                let mark = if selected.contains(&c.id) {
                    " selected"
                } else {
                    ""
                };
                let (id, label) = (Escaped(&c.id), Escaped(&c.label));
                format!("<option value=\"{id}\"{mark}>{label}</option>")
            })
            .collect()
    }

    #[test]
    fn options_written_once_mark_the_chosen_ones_as_written_one_by_one() {
        let choices = [
            choice("FR", "Française"),
            choice("a\"b<", "l'<autre> & / co"),
            choice("DE", "Allemande"),
        ];
        let written = OptionsHtml::of(&choices);
        for selected in [
            vec![],
            vec!["FR".to_owned()],
            vec!["a\"b<".to_owned()],
            vec!["DE".to_owned(), "FR".to_owned()],
            vec!["XX".to_owned()],
        ] {
            assert_eq!(
                written.with_selected(&selected),
                one_by_one(&choices, &selected),
                "{selected:?}"
            );
        }
        assert!(written.html.contains("value=\"a&quot;b&lt;\""));
    }

    #[test]
    fn a_list_s_options_are_written_once_per_version_and_language_unless_filtered() {
        let text = include_str!("../../../tests/fixtures/minimal.yaml")
            .replace(
                "roles:",
                "lists:\n  countries: { items: [{ id: FR, label: France }, { id: DE, label: Germany }] }\nroles:",
            )
            .replace(
                "- { id: nationality, type: text, label: Nationality }",
                "- { id: nationality, type: choice, label: Nationality, options_from: { list: countries } }\n      \
                 - { id: neighbour, type: choice, label: Neighbour, options_from: { list: countries, filter: \"row.id != nationality\" } }",
            );
        let definition = Definition::from_text("minimal.yaml", &text).expect("valid");
        let field = |id: &str| {
            let fields = definition.file().profile.iter().flat_map(|s| &s.fields);
            fields.clone().find(|f| f.id == id).cloned().expect(id)
        };
        let (nationality, filtered) = (field("nationality"), field("neighbour"));
        assert!(filtered
            .options_from
            .as_ref()
            .is_some_and(|f| f.filter.is_some()));
        let choices = [choice("FR", "France")];
        let first = written_options(&definition, &nationality, &choices, "fr").expect("kept");
        let again = written_options(&definition, &nationality, &[], "fr").expect("kept");
        assert!(Arc::ptr_eq(&first, &again));
        let english = written_options(&definition, &nationality, &[], "en").expect("kept");
        assert!(!Arc::ptr_eq(&first, &english));
        assert!(written_options(&definition, &filtered, &choices, "fr").is_none());
    }
}
