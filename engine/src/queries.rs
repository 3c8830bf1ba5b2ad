//! Questions pages ask about a dossier, answered by the engine so that no page
//! re-derives a rule of the workflow: where each section stands, and what an
//! actor may do on a candidature now.

use jiff::Timestamp;
use serde_json::{Map, Value};

use crate::answers::{check_entry, Problem};
use crate::context::{
    base_context, candidature_context_and_views, piece_views, pieces_base, Needs, PieceView,
};
use crate::definition::Definition;
use crate::dossier::{Actor, Candidature, Dossier, Request};
use crate::model::{FileEffect, RoleKind, Text, TransitionDef};
use crate::script::ScriptError;

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
) -> Result<Vec<SectionState>, ScriptError> {
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

/// What an actor may do on one candidature now, as the workflow would decide it.
///
/// It borrows its labels and ids from the definition: a page lists a
/// dozen actions or more, each copied before for nothing but its button.
#[derive(Debug, Clone, PartialEq)]
pub struct Actions<'d> {
    /// Transitions of the candidature this actor's role performs from its
    /// current status, each with whether its guard holds now.
    pub transitions: Vec<Action<'d>>,
    /// For each piece of the candidature, in the formation's order, the piece
    /// transitions this actor's role performs from the piece's status.
    pub pieces: Vec<PieceActions<'d>>,
    /// Required pieces not provided yet.
    pub missing_pieces: Vec<String>,
}

/// The actions on one piece.
#[derive(Debug, Clone, PartialEq)]
pub struct PieceActions<'d> {
    /// Piece id.
    pub piece: &'d str,
    /// Its piece transitions, each with whether its guard holds now.
    pub actions: Vec<Action<'d>>,
}

/// One transition (or piece transition) an actor's role performs from where
/// the candidature (or piece) stands.
#[derive(Debug, Clone, PartialEq)]
pub struct Action<'d> {
    /// Transition id.
    pub id: &'d str,
    /// The definition's label (the button).
    pub label: &'d Text,
    /// Whether performing it attaches a file (an upload).
    pub attaches_file: bool,
    /// Whether its guard holds now. A guard that reads the transition's input
    /// cannot be judged before the input is given: it counts as holding, and
    /// the command itself decides.
    pub allowed: bool,
    /// The definition's explanation when the guard does not hold.
    pub refusal: Option<&'d Text>,
}

impl<'d> Actions<'d> {
    /// The transition `id`, if the actor's role performs it from here.
    pub fn transition(&self, id: &str) -> Option<&Action<'d>> {
        self.transitions.iter().find(|a| a.id == id)
    }

    /// The actions on piece `piece`.
    pub fn piece(&self, piece: &str) -> &[Action<'d>] {
        self.pieces
            .iter()
            .find(|p| p.piece == piece)
            .map_or(&[], |p| p.actions.as_slice())
    }

    /// The piece transition that attaches a file to `piece`, if one is allowed now.
    pub fn upload(&self, piece: &str) -> Option<&Action<'d>> {
        self.piece(piece)
            .iter()
            .find(|a| a.attaches_file && a.allowed)
    }
}

/// What `actor` may do on `candidature` of `dossier` at `now`: the questions a
/// page asks before offering a button, answered by the rules `apply` enforces
/// (role, owner, status, `requires_not_concerned`, guard).
pub fn actions_for<'d>(
    definition: &'d Definition,
    dossier: &Dossier,
    candidature: &Candidature,
    actor: &Actor,
    now: Timestamp,
) -> Result<Actions<'d>, ScriptError> {
    let view = acting_view(definition, dossier, candidature, &actor.role, now)?;
    actions_in(definition, dossier, candidature, actor, &view.context)
}

/// What a page offering a role's actions on a candidature shows and judges
/// them on (see [`acting_view`]).
#[derive(Debug)]
pub struct ActingView<'a> {
    /// The candidature's pieces, in its formation's order.
    pub pieces: Vec<PieceView<'a>>,
    /// The part of the candidature's context (see
    /// [`crate::candidature_context`]) that the guards the role may judge
    /// read, with the candidature's `missing_pieces`, which
    /// [`actions_in`] reads.
    pub context: Value,
}

/// The pieces of `candidature` and the part of its context a page offering
/// `role`'s actions reads: the candidature with the ids of the pieces it
/// lacks, and what the guards `role` may judge on it read. A guard on the
/// candidature's status does not copy the dossier's profile, nor one on
/// its missing pieces each piece's value.
pub fn acting_view<'a>(
    definition: &'a Definition,
    dossier: &Dossier,
    candidature: &'a Candidature,
    role: &str,
    now: Timestamp,
) -> Result<ActingView<'a>, ScriptError> {
    let workflow = &definition.file().workflow;
    let piece_guards = workflow
        .piece_transitions
        .iter()
        .filter(|tr| tr.by.contains(role))
        .filter_map(|tr| tr.when.as_deref());
    let guards: Vec<&str> = transitions_from(definition, candidature, role)
        .filter_map(|tr| tr.when.as_deref())
        .chain(piece_guards)
        .collect();
    let needs = Needs::of(definition, &guards).with_pieces();
    let (context, pieces) =
        candidature_context_and_views(definition, dossier, candidature, now, &needs)?;
    Ok(ActingView { pieces, context })
}

