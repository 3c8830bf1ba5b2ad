//! Measured speed of the engine: loading a definition, evaluating a guard,
//! durable commands on sled (one writer, and several sharing flushes),
//! scheduler passes over deadlines whose transitions are refused, and a
//! dossier's history read back.
//!
//! `cargo bench -p guichet-engine`; figures are reported in docs/performance.md.
//! The engine runs on the allocator the `guichet` server chose (jemalloc, with
//! its settings), so that what is measured here is what the server does.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use guichet_engine::{
    candidature_context, Actor, Candidate, Command, Definition, Engine, MemoryStore, SledStore,
    Store,
};
use jiff::Timestamp;
use serde_json::json;

// The server's allocator and its settings, to measure what the server does.
#[path = "../../server/src/allocator.rs"]
mod allocator;

fn osu_path() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../definitions/osu-pytheas.yaml")
}

fn candidate() -> Candidate {
    Candidate {
        last_name: "Durand".into(),
        first_name: "Camille".into(),
        email: "camille@example.org".into(),
    }
}

fn now() -> Timestamp {
    "2027-03-10T09:00:00Z".parse().expect("timestamp")
}

fn save(n: u64) -> Command {
    Command::SaveSection {
        section: "coordonnees".into(),
        answers: json!({"adresse": format!("{n} rue Sainte"), "code_postal": "13001"}),
    }
}

fn loading(c: &mut Criterion) {
    let path = osu_path();
    c.bench_function("load and check osu-pytheas.yaml", |b| {
        b.iter(|| Definition::load(&path).expect("valid"))
    });
}

/// An engine on the OSU procedure over a sled store in `folder`, and
/// Camille's new dossier in it.
fn camilles_dossier_on_sled(folder: &Path) -> (Engine<SledStore>, guichet_engine::Dossier) {
    let engine = Engine::open(
        Definition::load(osu_path()).expect("valid"),
        SledStore::open(folder).expect("store"),
    )
    .expect("engine");
    let dossier = engine
        .create_dossier("camille", candidate(), "fr", now())
        .expect("dossier");
    (engine, dossier)
}

fn guard(c: &mut Criterion) {
    let folder = tempfile::tempdir().expect("tempdir");
    let (engine, dossier) = camilles_dossier_on_sled(folder.path());
    let me = Actor::new("candidat", "camille");
    let applied = engine
        .apply(
            &dossier.id,
            1,
            &me,
            Command::Apply {
                formation: "m1-set".into(),
            },
            now(),
        )
        .expect("apply");
    let definition = engine.definition();
    let candidature = &applied.dossier.candidatures[0];
    let context =
        candidature_context(&definition, &applied.dossier, candidature, now()).expect("context");
    let guard = "campaign.is_open && candidature.missing_pieces.is_empty()";
    c.bench_function("build a candidature's context", |b| {
        b.iter(|| {
            candidature_context(&definition, &applied.dossier, candidature, now()).expect("context")
        })
    });
    c.bench_function("evaluate the transmission guard", |b| {
        b.iter(|| definition.eval_bool(guard, &context).expect("guard"))
    });
}

fn commands(c: &mut Criterion) {
    let mut group = c.benchmark_group("durable commands");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(5));
    for writers in [1u64, 4] {
        group.bench_function(format!("{writers} writer(s), one dossier each"), |b| {
            b.iter_custom(|iterations| {
                let folder = tempfile::tempdir().expect("tempdir");
                let engine = Arc::new(
                    Engine::open(
                        Definition::load(osu_path()).expect("valid"),
                        SledStore::open(folder.path()).expect("store"),
                    )
                    .expect("engine"),
                );
                let per_writer = iterations.div_ceil(writers);
                let started = Instant::now();
                let threads: Vec<_> = (0..writers)
                    .map(|w| {
                        let engine = Arc::clone(&engine);
                        std::thread::spawn(move || {
                            let owner = format!("writer-{w}");
                            let dossier = engine
                                .create_dossier(&owner, candidate(), "fr", now())
                                .expect("dossier");
                            let me = Actor::new("candidat", owner);
                            for n in 0..per_writer {
                                engine
                                    .apply(&dossier.id, n + 1, &me, save(n), now())
                                    .expect("durable command");
                            }
                        })
                    })
                    .collect();
                for thread in threads {
                    thread.join().expect("writer");
                }
                // Criterion divides by `iterations`: the wall time per command,
                // all writers together (throughput, not latency).
                started.elapsed()
            })
        });
    }
    group.finish();
}

