//! Loading a definition: read → parse with positions → structure → checks → compile.

use std::path::Path;

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Span, Timestamp};
use serde_json::Value;

use crate::bundle::{Bundle, ReadError};
use crate::check;
use crate::compiled::{letter_template, template_name, CompiledDefinition};
use crate::context::TemplateContext;
use crate::diagnostic::Diagnostics;
use crate::list::List;
use crate::model::{
    DefinitionFile, FormDef, FormMode, FormationDef, LetterDef, MailDef, PieceDef, PieceStatusDef,
    PieceTransitionDef, PromoteDef, RoleDef, RoleKind, StateDef, Text, TransitionDef,
};
use crate::script::ScriptError;
use crate::yaml;

/// Why a definition could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum DefinitionError {
    /// The file could not be read.
    #[error(transparent)]
    Io(#[from] ReadError),
    /// The file has problems, every one of them listed.
    #[error("{0}")]
    Invalid(Diagnostics),
}

pub use crate::model::SUPPORTED_LANGUAGES;

/// A checked, compiled definition: immutable, identified by its content hash.
#[derive(Debug)]
pub struct Definition {
    file: DefinitionFile,
    bundle: Bundle,
    hash: String,
    compiled: CompiledDefinition,
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
        let (value, map) = match with_bases(&bundle, value, map, &mut diagnostics, main) {
            Some(merged) => merged,
            None => return Err(DefinitionError::Invalid(diagnostics)),
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
                compiled,
                source_map: map,
            }),
            _ => Err(DefinitionError::Invalid(diagnostics)),
        }
    }

    /// The definition as loaded: its `extends:` applied, as the engine reads it.
    pub fn merged_text(&self) -> String {
        let merged = crate::bundle::merged_value(&self.bundle.text, &self.bundle.bases);
        yaml::to_text(&merged.unwrap_or(Value::Null))
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

    /// Whether where a dossier's profile sections stand
    /// ([`crate::profile_state`]) may change with the time alone, the dossier
    /// unchanged: some condition of the profile reads the date, the time or
    /// the campaign.
    pub fn profile_reads_the_clock(&self) -> bool {
        self.compiled.profile_reads_the_clock
    }

    /// What of a dossier's context the pieces' conditions read (none
    /// known: anything).
    pub(crate) fn piece_condition_reads(&self) -> Option<&crate::compiled::PieceConditionReads> {
        self.compiled.piece_condition_reads.as_ref()
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
        self.compiled.lists.get(id)
    }

    /// The names a candidature's mails see, made once.
    pub(crate) fn candidature_mail_shape(&self) -> &std::sync::Arc<crate::context::shape::Shape> {
        &self.compiled.candidature_mail_shape
    }

    /// The distinct promotion rules, each with its key in the index of
    /// waiting lists (two transitions may share one rule, and its list).
    pub(crate) fn promotion_rules(&self) -> impl Iterator<Item = (&PromoteDef, &str)> {
        let transitions = &self.file.workflow.transitions;
        self.compiled
            .promotion_rules
            .iter()
            .filter_map(|(index, key)| {
                let rule = transitions.get(*index)?.promote.as_ref()?;
                Some((rule, key.as_str()))
            })
    }

    /// A candidature status by id.
    pub fn state(&self, id: &str) -> Option<&StateDef> {
        self.file.workflow.states.iter().find(|s| s.id == id)
    }

    /// What pages call candidature status `id` in `language`: its label,
    /// or the id itself for a status the definition lacks.
    pub fn state_label<'a>(&'a self, id: &'a str, language: &str) -> &'a str {
        self.state(id).map_or(id, |s| s.label.get(language))
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
        self.compiled.max_sizes.get(piece).copied()
    }

    /// A formation by id.
    pub fn formation(&self, id: &str) -> Option<&FormationDef> {
        self.file.formations.iter().find(|f| f.id == id)
    }

    /// The languages of pages and mails, the default first.
    pub fn languages(&self) -> Vec<&str> {
        let declared = &self.file().languages;
        if declared.is_empty() {
            SUPPORTED_LANGUAGES.to_vec()
        } else {
            declared.iter().map(String::as_str).collect()
        }
    }

    /// The language pages and mails use when nobody chose one.
    pub fn default_language(&self) -> &str {
        self.languages().first().copied().unwrap_or("fr")
    }

    /// The label of field `id` in `language`: a transition's input first,
    /// then a profile section's or a form's field (the first of that id).
    pub fn field_label(&self, id: &str, language: &str) -> Option<&str> {
        let file = self.file();
        let inputs = file.workflow.transitions.iter().flat_map(|t| &t.input);
        let profile = file.profile.iter().flat_map(|s| &s.fields);
        let forms = file.forms.iter().flat_map(|f| &f.fields);
        let mut fields = inputs.chain(profile).chain(forms);
        fields.find(|f| f.id == id).map(|f| f.label.get(language))
    }

    /// A role by id.
    pub fn role(&self, id: &str) -> Option<&RoleDef> {
        self.file.roles.iter().find(|r| r.id == id)
    }

    /// The third-party role that provides `piece`, if a third party does
    /// (the candidate cannot upload it).
    pub fn provider_of(&self, piece: &str) -> Option<&RoleDef> {
        self.file
            .roles
            .iter()
            .find(|r| r.kind == RoleKind::ThirdParty && r.provides.as_deref() == Some(piece))
    }

    /// The complementary form filled online that stands for `piece` of
    /// `formation`, if any (the candidate does not upload that piece).
    pub fn online_form_for(&self, formation: &str, piece: &str) -> Option<&FormDef> {
        let form = self.formation(formation)?.form.as_deref()?;
        self.file.forms.iter().find(|f| {
            f.id == form && f.mode == FormMode::Online && f.piece.as_deref() == Some(piece)
        })
    }

    /// The complementary form of `formation`, if it has one.
    pub fn form_of(&self, formation: &str) -> Option<&FormDef> {
        let form = self.formation(formation)?.form.as_deref()?;
        self.file.forms.iter().find(|f| f.id == form)
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
        &self.compiled.timezone
    }

    /// Start of the campaign's first day.
    pub fn campaign_opens_at(&self) -> Timestamp {
        self.compiled.opens_at
    }

    /// End of the campaign's last day (exclusive).
    pub fn campaign_closes_at(&self) -> Timestamp {
        self.compiled.closes_at
    }

    /// Whether candidatures can be created and transmitted at `now`.
    pub fn campaign_is_open(&self, now: Timestamp) -> bool {
        self.campaign_opens_at() <= now && now < self.campaign_closes_at()
    }

    /// The first instant of `date` in the definition's time zone.
    pub fn start_of_day(&self, date: Date) -> Timestamp {
        crate::dates::start_of_day_in(&self.compiled.timezone, date)
    }

    /// The first instant after `date` in the definition's time zone.
    pub fn end_of_day(&self, date: Date) -> Timestamp {
        crate::dates::end_of_day_in(&self.compiled.timezone, date)
    }

    /// `date` as `YYYY-MM-DD` in the definition's time zone.
    pub fn day_of(&self, at: Timestamp) -> String {
        at.to_zoned(self.compiled.timezone.clone())
            .date()
            .to_string()
    }

    /// `at` plus a duration of the definition (calendar days follow the time zone).
    pub fn add(&self, at: Timestamp, duration: Span, sign: i64) -> Timestamp {
        let zoned = at.to_zoned(self.compiled.timezone.clone());
        let moved = if sign < 0 {
            zoned.checked_sub(duration)
        } else {
            zoned.checked_add(duration)
        };
        // Past the calendar's end, the moment is as far as it goes: a
        // deadline that far is never due, not due at once.
        let furthest = if sign < 0 {
            Timestamp::MIN
        } else {
            Timestamp::MAX
        };
        moved.map_or(furthest, |z| z.timestamp())
    }

    /// A duration written in the definition (`after:`/`before:` of deadlines), by the text.
    pub fn duration(&self, text: &str) -> Option<Span> {
        self.compiled.durations.get(text).copied()
    }

    /// Whether `value` matches a field's `pattern` as a whole (`None`: unknown pattern).
    pub fn matches_pattern(&self, pattern: &str, value: &str) -> Option<bool> {
        self.compiled
            .patterns
            .get(pattern)
            .map(|re| re.is_match(value))
    }

    /// The variables `expression` (compiled with the definition) reads,
    /// each with the paths below it; `None` for an expression it lacks.
    pub(crate) fn reads(
        &self,
        expression: &str,
    ) -> Option<impl Iterator<Item = (&str, &[Vec<String>])>> {
        self.compiled.scripts.reads(expression)
    }

    /// The dotted names the templates of mail `owner` read (a letter's
    /// under [`crate::compiled::letter_template`]).
    pub(crate) fn template_reads(&self, owner: &str) -> &[String] {
        self.compiled
            .template_reads
            .get(owner)
            .map_or(&[], Vec::as_slice)
    }

    /// Evaluates a condition of the definition against `context`.
    pub fn eval_bool(&self, expression: &str, context: &Value) -> Result<bool, ScriptError> {
        self.compiled.scripts.eval_bool(expression, context)
    }

    /// [`Definition::eval_bool`] with `name` standing for `value` over the
    /// context's own (a piece guard's `piece`, a list filter's `row`),
    /// without copying the context.
    pub fn eval_bool_with(
        &self,
        expression: &str,
        context: &Value,
        (name, value): (&str, &Value),
    ) -> Result<bool, ScriptError> {
        let more = Some((name, value));
        self.compiled
            .scripts
            .eval_bool_with(expression, context, more)
    }

    /// Evaluates an expression of the definition against `context`.
    pub fn eval_value(&self, expression: &str, context: &Value) -> Result<Value, ScriptError> {
        self.compiled.scripts.eval_value(expression, context)
    }

    /// Renders one part (`subject`, `text`, `html`) of a mail in `language`.
    pub fn render_mail_part(
        &self,
        mail: &str,
        part: &str,
        language: &str,
        context: &TemplateContext,
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
        self.render_template(mail, part, text, language, context)
            .map(Some)
    }

    /// The letter `id`, if the definition has one.
    pub fn letter(&self, id: &str) -> Option<&LetterDef> {
        self.file.letters.iter().find(|l| l.id == id)
    }

    /// Renders one part (`title`, `text`) of a letter in `language`.
    pub fn render_letter_part(
        &self,
        letter: &LetterDef,
        part: &str,
        language: &str,
        context: &TemplateContext,
    ) -> Result<String, minijinja::Error> {
        let text = if part == "title" {
            &letter.title
        } else {
            &letter.text
        };
        self.render_template(&letter_template(&letter.id), part, text, language, context)
    }

    /// Renders the compiled template of `text` (a part of the mail or letter
    /// `owner`) in `language`, or in its first language when it has none in it.
    fn render_template(
        &self,
        owner: &str,
        part: &str,
        text: &Text,
        language: &str,
        context: &TemplateContext,
    ) -> Result<String, minijinja::Error> {
        let variants = text.variants();
        let language = variants
            .iter()
            .find(|(code, _)| *code == language)
            .or_else(|| variants.first())
            .map_or("", |(code, _)| *code);
        let name = template_name(owner, part, language);
        let template = self.compiled.templates.get_template(&name)?;
        template.render(context.value()).map_err(|error| {
            if error.kind() != minijinja::ErrorKind::OutOfFuel {
                return error;
            }
            let at = match (error.name(), error.line()) {
                (Some(name), Some(line)) => format!(" (in {name}:{line})"),
                _ => String::new(),
            };
            minijinja::Error::new(
                minijinja::ErrorKind::OutOfFuel,
                format!(
                    "the template does more work than a mail or letter may \
                     ({} steps, or about {} MB written): a loop over a very long \
                     range, or a text repeated too many times{at}",
                    check::TEMPLATE_FUEL,
                    check::TEMPLATE_FUEL * 64 / 1_000_000
                ),
            )
        })
    }
}

