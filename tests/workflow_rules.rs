//! Rules the engine enforces on commands, each refused with nothing written.

mod support;

use guichet_engine::{
    actions_for, Actor, Command, Definition, Engine, EngineError, FileRef, ScriptError, SledStore,
    WorkflowError,
};
use jiff::Timestamp;
use serde_json::json;
use support::candidate;

const MINIMAL: &str = include_str!("fixtures/minimal.yaml");

fn now() -> Timestamp {
    support::at("2027-03-10T09:00:00Z")
}

fn engine_on(text: &str) -> (tempfile::TempDir, Engine<SledStore>) {
    let definition = Definition::from_text("test.yaml", text).unwrap_or_else(|e| panic!("{e}"));
    support::open(definition)
}

fn osu() -> (tempfile::TempDir, Engine<SledStore>) {
    support::open(support::osu())
}

fn file(format: &str, size: u64) -> FileRef {
    support::file(&format!("f.{format}"), format, size)
}

/// Applies on the current version; on error, checks nothing was written.
fn try_apply(
    engine: &Engine<SledStore>,
    id: &str,
    actor: &Actor,
    command: Command,
) -> Result<(), EngineError> {
    let before = engine.dossier(id).unwrap().unwrap();
    let history = engine.history(id).unwrap().len();
    let outbox = engine.outbox().unwrap().len();
    let result = engine
        .apply(id, before.version, actor, command, now())
        .map(|_| ());
    if result.is_err() {
        assert_eq!(
            engine.dossier(id).unwrap().unwrap(),
            before,
            "nothing written"
        );
        assert_eq!(engine.history(id).unwrap().len(), history);
        assert_eq!(engine.outbox().unwrap().len(), outbox);
    }
    result
}

#[test]
fn a_guard_that_loops_forever_fails_with_a_clear_error() {
    let text = MINIMAL.replace(
        "when: \"candidature.missing_pieces.is_empty()\"",
        "when: \"let n = 0; loop { n += 1; } true\"",
    );
    let (_folder, engine) = engine_on(&text);
    let me = Actor::new("candidate", "camille");
    let dossier = engine
        .create_dossier("camille", candidate("Camille"), "en", now())
        .unwrap();
    engine
        .apply(
            &dossier.id,
            1,
            &me,
            Command::Apply {
                formation: "master".into(),
            },
            now(),
        )
        .unwrap();
    let command = Command::Transition {
        candidature: "c1".into(),
        transition: "transmit".into(),
        input: Default::default(),
    };
    let started = std::time::Instant::now();
    let error = try_apply(&engine, &dossier.id, &me, command).expect_err("the guard cannot finish");
    match &error {
        EngineError::Workflow(WorkflowError::Script(ScriptError::Eval { source, .. })) => {
            let message = source.to_string();
            assert!(message.contains("Too many operations"), "{message}")
        }
        other => panic!("unexpected {other:?}"),
    }
    // Reported, not hung (a generous bound: this is about termination, not speed).
    assert!(started.elapsed().as_secs() < 30);
}

#[test]
fn html_mails_escape_values_and_text_mails_keep_them() {
    let text = MINIMAL.replace(
        "    text: \"Hello {{ candidate.first_name }}.\"",
        "    text: \"Hello {{ candidate.first_name }}.\"\n    html: \"<p>Hello {{ candidate.first_name }}.</p>\"",
    );
    let (_folder, engine) = engine_on(&text);
    let me = Actor::new("candidate", "camille");
    let dossier = engine
        .create_dossier(
            "camille",
            candidate("<script>alert(1)</script>"),
            "en",
            now(),
        )
        .unwrap();
    engine
        .apply(
            &dossier.id,
            1,
            &me,
            Command::Apply {
                formation: "master".into(),
            },
            now(),
        )
        .unwrap();
    let upload = Command::Piece {
        candidature: "c1".into(),
        piece: "cv".into(),
        transition: "upload".into(),
        file: Some(file("pdf", 1000)),
        comment: None,
    };
    engine.apply(&dossier.id, 2, &me, upload, now()).unwrap();
    let sent = engine
        .apply(
            &dossier.id,
            3,
            &me,
            Command::Transition {
                candidature: "c1".into(),
                transition: "transmit".into(),
                input: Default::default(),
            },
            now(),
        )
        .unwrap();
    let mail = &sent.mails[0];
    assert_eq!(mail.text, "Hello <script>alert(1)</script>.");
    assert_eq!(
        mail.html.as_deref(),
        Some("<p>Hello &lt;script&gt;alert(1)&lt;&#x2f;script&gt;.</p>")
    );
}

