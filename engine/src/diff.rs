//! What changed between two versions of a definition, in the words of the
//! format (sections, fields, pieces, states, transitions, mails, dates,
//! formations…), and what the change would do to the dossiers started under
//! the older one: a removed state that holds candidatures, a removed field
//! that has answers, a piece newly required of candidatures already sent.
//!
//! ```
//! use guichet_engine::{diff, Definition};
//!
//! let old = Definition::from_text("old.yaml", include_str!("../../tests/fixtures/minimal.yaml")).unwrap();
//! let text = include_str!("../../tests/fixtures/minimal.yaml")
//!     .replace("closes: 2027-06-15", "closes: 2027-06-30");
//! let new = Definition::from_text("new.yaml", &text).unwrap();
//! let changes = diff::changes(&old, &new);
//! assert_eq!(changes[0].to_string(), "~ date `campaign.closes`: 2027-06-15 → 2027-06-30");
//! ```

use std::collections::BTreeSet;
use std::fmt;

use serde::Serialize;
use serde_json::Value;

use crate::definition::Definition;
use crate::dossier::{Answers, Candidature, Dossier};
use crate::store::{Store, StoreError};

/// How one thing changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// It is new.
    Added,
    /// It is gone.
    Removed,
    /// It is there in both, written differently.
    Changed,
}

/// One thing of the definition that changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    /// How.
    pub kind: Kind,
    /// What kind of thing, in the format's words (`piece`, `state`…).
    pub what: &'static str,
    /// Its id (`section.field` for a field).
    pub id: String,
    /// What changed in it: keys, or the old and new value.
    pub detail: String,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = match self.kind {
            Kind::Added => '+',
            Kind::Removed => '-',
            Kind::Changed => '~',
        };
        write!(f, "{sign} {} `{}`", self.what, self.id)?;
        if !self.detail.is_empty() {
            write!(f, ": {}", self.detail)?;
        }
        Ok(())
    }
}

/// What a change would do to dossiers in progress, if they moved to the
/// newer version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Impact {
    /// What it would do, in words.
    pub message: String,
    /// How many dossiers (or candidatures) it touches.
    pub count: usize,
}

impl fmt::Display for Impact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "! {} ({})", self.message, self.count)
    }
}

/// The lists of entries with an id the format has, each with the name of
/// its entries.
const LISTS: [(&str, &str); 11] = [
    ("/profile", "section"),
    ("/forms", "form"),
    ("/pieces", "piece"),
    ("/formations", "formation"),
    ("/roles", "role"),
    ("/workflow/states", "state"),
    ("/workflow/transitions", "transition"),
    ("/workflow/piece_statuses", "piece status"),
    ("/workflow/piece_transitions", "piece transition"),
    ("/workflow/deadlines", "deadline"),
    ("/mails", "mail"),
];

/// Everything that changed from `old` to `new`, in the order of the format.
pub fn changes(old: &Definition, new: &Definition) -> Vec<Change> {
    let (old_value, new_value) = (as_value(old), as_value(new));
    let mut found = Vec::new();
    if let (Some(before), Some(after)) = (old_value.get("campaign"), new_value.get("campaign")) {
        keyed(before, after, "date", "campaign.", &mut found);
    }
    for key in [
        "title",
        "sender",
        "timezone",
        "languages",
        "words",
        "signature",
        "composantes",
    ] {
        let (before, after) = (old_value.get(key), new_value.get(key));
        if before != after {
            found.push(Change {
                kind: match (before, after) {
                    (None, _) => Kind::Added,
                    (_, None) => Kind::Removed,
                    _ => Kind::Changed,
                },
                what: "setting",
                id: key.to_owned(),
                detail: String::new(),
            });
        }
    }
    if let (Some(before), Some(after)) = (old_value.get("lists"), new_value.get("lists")) {
        keyed(before, after, "list", "", &mut found);
    }
    for (pointer, what) in LISTS {
        let before = entries(&old_value, pointer);
        let after = entries(&new_value, pointer);
        by_id(&before, &after, what, "", &mut found);
        if what == "section" || what == "form" {
            // Fields are named one by one: they hold the answers.
            for (id, old_entry) in &before {
                let Some((_, new_entry)) = after.iter().find(|(other, _)| other == id) else {
                    continue;
                };
                let fields = |entry: &Value| entries(entry, "/fields");
                let field = if what == "section" {
                    "field"
                } else {
                    "form field"
                };
                by_id(
                    &fields(old_entry),
                    &fields(new_entry),
                    field,
                    &format!("{id}."),
                    &mut found,
                );
            }
        }
    }
    let letters = |value: &Value| entries(value, "/letters");
    by_id(
        &letters(&old_value),
        &letters(&new_value),
        "letter",
        "",
        &mut found,
    );
    // What the newer file maps follows its new name: said beside its removal.
    let mappings = &new.file().migrate;
    for change in found.iter_mut().filter(|c| c.kind == Kind::Removed) {
        let renamed = match change.what {
            "state" => mappings.states.get(&change.id),
            "piece" => mappings.pieces.get(&change.id),
            "field" => mappings.fields.get(&change.id),
            _ => None,
        };
        if let Some(to) = renamed {
            change.detail = format!("becomes `{to}` (migrate)");
        }
    }
    // A changed section or form whose only change is in its fields is told
    // by the fields.
    let field_owners: BTreeSet<String> = found
        .iter()
        .filter(|c| c.what == "field" || c.what == "form field")
        .filter_map(|c| c.id.split_once('.').map(|(owner, _)| owner.to_owned()))
        .collect();
    found.retain(|c| {
        !((c.what == "section" || c.what == "form")
            && c.kind == Kind::Changed
            && c.detail == "fields"
            && field_owners.contains(&c.id))
    });
    found
}

