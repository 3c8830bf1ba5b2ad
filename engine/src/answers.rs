//! Checking a candidate's answers against the fields of a section.
//!
//! The same rules serve the engine (a saved answer is never of the wrong kind)
//! and the forms (every problem of an entry, with a message a candidate reads).

use std::borrow::Cow;

use serde_json::{Map, Value};

use crate::definition::Definition;
pub use crate::list::Choice;
use crate::model::{FieldDef, FieldType, Text};
use crate::script::ScriptError;

/// What is wrong with one answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Problem {
    /// A required field that applies is empty.
    Required,
    /// Not a text.
    Text,
    /// Not an email address.
    Email,
    /// Not a date `YYYY-MM-DD`.
    Date,
    /// Not a number.
    Number,
    /// Not a year.
    Year,
    /// Smaller than the field's `min`.
    TooSmall(f64),
    /// Larger than the field's `max`.
    TooLarge(f64),
    /// A text shorter than the field's `min`, in characters.
    TooShort(usize),
    /// A text longer than the field's `max` (or the kind's default), in characters.
    TooLong(usize),
    /// Does not match the field's pattern (with the definition's explanation).
    Pattern(Option<Text>),
    /// Not one of the options offered.
    Option,
    /// Not yes or no.
    Boolean,
    /// A section's answers are not field answers (or not a list of them for a
    /// repeatable section).
    NotEntries,
    /// More entries than the section's `repeat.max`.
    TooManyEntries(u32),
}

impl Problem {
    /// The problem in words a candidate understands, in `language` (`fr` or
    /// `en`); the definition's own explanation for a pattern.
    pub fn message(&self, language: &str) -> String {
        let en = language == "en";
        let pick = |fr: &str, english: &str| if en { english } else { fr }.to_owned();
        match self {
            Problem::Required => pick("Ce champ est obligatoire.", "This field is required."),
            Problem::Text => pick("Saisissez un texte.", "Enter a text."),
            Problem::Email => pick(
                "Saisissez une adresse électronique comme nom@exemple.fr.",
                "Enter an email address like name@example.org.",
            ),
            Problem::Date => pick(
                "Saisissez une date valide, par exemple 2003-05-14.",
                "Enter a valid date, for example 2003-05-14.",
            ),
            Problem::Number => pick("Saisissez un nombre.", "Enter a number."),
            Problem::Year => pick(
                "Saisissez une année sur quatre chiffres, par exemple 2021.",
                "Enter a four-digit year, for example 2021.",
            ),
            Problem::TooSmall(min) if en => format!("Enter {min} or more."),
            Problem::TooSmall(min) => format!("Saisissez {min} ou plus."),
            Problem::TooLarge(max) if en => format!("Enter {max} or less."),
            Problem::TooLarge(max) => format!("Saisissez {max} ou moins."),
            Problem::TooShort(min) if en => format!("Enter at least {min} characters."),
            Problem::TooShort(min) => format!("Saisissez au moins {min} caractères."),
            Problem::TooLong(max) if en => format!("Enter at most {max} characters."),
            Problem::TooLong(max) => format!("Saisissez au plus {max} caractères."),
            Problem::Pattern(Some(text)) => text.get(language).to_owned(),
            Problem::Pattern(None) => pick(
                "Cette valeur n'a pas le format attendu.",
                "This value does not have the expected format.",
            ),
            Problem::Option => pick(
                "Choisissez une option de la liste.",
                "Choose an option of the list.",
            ),
            Problem::Boolean => pick("Répondez oui ou non.", "Answer yes or no."),
            Problem::NotEntries => pick(
                "Ces réponses ne correspondent pas aux champs de la rubrique.",
                "These answers do not match the section's fields.",
            ),
            Problem::TooManyEntries(max) if en => format!("Give at most {max} entries."),
            Problem::TooManyEntries(max) => format!("Donnez au plus {max} entrées."),
        }
    }
}

