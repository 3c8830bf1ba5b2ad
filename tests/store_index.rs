//! The store's index of candidatures by formation and state: kept in the same
//! write as the dossiers, so the scheduler and the waiting list read
//! only what they need.

mod support;

use guichet_engine::{Actor, Command, SledStore, Store};
use serde_json::json;
use support::{act, at, candidate, osu, reopened, transition, Journey};

#[test]
fn the_index_follows_every_command_and_survives_a_reopen() {
    let folder = tempfile::tempdir().unwrap();
    let store = SledStore::open(folder.path()).unwrap();
    let engine = guichet_engine::Engine::open(osu(), store).unwrap();
    let now = at("2027-03-15T10:00:00Z");
    let sent = Journey::ready_to_transmit(&engine, ("alice", "Alice"), &[], "m1-set", now);
    sent.transmit(&engine, now).unwrap();
    let draft = engine
        .create_dossier("bruno", candidate("Bruno"), "fr", now)
        .unwrap();
    let bruno = Actor::new("candidat", "bruno");
    for formation in ["m1-set", "m1-oceanographie"] {
        let apply = Command::Apply {
            formation: formation.into(),
        };
        act(&engine, &draft.id, &bruno, apply, now).unwrap();
    }

    let of = |store: &dyn Store, formation: &str, state: Option<&str>| {
        let mut found = store.candidatures_of(formation, state).unwrap();
        found.sort();
        found
    };
    let alice = (sent.dossier.clone(), "c1".to_owned());
    let bruno_set = (draft.id.clone(), "c1".to_owned());
    let bruno_oceano = (draft.id.clone(), "c2".to_owned());
    let store = engine.store();
    assert_eq!(
        of(store, "m1-set", Some("receptionne")),
        std::slice::from_ref(&alice)
    );
    assert_eq!(
        of(store, "m1-set", Some("en_attente")),
        std::slice::from_ref(&bruno_set)
    );
    assert_eq!(
        of(store, "m1-oceanographie", None),
        std::slice::from_ref(&bruno_oceano)
    );
    let mut both = vec![alice.clone(), bruno_set.clone()];
    both.sort();
    assert_eq!(of(store, "m1-set", None), both);

    // A transition moves the entry; a stale command moves nothing.
    let office = Actor::new("gestionnaire", "agent");
    let complete = transition("c1", "declarer_complet", json!({}));
    act(&engine, &sent.dossier, &office, complete.clone(), now).unwrap();
    assert!(of(store, "m1-set", Some("receptionne")).is_empty());
    assert_eq!(
        of(store, "m1-set", Some("complet")),
        std::slice::from_ref(&alice)
    );
    let stale = engine.apply(&sent.dossier, 2, &office, complete, now);
    assert!(stale.is_err_and(|e| e.is_conflict()));
    assert_eq!(
        of(store, "m1-set", Some("complet")),
        std::slice::from_ref(&alice)
    );

    // Reopened, the same.
    drop(engine);
    let store = reopened(|| SledStore::open(folder.path()));
    assert_eq!(of(&store, "m1-set", Some("complet")), [alice]);
    assert_eq!(
        of(&store, "m1-oceanographie", Some("en_attente")),
        [bruno_oceano]
    );
    assert!(of(&store, "m2-set-ecologie", None).is_empty());
}

