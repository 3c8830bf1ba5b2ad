//! The semantic checks of a definition whose structure is valid.
//!
//! Each check reports at the JSON Pointer of the offending value; the source map
//! turns it into `file:line:column`. Checks go on after a problem so that one run
//! lists everything to fix.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::sync::Arc;
use std::sync::OnceLock;

use minijinja::{Environment, UndefinedBehavior};
use regex::Regex;

use crate::bundle::Bundle;
use crate::compiled::CompiledDefinition;
use crate::context::shape::Shape;
use crate::diagnostic::Diagnostics;
use crate::list::{List, Lists};
use crate::model::{DefinitionFile, Text};
use crate::script::{ScriptError, Scripts};
use crate::suggest::did_you_mean;
use crate::yaml::SourceMap;

mod forms;
mod lists;
mod mails;
mod workflow;

/// Names minijinja provides by itself (and the date function the engine
/// adds), which templates may use freely.
const TEMPLATE_GLOBALS: &[&str] = &[
    "days_between",
    "range",
    "dict",
    "namespace",
    "debug",
    "loop",
    "self",
    "super",
    "caller",
    "varargs",
    "kwargs",
];

fn identifier() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new("^[a-z][a-z0-9_]*$").unwrap_or_else(|_| unreachable!()))
}

fn slug() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new("^[a-z0-9][a-z0-9_-]*$").unwrap_or_else(|_| unreachable!()))
}

/// A row of a reference list: column → value.
type Row = BTreeMap<String, String>;

/// Where something stands: file index in the diagnostics, byte range.
type Place = (usize, Range<usize>);

struct Checker<'a> {
    def: &'a DefinitionFile,
    bundle: &'a Bundle,
    map: &'a SourceMap,
    diagnostics: &'a mut Diagnostics,
    main: usize,
    scripts: Scripts,
    templates: Environment<'static>,
    lists: BTreeMap<String, List>,
    max_sizes: HashMap<String, u64>,
    durations: HashMap<String, jiff::Span>,
    patterns: HashMap<String, Regex>,
    /// The dotted names each mail's (or letter's) templates read.
    template_reads: HashMap<String, Vec<String>>,
}

/// The work one render of a mail's or letter's template may do, in
/// minijinja's fuel: about one per instruction and per 64 bytes made. The
/// longest of the shipped procedures' renders takes under a hundred; the
/// budget stops a template that would loop for hours or fill the memory
/// (`{{ "x" * 1000000000 }}`), which would hold the command, and the
/// dossier's turn, while it ran.
pub(crate) const TEMPLATE_FUEL: u64 = 100_000;

pub(crate) fn check(
    def: &DefinitionFile,
    bundle: &Bundle,
    map: &SourceMap,
    diagnostics: &mut Diagnostics,
    main: usize,
) -> Option<CompiledDefinition> {
    let mut templates = Environment::new();
    templates.set_undefined_behavior(UndefinedBehavior::Strict);
    crate::dates::register_templates(&mut templates);
    templates.set_fuel(Some(TEMPLATE_FUEL));
    // An answer left empty (an optional input) prints as nothing, not `none`.
    templates.set_formatter(|out, state, value| {
        if value.is_none() {
            Ok(())
        } else {
            minijinja::escape_formatter(out, state, value)
        }
    });
    let mut checker = Checker {
        def,
        bundle,
        map,
        diagnostics,
        main,
        scripts: Scripts::default(),
        templates,
        lists: BTreeMap::new(),
        max_sizes: HashMap::new(),
        durations: HashMap::new(),
        patterns: HashMap::new(),
        template_reads: HashMap::new(),
    };
    if def.guichet != 1 {
        checker.error(
            "/guichet",
            format!("format version {} is not known", def.guichet),
            "write `guichet: 1`",
        );
    }
    checker.slug("/id", &def.id);
    if let Some(sender) = &def.sender {
        let address = sender
            .rsplit_once('<')
            .map_or(sender.as_str(), |(_, rest)| rest.trim_end_matches('>'));
        let valid = address.split_once('@').is_some_and(|(user, host)| {
            !user.is_empty() && host.contains('.') && !host.contains(' ')
        });
        if !valid {
            checker.error(
                "/sender",
                format!("`{sender}` is not a mail address"),
                "write an address, or a name and an address: `Scolarité <scolarite@example.org>`",
            );
        }
    }
    checker.text("/title", &def.title);
    let timezone = checker.timezone();
    checker.languages();
    let (opens, closes) = checker.campaign();
    checker.lists();
    // Expressions may look values up in the lists: they are known from here on.
    let lists: Lists = Arc::new(checker.lists.clone());
    checker.scripts = Scripts::new(Arc::clone(&lists));
    checker.profile();
    checker.forms();
    checker.pieces();
    checker.formations();
    checker.roles();
    checker.states();
    checker.transitions();
    checker.piece_workflow();
    checker.deadlines();
    checker.mails();
    checker.letters();
    checker.migrations();
    checker.accounts();
    checker.tests();
    let profile_reads_the_clock =
        crate::compiled::profile_reads_the_clock(checker.def, &checker.scripts);
    let piece_condition_reads =
        crate::compiled::piece_condition_reads(checker.def, &checker.scripts);
    Some(CompiledDefinition {
        lists,
        scripts: checker.scripts,
        templates: checker.templates,
        opens_at: crate::dates::start_of_day_in(timezone.as_ref()?, opens?),
        closes_at: crate::dates::end_of_day_in(timezone.as_ref()?, closes?),
        timezone: timezone?,
        max_sizes: checker.max_sizes,
        durations: checker.durations,
        patterns: checker.patterns,
        candidature_mail_shape: std::sync::Arc::new(crate::context::shape::candidature_mail_shape(
            checker.def,
        )),
        promotion_rules: crate::compiled::promotion_rules(checker.def),
        template_reads: checker.template_reads,
        profile_reads_the_clock,
        piece_condition_reads,
    })
}

