//! `guichet`: checks definition files and serves procedures.
//!
//! ```text
//! guichet check procedure.yaml
//! guichet check --merged faculty.yaml
//! guichet check --format json procedure.yaml
//! guichet test procedure.yaml
//! guichet diff running.yaml edited.yaml --data ./data
//! guichet migrate edited.yaml --data ./data --dry-run
//! guichet preview procedure.yaml
//! guichet serve procedure.yaml --data ./data
//! guichet staff add claire.martin@example.org --role gestionnaire --scope '*' --admin
//! guichet schema > definitions/guichet.schema.json
//! guichet schema --overlay > definitions/guichet-overlay.schema.json
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

mod account_store;
mod allocator;
mod files;
mod letters;
mod listen;
mod mail;
mod passwords;
mod procedure;
mod publish;
mod scheduler;
mod serve;
mod staff_cli;
mod staff_store;
mod versions_cli;
mod web;

use clap::{Parser, Subcommand};
use guichet_engine::{Definition, DefinitionError};

#[derive(Parser)]
#[command(
    name = "guichet",
    version,
    about = "Application procedures defined in one YAML file"
)]
struct Cli {
    #[command(subcommand)]
    command: Commands,
}

#[derive(Subcommand)]
enum Commands {
    /// Check definition files; exits 1 with every problem found if any is invalid.
    Check {
        /// Definition files (YAML).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Print each valid definition as the engine reads it: its
        /// `extends:` applied.
        #[arg(long)]
        merged: bool,
        /// `json`: every problem as a JSON array (file, line, column,
        /// end_line, end_column, message, hint), for editors and scripts.
        #[arg(long, default_value = "text", value_parser = ["text", "json"])]
        format: String,
    },
    /// What changed between two versions of a definition, and, with
    /// `--data`, what it would do to the dossiers in progress.
    Diff(versions_cli::DiffOptions),
    /// Move the dossiers of a data directory to a new version of the
    /// definition, by the mappings its `migrate:` declares (server stopped).
    Migrate(versions_cli::MigrateOptions),
    /// Before rolling back to a version of Guichet from before dossiers
    /// were stored compressed: write every dossier of a data directory as
    /// plain JSON (server stopped).
    Downgrade {
        /// Data directory of the server.
        #[arg(long, env = "GUICHET_DATA", default_value = "data")]
        data: PathBuf,
    },
    /// Serve a preview of a definition file for its author: its scenarios
    /// played, every mail they send rendered, and each candidate page of a
    /// sample candidate; the file read again at each visit.
    Preview {
        /// Definition file (YAML).
        file: PathBuf,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8090")]
        addr: std::net::SocketAddr,
    },
    /// Ask the running server to read its definition files again (SIGHUP):
    /// each that checks and passes its scenarios is published; its log says
    /// what came of it.
    Reload {
        /// Data directory of the running server.
        #[arg(long, env = "GUICHET_DATA", default_value = "data")]
        data: PathBuf,
    },
    /// Play the test scenarios of definition files; exits 1 if one fails.
    Test {
        /// Definition files (YAML).
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Serve the procedure over HTTP and deliver its mails.
    Serve(Box<procedure::ServeOptions>),
    /// Manage staff accounts (with the server stopped).
    Staff(Box<staff_cli::StaffOptions>),
    /// Print the JSON Schema of the definition format.
    Schema {
        /// The schema of a file that `extends` another (nothing required,
        /// `remove` allowed in entries): `definitions/guichet-overlay.schema.json`.
        #[arg(long)]
        overlay: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if !matches!(cli.command, Commands::Serve(_) | Commands::Preview { .. }) {
        end_quietly_on_a_closed_pipe();
    }
    let result = match cli.command {
        Commands::Check { files, format, .. } if format == "json" => Ok(check_json(&files)),
        Commands::Check { files, merged, .. } => Ok(check(&files, merged)),
        Commands::Diff(options) => versions_cli::diff(options),
        Commands::Migrate(options) => versions_cli::migrate(options),
        Commands::Reload { data } => versions_cli::reload(&data),
        Commands::Downgrade { data } => versions_cli::downgrade(&data),
        Commands::Preview { file, addr } => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(anyhow::Error::from)
            .and_then(|runtime| runtime.block_on(web::preview::serve(file, addr)))
            .map(|()| ExitCode::SUCCESS),
        Commands::Test { files } => Ok(test(&files)),
        Commands::Serve(options) => serve::run(*options),
        Commands::Staff(options) => staff_cli::run(*options),
        Commands::Schema { overlay } => {
            if overlay {
                print!("{}", guichet_engine::overlay_json_schema_text());
            } else {
                print!("{}", guichet_engine::json_schema_text());
            }
            Ok(ExitCode::SUCCESS)
        }
    };
    result.unwrap_or_else(|error| {
        eprintln!("error: {error:#}");
        ExitCode::FAILURE
    })
}

/// A command piped into `head` or a pager that is closed before the end
/// then stops as Unix tools do, ended by SIGPIPE, where Rust's ignored
/// SIGPIPE would make its next print panic (exit code 101). The servers
/// keep it ignored: a client gone is an error they handle.
fn end_quietly_on_a_closed_pipe() {
    use nix::sys::signal::{signal, SigHandler, Signal};
    // SAFETY: the default disposition installs no handler, and no other
    // thread is running yet to race with the change.
    if let Err(error) = unsafe { signal(Signal::SIGPIPE, SigHandler::SigDfl) } {
        eprintln!("warning: SIGPIPE left ignored: {error}");
    }
}

fn check(files: &[PathBuf], merged: bool) -> ExitCode {
    let mut all_valid = true;
    for file in files {
        match Definition::load(file) {
            Ok(definition) => {
                // The pages' words are the server's: checked here, not by the engine.
                let words = web::words::unknown_overrides(&definition);
                if !words.is_empty() {
                    all_valid = false;
                    for problem in words {
                        eprintln!("error: {}: {problem}", file.display());
                    }
                    continue;
                }
                if merged {
                    print!("{}", definition.merged_text());
                    continue;
                }
                let spec = definition.file();
                println!(
                    "{}: valid ({} sections, {} pieces, {} formations, {} states, {} transitions, {} mails)",
                    file.display(),
                    spec.profile.len(),
                    spec.pieces.len(),
                    spec.formations.len(),
                    spec.workflow.states.len(),
                    spec.workflow.transitions.len(),
                    spec.mails.len(),
                );
            }
            Err(DefinitionError::Invalid(diagnostics)) => {
                all_valid = false;
                eprint!("{diagnostics}");
            }
            Err(error) => {
                all_valid = false;
                eprintln!("error: {}", guichet_engine::with_causes(&error));
            }
        }
    }
    if all_valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Every problem of `files` as one JSON array on stdout; exits 1 if any.
fn check_json(files: &[PathBuf]) -> ExitCode {
    let problems: Vec<serde_json::Value> = files
        .iter()
        .flat_map(|file| publish::problems(file, Definition::load(file)))
        .collect();
    println!("{}", serde_json::Value::Array(problems.clone()));
    if problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn test(files: &[PathBuf]) -> ExitCode {
    let mut all_passed = true;
    for file in files {
        let definition = match Definition::load(file) {
            Ok(definition) => std::sync::Arc::new(definition),
            Err(DefinitionError::Invalid(diagnostics)) => {
                all_passed = false;
                eprint!("{diagnostics}");
                continue;
            }
            Err(error) => {
                all_passed = false;
                eprintln!("error: {}", guichet_engine::with_causes(&error));
                continue;
            }
        };
        let reports = guichet_engine::run_scenarios(&definition);
        println!("{}", file.display());
        let mut failed = 0;
        for report in &reports {
            match &report.failure {
                None => println!("  ok      {}", report.name),
                Some(failure) => {
                    failed += 1;
                    println!("  FAILED  {}", report.name);
                    println!(
                        "          {}:{}: {}",
                        file.display(),
                        failure.line,
                        failure.reason
                    );
                }
            }
        }
        println!(
            "  {} scenarios: {} ok, {failed} failed",
            reports.len(),
            reports.len() - failed
        );
        if failed > 0 || reports.is_empty() {
            all_passed = false;
        }
        if reports.is_empty() {
            println!("  no scenario: add some under `tests:`");
        }
    }
    if all_passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
