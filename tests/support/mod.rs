//! What the engine tests share: the OSU definition, a store in a temporary
//! folder, and short ways to write commands.
#![allow(dead_code)] // each test crate uses its own part of it

use std::path::{Path, PathBuf};

use guichet_engine::{
    Actor, Candidate, Command, Definition, Engine, EngineError, FileRef, Outcome, SledStore,
};
use jiff::Timestamp;
use serde_json::{Map, Value};

pub fn osu_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../definitions/osu-pytheas.yaml")
}

pub fn osu() -> Definition {
    Definition::load(osu_path()).unwrap_or_else(|error| panic!("{error}"))
}

/// An engine on `definition` over a sled store in a fresh temporary folder.
pub fn open(definition: Definition) -> (tempfile::TempDir, Engine<SledStore>) {
    let folder = tempfile::tempdir().unwrap();
    let engine = Engine::open(definition, SledStore::open(folder.path()).unwrap()).unwrap();
    (folder, engine)
}

pub fn at(text: &str) -> Timestamp {
    text.parse().expect("timestamp")
}

pub fn candidate(first_name: &str) -> Candidate {
    Candidate {
        last_name: "Durand".into(),
        first_name: first_name.into(),
        email: "camille.durand@example.org".into(),
    }
}

pub fn file(name: &str, format: &str, size: u64) -> FileRef {
    FileRef {
        name: name.into(),
        sha256: "ab".repeat(32),
        size,
        format: format.into(),
    }
}

pub fn transition(candidature: &str, id: &str, input: Value) -> Command {
    let input: Map<String, Value> = match input {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    Command::Transition {
        candidature: candidature.into(),
        transition: id.into(),
        input,
    }
}

pub fn piece(
    candidature: &str,
    piece: &str,
    transition: &str,
    file: Option<FileRef>,
    comment: Option<&str>,
) -> Command {
    Command::Piece {
        candidature: candidature.into(),
        piece: piece.into(),
        transition: transition.into(),
        file,
        comment: comment.map(str::to_owned),
    }
}

/// Applies `command` on the dossier's current version.
pub fn act(
    engine: &Engine<SledStore>,
    dossier: &str,
    actor: &Actor,
    command: Command,
    now: Timestamp,
) -> Result<Outcome, EngineError> {
    let version = engine.dossier(dossier).unwrap().unwrap().version;
    engine.apply(dossier, version, actor, command, now)
}

/// The five pieces every OSU master asks of a French candidate.
pub const OSU_PIECES: [&str; 5] = [
    "cv",
    "lettre_motivation",
    "releves_notes",
    "diplomes",
    "piece_identite",
];

/// An OSU dossier ready to transmit: the journey every workflow test starts
/// with, written once.
pub struct Journey {
    /// Dossier id.
    pub dossier: String,
    /// The candidature's id.
    pub candidature: String,
    /// The candidate, as an actor.
    pub me: Actor,
}

impl Journey {
    /// `owner`'s dossier (first name `first_name`), its `profile` sections
    /// saved, applied to `formation`, each of [`OSU_PIECES`] uploaded as
    /// `{piece}.pdf`.
    pub fn ready_to_transmit(
        engine: &Engine<SledStore>,
        (owner, first_name): (&str, &str),
        profile: &[(&str, Value)],
        formation: &str,
        now: Timestamp,
    ) -> Journey {
        let dossier = engine
            .create_dossier(owner, candidate(first_name), "fr", now)
            .unwrap()
            .id;
        let me = Actor::new("candidat", owner);
        let run = |command: Command| {
            act(engine, &dossier, &me, command, now).unwrap_or_else(|e| panic!("{e}"))
        };
        for (section, answers) in profile {
            run(Command::SaveSection {
                section: (*section).into(),
                answers: answers.clone(),
            });
        }
        let applied = run(Command::Apply {
            formation: formation.into(),
        });
        let candidature = applied.dossier.candidatures.last().unwrap().id.clone();
        for id in OSU_PIECES {
            let upload = file(&format!("{id}.pdf"), "pdf", 120_000);
            run(piece(&candidature, id, "deposer", Some(upload), None));
        }
        Journey {
            dossier,
            candidature,
            me,
        }
    }

    /// The candidate transmits the candidature.
    pub fn transmit(
        &self,
        engine: &Engine<SledStore>,
        now: Timestamp,
    ) -> Result<Outcome, EngineError> {
        let command = transition(&self.candidature, "transmettre", Value::Null);
        act(engine, &self.dossier, &self.me, command, now)
    }
}

/// A database opened again in this process: sled's flusher thread lets go of
/// it shortly after the last handle is dropped.
pub fn reopened<T, E: std::fmt::Display>(open: impl Fn() -> Result<T, E>) -> T {
    for _ in 0..100 {
        if let Ok(opened) = open() {
            return opened;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    open().unwrap_or_else(|error| panic!("{error}"))
}
