//! What every request handler reaches: the procedure's [`AppState`] (its
//! engine, stores, keys and limits), the [`Face`] its pages speak, and its
//! [`Clock`]. Below the handlers and the routes: it knows neither.

use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::Response;
use guichet_engine::{Actor, Command, Dossier, Engine, EngineError, Outcome, SledStore};
use serde::Serialize;

use super::error::{self, PageError};
use super::pages::Pages;
use super::session::{self, LinkValidity, Throttle};
use super::site::{Lang, Site};
use crate::account_store::Account;
use crate::files::FileBytes;

/// The procedure's time: the real time, or, for a demonstration
/// (`serve --now`), a moment chosen in the procedure's calendar that goes on
/// at the real pace. Sessions and mailed links always follow the real time.
#[derive(Debug, Clone, Copy, Default)]
pub struct Clock {
    offset: jiff::SignedDuration,
}

impl Clock {
    /// A clock that reads `start` now.
    pub fn starting_at(start: jiff::Timestamp) -> Self {
        Clock {
            offset: start.duration_since(jiff::Timestamp::now()),
        }
    }

    /// The procedure's now.
    pub fn now(&self) -> jiff::Timestamp {
        let real = jiff::Timestamp::now();
        real.checked_add(self.offset).unwrap_or(real)
    }
}

/// The application state as handlers share it.
pub type App = Arc<AppState>;

/// What every request handler can reach.
pub struct AppState {
    /// The engine.
    pub engine: Arc<Engine<SledStore>>,
    /// On a server of several procedures, this one's id (dossiers of an
    /// account and staff rights are per procedure); `None` for a server of one.
    pub procedure: Option<String>,
    /// Every procedure of the server (this one included), once all are
    /// open: what concerns an account (its address) reaches each of its dossiers.
    pub all: Arc<std::sync::OnceLock<Vec<std::sync::Weak<AppState>>>>,
    /// The pages' languages and words, and the templates speaking them:
    /// replaced when a new version of the definition is published.
    pub face: std::sync::RwLock<Face>,
    /// Candidate accounts, tokens and sessions.
    pub accounts: crate::account_store::AccountStore,
    /// Staff accounts, their rights, links and sessions.
    pub staff: crate::staff_store::StaffStore,
    /// Address users reach the server at, for links in mails.
    pub base_url: String,
    /// Cookies get `Secure` when the base URL is https.
    pub secure_cookies: bool,
    /// Uploaded files.
    pub files: crate::files::FileStore,
    /// How long mailed links work.
    pub links: LinkValidity,
    /// The key CSRF tokens are derived with.
    pub csrf: session::CsrfKey,
    /// The procedure's time.
    pub clock: Clock,
    /// Changes each signed-in candidate made lately: one count for every
    /// procedure of the server, as the accounts making them are.
    pub writes: Arc<session::WriteBudget>,
    /// Attempts of the public forms: one for every procedure of the
    /// server, as the accounts they try are.
    pub throttle: Arc<Throttle>,
    /// The reverse proxy whose `X-Forwarded-For` names the client.
    pub trusted_proxy: Option<std::net::IpAddr>,
    /// Log account links (no SMTP server: mails only go to files).
    pub log_links: bool,
    /// Wakes the mail worker when mails are queued.
    pub mail_wake: Arc<tokio::sync::Notify>,
    /// The staff's archives of PDFs, being built or built.
    pub archives: super::archives::Jobs,
    /// The definition file served, which the editor's publications rewrite.
    pub definition_file: std::path::PathBuf,
    /// Turns for the uploads, PDFs and exports, the whole server's.
    pub turns: Arc<Turns>,
    /// The turn to publish (see [`AppState::publication_turn`]).
    pub publications: std::sync::Mutex<()>,
}

/// Work that holds memory or processors, taken in turns by the requests of
/// every procedure a server serves: the bounds are the server's, not each
/// procedure's (see [`AppState::upload_turn`], [`AppState::pdf_turn`],
/// [`AppState::export_turn`]).
pub struct Turns {
    /// Shares of [`UPLOAD_MEMORY_MIB`].
    pub uploads: tokio::sync::Semaphore,
    /// [`pdfs_at_once`] turns.
    pub pdfs: Arc<tokio::sync::Semaphore>,
    /// One export at a time.
    pub exports: Arc<tokio::sync::Semaphore>,
}

