//! Embedding the engine in your own program: a doctoral school's procedure,
//! one applicant, from upload to interview invitation.
//!
//! ```text
//! cargo run -p guichet-engine --example embed
//! ```

use guichet_engine::{Actor, Candidate, Command, Definition, Engine, FileRef, SledStore};
use jiff::Timestamp;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/ecole-doctorale.yaml"
    );
    let definition = match Definition::load(path) {
        Ok(definition) => definition,
        Err(error) => {
            eprint!("{error}");
            std::process::exit(1);
        }
    };
    let folder = tempfile::tempdir()?;
    let engine = Engine::open(definition, SledStore::open(folder.path())?)?;
    let now: Timestamp = "2027-04-15T10:00:00Z".parse()?;

    let applicant = Candidate {
        last_name: "Nguyen".into(),
        first_name: "Linh".into(),
        email: "linh.nguyen@example.org".into(),
    };
    let dossier = engine.create_dossier("linh", applicant, "en", now)?;
    let me = Actor::new("applicant", "linh");
    let jury = Actor::new("jury", "jury-chair");

    let mut version = dossier.version;
    let mut run = |actor: &Actor, command: Command| -> Result<(), Box<dyn std::error::Error>> {
        let outcome = engine.apply(&dossier.id, version, actor, command, now)?;
        version = outcome.dossier.version;
        for mail in &outcome.mails {
            println!("  mail to {}: {}", mail.to.join(", "), mail.subject);
        }
        Ok(())
    };

    run(
        &me,
        Command::Apply {
            formation: "contrat-2027".into(),
        },
    )?;
    for piece in ["research_project", "supervisor_letter"] {
        let file = FileRef {
            name: format!("{piece}.pdf"),
            sha256: "0".repeat(64),
            size: 200_000,
            format: "pdf".into(),
        };
        run(
            &me,
            Command::Piece {
                candidature: "c1".into(),
                piece: piece.into(),
                transition: "upload".into(),
                file: Some(file),
                comment: None,
            },
        )?;
    }
    run(
        &me,
        Command::Transition {
            candidature: "c1".into(),
            transition: "submit".into(),
            input: Default::default(),
        },
    )?;
    let mut input = serde_json::Map::new();
    input.insert("interview_date".into(), "2027-06-02".into());
    run(
        &jury,
        Command::Transition {
            candidature: "c1".into(),
            transition: "invite".into(),
            input,
        },
    )?;

    println!("history of dossier {}:", dossier.id);
    for event in engine.history(&dossier.id)? {
        let what = event
            .changes
            .iter()
            .map(|c| format!("{}: {} → {}", c.path, c.before, c.after))
            .collect::<Vec<_>>()
            .join("; ");
        println!("  v{} by {}: {what}", event.version, event.actor.role);
    }
    println!("{} mails waiting in the outbox", engine.outbox()?.len());
    Ok(())
}
