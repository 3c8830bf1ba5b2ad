//! Publishing a new version of a procedure's definition while the server
//! runs: checked whole, its scenarios played, its pages built, and only then
//! swapped in. Until then the running version keeps serving; a version that
//! does not check, whose scenarios fail, or that names another procedure is
//! refused with its reasons and changes nothing.

use std::path::Path;
use std::sync::Arc;

use guichet_engine::{Definition, DefinitionError};

use crate::web::state::AppState;
use crate::web::words::unknown_overrides;

/// Why a version was not published.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// The file could not be read or does not check.
    #[error("the definition does not check:\n{0}")]
    Invalid(String),
    /// It is another procedure (its id names the store and the addresses).
    #[error("this server serves procedure `{running}`, the file is procedure `{given}`")]
    OtherProcedure {
        /// The id served.
        running: String,
        /// The id of the file.
        given: String,
    },
    /// Its own scenarios fail.
    #[error("{} of its scenarios fail:\n{}", .0.len(), .0.join("\n"))]
    Scenarios(Vec<String>),
    /// The version asked for is not in the store.
    #[error("no version `{0}` in the store")]
    UnknownVersion(String),
    /// Its pages could not be built, or the store could not keep it.
    #[error("it could not be put in place: {0}")]
    Failed(String),
}

impl From<DefinitionError> for Refusal {
    fn from(error: DefinitionError) -> Refusal {
        Refusal::Invalid(described(&error))
    }
}

/// Why a definition could not be read: its diagnostics, or the failure
/// with its causes.
pub fn described(error: &DefinitionError) -> String {
    match error {
        DefinitionError::Invalid(diagnostics) => diagnostics.render(),
        other => guichet_engine::with_causes(other),
    }
}

/// What publishing did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Published {
    /// The version is now current.
    Now(String),
    /// It was current already.
    Already(String),
}

/// Reads `file` and publishes it as `by`.
pub fn publish_file(state: &AppState, file: &Path, by: &str) -> Result<Published, Refusal> {
    let _turn = state.publication_turn();
    let definition = Definition::load(file)?;
    publish(state, Arc::new(definition), by)
}

/// Makes the version of hash `hash`, kept in the store, current again, and
/// writes it over the definition file served (see [`write_files`]): a
/// restart serves it too.
pub fn restore(state: &AppState, hash: &str, by: &str) -> Result<Published, Refusal> {
    let _turn = state.publication_turn();
    let version = state
        .engine
        .version(hash)
        .map_err(|error| Refusal::Failed(guichet_engine::with_causes(&error)))?
        .ok_or_else(|| Refusal::UnknownVersion(hash.to_owned()))?;
    let published = publish(state, Arc::clone(&version), by)?;
    write_files(&state.definition_file, &version)
        .map_err(|error| unwritten(&state.definition_file, &error))?;
    Ok(published)
}

/// Writes `definition`'s text over `file`, and the list files it names
/// beside it. A file that holds its text already is left as it is (a base's
/// list named above the folder, unchanged, among them); one that changed is
/// written in `file`'s folder or below, never elsewhere, whatever its
/// `file:` says, whole, then renamed over the old one. The files a
/// definition `extends` are not written.
pub fn write_files(file: &Path, definition: &Definition) -> std::io::Result<()> {
    let folder = file.parent().unwrap_or(Path::new(""));
    let bundle = definition.bundle();
    for (name, content) in &bundle.files {
        let relative = Path::new(name);
        let path = folder.join(relative);
        if holds(&path, content) {
            continue;
        }
        if !guichet_engine::is_below(name) {
            return Err(std::io::Error::other(format!(
                "the list file `{name}` is not below the definition's folder"
            )));
        }
        replace_file(&path, content)?;
    }
    if holds(file, &bundle.text) {
        return Ok(());
    }
    replace_file(file, &bundle.text)
}

/// Whether `file` holds `text`.
fn holds(file: &Path, text: &str) -> bool {
    std::fs::read_to_string(file).ok().as_deref() == Some(text)
}

/// Replaces `file` whole: written beside it, then renamed over it.
fn replace_file(file: &Path, text: &str) -> std::io::Result<()> {
    let mut fresh = file.as_os_str().to_owned();
    fresh.push(".publishing");
    std::fs::write(&fresh, text)?;
    std::fs::rename(&fresh, file)
}

