//! The candidate manual's whole journey on the OSU Pythéas definition, through
//! the engine API, checking every status and every mail on the way; and the
//! waiting list moving up when a favoured candidate withdraws.

mod support;

use guichet_engine::{profile_state, Actor, Command, Engine, OutboxMail, SledStore};
use jiff::Timestamp;
use serde_json::{json, Value};
use support::{act, at, candidate, file, osu, piece, transition, Journey};

/// Applies a command and returns the ids of the mails it queued.
fn run(
    engine: &Engine<SledStore>,
    dossier: &str,
    actor: &Actor,
    command: Command,
    now: Timestamp,
) -> Vec<OutboxMail> {
    act(engine, dossier, actor, command, now)
        .unwrap_or_else(|e| panic!("{e}"))
        .mails
}

fn ids(mails: &[OutboxMail]) -> Vec<&str> {
    mails.iter().map(|m| m.mail.as_str()).collect()
}

fn state(engine: &Engine<SledStore>, dossier: &str) -> String {
    engine.dossier(dossier).unwrap().unwrap().candidatures[0]
        .state
        .clone()
}

fn save(section: &str, answers: Value) -> Command {
    Command::SaveSection {
        section: section.into(),
        answers,
    }
}

#[test]
fn the_manual_journey_from_account_to_confirmation() {
    let (_folder, engine) = support::open(osu());
    let now = at("2027-03-15T10:00:00Z");
    let me = Actor::new("candidat", "camille");
    let office = Actor::new("gestionnaire", "agent-scolarite");
    let committee = Actor::new("commission", "president-jury");
    let import = Actor::new("systeme", "apogee");

    // I. Creating the dossier: the account, then the six sections.
    let dossier = engine
        .create_dossier("camille", candidate("Camille"), "fr", now)
        .unwrap()
        .id;
    let sections = [
        (
            "etat_civil",
            json!({"civilite": "mme", "nom_naissance": "Durand", "prenoms": "Camille", "date_naissance": "2002-11-02",
                              "commune_naissance": "Aix-en-Provence", "pays_naissance": "FR", "nationalite": "FR", "ine": "0987654321X"}),
        ),
        (
            "coordonnees",
            json!({"adresse": "3 place des Prêcheurs", "code_postal": "13100", "commune": "Aix-en-Provence",
                               "pays": "FR", "telephone": "06 11 22 33 44", "email": "camille.durand@example.org"}),
        ),
        (
            "baccalaureat",
            json!({"situation": "bac_francais", "annee": 2020, "serie": "S", "commune": "13001", "etablissement": "aix-cezanne"}),
        ),
        (
            "cursus_externe",
            json!([
                {"annee": 2020, "niveau": "bts1", "etablissement": "Lycée Vauvenargues", "pays": "FR", "intitule": "BTS1, Métiers de l'eau", "obtenu": "oui"},
                {"annee": 2021, "niveau": "bts2", "etablissement": "Lycée Vauvenargues", "pays": "FR", "intitule": "BTS2, Métiers de l'eau", "obtenu": "oui"},
            ]),
        ),
        (
            "stages",
            json!([{"debut": "2022-06-01", "fin": "2022-08-31", "employeur": "Société des Eaux de Marseille", "fonction": "Stagiaire"}]),
        ),
    ];
    for (section, answers) in sections {
        assert!(run(&engine, &dossier, &me, save(section, answers), now).is_empty());
    }
    // The internal curriculum comes from the student information system.
    run(
        &engine,
        &dossier,
        &import,
        save(
            "cursus_interne",
            json!([{"annee": 2022, "diplome": "Licence Sciences de la Terre", "resultat": "Admis"}]),
        ),
        now,
    );
    let sections = profile_state(
        &engine.definition(),
        &engine.dossier(&dossier).unwrap().unwrap(),
        now,
    )
    .unwrap();
    assert!(sections.iter().all(|s| s.complete), "{sections:#?}");
    assert_eq!(sections.len(), 6);

    // II. Choosing a formation: the summary lists the pieces to provide.
    let mails = run(
        &engine,
        &dossier,
        &me,
        Command::Apply {
            formation: "m1-oceanographie".into(),
        },
        now,
    );
    assert_eq!(ids(&mails), ["candidature_creee"]);
    assert!(mails[0].subject.contains("Master Océanographie — M1"));
    assert_eq!(state(&engine, &dossier), "en_attente");
    let pieces: Vec<String> = engine.dossier(&dossier).unwrap().unwrap().candidatures[0]
        .pieces
        .keys()
        .cloned()
        .collect();
    assert_eq!(pieces.len(), 7);

    // III. Pieces: upload each, or declare not concerned.
    for id in [
        "cv",
        "lettre_motivation",
        "releves_notes",
        "diplomes",
        "piece_identite",
    ] {
        let upload = piece(
            "c1",
            id,
            "deposer",
            Some(file(&format!("{id}.pdf"), "pdf", 300_000)),
            None,
        );
        assert!(run(&engine, &dossier, &me, upload, now).is_empty());
    }
    run(
        &engine,
        &dossier,
        &me,
        piece("c1", "non_francophone", "declarer_non_concerne", None, None),
        now,
    );
    // The complementary form, answered online, stands for its piece.
    let answers = json!({"projet": "Étudier la circulation côtière.", "embarquement": false});
    let form = Command::SaveForm {
        candidature: "c1".into(),
        answers: answers.as_object().cloned().unwrap_or_default(),
    };
    assert!(run(&engine, &dossier, &me, form, now).is_empty());

    // IV. Transmission: received, and the commission is told.
    let mails = run(
        &engine,
        &dossier,
        &me,
        transition("c1", "transmettre", json!({})),
        now,
    );
    assert_eq!(ids(&mails), ["statut_receptionne", "alerte_commission"]);
    assert_eq!(mails[0].to, ["camille.durand@example.org"]);
    assert!(mails[0].text.contains("a bien été réceptionné"));
    assert_eq!(mails[1].to, ["commission@osupytheas.fr"]);
    assert_eq!(state(&engine, &dossier), "receptionne");

    // The scolarité refuses the transcripts: the dossier is incomplete.
    run(
        &engine,
        &dossier,
        &office,
        piece("c1", "cv", "valider_piece", None, None),
        now,
    );
    run(
        &engine,
        &dossier,
        &office,
        piece(
            "c1",
            "releves_notes",
            "refuser_piece",
            None,
            Some("Le relevé de BTS2 manque."),
        ),
        now,
    );
    let mails = run(
        &engine,
        &dossier,
        &office,
        transition("c1", "declarer_incomplet", json!({})),
        now,
    );
    assert_eq!(ids(&mails), ["statut_incomplet"]);
    assert!(
        mails[0]
            .text
            .contains("- Relevés de notes : Le relevé de BTS2 manque."),
        "{}",
        mails[0].text
    );
    assert!(
        !mails[0].text.contains("Curriculum vitae"),
        "only refused pieces are listed"
    );
    assert_eq!(state(&engine, &dossier), "incomplet");

    // The candidate replaces the piece and transmits again.
    let later = at("2027-03-20T10:00:00Z");
    run(
        &engine,
        &dossier,
        &me,
        piece(
            "c1",
            "releves_notes",
            "deposer",
            Some(file("releves-complets.pdf", "pdf", 900_000)),
            None,
        ),
        later,
    );
    let mails = run(
        &engine,
        &dossier,
        &me,
        transition("c1", "transmettre", json!({})),
        later,
    );
    assert_eq!(ids(&mails), ["statut_receptionne", "alerte_commission"]);
    let mails = run(
        &engine,
        &dossier,
        &office,
        transition("c1", "declarer_complet", json!({})),
        later,
    );
    assert_eq!(ids(&mails), ["statut_complet"]);
    assert_eq!(state(&engine, &dossier), "complet");

    // The commission's favourable decision, published by the scolarité.
    let decided = at("2027-05-02T10:00:00Z");
    assert!(run(
        &engine,
        &dossier,
        &committee,
        transition("c1", "saisir_avis", json!({"avis": "favorable"})),
        decided
    )
    .is_empty());
    assert_eq!(state(&engine, &dossier), "avis_saisi");
    let mails = run(
        &engine,
        &dossier,
        &office,
        transition("c1", "publier_avis", json!({})),
        decided,
    );
    assert_eq!(ids(&mails), ["avis_favorable"]);
    assert!(mails[0].text.contains("avis favorable"));
    assert_eq!(state(&engine, &dossier), "avis_publie");

    // The candidate confirms before the deadline.
    let due = engine
        .deadlines_of(&engine.dossier(&dossier).unwrap().unwrap(), decided)
        .unwrap();
    assert!(
        due.iter()
            .any(|d| d.deadline == "confirmation" && d.at == at("2027-05-10T10:00:00Z")),
        "{due:?}"
    );
    let mails = run(
        &engine,
        &dossier,
        &me,
        transition("c1", "confirmer", json!({})),
        at("2027-05-05T10:00:00Z"),
    );
    assert_eq!(ids(&mails), ["confirmation"]);
    assert_eq!(state(&engine, &dossier), "confirmee");
    assert!(
        engine.due(at("2027-06-30T10:00:00Z")).unwrap().is_empty(),
        "nothing left to chase"
    );

    // Every mail of the journey waits in the outbox, in order.
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
            "avis_favorable",
            "confirmation"
        ]
    );
}

