//! Accounts, single-use tokens and sessions, in their own sled database:
//! candidates' in one, staff's in another (see `staff_store`), so a session
//! of one kind never opens the other's pages.
//!
//! Tokens and session ids are random 256-bit values; only the SHA-256 of a
//! token is stored, so a copy of the database gives no usable link.

use std::sync::PoisonError;
use std::time::Duration;

use jiff::Timestamp;
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Why an account operation failed.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// The database failed (or held data it could not read).
    #[error("account storage failed")]
    Storage(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The operating system gave no randomness.
    #[error("no randomness available")]
    Random(#[source] getrandom::Error),
}

pub(crate) fn storage(error: impl std::error::Error + Send + Sync + 'static) -> AccountError {
    AccountError::Storage(Box::new(error))
}

/// A candidate's account.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Account {
    /// Random id; also the owner id of the candidate's dossier.
    pub id: String,
    /// Email address, also the sign-in identifier (lowercase).
    pub email: String,
    /// First name.
    pub first_name: String,
    /// Last name.
    pub last_name: String,
    /// PHC string of the argon2 hash, once a password is chosen.
    pub password: Option<String>,
    /// The candidate's dossier, created at activation.
    pub dossier: Option<String>,
    /// On a server of several procedures: the candidate's dossier in each,
    /// by procedure id, created when they first enter it.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub dossiers: std::collections::BTreeMap<String, String>,
    /// When the account was created.
    pub created_at: Timestamp,
}

/// What a token lets its holder do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Purpose {
    /// Activate the account and choose a password.
    Activation,
    /// Choose a new password.
    PasswordReset,
    /// Confirm a new email address.
    EmailChange {
        /// The address to confirm.
        new_email: String,
    },
    /// Undo a change of address (mailed to the former address).
    EmailRevert {
        /// The address to go back to.
        old_email: String,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct TokenRecord {
    purpose: Purpose,
    account: String,
    expires_at: Timestamp,
    used: bool,
}

/// Why a token cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenProblem {
    /// No such token (mistyped, or for another purpose).
    Unknown,
    /// Past its expiry.
    Expired,
    /// Already used once.
    Used,
}

/// A signed-in session.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    /// Account id.
    pub account: String,
    /// When the user signed in.
    pub created_at: Timestamp,
    /// Last request.
    pub last_seen_at: Timestamp,
}

/// Sessions end after this long without a request…
pub const SESSION_IDLE: Duration = Duration::from_secs(2 * 3600);
/// …and this long after signing in, whatever happens.
pub const SESSION_MAX: Duration = Duration::from_secs(12 * 3600);
/// A session's last-seen time is written again at most this often.
const SESSION_REFRESH: jiff::SignedDuration = jiff::SignedDuration::from_secs(60);

/// A random value, hex-encoded, for tokens, session ids and CSRF tokens.
pub fn random_token() -> Result<String, AccountError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(AccountError::Random)?;
    Ok(hex::encode(bytes))
}

fn digest(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Accounts, tokens and sessions.
#[derive(Clone)]
pub struct AccountStore {
    db: sled::Db,
    accounts: sled::Tree,
    by_email: sled::Tree,
    tokens: sled::Tree,
    sessions: sled::Tree,
    /// Each outstanding token's key under its account's ([`by_account`]):
    /// a password chosen ends its account's links without reading every
    /// link ever sent.
    tokens_by_account: sled::Tree,
    /// Each session's key under its account's, for the same reason.
    sessions_by_account: sled::Tree,
    /// Each session's key under the time its maximum age ends
    /// ([`by_end`]): [`AccountStore::sweep`] removes those past it, which
    /// nobody may present again, without reading the others.
    sessions_by_end: sled::Tree,
    /// Each token's key under the time its record may go ([`TOKEN_KEPT`]
    /// after its expiry), for [`AccountStore::sweep`] likewise.
    tokens_by_end: sled::Tree,
    /// Held by [`AccountStore::create`] and by the sweep's removal of an
    /// account never activated: a sign-up renewing an account the sweep is
    /// removing would otherwise keep it without its address.
    sign_ups: std::sync::Arc<std::sync::Mutex<()>>,
}

/// How long a token's record is kept past its expiry, used or not: a link
/// followed within that time is told "used" or "expired"; later, one
/// unknown (not valid), the record gone. Without an end, the tokens' tree
/// would keep every link ever sent.
pub const TOKEN_KEPT: Duration = Duration::from_secs(30 * 24 * 3600);

/// What [`AccountStore::sweep`] removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Swept {
    /// Sessions past their maximum age.
    pub sessions: usize,
    /// Tokens past their expiry by [`TOKEN_KEPT`].
    pub tokens: usize,
    /// Accounts never activated, whose last activation link went.
    pub accounts: usize,
}

impl std::ops::Add for Swept {
    type Output = Swept;

    fn add(self, other: Swept) -> Swept {
        Swept {
            sessions: self.sessions + other.sessions,
            tokens: self.tokens + other.tokens,
            accounts: self.accounts + other.accounts,
        }
    }
}

/// The key of `digest` (a token's or a session's) under `account`'s in the
/// `*_by_account` trees. Every outstanding token and every session has
/// one, written before it and removed after it: a crash may leave a key
/// naming nothing, never a token or session without its key.
fn by_account(account: &str, digest: &[u8]) -> Vec<u8> {
    let mut key = account_prefix(account);
    key.extend_from_slice(digest);
    key
}

