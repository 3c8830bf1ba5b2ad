//! Applying a command to a dossier: authorisation, guards, effects.
//!
//! This is pure computation over a [`Definition`] and a [`Dossier`]: the result is
//! the next dossier, the event describing the change and the mails to queue. The
//! caller never decides an effect; storing the result is the engine's job.

use std::sync::Arc;

use jiff::Timestamp;
use serde_json::Value;

use crate::answers::Problem;
use crate::context::{candidature_context, candidature_context_for, Needs};
use crate::definition::Definition;
use crate::dossier::{Actor, Candidate, Change, Command, Dossier, Event, OutboxMail};
use crate::model::{OneOrMany, PromoteDef, RoleKind, Text};
use crate::script::ScriptError;

mod commands;
mod deadlines;
mod mails;
mod third_parties;

pub use deadlines::{deadlines, Due};
pub(crate) use deadlines::{deadlines_with, index_contexts};
pub use third_parties::{secret_sha256, ThirdPartyRefusal};

/// Why a command was not applied. Nothing is written when a command fails.
#[derive(Debug, thiserror::Error)]
pub enum WorkflowError {
    /// Something named by the command does not exist.
    #[error("no {what} `{id}`")]
    NotFound {
        /// Kind of thing.
        what: &'static str,
        /// Its id.
        id: String,
    },
    /// The actor's role may not do this, or the dossier is not theirs.
    #[error("role `{role}` may not {action}")]
    Forbidden {
        /// The actor's role.
        role: String,
        /// What was attempted.
        action: String,
    },
    /// The transition does not leave the current status.
    #[error("`{transition}` is not possible from status `{state}`")]
    WrongState {
        /// Transition id.
        transition: String,
        /// Current status id.
        state: String,
    },
    /// The definition's guard does not hold.
    #[error("{}", message.as_ref().map_or_else(|| format!("`{transition}` is not possible now"), |m| m.get("en").to_owned()))]
    GuardFailed {
        /// Transition id.
        transition: String,
        /// The definition's explanation, if it gives one.
        message: Option<Text>,
    },
    /// The campaign is not open.
    #[error("the campaign is not open")]
    CampaignClosed,
    /// The candidate has as many candidatures as allowed.
    #[error("at most {max} candidatures are allowed")]
    TooManyCandidatures {
        /// The limit.
        max: u32,
    },
    /// The candidate already applied to this formation.
    #[error("a candidature to `{formation}` already exists")]
    AlreadyApplied {
        /// Formation id.
        formation: String,
    },
    /// A value given with the command is not acceptable.
    #[error("{field} {problem}")]
    InvalidValue {
        /// Field (or input) id.
        field: String,
        /// What is wrong, for the page to word in its reader's language.
        problem: Problem,
    },
    /// A file does not fit the piece.
    #[error("file refused: {0}")]
    FileRefused(FileRefusal),
    /// The deadline is not due, or was already handled.
    #[error("deadline `{0}` is not due")]
    NotDue(String),
    /// A condition of the definition failed to evaluate.
    #[error(transparent)]
    Script(#[from] ScriptError),
    /// A third party's request or piece was refused.
    #[error(transparent)]
    ThirdParty(ThirdPartyRefusal),
    /// A promotion would leave its candidature on the waiting list it was
    /// taken from (the rule's `among` still holds after the transition):
    /// it would head the list again, and be offered every place freed
    /// after it, the others none. The place stays free.
    #[error("promotion `{transition}` leaves candidature `{candidature}` on the waiting list of `{formation}`, whose `among` still holds after it: give `{transition}` a `set:` that makes `among` false")]
    PromotionKeepsOnList {
        /// The promotion's transition.
        transition: String,
        /// The formation whose place was freed.
        formation: String,
        /// The candidature at the head of the list.
        candidature: String,
    },
    /// A mail template failed to render.
    #[error("mail `{mail}` could not be rendered")]
    Template {
        /// Mail id.
        mail: String,
        /// minijinja's error.
        #[source]
        source: minijinja::Error,
    },
}

/// Why a file was refused for a piece.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileRefusal {
    /// The command gave no file.
    #[error("no file was given")]
    Missing,
    /// The piece does not accept the file's format.
    #[error("format `{0}` is not accepted for this piece")]
    Format(String),
    /// The file is larger than the piece allows.
    #[error("the file is {size} bytes, more than the {max} allowed")]
    TooLarge {
        /// The file's size in bytes.
        size: u64,
        /// The piece's limit in bytes.
        max: u64,
    },
}