impl Default for Turns {
    fn default() -> Self {
        Self {
            uploads: tokio::sync::Semaphore::new(UPLOAD_MEMORY_MIB as usize),
            pdfs: Arc::new(tokio::sync::Semaphore::new(pdfs_at_once())),
            exports: Arc::new(tokio::sync::Semaphore::new(1)),
        }
    }
}

/// What the pages speak, from one version of the definition.
#[derive(Clone)]
pub struct Face {
    /// The pages' languages, the procedure's own words, its prefix.
    pub site: &'static Site,
    /// The templates, with the site's words.
    pub pages: Arc<Pages>,
    /// The procedure's title, which every page carries (shared: a face is
    /// copied for each request).
    pub title: Arc<guichet_engine::model::Text>,
}

impl Face {
    /// The face of `definition`, its pages under `prefix`.
    pub fn of(definition: &guichet_engine::Definition, prefix: String) -> anyhow::Result<Face> {
        let site = Site::of(definition, prefix);
        Ok(Face {
            site,
            pages: Arc::new(Pages::new(site)?),
            title: Arc::new(definition.file().title.clone()),
        })
    }

    /// The face of a preview of `definition`: every page says so.
    pub fn preview_of(definition: &guichet_engine::Definition) -> anyhow::Result<Face> {
        let site = Site::of(definition, String::new());
        Ok(Face {
            site,
            pages: Arc::new(Pages::new(site)?.previewing()),
            title: Arc::new(definition.file().title.clone()),
        })
    }

    /// The face of another version of the same procedure, like this one:
    /// under the same prefix, a preview if this is one.
    pub fn next(&self, definition: &guichet_engine::Definition) -> anyhow::Result<Face> {
        if self.pages.is_preview() {
            Face::preview_of(definition)
        } else {
            Face::of(definition, self.site.prefix.clone())
        }
    }

    /// Renders `template` in `lang` (a language of this face's site) with
    /// `page`'s values.
    pub fn render(
        &self,
        lang: Lang,
        template: &str,
        status: StatusCode,
        page: &impl Serialize,
    ) -> Response {
        self.render_with(lang, template, status, Vec::new(), page)
    }

    /// [`Face::render`] with values `added` to the page's (see
    /// [`Pages::render_with`]).
    pub fn render_with(
        &self,
        lang: Lang,
        template: &str,
        status: StatusCode,
        added: Vec<(&'static str, minijinja::Value)>,
        page: &impl Serialize,
    ) -> Response {
        let title = self.title.get(lang.code());
        self.pages
            .render_with(template, status, lang, title, added, page)
    }
}

impl AppState {
    /// Waits for a turn to receive an upload of at most `limit` bytes,
    /// held until what it returns is dropped: its share of
    /// [`UPLOAD_MEMORY_MIB`] (see [`upload_share`]). Taken once the sender
    /// is known (a session, a referee's link) and just before the body is
    /// read: nobody else's request waits behind uploads, and a request that
    /// will be refused takes no turn.
    pub async fn upload_turn(
        &self,
        limit: u64,
    ) -> Result<tokio::sync::SemaphorePermit<'_>, tokio::sync::AcquireError> {
        self.turns.uploads.acquire_many(upload_share(limit)).await
    }

    /// Waits for a turn to make a dossier's PDF (one of [`pdfs_at_once`]),
    /// held until what it returns is dropped, by the thread making it (a
    /// request given up does not end the making): each reads and
    /// re-encodes every piece, a processor's work for up to a second, and
    /// requests sent together would otherwise take every core from the
    /// pages.
    pub async fn pdf_turn(
        &self,
    ) -> Result<tokio::sync::OwnedSemaphorePermit, tokio::sync::AcquireError> {
        Arc::clone(&self.turns.pdfs).acquire_owned().await
    }

    /// Waits for the turn to make an export: one at a time, held until
    /// what it returns is dropped, by the thread doing the work. Exports of
    /// 100,000 candidatures asked together each held their selection and
    /// the rows read again (three at once: 40 MB more than one). A CSV
    /// read too slowly gives its turn up (see `staff::export`).
    pub async fn export_turn(
        &self,
    ) -> Result<tokio::sync::OwnedSemaphorePermit, tokio::sync::AcquireError> {
        Arc::clone(&self.turns.exports).acquire_owned().await
    }

