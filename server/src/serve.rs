//! `guichet serve`: the engine behind an HTTP server, with mail delivery.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use guichet_engine::{with_causes, Definition, DefinitionError};
use tokio::sync::watch;

use crate::account_store::{AccountError, AccountStore, Swept};
use crate::mail::{self, Envelope, Transport};
use crate::procedure::{
    private_directory, procedure_folder, procedure_state, ServeOptions, Shared,
};
use crate::web::state::{AppState, Clock};
use crate::web::words::unknown_overrides;
use crate::web::{self};

/// Runs the server until SIGTERM or Ctrl-C, then finishes in-flight requests and flushes the store.
pub fn run(options: ServeOptions) -> anyhow::Result<ExitCode> {
    init_logging(&options.log);
    let mut definitions = Vec::new();
    for file in definition_files(&options.files)? {
        let definition = match Definition::load(&file) {
            Ok(definition) => definition,
            Err(DefinitionError::Invalid(diagnostics)) => {
                eprint!("{diagnostics}");
                return Ok(ExitCode::FAILURE);
            }
            Err(error) => return Err(error.into()),
        };
        let words = unknown_overrides(&definition);
        if !words.is_empty() {
            for problem in words {
                eprintln!("error: {}: {problem}", file.display());
            }
            return Ok(ExitCode::FAILURE);
        }
        definitions.push((file, definition));
    }
    let mut ids: Vec<&str> = definitions
        .iter()
        .map(|(_, d)| d.file().id.as_str())
        .collect();
    ids.sort_unstable();
    if let Some(twice) = ids.windows(2).find(|pair| pair[0] == pair[1]) {
        eprintln!(
            "error: two procedures have the id `{}`: each needs its own (it names its address)",
            twice[0]
        );
        return Ok(ExitCode::FAILURE);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(BLOCKING_THREADS)
        .build()?;
    runtime.block_on(serve(options, definitions))?;
    Ok(ExitCode::SUCCESS)
}

/// The most threads the blocking pool runs at once (tokio's default is
/// 512): its tasks are stores' reads and writes, uploads' hashing and
/// writing, and exports, most of them waiting on the disk. In the load
/// tool's burst of 500 candidates, uploads waiting on their own writes took
/// the pool to 204 threads, each keeping its own allocator's cache: the
/// server's peak 230–260 MB instead of 170–190 (docs/performance.md,
/// twentieth round). Uploads write 16 at a time, exports one: 64 leaves
/// room for the commands waiting on a shared flush.
const BLOCKING_THREADS: usize = 64;

/// The definition files named: each file, and the `.yaml`/`.yml` files of
/// each folder (in name order).
fn definition_files(named: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for path in named {
        if !path.is_dir() {
            files.push(path.clone());
            continue;
        }
        let mut within: Vec<PathBuf> = std::fs::read_dir(path)
            .with_context(|| format!("reading {}", path.display()))?
            .filter_map(|entry| Some(entry.ok()?.path()))
            .filter(|file| {
                file.is_file() && file.extension().is_some_and(|e| e == "yaml" || e == "yml")
            })
            .collect();
        within.sort();
        if within.is_empty() {
            anyhow::bail!("{} holds no definition (.yaml)", path.display());
        }
        files.extend(within);
    }
    Ok(files)
}

fn init_logging(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let colours = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colours);
    // A second initialisation (tests) is harmless: keep the first.
    let _ = if format == "json" {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

/// One procedure being served, and the tasks working for it.
struct Served {
    state: Arc<AppState>,
    worker: tokio::task::JoinHandle<()>,
    scheduler: tokio::task::JoinHandle<()>,
}

/// Opens `definition`'s store (under `data`, or `data/procedures/<id>` for
/// a server of several) and starts its mail worker and scheduler.
async fn procedure(
    shared: &Shared<'_>,
    file: &std::path::Path,
    definition: Definition,
) -> anyhow::Result<Served> {
    let options = shared.options;
    let state = procedure_state(shared, file, definition)?;
    crate::publish::warn_of_unknown_rights(&state);
    let sender = options
        .mail_from
        .clone()
        .or_else(|| state.engine.definition().file().sender.clone())
        .unwrap_or_else(|| "Guichet <noreply@localhost>".into());
    let envelope = Envelope {
        from: sender
            .parse()
            .with_context(|| format!("the mail sender `{sender}` is not an address"))?,
        domain: host_of(&state.base_url),
    };
    let folder = procedure_folder(shared, &state.engine.definition().file().id);
    let transport = Transport::new(options.smtp.as_deref(), folder.join("mail"))?;
    let worker = tokio::spawn(mail::run_worker(
        Arc::clone(&state.engine),
        transport,
        envelope,
        Arc::clone(&state.mail_wake),
        shared.stopped.clone(),
    ));
    let scheduler = tokio::spawn(crate::scheduler::run(
        Arc::clone(&state.engine),
        shared.clock,
        options.scheduler_interval,
        Arc::clone(&state.mail_wake),
        shared.stopped.clone(),
    ));
    Ok(Served {
        state,
        worker,
        scheduler,
    })
}

async fn serve(
    options: ServeOptions,
    definitions: Vec<(PathBuf, Definition)>,
) -> anyhow::Result<()> {
    // Before anything is served: a SIGTERM from then on stops it gracefully.
    let shutdown = crate::listen::shutdown_signal();
    private_directory(&options.data)?;
    // Bound first, so that a port chosen by the system (`--addr
    // 127.0.0.1:0`) is known to the links in mails and to the log; listened
    // on once the procedures are ready, connections being refused until
    // then rather than left waiting.
    let socket =
        bound_socket(options.addr).with_context(|| format!("listening on {}", options.addr))?;
    let address = socket.local_addr()?;
    let base_url = options
        .base_url
        .clone()
        .unwrap_or_else(|| format!("http://{address}"));
    let accounts_path = options.data.join("accounts");
    let accounts = crate::account_store::AccountStore::open(&accounts_path)
        .with_context(|| format!("opening the accounts in {}", accounts_path.display()))?;
    let staff_path = options.data.join("staff");
    let staff = crate::staff_store::StaffStore::open(&staff_path)
        .with_context(|| format!("opening the staff accounts in {}", staff_path.display()))?;
    let (stop, stopped) = watch::channel(false);
    let sweeper = tokio::spawn(sweep_accounts(
        [accounts.clone(), staff.accounts.clone()],
        options.scheduler_interval,
        stopped.clone(),
    ));
    let shared = Shared {
        options: &options,
        base_url: &base_url,
        several: definitions.len() > 1,
        accounts: &accounts,
        staff: &staff,
        clock: options
            .now
            .map_or_else(Default::default, Clock::starting_at),
        stopped: &stopped,
        all: Arc::default(),
        throttle: Arc::default(),
        writes: Arc::default(),
        turns: Arc::default(),
    };
    let mut served = Vec::new();
    let mut files = Vec::new();
    for (file, definition) in definitions {
        served.push(procedure(&shared, &file, definition).await?);
        files.push(file);
    }
    let states: Vec<Arc<AppState>> = served.iter().map(|s| Arc::clone(&s.state)).collect();
    let reloads: Vec<(PathBuf, Arc<AppState>)> = files.into_iter().zip(states.clone()).collect();
    tokio::spawn(reload_on_hangup(reloads));
    let _ = shared.all.set(states.iter().map(Arc::downgrade).collect());
    let router = match states.as_slice() {
        [one] => web::router(Arc::clone(one)),
        several => web::procedures_router(several)?,
    };
    let listener = socket
        .listen(1024)
        .with_context(|| format!("listening on {address}"))?;
    tracing::info!(%address, %base_url, "serving");
    // `guichet reload` finds the server by this file.
    let pid_file = options.data.join(PID_FILE);
    std::fs::write(&pid_file, std::process::id().to_string())
        .with_context(|| format!("writing {}", pid_file.display()))?;
    let limits = crate::listen::Limits {
        header_timeout: options.header_timeout,
        request_timeout: options.request_timeout,
        max_connections: options.max_connections,
    };
    crate::listen::serve(listener, router, limits, shutdown).await;

    tracing::info!("stopping: finishing mail delivery and flushing the store");
    let _ = stop.send(true);
    for procedure in served {
        let _ = procedure.scheduler.await;
        let _ = procedure.worker.await;
        let engine = Arc::clone(&procedure.state.engine);
        tokio::task::spawn_blocking(move || engine.store().shut_down()).await??;
    }
    let _ = sweeper.await;
    accounts.flush()?;
    staff.accounts.flush()?;
    let _ = std::fs::remove_file(&pid_file);
    tracing::info!("stopped");
    Ok(())
}

/// Removes the candidates' and the staff's sessions past their maximum age,
/// links long past their expiry and accounts never activated whose links
/// went ([`AccountStore::sweep`]), every `interval`, at the real time
/// (which sessions and links keep), until `stop`.
async fn sweep_accounts(
    stores: [AccountStore; 2],
    interval: std::time::Duration,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let swept = stores.clone();
        let sweep = move || -> Result<Swept, AccountError> {
            let now = jiff::Timestamp::now();
            swept.iter().try_fold(Swept::default(), |total, store| {
                Ok(total + store.sweep(now)?)
            })
        };
        match tokio::task::spawn_blocking(sweep).await {
            Ok(Ok(swept)) if swept == Swept::default() => {}
            Ok(Ok(Swept {
                sessions,
                tokens,
                accounts,
            })) => tracing::info!(
                sessions,
                links = tokens,
                accounts,
                "ended sessions and links, accounts never activated, removed"
            ),
            Ok(Err(error)) => {
                tracing::error!(error = %with_causes(&error), "sessions and links not swept")
            }
            Err(error) => tracing::error!(%error, "the sweep of sessions and links failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = stop.changed() => return,
        }
    }
}

/// A socket bound to `addr`, not yet listening, as the standard library's
/// listener would bind it (the address reusable at once after a restart).
fn bound_socket(addr: std::net::SocketAddr) -> std::io::Result<tokio::net::TcpSocket> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    Ok(socket)
}

/// The host part of a URL, for Message-IDs.
fn host_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let host = rest.split(['/', ':']).next().unwrap_or("localhost");
    if host.is_empty() {
        "localhost".into()
    } else {
        host.into()
    }
}

