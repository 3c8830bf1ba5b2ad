//! The values conditions, guards and mails read, built from a dossier: the
//! run-time side of [`super::shape`]. Names the dossier has no value for
//! are left out; the shape fills in those an expression or a mail reads.

use jiff::Timestamp;
use serde_json::{json, Map, Value};

use crate::compiled::letter_template;
use crate::definition::Definition;
use crate::dossier::{Candidature, Dossier, PieceState};
use crate::model::{MailDef, PieceDef, PieceStatusDef};
use crate::script::ScriptError;

/// What expressions about the dossier as a whole see.
pub fn base_context(definition: &Definition, dossier: &Dossier, now: Timestamp) -> Value {
    Value::Object(base_parts(definition, dossier, now, (&|_| true, None)))
}

/// Which names of a base context to make: those `wanted` keeps, and of
/// the profile only the sections listed (none: the whole profile).
type Kept<'a> = (&'a dyn Fn(&str) -> bool, Option<&'a [String]>);

/// The names of [`base_context`] that `kept` keeps, each built only
/// if kept.
fn base_parts(
    definition: &Definition,
    dossier: &Dossier,
    now: Timestamp,
    (wanted, sections): Kept,
) -> Map<String, Value> {
    let file = definition.file();
    let language = dossier.language.as_str();
    let mut parts = Map::new();
    let mut part = |name: &str, build: &dyn Fn() -> Value| {
        if wanted(name) {
            parts.insert(name.to_owned(), build());
        }
    };
    part("today", &|| json!(definition.day_of(now)));
    part("now", &|| json!(now.to_string()));
    part(
        "institution",
        &|| json!({"id": file.id, "title": file.title.get(language)}),
    );
    part("campaign", &|| {
        json!({
            "opens": file.campaign.opens,
            "closes": file.campaign.closes,
            "is_open": definition.campaign_is_open(now),
        })
    });
    part("candidate", &|| json!(dossier.candidate));
    part("dossier", &|| {
        let active = dossier
            .candidatures
            .iter()
            .filter(|c| !definition.state(&c.state).is_some_and(|s| s.is_final))
            .count();
        json!({"id": dossier.id, "active_candidatures": active})
    });
    // Copied as values, not serialized again as `json!` would.
    part("profile", &|| {
        let read = |section: &str| sections.is_none_or(|read| read.iter().any(|s| s == section));
        let profile = dossier.profile.iter().filter(|(k, _)| read(k));
        Value::Object(profile.map(|(k, v)| (k.clone(), v.clone())).collect())
    });
    parts
}

/// Makes `formation` the one `base` (a base context) shows: a context for
/// each candidature of a dossier from one base.
pub(crate) fn set_formation(
    definition: &Definition,
    base: &mut Value,
    formation: &str,
    language: &str,
) {
    if let Value::Object(map) = base {
        match formation_value(definition, formation, language) {
            Some(formation) => map.insert("formation".into(), formation),
            None => map.remove("formation"),
        };
    }
}

/// What expressions see of formation `id` (none for a formation the
/// definition lacks).
fn formation_value(definition: &Definition, id: &str, language: &str) -> Option<Value> {
    let def = definition.formation(id)?;
    Some(json!({
        "id": def.id,
        "title": def.title.get(language),
        "composante": def.composante,
        "keywords": def.keywords,
    }))
}

/// The contexts of a dossier's candidatures, each built the first time an
/// expression asks for it, of the part some expressions read: a command's
/// index (deadline conditions, waiting lists' conditions and ranks) reads
/// the same candidature several times.
pub(crate) struct CandidatureContexts<'a> {
    definition: &'a Definition,
    dossier: &'a Dossier,
    now: Timestamp,
    expressions: Vec<&'a str>,
    /// What `expressions` read, once one context is asked for.
    needs: Option<Needs>,
    built: Vec<Option<Result<Value, ScriptError>>>,
}

impl<'a> CandidatureContexts<'a> {
    /// The contexts `expressions` read (see [`Needs`]).
    pub fn reading(
        definition: &'a Definition,
        dossier: &'a Dossier,
        now: Timestamp,
        expressions: Vec<&'a str>,
    ) -> Self {
        Self {
            definition,
            dossier,
            now,
            expressions,
            needs: None,
            built: Vec::new(),
        }
    }

