//! Where dossiers live. One command is one atomic, durable write.

mod memory;
mod sled_store;
mod write_set;

pub use memory::MemoryStore;
pub use sled_store::{SledStore, TreeSize};

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

use crate::board::Row;
use crate::bundle::Bundle;
use crate::dossier::{Answers, Dossier, Event, OutboxMail};
use crate::workflow::Due;

/// Why the store could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The dossier changed since the command was decided: nothing was written.
    #[error("dossier `{dossier}` is at version {found}, not {expected}: reload it and try again")]
    Conflict {
        /// Dossier id.
        dossier: String,
        /// Version the command was decided on.
        expected: u64,
        /// Version found in the store.
        found: u64,
    },
    /// The storage backend failed.
    #[error("storage failure")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// Stored data could not be read back (or written as it should be).
    #[error("stored data is unreadable")]
    Corrupt(#[source] serde_json::Error),
}

/// How many candidatures hold each option of each list column of choices:
/// column id → option → count ([`Store::tallies_of`]).
pub type Tallies = BTreeMap<String, BTreeMap<String, usize>>;

/// The key of a due-time entry: `d`, the second it falls due, rounded up
/// (big-endian, its sign bit flipped so that times sort as bytes), then what
/// falls due. Rounded up, an entry whose second has come is due.
pub(crate) fn due_key(due: &Due) -> Vec<u8> {
    let second = due.at.as_second() + i64::from(due.at.subsec_nanosecond() > 0);
    let mut key = second_prefix(second).to_vec();
    key.extend_from_slice(index_key(&[&due.dossier, &due.candidature, &due.deadline]).as_slice());
    key
}

/// The first bytes of the due-time keys of the second `until` is in.
pub(crate) fn due_time_prefix(until: jiff::Timestamp) -> [u8; 9] {
    second_prefix(until.as_second())
}

fn second_prefix(second: i64) -> [u8; 9] {
    let mut prefix = [b'd'; 9];
    prefix[1..].copy_from_slice(&((second as u64) ^ (1 << 63)).to_be_bytes());
    prefix
}

/// What a due-time key says is due, and from when (to the second).
pub(crate) fn due_entry(key: &[u8]) -> Option<Due> {
    let second = u64::from_be_bytes(key.get(1..9)?.try_into().ok()?) ^ (1 << 63);
    let text = std::str::from_utf8(key.get(9..)?).ok()?;
    let mut parts = text.split('\0');
    Some(Due {
        dossier: parts.next()?.to_owned(),
        candidature: parts.next()?.to_owned(),
        deadline: parts.next()?.to_owned(),
        at: jiff::Timestamp::from_second(second as i64).ok()?,
    })
}

/// The prefix of the waiting list of `rule` in `formation`.
pub(crate) fn waiting_prefix(rule: &str, formation: &str) -> Vec<u8> {
    let mut prefix = vec![b'w'];
    prefix.extend_from_slice(index_key(&[rule, formation]).as_slice());
    prefix.push(0);
    prefix
}

/// The key of a waiting-list entry: its list's prefix, the rank (so that
/// the best rank comes first), then the candidature.
pub(crate) fn waiting_key(entry: &Waiting) -> Vec<u8> {
    let mut key = waiting_prefix(&entry.rule, &entry.formation);
    // Floats in total order, as bytes: flip the sign bit, or every bit of a negative.
    let bits = entry.rank.to_bits();
    let ordered = if bits >> 63 == 1 {
        !bits
    } else {
        bits | (1 << 63)
    };
    key.extend_from_slice(&ordered.to_be_bytes());
    key.extend_from_slice(index_key(&[&entry.dossier, &entry.candidature]).as_slice());
    key
}

