//! The semantic checks of a definition whose structure is valid.
//!
//! Each check reports at the JSON Pointer of the offending value; the source map
//! turns it into `file:line:column`. Checks go on after a problem so that one run
//! lists everything to fix.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::ops::Range;
use std::sync::Arc;
use std::sync::OnceLock;

use jiff::tz::TimeZone;
use minijinja::{Environment, UndefinedBehavior};
use regex::Regex;

use crate::context::{self, Shape};
use crate::definition::{template_name, Bundle, Compiled, List};
use crate::diagnostic::Diagnostics;
use crate::model::{DefinitionFile, FieldDef, FieldType, MailSubject, OneOrMany, RoleKind, Text};
use crate::script::{Lists, ScriptError, Scripts};
use crate::suggest::did_you_mean;
use crate::units::{parse_date, parse_duration, parse_size};
use crate::yaml::{escape_segment, SourceMap};

/// Names minijinja provides by itself, which templates may use freely.
const TEMPLATE_GLOBALS: &[&str] = &[
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
}

pub(crate) fn check(
    def: &DefinitionFile,
    bundle: &Bundle,
    map: &SourceMap,
    diagnostics: &mut Diagnostics,
    main: usize,
) -> Option<Compiled> {
    let mut templates = Environment::new();
    templates.set_undefined_behavior(UndefinedBehavior::Strict);
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
    checker.accounts();
    checker.tests();
    Some(Compiled {
        lists,
        scripts: checker.scripts,
        templates: checker.templates,
        timezone: timezone?,
        opens: opens?,
        closes: closes?,
        max_sizes: checker.max_sizes,
        durations: checker.durations,
        patterns: checker.patterns,
    })
}