    /// Waits for the turn to publish a version, held until what it returns
    /// is dropped: what was checked against the version in service (a
    /// review in the editor) stays true until the new one replaces it, and
    /// the engine, the pages' words and the definition file all end up
    /// holding the same version when two publications are asked together.
    pub fn publication_turn(&self) -> std::sync::MutexGuard<'_, ()> {
        self.publications
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The pages' languages, the procedure's own words and its prefix.
    pub fn site(&self) -> &'static Site {
        self.face().site
    }

    /// The pages' languages and words, and the templates speaking them.
    pub fn face(&self) -> Face {
        self.face
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// The candidate's dossier in this procedure, if they have one yet.
    pub fn dossier_id(&self, account: &Account) -> Option<String> {
        match &self.procedure {
            None => account.dossier.clone(),
            Some(procedure) => account.dossiers.get(procedure).cloned(),
        }
    }

    /// The candidate's dossier in this procedure, if they have one.
    pub fn dossier_of(&self, account: &Account) -> Result<Option<Arc<Dossier>>, PageError> {
        match self.dossier_id(account) {
            Some(id) => Ok(self.engine.dossier(&id)?),
            None => Ok(None),
        }
    }

    /// The candidate's dossier in this procedure, created if they have none
    /// (at activation, or a first visit to a procedure among several), and
    /// noted in `account`. On a server of several procedures the note is
    /// stored at once (of two tabs racing, one dossier is kept); on a server
    /// of one, the caller saves the account.
    pub fn open_dossier(&self, account: &mut Account, lang: Lang) -> Result<String, PageError> {
        if let Some(id) = self.dossier_id(account) {
            return Ok(id);
        }
        let candidate = guichet_engine::Candidate {
            last_name: account.last_name.clone(),
            first_name: account.first_name.clone(),
            email: account.email.clone(),
        };
        let now = self.clock.now();
        let dossier = self
            .engine
            .create_dossier(&account.id, candidate, lang.code(), now)?;
        match &self.procedure {
            None => {
                account.dossier = Some(dossier.id.clone());
                Ok(dossier.id)
            }
            Some(procedure) => {
                let kept = self
                    .accounts
                    .record_dossier(&account.id, procedure, &dossier.id)?;
                account.dossiers.insert(procedure.clone(), kept.clone());
                Ok(kept)
            }
        }
    }

    /// The definition version `dossier` follows (the current one if that
    /// version cannot be loaded, which the engine reports when acting).
    pub fn definition_of(&self, dossier: &Dossier) -> Arc<guichet_engine::Definition> {
        self.engine.definition_of(dossier).unwrap_or_else(|error| {
            tracing::error!(error = %error::chain(&error), "pinned definition unavailable");
            self.engine.definition()
        })
    }

    /// Renders `template` in `lang` with `page`'s values.
    pub fn render(
        &self,
        lang: Lang,
        template: &str,
        status: StatusCode,
        page: &impl Serialize,
    ) -> Response {
        self.face().render(lang, template, status, page)
    }

    /// Performs `command` as the candidate `account` on `dossier`, waking
    /// the mail worker when mails are queued (see [`Self::apply_as_owner`]).
    /// Blocking: sled writes durably before answering.
    pub fn run_as_candidate(
        &self,
        account: &str,
        dossier: &Dossier,
        command: Command,
    ) -> Result<Outcome, EngineError> {
        self.run_as_candidate_on(account, dossier, |_| command.clone())
    }

    /// [`Self::run_as_candidate`] with the command made from the dossier
    /// it is performed on: made anew from the newer version when another
    /// command changed it (an entry added to the entries as they are then,
    /// not as they were read).
    pub fn run_as_candidate_on(
        &self,
        account: &str,
        dossier: &Dossier,
        command: impl Fn(&Dossier) -> Command,
    ) -> Result<Outcome, EngineError> {
        self.in_turn(&dossier.id, || {
            self.apply_as_owner(account, dossier, command)
        })
    }

    /// [`Self::run_as_candidate`] at the version `dossier` was read at only:
    /// for a command computed from the dossier as read (a repeatable
    /// section's entries, one added, changed or removed by its place),
    /// which made again on a newer version would undo what changed there.
    /// Another command landing meanwhile refuses it (a conflict).
    pub fn run_as_candidate_once(
        &self,
        account: &str,
        dossier: &Dossier,
        command: Command,
    ) -> Result<Outcome, EngineError> {
        let role = self.definition_of(dossier).candidate_role().to_owned();
        let actor = Actor::new(role, account);
        self.in_turn(&dossier.id, || {
            self.apply_and_sweep(&actor, &dossier.id, dossier.version, command)
        })
    }

    /// The same for a staff member (an actor of a staff role), at the
    /// version of `dossier` their request read: a command landing meanwhile
    /// refuses theirs (a conflict), for them to see the dossier as it is
    /// now before they decide again.
    pub fn run_as_staff(
        &self,
        actor: &Actor,
        dossier: &Dossier,
        command: Command,
    ) -> Result<Outcome, EngineError> {
        self.in_turn(&dossier.id, || {
            self.apply_and_sweep(actor, &dossier.id, dossier.version, command)
        })
    }

    /// The same for an upload: the file is stored first (a dossier never
    /// refers to a file that is not there), then `command` is made with its
    /// SHA-256 and performed.
    pub fn upload_as_candidate(
        &self,
        account: &str,
        dossier: &Dossier,
        bytes: &FileBytes,
        command: impl FnOnce(String) -> Command,
    ) -> std::io::Result<Result<Outcome, EngineError>> {
        self.in_turn(&dossier.id, || {
            let command = command(self.files.put(&dossier.id, bytes)?);
            Ok(self.apply_as_owner(account, dossier, |_| command.clone()))
        })
    }

    /// `command` made from the candidate `account`'s `dossier` and performed
    /// as them; made again from the dossier as it is now when another
    /// command changed it since it was read (another tab's upload or save,
    /// a deadline, a member of staff), up to [`OWN_COMMAND_ATTEMPTS`] times.
    /// A candidate's command is what they ask of their own dossier, not a
    /// decision on what changed: the engine checks it anew on the newer
    /// version (a dossier sent meanwhile refuses a change, with why).
    fn apply_as_owner(
        &self,
        account: &str,
        dossier: &Dossier,
        command: impl Fn(&Dossier) -> Command,
    ) -> Result<Outcome, EngineError> {
        let mut newer: Option<Arc<Dossier>> = None;
        let mut attempt = 1;
        loop {
            let current = newer.as_deref().unwrap_or(dossier);
            let definition = self.definition_of(current);
            let actor = Actor::new(definition.candidate_role(), account);
            let id = &current.id;
            match self.apply_and_sweep(&actor, id, current.version, command(current)) {
                Err(error) if error.is_conflict() && attempt < OWN_COMMAND_ATTEMPTS => {
                    let Some(now) = self.engine.dossier(id)? else {
                        return Err(error);
                    };
                    newer = Some(now);
                    attempt += 1;
                }
                outcome => return outcome,
            }
        }
    }

    /// A third party's piece, sent through their link `token`: stored first,
    /// then delivered (the engine checks the link).
    pub fn deliver(
        &self,
        token: &str,
        dossier: &Dossier,
        bytes: &FileBytes,
        name: String,
        format: guichet_engine::model::FileFormat,
    ) -> std::io::Result<Result<Outcome, EngineError>> {
        self.in_turn(&dossier.id, || {
            let file = guichet_engine::FileRef {
                name,
                sha256: self.files.put(&dossier.id, bytes)?,
                size: bytes.len() as u64,
                format: format.name().to_owned(),
            };
            let outcome = self.engine.deliver(token, file, self.clock.now());
            if let Ok(outcome) = &outcome {
                report_outcome(outcome, &self.mail_wake);
            }
            Ok(outcome)
        })
    }

    /// `work` in dossier `id`'s turn: the server makes one command at a
    /// time on a dossier, its files stored and swept in the same order.
    fn in_turn<T>(&self, id: &str, work: impl FnOnce() -> T) -> T {
        let writer = self.files.writer(id);
        let _one_at_a_time = writer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        work()
    }

    /// Applies `command`; then, if it is one that can drop a file (a piece
    /// transition, or a transition replacing the sent copy), deletes the
    /// dossier's files it no longer refers to (in its pieces or sent copies).
    fn apply_and_sweep(
        &self,
        actor: &Actor,
        dossier: &str,
        version: u64,
        command: Command,
    ) -> Result<Outcome, EngineError> {
        let may_drop_files = matches!(command, Command::Piece { .. } | Command::Transition { .. });
        let outcome = self
            .engine
            .apply(dossier, version, actor, command, self.clock.now())?;
        report_outcome(&outcome, &self.mail_wake);
        if !may_drop_files {
            return Ok(outcome);
        }
        let after = &outcome.dossier;
        let pieces = after.candidatures.iter().flat_map(|c| {
            let sent = c.sent.iter().flat_map(|s| s.pieces.values());
            c.pieces.values().chain(sent)
        });
        let letters = after
            .candidatures
            .iter()
            .flat_map(|c| c.requests.iter().filter_map(|r| r.letter.as_ref()));
        let referenced = pieces
            .filter_map(|p| p.file.as_ref())
            .chain(letters)
            .map(|f| f.sha256.as_str())
            .collect();
        if let Err(error) = self.files.keep_only(&after.id, &referenced) {
            tracing::warn!(%error, dossier = %after.id, "files no longer used were not deleted");
        }
        Ok(outcome)
    }
}