    /// The context of `candidature`, the dossier's candidature at `index`.
    pub fn of(&mut self, index: usize, candidature: &Candidature) -> Result<&Value, ScriptError> {
        if self.built.len() <= index {
            self.built.resize_with(index + 1, || None);
        }
        let (definition, dossier, now) = (self.definition, self.dossier, self.now);
        let expressions = &self.expressions;
        let needs = self
            .needs
            .get_or_insert_with(|| Needs::of(definition, expressions));
        self.built[index]
            .get_or_insert_with(|| {
                candidature_context_for(definition, dossier, candidature, now, needs)
            })
            .as_ref()
            .map_err(Clone::clone)
    }
}

/// What guards, deadline conditions and mails about a candidature see.
pub fn candidature_context(
    definition: &Definition,
    dossier: &Dossier,
    candidature: &Candidature,
    now: Timestamp,
) -> Result<Value, ScriptError> {
    let base = formation_context(definition, dossier, candidature, now);
    let views = piece_views(definition, dossier, candidature, &base)?;
    let all = Needs {
        whole: true,
        ..Needs::default()
    };
    Ok(with_candidature(
        definition,
        dossier,
        candidature,
        base,
        &views,
        &all,
    ))
}

/// `base` (a base context showing `candidature`'s formation, with at least
/// what its pieces' conditions read) with `candidature`'s names that
/// `needs` reads and the ids of the pieces it lacks (`missing_pieces`), of
/// `views`; with each piece's value too (`pieces`, `piece_list`) if
/// `needs` reads them.
fn with_candidature(
    definition: &Definition,
    dossier: &Dossier,
    candidature: &Candidature,
    base: Value,
    views: &[PieceView],
    needs: &Needs,
) -> Value {
    let piece_values = needs.whole || needs.piece_values;
    let language = dossier.language.as_str();
    let mut pieces = Map::new();
    let mut list = Vec::new();
    let mut missing = Vec::new();
    for view in views {
        if view.is_missing() {
            missing.push(Value::String(view.id.to_owned()));
        }
        if !piece_values {
            continue;
        }
        let entry = json!({
            "id": view.id,
            "label": view.piece.label.get(language),
            "status": view.status,
            "status_label": view.status_def.map_or("", |s| s.label.get(language)),
            "required": view.required,
            "provided": view.provided,
            "not_concerned_allowed": view.piece.not_concerned,
            "comment": view.state.and_then(|s| s.comment.clone()),
            "file_name": view.state.and_then(|s| s.file.as_ref().map(|f| f.name.clone())),
        });
        pieces.insert(view.id.to_owned(), entry.clone());
        list.push(entry);
    }
    let mut value = base;
    if let Value::Object(map) = &mut value {
        let mut fields = candidature_fields(definition, candidature, language, needs);
        fields.insert("missing_pieces".into(), Value::Array(missing));
        if piece_values {
            fields.insert("pieces".into(), Value::Object(pieces));
            fields.insert("piece_list".into(), Value::Array(list));
        }
        map.insert("candidature".into(), Value::Object(fields));
    }
    value
}

/// The base context of `dossier` showing `candidature`'s formation: what a
/// piece's `required_when` reads.
pub(crate) fn formation_context(
    definition: &Definition,
    dossier: &Dossier,
    candidature: &Candidature,
    now: Timestamp,
) -> Value {
    let parts = formation_parts(definition, dossier, candidature, now, (&|_| true, None));
    Value::Object(parts)
}

/// The part of [`formation_context`] that the pieces' conditions read
/// (see [`Definition::piece_condition_reads`]), and the names `wanted`
/// keeps besides: of a dossier's profile, only the sections a condition
/// reads are copied (the whole when `wanted` keeps it).
pub(crate) fn pieces_base(
    definition: &Definition,
    dossier: &Dossier,
    candidature: &Candidature,
    now: Timestamp,
    wanted: &dyn Fn(&str) -> bool,
) -> Value {
    let reads = definition.piece_condition_reads();
    let kept = |name: &str| {
        wanted(name) || reads.is_none_or(|reads| reads.roots.iter().any(|r| r == name))
    };
    let sections = match reads {
        Some(reads) if !wanted("profile") => reads.profile_sections.as_deref(),
        _ => None,
    };
    let parts = formation_parts(definition, dossier, candidature, now, (&kept, sections));
    Value::Object(parts)
}

