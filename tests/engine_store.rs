//! The engine on a real sled store on disk: a dossier through the OSU procedure,
//! reopened in a new engine; concurrency; deadlines; definition pinning; killed
//! processes.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command as Process, Stdio};
use std::sync::{Arc, Barrier};

use guichet_engine::{
    Actor, Command, Definition, Engine, EngineError, FileRef, Outcome, SledStore, WorkflowError,
};
use jiff::Timestamp;
use serde_json::json;
use support::{act, at, osu, piece, reopened, transition, Journey};

fn camille() -> guichet_engine::Candidate {
    support::candidate("Camille")
}

fn pdf(name: &str) -> FileRef {
    support::file(name, "pdf", 120_000)
}

/// A German candidate's dossier, applied to the SET master, every piece uploaded.
fn ready_to_transmit(engine: &Engine<SledStore>, now: Timestamp) -> (String, String) {
    let identity = json!({"civilite": "mme", "nom_naissance": "Durand", "prenoms": "Camille",
                        "date_naissance": "2003-05-14", "commune_naissance": "Berlin",
                "pays_naissance": "DE", "nationalite": "DE"});
    let journey = Journey::ready_to_transmit(
        engine,
        ("camille", "Camille"),
        &[("etat_civil", identity)],
        "m1-set",
        now,
    );
    (journey.dossier, journey.candidature)
}

/// Transmits, marks complete, enters `decision` and publishes it: the outcomes
/// of entering the decision and of publishing it.
fn transmit_and_decide(
    engine: &Engine<SledStore>,
    id: &str,
    c: &str,
    decision: serde_json::Value,
    now: Timestamp,
) -> (Outcome, Outcome) {
    let me = Actor::new("candidat", "camille");
    let office = Actor::new("gestionnaire", "agent-1");
    let committee = Actor::new("commission", "prof-1");
    act(
        engine,
        id,
        &me,
        transition(c, "transmettre", json!({})),
        now,
    )
    .unwrap();
    act(
        engine,
        id,
        &office,
        transition(c, "declarer_complet", json!({})),
        now,
    )
    .unwrap();
    let decided = act(
        engine,
        id,
        &committee,
        transition(c, "saisir_avis", decision),
        now,
    )
    .unwrap();
    let published = act(
        engine,
        id,
        &office,
        transition(c, "publier_avis", json!({})),
        now,
    )
    .unwrap();
    (decided, published)
}

#[test]
fn a_dossier_goes_through_the_procedure_and_survives_a_reopen() {
    let folder = tempfile::tempdir().unwrap();
    let now = at("2027-03-10T09:00:00Z");
    let me = Actor::new("candidat", "camille");
    let office = Actor::new("gestionnaire", "agent-1");
    let (id, c) = {
        let engine = Engine::open(osu(), SledStore::open(folder.path()).unwrap()).unwrap();
        let (id, c) = ready_to_transmit(&engine, now);

        // A German candidate must give the language piece: transmission is refused.
        let refused = act(
            &engine,
            &id,
            &me,
            transition(&c, "transmettre", json!({})),
            now,
        );
        assert!(
            matches!(
                refused,
                Err(EngineError::Workflow(WorkflowError::GuardFailed { .. }))
            ),
            "{refused:?}"
        );
        act(
            &engine,
            &id,
            &me,
            piece(
                &c,
                "non_francophone",
                "deposer",
                Some(pdf("delf.pdf")),
                None,
            ),
            now,
        )
        .unwrap();
        let sent = act(
            &engine,
            &id,
            &me,
            transition(&c, "transmettre", json!({})),
            now,
        )
        .unwrap();
        assert_eq!(sent.dossier.candidatures[0].state, "receptionne");
        let mails: Vec<&str> = sent.mails.iter().map(|m| m.mail.as_str()).collect();
        assert_eq!(mails, ["statut_receptionne", "alerte_commission"]);
        assert_eq!(sent.mails[1].to, ["commission@osupytheas.fr"]);

        // The office refuses a piece with a reason: the dossier becomes incomplete
        // and the mail lists the reason.
        act(
            &engine,
            &id,
            &office,
            piece(&c, "cv", "refuser_piece", None, Some("CV illisible")),
            now,
        )
        .unwrap();
        let incomplete = act(
            &engine,
            &id,
            &office,
            transition(&c, "declarer_incomplet", json!({})),
            now,
        )
        .unwrap();
        assert!(
            incomplete.mails[0]
                .text
                .contains("Curriculum vitae : CV illisible"),
            "{}",
            incomplete.mails[0].text
        );

        // The candidate replaces it and transmits again.
        act(
            &engine,
            &id,
            &me,
            piece(&c, "cv", "deposer", Some(pdf("cv-v2.pdf")), None),
            now,
        )
        .unwrap();
        // The committee's decision is not seen until it is published.
        let (decided, published) =
            transmit_and_decide(&engine, &id, &c, json!({"avis": "favorable"}), now);
        assert!(decided.mails.is_empty());
        assert_eq!(published.mails.len(), 1);
        assert_eq!(published.mails[0].mail, "avis_favorable");
        assert_eq!(
            published.dossier.candidatures[0].data["publie_le"],
            "2027-03-10"
        );
        (id, c)
    };

    // A new engine on the same directory finds everything.
    let engine = Engine::open(osu(), SledStore::open(folder.path()).unwrap()).unwrap();
    let dossier = engine.dossier(&id).unwrap().unwrap();
    assert_eq!(dossier.candidatures[0].state, "avis_publie");
    assert_eq!(
        dossier.candidatures[0].pieces["cv"]
            .file
            .as_ref()
            .unwrap()
            .name,
        "cv-v2.pdf"
    );
    let history = engine.history(&id).unwrap();
    assert_eq!(history.len() as u64, dossier.version);
    assert_eq!(history[0].actor, Actor::new("candidat", "camille"));
    let versions: Vec<u64> = history.iter().map(|e| e.version).collect();
    assert_eq!(versions, (1..=dossier.version).collect::<Vec<_>>());
    let refusal = history
        .iter()
        .flat_map(|e| &e.changes)
        .find(|change| {
            change.path == format!("candidatures/{c}/pieces/cv")
                && change.after["status"] == "refusee"
        })
        .expect("the refusal is in the history");
    assert_eq!(refusal.before["status"], "transmise");
    assert_eq!(refusal.after["comment"], "CV illisible");
    // Read for a page: the same events, their changes not decoded.
    let without_changes: Vec<_> = history
        .iter()
        .cloned()
        .map(|mut event| {
            event.changes.clear();
            event
        })
        .collect();
    assert_eq!(
        engine.history_without_changes(&id).unwrap(),
        without_changes
    );
    let outbox: Vec<String> = engine
        .outbox()
        .unwrap()
        .iter()
        .map(|m| m.mail.clone())
        .collect();
    assert_eq!(
        outbox,
        [
            "candidature_creee",
            "statut_receptionne",
            "alerte_commission",
            "statut_incomplet",
            "statut_receptionne",
            "alerte_commission",
            "statut_complet",
            "avis_favorable"
        ]
    );
    // Delivered mails leave the outbox for good.
    let first = engine.outbox().unwrap()[0].clone();
    engine.mark_sent(&first).unwrap();
    let first = first.id;
    drop(engine);
    let engine = Engine::open(osu(), SledStore::open(folder.path()).unwrap()).unwrap();
    assert_eq!(engine.outbox().unwrap().len(), 7);
    assert!(engine.outbox().unwrap().iter().all(|m| m.id != first));
}

