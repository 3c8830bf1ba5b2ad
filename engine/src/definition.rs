//! Loading a definition: read → parse with positions → structure → checks → compile.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Span, Timestamp};
use minijinja::Environment;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::check;
use crate::diagnostic::Diagnostics;
use crate::model::{
    DefinitionFile, FormationDef, MailDef, PieceDef, PieceStatusDef, PieceTransitionDef, RoleDef,
    RoleKind, StateDef, TransitionDef,
};
use crate::script::{ScriptError, Scripts};
use crate::yaml;

/// Why a definition could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum DefinitionError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file has problems, every one of them listed.
    #[error("{0}")]
    Invalid(Diagnostics),
}

/// The files a definition is made of: the YAML text and the list files it names.
///
/// A bundle is what a dossier is pinned to: the engine stores it under its hash,
/// so a dossier started under one version keeps being handled by that version.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Bundle {
    /// Name of the definition file, used in diagnostics.
    pub name: String,
    /// Text of the definition file.
    pub text: String,
    /// Files named by the definition (CSV lists), by the path written in it.
    pub files: BTreeMap<String, String>,
    /// Folder the names in `files` are relative to, for diagnostics only.
    #[serde(default)]
    pub base: String,
}

impl Bundle {
    /// A bundle of a single YAML text with no list files.
    pub fn from_text(name: &str, text: &str) -> Self {
        Self {
            name: name.to_owned(),
            text: text.to_owned(),
            files: BTreeMap::new(),
            base: String::new(),
        }
    }

    /// Reads a definition file and every list file it names.
    pub fn read(path: &Path) -> Result<Self, DefinitionError> {
        let text = std::fs::read_to_string(path).map_err(|source| DefinitionError::Io {
            path: path.to_owned(),
            source,
        })?;
        let base = path.parent().unwrap_or(Path::new(""));
        let mut files = BTreeMap::new();
        // Missing or unreadable list files are reported by the checker, at the line naming them.
        if let Ok((value, _)) = yaml::parse(&text) {
            if let Some(lists) = value.get("lists").and_then(Value::as_object) {
                for list in lists.values() {
                    if let Some(name) = list.get("file").and_then(Value::as_str) {
                        if let Ok(content) = std::fs::read_to_string(base.join(name)) {
                            files.insert(name.to_owned(), content);
                        }
                    }
                }
            }
        }
        Ok(Self {
            name: path.display().to_string(),
            text,
            files,
            base: base.display().to_string(),
        })
    }

