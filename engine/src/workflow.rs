//! Applying a command to a dossier: authorisation, guards, effects.
//!
//! This is pure computation over a [`Definition`] and a [`Dossier`]: the result is
//! the next dossier, the event describing the change and the mails to queue. The
//! caller never decides an effect; storing the result is the engine's job.

use jiff::Timestamp;
use serde_json::{json, Map, Value};

use crate::answers::{check_answer, check_entry, is_blank, Problem};
use crate::context;
use crate::definition::Definition;
use crate::dossier::{
    Actor, Candidate, Candidature, Change, Command, Dossier, Event, FileRef, OutboxMail,
    PieceState, SentCopy,
};
use crate::model::{
    CommentRule, DeadlineDef, FieldDef, FileEffect, MailEffect, OneOrMany, PromoteDef, RoleKind,
    Text,
};
use crate::script::ScriptError;

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
    #[error("{field}: {message}")]
    InvalidValue {
        /// Field (or input) id.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// A file does not fit the piece.
    #[error("file refused: {0}")]
    FileRefused(String),
    /// The deadline is not due, or was already handled.
    #[error("deadline `{0}` is not due")]
    NotDue(String),
    /// A condition of the definition failed to evaluate.
    #[error(transparent)]
    Script(#[from] ScriptError),
    /// A mail template failed to render.
    #[error("mail `{mail}` could not be rendered: {message}")]
    Template {
        /// Mail id.
        mail: String,
        /// minijinja's message.
        message: String,
    },
}

/// The result of a command: the next dossier, its event and the mails to queue.
#[derive(Debug, Clone, PartialEq)]
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
    pub follow_ups: Vec<Result<Outcome, String>>,
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

/// A deadline of one candidature and when it falls due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    /// Dossier id.
    pub dossier: String,
    /// Candidature id.
    pub candidature: String,
    /// Deadline id.
    pub deadline: String,
    /// When it falls due.
    pub at: Timestamp,
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
pub fn apply(
    definition: &Definition,
    dossier: &Dossier,
    actor: &Actor,
    command: &Command,
    now: Timestamp,
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
    let mut step = Step {
        definition,
        before: dossier,
        after: dossier.clone(),
        now,
        changes: Vec::new(),
        mails: Vec::new(),
        freed: None,
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
    }
    let Step {
        mut after,
        changes,
        mails,
        freed,
        ..
    } = step;
    after.version = dossier.version + 1;
    let event = Event {
        dossier: dossier.id.clone(),
        version: after.version,
        at: now,
        actor: actor.clone(),
        command: Some(command.clone()),
        changes,
    };
    Ok(Outcome {
        dossier: after,
        event,
        mails,
        freed,
        follow_ups: Vec::new(),
    })
}

/// Every deadline of `dossier` with the time it falls due, whether past or not.
pub fn deadlines(definition: &Definition, dossier: &Dossier, now: Timestamp) -> Vec<Due> {
    let mut out = Vec::new();
    for candidature in &dossier.candidatures {
        for deadline in &definition.file().workflow.deadlines {
            if !deadline.states.ids().contains(&candidature.state.as_str())
                || candidature.deadlines_done.contains(&deadline.id)
            {
                continue;
            }
            if let Some(when) = &deadline.when {
                let holds = candidature_context(definition, dossier, candidature, now)
                    .and_then(|ctx| Ok(definition.eval_bool(when, &ctx)?));
                if !matches!(holds, Ok(true)) {
                    continue;
                }
            }
            if let Some(at) = due_time(definition, deadline, candidature) {
                out.push(Due {
                    dossier: dossier.id.clone(),
                    candidature: candidature.id.clone(),
                    deadline: deadline.id.clone(),
                    at,
                });
            }
        }
    }
    out
}

/// When the deadline itself passes (before any `before:` offset).
fn deadline_time(
    definition: &Definition,
    deadline: &DeadlineDef,
    candidature: &Candidature,
) -> Option<Timestamp> {
    Some(match (&deadline.at, &deadline.after) {
        (Some(at), _) if at == "campaign.closes" => definition.campaign_closes_at(),
        (Some(at), _) if at == "campaign.opens" => definition.campaign_opens_at(),
        (Some(at), _) => definition.end_of_day(crate::units::parse_date(at).ok()?),
        (None, Some(after)) => {
            definition.add(candidature.entered_state_at, definition.duration(after)?, 1)
        }
        (None, None) => return None,
    })
}

/// When the deadline's action is due: the deadline, less its `before:` offset.
fn due_time(
    definition: &Definition,
    deadline: &DeadlineDef,
    candidature: &Candidature,
) -> Option<Timestamp> {
    let base = deadline_time(definition, deadline, candidature)?;
    Some(match &deadline.before {
        Some(before) => definition.add(base, definition.duration(before)?, -1),
        None => base,
    })
}

/// Where one profile section stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SectionState {
    /// Section id.
    pub section: String,
    /// Whether the section applies (its `when` holds).
    pub applies: bool,
    /// Whether every required field that applies is filled (and enough entries).
    pub complete: bool,
    /// Required fields left empty (`field`, or `field[entry]` for a repeatable section).
    pub missing: Vec<String>,
    /// Fields that do not apply, so are hidden and not required (first entry's, for a list).
    pub hidden: Vec<String>,
}