/// Every dossier read one at a time is every dossier, as the whole list
/// gives them, each as it stands (read back from the store, not a copy
/// kept by the writer).
#[test]
fn each_dossier_reads_every_dossier_as_it_stands() {
    let folder = tempfile::tempdir().unwrap();
    let now = at("2027-03-10T09:00:00Z");
    let engine = Engine::open(osu(), SledStore::open(folder.path()).unwrap()).unwrap();
    let mut ids = Vec::new();
    for n in 0..5 {
        let owner = format!("candidate-{n}");
        let dossier = engine.create_dossier(&owner, camille(), "fr", now).unwrap();
        let me = Actor::new("candidat", &owner);
        // Written again and again: the writer keeps a copy from the second write.
        for version in 1..=n {
            let command = Command::SaveSection {
                section: "coordonnees".into(),
                answers: json!({"adresse": format!("{version} rue Sainte"), "code_postal": "13001"}),
            };
            engine
                .apply(&dossier.id, version as u64, &me, command, now)
                .unwrap();
        }
        ids.push(dossier.id);
    }
    let mut read = Vec::new();
    engine
        .each_dossier(&mut |dossier| read.push(dossier))
        .unwrap();
    assert_eq!(read, engine.dossiers().unwrap());
    let mut read_ids: Vec<&str> = read.iter().map(|d| d.id.as_str()).collect();
    read_ids.sort_unstable();
    ids.sort_unstable();
    assert_eq!(read_ids, ids);
    let versions: Vec<u64> = read.iter().map(|d| d.version).collect();
    assert_eq!(versions.iter().sum::<u64>(), 5 + (1 + 2 + 3 + 4));
}

#[test]
fn roles_and_owners_are_enforced() {
    let folder = tempfile::tempdir().unwrap();
    let now = at("2027-03-10T09:00:00Z");
    let engine = Engine::open(osu(), SledStore::open(folder.path()).unwrap()).unwrap();
    let (id, c) = ready_to_transmit(&engine, now);
    let someone_else = Actor::new("candidat", "mallory");
    let stolen = act(
        &engine,
        &id,
        &someone_else,
        transition(&c, "annuler", json!({})),
        now,
    );
    assert!(
        matches!(
            stolen,
            Err(EngineError::Workflow(WorkflowError::Forbidden { .. }))
        ),
        "{stolen:?}"
    );
    let office = Actor::new("gestionnaire", "agent-1");
    let not_theirs = act(
        &engine,
        &id,
        &office,
        transition(&c, "annuler", json!({})),
        now,
    );
    assert!(
        matches!(
            not_theirs,
            Err(EngineError::Workflow(WorkflowError::Forbidden { .. }))
        ),
        "{not_theirs:?}"
    );
    let me = Actor::new("candidat", "camille");
    let self_validation = act(
        &engine,
        &id,
        &me,
        piece(&c, "cv", "valider_piece", None, None),
        now,
    );
    assert!(
        matches!(
            self_validation,
            Err(EngineError::Workflow(WorkflowError::Forbidden { .. }))
        ),
        "{self_validation:?}"
    );
    // Nothing was written by the refused commands.
    assert_eq!(
        engine.dossier(&id).unwrap().unwrap().candidatures[0].state,
        "en_attente"
    );
}