impl std::fmt::Display for Problem {
    /// What is wrong, said of the field (`ine does not match the expected
    /// format`), for logs and reports; pages use [`Problem::message`].
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::Required => write!(f, "is required"),
            Problem::Text => write!(f, "is not a text"),
            Problem::Email => write!(f, "is not an email address"),
            Problem::Date => write!(f, "is not a date YYYY-MM-DD"),
            Problem::Number => write!(f, "is not a number"),
            Problem::Year => write!(f, "is not a four-digit year"),
            Problem::TooSmall(min) => write!(f, "is smaller than {min}"),
            Problem::TooLarge(max) => write!(f, "is larger than {max}"),
            Problem::TooShort(min) => write!(f, "is shorter than {min} characters"),
            Problem::TooLong(max) => write!(f, "is longer than {max} characters"),
            Problem::Pattern(_) => write!(f, "does not match the expected format"),
            Problem::Option => write!(f, "is not one of the options"),
            Problem::Boolean => write!(f, "is not yes or no"),
            Problem::NotEntries => write!(f, "does not hold the answers of the section's fields"),
            Problem::TooManyEntries(max) => write!(f, "has more than {max} entries"),
        }
    }
}

/// The longest text a field of `kind` takes when its definition gives no
/// `max`: enough for any real answer, too little to fill a disk with.
pub fn default_max_length(kind: FieldType) -> usize {
    match kind {
        FieldType::Textarea => 5000,
        FieldType::Email => 254,
        _ => 200,
    }
}

/// Entries a repeatable section takes when its definition gives no `max`.
pub const DEFAULT_MAX_ENTRIES: u32 = 30;

/// Whether an answer is empty (no value, blank text, no option).
pub fn is_blank(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(text) => text.trim().is_empty(),
        Value::Array(items) => items.is_empty(),
        _ => false,
    }
}

/// Checks the kind, pattern, range and option of one non-empty answer.
pub fn check_answer(
    definition: &Definition,
    field: &FieldDef,
    value: &Value,
) -> Result<(), Problem> {
    if is_blank(value) {
        return Ok(());
    }
    let option_exists = |key: &str| match (&field.options, &field.options_from) {
        (Some(options), _) => options.iter().any(|o| o.id == key),
        (None, Some(from)) => definition
            .list(&from.list)
            .is_some_and(|l| l.row(key).is_some()),
        (None, None) => false,
    };
    match field.kind {
        FieldType::Text
        | FieldType::Textarea
        | FieldType::Email
        | FieldType::Phone
        | FieldType::Date => {
            let text = value.as_str().ok_or(Problem::Text)?;
            if field.kind == FieldType::Date && crate::units::parse_date(text).is_err() {
                return Err(Problem::Date);
            }
            if field.kind == FieldType::Email && !looks_like_email(text) {
                return Err(Problem::Email);
            }
            let length = text.chars().count();
            if let Some(min) = field
                .min
                .map(|min| min as usize)
                .filter(|min| length < *min)
            {
                return Err(Problem::TooShort(min));
            }
            let max = field
                .max
                .map_or(default_max_length(field.kind), |max| max as usize);
            if length > max {
                return Err(Problem::TooLong(max));
            }
            if let Some(pattern) = &field.pattern {
                if !definition.matches_pattern(pattern, text).unwrap_or(false) {
                    return Err(Problem::Pattern(field.pattern_message.clone()));
                }
            }
        }
        FieldType::Year | FieldType::Number => {
            let number = value.as_f64().ok_or(if field.kind == FieldType::Year {
                Problem::Year
            } else {
                Problem::Number
            })?;
            if field.kind == FieldType::Year
                && (number.fract() != 0.0 || !(1000.0..=9999.0).contains(&number))
            {
                return Err(Problem::Year);
            }
            if let Some(min) = field.min.filter(|min| number < *min) {
                return Err(Problem::TooSmall(min));
            }
            if let Some(max) = field.max.filter(|max| number > *max) {
                return Err(Problem::TooLarge(max));
            }
        }
        FieldType::Boolean => {
            if !value.is_boolean() {
                return Err(Problem::Boolean);
            }
        }
        FieldType::Choice => {
            if !value.as_str().is_some_and(option_exists) {
                return Err(Problem::Option);
            }
        }
        FieldType::MultiChoice => {
            let all_exist = value
                .as_array()
                .is_some_and(|keys| keys.iter().all(|k| k.as_str().is_some_and(option_exists)));
            if !all_exist {
                return Err(Problem::Option);
            }
        }
    }
    Ok(())
}

fn looks_like_email(text: &str) -> bool {
    text.split_once('@').is_some_and(|(user, host)| {
        !user.is_empty() && host.contains('.') && !host.starts_with('.') && !host.ends_with('.')
    }) && !text.contains(char::is_whitespace)
}