/// The (dossier, candidature, rank) of a waiting-list key, given its prefix's length.
pub(crate) fn waiting_entry(key: &[u8], prefix: usize) -> Option<(String, String, f64)> {
    let bits = u64::from_be_bytes(key.get(prefix..prefix + 8)?.try_into().ok()?);
    let bits = if bits >> 63 == 1 {
        bits & !(1 << 63)
    } else {
        !bits
    };
    let text = std::str::from_utf8(key.get(prefix + 8..)?).ok()?;
    let (dossier, candidature) = text.split_once('\0')?;
    Some((
        dossier.to_owned(),
        candidature.to_owned(),
        f64::from_bits(bits),
    ))
}

/// The key saying dossier `dossier` is on the definition's version `hash`:
/// `v`, the hash, then the dossier (a hash never holds a NUL). It stands
/// among the dossier's index keys, so that a write moving the dossier to
/// another version moves the count of each ([`version_count_key`]); the
/// sled store does not write it in its ordered tree, where nothing reads it.
pub(crate) fn version_key(hash: &str, dossier: &str) -> Vec<u8> {
    let mut key = vec![VERSION_PREFIX];
    key.extend_from_slice(index_key(&[hash, dossier]).as_slice());
    key
}

/// The first byte of the keys of [`version_key`].
pub(crate) const VERSION_PREFIX: u8 = b'v';

/// The key of the count of dossiers on the definition's version `hash`,
/// kept beside them: `V`, then the hash.
pub(crate) fn version_count_key(hash: &str) -> Vec<u8> {
    let mut key = vec![VERSION_COUNT_PREFIX];
    key.extend_from_slice(hash.as_bytes());
    key
}

/// The first byte of the keys of [`version_count_key`].
pub(crate) const VERSION_COUNT_PREFIX: u8 = b'V';

/// The version's hash of a [`version_key`].
pub(crate) fn version_of_key(key: &[u8]) -> Option<&str> {
    let rest = key.strip_prefix(&[VERSION_PREFIX])?;
    let end = rest.iter().position(|byte| *byte == 0)?;
    std::str::from_utf8(&rest[..end]).ok()
}

/// The key saying that candidature `candidature` to `formation`, in
/// `state`, holds `option` in list column `field`: `o`, then those,
/// NUL-separated, the candidature last (ids never hold a NUL). Like a
/// version key, it stands among its dossier's index keys only, so that a
/// write changing the option or the state moves the counts
/// ([`tally_count_key`]).
pub(crate) fn tally_key(
    formation: &str,
    state: &str,
    field: &str,
    option: &str,
    candidature: &str,
) -> Vec<u8> {
    let mut key = vec![TALLY_PREFIX];
    key.extend_from_slice(index_key(&[formation, state, field, option, candidature]).as_slice());
    key
}

/// The first byte of the keys of [`tally_key`].
const TALLY_PREFIX: u8 = b'o';

/// The first byte of the keys of [`tally_count_key`].
const TALLY_COUNT_PREFIX: u8 = b'O';

/// The key of the count of candidatures to `formation` in `state` holding
/// `option` in list column `field`, kept beside the other counts: `O`,
/// then those, NUL-separated. Writes make it from a [`tally_key`]
/// ([`count_moved_by`]).
#[cfg(test)]
pub(crate) fn tally_count_key(formation: &str, state: &str, field: &str, option: &str) -> Vec<u8> {
    let mut key = vec![TALLY_COUNT_PREFIX];
    key.extend_from_slice(index_key(&[formation, state, field, option]).as_slice());
    key
}

/// The prefix of the [`tally_count_key`]s of `formation` in `state`.
pub(crate) fn tally_count_prefix(formation: &str, state: &str) -> Vec<u8> {
    let mut prefix = vec![TALLY_COUNT_PREFIX];
    prefix.extend_from_slice(index_key(&[formation, state]).as_slice());
    prefix.push(0);
    prefix
}