/// How many times a candidate's command is made on their dossier, each time
/// on a newer version, before another command's change is theirs to see
/// (see [`AppState::apply_as_owner`]).
const OWN_COMMAND_ATTEMPTS: usize = 4;

/// The memory the server's uploads in progress may hold, in MiB; the
/// others wait their turn before their body is read (their bytes wait in
/// the connection). Each upload is held whole in memory while it is
/// checked and stored: this bounds that memory when hundreds arrive
/// together on the last day, whatever the pieces' limits.
pub const UPLOAD_MEMORY_MIB: u32 = 32;

/// Wakes the mail worker if `outcome` queued mails (a promotion it caused
/// included), and logs what became of a place it freed: passed on, or why
/// not. The command itself went through either way; a place not passed on
/// stays free until staff see to it, so the log says so as an error.
pub fn report_outcome(outcome: &Outcome, mail_wake: &tokio::sync::Notify) {
    let mut mailed = !outcome.mails.is_empty();
    for follow_up in &outcome.follow_ups {
        match follow_up {
            Ok(promoted) => {
                mailed |= !promoted.mails.is_empty();
                tracing::info!(
                    dossier = %promoted.dossier.id,
                    freed_by = %outcome.dossier.id,
                    "a freed place passed on from the waiting list"
                );
            }
            Err(error) => tracing::error!(
                freed_by = %outcome.dossier.id,
                error = %guichet_engine::with_causes(error.as_ref()),
                "a freed place was not passed on"
            ),
        }
    }
    if mailed {
        mail_wake.notify_one();
    }
}