#[test]
fn answers_are_checked_against_the_fields() {
    let (_folder, engine) = osu();
    let me = Actor::new("candidat", "camille");
    let dossier = engine
        .create_dossier("camille", candidate("Camille"), "fr", now())
        .unwrap();
    let save = |answers| Command::SaveSection {
        section: "etat_civil".into(),
        answers,
    };
    let bad_ine = try_apply(&engine, &dossier.id, &me, save(json!({"ine": "12345"})));
    assert!(
        matches!(bad_ine, Err(EngineError::Workflow(WorkflowError::InvalidValue { ref field, .. })) if field == "ine"),
        "{bad_ine:?}"
    );
    let unknown = try_apply(&engine, &dossier.id, &me, save(json!({"shoe_size": 42})));
    assert!(
        matches!(
            unknown,
            Err(EngineError::Workflow(WorkflowError::NotFound { .. }))
        ),
        "{unknown:?}"
    );
    let bad_option = try_apply(
        &engine,
        &dossier.id,
        &me,
        save(json!({"nationalite": "XX"})),
    );
    assert!(
        matches!(
            bad_option,
            Err(EngineError::Workflow(WorkflowError::InvalidValue { .. }))
        ),
        "{bad_option:?}"
    );
    let bad_date = try_apply(
        &engine,
        &dossier.id,
        &me,
        save(json!({"date_naissance": "14/05/2003"})),
    );
    assert!(
        matches!(
            bad_date,
            Err(EngineError::Workflow(WorkflowError::InvalidValue { .. }))
        ),
        "{bad_date:?}"
    );
    try_apply(
        &engine,
        &dossier.id,
        &me,
        save(json!({"ine": "123456789AB", "nationalite": "DE"})),
    )
    .unwrap();
    // A dependent list's answer must be among what its filter offers.
    let mismatch = try_apply(
        &engine,
        &dossier.id,
        &me,
        Command::SaveSection {
            section: "baccalaureat".into(),
            answers: json!({"situation": "bac_francais", "annee": 2021, "serie": "S"}),
        },
    );
    assert!(
        matches!(mismatch, Err(EngineError::Workflow(WorkflowError::InvalidValue { ref field, .. })) if field == "serie"),
        "{mismatch:?}"
    );
    // The imported curriculum is read-only for the candidate.
    let imported = try_apply(
        &engine,
        &dossier.id,
        &me,
        Command::SaveSection {
            section: "cursus_interne".into(),
            answers: json!([]),
        },
    );
    assert!(
        matches!(
            imported,
            Err(EngineError::Workflow(WorkflowError::Forbidden { .. }))
        ),
        "{imported:?}"
    );
}

#[test]
fn pieces_follow_their_rules() {
    let (_folder, engine) = osu();
    let me = Actor::new("candidat", "camille");
    let office = Actor::new("gestionnaire", "agent");
    let dossier = engine
        .create_dossier("camille", candidate("Camille"), "fr", now())
        .unwrap();
    engine
        .apply(
            &dossier.id,
            1,
            &me,
            Command::Apply {
                formation: "m1-oceanographie".into(),
            },
            now(),
        )
        .unwrap();
    let piece =
        |piece, transition, file, comment| support::piece("c1", piece, transition, file, comment);
    let too_big = try_apply(
        &engine,
        &dossier.id,
        &me,
        piece("cv", "deposer", Some(file("pdf", 2_000_001)), None),
    );
    assert!(
        matches!(
            too_big,
            Err(EngineError::Workflow(WorkflowError::FileRefused(_)))
        ),
        "{too_big:?}"
    );
    let png_form = try_apply(
        &engine,
        &dossier.id,
        &me,
        piece(
            "formulaire_complementaire",
            "deposer",
            Some(file("png", 10)),
            None,
        ),
    );
    // The complementary form is answered online: its piece is never uploaded.
    assert!(
        matches!(
            png_form,
            Err(EngineError::Workflow(WorkflowError::Forbidden { .. }))
        ),
        "{png_form:?}"
    );
    let no_file = try_apply(
        &engine,
        &dossier.id,
        &me,
        piece("cv", "deposer", None, None),
    );
    assert!(
        matches!(
            no_file,
            Err(EngineError::Workflow(WorkflowError::FileRefused(_)))
        ),
        "{no_file:?}"
    );
    let cv_not_concerned = try_apply(
        &engine,
        &dossier.id,
        &me,
        piece("cv", "declarer_non_concerne", None, None),
    );
    assert!(
        matches!(
            cv_not_concerned,
            Err(EngineError::Workflow(WorkflowError::GuardFailed { .. }))
        ),
        "{cv_not_concerned:?}"
    );
    try_apply(
        &engine,
        &dossier.id,
        &me,
        piece("non_francophone", "declarer_non_concerne", None, None),
    )
    .unwrap();
    try_apply(
        &engine,
        &dossier.id,
        &me,
        piece("cv", "deposer", Some(file("pdf", 2_000_000)), None),
    )
    .unwrap();
    let no_reason = try_apply(
        &engine,
        &dossier.id,
        &office,
        piece("cv", "refuser_piece", None, Some("  ")),
    );
    assert!(
        matches!(
            no_reason,
            Err(EngineError::Workflow(WorkflowError::InvalidValue { .. }))
        ),
        "{no_reason:?}"
    );
    let not_a_piece_of_it = try_apply(
        &engine,
        &dossier.id,
        &me,
        piece("inconnue", "deposer", Some(file("pdf", 10)), None),
    );
    assert!(
        matches!(
            not_a_piece_of_it,
            Err(EngineError::Workflow(WorkflowError::NotFound { .. }))
        ),
        "{not_a_piece_of_it:?}"
    );
    let stale = engine.apply(
        &dossier.id,
        1,
        &me,
        piece("cv", "retirer", None, None),
        now(),
    );
    assert!(
        stale.as_ref().is_err_and(EngineError::is_conflict),
        "{stale:?}"
    );
}