/// The column and option of a [`tally_count_key`], given its prefix's
/// length ([`tally_count_prefix`]).
pub(crate) fn tally_of_count_key(key: &[u8], prefix: usize) -> Option<(String, String)> {
    let text = std::str::from_utf8(key.get(prefix..)?).ok()?;
    let (field, option) = text.split_once('\0')?;
    Some((field.to_owned(), option.to_owned()))
}

/// The key saying that candidature `candidature` holds a file for piece
/// `piece`: `f`, the piece, a NUL, the candidature. Like a version key, it
/// stands among its dossier's index keys only, so that a write adding or
/// removing the file moves the count ([`file_count_key`]).
pub(crate) fn file_key(piece: &str, candidature: &str) -> Vec<u8> {
    let mut key = vec![FILE_PREFIX];
    key.extend_from_slice(index_key(&[piece, candidature]).as_slice());
    key
}

/// The first byte of the keys of [`file_key`].
const FILE_PREFIX: u8 = b'f';

/// The first byte of the keys of [`file_count_key`].
const FILE_COUNT_PREFIX: u8 = b'F';

/// The key of the count of candidatures holding a file for `piece`, kept
/// beside the other counts: `F`, then the piece. Writes make it from a
/// [`file_key`] ([`count_moved_by`]).
pub(crate) fn file_count_key(piece: &str) -> Vec<u8> {
    let mut key = vec![FILE_COUNT_PREFIX];
    key.extend_from_slice(piece.as_bytes());
    key
}

/// The count a key kept among a dossier's index keys alone moves: its
/// version's ([`version_key`]), its option's ([`tally_key`]) or its
/// piece's ([`file_key`]). `None` for the keys the ordered tree holds (due
/// times, waiting lists).
pub(crate) fn count_moved_by(key: &[u8]) -> Option<Vec<u8>> {
    let count_prefix = match key.split_first()? {
        (&VERSION_PREFIX, _) => return version_of_key(key).map(version_count_key),
        (&TALLY_PREFIX, _) => TALLY_COUNT_PREFIX,
        (&FILE_PREFIX, _) => FILE_COUNT_PREFIX,
        _ => return None,
    };
    // All but the candidature, last after a NUL.
    let rest = &key[1..];
    let end = rest.iter().rposition(|byte| *byte == 0)?;
    let mut count = vec![count_prefix];
    count.extend_from_slice(&rest[..end]);
    Some(count)
}

/// The key of the count of candidatures to `formation` in `state`, kept
/// beside the due times and waiting lists (prefix `c`).
pub(crate) fn count_key(formation: &str, state: &str) -> Vec<u8> {
    let mut key = vec![b'c'];
    key.extend_from_slice(index_key(&[formation, state]).as_slice());
    key
}

/// How each command changes the counts: -1 for each candidature the
/// index held of the dossier before (by its row key), +1 for each after.
pub(crate) fn count_changes(before: &[Vec<u8>], rows: &[Row]) -> Vec<(Vec<u8>, i64)> {
    let mut changes: std::collections::BTreeMap<Vec<u8>, i64> = Default::default();
    for key in before {
        // A row key begins with the formation and the state: a count's key.
        let mut parts = key.splitn(3, |byte| *byte == 0);
        if let (Some(formation), Some(state)) = (parts.next(), parts.next()) {
            let mut count = vec![b'c'];
            count.extend_from_slice(formation);
            count.push(0);
            count.extend_from_slice(state);
            *changes.entry(count).or_default() -= 1;
        }
    }
    for row in rows {
        *changes
            .entry(count_key(&row.formation, &row.state))
            .or_default() += 1;
    }
    changes
        .into_iter()
        .filter(|(_, change)| *change != 0)
        .collect()
}

/// A count as stored, and back.
pub(crate) fn count_value(bytes: Option<&[u8]>) -> u64 {
    bytes
        .and_then(|b| <[u8; 8]>::try_from(b).ok())
        .map_or(0, u64::from_be_bytes)
}