/// What moving `dossiers` (started under `old`) to `new` would do.
pub fn impacts(old: &Definition, new: &Definition, dossiers: &[Dossier]) -> Vec<Impact> {
    let mut impacts = Impacts::new(old, new);
    dossiers.iter().for_each(|dossier| impacts.count(dossier));
    impacts.found()
}

/// What moving dossiers started under one version to another would do,
/// counted as the dossiers come, one at a time: a store of a hundred
/// thousand dossiers is read through once, none of them kept; or counted
/// from a store's indexes and own answers, no dossier read
/// ([`Impacts::count_store`]).
///
/// ```
/// use guichet_engine::{diff, Definition};
///
/// let old = Definition::from_text("old.yaml", include_str!("../../tests/fixtures/minimal.yaml")).unwrap();
/// let impacts = diff::Impacts::new(&old, &old);
/// assert!(!impacts.reads_dossiers(), "the same version removes nothing");
/// assert!(impacts.found().is_empty());
/// ```
pub struct Impacts<'d> {
    old: &'d Definition,
    /// The state candidatures start in, under `old`: past it, one is sent.
    initial: &'d str,
    checks: Vec<Check<'d>>,
}

/// One thing a move would do, and how many it found so far.
struct Check<'d> {
    message: String,
    touched: Touched<'d>,
    count: usize,
}

