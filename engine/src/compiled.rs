//! What checking a definition produces besides diagnostics: everything the
//! engine needs at run time, compiled once.

use std::collections::HashMap;

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::Span;
use minijinja::Environment;

use crate::context::shape::Shape;
use crate::list::Lists;
use crate::script::Scripts;

/// What the checker produces besides diagnostics.
#[derive(Debug)]
pub(crate) struct CompiledDefinition {
    pub lists: Lists,
    pub scripts: Scripts,
    pub templates: Environment<'static>,
    pub timezone: TimeZone,
    pub opens: Date,
    pub closes: Date,
    pub max_sizes: HashMap<String, u64>,
    pub durations: HashMap<String, Span>,
    pub patterns: HashMap<String, regex::Regex>,
    /// What every expression about a dossier sees (see
    /// [`crate::context::shape::base_shape`]): filled into each context.
    pub base_shape: Shape,
}

/// The owner name under which a letter's parts are compiled: apart from
/// the mails', whose ids have no `/`.
pub(crate) fn letter_template(letter: &str) -> String {
    format!("letters/{letter}")
}

/// Name under which a mail part is compiled; `.html` turns auto-escaping on.
pub(crate) fn template_name(mail: &str, part: &str, language: &str) -> String {
    let language = if language.is_empty() { "all" } else { language };
    let extension = if part == "html" { "html" } else { "txt" };
    format!("{mail}/{part}.{language}.{extension}")
}
