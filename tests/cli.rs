//! The real `guichet` binary: `check` on good and bad files, and `serve`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

mod serving;
use serving::{dossiers_under_v1, open_store};

fn guichet(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_guichet"))
        .args(args)
        .current_dir(repository())
        .output()
        .expect("the guichet binary runs")
}

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `line:column` (1-based) of the first `needle` in `file`.
fn location_of(file: &str, needle: &str) -> String {
    let text = std::fs::read_to_string(repository().join(file)).unwrap();
    let at = text.find(needle).expect("needle in fixture");
    let line = text[..at].matches('\n').count() + 1;
    let column = at - text[..at].rfind('\n').map_or(0, |newline| newline + 1) + 1;
    format!("{line}:{column}")
}

/// Runs `check` on one bad file: exit 1, and `file:line:column` with a hint.
fn assert_reported(file: &str, location: &str, message: &str, hint: &str) {
    let output = guichet(&["check", file]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.ends_with("1 problem found\n"), "{stderr}");
    assert!(
        stderr.contains(&format!("{file}:{location}")),
        "no {file}:{location} in\n{stderr}"
    );
    assert!(stderr.contains(message), "no `{message}` in\n{stderr}");
    assert!(
        stderr.contains(&format!("help: {hint}")),
        "no hint `{hint}` in\n{stderr}"
    );
}

#[test]
fn check_accepts_the_shipped_definitions() {
    let output = guichet(&[
        "check",
        "definitions/osu-pytheas.yaml",
        "examples/ecole-doctorale.yaml",
    ]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("definitions/osu-pytheas.yaml: valid"),
        "{stdout}"
    );
    assert!(
        stdout.contains("examples/ecole-doctorale.yaml: valid"),
        "{stdout}"
    );
}

/// The binary's allocator gives freed memory back after a second, and on
/// Linux keeps an arena per processor (its settings, server/src/allocator.rs):
/// jemalloc's own statistics, printed at exit, show what it read.
#[cfg(not(target_env = "msvc"))]
#[test]
fn the_allocator_runs_with_the_servers_settings() {
    let output = Command::new(env!("CARGO_BIN_EXE_guichet"))
        .args(["check", "definitions/osu-pytheas.yaml"])
        .current_dir(repository())
        .env("_RJEM_MALLOC_CONF", "stats_print:true")
        .output()
        .expect("the guichet binary runs");
    assert!(output.status.success());
    let printed = String::from_utf8_lossy(&output.stderr);
    let wanted = [
        Some("opt.dirty_decay_ms: 1000 ("),
        Some("opt.muzzy_decay_ms: 0 ("),
        cfg!(target_os = "linux").then_some("opt.percpu_arena: \"percpu\""),
    ];
    // The options jemalloc printed, to say what it read instead.
    let options: Vec<&str> = printed.lines().filter(|l| l.contains("opt.")).collect();
    for setting in wanted.into_iter().flatten() {
        assert!(printed.contains(setting), "{setting}: {options:#?}");
    }
}

#[test]
fn check_reports_a_yaml_syntax_error() {
    let file = "tests/fixtures/syntax-error.yaml";
    // The unterminated quote runs to the end of the file: the parser stops there.
    let output = guichet(&["check", file]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr.contains("YAML syntax error"), "{stderr}");
    assert!(stderr.contains(&format!("{file}:")), "{stderr}");
    assert!(stderr.contains("help: "), "{stderr}");
}