#[test]
fn a_decision_needs_its_details_and_is_published_in_a_separate_step() {
    let (_folder, engine) = osu();
    let me = Actor::new("candidat", "camille");
    let office = Actor::new("gestionnaire", "agent");
    let committee = Actor::new("commission", "prof");
    let journey =
        support::Journey::ready_to_transmit(&engine, ("camille", "Camille"), &[], "m1-set", now());
    journey.transmit(&engine, now()).unwrap();
    let dossier = engine.dossier(&journey.dossier).unwrap().unwrap();
    let step = |id, input| support::transition("c1", id, input);

    try_apply(
        &engine,
        &dossier.id,
        &office,
        step("declarer_complet", json!({})),
    )
    .unwrap();
    let no_reason = try_apply(
        &engine,
        &dossier.id,
        &committee,
        step("saisir_avis", json!({"avis": "defavorable"})),
    );
    assert!(
        matches!(
            no_reason,
            Err(EngineError::Workflow(WorkflowError::GuardFailed { .. }))
        ),
        "{no_reason:?}"
    );
    let no_rank = try_apply(
        &engine,
        &dossier.id,
        &committee,
        step("saisir_avis", json!({"avis": "liste_complementaire"})),
    );
    assert!(
        matches!(
            no_rank,
            Err(EngineError::Workflow(WorkflowError::GuardFailed { .. }))
        ),
        "{no_rank:?}"
    );
    try_apply(
        &engine,
        &dossier.id,
        &committee,
        step(
            "saisir_avis",
            json!({"avis": "liste_complementaire", "rang": 3}),
        ),
    )
    .unwrap();
    let early_confirm = try_apply(&engine, &dossier.id, &me, step("confirmer", json!({})));
    assert!(
        matches!(
            early_confirm,
            Err(EngineError::Workflow(WorkflowError::WrongState { .. }))
        ),
        "{early_confirm:?}"
    );
    let version = engine.dossier(&dossier.id).unwrap().unwrap().version;
    let published = engine
        .apply(
            &dossier.id,
            version,
            &office,
            step("publier_avis", json!({})),
            now(),
        )
        .unwrap();
    assert_eq!(published.mails[0].mail, "avis_liste_complementaire");
    assert!(
        published.mails[0].text.contains("au rang 3"),
        "{}",
        published.mails[0].text
    );
    // Only a favourable decision can be confirmed.
    let confirm = try_apply(&engine, &dossier.id, &me, step("confirmer", json!({})));
    assert!(
        matches!(
            confirm,
            Err(EngineError::Workflow(WorkflowError::GuardFailed { .. }))
        ),
        "{confirm:?}"
    );
}

#[test]
fn the_number_of_candidatures_is_capped() {
    let text = MINIMAL
        .replace("  closes: 2027-06-15", "  closes: 2027-06-15\n  max_candidatures: 1")
        .replace(
            "  - { id: master, title: Master, pieces: [cv] }",
            "  - { id: master, title: Master, pieces: [cv] }\n  - { id: doctorate, title: Doctorate, pieces: [cv] }",
        );
    let (_folder, engine) = engine_on(&text);
    let me = Actor::new("candidate", "camille");
    let dossier = engine
        .create_dossier("camille", candidate("Camille"), "en", now())
        .unwrap();
    let apply = |formation: &str| Command::Apply {
        formation: formation.into(),
    };
    try_apply(&engine, &dossier.id, &me, apply("master")).unwrap();
    let second = try_apply(&engine, &dossier.id, &me, apply("doctorate"));
    assert!(
        matches!(
            second,
            Err(EngineError::Workflow(WorkflowError::TooManyCandidatures {
                max: 1
            }))
        ),
        "{second:?}"
    );
}

#[test]
fn an_entry_is_checked_field_by_field_with_its_dependent_lists() {
    use guichet_engine::{base_context, check_entry, options, Problem};
    let (_folder, engine) = osu();
    let definition = engine.definition();
    let dossier = engine
        .create_dossier("camille", candidate("Camille"), "fr", now())
        .unwrap();
    let base = base_context(&definition, &dossier, now());
    let section = &definition.file().profile[2];
    assert_eq!(section.id, "baccalaureat");
    let entry = |value: serde_json::Value| value.as_object().unwrap().clone();

    // Series follow the year; schools follow the commune.
    let check = check_entry(
        &definition,
        &base,
        &section.fields,
        &entry(json!({"situation": "bac_francais", "annee": 2021, "serie": "S", "commune": "13001", "etablissement": "marseille-thiers"})),
    )
    .unwrap();
    assert_eq!(
        check.problems,
        [
            ("serie".to_owned(), Problem::Option),
            ("etablissement".to_owned(), Problem::Option)
        ]
    );
    assert_eq!(
        check.problems[0].1.message("fr"),
        "Choisissez une option de la liste."
    );
    let context =
        guichet_engine::entry_context(&base, &section.fields, &entry(json!({"annee": 2021})));
    let serie = section.fields.iter().find(|f| f.id == "serie").unwrap();
    let offered: Vec<String> = options(&definition, serie, &context, "fr")
        .unwrap()
        .iter()
        .map(|c| c.id.clone())
        .collect();
    assert!(offered.contains(&"GEN".to_owned()) && offered.contains(&"STMG".to_owned()));
    assert!(!offered.contains(&"S".to_owned()) && !offered.contains(&"A1".to_owned()));

    // Without the bac, the other fields are hidden, not required, and dropped.
    let check = check_entry(
        &definition,
        &base,
        &section.fields,
        &entry(json!({"situation": "sans_bac", "annee": 2019})),
    )
    .unwrap();
    assert!(check.problems.is_empty(), "{:?}", check.problems);
    assert_eq!(
        check.hidden,
        [
            "annee",
            "serie",
            "mention",
            "pays",
            "commune",
            "etablissement"
        ]
    );
    assert_eq!(check.answers.keys().collect::<Vec<_>>(), ["situation"]);

    // A required field left empty, and a wrong INE.
    let identity = &definition.file().profile[0];
    let check = check_entry(
        &definition,
        &base,
        &identity.fields,
        &entry(json!({"ine": "12345"})),
    )
    .unwrap();
    assert!(check
        .problems
        .contains(&("nom_naissance".to_owned(), Problem::Required)));
    let ine = check.problems.iter().find(|(f, _)| f == "ine").unwrap();
    assert!(
        ine.1
            .message("fr")
            .starts_with("L'INE compte 11 caractères"),
        "{}",
        ine.1.message("fr")
    );
}