/// The result of a command: the next dossier, its event and the mails to queue.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The dossier after the command.
    pub dossier: Dossier,
    /// What happened.
    pub event: Event,
    /// Mails queued by the command.
    pub mails: Vec<OutboxMail>,
    /// A place the command freed on a formation, to offer to a waiting list.
    pub freed: Option<FreedPlace>,
    /// Commands the engine performed on other dossiers because of this one (a
    /// promotion from a waiting list), stored in the same atomic write; or why
    /// it could not.
    pub follow_ups: Vec<Result<Outcome, Arc<crate::EngineError>>>,
    /// The links this command mailed to third parties, by entry of the
    /// naming section: `(entry, token)`. Nothing else holds the token.
    pub asked: Vec<(usize, String)>,
}

/// A place freed on a formation, with the rule choosing who gets it.
#[derive(Debug, Clone, PartialEq)]
pub struct FreedPlace {
    /// Formation id.
    pub formation: String,
    /// Dossier that freed it (never promoted for its own withdrawal).
    pub dossier: String,
    /// The definition's rule.
    pub rule: PromoteDef,
}

/// A new dossier for `candidate`, owned by account `owner`.
pub fn new_dossier(
    definition: &Definition,
    id: String,
    owner: &str,
    candidate: Candidate,
    language: &str,
    now: Timestamp,
) -> (Dossier, Event) {
    let dossier = Dossier {
        id,
        version: 1,
        definition: definition.hash().to_owned(),
        owner: owner.to_owned(),
        candidate,
        language: language.to_owned(),
        created_at: now,
        profile: Default::default(),
        candidatures: Vec::new(),
    };
    let event = Event {
        dossier: dossier.id.clone(),
        version: 1,
        at: now,
        actor: Actor::new(definition.candidate_role(), owner),
        command: None,
        changes: vec![Change {
            path: "candidate".into(),
            before: Value::Null,
            after: serde_json::to_value(&dossier.candidate).unwrap_or(Value::Null),
        }],
    };
    (dossier, event)
}

