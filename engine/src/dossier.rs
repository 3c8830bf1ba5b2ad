//! What the engine stores: dossiers, their candidatures, events and queued mails.

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One candidate's dossier: their profile and their candidatures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dossier {
    /// Random identifier, safe to show in addresses.
    pub id: String,
    /// Incremented by every command; a command names the version it was decided on.
    pub version: u64,
    /// Content hash of the definition the dossier started under.
    pub definition: String,
    /// Account that owns the dossier (the candidate's identifier).
    pub owner: String,
    /// Who the candidate is.
    pub candidate: Candidate,
    /// Language mails are written in (`fr` or `en`).
    pub language: String,
    /// When the dossier was created.
    pub created_at: Timestamp,
    /// Answers of the profile sections, by section id: an object, or a list of
    /// objects for a repeatable section.
    pub profile: BTreeMap<String, Value>,
    /// One candidature per formation applied to.
    pub candidatures: Vec<Candidature>,
}

/// Profile answers by section id: an object, or a list of objects for a
/// repeatable section.
pub type Answers = BTreeMap<String, Value>;

impl Dossier {
    /// The profile answers `candidature` is read with: those it was sent
    /// with, or the dossier's own while it is not sent (or not one of its
    /// candidatures).
    pub fn answers_of(&self, candidature: &str) -> &Answers {
        self.candidatures
            .iter()
            .find(|c| c.id == candidature)
            .and_then(|c| c.sent.as_ref())
            .map_or(&self.profile, |sent| &sent.profile)
    }

    /// Each file its candidatures hold, as (candidature id, piece id).
    pub fn files_held(&self) -> impl Iterator<Item = (String, String)> + '_ {
        self.candidatures.iter().flat_map(|candidature| {
            candidature
                .pieces
                .iter()
                .filter(|(_, state)| state.file.is_some())
                .map(|(piece, _)| (candidature.id.clone(), piece.clone()))
        })
    }
}

impl Candidature {
    /// Whether it holds a file for `piece`.
    pub fn holds_file(&self, piece: &str) -> bool {
        self.pieces.get(piece).is_some_and(|p| p.file.is_some())
    }
}

/// The candidate's identity, as given at sign-up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Candidate {
    /// Last name.
    pub last_name: String,
    /// First name.
    pub first_name: String,
    /// Email address.
    pub email: String,
}

/// An application to one formation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidature {
    /// Identifier, unique within the dossier.
    pub id: String,
    /// Formation id.
    pub formation: String,
    /// Current status id.
    pub state: String,
    /// When the candidature was created.
    pub created_at: Timestamp,
    /// When it entered its current status.
    pub entered_state_at: Timestamp,
    /// Values given with transitions (reason, rank…) and set by them.
    pub data: Map<String, Value>,
    /// Pieces by piece id.
    pub pieces: BTreeMap<String, PieceState>,
    /// Deadlines already handled since the candidature entered its status.
    pub deadlines_done: BTreeSet<String>,
    /// What the candidate last sent (a transition with `snapshot: true`):
    /// what staff see, whatever the candidate edits meanwhile.
    #[serde(default)]
    pub sent: Option<SentCopy>,
    /// The staff's internal note: never shown to the candidate, nor in what
    /// guards and mails see.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// What was asked of third parties (referees) and what they sent.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requests: Vec<Request>,
    /// How many links were mailed to third parties, replaced ones included.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub mailed_requests: usize,
    /// The answers to the formation's complementary form, filled online.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub form: Option<Map<String, Value>>,
    /// The letters issued to the candidate (one per letter id, the latest).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub letters: Vec<IssuedLetter>,
}

/// A letter as it was issued: everything it prints rendered once, in the
/// candidate's language, so that every later copy says the same.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedLetter {
    /// Id of the letter in the definition.
    pub letter: String,
    /// The candidature it is about.
    pub candidature: String,
    /// The mail that carried it.
    pub mail: String,
    /// Its language.
    pub language: String,
    /// The institution sending it.
    pub institution: String,
    /// Whom it is to: the candidate's name and address.
    pub recipient: Vec<String>,
    /// Its subject line.
    pub title: String,
    /// Its body.
    pub text: String,
    /// The town it is written from.
    #[serde(default)]
    pub place: Option<String>,
    /// The day it is dated (`YYYY-MM-DD`, in the definition's time zone).
    pub day: String,
    /// The signature: name, then function lines.
    pub signature: Vec<String>,
    /// When it was issued.
    pub issued_at: Timestamp,
}

