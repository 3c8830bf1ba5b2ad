//! A store in memory: for scenarios and tests, gone when dropped.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use super::{Commit, EventParts, Publication, RowParts, Store, StoreError};
use crate::board::Row;
use crate::bundle::Bundle;
use crate::dossier::{Dossier, Event, OutboxMail};
use crate::workflow::Due;

/// Everything in maps behind one lock; same rules as the durable stores.
#[derive(Default)]
pub struct MemoryStore {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    definitions: BTreeMap<String, Bundle>,
    publications: Vec<Publication>,
    dossiers: BTreeMap<String, Dossier>,
    events: BTreeMap<(String, u64), Event>,
    /// Mails by [`super::outbox_key`].
    outbox: BTreeMap<Vec<u8>, OutboxMail>,
    /// The index: rows by their index key.
    rows: BTreeMap<Vec<u8>, Row>,
    /// Deadlines by due time and waiting lists by rank, and each dossier's keys there.
    ordered: BTreeMap<Vec<u8>, ()>,
    ordered_keys: BTreeMap<String, Vec<Vec<u8>>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> Result<std::sync::MutexGuard<'_, State>, StoreError> {
        self.state
            .lock()
            .map_err(|_| StoreError::Backend("a writer of the in-memory store panicked".into()))
    }
}

impl Store for MemoryStore {
    fn save_definition(&self, hash: &str, bundle: &Bundle) -> Result<(), StoreError> {
        self.state()?
            .definitions
            .insert(hash.to_owned(), bundle.clone());
        Ok(())
    }

    fn definition(&self, hash: &str) -> Result<Option<Bundle>, StoreError> {
        Ok(self.state()?.definitions.get(hash).cloned())
    }

    fn record_publication(&self, publication: &Publication) -> Result<(), StoreError> {
        self.state()?.publications.push(publication.clone());
        Ok(())
    }

    fn publications(&self) -> Result<Vec<Publication>, StoreError> {
        Ok(self.state()?.publications.clone())
    }

    fn make_durable(&self) -> Result<(), StoreError> {
        Ok(())
    }

    fn write(&self, commits: &[Commit]) -> Result<(), StoreError> {
        let mut state = self.state()?;
        for commit in commits {
            let id = &commit.dossier.id;
            let found = state.dossiers.get(id).map_or(0, |d| d.version);
            if found != commit.expected_version {
                return Err(StoreError::Conflict {
                    dossier: id.clone(),
                    expected: commit.expected_version,
                    found,
                });
            }
        }
        for commit in commits {
            let id = &commit.dossier.id;
            if let Some(before) = state.dossiers.get(id) {
                for key in super::index_keys(before) {
                    state.rows.remove(&key);
                }
            }
            for row in &commit.indexed.rows {
                state.rows.insert(super::row_key(row), row.clone());
            }
            for key in state.ordered_keys.remove(id).unwrap_or_default() {
                state.ordered.remove(&key);
            }
            let keys = commit.indexed.ordered_keys();
            for key in &keys {
                state.ordered.insert(key.clone(), ());
            }
            state.ordered_keys.insert(id.clone(), keys);
            state.dossiers.insert(id.clone(), commit.dossier.clone());
            state
                .events
                .insert((id.clone(), commit.event.version), commit.event.clone());
            for mail in &commit.mails {
                state.outbox.insert(super::outbox_key(mail), mail.clone());
            }
        }
        Ok(())
    }

    fn dossier(&self, id: &str) -> Result<Option<Arc<Dossier>>, StoreError> {
        Ok(self.state()?.dossiers.get(id).cloned().map(Arc::new))
    }

    fn dossiers(&self) -> Result<Vec<Dossier>, StoreError> {
        Ok(self.state()?.dossiers.values().cloned().collect())
    }

    fn candidatures_of(
        &self,
        formation: &str,
        state: Option<&str>,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let rows = self.rows_of(formation, state)?;
        Ok(rows
            .into_iter()
            .map(|r| (r.dossier, r.candidature))
            .collect())
    }

    fn rows_of(&self, formation: &str, state: Option<&str>) -> Result<Vec<Row>, StoreError> {
        let prefix = super::index_prefix(formation, state);
        Ok(self
            .state()?
            .rows
            .range(prefix.clone()..)
            .take_while(|(key, _)| key.starts_with(&prefix))
            .map(|(_, row)| row.clone())
            .collect())
    }

    fn row(
        &self,
        formation: &str,
        state: &str,
        dossier: &str,
        candidature: &str,
        _: RowParts,
    ) -> Result<Option<Row>, StoreError> {
        let key = super::index_key(&[formation, state, dossier, candidature]);
        Ok(self.state()?.rows.get(&key).cloned())
    }

    fn count_of(&self, formation: &str, state: &str) -> Result<usize, StoreError> {
        Ok(self.rows_of(formation, Some(state))?.len())
    }

    fn due_entries(&self, until: jiff::Timestamp) -> Result<Vec<Due>, StoreError> {
        let end = super::due_time_prefix(until);
        Ok(self
            .state()?
            .ordered
            .range(b"d".to_vec()..)
            .map(|(key, _)| key)
            .take_while(|key| key.len() >= 9 && key[..9] <= end[..])
            .filter_map(|key| super::due_entry(key))
            .collect())
    }

    fn waiting_of(
        &self,
        rule: &str,
        formation: &str,
    ) -> Result<Vec<(String, String, f64)>, StoreError> {
        let prefix = super::waiting_prefix(rule, formation);
        Ok(self
            .state()?
            .ordered
            .range(prefix.clone()..)
            .map(|(key, _)| key)
            .take_while(|key| key.starts_with(&prefix))
            .filter_map(|key| super::waiting_entry(key, prefix.len()))
            .collect())
    }

    fn build_index(
        &self,
        _: &dyn Fn(&Dossier) -> Result<super::Indexed, StoreError>,
    ) -> Result<(), StoreError> {
        // Every commit of this store wrote its rows.
        Ok(())
    }

    fn history(&self, id: &str, parts: EventParts) -> Result<Vec<Event>, StoreError> {
        Ok(self
            .state()?
            .events
            .range((id.to_owned(), 0)..=(id.to_owned(), u64::MAX))
            .map(|(_, event)| match parts {
                EventParts::Whole => event.clone(),
                EventParts::WithoutChanges => Event {
                    changes: Vec::new(),
                    ..event.clone()
                },
            })
            .collect())
    }

    fn enqueue(&self, mails: &[OutboxMail]) -> Result<(), StoreError> {
        let mut state = self.state()?;
        for mail in mails {
            state.outbox.insert(super::outbox_key(mail), mail.clone());
        }
        Ok(())
    }

    fn outbox_page(
        &self,
        after: Option<&OutboxMail>,
        limit: usize,
    ) -> Result<Vec<OutboxMail>, StoreError> {
        let state = self.state()?;
        let from = match after {
            Some(mail) => std::ops::Bound::Excluded(super::outbox_key(mail)),
            None => std::ops::Bound::Unbounded,
        };
        let page = state.outbox.range((from, std::ops::Bound::Unbounded));
        Ok(page.take(limit).map(|(_, mail)| mail.clone()).collect())
    }

    fn remove_from_outbox(&self, mail: &OutboxMail) -> Result<(), StoreError> {
        self.state()?.outbox.remove(&super::outbox_key(mail));
        Ok(())
    }
}