#[test]
fn list_rows_hold_what_staff_lists_show_and_follow_each_command() {
    let (_folder, engine) = support::open(osu());
    let now = at("2027-03-15T10:00:00Z");
    let identity = json!({"civilite": "mme", "nom_naissance": "Durand", "prenoms": "Camille",
        "date_naissance": "2003-05-14", "commune_naissance": "Berlin", "pays_naissance": "DE",
        "nationalite": "DE", "ine": "123456789AB"});
    let sent = Journey::ready_to_transmit(
        &engine,
        ("camille", "Camille"),
        &[("etat_civil", identity)],
        "m1-set",
        now,
    );
    let store = engine.store();
    let drafted = store.rows_of("m1-set", Some("en_attente")).unwrap();
    assert_eq!(drafted.len(), 1);
    // Six pieces, the French certificate among them required of a German
    // candidate; every one uploaded but that one.
    assert_eq!((drafted[0].provided, drafted[0].required), (5, 6));
    assert_eq!(drafted[0].sent_at, None);
    // What staff search reads, folded: names (each closed by a NUL, which
    // lists sort by), email, number, the INE.
    assert_eq!(drafted[0].sorted_name(), "durand\0 camille");
    assert_eq!(
        drafted[0].search,
        format!(
            "durand\0 camille\0 camille.durand@example.org {} 123456789ab",
            guichet_engine::fold(&drafted[0].dossier)
        )
    );
    let declare = support::piece(
        &sent.candidature,
        "non_francophone",
        "declarer_non_concerne",
        None,
        None,
    );
    act(&engine, &sent.dossier, &sent.me, declare, now).unwrap();
    sent.transmit(&engine, now).unwrap();
    assert!(store
        .rows_of("m1-set", Some("en_attente"))
        .unwrap()
        .is_empty());
    let office = Actor::new("gestionnaire", "agent").named("Claire Martin");
    act(
        &engine,
        &sent.dossier,
        &office,
        transition("c1", "declarer_complet", json!({})),
        now,
    )
    .unwrap();
    let committee = Actor::new("commission", "prof");
    let decision = json!({"avis": "liste_complementaire", "rang": 2, "motif": "Bon dossier"});
    act(
        &engine,
        &sent.dossier,
        &committee,
        transition("c1", "saisir_avis", decision),
        now,
    )
    .unwrap();
    let rows = store.rows_of("m1-set", None).unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    let row = &rows[0];
    assert_eq!(row.state, "avis_saisi");
    assert_eq!((row.provided, row.required), (6, 6));
    assert_eq!(row.sent_at, Some(now));
    assert_eq!(row.pieces["cv"], "transmise");
    // The decision's choice and rank are columns; a free text is not.
    assert_eq!(row.columns["avis"], "liste_complementaire");
    assert_eq!(row.columns["rang"], 2);
    assert!(!row.columns.contains_key("motif"));
    assert_eq!(store.count_of("m1-set", "avis_saisi").unwrap(), 1);
    assert_eq!(store.count_of("m1-set", "complet").unwrap(), 0);
    assert_eq!(store.count_of("m1-set", "en_attente").unwrap(), 0);

    // The staff's note is theirs: history names who wrote it; the note is
    // kept on the candidature.
    let note = Command::Note {
        candidature: "c1".into(),
        text: "  Appeler la candidate  ".into(),
    };
    act(&engine, &sent.dossier, &office, note.clone(), now).unwrap();
    let dossier = engine.dossier(&sent.dossier).unwrap().unwrap();
    assert_eq!(
        dossier.candidatures[0].note.as_deref(),
        Some("Appeler la candidate")
    );
    let last = engine.history(&sent.dossier).unwrap().pop().unwrap();
    assert_eq!(last.actor.name.as_deref(), Some("Claire Martin"));
    let refused = act(&engine, &sent.dossier, &sent.me, note, now);
    assert!(refused.is_err(), "a candidate writes no staff note");
}