/// What the pages offer comes from the same rules `apply` enforces.
#[test]
fn actions_for_says_what_an_actor_may_do_now_and_why_not() {
    let (_folder, engine) = osu();
    let me = Actor::new("candidat", "camille");
    let dossier = engine
        .create_dossier("camille", candidate("Camille"), "fr", now())
        .unwrap();
    let apply = Command::Apply {
        formation: "m1-set".into(),
    };
    support::act(&engine, &dossier.id, &me, apply, now()).unwrap();
    let definition = engine.definition();
    let actions_of = |actor: &Actor| {
        let dossier = engine.dossier(&dossier.id).unwrap().unwrap();
        let candidature = &dossier.candidatures[0];
        actions_for(&definition, &dossier, candidature, actor, now()).unwrap()
    };

    // Nothing uploaded: transmitting is offered, but its guard refuses, in
    // the definition's words; every piece can be uploaded, and only the
    // piece that allows it can be declared not concerned.
    let actions = actions_of(&me);
    let transmit = actions.transition("transmettre").unwrap();
    assert!(!transmit.allowed);
    let refusal = transmit.refusal.as_ref().unwrap();
    assert!(refusal.get("fr").starts_with("Toutes les pièces"));
    assert_eq!(actions.missing_pieces.len(), 5, "{actions:?}");
    assert_eq!(actions.upload("cv").unwrap().id, "deposer");
    let ids = |piece: &str| -> Vec<String> {
        actions
            .piece(piece)
            .iter()
            .map(|a| a.id.to_owned())
            .collect()
    };
    assert_eq!(ids("cv"), ["deposer"]);
    assert_eq!(ids("non_francophone"), ["deposer", "declarer_non_concerne"]);
    // Staff act on pieces once sent, not before; another candidate, never.
    let office = Actor::new("gestionnaire", "agent");
    assert!(actions_of(&office).piece("cv").is_empty());
    let stranger = actions_of(&Actor::new("candidat", "someone-else"));
    assert!(stranger.transitions.is_empty() && stranger.pieces.is_empty());

    // Every piece in: the guard holds; once sent, pieces are closed to the
    // candidate and open to staff.
    for id in support::OSU_PIECES {
        let upload = support::piece("c1", id, "deposer", Some(file("pdf", 100)), None);
        support::act(&engine, &dossier.id, &me, upload, now()).unwrap();
    }
    let actions = actions_of(&me);
    assert!(actions.transition("transmettre").unwrap().allowed);
    assert!(actions.missing_pieces.is_empty());
    let transmit = support::transition("c1", "transmettre", json!({}));
    support::act(&engine, &dossier.id, &me, transmit, now()).unwrap();
    let actions = actions_of(&me);
    assert!(actions.transition("transmettre").is_none());
    let cv = actions.piece("cv");
    assert!(cv.iter().all(|a| !a.allowed), "{cv:?}");
    assert!(actions.upload("cv").is_none());
    let staff: Vec<String> = actions_of(&office)
        .piece("cv")
        .iter()
        .map(|a| a.id.to_owned())
        .collect();
    assert_eq!(staff, ["valider_piece", "refuser_piece"]);
}

/// On a definition made from the minimal one: a dossier (in `language`)
/// applied to `master`, its piece uploaded; and its candidate.
fn ready_to_transmit(
    engine: &Engine<SledStore>,
    language: &str,
) -> (guichet_engine::Dossier, Actor) {
    let me = Actor::new("candidate", "camille");
    let dossier = engine
        .create_dossier("camille", candidate("Camille"), language, now())
        .unwrap();
    let apply = Command::Apply {
        formation: "master".into(),
    };
    support::act(engine, &dossier.id, &me, apply, now()).unwrap();
    let upload = support::piece("c1", "cv", "upload", Some(file("pdf", 100)), None);
    support::act(engine, &dossier.id, &me, upload, now()).unwrap();
    (dossier, me)
}

