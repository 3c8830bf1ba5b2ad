//! Admissions at scale: 100,000 candidatures in a sled store, then what
//! staff and the scheduler do with them, timed.
//!
//! `cargo bench -p guichet-server --bench admissions`; figures are reported
//! in docs/performance.md. The store is seeded through the engine's own
//! commits (one template dossier per formation and state, built by real
//! commands, then copied with new ids, names and dates), so every index is
//! what the engine itself writes. Then, in order:
//!
//! - the release server is started on it (time to a healthy `/health`, and
//!   its peak memory), and a staff list is fetched over HTTP: one formation
//!   and state, a text search, everything;
//! - the engine opened on the store as an earlier version of Guichet would
//!   have left it (its indexes rebuilt from the dossiers), then as it is;
//! - withdrawals of admitted candidates, each promoting the best of the
//!   waiting list;
//! - `Engine::due` on the first of five days, each with 1,000 confirmation
//!   deadlines expiring;
//! - the scheduler's pass of each of these days (1,000 automatic withdrawals,
//!   each with its promotion, and the reminders falling due);
//! - the fourth day's pass again, on copies of the store as it found it,
//!   against bare sled reading the same dossiers and writing the same keys
//!   and bytes (checked equal) with one flush: the floor no engine on sled
//!   could go under.
//!
//! `cargo test --benches` runs it on 2,000 candidatures (a hundredth on each
//! day), checking that each part does what it should, not how fast.
//!
//! To look into one part again without seeding: `ADMISSIONS_KEEP=/tmp/seeded`
//! keeps a copy of the seeded store (before the server's first start),
//! `ADMISSIONS_SEEDED=/tmp/seeded` then starts from a copy of it, and
//! `ADMISSIONS_ONLY=server` (the server, its lists and exports) or
//! `ADMISSIONS_ONLY=engine` (what follows them) runs one part.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use guichet_engine::{
    Actor, Candidate, Command as EngineCommand, Commit, Definition, Dossier, Engine, FileRef,
    SledStore, Store,
};
use jiff::{SignedDuration, Timestamp};
use serde_json::{json, Value};
use serving::repository;
use sha2::Digest;

// The server tests' helpers: the server's announced port.
#[path = "../../tests/serving/mod.rs"]
mod serving;

// How timings are printed, as the server's other benches print them.
#[path = "shared/report.rs"]
mod report;
use report::report;

// The server's allocator and its settings, for the engine's part to
// measure what the server does.
#[path = "../src/allocator.rs"]
mod allocator;

/// How many candidatures are seeded: 100,000 under `cargo bench`, which
/// passes `--bench`; 2,000 under `cargo test --benches`, the short mode CI
/// runs so that this bench never rots (it asserts, it does not time).
fn candidatures() -> usize {
    if std::env::args().any(|a| a == "--bench") {
        100_000
    } else {
        2_000
    }
}

const WAVES: usize = 5;
const LAST_NAMES: [&str; 8] = [
    "Lefèvre", "Martin", "Nguyễn", "Dubois", "Benali", "Garcia", "Müller", "Rossi",
];

fn at(text: &str) -> Timestamp {
    text.parse().expect("timestamp")
}

/// The day of wave `k`: a hundredth of the candidatures' confirmations
/// (1,000 of 100,000) expire on each.
fn wave(k: usize) -> Timestamp {
    at("2027-06-01T10:00:00Z") + SignedDuration::from_hours(24 * k as i64)
}

/// Where a template stops.
#[derive(Clone, Copy, PartialEq)]
enum Stage {
    Draft,
    Cancelled,
    Received,
    Complete,
    Entered,
    Favourable,
    WaitingList,
    Confirmed,
}

/// The stage of candidature `i`: 40 % drafts, 20 % received, 10 % complete,
/// 5 % with a decision entered, 5 % admitted, 10 % on the waiting list, 5 %
/// confirmed, 5 % cancelled.
fn stage(i: usize) -> Stage {
    match i % 20 {
        0..=7 => Stage::Draft,
        8..=11 => Stage::Received,
        12 | 13 => Stage::Complete,
        14 => Stage::Entered,
        15 => Stage::Favourable,
        16 | 17 => Stage::WaitingList,
        18 => Stage::Confirmed,
        _ => Stage::Cancelled,
    }
}