/// A candidature of `owner` to M1 SET, transmitted, complete, with `decision` published.
fn decided(engine: &Engine<SledStore>, owner: &str, decision: Value, now: Timestamp) -> String {
    let journey = Journey::ready_to_transmit(engine, (owner, owner), &[], "m1-set", now);
    journey.transmit(engine, now).unwrap();
    let dossier = journey.dossier;
    let office = Actor::new("gestionnaire", "agent");
    run(
        engine,
        &dossier,
        &office,
        transition("c1", "declarer_complet", json!({})),
        now,
    );
    run(
        engine,
        &dossier,
        &Actor::new("commission", "jury"),
        transition("c1", "saisir_avis", decision),
        now,
    );
    run(
        engine,
        &dossier,
        &office,
        transition("c1", "publier_avis", json!({})),
        now,
    );
    dossier
}

/// Alice admitted, then Bruno and Chloé on the waiting list at ranks 2
/// and 1 (their dossiers, in that order).
fn admitted_and_waiting(engine: &Engine<SledStore>, now: Timestamp) -> [String; 3] {
    let waiting = |owner: &str, rank: u32| {
        let decision = json!({"avis": "liste_complementaire", "rang": rank});
        decided(engine, owner, decision, now)
    };
    let admitted = decided(engine, "alice", json!({"avis": "favorable"}), now);
    [admitted, waiting("bruno", 2), waiting("chloe", 1)]
}