/// An optional input left empty prints as nothing in a mail, not as `none`.
#[test]
fn an_empty_optional_input_prints_as_nothing() {
    let text = MINIMAL
        .replace(
            "    - { id: close, label: Close, from: received, to: closed, by: staff }",
            "    - id: close\n      label: Close\n      from: received\n      to: closed\n      by: staff\n      input: [{ id: note, type: text, label: Note }]\n      mails: [{ mail: closed }]",
        )
        .replace(
            "mails:\n  - id: received",
            "mails:\n  - id: closed\n    subject: Closed\n    text: \"Note: [{{ input.note }}]\"\n  - id: received",
        );
    let (_folder, engine) = engine_on(&text);
    let (dossier, me) = ready_to_transmit(&engine, "en");
    let transmit = support::transition("c1", "transmit", json!({}));
    support::act(&engine, &dossier.id, &me, transmit, now()).unwrap();
    let staff = Actor::new("staff", "office");
    let close = support::transition("c1", "close", json!({}));
    support::act(&engine, &dossier.id, &staff, close, now()).unwrap();
    let outbox = engine.outbox().unwrap();
    let closed = outbox.iter().find(|m| m.mail == "closed").unwrap();
    assert_eq!(closed.text, "Note: []");
}

/// A mail that cannot be rendered in one of its languages fails for every
/// reader (and in `guichet test`), not only for those who read that language.
#[test]
fn a_mail_failing_in_one_language_fails_in_all() {
    let text = MINIMAL.replace(
        r#"    text: "Hello {{ candidate.first_name }}.""#,
        "    text:\n      fr: \"Bonjour {{ candidate.first_name }}.\"\n      en: \"Hello {{ candidate.first_name | int }}.\"",
    );
    let (_folder, engine) = engine_on(&text);
    let (dossier, me) = ready_to_transmit(&engine, "fr");
    let transmit = support::transition("c1", "transmit", json!({}));
    let refused = try_apply(&engine, &dossier.id, &me, transmit);
    assert!(
        matches!(
            refused,
            Err(EngineError::Workflow(WorkflowError::Template { ref mail, .. })) if mail == "received"
        ),
        "{refused:?}"
    );
}

/// A mail whose template would loop for hours or fill the memory is
/// refused with why, the command with it, instead of holding the command
/// (and the dossier's turn) while it runs.
#[test]
fn a_template_that_would_never_end_or_fill_the_memory_fails_with_a_clear_error() {
    let endless =
        "{% for i in range(100000) %}{% for j in range(100000) %}.{% endfor %}{% endfor %}";
    let enormous = r#"{{ "x" * 1000000000 }}"#;
    for template in [endless, enormous] {
        let text = MINIMAL.replace(
            r#"    text: "Hello {{ candidate.first_name }}.""#,
            &format!("    text: '{template}'"),
        );
        let (_folder, engine) = engine_on(&text);
        let (dossier, me) = ready_to_transmit(&engine, "en");
        let version = engine.dossier(&dossier.id).unwrap().unwrap().version;
        let transmit = support::transition("c1", "transmit", json!({}));
        let started = std::time::Instant::now();
        let refused = try_apply(&engine, &dossier.id, &me, transmit);
        match &refused {
            Err(EngineError::Workflow(WorkflowError::Template { mail, source })) => {
                assert_eq!(mail, "received");
                let message = source.to_string();
                assert!(
                    message.contains("more work than a mail or letter may"),
                    "{template}: {message}"
                );
            }
            other => panic!("{template}: unexpected {other:?}"),
        }
        // About termination, not speed: a generous bound.
        assert!(started.elapsed().as_secs() < 30, "{template}");
        let unchanged = engine.dossier(&dossier.id).unwrap().unwrap();
        assert_eq!(unchanged.version, version, "nothing written");
    }
}

#[test]
fn a_mail_may_go_to_an_address_the_candidate_gave() {
    let text = include_str!("fixtures/minimal.yaml")
        .replace(
            "      - { id: nationality, type: text, label: Nationality }",
            "      - { id: nationality, type: text, label: Nationality }\n      - { id: referee, type: email, label: Referee }",
        )
        .replace(
            "  - id: received\n    subject:",
            "  - id: received\n    to: [candidate, profile.identity.referee]\n    subject:",
        );
    let (_folder, engine) = engine_on(&text);
    let dossier = engine
        .create_dossier("zoe", support::candidate("Zoé"), "en", now())
        .unwrap();
    let me = Actor::new("candidate", "zoe");
    let steps = [
        Command::SaveSection {
            section: "identity".into(),
            answers: json!({"referee": "prof.martin@example.org"}),
        },
        Command::Apply {
            formation: "master".into(),
        },
        support::piece("c1", "cv", "upload", Some(file("pdf", 1000)), None),
        support::transition("c1", "transmit", json!({})),
    ];
    for command in steps {
        try_apply(&engine, &dossier.id, &me, command).unwrap();
    }
    let received = engine.outbox().unwrap();
    let mail = received.iter().find(|m| m.mail == "received").unwrap();
    assert_eq!(mail.to.len(), 2, "{:?}", mail.to);
    assert!(mail.to.contains(&"prof.martin@example.org".to_owned()));
}

/// The minimal definition with a referee who sends the `cv`, named in a
/// repeatable `referees` section.
fn with_referee() -> String {
    MINIMAL
        .replace(
            "  - { id: staff, label: Staff, kind: staff, address: office@example.org }\n",
            "  - { id: staff, label: Staff, kind: staff, address: office@example.org }\n  - { id: referee, label: Referee, kind: third_party, named_in: { section: referees, name: name, email: email }, provides: cv, mail: asked, link_valid_days: 3 }\n",
        )
        .replace(
            "pieces:\n",
            "  - id: referees\n    title: Referees\n    repeat: { add_label: Add, max: 3 }\n    fields:\n      - { id: name, type: text, label: Name }\n      - { id: email, type: email, label: Email }\npieces:\n",
        )
        .replace(
            "mails:\n",
            "mails:\n  - id: asked\n    subject: \"A letter for {{ candidate.last_name }}\"\n    text: \"Dear {{ third_party.name }}: {{ third_party.link }} until {{ third_party.expires }}\"\n",
        )
}

