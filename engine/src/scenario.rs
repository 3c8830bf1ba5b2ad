//! Playing a definition's own test scenarios (`tests:`) against an in-memory store.

use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};

use crate::definition::Definition;
use crate::diagnostic::with_causes;
use crate::dossier::{Actor, Candidate, Command, FileRef, OutboxMail};
use crate::engine::{Engine, EngineError};
use crate::model::{FileEffect, RoleKind, TestScenario, TestStep};
use crate::store::MemoryStore;
use crate::workflow::WorkflowError;

/// How one scenario went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioReport {
    /// The scenario's name.
    pub name: String,
    /// Line of the definition file where the scenario starts.
    pub line: usize,
    /// Why it failed, if it did.
    pub failure: Option<ScenarioFailure>,
}

/// The step that failed and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioFailure {
    /// Line of the definition file where the failing step is written.
    pub line: usize,
    /// What went wrong.
    pub reason: String,
}

/// Plays every scenario of `definition`, each on a fresh in-memory store.
pub fn run_scenarios(definition: &Arc<Definition>) -> Vec<ScenarioReport> {
    definition
        .file()
        .tests
        .iter()
        .enumerate()
        .map(|(index, scenario)| ScenarioReport {
            name: scenario.name.clone(),
            line: definition.line_of(&format!("/tests/{index}")),
            failure: Player::play(definition, index, scenario).err(),
        })
        .collect()
}

/// The account id the scenario's candidate acts with.
const OWNER: &str = "scenario-candidate";

struct Player<'a> {
    definition: &'a Definition,
    engine: Engine<MemoryStore>,
    dossier: String,
    candidature: Option<String>,
    now: Timestamp,
}

