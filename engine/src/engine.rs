//! The engine: a definition, a store, and the commands between them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use jiff::Timestamp;

use crate::definition::{Definition, DefinitionError};
use crate::dossier::{
    Actor, Answers, Candidate, Command, Dossier, Event, FileRef, OutboxMail, Request,
};
use crate::model::PromoteDef;
use crate::queries::{profile_state, SectionState};
use crate::script::ScriptError;
use crate::store::{Commit, EventParts, Indexed, Store, StoreError, Waiting};
use crate::workflow::{self, Due, Outcome, ThirdPartyRefusal, WorkflowError};

/// Why the engine could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The command is not acceptable; nothing was written.
    #[error(transparent)]
    Workflow(#[from] WorkflowError),
    /// The store failed or refused (e.g. a concurrent change); nothing was written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// No dossier with this id.
    #[error("no dossier `{0}`")]
    UnknownDossier(String),
    /// The definition version a dossier is pinned to cannot be loaded.
    #[error("definition version {hash} of dossier {dossier} is unavailable: {reason}")]
    MissingDefinition {
        /// Dossier id.
        dossier: String,
        /// Content hash.
        hash: String,
        /// Why.
        reason: String,
    },
}

impl EngineError {
    /// Whether the command failed because the dossier changed meanwhile.
    pub fn is_conflict(&self) -> bool {
        matches!(self, EngineError::Store(StoreError::Conflict { .. }))
    }
}

/// What the indexes hold of `dossier` under its `definition`: list rows,
/// deadlines by due time, places on waiting lists, files held.
fn indexed(
    definition: &Definition,
    dossier: &Dossier,
    now: Timestamp,
) -> Result<Indexed, WorkflowError> {
    let mut contexts = workflow::index_contexts(definition, dossier, now);
    let (waiting, _failed) = waiting_places(definition, dossier, &mut contexts)?;
    Ok(Indexed {
        rows: crate::board::rows(definition, dossier, now)?,
        deadlines: workflow::deadlines_with(definition, dossier, &mut contexts),
        waiting,
        on_version: (dossier.id.clone(), dossier.definition.clone()),
        files: dossier.files_held().collect(),
    })
}

/// The places `dossier`'s candidatures take on the waiting lists of
/// `definition`'s promotion rules, and what could not be computed, in
/// words: an `among` that fails on a candidature's values leaves it off
/// that list, a `rank` that fails ranks it last. An expression wrong for
/// some candidatures must not refuse every command on them, theirs and
/// the staff's, as a deadline's `when` does not; `guichet test` shows the
/// failures ([`Engine::waiting_list_failures`]).
fn waiting_places(
    definition: &Definition,
    dossier: &Dossier,
    contexts: &mut crate::context::CandidatureContexts,
) -> Result<(Vec<Waiting>, Vec<String>), WorkflowError> {
    let (mut waiting, mut failed) = (Vec::new(), Vec::new());
    for (rule, key) in definition.promotion_rules() {
        let from = definition.transition(&rule.action).map(|t| &t.from);
        for (index, candidature) in dossier.candidatures.iter().enumerate() {
            // Only a candidature the rule's transition can start from.
            if !from.is_some_and(|from| from.contains(&candidature.state)) {
                continue;
            }
            let context = contexts.of(index, candidature)?;
            let (rank, failure) = place_on_list(definition, rule, context);
            if let Some((what, error)) = failure {
                failed.push(format!(
                    "the waiting list of `{}`: its `{what}` failed for candidature `{}` ({}): {}",
                    rule.action,
                    candidature.id,
                    candidature.formation,
                    crate::with_causes(&error)
                ));
            }
            let Some(rank) = rank else {
                continue;
            };
            waiting.push(Waiting {
                rule: key.to_owned(),
                formation: candidature.formation.clone(),
                rank,
                dossier: dossier.id.clone(),
                candidature: candidature.id.clone(),
            });
        }
    }
    Ok((waiting, failed))
}