/// The dashboard's tallies of each decision, by formation and state: kept
/// as counts beside the states', moved by every command and built again
/// with the indexes, equal to what the rows hold.
#[test]
fn options_are_counted_by_formation_and_state_and_follow_each_command() {
    let folder = tempfile::tempdir().unwrap();
    let now = at("2027-03-15T10:00:00Z");
    let tallies = |store: &dyn Store, state: &str| {
        store
            .tallies_of("m1-set", state)
            .unwrap()
            .into_iter()
            .map(|(field, options)| (field, options.into_iter().collect::<Vec<_>>()))
            .collect::<Vec<_>>()
    };
    let one = |option: &str| vec![("avis".to_owned(), vec![(option.to_owned(), 1)])];
    {
        let store = SledStore::open(folder.path()).unwrap();
        let engine = guichet_engine::Engine::open(osu(), store).unwrap();
        let office = Actor::new("gestionnaire", "agent");
        let committee = Actor::new("commission", "prof");
        let mut dossiers = Vec::new();
        for name in ["Alice", "Bruno", "Chloé"] {
            let journey = Journey::ready_to_transmit(
                &engine,
                (&name.to_lowercase(), name),
                &[],
                "m1-set",
                now,
            );
            journey.transmit(&engine, now).unwrap();
            let complete = transition("c1", "declarer_complet", json!({}));
            act(&engine, &journey.dossier, &office, complete, now).unwrap();
            dossiers.push(journey.dossier);
        }
        let store = engine.store();
        assert!(tallies(store, "complet").is_empty(), "no decision yet");
        let decide = |dossier: &str, decision: serde_json::Value| {
            let decide = transition("c1", "saisir_avis", decision);
            act(&engine, dossier, &committee, decide, now).unwrap();
        };
        decide(&dossiers[0], json!({"avis": "favorable"}));
        decide(&dossiers[1], json!({"avis": "favorable"}));
        decide(
            &dossiers[2],
            json!({"avis": "liste_complementaire", "rang": 1}),
        );
        let expected = vec![(
            "avis".to_owned(),
            vec![
                ("favorable".to_owned(), 2),
                ("liste_complementaire".to_owned(), 1),
            ],
        )];
        assert_eq!(tallies(store, "avis_saisi"), expected);
        // A decision changed moves its count from one option to the other.
        decide(
            &dossiers[1],
            json!({"avis": "defavorable", "motif": "Hors sujet"}),
        );
        assert_eq!(
            tallies(store, "avis_saisi"),
            vec![(
                "avis".to_owned(),
                vec![
                    ("defavorable".to_owned(), 1),
                    ("favorable".to_owned(), 1),
                    ("liste_complementaire".to_owned(), 1),
                ],
            )]
        );
        // A state changed moves its decision's count with it.
        let publish = transition("c1", "publier_avis", json!({}));
        act(&engine, &dossiers[0], &office, publish, now).unwrap();
        assert_eq!(tallies(store, "avis_publie"), one("favorable"));
        assert_eq!(tallies(store, "avis_saisi")[0].1.len(), 2);
        // What the rows hold, tallied: the same.
        for state in ["avis_saisi", "avis_publie"] {
            let mut from_rows = std::collections::BTreeMap::<String, usize>::new();
            for row in store.rows_of("m1-set", Some(state)).unwrap() {
                *from_rows
                    .entry(row.columns["avis"].as_str().unwrap().to_owned())
                    .or_default() += 1;
            }
            let from_rows: Vec<_> = from_rows.into_iter().collect();
            assert_eq!(tallies(store, state), [("avis".to_owned(), from_rows)]);
        }
        engine.store().shut_down().unwrap();
    }
    let before: Vec<_> = {
        let store = reopened(|| SledStore::open(folder.path()));
        ["avis_saisi", "avis_publie"]
            .map(|state| tallies(&store, state))
            .to_vec()
    };
    // Built again from the dossiers (a store of an earlier version): the
    // same counts.
    as_an_earlier_version_left_it(folder.path());
    let store = reopened(|| SledStore::open(folder.path()));
    let engine = guichet_engine::Engine::open(osu(), store).unwrap();
    let after: Vec<_> = ["avis_saisi", "avis_publie"]
        .map(|state| tallies(engine.store(), state))
        .to_vec();
    assert_eq!(after, before);
    assert_eq!(after[1], one("favorable"));
}

/// The store in `folder` as a version of Guichet with other indexes left
/// it: without this version's marker, nor the counts and keys of the
/// ordered tree, which its next opening builds again from the dossiers.
fn as_an_earlier_version_left_it(folder: &std::path::Path) {
    let db = reopened(|| sled::open(folder));
    db.remove(SledStore::INDEXES_BUILT).unwrap();
    db.open_tree("deadlines_by_time_and_waiting_lists_by_rank")
        .unwrap()
        .clear()
        .unwrap();
    db.flush().unwrap();
}