/// [`actions_for`] with `candidature`'s context already made (by
/// [`acting_view`] or [`crate::candidature_context`]), for a page that
/// shows it too.
pub fn actions_in<'d>(
    definition: &'d Definition,
    dossier: &Dossier,
    candidature: &Candidature,
    actor: &Actor,
    context: &Value,
) -> Result<Actions<'d>, ScriptError> {
    let missing_pieces = context["candidature"]["missing_pieces"]
        .as_array()
        .map(|ids| {
            ids.iter()
                .filter_map(|id| id.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    // A candidate acts on their own dossier only; staff on any.
    let may_act = definition
        .role(&actor.role)
        .is_some_and(|role| role.kind != RoleKind::Candidate || actor.id == dossier.owner);
    if !may_act {
        return Ok(Actions {
            transitions: Vec::new(),
            pieces: Vec::new(),
            missing_pieces,
        });
    }
    Ok(Actions {
        transitions: transition_actions(definition, candidature, &actor.role, context)?,
        pieces: piece_actions(definition, candidature, &actor.role, context)?,
        missing_pieces,
    })
}

/// An action whose guard `holds` (or not, with the definition's refusal).
fn action<'d>(
    id: &'d str,
    label: &'d Text,
    attaches_file: bool,
    holds: bool,
    refusal: &'d Option<Text>,
) -> Action<'d> {
    Action {
        id,
        label,
        attaches_file,
        allowed: holds,
        refusal: if holds { None } else { refusal.as_ref() },
    }
}

/// The transitions `role` performs from where `candidature` stands, their
/// guards not judged: what [`Actions::transitions`] offers.
pub fn transitions_from<'d: 'a, 'a>(
    definition: &'d Definition,
    candidature: &'a Candidature,
    role: &'a str,
) -> impl Iterator<Item = &'d TransitionDef> + 'a {
    let state = candidature.state.as_str();
    definition
        .file()
        .workflow
        .transitions
        .iter()
        .filter(move |tr| tr.by.contains(role) && tr.from.contains(state))
}

/// The pieces `candidature` of `dossier` still lacks at `now`, as its
/// context's `missing_pieces` lists them, without making the rest of it.
pub fn missing_pieces(
    definition: &Definition,
    dossier: &Dossier,
    candidature: &Candidature,
    now: Timestamp,
) -> Result<Vec<String>, ScriptError> {
    let base = pieces_base(definition, dossier, candidature, now, &|_| false);
    let views = piece_views(definition, dossier, candidature, &base)?;
    Ok(views
        .iter()
        .filter(|view| view.is_missing())
        .map(|view| view.id.to_owned())
        .collect())
}

/// Whether `candidature` of `dossier` still lacks a piece at `now`: what
/// [`missing_pieces`] says when it is not empty, found without making
/// every piece's view (for a dashboard's next step).
pub fn lacks_a_piece(
    definition: &Definition,
    dossier: &Dossier,
    candidature: &Candidature,
    now: Timestamp,
) -> Result<bool, ScriptError> {
    crate::context::lacks_a_piece(definition, dossier, candidature, now)
}

/// The transitions `role` performs from the candidature's status.
fn transition_actions<'d>(
    definition: &'d Definition,
    candidature: &Candidature,
    role: &str,
    context: &Value,
) -> Result<Vec<Action<'d>>, ScriptError> {
    let mut actions = Vec::new();
    for transition in transitions_from(definition, candidature, role) {
        // A guard that reads the input cannot be judged before it is given.
        let holds = match &transition.when {
            Some(guard) if transition.input.is_empty() => {
                let no_input = Value::Object(Map::new());
                definition.eval_bool_with(guard, context, ("input", &no_input))?
            }
            _ => true,
        };
        let (id, label) = (&transition.id, &transition.label);
        actions.push(action(id, label, false, holds, &transition.refusal));
    }
    Ok(actions)
}