/// The rank on `rule`'s waiting list of the candidature `context` is of,
/// or `None` when it is not on it; and, if one failed, which of the two
/// expressions it was and its error: a failed `among` leaves the
/// candidature off the list, a failed `rank` ranks it last.
fn place_on_list(
    definition: &Definition,
    rule: &PromoteDef,
    context: &serde_json::Value,
) -> (Option<f64>, Option<(&'static str, crate::ScriptError)>) {
    match definition.eval_bool(&rule.among, context) {
        Ok(true) => {}
        Ok(false) => return (None, None),
        Err(error) => return (None, Some(("among", error))),
    }
    match definition.eval_value(&rule.rank, context) {
        Ok(rank) => (Some(rank.as_f64().unwrap_or(f64::INFINITY)), None),
        Err(error) => (Some(f64::INFINITY), Some(("rank", error))),
    }
}

/// The distinct promotion rules of `definition` (two transitions sharing
/// one rule, as two ways of withdrawing may, share its waiting list).
pub fn promotion_rules(definition: &Definition) -> Vec<&PromoteDef> {
    definition.promotion_rules().map(|(rule, _)| rule).collect()
}

fn into_backend(error: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::Backend(Box::new(error))
}

/// What an [`Outcome`] holds besides what its [`Commit`] writes.
struct Unwritten {
    freed: Option<workflow::FreedPlace>,
    follow_ups: Vec<Result<Outcome, Arc<EngineError>>>,
    asked: Vec<(usize, String)>,
}

impl Unwritten {
    /// The outcome again, once its commit is written.
    fn joined(self, commit: Commit) -> Outcome {
        Outcome {
            dossier: commit.dossier,
            event: commit.event,
            mails: commit.mails,
            freed: self.freed,
            follow_ups: self.follow_ups,
            asked: self.asked,
        }
    }
}

/// A deadline handled by [`Engine::run_due`], with what came of it.
pub type Handled = (Due, Result<Outcome, EngineError>);

/// What [`Engine::migrate`] did with a dossier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Migrated {
    /// It now follows the current definition.
    Moved,
    /// It already did.
    AlreadyCurrent,
    /// It stays where it was, for these reasons.
    Refused(Vec<String>),
}

/// A workflow engine over one definition and one store.
///
/// The engine is `Send + Sync`: share it behind an `Arc` between threads.
pub struct Engine<S: Store> {
    /// The version new dossiers start under; replaced by [`Engine::publish`].
    definition: RwLock<Arc<Definition>>,
    store: S,
    /// Earlier definition versions that dossiers are pinned to, compiled on first use.
    pinned: Mutex<HashMap<String, Arc<Definition>>>,
    /// What a third party's token is appended to in the link mailed to them.
    link_prefix: String,
    /// The deadlines due whose handling was refused, and when to try again
    /// (see [`Engine::run_due`]).
    refused: Mutex<HashMap<DueKey, Refused>>,
    /// Where the profiles of dossiers read lately stand, by dossier id (see
    /// [`Engine::profile_state`]).
    profile_states: quick_cache::sync::Cache<String, Arc<KnownProfileState>>,
}

/// Where a dossier's profile sections stood at one version of the dossier,
/// under one version of the definition.
struct KnownProfileState {
    version: u64,
    definition: String,
    sections: Arc<[SectionState]>,
}

/// How many dossiers' profile states [`Engine::profile_state`] keeps: the
/// candidates at work in the same hour (a deadline's last hour brings a
/// thousand), at about a kilobyte each for six sections.
const PROFILE_STATES_KEPT: usize = 4_096;

/// A deadline of one candidature: its dossier's, candidature's and own id.
type DueKey = (String, String, String);

/// A deadline's handling refused: at which version of its dossier, and
/// when it is tried again if that version stays.
#[derive(Debug, Clone, Copy)]
struct Refused {
    version: u64,
    retry_at: Timestamp,
}

/// How long a deadline whose handling was refused waits before it is tried
/// again on a dossier nothing changed: what refused it (its transition's
/// guard, a condition) may read the time. A change to the dossier has it
/// tried at the next pass.
pub const REFUSED_DEADLINE_RETRY: jiff::SignedDuration = jiff::SignedDuration::from_hours(1);

impl<S: Store> Engine<S> {
    /// Opens an engine: new dossiers start under `definition`, which the store keeps.
    pub fn open(definition: Definition, store: S) -> Result<Self, EngineError> {
        Self::open_shared(Arc::new(definition), store)
    }

    /// Like [`Engine::open`], for a definition shared with other engines.
    pub fn open_shared(definition: Arc<Definition>, store: S) -> Result<Self, EngineError> {
        store.save_definition(definition.hash(), definition.bundle())?;
        // A changed file at start-up is a publication too: the list of
        // versions says when each began.
        let latest = store.publications()?.pop().map(|p| p.hash);
        if latest.as_deref() != Some(definition.hash()) {
            store.record_publication(&crate::store::Publication {
                hash: definition.hash().to_owned(),
                at: Timestamp::now(),
                by: "start-up".into(),
            })?;
        }
        let engine = Self {
            definition: RwLock::new(definition),
            store,
            pinned: Mutex::new(HashMap::new()),
            link_prefix: String::new(),
            refused: Mutex::new(HashMap::new()),
            profile_states: quick_cache::sync::Cache::new(PROFILE_STATES_KEPT),
        };
        let now = Timestamp::now();
        engine.store.build_index(&|dossier| {
            let definition = engine.definition_of(dossier).map_err(into_backend)?;
            indexed(&definition, dossier, now).map_err(into_backend)
        })?;
        Ok(engine)
    }