/// Alice withdraws from the place she was admitted to.
fn alice_withdraws(
    engine: &Engine<SledStore>,
    admitted: &str,
    now: Timestamp,
) -> guichet_engine::Outcome {
    let alice = Actor::new("candidat", "alice");
    let withdrawal = transition("c1", "se_desister", json!({}));
    act(engine, admitted, &alice, withdrawal, now).unwrap()
}

#[test]
fn a_withdrawal_gives_the_place_to_the_best_ranked_on_the_waiting_list() {
    let (_folder, engine) = support::open(osu());
    let now = at("2027-05-02T10:00:00Z");
    let [admitted, second, first] = admitted_and_waiting(&engine, now);

    let withdrawal = alice_withdraws(&engine, &admitted, now);
    assert_eq!(
        ids(&withdrawal.mails),
        ["desistement", "alerte_desistement"]
    );
    assert_eq!(withdrawal.follow_ups.len(), 1);
    let promoted = withdrawal.follow_ups[0].as_ref().unwrap();
    assert_eq!(promoted.dossier.id, first, "rank 1 goes first");
    assert_eq!(
        ids(&promoted.mails),
        ["avis_favorable", "alerte_liste_principale"]
    );
    assert!(promoted.mails[1].text.contains("rang 1"));
    assert_eq!(promoted.event.actor.role, "systeme");

    let chloe = engine.dossier(&first).unwrap().unwrap();
    assert_eq!(chloe.candidatures[0].data["avis"], "favorable");
    assert_eq!(chloe.candidatures[0].state, "avis_publie");
    let bruno = engine.dossier(&second).unwrap().unwrap();
    assert_eq!(bruno.candidatures[0].data["avis"], "liste_complementaire");

    // Chloé can now confirm; if she lets the deadline pass, Bruno moves up.
    let handled = engine.run_due(at("2027-05-10T11:00:00Z")).unwrap();
    let withdrawn: Vec<&str> = handled
        .iter()
        .map(|(due, _)| due.deadline.as_str())
        .collect();
    assert!(withdrawn.contains(&"confirmation"), "{withdrawn:?}");
    let bruno = engine.dossier(&second).unwrap().unwrap();
    assert_eq!(bruno.candidatures[0].data["avis"], "favorable");
}

