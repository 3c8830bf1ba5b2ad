//! Every test file of `tests/` is part of the run.
//!
//! The test files live at the top of the repository, outside the crates, so
//! Cargo does not find them by itself: each is named by a `[[test]]` entry of
//! the crate whose API it uses. A file added without its entry would never
//! run, and CI would stay green; this test makes that a failure.

use std::collections::BTreeSet;
use std::path::Path;

/// The `tests/…` files named by `path = "../tests/…"` in a crate's manifest.
fn registered(manifest: &Path) -> BTreeSet<String> {
    let text = std::fs::read_to_string(manifest).unwrap();
    text.lines()
        .filter_map(|line| line.trim().strip_prefix("path = \"../tests/"))
        .filter_map(|rest| rest.strip_suffix('"'))
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_test_file_has_its_test_entry() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut named = registered(&root.join("engine/Cargo.toml"));
    named.extend(registered(&root.join("server/Cargo.toml")));
    named.extend(registered(&root.join("pdf/Cargo.toml")));
    let present: BTreeSet<String> = std::fs::read_dir(root.join("tests"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".rs"))
        .collect();
    let forgotten: Vec<&String> = present.difference(&named).collect();
    assert!(
        forgotten.is_empty(),
        "{forgotten:?} would not run: add a [[test]] entry with its path to \
         engine/Cargo.toml (engine tests), pdf/Cargo.toml (the PDF's) or server/Cargo.toml (server tests)"
    );
    // The other way round, a stale entry would fail the build anyway; the
    // examples and benches entries name other folders.
    assert!(named.contains("registered.rs"), "{named:?}");
}
