//! Guichet's engine: application procedures defined in one YAML file.
//!
//! A definition file describes an institution's whole procedure: the dossier
//! sections candidates fill, the catalogue of formations, the pieces each one
//! requires, the statuses and transitions, deadlines, roles and mail templates.
//! This crate loads and checks such a file (every problem reported with
//! `file:line:column` and a hint), and runs dossiers through it over a durable
//! [`Store`]. It knows nothing of HTTP and needs no async runtime.
//!
//! # Example
//!
//! ```
//! use guichet_engine::{Actor, Candidate, Command, Definition, Engine, SledStore};
//! use jiff::Timestamp;
//!
//! let definition = Definition::from_text("example.yaml", r#"
//! guichet: 1
//! id: example
//! title: Example school
//! campaign: { opens: 2027-03-01, closes: 2027-06-15 }
//! roles:
//!   - { id: candidate, label: Candidate, kind: candidate }
//!   - { id: staff, label: Staff, kind: staff, address: office@example.org }
//!   - { id: system, label: Automatic, kind: system }
//! pieces:
//!   - { id: resume, label: Résumé, accept: [pdf], max_size: 2MB }
//! formations:
//!   - { id: master, title: Master, pieces: [resume] }
//! workflow:
//!   states:
//!     - { id: draft, label: Draft, initial: true }
//!     - { id: received, label: Received }
//!   transitions:
//!     - id: transmit
//!       label: Transmit
//!       from: draft
//!       to: received
//!       by: candidate
//!       when: candidature.missing_pieces.is_empty()
//!       mails: [{ mail: received }]
//!   piece_statuses:
//!     - { id: pending, label: Pending, initial: true }
//!     - { id: sent, label: Sent, provided: true }
//!   piece_transitions:
//!     - { id: upload, label: Upload, from: [pending, sent], to: sent, by: candidate, file: attach }
//!   deadlines:
//!     - { id: reminder, label: Reminder, in: draft, at: campaign.closes, before: 3 days, mail: reminder }
//! mails:
//!   - id: reminder
//!     subject: "{{ formation.title }} closes on {{ campaign.closes }}"
//!     text: "Hello {{ candidate.first_name }}, your application is not sent yet."
//!   - id: received
//!     subject: "{{ formation.title }}: received"
//!     text: "Hello {{ candidate.first_name }}, we received your application."
//! "#)?;
//!
//! let folder = tempfile::tempdir()?;
//! let engine = Engine::open(definition, SledStore::open(folder.path())?)?;
//! let now: Timestamp = "2027-03-10T09:00:00Z".parse()?;
//! let candidate = Candidate {
//!     last_name: "Durand".into(),
//!     first_name: "Camille".into(),
//!     email: "camille@example.org".into(),
//! };
//! let dossier = engine.create_dossier("camille", candidate, "en", now)?;
//! let me = Actor::new("candidate", "camille");
//!
//! let applied = engine.apply(&dossier.id, 1, &me, Command::Apply { formation: "master".into() }, now)?;
//! let candidature = applied.dossier.candidatures[0].id.clone();
//!
//! // Deadlines are data: the reminder falls due three days before closing.
//! let due = engine.deadlines_of(&applied.dossier, now)?;
//! assert_eq!((due[0].deadline.as_str(), due[0].at.to_string().as_str()),
//!            ("reminder", "2027-06-13T00:00:00Z"));
//!
//! // Pages ask the engine what the candidate may do now: transmitting is
//! // offered, but its guard does not hold while the résumé is missing. The
//! // actions borrow their labels from the definition.
//! let definition = engine.definition();
//! let actions = guichet_engine::actions_for(
//!     &definition, &applied.dossier, &applied.dossier.candidatures[0], &me, now,
//! )?;
//! assert!(!actions.transition("transmit").ok_or("offered")?.allowed);
//! assert_eq!(actions.upload("resume").ok_or("offered")?.id, "upload");
//!
//! // The guard holds back transmission while the résumé is missing.
//! let refused = engine.apply(&dossier.id, 2, &me, Command::Transition {
//!     candidature: candidature.clone(), transition: "transmit".into(), input: Default::default(),
//! }, now);
//! assert!(refused.is_err());
//!
//! let resume = guichet_engine::FileRef {
//!     name: "resume.pdf".into(), sha256: "00".repeat(32), size: 48_000, format: "pdf".into(),
//! };
//! engine.apply(&dossier.id, 2, &me, Command::Piece {
//!     candidature: candidature.clone(), piece: "resume".into(), transition: "upload".into(),
//!     file: Some(resume), comment: None,
//! }, now)?;
//! let sent = engine.apply(&dossier.id, 3, &me, Command::Transition {
//!     candidature, transition: "transmit".into(), input: Default::default(),
//! }, now)?;
//!
//! assert_eq!(sent.dossier.candidatures[0].state, "received");
//! assert_eq!(engine.history(&dossier.id)?.len(), 4);
//! let outbox = engine.outbox()?;
//! assert_eq!(outbox[0].subject, "Master: received");
//! assert_eq!(outbox[0].to, vec!["camille@example.org".to_string()]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

mod answers;
mod board;
mod bundle;
mod check;
mod compiled;
mod context;
mod dates;
mod definition;
mod diagnostic;
pub mod diff;
mod dossier;
mod engine;
mod fold;
mod list;
mod migrate;
pub mod model;
mod overlay;
mod queries;
mod scenario;
mod schema;
mod script;
mod store;
mod suggest;
mod units;
mod workflow;
mod yaml;

pub use answers::{
    check_answer, check_entry, check_entry_in, default_max_length, entry_context, options,
    reads_context, Choice, EntryCheck, Problem, DEFAULT_MAX_ENTRIES,
};
pub use board::{list_columns, rows, Row};
pub use bundle::{is_below, Bundle, ReadError};
pub use context::{base_context, candidature_context, PieceView, Shape, TemplateContext};
pub use dates::{add_days, add_months, days_between};
pub use definition::{Definition, DefinitionError, SUPPORTED_LANGUAGES};
pub use diagnostic::{with_causes, Diagnostic, Diagnostics};
pub use dossier::{
    Actor, Answers, Candidate, Candidature, Change, Command, Dossier, Event, FileRef, IssuedLetter,
    OutboxMail, PieceState, Request, SentCopy,
};
pub use engine::{promotion_rules, Engine, EngineError, Handled, Migrated, REFUSED_DEADLINE_RETRY};
pub use fold::fold;
pub use list::List;
pub use migrate::migrated;
pub use queries::{
    acting_view, actions_for, actions_in, lacks_a_piece, letters, missing_pieces, profile_state,
    transitions_from, ActingView, Action, Actions, Letter, PieceActions, SectionState,
};
pub use scenario::{play_scenarios, run_scenarios, SampleMails, ScenarioFailure, ScenarioReport};
pub use schema::{json_schema, json_schema_text, overlay_json_schema, overlay_json_schema_text};
pub use script::{ScriptError, MAX_OPERATIONS};
pub use store::{
    Commit, EventParts, Indexed, MemoryStore, Publication, RowParts, SledStore, Store, StoreError,
    Tallies, TreeSize, Waiting,
};
pub use suggest::did_you_mean;
pub use units::{parse_date, parse_duration, parse_size};
pub use workflow::{Due, FileRefusal, FreedPlace, Outcome, ThirdPartyRefusal, WorkflowError};