#[test]
fn deadlines_are_indexed_by_the_time_they_fall_due() {
    let (_folder, engine) = support::open(osu());
    let now = at("2027-03-15T10:00:00Z");
    let draft = Journey::ready_to_transmit(&engine, ("alice", "Alice"), &[], "m1-set", now);
    let store = engine.store();
    // The reminder before closing (2027-06-15) falls due three days before.
    assert!(store
        .due_entries(at("2027-06-11T12:00:00Z"))
        .unwrap()
        .is_empty());
    let due_day = at("2027-06-13T12:00:00Z");
    let due = store.due_entries(due_day).unwrap();
    assert_eq!(due.len(), 1, "{due:?}");
    assert_eq!(
        (due[0].dossier.as_str(), due[0].deadline.as_str()),
        (draft.dossier.as_str(), "relance_cloture")
    );
    // Due from the end of 2027-06-15, less three days, in Paris.
    assert_eq!(due[0].at, at("2027-06-12T22:00:00Z"));
    assert_eq!(engine.due(due_day).unwrap().len(), 1);
    let handled = engine.run_due(due_day).unwrap();
    assert!(
        handled.iter().all(|(_, result)| result.is_ok()),
        "{handled:?}"
    );
    // Handled: out of the index, and nothing more is due.
    assert!(store.due_entries(due_day).unwrap().is_empty());
    assert!(engine.due(due_day).unwrap().is_empty());
}

#[test]
fn a_store_written_before_the_indexes_gets_them_once_at_opening() {
    let folder = tempfile::tempdir().unwrap();
    let now = at("2027-03-15T10:00:00Z");
    {
        let store = SledStore::open(folder.path()).unwrap();
        let engine = guichet_engine::Engine::open(osu(), store).unwrap();
        Journey::ready_to_transmit(&engine, ("alice", "Alice"), &[], "m1-set", now);
    }
    // As an earlier version left it: no marker, no index.
    {
        let db = reopened(|| sled::open(folder.path()));
        db.remove(SledStore::INDEXES_BUILT).unwrap();
        for tree in [
            "candidatures_by_formation_and_state",
            "deadlines_by_time_and_waiting_lists_by_rank",
            "index_keys_by_dossier",
            // An earlier version kept no record of its last command.
            "command_being_written",
        ] {
            db.open_tree(tree).unwrap().clear().unwrap();
        }
        // Versions before 5 kept each dossier's ordered keys here.
        db.open_tree("ordered_keys_by_dossier")
            .unwrap()
            .insert("a dossier", "[]")
            .unwrap();
        db.flush().unwrap();
    }
    let store = reopened(|| SledStore::open(folder.path()));
    assert!(store.rows_of("m1-set", None).unwrap().is_empty());
    let engine = guichet_engine::Engine::open(osu(), store).unwrap();
    let rows = engine.store().rows_of("m1-set", None).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].first_name, "Alice");
    assert_eq!(engine.store().count_of("m1-set", "en_attente").unwrap(), 1);
    assert_eq!(
        engine
            .store()
            .due_entries(at("2027-06-13T00:00:00Z"))
            .unwrap()
            .len(),
        1
    );
    let hash = engine.definition().hash().to_owned();
    let per_version: Vec<_> = engine.dossiers_per_version().unwrap().into_iter().collect();
    assert_eq!(per_version, [(hash, 1)]);
}

/// A server rolled back to an earlier version, then forward again: the
/// earlier one wrote commands keeping the indexes as it knew them (no own
/// answers), so this version builds them again when it finds the earlier
/// marker beside its own.
#[test]
fn indexes_are_built_again_after_a_server_of_an_earlier_version_ran() {
    let folder = tempfile::tempdir().unwrap();
    let now = at("2027-03-15T10:00:00Z");
    let journey = {
        let store = SledStore::open(folder.path()).unwrap();
        let engine = guichet_engine::Engine::open(osu(), store).unwrap();
        let journey = Journey::ready_to_transmit(&engine, ("alice", "Alice"), &[], "m1-set", now);
        engine.store().shut_down().unwrap();
        journey
    };
    let stale = serde_json::json!({"etat_civil": {"nom_naissance": "Ancien"}});
    {
        let db = reopened(|| sled::open(folder.path()));
        // Stopped cleanly: nothing an earlier version could not read.
        assert!(db.open_tree("command_being_written").unwrap().is_empty());
        // The earlier server built its indexes, left its marker, and
        // saved a section without the dossier's own answers.
        db.insert(
            "indexes: rows, counts, due times, waiting lists, answers sent (version 8)",
            "",
        )
        .unwrap();
        db.open_tree("answers_own_by_dossier")
            .unwrap()
            .insert(
                journey.dossier.as_str(),
                serde_json::to_vec(&stale).unwrap(),
            )
            .unwrap();
        db.flush().unwrap();
    }
    let store = reopened(|| SledStore::open(folder.path()));
    let engine = guichet_engine::Engine::open(osu(), store).unwrap();
    let dossier = engine.dossier(&journey.dossier).unwrap().unwrap();
    let answers = engine
        .answers_of(&journey.dossier, &journey.candidature)
        .unwrap()
        .unwrap();
    assert_eq!(answers, dossier.profile);
    assert_ne!(serde_json::to_value(&answers).unwrap(), stale);
    drop(engine);
    let db = reopened(|| sled::open(folder.path()));
    assert!(!db
        .contains_key("indexes: rows, counts, due times, waiting lists, answers sent (version 8)")
        .unwrap());
    assert!(db.contains_key(SledStore::INDEXES_BUILT).unwrap());
}