/// The floor under a durable command: sled alone writing the bytes a
/// command writes (the dossier and its event, as the store encodes them)
/// and flushing, on the same disk, measured the same way as the engine's
/// durable command beside it (wall time over a run, on a fresh store); and
/// a command with nothing to flush, in memory.
fn physical_limit(c: &mut Criterion) {
    let mut group = c.benchmark_group("the physical limit");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(5));
    let written = written_by_a_save();
    group.bench_function(
        "1 writer, bare sled: the same bytes inserted, then a flush",
        |b| {
            b.iter_custom(|iterations| {
                let folder = tempfile::tempdir().expect("tempdir");
                BareSled::open(folder.path(), written.clone()).run(iterations)
            })
        },
    );
    group.bench_function("1 writer, the engine on sled: a durable command", |b| {
        b.iter_custom(|iterations| {
            let folder = tempfile::tempdir().expect("tempdir");
            saves_on(SledStore::open(folder.path()).expect("store"), iterations)
        })
    });
    group.bench_function("the engine in memory: a command", |b| {
        b.iter_custom(|iterations| saves_on(MemoryStore::new(), iterations))
    });
    group.finish();
    if filtered_out("the physical limit, alternated") {
        return;
    }
    // Measured one after the other, the two above drift apart with the
    // disk's latency over minutes (their ratio moved between 1.2 and 1.5
    // from one run to the next); in rounds taking turns, each round's
    // ratio compares the two under the same conditions.
    let bare_folder = tempfile::tempdir().expect("tempdir");
    let sizes = (written.dossier_bytes.len(), written.event_bytes.len());
    let bare = BareSled::open(bare_folder.path(), written);
    let engine_folder = tempfile::tempdir().expect("tempdir");
    let mut saves = Saves::on(SledStore::open(engine_folder.path()).expect("store"));
    // `cargo test --benches` (criterion's test mode, without `--bench`):
    // a few short rounds, which CI runs so that this part never rots.
    let (rounds, per_round): (usize, u32) = if std::env::args().any(|a| a == "--bench") {
        (31, 1_000)
    } else {
        (3, 10)
    };
    let (mut bare_times, mut command_times, mut ratios) = (vec![], vec![], vec![]);
    for _ in 0..rounds {
        let bare_time = bare.run(u64::from(per_round)) / per_round;
        let command_time = saves.run(u64::from(per_round)) / per_round;
        ratios.push(command_time.as_secs_f64() / bare_time.as_secs_f64());
        bare_times.push(bare_time);
        command_times.push(command_time);
    }
    // `median` sorts: the ratios' ends are then the lowest and the highest.
    let ratio = median(&mut ratios);
    let (lowest, highest) = (ratios[0], ratios[rounds - 1]);
    println!(
        "the physical limit, alternated ({rounds} rounds of {per_round} each, medians): \
         bare sled {:?} (a dossier of {} bytes, an event of {}), durable command {:?}, \
         ratio {ratio:.2} (rounds from {lowest:.2} to {highest:.2})",
        median(&mut bare_times),
        sizes.0,
        sizes.1,
        median(&mut command_times),
    );
}

/// Whether the filter given to the bench (`cargo bench -- FILTER`) leaves out
/// the measurement named `name`, which criterion does not run itself.
fn filtered_out(name: &str) -> bool {
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|argument| !argument.starts_with('-'))
        .collect();
    !filters.is_empty() && !filters.iter().any(|filter| name.contains(filter.as_str()))
}

/// The middle value (sorts `values`).
fn median<T: PartialOrd + Copy + Default>(values: &mut [T]) -> T {
    values.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    values.get(values.len() / 2).copied().unwrap_or_default()
}

