//! Moving a dossier from the version of the definition it started under to
//! another one, by the mappings the newer file declares (`migrate:`): a
//! renamed status, piece or field follows its new name, a new required field
//! gets its default. What cannot follow is reported, never dropped: an
//! answer, a file or a status the newer version has no place for.

use serde_json::{json, Map, Value};

use crate::definition::Definition;
use crate::dossier::{Change, Dossier, PieceState};

/// The dossier as it would be under `new`, with what changed; or every
/// reason it cannot move, in words. Nothing is written: see
/// [`crate::Engine::migrate`].
pub fn migrated(
    old: &Definition,
    new: &Definition,
    dossier: &Dossier,
) -> Result<(Dossier, Vec<Change>), Vec<String>> {
    let mappings = &new.file().migrate;
    let mut reasons = Vec::new();
    let mut after = dossier.clone();
    let mut changes = vec![Change {
        path: "definition".into(),
        before: json!(old.hash()),
        after: json!(new.hash()),
    }];
    let initial_status = new
        .file()
        .workflow
        .piece_statuses
        .iter()
        .find(|s| s.initial)
        .map(|s| s.id.clone());
    for candidature in &mut after.candidatures {
        let id = candidature.id.clone();
        let state = mappings
            .states
            .get(&candidature.state)
            .cloned()
            .unwrap_or_else(|| candidature.state.clone());
        if new.state(&state).is_none() {
            reasons.push(format!(
                "candidature {id} is in status `{state}`, which this version does not have: map it under `migrate.states`"
            ));
        } else if state != candidature.state {
            changes.push(Change {
                path: format!("candidatures/{id}/state"),
                before: json!(candidature.state),
                after: json!(state),
            });
            candidature.state = state;
        }
        let Some(formation) = new.formation(&candidature.formation) else {
            reasons.push(format!(
                "candidature {id} is to formation `{}`, which this version does not have",
                candidature.formation
            ));
            continue;
        };
        candidature.pieces = moved_pieces(new, &id, &candidature.pieces, &mut reasons);
        if let Some(sent) = &mut candidature.sent {
            sent.pieces = moved_pieces(new, &id, &sent.pieces, &mut Vec::new());
            sent.profile = moved_profile(new, &sent.profile, &mut Vec::new());
        }
        for piece in &formation.pieces {
            if candidature.pieces.contains_key(piece) {
                continue;
            }
            let Some(status) = initial_status.clone() else {
                continue;
            };
            changes.push(Change {
                path: format!("candidatures/{id}/pieces/{piece}"),
                before: Value::Null,
                after: json!(status),
            });
            let asked = PieceState {
                status,
                file: None,
                comment: None,
            };
            candidature.pieces.insert(piece.clone(), asked);
        }
    }
    let profile = moved_profile(new, &after.profile, &mut reasons);
    if profile != after.profile {
        changes.push(Change {
            path: "profile".into(),
            before: json!(after.profile),
            after: json!(profile),
        });
    }
    after.profile = profile;
    if !reasons.is_empty() {
        return Err(reasons);
    }
    after.definition = new.hash().to_owned();
    after.version = dossier.version + 1;
    Ok((after, changes))
}

/// A candidature's pieces under `new`'s names; a piece with a file and no
/// place in `new` is a reason not to move.
fn moved_pieces(
    new: &Definition,
    candidature: &str,
    pieces: &std::collections::BTreeMap<String, PieceState>,
    reasons: &mut Vec<String>,
) -> std::collections::BTreeMap<String, PieceState> {
    let mappings = &new.file().migrate;
    let statuses = &new.file().workflow.piece_statuses;
    let mut moved = std::collections::BTreeMap::new();
    for (piece, state) in pieces {
        let name = mappings.pieces.get(piece).unwrap_or(piece);
        if new.piece(name).is_none() {
            if state.file.is_some() {
                reasons.push(format!(
                    "candidature {candidature} has a file for piece `{piece}`, which this version does not have: map it under `migrate.pieces`"
                ));
            }
            continue;
        }
        if !statuses.iter().any(|s| s.id == state.status) {
            reasons.push(format!(
                "piece `{piece}` of candidature {candidature} is `{}`, a piece status this version does not have",
                state.status
            ));
        }
        moved.insert(name.clone(), state.clone());
    }
    moved
}