/// A dossier applied to `formation` and taken to `stage` by real commands.
fn template(engine: &Engine<SledStore>, formation: &str, stage: Stage, now: Timestamp) -> Dossier {
    let candidate = Candidate {
        last_name: "Modèle".into(),
        first_name: "Camille".into(),
        email: "modele@example.org".into(),
    };
    let owner = format!("template-{formation}-{}", stage as u8);
    let dossier = engine
        .create_dossier(&owner, candidate, "fr", now)
        .expect("dossier");
    let mut version = dossier.version;
    let mut run = |role: &str, command: EngineCommand| {
        let actor = Actor::new(role, &owner);
        let outcome = engine.apply(&dossier.id, version, &actor, command, now);
        version = outcome.unwrap_or_else(|e| panic!("{e}")).dossier.version;
    };
    let identity = json!({"civilite": "mme", "nom_naissance": "Modèle", "prenoms": "Camille",
        "date_naissance": "2003-05-14", "commune_naissance": "Marseille", "pays_naissance": "FR",
        "nationalite": "FR", "ine": "123456789AB"});
    run(
        "candidat",
        EngineCommand::SaveSection {
            section: "etat_civil".into(),
            answers: identity,
        },
    );
    run(
        "candidat",
        EngineCommand::Apply {
            formation: formation.into(),
        },
    );
    if stage == Stage::Cancelled {
        run("candidat", transition("annuler", json!({})));
        return Dossier::clone(&engine.dossier(&dossier.id).expect("read").expect("dossier"));
    }
    let definition = engine.definition();
    let formation_def = definition.formation(formation).expect("formation");
    // A formation's complementary form is answered online: the piece it
    // provides is not uploaded.
    let form = formation_def
        .form
        .as_ref()
        .and_then(|id| definition.file().forms.iter().find(|f| &f.id == id));
    if let Some(form) = form {
        let answers = match form.id.as_str() {
            "questions-set" => json!({"parcours_souhaites": "Géosciences, puis écologie."}),
            _ => json!({"projet": "Étudier la circulation côtière.", "embarquement": true,
                        "programmation": "python"}),
        };
        let Value::Object(answers) = answers else {
            unreachable!("an object")
        };
        run(
            "candidat",
            EngineCommand::SaveForm {
                candidature: "c1".into(),
                answers,
            },
        );
    }
    for piece in &formation_def.pieces {
        if piece == "non_francophone" || form.is_some_and(|f| f.piece.as_ref() == Some(piece)) {
            continue;
        }
        let file = FileRef {
            name: format!("{piece}.pdf"),
            sha256: "0".repeat(64),
            size: 180_000,
            format: "pdf".into(),
        };
        run(
            "candidat",
            EngineCommand::Piece {
                candidature: "c1".into(),
                piece: piece.clone(),
                transition: "deposer".into(),
                file: Some(file),
                comment: None,
            },
        );
    }
    let steps: &[(&str, &str, Value)] = match stage {
        Stage::Draft | Stage::Cancelled => &[],
        Stage::Received => &[("candidat", "transmettre", Value::Null)],
        _ => &[
            ("candidat", "transmettre", Value::Null),
            ("gestionnaire", "declarer_complet", Value::Null),
        ],
    };
    for (role, id, input) in steps {
        run(role, transition(id, input.clone()));
    }
    let decision = match stage {
        Stage::WaitingList => json!({"avis": "liste_complementaire", "rang": 1}),
        _ => json!({"avis": "favorable"}),
    };
    if matches!(
        stage,
        Stage::Entered | Stage::Favourable | Stage::WaitingList | Stage::Confirmed
    ) {
        run("commission", transition("saisir_avis", decision));
    }
    if matches!(
        stage,
        Stage::Favourable | Stage::WaitingList | Stage::Confirmed
    ) {
        run("gestionnaire", transition("publier_avis", Value::Null));
    }
    if stage == Stage::Confirmed {
        run("candidat", transition("confirmer", Value::Null));
    }
    Dossier::clone(&engine.dossier(&dossier.id).expect("read").expect("dossier"))
}

fn transition(id: &str, input: Value) -> EngineCommand {
    EngineCommand::Transition {
        candidature: "c1".into(),
        transition: id.into(),
        input: input.as_object().cloned().unwrap_or_default(),
    }
}

/// Candidature `i`: its template with its own id, name, number and dates.
fn copy(template: &Dossier, i: usize) -> Dossier {
    let mut dossier = template.clone();
    dossier.id = dossier_id(i);
    dossier.owner = format!("candidate-{i}");
    dossier.candidate = Candidate {
        last_name: format!("{}-{i}", LAST_NAMES[i % LAST_NAMES.len()]),
        first_name: format!("Prénom{i}"),
        email: format!("candidat{i}@example.org"),
    };
    let ine = format!("{:09}AB", i);
    let candidature = &mut dossier.candidatures[0];
    // Each candidate's files are their own, and so are their digests: a
    // store's bytes are then as varied as real ones (they are what its
    // dossiers compress least).
    let id = dossier.id.clone();
    for pieces in [
        Some(&mut candidature.pieces),
        candidature.sent.as_mut().map(|s| &mut s.pieces),
    ]
    .into_iter()
    .flatten()
    {
        for (piece, state) in pieces.iter_mut() {
            if let Some(file) = state.file.as_mut() {
                file.sha256 = hex::encode(sha2::Sha256::digest(format!("{id}/{piece}")));
            }
        }
    }
    for profile in [
        Some(&mut dossier.profile),
        candidature.sent.as_mut().map(|s| &mut s.profile),
    ]
    .into_iter()
    .flatten()
    {
        if let Some(identity) = profile.get_mut("etat_civil") {
            identity["ine"] = json!(ine);
        }
    }
    match stage(i) {
        Stage::WaitingList => {
            candidature.data.insert("rang".into(), json!(1 + i / 20));
        }
        Stage::Favourable => {
            // Each wave's hundredth entered their state eight days and an hour before it.
            let k = (i / 20) % WAVES;
            candidature.entered_state_at = wave(k) - SignedDuration::from_hours(8 * 24 + 1);
        }
        _ => {}
    }
    dossier
}