/// What [`by_account`] keys of `account` start with (account ids never
/// hold a NUL).
fn account_prefix(account: &str) -> Vec<u8> {
    let mut prefix = Vec::with_capacity(account.len() + 1 + 32);
    prefix.extend_from_slice(account.as_bytes());
    prefix.push(0);
    prefix
}

/// The key of `digest` (a session's or a token's) in the `*_by_end`
/// trees: the second `end` after which it may go, in an order bytes sort
/// in, then its key.
fn by_end(end: Timestamp, digest: &[u8]) -> Vec<u8> {
    let mut key = end_prefix(end).to_vec();
    key.extend_from_slice(digest);
    key
}

/// When a session opened at `created_at` reaches its maximum age.
fn session_end(created_at: Timestamp) -> Timestamp {
    created_at
        .checked_add(SESSION_MAX_SPAN)
        .unwrap_or(Timestamp::MAX)
}

/// When the record of a token expiring at `expires_at` may go.
fn token_end(expires_at: Timestamp) -> Timestamp {
    jiff::SignedDuration::try_from(TOKEN_KEPT)
        .ok()
        .and_then(|kept| expires_at.checked_add(kept).ok())
        .unwrap_or(Timestamp::MAX)
}

/// What [`by_end`] keys of sessions ending at `end` start with.
fn end_prefix(end: Timestamp) -> [u8; 8] {
    // The sign bit flipped: negative seconds sort before positive ones.
    (end.as_second() as u64 ^ (1 << 63)).to_be_bytes()
}

/// [`SESSION_MAX`] as a span of time.
const SESSION_MAX_SPAN: jiff::SignedDuration =
    jiff::SignedDuration::from_secs(SESSION_MAX.as_secs() as i64);

/// The tree marking which of the trees naming tokens and sessions this
/// store has built: a store without a mark (written by an earlier version)
/// has those trees built once, at its opening.
const BUILT_TREE: &str = "account_store";
/// The mark of the `*_by_account` trees and of `sessions_by_end`.
const BY_ACCOUNT_BUILT: &str = "tokens and sessions by account, sessions by end";
/// The mark of `tokens_by_end`.
const TOKENS_BY_END_BUILT: &str = "tokens by end";

pub(crate) fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, AccountError> {
    serde_json::to_vec(value).map_err(storage)
}

pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AccountError> {
    serde_json::from_slice(bytes).map_err(storage)
}

impl AccountStore {
    /// Opens (or creates) the database in `path`.
    pub fn open(path: &std::path::Path) -> Result<Self, AccountError> {
        Self::within(sled::open(path).map_err(storage)?)
    }

    /// The accounts kept in `db` (which may hold more trees of its own).
    pub fn within(db: sled::Db) -> Result<Self, AccountError> {
        let tree = |name: &str| db.open_tree(name).map_err(storage);
        let store = Self {
            accounts: tree("accounts")?,
            by_email: tree("accounts_by_email")?,
            tokens: tree("tokens")?,
            sessions: tree("sessions")?,
            tokens_by_account: tree("tokens_by_account")?,
            sessions_by_account: tree("sessions_by_account")?,
            sessions_by_end: tree("sessions_by_end")?,
            tokens_by_end: tree("tokens_by_end")?,
            sign_ups: Default::default(),
            db,
        };
        store.build_indexes()?;
        Ok(store)
    }

    /// Writes, once, the keys of the tokens and sessions a store of an
    /// earlier version holds in the trees it lacked: without them, a
    /// password chosen would leave those links and sessions open, and the
    /// sweep would leave them in the store.
    fn build_indexes(&self) -> Result<(), AccountError> {
        self.build_once(BY_ACCOUNT_BUILT, || {
            for entry in self.tokens.iter() {
                let (digest, bytes) = entry.map_err(storage)?;
                let record: TokenRecord = decode(&bytes)?;
                if !record.used {
                    self.tokens_by_account
                        .insert(by_account(&record.account, &digest), &[])
                        .map_err(storage)?;
                }
            }
            for entry in self.sessions.iter() {
                let (digest, bytes) = entry.map_err(storage)?;
                self.insert_session_keys(&digest, &decode(&bytes)?)?;
            }
            Ok(())
        })?;
        self.build_once(TOKENS_BY_END_BUILT, || {
            for entry in self.tokens.iter() {
                let (digest, bytes) = entry.map_err(storage)?;
                let record: TokenRecord = decode(&bytes)?;
                self.tokens_by_end
                    .insert(by_end(token_end(record.expires_at), &digest), &[])
                    .map_err(storage)?;
            }
            Ok(())
        })
    }

    /// Runs `build` unless `mark` says it ran to its end in this store,
    /// then marks it, once what it wrote is on disk.
    fn build_once(
        &self,
        mark: &str,
        build: impl FnOnce() -> Result<(), AccountError>,
    ) -> Result<(), AccountError> {
        let built = self.db.open_tree(BUILT_TREE).map_err(storage)?;
        if built.contains_key(mark).map_err(storage)? {
            return Ok(());
        }
        build()?;
        self.flush()?;
        built.insert(mark, &[]).map_err(storage)?;
        self.flush()
    }

    /// Another tree of the same database, for what goes with these accounts.
    pub fn tree(&self, name: &str) -> Result<sled::Tree, AccountError> {
        self.db.open_tree(name).map_err(storage)
    }

    /// Every account, in no particular order.
    pub fn all(&self) -> Result<Vec<Account>, AccountError> {
        self.accounts
            .iter()
            .map(|entry| decode(&entry.map_err(storage)?.1))
            .collect()
    }