/// The refusal of a version put in service whose file could not be written.
pub fn unwritten(file: &Path, error: &std::io::Error) -> Refusal {
    Refusal::Failed(format!(
        "the version is in service, but {} could not be written (a restart would serve the file as it is): {error}",
        file.display()
    ))
}

/// Publishes `definition` as `by`, once everything about it holds. The
/// caller holds the publication's turn ([`AppState::publication_turn`]).
pub fn publish(
    state: &AppState,
    definition: Arc<Definition>,
    by: &str,
) -> Result<Published, Refusal> {
    let running = state.engine.definition();
    if running.hash() == definition.hash() {
        return Ok(Published::Already(definition.hash().to_owned()));
    }
    if running.file().id != definition.file().id {
        return Err(Refusal::OtherProcedure {
            running: running.file().id.clone(),
            given: definition.file().id.clone(),
        });
    }
    let words = unknown_overrides(&definition);
    if !words.is_empty() {
        return Err(Refusal::Invalid(words.join("\n")));
    }
    let failures: Vec<String> = guichet_engine::run_scenarios(&definition)
        .into_iter()
        .filter_map(|report| {
            let failure = report.failure?;
            Some(format!(
                "{} (line {}): {}",
                report.name, failure.line, failure.reason
            ))
        })
        .collect();
    if !failures.is_empty() {
        return Err(Refusal::Scenarios(failures));
    }
    put_in_place(state, definition, by)
}

/// Logs, for the version `state` serves, each staff member of the procedure
/// whose rights it does not know (a role renamed by the new version, a
/// formation removed): what those give them is nothing, and the team page
/// or `guichet staff add` mends them.
pub fn warn_of_unknown_rights(state: &AppState) {
    let members = match state.staff.members() {
        Ok(members) => members,
        Err(error) => {
            tracing::warn!(%error, "the staff accounts could not be read to check their rights");
            return;
        }
    };
    let definition = state.engine.definition();
    let procedure = state.procedure.as_deref();
    for member in members.iter().filter(|m| m.rights.works_in(procedure)) {
        for problem in member.rights.unknown_to(&definition) {
            tracing::warn!(member = %member.account.email, "{problem}: it gives them nothing");
        }
    }
}

/// Makes `definition` current as `by` without judging it: its pages built,
/// then the engine's version and the pages swapped. What [`publish`] ends
/// with, and what a preview serves whatever its scenarios say.
pub fn put_in_place(
    state: &AppState,
    definition: Arc<Definition>,
    by: &str,
) -> Result<Published, Refusal> {
    let face = state
        .face()
        .next(&definition)
        .map_err(|error| Refusal::Failed(format!("{error:#}")))?;
    let hash = definition.hash().to_owned();
    state
        .engine
        .publish(definition, by, jiff::Timestamp::now())
        .map_err(|error| Refusal::Failed(guichet_engine::with_causes(&error)))?;
    *state
        .face
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = face;
    warn_of_unknown_rights(state);
    Ok(Published::Now(hash))
}

/// Every problem of a definition loaded from `file`, as `guichet check
/// --format json` gives them (also the editor's): diagnostics with where,
/// and the overridden words the pages do not have.
pub fn problems(
    file: &Path,
    loaded: Result<Definition, DefinitionError>,
) -> Vec<serde_json::Value> {
    let at_start = |message: String, hint: &str| {
        serde_json::json!({
            "file": file.display().to_string(), "line": 1, "column": 1,
            "end_line": 1, "end_column": 1, "message": message, "hint": hint,
        })
    };
    match loaded {
        Ok(definition) => unknown_overrides(&definition)
            .into_iter()
            .map(|problem| at_start(problem, "see the keys of the built-in words"))
            .collect(),
        Err(DefinitionError::Invalid(diagnostics)) => diagnostics
            .items()
            .iter()
            .filter_map(|item| serde_json::to_value(item).ok())
            .collect(),
        Err(error) => vec![at_start(
            guichet_engine::with_causes(&error),
            "check the path and that the file is readable",
        )],
    }
}