/// What a check counts: candidatures, or dossiers by their own answers.
enum Touched<'d> {
    /// Candidatures in a state.
    InState(&'d str),
    /// Candidatures to a formation.
    ToFormation(&'d str),
    /// Candidatures to a formation, sent (past the initial state).
    SentTo(&'d str),
    /// Candidatures holding a file for a piece.
    WithFile(&'d str),
    /// Dossiers answering a field of a section.
    Answering { section: &'d str, field: &'d str },
    /// Dossiers whose saved section leaves one of its fields unanswered.
    NotAnswering { section: &'d str, field: &'d str },
}

impl Touched<'_> {
    /// How many of a dossier's candidatures (or 1 for the dossier itself)
    /// this touches, its candidatures started in `initial`.
    fn count(&self, dossier: &Dossier, initial: &str) -> usize {
        let candidatures = |touched: &dyn Fn(&Candidature) -> bool| {
            dossier.candidatures.iter().filter(|c| touched(c)).count()
        };
        match *self {
            Touched::WithFile(id) => candidatures(&|c| c.holds_file(id)),
            Touched::Answering { .. } | Touched::NotAnswering { .. } => {
                self.answers(&dossier.profile)
            }
            _ => candidatures(&|c| self.holds(&c.formation, &c.state, initial)),
        }
    }

    /// Whether a candidature to `formation` in `state` counts, for the
    /// checks on candidatures by formation and state; false for the others.
    fn holds(&self, formation: &str, state: &str, initial: &str) -> bool {
        match *self {
            Touched::InState(id) => state == id,
            Touched::ToFormation(id) => formation == id,
            Touched::SentTo(id) => formation == id && state != initial,
            _ => false,
        }
    }

    /// Whether a dossier's own answers count (1) or not (0), for the checks
    /// on answers; 0 for the others.
    fn answers(&self, profile: &Answers) -> usize {
        match *self {
            Touched::Answering { section, field } => {
                usize::from(has_answer(profile.get(section), field))
            }
            Touched::NotAnswering { section, field } => usize::from(
                profile.contains_key(section) && !has_answer(profile.get(section), field),
            ),
            _ => 0,
        }
    }
}

impl<'d> Impacts<'d> {
    /// What moving from `old` to `new` is checked for, nothing counted yet.
    pub fn new(old: &'d Definition, new: &'d Definition) -> Self {
        let mut checks = Vec::new();
        let mut check = |message: String, touched: Touched<'d>| {
            checks.push(Check {
                message,
                touched,
                count: 0,
            });
        };
        let mappings = &new.file().migrate;
        for state in &old.file().workflow.states {
            if new.state(&state.id).is_none() && !mappings.states.contains_key(&state.id) {
                let id = state.id.as_str();
                check(
                    format!("state `{id}` is removed and holds candidatures"),
                    Touched::InState(id),
                );
            }
        }
        for formation in &old.file().formations {
            let id = formation.id.as_str();
            match new.formation(id) {
                None => check(
                    format!("formation `{id}` is removed and has candidatures"),
                    Touched::ToFormation(id),
                ),
                Some(newer) => {
                    for piece in newer
                        .pieces
                        .iter()
                        .filter(|p| !formation.pieces.contains(p))
                    {
                        check(
                            format!(
                                "piece `{piece}` is newly required by formation `{id}`, of candidatures already sent"
                            ),
                            Touched::SentTo(id),
                        );
                    }
                }
            }
        }
        for piece in &old.file().pieces {
            if new.piece(&piece.id).is_none() && !mappings.pieces.contains_key(&piece.id) {
                let id = piece.id.as_str();
                check(
                    format!("piece `{id}` is removed and has files"),
                    Touched::WithFile(id),
                );
            }
        }
        for section in &old.file().profile {
            let newer = new.file().profile.iter().find(|s| s.id == section.id);
            let section_id = section.id.as_str();
            for field in &section.fields {
                let mapped = mappings
                    .fields
                    .contains_key(&format!("{}.{}", section.id, field.id));
                let kept =
                    mapped || newer.is_some_and(|s| s.fields.iter().any(|f| f.id == field.id));
                if !kept {
                    let field_id = field.id.as_str();
                    check(
                        format!("field `{section_id}.{field_id}` is removed and has answers"),
                        Touched::Answering {
                            section: section_id,
                            field: field_id,
                        },
                    );
                }
            }
            for field in newer.iter().flat_map(|s| &s.fields).filter(|f| f.required) {
                let was_required = section
                    .fields
                    .iter()
                    .any(|f| f.id == field.id && f.required);
                let key = format!("{}.{}", section.id, field.id);
                if !was_required && !mappings.defaults.contains_key(&key) {
                    let field_id = field.id.as_str();
                    check(
                        format!(
                            "field `{section_id}.{field_id}` is newly required, and unanswered in saved sections"
                        ),
                        Touched::NotAnswering {
                            section: section_id,
                            field: field_id,
                        },
                    );
                }
            }
        }
        Impacts {
            old,
            initial: old.initial_state(),
            checks,
        }
    }

    /// Whether a dossier could change what is found: false when the move
    /// removes and newly requires nothing, and no dossier needs reading.
    pub fn reads_dossiers(&self) -> bool {
        !self.checks.is_empty()
    }

    /// Counts what moving `dossier` would do.
    pub fn count(&mut self, dossier: &Dossier) {
        for check in &mut self.checks {
            check.count += check.touched.count(dossier, self.initial);
        }
    }

    /// Counts what moving every dossier of `store` would do, as
    /// [`Impacts::count`] of each would, from what the store keeps beside
    /// them instead: its counts of candidatures by formation and state and
    /// of files by piece, and its dossiers' own answers, read only if a
    /// check is on answers. No dossier is read: at a hundred thousand,
    /// reading them all, even one at a time, leaves sled holding hundreds of
    /// megabytes of their pages. Every dossier the store holds is counted,
    /// so the caller makes sure they are all under the older version.
    pub fn count_store(&mut self, store: &dyn Store) -> Result<(), StoreError> {
        let file = self.old.file();
        let formations: Vec<&str> = file.formations.iter().map(|f| f.id.as_str()).collect();
        let states: Vec<&str> = file.workflow.states.iter().map(|s| s.id.as_str()).collect();
        let mut on_answers = false;
        for check in &mut self.checks {
            match check.touched {
                Touched::WithFile(piece) => check.count += store.files_held(piece)?,
                Touched::Answering { .. } | Touched::NotAnswering { .. } => on_answers = true,
                _ => {
                    for formation in &formations {
                        for state in &states {
                            if check.touched.holds(formation, state, self.initial) {
                                check.count += store.count_of(formation, state)?;
                            }
                        }
                    }
                }
            }
        }
        if on_answers {
            store.each_own_answers(&mut |profile| {
                for check in &mut self.checks {
                    check.count += check.touched.answers(&profile);
                }
            })?;
        }
        Ok(())
    }

    /// What moving the dossiers counted would do, in the order checked.
    pub fn found(self) -> Vec<Impact> {
        self.checks
            .into_iter()
            .filter(|check| check.count > 0)
            .map(|check| Impact {
                message: check.message,
                count: check.count,
            })
            .collect()
    }
}

/// Whether a saved section (one entry, or a repeatable section's entries)
/// holds an answer to `field`.
fn has_answer(section: Option<&Value>, field: &str) -> bool {
    let answered = |entry: &Value| {
        entry
            .get(field)
            .is_some_and(|v| !v.is_null() && v != &Value::String(String::new()))
    };
    match section {
        Some(Value::Array(entries)) => entries.iter().any(answered),
        Some(entry) => answered(entry),
        None => false,
    }
}

fn as_value(definition: &Definition) -> Value {
    let mut value = serde_json::to_value(definition.file()).unwrap_or(Value::Null);
    // Scenarios are the authors' tests, not the procedure.
    if let Value::Object(map) = &mut value {
        map.remove("tests");
    }
    value
}

/// The entries (objects with an `id`) of the list at `pointer`, with their ids.
fn entries(value: &Value, pointer: &str) -> Vec<(String, Value)> {
    value
        .pointer(pointer)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|entry| Some((entry.get("id")?.as_str()?.to_owned(), entry.clone())))
        .collect()
}