/// Applies `command` by `actor` at `now`.
///
/// `link_prefix` is what a third party's token is appended to in the link
/// mailed to them (the server's address of its third-party page).
pub fn apply(
    definition: &Definition,
    dossier: &Dossier,
    actor: &Actor,
    command: &Command,
    now: Timestamp,
    link_prefix: &str,
) -> Result<Outcome, WorkflowError> {
    let role = definition
        .role(&actor.role)
        .ok_or_else(|| WorkflowError::NotFound {
            what: "role",
            id: actor.role.clone(),
        })?;
    if role.kind == RoleKind::Candidate && actor.id != dossier.owner {
        return Err(WorkflowError::Forbidden {
            role: actor.role.clone(),
            action: "act on another candidate's dossier".into(),
        });
    }
    // A third party's link lets them send their piece, nothing else.
    if role.kind == RoleKind::ThirdParty && !matches!(command, Command::Deliver { .. }) {
        return Err(WorkflowError::Forbidden {
            role: actor.role.clone(),
            action: "do anything but send their piece".into(),
        });
    }
    let mut step = Step {
        definition,
        before: dossier,
        after: dossier.clone(),
        now,
        changes: Vec::new(),
        mails: Vec::new(),
        freed: None,
        link_prefix,
        asked: Vec::new(),
    };
    match command {
        Command::SaveSection { section, answers } => {
            step.save_section(&actor.role, role.kind, section, answers)?
        }
        Command::Apply { formation } => step.apply_to(&actor.role, role.kind, formation)?,
        Command::Transition {
            candidature,
            transition,
            input,
        } => step.transition(&actor.role, candidature, transition, input, None)?,
        Command::Piece {
            candidature,
            piece,
            transition,
            file,
            comment,
        } => step.piece(
            &actor.role,
            candidature,
            piece,
            transition,
            file.as_ref(),
            comment.as_deref(),
        )?,
        Command::UpdateCandidate { candidate } => {
            if role.kind != RoleKind::Candidate {
                return Err(WorkflowError::Forbidden {
                    role: actor.role.clone(),
                    action: "change a candidate's identity".into(),
                });
            }
            let before = serde_json::to_value(&step.after.candidate).unwrap_or(Value::Null);
            let after = serde_json::to_value(candidate).unwrap_or(Value::Null);
            step.after.candidate = candidate.clone();
            step.change("candidate".into(), before, after);
        }
        Command::Note { candidature, text } => {
            if role.kind != RoleKind::Staff {
                return Err(WorkflowError::Forbidden {
                    role: actor.role.clone(),
                    action: "write the staff's note".into(),
                });
            }
            let index = step.candidature_index(candidature)?;
            let kept = text.trim();
            within_limit("note", Some(kept))?;
            let after = (!kept.is_empty()).then(|| kept.to_owned());
            let slot = &mut step.after.candidatures[index].note;
            let before = std::mem::replace(slot, after.clone());
            let path = format!("candidatures/{candidature}/note");
            step.change(path, before.into(), after.into());
        }
        Command::SaveForm {
            candidature,
            answers,
        } => step.save_form(&actor.role, role.kind, candidature, answers)?,
        Command::Ask {
            candidature,
            role: third_party,
        } => step.ask(&actor.role, role.kind, candidature, third_party)?,
        Command::Deliver {
            candidature,
            entry,
            secret_sha256,
            file,
        } => step.deliver(&actor.role, candidature, *entry, secret_sha256, file)?,
        Command::Deadline {
            candidature,
            deadline,
        } => {
            if role.kind != RoleKind::System {
                return Err(WorkflowError::Forbidden {
                    role: actor.role.clone(),
                    action: "handle deadlines".into(),
                });
            }
            step.deadline(&actor.role, candidature, deadline)?
        }
        Command::Migrate { .. } => {
            return Err(WorkflowError::Forbidden {
                role: actor.role.clone(),
                action:
                    "move a dossier to another version (the administrator's `guichet migrate` does)"
                        .into(),
            })
        }
    }
    let Step {
        mut after,
        changes,
        mails,
        freed,
        asked,
        ..
    } = step;
    after.version = dossier.version + 1;
    let event = Event {
        dossier: dossier.id.clone(),
        version: after.version,
        at: now,
        actor: actor.clone(),
        command: Some(command.recorded()),
        changes,
    };
    Ok(Outcome {
        dossier: after,
        event,
        mails,
        freed,
        follow_ups: Vec::new(),
        asked,
    })
}

struct Step<'a> {
    definition: &'a Definition,
    before: &'a Dossier,
    after: Dossier,
    now: Timestamp,
    changes: Vec<Change>,
    mails: Vec<OutboxMail>,
    freed: Option<FreedPlace>,
    link_prefix: &'a str,
    asked: Vec<(usize, String)>,
}

/// Longest staff comment or note, in characters: a page of text.
pub const MAX_COMMENT: usize = 5000;

/// Refuses a comment or note longer than [`MAX_COMMENT`].
pub(crate) fn within_limit(field: &str, text: Option<&str>) -> Result<(), WorkflowError> {
    match text {
        Some(text) if text.chars().count() > MAX_COMMENT => Err(WorkflowError::InvalidValue {
            field: field.into(),
            problem: crate::answers::Problem::TooLong(MAX_COMMENT),
        }),
        _ => Ok(()),
    }
}

fn not_found(what: &'static str, id: &str) -> WorkflowError {
    WorkflowError::NotFound {
        what,
        id: id.to_owned(),
    }
}