#[test]
fn a_third_party_sends_their_piece_once_through_their_own_current_link() {
    let (_dir, engine) = engine_on(&with_referee());
    let engine = engine.with_link_prefix("https://apply.example/letters/");
    let dossier = engine
        .create_dossier("me", candidate("Camille"), "en", now())
        .unwrap();
    let me = Actor::new("candidate", "me");
    let referees = |list: serde_json::Value| Command::SaveSection {
        section: "referees".into(),
        answers: list,
    };
    try_apply(&engine, &dossier.id, &me, referees(json!([{"name": "Ada", "email": "ada@example.org"}, {"name": "Bob", "email": "bob@example.org"}]))).unwrap();
    try_apply(
        &engine,
        &dossier.id,
        &me,
        Command::Apply {
            formation: "master".into(),
        },
    )
    .unwrap();
    let candidature = engine.dossier(&dossier.id).unwrap().unwrap().candidatures[0]
        .id
        .clone();
    let ask = Command::Ask {
        candidature: candidature.clone(),
        role: "referee".into(),
    };

    // The candidate cannot upload the piece a third party sends.
    let upload = Command::Piece {
        candidature: candidature.clone(),
        piece: "cv".into(),
        transition: "upload".into(),
        file: Some(file("pdf", 1000)),
        comment: None,
    };
    let refused = try_apply(&engine, &dossier.id, &me, upload);
    assert!(
        matches!(
            refused,
            Err(EngineError::Workflow(WorkflowError::Forbidden { .. }))
        ),
        "{refused:?}"
    );

    let version = engine.dossier(&dossier.id).unwrap().unwrap().version;
    let asked = engine
        .apply(&dossier.id, version, &me, ask.clone(), now())
        .unwrap();
    assert_eq!(asked.asked.len(), 2);
    assert_eq!(asked.mails.len(), 2);
    let (_, ada) = asked
        .asked
        .iter()
        .find(|(entry, _)| *entry == 0)
        .unwrap()
        .clone();
    let (_, bob) = asked
        .asked
        .iter()
        .find(|(entry, _)| *entry == 1)
        .unwrap()
        .clone();
    let to_ada = asked
        .mails
        .iter()
        .find(|m| m.to == ["ada@example.org"])
        .unwrap();
    assert!(
        to_ada
            .text
            .contains(&format!("https://apply.example/letters/{ada}")),
        "{}",
        to_ada.text
    );
    assert!(to_ada.text.contains("until 2027-03-13"), "{}", to_ada.text);
    // The secret is in the mail alone: not in the dossier, nor its history.
    let stored = serde_json::to_string(&*engine.dossier(&dossier.id).unwrap().unwrap()).unwrap();
    let history = serde_json::to_string(&engine.history(&dossier.id).unwrap()).unwrap();
    let secret = ada.split_once('.').unwrap().1;
    assert!(!stored.contains(secret) && !history.contains(secret));

    // A forged or mistyped link finds nothing; nor does a third party act otherwise.
    let forged = format!("{}.{}", dossier.id, "0".repeat(64));
    assert!(engine.request_of(&forged).unwrap().is_none());
    let wrong = engine.deliver(&forged, file("pdf", 1000), now());
    assert!(
        matches!(
            wrong,
            Err(EngineError::Workflow(WorkflowError::ThirdParty(
                guichet_engine::ThirdPartyRefusal::UnknownLink
            )))
        ),
        "{wrong:?}"
    );
    let as_referee = Actor::new("referee", "ada@example.org");
    let transmit = Command::Transition {
        candidature: candidature.clone(),
        transition: "transmit".into(),
        input: Default::default(),
    };
    assert!(matches!(
        try_apply(&engine, &dossier.id, &as_referee, transmit.clone()),
        Err(EngineError::Workflow(WorkflowError::Forbidden { .. }))
    ));

    // A file the piece does not accept is refused; the link still works.
    let png = engine.deliver(&ada, file("png", 1000), now());
    assert!(
        matches!(
            png,
            Err(EngineError::Workflow(WorkflowError::FileRefused(_)))
        ),
        "{png:?}"
    );
    engine.deliver(&ada, file("pdf", 1000), now()).unwrap();
    let again = engine.deliver(&ada, file("pdf", 1000), now());
    assert!(
        matches!(
            again,
            Err(EngineError::Workflow(WorkflowError::ThirdParty(
                guichet_engine::ThirdPartyRefusal::Used
            )))
        ),
        "{again:?}"
    );

    // The piece counts once everyone named has sent theirs.
    assert!(try_apply(&engine, &dossier.id, &me, transmit.clone()).is_err());
    // Bob is replaced: his link dies, Carol is asked.
    try_apply(&engine, &dossier.id, &me, referees(json!([{"name": "Ada", "email": "ada@example.org"}, {"name": "Carol", "email": "carol@example.org"}]))).unwrap();
    let dead = engine.deliver(&bob, file("pdf", 1000), now());
    assert!(
        matches!(
            dead,
            Err(EngineError::Workflow(WorkflowError::ThirdParty(
                guichet_engine::ThirdPartyRefusal::UnknownLink
            )))
        ),
        "{dead:?}"
    );
    let version = engine.dossier(&dossier.id).unwrap().unwrap().version;
    let asked = engine
        .apply(&dossier.id, version, &me, ask.clone(), now())
        .unwrap();
    assert_eq!(
        asked.mails.iter().map(|m| m.to.clone()).collect::<Vec<_>>(),
        vec![vec!["carol@example.org".to_owned()]]
    );
    let carol = asked.asked[0].1.clone();
    // Three days later Carol's link has expired.
    let late = support::at("2027-03-13T09:00:01Z");
    let expired = engine.deliver(&carol, file("pdf", 1000), late);
    assert!(
        matches!(
            expired,
            Err(EngineError::Workflow(WorkflowError::ThirdParty(
                guichet_engine::ThirdPartyRefusal::Expired
            )))
        ),
        "{expired:?}"
    );
    engine.deliver(&carol, file("pdf", 1000), now()).unwrap();
    try_apply(&engine, &dossier.id, &me, transmit).unwrap();

    // Once sent, nothing more is asked or received.
    try_apply(
        &engine,
        &dossier.id,
        &me,
        referees(json!([{"name": "Dan", "email": "dan@example.org"}])),
    )
    .unwrap();
    let closed = try_apply(&engine, &dossier.id, &me, ask);
    assert!(
        matches!(
            closed,
            Err(EngineError::Workflow(WorkflowError::ThirdParty(
                guichet_engine::ThirdPartyRefusal::Closed
            )))
        ),
        "{closed:?}"
    );
}