/// The options of a choice field given the entry's other answers (`context`
/// holds the base names and the entry's fields): a list's `filter` applies.
pub fn options<'d>(
    definition: &'d Definition,
    field: &FieldDef,
    context: &Value,
    language: &str,
) -> Result<Cow<'d, [Choice]>, ScriptError> {
    if let Some(options) = &field.options {
        return Ok(options
            .iter()
            .map(|o| Choice {
                id: o.id.clone(),
                label: o.label.get(language).to_owned(),
            })
            .collect());
    }
    let Some(from) = &field.options_from else {
        return Ok(Cow::Borrowed(&[]));
    };
    let Some(list) = definition.list(&from.list) else {
        return Ok(Cow::Borrowed(&[]));
    };
    let Some(filter) = &from.filter else {
        return Ok(list.choices_in(language));
    };
    let mut choices = Vec::new();
    for row in &list.rows {
        let row_value = serde_json::to_value(row).unwrap_or(Value::Null);
        if definition.eval_bool_with(filter, context, ("row", &row_value))? {
            choices.push(list.choice(row, language));
        }
    }
    Ok(Cow::Owned(choices))
}

/// The outcome of checking one entry of a section.
#[derive(Debug, Clone, PartialEq)]
pub struct EntryCheck {
    /// Problems by field id, in the fields' order.
    pub problems: Vec<(String, Problem)>,
    /// Fields that do not apply (their `when` is false): hidden, not required.
    pub hidden: Vec<String>,
    /// The answers to keep: those of fields that apply.
    pub answers: Map<String, Value>,
}

/// Whether drawing or checking `fields` reads their context (see
/// [`entry_context`]): a field's `when`, or a list filtered by the answers.
/// Most forms do not, and need not build it.
pub fn reads_context(fields: &[FieldDef]) -> bool {
    fields.iter().any(|field| {
        field.when.is_some()
            || field
                .options_from
                .as_ref()
                .is_some_and(|from| from.filter.is_some())
    })
}

/// The names a field's `when` sees: `base` (see [`crate::base_context`]) plus
/// the entry's answers, every field present.
pub fn entry_context(base: &Value, fields: &[FieldDef], entry: &Map<String, Value>) -> Value {
    let mut context = base.clone();
    if let Value::Object(map) = &mut context {
        for field in fields {
            map.insert(
                field.id.clone(),
                entry.get(&field.id).cloned().unwrap_or(Value::Null),
            );
        }
    }
    context
}

/// Checks every answer of an entry: conditions, required fields, kinds,
/// patterns, options (a dependent list's answer must be among the options its
/// filter leaves).
pub fn check_entry(
    definition: &Definition,
    base: &Value,
    fields: &[FieldDef],
    entry: &Map<String, Value>,
) -> Result<EntryCheck, ScriptError> {
    let context = if reads_context(fields) {
        entry_context(base, fields, entry)
    } else {
        Value::Null
    };
    check_entry_in(definition, &context, fields, entry)
}

/// [`check_entry`] with the entry's context made already (see
/// [`entry_context`]; any value when [`reads_context`] is false): for a
/// caller that reads the context itself too, as a form's page does.
pub fn check_entry_in(
    definition: &Definition,
    context: &Value,
    fields: &[FieldDef],
    entry: &Map<String, Value>,
) -> Result<EntryCheck, ScriptError> {
    let mut check = EntryCheck {
        problems: Vec::new(),
        hidden: Vec::new(),
        answers: Map::new(),
    };
    for field in fields {
        let applies = match &field.when {
            Some(when) => definition.eval_bool(when, context)?,
            None => true,
        };
        if !applies {
            check.hidden.push(field.id.clone());
            continue;
        }
        let value = entry.get(&field.id).cloned().unwrap_or(Value::Null);
        if is_blank(&value) {
            if field.required {
                check.problems.push((field.id.clone(), Problem::Required));
            }
            continue;
        }
        let mut outcome = check_answer(definition, field, &value);
        if outcome.is_ok()
            && field
                .options_from
                .as_ref()
                .is_some_and(|f| f.filter.is_some())
        {
            let offered = options(definition, field, context, "fr")?;
            let chosen: Vec<&str> = match &value {
                Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
                other => other.as_str().into_iter().collect(),
            };
            if !chosen
                .iter()
                .all(|key| offered.iter().any(|o| o.id == *key))
            {
                outcome = Err(Problem::Option);
            }
        }
        match outcome {
            Ok(()) => {
                check.answers.insert(field.id.clone(), value);
            }
            Err(problem) => check.problems.push((field.id.clone(), problem)),
        }
    }
    Ok(check)
}
