//! What choosing a password costs when many accounts hold links and
//! sessions: the account's other links are ended and its sessions closed
//! (`AccountStore::revoke_links`, `AccountStore::close_sessions_of`), as
//! an activation, a reset or a change of password does.
//!
//! `cargo bench -p guichet-server --bench password_changes` seeds 100,000
//! accounts, each with an activation link used and a session, opens them
//! as an earlier version left them (the keys by account and by end built
//! then), measures both calls for accounts taken at random, then the
//! server's sweep of sessions past their maximum age and of links a month
//! past their expiry; `cargo test
//! --benches` runs it with 1,000 accounts, checking what the calls did,
//! not timing them.

use std::time::{Duration, Instant};

use jiff::Timestamp;

// The store is the server's own module: the server has no library crate.
#[allow(dead_code)]
#[path = "../src/account_store.rs"]
mod account_store;

use account_store::{AccountStore, Purpose, TokenProblem};

// How timings are printed, as the server's other benches print them.
#[path = "shared/report.rs"]
mod report;
use report::report;

/// How many accounts are seeded: 100,000 under `cargo bench`, which passes
/// `--bench`; 1,000 in the short mode CI runs.
fn accounts() -> usize {
    if std::env::args().any(|a| a == "--bench") {
        100_000
    } else {
        1_000
    }
}

const DAY: Duration = Duration::from_secs(24 * 3600);

fn now() -> Timestamp {
    "2027-03-10T09:00:00Z".parse().expect("time")
}

