//! The real `guichet` binary: `check` on good and bad files, and `serve`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

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