/// What a section saved writes, as the store wrote it: its dossier's key
/// and bytes, its event's key without the version that ends it, its
/// event's bytes, and the dossier's own answers (kept apart for exports,
/// under the dossier's key).
#[derive(Clone)]
struct Written {
    dossier_key: Vec<u8>,
    dossier_bytes: Vec<u8>,
    event_key_prefix: Vec<u8>,
    event_bytes: Vec<u8>,
    answers_bytes: Vec<u8>,
}

/// Saves a section on a new dossier in a sled store, then reads back from
/// the store's trees what that command wrote.
fn written_by_a_save() -> Written {
    let folder = tempfile::tempdir().expect("tempdir");
    {
        let store = SledStore::open(folder.path()).expect("store");
        let engine =
            Engine::open(Definition::load(osu_path()).expect("valid"), store).expect("engine");
        let dossier = engine
            .create_dossier("camille", candidate(), "fr", now())
            .expect("dossier");
        let me = Actor::new("candidat", "camille");
        engine
            .apply(&dossier.id, 1, &me, save(1), now())
            .expect("command");
    }
    let db = sled::open(folder.path()).expect("the store's sled database");
    let tree = |name: &str| db.open_tree(name).expect("tree");
    let (dossier_key, dossier_bytes) = tree("dossiers")
        .iter()
        .next()
        .expect("a dossier")
        .expect("read");
    // The save's event is the last: the version ends its key.
    let (event_key, event_bytes) = tree("events")
        .iter()
        .next_back()
        .expect("an event")
        .expect("read");
    let version_at = event_key.len() - std::mem::size_of::<u64>();
    let answers_bytes = tree("answers_own_by_dossier")
        .get(&dossier_key)
        .expect("read")
        .expect("the dossier's own answers");
    Written {
        answers_bytes: answers_bytes.to_vec(),
        dossier_key: dossier_key.to_vec(),
        dossier_bytes: dossier_bytes.to_vec(),
        event_key_prefix: event_key[..version_at].to_vec(),
        event_bytes: event_bytes.to_vec(),
    }
}

/// Sled alone, writing a command's keys and bytes (its event, its
/// dossier's own answers, then its dossier, as the store writes them) and
/// flushing, as a durable command does.
struct BareSled {
    db: sled::Db,
    dossiers: sled::Tree,
    events: sled::Tree,
    answers: sled::Tree,
    written: Written,
    version: std::cell::Cell<u64>,
}

impl BareSled {
    fn open(path: &Path, written: Written) -> Self {
        let db = sled::Config::new()
            .path(path)
            .cache_capacity(128 * 1024 * 1024)
            .open()
            .expect("sled");
        Self {
            dossiers: db.open_tree("dossiers").expect("tree"),
            events: db.open_tree("events").expect("tree"),
            answers: db.open_tree("answers_own_by_dossier").expect("tree"),
            db,
            written,
            version: Default::default(),
        }
    }

    /// The time `count` writes take, each flushed.
    fn run(&self, count: u64) -> Duration {
        let written = &self.written;
        let started = Instant::now();
        for _ in 0..count {
            let version = self.version.get() + 1;
            self.version.set(version);
            let mut event_key = written.event_key_prefix.clone();
            event_key.extend_from_slice(&version.to_be_bytes());
            self.events
                .insert(event_key, written.event_bytes.as_slice())
                .expect("insert");
            self.answers
                .insert(
                    written.dossier_key.as_slice(),
                    written.answers_bytes.as_slice(),
                )
                .expect("insert");
            self.dossiers
                .insert(
                    written.dossier_key.as_slice(),
                    written.dossier_bytes.as_slice(),
                )
                .expect("insert");
            self.db.flush().expect("flush");
        }
        started.elapsed()
    }
}

/// The time `iterations` sections saved one after the other take, by one
/// candidate on a new dossier in `store`.
fn saves_on<S: Store>(store: S, iterations: u64) -> Duration {
    Saves::on(store).run(iterations)
}

/// One candidate saving a section again and again.
struct Saves<S: Store> {
    engine: Engine<S>,
    dossier: String,
    version: u64,
}

