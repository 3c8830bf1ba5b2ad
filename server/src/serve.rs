//! `guichet serve`: the engine behind an HTTP server, with mail delivery.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use guichet_engine::{Definition, DefinitionError, Engine, SledStore};
use tokio::sync::{watch, Notify};

use crate::mail::{self, Envelope, Transport};
use crate::web::{self, AppState};

/// Settings of `guichet serve` (each also read from a `GUICHET_…` variable).
#[derive(clap::Args, Debug)]
pub struct ServeOptions {
    /// Definition file (YAML); several files, or a folder of them, serve
    /// each procedure under `/<its id>/`, with one candidate account for all.
    #[arg(required = true, num_args = 1..)]
    pub files: Vec<PathBuf>,
    /// Address to listen on.
    #[arg(long, env = "GUICHET_ADDR", default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,
    /// Directory of the embedded store and of written mails.
    #[arg(long, env = "GUICHET_DATA", default_value = "data")]
    pub data: PathBuf,
    /// SMTP server, e.g. `smtp://127.0.0.1:2525` or `smtp://user:pass@host:587?tls=required`.
    /// Without it, mails are written as `.eml` files under the data directory.
    #[arg(long, env = "GUICHET_SMTP")]
    pub smtp: Option<String>,
    /// Address users reach the server at (links in mails). Default: `http://ADDR`.
    #[arg(long, env = "GUICHET_BASE_URL")]
    pub base_url: Option<String>,
    /// Sender of the mails; default: the definition's `sender`.
    #[arg(long, env = "GUICHET_MAIL_FROM")]
    pub mail_from: Option<String>,
    /// How long activation and email-change links work, e.g. `48 hours`.
    #[arg(long, env = "GUICHET_LINK_VALIDITY", default_value = "48 hours", value_parser = parse_duration)]
    pub link_validity: std::time::Duration,
    /// How long password-reset links work.
    #[arg(long, env = "GUICHET_RESET_VALIDITY", default_value = "2 hours", value_parser = parse_duration)]
    pub reset_validity: std::time::Duration,
    /// Address of the reverse proxy in front of the server: requests from it
    /// are counted against the client its `X-Forwarded-For` names.
    #[arg(long, env = "GUICHET_TRUSTED_PROXY")]
    pub trusted_proxy: Option<std::net::IpAddr>,
    /// Time a client has to send a request's headers.
    #[arg(long, env = "GUICHET_HEADER_TIMEOUT", default_value = "10 seconds", value_parser = parse_duration)]
    pub header_timeout: std::time::Duration,
    /// Time a request has, its body included, to be read and answered.
    #[arg(long, env = "GUICHET_REQUEST_TIMEOUT", default_value = "2 minutes", value_parser = parse_duration)]
    pub request_timeout: std::time::Duration,
    /// Connections open at once; further ones are closed at once.
    #[arg(long, env = "GUICHET_MAX_CONNECTIONS", default_value = "1000")]
    pub max_connections: usize,
    /// Most candidatures in one ZIP of PDFs a staff member asks for; a
    /// bigger list is filtered first.
    #[arg(long, env = "GUICHET_ARCHIVE_MAX", default_value = "500")]
    pub archive_max: usize,
    /// For a demonstration: the procedure's time starts at this moment (e.g.
    /// `2027-03-10T09:00:00+01:00`, inside the campaign) and goes on at the
    /// real pace. Sessions and mailed links keep the real time.
    #[arg(long, env = "GUICHET_NOW")]
    pub now: Option<jiff::Timestamp>,
    /// How often the deadlines that fell due are run (also once at start-up).
    #[arg(long, env = "GUICHET_SCHEDULER_INTERVAL", default_value = "1 minute", value_parser = parse_duration)]
    pub scheduler_interval: std::time::Duration,
    /// Log format: `human` or `json`.
    #[arg(long, env = "GUICHET_LOG", default_value = "human")]
    pub log: String,
}