/// For each piece of the candidature, the piece transitions `role` performs
/// from the piece's status.
fn piece_actions<'d>(
    definition: &'d Definition,
    candidature: &Candidature,
    role: &str,
    context: &Value,
) -> Result<Vec<PieceActions<'d>>, ScriptError> {
    let formation = definition.formation(&candidature.formation);
    let mut pieces = Vec::new();
    // A guard that does not read `piece` holds or not for every piece alike:
    // judged once (a formation asks for a handful of pieces, each with the
    // same few transitions).
    let mut judged: Vec<(&str, bool)> = Vec::new();
    for piece_id in formation.map(|f| f.pieces.as_slice()).unwrap_or_default() {
        let (Some(piece), Some(state)) =
            (definition.piece(piece_id), candidature.pieces.get(piece_id))
        else {
            continue;
        };
        let piece_view = &context["candidature"]["pieces"][piece_id];
        let mut actions = Vec::new();
        for transition in definition
            .file()
            .workflow
            .piece_transitions
            .iter()
            .filter(|tr| {
                tr.by.contains(role)
                    && tr.from.contains(state.status.as_str())
                    && (!tr.requires_not_concerned || piece.not_concerned)
                    && !provided_otherwise(definition, &candidature.formation, piece_id, tr.file)
            })
        {
            let holds = match transition.when.as_deref() {
                None => true,
                Some(guard) if reads_piece(definition, guard) => {
                    definition.eval_bool_with(guard, context, ("piece", piece_view))?
                }
                Some(guard) => match judged.iter().find(|(known, _)| *known == guard) {
                    Some(&(_, holds)) => holds,
                    None => {
                        let holds = definition.eval_bool(guard, context)?;
                        judged.push((guard, holds));
                        holds
                    }
                },
            };
            let attaches = transition.file == FileEffect::Attach;
            let (id, label) = (&transition.id, &transition.label);
            actions.push(action(id, label, attaches, holds, &transition.refusal));
        }
        pieces.push(PieceActions {
            piece: piece_id,
            actions,
        });
    }
    Ok(pieces)
}

/// Whether `guard` reads `piece` (or was not compiled with the definition,
/// and may read anything).
fn reads_piece(definition: &Definition, guard: &str) -> bool {
    definition
        .reads(guard)
        .is_none_or(|mut reads| reads.any(|(root, _)| root == "piece"))
}

/// Where one third party's piece stands: a person the candidate names now in
/// the role's section, with what was asked of them and what they sent.
#[derive(Debug, Clone, PartialEq)]
pub struct Letter<'a> {
    /// The third-party role.
    pub role: &'a str,
    /// The piece they provide.
    pub piece: &'a str,
    /// Their entry in the naming section.
    pub entry: usize,
    /// Their name as named now.
    pub name: String,
    /// Their address as named now.
    pub email: String,
    /// The request made of this person at this address, if any.
    pub request: Option<&'a Request>,
}

impl Letter<'_> {
    /// Whether their piece has arrived.
    pub fn received(&self) -> bool {
        self.request.is_some_and(|r| r.letter.is_some())
    }

    /// Whether a link should be mailed: never asked, or asked and expired
    /// unanswered.
    pub fn to_ask(&self, now: Timestamp) -> bool {
        !self.email.is_empty()
            && self
                .request
                .is_none_or(|r| r.letter.is_none() && r.expires_at <= now)
    }
}

/// The third parties the candidate names now for `candidature`'s pieces, in
/// role then entry order. A request counts only while the entry still holds
/// the address it was mailed to: a changed referee is a new one.
pub fn letters<'a>(
    definition: &'a Definition,
    dossier: &Dossier,
    candidature: &'a Candidature,
) -> Vec<Letter<'a>> {
    let mut letters = Vec::new();
    for role in &definition.file().roles {
        let (Some(named), Some(piece)) = (&role.named_in, &role.provides) else {
            continue;
        };
        if role.kind != RoleKind::ThirdParty || !candidature.pieces.contains_key(piece) {
            continue;
        }
        let entries: Vec<&Value> = match dossier.profile.get(&named.section) {
            Some(Value::Array(entries)) => entries.iter().collect(),
            Some(entry @ Value::Object(_)) => vec![entry],
            _ => Vec::new(),
        };
        for (entry, answers) in entries.into_iter().enumerate() {
            let text = |field: &str| {
                answers
                    .get(field)
                    .and_then(Value::as_str)
                    .map(str::trim)
                    .unwrap_or_default()
                    .to_owned()
            };
            let (name, email) = (text(&named.name), text(&named.email));
            if name.is_empty() && email.is_empty() {
                continue;
            }
            let request = candidature
                .requests
                .iter()
                .rev()
                .find(|r| r.role == role.id && r.entry == entry && r.email == email);
            letters.push(Letter {
                role: &role.id,
                piece,
                entry,
                name,
                email,
                request,
            });
        }
    }
    letters
}

/// Whether a piece transition would attach a file to a piece that comes
/// otherwise: sent by a third party, or an online form's answers.
pub(crate) fn provided_otherwise(
    definition: &Definition,
    formation: &str,
    piece: &str,
    file: FileEffect,
) -> bool {
    file == FileEffect::Attach
        && (definition.provider_of(piece).is_some()
            || definition.online_form_for(formation, piece).is_some())
}