#[test]
fn a_report_piped_into_a_reader_that_stops_ends_the_command_quietly() {
    use std::os::unix::fs::OpenOptionsExt;
    use std::os::unix::process::ExitStatusExt;
    let folder = tempfile::tempdir().unwrap();
    let file = folder.path().join("broken.yaml");
    std::fs::write(&file, "title: [\n").unwrap();
    // As `guichet check broken.yaml 2>&1 | head -0`: the reader is gone
    // before the report is written. A named pipe's reader is closed before
    // the command starts (an anonymous pipe's, closed after, lost the race
    // to a command that wrote first).
    let pipe = folder.path().join("reader-gone");
    let made = Command::new("mkfifo").arg(&pipe).status().unwrap();
    assert!(made.success(), "mkfifo");
    let reader = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&pipe)
        .unwrap();
    let writer = std::fs::OpenOptions::new().write(true).open(&pipe).unwrap();
    drop(reader);
    let status = Command::new(env!("CARGO_BIN_EXE_guichet"))
        .args(["check", file.to_str().unwrap()])
        .stdout(Stdio::from(writer.try_clone().unwrap()))
        .stderr(Stdio::from(writer))
        .status()
        .unwrap();
    assert_ne!(status.code(), Some(101), "a panic: {status:?}");
    assert_eq!(status.signal(), Some(13), "ended by SIGPIPE: {status:?}");
}

#[test]
fn check_reports_an_unknown_key() {
    let file = "tests/fixtures/unknown-key.yaml";
    assert_reported(
        file,
        &location_of(file, "lable"),
        "unknown key `lable` in `pieces[0]`",
        "did you mean `label`?",
    );
}

#[test]
fn check_reports_a_type_error_three_levels_deep() {
    let file = "tests/fixtures/type-error.yaml";
    assert_reported(
        file,
        &location_of(file, "twenty"),
        "`profile[0].fields[0].max` must be a number, not a text",
        "write a number here",
    );
}

#[test]
fn check_reports_a_reference_to_an_unknown_state() {
    let file = "tests/fixtures/unknown-state.yaml";
    assert_reported(
        file,
        &location_of(file, "recieved"),
        "unknown state `recieved`",
        "did you mean `received`?",
    );
}