    /// Makes every write so far durable.
    pub fn flush(&self) -> Result<(), AccountError> {
        self.db.flush().map(|_| ()).map_err(storage)
    }

    /// The account with this id.
    pub fn get(&self, id: &str) -> Result<Option<Account>, AccountError> {
        match self.accounts.get(id).map_err(storage)? {
            Some(bytes) => decode(&bytes).map(Some),
            None => Ok(None),
        }
    }

    /// The account signing in with `email`.
    pub fn find_by_email(&self, email: &str) -> Result<Option<Account>, AccountError> {
        match self.by_email.get(email.to_lowercase()).map_err(storage)? {
            Some(id) => self.get(&String::from_utf8_lossy(&id)),
            None => Ok(None),
        }
    }

    /// Creates an account, or returns the existing one with this email (and
    /// whether it was created). An account never activated within
    /// `unactivated_for` is taken over by the new sign-up.
    pub fn create(
        &self,
        first_name: &str,
        last_name: &str,
        email: &str,
        (now, unactivated_for): (Timestamp, Duration),
    ) -> Result<(Account, bool), AccountError> {
        let account = Account {
            id: random_token()?[..24].to_owned(),
            email: email.to_lowercase(),
            first_name: first_name.to_owned(),
            last_name: last_name.to_owned(),
            password: None,
            dossier: None,
            dossiers: Default::default(),
            created_at: now,
        };
        let (account, created) = {
            // Of two sign-ups of one address, the second finds the first's
            // account written; the sweep never removes one signed up again.
            let _turn = self.sign_ups.lock().unwrap_or_else(PoisonError::into_inner);
            self.claim_or_take_over(account, unactivated_for)?
        };
        if created {
            // Out of the turn: sign-ups share their flushes.
            self.flush()?;
        }
        Ok((account, created))
    }

    /// Writes `account` (new) under its address, unless another has it:
    /// then that one, taken over by `account`'s names if never activated
    /// within `unactivated_for` of its sign-up. Durable at the next flush;
    /// true if written.
    fn claim_or_take_over(
        &self,
        account: Account,
        unactivated_for: Duration,
    ) -> Result<(Account, bool), AccountError> {
        let (email, now) = (account.email.clone(), account.created_at);
        // Claim the address first: of two sign-ups racing, one creates.
        let claimed = self
            .by_email
            .compare_and_swap(&email, None as Option<&[u8]>, Some(account.id.as_bytes()))
            .map_err(storage)?;
        if claimed.is_err() {
            let existing = self
                .find_by_email(&email)?
                .ok_or_else(|| AccountError::Storage("email index without account".into()))?;
            // An account never activated lasts as long as its link: past it,
            // the address is free for whoever signs it up.
            let lapsed = existing.password.is_none()
                && existing.created_at
                    + jiff::SignedDuration::try_from(unactivated_for)
                        .unwrap_or(jiff::SignedDuration::MAX)
                    <= now;
            if !lapsed {
                return Ok((existing, false));
            }
            let renewed = Account {
                first_name: account.first_name,
                last_name: account.last_name,
                created_at: now,
                ..existing
            };
            self.insert(&renewed)?;
            return Ok((renewed, true));
        }
        self.insert(&account)?;
        Ok((account, true))
    }

    /// Writes `account`, durable at the next flush.
    fn insert(&self, account: &Account) -> Result<(), AccountError> {
        self.accounts
            .insert(&account.id, encode(account)?)
            .map_err(storage)?;
        Ok(())
    }

    /// Stores `account` durably.
    pub fn save(&self, account: &Account) -> Result<(), AccountError> {
        self.insert(account)?;
        self.flush()
    }

    /// Records `dossier` as account `id`'s in `procedure`, unless one is
    /// already there (two tabs entering at once): returns the one kept.
    pub fn record_dossier(
        &self,
        id: &str,
        procedure: &str,
        dossier: &str,
    ) -> Result<String, AccountError> {
        loop {
            let before = self
                .accounts
                .get(id)
                .map_err(storage)?
                .ok_or_else(|| AccountError::Storage("no such account".into()))?;
            let mut account: Account = decode(&before)?;
            if let Some(kept) = account.dossiers.get(procedure) {
                return Ok(kept.clone());
            }
            account
                .dossiers
                .insert(procedure.to_owned(), dossier.to_owned());
            let swapped = self
                .accounts
                .compare_and_swap(id, Some(before), Some(encode(&account)?))
                .map_err(storage)?;
            if swapped.is_ok() {
                self.flush()?;
                return Ok(dossier.to_owned());
            }
        }
    }

    /// Moves an account to a new email address, if no other account uses it.
    pub fn change_email(
        &self,
        account: &mut Account,
        new_email: &str,
    ) -> Result<bool, AccountError> {
        let new_email = new_email.to_lowercase();
        let claimed = self
            .by_email
            .compare_and_swap(
                &new_email,
                None as Option<&[u8]>,
                Some(account.id.as_bytes()),
            )
            .map_err(storage)?;
        if claimed.is_err() {
            return Ok(false);
        }
        self.by_email.remove(&account.email).map_err(storage)?;
        account.email = new_email;
        self.save(account)?;
        Ok(true)
    }