/// Reads `48 hours`, `30 minutes`, `2 days`…
fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let span = guichet_engine::parse_duration(text)?;
    let signed = span
        .to_duration(jiff::SpanRelativeTo::days_are_24_hours())
        .map_err(|e| format!("`{text}`: {e}"))?;
    std::time::Duration::try_from(signed).map_err(|e| format!("`{text}`: {e}"))
}

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
        let words = crate::web::unknown_words(&definition);
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
        .build()?;
    runtime.block_on(serve(options, definitions))?;
    Ok(ExitCode::SUCCESS)
}

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

/// Creates the data directory if needed, readable by the server's user only:
/// dossiers, accounts, uploaded pieces and mails are nobody else's business.
fn private_directory(path: &std::path::Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(path).with_context(|| format!("creating {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let owner_only = std::fs::Permissions::from_mode(0o700);
        std::fs::set_permissions(path, owner_only)
            .with_context(|| format!("making {} private", path.display()))?;
    }
    Ok(())
}

/// One procedure being served, and the tasks working for it.
struct Served {
    state: Arc<AppState>,
    worker: tokio::task::JoinHandle<()>,
    scheduler: tokio::task::JoinHandle<()>,
}

/// What every procedure of the server shares.
struct Shared<'a> {
    options: &'a ServeOptions,
    base_url: &'a str,
    several: bool,
    accounts: &'a crate::account_store::AccountStore,
    staff: &'a crate::staff_store::StaffStore,
    clock: crate::web::Clock,
    stopped: &'a watch::Receiver<bool>,
    all: Arc<std::sync::OnceLock<Vec<std::sync::Weak<AppState>>>>,
    throttle: Arc<crate::web::Throttle>,
    writes: Arc<crate::web::WriteBudget>,
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

/// Where procedure `id` keeps its store, files and mails.
fn procedure_folder(shared: &Shared<'_>, id: &str) -> PathBuf {
    if shared.several {
        shared.options.data.join("procedures").join(id)
    } else {
        shared.options.data.clone()
    }
}

/// The state of procedure `definition`: its store opened, its pages built.
fn procedure_state(
    shared: &Shared<'_>,
    file: &std::path::Path,
    definition: Definition,
) -> anyhow::Result<Arc<AppState>> {
    let options = shared.options;
    let id = definition.file().id.clone();
    let folder = procedure_folder(shared, &id);
    let prefix = if shared.several {
        format!("/{id}")
    } else {
        String::new()
    };
    private_directory(&folder)?;
    let store_path = folder.join("store");
    let store = SledStore::open(&store_path)
        .with_context(|| format!("opening the store in {}", store_path.display()))?;
    let base_url = format!("{}{prefix}", shared.base_url.trim_end_matches('/'));
    let engine =
        Arc::new(Engine::open(definition, store)?.with_link_prefix(format!("{base_url}/tiers/")));
    tracing::info!(
        definition = %file.display(),
        version = &engine.definition().hash()[..12],
        data = %folder.display(),
        "definition loaded"
    );
    let face = crate::web::Face::of(&engine.definition(), prefix)?;
    Ok(Arc::new(AppState {
        engine,
        procedure: shared.several.then_some(id),
        all: Arc::clone(&shared.all),
        face: std::sync::RwLock::new(face),
        accounts: shared.accounts.clone(),
        staff: shared.staff.clone(),
        files: crate::files::FileStore::open(&folder.join("files"))
            .with_context(|| format!("opening {}", folder.join("files").display()))?,
        secure_cookies: base_url.starts_with("https://"),
        base_url,
        csrf: crate::web::CsrfKey::load_or_create(&options.data.join("csrf.key"))
            .with_context(|| format!("reading the key in {}", options.data.display()))?,
        links: crate::web::LinkValidity {
            activation: options.link_validity,
            password_reset: options.reset_validity,
        },
        throttle: Arc::clone(&shared.throttle),
        writes: Arc::clone(&shared.writes),
        clock: shared.clock,
        trusted_proxy: options.trusted_proxy,
        log_links: options.smtp.is_none(),
        mail_wake: Arc::new(Notify::new()),
        definition_file: file.to_owned(),
        upload_turns: tokio::sync::Semaphore::new(crate::web::UPLOADS_AT_ONCE),
        archives: crate::web::ArchiveJobs::new(folder.join("archives"), options.archive_max)
            .with_context(|| format!("emptying {}", folder.join("archives").display()))?,
    }))
}

/// The state of procedure `definition` alone on the throwaway data
/// directory `data`, with no mail worker, scheduler nor listener, every page
/// saying it is a preview: what `guichet preview` renders candidate pages in.
pub fn preview_state(
    file: &std::path::Path,
    definition: Definition,
    data: &std::path::Path,
) -> anyhow::Result<Arc<AppState>> {
    /// The server's settings at their defaults.
    #[derive(clap::Parser)]
    struct Defaults {
        #[command(flatten)]
        options: ServeOptions,
    }
    let named = [file.as_os_str(), "--data".as_ref(), data.as_os_str()];
    let defaults = <Defaults as clap::Parser>::try_parse_from(
        std::iter::once("guichet".as_ref()).chain(named),
    )?;
    let options = defaults.options;
    let accounts = crate::account_store::AccountStore::open(&data.join("accounts"))?;
    let staff = crate::staff_store::StaffStore::open(&data.join("staff"))?;
    let (_stop, stopped) = watch::channel(false);
    let base_url = format!("http://{}", options.addr);
    let shared = Shared {
        options: &options,
        base_url: &base_url,
        several: false,
        accounts: &accounts,
        staff: &staff,
        clock: Default::default(),
        stopped: &stopped,
        all: Arc::default(),
        throttle: Arc::default(),
        writes: Arc::default(),
    };
    let state = procedure_state(&shared, file, definition)?;
    let face = crate::web::Face::preview_of(&state.engine.definition())?;
    *state
        .face
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = face;
    Ok(state)
}

async fn serve(
    options: ServeOptions,
    definitions: Vec<(PathBuf, Definition)>,
) -> anyhow::Result<()> {
    private_directory(&options.data)?;
    let base_url = options
        .base_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", options.addr));
    let accounts_path = options.data.join("accounts");
    let accounts = crate::account_store::AccountStore::open(&accounts_path)
        .with_context(|| format!("opening the accounts in {}", accounts_path.display()))?;
    let staff_path = options.data.join("staff");
    let staff = crate::staff_store::StaffStore::open(&staff_path)
        .with_context(|| format!("opening the staff accounts in {}", staff_path.display()))?;
    let (stop, stopped) = watch::channel(false);
    let shared = Shared {
        options: &options,
        base_url: &base_url,
        several: definitions.len() > 1,
        accounts: &accounts,
        staff: &staff,
        clock: options
            .now
            .map_or_else(Default::default, crate::web::Clock::starting_at),
        stopped: &stopped,
        all: Arc::default(),
        throttle: Arc::default(),
        writes: Arc::default(),
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
    let listener = tokio::net::TcpListener::bind(options.addr)
        .await
        .with_context(|| format!("listening on {}", options.addr))?;
    tracing::info!(address = %listener.local_addr()?, %base_url, "serving");
    // `guichet reload` finds the server by this file.
    let pid_file = options.data.join(PID_FILE);
    std::fs::write(&pid_file, std::process::id().to_string())
        .with_context(|| format!("writing {}", pid_file.display()))?;
    let limits = crate::listen::Limits {
        header_timeout: options.header_timeout,
        request_timeout: options.request_timeout,
        max_connections: options.max_connections,
    };
    crate::listen::serve(listener, router, limits, crate::listen::shutdown_signal()).await;

    tracing::info!("stopping: finishing mail delivery and flushing the store");
    let _ = stop.send(true);
    for procedure in served {
        let _ = procedure.scheduler.await;
        let _ = procedure.worker.await;
        let engine = Arc::clone(&procedure.state.engine);
        tokio::task::spawn_blocking(move || engine.store().shut_down()).await??;
    }
    accounts.flush()?;
    staff.accounts.flush()?;
    let _ = std::fs::remove_file(&pid_file);
    tracing::info!("stopped");
    Ok(())
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
