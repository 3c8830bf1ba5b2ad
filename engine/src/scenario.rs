//! Playing a definition's own test scenarios (`tests:`) against an in-memory store.

use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};

use crate::definition::Definition;
use crate::diagnostic::with_causes;
use crate::dossier::{Actor, Candidate, Command, FileRef, OutboxMail};
use crate::engine::{Engine, EngineError};
use crate::model::{FileEffect, RoleKind, TestCandidate, TestScenario, TestStep};
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
    play_scenarios(definition).0
}

/// Every mail of a definition as its scenarios render it: what an author
/// reads before publishing.
#[derive(Debug, Clone, Default)]
pub struct SampleMails {
    /// The first time each mail is queued in a scenario that passes, in the
    /// order of the scenarios: the scenario's name, then the mail.
    pub rendered: Vec<(String, OutboxMail)>,
    /// The mails about candidatures that no passing scenario queues.
    pub never: Vec<String>,
}

/// Plays every scenario of `definition` (each on a fresh in-memory store):
/// how each went, and the mails they queued, each mail once.
pub fn play_scenarios(definition: &Arc<Definition>) -> (Vec<ScenarioReport>, SampleMails) {
    let mut samples = SampleMails::default();
    let mut reports = Vec::new();
    for (index, scenario) in definition.file().tests.iter().enumerate() {
        let played = Player::play(definition, index, scenario);
        reports.push(ScenarioReport {
            name: scenario.name.clone(),
            line: definition.line_of(&format!("/tests/{index}")),
            failure: played.as_ref().err().cloned(),
        });
        for mail in played.unwrap_or_default() {
            if !samples.rendered.iter().any(|(_, m)| m.mail == mail.mail) {
                samples.rendered.push((scenario.name.clone(), mail));
            }
        }
    }
    samples.never = definition
        .file()
        .mails
        .iter()
        .filter(|m| m.about == crate::model::MailSubject::Candidature)
        .filter(|m| !samples.rendered.iter().any(|(_, r)| r.mail == m.id))
        .map(|m| m.id.clone())
        .collect();
    (reports, samples)
}

/// The name steps give the first candidate in `candidate:`.
const FIRST: &str = "candidate";

/// One candidate of a scenario: their account, dossier, language and the
/// candidature the steps act on.
struct Played {
    name: String,
    owner: String,
    dossier: String,
    language: String,
    candidature: Option<String>,
    /// The links mailed to third parties, by role and entry.
    links: std::collections::BTreeMap<(String, usize), String>,
}

struct Player<'a> {
    definition: &'a Definition,
    engine: Engine<MemoryStore>,
    candidates: Vec<Played>,
    /// The candidate the current step is about.
    current: usize,
    now: Timestamp,
    /// The mails the steps queued, in order.
    queued: Vec<OutboxMail>,
    /// Why places the current step freed were not passed on.
    not_passed_on: Vec<String>,
}