    /// A new single-use token for `purpose`, valid for `ttl`.
    pub fn issue_token(
        &self,
        purpose: Purpose,
        account: &str,
        ttl: Duration,
        now: Timestamp,
    ) -> Result<(String, Timestamp), AccountError> {
        let token = random_token()?;
        let expires_at = now
            .checked_add(jiff::SignedDuration::try_from(ttl).map_err(storage)?)
            .map_err(storage)?;
        let record = TokenRecord {
            purpose,
            account: account.to_owned(),
            expires_at,
            used: false,
        };
        let key = digest(&token);
        self.tokens_by_account
            .insert(by_account(account, &key), &[])
            .map_err(storage)?;
        self.tokens_by_end
            .insert(by_end(token_end(expires_at), &key), &[])
            .map_err(storage)?;
        self.tokens.insert(key, encode(&record)?).map_err(storage)?;
        self.flush()?;
        Ok((token, expires_at))
    }

    fn token_record(&self, token: &str) -> Result<Option<(sled::IVec, TokenRecord)>, AccountError> {
        match self.tokens.get(digest(token)).map_err(storage)? {
            Some(bytes) => Ok(Some((bytes.clone(), decode(&bytes)?))),
            None => Ok(None),
        }
    }

    /// Checks a token without using it: the account and purpose it is for.
    pub fn check_token(
        &self,
        token: &str,
        now: Timestamp,
    ) -> Result<Result<(String, Purpose), TokenProblem>, AccountError> {
        Ok(match self.token_record(token)? {
            None => Err(TokenProblem::Unknown),
            Some((_, record)) if record.used => Err(TokenProblem::Used),
            Some((_, record)) if record.expires_at <= now => Err(TokenProblem::Expired),
            Some((_, record)) => Ok((record.account, record.purpose)),
        })
    }

    /// Uses a token: succeeds once, for one of two concurrent requests.
    pub fn use_token(
        &self,
        token: &str,
        now: Timestamp,
    ) -> Result<Result<(String, Purpose), TokenProblem>, AccountError> {
        let Some((stored, record)) = self.token_record(token)? else {
            return Ok(Err(TokenProblem::Unknown));
        };
        if record.used {
            return Ok(Err(TokenProblem::Used));
        }
        if record.expires_at <= now {
            return Ok(Err(TokenProblem::Expired));
        }
        let used = TokenRecord {
            used: true,
            ..record.clone()
        };
        let key = digest(token);
        let swapped = self
            .tokens
            .compare_and_swap(&key, Some(stored), Some(encode(&used)?))
            .map_err(storage)?;
        // A used token needs no ending: its key goes, after it is marked.
        self.tokens_by_account
            .remove(by_account(&record.account, &key))
            .map_err(storage)?;
        self.flush()?;
        Ok(match swapped {
            Ok(()) => Ok((record.account, record.purpose)),
            Err(_) => Err(TokenProblem::Used),
        })
    }

    /// Ends every outstanding link of `account` (a password was chosen: the
    /// older links must not choose another, nor confirm an older request).
    pub fn revoke_links(&self, account: &str) -> Result<(), AccountError> {
        let prefix = account_prefix(account);
        for entry in self.tokens_by_account.scan_prefix(&prefix) {
            let (indexed, _) = entry.map_err(storage)?;
            let key = &indexed[prefix.len()..];
            // A key naming nothing yet may be a link being sent: it stays.
            let Some(bytes) = self.tokens.get(key).map_err(storage)? else {
                continue;
            };
            let record: TokenRecord = decode(&bytes)?;
            if record.account == account && !record.used {
                let used = TokenRecord {
                    used: true,
                    ..record
                };
                // A link used meanwhile stays used: losing this race is fine.
                let _ = self
                    .tokens
                    .compare_and_swap(key, Some(bytes), Some(encode(&used)?))
                    .map_err(storage)?;
            }
            self.tokens_by_account.remove(&indexed).map_err(storage)?;
        }
        self.flush()
    }

    /// Ends every session of `account` (its password changed: whoever knew
    /// the old one is signed out everywhere).
    pub fn close_sessions_of(&self, account: &str) -> Result<(), AccountError> {
        let prefix = account_prefix(account);
        for entry in self.sessions_by_account.scan_prefix(&prefix) {
            let (indexed, _) = entry.map_err(storage)?;
            let key = &indexed[prefix.len()..];
            // A key naming nothing yet may be a session being opened: it stays.
            if let Some(bytes) = self.sessions.remove(key).map_err(storage)? {
                let session: Session = decode(&bytes)?;
                self.remove_session_keys(key, &session)?;
            }
        }
        self.flush()
    }

    /// Opens a session for `account`; returns its id (the cookie's value).
    pub fn open_session(&self, account: &str, now: Timestamp) -> Result<String, AccountError> {
        let id = random_token()?;
        let session = Session {
            account: account.to_owned(),
            created_at: now,
            last_seen_at: now,
        };
        let key = digest(&id);
        self.insert_session_keys(&key, &session)?;
        self.sessions
            .insert(key, encode(&session)?)
            .map_err(storage)?;
        self.flush()?;
        Ok(id)
    }