/// The file, in the data directory, holding the running server's process id.
pub const PID_FILE: &str = "guichet.pid";

/// On each SIGHUP, reads each procedure's file again and publishes it if it
/// checks and its scenarios pass; otherwise logs why and keeps serving the
/// running version.
async fn reload_on_hangup(procedures: Vec<(PathBuf, Arc<AppState>)>) {
    #[cfg(unix)]
    {
        let Ok(mut hangups) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        else {
            tracing::warn!("SIGHUP cannot be listened to: reload by restarting");
            return;
        };
        while hangups.recv().await.is_some() {
            for (file, state) in &procedures {
                let (file, state) = (file.clone(), Arc::clone(state));
                let published = tokio::task::spawn_blocking(move || {
                    let outcome = crate::publish::publish_file(&state, &file, "SIGHUP");
                    (file, outcome)
                })
                .await;
                match published {
                    Ok((file, Ok(crate::publish::Published::Now(hash)))) => {
                        tracing::info!(file = %file.display(), %hash, "new version published")
                    }
                    Ok((file, Ok(crate::publish::Published::Already(_)))) => {
                        tracing::info!(file = %file.display(), "the file is the version running")
                    }
                    Ok((file, Err(refusal))) => {
                        tracing::error!(file = %file.display(), %refusal, "new version refused: the running one keeps serving")
                    }
                    Err(error) => tracing::error!(%error, "reload task failed"),
                }
            }
        }
    }
    #[cfg(not(unix))]
    let _ = procedures;
}