    /// Content hash: the same texts give the same hash wherever they are stored.
    pub fn hash(&self) -> String {
        let mut hasher = Sha256::new();
        let mut feed = |part: &str| {
            hasher.update((part.len() as u64).to_le_bytes());
            hasher.update(part.as_bytes());
        };
        feed(&self.text);
        for (name, content) in &self.files {
            feed(name);
            feed(content);
        }
        let digest = hasher.finalize();
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// A reference list, loaded.
#[derive(Debug, Clone)]
pub struct List {
    /// Column names.
    pub columns: Vec<String>,
    /// Rows, each a mapping column → value.
    pub rows: Vec<BTreeMap<String, String>>,
    /// Column holding the key.
    pub key: String,
    /// Column holding the label.
    pub label: String,
}

impl List {
    /// The row with key `key`.
    pub fn row(&self, key: &str) -> Option<&BTreeMap<String, String>> {
        self.rows
            .iter()
            .find(|row| row.get(&self.key).map(String::as_str) == Some(key))
    }
}

/// What the checker produces besides diagnostics.
pub(crate) struct Compiled {
    pub lists: crate::script::Lists,
    pub scripts: Scripts,
    pub templates: Environment<'static>,
    pub timezone: TimeZone,
    pub opens: Date,
    pub closes: Date,
    pub max_sizes: HashMap<String, u64>,
    pub durations: HashMap<String, Span>,
    pub patterns: HashMap<String, regex::Regex>,
}

/// A checked, compiled definition: immutable, identified by its content hash.
#[derive(Debug)]
pub struct Definition {
    file: DefinitionFile,
    bundle: Bundle,
    hash: String,
    lists: crate::script::Lists,
    scripts: Scripts,
    templates: Environment<'static>,
    timezone: TimeZone,
    opens: Date,
    closes: Date,
    max_sizes: HashMap<String, u64>,
    durations: HashMap<String, Span>,
    patterns: HashMap<String, regex::Regex>,
    source_map: yaml::SourceMap,
}

impl Definition {
    /// Loads and checks the definition at `path` (and the list files beside it).
    pub fn load(path: impl AsRef<Path>) -> Result<Self, DefinitionError> {
        Self::from_bundle(Bundle::read(path.as_ref())?)
    }

    /// Checks and compiles a definition given as text (no list files).
    pub fn from_text(name: &str, text: &str) -> Result<Self, DefinitionError> {
        Self::from_bundle(Bundle::from_text(name, text))
    }

    /// Checks and compiles a bundle. Every problem is reported at once.
    pub fn from_bundle(bundle: Bundle) -> Result<Self, DefinitionError> {
        let mut diagnostics = Diagnostics::new();
        let main = diagnostics.add_file(&bundle.name, &bundle.text);
        let (value, map) = match yaml::parse(&bundle.text) {
            Ok(parsed) => parsed,
            Err(problems) => {
                for problem in problems {
                    diagnostics.push(main, problem.span, problem.message, problem.hint);
                }
                return Err(DefinitionError::Invalid(diagnostics));
            }
        };
        if !crate::schema::check_structure(&value, &map, &mut diagnostics, main) {
            diagnostics.sort();
            return Err(DefinitionError::Invalid(diagnostics));
        }
        let file: DefinitionFile = match serde_json::from_value(value) {
            Ok(file) => file,
            Err(error) => {
                diagnostics.push(
                    main,
                    0..0,
                    format!("the definition could not be read: {error}"),
                    "check the format documentation",
                );
                return Err(DefinitionError::Invalid(diagnostics));
            }
        };
        let compiled = check::check(&file, &bundle, &map, &mut diagnostics, main);
        diagnostics.sort();
        match compiled {
            Some(compiled) if diagnostics.is_empty() => Ok(Self {
                hash: bundle.hash(),
                file,
                bundle,
                lists: compiled.lists,
                scripts: compiled.scripts,
                templates: compiled.templates,
                timezone: compiled.timezone,
                opens: compiled.opens,
                closes: compiled.closes,
                max_sizes: compiled.max_sizes,
                durations: compiled.durations,
                patterns: compiled.patterns,
                source_map: map,
            }),
            _ => Err(DefinitionError::Invalid(diagnostics)),
        }
    }

    /// The definition as written.
    pub fn file(&self) -> &DefinitionFile {
        &self.file
    }

    /// The files it was loaded from.
    pub fn bundle(&self) -> &Bundle {
        &self.bundle
    }

    /// Content hash identifying this version.
    pub fn hash(&self) -> &str {
        &self.hash
    }

    /// The line (1-based) of the definition file where the value at JSON Pointer
    /// `pointer` (e.g. `/tests/0/steps/2`) is written.
    pub fn line_of(&self, pointer: &str) -> usize {
        let start = self.source_map.value_span(pointer).start;
        self.bundle
            .text
            .get(..start)
            .unwrap_or("")
            .matches('\n')
            .count()
            + 1
    }

    /// A reference list by id.
    pub fn list(&self, id: &str) -> Option<&List> {
        self.lists.get(id)
    }

    /// A candidature status by id.
    pub fn state(&self, id: &str) -> Option<&StateDef> {
        self.file.workflow.states.iter().find(|s| s.id == id)
    }

    /// The status candidatures start in.
    pub fn initial_state(&self) -> &str {
        self.file
            .workflow
            .states
            .iter()
            .find(|s| s.initial)
            .map_or("", |s| s.id.as_str())
    }

    /// A transition by id.
    pub fn transition(&self, id: &str) -> Option<&TransitionDef> {
        self.file.workflow.transitions.iter().find(|t| t.id == id)
    }

    /// A piece status by id.
    pub fn piece_status(&self, id: &str) -> Option<&PieceStatusDef> {
        self.file
            .workflow
            .piece_statuses
            .iter()
            .find(|s| s.id == id)
    }

    /// The status pieces start in.
    pub fn initial_piece_status(&self) -> &str {
        self.file
            .workflow
            .piece_statuses
            .iter()
            .find(|s| s.initial)
            .map_or("", |s| s.id.as_str())
    }

    /// A piece transition by id.
    pub fn piece_transition(&self, id: &str) -> Option<&PieceTransitionDef> {
        self.file
            .workflow
            .piece_transitions
            .iter()
            .find(|t| t.id == id)
    }

    /// A piece by id.
    pub fn piece(&self, id: &str) -> Option<&PieceDef> {
        self.file.pieces.iter().find(|p| p.id == id)
    }

    /// Largest accepted size of a piece, in bytes.
    pub fn max_size(&self, piece: &str) -> Option<u64> {
        self.max_sizes.get(piece).copied()
    }

    /// A formation by id.
    pub fn formation(&self, id: &str) -> Option<&FormationDef> {
        self.file.formations.iter().find(|f| f.id == id)
    }

    /// A role by id.
    pub fn role(&self, id: &str) -> Option<&RoleDef> {
        self.file.roles.iter().find(|r| r.id == id)
    }

    /// The role candidates act with (the checker ensures there is one).
    pub fn candidate_role(&self) -> &str {
        self.file
            .roles
            .iter()
            .find(|r| r.kind == RoleKind::Candidate)
            .map_or("", |r| r.id.as_str())
    }

    /// The role of the engine itself (deadlines), if declared.
    pub fn system_role(&self) -> Option<&RoleDef> {
        self.file.roles.iter().find(|r| r.kind == RoleKind::System)
    }

    /// A mail by id.
    pub fn mail(&self, id: &str) -> Option<&MailDef> {
        self.file.mails.iter().find(|m| m.id == id)
    }

    /// Time zone dates of the definition are read in.
    pub fn timezone(&self) -> &TimeZone {
        &self.timezone
    }

    /// Start of the campaign's first day.
    pub fn campaign_opens_at(&self) -> Timestamp {
        self.start_of_day(self.opens)
    }

    /// End of the campaign's last day (exclusive).
    pub fn campaign_closes_at(&self) -> Timestamp {
        self.end_of_day(self.closes)
    }

    /// Whether candidatures can be created and transmitted at `now`.
    pub fn campaign_is_open(&self, now: Timestamp) -> bool {
        self.campaign_opens_at() <= now && now < self.campaign_closes_at()
    }

    /// The first instant of `date` in the definition's time zone.
    pub fn start_of_day(&self, date: Date) -> Timestamp {
        date.to_zoned(self.timezone.clone())
            .map(|z| z.timestamp())
            .unwrap_or(Timestamp::UNIX_EPOCH)
    }

    /// The first instant after `date` in the definition's time zone.
    pub fn end_of_day(&self, date: Date) -> Timestamp {
        date.tomorrow()
            .map(|next| self.start_of_day(next))
            .unwrap_or(Timestamp::MAX)
    }

    /// `date` as `YYYY-MM-DD` in the definition's time zone.
    pub fn day_of(&self, at: Timestamp) -> String {
        at.to_zoned(self.timezone.clone()).date().to_string()
    }

    /// `at` plus a duration of the definition (calendar days follow the time zone).
    pub fn add(&self, at: Timestamp, duration: Span, sign: i64) -> Timestamp {
        let zoned = at.to_zoned(self.timezone.clone());
        let moved = if sign < 0 {
            zoned.checked_sub(duration)
        } else {
            zoned.checked_add(duration)
        };
        moved.map(|z| z.timestamp()).unwrap_or(at)
    }

    /// A duration written in the definition (`after:`/`before:` of deadlines), by the text.
    pub fn duration(&self, text: &str) -> Option<Span> {
        self.durations.get(text).copied()
    }

    /// Whether `value` matches a field's `pattern` as a whole (`None`: unknown pattern).
    pub fn matches_pattern(&self, pattern: &str, value: &str) -> Option<bool> {
        self.patterns.get(pattern).map(|re| re.is_match(value))
    }

    /// Evaluates a condition of the definition against `context`.
    pub fn eval_bool(&self, expression: &str, context: &Value) -> Result<bool, ScriptError> {
        self.scripts.eval_bool(expression, context)
    }

    /// Evaluates an expression of the definition against `context`.
    pub fn eval_value(&self, expression: &str, context: &Value) -> Result<Value, ScriptError> {
        self.scripts.eval_value(expression, context)
    }

    /// Renders one part (`subject`, `text`, `html`) of a mail in `language`.
    pub fn render_mail_part(
        &self,
        mail: &str,
        part: &str,
        language: &str,
        context: &Value,
    ) -> Result<Option<String>, minijinja::Error> {
        let Some(def) = self.mail(mail) else {
            return Ok(None);
        };
        let text = match part {
            "subject" => Some(&def.subject),
            "text" => Some(&def.text),
            _ => def.html.as_ref(),
        };
        let Some(text) = text else { return Ok(None) };
        let variants = text.variants();
        let language = variants
            .iter()
            .find(|(code, _)| *code == language)
            .or_else(|| variants.first())
            .map_or("", |(code, _)| *code);
        let name = template_name(mail, part, language);
        let template = self.templates.get_template(&name)?;
        template.render(minijinja::value::Serde(context)).map(Some)
    }
}

/// Name under which a mail part is compiled; `.html` turns auto-escaping on.
pub(crate) fn template_name(mail: &str, part: &str, language: &str) -> String {
    let language = if language.is_empty() { "all" } else { language };
    let extension = if part == "html" { "html" } else { "txt" };
    format!("{mail}/{part}.{language}.{extension}")
}