/// Dossiers' PDFs made at once by a server: half the processors, at
/// least one; the others wait their turn.
pub fn pdfs_at_once() -> usize {
    std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1))
}

/// The share of [`UPLOAD_MEMORY_MIB`] an upload of at most `limit` bytes
/// takes: its limit in MiB, at least 2 (so small pieces still go sixteen at
/// a time), at most all of it (a piece larger than the whole is received
/// alone).
pub fn upload_share(limit: u64) -> u32 {
    let mib = limit.div_ceil(1 << 20);
    u32::try_from(mib).map_or(UPLOAD_MEMORY_MIB, |mib| mib.clamp(2, UPLOAD_MEMORY_MIB))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_uploads_share_of_the_memory_follows_its_limit() {
        // The shipped procedure's 2 MB pieces: sixteen at once.
        assert_eq!(upload_share(2_000_000), 2);
        assert_eq!(UPLOAD_MEMORY_MIB / upload_share(2_000_000), 16);
        assert_eq!(upload_share(0), 2);
        assert_eq!(upload_share(10_000_000), 10);
        // A piece larger than the whole is received alone.
        assert_eq!(upload_share(100_000_000), UPLOAD_MEMORY_MIB);
        assert_eq!(upload_share(u64::MAX), UPLOAD_MEMORY_MIB);
    }
}