impl<S: Store> Saves<S> {
    fn on(store: S) -> Self {
        let engine =
            Engine::open(Definition::load(osu_path()).expect("valid"), store).expect("engine");
        let dossier = engine
            .create_dossier("camille", candidate(), "fr", now())
            .expect("dossier");
        Self {
            engine,
            dossier: dossier.id,
            version: dossier.version,
        }
    }

    /// The time `count` more saves take.
    fn run(&mut self, count: u64) -> Duration {
        let me = Actor::new("candidat", "camille");
        let started = Instant::now();
        for _ in 0..count {
            self.engine
                .apply(&self.dossier, self.version, &me, save(self.version), now())
                .expect("command");
            self.version += 1;
        }
        started.elapsed()
    }
}

/// A scheduler's pass over a thousand deadlines due whose transitions' guard
/// does not hold (each candidature's CV missing): tried again, an hour after
/// the last try, and waiting, the next minute with nothing changed.
fn refused_deadlines(c: &mut Criterion) {
    const CANDIDATURES: usize = 1_000;
    const GROUP: &str = "a pass over 1,000 refused deadlines";
    // A thousand dossiers to write first: not when a filter leaves it out.
    if filtered_out(GROUP) {
        return;
    }
    let mut group = c.benchmark_group(GROUP);
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(5));
    let folder = tempfile::tempdir().expect("tempdir");
    let text = include_str!("../../tests/fixtures/guarded-deadline.yaml");
    let engine = Engine::open(
        Definition::from_text("guarded-deadline.yaml", text).expect("valid"),
        SledStore::open(folder.path()).expect("store"),
    )
    .expect("engine");
    for n in 0..CANDIDATURES {
        let owner = format!("candidate-{n}");
        let dossier = engine
            .create_dossier(&owner, candidate(), "en", now())
            .expect("dossier");
        let apply = Command::Apply {
            formation: "master".into(),
        };
        let me = Actor::new("candidate", owner);
        engine
            .apply(&dossier.id, dossier.version, &me, apply, now())
            .expect("applied");
    }
    let mut at = now() + jiff::SignedDuration::from_hours(48);
    let pass = |at: Timestamp| {
        let handled = engine.run_due(at).expect("a pass");
        assert!(handled.iter().all(|(_, result)| result.is_err()));
        handled.len()
    };
    group.bench_function("each tried again, an hour later", |b| {
        b.iter(|| {
            at += guichet_engine::REFUSED_DEADLINE_RETRY;
            assert_eq!(pass(at), CANDIDATURES);
        })
    });
    group.bench_function("each waiting, the dossier unchanged", |b| {
        let within_the_hour = at + jiff::SignedDuration::from_mins(1);
        b.iter(|| assert_eq!(pass(within_the_hour), 0))
    });
    group.finish();
}

/// A dossier's history read back for a page (its events' descriptions,
/// without their changes), whole (with them), and its latest ten, thirty
/// events on sled: a candidate's dashboard shows the latest ten, the page
/// of the whole history every event.
fn history(c: &mut Criterion) {
    let folder = tempfile::tempdir().expect("tempdir");
    let (engine, dossier) = camilles_dossier_on_sled(folder.path());
    let me = Actor::new("candidat", "camille");
    for version in 1..30 {
        engine
            .apply(&dossier.id, version, &me, save(version), now())
            .expect("command");
    }
    assert_eq!(engine.history(&dossier.id).expect("history").len(), 30);
    let mut group = c.benchmark_group("a dossier's history of 30 events");
    group.bench_function("read for a page (without the changes)", |b| {
        b.iter(|| {
            engine
                .history_without_changes(&dossier.id)
                .expect("history")
        })
    });
    group.bench_function("read whole", |b| {
        b.iter(|| engine.history(&dossier.id).expect("history"))
    });
    group.bench_function("its latest ten read for a page", |b| {
        b.iter(|| {
            engine
                .latest_history(&dossier.id, None, 10, &|_| true)
                .expect("history")
        })
    });
    group.finish();
}

criterion_group!(
    benches,
    loading,
    guard,
    commands,
    physical_limit,
    refused_deadlines,
    history
);
criterion_main!(benches);
