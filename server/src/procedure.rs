//! One procedure's state, opened from the server's settings: its store,
//! files and pages, under the data directory (`guichet serve` runs it with
//! its workers; `guichet preview` opens it on a throwaway one).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use guichet_engine::{Definition, Engine, SledStore};
use tokio::sync::{watch, Notify};

use crate::web::archives::Jobs;
use crate::web::session::{CsrfKey, LinkValidity, Throttle, WriteBudget};
use crate::web::state::{AppState, Clock, Face, Turns};

/// Settings of `guichet serve` (each also read from a `GUICHET_…` variable).
#[derive(clap::Args, Debug)]
pub struct ServeOptions {
    /// Definition file (YAML); several files, or a folder of them, serve
    /// each procedure under `/<its id>/`, with one candidate account for all.
    #[arg(required = true, num_args = 1..)]
    pub files: Vec<PathBuf>,
    /// Address to listen on (port 0: one the system chooses, written in
    /// the log's `serving` line).
    #[arg(long, env = "GUICHET_ADDR", default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,
    /// Directory of the embedded store and of written mails.
    #[arg(long, env = "GUICHET_DATA", default_value = "data")]
    pub data: PathBuf,
    /// SMTP server, e.g. `smtp://127.0.0.1:2525` or `smtp://user:pass@host:587?tls=required`.
    /// Without it, mails are written as `.eml` files under the data directory.
    #[arg(long, env = "GUICHET_SMTP")]
    pub smtp: Option<String>,
    /// Address users reach the server at (links in mails). Default:
    /// `http://` and the address listened on.
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
    /// How often the deadlines that fell due are run (also once at start-up),
    /// and sessions past their maximum age, links a month past their expiry
    /// and accounts never activated whose last link went removed.
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

/// Creates the data directory if needed, readable by the server's user only:
/// dossiers, accounts, uploaded pieces and mails are nobody else's business.
pub(crate) fn private_directory(path: &std::path::Path) -> anyhow::Result<()> {
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

/// What every procedure of the server shares.
pub(crate) struct Shared<'a> {
    pub(crate) options: &'a ServeOptions,
    pub(crate) base_url: &'a str,
    pub(crate) several: bool,
    pub(crate) accounts: &'a crate::account_store::AccountStore,
    pub(crate) staff: &'a crate::staff_store::StaffStore,
    pub(crate) clock: Clock,
    pub(crate) stopped: &'a watch::Receiver<bool>,
    pub(crate) all: Arc<std::sync::OnceLock<Vec<std::sync::Weak<AppState>>>>,
    pub(crate) throttle: Arc<Throttle>,
    pub(crate) writes: Arc<WriteBudget>,
    pub(crate) turns: Arc<Turns>,
}

/// Where procedure `id` keeps its store, files and mails.
pub(crate) fn procedure_folder(shared: &Shared<'_>, id: &str) -> PathBuf {
    if shared.several {
        shared.options.data.join("procedures").join(id)
    } else {
        shared.options.data.clone()
    }
}

/// The state of procedure `definition`: its store opened, its pages built.
pub(crate) fn procedure_state(
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
    let face = Face::of(&engine.definition(), prefix)?;
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
        csrf: CsrfKey::load_or_create(&options.data.join("csrf.key"))
            .with_context(|| format!("reading the key in {}", options.data.display()))?,
        links: LinkValidity {
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
        turns: Arc::clone(&shared.turns),
        publications: std::sync::Mutex::default(),
        archives: Jobs::new(folder.join("archives"), options.archive_max)
            .with_context(|| format!("emptying {}", folder.join("archives").display()))?,
    }))
}

/// The server's settings at their defaults, but for `named` (arguments of
/// `guichet serve`).
fn default_options(named: &[&std::ffi::OsStr]) -> anyhow::Result<ServeOptions> {
    #[derive(clap::Parser)]
    struct Defaults {
        #[command(flatten)]
        options: ServeOptions,
    }
    let arguments = std::iter::once("guichet".as_ref()).chain(named.iter().copied());
    Ok(<Defaults as clap::Parser>::try_parse_from(arguments)?.options)
}

/// The state of procedure `definition` alone on the throwaway data
/// directory `data`, with no mail worker, scheduler nor listener, every page
/// saying it is a preview: what `guichet preview` renders candidate pages in.
pub fn preview_state(
    file: &std::path::Path,
    definition: Definition,
    data: &std::path::Path,
) -> anyhow::Result<Arc<AppState>> {
    let named = [file.as_os_str(), "--data".as_ref(), data.as_os_str()];
    let options = default_options(&named)?;
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
        turns: Arc::default(),
    };
    let state = procedure_state(&shared, file, definition)?;
    let face = Face::preview_of(&state.engine.definition())?;
    *state
        .face
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = face;
    Ok(state)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The memory of uploads, the processors making PDFs and the exports
    /// at once are bounded for the whole server: a server of several
    /// procedures does not give each its own share.
    #[test]
    fn the_procedures_of_a_server_share_its_turns() -> anyhow::Result<()> {
        let data = tempfile::tempdir()?;
        let minimal =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/minimal.yaml");
        let other = data.path().join("other.yaml");
        std::fs::write(
            &other,
            std::fs::read_to_string(&minimal)?.replace("id: minimal", "id: other"),
        )?;
        let files = [minimal, other];
        let options = default_options(&[
            files[0].as_os_str(),
            files[1].as_os_str(),
            "--data".as_ref(),
            data.path().as_os_str(),
        ])?;
        let accounts = crate::account_store::AccountStore::open(&data.path().join("accounts"))?;
        let staff = crate::staff_store::StaffStore::open(&data.path().join("staff"))?;
        let (_stop, stopped) = watch::channel(false);
        let shared = Shared {
            options: &options,
            base_url: "http://127.0.0.1:8080",
            several: true,
            accounts: &accounts,
            staff: &staff,
            clock: Clock::default(),
            stopped: &stopped,
            all: Arc::default(),
            throttle: Arc::default(),
            writes: Arc::default(),
            turns: Arc::default(),
        };
        let states = files
            .iter()
            .map(|file| procedure_state(&shared, file, Definition::load(file)?))
            .collect::<anyhow::Result<Vec<_>>>()?;
        assert!(Arc::ptr_eq(&states[0].turns, &states[1].turns));
        // The export one procedure makes, the other waits for.
        let _export = states[0].turns.exports.try_acquire()?;
        assert!(states[1].turns.exports.try_acquire().is_err());
        Ok(())
    }
}
