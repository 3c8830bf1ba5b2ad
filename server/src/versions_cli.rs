//! `guichet diff` and `guichet migrate`: what a new version of a definition
//! changes, what it would do to the dossiers in progress, and moving them to
//! it (with the server stopped: the store is the server's while it runs);
//! `guichet downgrade`: a data directory made readable by an earlier
//! version of Guichet.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use guichet_engine::{diff, Actor, Definition, Engine, Migrated, SledStore, Store};

/// `guichet diff OLD NEW`.
#[derive(clap::Args)]
pub struct DiffOptions {
    /// The version running now.
    pub old: PathBuf,
    /// The version to compare it with.
    pub new: PathBuf,
    /// A data directory: count the dossiers started under OLD that each
    /// change touches.
    #[arg(long)]
    pub data: Option<PathBuf>,
}

/// `guichet migrate NEW`.
#[derive(clap::Args)]
pub struct MigrateOptions {
    /// The version to move the dossiers to (its `migrate:` gives the mappings).
    pub file: PathBuf,
    /// Data directory of the server.
    #[arg(long, env = "GUICHET_DATA", default_value = "data")]
    pub data: PathBuf,
    /// Say what would move and what would not, and write nothing.
    #[arg(long)]
    pub dry_run: bool,
}

fn load(file: &Path) -> anyhow::Result<Definition> {
    Definition::load(file).map_err(|error| match error {
        guichet_engine::DefinitionError::Invalid(diagnostics) => {
            anyhow::anyhow!("{} does not check:\n{diagnostics}", file.display())
        }
        other => anyhow::anyhow!(guichet_engine::with_causes(&other)),
    })
}

/// Where the store of `definition` lives under `data`: its own folder on a
/// server of several procedures, else the data directory's.
fn store_path(data: &Path, definition: &Definition) -> PathBuf {
    let own = data.join("procedures").join(&definition.file().id);
    if own.join("store").exists() {
        own.join("store")
    } else {
        data.join("store")
    }
}

pub fn diff(options: DiffOptions) -> anyhow::Result<ExitCode> {
    let old = load(&options.old)?;
    let new = load(&options.new)?;
    let changes = diff::changes(&old, &new);
    if changes.is_empty() {
        println!("no change");
    }
    for change in &changes {
        println!("{change}");
    }
    if let Some(data) = &options.data {
        let path = store_path(data, &old);
        let store = SledStore::open(&path)
            .with_context(|| format!("opening the store in {}", path.display()))?;
        // Counted as the dossiers are read, none of them kept. The store
        // may be an earlier version's, without the counts per version that
        // the server builds at its opening: the dossiers are read.
        let mut impacts = diff::Impacts::new(&old, &new);
        let mut started = 0;
        store.each_dossier(&mut |dossier| {
            if dossier.definition == old.hash() {
                started += 1;
                impacts.count(&dossier);
            }
        })?;
        println!(
            "{started} dossier(s) started under {}",
            options.old.display()
        );
        for impact in impacts.found() {
            println!("{impact}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn migrate(options: MigrateOptions) -> anyhow::Result<ExitCode> {
    let new = load(&options.file)?;
    let path = store_path(&options.data, &new);
    let store = SledStore::open(&path)
        .with_context(|| format!("opening the store in {}", path.display()))?;
    let engine = Engine::open(new, store)?;
    let actor = Actor::new("administrator", "guichet migrate");
    let now = jiff::Timestamp::now();
    let (mut moved, mut current, mut refused) = (0, 0, 0);
    // The ids only are kept while the store is read; each dossier is read
    // again as it is moved.
    let mut behind = Vec::new();
    let hash = engine.definition().hash().to_owned();
    engine.each_dossier(&mut |dossier| {
        if dossier.definition == hash {
            current += 1;
        } else {
            behind.push(dossier.id);
        }
    })?;
    for id in behind {
        let outcome = if options.dry_run {
            match engine.dossier(&id)? {
                Some(dossier) => dry_run(&engine, &dossier)?,
                None => continue,
            }
        } else {
            engine.migrate(&id, &actor, now)?
        };
        match outcome {
            Migrated::Moved => {
                moved += 1;
                println!("moved     {id}");
            }
            Migrated::AlreadyCurrent => current += 1,
            Migrated::Refused(reasons) => {
                refused += 1;
                println!("refused   {id}");
                for reason in reasons {
                    println!("          {reason}");
                }
            }
        }
    }
    let verb = if options.dry_run {
        "would move"
    } else {
        "moved"
    };
    println!("{moved} {verb}, {refused} refused, {current} already on this version");
    Ok(if refused == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// What [`Engine::migrate`] would do, without writing.
fn dry_run(
    engine: &Engine<SledStore>,
    dossier: &guichet_engine::Dossier,
) -> anyhow::Result<Migrated> {
    let new = engine.definition();
    if dossier.definition == new.hash() {
        return Ok(Migrated::AlreadyCurrent);
    }
    let old = engine.definition_of(dossier)?;
    Ok(match guichet_engine::migrated(&old, &new, dossier) {
        Ok(_) => Migrated::Moved,
        Err(reasons) => Migrated::Refused(reasons),
    })
}

/// Sends SIGHUP to the server whose process id is in `data`.
pub fn reload(data: &Path) -> anyhow::Result<ExitCode> {
    let pid_file = data.join(crate::serve::PID_FILE);
    let text = std::fs::read_to_string(&pid_file).with_context(|| {
        format!(
            "no running server found ({} cannot be read)",
            pid_file.display()
        )
    })?;
    let pid: i32 = text
        .trim()
        .parse()
        .with_context(|| format!("{} does not hold a process id", pid_file.display()))?;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGHUP,
    )
    .with_context(|| format!("the server (process {pid}) cannot be signalled"))?;
    println!("asked the server (process {pid}) to read its definitions again: its log says what came of it");
    Ok(ExitCode::SUCCESS)
}

/// `guichet downgrade`: every store of `data` (the server's, and each
/// procedure's of a server of several) with its dossiers written as plain
/// JSON, as versions of Guichet from before they were stored compressed
/// read them.
pub fn downgrade(data: &Path) -> anyhow::Result<ExitCode> {
    let mut stores = vec![data.join("store")];
    if let Ok(procedures) = std::fs::read_dir(data.join("procedures")) {
        let mut own: Vec<PathBuf> = procedures
            .filter_map(|entry| Some(entry.ok()?.path().join("store")))
            .collect();
        own.sort();
        stores.extend(own);
    }
    stores.retain(|path| path.is_dir());
    if stores.is_empty() {
        anyhow::bail!("no store found in {}", data.display());
    }
    for path in stores {
        let store = SledStore::open(&path).with_context(|| {
            format!(
                "opening the store in {} (is the server still running? stop it first)",
                path.display()
            )
        })?;
        let written = store.write_dossiers_plain()?;
        store.shut_down()?;
        println!(
            "{written} dossiers written as plain JSON in {}",
            path.display()
        );
    }
    println!("an earlier version of Guichet can now open this data directory");
    Ok(ExitCode::SUCCESS)
}