/// The index key of a row.
pub(crate) fn row_key(row: &Row) -> Vec<u8> {
    index_key(&[&row.formation, &row.state, &row.dossier, &row.candidature])
}

/// The index keys of a dossier's candidatures: formation, state, dossier,
/// candidature, separated by NUL (ids never hold one).
pub(crate) fn index_keys(dossier: &Dossier) -> Vec<Vec<u8>> {
    dossier
        .candidatures
        .iter()
        .map(|c| index_key(&[&c.formation, &c.state, &dossier.id, &c.id]))
        .collect()
}

pub(crate) fn index_key(parts: &[&str]) -> Vec<u8> {
    parts.join("\0").into_bytes()
}

/// The prefix of the index keys of `formation` (and `state`).
pub(crate) fn index_prefix(formation: &str, state: Option<&str>) -> Vec<u8> {
    let mut prefix = match state {
        Some(state) => index_key(&[formation, state]),
        None => index_key(&[formation]),
    };
    prefix.push(0);
    prefix
}

/// The dossier and candidature an index key names.
pub(crate) fn index_entry(key: &[u8]) -> Option<(String, String)> {
    let text = std::str::from_utf8(key).ok()?;
    let mut parts = text.split('\0').skip(2);
    Some((parts.next()?.to_owned(), parts.next()?.to_owned()))
}

/// Everything one command writes, committed together or not at all.
#[derive(Debug, Clone)]
pub struct Commit {
    /// Version the dossier had when the command was decided (0: the dossier is new).
    pub expected_version: u64,
    /// The dossier after the command.
    pub dossier: Dossier,
    /// The event describing the change.
    pub event: Event,
    /// Mails to queue.
    pub mails: Vec<OutboxMail>,
    /// What the indexes hold of the dossier after the command.
    pub indexed: Indexed,
}

/// What the indexes hold of one dossier, as the engine computes it (each
/// needs the dossier's definition); written in the dossier's write.
#[derive(Debug, Clone, Default)]
pub struct Indexed {
    /// What staff lists show of each candidature (see [`crate::board`]).
    pub rows: Vec<Row>,
    /// Its deadlines still to handle, by the time each falls due.
    pub deadlines: Vec<Due>,
    /// Its places on waiting lists.
    pub waiting: Vec<Waiting>,
    /// The dossier's id and the hash of the version of the definition it is
    /// on: dossiers are counted per version without being read (see
    /// [`Store::dossiers_per_version`]). Empty: not counted.
    pub on_version: (String, String),
    /// Each file its candidatures hold, as (candidature id, piece id): files
    /// are counted per piece without reading the dossiers (see
    /// [`Store::files_held`]).
    pub files: Vec<(String, String)>,
}

/// A candidature's place on a waiting list: it meets the `among` condition
/// of a promotion rule, with the rank the rule gives it.
#[derive(Debug, Clone, PartialEq)]
pub struct Waiting {
    /// The rule (see `Engine::rule_key`).
    pub rule: String,
    /// Formation id.
    pub formation: String,
    /// Rank (smallest first).
    pub rank: f64,
    /// Dossier id.
    pub dossier: String,
    /// Candidature id.
    pub candidature: String,
}

impl Indexed {
    /// Every key the dossier has beside its rows: its due times and waiting
    /// places, in the ordered index, and the keys that only move a count
    /// (its version, its rows' options, its files; see `count_moved_by`).
    pub(crate) fn ordered_keys(&self) -> Vec<Vec<u8>> {
        let due = self.deadlines.iter().map(due_key);
        let (dossier, hash) = &self.on_version;
        let version = (!dossier.is_empty()).then(|| version_key(hash, dossier));
        // A list column's text values are its options: list columns are
        // choices and numbers (`board::list_columns`).
        let options = self.rows.iter().flat_map(|row| {
            row.columns.iter().filter_map(move |(field, value)| {
                let option = value.as_str()?;
                Some(tally_key(
                    &row.formation,
                    &row.state,
                    field,
                    option,
                    &row.candidature,
                ))
            })
        });
        let files = self
            .files
            .iter()
            .map(|(candidature, piece)| file_key(piece, candidature));
        due.chain(self.waiting.iter().map(waiting_key))
            .chain(version)
            .chain(options)
            .chain(files)
            .collect()
    }
}