/// The database at `path`, opened once sled's threads of the last opening
/// have let it go.
fn opened_again(path: &std::path::Path) -> sled::Db {
    for _ in 0..100 {
        if let Ok(db) = sled::open(path) {
            return db;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    sled::open(path).expect("database")
}

/// The same as a store.
fn opened_again_as_store(path: &std::path::Path) -> AccountStore {
    AccountStore::within(opened_again(path)).expect("store")
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let folder = tempfile::tempdir().expect("tempdir");
    let path = folder.path().join("accounts");
    let count = accounts();
    let begun = Instant::now();
    let mut ids = Vec::with_capacity(count);
    {
        let store = AccountStore::open(&path).expect("store");
        // Four at a time: each call flushes, and flushes taken together
        // are shared.
        let per_thread = count.div_ceil(4);
        let seeded: Vec<Vec<(String, String)>> = std::thread::scope(|scope| {
            let threads: Vec<_> = (0..4)
                .map(|thread| {
                    let store = store.clone();
                    scope.spawn(move || {
                        let first = thread * per_thread;
                        (first..count.min(first + per_thread))
                            .map(|n| {
                                let email = format!("candidat{n}@example.org");
                                let (account, _) = store
                                    .create("Zoé", "Lefèvre", &email, (now(), DAY))
                                    .expect("account");
                                let (link, _) = store
                                    .issue_token(Purpose::Activation, &account.id, DAY, now())
                                    .expect("link");
                                store.use_token(&link, now()).expect("used").expect("valid");
                                store.open_session(&account.id, now()).expect("session");
                                (account.id, link)
                            })
                            .collect()
                    })
                })
                .collect();
            threads
                .into_iter()
                .map(|t| t.join().expect("seeding"))
                .collect()
        });
        ids.extend(seeded.into_iter().flatten().map(|(id, _)| id));
        store.flush().expect("flush");
    }
    println!(
        "{count} accounts seeded, each with a link used and a session, in {:.1} s",
        begun.elapsed().as_secs_f64()
    );
    // As an earlier version left them: without the trees by account, which
    // the first opening builds (the checks below run on what it built),
    // and with a few links still outstanding.
    let outstanding: Vec<(String, String)> = {
        let store = opened_again_as_store(&path);
        ids.iter()
            .take(3)
            .map(|id| {
                let (link, _) = store
                    .issue_token(Purpose::PasswordReset, id, DAY, now())
                    .expect("link");
                (id.clone(), link)
            })
            .collect()
    };
    {
        let db = opened_again(&path);
        for tree in [
            "tokens_by_account",
            "sessions_by_account",
            "sessions_by_end",
            "tokens_by_end",
            "account_store",
        ] {
            db.drop_tree(tree).expect("tree dropped");
        }
        db.flush().expect("flush");
    }
    let begun = Instant::now();
    drop(opened_again_as_store(&path));
    println!(
        "store opened on {count} accounts left by an earlier version (links and sessions by account and by end built): {:.3} s",
        begun.elapsed().as_secs_f64()
    );
    // Opened again, as a server starting on them.
    let begun = Instant::now();
    let store = opened_again_as_store(&path);
    println!(
        "store opened on {count} accounts: {:.3} s",
        begun.elapsed().as_secs_f64()
    );
    for (id, link) in &outstanding {
        assert!(store.check_token(link, now()).expect("read").is_ok());
        store.revoke_links(id).expect("revoked");
        assert_eq!(
            store.check_token(link, now()).expect("read"),
            Err(TokenProblem::Used),
            "a link outstanding before the trees by account were built is ended"
        );
    }
    let mut revoked = Vec::new();
    let mut closed = Vec::new();
    let runs = 50.min(count);
    for run in 0..runs {
        let id = &ids[(run * 7919) % count];
        let (link, _) = store
            .issue_token(Purpose::PasswordReset, id, DAY, now())
            .expect("link");
        let session = store.open_session(id, now()).expect("session");
        let begun = Instant::now();
        store.revoke_links(id).expect("revoked");
        revoked.push(begun.elapsed());
        let begun = Instant::now();
        store.close_sessions_of(id).expect("closed");
        closed.push(begun.elapsed());
        assert_eq!(
            store.use_token(&link, now()).expect("read"),
            Err(TokenProblem::Used),
            "the link ended"
        );
        assert!(
            store.session(&session, now()).expect("read").is_none(),
            "the session closed"
        );
    }
    // Another account's link and session are untouched.
    let other = &ids[count - 1];
    let (link, _) = store
        .issue_token(Purpose::PasswordReset, other, DAY, now())
        .expect("link");
    let session = store.open_session(other, now()).expect("session");
    store.revoke_links(&ids[0]).expect("revoked");
    store.close_sessions_of(&ids[0]).expect("closed");
    assert!(store.check_token(&link, now()).expect("read").is_ok());
    assert!(store.session(&session, now()).expect("read").is_some());
    report(
        &format!("a password chosen among {count} accounts: its links ended"),
        revoked,
    );
    report(
        &format!("a password chosen among {count} accounts: its sessions closed"),
        closed,
    );
    // Every session past its maximum age, as the server sweeps them.
    let begun = Instant::now();
    let nothing = store.sweep(now()).expect("swept");
    let none_due = begun.elapsed();
    let day_after = now() + jiff::SignedDuration::from_hours(24);
    let begun = Instant::now();
    let swept = store.sweep(day_after).expect("swept");
    println!(
        "sessions swept: none due among {count} in {:.3} ms; {} past their maximum age in {:.2} s",
        none_due.as_secs_f64() * 1e3,
        swept.sessions,
        begun.elapsed().as_secs_f64()
    );
    assert_eq!(nothing, Default::default());
    // Each account's session but those closed in the runs (the runs'
    // accounts differ: 7,919 is prime to the counts), and the one opened
    // last; no link yet: each is kept a month past its day.
    assert_eq!(swept.sessions, count - runs + 1);
    assert_eq!(swept.tokens, 0);
    assert!(store.session(&session, day_after).expect("read").is_none());
    // Then every link, used or not, once kept its month past its expiry.
    let links = store.tree("tokens").expect("tree").len();
    let month_after = now() + jiff::SignedDuration::from_hours(24 * 32);
    let begun = Instant::now();
    let swept = store.sweep(month_after).expect("swept");
    println!(
        "links swept: {} a month past their expiry in {:.2} s",
        swept.tokens,
        begun.elapsed().as_secs_f64()
    );
    assert_eq!(swept.tokens, links);
    assert_eq!(
        store.check_token(&link, month_after).expect("read"),
        Err(TokenProblem::Unknown)
    );
    assert!(store.tree("tokens").expect("tree").is_empty());
    assert!(store.tree("tokens_by_account").expect("tree").is_empty());
}