#[test]
fn rows_stored_as_objects_by_version_6_are_written_again_at_opening() {
    let folder = tempfile::tempdir().unwrap();
    let now = at("2027-03-15T10:00:00Z");
    let row = {
        let store = SledStore::open(folder.path()).unwrap();
        let engine = guichet_engine::Engine::open(osu(), store).unwrap();
        Journey::ready_to_transmit(&engine, ("alice", "Alice"), &[], "m1-set", now);
        let rows = engine.store().rows_of("m1-set", None).unwrap();
        assert_eq!(rows.len(), 1);
        rows[0].clone()
    };
    // As version 6 left it: each row a whole object, under the same key.
    {
        let db = reopened(|| sled::open(folder.path()));
        db.remove(SledStore::INDEXES_BUILT)
            .unwrap()
            .expect("the marker of this version");
        db.insert(
            "indexes: rows, counts, due times, waiting lists (version 6)",
            "",
        )
        .unwrap();
        let rows = db.open_tree("candidatures_by_formation_and_state").unwrap();
        let (key, value) = rows.iter().next().unwrap().unwrap();
        assert!(value.starts_with(b"["), "a row is stored as an array");
        rows.insert(key, serde_json::to_vec(&row).unwrap()).unwrap();
        db.flush().unwrap();
    }
    let store = reopened(|| SledStore::open(folder.path()));
    let engine = guichet_engine::Engine::open(osu(), store).unwrap();
    assert_eq!(engine.store().rows_of("m1-set", None).unwrap(), vec![row]);
}

/// Alice, Bruno (second on the waiting list) and Chloé (first) with their
/// decisions published on `m1-set`, Denis refused; the dossiers in that
/// order.
fn decided(engine: &guichet_engine::Engine<SledStore>, now: jiff::Timestamp) -> Vec<Journey> {
    let office = Actor::new("gestionnaire", "agent");
    let committee = Actor::new("commission", "prof");
    let mut decided = Vec::new();
    for (owner, decision) in [
        ("alice", json!({"avis": "favorable"})),
        ("bruno", json!({"avis": "liste_complementaire", "rang": 2})),
        ("chloe", json!({"avis": "liste_complementaire", "rang": 1})),
        (
            "denis",
            json!({"avis": "defavorable", "motif": "Hors sujet"}),
        ),
    ] {
        let sent = Journey::ready_to_transmit(engine, (owner, owner), &[], "m1-set", now);
        sent.transmit(engine, now).unwrap();
        let steps = [
            (&office, transition("c1", "declarer_complet", json!({}))),
            (&committee, transition("c1", "saisir_avis", decision)),
            (&office, transition("c1", "publier_avis", json!({}))),
        ];
        for (actor, command) in steps {
            act(engine, &sent.dossier, actor, command, now).unwrap();
        }
        decided.push(sent);
    }
    decided
}

/// The owners on `m1-set`'s waiting list, in order.
fn waiting(engine: &guichet_engine::Engine<SledStore>, now: jiff::Timestamp) -> Vec<String> {
    let definition = engine.definition();
    let rule = guichet_engine::promotion_rules(&definition)[0];
    let list = engine
        .waiting_list(&definition, "m1-set", rule, now, None)
        .unwrap();
    list.into_iter().map(|(d, _, _)| d.owner.clone()).collect()
}