/// A version of the definition made the current one: who did, and when.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Publication {
    /// The version's content hash.
    pub hash: String,
    /// When it became current.
    pub at: jiff::Timestamp,
    /// Who made it current: an administrator's address, `start-up`, `SIGHUP`.
    pub by: String,
}

/// What a reader of the list rows needs of each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowParts {
    /// The whole row.
    Whole,
    /// All but [`Row::pieces`], the part costliest to decode (each piece's
    /// id and status), which a list neither filtering on nor showing a
    /// piece's status does without: a formation's list read in a third
    /// less time.
    WithoutPieces,
}

/// What a reader of a dossier's history needs of each event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventParts {
    /// The whole event.
    Whole,
    /// All but [`Event::changes`], the part costliest to decode (each
    /// value before and after), which a page saying what happened and when
    /// does without.
    WithoutChanges,
}

/// Storage of dossiers, their history, the mail outbox and definition versions.
///
/// `commit` must be atomic (every dossier of it or nothing), must reject a
/// stale `expected_version` with [`StoreError::Conflict`], and must return only
/// once the write is durable.
pub trait Store: Send + Sync {
    /// Keeps a definition version, by content hash.
    fn save_definition(&self, hash: &str, bundle: &Bundle) -> Result<(), StoreError>;
    /// A definition version by content hash.
    fn definition(&self, hash: &str) -> Result<Option<Bundle>, StoreError>;
    /// Records, durably, that a version became the current one.
    fn record_publication(&self, publication: &Publication) -> Result<(), StoreError>;
    /// Every version made current, oldest first.
    fn publications(&self) -> Result<Vec<Publication>, StoreError>;
    /// Writes one command's result durably: usually one dossier, two when a
    /// freed place goes to another candidate in the same command.
    fn commit(&self, commits: &[Commit]) -> Result<(), StoreError> {
        self.write(commits)?;
        self.make_durable()
    }
    /// Writes one command's result atomically, as [`Store::commit`] does,
    /// but durable only at the next [`Store::make_durable`]: for a run of
    /// commands that answers once, after one flush for all.
    fn write(&self, commits: &[Commit]) -> Result<(), StoreError>;
    /// Returns once every write finished before this call is on disk.
    fn make_durable(&self) -> Result<(), StoreError>;
    /// A dossier by id, shared: a store may keep the dossiers read often,
    /// and a page reading one copies nothing.
    fn dossier(&self, id: &str) -> Result<Option<Arc<Dossier>>, StoreError>;
    /// The profile answers candidature `candidature` of dossier `id` is
    /// read with ([`Dossier::answers_of`]): a store may read them without
    /// the rest of the dossier.
    fn answers_of(&self, id: &str, candidature: &str) -> Result<Option<Answers>, StoreError> {
        Ok(self.dossier(id)?.map(|d| d.answers_of(candidature).clone()))
    }
    /// Every dossier.
    fn dossiers(&self) -> Result<Vec<Dossier>, StoreError>;
    /// How many dossiers are on each version of the definition, by its
    /// hash. A store that keeps [`Indexed::on_version`] counts them without
    /// reading the dossiers.
    fn dossiers_per_version(&self) -> Result<BTreeMap<String, usize>, StoreError> {
        let mut counts = BTreeMap::new();
        self.each_dossier(&mut |dossier| {
            *counts.entry(dossier.definition).or_default() += 1;
        })?;
        Ok(counts)
    }
    /// How many candidatures hold a file for `piece`. A store that keeps
    /// [`Indexed::files`] counts them without reading the dossiers.
    fn files_held(&self, piece: &str) -> Result<usize, StoreError> {
        let mut count = 0;
        self.each_dossier(&mut |dossier| {
            count += dossier
                .candidatures
                .iter()
                .filter(|c| c.holds_file(piece))
                .count();
        })?;
        Ok(count)
    }
    /// Every dossier, handed to `each` one at a time as it is read: a pass
    /// over the whole store keeps none of them (a hundred thousand
    /// dossiers held at once take about a gigabyte).
    fn each_dossier(&self, each: &mut dyn FnMut(Dossier)) -> Result<(), StoreError> {
        self.dossiers()?.into_iter().for_each(each);
        Ok(())
    }
    /// Every dossier's own answers ([`Dossier::profile`]), handed to `each`
    /// one at a time as read: a store that keeps them apart from the
    /// dossiers reads them without the dossiers.
    fn each_own_answers(&self, each: &mut dyn FnMut(Answers)) -> Result<(), StoreError> {
        self.each_dossier(&mut |dossier| each(dossier.profile))
    }
    /// The candidatures to `formation` (in `state` only, if given), as
    /// (dossier id, candidature id), from an index kept in the same
    /// write as the dossiers: no scan of every dossier.
    fn candidatures_of(
        &self,
        formation: &str,
        state: Option<&str>,
    ) -> Result<Vec<(String, String)>, StoreError>;
    /// The list rows of the candidatures to `formation` (in `state` only, if
    /// given), from the same index, in index order.
    fn rows_of(&self, formation: &str, state: Option<&str>) -> Result<Vec<Row>, StoreError>;
    /// The same rows handed to `each` one at a time, as they are read: a
    /// view over many rows keeps only those it needs.
    fn each_row_of(
        &self,
        formation: &str,
        state: Option<&str>,
        each: &mut dyn FnMut(Row),
    ) -> Result<(), StoreError> {
        self.rows_of(formation, state)?.into_iter().for_each(each);
        Ok(())
    }
    /// The rows of [`Store::each_row_of`] that hold each of `texts` as part
    /// of their search text, of a column's value or of a piece's status
    /// (not of their ids, which their place in the index gives), for a view
    /// that filters on them: a store may hand more rows than those, never
    /// fewer, and spares decoding the others. The caller checks each row it
    /// is handed. With [`RowParts::WithoutPieces`], a store may leave each
    /// row's [`Row::pieces`] empty.
    fn each_row_containing(
        &self,
        formation: &str,
        state: Option<&str>,
        texts: &[&str],
        parts: RowParts,
        each: &mut dyn FnMut(Row),
    ) -> Result<(), StoreError> {
        let _ = (texts, parts);
        self.each_row_of(formation, state, each)
    }
    /// The list row of candidature `candidature` of dossier `dossier`, to
    /// `formation` in `state`, if the index holds it: a long export keeps
    /// what orders its rows and reads each again as it writes it. With
    /// [`RowParts::WithoutPieces`], a store may leave [`Row::pieces`] empty.
    fn row(
        &self,
        formation: &str,
        state: &str,
        dossier: &str,
        candidature: &str,
        parts: RowParts,
    ) -> Result<Option<Row>, StoreError>;
    /// How many candidatures to `formation` are in `state`, from the index.
    fn count_of(&self, formation: &str, state: &str) -> Result<usize, StoreError>;
    /// How many candidatures to `formation` in `state` hold each option of
    /// each list column of choices: column id → option → count. A store
    /// that keeps these counts beside [`Store::count_of`]'s reads no row;
    /// this one tallies the rows.
    fn tallies_of(&self, formation: &str, state: &str) -> Result<Tallies, StoreError> {
        let mut tallies = Tallies::new();
        self.each_row_containing(
            formation,
            Some(state),
            &[],
            RowParts::WithoutPieces,
            &mut |row| {
                for (field, value) in row.columns {
                    if let Value::String(option) = value {
                        *tallies.entry(field).or_default().entry(option).or_default() += 1;
                    }
                }
            },
        )?;
        Ok(tallies)
    }
    /// The deadlines falling due at or before `until` (each at most a second
    /// late), from the index by due time, in time order. Handling one checks
    /// it against its dossier.
    fn due_entries(&self, until: jiff::Timestamp) -> Result<Vec<Due>, StoreError>;
    /// The waiting list of promotion rule `rule` in `formation`: (dossier,
    /// candidature, rank), best rank first, from the index.
    fn waiting_of(
        &self,
        rule: &str,
        formation: &str,
    ) -> Result<Vec<(String, String, f64)>, StoreError>;
    /// The same list handed to `each` one entry at a time, as read, until
    /// `each` returns `false`: a promotion reads the list's head only.
    fn each_waiting(
        &self,
        rule: &str,
        formation: &str,
        each: &mut dyn FnMut(String, String, f64) -> bool,
    ) -> Result<(), StoreError> {
        for (dossier, candidature, rank) in self.waiting_of(rule, formation)? {
            if !each(dossier, candidature, rank) {
                break;
            }
        }
        Ok(())
    }
    /// Writes the indexes again from every dossier, once (a store written by
    /// an earlier version); `indexed` gives what they hold of a dossier.
    fn build_index(
        &self,
        indexed: &dyn Fn(&Dossier) -> Result<Indexed, StoreError>,
    ) -> Result<(), StoreError>;
    /// The events of a dossier, oldest first. With
    /// [`EventParts::WithoutChanges`], each event's [`Event::changes`] is
    /// left empty.
    fn history(&self, id: &str, parts: EventParts) -> Result<Vec<Event>, StoreError>;
    /// The latest `count` events of a dossier that `kept` keeps, among
    /// those before version `before` (all of them when none), oldest
    /// first, each without its [`Event::changes`]: what a page showing the
    /// latest of a history, or one page of it, reads. A store that can read
    /// its events from the newest back does, so that the read does not
    /// grow with the history.
    fn latest_history(
        &self,
        id: &str,
        before: Option<u64>,
        count: usize,
        kept: &dyn Fn(&Event) -> bool,
    ) -> Result<Vec<Event>, StoreError> {
        let mut events = self.history(id, EventParts::WithoutChanges)?;
        events.retain(|event| before.is_none_or(|before| event.version < before) && kept(event));
        let older = events.len().saturating_sub(count);
        events.drain(..older);
        Ok(events)
    }
    /// Queues mails that belong to no dossier (an account's mails), durably.
    fn enqueue(&self, mails: &[OutboxMail]) -> Result<(), StoreError>;
    /// Mails waiting to be delivered, in the order they were queued: at
    /// most `limit` of those queued after `after` (from the first when
    /// none), read in that order from the store without sorting.
    fn outbox_page(
        &self,
        after: Option<&OutboxMail>,
        limit: usize,
    ) -> Result<Vec<OutboxMail>, StoreError>;
    /// Removes a delivered mail from the outbox.
    fn remove_from_outbox(&self, mail: &OutboxMail) -> Result<(), StoreError>;
}

/// The key of a mail in the outbox: a NUL byte (keys of an earlier form, a
/// mail's id alone, never start with one), the time it was queued in
/// nanoseconds (big-endian, its sign bit flipped so that times sort as
/// bytes), then its id. The outbox reads in the order mails were queued.
pub(crate) fn outbox_key(mail: &OutboxMail) -> Vec<u8> {
    let nanoseconds = (mail.queued_at.as_nanosecond() as u128) ^ (1 << 127);
    let mut key = Vec::with_capacity(17 + mail.id.len());
    key.push(0);
    key.extend_from_slice(&nanoseconds.to_be_bytes());
    key.extend_from_slice(mail.id.as_bytes());
    key
}