/// The id of the `i`th seeded dossier.
fn dossier_id(i: usize) -> String {
    format!("{i:08x}{:024x}", i.wrapping_mul(0x9e37_79b9_7f4a_7c15))
}

/// The seeded dossiers admitted in the last wave (for withdrawals).
fn last_wave() -> Vec<String> {
    (0..candidatures())
        .filter(|&i| stage(i) == Stage::Favourable && (i / 20) % WAVES == WAVES - 1)
        .map(dossier_id)
        .collect()
}

/// Seeds `folder` with [`candidatures`] candidatures.
fn seed(folder: &Path) {
    let definition =
        Definition::load(repository().join("definitions/osu-pytheas.yaml")).expect("definition");
    let formations: Vec<String> = definition
        .file()
        .formations
        .iter()
        .map(|f| f.id.clone())
        .collect();
    let engine = Engine::open(
        definition,
        SledStore::open(folder.join("store")).expect("store"),
    )
    .expect("engine");
    let made = at("2027-04-15T10:00:00Z");
    let stages = [
        Stage::Draft,
        Stage::Cancelled,
        Stage::Received,
        Stage::Complete,
        Stage::Entered,
        Stage::Favourable,
        Stage::WaitingList,
        Stage::Confirmed,
    ];
    let mut templates = Vec::new();
    for formation in &formations {
        for stage in stages {
            templates.push((
                (formation.clone(), stage as u8),
                template(&engine, formation, stage, made),
            ));
        }
    }
    let started = Instant::now();
    let mut batch = Vec::new();
    let count = candidatures();
    for i in 0..count {
        let formation = &formations[(i / 20) % formations.len()];
        let key = (formation.clone(), stage(i) as u8);
        let template = &templates
            .iter()
            .find(|(k, _)| *k == key)
            .expect("template")
            .1;
        let dossier = copy(template, i);
        let mut event = engine.history(&template.id).expect("history").remove(0);
        event.dossier = dossier.id.clone();
        event.version = dossier.version;
        let indexed = engine.indexed(&dossier, made).expect("indexed");
        batch.push(Commit {
            expected_version: 0,
            dossier,
            event,
            mails: Vec::new(),
            indexed,
        });
        if batch.len() == 1000 {
            engine.store().commit(&batch).expect("commit");
            batch.clear();
        }
    }
    engine.store().commit(&batch).expect("commit");
    engine.store().flush().expect("flush");
    println!(
        "seeded {count} candidatures in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

/// The process's peak resident memory, and what it holds now.
fn peak_memory(process: &Child) -> String {
    let status =
        std::fs::read_to_string(format!("/proc/{}/status", process.id())).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .map_or("?".into(), |l| {
                l.split_whitespace().skip(1).collect::<Vec<_>>().join(" ")
            })
    };
    format!("{} (now {})", field("VmHWM"), field("VmRSS"))
}

/// The server started by [`serve_and_list`]: stopped when dropped, so that
/// a failed check does not leave it running.
struct Served(Child);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let _ = self.0.wait();
    }
}