impl Checker<'_> {
    fn error(&mut self, pointer: &str, message: impl Into<String>, hint: impl Into<String>) {
        let span = self.map.value_span(pointer);
        self.diagnostics.push(self.main, span, message, hint);
    }

    fn error_at_key(&mut self, pointer: &str, message: impl Into<String>, hint: impl Into<String>) {
        let span = self.map.key_span(pointer);
        self.diagnostics.push(self.main, span, message, hint);
    }

    /// Reports `name` unknown among `known`, suggesting the closest.
    fn unknown(&mut self, pointer: &str, what: &str, name: &str, known: &[&str]) {
        let hint = match did_you_mean(name, known.iter().copied()) {
            Some(close) => format!("did you mean `{close}`?"),
            None if known.is_empty() => format!("declare a {what} `{name}` first"),
            None => format!("the {what}s declared are: {}", known.join(", ")),
        };
        self.error(pointer, format!("unknown {what} `{name}`"), hint);
    }

    fn identifier(&mut self, pointer: &str, id: &str) {
        if !identifier().is_match(id) {
            self.error(
                pointer,
                format!("`{id}` is not a valid id here"),
                "use lowercase letters, digits and `_`, starting with a letter (e.g. `birth_date`): \
                 conditions and templates refer to it by name",
            );
        }
    }

    fn slug(&mut self, pointer: &str, id: &str) {
        if !slug().is_match(id) {
            self.error(
                pointer,
                format!("`{id}` is not a valid id"),
                "use lowercase letters, digits, `-` and `_` (e.g. `m1-oceanography`)",
            );
        }
    }

    fn text(&mut self, pointer: &str, text: &Text) {
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

    fn line_of(&self, pointer: &str) -> usize {
        let start = self
            .map
            .value_span(pointer)
            .start
            .min(self.bundle.text.len());
        self.bundle.text[..start].matches('\n').count() + 1
    }

    fn expression(&mut self, pointer: &str, source: &str, shape: &Shape) {
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
    fn lookups(&mut self, pointer: &str, source: &str) {
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

    fn timezone(&mut self) -> Option<TimeZone> {
        let name = self.def.timezone.as_deref().unwrap_or("UTC");
        match TimeZone::get(name) {
            Ok(tz) => Some(tz),
            Err(_) => {
                self.error(
                    "/timezone",
                    format!("unknown time zone `{name}`"),
                    "use an IANA time zone name such as `Europe/Paris`",
                );
                None
            }
        }
    }

    fn date(&mut self, pointer: &str, text: &str) -> Option<jiff::civil::Date> {
        match parse_date(text) {
            Ok(date) => Some(date),
            Err(message) => {
                self.error(
                    pointer,
                    message,
                    "write dates as YYYY-MM-DD, e.g. 2027-03-01",
                );
                None
            }
        }
    }

    fn campaign(&mut self) -> (Option<jiff::civil::Date>, Option<jiff::civil::Date>) {
        let opens = self.date("/campaign/opens", &self.def.campaign.opens);
        let closes = self.date("/campaign/closes", &self.def.campaign.closes);
        if let (Some(o), Some(c)) = (opens, closes) {
            if c < o {
                self.error(
                    "/campaign/closes",
                    format!("the campaign closes ({c}) before it opens ({o})"),
                    "`closes` must be the same day as `opens` or later",
                );
            }
        }
        if self.def.campaign.max_candidatures == Some(0) {
            self.error(
                "/campaign/max_candidatures",
                "a candidate could not apply to anything",
                "give at least 1, or remove the key for no limit",
            );
        }
        (opens, closes)
    }

    fn lists(&mut self) {
        for (id, list) in &self.def.lists {
            let base = format!("/lists/{}", escape_segment(id));
            if !identifier().is_match(id) {
                self.error_at_key(
                    &base,
                    format!("`{id}` is not a valid list id"),
                    "use lowercase letters, digits and `_`",
                );
            }
            let rows = match (&list.file, &list.items) {
                (Some(_), Some(_)) | (None, None) => {
                    self.error(
                        &base,
                        format!("list `{id}` needs exactly one of `file` or `items`"),
                        "give `file: data/name.csv` or inline `items:`",
                    );
                    continue;
                }
                (None, Some(items)) => {
                    let places = (0..items.len())
                        .map(|n| (self.main, self.map.value_span(&format!("{base}/items/{n}"))))
                        .collect();
                    (items.clone(), places)
                }
                (Some(name), None) => match self.csv(&format!("{base}/file"), name) {
                    Some(rows) => rows,
                    None => continue,
                },
            };
            let (rows, places) = rows;
            let key = list.key.clone().unwrap_or_else(|| "id".into());
            let label = list.label.clone().unwrap_or_else(|| "label".into());
            let mut columns: Vec<String> = Vec::new();
            for row in &rows {
                for column in row.keys() {
                    if !columns.contains(column) {
                        columns.push(column.clone());
                    }
                }
            }
            for (what, column) in [("key", &key), ("label", &label)] {
                if !rows.is_empty() && !columns.contains(column) {
                    let known: Vec<&str> = columns.iter().map(String::as_str).collect();
                    let pointer = if list.key.is_some() && what == "key"
                        || list.label.is_some() && what == "label"
                    {
                        format!("{base}/{what}")
                    } else {
                        base.clone()
                    };
                    self.unknown(&pointer, &format!("{what} column"), column, &known);
                }
            }
            let mut seen = BTreeSet::new();
            for (row, (file, span)) in rows.iter().zip(&places) {
                if let Some(value) = row.get(&key) {
                    if !seen.insert(value.clone()) {
                        self.diagnostics.push(
                            *file,
                            span.clone(),
                            format!("list `{id}` has the key `{value}` twice"),
                            format!("each row needs its own value in column `{key}`"),
                        );
                    }
                }
            }
            self.lists.insert(
                id.clone(),
                List {
                    columns,
                    rows,
                    key,
                    label,
                },
            );
        }
        if let Some(composantes) = &self.def.composantes {
            if !self.def.lists.contains_key(composantes) {
                let known: Vec<&str> = self.def.lists.keys().map(String::as_str).collect();
                self.unknown("/composantes", "list", composantes, &known);
            }
        }
    }

    /// Reads a CSV list: its rows, and where each row stands.
    fn csv(&mut self, pointer: &str, name: &str) -> Option<(Vec<Row>, Vec<Place>)> {
        let Some(content) = self.bundle.files.get(name) else {
            let path = std::path::Path::new(&self.bundle.base).join(name);
            self.error(
                pointer,
                format!("cannot read the list file `{}`", path.display()),
                "the path is relative to the definition file; check it exists and is readable",
            );
            return None;
        };
        let path = std::path::Path::new(&self.bundle.base).join(name);
        let file = self
            .diagnostics
            .add_file(&path.display().to_string(), content);
        let line_at = |offset: usize| {
            let end = content[offset.min(content.len())..]
                .find('\n')
                .map_or(content.len(), |n| offset + n);
            offset..end
        };
        let mut reader = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .from_reader(content.as_bytes());
        let headers = match reader.headers() {
            Ok(headers) => headers.clone(),
            Err(error) => {
                self.diagnostics.push(
                    file,
                    0..0,
                    format!("`{name}` is not a readable CSV file: {error}"),
                    "the first line must name the columns, separated by commas; the file must be UTF-8",
                );
                return None;
            }
        };
        let mut rows = Vec::new();
        let mut places = Vec::new();
        for record in reader.records() {
            match record {
                Ok(record) => {
                    let offset = record.position().map_or(0, |p| p.byte() as usize);
                    places.push((file, line_at(offset)));
                    rows.push(
                        headers
                            .iter()
                            .zip(record.iter())
                            .map(|(h, v)| (h.to_owned(), v.to_owned()))
                            .collect(),
                    );
                }
                Err(error) => {
                    let offset = error.position().map_or(0, |p| p.byte() as usize);
                    let message = match error.kind() {
                        csv::ErrorKind::UnequalLengths {
                            expected_len, len, ..
                        } => {
                            format!("this line has {len} values where the header names {expected_len} columns")
                        }
                        _ => format!("`{name}` cannot be read here: {error}"),
                    };
                    self.diagnostics.push(
                        file,
                        line_at(offset),
                        message,
                        "every line needs as many values as the header has columns; quote values containing commas",
                    );
                    return None;
                }
            }
        }
        Some((rows, places))
    }

    fn fields(&mut self, base: &str, fields: &[FieldDef], condition_shape: &Shape) {
        self.unique(base, "field", fields.iter().map(|f| f.id.as_str()));
        for (index, field) in fields.iter().enumerate() {
            let at = format!("{base}/{index}");
            self.identifier(&format!("{at}/id"), &field.id);
            self.text(&format!("{at}/label"), &field.label);
            if let Some(when) = &field.when {
                self.expression(&format!("{at}/when"), when, condition_shape);
            }
            if let Some(pattern) = &field.pattern {
                // Whole-value match: `^[0-9]{5}$` and `[0-9]{5}` mean the same.
                match Regex::new(&format!("^(?:{pattern})$")) {
                    Ok(compiled) => {
                        self.patterns.insert(pattern.clone(), compiled);
                    }
                    Err(error) => {
                        let message = error.to_string();
                        let first = message.lines().last().unwrap_or(&message).to_owned();
                        self.error(
                        &format!("{at}/pattern"),
                        format!("this pattern is not a valid regular expression: {first}"),
                        "write a regular expression, e.g. `^[0-9]{9}[A-Z]{2}$`; in YAML, quote it with single quotes",
                    );
                    }
                }
            }
            let is_choice = matches!(field.kind, FieldType::Choice | FieldType::MultiChoice);
            match (&field.options, &field.options_from) {
                (Some(_), Some(_)) => self.error(
                    &at,
                    format!("field `{}` has both `options` and `options_from`", field.id),
                    "keep one of them",
                ),
                (None, None) if is_choice => self.error(
                    &at,
                    format!("choice field `{}` has no options", field.id),
                    "add `options:` or `options_from: { list: … }`",
                ),
                (Some(_), _) | (_, Some(_)) if !is_choice => self.error(
                    &at,
                    format!("field `{}` has options but is not a choice", field.id),
                    "use `type: choice` or `type: multi_choice`, or remove the options",
                ),
                _ => {}
            }
            if let Some(options) = &field.options {
                self.unique(
                    &format!("{at}/options"),
                    "option",
                    options.iter().map(|o| o.id.as_str()),
                );
            }
            if let Some(from) = &field.options_from {
                match self.lists.get(&from.list) {
                    None => {
                        let known: Vec<String> = self.def.lists.keys().cloned().collect();
                        let known: Vec<&str> = known.iter().map(String::as_str).collect();
                        self.unknown(
                            &format!("{at}/options_from/list"),
                            "list",
                            &from.list,
                            &known,
                        );
                    }
                    Some(list) => {
                        if let Some(filter) = &from.filter {
                            let shape = context::filter_shape(self.def, fields, &list.columns);
                            self.expression(&format!("{at}/options_from/filter"), filter, &shape);
                        }
                    }
                }
            }
            if let (Some(min), Some(max)) = (field.min, field.max) {
                if min > max {
                    self.error(
                        &format!("{at}/max"),
                        format!("`max` ({max}) is smaller than `min` ({min})"),
                        "swap them",
                    );
                }
            }
        }
    }

    fn profile(&mut self) {
        let sections = &self.def.profile;
        self.unique(
            "/profile",
            "section",
            sections.iter().map(|s| s.id.as_str()),
        );
        for (index, section) in sections.iter().enumerate() {
            let at = format!("/profile/{index}");
            self.identifier(&format!("{at}/id"), &section.id);
            self.text(&format!("{at}/title"), &section.title);
            let shape = context::section_shape(self.def, &section.fields);
            if let Some(when) = &section.when {
                self.expression(&format!("{at}/when"), when, &context::base_shape(self.def));
            }
            if section.repeat.is_some() && section.import.is_some() {
                self.error(
                    &format!("{at}/import"),
                    "an imported section cannot also be repeatable by the candidate",
                    "remove `repeat:` (imported entries come as a list anyway) or `import:`",
                );
            }
            self.fields(&format!("{at}/fields"), &section.fields, &shape);
        }
    }

    fn forms(&mut self) {
        let forms = &self.def.forms;
        self.unique("/forms", "form", forms.iter().map(|f| f.id.as_str()));
        for (index, form) in forms.iter().enumerate() {
            let at = format!("/forms/{index}");
            self.slug(&format!("{at}/id"), &form.id);
            let shape = context::section_shape(self.def, &form.fields);
            self.fields(&format!("{at}/fields"), &form.fields, &shape);
        }
    }

    fn pieces(&mut self) {
        let pieces = &self.def.pieces;
        self.unique("/pieces", "piece", pieces.iter().map(|p| p.id.as_str()));
        let shape = context::formation_shape(self.def);
        for (index, piece) in pieces.iter().enumerate() {
            let at = format!("/pieces/{index}");
            self.identifier(&format!("{at}/id"), &piece.id);
            self.text(&format!("{at}/label"), &piece.label);
            if piece.accept.is_empty() {
                self.error(
                    &format!("{at}/accept"),
                    "no file format is accepted",
                    "list at least one of: pdf, jpg, png",
                );
            }
            match parse_size(&piece.max_size) {
                Ok(bytes) => {
                    self.max_sizes.insert(piece.id.clone(), bytes);
                }
                Err(message) => self.error(
                    &format!("{at}/max_size"),
                    message,
                    "write a size such as `2MB`, `500KB` or `1.5MiB`",
                ),
            }
            if let Some(when) = &piece.required_when {
                self.expression(&format!("{at}/required_when"), when, &shape);
            }
        }
    }

    fn formations(&mut self) {
        let def = self.def;
        self.unique(
            "/formations",
            "formation",
            def.formations.iter().map(|f| f.id.as_str()),
        );
        let pieces: Vec<&str> = def.pieces.iter().map(|p| p.id.as_str()).collect();
        let forms: Vec<&str> = def.forms.iter().map(|f| f.id.as_str()).collect();
        for (index, formation) in def.formations.iter().enumerate() {
            let at = format!("/formations/{index}");
            self.slug(&format!("{at}/id"), &formation.id);
            self.text(&format!("{at}/title"), &formation.title);
            let mut seen = BTreeSet::new();
            for (p, piece) in formation.pieces.iter().enumerate() {
                let pointer = format!("{at}/pieces/{p}");
                if !pieces.contains(&piece.as_str()) {
                    self.unknown(&pointer, "piece", piece, &pieces);
                } else if !seen.insert(piece) {
                    self.error(
                        &pointer,
                        format!("piece `{piece}` is listed twice"),
                        "list it once",
                    );
                }
            }
            if let Some(form) = &formation.form {
                if !forms.contains(&form.as_str()) {
                    self.unknown(&format!("{at}/form"), "form", form, &forms);
                }
            }
            match (&formation.composante, &def.composantes) {
                (Some(key), Some(list_id)) => {
                    if let Some(list) = self.lists.get(list_id) {
                        if list.row(key).is_none() {
                            let keys: Vec<String> = list
                                .rows
                                .iter()
                                .filter_map(|r| r.get(&list.key).cloned())
                                .collect();
                            let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
                            self.unknown(&format!("{at}/composante"), "composante", key, &keys);
                        }
                    }
                }
                (Some(_), None) => self.error(
                    &format!("{at}/composante"),
                    "formations name a composante but no list of composantes is declared",
                    "add `composantes: <list id>` at the top level, naming the list of composantes",
                ),
                _ => {}
            }
        }
    }

    fn roles(&mut self) {
        let roles = &self.def.roles;
        self.unique("/roles", "role", roles.iter().map(|r| r.id.as_str()));
        for (index, role) in roles.iter().enumerate() {
            self.identifier(&format!("/roles/{index}/id"), &role.id);
        }
        if !roles.iter().any(|r| r.kind == RoleKind::Candidate) {
            self.error(
                "/roles",
                "no role has `kind: candidate`",
                "declare the role candidates act with, e.g. `{ id: candidate, label: Candidat, kind: candidate }`",
            );
        }
        if roles.iter().filter(|r| r.kind == RoleKind::System).count() > 1 {
            self.error(
                "/roles",
                "more than one role has `kind: system`",
                "deadlines act as one system role; keep one",
            );
        }
    }

    /// Checks every id of `ids` is among `known`; `what` names the kind of thing.
    fn refs(&mut self, pointer: &str, ids: &OneOrMany, what: &str, known: &[&str]) {
        for (i, id) in ids.ids().into_iter().enumerate() {
            if !known.contains(&id) {
                let at = match ids {
                    OneOrMany::One(_) => pointer.to_owned(),
                    OneOrMany::Many(_) => format!("{pointer}/{i}"),
                };
                self.unknown(&at, what, id, known);
            }
        }
    }

    fn role_refs(&mut self, pointer: &str, by: &OneOrMany) {
        let def = self.def;
        let known: Vec<&str> = def.roles.iter().map(|r| r.id.as_str()).collect();
        self.refs(pointer, by, "role", &known);
    }

    fn state_refs(&mut self, pointer: &str, ids: &OneOrMany) {
        let def = self.def;
        let known: Vec<&str> = def.workflow.states.iter().map(|s| s.id.as_str()).collect();
        self.refs(pointer, ids, "state", &known);
    }

    fn piece_status_refs(&mut self, pointer: &str, ids: &OneOrMany) {
        let def = self.def;
        let statuses = &def.workflow.piece_statuses;
        let known: Vec<&str> = statuses.iter().map(|s| s.id.as_str()).collect();
        self.refs(pointer, ids, "piece status", &known);
    }

    fn states(&mut self) {
        let states = &self.def.workflow.states;
        self.unique(
            "/workflow/states",
            "state",
            states.iter().map(|s| s.id.as_str()),
        );
        for (index, state) in states.iter().enumerate() {
            self.identifier(&format!("/workflow/states/{index}/id"), &state.id);
            self.text(&format!("/workflow/states/{index}/label"), &state.label);
            for (r, role) in state.visible_to.iter().enumerate() {
                let known: Vec<&str> = self.def.roles.iter().map(|r| r.id.as_str()).collect();
                if !known.contains(&role.as_str()) {
                    self.unknown(
                        &format!("/workflow/states/{index}/visible_to/{r}"),
                        "role",
                        role,
                        &known,
                    );
                }
            }
        }
        let initial: Vec<usize> = states
            .iter()
            .enumerate()
            .filter(|(_, s)| s.initial)
            .map(|(i, _)| i)
            .collect();
        match initial.as_slice() {
            [] => self.error(
                "/workflow/states",
                "no state is marked `initial: true`",
                "mark the state new candidatures start in with `initial: true`",
            ),
            [_] => {}
            [_, rest @ ..] => {
                for index in rest {
                    self.error(
                        &format!("/workflow/states/{index}/initial"),
                        "more than one state is marked initial",
                        "candidatures start in one state: keep `initial: true` on one",
                    );
                }
            }
        }
        // Every state must be reachable from the initial one. An unknown state in
        // a transition is reported there; reporting what it makes unreachable too
        // would only bury the cause.
        let known = |id: &str| states.iter().any(|s| s.id == id);
        let all_resolve = self
            .def
            .workflow
            .transitions
            .iter()
            .all(|t| known(&t.to) && t.from.ids().into_iter().all(known));
        let Some(start) = initial.first().map(|&i| states[i].id.as_str()) else {
            return;
        };
        if !all_resolve {
            return;
        }
        let mut reached: BTreeSet<&str> = BTreeSet::from([start]);
        let mut queue = VecDeque::from([start]);
        while let Some(state) = queue.pop_front() {
            for transition in &self.def.workflow.transitions {
                if transition.from.ids().contains(&state) && reached.insert(&transition.to) {
                    queue.push_back(&transition.to);
                }
            }
        }
        for (index, state) in states.iter().enumerate() {
            if !reached.contains(state.id.as_str()) {
                self.error(
                    &format!("/workflow/states/{index}/id"),
                    format!("state `{}` cannot be reached from `{start}`", state.id),
                    format!(
                        "add a transition with `to: {}` from a reachable state, or remove the state",
                        state.id
                    ),
                );
            }
        }
    }

    fn transitions(&mut self) {
        let def = self.def;
        let transitions = &def.workflow.transitions;
        let all_ids = transitions
            .iter()
            .map(|t| t.id.as_str())
            .chain(def.workflow.piece_transitions.iter().map(|t| t.id.as_str()));
        self.unique("/workflow/transitions", "transition", all_ids);
        for (index, transition) in transitions.iter().enumerate() {
            let at = format!("/workflow/transitions/{index}");
            self.identifier(&format!("{at}/id"), &transition.id);
            self.text(&format!("{at}/label"), &transition.label);
            self.state_refs(&format!("{at}/from"), &transition.from);
            self.state_refs(&format!("{at}/to"), &OneOrMany::One(transition.to.clone()));
            self.role_refs(&format!("{at}/by"), &transition.by);
            for (i, from) in transition.from.ids().into_iter().enumerate() {
                if def
                    .workflow
                    .states
                    .iter()
                    .any(|s| s.id == from && s.is_final)
                {
                    let pointer = match &transition.from {
                        OneOrMany::One(_) => format!("{at}/from"),
                        OneOrMany::Many(_) => format!("{at}/from/{i}"),
                    };
                    self.error(
                        &pointer,
                        format!("transition `{}` leaves the final state `{from}`", transition.id),
                        format!("a final state is an end: remove `{from}` from `from`, or remove `final: true` from it"),
                    );
                }
            }
            let shape = context::transition_shape(def, &transition.input);
            if let Some(when) = &transition.when {
                self.expression(&format!("{at}/when"), when, &shape);
            }
            let input_shape = context::section_shape(def, &transition.input);
            self.fields(&format!("{at}/input"), &transition.input, &input_shape);
            for (key, expression) in &transition.set {
                let pointer = format!("{at}/set/{}", escape_segment(key));
                if !identifier().is_match(key) {
                    self.error_at_key(
                        &pointer,
                        format!("`{key}` is not a valid data key"),
                        "use lowercase letters, digits and `_`",
                    );
                }
                self.expression(&pointer, expression, &shape);
            }
            for (p, effect) in transition.pieces.iter().enumerate() {
                self.piece_status_refs(&format!("{at}/pieces/{p}/from"), &effect.from);
                self.piece_status_refs(
                    &format!("{at}/pieces/{p}/to"),
                    &OneOrMany::One(effect.to.clone()),
                );
            }
            self.mail_effects(&format!("{at}/mails"), &transition.mails, &shape);
            if let Some(promote) = &transition.promote {
                let candidature = context::candidature_shape(def);
                self.expression(&format!("{at}/promote/among"), &promote.among, &candidature);
                self.expression(&format!("{at}/promote/rank"), &promote.rank, &candidature);
                self.system_transition(&format!("{at}/promote/do"), &promote.action, None);
            }
        }
        let shape = context::candidature_shape(def);
        self.mail_effects(
            "/workflow/on_apply/mails",
            &def.workflow.on_apply.mails,
            &shape,
        );
    }

    fn mail_effects(&mut self, base: &str, effects: &[crate::model::MailEffect], shape: &Shape) {
        let def = self.def;
        let mails: Vec<&str> = def.mails.iter().map(|m| m.id.as_str()).collect();
        for (m, effect) in effects.iter().enumerate() {
            let pointer = format!("{base}/{m}");
            match def.mails.iter().find(|mail| mail.id == effect.mail) {
                None => self.unknown(&format!("{pointer}/mail"), "mail", &effect.mail, &mails),
                Some(mail) if mail.about != MailSubject::Candidature => self.error(
                    &format!("{pointer}/mail"),
                    format!("mail `{}` is about an account, not a candidature", mail.id),
                    "use a mail with `about: candidature` (the default)",
                ),
                Some(_) => {}
            }
            if let Some(when) = &effect.when {
                self.expression(&format!("{pointer}/when"), when, shape);
            }
        }
    }

    fn piece_workflow(&mut self) {
        let def = self.def;
        let statuses = &def.workflow.piece_statuses;
        self.unique(
            "/workflow/piece_statuses",
            "piece status",
            statuses.iter().map(|s| s.id.as_str()),
        );
        for (index, status) in statuses.iter().enumerate() {
            self.identifier(&format!("/workflow/piece_statuses/{index}/id"), &status.id);
        }
        match statuses.iter().filter(|s| s.initial).count() {
            1 => {}
            0 => self.error(
                "/workflow/piece_statuses",
                "no piece status is marked `initial: true`",
                "mark the status a piece has before anything is uploaded with `initial: true`",
            ),
            _ => self.error(
                "/workflow/piece_statuses",
                "more than one piece status is marked initial",
                "keep `initial: true` on one",
            ),
        }
        let shape = context::piece_transition_shape(def);
        for (index, transition) in def.workflow.piece_transitions.iter().enumerate() {
            let at = format!("/workflow/piece_transitions/{index}");
            self.identifier(&format!("{at}/id"), &transition.id);
            self.piece_status_refs(&format!("{at}/from"), &transition.from);
            self.piece_status_refs(&format!("{at}/to"), &OneOrMany::One(transition.to.clone()));
            self.role_refs(&format!("{at}/by"), &transition.by);
            if let Some(when) = &transition.when {
                self.expression(&format!("{at}/when"), when, &shape);
            }
        }
    }

    fn duration(&mut self, pointer: &str, text: &str) {
        match parse_duration(text) {
            Ok(span) => {
                self.durations.insert(text.to_owned(), span);
            }
            Err(message) => self.error(
                pointer,
                message,
                "write a duration such as `8 days`, `48 hours` or `2 weeks`",
            ),
        }
    }

    fn deadlines(&mut self) {
        let def = self.def;
        let deadlines = &def.workflow.deadlines;
        self.unique(
            "/workflow/deadlines",
            "deadline",
            deadlines.iter().map(|d| d.id.as_str()),
        );
        let shape = context::candidature_shape(def);
        let mails: Vec<&str> = def.mails.iter().map(|m| m.id.as_str()).collect();
        for (index, deadline) in deadlines.iter().enumerate() {
            let at = format!("/workflow/deadlines/{index}");
            self.identifier(&format!("{at}/id"), &deadline.id);
            self.state_refs(&format!("{at}/in"), &deadline.states);
            if let Some(when) = &deadline.when {
                self.expression(&format!("{at}/when"), when, &shape);
            }
            match (&deadline.at, &deadline.after) {
                (Some(_), Some(_)) | (None, None) => self.error(
                    &at,
                    format!("deadline `{}` needs exactly one of `at` or `after`", deadline.id),
                    "give a date (`at: 2027-07-10` or `at: campaign.closes`) or a delay (`after: 8 days`)",
                ),
                (Some(date), None) => {
                    if date != "campaign.closes" && date != "campaign.opens" {
                        self.date(&format!("{at}/at"), date);
                    }
                }
                (None, Some(after)) => self.duration(&format!("{at}/after"), after),
            }
            if let Some(before) = &deadline.before {
                self.duration(&format!("{at}/before"), before);
            }
            if deadline.action.is_none() && deadline.mail.is_none() {
                self.error(
                    &at,
                    format!("deadline `{}` does nothing", deadline.id),
                    "give `do: <transition>` or `mail: <mail>` (or both)",
                );
            }
            if let Some(action) = &deadline.action {
                self.system_transition(&format!("{at}/do"), action, Some(&deadline.states));
            }
            if let Some(mail) = &deadline.mail {
                if !mails.contains(&mail.as_str()) {
                    self.unknown(&format!("{at}/mail"), "mail", mail, &mails);
                }
            }
        }
    }

    /// Checks `action` is a transition the system role may perform (from `states`, if given).
    fn system_transition(&mut self, pointer: &str, action: &str, states: Option<&OneOrMany>) {
        let def = self.def;
        let Some(transition) = def.workflow.transitions.iter().find(|t| t.id == action) else {
            let known: Vec<&str> = def
                .workflow
                .transitions
                .iter()
                .map(|t| t.id.as_str())
                .collect();
            self.unknown(pointer, "transition", action, &known);
            return;
        };
        let system = def
            .roles
            .iter()
            .find(|r| r.kind == RoleKind::System)
            .map(|r| r.id.as_str());
        match system {
            Some(system) if transition.by.ids().contains(&system) => {}
            Some(system) => self.error(
                pointer,
                format!("the system role `{system}` may not perform `{action}`"),
                format!("add `{system}` to the `by:` of transition `{action}`"),
            ),
            None => self.error(
                pointer,
                format!("`{action}` is performed automatically but no role has `kind: system`"),
                "declare `{ id: system, label: Automatique, kind: system }` and add it to the transition's `by:`",
            ),
        }
        for state in states.map(OneOrMany::ids).unwrap_or_default() {
            if !transition.from.ids().contains(&state) {
                self.error(
                    pointer,
                    format!("transition `{action}` cannot leave `{state}`"),
                    format!("add `{state}` to its `from:`, or remove `{state}` from the deadline's `in:`"),
                );
            }
        }
    }

    fn mails(&mut self) {
        let def = self.def;
        self.unique("/mails", "mail", def.mails.iter().map(|m| m.id.as_str()));
        let candidature_shape = context::candidature_mail_shape(def);
        let account_shape = context::account_mail_shape();
        let roles: Vec<&str> = def.roles.iter().map(|r| r.id.as_str()).collect();
        for (index, mail) in def.mails.iter().enumerate() {
            let at = format!("/mails/{index}");
            self.slug(&format!("{at}/id"), &mail.id);
            let shape = match mail.about {
                MailSubject::Candidature => &candidature_shape,
                MailSubject::Account => &account_shape,
            };
            let mut parts = vec![("subject", &mail.subject), ("text", &mail.text)];
            if let Some(html) = &mail.html {
                parts.push(("html", html));
            }
            for (part, text) in parts {
                self.text(&format!("{at}/{part}"), text);
                for (language, source) in text.variants() {
                    let pointer = match language {
                        "" => format!("{at}/{part}"),
                        code => format!("{at}/{part}/{code}"),
                    };
                    self.template(&pointer, &mail.id, part, language, source, shape);
                }
            }
            if let Some(to) = &mail.to {
                for (i, recipient) in to.ids().into_iter().enumerate() {
                    let pointer = match to {
                        OneOrMany::One(_) => format!("{at}/to"),
                        OneOrMany::Many(_) => format!("{at}/to/{i}"),
                    };
                    if recipient.contains('@')
                        || recipient == "formation"
                        || recipient == "candidate"
                    {
                        continue;
                    }
                    match def.roles.iter().find(|r| r.id == recipient) {
                        None => self.unknown(&pointer, "role", recipient, &roles),
                        Some(role) if role.kind == RoleKind::Staff && role.address.is_none() => {
                            self.error(
                                &pointer,
                                format!("role `{recipient}` has no address to send to"),
                                format!("give role `{recipient}` an `address:`"),
                            )
                        }
                        Some(_) => {}
                    }
                }
            }
        }
    }

    fn template(
        &mut self,
        pointer: &str,
        mail: &str,
        part: &str,
        language: &str,
        source: &str,
        shape: &Shape,
    ) {
        let name = template_name(mail, part, language);
        if let Err(error) = self
            .templates
            .add_template_owned(name.clone(), source.to_owned())
        {
            let detail = error.detail().unwrap_or("syntax error").to_owned();
            let line = error
                .line()
                .map(|l| format!(" (line {l} of the template)"))
                .unwrap_or_default();
            self.error(
                pointer,
                format!("this template does not compile: {detail}{line}"),
                "templates use minijinja syntax: `{{ candidate.first_name }}`, `{% if … %}…{% endif %}`",
            );
            return;
        }
        let Ok(template) = self.templates.get_template(&name) else {
            return;
        };
        let mut used: Vec<String> = template.undeclared_variables(true).into_iter().collect();
        used.sort();
        for path in used {
            let names: Vec<&str> = path.split('.').collect();
            if names
                .first()
                .is_some_and(|root| TEMPLATE_GLOBALS.contains(root))
            {
                continue;
            }
            if let Err(error) = shape.check_path(&names, false) {
                let span = self.map.value_span(pointer);
                let text = self.bundle.text.get(span.clone()).unwrap_or("");
                let span = match text.find(&path) {
                    Some(at) => span.start + at..span.start + at + path.len(),
                    None => span,
                };
                let hint =
                    match did_you_mean(&error.segment, error.known.iter().map(String::as_str)) {
                        Some(close) => format!("did you mean `{close}`?"),
                        None if error.known.is_empty() => "this value has no named parts".into(),
                        None => format!("the names known here are: {}", error.known.join(", ")),
                    };
                self.diagnostics.push(
                    self.main,
                    span,
                    format!("`{path}` is not a variable this mail can use"),
                    hint,
                );
            }
        }
    }

    fn accounts(&mut self) {
        let def = self.def;
        let mails = &def.accounts.mails;
        for (key, id) in [
            ("activation", &mails.activation),
            ("activated", &mails.activated),
            ("password_reset", &mails.password_reset),
            ("email_change", &mails.email_change),
        ] {
            let Some(id) = id else { continue };
            let pointer = format!("/accounts/mails/{key}");
            match def.mails.iter().find(|m| &m.id == id) {
                None => {
                    let known: Vec<&str> = def.mails.iter().map(|m| m.id.as_str()).collect();
                    self.unknown(&pointer, "mail", id, &known);
                }
                Some(mail) if mail.about != MailSubject::Account => self.error(
                    &pointer,
                    format!("mail `{id}` is not about an account"),
                    format!("add `about: account` to mail `{id}`"),
                ),
                Some(_) => {}
            }
        }
        self.unique(
            "/accounts/sso",
            "sso",
            def.accounts.sso.iter().map(|s| s.id.as_str()),
        );
    }

    fn tests(&mut self) {
        let def = self.def;
        let formations: Vec<&str> = def.formations.iter().map(|f| f.id.as_str()).collect();
        let pieces: Vec<&str> = def.pieces.iter().map(|p| p.id.as_str()).collect();
        let roles: Vec<&str> = def.roles.iter().map(|r| r.id.as_str()).collect();
        let mails: Vec<&str> = def.mails.iter().map(|m| m.id.as_str()).collect();
        let sections: Vec<&str> = def.profile.iter().map(|s| s.id.as_str()).collect();
        for (t, test) in def.tests.iter().enumerate() {
            let at = format!("/tests/{t}");
            if let Some(today) = &test.today {
                self.date(&format!("{at}/today"), today);
            }
            for section in test.profile.keys() {
                if !sections.contains(&section.as_str()) {
                    self.unknown(
                        &format!("{at}/profile/{}", escape_segment(section)),
                        "section",
                        section,
                        &sections,
                    );
                }
            }
            for (s, step) in test.steps.iter().enumerate() {
                let step_at = format!("{at}/steps/{s}");
                if let Some(formation) = &step.apply {
                    if !formations.contains(&formation.as_str()) {
                        self.unknown(
                            &format!("{step_at}/apply"),
                            "formation",
                            formation,
                            &formations,
                        );
                    }
                }
                if let Some(piece) = &step.piece {
                    if !pieces.contains(&piece.as_str()) {
                        self.unknown(&format!("{step_at}/piece"), "piece", piece, &pieces);
                    }
                }
                if let Some(action) = &step.action {
                    let known: Vec<&str> = if step.piece.is_some() {
                        def.workflow
                            .piece_transitions
                            .iter()
                            .map(|t| t.id.as_str())
                            .collect()
                    } else {
                        def.workflow
                            .transitions
                            .iter()
                            .map(|t| t.id.as_str())
                            .collect()
                    };
                    if !known.contains(&action.as_str()) {
                        let what = if step.piece.is_some() {
                            "piece transition"
                        } else {
                            "transition"
                        };
                        self.unknown(&format!("{step_at}/do"), what, action, &known);
                    }
                }
                if let Some(role) = &step.role {
                    if !roles.contains(&role.as_str()) {
                        self.unknown(&format!("{step_at}/as"), "role", role, &roles);
                    }
                }
                if let Some(date) = &step.wait_until {
                    self.date(&format!("{step_at}/wait_until"), date);
                }
                if let Some(expect) = &step.expect {
                    if let Some(state) = &expect.state {
                        self.state_refs(
                            &format!("{step_at}/expect/state"),
                            &OneOrMany::One(state.clone()),
                        );
                    }
                    for (piece, status) in &expect.pieces {
                        let pointer = format!("{step_at}/expect/pieces/{}", escape_segment(piece));
                        if !pieces.contains(&piece.as_str()) {
                            self.unknown(&pointer, "piece", piece, &pieces);
                        }
                        self.piece_status_refs(&pointer, &OneOrMany::One(status.clone()));
                    }
                    for (key, names) in [
                        ("complete", &expect.complete),
                        ("incomplete", &expect.incomplete),
                    ] {
                        for (n, id) in names.iter().enumerate() {
                            if !sections.contains(&id.as_str()) {
                                self.unknown(
                                    &format!("{step_at}/expect/{key}/{n}"),
                                    "section",
                                    id,
                                    &sections,
                                );
                            }
                        }
                    }
                    for (key, names) in [("hidden", &expect.hidden), ("shown", &expect.shown)] {
                        for (n, name) in names.iter().enumerate() {
                            let pointer = format!("{step_at}/expect/{key}/{n}");
                            let found = name.split_once('.').and_then(|(section, field)| {
                                def.profile
                                    .iter()
                                    .find(|s| s.id == section)?
                                    .fields
                                    .iter()
                                    .find(|f| f.id == field)
                            });
                            if found.is_none() {
                                self.error(
                                    &pointer,
                                    format!("no field `{name}` in the profile"),
                                    "write `section.field` with ids of the profile, e.g. `baccalaureat.annee`",
                                );
                            }
                        }
                    }
                    for (m, mail) in expect.mails.iter().flatten().enumerate() {
                        if !mails.contains(&mail.as_str()) {
                            self.unknown(
                                &format!("{step_at}/expect/mails/{m}"),
                                "mail",
                                mail,
                                &mails,
                            );
                        }
                    }
                }
            }
        }
    }
}
