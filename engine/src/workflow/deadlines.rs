//! Deadlines: when each falls due, and handling one that has.

use jiff::Timestamp;
use serde_json::{json, Map, Value};

use super::{not_found, Step, WorkflowError};
use crate::context::{candidature_context_for, CandidatureContexts, Needs};
use crate::definition::Definition;
use crate::dossier::{Candidature, Dossier};
use crate::model::{DeadlineDef, MailEffect};
use crate::script::ScriptError;

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

/// Every deadline of `dossier` with the time it falls due, whether past or not.
pub fn deadlines(definition: &Definition, dossier: &Dossier, now: Timestamp) -> Vec<Due> {
    let mut contexts = index_contexts(definition, dossier, now);
    deadlines_with(definition, dossier, &mut contexts)
}

/// The candidatures' contexts of `dossier` as its index reads them (see
/// [`index_expressions`]), each built when first asked for.
pub(crate) fn index_contexts<'a>(
    definition: &'a Definition,
    dossier: &'a Dossier,
    now: Timestamp,
) -> CandidatureContexts<'a> {
    let expressions = index_expressions(definition);
    CandidatureContexts::reading(definition, dossier, now, expressions)
}

/// The expressions a dossier's index evaluates: its deadlines' conditions,
/// its waiting lists' conditions and ranks.
fn index_expressions(definition: &Definition) -> Vec<&str> {
    let deadlines = definition.file().workflow.deadlines.iter();
    let conditions = deadlines.filter_map(|deadline| deadline.when.as_deref());
    let rules = definition.promotion_rules().map(|(rule, _)| rule);
    let ranked = rules.flat_map(|rule| [rule.among.as_str(), rule.rank.as_str()]);
    conditions.chain(ranked).collect()
}

/// [`deadlines`], reading the candidatures' contexts from `contexts`.
pub(crate) fn deadlines_with(
    definition: &Definition,
    dossier: &Dossier,
    contexts: &mut CandidatureContexts,
) -> Vec<Due> {
    let mut out = Vec::new();
    for (index, candidature) in dossier.candidatures.iter().enumerate() {
        for deadline in &definition.file().workflow.deadlines {
            let holds = |when: &str| {
                let context = contexts.of(index, candidature)?;
                definition.eval_bool(when, context)
            };
            out.extend(pending(definition, dossier, candidature, deadline, holds));
        }
    }
    out
}

/// `deadline` of `candidature` with the time it falls due, if it is
/// pending: the candidature is in one of its states, has not handled it
/// since, and meets its condition (`holds` evaluates it).
fn pending(
    definition: &Definition,
    dossier: &Dossier,
    candidature: &Candidature,
    deadline: &DeadlineDef,
    holds: impl FnOnce(&str) -> Result<bool, ScriptError>,
) -> Option<Due> {
    if !deadline.states.contains(candidature.state.as_str())
        || candidature.deadlines_done.contains(&deadline.id)
    {
        return None;
    }
    if let Some(when) = &deadline.when {
        if !matches!(holds(when), Ok(true)) {
            return None;
        }
    }
    Some(Due {
        dossier: dossier.id.clone(),
        candidature: candidature.id.clone(),
        deadline: deadline.id.clone(),
        at: due_time(definition, deadline, candidature)?,
    })
}

/// When the deadline itself passes (before any `before:` offset).
pub(super) fn deadline_time(
    definition: &Definition,
    deadline: &DeadlineDef,
    candidature: &Candidature,
) -> Option<Timestamp> {
    Some(match (&deadline.at, &deadline.after) {
        (Some(_), _) if deadline.held_date().is_some() => {
            // A date the candidature holds (an interview's); none yet, no deadline.
            let held = candidature.data.get(deadline.held_date()?)?.as_str()?;
            definition.end_of_day(crate::units::parse_date(held).ok()?)
        }
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

impl Step<'_> {
    pub(super) fn deadline(
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
        let (before, now) = (self.before, self.now);
        let candidature = before.candidatures.iter().find(|c| c.id == candidature_id);
        let is_due = candidature.is_some_and(|candidature| {
            // Only what the condition reads is made of the context.
            let holds = |when: &str| {
                let needs = Needs::of(definition, &[when]);
                let context =
                    candidature_context_for(definition, before, candidature, now, &needs)?;
                definition.eval_bool(when, &context)
            };
            pending(definition, before, candidature, deadline, holds)
                .is_some_and(|due| due.at <= now)
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
}