#[test]
fn the_waiting_list_is_kept_in_rank_order_and_left_when_promoted() {
    let (_folder, engine) = support::open(osu());
    let now = at("2027-03-15T10:00:00Z");
    let decided = decided(&engine, now);
    assert_eq!(waiting(&engine, now), ["chloe", "bruno"], "by rank");
    // Alice withdraws: Chloé, first, is offered the place and leaves the list.
    let alice = &decided[0];
    let withdraw = transition("c1", "se_desister", json!({}));
    act(&engine, &alice.dossier, &alice.me, withdraw, now).unwrap();
    assert_eq!(waiting(&engine, now), ["bruno"]);
}

/// A promotion whose `set:` leaves the rule's `among` true passes `guichet
/// check` (it cannot tell what a `set:` makes of an expression), but made,
/// it would leave the promoted candidature heading the list, offered every
/// place freed after. It is not made: the withdrawal goes through, the
/// place stays free, and the outcome says why.
#[test]
fn a_promotion_that_would_leave_its_candidature_on_the_list_is_not_made() {
    let text = std::fs::read_to_string(support::osu_path()).unwrap();
    let kept_on_list = text.replace(
        "        avis: \"'favorable'\"\n",
        "        promu: \"true\"\n",
    );
    assert_ne!(kept_on_list, text);
    let bundle = guichet_engine::Bundle::with_text(&support::osu_path(), kept_on_list);
    let definition = guichet_engine::Definition::from_bundle(bundle).unwrap();
    // `guichet test` says so, where the definition's scenarios free a place.
    let definition = std::sync::Arc::new(definition);
    let failures: Vec<String> = guichet_engine::run_scenarios(&definition)
        .into_iter()
        .filter_map(|report| report.failure.map(|failure| failure.reason))
        .collect();
    assert!(
        failures.iter().any(|reason| reason.starts_with(
            "the place freed was not passed on: promotion `promouvoir` leaves candidature"
        )),
        "{failures:?}"
    );
    let folder = tempfile::tempdir().unwrap();
    let store = SledStore::open(folder.path()).unwrap();
    let engine = guichet_engine::Engine::open_shared(definition, store).unwrap();
    let now = at("2027-03-15T10:00:00Z");
    let decided = decided(&engine, now);
    let chloe = engine.dossier(&decided[2].dossier).unwrap().unwrap();
    let mailed_to = |dossier: &str| {
        let outbox = engine.outbox().unwrap();
        let to = |mail: &&guichet_engine::OutboxMail| mail.dossier.as_deref() == Some(dossier);
        outbox.iter().filter(to).count()
    };
    let mailed_before = mailed_to(&chloe.id);
    let alice = &decided[0];
    let withdraw = transition("c1", "se_desister", json!({}));
    let outcome = engine
        .apply(
            &alice.dossier,
            engine.dossier(&alice.dossier).unwrap().unwrap().version,
            &alice.me,
            withdraw,
            now,
        )
        .unwrap();
    assert_eq!(outcome.dossier.candidatures[0].state, "desistee");
    let [Err(refused)] = &outcome.follow_ups[..] else {
        panic!("one promotion, refused: {:?}", outcome.follow_ups);
    };
    let message = refused.to_string();
    assert!(
        message.contains(
            "promotion `promouvoir` leaves candidature `c1` on the waiting list of `m1-set`"
        ) && message.contains("`set:`"),
        "{message}"
    );
    // Chloé is as she was, first on the list; nothing was mailed to her.
    let after = engine.dossier(&chloe.id).unwrap().unwrap();
    assert_eq!(after.version, chloe.version);
    assert_eq!(waiting(&engine, now), ["chloe", "bruno"]);
    assert_eq!(mailed_to(&chloe.id), mailed_before);
}