#[test]
fn the_campaign_dates_and_the_cap_are_enforced() {
    let folder = tempfile::tempdir().unwrap();
    let engine = Engine::open(osu(), SledStore::open(folder.path()).unwrap()).unwrap();
    let me = Actor::new("candidat", "camille");
    let before = at("2027-02-28T12:00:00Z");
    let dossier = engine
        .create_dossier("camille", camille(), "fr", before)
        .unwrap();
    let early = act(
        &engine,
        &dossier.id,
        &me,
        Command::Apply {
            formation: "m1-set".into(),
        },
        before,
    );
    assert!(
        matches!(
            early,
            Err(EngineError::Workflow(WorkflowError::CampaignClosed))
        ),
        "{early:?}"
    );

    let open = at("2027-06-15T21:00:00Z"); // 23:00 in Paris, the last day
    act(
        &engine,
        &dossier.id,
        &me,
        Command::Apply {
            formation: "m1-set".into(),
        },
        open,
    )
    .unwrap();
    let twice = act(
        &engine,
        &dossier.id,
        &me,
        Command::Apply {
            formation: "m1-set".into(),
        },
        open,
    );
    assert!(
        matches!(
            twice,
            Err(EngineError::Workflow(WorkflowError::AlreadyApplied { .. }))
        ),
        "{twice:?}"
    );

    let closed = at("2027-06-15T22:30:00Z"); // past midnight in Paris
    let late = act(
        &engine,
        &dossier.id,
        &me,
        Command::Apply {
            formation: "m1-oceanographie".into(),
        },
        closed,
    );
    assert!(
        matches!(
            late,
            Err(EngineError::Workflow(WorkflowError::CampaignClosed))
        ),
        "{late:?}"
    );
}

#[test]
fn deadlines_are_listed_and_handled_once() {
    let folder = tempfile::tempdir().unwrap();
    let engine = Engine::open(osu(), SledStore::open(folder.path()).unwrap()).unwrap();
    let now = at("2027-04-01T08:00:00Z");
    let (id, c) = ready_to_transmit(&engine, now);
    let me = Actor::new("candidat", "camille");
    act(
        &engine,
        &id,
        &me,
        piece(
            &c,
            "non_francophone",
            "deposer",
            Some(pdf("delf.pdf")),
            None,
        ),
        now,
    )
    .unwrap();
    transmit_and_decide(&engine, &id, &c, json!({"avis": "favorable"}), now);

    // Published on April 1st: reminder due 2 days before the 8-day deadline.
    let dossier = engine.dossier(&id).unwrap().unwrap();
    let pending = engine.deadlines_of(&dossier, now).unwrap();
    let names: Vec<(&str, String)> = pending
        .iter()
        .map(|d| (d.deadline.as_str(), d.at.to_string()))
        .collect();
    assert_eq!(
        names,
        [
            ("confirmation", "2027-04-09T08:00:00Z".to_string()),
            ("relance_confirmation", "2027-04-07T08:00:00Z".to_string())
        ]
    );
    assert!(engine.due(at("2027-04-07T07:59:59Z")).unwrap().is_empty());

    let reminded = engine.run_due(at("2027-04-07T09:00:00Z")).unwrap();
    assert_eq!(reminded.len(), 1);
    let outcome = reminded[0].1.as_ref().unwrap();
    assert_eq!(outcome.mails[0].mail, "relance_confirmation");
    assert!(
        outcome.mails[0].text.contains("2027-04-09"),
        "{}",
        outcome.mails[0].text
    );
    // Handled once: running again does nothing.
    assert!(engine
        .run_due(at("2027-04-08T09:00:00Z"))
        .unwrap()
        .is_empty());

    let expired = engine.run_due(at("2027-04-09T09:00:00Z")).unwrap();
    assert_eq!(expired.len(), 1);
    let outcome = expired[0].1.as_ref().unwrap();
    assert_eq!(outcome.dossier.candidatures[0].state, "desistee");
    assert_eq!(outcome.mails[0].mail, "desistement_auto");
    assert_eq!(outcome.event.actor.role, "systeme");
    // A candidate cannot run deadlines themselves.
    let forged = act(
        &engine,
        &id,
        &me,
        Command::Deadline {
            candidature: c,
            deadline: "confirmation".into(),
        },
        now,
    );
    assert!(
        matches!(
            forged,
            Err(EngineError::Workflow(WorkflowError::Forbidden { .. }))
        ),
        "{forged:?}"
    );
}

#[test]
fn conflicting_commands_one_wins_the_other_gets_a_conflict() {
    let folder = tempfile::tempdir().unwrap();
    let engine = Arc::new(Engine::open(osu(), SledStore::open(folder.path()).unwrap()).unwrap());
    let now = at("2027-03-10T09:00:00Z");
    for _round in 0..20 {
        let (id, c) = ready_to_transmit(&engine, now);
        let version = engine.dossier(&id).unwrap().unwrap().version;
        let barrier = Arc::new(Barrier::new(2));
        let commands = [
            transition(&c, "annuler", json!({})),
            piece(&c, "cv", "retirer", None, None),
        ];
        let handles: Vec<_> = commands
            .into_iter()
            .map(|command| {
                let (engine, barrier, id) = (Arc::clone(&engine), Arc::clone(&barrier), id.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    engine.apply(
                        &id,
                        version,
                        &Actor::new("candidat", "camille"),
                        command,
                        now,
                    )
                })
            })
            .collect();
        let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        let wins = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(wins, 1, "{results:?}");
        let loser = results.iter().find_map(|r| r.as_ref().err()).unwrap();
        assert!(loser.is_conflict(), "{loser:?}");
        let history = engine.history(&id).unwrap();
        let versions: Vec<u64> = history.iter().map(|e| e.version).collect();
        assert_eq!(
            versions,
            (1..=version + 1).collect::<Vec<_>>(),
            "no gap, no duplicate"
        );
    }
}