    /// Links mailed to third parties are `prefix` followed by their token
    /// (the server gives the address of its third-party page; without one,
    /// links are the bare token).
    pub fn with_link_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.link_prefix = prefix.into();
        self
    }

    /// What `definition`'s command wrote to `dossier`, with what the indexes
    /// hold of it.
    fn commit(
        definition: &Definition,
        expected_version: u64,
        outcome: Outcome,
        now: Timestamp,
    ) -> Result<(Commit, Unwritten), EngineError> {
        let Outcome {
            dossier,
            event,
            mails,
            freed,
            follow_ups,
            asked,
        } = outcome;
        let indexed = indexed(definition, &dossier, now)?;
        let commit = Commit {
            expected_version,
            dossier,
            event,
            mails,
            indexed,
        };
        let unwritten = Unwritten {
            freed,
            follow_ups,
            asked,
        };
        Ok((commit, unwritten))
    }

    /// What the store's indexes hold of `dossier` (list rows, deadlines by
    /// due time, places on waiting lists), under its definition: for a
    /// [`Commit`] written by other means than a command (an import, a
    /// benchmark's seeding).
    pub fn indexed(&self, dossier: &Dossier, now: Timestamp) -> Result<Indexed, EngineError> {
        let definition = self.definition_of(dossier)?;
        Ok(indexed(&definition, dossier, now)?)
    }

    /// What could not be computed of `dossier`'s places on waiting lists
    /// (see [`waiting_places`]), in words: empty when every `among` and
    /// `rank` could be.
    pub fn waiting_list_failures(
        &self,
        dossier: &Dossier,
        now: Timestamp,
    ) -> Result<Vec<String>, EngineError> {
        let definition = self.definition_of(dossier)?;
        let mut contexts = workflow::index_contexts(&definition, dossier, now);
        Ok(waiting_places(&definition, dossier, &mut contexts)?.1)
    }

    /// The current definition: the version new dossiers start under.
    pub fn definition(&self) -> Arc<Definition> {
        let current = self
            .definition
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Arc::clone(&current)
    }

    /// Makes `definition` the current one, published by `by`: new dossiers
    /// start under it, the dossiers in progress stay on theirs. The store
    /// keeps it first, so a version in use is never missing.
    pub fn publish(
        &self,
        definition: Arc<Definition>,
        by: &str,
        now: Timestamp,
    ) -> Result<(), EngineError> {
        self.store
            .save_definition(definition.hash(), definition.bundle())?;
        self.store.record_publication(&crate::store::Publication {
            hash: definition.hash().to_owned(),
            at: now,
            by: by.to_owned(),
        })?;
        let previous = {
            let mut current = self
                .definition
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            std::mem::replace(&mut *current, definition)
        };
        self.pinned
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(previous.hash().to_owned(), previous);
        Ok(())
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The versions made current, oldest first.
    pub fn publications(&self) -> Result<Vec<crate::store::Publication>, EngineError> {
        Ok(self.store.publications()?)
    }

    /// The version of hash `hash`, if the store keeps it: compiled on first
    /// use, then kept.
    pub fn version(&self, hash: &str) -> Result<Option<Arc<Definition>>, EngineError> {
        let current = self.definition();
        if current.hash() == hash {
            return Ok(Some(current));
        }
        let pinned = |found: Option<&Arc<Definition>>| found.map(Arc::clone);
        let mut kept = self
            .pinned
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(found) = pinned(kept.get(hash)) {
            return Ok(Some(found));
        }
        let Some(bundle) = self.store.definition(hash)? else {
            return Ok(None);
        };
        let compiled = Definition::from_bundle(bundle).map_err(|error| {
            let reason = match error {
                DefinitionError::Invalid(d) => d.render(),
                other => crate::diagnostic::with_causes(&other),
            };
            EngineError::MissingDefinition {
                dossier: String::new(),
                hash: hash.to_owned(),
                reason,
            }
        })?;
        let compiled = Arc::new(compiled);
        kept.insert(hash.to_owned(), Arc::clone(&compiled));
        Ok(Some(compiled))
    }

    /// Where each profile section of `dossier` stands under `definition`
    /// (the dossier's own version): [`profile_state`], kept for the
    /// dossier's version when the profile's conditions do not read the
    /// clock. A candidate's dashboard shows it at every visit, and
    /// evaluating every section's conditions was most of that page's time,
    /// while a dossier changes only when its candidate saves.
    pub fn profile_state(
        &self,
        definition: &Definition,
        dossier: &Dossier,
        now: Timestamp,
    ) -> Result<Arc<[SectionState]>, ScriptError> {
        if definition.profile_reads_the_clock() {
            return Ok(profile_state(definition, dossier, now)?.into());
        }
        let known = self.profile_states.get(dossier.id.as_str());
        if let Some(known) = known.filter(|known| {
            known.version == dossier.version && known.definition == definition.hash()
        }) {
            return Ok(Arc::clone(&known.sections));
        }
        let sections: Arc<[SectionState]> = profile_state(definition, dossier, now)?.into();
        let known = KnownProfileState {
            version: dossier.version,
            definition: definition.hash().to_owned(),
            sections: Arc::clone(&sections),
        };
        self.profile_states
            .insert(dossier.id.clone(), Arc::new(known));
        Ok(sections)
    }

    /// The definition version `dossier` is pinned to.
    pub fn definition_of(&self, dossier: &Dossier) -> Result<Arc<Definition>, EngineError> {
        let named = |error: EngineError| match error {
            EngineError::MissingDefinition { hash, reason, .. } => EngineError::MissingDefinition {
                dossier: dossier.id.clone(),
                hash,
                reason,
            },
            other => other,
        };
        self.version(&dossier.definition)
            .map_err(named)?
            .ok_or_else(|| EngineError::MissingDefinition {
                dossier: dossier.id.clone(),
                hash: dossier.definition.clone(),
                reason: "not in the store".into(),
            })
    }

    /// Creates a dossier owned by account `owner`.
    pub fn create_dossier(
        &self,
        owner: &str,
        candidate: Candidate,
        language: &str,
        now: Timestamp,
    ) -> Result<Dossier, EngineError> {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let (dossier, event) =
            workflow::new_dossier(&self.definition(), id, owner, candidate, language, now);
        // A new dossier has no candidature yet: no list row, only its version.
        let indexed = Indexed {
            on_version: (dossier.id.clone(), dossier.definition.clone()),
            ..Indexed::default()
        };
        self.store.commit(&[Commit {
            expected_version: 0,
            dossier: dossier.clone(),
            event,
            mails: Vec::new(),
            indexed,
        }])?;
        Ok(dossier)
    }

    /// Applies `command` by `actor` to the dossier, decided on `expected_version`.
    ///
    /// Returns once the new state, its event and its mails are durably stored.
    /// A stale `expected_version` fails with a conflict ([`EngineError::is_conflict`]).
    pub fn apply(
        &self,
        dossier_id: &str,
        expected_version: u64,
        actor: &Actor,
        command: Command,
        now: Timestamp,
    ) -> Result<Outcome, EngineError> {
        let dossier = self
            .store
            .dossier(dossier_id)?
            .ok_or_else(|| EngineError::UnknownDossier(dossier_id.to_owned()))?;
        if dossier.version != expected_version {
            return Err(StoreError::Conflict {
                dossier: dossier_id.to_owned(),
                expected: expected_version,
                found: dossier.version,
            }
            .into());
        }
        let outcome = self.apply_written(&dossier, actor, command, now)?;
        self.store.make_durable()?;
        Ok(outcome)
    }

    /// [`Engine::apply`] to `dossier` as read, written but durable only at
    /// the store's next flush: what a run of commands does before one flush
    /// for all. The store refuses the write if `dossier` is no longer its
    /// last version.
    fn apply_written(
        &self,
        dossier: &Dossier,
        actor: &Actor,
        command: Command,
        now: Timestamp,
    ) -> Result<Outcome, EngineError> {
        let expected_version = dossier.version;
        let definition = self.definition_of(dossier)?;
        let outcome = workflow::apply(
            &definition,
            dossier,
            actor,
            &command,
            now,
            &self.link_prefix,
        )?;
        // The freed place goes to the waiting list in the same atomic write.
        // If no one can be promoted, the command itself still goes through:
        // what happened to the list is reported beside it.
        let offered = match &outcome.freed {
            Some(freed) => self.offer_place(&definition, freed, now),
            None => Ok(None),
        };
        // The outcomes are moved into the commits and back, not copied.
        let (commit, unwritten) = Self::commit(&definition, expected_version, outcome, now)?;
        let offered = offered.and_then(|offered| match (offered, &unwritten.freed) {
            (Some(offered), Some(freed)) => {
                Self::promotion(&definition, freed, offered, now).map(Some)
            }
            _ => Ok(None),
        });
        match offered {
            Ok(Some((promotion, promotion_unwritten))) => {
                let commits = [commit, promotion];
                self.store.write(&commits)?;
                let [commit, promotion] = commits;
                let mut outcome = unwritten.joined(commit);
                outcome
                    .follow_ups
                    .push(Ok(promotion_unwritten.joined(promotion)));
                Ok(outcome)
            }
            offered => {
                let commits = [commit];
                self.store.write(&commits)?;
                let [commit] = commits;
                let mut outcome = unwritten.joined(commit);
                if let Err(error) = offered {
                    outcome.follow_ups.push(Err(Arc::new(error)));
                }
                Ok(outcome)
            }
        }
    }

    /// The commit of the promotion `offered` ([`Engine::offer_place`]) to
    /// the place `freed`; refused if it would leave its candidature on the
    /// list, which it would head again for every place freed after it.
    fn promotion(
        definition: &Definition,
        freed: &workflow::FreedPlace,
        (version, candidature, promoted): (u64, String, Outcome),
        now: Timestamp,
    ) -> Result<(Commit, Unwritten), EngineError> {
        let (promotion, unwritten) = Self::commit(definition, version, promoted, now)?;
        let rule = crate::compiled::rule_key(&freed.rule);
        let still_waiting = promotion.indexed.waiting.iter().any(|place| {
            place.rule == rule
                && place.formation == freed.formation
                && place.dossier == promotion.dossier.id
                && place.candidature == candidature
        });
        if still_waiting {
            return Err(WorkflowError::PromotionKeepsOnList {
                transition: freed.rule.action.clone(),
                formation: freed.formation.clone(),
                candidature,
            }
            .into());
        }
        Ok((promotion, unwritten))
    }

    /// Moves dossier `id` to the current definition by the mappings its
    /// `migrate:` declares, recorded in the dossier's history as done by
    /// `actor`; or says why it cannot move (nothing is written then).
    pub fn migrate(
        &self,
        id: &str,
        actor: &Actor,
        now: Timestamp,
    ) -> Result<Migrated, EngineError> {
        let dossier = self
            .store
            .dossier(id)?
            .ok_or_else(|| EngineError::UnknownDossier(id.to_owned()))?;
        let current = self.definition();
        if dossier.definition == current.hash() {
            return Ok(Migrated::AlreadyCurrent);
        }
        let old = self.definition_of(&dossier)?;
        let (after, changes) = match crate::migrate::migrated(&old, &current, &dossier) {
            Ok(moved) => moved,
            Err(reasons) => return Ok(Migrated::Refused(reasons)),
        };
        let event = Event {
            dossier: dossier.id.clone(),
            version: after.version,
            at: now,
            actor: actor.clone(),
            command: Some(Command::Migrate {
                from: dossier.definition.clone(),
                to: after.definition.clone(),
            }),
            changes,
        };
        let commit = Commit {
            expected_version: dossier.version,
            indexed: indexed(&current, &after, now)?,
            dossier: after,
            event,
            mails: Vec::new(),
        };
        self.store.commit(&[commit])?;
        Ok(Migrated::Moved)
    }

    /// The request a third party's link `token` stands for, with its dossier
    /// and candidature id, whether or not it can still be used; `None` when
    /// no request holds this token (mistyped, or replaced by a newer link).
    pub fn request_of(
        &self,
        token: &str,
    ) -> Result<Option<(Arc<Dossier>, String, Request)>, EngineError> {
        let Some((dossier_id, _)) = token.split_once('.') else {
            return Ok(None);
        };
        let Some(dossier) = self.store.dossier(dossier_id)? else {
            return Ok(None);
        };
        let secret = workflow::secret_sha256(token);
        let found = dossier.candidatures.iter().find_map(|candidature| {
            let request = candidature
                .requests
                .iter()
                .find(|r| r.secret_sha256 == secret)?;
            Some((candidature.id.clone(), request.clone()))
        });
        Ok(found.map(|(candidature, request)| (dossier, candidature, request)))
    }

    /// A third party sends `file` through their link `token`: checked like
    /// any command (the link current and unused, the candidature not sent,
    /// the file fit for the piece), stored durably before it returns.
    pub fn deliver(
        &self,
        token: &str,
        file: FileRef,
        now: Timestamp,
    ) -> Result<Outcome, EngineError> {
        let refused =
            || EngineError::Workflow(WorkflowError::ThirdParty(ThirdPartyRefusal::UnknownLink));
        let (dossier, candidature, request) = self.request_of(token)?.ok_or_else(refused)?;
        let actor =
            Actor::new(request.role.clone(), request.email.clone()).named(request.name.clone());
        let command = Command::Deliver {
            candidature,
            entry: request.entry,
            secret_sha256: request.secret_sha256,
            file,
        };
        self.apply(&dossier.id, dossier.version, &actor, command, now)
    }

    /// The waiting list of `formation` under `rule`: the candidatures that
    /// meet its `among` condition, best rank first, each with its dossier (at
    /// the version read) and its rank. Read from the index of waiting lists
    /// (kept with each dossier's writes), each entry checked again against
    /// its dossier as it is now; `limit` stops at that many.
    ///
    /// Candidatures are compared under `definition` (the rule's own version):
    /// those of dossiers pinned to another version are left to the staff.
    pub fn waiting_list(
        &self,
        definition: &Definition,
        formation: &str,
        rule: &PromoteDef,
        now: Timestamp,
        limit: Option<usize>,
    ) -> Result<Vec<(Arc<Dossier>, String, f64)>, EngineError> {
        self.waiting_entries(definition, formation, rule, now, limit, None)
    }

    /// [`Engine::waiting_list`], without the entries of dossier `skipped`
    /// (neither read nor counted).
    fn waiting_entries(
        &self,
        definition: &Definition,
        formation: &str,
        rule: &PromoteDef,
        now: Timestamp,
        limit: Option<usize>,
        skipped: Option<&str>,
    ) -> Result<Vec<(Arc<Dossier>, String, f64)>, EngineError> {
        let mut list = Vec::new();
        if limit == Some(0) {
            return Ok(list);
        }
        let mut failed = None;
        let key = crate::compiled::rule_key(rule);
        self.store
            .each_waiting(&key, formation, &mut |id, candidature_id, _| {
                if skipped == Some(id.as_str()) {
                    return true;
                }
                match self.waiting_entry(definition, rule, &id, candidature_id, now) {
                    Ok(Some(entry)) => list.push(entry),
                    Ok(None) => {}
                    Err(error) => {
                        failed = Some(error);
                        return false;
                    }
                }
                limit.is_none_or(|limit| list.len() < limit)
            })?;
        match failed {
            Some(error) => Err(error),
            None => Ok(list),
        }
    }

    /// A waiting list's entry as its dossier is now: `None` when it no
    /// longer meets the rule's condition, or its dossier is gone or under
    /// another version than `definition`.
    fn waiting_entry(
        &self,
        definition: &Definition,
        rule: &PromoteDef,
        id: &str,
        candidature_id: String,
        now: Timestamp,
    ) -> Result<Option<(Arc<Dossier>, String, f64)>, EngineError> {
        let Some(dossier) = self.store.dossier(id)? else {
            return Ok(None);
        };
        if dossier.definition != definition.hash() {
            return Ok(None);
        }
        let Some(candidature) = dossier.candidatures.iter().find(|c| c.id == candidature_id) else {
            return Ok(None);
        };
        let needs = crate::context::Needs::of(definition, &[&rule.among, &rule.rank]);
        let context =
            crate::context::candidature_context_for(definition, &dossier, candidature, now, &needs)
                .map_err(WorkflowError::from)?;
        // As the index reads it (a failed expression is the index's to tell).
        let (rank, _failure) = place_on_list(definition, rule, &context);
        Ok(rank.map(|rank| (dossier, candidature_id, rank)))
    }

    /// Decides who gets a freed place: the best-ranked candidature of the
    /// waiting list, with the version its dossier was read at, its id and
    /// the outcome of its promotion (not yet stored).
    fn offer_place(
        &self,
        definition: &Definition,
        freed: &workflow::FreedPlace,
        now: Timestamp,
    ) -> Result<Option<(u64, String, Outcome)>, EngineError> {
        let Some(system) = definition.system_role().map(|r| r.id.clone()) else {
            return Ok(None);
        };
        // The dossier that freed the place is written in the same commit:
        // its entry (if any) is skipped, unread.
        let (formation, rule) = (&freed.formation, &freed.rule);
        let head = self.waiting_entries(
            definition,
            formation,
            rule,
            now,
            Some(1),
            Some(&freed.dossier),
        )?;
        let Some((dossier, candidature, _)) = head.into_iter().next() else {
            return Ok(None);
        };
        let command = Command::Transition {
            candidature: candidature.clone(),
            transition: freed.rule.action.clone(),
            input: Default::default(),
        };
        let actor = Actor::new(system, "system");
        let promoted = workflow::apply(
            definition,
            &dossier,
            &actor,
            &command,
            now,
            &self.link_prefix,
        )?;
        Ok(Some((dossier.version, candidature, promoted)))
    }

    /// A dossier by id.
    pub fn dossier(&self, id: &str) -> Result<Option<Arc<Dossier>>, EngineError> {
        Ok(self.store.dossier(id)?)
    }

    /// The profile answers of candidature `candidature` of dossier `id`
    /// ([`Dossier::answers_of`]), read without the rest of the dossier
    /// where the store can: `None` for an unknown dossier.
    pub fn answers_of(&self, id: &str, candidature: &str) -> Result<Option<Answers>, EngineError> {
        Ok(self.store.answers_of(id, candidature)?)
    }

    /// Every dossier.
    pub fn dossiers(&self) -> Result<Vec<Dossier>, EngineError> {
        Ok(self.store.dossiers()?)
    }

    /// How many dossiers are on each version of the definition, by its hash
    /// (see [`Store::dossiers_per_version`]).
    pub fn dossiers_per_version(
        &self,
    ) -> Result<std::collections::BTreeMap<String, usize>, EngineError> {
        Ok(self.store.dossiers_per_version()?)
    }

    /// What moving the dossiers on version `old` of the definition to `new`
    /// would do ([`crate::diff::Impacts`]): counted from the store's indexes
    /// and own answers, no dossier read, when every dossier is on `old`;
    /// else each dossier is read, once.
    pub fn impacts_of(
        &self,
        old: &Definition,
        new: &Definition,
    ) -> Result<Vec<crate::diff::Impact>, EngineError> {
        let mut impacts = crate::diff::Impacts::new(old, new);
        if !impacts.reads_dossiers() {
            return Ok(Vec::new());
        }
        let elsewhere = self
            .dossiers_per_version()?
            .keys()
            .any(|hash| hash != old.hash());
        if elsewhere {
            self.each_dossier(&mut |dossier| {
                if dossier.definition == old.hash() {
                    impacts.count(&dossier);
                }
            })?;
        } else {
            impacts.count_store(&self.store)?;
        }
        Ok(impacts.found())
    }

    /// Every dossier, handed to `each` one at a time as it is read, none
    /// of them kept (see [`Store::each_dossier`]).
    pub fn each_dossier(&self, each: &mut dyn FnMut(Dossier)) -> Result<(), EngineError> {
        Ok(self.store.each_dossier(each)?)
    }

    /// What happened to a dossier, oldest first.
    pub fn history(&self, id: &str) -> Result<Vec<Event>, EngineError> {
        Ok(self.store.history(id, EventParts::Whole)?)
    }

    /// What happened to a dossier and when, oldest first, without what
    /// each event changed ([`Event::changes`] left empty): for pages that
    /// say what was done, by whom and when, and spare decoding the values.
    pub fn history_without_changes(&self, id: &str) -> Result<Vec<Event>, EngineError> {
        Ok(self.store.history(id, EventParts::WithoutChanges)?)
    }

    /// The latest `count` events of a dossier that `kept` keeps, among
    /// those before version `before` (all when none), oldest first,
    /// without what each changed (as [`Engine::history_without_changes`]):
    /// for a page that shows the latest of a history, or a page of it, read
    /// from the newest back, at a cost that does not grow with the history.
    pub fn latest_history(
        &self,
        id: &str,
        before: Option<u64>,
        count: usize,
        kept: &dyn Fn(&Event) -> bool,
    ) -> Result<Vec<Event>, EngineError> {
        Ok(self.store.latest_history(id, before, count, kept)?)
    }

    /// Every mail waiting to be delivered, in the order they were queued
    /// (for a look at the whole outbox; the mail worker reads it a page at
    /// a time, [`Engine::outbox_page`]).
    pub fn outbox(&self) -> Result<Vec<OutboxMail>, EngineError> {
        let mut mails: Vec<OutboxMail> = Vec::new();
        loop {
            let page = self.store.outbox_page(mails.last(), 256)?;
            if page.is_empty() {
                return Ok(mails);
            }
            mails.extend(page);
        }
    }

    /// At most `limit` mails waiting to be delivered, queued after `after`
    /// (from the first when none), in the order they were queued.
    pub fn outbox_page(
        &self,
        after: Option<&OutboxMail>,
        limit: usize,
    ) -> Result<Vec<OutboxMail>, EngineError> {
        Ok(self.store.outbox_page(after, limit)?)
    }

    /// Renders the account mail `mail` (one with `about: account`) for `to` in
    /// `language` and queues it. `context` gives what account templates read:
    /// `account` (first_name, last_name, email, identifier), `link` and
    /// `expires_at`; `institution` is added here.
    pub fn queue_account_mail(
        &self,
        mail: &str,
        to: &str,
        language: &str,
        context: &serde_json::Value,
        now: Timestamp,
    ) -> Result<OutboxMail, EngineError> {
        let definition = &self.definition();
        let mut context = context.clone();
        if let serde_json::Value::Object(map) = &mut context {
            let file = definition.file();
            map.insert(
                "institution".into(),
                serde_json::json!({"id": file.id, "title": file.title.get(language)}),
            );
        }
        let context = crate::context::TemplateContext::new(context);
        let render = |part: &str| {
            definition
                .render_mail_part(mail, part, language, &context)
                .map_err(|source| WorkflowError::Template {
                    mail: mail.to_owned(),
                    source,
                })
        };
        let subject = render("subject")?.ok_or_else(|| WorkflowError::NotFound {
            what: "mail",
            id: mail.to_owned(),
        })?;
        let outbox_mail = OutboxMail {
            id: format!("account-{}", uuid::Uuid::new_v4().simple()),
            dossier: None,
            mail: mail.to_owned(),
            to: vec![to.to_owned()],
            subject: subject.trim().to_owned(),
            text: render("text")?.unwrap_or_default(),
            html: render("html")?,
            letters: Vec::new(),
            queued_at: now,
        };
        self.store.enqueue(std::slice::from_ref(&outbox_mail))?;
        Ok(outbox_mail)
    }

    /// Removes a delivered mail from the outbox.
    pub fn mark_sent(&self, mail: &OutboxMail) -> Result<(), EngineError> {
        Ok(self.store.remove_from_outbox(mail)?)
    }

    /// Every pending deadline of one dossier, with when it falls due.
    pub fn deadlines_of(&self, dossier: &Dossier, now: Timestamp) -> Result<Vec<Due>, EngineError> {
        let definition = self.definition_of(dossier)?;
        Ok(workflow::deadlines(&definition, dossier, now))
    }

    /// Deadlines due at `now` over all dossiers, earliest first.
    ///
    /// When the clock has jumped past several deadlines of one candidature, a
    /// deadline that only sends a mail (a reminder) is left out if a later
    /// one that acts is due too: "answer before…" is not sent with the
    /// withdrawal it was meant to prevent.
    pub fn due(&self, now: Timestamp) -> Result<Vec<Due>, EngineError> {
        // From the index alone: each entry is checked against its dossier
        // when it is handled (`run_due`), not here.
        let mut entries = self.store.due_entries(now)?;
        // A reminder whose moment passed while the deadline it announces is
        // due too is not sent: the later action supersedes it (the latest
        // action due of each candidature, found once).
        let mut latest_action: std::collections::HashMap<(&str, &str), Timestamp> =
            std::collections::HashMap::new();
        for d in entries.iter().filter(|d| self.deadline_acts(&d.deadline)) {
            let key = (d.dossier.as_str(), d.candidature.as_str());
            let latest = latest_action.entry(key).or_insert(d.at);
            *latest = (*latest).max(d.at);
        }
        let superseded: Vec<bool> = entries
            .iter()
            .map(|d| {
                let key = (d.dossier.as_str(), d.candidature.as_str());
                !self.deadline_acts(&d.deadline)
                    && latest_action.get(&key).is_some_and(|latest| *latest > d.at)
            })
            .collect();
        let mut superseded = superseded.into_iter();
        entries.retain(|_| !superseded.next().unwrap_or(false));
        entries.sort_by_key(|d| d.at);
        Ok(entries)
    }

    fn refused_mut(&self) -> std::sync::MutexGuard<'_, HashMap<DueKey, Refused>> {
        self.refused
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether deadline `id` of the current definition performs a transition
    /// (rather than only sending a mail).
    fn deadline_acts(&self, id: &str) -> bool {
        let current = self.definition();
        let deadlines = &current.file().workflow.deadlines;
        deadlines.iter().any(|d| d.id == id && d.action.is_some())
    }

    /// Handles every deadline due at `now`, as the definition's system role.
    ///
    /// Each deadline is one command, written atomically as any other; the
    /// result of each is returned once all are on disk, after one flush for
    /// the pass (a pass of a thousand deadlines waits for one flush, not a
    /// thousand). If that flush fails, the pass is an error: run again, it
    /// does what did not last, and nothing twice.
    ///
    /// A deadline whose handling is refused (its transition's guard does not
    /// hold yet) stays due. It is tried again once its dossier has changed,
    /// or after [`REFUSED_DEADLINE_RETRY`]: not at every pass, where a
    /// procedure with thousands of them would read each dossier again and
    /// report the same refusal every minute. Until then it is left out of
    /// the results.
    pub fn run_due(&self, now: Timestamp) -> Result<Vec<Handled>, EngineError> {
        let Some(system) = self.definition().system_role().map(|r| r.id.clone()) else {
            return Ok(Vec::new());
        };
        let actor = Actor::new(system, "system");
        let due = self.due(now)?;
        let mut refused = std::mem::take(&mut *self.refused_mut());
        let mut still_refused = HashMap::new();
        let mut results = Vec::new();
        for due in due {
            let key = (
                due.dossier.clone(),
                due.candidature.clone(),
                due.deadline.clone(),
            );
            let found = self.dossier(&due.dossier).and_then(|found| {
                found.ok_or_else(|| EngineError::UnknownDossier(due.dossier.clone()))
            });
            let dossier = match found {
                Ok(dossier) => dossier,
                Err(error) => {
                    results.push((due, Err(error)));
                    continue;
                }
            };
            if let Some(earlier) = refused.remove(&key) {
                if earlier.version == dossier.version && now < earlier.retry_at {
                    still_refused.insert(key, earlier);
                    continue;
                }
            }
            let command = Command::Deadline {
                candidature: due.candidature.clone(),
                deadline: due.deadline.clone(),
            };
            let result = self.apply_written(&dossier, &actor, command, now);
            // Only a refusal waits: a store's failure is tried at the next pass.
            if let Err(EngineError::Workflow(_)) = result {
                let retry_at = now.saturating_add(REFUSED_DEADLINE_RETRY).unwrap_or(now);
                let version = dossier.version;
                still_refused.insert(key, Refused { version, retry_at });
            }
            results.push((due, result));
        }
        // Deadlines no longer due are forgotten with the rest.
        *self.refused_mut() = still_refused;
        // One flush for the whole pass: nothing it did is reported before.
        self.store.make_durable()?;
        Ok(results)
    }
}