impl Step<'_> {
    fn change(&mut self, path: String, before: Value, after: Value) {
        if before != after {
            self.changes.push(Change {
                path,
                before,
                after,
            });
        }
    }

    fn candidature_index(&self, id: &str) -> Result<usize, WorkflowError> {
        self.after
            .candidatures
            .iter()
            .position(|c| c.id == id)
            .ok_or_else(|| not_found("candidature", id))
    }

    fn context_of(&self, index: usize) -> Result<Value, WorkflowError> {
        candidature_context(
            self.definition,
            &self.after,
            &self.after.candidatures[index],
            self.now,
        )
        .map_err(WorkflowError::from)
    }

    /// The part of [`Step::context_of`] that `needs` names.
    fn context_for(&self, index: usize, needs: &Needs) -> Result<Value, WorkflowError> {
        let candidature = &self.after.candidatures[index];
        candidature_context_for(self.definition, &self.after, candidature, self.now, needs)
            .map_err(WorkflowError::from)
    }
}

/// Records in `changes` what changed from `before` to `after` under `path`,
/// field by field (or entry by entry): the event keeps the change, not two
/// whole copies. Only what changed is copied, and its path written.
fn record_changes(changes: &mut Vec<Change>, path: &str, before: Value, after: &Value) {
    let mut record = |path: &dyn Fn() -> String, before: Value, after: &Value| {
        if before != *after {
            changes.push(Change {
                path: path(),
                before,
                after: after.clone(),
            });
        }
    };
    match (before, after) {
        (Value::Object(mut before), Value::Object(after)) => {
            for (key, value) in after {
                let old = before.remove(key).unwrap_or(Value::Null);
                record(&|| format!("{path}/{key}"), old, value);
            }
            for (key, old) in before {
                record(&|| format!("{path}/{key}"), old, &Value::Null);
            }
        }
        (Value::Array(before), Value::Array(after)) => {
            let mut before = before.into_iter();
            for (index, value) in after.iter().enumerate() {
                let old = before.next().unwrap_or(Value::Null);
                record(&|| format!("{path}/{index}"), old, value);
            }
            for (index, old) in (after.len()..).zip(before) {
                record(&|| format!("{path}/{index}"), old, &Value::Null);
            }
        }
        (before, after) => record(&|| path.to_owned(), before, after),
    }
}

/// Whether `role` is among the roles (`by:`) allowed to perform `transition`.
fn allowed(by: &OneOrMany, role: &str, transition: &str) -> Result<(), WorkflowError> {
    if by.contains(role) {
        Ok(())
    } else {
        Err(WorkflowError::Forbidden {
            role: role.to_owned(),
            action: format!("perform `{transition}`"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn changes(before: Value, after: Value) -> Vec<(String, Value, Value)> {
        let mut changes = Vec::new();
        record_changes(&mut changes, "p", before, &after);
        changes
            .into_iter()
            .map(|c| (c.path, c.before, c.after))
            .collect()
    }

    #[test]
    fn only_what_changed_is_recorded_field_by_field_and_entry_by_entry() {
        // A field changed, one kept, one added, one removed.
        assert_eq!(
            changes(
                json!({"a": 1, "b": "same", "gone": true}),
                json!({"a": 2, "b": "same", "new": [1]})
            ),
            [
                ("p/a".into(), json!(1), json!(2)),
                ("p/new".into(), Value::Null, json!([1])),
                ("p/gone".into(), json!(true), Value::Null),
            ]
        );
        // Entries: one changed, one kept, then one more; or one less.
        let two = json!([{"x": 1}, {"y": 2}]);
        assert_eq!(
            changes(two.clone(), json!([{"x": 1}, {"y": 3}, {"z": 4}])),
            [
                ("p/1".into(), json!({"y": 2}), json!({"y": 3})),
                ("p/2".into(), Value::Null, json!({"z": 4})),
            ]
        );
        assert_eq!(
            changes(two, json!([{"x": 1}])),
            [("p/1".into(), json!({"y": 2}), Value::Null)]
        );
        // A first save, or a value of another kind: one change, whole.
        assert_eq!(
            changes(Value::Null, json!({"a": 1})),
            [("p".into(), Value::Null, json!({"a": 1}))]
        );
        assert!(changes(json!({"a": 1}), json!({"a": 1})).is_empty());
    }
}
