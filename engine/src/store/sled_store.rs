//! The embedded default store, on sled.

use std::path::Path;
use std::sync::{Condvar, Mutex};

use serde::de::DeserializeOwned;
use serde::Serialize;
use sled::transaction::{ConflictableTransactionError, TransactionError};
use sled::Transactional;

use super::{Commit, Publication, Store, StoreError};
use crate::board::Row;
use crate::bundle::Bundle;
use crate::dossier::{Dossier, Event, OutboxMail};
use crate::workflow::Due;

/// Dossiers, events, outbox and definitions in one sled database.
///
/// A commit writes its four trees (dossiers, events, outbox, and the index of
/// candidatures by formation and state) in one sled transaction, then waits for a
/// flush to disk: sled would otherwise keep the write in memory for up to half a
/// second. Concurrent commits share flushes (group commit): whoever finds no
/// flush running starts one covering every write finished so far; the others
/// wait for it, or for the next one.
pub struct SledStore {
    db: sled::Db,
    dossiers: sled::Tree,
    events: sled::Tree,
    outbox: sled::Tree,
    definitions: sled::Tree,
    /// The versions made current, by a sequence number (big-endian).
    publications: sled::Tree,
    /// Candidatures by formation and state (see [`super::index_keys`]), with
    /// their list rows.
    by_formation: sled::Tree,
    /// Deadlines by the time they fall due, and waiting lists by rank (see
    /// [`super::due_key`], [`super::waiting_key`]).
    ordered: sled::Tree,
    /// Each dossier's keys in `ordered`, to remove them when it changes.
    ordered_keys: sled::Tree,
    flush: Mutex<FlushState>,
    flushed: Condvar,
}

#[derive(Default)]
struct FlushState {
    /// Number of writes finished (each takes a ticket).
    written: u64,
    /// Every write with a ticket up to this one is on disk.
    durable: u64,
    /// A flush is running.
    flushing: bool,
}

fn backend(error: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::Backend(Box::new(error))
}

/// A flusher panicked while holding the lock: there is no cause to keep.
fn poisoned<T>(_: std::sync::PoisonError<T>) -> StoreError {
    StoreError::Backend("a flusher of the sled store panicked".into())
}

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(value).map_err(StoreError::Corrupt)
}

fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(StoreError::Corrupt)
}

fn event_key(dossier: &str, version: u64) -> Vec<u8> {
    let mut key = dossier.as_bytes().to_vec();
    key.push(0);
    key.extend_from_slice(&version.to_be_bytes());
    key
}

/// sled's page cache, in bytes.
const CACHE_BYTES: u64 = 128 * 1024 * 1024;

impl SledStore {
    /// Opens (or creates) the store in directory `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        // sled's page cache would grow to 1 GB by default; the operating
        // system caches the file as well, so a smaller one costs little.
        let db = sled::Config::new()
            .path(path.as_ref())
            .cache_capacity(CACHE_BYTES)
            .open()
            .map_err(backend)?;
        let tree = |name: &str| db.open_tree(name).map_err(backend);
        let store = Self {
            dossiers: tree("dossiers")?,
            events: tree("events")?,
            outbox: tree("outbox")?,
            definitions: tree("definitions")?,
            publications: tree("publications")?,
            by_formation: tree("candidatures_by_formation_and_state")?,
            ordered: tree("deadlines_by_time_and_waiting_lists_by_rank")?,
            ordered_keys: tree("ordered_keys_by_dossier")?,
            db,
            flush: Mutex::new(FlushState::default()),
            flushed: Condvar::new(),
        };
        store.order_outbox()?;
        Ok(store)
    }

    /// Gives the mails of a store written by an earlier version, keyed by
    /// their id alone, their key in queue order ([`super::outbox_key`]).
    fn order_outbox(&self) -> Result<(), StoreError> {
        // In batches: an outbox can hold many thousands of mails.
        loop {
            let mut batch = sled::Batch::default();
            let mut moved = 0;
            for entry in self.outbox.range(&[1u8][..]..).take(1000) {
                let (key, bytes) = entry.map_err(backend)?;
                let mail: OutboxMail = decode(&bytes)?;
                batch.remove(key);
                batch.insert(super::outbox_key(&mail), bytes);
                moved += 1;
            }
            if moved == 0 {
                return Ok(());
            }
            self.outbox.apply_batch(batch).map_err(backend)?;
            self.make_durable()?;
        }
    }

    /// Writes everything to disk (commits already are; this is for shutdown).
    pub fn flush(&self) -> Result<(), StoreError> {
        self.db.flush().map(|_| ()).map_err(backend)
    }

    fn scan<T: DeserializeOwned>(tree: &sled::Tree, prefix: &[u8]) -> Result<Vec<T>, StoreError> {
        tree.scan_prefix(prefix)
            .map(|entry| {
                let (_, value) = entry.map_err(backend)?;
                decode(&value)
            })
            .collect()
    }
}