impl Player<'_> {
    fn play(
        definition: &Arc<Definition>,
        index: usize,
        scenario: &TestScenario,
    ) -> Result<(), ScenarioFailure> {
        let at = |pointer: String, reason: String| ScenarioFailure {
            line: definition.line_of(&pointer),
            reason,
        };
        let start = match &scenario.today {
            Some(day) => {
                crate::units::parse_date(day).map_err(|e| at(format!("/tests/{index}/today"), e))?
            }
            None => crate::units::parse_date(&definition.file().campaign.opens)
                .map_err(|e| at(format!("/tests/{index}"), e))?,
        };
        let engine = Engine::open_shared(Arc::clone(definition), MemoryStore::new())
            .map_err(|e| at(format!("/tests/{index}"), with_causes(&e)))?;
        let now = noon(definition, start);
        let candidate = Candidate {
            last_name: "Martin".into(),
            first_name: "Camille".into(),
            email: "camille.martin@example.org".into(),
        };
        let dossier = engine
            .create_dossier(OWNER, candidate, "fr", now)
            .map_err(|e| at(format!("/tests/{index}"), with_causes(&e)))?;
        let mut player = Player {
            definition,
            engine,
            dossier: dossier.id,
            candidature: None,
            now,
        };
        for (section, answers) in &scenario.profile {
            let pointer = format!(
                "/tests/{index}/profile/{}",
                crate::yaml::escape_segment(section)
            );
            let imported = definition
                .file()
                .profile
                .iter()
                .any(|s| &s.id == section && s.import.is_some());
            let role = if imported {
                player.staff_role()
            } else {
                definition.candidate_role().to_owned()
            };
            let command = Command::SaveSection {
                section: section.clone(),
                answers: answers.clone(),
            };
            player.perform(&role, command).map_err(|e| {
                at(
                    pointer,
                    format!("the answers were refused: {}", describe(&e)),
                )
            })?;
        }
        for (number, step) in scenario.steps.iter().enumerate() {
            player
                .step(step)
                .map_err(|reason| at(format!("/tests/{index}/steps/{number}"), reason))?;
        }
        Ok(())
    }

    /// A staff or system role for imports: the system role if declared.
    fn staff_role(&self) -> String {
        let roles = &self.definition.file().roles;
        roles
            .iter()
            .find(|r| r.kind == RoleKind::System)
            .or_else(|| roles.iter().find(|r| r.kind == RoleKind::Staff))
            .map_or_else(String::new, |r| r.id.clone())
    }

    fn perform(&self, role: &str, command: Command) -> Result<Vec<OutboxMail>, EngineError> {
        let kind = self.definition.role(role).map(|r| r.kind);
        let id = if kind == Some(RoleKind::Candidate) {
            OWNER
        } else {
            "scenario-staff"
        };
        let version = self.engine.dossier(&self.dossier)?.map_or(0, |d| d.version);
        let outcome = self.engine.apply(
            &self.dossier,
            version,
            &Actor::new(role, id),
            command,
            self.now,
        )?;
        Ok(outcome.mails)
    }

    fn step(&mut self, step: &TestStep) -> Result<(), String> {
        let mut mails: Vec<OutboxMail> = Vec::new();
        let mut refusal: Option<String> = None;
        if let Some(day) = &step.wait_until {
            let date = crate::units::parse_date(day)?;
            self.now = noon(self.definition, date);
            let handled = self.engine.run_due(self.now).map_err(|e| with_causes(&e))?;
            for (due, result) in handled {
                match result {
                    Ok(outcome) => mails.extend(outcome.mails),
                    Err(error) => {
                        refusal = Some(format!("deadline `{}`: {}", due.deadline, describe(&error)))
                    }
                }
            }
        }
        if let Some(command) = self.command(step)? {
            let role = step
                .role
                .clone()
                .unwrap_or_else(|| self.definition.candidate_role().to_owned());
            let applying = matches!(command, Command::Apply { .. });
            match self.perform(&role, command) {
                Ok(queued) => {
                    mails.extend(queued);
                    if applying {
                        self.candidature = self
                            .engine
                            .dossier(&self.dossier)
                            .map_err(|e| with_causes(&e))?
                            .and_then(|d| d.candidatures.last().map(|c| c.id.clone()));
                    }
                }
                Err(error) => refusal = Some(describe(&error)),
            }
        }
        let expect = step.expect.clone().unwrap_or_default();
        match (&expect.refused, &refusal) {
            (None, Some(reason)) => return Err(format!("refused: {reason}")),
            (Some(words), None) => {
                return Err(format!(
                    "expected a refusal mentioning “{words}”, but the step was accepted"
                ))
            }
            (Some(words), Some(reason))
                if !reason.to_lowercase().contains(&words.to_lowercase()) =>
            {
                return Err(format!("refused, but not for “{words}”: {reason}"))
            }
            _ => {}
        }
        self.check(&expect, &mails)
    }

    fn command(&self, step: &TestStep) -> Result<Option<Command>, String> {
        if let Some(formation) = &step.apply {
            return Ok(Some(Command::Apply {
                formation: formation.clone(),
            }));
        }
        let Some(action) = &step.action else {
            return Ok(None);
        };
        let candidature = self
            .candidature
            .clone()
            .ok_or("no candidature yet: add a step `apply: <formation>` before")?;
        if let Some(piece) = &step.piece {
            let transition = self
                .definition
                .piece_transition(action)
                .ok_or_else(|| format!("no piece transition `{action}`"))?;
            let file = match transition.file {
                FileEffect::Attach => self.sample_file(piece),
                _ => None,
            };
            return Ok(Some(Command::Piece {
                candidature,
                piece: piece.clone(),
                transition: action.clone(),
                file,
                comment: step.comment.clone(),
            }));
        }
        Ok(Some(Command::Transition {
            candidature,
            transition: action.clone(),
            input: step.input.clone().into_iter().collect(),
        }))
    }

    /// A small file of the piece's first accepted format.
    fn sample_file(&self, piece: &str) -> Option<FileRef> {
        let format = self.definition.piece(piece)?.accept.first()?;
        let format = format.name();
        Some(FileRef {
            name: format!("{piece}.{format}"),
            sha256: "0".repeat(64),
            size: 10_000,
            format: format.into(),
        })
    }

    fn check(&self, expect: &crate::model::TestExpect, mails: &[OutboxMail]) -> Result<(), String> {
        let dossier = self
            .engine
            .dossier(&self.dossier)
            .map_err(|e| with_causes(&e))?
            .ok_or("the dossier disappeared")?;
        let candidature = self
            .candidature
            .as_ref()
            .and_then(|id| dossier.candidatures.iter().find(|c| &c.id == id));
        if let Some(state) = &expect.state {
            let found = candidature.map(|c| c.state.as_str());
            if found != Some(state.as_str()) {
                return Err(format!(
                    "expected status `{state}`, found `{}`",
                    found.unwrap_or("(no candidature)")
                ));
            }
        }
        for (piece, status) in &expect.pieces {
            let found = candidature
                .and_then(|c| c.pieces.get(piece))
                .map(|p| p.status.as_str());
            if found != Some(status.as_str()) {
                return Err(format!(
                    "expected piece `{piece}` to be `{status}`, found `{}`",
                    found.unwrap_or("(not asked for)")
                ));
            }
        }
        if let Some(expected) = &expect.mails {
            let mut queued: Vec<&str> = mails.iter().map(|m| m.mail.as_str()).collect();
            let mut wanted: Vec<&str> = expected.iter().map(String::as_str).collect();
            queued.sort_unstable();
            wanted.sort_unstable();
            if queued != wanted {
                return Err(format!(
                    "expected mails [{}], queued [{}]",
                    wanted.join(", "),
                    queued.join(", ")
                ));
            }
        }
        if !(expect.complete.is_empty()
            && expect.incomplete.is_empty()
            && expect.hidden.is_empty()
            && expect.shown.is_empty())
        {
            let sections = crate::queries::profile_state(self.definition, &dossier, self.now)
                .map_err(|e| with_causes(&e))?;
            let section = |id: &str| {
                sections
                    .iter()
                    .find(|s| s.section == id)
                    .ok_or_else(|| format!("no section `{id}`"))
            };
            for id in &expect.complete {
                let state = section(id)?;
                if !state.complete {
                    return Err(format!(
                        "section `{id}` is incomplete: missing {}",
                        state.missing.join(", ")
                    ));
                }
            }
            for id in &expect.incomplete {
                if section(id)?.complete {
                    return Err(format!("section `{id}` is complete"));
                }
            }
            for (names, want_hidden) in [(&expect.hidden, true), (&expect.shown, false)] {
                for name in names {
                    let (id, field) = name
                        .split_once('.')
                        .ok_or_else(|| format!("write `section.field`, not `{name}`"))?;
                    let is_hidden = section(id)?.hidden.iter().any(|f| f == field);
                    if is_hidden != want_hidden {
                        let was = if is_hidden { "hidden" } else { "shown" };
                        return Err(format!("field `{name}` is {was}"));
                    }
                }
            }
        }
        for words in &expect.mail_contains {
            let found = mails
                .iter()
                .any(|m| m.subject.contains(words.as_str()) || m.text.contains(words.as_str()));
            if !found {
                return Err(format!("no mail queued by this step contains “{words}”"));
            }
        }
        Ok(())
    }
}

/// Midday of `date` in the definition's time zone: away from day boundaries.
fn noon(definition: &Definition, date: jiff::civil::Date) -> Timestamp {
    definition
        .start_of_day(date)
        .checked_add(SignedDuration::from_hours(12))
        .unwrap_or(Timestamp::MAX)
}

/// An error in words, with the definition's own refusal texts in every language.
fn describe(error: &EngineError) -> String {
    match error {
        EngineError::Workflow(WorkflowError::GuardFailed {
            transition,
            message: Some(text),
        }) => {
            let texts: Vec<&str> = text.variants().into_iter().map(|(_, t)| t).collect();
            format!("`{transition}` refused: {}", texts.join(" / "))
        }
        EngineError::Workflow(WorkflowError::InvalidValue { field, problem }) => {
            let texts: Vec<String> = ["fr", "en"].map(|l| problem.message(l)).into();
            format!("{field} {problem} ({})", texts.join(" / "))
        }
        other => with_causes(other),
    }
}