/// Added, removed and changed entries of two lists, by id.
fn by_id(
    before: &[(String, Value)],
    after: &[(String, Value)],
    what: &'static str,
    prefix: &str,
    found: &mut Vec<Change>,
) {
    for (id, old_entry) in before {
        match after.iter().find(|(other, _)| other == id) {
            None => found.push(Change {
                kind: Kind::Removed,
                what,
                id: format!("{prefix}{id}"),
                detail: String::new(),
            }),
            Some((_, new_entry)) if new_entry != old_entry => found.push(Change {
                kind: Kind::Changed,
                what,
                id: format!("{prefix}{id}"),
                detail: changed_keys(old_entry, new_entry),
            }),
            Some(_) => {}
        }
    }
    for (id, _) in after {
        if !before.iter().any(|(other, _)| other == id) {
            found.push(Change {
                kind: Kind::Added,
                what,
                id: format!("{prefix}{id}"),
                detail: String::new(),
            });
        }
    }
}

/// Added, removed and changed keys of two mappings (`campaign`, `lists`),
/// with the old and new value when it is short.
fn keyed(before: &Value, after: &Value, what: &'static str, prefix: &str, found: &mut Vec<Change>) {
    let (Some(before), Some(after)) = (before.as_object(), after.as_object()) else {
        return;
    };
    let keys: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    for key in keys {
        let (old, new) = (before.get(key), after.get(key));
        let kind = match (old, new) {
            (None, Some(_)) => Kind::Added,
            (Some(_), None) => Kind::Removed,
            (Some(old), Some(new)) if old != new => Kind::Changed,
            _ => continue,
        };
        let detail = match (old, new) {
            (Some(old), Some(new)) if is_short(old) && is_short(new) => {
                format!("{} → {}", shown(old), shown(new))
            }
            _ => String::new(),
        };
        found.push(Change {
            kind,
            what,
            id: format!("{prefix}{key}"),
            detail,
        });
    }
}

/// The keys of an entry whose values differ, and for a list of ids (a
/// formation's pieces) the ids added and removed.
fn changed_keys(before: &Value, after: &Value) -> String {
    let (Some(before), Some(after)) = (before.as_object(), after.as_object()) else {
        return String::new();
    };
    let keys: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    keys.into_iter()
        .filter(|key| before.get(*key) != after.get(*key))
        .map(|key| match (before.get(key), after.get(key)) {
            (Some(Value::Array(old)), Some(Value::Array(new)))
                if old.iter().chain(new).all(Value::is_string) =>
            {
                let added = new.iter().filter(|v| !old.contains(v)).map(shown);
                let removed = old.iter().filter(|v| !new.contains(v)).map(shown);
                let moves: Vec<String> = added
                    .map(|id| format!("+{id}"))
                    .chain(removed.map(|id| format!("-{id}")))
                    .collect();
                if moves.is_empty() {
                    format!("{key} (order)")
                } else {
                    format!("{key} ({})", moves.join(", "))
                }
            }
            (Some(old), Some(new)) if is_short(old) && is_short(new) => {
                format!("{key} {} → {}", shown(old), shown(new))
            }
            _ => key.clone(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn is_short(value: &Value) -> bool {
    !value.is_object() && !value.is_array() && shown(value).chars().count() <= 40
}

fn shown(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}