/// A deadline whose transition's guard does not hold yet stays due. The
/// scheduler's passes leave it alone until its dossier changes, or until an
/// hour has passed (the guard may read the time), instead of reading its
/// dossier again and reporting the same refusal at every pass.
#[test]
fn a_refused_deadline_is_tried_again_once_its_dossier_changes_or_an_hour_later() {
    let text = include_str!("fixtures/guarded-deadline.yaml");
    let definition =
        Definition::from_text("guarded-deadline.yaml", text).unwrap_or_else(|e| panic!("{e}"));
    let (_folder, engine) = support::open(definition);
    let me = Actor::new("candidate", "camille");
    let applied_at = at("2027-03-10T09:00:00Z");
    let dossier = engine
        .create_dossier("camille", camille(), "en", applied_at)
        .unwrap();
    let apply = Command::Apply {
        formation: "master".into(),
    };
    let c = act(&engine, &dossier.id, &me, apply, applied_at)
        .unwrap()
        .dossier
        .candidatures[0]
        .id
        .clone();
    let refused = |handled: &[guichet_engine::Handled]| {
        handled.len() == 1
            && matches!(
                handled[0].1,
                Err(EngineError::Workflow(WorkflowError::GuardFailed { .. }))
            )
    };

    // Due since the 11th: refused, the CV is missing.
    let first = engine.run_due(at("2027-03-12T09:00:00Z")).unwrap();
    assert!(refused(&first), "{first:?}");
    // Nothing changed: the next passes of the hour leave it alone.
    for minute in ["09:01", "09:30", "09:59"] {
        let pass = engine
            .run_due(at(&format!("2027-03-12T{minute}:00Z")))
            .unwrap();
        assert!(pass.is_empty(), "{minute}: {pass:?}");
    }
    assert_eq!(engine.due(at("2027-03-12T09:59:00Z")).unwrap().len(), 1);
    // An hour later, tried again: still refused.
    let later = engine.run_due(at("2027-03-12T10:00:00Z")).unwrap();
    assert!(refused(&later), "{later:?}");

    // The CV uploaded: the next pass tries it, and it holds.
    let upload = piece(&c, "cv", "upload", Some(pdf("cv.pdf")), None);
    act(
        &engine,
        &dossier.id,
        &me,
        upload,
        at("2027-03-12T10:05:00Z"),
    )
    .unwrap();
    let handled = engine.run_due(at("2027-03-12T10:06:00Z")).unwrap();
    assert_eq!(handled.len(), 1, "{handled:?}");
    let outcome = handled[0].1.as_ref().unwrap();
    assert_eq!(outcome.dossier.candidatures[0].state, "closed");
    assert!(engine
        .run_due(at("2027-03-12T12:00:00Z"))
        .unwrap()
        .is_empty());
}

#[test]
fn a_dossier_stays_on_the_definition_version_it_started_under() {
    let folder = tempfile::tempdir().unwrap();
    let now = at("2027-03-10T09:00:00Z");
    let old_hash;
    let id;
    {
        let engine = Engine::open(osu(), SledStore::open(folder.path()).unwrap()).unwrap();
        old_hash = engine.definition().hash().to_owned();
        id = ready_to_transmit(&engine, now).0;
    }
    // A new version renames a status label and drops the language piece.
    let mut bundle = osu().bundle().clone();
    bundle.text = bundle
        .text
        .replace("label: { fr: Réceptionné, en: Received }", "label: { fr: \"Dossier reçu\", en: Received }")
        .replace("pieces: [cv, lettre_motivation, releves_notes, diplomes, piece_identite, non_francophone]\n", "pieces: [cv, lettre_motivation, releves_notes, diplomes, piece_identite]\n");
    let newer = Definition::from_bundle(bundle).unwrap();
    assert_ne!(newer.hash(), old_hash);
    let engine = Engine::open(newer, SledStore::open(folder.path()).unwrap()).unwrap();
    let dossier = engine.dossier(&id).unwrap().unwrap();
    assert_eq!(dossier.definition, old_hash);
    // Under its own version the language piece is still required.
    let c = dossier.candidatures[0].id.clone();
    let me = Actor::new("candidat", "camille");
    let refused = act(
        &engine,
        &id,
        &me,
        transition(&c, "transmettre", json!({})),
        now,
    );
    assert!(
        matches!(
            refused,
            Err(EngineError::Workflow(WorkflowError::GuardFailed { .. }))
        ),
        "{refused:?}"
    );
    // A new dossier starts under the new version, where it is not asked for.
    let (new_id, new_c) = ready_to_transmit(&engine, now);
    assert_eq!(
        engine.dossier(&new_id).unwrap().unwrap().definition,
        engine.definition().hash()
    );
    let sent = act(
        &engine,
        &new_id,
        &me,
        transition(&new_c, "transmettre", json!({})),
        now,
    )
    .unwrap();
    assert_eq!(sent.mails[0].mail, "statut_receptionne");
    // Counted per version from the index, as the dossiers say.
    let new_hash = engine.definition().hash().to_owned();
    let per_version = |engine: &Engine<SledStore>| -> Vec<(String, usize)> {
        engine.dossiers_per_version().unwrap().into_iter().collect()
    };
    let mut expected = vec![(old_hash.clone(), 1), (new_hash.clone(), 1)];
    expected.sort();
    assert_eq!(per_version(&engine), expected);
    // Moved to the new version: counted under it alone.
    let administrator = Actor::new("administrator", "admin@example.org");
    let moved = engine.migrate(&id, &administrator, now).unwrap();
    assert!(
        matches!(moved, guichet_engine::Migrated::Moved),
        "{moved:?}"
    );
    assert_eq!(per_version(&engine), vec![(new_hash, 2)]);
}