impl Store for SledStore {
    fn make_durable(&self) -> Result<(), StoreError> {
        let mut state = self.flush.lock().map_err(poisoned)?;
        state.written += 1;
        let ticket = state.written;
        loop {
            if state.durable >= ticket {
                return Ok(());
            }
            if !state.flushing {
                state.flushing = true;
                let covered = state.written;
                drop(state);
                let result = self.db.flush();
                state = self.flush.lock().map_err(poisoned)?;
                state.flushing = false;
                if result.is_ok() {
                    state.durable = state.durable.max(covered);
                }
                self.flushed.notify_all();
                result.map_err(backend)?;
            } else {
                state = self.flushed.wait(state).map_err(poisoned)?;
            }
        }
    }

    fn save_definition(&self, hash: &str, bundle: &Bundle) -> Result<(), StoreError> {
        if self.definitions.contains_key(hash).map_err(backend)? {
            return Ok(());
        }
        self.definitions
            .insert(hash, encode(bundle)?)
            .map_err(backend)?;
        self.make_durable()
    }

    fn definition(&self, hash: &str) -> Result<Option<Bundle>, StoreError> {
        match self.definitions.get(hash).map_err(backend)? {
            Some(bytes) => decode(&bytes).map(Some),
            None => Ok(None),
        }
    }

    fn record_publication(&self, publication: &Publication) -> Result<(), StoreError> {
        let sequence = self.db.generate_id().map_err(backend)?;
        self.publications
            .insert(sequence.to_be_bytes(), encode(publication)?)
            .map_err(backend)?;
        self.make_durable()
    }

    fn publications(&self) -> Result<Vec<Publication>, StoreError> {
        Self::scan(&self.publications, b"")
    }

