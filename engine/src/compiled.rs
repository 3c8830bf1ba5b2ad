//! What checking a definition produces besides diagnostics: everything the
//! engine needs at run time, compiled once.

use std::collections::HashMap;

use jiff::tz::TimeZone;
use jiff::{Span, Timestamp};
use minijinja::Environment;

use crate::context::shape::{Shape, CLOCK_NAMES};
use crate::list::Lists;
use crate::model::DefinitionFile;
use crate::script::Scripts;

/// What the checker produces besides diagnostics.
#[derive(Debug)]
pub(crate) struct CompiledDefinition {
    pub lists: Lists,
    pub scripts: Scripts,
    pub templates: Environment<'static>,
    pub timezone: TimeZone,
    /// The campaign's first instant, and the first after its last day, in
    /// the time zone: read by every context that says whether it is open.
    pub opens_at: Timestamp,
    pub closes_at: Timestamp,
    pub max_sizes: HashMap<String, u64>,
    pub durations: HashMap<String, Span>,
    pub patterns: HashMap<String, regex::Regex>,
    /// What a candidature's mails see (see
    /// [`crate::context::shape::candidature_mail_shape`]): read as if
    /// filled into each mail's context.
    pub candidature_mail_shape: std::sync::Arc<Shape>,
    /// The distinct promotion rules, as (index of a transition declaring
    /// it, its key in the index): computed once, read by every command.
    pub promotion_rules: Vec<(usize, String)>,
    /// The dotted names each mail's templates read, and each letter's
    /// (under [`letter_template`]): what of a context a mail needs made.
    pub template_reads: HashMap<String, Vec<String>>,
    /// See [`profile_reads_the_clock`].
    pub profile_reads_the_clock: bool,
    /// See [`piece_condition_reads`].
    pub piece_condition_reads: Option<PieceConditionReads>,
}

/// What of a dossier's base context the pieces' conditions read (each
/// piece's `required_when`, an online form's fields' conditions and their
/// lists' filters): what deciding whether a piece is required and provided
/// needs made of it.
#[derive(Debug, Default)]
pub(crate) struct PieceConditionReads {
    /// The names read.
    pub roots: Vec<String>,
    /// The profile's sections read (none: the whole profile, or none of it
    /// when `roots` lacks it).
    pub profile_sections: Option<Vec<String>>,
}

/// See [`PieceConditionReads`]; `None` when one of the conditions was not
/// compiled, and may read anything.
pub(crate) fn piece_condition_reads(
    file: &DefinitionFile,
    scripts: &Scripts,
) -> Option<PieceConditionReads> {
    let required = file
        .pieces
        .iter()
        .filter_map(|p| p.required_when.as_deref());
    let online = file.forms.iter().flat_map(|form| {
        form.fields.iter().flat_map(|field| {
            let filter = field
                .options_from
                .as_ref()
                .and_then(|f| f.filter.as_deref());
            field.when.as_deref().into_iter().chain(filter)
        })
    });
    let mut reads = PieceConditionReads {
        roots: Vec::new(),
        profile_sections: Some(Vec::new()),
    };
    for expression in required.chain(online) {
        for (root, paths) in scripts.reads(expression)? {
            if !reads.roots.iter().any(|known| known == root) {
                reads.roots.push(root.to_owned());
            }
            if root != "profile" {
                continue;
            }
            for path in paths {
                match (path.first(), &mut reads.profile_sections) {
                    (Some(section), Some(sections)) => {
                        if !sections.contains(section) {
                            sections.push(section.clone());
                        }
                    }
                    // The whole profile read.
                    _ => reads.profile_sections = None,
                }
            }
        }
    }
    Some(reads)
}

/// Whether where a dossier's profile stands ([`crate::profile_state`]) may
/// change with the time alone: a section's or a field's condition, or the
/// filter of a field's list, reads one of [`CLOCK_NAMES`] (or was not
/// compiled, and may read anything).
pub(crate) fn profile_reads_the_clock(file: &DefinitionFile, scripts: &Scripts) -> bool {
    let reads_the_clock = |expression: &str| {
        scripts
            .reads(expression)
            .is_none_or(|mut reads| reads.any(|(root, _)| CLOCK_NAMES.contains(&root)))
    };
    file.profile.iter().any(|section| {
        let fields = section.fields.iter().flat_map(|field| {
            let filter = field
                .options_from
                .as_ref()
                .and_then(|f| f.filter.as_deref());
            field.when.as_deref().into_iter().chain(filter)
        });
        section
            .when
            .as_deref()
            .into_iter()
            .chain(fields)
            .any(reads_the_clock)
    })
}

/// The distinct promotion rules of `file` (two transitions sharing one
/// rule, as two ways of withdrawing may, share its waiting list), each with
/// the index of the first transition declaring it and its key.
pub(crate) fn promotion_rules(file: &crate::model::DefinitionFile) -> Vec<(usize, String)> {
    let mut rules: Vec<(usize, String)> = Vec::new();
    for (index, transition) in file.workflow.transitions.iter().enumerate() {
        if let Some(rule) = &transition.promote {
            let key = rule_key(rule);
            if !rules.iter().any(|(_, known)| *known == key) {
                rules.push((index, key));
            }
        }
    }
    rules
}

/// A promotion rule's name in the index: a digest of what it is.
pub(crate) fn rule_key(rule: &crate::model::PromoteDef) -> String {
    use sha2::Digest;
    let text = format!("{}\0{}\0{}", rule.among, rule.rank, rule.action);
    let digest = sha2::Sha256::digest(text.as_bytes());
    hex::encode(&digest[..8])
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