#[test]
fn a_link_takes_nothing_once_the_candidature_is_sent() {
    // Letters asked but not required: the candidature can be sent without them.
    let text = with_referee().replace(
        "{ id: cv, label: CV, accept: [pdf], max_size: 2MB }",
        "{ id: cv, label: CV, accept: [pdf], max_size: 2MB, required_when: \"false\" }",
    );
    let (_dir, engine) = engine_on(&text);
    let dossier = engine
        .create_dossier("me", candidate("Camille"), "en", now())
        .unwrap();
    let me = Actor::new("candidate", "me");
    let referees = Command::SaveSection {
        section: "referees".into(),
        answers: json!([{"name": "Ada", "email": "ada@example.org"}]),
    };
    try_apply(&engine, &dossier.id, &me, referees).unwrap();
    let apply = Command::Apply {
        formation: "master".into(),
    };
    try_apply(&engine, &dossier.id, &me, apply).unwrap();
    let ask = Command::Ask {
        candidature: "c1".into(),
        role: "referee".into(),
    };
    let version = engine.dossier(&dossier.id).unwrap().unwrap().version;
    let token = engine
        .apply(&dossier.id, version, &me, ask, now())
        .unwrap()
        .asked[0]
        .1
        .clone();
    let transmit = Command::Transition {
        candidature: "c1".into(),
        transition: "transmit".into(),
        input: Default::default(),
    };
    try_apply(&engine, &dossier.id, &me, transmit).unwrap();
    let before = engine.dossier(&dossier.id).unwrap().unwrap();
    let late = engine.deliver(&token, file("pdf", 1000), now());
    assert!(
        matches!(
            late,
            Err(EngineError::Workflow(WorkflowError::ThirdParty(
                guichet_engine::ThirdPartyRefusal::Closed
            )))
        ),
        "{late:?}"
    );
    assert_eq!(engine.dossier(&dossier.id).unwrap().unwrap(), before);
}

#[test]
fn a_candidature_mails_at_most_twenty_links() {
    let (_dir, engine) = engine_on(&with_referee());
    let dossier = engine
        .create_dossier("me", candidate("Camille"), "en", now())
        .unwrap();
    let me = Actor::new("candidate", "me");
    let apply = Command::Apply {
        formation: "master".into(),
    };
    try_apply(&engine, &dossier.id, &me, apply).unwrap();
    let ask = || Command::Ask {
        candidature: "c1".into(),
        role: "referee".into(),
    };
    // A new address each time: each ask mails a new link.
    for n in 0..=20 {
        let referee = Command::SaveSection {
            section: "referees".into(),
            answers: json!([{"name": "Ada", "email": format!("ada{n}@example.org")}]),
        };
        try_apply(&engine, &dossier.id, &me, referee).unwrap();
        let asked = try_apply(&engine, &dossier.id, &me, ask());
        if n < 20 {
            asked.unwrap();
        } else {
            assert!(
                matches!(
                    asked,
                    Err(EngineError::Workflow(WorkflowError::ThirdParty(
                        guichet_engine::ThirdPartyRefusal::TooMany
                    )))
                ),
                "{asked:?}"
            );
        }
    }
    assert_eq!(engine.outbox().unwrap().len(), 20);
}