/// What a new version would do to the dossiers in progress, counted from
/// the indexes (the counts by formation and state, the dossiers' own
/// answers) is what reading every dossier counts; a piece removed has its
/// files counted from the dossiers.
/// Files are counted per piece as candidates upload and remove them; the
/// counts equal what the dossiers hold, and are the same once the indexes
/// are built again from the dossiers.
#[test]
fn files_are_counted_per_piece_and_follow_each_command() {
    use support::{piece, OSU_PIECES};
    let folder = tempfile::tempdir().unwrap();
    let now = at("2027-03-15T10:00:00Z");
    let from_dossiers = |store: &SledStore, id: &str| {
        let mut count = 0;
        store
            .each_dossier(&mut |dossier| {
                count += dossier
                    .candidatures
                    .iter()
                    .filter(|c| c.holds_file(id))
                    .count();
            })
            .unwrap();
        count
    };
    let counts = |store: &SledStore| -> Vec<(usize, usize)> {
        OSU_PIECES
            .iter()
            .map(|id| (store.files_held(id).unwrap(), from_dossiers(store, id)))
            .collect()
    };
    {
        let engine =
            guichet_engine::Engine::open(osu(), SledStore::open(folder.path()).unwrap()).unwrap();
        let store = engine.store();
        assert!(counts(store).iter().all(|&(held, _)| held == 0));
        let alice = Journey::ready_to_transmit(&engine, ("alice", "Alice"), &[], "m1-set", now);
        Journey::ready_to_transmit(&engine, ("bruno", "Bruno"), &[], "m1-set", now);
        assert!(counts(store)
            .iter()
            .all(|&(held, read)| held == 2 && read == 2));
        // Uploaded again: the file replaced, still one.
        let again = support::file("cv.pdf", "pdf", 90_000);
        let upload = piece(&alice.candidature, "cv", "deposer", Some(again), None);
        act(&engine, &alice.dossier, &alice.me, upload, now).unwrap();
        assert_eq!(store.files_held("cv").unwrap(), 2);
        // Removed: one less, for that piece alone.
        let remove = piece(&alice.candidature, "cv", "retirer", None, None);
        act(&engine, &alice.dossier, &alice.me, remove, now).unwrap();
        let after = counts(store);
        assert_eq!(after[0], (1, 1), "{:?}", OSU_PIECES[0]);
        assert!(after[1..]
            .iter()
            .all(|&(held, read)| held == 2 && read == 2));
        engine.store().shut_down().unwrap();
    }
    let before = counts(&reopened(|| SledStore::open(folder.path())));
    // Built again from the dossiers (a store of an earlier version): the
    // same counts.
    as_an_earlier_version_left_it(folder.path());
    let engine =
        guichet_engine::Engine::open(osu(), reopened(|| SledStore::open(folder.path()))).unwrap();
    assert_eq!(counts(engine.store()), before);
}