#[test]
fn check_reports_every_file_and_fails_if_one_is_bad() {
    let output = guichet(&[
        "check",
        "definitions/osu-pytheas.yaml",
        "tests/fixtures/unknown-key.yaml",
        "tests/fixtures/unknown-state.yaml",
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr.contains("unknown-key.yaml:") && stderr.contains("unknown-state.yaml:"),
        "{stderr}"
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("osu-pytheas.yaml: valid"));
}

#[test]
fn the_second_procedure_plays_its_own_scenarios() {
    let output = guichet(&["test", "examples/ecole-doctorale.yaml"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(stdout.contains("4 scenarios: 4 ok, 0 failed"), "{stdout}");
    assert!(stdout.contains("the first of the reserve list is funded"));
}

#[test]
fn test_plays_the_osu_scenarios() {
    let output = guichet(&["test", "definitions/osu-pytheas.yaml"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    let scenarios = stdout.lines().filter(|l| l.starts_with("  ok ")).count();
    assert!(scenarios >= 10, "{stdout}");
    assert!(
        stdout.contains(&format!("{scenarios} scenarios: {scenarios} ok, 0 failed")),
        "{stdout}"
    );
}

#[test]
fn test_reports_the_failing_step_and_exits_1() {
    let file = "tests/fixtures/scenarios.yaml";
    let output = guichet(&["test", file]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("  ok      the candidate transmits once the CV is in"),
        "{stdout}"
    );
    assert!(
        stdout.contains("  FAILED  a scenario whose expectation is wrong"),
        "{stdout}"
    );
    let line = location_of(file, "{ do: transmit, expect: { state: closed } }")
        .split(':')
        .next()
        .unwrap()
        .to_owned();
    assert!(
        stdout.contains(&format!(
            "{file}:{line}: expected status `closed`, found `received`"
        )),
        "{stdout}"
    );
    assert!(stdout.contains("2 scenarios: 1 ok, 1 failed"), "{stdout}");
}

#[test]
fn serve_refuses_an_invalid_definition_with_its_diagnostics() {
    let data = tempfile::tempdir().unwrap();
    let data_dir = data.path().to_str().unwrap();
    let bad = guichet(&[
        "serve",
        "tests/fixtures/unknown-state.yaml",
        "--data",
        data_dir,
    ]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown state `recieved`"));
}

#[test]
fn a_variant_written_as_changes_checks_plays_the_base_scenarios_and_prints_merged() {
    let variant = "examples/ecole-doctorale-sciences.yaml";
    let output = guichet(&["test", variant]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(stdout.contains("4 scenarios: 4 ok, 0 failed"), "{stdout}");

    let output = guichet(&["check", "--merged", variant]);
    let merged = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(!merged.contains("extends"), "{merged}");
    // The variant's changes and the base's untouched parts, side by side.
    for expected in [
        "id: ecole-doctorale-sciences",
        "closes: 2027-05-31",
        "opens: 2027-04-01",
        "id: contrat-cifre-2027",
        "Reserve list — doctoral school of sciences",
        "id: referee",
        "file: data/disciplines.csv",
    ] {
        assert!(merged.contains(expected), "no `{expected}` in\n{merged}");
    }
    let at = merged.find("id: contrat-2027").unwrap();
    assert!(merged[..at].contains("capacity: 2"), "{merged}");
    // What it prints is itself a valid definition.
    let folder = tempfile::tempdir().unwrap();
    let data = folder.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::copy(
        repository().join("examples/data/disciplines.csv"),
        data.join("disciplines.csv"),
    )
    .unwrap();
    let printed = folder.path().join("merged.yaml");
    std::fs::write(&printed, merged.as_bytes()).unwrap();
    let output = guichet(&["check", printed.to_str().unwrap()]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn diff_names_each_change_and_what_it_does_to_the_dossiers_in_progress() {
    let folder = tempfile::tempdir().unwrap();
    let data = folder.path().join("data");
    dossiers_under_v1(&data);
    let data_arg = data.to_str().unwrap();
    let (v1, v2) = (
        "tests/fixtures/versions/v1.yaml",
        "tests/fixtures/versions/v2.yaml",
    );
    let output = guichet(&["diff", v1, v2, "--data", data_arg]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for expected in [
        "~ date `campaign.closes`: 2027-06-15 → 2027-06-30",
        "- field `identity.hobby`",
        "+ field `identity.language`",
        "+ piece `diploma`",
        "~ formation `master`: pieces (+diploma)",
        "- state `received`: becomes `arrived` (migrate)",
        "- state `closed`",
        "+ state `arrived`",
        "- transition `close`",
        "~ mail `received`: subject",
        "3 dossier(s) started under tests/fixtures/versions/v1.yaml",
        "! state `closed` is removed and holds candidatures (1)",
        "! field `identity.hobby` is removed and has answers (1)",
        "! piece `diploma` is newly required by formation `master`, of candidatures already sent (2)",
    ] {
        assert!(stdout.contains(expected), "no `{expected}` in\n{stdout}");
    }
    // A renamed status with its mapping, and a required field with its
    // default, warn of nothing.
    assert!(!stdout.contains("state `received` is removed"), "{stdout}");
    assert!(
        !stdout.contains("`identity.language` is newly required"),
        "{stdout}"
    );
    // The same file twice: nothing.
    let same = guichet(&["diff", v1, v1]);
    assert_eq!(String::from_utf8_lossy(&same.stdout), "no change\n");
}

#[test]
fn migrate_moves_the_dossiers_it_can_and_says_why_not_the_others() {
    let folder = tempfile::tempdir().unwrap();
    let data = folder.path().join("data");
    let [ada, bruno, chloe] = dossiers_under_v1(&data);
    let data_arg = data.to_str().unwrap();
    let v2 = "tests/fixtures/versions/v2.yaml";
    let versions = || {
        let store = open_store(&data);
        let mut found: Vec<(String, u64, String)> = guichet_engine::Store::dossiers(&store)
            .unwrap()
            .into_iter()
            .map(|d| (d.id.clone(), d.version, d.candidatures[0].state.clone()))
            .collect();
        found.sort();
        found
    };
    let before = versions();

    // A dry run says what would happen and writes nothing.
    let dry = guichet(&["migrate", v2, "--data", data_arg, "--dry-run"]);
    let stdout = String::from_utf8_lossy(&dry.stdout);
    assert_eq!(dry.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("1 would move, 2 refused, 0 already on this version"),
        "{stdout}"
    );
    assert_eq!(versions(), before);

    let run = guichet(&["migrate", v2, "--data", data_arg]);
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert_eq!(run.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains(&format!("moved     {ada}")), "{stdout}");
    assert!(stdout.contains(&format!("refused   {bruno}")), "{stdout}");
    assert!(
        stdout.contains("candidature c1 is in status `closed`, which this version does not have: map it under `migrate.states`"),
        "{stdout}"
    );
    assert!(stdout.contains(&format!("refused   {chloe}")), "{stdout}");
    assert!(
        stdout.contains("field `identity.hobby` has an answer, and this version does not have it: map it under `migrate.fields`"),
        "{stdout}"
    );
    assert!(
        stdout.contains("1 moved, 2 refused, 0 already on this version"),
        "{stdout}"
    );

    // Ada's dossier follows v2: renamed status, the new piece asked, the
    // default answer given, the move in its history. The others did not move.
    let store = open_store(&data);
    let moved = guichet_engine::Store::dossier(&store, &ada)
        .unwrap()
        .unwrap();
    let v2_hash = guichet_engine::Definition::load(repository().join(v2))
        .unwrap()
        .hash()
        .to_owned();
    assert_eq!(moved.definition, v2_hash);
    let candidature = &moved.candidatures[0];
    assert_eq!(candidature.state, "arrived");
    assert_eq!(candidature.pieces["diploma"].status, "pending");
    assert_eq!(candidature.pieces["cv"].status, "sent");
    assert_eq!(moved.profile["identity"]["language"], "fr");
    let history =
        guichet_engine::Store::history(&store, &ada, guichet_engine::EventParts::Whole).unwrap();
    let last = history.last().unwrap();
    assert!(
        matches!(&last.command, Some(guichet_engine::Command::Migrate { to, .. }) if to == &v2_hash),
        "{last:?}"
    );
    assert_eq!(last.actor.id, "guichet migrate");
    drop(store);
    for (id, version, state) in versions() {
        if id != ada {
            let earlier = before.iter().find(|(other, ..)| other == &id).unwrap();
            assert_eq!((version, state), (earlier.1, earlier.2.clone()));
        }
    }

    // Run again: Ada is on v2 already, the others still refused.
    let again = guichet(&["migrate", v2, "--data", data_arg]);
    let stdout = String::from_utf8_lossy(&again.stdout);
    assert!(
        stdout.contains("0 moved, 2 refused, 1 already on this version"),
        "{stdout}"
    );
}

#[test]
fn check_speaks_json_to_editors_and_scripts() {
    let folder = tempfile::tempdir().unwrap();
    let bad = folder.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "guichet: 1\nid: x\nbroken: [unclosed, \"quote\ntitle: \"T\"\n",
    )
    .unwrap();
    let output = guichet(&["check", "--format", "json", bad.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    let problems: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    // The quote left open is named where it opens, before where the
    // parser gave up.
    assert_eq!(problems[0]["message"], "this quoted text is not closed");
    assert_eq!(
        (problems[0]["line"].as_u64(), problems[0]["column"].as_u64()),
        (Some(3), Some(20))
    );
    assert_eq!(problems[0]["end_column"], 21);
    assert_eq!(problems[1]["line"], 4);
    assert!(problems[1]["hint"].as_str().unwrap().contains("quotes"));

    let good = guichet(&["check", "--format", "json", "definitions/osu-pytheas.yaml"]);
    assert_eq!(good.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&good.stdout), "[]\n");
}

#[test]
fn preview_serves_the_scenarios_and_every_mail_they_render_read_again_at_each_visit() {
    let folder = tempfile::tempdir().unwrap();
    let file = folder.path().join("procedure.yaml");
    let minimal =
        std::fs::read_to_string(repository().join("tests/fixtures/minimal.yaml")).unwrap();
    let with_scenario = format!(
        "{minimal}tests:\n  - name: sent\n    steps:\n      - apply: master\n      - {{ do: upload, piece: cv }}\n      - {{ do: transmit, expect: {{ mails: [received] }} }}\n"
    );
    std::fs::write(&file, &with_scenario).unwrap();
    // The preview's throwaway data directory is made here, to see it go.
    let temporary = folder.path().join("tmp");
    std::fs::create_dir(&temporary).unwrap();
    let previews = || -> Vec<std::path::PathBuf> {
        std::fs::read_dir(&temporary)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.to_string_lossy().contains("guichet-preview"))
            .collect()
    };
    let mut preview = Command::new(env!("CARGO_BIN_EXE_guichet"))
        .env("TMPDIR", &temporary)
        .args(["preview", file.to_str().unwrap(), "--addr", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let port = serving::announced_port(
        &mut preview,
        serving::Log::Discarded,
        "preview on http://127.0.0.1:",
    );
    let get_at = |path: &str| -> (u16, String) {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        match agent.get(&format!("http://127.0.0.1:{port}{path}")).call() {
            Ok(mut response) => (
                response.status().as_u16(),
                response.body_mut().read_to_string().unwrap_or_default(),
            ),
            Err(_) => (0, String::new()),
        }
    };
    let get = || get_at("/");
    serving::wait_for("the preview", || get().0 != 0);
    let (status, page) = get();
    assert_eq!(status, 200, "{page}");
    // The scenario passed, and its mail is there as it renders.
    assert!(page.contains("✓ sent"), "{page}");
    assert!(page.contains("Master: received"), "{page}");
    assert!(page.contains("Hello Camille."), "{page}");
    // What a candidate to the master fills and uploads.
    assert!(page.contains("CV (PDF, 2 Mo)"), "{page}");
    assert!(page.contains("Nationality"), "{page}");

    // Each candidate page, rendered by the candidates' own page code for a
    // sample candidate, says it is a preview.
    for (path, shows) in [
        ("/apercu/catalogue", "Master"),
        ("/apercu/formation:master", "CV"),
        ("/apercu/section:identity", "name=\"nationality\""),
        ("/apercu/candidature:master", "CV"),
        ("/apercu/dashboard", "Master"),
    ] {
        assert!(page.contains(&format!("href=\"{path}?lang=")), "{page}");
        let (status, shown) = get_at(path);
        assert_eq!(status, 200, "{path}: {shown}");
        assert!(shown.contains(shows), "{path}: {shown}");
        assert!(shown.contains("class=\"preview-note\""), "{path}: {shown}");
    }
    let (status, shown) = get_at("/apercu/section:nowhere");
    assert_eq!(status, 404, "{shown}");
    // Where the pages' forms and links lead: nowhere, and said so.
    let (status, shown) = get_at("/dossier/identity");
    assert_eq!(status, 404, "{shown}");
    assert!(shown.contains("les formulaires et les liens"), "{shown}");

    // The file changed on disk: the next visit reads it again.
    std::fs::write(&file, with_scenario.replace("label: CV", "label: Résumé")).unwrap();
    let (status, shown) = get_at("/apercu/candidature:master");
    assert_eq!(status, 200, "{shown}");
    assert!(
        shown.contains("Résumé") && !shown.contains(">CV<"),
        "{shown}"
    );

    std::fs::write(
        &file,
        with_scenario.replace(
            "Hello {{ candidate.first_name }}.",
            "Dear {{ candidate.frist_name }}.",
        ),
    )
    .unwrap();
    let (status, page) = get();
    assert_eq!(status, 422);
    assert!(
        page.contains("`candidate.frist_name` is not a variable this mail can use"),
        "{page}"
    );
    // Stopped as a service manager stops it, the preview removes its data.
    assert_eq!(previews().len(), 1, "the data directory while it runs");
    serving::terminate(&mut preview);
    assert_eq!(previews(), Vec::<std::path::PathBuf>::new());
}

/// Before a rollback to a version of Guichet from before dossiers were
/// stored compressed, `guichet downgrade` writes them all as plain JSON:
/// the same dossiers, in the form that version reads.
#[test]
fn downgrade_writes_every_dossier_as_plain_json_for_an_earlier_version() {
    use guichet_engine::{Actor, Command, Definition, Engine, FileRef, SledStore};
    let folder = tempfile::tempdir().unwrap();
    let data = folder.path().join("data");
    let data_arg = data.to_str().unwrap();
    let now = "2027-03-10T10:00:00Z".parse().unwrap();
    {
        let definition =
            Definition::load(repository().join("definitions/osu-pytheas.yaml")).unwrap();
        let engine =
            Engine::open(definition, SledStore::open(data.join("store")).unwrap()).unwrap();
        for owner in ["alice", "bruno"] {
            let id = engine
                .create_dossier(owner, serving::martin(owner), "fr", now)
                .unwrap()
                .id;
            if owner == "bruno" {
                continue; // just made: short, stored as it is
            }
            let me = Actor::new("candidat", owner);
            let mut commands = vec![Command::Apply {
                formation: "m1-set".into(),
            }];
            for piece in [
                "cv",
                "lettre_motivation",
                "releves_notes",
                "diplomes",
                "piece_identite",
            ] {
                commands.push(Command::Piece {
                    candidature: "c1".into(),
                    piece: piece.into(),
                    transition: "deposer".into(),
                    file: Some(FileRef {
                        name: format!("{piece}.pdf"),
                        sha256: "ab".repeat(32),
                        size: 120_000,
                        format: "pdf".into(),
                    }),
                    comment: None,
                });
            }
            for command in commands {
                let version = engine.dossier(&id).unwrap().unwrap().version;
                engine.apply(&id, version, &me, command, now).unwrap();
            }
        }
        engine.store().shut_down().unwrap();
    }
    let first_bytes = || -> Vec<u8> {
        let db = sled::open(data.join("store")).unwrap();
        let dossiers = db.open_tree("dossiers").unwrap();
        let firsts = dossiers
            .iter()
            .map(|entry| {
                let (_, value) = entry.unwrap();
                if value[0] == b'{' {
                    serde_json::from_slice::<serde_json::Value>(&value).expect("plain JSON");
                }
                value[0]
            })
            .collect();
        drop(dossiers);
        drop(db);
        std::thread::sleep(std::time::Duration::from_millis(100));
        firsts
    };
    let read = || {
        let store = open_store(&data);
        let mut dossiers = guichet_engine::Store::dossiers(&store).unwrap();
        dossiers.sort_by(|a, b| a.id.cmp(&b.id));
        dossiers
    };
    let before = read();
    let mut firsts = first_bytes();
    firsts.sort();
    assert_eq!(firsts, [0, b'{'], "one compressed, one plain");

    let run = guichet(&["downgrade", "--data", data_arg]);
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "{stdout}");
    assert!(
        stdout.contains("1 dossiers written as plain JSON in"),
        "{stdout}"
    );
    assert_eq!(first_bytes(), [b'{', b'{']);
    assert_eq!(read(), before);

    // Nothing to downgrade: said, and a failure.
    let empty = folder.path().join("empty");
    let none = guichet(&["downgrade", "--data", empty.to_str().unwrap()]);
    assert_eq!(none.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&none.stderr).contains("no store found in"));
}