/// The names of [`formation_context`] that `kept` keeps, each built only
/// if kept.
fn formation_parts(
    definition: &Definition,
    dossier: &Dossier,
    candidature: &Candidature,
    now: Timestamp,
    kept: Kept,
) -> Map<String, Value> {
    let mut parts = base_parts(definition, dossier, now, kept);
    let wanted = kept.0;
    if wanted("formation") {
        let language = dossier.language.as_str();
        if let Some(formation) = formation_value(definition, &candidature.formation, language) {
            parts.insert("formation".into(), formation);
        }
    }
    parts
}

/// A piece of a candidature's formation, as its context and its pages
/// show it.
#[derive(Debug, Clone)]
pub struct PieceView<'a> {
    /// The piece's id.
    pub id: &'a str,
    /// Its definition.
    pub piece: &'a PieceDef,
    /// What the candidature holds of it (none before anything was done).
    pub state: Option<&'a PieceState>,
    /// Its status (the initial one before anything was done).
    pub status: &'a str,
    /// That status's definition, if the definition has it.
    pub status_def: Option<&'a PieceStatusDef>,
    /// Whether it is asked of this candidature (its `required_when`).
    pub required: bool,
    /// Whether it is there: a status that counts as provided, every
    /// letter of a third party's piece received, an online form's answers
    /// complete.
    pub provided: bool,
}

impl PieceView<'_> {
    /// Whether the candidature still lacks this piece: its `missing_pieces`.
    pub fn is_missing(&self) -> bool {
        self.required && !self.provided
    }
}

/// The pieces of `candidature`'s formation, in its order: their
/// `required_when` and online forms' conditions read `base` (the
/// dossier's base context with the candidature's formation).
pub(crate) fn piece_views<'a>(
    definition: &'a Definition,
    dossier: &Dossier,
    candidature: &'a Candidature,
    base: &Value,
) -> Result<Vec<PieceView<'a>>, ScriptError> {
    let formation = definition.formation(&candidature.formation);
    let letters = crate::queries::letters(definition, dossier, candidature);
    let mut views = Vec::new();
    for piece_id in formation.map(|f| f.pieces.as_slice()).unwrap_or_default() {
        if let Some(piece) = definition.piece(piece_id) {
            let view = piece_view(definition, candidature, base, &letters, (piece_id, piece))?;
            views.push(view);
        }
    }
    Ok(views)
}

/// The view of `piece` of `candidature` (see [`piece_views`]), with the
/// third parties' `letters` of its candidature.
fn piece_view<'a>(
    definition: &'a Definition,
    candidature: &'a Candidature,
    base: &Value,
    letters: &[crate::queries::Letter<'_>],
    (piece_id, piece): (&'a str, &'a PieceDef),
) -> Result<PieceView<'a>, ScriptError> {
    let required = is_required(definition, piece, base)?;
    let (state, status, status_def) = piece_status(definition, candidature, piece_id);
    let provided = is_provided(
        definition,
        candidature,
        (piece_id, status_def),
        letters,
        &|| base,
    )?;
    Ok(PieceView {
        id: piece_id,
        piece,
        state,
        status,
        status_def,
        required,
        provided,
    })
}

/// What `candidature` holds of piece `piece_id`, its status (the initial
/// one before anything was done) and that status's definition.
fn piece_status<'a>(
    definition: &'a Definition,
    candidature: &'a Candidature,
    piece_id: &str,
) -> (Option<&'a PieceState>, &'a str, Option<&'a PieceStatusDef>) {
    let state = candidature.pieces.get(piece_id);
    let status = state.map_or(definition.initial_piece_status(), |s| s.status.as_str());
    (state, status, definition.piece_status(status))
}

/// Whether `piece` is asked of the candidature whose base context is
/// `base` (its `required_when`).
fn is_required(
    definition: &Definition,
    piece: &PieceDef,
    base: &Value,
) -> Result<bool, ScriptError> {
    match &piece.required_when {
        Some(when) => definition.eval_bool(when, base),
        None => Ok(true),
    }
}