/// The child side of the kill test: applies commands and says so after each.
#[test]
fn child_applying_commands_until_killed() {
    let Ok(dir) = std::env::var("GUICHET_KILL_TEST_DIR") else {
        return; // only meaningful when started by the kill test below
    };
    let engine = Engine::open(osu(), SledStore::open(&dir).unwrap()).unwrap();
    let now = at("2027-03-10T09:00:00Z");
    let dossier = engine
        .create_dossier("camille", camille(), "fr", now)
        .unwrap();
    println!("dossier {}", dossier.id);
    let me = Actor::new("candidat", "camille");
    for n in 0..100_000u64 {
        let answers = json!({"adresse": format!("{n} rue Sainte"), "code_postal": "13001"});
        let outcome = act(
            &engine,
            &dossier.id,
            &me,
            Command::SaveSection {
                section: "coordonnees".into(),
                answers,
            },
            now,
        )
        .unwrap();
        // Acknowledged: apply returned, so the write is durable.
        println!("ack {}", outcome.dossier.version);
    }
}

#[test]
fn an_acknowledged_command_survives_sigkill() {
    let folder = tempfile::tempdir().unwrap();
    let mut child = Process::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_applying_commands_until_killed",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("GUICHET_KILL_TEST_DIR", folder.path())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut dossier = None;
    let mut acknowledged = 0;
    for line in lines.by_ref() {
        let line = line.unwrap();
        // The test harness may print its own text before ours on the same line.
        if let Some((_, id)) = line.split_once("dossier ") {
            dossier = Some(id.trim().to_owned());
        }
        if let Some(version) = line.strip_prefix("ack ") {
            acknowledged = version.parse().unwrap();
            if acknowledged >= 40 {
                // SIGKILL right after an acknowledgement: no chance to flush anything.
                child.kill().unwrap();
                break;
            }
        }
    }
    child.wait().unwrap();
    let id = dossier.expect("the child created a dossier");
    let engine = Engine::open(osu(), SledStore::open(folder.path()).unwrap()).unwrap();
    let stored = engine.dossier(&id).unwrap().expect("the dossier survived");
    assert!(
        stored.version >= acknowledged,
        "acknowledged {acknowledged}, found {}",
        stored.version
    );
    let address = &stored.profile["coordonnees"]["adresse"];
    let expected = format!("{} rue Sainte", stored.version - 2);
    assert_eq!(address, &json!(expected));
    assert_eq!(engine.history(&id).unwrap().len() as u64, stored.version);
    // The answers kept apart for exports are the dossier's as stored, even
    // if the kill cut the next save between them and the dossier.
    let own = engine.answers_of(&id, "no-candidature").unwrap();
    assert_eq!(own.as_ref(), Some(&stored.profile));
}

#[test]
fn a_write_of_several_dossiers_is_all_or_nothing() {
    use guichet_engine::{Commit, Store, StoreError};
    let folder = tempfile::tempdir().unwrap();
    let store = SledStore::open(folder.path()).unwrap();
    let engine = Engine::open(osu(), store).unwrap();
    let now = at("2027-03-10T09:00:00Z");
    let first = engine
        .create_dossier("camille", camille(), "fr", now)
        .unwrap();
    let second = engine.create_dossier("noe", camille(), "fr", now).unwrap();
    let next = |dossier: &guichet_engine::Dossier, expected_version: u64| {
        let mut changed = dossier.clone();
        changed.version += 1;
        changed.language = "en".into();
        let mut event = engine.history(&dossier.id).unwrap()[0].clone();
        event.version = changed.version;
        Commit {
            expected_version,
            dossier: changed,
            event,
            mails: Vec::new(),
            indexed: Default::default(),
        }
    };
    // The second dossier's version is stale: neither is written.
    let result = engine.store().commit(&[next(&first, 1), next(&second, 7)]);
    assert!(
        matches!(
            result,
            Err(StoreError::Conflict {
                found: 1,
                expected: 7,
                ..
            })
        ),
        "{result:?}"
    );
    assert_eq!(*engine.dossier(&first.id).unwrap().unwrap(), first);
    assert_eq!(engine.history(&first.id).unwrap().len(), 1);
    // Both current: both are written.
    engine
        .store()
        .commit(&[next(&first, 1), next(&second, 1)])
        .unwrap();
    assert_eq!(engine.dossier(&first.id).unwrap().unwrap().version, 2);
    assert_eq!(engine.dossier(&second.id).unwrap().unwrap().language, "en");
}