#[test]
fn impacts_counted_from_the_indexes_are_those_the_dossiers_give() {
    use guichet_engine::{diff, Definition};
    let v1_text = include_str!("fixtures/versions/v1.yaml");
    let v1 = Definition::from_text("v1.yaml", v1_text).unwrap();
    let (_folder, engine) = support::open(Definition::from_text("v1.yaml", v1_text).unwrap());
    let now = at("2027-03-10T10:00:00Z");
    let staff = Actor::new("staff", "office");
    // (owner, answers, applies, uploads, transmits, closed)
    let seeded = [
        (
            "ada",
            Some(json!({"nationality": "FR", "hobby": "Piano"})),
            true,
            true,
            true,
            false,
        ),
        (
            "bruno",
            Some(json!({"nationality": "IT"})),
            true,
            true,
            true,
            true,
        ),
        (
            "chloe",
            Some(json!({"hobby": "Escalade"})),
            true,
            false,
            false,
            false,
        ),
        ("dan", None, false, false, false, false),
    ];
    for (owner, answers, applies, uploads, transmits, closed) in seeded {
        let dossier = engine
            .create_dossier(owner, candidate(owner), "en", now)
            .unwrap()
            .id;
        let me = Actor::new("candidate", owner);
        if let Some(answers) = answers {
            let save = Command::SaveSection {
                section: "identity".into(),
                answers,
            };
            act(&engine, &dossier, &me, save, now).unwrap();
        }
        if applies {
            let apply = Command::Apply {
                formation: "master".into(),
            };
            act(&engine, &dossier, &me, apply, now).unwrap();
        }
        if uploads {
            let upload = Command::Piece {
                candidature: "c1".into(),
                piece: "cv".into(),
                transition: "upload".into(),
                file: Some(support::file("cv.pdf", "pdf", 1000)),
                comment: None,
            };
            act(&engine, &dossier, &me, upload, now).unwrap();
        }
        if transmits {
            let transmit = transition("c1", "transmit", json!({}));
            act(&engine, &dossier, &me, transmit, now).unwrap();
        }
        if closed {
            let close = transition("c1", "close", json!({}));
            act(&engine, &dossier, &staff, close, now).unwrap();
        }
    }
    let draft = |text: String| Definition::from_text("draft.yaml", &text).unwrap();
    // A field removed, another newly required, a state removed, a piece
    // newly required: counted from the indexes.
    let removing = draft(
        v1_text
            .replace("      - { id: hobby, type: text, label: Hobby }\n", "")
            .replace(
                "{ id: nationality, type: text, label: Nationality }",
                "{ id: nationality, type: text, label: Nationality, required: true }",
            )
            .replace("    - { id: closed, label: Closed, final: true }\n", "")
            .replace(
                "    - { id: close, label: Close, from: received, to: closed, by: staff }\n",
                "",
            )
            .replace(
                "  - { id: cv, label: CV, accept: [pdf], max_size: 2MB }",
                "  - { id: cv, label: CV, accept: [pdf], max_size: 2MB }\n  \
                 - { id: diploma, label: Diploma, accept: [pdf], max_size: 2MB }",
            )
            .replace("pieces: [cv]", "pieces: [cv, diploma]"),
    );
    // The formation itself replaced by another: counted from the indexes.
    let replacing =
        draft(v1_text.replace("id: master, title: Master", "id: licence, title: Licence"));
    // A piece removed: its files counted from the indexes too.
    let without_cv = draft(
        v1_text
            .replace(
                "  - { id: cv, label: CV, accept: [pdf], max_size: 2MB }",
                "  - { id: diploma, label: Diploma, accept: [pdf], max_size: 2MB }",
            )
            .replace("pieces: [cv]", "pieces: [diploma]"),
    );
    let read_one_by_one = |new: &Definition| {
        let mut impacts = diff::Impacts::new(&v1, new);
        engine
            .each_dossier(&mut |dossier| impacts.count(&dossier))
            .unwrap();
        impacts.found()
    };
    let lines = |impacts: Vec<diff::Impact>| -> Vec<String> {
        impacts.iter().map(ToString::to_string).collect()
    };
    assert_eq!(
        lines(engine.impacts_of(&v1, &removing).unwrap()),
        [
            "! state `closed` is removed and holds candidatures (1)",
            "! piece `diploma` is newly required by formation `master`, of candidatures already sent (2)",
            "! field `identity.hobby` is removed and has answers (2)",
            "! field `identity.nationality` is newly required, and unanswered in saved sections (1)",
        ]
    );
    assert_eq!(
        lines(engine.impacts_of(&v1, &replacing).unwrap()),
        ["! formation `master` is removed and has candidatures (3)"]
    );
    assert_eq!(
        lines(engine.impacts_of(&v1, &without_cv).unwrap()),
        [
            "! piece `diploma` is newly required by formation `master`, of candidatures already sent (2)",
            "! piece `cv` is removed and has files (2)",
        ]
    );
    for new in [&removing, &replacing, &without_cv] {
        assert_eq!(engine.impacts_of(&v1, new).unwrap(), read_one_by_one(new));
    }
    assert!(engine.impacts_of(&v1, &v1).unwrap().is_empty());
    // A dossier started under another version: those on v1 are read, and
    // it is not counted with them.
    let replacing = std::sync::Arc::new(replacing);
    engine.publish(replacing.clone(), "admin", now).unwrap();
    let later = engine
        .create_dossier("emma", candidate("Emma"), "en", now)
        .unwrap()
        .id;
    let emma = Actor::new("candidate", "emma");
    let apply = Command::Apply {
        formation: "licence".into(),
    };
    act(&engine, &later, &emma, apply, now).unwrap();
    assert_eq!(engine.dossiers_per_version().unwrap().len(), 2);
    assert_eq!(
        lines(engine.impacts_of(&v1, &replacing).unwrap()),
        ["! formation `master` is removed and has candidatures (3)"]
    );
    let back = draft(v1_text.to_owned());
    assert_eq!(
        lines(engine.impacts_of(&replacing, &back).unwrap()),
        ["! formation `licence` is removed and has candidatures (1)"]
    );
}