    fn write(&self, commits: &[Commit]) -> Result<(), StoreError> {
        struct Encoded<'a> {
            commit: &'a Commit,
            dossier: Vec<u8>,
            event: Vec<u8>,
            mails: Vec<(Vec<u8>, Vec<u8>)>,
            rows: Vec<(Vec<u8>, Vec<u8>)>,
            ordered: Vec<Vec<u8>>,
            ordered_list: Vec<u8>,
        }
        let encoded = commits
            .iter()
            .map(|commit| {
                Ok(Encoded {
                    commit,
                    dossier: encode(&commit.dossier)?,
                    event: encode(&commit.event)?,
                    mails: commit
                        .mails
                        .iter()
                        .map(|mail| Ok((super::outbox_key(mail), encode(mail)?)))
                        .collect::<Result<Vec<_>, StoreError>>()?,
                    rows: commit
                        .indexed
                        .rows
                        .iter()
                        .map(|row| Ok((super::row_key(row), encode(row)?)))
                        .collect::<Result<Vec<_>, StoreError>>()?,
                    ordered: commit.indexed.ordered_keys(),
                    ordered_list: encode(&commit.indexed.ordered_keys())?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let trees = (
            &self.dossiers,
            &self.events,
            &self.outbox,
            &self.by_formation,
            &self.ordered,
            &self.ordered_keys,
        );
        let result = trees.transaction(
            |(dossiers, events, outbox, by_formation, ordered, ordered_keys)| {
                for item in &encoded {
                    let id = item.commit.dossier.id.as_str();
                    let before = match dossiers.get(id)? {
                        Some(bytes) => Some(
                            decode::<Dossier>(&bytes)
                                .map_err(ConflictableTransactionError::Abort)?,
                        ),
                        None => None,
                    };
                    let found = before.as_ref().map_or(0, |d| d.version);
                    if found != item.commit.expected_version {
                        return Err(ConflictableTransactionError::Abort(StoreError::Conflict {
                            dossier: id.to_owned(),
                            expected: item.commit.expected_version,
                            found,
                        }));
                    }
                    dossiers.insert(id, item.dossier.as_slice())?;
                    for key in before.iter().flat_map(super::index_keys) {
                        by_formation.remove(key)?;
                    }
                    for (key, row) in &item.rows {
                        by_formation.insert(key.as_slice(), row.as_slice())?;
                    }
                    for (key, change) in
                        super::count_changes(before.as_ref(), &item.commit.indexed.rows)
                    {
                        let count = super::count_value(ordered.get(&key)?.as_deref());
                        let count = count.saturating_add_signed(change);
                        ordered.insert(key, count.to_be_bytes().as_slice())?;
                    }
                    if let Some(old) = ordered_keys.get(id)? {
                        let old: Vec<Vec<u8>> =
                            decode(&old).map_err(ConflictableTransactionError::Abort)?;
                        for key in old {
                            ordered.remove(key)?;
                        }
                    }
                    for key in &item.ordered {
                        ordered.insert(key.as_slice(), &[])?;
                    }
                    ordered_keys.insert(id, item.ordered_list.as_slice())?;
                    let key = event_key(id, item.commit.event.version);
                    events.insert(key, item.event.as_slice())?;
                    for (key, mail) in &item.mails {
                        outbox.insert(key.as_slice(), mail.as_slice())?;
                    }
                }
                Ok(())
            },
        );
        match result {
            Ok(()) => Ok(()),
            Err(TransactionError::Abort(error)) => Err(error),
            Err(TransactionError::Storage(error)) => Err(backend(error)),
        }
    }

    fn dossier(&self, id: &str) -> Result<Option<Dossier>, StoreError> {
        match self.dossiers.get(id).map_err(backend)? {
            Some(bytes) => decode(&bytes).map(Some),
            None => Ok(None),
        }
    }

    fn dossiers(&self) -> Result<Vec<Dossier>, StoreError> {
        Self::scan(&self.dossiers, b"")
    }

    fn candidatures_of(
        &self,
        formation: &str,
        state: Option<&str>,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let prefix = super::index_prefix(formation, state);
        self.by_formation
            .scan_prefix(prefix)
            .keys()
            .map(|key| {
                let key = key.map_err(backend)?;
                super::index_entry(&key)
                    .ok_or_else(|| StoreError::Backend("an index key of an unexpected form".into()))
            })
            .collect()
    }

    fn rows_of(&self, formation: &str, state: Option<&str>) -> Result<Vec<Row>, StoreError> {
        Self::scan(&self.by_formation, &super::index_prefix(formation, state))
    }

    fn each_row_of(
        &self,
        formation: &str,
        state: Option<&str>,
        each: &mut dyn FnMut(Row),
    ) -> Result<(), StoreError> {
        let prefix = super::index_prefix(formation, state);
        for entry in self.by_formation.scan_prefix(prefix) {
            each(decode(&entry.map_err(backend)?.1)?);
        }
        Ok(())
    }

    fn count_of(&self, formation: &str, state: &str) -> Result<usize, StoreError> {
        let key = super::count_key(formation, state);
        let count = self.ordered.get(key).map_err(backend)?;
        Ok(usize::try_from(super::count_value(count.as_deref())).unwrap_or(usize::MAX))
    }

    fn due_entries(&self, until: jiff::Timestamp) -> Result<Vec<Due>, StoreError> {
        let end = super::due_time_prefix(until);
        let due = self.ordered.range(b"d".as_slice()..=end.as_slice()).keys();
        // Keys of the very second `until` sort after the bare prefix.
        let mut entries = Vec::new();
        for key in due.chain(self.ordered.scan_prefix(end).keys()) {
            entries.extend(super::due_entry(&key.map_err(backend)?));
        }
        Ok(entries)
    }

    fn waiting_of(
        &self,
        rule: &str,
        formation: &str,
    ) -> Result<Vec<(String, String, f64)>, StoreError> {
        let prefix = super::waiting_prefix(rule, formation);
        let mut list = Vec::new();
        for key in self.ordered.scan_prefix(&prefix).keys() {
            list.extend(super::waiting_entry(&key.map_err(backend)?, prefix.len()));
        }
        Ok(list)
    }

    fn build_index(
        &self,
        indexed: &dyn Fn(&Dossier) -> Result<super::Indexed, StoreError>,
    ) -> Result<(), StoreError> {
        // Raised whenever what the indexes hold changes: they are then
        // written again once, from the dossiers.
        const BUILT: &[u8] = b"indexes: rows, counts, due times, waiting lists (version 4)";
        if self.db.contains_key(BUILT).map_err(backend)? {
            return Ok(());
        }
        for tree in [&self.by_formation, &self.ordered, &self.ordered_keys] {
            tree.clear().map_err(backend)?;
        }
        for entry in self.dossiers.iter() {
            let (id, bytes) = entry.map_err(backend)?;
            let indexed = indexed(&decode::<Dossier>(&bytes)?)?;
            for row in &indexed.rows {
                self.by_formation
                    .insert(super::row_key(row), encode(row)?)
                    .map_err(backend)?;
            }
            for (key, change) in super::count_changes(None, &indexed.rows) {
                let count = super::count_value(self.ordered.get(&key).map_err(backend)?.as_deref());
                let count = count.saturating_add_signed(change);
                self.ordered
                    .insert(key, count.to_be_bytes().as_slice())
                    .map_err(backend)?;
            }
            let keys = indexed.ordered_keys();
            for key in &keys {
                self.ordered.insert(key.as_slice(), &[]).map_err(backend)?;
            }
            self.ordered_keys
                .insert(id, encode(&keys)?)
                .map_err(backend)?;
        }
        self.db.insert(BUILT, &[]).map_err(backend)?;
        self.make_durable()
    }

    fn history(&self, id: &str) -> Result<Vec<Event>, StoreError> {
        let mut prefix = id.as_bytes().to_vec();
        prefix.push(0);
        Self::scan(&self.events, &prefix)
    }

    fn enqueue(&self, mails: &[OutboxMail]) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        for mail in mails {
            batch.insert(super::outbox_key(mail), encode(mail)?);
        }
        self.outbox.apply_batch(batch).map_err(backend)?;
        self.make_durable()
    }

    fn outbox_page(
        &self,
        after: Option<&OutboxMail>,
        limit: usize,
    ) -> Result<Vec<OutboxMail>, StoreError> {
        let from = match after {
            Some(mail) => std::ops::Bound::Excluded(super::outbox_key(mail)),
            None => std::ops::Bound::Unbounded,
        };
        self.outbox
            .range::<Vec<u8>, _>((from, std::ops::Bound::Unbounded))
            .take(limit)
            .map(|entry| decode(&entry.map_err(backend)?.1))
            .collect()
    }

    fn remove_from_outbox(&self, mail: &OutboxMail) -> Result<(), StoreError> {
        self.outbox
            .remove(super::outbox_key(mail))
            .map_err(backend)?;
        self.make_durable()
    }
}