#[test]
fn a_published_version_serves_new_dossiers_while_those_in_progress_keep_theirs() {
    let folder = tempfile::tempdir().unwrap();
    let store = SledStore::open(folder.path().join("store")).unwrap();
    let engine = Engine::open(osu(), store).unwrap();
    let now = at("2027-03-10T10:00:00Z");
    let before = engine.create_dossier("ada", camille(), "fr", now).unwrap();
    let first = engine.definition().hash().to_owned();
    // The same procedure, its cap changed, written beside its lists.
    let copy = folder.path().join("definition");
    std::fs::create_dir_all(copy.join("data")).unwrap();
    for list in std::fs::read_dir(support::osu_path().with_file_name("data")).unwrap() {
        let list = list.unwrap();
        std::fs::copy(list.path(), copy.join("data").join(list.file_name())).unwrap();
    }
    let text = std::fs::read_to_string(support::osu_path())
        .unwrap()
        .replace("max_candidatures: 20", "max_candidatures: 3");
    std::fs::write(copy.join("changed.yaml"), text).unwrap();
    let changed = Definition::load(copy.join("changed.yaml")).unwrap();
    let second = changed.hash().to_owned();
    engine
        .publish(Arc::new(changed), "admin@example.org", now)
        .unwrap();

    assert_eq!(engine.definition().hash(), second);
    let after = engine
        .create_dossier("bruno", camille(), "fr", now)
        .unwrap();
    assert_eq!(after.definition, second);
    let kept = engine.dossier(&before.id).unwrap().unwrap();
    assert_eq!(kept.definition, first);
    assert_eq!(engine.definition_of(&kept).unwrap().hash(), first);
    let publications = engine.publications().unwrap();
    let who: Vec<(&str, &str)> = publications
        .iter()
        .map(|p| (p.hash.as_str(), p.by.as_str()))
        .collect();
    assert_eq!(
        who,
        [
            (first.as_str(), "start-up"),
            (second.as_str(), "admin@example.org")
        ]
    );
    // Reopened on the first file: a publication again, the second kept.
    drop(engine);
    // sled lets its lock go once its flusher stops.
    let store = (0..100)
        .find_map(|_| {
            let opened = SledStore::open(folder.path().join("store")).ok();
            if opened.is_none() {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            opened
        })
        .expect("the store reopens");
    let engine = Engine::open(osu(), store).unwrap();
    assert_eq!(engine.publications().unwrap().len(), 3);
    assert!(engine.version(&second).unwrap().is_some());
}

/// An account mail to `to`, queued at `now`.
fn queue_activation(engine: &Engine<SledStore>, to: &str, now: Timestamp) -> String {
    let context = json!({"account": {"first_name": "Camille", "last_name": "Durand",
                         "email": to, "identifier": to},
                         "link": "http://127.0.0.1/activer/x", "expires_at": "2027-03-11 09:00"});
    let mail = engine
        .queue_account_mail("compte_activation", to, "fr", &context, now)
        .unwrap();
    mail.id
}

#[test]
fn the_outbox_reads_a_page_at_a_time_in_the_order_mails_were_queued() {
    let folder = tempfile::tempdir().unwrap();
    let engine = Engine::open(osu(), SledStore::open(folder.path()).unwrap()).unwrap();
    let start = at("2027-03-10T09:00:00Z");
    // Queued out of the order of their ids (random), and two in one instant.
    let mut queued = Vec::new();
    for (n, seconds) in [30, 10, 20, 20, 0].into_iter().enumerate() {
        let when = start + jiff::SignedDuration::from_secs(seconds);
        queued.push((
            when,
            queue_activation(&engine, &format!("c{n}@example.org"), when),
        ));
    }
    queued.sort();
    let mut read = Vec::new();
    let mut after = None;
    loop {
        let page = engine.outbox_page(after.as_ref(), 2).unwrap();
        assert!(page.len() <= 2);
        let Some(last) = page.last().cloned() else {
            break;
        };
        read.extend(page.into_iter().map(|m| (m.queued_at, m.id)));
        after = Some(last);
    }
    assert_eq!(read, queued);

    // A sent mail leaves; the others keep their order.
    let third = engine.outbox_page(None, 3).unwrap().pop().unwrap();
    engine.mark_sent(&third).unwrap();
    let left: Vec<String> = engine.outbox().unwrap().into_iter().map(|m| m.id).collect();
    let mut expected: Vec<String> = queued.into_iter().map(|(_, id)| id).collect();
    expected.retain(|id| *id != third.id);
    assert_eq!(left, expected);
}

#[test]
fn mails_queued_by_an_earlier_version_keep_their_place_in_the_outbox() {
    let folder = tempfile::tempdir().unwrap();
    let engine = Engine::open(osu(), SledStore::open(folder.path()).unwrap()).unwrap();
    let start = at("2027-03-10T09:00:00Z");
    let first = queue_activation(&engine, "a@example.org", start);
    let later = start + jiff::SignedDuration::from_secs(60);
    let second = queue_activation(&engine, "b@example.org", later);
    let mails = engine.outbox().unwrap();
    drop(engine);
    // An earlier version keyed each mail by its id alone.
    {
        let db = sled::open(folder.path()).unwrap();
        let outbox = db.open_tree("outbox").unwrap();
        outbox.clear().unwrap();
        for mail in mails.iter().rev() {
            outbox
                .insert(mail.id.as_bytes(), serde_json::to_vec(mail).unwrap())
                .unwrap();
        }
        db.flush().unwrap();
    }
    let engine = Engine::open(osu(), SledStore::open(folder.path()).unwrap()).unwrap();
    let ids: Vec<String> = engine.outbox().unwrap().into_iter().map(|m| m.id).collect();
    assert_eq!(ids, [first.clone(), second.clone()]);
    let oldest = engine.outbox_page(None, 1).unwrap().remove(0);
    engine.mark_sent(&oldest).unwrap();
    let ids: Vec<String> = engine.outbox().unwrap().into_iter().map(|m| m.id).collect();
    assert_eq!(ids, [second]);
}

#[test]
fn an_event_keeps_what_a_save_changed_not_the_whole_section() {
    let folder = tempfile::tempdir().unwrap();
    let engine = Engine::open(osu(), SledStore::open(folder.path()).unwrap()).unwrap();
    let now = at("2027-03-10T09:00:00Z");
    let id = engine
        .create_dossier("camille", camille(), "fr", now)
        .unwrap()
        .id;
    let me = Actor::new("candidat", "camille");
    for street in ["1 rue Sainte", "2 rue Sainte"] {
        let answers = json!({"adresse": street, "code_postal": "13001"});
        let section = "coordonnees".to_owned();
        act(
            &engine,
            &id,
            &me,
            Command::SaveSection { section, answers },
            now,
        )
        .unwrap();
    }
    // Read back from a store opened again: what was kept on disk.
    drop(engine);
    let store = reopened(|| SledStore::open(folder.path()));
    let engine = Engine::open(osu(), store).unwrap();
    let history = engine.history(&id).unwrap();
    let last = history.last().unwrap();
    assert_eq!((last.dossier.as_str(), last.version), (id.as_str(), 3));
    assert_eq!(
        last.command,
        Some(Command::SaveSection {
            section: "coordonnees".into(),
            answers: serde_json::Value::Null,
        })
    );
    // Only the street changed: the postcode, sent again, is not repeated.
    let changed: Vec<_> = last
        .changes
        .iter()
        .map(|c| (c.path.as_str(), c.before.clone(), c.after.clone()))
        .collect();
    assert_eq!(
        changed,
        [(
            "profile/coordonnees/adresse",
            json!("1 rue Sainte"),
            json!("2 rue Sainte")
        )]
    );
}

#[test]
fn a_candidature_is_read_with_the_answers_it_was_sent_with() {
    let folder = tempfile::tempdir().unwrap();
    let now = at("2027-03-10T09:00:00Z");
    let identity = |name: &str| {
        json!({"civilite": "mme", "nom_naissance": name, "prenoms": "Camille",
               "date_naissance": "2003-05-14", "commune_naissance": "Lyon",
               "pays_naissance": "FR", "nationalite": "FR"})
    };
    let names = |engine: &Engine<SledStore>, dossier: &str, candidature: &str| {
        let answers = engine.answers_of(dossier, candidature).unwrap().unwrap();
        let whole = engine.dossier(dossier).unwrap().unwrap();
        assert_eq!(&answers, whole.answers_of(candidature));
        answers["etat_civil"]["nom_naissance"].clone()
    };
    let opened = || SledStore::open(folder.path()).map(|store| Engine::open(osu(), store));
    let (journey, other) = {
        let engine = opened().unwrap().unwrap();
        let journey = Journey::ready_to_transmit(
            &engine,
            ("camille", "Camille"),
            &[("etat_civil", identity("Durand"))],
            "m1-set",
            now,
        );
        journey.transmit(&engine, now).unwrap();
        assert_eq!(
            answers_kept(&engine, SENT),
            0,
            "sent with the dossier's own answers as they are"
        );
        let save = Command::SaveSection {
            section: "etat_civil".into(),
            answers: identity("Martin"),
        };
        act(&engine, &journey.dossier, &journey.me, save, now).unwrap();
        let apply = Command::Apply {
            formation: "m1-oceanographie".into(),
        };
        let applied = act(&engine, &journey.dossier, &journey.me, apply, now).unwrap();
        let other = applied.dossier.candidatures.last().unwrap().id.clone();
        // Written twice: kept among the store's recent dossiers.
        assert_eq!(
            names(&engine, &journey.dossier, &journey.candidature),
            "Durand"
        );
        assert_eq!(names(&engine, &journey.dossier, &other), "Martin");
        assert_eq!(
            answers_kept(&engine, SENT),
            1,
            "the sent candidature's, apart once the dossier's differ"
        );
        assert_eq!(answers_kept(&engine, OWN), 1, "the dossier's, apart");
        (journey, other)
    };
    // Read from the store: the sent answers apart, the others the
    // dossier's own, apart too.
    let check = |engine: &Engine<SledStore>| {
        assert_eq!(
            names(engine, &journey.dossier, &journey.candidature),
            "Durand"
        );
        assert_eq!(names(engine, &journey.dossier, &other), "Martin");
        assert_eq!(
            names(engine, &journey.dossier, "no-such-candidature"),
            "Martin"
        );
        assert_eq!(engine.answers_of("no-such-dossier", &other).unwrap(), None);
    };
    check(&reopened(|| opened().map(Result::unwrap)));
    // A store of an earlier version gets both at its opening.
    {
        let db = reopened(|| sled::open(folder.path()));
        let marker = SledStore::INDEXES_BUILT;
        db.remove(marker)
            .unwrap()
            .expect("the marker of this version");
        db.drop_tree(SENT).unwrap();
        db.drop_tree(OWN).unwrap();
        db.flush().unwrap();
    }
    let engine = reopened(|| opened().map(Result::unwrap));
    assert_eq!(answers_kept(&engine, SENT), 1);
    assert_eq!(answers_kept(&engine, OWN), 1);
    check(&engine);
    // The dossier's own answers back to the sent ones: the copy goes.
    let version = engine.dossier(&journey.dossier).unwrap().unwrap().version;
    let save = Command::SaveSection {
        section: "etat_civil".into(),
        answers: identity("Durand"),
    };
    engine
        .apply(&journey.dossier, version, &journey.me, save, now)
        .unwrap();
    assert_eq!(answers_kept(&engine, SENT), 0);
    drop(engine);
    let engine = reopened(|| opened().map(Result::unwrap));
    assert_eq!(
        names(&engine, &journey.dossier, &journey.candidature),
        "Durand"
    );
    assert_eq!(names(&engine, &journey.dossier, &other), "Durand");
}

/// The trees of the answers of sent candidatures, and of dossiers' own.
const SENT: &str = "answers_sent_by_candidature";
const OWN: &str = "answers_own_by_dossier";

/// How many answers the store keeps in `tree`.
fn answers_kept(engine: &Engine<SledStore>, tree: &str) -> u64 {
    let sizes = engine.store().sizes().unwrap();
    let kept = sizes.iter().find(|t| t.name == tree);
    kept.map_or(0, |t| t.entries)
}

/// Where a dossier's profile stands is kept for the dossier's version, and
/// found again once the candidate saves; a profile whose conditions read the
/// date is evaluated at every reading, as the date moves on.
#[test]
fn a_profile_state_is_kept_for_its_dossier_version_unless_it_reads_the_clock() {
    let identity = "      - { id: nationality, type: text, label: Nationality }\n";
    let fields = "      - { id: nationality, type: text, label: Nationality, required: true }\n      - { id: visa, type: text, label: Visa, required: true, when: \"nationality != 'FR'\" }\n";
    let text = include_str!("fixtures/minimal.yaml").replace(identity, fields);
    let definition = Definition::from_text("profile.yaml", &text).unwrap_or_else(|e| panic!("{e}"));
    assert!(!definition.profile_reads_the_clock());
    let (_folder, engine) = support::open(definition);
    let definition = engine.definition();
    let me = Actor::new("candidate", "camille");
    let now = at("2027-03-10T09:00:00Z");
    let dossier = engine
        .create_dossier("camille", camille(), "en", now)
        .unwrap();
    let complete = |dossier: &guichet_engine::Dossier| {
        let sections = engine.profile_state(&definition, dossier, now).unwrap();
        assert_eq!(
            sections.to_vec(),
            guichet_engine::profile_state(&definition, dossier, now).unwrap()
        );
        (sections[0].complete, sections[0].missing.clone())
    };
    let nothing = vec!["nationality".to_owned(), "visa".to_owned()];
    assert_eq!(complete(&dossier), (false, nothing));
    // Read again at the same version: the same state, not evaluated again.
    let first = engine.profile_state(&definition, &dossier, now).unwrap();
    let again = engine.profile_state(&definition, &dossier, now).unwrap();
    assert!(Arc::ptr_eq(&first, &again));

    // Each save is a new version, and the state follows it.
    let save = |nationality: &str| Command::SaveSection {
        section: "identity".into(),
        answers: json!({ "nationality": nationality }),
    };
    let italian = act(&engine, &dossier.id, &me, save("IT"), now)
        .unwrap()
        .dossier;
    assert_eq!(complete(&italian), (false, vec!["visa".to_owned()]));
    let french = act(&engine, &dossier.id, &me, save("FR"), now)
        .unwrap()
        .dossier;
    assert_eq!(complete(&french), (true, vec![]));
    // A reading of the older version (a page made before the save) is its own.
    assert_eq!(complete(&italian), (false, vec!["visa".to_owned()]));

    // A section that applies only from May: the same dossier is complete in
    // April and not in May.
    let late = "  - id: late\n    title: Late questions\n    when: \"today >= '2027-05-01'\"\n    fields:\n      - { id: reason, type: text, label: Reason, required: true }\npieces:\n";
    let text = include_str!("fixtures/minimal.yaml").replacen("pieces:\n", late, 1);
    let definition = Definition::from_text("late.yaml", &text).unwrap_or_else(|e| panic!("{e}"));
    assert!(definition.profile_reads_the_clock());
    let (_folder, engine) = support::open(definition);
    let definition = engine.definition();
    let dossier = engine
        .create_dossier("camille", camille(), "en", now)
        .unwrap();
    let late_complete = |now: &str| {
        let sections = engine
            .profile_state(&definition, &dossier, at(now))
            .unwrap();
        (sections[1].section.clone(), sections[1].complete)
    };
    assert_eq!(late_complete("2027-04-30T09:00:00Z"), ("late".into(), true));
    assert_eq!(
        late_complete("2027-05-02T09:00:00Z"),
        ("late".into(), false)
    );
}
