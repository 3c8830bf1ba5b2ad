//! The commands that change a dossier: saving a section, applying to a
//! formation, a transition, a piece transition.

use serde_json::{json, Map, Value};

use super::{allowed, not_found, record_changes, FileRefusal, FreedPlace, Step, WorkflowError};
use crate::answers::{
    check_answer, check_entry, is_blank, reads_context, Problem, DEFAULT_MAX_ENTRIES,
};
use crate::context::{base_context, Needs};
use crate::definition::Definition;
use crate::dossier::{Candidature, Dossier, FileRef, PieceState, SentCopy};
use crate::model::{
    CommentRule, DeadlineDef, FieldDef, FileEffect, FormMode, PieceDef, RoleKind, Text,
};
use jiff::Timestamp;

impl Step<'_> {
    pub(super) fn save_section(
        &mut self,
        role: &str,
        kind: RoleKind,
        section_id: &str,
        answers: &Value,
    ) -> Result<(), WorkflowError> {
        let section = self
            .definition
            .file()
            .profile
            .iter()
            .find(|s| s.id == section_id)
            .ok_or_else(|| not_found("section", section_id))?;
        // Imported sections are written by staff or the system, never by the candidate.
        if section.import.is_some() == (kind == RoleKind::Candidate) {
            return Err(WorkflowError::Forbidden {
                role: role.to_owned(),
                action: format!("write section `{section_id}`"),
            });
        }
        let entries: Vec<&Value> = match (
            answers,
            section.repeat.is_some() || section.import.is_some(),
        ) {
            (Value::Array(items), true) => items.iter().collect(),
            (Value::Object(_), false) => vec![answers],
            _ => {
                return Err(WorkflowError::InvalidValue {
                    field: section_id.to_owned(),
                    problem: Problem::NotEntries,
                })
            }
        };
        if let Some(repeat) = &section.repeat {
            let max = repeat.max.unwrap_or(DEFAULT_MAX_ENTRIES);
            if entries.len() > max as usize {
                return Err(WorkflowError::InvalidValue {
                    field: section_id.to_owned(),
                    problem: Problem::TooManyEntries(max),
                });
            }
        }
        for entry in entries {
            let Value::Object(fields) = entry else {
                return Err(WorkflowError::InvalidValue {
                    field: section_id.to_owned(),
                    problem: Problem::NotEntries,
                });
            };
            if let Some(id) = fields
                .keys()
                .find(|id| !section.fields.iter().any(|f| &f.id == *id))
            {
                return Err(not_found("field", id));
            }
            // The same rules as the forms, but an answer may still be missing:
            // completeness is `profile_state`'s business, not a save's.
            let base = base_or_nothing(self.definition, &self.after, self.now, &section.fields);
            let check = check_entry(self.definition, &base, &section.fields, fields)?;
            if let Some((field, problem)) = check
                .problems
                .into_iter()
                .find(|(_, p)| *p != Problem::Required)
            {
                return Err(WorkflowError::InvalidValue { field, problem });
            }
        }
        let profile = &mut self.after.profile;
        let before = profile.insert(section_id.to_owned(), answers.clone());
        let path = format!("profile/{section_id}");
        record_changes(
            &mut self.changes,
            &path,
            before.unwrap_or(Value::Null),
            answers,
        );
        Ok(())
    }

    /// The candidature's complementary form, answered online: checked like a
    /// section (an answer may still be missing; the piece it stands for
    /// counts once it is complete), while the candidature is in its first status.
    pub(super) fn save_form(
        &mut self,
        role: &str,
        kind: RoleKind,
        candidature_id: &str,
        answers: &Map<String, Value>,
    ) -> Result<(), WorkflowError> {
        let definition = self.definition;
        let index = self.candidature_index(candidature_id)?;
        let candidature = &self.after.candidatures[index];
        let form = definition
            .form_of(&candidature.formation)
            .filter(|f| f.mode == FormMode::Online)
            .ok_or_else(|| not_found("complementary form", &candidature.formation))?;
        if kind != RoleKind::Candidate {
            return Err(WorkflowError::Forbidden {
                role: role.to_owned(),
                action: format!("answer `{}`", form.id),
            });
        }
        if definition.initial_state() != candidature.state {
            return Err(WorkflowError::Forbidden {
                role: role.to_owned(),
                action: format!("change `{}` once the candidature is sent", form.id),
            });
        }
        if let Some(id) = answers
            .keys()
            .find(|id| !form.fields.iter().any(|f| &f.id == *id))
        {
            return Err(not_found("field", id));
        }
        let base = base_or_nothing(definition, &self.after, self.now, &form.fields);
        let check = check_entry(definition, &base, &form.fields, answers)?;
        if let Some((field, problem)) = check
            .problems
            .into_iter()
            .find(|(_, p)| *p != Problem::Required)
        {
            return Err(WorkflowError::InvalidValue { field, problem });
        }
        let slot = &mut self.after.candidatures[index].form;
        let before = slot
            .replace(answers.clone())
            .map_or(Value::Null, Value::Object);
        let after = Value::Object(answers.clone());
        let path = format!("candidatures/{candidature_id}/form");
        record_changes(&mut self.changes, &path, before, &after);
        Ok(())
    }

    pub(super) fn apply_to(
        &mut self,
        role: &str,
        kind: RoleKind,
        formation_id: &str,
    ) -> Result<(), WorkflowError> {
        let definition = self.definition;
        if kind != RoleKind::Candidate {
            return Err(WorkflowError::Forbidden {
                role: role.to_owned(),
                action: "apply on behalf of a candidate".into(),
            });
        }
        let formation = definition
            .formation(formation_id)
            .ok_or_else(|| not_found("formation", formation_id))?;
        if !definition.campaign_is_open(self.now) {
            return Err(WorkflowError::CampaignClosed);
        }
        let is_active = |c: &Candidature| !definition.state(&c.state).is_some_and(|s| s.is_final);
        if self
            .after
            .candidatures
            .iter()
            .any(|c| c.formation == formation_id && is_active(c))
        {
            return Err(WorkflowError::AlreadyApplied {
                formation: formation_id.to_owned(),
            });
        }
        if let Some(max) = definition.file().campaign.max_candidatures {
            let active = self
                .after
                .candidatures
                .iter()
                .filter(|c| is_active(c))
                .count();
            if active >= max as usize {
                return Err(WorkflowError::TooManyCandidatures { max });
            }
        }
        let id = format!("c{}", self.after.candidatures.len() + 1);
        let pieces = formation
            .pieces
            .iter()
            .map(|piece| {
                (
                    piece.clone(),
                    PieceState {
                        status: definition.initial_piece_status().to_owned(),
                        file: None,
                        comment: None,
                    },
                )
            })
            .collect();
        let candidature = Candidature {
            id: id.clone(),
            formation: formation_id.to_owned(),
            state: definition.initial_state().to_owned(),
            created_at: self.now,
            entered_state_at: self.now,
            data: Map::new(),
            pieces,
            deadlines_done: Default::default(),
            sent: None,
            note: None,
            requests: Vec::new(),
            mailed_requests: 0,
            form: None,
            letters: Vec::new(),
        };
        let summary = json!({"formation": formation_id, "state": candidature.state});
        self.after.candidatures.push(candidature);
        self.change(format!("candidatures/{id}"), Value::Null, summary);
        let index = self.after.candidatures.len() - 1;
        let effects = definition.file().workflow.on_apply.mails.clone();
        self.queue_mails(index, &effects, &json!({"id": "", "label": ""}), None)
    }

    pub(super) fn transition(
        &mut self,
        role: &str,
        candidature_id: &str,
        transition_id: &str,
        input: &Map<String, Value>,
        deadline: Option<&DeadlineDef>,
    ) -> Result<(), WorkflowError> {
        let definition = self.definition;
        let index = self.candidature_index(candidature_id)?;
        let transition = definition
            .transition(transition_id)
            .ok_or_else(|| not_found("transition", transition_id))?;
        allowed(&transition.by, role, transition_id)?;
        let state = self.after.candidatures[index].state.clone();
        if !transition.from.contains(state.as_str()) {
            return Err(WorkflowError::WrongState {
                transition: transition_id.to_owned(),
                state,
            });
        }
        for key in input.keys() {
            if !transition.input.iter().any(|f| &f.id == key) {
                return Err(not_found("input", key));
            }
        }
        let mut given = Map::new();
        for field in &transition.input {
            let value = input.get(&field.id).cloned().unwrap_or(Value::Null);
            if is_blank(&value) && field.required {
                return Err(WorkflowError::InvalidValue {
                    field: field.id.clone(),
                    problem: Problem::Required,
                });
            }
            check_answer(definition, field, &value).map_err(|problem| {
                WorkflowError::InvalidValue {
                    field: field.id.clone(),
                    problem,
                }
            })?;
            given.insert(field.id.clone(), value);
        }
        let mut data = given;
        // A transition with no guard and nothing to set (a withdrawal,
        // most of a deadline's actions) reads no context: none is built.
        if transition.when.is_some() || !transition.set.is_empty() {
            let expressions: Vec<&str> = (transition.when.iter())
                .chain(transition.set.values())
                .map(String::as_str)
                .collect();
            let needs = Needs::of(definition, &expressions);
            let mut context = self.context_for(index, &needs)?;
            if let Value::Object(map) = &mut context {
                map.insert("input".into(), Value::Object(data.clone()));
            }
            if let Some(guard) = &transition.when {
                if !definition.eval_bool(guard, &context)? {
                    return Err(WorkflowError::GuardFailed {
                        transition: transition_id.to_owned(),
                        message: transition.refusal.clone(),
                    });
                }
            }
            for (key, expression) in &transition.set {
                data.insert(key.clone(), definition.eval_value(expression, &context)?);
            }
        }
        let now = self.now;
        let candidature = &mut self.after.candidatures[index];
        let mut changes = Vec::new();
        for (key, value) in data {
            let before = candidature
                .data
                .insert(key.clone(), value.clone())
                .unwrap_or(Value::Null);
            changes.push((
                format!("candidatures/{candidature_id}/data/{key}"),
                before,
                value,
            ));
        }
        for effect in &transition.pieces {
            for (piece, state) in candidature.pieces.iter_mut() {
                if effect.from.contains(state.status.as_str()) {
                    changes.push((
                        format!("candidatures/{candidature_id}/pieces/{piece}"),
                        Value::String(state.status.clone()),
                        Value::String(effect.to.clone()),
                    ));
                    state.status = effect.to.clone();
                }
            }
        }
        changes.push((
            format!("candidatures/{candidature_id}/state"),
            Value::String(candidature.state.clone()),
            Value::String(transition.to.clone()),
        ));
        candidature.state = transition.to.clone();
        candidature.entered_state_at = now;
        candidature.deadlines_done.clear();
        if transition.snapshot {
            changes.push((
                format!("candidatures/{candidature_id}/sent"),
                candidature
                    .sent
                    .as_ref()
                    .map_or(Value::Null, |s| json!(s.at)),
                json!(now),
            ));
            candidature.sent = Some(SentCopy {
                at: now,
                profile: self.after.profile.clone(),
                pieces: candidature.pieces.clone(),
            });
        }
        for (path, before, after) in changes {
            self.change(path, before, after);
        }
        if let Some(rule) = &transition.promote {
            self.freed = Some(FreedPlace {
                formation: self.after.candidatures[index].formation.clone(),
                dossier: self.after.id.clone(),
                rule: rule.clone(),
            });
        }
        let language = self.after.language.clone();
        let about = json!({"id": transition.id, "label": transition.label.get(&language)});
        let effects = transition.mails.clone();
        self.queue_mails(index, &effects, &about, deadline)
    }

    pub(super) fn piece(
        &mut self,
        role: &str,
        candidature_id: &str,
        piece_id: &str,
        transition_id: &str,
        file: Option<&FileRef>,
        comment: Option<&str>,
    ) -> Result<(), WorkflowError> {
        let definition = self.definition;
        let index = self.candidature_index(candidature_id)?;
        let piece = definition
            .piece(piece_id)
            .filter(|_| self.after.candidatures[index].pieces.contains_key(piece_id))
            .ok_or_else(|| not_found("piece", piece_id))?;
        let transition = definition
            .piece_transition(transition_id)
            .ok_or_else(|| not_found("piece transition", transition_id))?;
        allowed(&transition.by, role, transition_id)?;
        let formation = self.after.candidatures[index].formation.clone();
        if crate::queries::provided_otherwise(definition, &formation, piece_id, transition.file) {
            return Err(WorkflowError::Forbidden {
                role: role.to_owned(),
                action: format!(
                    "upload `{piece_id}`, which a third party or an online form provides"
                ),
            });
        }
        let current = self.after.candidatures[index].pieces[piece_id].clone();
        if !transition.from.contains(current.status.as_str()) {
            return Err(WorkflowError::WrongState {
                transition: transition_id.to_owned(),
                state: current.status,
            });
        }
        if transition.requires_not_concerned && !piece.not_concerned {
            return Err(WorkflowError::GuardFailed {
                transition: transition_id.to_owned(),
                message: Some(Text::Plain(
                    "this piece cannot be declared not concerned".into(),
                )),
            });
        }
        if let Some(guard) = &transition.when {
            let context = self.context_of(index)?;
            let piece_view = &context["candidature"]["pieces"][piece_id];
            if !definition.eval_bool_with(guard, &context, ("piece", piece_view))? {
                return Err(WorkflowError::GuardFailed {
                    transition: transition_id.to_owned(),
                    message: transition.refusal.clone(),
                });
            }
        }
        let file = match transition.file {
            FileEffect::Keep => current.file.clone(),
            FileEffect::Remove => None,
            FileEffect::Attach => {
                let file = file.ok_or(WorkflowError::FileRefused(FileRefusal::Missing))?;
                Some(fitting(definition, piece, file)?.clone())
            }
        };
        let comment = comment.map(str::trim).filter(|c| !c.is_empty());
        super::within_limit("comment", comment)?;
        let comment = match transition.comment {
            CommentRule::Required if comment.is_none() => {
                return Err(WorkflowError::InvalidValue {
                    field: "comment".into(),
                    problem: Problem::Required,
                })
            }
            CommentRule::None => None,
            _ => comment.map(str::to_owned),
        };
        let next = PieceState {
            status: transition.to.clone(),
            file,
            comment,
        };
        let path = format!("candidatures/{candidature_id}/pieces/{piece_id}");
        let before = serde_json::to_value(&current).unwrap_or(Value::Null);
        let after = serde_json::to_value(&next).unwrap_or(Value::Null);
        let candidature = &mut self.after.candidatures[index];
        // Staff decide on what was sent; the candidate's own edits wait for
        // the next sending.
        let by_staff = definition
            .role(role)
            .is_some_and(|r| r.kind != RoleKind::Candidate);
        if let Some(sent) = candidature.sent.as_mut().filter(|_| by_staff) {
            sent.pieces.insert(piece_id.to_owned(), next.clone());
        }
        candidature.pieces.insert(piece_id.to_owned(), next);
        self.change(path, before, after);
        Ok(())
    }
}

/// `file` if `piece` accepts its format and size.
pub(super) fn fitting<'f>(
    definition: &Definition,
    piece: &PieceDef,
    file: &'f FileRef,
) -> Result<&'f FileRef, WorkflowError> {
    if !piece
        .accept
        .iter()
        .any(|format| format.name() == file.format)
    {
        return Err(WorkflowError::FileRefused(FileRefusal::Format(
            file.format.clone(),
        )));
    }
    let max = definition.max_size(&piece.id).unwrap_or(u64::MAX);
    if file.size > max {
        return Err(WorkflowError::FileRefused(FileRefusal::TooLarge {
            size: file.size,
            max,
        }));
    }
    Ok(file)
}

/// What checking `fields` reads of the dossier: its base context, or nothing
/// for fields without conditions (most sections), which need none.
fn base_or_nothing(
    definition: &Definition,
    dossier: &Dossier,
    now: Timestamp,
    fields: &[FieldDef],
) -> Value {
    if reads_context(fields) {
        base_context(definition, dossier, now)
    } else {
        Value::Null
    }
}