/// A piece asked of a third party the candidate named, through a link mailed
/// to them. The link's secret is never stored: only its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    /// The third-party role.
    pub role: String,
    /// The entry of the naming section this person is (0 for a single section).
    pub entry: usize,
    /// Their name, as the candidate gave it.
    pub name: String,
    /// Their address, as the candidate gave it.
    pub email: String,
    /// SHA-256 (hex) of the link's secret.
    pub secret_sha256: String,
    /// When the link was mailed.
    pub asked_at: Timestamp,
    /// When the link stops working.
    pub expires_at: Timestamp,
    /// What they sent, once they have.
    #[serde(default)]
    pub letter: Option<FileRef>,
    /// When they sent it.
    #[serde(default)]
    pub received_at: Option<Timestamp>,
}

/// A candidature as its candidate sent it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SentCopy {
    /// When it was sent.
    pub at: Timestamp,
    /// The profile answers at that moment.
    pub profile: BTreeMap<String, Value>,
    /// The pieces at that moment; staff decisions on pieces are kept here too.
    pub pieces: BTreeMap<String, PieceState>,
}

/// Where one piece stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PieceState {
    /// Piece status id.
    pub status: String,
    /// The uploaded file, if any.
    pub file: Option<FileRef>,
    /// Comment of the last action (e.g. why it was refused).
    pub comment: Option<String>,
}

/// A stored file, by content address. The bytes live outside the engine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRef {
    /// Name given by the candidate.
    pub name: String,
    /// SHA-256 of the content, hex.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
    /// Format recognised from the content (`pdf`, `jpg`, `png`).
    pub format: String,
}

/// Who performs a command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// Role id from the definition.
    pub role: String,
    /// Account identifier (the dossier owner for a candidate).
    pub id: String,
    /// The person's name as history shows it (staff), as it was when they acted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl Actor {
    /// An actor with `role` and account `id`.
    pub fn new(role: impl Into<String>, id: impl Into<String>) -> Self {
        Self {
            role: role.into(),
            id: id.into(),
            name: None,
        }
    }

    /// The same actor, named (history shows the name).
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }
}

/// What a caller asks of a dossier. The effects are decided by the engine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    /// Replace the answers of one profile section.
    SaveSection {
        /// Section id.
        section: String,
        /// An object of field answers, or a list of them for a repeatable
        /// section (null in an event: see [`Command::recorded`]).
        #[serde(default, skip_serializing_if = "Value::is_null")]
        answers: Value,
    },
    /// Apply to a formation: creates a candidature in the initial status.
    Apply {
        /// Formation id.
        formation: String,
    },
    /// Perform a transition of a candidature.
    Transition {
        /// Candidature id.
        candidature: String,
        /// Transition id.
        transition: String,
        /// Values of the transition's input fields.
        #[serde(default)]
        input: Map<String, Value>,
    },
    /// Perform a piece transition.
    Piece {
        /// Candidature id.
        candidature: String,
        /// Piece id.
        piece: String,
        /// Piece transition id.
        transition: String,
        /// The file, for a transition that attaches one (none in an event:
        /// see [`Command::recorded`]).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        file: Option<FileRef>,
        /// Comment, for a transition that takes one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        comment: Option<String>,
    },
    /// Record the candidate's new identity (e.g. a verified new email address):
    /// later mails go to it.
    UpdateCandidate {
        /// The identity as it is now.
        candidate: Candidate,
    },
    /// Replace the staff's internal note on a candidature (staff roles only).
    Note {
        /// Candidature id.
        candidature: String,
        /// The note; empty removes it.
        text: String,
    },
    /// Replace the answers to the candidature's complementary form (as the candidate).
    SaveForm {
        /// Candidature id.
        candidature: String,
        /// Its answers, by field id (none in an event: see [`Command::recorded`]).
        #[serde(default, skip_serializing_if = "Map::is_empty")]
        answers: Map<String, Value>,
    },
    /// Mail each third party of `role` named in the candidate's answers a
    /// link to send their piece: those not asked yet, whose address changed,
    /// or whose link expired unanswered (performed by the candidate).
    Ask {
        /// Candidature id.
        candidature: String,
        /// Third-party role id.
        role: String,
    },
    /// A third party sends the piece asked of them (performed through their link).
    Deliver {
        /// Candidature id.
        candidature: String,
        /// Which request (its entry in the naming section).
        entry: usize,
        /// SHA-256 (hex) of the link's secret: the link itself never enters history.
        secret_sha256: String,
        /// The file sent.
        file: FileRef,
    },
    /// Handle a deadline that is due (performed by the system role).
    Deadline {
        /// Candidature id.
        candidature: String,
        /// Deadline id.
        deadline: String,
    },
    /// Move the dossier to another version of its definition (recorded by
    /// [`crate::Engine::migrate`], never applied as a command).
    Migrate {
        /// Hash of the version it leaves.
        from: String,
        /// Hash of the version it moves to.
        to: String,
    },
}