/// The server (the release build under `cargo bench`) on the seeded store:
/// start-up, then staff lists and exports over HTTP.
fn serve_and_list(data: &Path) {
    let staff = Command::new(env!("CARGO_BIN_EXE_guichet"))
        .current_dir(repository())
        .args(["staff", "--data"])
        .arg(data)
        .args([
            "add",
            "scolarite@osu.example",
            "--role",
            "gestionnaire",
            "--scope",
            "*",
            // The versions' page too.
            "--admin",
        ])
        .output()
        .expect("guichet staff");
    let out = String::from_utf8_lossy(&staff.stdout).to_string();
    let link = out[out.find("/staff/mot-de-passe/").expect("a link")..]
        .trim()
        .to_owned();
    let started = Instant::now();
    // On a port the system chooses, which the server announces.
    let mut process = Command::new(env!("CARGO_BIN_EXE_guichet"))
        .current_dir(repository())
        .args([
            "serve",
            "definitions/osu-pytheas.yaml",
            "--addr",
            "127.0.0.1:0",
            "--data",
        ])
        .arg(data)
        .args(["--now", "2027-05-20T10:00:00Z"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("guichet serve");
    let port = serving::announced_port(&mut process, serving::Log::Discarded, serving::SERVING_ON);
    let server = Served(process);
    let base = format!("http://127.0.0.1:{port}");
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into();
    while agent
        .get(&format!("{base}/health"))
        .call()
        .map(|r| r.status().as_u16())
        .ok()
        != Some(200)
    {
        std::thread::sleep(Duration::from_millis(10));
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the server did not start"
        );
    }
    println!(
        "server start on {} candidatures (to a healthy /health): {:.2} s",
        candidatures(),
        started.elapsed().as_secs_f64()
    );
    let page = agent
        .get(&format!("{base}{link}"))
        .call()
        .expect("password page");
    let cookie = |response: &ureq::http::Response<ureq::Body>, name: &str| {
        response
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with(name))
            .map(|v| v.split(';').next().unwrap_or("").to_owned())
    };
    let browser = cookie(&page, "guichet_csrf").expect("csrf cookie");
    let mut page = page;
    let body = page.body_mut().read_to_string().expect("body");
    let token_at = body.find(r#"name="csrf" value=""#).expect("csrf") + 19;
    let token = &body[token_at..token_at + 64];
    let chosen = agent
        .post(&format!("{base}{link}"))
        .header("cookie", &browser)
        .send_form([
            ("csrf", token),
            ("password", "Vieux-Port-Marseille-13"),
            ("password_confirm", "Vieux-Port-Marseille-13"),
        ])
        .expect("password");
    let session = cookie(&chosen, "guichet_staff").expect("staff session");
    let views = [
        ("one formation and state (/staff?formation=m1-set&state=receptionne)", "/staff?formation=m1-set&state=receptionne"),
        ("one formation and a decision (/staff?formation=m1-set&avis=liste_complementaire&sort=rang)", "/staff?formation=m1-set&avis=liste_complementaire&sort=rang"),
        ("a name searched in one formation (/staff?formation=m1-set&q=nguyen)", "/staff?formation=m1-set&q=nguyen"),
        ("everything, sorted by name (/staff?sort=name)", "/staff?sort=name"),
    ];
    // The times of `runs` requests of the staff's page `path`, each
    // answer checked to hold `shown`.
    let timed = |path: &str, runs: usize, shown: &str| -> Vec<Duration> {
        (0..runs)
            .map(|_| {
                let begun = Instant::now();
                let mut response = agent
                    .get(&format!("{base}{path}"))
                    .header("cookie", &session)
                    .call()
                    .expect("a staff page");
                let body = response.body_mut().read_to_string().expect("body");
                let took = begun.elapsed();
                assert!(body.contains(shown), "{path}: {body}");
                took
            })
            .collect()
    };
    for (what, path) in views {
        let samples = timed(path, 30, "candidature(s)");
        report(&format!("staff list, {what}, over HTTP"), samples);
    }
    println!("server peak memory: {}", peak_memory(&server.0));
    // Exports: every row a view selects, each with its dossier's answers.
    let export = |path: &str| -> Vec<u8> {
        let mut response = agent
            .get(&format!("{base}{path}"))
            .header("cookie", &session)
            .call()
            .expect("export");
        assert_eq!(response.status(), 200, "{path}");
        response
            .body_mut()
            .with_config()
            .limit(u64::MAX)
            .read_to_vec()
            .expect("body")
    };
    let mut everything = Vec::new();
    for (what, path) in [
        ("one formation, CSV", "/staff/export.csv?formation=m1-set"),
        ("everything, CSV", "/staff/export.csv"),
        ("one formation, XLSX", "/staff/export.xlsx?formation=m1-set"),
    ] {
        let begun = Instant::now();
        let bytes = export(path);
        println!(
            "staff export, {what}: {:.1} MB in {:.2} s, server peak memory since start {}",
            bytes.len() as f64 / 1e6,
            begun.elapsed().as_secs_f64(),
            peak_memory(&server.0)
        );
        if path == "/staff/export.csv" {
            everything = bytes;
        }
    }
    // Every candidature once (those seeded, and the templates they were
    // copied from), whether the export sorted its places in memory or, past
    // a run's worth, in runs written to disk.
    let dossiers: Vec<String> = csv::ReaderBuilder::new()
        .delimiter(b';')
        .from_reader(everything.as_slice())
        .records()
        .map(|record| record.expect("a CSV record")[0].to_owned())
        .collect();
    let distinct: std::collections::HashSet<&String> = dossiers.iter().collect();
    assert_eq!(distinct.len(), dossiers.len(), "no candidature twice");
    assert!(dossiers.len() >= candidatures(), "every candidature");
    // Asked together, exports take turns to select their rows: the peak
    // stays that of one.
    let begun = Instant::now();
    let together: Vec<Vec<u8>> = std::thread::scope(|scope| {
        let asked: Vec<_> = (0..3)
            .map(|_| scope.spawn(|| export("/staff/export.csv")))
            .collect();
        asked
            .into_iter()
            .map(|export| export.join().expect("an export"))
            .collect()
    });
    assert!(
        together.iter().all(|bytes| *bytes == everything),
        "exports asked together give the rows of one asked alone"
    );
    println!(
        "staff export, everything, CSV, three asked together: {:.1} MB each, all in {:.2} s, \
         server peak memory since start {}",
        together[0].len() as f64 / 1e6,
        begun.elapsed().as_secs_f64(),
        peak_memory(&server.0)
    );
    // The formations' dashboard: each formation's counts by state and by
    // decision, and its waiting list.
    let samples = timed("/staff/formations", 5, r#"class="waiting""#);
    report(
        "the formations' dashboard (/staff/formations), over HTTP",
        samples,
    );
    println!(
        "server peak memory since start, the dashboard read: {}",
        peak_memory(&server.0)
    );
    // The versions' page counts the dossiers on an earlier version, from
    // the counts per version.
    let took = timed("/staff/versions", 1, "<h1");
    println!(
        "the versions' page (the dossiers on an earlier version counted), over HTTP: \
         {:.1} ms, server peak memory since start {}",
        took[0].as_secs_f64() * 1e3,
        peak_memory(&server.0)
    );
    // The editor's preview of the shipped file with a label changed: it
    // removes and newly requires nothing, so no dossier is read to say what
    // publishing it would do to them; they are counted from the index.
    let both = format!("{session}; {browser}");
    let mut editor = agent
        .get(&format!("{base}/staff/editeur"))
        .header("cookie", &both)
        .call()
        .expect("the editor");
    let body = editor.body_mut().read_to_string().expect("body");
    let token_at = body.find(r#"name="csrf" value=""#).expect("csrf") + 19;
    let token = body[token_at..token_at + 64].to_owned();
    let shipped = std::fs::read_to_string(repository().join("definitions/osu-pytheas.yaml"))
        .expect("the shipped file");
    let source = shipped.replace(
        "label: { fr: Réceptionné,",
        "label: { fr: \"Dossier reçu\",",
    );
    // The preview of `source`: its page, and how long it took.
    let preview = |source: &str| {
        let begun = Instant::now();
        let mut preview = agent
            .post(&format!("{base}/staff/editeur/apercu"))
            .header("cookie", &both)
            .send_form([("csrf", token.as_str()), ("source", source)])
            .expect("the preview");
        let body = preview.body_mut().read_to_string().expect("body");
        assert_eq!(preview.status(), 200, "{body}");
        (body, begun.elapsed())
    };
    let (body, took) = preview(&source);
    assert!(body.contains("Dossier reçu"), "the change is shown: {body}");
    // Every dossier is on the running version, counted without reading one.
    let counted = body
        .split(" dossier(s) ont commencé")
        .next()
        .and_then(|before| before.rsplit(['>', ' ']).next())
        .and_then(|number| number.parse::<usize>().ok())
        .expect("the dossiers counted");
    assert!(counted >= candidatures(), "{counted} dossiers counted");
    println!(
        "the editor's preview of a draft changing a label (the dossiers counted, none read), over HTTP: \
         {:.2} s, server peak memory since start {}",
        took.as_secs_f64(),
        peak_memory(&server.0)
    );
    // A draft removing a field every seeded dossier answers: what it would
    // do is counted from the dossiers' own answers, kept apart, not from the
    // dossiers.
    let source: String = shipped
        .lines()
        .filter(|line| !line.contains("id: commune_naissance, type: text"))
        .map(|line| {
            line.replace("commune_naissance: Marseille, ", "")
                .replace("commune_naissance: Berlin, ", "")
                + "\n"
        })
        .collect();
    // The count the preview's page gives an impact, said as `said`.
    let impact_count = |body: &str, said: &str| {
        body.split(said)
            .nth(1)
            .and_then(|after| after.split(')').next())
            .and_then(|number| number.parse::<usize>().ok())
            .unwrap_or_else(|| panic!("no `{said}` in {body}"))
    };
    let (body, took) = preview(&source);
    let answered = impact_count(
        &body,
        "field `etat_civil.commune_naissance` is removed and has answers (",
    );
    assert!(answered >= candidatures(), "{answered} dossiers answer it");
    println!(
        "the editor's preview of a draft removing a field ({answered} answers counted, no dossier read), \
         over HTTP: {:.2} s, server peak memory since start {}",
        took.as_secs_f64(),
        peak_memory(&server.0)
    );
    // A draft removing a piece every seeded candidature holds a file for:
    // the files counted per piece by the index, no dossier read.
    let source: String = shipped
        .lines()
        .filter(|line| {
            !line.contains("id: lettre_motivation, label")
                && !line.contains("piece: lettre_motivation }")
        })
        .map(|line| line.replace("cv, lettre_motivation, ", "cv, ") + "\n")
        .collect();
    let (body, took) = preview(&source);
    let with_files = impact_count(
        &body,
        "piece `lettre_motivation` is removed and has files (",
    );
    assert!(
        with_files >= candidatures() / 2,
        "{with_files} files counted"
    );
    println!(
        "the editor's preview of a draft removing a piece ({with_files} files counted, no dossier read), \
         over HTTP: {:.2} s, server peak memory since start {}",
        took.as_secs_f64(),
        peak_memory(&server.0)
    );
    // The store is free for the engine's part once the server has stopped.
    drop(server);
}

/// The store under `data`, opened once sled's threads of the last opening
/// have let it go.
fn store_at(data: &Path) -> SledStore {
    for _ in 0..100 {
        if let Ok(store) = SledStore::open(data.join("store")) {
            return store;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    SledStore::open(data.join("store")).expect("store")
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let folder = tempfile::tempdir().expect("tempdir");
    let data = folder.path().join("data");
    match std::env::var("ADMISSIONS_SEEDED") {
        Ok(seeded) => copy_folder(Path::new(&seeded), &data),
        Err(_) => {
            seed(&data);
            if let Ok(keep) = std::env::var("ADMISSIONS_KEEP") {
                copy_folder(&data, Path::new(&keep));
            }
        }
    }
    let only = std::env::var("ADMISSIONS_ONLY").unwrap_or_default();
    assert!(
        ["", "server", "engine"].contains(&only.as_str()),
        "ADMISSIONS_ONLY is `server` or `engine`, not `{only}`"
    );
    if only != "engine" {
        serve_and_list(&data);
    }
    if only != "server" {
        engine_part(&data);
    }
}

/// The engine opened on the store under `data` (as an earlier version
/// left it, then as it is), withdrawals, then the scheduler's passes.
fn engine_part(data: &Path) {
    let load =
        || Definition::load(repository().join("definitions/osu-pytheas.yaml")).expect("definition");
    // A store left by an earlier version: its first opening rebuilds the
    // indexes from the dossiers (the marker as `SledStore` names it).
    {
        let db = sled::open(data.join("store")).expect("sled");
        db.remove(SledStore::INDEXES_BUILT)
            .expect("marker removed")
            .expect("the marker of built indexes");
        db.flush().expect("flushed");
    }
    let started = Instant::now();
    drop(Engine::open(load(), store_at(data)).expect("engine"));
    println!(
        "engine open on {} candidatures left by an earlier version (indexes rebuilt): {:.1} s",
        candidatures(),
        started.elapsed().as_secs_f64()
    );
    let started = Instant::now();
    let mut engine = Engine::open(load(), store_at(data)).expect("engine");
    println!(
        "engine open on {} candidatures: {:.3} s",
        candidatures(),
        started.elapsed().as_secs_f64()
    );

    // Withdrawals before any deadline, a tenth of the last day's (100 of
    // 100,000 candidatures): each promotes the best of its list.
    let before = at("2027-05-20T10:00:00Z");
    let mut samples = Vec::new();
    let last_wave = last_wave();
    for id in last_wave.iter().take(last_wave.len() / 10) {
        let dossier = engine.dossier(id).expect("read").expect("dossier");
        let me = Actor::new("candidat", &dossier.owner);
        let begun = Instant::now();
        let outcome = engine
            .apply(
                id,
                dossier.version,
                &me,
                transition("se_desister", Value::Null),
                before,
            )
            .expect("withdrawal");
        samples.push(begun.elapsed());
        assert_eq!(outcome.follow_ups.len(), 1, "a promotion");
    }
    report("one withdrawal with its promotion (durable)", samples);

    let mut samples = Vec::new();
    let mut due = 0;
    for _ in 0..10 {
        let begun = Instant::now();
        due = engine.due(wave(0)).expect("due").len();
        samples.push(begun.elapsed());
    }
    report(
        &format!("Engine::due on a day with {due} deadlines due"),
        samples,
    );

    let before_pass = data.join("before-pass");
    for k in 0..WAVES {
        if k == DAY_AGAINST_BARE_SLED {
            // The store as this day's pass finds it, for that pass against
            // bare sled: copied closed, since sled's threads may write to
            // an open one as it is copied (one such copy was found
            // corrupt), then opened again.
            drop(engine);
            copy_folder(&data.join("store"), &before_pass);
            engine = Engine::open(load(), store_at(data)).expect("engine");
        }
        let begun = Instant::now();
        let handled = engine.run_due(wave(k)).expect("run_due");
        let took = begun.elapsed();
        let withdrawals = handled
            .iter()
            .filter(|(d, _)| d.deadline == "confirmation")
            .count();
        let promoted: usize = handled
            .iter()
            .filter_map(|(_, r)| r.as_ref().ok())
            .map(|o| o.follow_ups.iter().filter(|f| f.is_ok()).count())
            .sum();
        let failed = handled.iter().filter(|(_, r)| r.is_err()).count();
        println!(
            "scheduler pass, day {}: {} deadlines ({withdrawals} automatic withdrawals, {promoted} promotions, {failed} failed) in {:.2} s",
            k + 1,
            handled.len(),
            took.as_secs_f64()
        );
        assert_eq!(failed, 0, "day {}: every deadline handled", k + 1);
        assert!(withdrawals > 0, "day {}: confirmations expired", k + 1);
        assert_eq!(promoted, withdrawals, "day {}: each place passed on", k + 1);
    }
    drop(engine);
    pass_against_bare_sled(data, &before_pass);
}

fn copy_folder(from: &Path, to: &Path) {
    let copied = Command::new("cp").arg("-r").arg(from).arg(to).status();
    assert!(copied.is_ok_and(|s| s.success()), "copying {from:?}");
}

/// sled opened as [`SledStore`] opens it (its cache's size), once the last
/// opening's threads have let it go.
fn bare_sled(folder: &Path) -> sled::Db {
    let open = || {
        sled::Config::new()
            .path(folder)
            .cache_capacity(SledStore::CACHE_BYTES)
            .open()
    };
    for _ in 0..100 {
        if let Ok(db) = open() {
            return db;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    open().expect("sled")
}

/// The tree holding the record of the command being written: the store's
/// guard against a crash, not data (the bare write of the physical limit
/// leaves it out too).
const GUARD_TREE: &[u8] = b"command_being_written";

/// One key a pass changed: its tree, and its value after (none: removed).
struct Changed {
    tree: sled::IVec,
    key: sled::IVec,
    value: Option<sled::IVec>,
}

/// What `after` holds that `before` does not, tree by tree: each key added,
/// changed or removed, the guard's tree left out.
fn changes(before: &sled::Db, after: &sled::Db) -> Vec<Changed> {
    let mut changed = Vec::new();
    let mut names = after.tree_names();
    names.extend(before.tree_names());
    names.sort();
    names.dedup();
    for name in names.into_iter().filter(|n| &n[..] != GUARD_TREE) {
        let (old, new) = (
            before.open_tree(&name).expect("tree"),
            after.open_tree(&name).expect("tree"),
        );
        let (mut old, mut new) = (old.iter().peekable(), new.iter().peekable());
        loop {
            let order = match (old.peek(), new.peek()) {
                (None, None) => break,
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (Some(Ok((a, _))), Some(Ok((b, _)))) => a.cmp(b),
                _ => panic!("a tree unreadable"),
            };
            match order {
                std::cmp::Ordering::Less => {
                    let (key, _) = old.next().expect("peeked").expect("read");
                    changed.push(Changed {
                        tree: name.clone(),
                        key,
                        value: None,
                    });
                }
                std::cmp::Ordering::Greater => {
                    let (key, value) = new.next().expect("peeked").expect("read");
                    changed.push(Changed {
                        tree: name.clone(),
                        key,
                        value: Some(value),
                    });
                }
                std::cmp::Ordering::Equal => {
                    let (_, was) = old.next().expect("peeked").expect("read");
                    let (key, value) = new.next().expect("peeked").expect("read");
                    if was != value {
                        changed.push(Changed {
                            tree: name.clone(),
                            key,
                            value: Some(value),
                        });
                    }
                }
            }
        }
    }
    changed
}

/// Where `key` names one of `handled` (a dossier's id written in it, as
/// every key of a dossier's records is): its place in the pass.
fn handled_in(key: &[u8], handled: &std::collections::HashMap<Vec<u8>, usize>) -> Option<usize> {
    const ID: usize = 32;
    key.windows(ID)
        .find_map(|window| handled.get(window).copied())
}

/// The day whose pass is made again against bare sled: the fourth, a
/// thousand automatic withdrawals each with its promotion and nothing else.
const DAY_AGAINST_BARE_SLED: usize = 3;

/// That day's pass made twice on copies of the store as it found it, each
/// opened cold: by the engine, then by bare sled reading each
/// dossier the pass handled and writing the same keys and bytes the pass
/// changed, in the pass's order (each dossier's records together, its
/// trees in the order the store writes them), with one flush. What the
/// engine adds is its decisions, mails, indexes and encoding; the rest is
/// sled's own cost, which no engine on it could go under.
fn pass_against_bare_sled(data: &Path, before_pass: &Path) {
    let definition =
        || Definition::load(repository().join("definitions/osu-pytheas.yaml")).expect("definition");
    let rounds = if std::env::args().any(|a| a == "--bench") {
        3
    } else {
        1
    };
    let (mut engine_times, mut bare_times, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    // The trees in the order a command's write set holds them.
    let tree_order = [
        "events",
        "outbox",
        "candidatures_by_formation_and_state",
        "deadlines_by_time_and_waiting_lists_by_rank",
        "index_keys_by_dossier",
        "answers_sent_by_candidature",
        "answers_own_by_dossier",
        "dossiers",
    ];
    let mut sizes = (0, 0, 0);
    let mut per_tree: Vec<(&str, usize)> = Vec::new();
    for round in 0..rounds {
        let (by_engine, by_bare) = (data.join("pass-engine"), data.join("pass-bare"));
        for folder in [&by_engine, &by_bare] {
            let _ = std::fs::remove_dir_all(folder);
            copy_folder(before_pass, folder);
        }
        let engine = Engine::open(definition(), SledStore::open(&by_engine).expect("store"))
            .expect("engine");
        let begun = Instant::now();
        let handled = engine
            .run_due(wave(DAY_AGAINST_BARE_SLED))
            .expect("run_due");
        let engine_time = begun.elapsed();
        drop(engine);
        // The dossiers in the order the pass handled them: each due one,
        // then the one its freed place went to.
        let mut order: Vec<Vec<u8>> = Vec::new();
        for (due, result) in &handled {
            let outcome = result.as_ref().expect("handled");
            order.push(due.dossier.as_bytes().to_vec());
            for promoted in outcome.follow_ups.iter().flatten() {
                order.push(promoted.dossier.id.as_bytes().to_vec());
            }
        }
        let place: std::collections::HashMap<Vec<u8>, usize> = order
            .iter()
            .enumerate()
            .rev()
            .map(|(n, id)| (id.clone(), n))
            .collect();
        let (before, after) = (bare_sled(before_pass), bare_sled(&by_engine));
        let changed = changes(&before, &after);
        drop((before, after));
        let rank_of_tree = |tree: &[u8]| {
            tree_order
                .iter()
                .position(|t| t.as_bytes() == tree)
                .unwrap_or(usize::MAX)
        };
        // Each change's place in the pass; what names no dossier (a
        // formation's counts) goes last.
        let mut placed: Vec<(usize, &Changed)> = changed
            .iter()
            .map(|c| (handled_in(&c.key, &place).unwrap_or(usize::MAX), c))
            .collect();
        placed.sort_by_key(|(at, c)| (*at, rank_of_tree(&c.tree)));
        let bare = bare_sled(&by_bare);
        let dossiers = bare.open_tree("dossiers").expect("tree");
        let trees: Vec<(sled::IVec, sled::Tree)> = bare
            .tree_names()
            .into_iter()
            .map(|name| {
                let tree = bare.open_tree(&name).expect("tree");
                (name, tree)
            })
            .collect();
        // Found before the clock starts: bare sled's own work alone is timed.
        let writes: Vec<(usize, &sled::Tree, &Changed)> = placed
            .iter()
            .map(|(at, change)| {
                let tree = &trees
                    .iter()
                    .find(|(n, _)| *n == change.tree)
                    .expect("a tree")
                    .1;
                (*at, tree, *change)
            })
            .collect();
        let write = |(_, tree, change): &(usize, &sled::Tree, &Changed)| {
            match &change.value {
                Some(value) => tree.insert(&change.key, value.clone()),
                None => tree.remove(&change.key),
            }
            .expect("written");
        };
        let mut next = writes.iter().peekable();
        let begun = Instant::now();
        for (n, id) in order.iter().enumerate() {
            std::hint::black_box(dossiers.get(id).expect("read"));
            while let Some(change) = next.next_if(|(at, _, _)| *at == n) {
                write(change);
            }
        }
        next.for_each(write);
        bare.flush().expect("flushed");
        let bare_time = begun.elapsed();
        drop(writes);
        drop((trees, dossiers, bare));
        if round == 0 {
            // The bare write left the store as the pass did.
            let (by_engine, by_bare) = (bare_sled(&by_engine), bare_sled(&by_bare));
            assert!(
                changes(&by_engine, &by_bare).is_empty(),
                "bare sled wrote what the pass wrote"
            );
        }
        per_tree = tree_order
            .iter()
            .map(|name| {
                let written = changed.iter().filter(|c| c.tree == name.as_bytes());
                (*name, written.count())
            })
            .collect();
        sizes = (handled.len(), order.len(), changed.len());
        ratios.push(engine_time.as_secs_f64() / bare_time.as_secs_f64());
        engine_times.push(engine_time);
        bare_times.push(bare_time);
    }
    ratios.sort_by(f64::total_cmp);
    engine_times.sort();
    bare_times.sort();
    let median = rounds / 2;
    println!(
        "scheduler pass, day {}, against bare sled ({} deadlines, {} dossiers read, {} keys \
         written; copies opened cold, medians of {rounds}): pass {:.2} s, bare sled {:.2} s, \
         ratio {:.2} (rounds from {:.2} to {:.2})",
        DAY_AGAINST_BARE_SLED + 1,
        sizes.0,
        sizes.1,
        sizes.2,
        engine_times[median].as_secs_f64(),
        bare_times[median].as_secs_f64(),
        ratios[median],
        ratios[0],
        ratios[rounds - 1],
    );
    let per_tree: Vec<String> = per_tree.iter().map(|(n, c)| format!("{n} {c}")).collect();
    println!("  keys written by tree: {}", per_tree.join(", "));
    assert!(sizes.2 > 0, "the pass changed the store");
}