/// The profile's answers under `new`'s sections and fields: renamed ones
/// moved, required ones lacking given their default; an answer with no
/// place in `new` is a reason not to move.
fn moved_profile(
    new: &Definition,
    profile: &std::collections::BTreeMap<String, Value>,
    reasons: &mut Vec<String>,
) -> std::collections::BTreeMap<String, Value> {
    let mappings = &new.file().migrate;
    let mut moved = profile.clone();
    for (from, to) in &mappings.fields {
        let (Some((from_section, from_field)), Some((to_section, to_field))) =
            (from.split_once('.'), to.split_once('.'))
        else {
            continue;
        };
        if from_section == to_section {
            if let Some(section) = moved.get_mut(from_section) {
                for entry in entries_mut(section) {
                    if let Some(answer) = entry.remove(from_field) {
                        entry.insert(to_field.to_owned(), answer);
                    }
                }
            }
            continue;
        }
        // Between sections, single entries only: a repeatable section's
        // entries have no one place to go (such an answer stays, and is
        // reported below if the newer version has no place for it).
        let target_single = moved.get(to_section).is_none_or(Value::is_object);
        if !target_single {
            continue;
        }
        let taken = moved
            .get_mut(from_section)
            .and_then(Value::as_object_mut)
            .and_then(|entry| entry.remove(from_field));
        if let Some(answer) = taken {
            let target = moved
                .entry(to_section.to_owned())
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(entry) = target {
                entry.insert(to_field.to_owned(), answer);
            }
        }
    }
    for (section_id, answers) in &mut moved {
        let Some(section) = new.file().profile.iter().find(|s| &s.id == section_id) else {
            if has_any_answer(answers) {
                reasons.push(format!(
                    "section `{section_id}` has answers, and this version does not have it: map its fields under `migrate.fields`"
                ));
            }
            continue;
        };
        for entry in entries_mut(answers) {
            let unknown: Vec<String> = entry
                .iter()
                .filter(|(field, answer)| {
                    !section.fields.iter().any(|f| &f.id == *field) && is_answer(answer)
                })
                .map(|(field, _)| field.clone())
                .collect();
            for field in unknown {
                reasons.push(format!(
                    "field `{section_id}.{field}` has an answer, and this version does not have it: map it under `migrate.fields`"
                ));
            }
            for field in section.fields.iter().filter(|f| f.required) {
                if entry.get(&field.id).is_some_and(is_answer) {
                    continue;
                }
                // A field shown only under a condition may rightly be empty:
                // only those always asked need a default.
                if field.when.is_some() {
                    continue;
                }
                let key = format!("{section_id}.{}", field.id);
                match mappings.defaults.get(&key) {
                    Some(default) => {
                        entry.insert(field.id.clone(), default.clone());
                    }
                    None => reasons.push(format!(
                        "field `{key}` is required in this version and unanswered: give it under `migrate.defaults`"
                    )),
                }
            }
        }
    }
    moved
}

/// The entries of a saved section: one, or a repeatable section's.
fn entries_mut(section: &mut Value) -> Vec<&mut Map<String, Value>> {
    match section {
        Value::Array(entries) => entries
            .iter_mut()
            .filter_map(Value::as_object_mut)
            .collect(),
        Value::Object(entry) => vec![entry],
        _ => Vec::new(),
    }
}

fn is_answer(value: &Value) -> bool {
    !value.is_null() && value != &Value::String(String::new())
}

fn has_any_answer(section: &Value) -> bool {
    match section {
        Value::Array(entries) => entries.iter().any(has_any_answer),
        Value::Object(entry) => entry.values().any(is_answer),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::migrated;
    use crate::{Actor, Candidate, Command, Definition, Engine, MemoryStore};
    use serde_json::json;

    const MINIMAL: &str = include_str!("../../tests/fixtures/minimal.yaml");

    #[test]
    fn an_answer_moves_to_its_new_field_and_never_gets_lost() {
        let old = Definition::from_text("v1.yaml", MINIMAL).unwrap();
        let sections = |second: &str| {
            MINIMAL.replace(
                "pieces:\n",
                &format!("  - id: contact\n    title: Contact\n{second}    fields:\n      - {{ id: country, type: text, label: Country }}\npieces:\n"),
            )
        };
        let moved = format!(
            "{}migrate:\n  fields: {{ identity.nationality: contact.country }}\n",
            sections("")
        );
        let new = Definition::from_text("v2.yaml", &moved).unwrap();
        let engine = Engine::open(old, MemoryStore::new()).unwrap();
        let now = "2027-03-10T10:00:00Z".parse().unwrap();
        let candidate = Candidate {
            last_name: "Martin".into(),
            first_name: "Ada".into(),
            email: "ada@example.org".into(),
        };
        let dossier = engine.create_dossier("ada", candidate, "en", now).unwrap();
        let save = Command::SaveSection {
            section: "identity".into(),
            answers: json!({"nationality": "FR"}),
        };
        let me = Actor::new("candidate", "ada");
        let dossier = engine
            .apply(&dossier.id, 1, &me, save, now)
            .unwrap()
            .dossier;

        let (after, _) = migrated(&engine.definition(), &new, &dossier).unwrap();
        assert_eq!(after.profile["contact"]["country"], "FR");
        assert!(after.profile["identity"].get("nationality").is_none());

        // Into a repeatable section there is no one place: the answer stays
        // where it was (this version still has that field), nothing dropped.
        let repeated = format!(
            "{}migrate:\n  fields: {{ identity.nationality: contact.country }}\n",
            sections("    repeat: { add_label: Add }\n")
        );
        let new = Definition::from_text("v3.yaml", &repeated).unwrap();
        let mut with_entries = dossier.clone();
        with_entries.profile.insert("contact".into(), json!([]));
        let (after, _) = migrated(&engine.definition(), &new, &with_entries).unwrap();
        assert_eq!(after.profile["identity"]["nationality"], "FR");
        assert_eq!(after.profile["contact"], json!([]));
    }
}