impl Command {
    /// The candidature the command acts on; `None` for one on the dossier
    /// as a whole (a section, the candidate's identity, a migration) and
    /// for applying, which names a formation (the candidature is made).
    pub fn candidature(&self) -> Option<&str> {
        match self {
            Command::Transition { candidature, .. }
            | Command::Piece { candidature, .. }
            | Command::Note { candidature, .. }
            | Command::SaveForm { candidature, .. }
            | Command::Ask { candidature, .. }
            | Command::Deliver { candidature, .. }
            | Command::Deadline { candidature, .. } => Some(candidature),
            Command::SaveSection { .. }
            | Command::Apply { .. }
            | Command::UpdateCandidate { .. }
            | Command::Migrate { .. } => None,
        }
    }

    /// The command as its event records it: a section's or a form's
    /// answers are left out (they repeat every field, changed or not, at
    /// each save; the event's changes hold what they changed, with the
    /// value before), and so is a piece's file (the change of the piece
    /// holds it).
    pub fn recorded(&self) -> Command {
        match self {
            Command::Piece {
                candidature,
                piece,
                transition,
                comment,
                ..
            } => Command::Piece {
                candidature: candidature.clone(),
                piece: piece.clone(),
                transition: transition.clone(),
                file: None,
                comment: comment.clone(),
            },
            Command::SaveSection { section, .. } => Command::SaveSection {
                section: section.clone(),
                answers: Value::Null,
            },
            Command::SaveForm { candidature, .. } => Command::SaveForm {
                candidature: candidature.clone(),
                answers: Map::new(),
            },
            other => other.clone(),
        }
    }
}

/// One change of one value, for the audit trail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// What changed, as a path: `candidatures/c1/state`, `profile/identity`.
    pub path: String,
    /// Value before (null when created).
    pub before: Value,
    /// Value after (null when removed).
    pub after: Value,
}

/// What happened to a dossier: who, when, what, before → after.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Dossier id.
    pub dossier: String,
    /// Dossier version this event produced (1 for the creation).
    pub version: u64,
    /// When.
    pub at: Timestamp,
    /// Who.
    pub actor: Actor,
    /// What was asked (`None` for the creation of the dossier), as
    /// [`Command::recorded`] keeps it.
    pub command: Option<Command>,
    /// What changed.
    pub changes: Vec<Change>,
}

/// A rendered mail waiting to be delivered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxMail {
    /// Stable identifier (also the base of the Message-ID), unique per mail.
    pub id: String,
    /// Dossier the mail is about, if any.
    pub dossier: Option<String>,
    /// Mail id in the definition.
    pub mail: String,
    /// Recipient addresses.
    pub to: Vec<String>,
    /// Subject.
    pub subject: String,
    /// Plain-text body.
    pub text: String,
    /// HTML body.
    pub html: Option<String>,
    /// Letters attached, as PDF.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub letters: Vec<IssuedLetter>,
    /// When it was queued.
    pub queued_at: Timestamp,
}

fn is_zero(count: &usize) -> bool {
    *count == 0
}