/// Where each profile section of `dossier` stands, in the definition's order.
pub fn profile_state(
    definition: &Definition,
    dossier: &Dossier,
    now: Timestamp,
) -> Result<Vec<SectionState>, WorkflowError> {
    let base = base_context(definition, dossier, now);
    let mut states = Vec::new();
    for section in &definition.file().profile {
        let applies = match &section.when {
            Some(when) => definition.eval_bool(when, &base)?,
            None => true,
        };
        let answers = dossier.profile.get(&section.id);
        let entries: Vec<Value> = match answers {
            Some(Value::Array(items)) => items.clone(),
            Some(Value::Object(map)) => vec![Value::Object(map.clone())],
            _ if section.repeat.is_some() || section.import.is_some() => Vec::new(),
            _ => vec![Value::Object(Map::new())],
        };
        let mut missing = Vec::new();
        let mut hidden = Vec::new();
        for (number, entry) in entries.iter().enumerate() {
            let empty = Map::new();
            let entry = entry.as_object().unwrap_or(&empty);
            let check = check_entry(definition, &base, &section.fields, entry)?;
            if number == 0 {
                hidden = check.hidden;
            }
            // Imported data is what it is: the candidate cannot complete it.
            if section.import.is_some() {
                continue;
            }
            for (field, problem) in check.problems {
                if problem == Problem::Required {
                    missing.push(if section.repeat.is_some() {
                        format!("{field}[{number}]")
                    } else {
                        field
                    });
                }
            }
        }
        let enough = section
            .repeat
            .as_ref()
            .and_then(|r| r.min)
            .is_none_or(|min| entries.len() >= min as usize);
        states.push(SectionState {
            section: section.id.clone(),
            applies,
            complete: !applies || (missing.is_empty() && enough),
            missing,
            hidden,
        });
    }
    Ok(states)
}

/// What expressions about the dossier as a whole see.
pub fn base_context(definition: &Definition, dossier: &Dossier, now: Timestamp) -> Value {
    let file = definition.file();
    let active = dossier
        .candidatures
        .iter()
        .filter(|c| !definition.state(&c.state).is_some_and(|s| s.is_final))
        .count();
    let language = dossier.language.as_str();
    let mut value = json!({
        "today": definition.day_of(now),
        "now": now.to_string(),
        "institution": {"id": file.id, "title": file.title.get(language)},
        "campaign": {
            "opens": file.campaign.opens,
            "closes": file.campaign.closes,
            "is_open": definition.campaign_is_open(now),
        },
        "candidate": dossier.candidate,
        "profile": dossier.profile,
        "dossier": {"id": dossier.id, "active_candidatures": active},
    });
    context::base_shape(file).fill(&mut value);
    value
}

fn with_formation(
    definition: &Definition,
    mut value: Value,
    formation: &str,
    language: &str,
) -> Value {
    if let (Value::Object(map), Some(def)) = (&mut value, definition.formation(formation)) {
        map.insert(
            "formation".into(),
            json!({
                "id": def.id,
                "title": def.title.get(language),
                "composante": def.composante,
                "keywords": def.keywords,
            }),
        );
    }
    value
}