/// Whether piece `piece_id` of `candidature`, at the status `status_def`
/// defines, is there (see [`PieceView::provided`]); `base` gives the base
/// context, made only for an online form's answers.
fn is_provided<'b>(
    definition: &Definition,
    candidature: &Candidature,
    (piece_id, status_def): (&str, Option<&PieceStatusDef>),
    letters: &[crate::queries::Letter<'_>],
    base: &dyn Fn() -> &'b Value,
) -> Result<bool, ScriptError> {
    // A third party's piece is there when every person named has sent
    // theirs; an online form's, when its answers are complete.
    let form = definition.online_form_for(&candidature.formation, piece_id);
    Ok(match (definition.provider_of(piece_id), form) {
        (Some(_), _) => {
            let mut named = letters.iter().filter(|l| l.piece == piece_id).peekable();
            named.peek().is_some() && named.all(|l| l.received())
        }
        (None, Some(form)) => match &candidature.form {
            Some(answers) => {
                crate::answers::check_entry(definition, base(), &form.fields, answers)?
                    .problems
                    .is_empty()
            }
            None => false,
        },
        (None, None) => status_def.is_some_and(|s| s.provided),
    })
}

/// Whether `candidature` of `dossier` still lacks a piece at `now`: whether
/// its context's `missing_pieces` is not empty. Found piece by piece,
/// stopping at the first one lacking; a piece that is there needs no
/// condition evaluated, and the base context is made only for a condition
/// or an online form that reads it.
pub(crate) fn lacks_a_piece(
    definition: &Definition,
    dossier: &Dossier,
    candidature: &Candidature,
    now: Timestamp,
) -> Result<bool, ScriptError> {
    let made = std::cell::OnceCell::new();
    let base =
        || made.get_or_init(|| pieces_base(definition, dossier, candidature, now, &|_| false));
    let letters = crate::queries::letters(definition, dossier, candidature);
    let formation = definition.formation(&candidature.formation);
    for piece_id in formation.map(|f| f.pieces.as_slice()).unwrap_or_default() {
        let Some(piece) = definition.piece(piece_id) else {
            continue;
        };
        let (_, _, status_def) = piece_status(definition, candidature, piece_id);
        let provided = is_provided(
            definition,
            candidature,
            (piece_id, status_def),
            &letters,
            &base,
        )?;
        if !provided && is_required(definition, piece, base())? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The names of `candidature` in its context but its pieces', those
/// `needs` reads: a guard on its state makes no copy of its data, nor
/// writes its dates.
fn candidature_fields(
    definition: &Definition,
    candidature: &Candidature,
    language: &str,
    needs: &Needs,
) -> Map<String, Value> {
    let mut fields = Map::new();
    let mut field = |name: &str, build: &dyn Fn() -> Value| {
        if needs.reads_of_candidature(name) {
            fields.insert(name.to_owned(), build());
        }
    };
    field("id", &|| json!(candidature.id));
    field("state", &|| json!(candidature.state));
    field("state_label", &|| {
        let state = definition.state(&candidature.state);
        json!(state.map_or("", |s| s.label.get(language)))
    });
    field("created_at", &|| json!(candidature.created_at.to_string()));
    field("entered_state_at", &|| {
        json!(candidature.entered_state_at.to_string())
    });
    // Copied as values: `json!` would serialize them again.
    field("data", &|| Value::Object(candidature.data.clone()));
    fields
}

/// The names of its candidature's context some expressions read: its
/// roots, and whether the candidature's pieces (the costly part: each
/// piece's `required_when` evaluated, an online form's answers checked).
#[derive(Debug, Default)]
pub(crate) struct Needs {
    roots: Vec<String>,
    /// The names of `candidature` read below it.
    of_candidature: Vec<String>,
    /// Whether all of `candidature` (an expression reading it whole).
    candidature_whole: bool,
    /// Whether the candidature's pieces' views, which its `missing_pieces`
    /// lists the ids of.
    pieces: bool,
    /// Whether each piece's value besides (`pieces`, `piece_list`).
    piece_values: bool,
    /// Whether the whole context: an expression not compiled with the
    /// definition, a template showing everything (`debug()`).
    whole: bool,
}

/// The names of a candidature's context holding its pieces' values.
const PIECE_VALUES: &[&str] = &["pieces", "piece_list"];

impl Needs {
    /// What `expressions` (compiled with `definition`) read; the whole
    /// context for one the definition lacks.
    pub fn of(definition: &Definition, expressions: &[&str]) -> Needs {
        let mut needs = Needs::default();
        for expression in expressions {
            let Some(reads) = definition.reads(expression) else {
                needs.whole = true;
                continue;
            };
            for (root, paths) in reads {
                for path in paths {
                    needs.add(root, path.first().map(String::as_str));
                }
            }
        }
        needs
    }

    /// What `expressions` and the templates of `mails` (with their
    /// letters) read.
    pub fn of_mails(definition: &Definition, expressions: &[&str], mails: &[&MailDef]) -> Needs {
        let mut needs = Needs::of(definition, expressions);
        let letters = mails
            .iter()
            .flat_map(|mail| mail.letters.iter().map(|id| letter_template(id)));
        let owners = mails.iter().map(|mail| mail.id.clone()).chain(letters);
        for owner in owners {
            for path in definition.template_reads(&owner) {
                let mut names = path.split('.');
                let root = names.next().unwrap_or_default();
                // `debug()` shows the whole context.
                if root == "debug" {
                    needs.whole = true;
                }
                needs.add(root, names.next());
            }
        }
        needs
    }

    /// These needs and the candidature's pieces' views besides (its
    /// `missing_pieces`).
    pub fn with_pieces(mut self) -> Needs {
        self.pieces = true;
        self
    }

    /// Whether `name` of the candidature is read.
    fn reads_of_candidature(&self, name: &str) -> bool {
        self.whole || self.candidature_whole || self.of_candidature.iter().any(|n| n == name)
    }

    /// A read of `root`, going down to `first` below it (none: the whole).
    fn add(&mut self, root: &str, first: Option<&str>) {
        // A piece guard's `piece` is its value among the candidature's.
        if root == "piece" {
            self.pieces = true;
            self.piece_values = true;
        }
        if root == "candidature" {
            match first {
                Some(name) if !self.of_candidature.iter().any(|known| known == name) => {
                    self.of_candidature.push(name.to_owned());
                }
                Some(_) => {}
                None => self.candidature_whole = true,
            }
            if first.is_none_or(|name| PIECE_VALUES.contains(&name)) {
                self.pieces = true;
                self.piece_values = true;
            } else if first == Some("missing_pieces") {
                self.pieces = true;
            }
        }
        if !self.roots.iter().any(|known| known == root) {
            self.roots.push(root.to_owned());
        }
    }
}

/// [`candidature_context_for`] with its pieces' views, made whatever
/// `needs` says of the pieces: for a page that shows them and judges what
/// the candidature's guards read.
pub(crate) fn candidature_context_and_views<'a>(
    definition: &'a Definition,
    dossier: &Dossier,
    candidature: &'a Candidature,
    now: Timestamp,
    needs: &Needs,
) -> Result<(Value, Vec<PieceView<'a>>), ScriptError> {
    let base = if needs.whole {
        formation_context(definition, dossier, candidature, now)
    } else {
        let wanted = |name: &str| needs.roots.iter().any(|root| root == name);
        pieces_base(definition, dossier, candidature, now, &wanted)
    };
    let views = piece_views(definition, dossier, candidature, &base)?;
    let context = with_candidature(definition, dossier, candidature, base, &views, needs);
    Ok((context, views))
}

/// The part of `candidature`'s context (see [`candidature_context`]) that
/// `needs` names: a condition on the candidature's state or data does not
/// make its pieces' view, nor its profile's copy. With the pieces, what
/// their own conditions read besides.
pub(crate) fn candidature_context_for(
    definition: &Definition,
    dossier: &Dossier,
    candidature: &Candidature,
    now: Timestamp,
    needs: &Needs,
) -> Result<Value, ScriptError> {
    if needs.whole {
        return candidature_context(definition, dossier, candidature, now);
    }
    if needs.pieces {
        return candidature_context_and_views(definition, dossier, candidature, now, needs)
            .map(|(context, _)| context);
    }
    let wanted = |name: &str| needs.roots.iter().any(|root| root == name);
    let mut parts = formation_parts(definition, dossier, candidature, now, (&wanted, None));
    if wanted("candidature") {
        let language = dossier.language.as_str();
        let fields = candidature_fields(definition, candidature, language, needs);
        parts.insert("candidature".into(), Value::Object(fields));
    }
    Ok(Value::Object(parts))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The minimal fixture with conditions reading a candidature's data,
    /// the profile, its formation and its pieces (in deadlines, which the
    /// system role handles).
    fn definition() -> Definition {
        let text = include_str!("../../../tests/fixtures/minimal.yaml")
            .replace(
                "  - { id: staff, label: Staff, kind: staff, address: office@example.org }",
                "  - { id: staff, label: Staff, kind: staff, address: office@example.org }\n  - { id: system, label: Automatic, kind: system }",
            )
            .replace(
                "  - { id: master, title: Master, pieces: [cv] }",
                "  - { id: master, title: Master, pieces: [cv, visa] }",
            )
            .replace(
                "  - { id: cv, label: CV, accept: [pdf], max_size: 2MB }",
                "  - { id: cv, label: CV, accept: [pdf], max_size: 2MB }\n  - { id: visa, label: Visa, accept: [pdf], max_size: 2MB, required_when: \"profile.identity.nationality != 'FR'\" }",
            )
            .replace(
            "    - { id: close, label: Close, from: received, to: closed, by: staff }",
            r#"    - id: close
      label: Close
      from: received
      to: closed
      by: staff
      input: [{ id: note, type: text, label: Note }]
  deadlines:
    - id: late
      label: Late
      in: received
      when: "candidature.data.note == 'late' && profile.identity.nationality != 'FR'"
      after: 8 days
      mail: received
    - id: missing
      label: Missing
      in: draft
      when: "candidature.missing_pieces.len() > 0 && formation.title != ''"
      after: 2 days
      mail: received
    - id: checked
      label: Checked
      in: draft
      when: "candidature.piece_list.len() == 2 && candidature.pieces.visa.required"
      after: 3 days
      mail: received
    - id: stated
      label: Stated
      in: received
      when: "candidature.state == 'received' && candidature.state_label != ''"
      after: 4 days
      mail: received"#,
        );
        let text = format!(
            "{text}{}",
            r#"
  - id: missing
    subject: "{{ candidature.state_label }}"
    text: "{% for p in candidature.missing_pieces %}{{ p }} {% endfor %}{{ profile.identity.nationality }}"
"#
        );
        Definition::from_text("conditions.yaml", &text).expect("a valid definition")
    }

    /// The base context's values that change with the time are those
    /// of the names [`CLOCK_NAMES`] lists.
    #[test]
    fn only_the_clock_names_change_with_the_time() {
        use crate::context::shape::CLOCK_NAMES;
        let definition = definition();
        let dossier = dossier(&definition, "late");
        // While the campaign is open, and after it closed.
        let before = base_context(
            &definition,
            &dossier,
            "2027-04-05T08:00:00Z".parse().unwrap(),
        );
        let after = base_context(
            &definition,
            &dossier,
            "2027-09-05T19:00:00Z".parse().unwrap(),
        );
        let (Value::Object(before), Value::Object(after)) = (before, after) else {
            panic!("base contexts are objects");
        };
        let mut changed: Vec<&str> = before
            .iter()
            .filter(|(name, value)| after.get(name.as_str()) != Some(value))
            .map(|(name, _)| name.as_str())
            .collect();
        changed.sort_unstable();
        let mut clock = CLOCK_NAMES.to_vec();
        clock.sort_unstable();
        assert_eq!(changed, clock);
        assert_eq!(before.len(), after.len());
    }

    fn dossier(definition: &Definition, note: &str) -> Dossier {
        serde_json::from_value(json!({
            "id": "d1", "version": 3, "definition": definition.hash(), "owner": "owner",
            "candidate": {"last_name": "Martin", "first_name": "Alex", "email": "c@example.org"},
            "language": "en", "created_at": "2027-03-10T09:00:00Z",
            "profile": {"identity": {"nationality": "IT"}, "contact": {"town": "Lyon"}},
            "candidatures": [{
                "id": "c1", "formation": "master", "state": "received",
                "created_at": "2027-03-10T09:00:00Z", "entered_state_at": "2027-03-10T09:00:00Z",
                "data": {"note": note}, "pieces": {}, "deadlines_done": []
            }]
        }))
        .expect("a dossier")
    }

    /// Each condition gives on the part of the context it needs what it
    /// gives on the whole; a condition on data and profile makes neither
    /// the pieces' view nor the roots it does not read.
    #[test]
    fn a_condition_reads_the_same_from_the_part_it_needs() {
        let definition = definition();
        let now: Timestamp = "2027-04-01T00:00:00Z".parse().expect("a time");
        let conditions = [
            "candidature.data.note == 'late' && profile.identity.nationality != 'FR'",
            "candidature.missing_pieces.len() > 0 && formation.title != ''",
            "candidature.missing_pieces.is_empty()",
            "candidature.piece_list.len() == 2 && candidature.pieces.visa.required",
            "candidature.state == 'received' && candidature.state_label != ''",
        ];
        for note in ["late", "early"] {
            let dossier = dossier(&definition, note);
            let candidature = &dossier.candidatures[0];
            let whole = candidature_context(&definition, &dossier, candidature, now)
                .expect("the whole context");
            for condition in conditions {
                let needs = Needs::of(&definition, &[condition]);
                let part = candidature_context_for(&definition, &dossier, candidature, now, &needs)
                    .expect("its part");
                assert_eq!(
                    definition.eval_bool(condition, &part).ok(),
                    Some(definition.eval_bool(condition, &whole).expect(condition)),
                    "{condition} with {note}"
                );
            }
        }
        let dossier = dossier(&definition, "late");
        let part_for = |condition: &str| {
            let needs = Needs::of(&definition, &[condition]);
            let candidature = &dossier.candidatures[0];
            let part = candidature_context_for(&definition, &dossier, candidature, now, &needs)
                .expect("its part");
            let roots: Vec<String> = part
                .as_object()
                .map(|m| m.keys().cloned().collect())
                .unwrap_or_default();
            (part, roots)
        };
        let (part, roots) = part_for(conditions[0]);
        assert_eq!(roots, ["candidature", "profile"]);
        // The condition reads the profile: it gets the whole of it.
        assert_eq!(part["profile"]["contact"]["town"], "Lyon");
        assert_eq!(part["candidature"].get("pieces"), None);
        assert_eq!(part["candidature"]["data"]["note"], "late");
        // Of the candidature, the names read: its data, not its state nor
        // its dates.
        let names = |part: &Value| -> Vec<String> {
            part["candidature"]
                .as_object()
                .map(|m| m.keys().cloned().collect())
                .unwrap_or_default()
        };
        assert_eq!(names(&part), ["data"]);
        assert_eq!(names(&part_for(conditions[4]).0), ["state", "state_label"]);
        // A condition on the pieces: the names the pieces' own conditions
        // read (the visa's, the profile) come with them, and no others.
        let (part, roots) = part_for(conditions[2]);
        assert_eq!(roots, ["candidature", "profile"]);
        // Of the profile, the one section the visa's condition reads.
        assert_eq!(part["profile"], json!({"identity": {"nationality": "IT"}}));
        // Both pieces missing, the visa required of a national of Italy.
        let pieces = &definition
            .formation("master")
            .expect("the formation")
            .pieces;
        assert_eq!(pieces.len(), 2);
        assert_eq!(part["candidature"]["missing_pieces"], json!(pieces));
        // The ids of the pieces it lacks, not each piece's value.
        assert_eq!(part["candidature"].get("pieces"), None);
        assert_eq!(part["candidature"].get("piece_list"), None);
        // A condition on a piece's value gets them all.
        let (part, _) = part_for(conditions[3]);
        assert_eq!(part["candidature"]["piece_list"][1]["id"], "visa");
        assert_eq!(part["candidature"]["pieces"]["visa"]["required"], true);
    }

    /// A mail needs what its templates read: the part of the context made
    /// from it renders the mail as the whole context does.
    #[test]
    fn a_mail_renders_the_same_from_the_part_it_needs() {
        let definition = definition();
        let now: Timestamp = "2027-04-01T00:00:00Z".parse().expect("a time");
        let dossier = dossier(&definition, "late");
        let candidature = &dossier.candidatures[0];
        let shape = std::sync::Arc::clone(definition.candidature_mail_shape());
        let whole = candidature_context(&definition, &dossier, candidature, now).expect("whole");
        let whole = crate::context::TemplateContext::with_shape(whole, shape.clone());
        for (id, pieces, roots) in [
            ("received", false, vec!["candidate", "formation"]),
            ("missing", true, vec!["candidature", "profile"]),
        ] {
            let mail = definition.mail(id).expect("the mail");
            let needs = Needs::of_mails(&definition, &[], &[mail]);
            assert_eq!(needs.pieces, pieces, "{id}");
            let mut needed: Vec<&str> = needs.roots.iter().map(String::as_str).collect();
            needed.sort_unstable();
            assert_eq!(needed, roots, "{id}");
            let part = candidature_context_for(&definition, &dossier, candidature, now, &needs)
                .expect("its part");
            let part = crate::context::TemplateContext::with_shape(part, shape.clone());
            for part_name in ["subject", "text"] {
                let render = |context| definition.render_mail_part(id, part_name, "en", context);
                let (from_part, from_whole) = (render(&part), render(&whole));
                assert_eq!(from_part.ok(), Some(from_whole.expect("rendered")), "{id}");
            }
        }
    }
}
