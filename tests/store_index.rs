//! The store's index of candidatures by formation and state: kept in the same
//! transaction as the dossiers, so the scheduler and the waiting list read
//! only what they need.

mod support;

use guichet_engine::{Actor, Command, SledStore, Store};
use serde_json::json;
use support::{act, at, candidate, osu, transition, Journey};

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
    let store = SledStore::open(folder.path()).unwrap();
    assert_eq!(of(&store, "m1-set", Some("complet")), [alice]);
    assert_eq!(
        of(&store, "m1-oceanographie", Some("en_attente")),
        [bruno_oceano]
    );
    assert!(of(&store, "m2-set-ecologie", None).is_empty());
}