#[test]
fn staff_see_what_was_sent_until_the_candidate_sends_again() {
    let (_folder, engine) = support::open(osu());
    let now = at("2027-03-15T10:00:00Z");
    let office = Actor::new("gestionnaire", "agent");
    let address = json!({"commune": "Marseille"});
    let journey = Journey::ready_to_transmit(
        &engine,
        ("camille", "Camille"),
        &[("coordonnees", address)],
        "m1-set",
        now,
    );
    journey.transmit(&engine, now).unwrap();
    let (dossier, me) = (journey.dossier, journey.me);
    let sent = |engine: &Engine<SledStore>| {
        engine.dossier(&dossier).unwrap().unwrap().candidatures[0]
            .sent
            .clone()
            .unwrap()
    };
    assert_eq!(
        sent(&engine).pieces["cv"].file.as_ref().unwrap().name,
        "cv.pdf"
    );

    // Staff decisions apply to what they see.
    run(
        &engine,
        &dossier,
        &office,
        piece("c1", "cv", "refuser_piece", None, Some("Illisible")),
        now,
    );
    run(
        &engine,
        &dossier,
        &office,
        transition("c1", "declarer_incomplet", json!({})),
        now,
    );
    assert_eq!(sent(&engine).pieces["cv"].status, "refusee");

    // The candidate's edits stay with the candidate until sent again.
    run(
        &engine,
        &dossier,
        &me,
        piece(
            "c1",
            "cv",
            "deposer",
            Some(file("cv-v2.pdf", "pdf", 2000)),
            None,
        ),
        now,
    );
    run(
        &engine,
        &dossier,
        &me,
        save("coordonnees", json!({"commune": "Aix-en-Provence"})),
        now,
    );
    let live = engine.dossier(&dossier).unwrap().unwrap();
    assert_eq!(
        live.candidatures[0].pieces["cv"]
            .file
            .as_ref()
            .unwrap()
            .name,
        "cv-v2.pdf"
    );
    assert_eq!(
        sent(&engine).pieces["cv"].file.as_ref().unwrap().name,
        "cv.pdf"
    );
    assert_eq!(sent(&engine).pieces["cv"].status, "refusee");
    assert_eq!(sent(&engine).profile["coordonnees"]["commune"], "Marseille");

    let later = at("2027-03-16T10:00:00Z");
    run(
        &engine,
        &dossier,
        &me,
        transition("c1", "transmettre", json!({})),
        later,
    );
    let copy = sent(&engine);
    assert_eq!(copy.at, later);
    assert_eq!(copy.pieces["cv"].file.as_ref().unwrap().name, "cv-v2.pdf");
    assert_eq!(copy.pieces["cv"].status, "transmise");
    assert_eq!(copy.profile["coordonnees"]["commune"], "Aix-en-Provence");
}

#[test]
fn when_the_clock_jumps_past_a_reminder_and_its_deadline_only_the_deadline_acts() {
    let (_folder, engine) = support::open(osu());
    let decided_at = at("2027-05-02T10:00:00Z");
    let dossier = decided(&engine, "alice", json!({"avis": "favorable"}), decided_at);
    let before = engine.outbox().unwrap().len();
    // Nothing ran for ten days: the reminder (two days before) and the
    // confirmation deadline itself are both past.
    let handled = engine.run_due(at("2027-05-12T10:00:00Z")).unwrap();
    let ran: Vec<&str> = handled.iter().map(|(d, _)| d.deadline.as_str()).collect();
    assert_eq!(ran, ["confirmation"]);
    let queued: Vec<String> = engine.outbox().unwrap()[before..]
        .iter()
        .map(|m| m.mail.clone())
        .collect();
    assert!(
        !queued.contains(&"relance_confirmation".to_owned()),
        "{queued:?}"
    );
    assert_ne!(state(&engine, &dossier), "avis_publie");
    // On time, the reminder goes out on its own.
    let (_folder, engine) = support::open(osu());
    decided(&engine, "bruno", json!({"avis": "favorable"}), decided_at);
    let handled = engine.run_due(at("2027-05-08T10:00:00Z")).unwrap();
    let ran: Vec<&str> = handled.iter().map(|(d, _)| d.deadline.as_str()).collect();
    assert_eq!(ran, ["relance_confirmation"]);
}

/// A waiting list's `rank` that fails for some candidatures (here a
/// division by zero at rank 1) ranks them last: every command on them still
/// goes through, the staff's and the withdrawal freeing a place, and
/// `guichet test`'s scenarios say what failed.
#[test]
fn a_rank_failing_for_some_candidatures_ranks_them_last_and_refuses_nothing() {
    let text = std::fs::read_to_string(support::osu_path()).unwrap();
    let failing = text.replace(
        r#"rank: "candidature.data.rang""#,
        r#"rank: "10 / (candidature.data.rang - 1)""#,
    );
    assert_ne!(failing, text);
    let bundle = guichet_engine::Bundle::with_text(&support::osu_path(), failing);
    let definition = std::sync::Arc::new(guichet_engine::Definition::from_bundle(bundle).unwrap());
    let failures: Vec<String> = guichet_engine::run_scenarios(&definition)
        .into_iter()
        .filter_map(|report| report.failure.map(|failure| failure.reason))
        .collect();
    assert!(
        failures.iter().any(
            |reason| reason.contains("its `rank` failed for candidature `c1`")
                && reason.contains("Division by zero")
        ),
        "{failures:#?}"
    );

    let folder = tempfile::tempdir().unwrap();
    let engine = Engine::open_shared(definition, SledStore::open(folder.path()).unwrap()).unwrap();
    let now = at("2027-05-02T10:00:00Z");
    // Chloé's rank fails: her decision is still entered and published.
    let [admitted, bruno, chloe] = admitted_and_waiting(&engine, now);
    assert_eq!(state(&engine, &chloe), "avis_publie");
    let withdrawal = alice_withdraws(&engine, &admitted, now);
    let promoted = withdrawal.follow_ups[0].as_ref().unwrap();
    assert_eq!(promoted.dossier.id, bruno, "the failed rank goes last");
}