/// What guards, deadline conditions and mails about a candidature see.
pub fn candidature_context(
    definition: &Definition,
    dossier: &Dossier,
    candidature: &Candidature,
    now: Timestamp,
) -> Result<Value, WorkflowError> {
    let language = dossier.language.as_str();
    let base = with_formation(
        definition,
        base_context(definition, dossier, now),
        &candidature.formation,
        language,
    );
    let formation = definition.formation(&candidature.formation);
    let mut pieces = Map::new();
    let mut list = Vec::new();
    let mut missing = Vec::new();
    for piece_id in formation.map(|f| f.pieces.as_slice()).unwrap_or_default() {
        let Some(piece) = definition.piece(piece_id) else {
            continue;
        };
        let required = match &piece.required_when {
            Some(when) => definition.eval_bool(when, &base)?,
            None => true,
        };
        let state = candidature.pieces.get(piece_id);
        let status = state.map_or(definition.initial_piece_status(), |s| s.status.as_str());
        let status_def = definition.piece_status(status);
        let provided = status_def.is_some_and(|s| s.provided);
        if required && !provided {
            missing.push(Value::String(piece_id.clone()));
        }
        let entry = json!({
            "id": piece_id,
            "label": piece.label.get(language),
            "status": status,
            "status_label": status_def.map_or("", |s| s.label.get(language)),
            "required": required,
            "provided": provided,
            "not_concerned_allowed": piece.not_concerned,
            "comment": state.and_then(|s| s.comment.clone()),
            "file_name": state.and_then(|s| s.file.as_ref().map(|f| f.name.clone())),
        });
        pieces.insert(piece_id.clone(), entry.clone());
        list.push(entry);
    }
    let mut value = base;
    if let Value::Object(map) = &mut value {
        map.insert(
            "candidature".into(),
            json!({
                "id": candidature.id,
                "state": candidature.state,
                "state_label": definition.state(&candidature.state).map_or("", |s| s.label.get(language)),
                "created_at": candidature.created_at.to_string(),
                "entered_state_at": candidature.entered_state_at.to_string(),
                "data": candidature.data,
                "pieces": pieces,
                "missing_pieces": missing,
                "piece_list": list,
            }),
        );
    }
    context::candidature_shape(definition.file()).fill(&mut value);
    Ok(value)
}