impl Player<'_> {
    fn play(
        definition: &Arc<Definition>,
        index: usize,
        scenario: &TestScenario,
    ) -> Result<Vec<OutboxMail>, ScenarioFailure> {
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
        let mut player = Player {
            definition,
            engine,
            candidates: Vec::new(),
            current: 0,
            now: noon(definition, start),
            queued: Vec::new(),
            not_passed_on: Vec::new(),
        };
        let first = TestCandidate {
            first_name: Some("Camille".into()),
            language: scenario.language.clone(),
            profile: scenario.profile.clone(),
        };
        let others = scenario
            .candidates
            .iter()
            .map(|(name, c)| (name.as_str(), c));
        for (name, candidate) in std::iter::once((FIRST, &first)).chain(others) {
            let pointer = if name == FIRST {
                format!("/tests/{index}")
            } else {
                format!(
                    "/tests/{index}/candidates/{}",
                    crate::yaml::escape_segment(name)
                )
            };
            player
                .add_candidate(name, candidate)
                .map_err(|e| at(pointer.clone(), with_causes(&e)))?;
            for (section, answers) in &candidate.profile {
                let at_section =
                    format!("{pointer}/profile/{}", crate::yaml::escape_segment(section));
                player
                    .save(section, answers)
                    .map_err(|e| at(at_section, format!("the answers were refused: {e}")))?;
            }
        }
        player.current = 0;
        for (number, step) in scenario.steps.iter().enumerate() {
            let pointer = format!("/tests/{index}/steps/{number}");
            player
                .step(step)
                .map_err(|reason| at(pointer.clone(), reason))?;
            player
                .waiting_lists_computed()
                .map_err(|reason| at(pointer, reason))?;
        }
        Ok(player.queued)
    }

    /// Fails when a place the step freed was not passed on to its waiting
    /// list for a reason (an empty list is none): the engine lets the
    /// step's command through and reports it beside, so the author learns
    /// it here.
    fn places_passed_on(&mut self) -> Result<(), String> {
        let reasons = std::mem::take(&mut self.not_passed_on);
        if reasons.is_empty() {
            return Ok(());
        }
        Err(format!(
            "the place freed was not passed on: {}",
            reasons.join("; ")
        ))
    }

    /// The mails `outcome` queued, those of a promotion it caused
    /// included; why a promotion was not made is kept for
    /// [`Player::places_passed_on`].
    fn mails_of(&mut self, outcome: crate::workflow::Outcome) -> Vec<OutboxMail> {
        let mut mails = Vec::new();
        for follow_up in &outcome.follow_ups {
            match follow_up {
                Ok(promoted) => mails.extend(promoted.mails.iter().cloned()),
                Err(error) => self.not_passed_on.push(with_causes(error.as_ref())),
            }
        }
        mails.extend(outcome.mails);
        mails
    }

    /// Fails when a waiting list's `among` or `rank` could not be computed
    /// for a candidate's dossier: the engine leaves the candidature off the
    /// list, or ranks it last, and goes on, so the author learns it here.
    fn waiting_lists_computed(&self) -> Result<(), String> {
        for played in &self.candidates {
            let found = self.engine.dossier(&played.dossier);
            let Some(dossier) = found.map_err(|e| with_causes(&e))? else {
                continue;
            };
            let failures = self
                .engine
                .waiting_list_failures(&dossier, self.now)
                .map_err(|e| with_causes(&e))?;
            if !failures.is_empty() {
                return Err(failures.join("; "));
            }
        }
        Ok(())
    }

    /// A new candidate with a dossier, who the next steps are about.
    fn add_candidate(&mut self, name: &str, given: &TestCandidate) -> Result<(), EngineError> {
        let first_name = given.first_name.clone().unwrap_or_else(|| {
            let mut letters = name.chars();
            letters
                .next()
                .map(|c| c.to_uppercase().chain(letters).collect())
                .unwrap_or_default()
        });
        let candidate = Candidate {
            last_name: "Martin".into(),
            first_name,
            email: format!("{name}@example.org"),
        };
        let owner = format!("scenario-{name}");
        let language = given
            .language
            .clone()
            .unwrap_or_else(|| self.definition.default_language().to_owned());
        let dossier = self
            .engine
            .create_dossier(&owner, candidate, &language, self.now)?;
        self.candidates.push(Played {
            name: name.to_owned(),
            owner,
            dossier: dossier.id,
            language,
            candidature: None,
            links: Default::default(),
        });
        self.current = self.candidates.len() - 1;
        Ok(())
    }

    /// Saves one profile section of the current candidate (an imported one
    /// as staff would); the refusal in the candidate's words otherwise.
    fn save(
        &mut self,
        section: &str,
        answers: &serde_json::Value,
    ) -> Result<Vec<OutboxMail>, String> {
        let imported = self
            .definition
            .file()
            .profile
            .iter()
            .any(|s| s.id == section && s.import.is_some());
        let role = if imported {
            self.staff_role()
        } else {
            self.definition.candidate_role().to_owned()
        };
        let command = Command::SaveSection {
            section: section.to_owned(),
            answers: answers.clone(),
        };
        self.perform(&role, command)
            .map_err(|e| describe(self.definition, &e, &self.who().language))
    }

    fn who(&self) -> &Played {
        &self.candidates[self.current]
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

    /// Performs `command` on the current candidate's dossier: the mails it
    /// queued, those of a promotion it caused included.
    fn perform(&mut self, role: &str, command: Command) -> Result<Vec<OutboxMail>, EngineError> {
        let kind = self.definition.role(role).map(|r| r.kind);
        let who = self.who();
        let id = if kind == Some(RoleKind::Candidate) {
            who.owner.as_str()
        } else {
            "scenario-staff"
        };
        let version = self.engine.dossier(&who.dossier)?.map_or(0, |d| d.version);
        let command_kind = command.clone();
        let outcome = self.engine.apply(
            &who.dossier,
            version,
            &Actor::new(role, id),
            command,
            self.now,
        )?;
        if let Command::Ask { role, .. } = &command_kind {
            for (entry, token) in &outcome.asked {
                let links = &mut self.candidates[self.current].links;
                links.insert((role.clone(), *entry), token.clone());
            }
        }
        Ok(self.mails_of(outcome))
    }

    /// The third party of `role` named at `entry` sends their piece through
    /// the last link mailed to them.
    fn send(&mut self, role: &str, entry: usize) -> Result<Vec<OutboxMail>, EngineError> {
        let key = (role.to_owned(), entry);
        let token = self.who().links.get(&key).cloned().unwrap_or_default();
        let piece = self
            .definition
            .role(role)
            .and_then(|r| r.provides.clone())
            .unwrap_or_default();
        let file = self.sample_file(&piece).unwrap_or(FileRef {
            name: "piece".into(),
            sha256: "0".repeat(64),
            size: 0,
            format: String::new(),
        });
        let outcome = self.engine.deliver(&token, file, self.now)?;
        Ok(self.mails_of(outcome))
    }

    fn step(&mut self, step: &TestStep) -> Result<(), String> {
        if let Some(name) = &step.candidate {
            self.current = self
                .candidates
                .iter()
                .position(|c| &c.name == name)
                .ok_or_else(|| format!("no candidate `{name}` in this scenario's `candidates:`"))?;
        }
        let mut mails: Vec<OutboxMail> = Vec::new();
        let mut refusal: Option<String> = None;
        for (section, answers) in &step.save {
            match self.save(section, answers) {
                Ok(queued) => mails.extend(queued),
                Err(reason) => refusal = Some(reason),
            }
        }
        if let Some(day) = &step.wait_until {
            let date = crate::units::parse_date(day)?;
            self.now = noon(self.definition, date);
            let handled = self.engine.run_due(self.now).map_err(|e| with_causes(&e))?;
            for (due, result) in handled {
                match result {
                    Ok(outcome) => mails.extend(self.mails_of(outcome)),
                    Err(error) => {
                        let words = describe(self.definition, &error, &self.who().language);
                        refusal = Some(format!("deadline `{}`: {words}", due.deadline))
                    }
                }
            }
        }
        let performed = match (&step.send, self.command(step)?) {
            (Some(third_party), _) => {
                Some((false, self.send(third_party, step.entry.unwrap_or(0))))
            }
            (None, Some(command)) => {
                let role = step
                    .role
                    .clone()
                    .unwrap_or_else(|| self.definition.candidate_role().to_owned());
                let applying = matches!(command, Command::Apply { .. });
                Some((applying, self.perform(&role, command)))
            }
            (None, None) => None,
        };
        if let Some((applying, result)) = performed {
            match result {
                Ok(queued) => {
                    mails.extend(queued);
                    if applying {
                        let dossier = self.engine.dossier(&self.who().dossier);
                        let last = dossier
                            .map_err(|e| with_causes(&e))?
                            .and_then(|d| d.candidatures.last().map(|c| c.id.clone()));
                        self.candidates[self.current].candidature = last;
                    }
                }
                Err(error) => {
                    refusal = Some(describe(self.definition, &error, &self.who().language))
                }
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
        // Before the expectations: a place not passed on would fail them
        // without saying why.
        self.places_passed_on()?;
        self.queued.extend(mails.iter().cloned());
        self.check(&expect, &mails)
    }

    fn command(&self, step: &TestStep) -> Result<Option<Command>, String> {
        if let Some(formation) = &step.apply {
            return Ok(Some(Command::Apply {
                formation: formation.clone(),
            }));
        }
        if let Some(answers) = &step.form {
            let candidature = self
                .who()
                .candidature
                .clone()
                .ok_or("no candidature yet: add a step `apply: <formation>` before")?;
            return Ok(Some(Command::SaveForm {
                candidature,
                answers: answers.clone(),
            }));
        }
        if let Some(role) = &step.ask {
            let candidature = self
                .who()
                .candidature
                .clone()
                .ok_or("no candidature yet: add a step `apply: <formation>` before")?;
            return Ok(Some(Command::Ask {
                candidature,
                role: role.clone(),
            }));
        }
        let Some(action) = &step.action else {
            return Ok(None);
        };
        let candidature = self
            .who()
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
            .dossier(&self.who().dossier)
            .map_err(|e| with_causes(&e))?
            .ok_or("the dossier disappeared")?;
        let candidature = self
            .who()
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
        for words in &expect.letter_contains {
            let found = mails
                .iter()
                .flat_map(|m| &m.letters)
                .any(|l| l.title.contains(words.as_str()) || l.text.contains(words.as_str()));
            if !found {
                return Err(format!("no letter issued by this step contains “{words}”"));
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

/// An error in words, as the candidate reading it would see it: the
/// definition's refusal in their language, a refused answer named by its
/// field's label.
fn describe(definition: &Definition, error: &EngineError, language: &str) -> String {
    match error {
        EngineError::Workflow(WorkflowError::GuardFailed {
            transition,
            message: Some(text),
        }) => format!("`{transition}` refused: {}", text.get(language)),
        EngineError::Workflow(WorkflowError::InvalidValue { field, problem }) => {
            let label = definition.field_label(field, language).unwrap_or(field);
            format!("{label} ({field}): {}", problem.message(language))
        }
        other => with_causes(other),
    }
}
