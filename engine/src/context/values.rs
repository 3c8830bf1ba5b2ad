//! The values conditions, guards and mails read, built from a dossier: the
//! run-time side of [`super::shape`]. Names the dossier has no value for
//! are left out; the shape fills in those an expression or a mail reads.

use jiff::Timestamp;
use serde_json::{json, Map, Value};

use crate::definition::Definition;
use crate::dossier::{Candidature, Dossier};
use crate::script::ScriptError;

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
        "dossier": {"id": dossier.id, "active_candidatures": active},
    });
    if let Value::Object(map) = &mut value {
        // Copied as values, not serialized again as `json!` would.
        let profile = dossier.profile.iter().map(|(k, v)| (k.clone(), v.clone()));
        map.insert("profile".into(), Value::Object(profile.collect()));
    }
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

/// The contexts of a dossier's candidatures, each built the first time an
/// expression asks for it: a command's index (deadline conditions, waiting
/// lists' conditions and ranks) reads the same candidature several times.
pub(crate) struct CandidatureContexts<'a> {
    definition: &'a Definition,
    dossier: &'a Dossier,
    now: Timestamp,
    built: Vec<Option<Result<Value, ScriptError>>>,
}

impl<'a> CandidatureContexts<'a> {
    pub fn new(definition: &'a Definition, dossier: &'a Dossier, now: Timestamp) -> Self {
        Self {
            definition,
            dossier,
            now,
            built: Vec::new(),
        }
    }

    /// The context of `candidature`, the dossier's candidature at `index`.
    pub fn of(&mut self, index: usize, candidature: &Candidature) -> Result<&Value, ScriptError> {
        if self.built.len() <= index {
            self.built.resize_with(index + 1, || None);
        }
        let (definition, dossier, now) = (self.definition, self.dossier, self.now);
        self.built[index]
            .get_or_insert_with(|| candidature_context(definition, dossier, candidature, now))
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
    let letters = crate::queries::letters(definition, dossier, candidature);
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
        // A third party's piece is there when every person named has sent
        // theirs; an online form's, when its answers are complete.
        let form = definition.online_form_for(&candidature.formation, piece_id);
        let provided = match (definition.provider_of(piece_id), form) {
            (Some(_), _) => {
                let mut named = letters.iter().filter(|l| l.piece == piece_id).peekable();
                named.peek().is_some() && named.all(|l| l.received())
            }
            (None, Some(form)) => match &candidature.form {
                Some(answers) => {
                    crate::answers::check_entry(definition, &base, &form.fields, answers)?
                        .problems
                        .is_empty()
                }
                None => false,
            },
            (None, None) => status_def.is_some_and(|s| s.provided),
        };
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
        let mut fields = json!({
            "id": candidature.id,
            "state": candidature.state,
            "state_label": definition.state(&candidature.state).map_or("", |s| s.label.get(language)),
            "created_at": candidature.created_at.to_string(),
            "entered_state_at": candidature.entered_state_at.to_string(),
        });
        if let Value::Object(fields) = &mut fields {
            // Moved or copied as values: `json!` would serialize each again.
            fields.insert("data".into(), Value::Object(candidature.data.clone()));
            fields.insert("pieces".into(), Value::Object(pieces));
            fields.insert("missing_pieces".into(), Value::Array(missing));
            fields.insert("piece_list".into(), Value::Array(list));
        }
        map.insert("candidature".into(), fields);
    }
    Ok(value)
}