    /// The live session with this id, its last request moved to `now`.
    pub fn session(&self, id: &str, now: Timestamp) -> Result<Option<Session>, AccountError> {
        let key = digest(id);
        let Some(bytes) = self.sessions.get(&key).map_err(storage)? else {
            return Ok(None);
        };
        let mut session: Session = decode(&bytes)?;
        // A concurrent request of the same session (the live form preview,
        // another tab) may have written a later last-seen time than this
        // request's `now`: that is no idle time at all, not a negative one.
        let idle = now
            .duration_since(session.last_seen_at)
            .max(Default::default());
        let age = now.duration_since(session.created_at);
        let too_long = |span: jiff::SignedDuration, limit: Duration| {
            span.unsigned_abs() > limit || span.is_negative()
        };
        if too_long(idle, SESSION_IDLE) || too_long(age, SESSION_MAX) {
            self.sessions.remove(&key).map_err(storage)?;
            self.remove_session_keys(&key, &session)?;
            return Ok(None);
        }
        // A coarse refresh: one write a minute is enough to measure idleness
        // in hours, and parallel requests do not all write.
        if idle >= SESSION_REFRESH {
            session.last_seen_at = now;
            if !self.refresh(&key, bytes, &session)? {
                return Ok(None);
            }
        }
        Ok(Some(session))
    }

    /// Writes `session` at `key` over the bytes `read` there, unless it was
    /// closed since (signed out, a password changed): written again, it
    /// would outlive its keys, and the closing. False if it was.
    fn refresh(
        &self,
        key: &[u8],
        read: sled::IVec,
        session: &Session,
    ) -> Result<bool, AccountError> {
        // Not flushed: losing a last-seen time in a crash only ends a session sooner.
        let written = self
            .sessions
            .compare_and_swap(key, Some(read), Some(encode(session)?))
            .map_err(storage)?;
        // Another request of the session may have written first: it lives.
        Ok(!matches!(
            written,
            Err(sled::CompareAndSwapError { current: None, .. })
        ))
    }

    /// Ends a session.
    pub fn close_session(&self, id: &str) -> Result<(), AccountError> {
        let key = digest(id);
        if let Some(bytes) = self.sessions.remove(&key).map_err(storage)? {
            let session: Session = decode(&bytes)?;
            self.remove_session_keys(&key, &session)?;
        }
        self.flush()
    }

    /// Removes what nobody may present again by `now` (the real time):
    /// the sessions past their maximum age (most sessions end idle and are
    /// never presented again to be found expired), the tokens past their
    /// expiry by [`TOKEN_KEPT`], and with an activation link never used,
    /// its account if never activated since.
    pub fn sweep(&self, now: Timestamp) -> Result<Swept, AccountError> {
        let sessions = sweep_ended(&self.sessions_by_end, now, |key| {
            let Some(bytes) = self.sessions.remove(key).map_err(storage)? else {
                return Ok(false);
            };
            self.remove_session_keys(key, &decode(&bytes)?)?;
            Ok(true)
        })?;
        let mut accounts = 0;
        let tokens = sweep_ended(&self.tokens_by_end, now, |key| {
            let Some(bytes) = self.tokens.remove(key).map_err(storage)? else {
                return Ok(false);
            };
            let record: TokenRecord = decode(&bytes)?;
            // Only an unused token still has one.
            self.tokens_by_account
                .remove(by_account(&record.account, key))
                .map_err(storage)?;
            if matches!(record.purpose, Purpose::Activation) && !record.used {
                accounts += usize::from(self.remove_never_activated(&record.account, now)?);
            }
            Ok(true)
        })?;
        // Nothing to make durable: a removal lost in a crash is made again.
        Ok(Swept {
            sessions,
            tokens,
            accounts,
        })
    }

    /// Removes account `id` if it was never activated, has no link left,
    /// and was signed up (or signed up again) more than [`TOKEN_KEPT`]
    /// before `now`: its address is free again, and whoever signed up
    /// addresses by the thousand does not keep them in the store. True if
    /// removed.
    fn remove_never_activated(&self, id: &str, now: Timestamp) -> Result<bool, AccountError> {
        let _turn = self.sign_ups.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(bytes) = self.accounts.get(id).map_err(storage)? else {
            return Ok(false);
        };
        let account: Account = decode(&bytes)?;
        let signed_up_long_ago = token_end(account.created_at) < now;
        let unused =
            account.password.is_none() && account.dossier.is_none() && account.dossiers.is_empty();
        let links_left = self
            .tokens_by_account
            .scan_prefix(account_prefix(id))
            .next()
            .is_some();
        if !(unused && signed_up_long_ago) || links_left {
            return Ok(false);
        }
        // The address first: a crash between leaves an account nothing
        // names (never reached again), not an address naming no account,
        // which would refuse every sign-up with it.
        let named = self
            .by_email
            .compare_and_swap(&account.email, Some(id.as_bytes()), None as Option<&[u8]>)
            .map_err(storage)?;
        if named.is_err() {
            return Ok(false);
        }
        self.accounts.remove(id).map_err(storage)?;
        Ok(true)
    }

    /// Writes the keys naming `session` (at `key`, before it is written)
    /// in the trees by account and by end.
    fn insert_session_keys(&self, key: &[u8], session: &Session) -> Result<(), AccountError> {
        self.sessions_by_account
            .insert(by_account(&session.account, key), &[])
            .map_err(storage)?;
        self.sessions_by_end
            .insert(by_end(session_end(session.created_at), key), &[])
            .map_err(storage)?;
        Ok(())
    }

    /// Removes the keys of `session` (at `key`, removed) in the trees
    /// that name it.
    fn remove_session_keys(&self, key: &[u8], session: &Session) -> Result<(), AccountError> {
        self.sessions_by_account
            .remove(by_account(&session.account, key))
            .map_err(storage)?;
        self.sessions_by_end
            .remove(by_end(session_end(session.created_at), key))
            .map_err(storage)?;
        Ok(())
    }
}

