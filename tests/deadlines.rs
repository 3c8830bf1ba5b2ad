//! Deadlines run by `guichet serve` itself: what fell due while it was
//! stopped runs at start-up, once, with its mails and the waiting list's
//! promotion; a restart does not run it again.

mod serving;

use std::path::Path;

use guichet_engine::{Definition, Engine, SledStore};
use serde_json::{json, Value};
use serving::*;

/// Candidatures to M1 SET sent, complete, and decided on `2027-05-02`, one
/// per `(owner, decision)`.
fn decided(data: &Path, decisions: &[(&str, Value)]) {
    let engine = osu_engine(data);
    let now = "2027-05-02T10:00:00Z".parse().unwrap();
    let pieces = OSU_PIECES;
    for (owner, decision) in decisions {
        let mut dossier = Seeded::new(&engine, (owner, owner, None), now);
        dossier.send("m1-set", &pieces);
        dossier.transition("gestionnaire", "declarer_complet", Value::Null);
        dossier.transition("commission", "saisir_avis", decision.clone());
        dossier.transition("gestionnaire", "publier_avis", Value::Null);
    }
}

/// The subjects of the mails written under `data/mail`.
fn subjects(data: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(data.join("mail")) else {
        return Vec::new();
    };
    let mut subjects: Vec<String> = entries
        .filter_map(Result::ok)
        .map(|e| {
            decode(&e.path())["subject"]
                .as_str()
                .unwrap_or("")
                .to_owned()
        })
        .collect();
    subjects.sort();
    subjects
}

#[test]
fn a_confirmation_deadline_passed_while_stopped_withdraws_once_and_promotes() {
    let folder = tempfile::tempdir().unwrap();
    let data = folder.path().join("data");
    decided(
        &data,
        &[
            ("alice", json!({"avis": "favorable"})),
            ("bruno", json!({"avis": "liste_complementaire", "rang": 1})),
        ],
    );
    // Ten days later, nobody confirmed; the server was not running.
    let later = [
        "--now",
        "2027-05-12T10:00:00+02:00",
        "--scheduler-interval",
        "1 second",
    ];
    let definition = repository().join("definitions/osu-pytheas.yaml");
    let server = Guichet::launch_on(&definition, &data, None, &later, Log::Discarded);
    let withdrawn = |subjects: &[String]| {
        subjects
            .iter()
            .filter(|s| s.starts_with("Désistement automatique"))
            .count()
    };
    wait_for("the automatic withdrawal's mail", || {
        withdrawn(&subjects(&data)) == 1
    });
    std::thread::sleep(std::time::Duration::from_secs(3));
    server.stop();
    let first = subjects(&data);
    assert_eq!(withdrawn(&first), 1, "{first:?}");

    // Started again: nothing more happens.
    let server = Guichet::launch_on(&definition, &data, None, &later, Log::Discarded);
    std::thread::sleep(std::time::Duration::from_secs(3));
    server.stop();
    assert_eq!(subjects(&data), first, "once only");

    // Alice withdrawn, Bruno offered her place.
    let definition = Definition::load(&definition).unwrap();
    let engine = Engine::open(definition, SledStore::open(data.join("store")).unwrap()).unwrap();
    let states: Vec<(String, String)> = engine
        .dossiers()
        .unwrap()
        .into_iter()
        .map(|d| (d.owner.clone(), d.candidatures[0].state.clone()))
        .collect();
    assert!(
        states.contains(&("alice".into(), "desistee".into())),
        "{states:?}"
    );
    let bruno = engine
        .dossiers()
        .unwrap()
        .into_iter()
        .find(|d| d.owner == "bruno")
        .unwrap();
    assert_eq!(bruno.candidatures[0].data["avis"], "favorable", "promoted");
}