impl Checker<'_> {
    pub(super) fn error(
        &mut self,
        pointer: &str,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) {
        let span = self.map.value_span(pointer);
        self.diagnostics.push(self.main, span, message, hint);
    }

    pub(super) fn error_at_key(
        &mut self,
        pointer: &str,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) {
        let span = self.map.key_span(pointer);
        self.diagnostics.push(self.main, span, message, hint);
    }

    /// Reports `name` unknown among `known`, suggesting the closest.
    pub(super) fn unknown(&mut self, pointer: &str, what: &str, name: &str, known: &[&str]) {
        let hint = match did_you_mean(name, known.iter().copied()) {
            Some(close) => format!("did you mean `{close}`?"),
            None if known.is_empty() => format!("declare a {what} `{name}` first"),
            None => format!("the {what}s declared are: {}", known.join(", ")),
        };
        self.error(pointer, format!("unknown {what} `{name}`"), hint);
    }

    pub(super) fn identifier(&mut self, pointer: &str, id: &str) {
        if !identifier().is_match(id) {
            self.error(
                pointer,
                format!("`{id}` is not a valid id here"),
                "use lowercase letters, digits and `_`, starting with a letter (e.g. `birth_date`): \
                 conditions and templates refer to it by name",
            );
        }
    }

    pub(super) fn slug(&mut self, pointer: &str, id: &str) {
        if !slug().is_match(id) {
            self.error(
                pointer,
                format!("`{id}` is not a valid id"),
                "use lowercase letters, digits, `-` and `_` (e.g. `m1-oceanography`)",
            );
        }
    }

    pub(super) fn text(&mut self, pointer: &str, text: &Text) {
        if text.variants().iter().all(|(_, t)| t.trim().is_empty()) {
            self.error(
                pointer,
                "this text is empty",
                "write the text, or give it per language: `{ fr: \"…\", en: \"…\" }`",
            );
        }
    }

    /// Checks ids are unique in a collection at `base` (items at `base/N/id`).
    fn unique<'i>(&mut self, base: &str, what: &str, ids: impl IntoIterator<Item = &'i str>) {
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for (index, id) in ids.into_iter().enumerate() {
            if let Some(first) = seen.get(id) {
                let first_line = self.line_of(&format!("{base}/{first}/id"));
                self.error(
                    &format!("{base}/{index}/id"),
                    format!("duplicate {what} id `{id}`"),
                    format!("`{id}` is already used on line {first_line}; ids must be unique"),
                );
            } else {
                seen.insert(id, index);
            }
        }
    }

    pub(super) fn line_of(&self, pointer: &str) -> usize {
        let start = self
            .map
            .value_span(pointer)
            .start
            .min(self.bundle.text.len());
        self.bundle.text[..start].matches('\n').count() + 1
    }

    pub(super) fn expression(&mut self, pointer: &str, source: &str, shape: &Shape) {
        match self.scripts.compile(source, shape) {
            Ok(()) => self.lookups(pointer, source),
            Err(ScriptError::UnknownPath {
                path,
                segment,
                known,
            }) => {
                let span = self.map.value_span(pointer);
                let text = self.bundle.text.get(span.clone()).unwrap_or("");
                let span = match text.find(&path) {
                    Some(at) => {
                        let inner = path.rfind(&segment).unwrap_or(0);
                        let start = span.start + at + inner;
                        start..start + segment.len()
                    }
                    None => span,
                };
                let hint = match did_you_mean(&segment, known.iter().map(String::as_str)) {
                    Some(close) => format!("did you mean `{close}`?"),
                    None if known.is_empty() => "this value has no named parts".to_owned(),
                    None => format!("the names known here are: {}", known.join(", ")),
                };
                self.diagnostics.push(
                    self.main,
                    span,
                    format!("`{path}`: unknown name `{segment}`"),
                    hint,
                );
            }
            Err(error) => {
                let mut hint = "conditions are rhai expressions such as \
                                `profile.identity.nationality != \"FR\"`"
                    .to_owned();
                if let Shape::Object(roots) = shape {
                    let names: Vec<&str> = roots.keys().map(String::as_str).collect();
                    hint.push_str(&format!("; the names known here are: {}", names.join(", ")));
                }
                self.error(
                    pointer,
                    format!("this expression does not compile: {error}"),
                    hint,
                );
            }
        }
    }

    /// Checks the list and column named by each `lookup('list', key, 'column')`.
    pub(super) fn lookups(&mut self, pointer: &str, source: &str) {
        static LOOKUP: OnceLock<Regex> = OnceLock::new();
        let lookup = LOOKUP.get_or_init(|| {
            Regex::new(r#"lookup\(\s*['"]([^'"]*)['"]\s*,[^)]*,\s*['"]([^'"]*)['"]\s*\)"#)
                .unwrap_or_else(|_| unreachable!())
        });
        for found in lookup.captures_iter(source) {
            let (list, column) = (&found[1], &found[2]);
            match self.lists.get(list) {
                None => {
                    let known: Vec<String> = self.lists.keys().cloned().collect();
                    let known: Vec<&str> = known.iter().map(String::as_str).collect();
                    self.unknown(pointer, "list", list, &known);
                }
                Some(rows) if !rows.columns.iter().any(|c| c == column) => {
                    let known = rows.columns.clone();
                    let known: Vec<&str> = known.iter().map(String::as_str).collect();
                    self.unknown(pointer, &format!("column of list `{list}`"), column, &known);
                }
                Some(_) => {}
            }
        }
    }
}