/// Removes what the keys of `by_end` (see [`by_end`]) name whose end is a
/// whole second before `now`, with `remove` (false if it named nothing:
/// removed already), then the keys. Returns how many `remove` found.
/// What is being written now ends later, so what names nothing here is a
/// leftover, never something about to be.
fn sweep_ended(
    by_end: &sled::Tree,
    now: Timestamp,
    mut remove: impl FnMut(&[u8]) -> Result<bool, AccountError>,
) -> Result<usize, AccountError> {
    let mut removed = 0;
    for entry in by_end.range(..end_prefix(now)) {
        let (indexed, _) = entry.map_err(storage)?;
        if remove(indexed.get(8..).unwrap_or_default())? {
            removed += 1;
        }
        by_end.remove(&indexed).map_err(storage)?;
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The database in `path` opened again in this process: sled's flusher
    /// thread lets go of it shortly after the last handle is dropped.
    fn reopened(path: &std::path::Path) -> sled::Db {
        let mut tries = 0;
        loop {
            match sled::open(path) {
                Ok(db) => return db,
                Err(_) if tries < 100 => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                Err(error) => panic!("{error}"),
            }
        }
    }

    fn now() -> Timestamp {
        "2027-03-10T09:00:00Z".parse().expect("time")
    }

    const DAY: Duration = Duration::from_secs(24 * 3600);

    /// `seconds` after [`now`].
    fn at(seconds: i64) -> Timestamp {
        now()
            .checked_add(jiff::SignedDuration::from_secs(seconds))
            .expect("time")
    }

    /// A store in a fresh folder, with one session opened at [`now`].
    fn with_session() -> (tempfile::TempDir, AccountStore, String) {
        let folder = tempfile::tempdir().expect("tempdir");
        let accounts = AccountStore::open(folder.path()).expect("open");
        let id = accounts.open_session("a1", now()).expect("session");
        (folder, accounts, id)
    }

    #[test]
    fn a_token_works_once_and_not_after_expiry() {
        let folder = tempfile::tempdir().expect("tempdir");
        let accounts = AccountStore::open(folder.path()).expect("open");
        let (account, created) = accounts
            .create("Zoé", "Lefèvre", "Zoe@Example.org", (now(), DAY))
            .expect("create");
        assert!(created);
        assert_eq!(account.email, "zoe@example.org");
        let (again, created) = accounts
            .create("Zoé", "L", "zoe@example.org", (now(), DAY))
            .expect("create");
        assert!(!created);
        assert_eq!(
            (again.id.as_str(), again.last_name.as_str()),
            (account.id.as_str(), "Lefèvre")
        );
        // Never activated, past its link: whoever signs up now names it.
        let (taken, created) = accounts
            .create("Noé", "M", "zoe@example.org", (at(24 * 3600), DAY))
            .expect("create");
        assert!(created);
        assert_eq!(
            (taken.id.as_str(), taken.first_name.as_str()),
            (account.id.as_str(), "Noé")
        );

        let issue = |purpose: Purpose, seconds: u64| {
            let ttl = Duration::from_secs(seconds);
            let issued = accounts.issue_token(purpose, &account.id, ttl, now());
            issued.expect("token").0
        };
        let token = issue(Purpose::Activation, 3600);
        assert_eq!(
            accounts.use_token(&token, now()).expect("use"),
            Ok((account.id.clone(), Purpose::Activation))
        );
        assert_eq!(
            accounts.use_token(&token, now()).expect("use"),
            Err(TokenProblem::Used)
        );
        assert_eq!(
            accounts.use_token("nope", now()).expect("use"),
            Err(TokenProblem::Unknown)
        );

        let late = issue(Purpose::PasswordReset, 60);
        assert_eq!(
            accounts.use_token(&late, at(61)).expect("use"),
            Err(TokenProblem::Expired)
        );
    }

    /// A new reset link of `account`, and a new session.
    fn link_and_session(accounts: &AccountStore, account: &str) -> (String, String) {
        let (link, _) = accounts
            .issue_token(Purpose::PasswordReset, account, DAY, now())
            .expect("token");
        (
            link,
            accounts.open_session(account, now()).expect("session"),
        )
    }

    #[test]
    fn a_password_chosen_ends_its_accounts_links_and_sessions_alone() {
        let folder = tempfile::tempdir().expect("tempdir");
        let path = folder.path().join("accounts");
        let accounts = AccountStore::open(&path).expect("open");
        // Left by an earlier version, which kept nothing by account.
        let mut kept = vec![link_and_session(&accounts, "a1")];
        let others = link_and_session(&accounts, "a2");
        drop(accounts);
        let db = reopened(&path);
        let built = [
            "tokens_by_account",
            "sessions_by_account",
            "sessions_by_end",
            "tokens_by_end",
        ];
        for tree in built.into_iter().chain([BUILT_TREE]) {
            assert!(db.drop_tree(tree).expect("dropped"), "{tree}");
        }
        drop(db);
        let accounts = AccountStore::within(reopened(&path)).expect("open");
        kept.push(link_and_session(&accounts, "a1"));
        kept.push(link_and_session(&accounts, "a1"));
        // A link used and a session closed have nothing left to end.
        let (used, closed) = link_and_session(&accounts, "a1");
        accounts
            .use_token(&used, now())
            .expect("use")
            .expect("valid");
        accounts.close_session(&closed).expect("closed");

        accounts.revoke_links("a1").expect("revoked");
        accounts.close_sessions_of("a1").expect("closed");
        for (link, session) in &kept {
            let ended = accounts.check_token(link, now()).expect("read");
            assert_eq!(ended, Err(TokenProblem::Used));
            assert!(accounts.session(session, now()).expect("read").is_none());
        }
        let (link, session) = &others;
        let untouched = accounts.check_token(link, now()).expect("read");
        assert_eq!(untouched, Ok(("a2".to_owned(), Purpose::PasswordReset)));
        assert!(accounts.session(session, now()).expect("read").is_some());
        let left = |tree: &sled::Tree| tree.scan_prefix(account_prefix("a1")).count();
        assert_eq!(left(&accounts.tokens_by_account), 0);
        assert_eq!(left(&accounts.sessions_by_account), 0);
        assert_eq!(accounts.sessions_by_account.len(), 1, "a2's");
        // a2's session, opened before the trees were built, is swept too.
        assert_eq!(
            accounts.sweep(at(12 * 3600 + 1)).expect("swept").sessions,
            1
        );
        assert!(accounts.sessions.is_empty() && accounts.sessions_by_end.is_empty());
    }

    #[test]
    fn a_session_closed_while_a_request_reads_it_stays_closed() {
        let (_folder, accounts, id) = with_session();
        let key = digest(&id);
        let read = accounts.sessions.get(&key).expect("read").expect("open");
        let mut seen: Session = decode(&read).expect("session");
        seen.last_seen_at = at(120);
        // Another request of the session wrote first: this one's goes too.
        let other: Session = Session {
            last_seen_at: at(60),
            ..seen.clone()
        };
        let written = encode(&other).expect("encoded");
        accounts.sessions.insert(&key, written).expect("written");
        assert!(accounts.refresh(&key, read, &seen).expect("refreshed"));
        // Closed meanwhile: not written again.
        let read = accounts.sessions.get(&key).expect("read").expect("open");
        accounts.close_sessions_of("a1").expect("closed");
        assert!(!accounts.refresh(&key, read, &seen).expect("refreshed"));
        assert!(!accounts.sessions.contains_key(&key).expect("read"));
        assert!(accounts.session(&id, at(180)).expect("read").is_none());
    }

    #[test]
    fn sessions_past_their_maximum_age_are_swept_alone() {
        let (_folder, accounts, first) = with_session();
        let later = accounts.open_session("a2", at(6 * 3600)).expect("session");
        // Read from the tree: presented, an idle session would end itself.
        let kept = |id: &str| accounts.sessions.contains_key(digest(id)).expect("read");
        assert_eq!(accounts.sweep(at(12 * 3600)).expect("swept").sessions, 0);
        assert!(kept(&first) && kept(&later));
        assert_eq!(
            accounts.sweep(at(12 * 3600 + 1)).expect("swept").sessions,
            1
        );
        // Gone with its keys, as if closed; the later one stays.
        assert!(!kept(&first) && kept(&later));
        assert_eq!(accounts.sessions_by_account.len(), 1);
        assert_eq!(accounts.sessions_by_end.len(), 1);
        // Closed, then swept: nothing left of it either.
        accounts.close_session(&later).expect("closed");
        assert_eq!(accounts.sweep(at(30 * 3600)).expect("swept").sessions, 0);
        assert!(accounts.sessions_by_account.is_empty() && accounts.sessions_by_end.is_empty());
    }

    #[test]
    fn links_long_past_their_expiry_are_swept_alone() {
        let folder = tempfile::tempdir().expect("tempdir");
        let path = folder.path().join("accounts");
        let accounts = AccountStore::open(&path).expect("open");
        let issue = |accounts: &AccountStore, account: &str, at: Timestamp| {
            let issued = accounts.issue_token(Purpose::PasswordReset, account, DAY, at);
            issued.expect("token").0
        };
        let (used, unused) = (issue(&accounts, "a1", now()), issue(&accounts, "a1", now()));
        accounts
            .use_token(&used, now())
            .expect("use")
            .expect("valid");
        // Left by the version before the sweep of links, which kept no end.
        drop(accounts);
        let db = reopened(&path);
        assert!(db.drop_tree("tokens_by_end").expect("dropped"));
        let built = db.open_tree(BUILT_TREE).expect("tree");
        assert!(built
            .remove(TOKENS_BY_END_BUILT)
            .expect("removed")
            .is_some());
        drop((built, db));
        let accounts = AccountStore::within(reopened(&path)).expect("open");
        let later = issue(&accounts, "a2", at(10 * 24 * 3600));
        let kept = at(24 * 3600 + TOKEN_KEPT.as_secs() as i64);
        // To the last second kept, each says why it no longer works.
        assert_eq!(accounts.sweep(kept).expect("swept"), Swept::default());
        let problem = |link: &str| accounts.check_token(link, kept).expect("read").err();
        assert_eq!(problem(&used), Some(TokenProblem::Used));
        assert_eq!(problem(&unused), Some(TokenProblem::Expired));
        let next = kept
            .checked_add(jiff::SignedDuration::from_secs(1))
            .expect("time");
        assert_eq!(accounts.sweep(next).expect("swept").tokens, 2);
        // Gone with their keys; the later link, expired, is still known.
        assert_eq!(problem(&used), Some(TokenProblem::Unknown));
        assert_eq!(problem(&unused), Some(TokenProblem::Unknown));
        assert_eq!(problem(&later), Some(TokenProblem::Expired));
        assert_eq!(accounts.tokens.len(), 1);
        assert_eq!(accounts.tokens_by_end.len(), 1);
        assert!(accounts
            .tokens_by_account
            .scan_prefix(account_prefix("a1"))
            .next()
            .is_none());
    }

    #[test]
    fn sign_ups_of_one_address_at_once_give_one_account() {
        let folder = tempfile::tempdir().expect("tempdir");
        let accounts = AccountStore::open(folder.path()).expect("open");
        let signed_up: Vec<Result<(Account, bool), AccountError>> = std::thread::scope(|scope| {
            let sign_ups: Vec<_> = (0..8)
                .map(|_| {
                    let accounts = &accounts;
                    scope.spawn(move || {
                        accounts.create("Zoé", "Lefèvre", "zoe@example.org", (now(), DAY))
                    })
                })
                .collect();
            sign_ups
                .into_iter()
                .map(|t| t.join().expect("sign-up"))
                .collect()
        });
        let signed_up: Vec<(Account, bool)> = signed_up
            .into_iter()
            .map(|result| result.expect("no sign-up fails"))
            .collect();
        assert_eq!(signed_up.iter().filter(|(_, created)| *created).count(), 1);
        assert!(signed_up.iter().all(|(a, _)| a.id == signed_up[0].0.id));
    }

    #[test]
    fn accounts_never_activated_go_with_their_last_link() {
        let folder = tempfile::tempdir().expect("tempdir");
        let accounts = AccountStore::open(folder.path()).expect("open");
        let sign_up = |email: &str, at: Timestamp| {
            let (account, _) = accounts
                .create("Zoé", "Lefèvre", email, (at, DAY))
                .expect("account");
            let issued = accounts.issue_token(Purpose::Activation, &account.id, DAY, at);
            (account.id, issued.expect("link").0)
        };
        let (idle, _) = sign_up("idle@example.org", now());
        let (again, _) = sign_up("again@example.org", now());
        let (active, link) = sign_up("active@example.org", now());
        accounts
            .use_token(&link, now())
            .expect("use")
            .expect("valid");
        let mut activated = accounts.get(&active).expect("read").expect("account");
        activated.password = Some("hash".into());
        accounts.save(&activated).expect("saved");
        // Signed up again past the first link: the same account, a new link.
        let later = at(20 * 24 * 3600);
        assert_eq!(sign_up("again@example.org", later).0, again);
        // Signed up again while the first link works: a second link, sent
        // an hour later, which outlives the first.
        let (resent, _) = sign_up("resent@example.org", now());
        assert_eq!(sign_up("resent@example.org", at(3600)).0, resent);

        let swept = at(24 * 3600 + TOKEN_KEPT.as_secs() as i64 + 1);
        let first = accounts.sweep(swept).expect("swept");
        assert_eq!((first.tokens, first.accounts), (4, 1));
        // The idle one is gone, its address free for a new account.
        assert!(accounts.get(&idle).expect("read").is_none());
        assert!(accounts
            .find_by_email("idle@example.org")
            .expect("read")
            .is_none());
        let (renewed, created) = accounts
            .create("Noé", "M", "idle@example.org", (swept, DAY))
            .expect("account");
        assert!(created && renewed.id != idle);
        // The activated one stays; the one signed up again, until its link goes.
        assert!(accounts
            .find_by_email("active@example.org")
            .expect("read")
            .is_some());
        assert!(accounts.get(&again).expect("read").is_some());
        assert!(accounts.get(&resent).expect("read").is_some());
        let second_link = at(3600 + 24 * 3600 + TOKEN_KEPT.as_secs() as i64 + 1);
        assert_eq!(accounts.sweep(second_link).expect("swept").accounts, 1);
        assert!(accounts.get(&resent).expect("read").is_none());
        let last = later
            .checked_add(jiff::SignedDuration::from_secs(
                24 * 3600 + TOKEN_KEPT.as_secs() as i64 + 1,
            ))
            .expect("time");
        assert_eq!(accounts.sweep(last).expect("swept").accounts, 1);
        assert!(accounts
            .find_by_email("again@example.org")
            .expect("read")
            .is_none());
        assert!(accounts.get(&active).expect("read").is_some());
    }

    #[test]
    fn sessions_expire_when_idle_and_after_their_maximum_age() {
        let (_folder, accounts, id) = with_session();
        assert!(accounts.session(&id, at(3600)).expect("read").is_some());
        assert!(
            accounts
                .session(&id, at(3600 + 2 * 3600 + 1))
                .expect("read")
                .is_none(),
            "idle"
        );
        let id = accounts.open_session("a1", now()).expect("session");
        for hour in 1..12 {
            assert!(accounts
                .session(&id, at(hour * 3600))
                .expect("read")
                .is_some());
        }
        assert!(
            accounts
                .session(&id, at(12 * 3600 + 1))
                .expect("read")
                .is_none(),
            "absolute"
        );
    }

    #[test]
    fn a_request_older_than_the_last_one_seen_keeps_the_session() {
        let (_folder, accounts, id) = with_session();
        // Two requests of one session: the later one is recorded first.
        assert!(accounts.session(&id, at(120)).expect("read").is_some());
        let earlier = accounts.session(&id, at(119)).expect("read");
        assert!(earlier.is_some(), "signed out by a concurrent request");
        // Idleness counts from the later one.
        let idle_from_later = at(120 + 2 * 3600 - 1);
        assert!(accounts
            .session(&id, idle_from_later)
            .expect("read")
            .is_some());
    }
}