struct Step<'a> {
    definition: &'a Definition,
    before: &'a Dossier,
    after: Dossier,
    now: Timestamp,
    changes: Vec<Change>,
    mails: Vec<OutboxMail>,
    freed: Option<FreedPlace>,
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
    }

    fn save_section(
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
                    message: "expected the answers of the section's fields".into(),
                })
            }
        };
        if let Some(max) = section.repeat.as_ref().and_then(|r| r.max) {
            if entries.len() > max as usize {
                return Err(WorkflowError::InvalidValue {
                    field: section_id.to_owned(),
                    message: format!("at most {max} entries"),
                });
            }
        }
        for entry in entries {
            let Value::Object(fields) = entry else {
                return Err(WorkflowError::InvalidValue {
                    field: section_id.to_owned(),
                    message: "each entry must give field answers".into(),
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
            let base = base_context(self.definition, &self.after, self.now);
            let check = check_entry(self.definition, &base, &section.fields, fields)?;
            if let Some((field, problem)) = check
                .problems
                .into_iter()
                .find(|(_, p)| *p != Problem::Required)
            {
                return Err(WorkflowError::InvalidValue {
                    field,
                    message: problem.message(&self.after.language),
                });
            }
        }
        let before = self
            .after
            .profile
            .get(section_id)
            .cloned()
            .unwrap_or(Value::Null);
        self.after
            .profile
            .insert(section_id.to_owned(), answers.clone());
        self.change(format!("profile/{section_id}"), before, answers.clone());
        Ok(())
    }

    fn apply_to(
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
        };
        let summary = json!({"formation": formation_id, "state": candidature.state});
        self.after.candidatures.push(candidature);
        self.change(format!("candidatures/{id}"), Value::Null, summary);
        let index = self.after.candidatures.len() - 1;
        let effects = definition.file().workflow.on_apply.mails.clone();
        self.queue_mails(index, &effects, &json!({"id": "", "label": ""}), None)
    }

    fn transition(
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
        if !transition.from.ids().contains(&state.as_str()) {
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
        let mut context = self.context_of(index)?;
        let mut given = Map::new();
        for field in &transition.input {
            let value = input.get(&field.id).cloned().unwrap_or(Value::Null);
            if is_blank(&value) && field.required {
                return Err(WorkflowError::InvalidValue {
                    field: field.id.clone(),
                    message: "this value is required".into(),
                });
            }
            check_value(definition, field, &value, &self.after.language)?;
            given.insert(field.id.clone(), value);
        }
        if let Value::Object(map) = &mut context {
            map.insert("input".into(), Value::Object(given.clone()));
        }
        if let Some(guard) = &transition.when {
            if !definition.eval_bool(guard, &context)? {
                return Err(WorkflowError::GuardFailed {
                    transition: transition_id.to_owned(),
                    message: transition.refusal.clone(),
                });
            }
        }
        let mut data = given;
        for (key, expression) in &transition.set {
            data.insert(key.clone(), definition.eval_value(expression, &context)?);
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
                if effect.from.ids().contains(&state.status.as_str()) {
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

    fn piece(
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
        let current = self.after.candidatures[index].pieces[piece_id].clone();
        if !transition.from.ids().contains(&current.status.as_str()) {
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
            let mut context = self.context_of(index)?;
            let piece_view = context["candidature"]["pieces"][piece_id].clone();
            if let Value::Object(map) = &mut context {
                map.insert("piece".into(), piece_view);
            }
            if !definition.eval_bool(guard, &context)? {
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
                let file =
                    file.ok_or_else(|| WorkflowError::FileRefused("no file was given".into()))?;
                let accepted = piece
                    .accept
                    .iter()
                    .any(|format| format_name(*format) == file.format);
                if !accepted {
                    return Err(WorkflowError::FileRefused(format!(
                        "format `{}` is not accepted for this piece",
                        file.format
                    )));
                }
                let max = definition.max_size(piece_id).unwrap_or(u64::MAX);
                if file.size > max {
                    return Err(WorkflowError::FileRefused(format!(
                        "the file is {} bytes, more than the {max} allowed",
                        file.size
                    )));
                }
                Some(file.clone())
            }
        };
        let comment = comment.map(str::trim).filter(|c| !c.is_empty());
        let comment = match transition.comment {
            CommentRule::Required if comment.is_none() => {
                return Err(WorkflowError::InvalidValue {
                    field: "comment".into(),
                    message: "a comment is required".into(),
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

    fn deadline(
        &mut self,
        role: &str,
        candidature_id: &str,
        deadline_id: &str,
    ) -> Result<(), WorkflowError> {
        let definition = self.definition;
        let deadline = definition
            .file()
            .workflow
            .deadlines
            .iter()
            .find(|d| d.id == deadline_id)
            .ok_or_else(|| not_found("deadline", deadline_id))?;
        let index = self.candidature_index(candidature_id)?;
        let is_due = deadlines(definition, self.before, self.now)
            .iter()
            .any(|due| {
                due.candidature == candidature_id
                    && due.deadline == deadline_id
                    && due.at <= self.now
            });
        if !is_due {
            return Err(WorkflowError::NotDue(deadline_id.to_owned()));
        }
        if let Some(mail) = &deadline.mail {
            let effect = MailEffect {
                mail: mail.clone(),
                when: None,
            };
            let about = json!({"id": "", "label": ""});
            self.queue_mails(index, &[effect], &about, Some(deadline))?;
        }
        match &deadline.action {
            Some(action) => {
                self.transition(role, candidature_id, action, &Map::new(), Some(deadline))?
            }
            None => {
                self.after.candidatures[index]
                    .deadlines_done
                    .insert(deadline_id.to_owned());
                self.change(
                    format!("candidatures/{candidature_id}/deadlines/{deadline_id}"),
                    Value::Null,
                    Value::String("done".into()),
                );
            }
        }
        Ok(())
    }

    fn queue_mails(
        &mut self,
        index: usize,
        effects: &[MailEffect],
        transition: &Value,
        deadline: Option<&DeadlineDef>,
    ) -> Result<(), WorkflowError> {
        if effects.is_empty() {
            return Ok(());
        }
        let definition = self.definition;
        let mut context = self.context_of(index)?;
        let language = self.after.language.clone();
        let deadline_view = match deadline {
            Some(d) => {
                // The day the deadline itself falls on, not when a reminder fires.
                let due = deadline_time(definition, d, &self.after.candidatures[index])
                    .map(|end| definition.day_of(end - jiff::SignedDuration::from_secs(1)));
                json!({"id": d.id, "label": d.label.get(&language), "due": due})
            }
            None => json!({"id": "", "label": "", "due": ""}),
        };
        if let Value::Object(map) = &mut context {
            map.insert("transition".into(), transition.clone());
            map.insert("deadline".into(), deadline_view);
            let input = self.after.candidatures[index].data.clone();
            map.insert("input".into(), Value::Object(input));
        }
        let formation = definition.formation(&self.after.candidatures[index].formation);
        for effect in effects {
            if let Some(when) = &effect.when {
                if !definition.eval_bool(when, &context)? {
                    continue;
                }
            }
            let Some(mail) = definition.mail(&effect.mail) else {
                continue;
            };
            let render = |part: &str| {
                definition
                    .render_mail_part(&mail.id, part, &language, &context)
                    .map_err(|error| WorkflowError::Template {
                        mail: mail.id.clone(),
                        message: error.to_string(),
                    })
            };
            let subject = render("subject")?.unwrap_or_default();
            let text = render("text")?.unwrap_or_default();
            let html = render("html")?;
            let recipients = mail
                .to
                .as_ref()
                .map_or_else(|| vec!["candidate"], |to| to.ids());
            let mut to = Vec::new();
            for recipient in recipients {
                let address = if recipient.contains('@') {
                    Some(recipient.to_owned())
                } else if recipient == "candidate" {
                    Some(self.after.candidate.email.clone())
                } else if recipient == "formation" {
                    formation.and_then(|f| f.contact.clone())
                } else {
                    match definition.role(recipient) {
                        Some(role) if role.kind == RoleKind::Candidate => {
                            Some(self.after.candidate.email.clone())
                        }
                        Some(role) => role.address.clone(),
                        None => None,
                    }
                };
                if let Some(address) = address {
                    if !to.contains(&address) {
                        to.push(address);
                    }
                }
            }
            if to.is_empty() {
                continue;
            }
            let id = format!(
                "{}-{:08}-{:02}",
                self.after.id,
                self.before.version + 1,
                self.mails.len()
            );
            self.mails.push(OutboxMail {
                id,
                dossier: Some(self.after.id.clone()),
                mail: mail.id.clone(),
                to,
                subject: subject.trim().to_owned(),
                text,
                html,
                queued_at: self.now,
            });
        }
        Ok(())
    }
}

/// Whether `role` is among the roles (`by:`) allowed to perform `transition`.
fn allowed(by: &OneOrMany, role: &str, transition: &str) -> Result<(), WorkflowError> {
    if by.ids().contains(&role) {
        Ok(())
    } else {
        Err(WorkflowError::Forbidden {
            role: role.to_owned(),
            action: format!("perform `{transition}`"),
        })
    }
}

/// The short name of a file format, as in `FileRef::format`.
pub(crate) fn format_name(format: crate::model::FileFormat) -> &'static str {
    match format {
        crate::model::FileFormat::Pdf => "pdf",
        crate::model::FileFormat::Jpg => "jpg",
        crate::model::FileFormat::Png => "png",
    }
}

/// Checks the kind of one answer (requiredness is a matter of completeness, not of saving).
/// The message is in the candidate's `language`.
fn check_value(
    definition: &Definition,
    field: &FieldDef,
    value: &Value,
    language: &str,
) -> Result<(), WorkflowError> {
    check_answer(definition, field, value).map_err(|problem| WorkflowError::InvalidValue {
        field: field.id.clone(),
        message: problem.message(language),
    })
}