/// `value` (of the bundle's own text) with the bases it extends applied,
/// their positions read after the text's (see [`Diagnostics::continue_in`]);
/// `None` once a base is missing or does not parse, with what is wrong.
fn with_bases(
    bundle: &Bundle,
    value: Value,
    map: yaml::SourceMap,
    diagnostics: &mut Diagnostics,
    main: usize,
) -> Option<(Value, yaml::SourceMap)> {
    use crate::overlay::{self, Layer};
    let mut layers = vec![Layer { value, map }];
    let mut offset = bundle.text.len() + 1;
    let mut wanted = overlay::extends(&layers[0].value).map(str::to_owned);
    let mut named_at = (main, "/extends".to_owned());
    while let Some(path) = wanted.take() {
        let Some(base) = bundle.bases.iter().find(|b| b.path == path) else {
            let span = layers
                .last()
                .map_or(0..0, |l| l.map.value_span(&named_at.1));
            let reason = if layers.len() > crate::bundle::MAX_EXTENDS {
                "too many definitions extend one another (or they extend each other in a circle)"
            } else {
                "this base definition could not be read"
            };
            diagnostics.push(
                named_at.0,
                span,
                format!("`extends: {path}`: {reason}"),
                "name a definition file, relative to this one's folder",
            );
            return None;
        };
        if layers.len() > crate::bundle::MAX_EXTENDS || layers.len() > bundle.bases.len() {
            diagnostics.push(
                named_at.0,
                layers
                    .last()
                    .map_or(0..0, |l| l.map.value_span(&named_at.1)),
                "definitions extend one another in a circle",
                "a base cannot extend the definition that extends it",
            );
            return None;
        }
        let shown = crate::bundle::join(&bundle.base, &base.path);
        let file = diagnostics.add_file(&shown, &base.text);
        diagnostics.continue_in(main, offset, file);
        let (mut value, map) = match yaml::parse(&base.text) {
            Ok(parsed) => parsed,
            Err(problems) => {
                for problem in problems {
                    diagnostics.push(file, problem.span, problem.message, problem.hint);
                }
                return None;
            }
        };
        overlay::relocate_lists(&mut value, crate::bundle::folder_of(&base.path));
        wanted = overlay::extends(&value)
            .map(|further| crate::bundle::join(crate::bundle::folder_of(&base.path), further));
        named_at = (main, "/extends".to_owned());
        layers.push(Layer {
            value,
            map: map.shifted(offset),
        });
        offset += base.text.len() + 1;
    }
    let mut merged = layers.pop()?;
    while let Some(over) = layers.pop() {
        merged = overlay::merge(
            overlay::without_extends(merged),
            overlay::without_extends(over),
        );
    }
    let merged = overlay::without_extends(merged);
    Some((merged.value, merged.map))
}