/// A piece transition's guard reading `piece` is judged for each piece; one
/// reading only the candidature holds or not for all of them alike. The
/// page's actions and the command agree.
#[test]
fn a_piece_guard_is_judged_for_its_own_piece() {
    let text = MINIMAL
        .replace(
            "  - { id: cv, label: CV, accept: [pdf], max_size: 2MB }\n",
            "  - { id: cv, label: CV, accept: [pdf], max_size: 2MB }\n  - { id: letter, label: Letter, accept: [pdf], max_size: 2MB }\n",
        )
        .replace("pieces: [cv] }", "pieces: [cv, letter] }")
        .replace(
            "    - { id: upload, label: Upload, from: [pending, sent], to: sent, by: candidate, file: attach }\n",
            "    - { id: upload, label: Upload, from: [pending, sent], to: sent, by: candidate, file: attach }\n    - { id: replace, label: Replace, from: [pending, sent], to: sent, by: candidate, file: attach, when: \"piece.status == 'sent'\" }\n    - { id: remark, label: Remark, from: [pending, sent], to: pending, by: candidate, when: \"candidature.state == 'draft'\" }\n",
        );
    let (_folder, engine) = engine_on(&text);
    let me = Actor::new("candidate", "camille");
    let dossier = engine
        .create_dossier("camille", candidate("Camille"), "en", now())
        .unwrap();
    let apply = Command::Apply {
        formation: "master".into(),
    };
    engine.apply(&dossier.id, 1, &me, apply, now()).unwrap();
    let upload = support::piece("c1", "cv", "upload", Some(file("pdf", 10)), None);
    engine.apply(&dossier.id, 2, &me, upload, now()).unwrap();

    let dossier = engine.dossier(&dossier.id).unwrap().unwrap();
    let definition = engine.definition();
    let candidature = &dossier.candidatures[0];
    let actions = actions_for(&definition, &dossier, candidature, &me, now()).unwrap();
    let allowed = |piece: &str, transition: &str| {
        let action = actions.piece(piece).iter().find(|a| a.id == transition);
        action.map(|a| a.allowed)
    };
    assert_eq!(allowed("cv", "replace"), Some(true));
    assert_eq!(allowed("letter", "replace"), Some(false));
    assert_eq!(allowed("cv", "remark"), Some(true));
    assert_eq!(allowed("letter", "remark"), Some(true));

    let replace = |piece| support::piece("c1", piece, "replace", Some(file("pdf", 10)), None);
    let refused = try_apply(&engine, &dossier.id, &me, replace("letter"));
    assert!(
        matches!(
            refused,
            Err(EngineError::Workflow(WorkflowError::GuardFailed { .. }))
        ),
        "{refused:?}"
    );
    try_apply(&engine, &dossier.id, &me, replace("cv")).unwrap();
}

/// A candidature lacks a piece exactly when its `missing_pieces` is not
/// empty, as the dossier fills: pieces sent one by one, a piece asked of a
/// foreign candidate alone declared not concerned, an online form answered
/// in part, then in full.
#[test]
fn lacking_a_piece_agrees_with_the_missing_pieces() {
    use guichet_engine::{lacks_a_piece, missing_pieces};
    let (_folder, engine) = osu();
    let definition = engine.definition();
    let lacks = |id: &str| -> (bool, Vec<String>) {
        let dossier = engine.dossier(id).unwrap().unwrap();
        let candidature = dossier.candidatures.last().unwrap();
        let missing = missing_pieces(&definition, &dossier, candidature, now()).unwrap();
        let lacking = lacks_a_piece(&definition, &dossier, candidature, now()).unwrap();
        assert_eq!(lacking, !missing.is_empty(), "{missing:?}");
        (lacking, missing)
    };
    for (nationality, owner) in [("FR", "alex"), ("DE", "camille")] {
        let me = Actor::new("candidat", owner);
        let id = engine
            .create_dossier(owner, candidate(owner), "fr", now())
            .unwrap()
            .id;
        let run = |command: Command| support::act(&engine, &id, &me, command, now()).unwrap();
        let identity = json!({"civilite": "mme", "nom_naissance": "Durand", "prenoms": "Camille",
                              "date_naissance": "2003-05-14", "commune_naissance": "Lyon",
                              "pays_naissance": nationality, "nationalite": nationality});
        run(Command::SaveSection {
            section: "etat_civil".into(),
            answers: identity,
        });
        run(Command::Apply {
            formation: "m1-oceanographie".into(),
        });
        let c = engine.dossier(&id).unwrap().unwrap().candidatures[0]
            .id
            .clone();
        assert!(lacks(&id).0);
        for piece in support::OSU_PIECES {
            let upload = support::file(&format!("{piece}.pdf"), "pdf", 120_000);
            run(support::piece(&c, piece, "deposer", Some(upload), None));
            assert!(lacks(&id).0);
        }
        let foreign = lacks(&id).1.contains(&"non_francophone".to_owned());
        assert_eq!(foreign, nationality != "FR");
        if foreign {
            run(support::piece(
                &c,
                "non_francophone",
                "declarer_non_concerne",
                None,
                None,
            ));
        }
        let mut answers = serde_json::Map::new();
        answers.insert("programmation".into(), json!("python"));
        run(Command::SaveForm {
            candidature: c.clone(),
            answers: answers.clone(),
        });
        assert_eq!(
            lacks(&id),
            (true, vec!["formulaire_complementaire".to_owned()])
        );
        answers.insert("projet".into(), json!("Océanographie physique"));
        run(Command::SaveForm {
            candidature: c.clone(),
            answers,
        });
        assert_eq!(lacks(&id), (false, Vec::new()));
    }
}
