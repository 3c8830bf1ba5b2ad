//! The embedded default store, on sled.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::{
    Arc, Condvar, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard,
};

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::write_set::{Guard, IndexKeys, Recorded, Target, WriteSet};
use super::{Commit, EventParts, Publication, RowParts, Store, StoreError, Tallies};
use crate::board::Row;
use crate::bundle::Bundle;
use crate::dossier::{Answers, Change, Dossier, Event, OutboxMail};
use crate::workflow::Due;

/// Dossiers, events, outbox and definitions in one sled database.
///
/// A commit writes the dossier, its event, its mails and its index entries
/// as one record first, then each of them (see [`super::write_set`]):
/// all-or-nothing across a crash, at the cost of one write to disk where a
/// sled transaction costs two. Writers take turns for
/// this (microseconds: nothing waits for the disk meanwhile); a reader may
/// see a command's index entries before its dossier, never the dossier
/// before the rest. Then the commit waits for a flush to disk: sled would
/// otherwise keep the write in memory for up to half a second. Concurrent
/// commits share flushes (group commit): whoever finds no flush running
/// starts one covering every write finished so far; the others wait for it,
/// or for the next one.
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
    /// The keys each dossier has in `by_formation` and `ordered`, to
    /// change them when it changes (see [`IndexKeys`]).
    index_keys: sled::Tree,
    /// The answers a candidature was sent with, by dossier and candidature
    /// ([`answers_key`]), while they differ from its dossier's own: an
    /// export reads these or the dossier's own for every candidature it
    /// lists, a fraction of the bytes of their dossiers, which sled would
    /// otherwise keep in memory by the hundred megabytes.
    answers: sled::Tree,
    /// Each dossier's own answers, by its id: what an export shows of a
    /// candidature not sent yet, without reading its dossier. Written in
    /// the same command as the dossier, whenever they change.
    own_answers: sled::Tree,
    /// The record of the command being written, while it is (see
    /// [`super::write_set`]).
    records: sled::Tree,
    writer: Mutex<Writer>,
    recent: RwLock<Recent>,
    tails: Mutex<Tails>,
    flush: Mutex<FlushState>,
    flushed: Condvar,
}

/// The turn of the one writer at a time.
#[derive(Default)]
struct Writer {
    /// A write stopped between its record and its last operation (the
    /// disk failed, or the writer panicked): its record is played again
    /// before the next write.
    half_written: bool,
    /// The last write's record is still stored. Played again, it would
    /// change nothing, so it is left for the next write to replace
    /// (sparing a removal per command); only a mail's removal would make it
    /// untrue (it would queue the mail again), so that removes it first.
    record_kept: bool,
}

/// The dossiers written last, as written, with their index keys: a
/// command nearly always changes a dossier its last command wrote, and
/// finds it here without decoding it. Only writers fill it, in their turn,
/// after the trees: it never holds a version older than the tree's.
#[derive(Default)]
struct Recent {
    dossiers: HashMap<String, (Arc<Dossier>, IndexKeys)>,
    /// Dossiers written once since they were last among `dossiers`: a
    /// copy is kept from a dossier's second write on. A candidate's
    /// dossier is written again and again; most dossiers a scheduler's
    /// pass or a member of staff writes are written once, and a copy of
    /// each would cost its making and its dropping for nothing.
    written_once: HashSet<String>,
}

impl Recent {
    /// How many dossiers (and ids written once) it holds at most (then
    /// it starts again, empty).
    const CAPACITY: usize = 1024;

    fn keep(&mut self, dossier: &Dossier, keys: IndexKeys) {
        if let Some(kept) = self.dossiers.get_mut(&dossier.id) {
            *kept = (Arc::new(dossier.clone()), keys);
            return;
        }
        if !self.written_once.remove(&dossier.id) {
            if self.written_once.len() >= Self::CAPACITY {
                self.written_once.clear();
            }
            self.written_once.insert(dossier.id.clone());
            return;
        }
        if self.dossiers.len() >= Self::CAPACITY {
            self.dossiers.clear();
        }
        self.dossiers
            .insert(dossier.id.clone(), (Arc::new(dossier.clone()), keys));
    }
}

/// The newest events of the dossiers whose history was read last, decoded
/// without their changes, oldest first. An event at or under its dossier's
/// stored version stays as it is (only a crash leaves one past it, which the
/// next write replaces), so a tail is only ever added to: a candidate's
/// dashboard reads the same latest events again and again, and after a
/// command only the event it added is decoded.
#[derive(Default)]
struct Tails {
    by_dossier: HashMap<String, Arc<Vec<Event>>>,
}

impl Tails {
    /// How many dossiers' tails it holds at most (then it starts again,
    /// empty).
    const DOSSIERS: usize = 512;
    /// How many of its newest events a dossier's tail holds: more than a
    /// dashboard shows, so that the events its reader leaves out (a staff
    /// member's notes) are read from here too.
    const EVENTS: u64 = 16;

    fn keep(&mut self, id: &str, tail: Arc<Vec<Event>>) {
        if self.by_dossier.len() >= Self::DOSSIERS && !self.by_dossier.contains_key(id) {
            self.by_dossier.clear();
        }
        self.by_dossier.insert(id.to_owned(), tail);
    }
}

/// The key of the record of the command being written.
const RECORD: &[u8] = b"being written";

#[derive(Default)]
struct FlushState {
    /// Number of writes finished (each takes a ticket).
    written: u64,
    /// Every write with a ticket up to this one is on disk.
    durable: u64,
    /// A flush is running.
    flushing: bool,
    /// Writers waiting for the running flush to end.
    waiting: usize,
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

/// The first byte of a dossier stored compressed: its JSON's length (four
/// bytes, little-endian) and its JSON compressed by LZ4 follow. A dossier
/// stored as plain JSON (by an earlier version, shorter than
/// [`COMPRESSED_FROM`], or where compressing did not make it shorter)
/// starts with `{`.
///
/// A dossier's JSON repeats its field names and statuses candidature after
/// candidature and piece after piece: compressed, it takes 2.1 times less
/// (docs/performance.md, thirty-third round), and sled, which keeps the
/// values it reads in memory, holds that much less for each dossier read.
/// Compressing 2.9 KB costs about 5 microseconds a write, decompressing
/// them under one a read, beside the JSON's decoding (about 18).
const COMPRESSED: u8 = 0;

/// The shortest dossier's JSON stored compressed. A dossier just made
/// (its candidate, no candidature yet: about 400 bytes) compresses by a few
/// per cent, not worth the few microseconds it adds to a durable command.
const COMPRESSED_FROM: usize = 1024;

/// LZ4 makes at most about 255 bytes of one (plus a few at the end); a
/// length claiming more is not one LZ4 wrote, and is refused before
/// anything that long is allocated.
const MOST_LZ4_EXPANDS: usize = 255;

fn encode_dossier(dossier: &Dossier) -> Result<Vec<u8>, StoreError> {
    let json = encode(dossier)?;
    if json.len() < COMPRESSED_FROM {
        return Ok(json);
    }
    let length = u32::try_from(json.len())
        .map_err(|_| corrupt("a dossier of more than 4 GiB cannot be stored"))?;
    let mut bytes = vec![0; 5 + lz4_flex::block::get_maximum_output_size(json.len())];
    bytes[0] = COMPRESSED;
    bytes[1..5].copy_from_slice(&length.to_le_bytes());
    let written = lz4_flex::block::compress_into(&json, &mut bytes[5..])
        .map_err(|e| corrupt(format!("a dossier could not be compressed: {e}")))?;
    if 5 + written >= json.len() {
        return Ok(json);
    }
    bytes.truncate(5 + written);
    Ok(bytes)
}

/// A dossier stored by [`encode_dossier`] (or a part of it: `T` may read
/// only some of its fields).
fn decode_dossier<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, StoreError> {
    match bytes.split_first() {
        Some((&COMPRESSED, packed)) => decode(&decompressed(packed)?),
        _ => decode(bytes),
    }
}

/// The JSON of a dossier stored compressed, given what follows its first
/// byte.
fn decompressed(packed: &[u8]) -> Result<Vec<u8>, StoreError> {
    let (length, compressed) = lz4_flex::block::uncompressed_size(packed)
        .map_err(|e| corrupt(format!("a compressed dossier is cut short: {e}")))?;
    if length > compressed.len().saturating_mul(MOST_LZ4_EXPANDS) + 16 {
        return Err(corrupt(format!(
            "a compressed dossier of {} bytes claims {length} bytes once decompressed",
            compressed.len()
        )));
    }
    lz4_flex::block::decompress(compressed, length)
        .map_err(|e| corrupt(format!("a compressed dossier is damaged: {e}")))
}

fn corrupt(why: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(serde::de::Error::custom(why))
}

/// The key of the answers candidature `candidature` of dossier `id` was
/// sent with.
fn answers_key(id: &str, candidature: &str) -> Vec<u8> {
    super::index_key(&[id, candidature])
}

/// The version of a stored dossier, without decoding the rest of it.
fn version_in(bytes: &[u8]) -> Result<u64, StoreError> {
    #[derive(serde::Deserialize)]
    struct Versioned {
        version: u64,
    }
    Ok(decode_dossier::<Versioned>(bytes)?.version)
}

/// A list row as the index stores it, under its key (formation, state,
/// dossier, candidature): the rest of it, as a JSON array. The ids are in
/// the key and the field names in this order, so a row takes a third less
/// than as an object (646 → 417 bytes on the admissions bench's rows), and
/// a list reads and decodes a third less.
type StoredRow<Pieces = BTreeMap<String, String>> = (
    String,
    String,
    String,
    Option<jiff::Timestamp>,
    jiff::Timestamp,
    u32,
    u32,
    Pieces,
    BTreeMap<String, serde_json::Value>,
    String,
);

fn encode_row(row: &Row) -> Result<Vec<u8>, StoreError> {
    encode(&(
        &row.last_name,
        &row.first_name,
        &row.email,
        &row.sent_at,
        &row.entered_state_at,
        row.provided,
        row.required,
        &row.pieces,
        &row.columns,
        &row.search,
    ))
}

fn decode_row(key: &[u8], bytes: &[u8], parts: RowParts) -> Result<Row, StoreError> {
    match parts {
        RowParts::Whole => row_of(key, decode::<StoredRow>(bytes)?, |pieces| pieces),
        // The pieces' ids and statuses skipped over, not built.
        RowParts::WithoutPieces => {
            let stored = decode::<StoredRow<serde::de::IgnoredAny>>(bytes)?;
            row_of(key, stored, |_| BTreeMap::new())
        }
    }
}

/// The row at index key `key`, whose value is `stored` with `pieces` read
/// from what it holds of them.
fn row_of<Pieces>(
    key: &[u8],
    stored: StoredRow<Pieces>,
    pieces: impl FnOnce(Pieces) -> BTreeMap<String, String>,
) -> Result<Row, StoreError> {
    let unexpected = || StoreError::Backend("an index key of an unexpected form".into());
    let key = std::str::from_utf8(key).map_err(|_| unexpected())?;
    let mut ids = key.split('\0').map(str::to_owned);
    let mut id = || ids.next().ok_or_else(unexpected);
    let (formation, state, dossier, candidature) = (id()?, id()?, id()?, id()?);
    let (
        last_name,
        first_name,
        email,
        sent_at,
        entered_state_at,
        provided,
        required,
        stored_pieces,
        columns,
        search,
    ) = stored;
    Ok(Row {
        dossier,
        candidature,
        formation,
        state,
        last_name,
        first_name,
        email,
        sent_at,
        entered_state_at,
        provided,
        required,
        pieces: pieces(stored_pieces),
        columns,
        search,
    })
}

/// `text` as it appears inside a JSON string (or number) holding it.
fn json_inside(text: &str) -> String {
    let quoted = serde_json::Value::from(text).to_string();
    quoted
        .strip_prefix('"')
        .and_then(|inner| inner.strip_suffix('"'))
        .unwrap_or_default()
        .to_owned()
}

fn event_key(dossier: &str, version: u64) -> Vec<u8> {
    let mut key = dossier.as_bytes().to_vec();
    key.push(0);
    key.extend_from_slice(&version.to_be_bytes());
    key
}

/// The first byte of an event as the store keeps it: then its description
/// (when, who, what was asked) as JSON, its length before it, then its
/// changes as JSON. A page reads the description alone, however many
/// changes the event made. Earlier stores kept the whole event as one JSON
/// object, whose first byte is `{`.
const DESCRIBED_THEN_CHANGES: u8 = 1;

/// What an event says happened, as the store keeps it: its dossier and its
/// version are its key, not repeated in its value.
#[derive(Serialize)]
struct StoredDescription<'a> {
    #[serde(serialize_with = "time_for_store")]
    at: &'a jiff::Timestamp,
    actor: &'a crate::dossier::Actor,
    #[serde(skip_serializing_if = "Option::is_none")]
    command: Option<&'a crate::dossier::Command>,
}

/// `event` as the store keeps it (see [`DESCRIBED_THEN_CHANGES`]).
fn encode_event(event: &Event) -> Result<Vec<u8>, StoreError> {
    let description = StoredDescription {
        at: &event.at,
        actor: &event.actor,
        command: event.command.as_ref(),
    };
    let mut bytes = Vec::with_capacity(256);
    bytes.push(DESCRIBED_THEN_CHANGES);
    // The description written in place, its length set once known.
    let length_at = bytes.len();
    bytes.extend_from_slice(&[0; 4]);
    let description_at = bytes.len();
    serde_json::to_writer(&mut bytes, &description).map_err(StoreError::Corrupt)?;
    let length = super::write_set::length_bytes(bytes.len() - description_at);
    bytes[length_at..description_at].copy_from_slice(&length);
    serde_json::to_writer(&mut bytes, &event.changes).map_err(StoreError::Corrupt)?;
    Ok(bytes)
}

/// An event's description as read back.
#[derive(serde::Deserialize)]
struct ReadDescription {
    #[serde(deserialize_with = "time_as_written")]
    at: jiff::Timestamp,
    actor: crate::dossier::Actor,
    #[serde(default)]
    command: Option<crate::dossier::Command>,
}

impl ReadDescription {
    /// The event, with the dossier and the version of its key, and
    /// `changes`.
    fn event(self, dossier: &str, version: u64, changes: Vec<Change>) -> Event {
        Event {
            dossier: dossier.to_owned(),
            version,
            at: self.at,
            actor: self.actor,
            command: self.command,
            changes,
        }
    }
}

/// An event's time as the store keeps it: a number of nanoseconds since
/// the Unix epoch, which reads in a fraction of the time RFC 3339 text
/// takes; as RFC 3339 text outside the years 1678 to 2261, beyond which
/// the number would not fit in 64 bits.
fn time_for_store<S: serde::Serializer>(
    at: &jiff::Timestamp,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match i64::try_from(at.as_nanosecond()) {
        Ok(nanoseconds) => serializer.serialize_i64(nanoseconds),
        Err(_) => serializer.collect_str(at),
    }
}

/// An event's time as [`time_for_store`] writes it, or as RFC 3339 text as
/// the stores before it kept every time.
fn time_as_written<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<jiff::Timestamp, D::Error> {
    struct Time;
    impl serde::de::Visitor<'_> for Time {
        type Value = jiff::Timestamp;

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a number of nanoseconds since the Unix epoch, or an RFC 3339 time")
        }

        fn visit_u64<E: serde::de::Error>(self, nanoseconds: u64) -> Result<Self::Value, E> {
            jiff::Timestamp::from_nanosecond(i128::from(nanoseconds)).map_err(E::custom)
        }

        fn visit_i64<E: serde::de::Error>(self, nanoseconds: i64) -> Result<Self::Value, E> {
            jiff::Timestamp::from_nanosecond(i128::from(nanoseconds)).map_err(E::custom)
        }

        fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Self::Value, E> {
            text.parse().map_err(E::custom)
        }
    }
    deserializer.deserialize_any(Time)
}

/// An event as earlier stores kept it, one JSON object (they kept its
/// dossier and version in it too: they are left unread), its changes as
/// `C`: skipped over as [`serde::de::IgnoredAny`] when the reader does
/// without them.
#[derive(serde::Deserialize)]
struct EarlierEvent<C> {
    at: jiff::Timestamp,
    actor: crate::dossier::Actor,
    #[serde(default)]
    command: Option<crate::dossier::Command>,
    changes: C,
}

impl<C> EarlierEvent<C> {
    fn split(self) -> (ReadDescription, C) {
        let description = ReadDescription {
            at: self.at,
            actor: self.actor,
            command: self.command,
        };
        (description, self.changes)
    }
}

/// The event stored as `bytes` under `dossier` and `version`, with the
/// parts `parts` names.
fn decode_event(
    bytes: &[u8],
    dossier: &str,
    version: u64,
    parts: EventParts,
) -> Result<Event, StoreError> {
    let (description, changes) = match bytes.split_first() {
        Some((&DESCRIBED_THEN_CHANGES, rest)) => {
            let (description, changes) = super::write_set::take_bytes(rest)
                .ok_or_else(|| corrupt("an event's description is cut short"))?;
            let changes = match parts {
                EventParts::Whole => decode(changes)?,
                EventParts::WithoutChanges => Vec::new(),
            };
            (decode::<ReadDescription>(description)?, changes)
        }
        _ => match parts {
            EventParts::Whole => decode::<EarlierEvent<Vec<Change>>>(bytes)?.split(),
            EventParts::WithoutChanges => {
                let (description, _) =
                    decode::<EarlierEvent<serde::de::IgnoredAny>>(bytes)?.split();
                (description, Vec::new())
            }
        },
    };
    Ok(description.event(dossier, version, changes))
}

/// How much one tree of the store holds (see [`SledStore::sizes`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeSize {
    /// The tree's name.
    pub name: String,
    /// How many entries it holds.
    pub entries: u64,
    /// Their keys' and values' bytes.
    pub bytes: u64,
}

impl SledStore {
    /// sled's page cache, in bytes: what a benchmark of bare sled sets to
    /// compare like with like.
    pub const CACHE_BYTES: u64 = 128 * 1024 * 1024;

    /// The key marking the indexes as this version builds them, raised
    /// whenever what they hold changes: a store without it has them
    /// written again, once, from the dossiers at its next opening.
    pub const INDEXES_BUILT: &'static str =
        "indexes: rows, counts, due times, waiting lists, answers, versions, options, files (version 14)";

    /// Opens (or creates) the store in directory `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        // sled's page cache would grow to 1 GB by default; the operating
        // system caches the file as well, so a smaller one costs little.
        let db = sled::Config::new()
            .path(path.as_ref())
            .cache_capacity(Self::CACHE_BYTES)
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
            index_keys: tree("index_keys_by_dossier")?,
            answers: tree("answers_sent_by_candidature")?,
            own_answers: tree("answers_own_by_dossier")?,
            records: tree("command_being_written")?,
            db,
            writer: Mutex::new(Writer::default()),
            recent: RwLock::new(Recent::default()),
            tails: Mutex::new(Tails::default()),
            flush: Mutex::new(FlushState::default()),
            flushed: Condvar::new(),
        };
        if store.replay()? {
            store.make_durable()?;
        }
        store.order_outbox()?;
        Ok(store)
    }

    /// Writes every dossier stored compressed as plain JSON again, as
    /// versions of Guichet from before dossiers were compressed read them
    /// (`guichet downgrade`, before rolling back to one); returns how many
    /// were. Later writes compress them again.
    pub fn write_dossiers_plain(&self) -> Result<usize, StoreError> {
        let _turn = self.writer()?;
        let mut written = 0;
        for entry in self.dossiers.iter() {
            let (id, bytes) = entry.map_err(backend)?;
            if let Some((&COMPRESSED, packed)) = bytes.split_first() {
                self.dossiers
                    .insert(id, decompressed(packed)?)
                    .map_err(backend)?;
                written += 1;
            }
        }
        self.make_durable()?;
        Ok(written)
    }

    /// The turn to write. A write that stopped half-way is finished first.
    fn writer(&self) -> Result<MutexGuard<'_, Writer>, StoreError> {
        let mut writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        if writer.half_written {
            self.recent_mut().dossiers.clear();
            self.replay()?;
            writer.half_written = false;
            writer.record_kept = false;
        }
        Ok(writer)
    }

    // What `recent` holds is whole at every step: a panic cannot leave it
    // half-changed. Pages read it in parallel; writers change it briefly.
    fn recent(&self) -> RwLockReadGuard<'_, Recent> {
        self.recent.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn recent_mut(&self) -> RwLockWriteGuard<'_, Recent> {
        self.recent.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Plays again the last write's record, if one is stored and a crash
    /// may have cut its write short, then removes it: whether it was played.
    fn replay(&self) -> Result<bool, StoreError> {
        let Some(record) = self.records.get(RECORD).map_err(backend)? else {
            return Ok(false);
        };
        let set = match Recorded::from_bytes(&record) {
            Some(Recorded::Operations(set)) => set,
            Some(Recorded::OwnAnswersOf(id)) => {
                self.write_own_answers_again(&id)?;
                self.records.remove(RECORD).map_err(backend)?;
                return Ok(true);
            }
            None => {
                return Err(StoreError::Backend(
                    "the record of a command being written is unreadable".into(),
                ))
            }
        };
        // Its last dossier stored at its version or a later one: the write
        // was whole, and later writes without a record may have changed
        // what it would set back.
        let landed = match set.last_dossier() {
            Some((id, bytes)) => {
                let id = std::str::from_utf8(id).map_err(backend)?;
                self.version_of(id)? >= version_in(bytes)?
            }
            None => false,
        };
        if !landed {
            self.apply(&set)?;
        }
        self.records.remove(RECORD).map_err(backend)?;
        Ok(!landed)
    }

    /// Writes `set`'s record (replacing the last one), then its operations;
    /// or its operations alone when no crash can cut them wrong; or, when
    /// only its dossier's own answers could be left ahead of it, the
    /// dossier's id first (see [`WriteSet::guard`]).
    fn write_through(&self, writer: &mut Writer, set: &WriteSet) -> Result<(), StoreError> {
        let (guard, kept) = match set.guard() {
            Guard::Nothing => return self.apply(set),
            Guard::OwnAnswersOf(id) => (Recorded::own_answers_of(id), false),
            Guard::Record => (set.record(), true),
        };
        writer.half_written = true;
        self.records.insert(RECORD, guard).map_err(backend)?;
        writer.record_kept = kept;
        self.apply(set)?;
        writer.half_written = false;
        Ok(())
    }

    /// Writes dossier `id`'s own answers again from the dossier as stored
    /// (removes them if it is not): a crash may have cut the command that
    /// wrote them before its dossier.
    fn write_own_answers_again(&self, id: &[u8]) -> Result<(), StoreError> {
        #[derive(serde::Deserialize)]
        struct Profile {
            profile: Answers,
        }
        match self.dossiers.get(id).map_err(backend)? {
            Some(bytes) => {
                let profile = decode_dossier::<Profile>(&bytes)?.profile;
                self.own_answers.insert(id, encode(&profile)?).map(drop)
            }
            None => self.own_answers.remove(id).map(drop),
        }
        .map_err(backend)
    }

    /// The version of dossier `id` as stored (0: none), without decoding
    /// the rest of it.
    fn version_of(&self, id: &str) -> Result<u64, StoreError> {
        match self.dossiers.get(id).map_err(backend)? {
            Some(bytes) => version_in(&bytes),
            None => Ok(0),
        }
    }

    /// The version of dossier `id` as the last write left it: from the
    /// dossiers written last if it is one, else from its tree.
    fn stored_version(&self, id: &str) -> Result<u64, StoreError> {
        match self.recent().dossiers.get(id) {
            Some((dossier, _)) => Ok(dossier.version),
            None => self.version_of(id),
        }
    }

    /// The newest events of dossier `id`, whose stored version is `stored`
    /// (at most [`Tails::EVENTS`], oldest first, without their changes):
    /// those held already, and the ones written since read and added.
    fn tail(&self, id: &str, stored: u64) -> Result<Arc<Vec<Event>>, StoreError> {
        let held = self
            .tails
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .by_dossier
            .get(id)
            .cloned();
        let newest_from = stored.saturating_sub(Tails::EVENTS - 1).max(1);
        let mut events = Vec::new();
        let mut from = newest_from;
        if let Some(held) = held {
            match held.last().map(|event| event.version) {
                Some(last) if last == stored => return Ok(held),
                Some(last) if last < stored => {
                    let kept = held.iter().filter(|event| event.version >= newest_from);
                    events.extend(kept.cloned());
                    from = from.max(last + 1);
                }
                // Nothing held, or more than the store holds now: read afresh.
                _ => {}
            }
        }
        if from <= stored {
            for event in self.events_in(id, from..=stored, EventParts::WithoutChanges) {
                events.push(event?);
            }
        }
        let tail = Arc::new(events);
        self.tails
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .keep(id, Arc::clone(&tail));
        Ok(tail)
    }

    /// The events of dossier `id` whose versions are in `versions`, with
    /// the parts `parts`, oldest first, decoded as they are read.
    fn events_in<'a>(
        &'a self,
        id: &'a str,
        versions: std::ops::RangeInclusive<u64>,
        parts: EventParts,
    ) -> impl Iterator<Item = Result<Event, StoreError>> + 'a {
        let keys = event_key(id, *versions.start())..=event_key(id, *versions.end());
        let versions_at = id.len() + 1;
        self.events.range(keys).map(move |entry| {
            let (key, value) = entry.map_err(backend)?;
            let version = key
                .get(versions_at..)
                .and_then(|bytes| <[u8; 8]>::try_from(bytes).ok())
                .map(u64::from_be_bytes)
                .ok_or_else(|| StoreError::Backend("an event key of an unexpected form".into()))?;
            decode_event(&value, id, version, parts)
        })
    }

    /// The keys the indexes hold of dossier `id`.
    fn index_keys_of(&self, id: &str) -> Result<IndexKeys, StoreError> {
        match self.index_keys.get(id).map_err(backend)? {
            Some(bytes) => IndexKeys::from_bytes(&bytes).ok_or_else(|| {
                StoreError::Backend(
                    format!("the index keys of dossier `{id}` are unreadable").into(),
                )
            }),
            None => Ok(IndexKeys::default()),
        }
    }

    fn apply(&self, set: &WriteSet) -> Result<(), StoreError> {
        for operation in &set.operations {
            let tree = match operation.target {
                Target::Dossiers => &self.dossiers,
                Target::Events => &self.events,
                Target::Outbox => &self.outbox,
                Target::ByFormation => &self.by_formation,
                Target::Ordered => &self.ordered,
                Target::IndexKeys => &self.index_keys,
                Target::Answers => &self.answers,
                Target::OwnAnswers => &self.own_answers,
            };
            let key = operation.key.as_slice();
            match &operation.value {
                Some(value) => tree.insert(key, value.as_slice()).map(drop),
                None => tree.remove(key).map(drop),
            }
            .map_err(backend)?;
        }
        Ok(())
    }

    /// What `commits` write, as operations, after every dossier's version
    /// is checked: nothing is written when one is stale; with each commit's
    /// index keys. Called in the writer's turn, so that what it reads stays
    /// true until written.
    fn write_set(&self, commits: &[Commit]) -> Result<(WriteSet, Vec<IndexKeys>), StoreError> {
        // The same dossier twice: the first write is what the second changes.
        let earlier = |n: usize| {
            let id = &commits[n].dossier.id;
            commits[..n].iter().rev().find(|c| &c.dossier.id == id)
        };
        for (n, commit) in commits.iter().enumerate() {
            let found = match earlier(n) {
                Some(written) => written.dossier.version,
                None => self.stored_version(&commit.dossier.id)?,
            };
            if found != commit.expected_version {
                return Err(StoreError::Conflict {
                    dossier: commit.dossier.id.clone(),
                    expected: commit.expected_version,
                    found,
                });
            }
        }
        let mut set = WriteSet::default();
        // Each count touched: as stored, and as these commits leave it.
        let mut counts: BTreeMap<Vec<u8>, (u64, u64)> = BTreeMap::new();
        let mut all_keys = Vec::with_capacity(commits.len());
        for (n, commit) in commits.iter().enumerate() {
            let id = commit.dossier.id.as_str();
            set.insert(
                Target::Events,
                event_key(id, commit.event.version),
                encode_event(&commit.event)?,
            );
            for mail in &commit.mails {
                set.insert(Target::Outbox, super::outbox_key(mail), encode(mail)?);
            }
            let recent = self.recent().dossiers.get(id).map(|(_, keys)| keys.clone());
            let before = match (earlier(n), recent) {
                (Some(written), _) => IndexKeys::of(&written.indexed),
                (None, Some(keys)) => keys,
                (None, None) => self.index_keys_of(id)?,
            };
            let after = IndexKeys::of(&commit.indexed);
            for key in before.rows.iter().filter(|key| !after.rows.contains(key)) {
                set.remove(Target::ByFormation, key.as_slice());
            }
            for (key, row) in after.rows.iter().zip(&commit.indexed.rows) {
                let bytes = encode_row(row)?;
                // A row as stored is left alone: a command that changes no
                // index then needs no record (`WriteSet::guard`).
                let stored = earlier(n).is_none()
                    && before.rows.contains(key)
                    && self.by_formation.get(key).map_err(backend)?.as_deref() == Some(&bytes[..]);
                if !stored {
                    set.insert(Target::ByFormation, key.as_slice(), bytes);
                }
            }
            let mut changes = super::count_changes(&before.rows, &commit.indexed.rows);
            // A version's or an option's key moves its count; it is kept
            // with the dossier's index keys only, as nothing reads it in
            // the tree.
            for key in before.ordered.iter().filter(|k| !after.ordered.contains(k)) {
                match super::count_moved_by(key) {
                    Some(count) => changes.push((count, -1)),
                    None => set.remove(Target::Ordered, key.as_slice()),
                }
            }
            for key in after.ordered.iter().filter(|k| !before.ordered.contains(k)) {
                match super::count_moved_by(key) {
                    Some(count) => changes.push((count, 1)),
                    None => set.insert(Target::Ordered, key.as_slice(), Vec::new()),
                }
            }
            for (key, change) in changes {
                let (stored, count) = match counts.get(&key) {
                    Some(&counted) => counted,
                    None => {
                        let stored = self.ordered.get(&key).map_err(backend)?;
                        let stored = super::count_value(stored.as_deref());
                        (stored, stored)
                    }
                };
                counts.insert(key, (stored, count.saturating_add_signed(change)));
            }
            if after != before {
                set.insert(Target::IndexKeys, id, after.bytes());
            }
            // A sent copy is kept apart only while the dossier's own
            // answers differ from it: most candidates change nothing after
            // sending, and an export then reads their own answers alone.
            for candidature in &commit.dossier.candidatures {
                let Some(sent) = &candidature.sent else {
                    continue;
                };
                let key = answers_key(id, &candidature.id);
                let kept = (sent.profile != commit.dossier.profile)
                    .then(|| encode(&sent.profile))
                    .transpose()?;
                let stored = match earlier(n) {
                    Some(_) => None,
                    None => Some(self.answers.get(&key).map_err(backend)?),
                };
                if stored.is_some_and(|stored| stored.as_deref() == kept.as_deref()) {
                    continue;
                }
                match kept {
                    Some(bytes) => set.insert(Target::Answers, key, bytes),
                    None => set.remove(Target::Answers, key),
                }
            }
            all_keys.push(after);
        }
        // A place passed on within a formation (a withdrawal with its
        // promotion) leaves its count as it was: not written again.
        for (key, (stored, count)) in counts {
            if count != stored {
                set.insert(Target::Ordered, key, count.to_be_bytes());
            }
        }
        // Just before the dossiers, so that a section saved needs only its
        // dossier's id stored first (`WriteSet::guard`).
        for (n, commit) in commits.iter().enumerate() {
            let profile = &commit.dossier.profile;
            let id = commit.dossier.id.as_str();
            // Compared with the copy last written if there is one, else
            // with the stored bytes (encoded once for both).
            let same_as_last = match earlier(n) {
                Some(written) => Some(&written.dossier.profile == profile),
                None => self
                    .recent()
                    .dossiers
                    .get(id)
                    .map(|(recent, _)| &recent.profile == profile),
            };
            match same_as_last {
                Some(true) => {}
                Some(false) => set.insert(Target::OwnAnswers, id, encode(profile)?),
                None => {
                    let bytes = encode(profile)?;
                    let stored = self.own_answers.get(id).map_err(backend)?;
                    if stored.as_deref() != Some(&bytes[..]) {
                        set.insert(Target::OwnAnswers, id, bytes);
                    }
                }
            }
        }
        // The dossiers last: whoever reads a dossier's new version finds
        // its event and index entries written.
        for commit in commits {
            set.insert(
                Target::Dossiers,
                commit.dossier.id.as_str(),
                encode_dossier(&commit.dossier)?,
            );
        }
        Ok((set, all_keys))
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

    /// What each tree holds, by name: its entries and their bytes (keys and
    /// values, before sled's own overhead); see [`SledStore::size_on_disk`].
    pub fn sizes(&self) -> Result<Vec<TreeSize>, StoreError> {
        let mut sizes = Vec::new();
        for name in self.db.tree_names() {
            let tree = self.db.open_tree(&name).map_err(backend)?;
            let mut size = TreeSize {
                name: String::from_utf8_lossy(&name).into_owned(),
                entries: 0,
                bytes: 0,
            };
            for entry in tree.iter() {
                let (key, value) = entry.map_err(backend)?;
                size.entries += 1;
                size.bytes += (key.len() + value.len()) as u64;
            }
            sizes.push(size);
        }
        Ok(sizes)
    }

    /// The store's files' size on disk, in bytes.
    pub fn size_on_disk(&self) -> Result<u64, StoreError> {
        self.db.size_on_disk().map_err(backend)
    }

    /// Writes everything to disk (commits already are; this is for shutdown).
    pub fn flush(&self) -> Result<(), StoreError> {
        self.db.flush().map(|_| ()).map_err(backend)
    }

    /// For a server stopping, once its writers are done: removes, in a
    /// writer's turn, the last command's record (or the id stored before a
    /// dossier's own answers), then writes everything to disk. Only a crash
    /// needs the record, and an earlier version of the store, one a server
    /// may be rolled back to, cannot read the forms it does not know.
    pub fn shut_down(&self) -> Result<(), StoreError> {
        let mut writer = self.writer()?;
        self.records.remove(RECORD).map_err(backend)?;
        writer.record_kept = false;
        drop(writer);
        self.flush()
    }

    /// Every dossier as stored, (id, bytes), in id order, read so that sled
    /// lets go of their pages as it goes. sled counts the accesses to its
    /// pages in queues of 64 per shard, over 256 shards, and evicts only
    /// when a shard's queue is full; a tree's iterator touches each page
    /// once, so a pass over every dossier (whose pages hold at most 16 of
    /// them) held every page it read, whatever the cache's size: 332 MB
    /// for 100,000 dossiers with a cache of 128 MiB. Each dossier's page is
    /// touched again by its key, the queues fill, and sled evicts: 173 MB,
    /// no slower; in the server, an editor's preview reading every dossier
    /// peaked at 259–266 MB instead of 431 MB (docs/performance.md,
    /// twenty-eighth round). Touched four or sixteen times, the peak was
    /// barely lower and the pass slower.
    fn each_dossier_bytes(
        &self,
        each: &mut dyn FnMut(sled::IVec, sled::IVec) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        for entry in self.dossiers.iter() {
            let (id, bytes) = entry.map_err(backend)?;
            self.dossiers.contains_key(&id).map_err(backend)?;
            each(id, bytes)?;
        }
        Ok(())
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
                // A wake-up is a system call even when nobody waits: a
                // writer alone would make one per command.
                if state.waiting > 0 {
                    self.flushed.notify_all();
                }
                result.map_err(backend)?;
            } else {
                state.waiting += 1;
                state = self.flushed.wait(state).map_err(poisoned)?;
                state.waiting -= 1;
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
        let mut writer = self.writer()?;
        let (set, keys) = self.write_set(commits)?;
        self.write_through(&mut writer, &set)?;
        let mut recent = self.recent_mut();
        for (commit, keys) in commits.iter().zip(keys) {
            recent.keep(&commit.dossier, keys);
        }
        Ok(())
    }

    fn dossier(&self, id: &str) -> Result<Option<Arc<Dossier>>, StoreError> {
        if let Some((dossier, _)) = self.recent().dossiers.get(id) {
            return Ok(Some(Arc::clone(dossier)));
        }
        match self.dossiers.get(id).map_err(backend)? {
            Some(bytes) => decode_dossier(&bytes).map(|dossier| Some(Arc::new(dossier))),
            None => Ok(None),
        }
    }

    fn answers_of(&self, id: &str, candidature: &str) -> Result<Option<Answers>, StoreError> {
        if let Some((dossier, _)) = self.recent().dossiers.get(id) {
            return Ok(Some(dossier.answers_of(candidature).clone()));
        }
        if let Some(sent) = self
            .answers
            .get(answers_key(id, candidature))
            .map_err(backend)?
        {
            return decode(&sent).map(Some);
        }
        // Not sent (or not one of its candidatures), or sent with the
        // dossier's own answers as they are.
        match self.own_answers.get(id).map_err(backend)? {
            Some(own) => decode(&own).map(Some),
            None => Ok(None),
        }
    }

    fn dossiers(&self) -> Result<Vec<Dossier>, StoreError> {
        let mut dossiers = Vec::new();
        self.each_dossier(&mut |dossier| dossiers.push(dossier))?;
        Ok(dossiers)
    }

    fn dossiers_per_version(&self) -> Result<BTreeMap<String, usize>, StoreError> {
        let mut counts = BTreeMap::new();
        for entry in self.ordered.scan_prefix([super::VERSION_COUNT_PREFIX]) {
            let (key, value) = entry.map_err(backend)?;
            let hash = std::str::from_utf8(&key[1..]).map_err(backend)?;
            let count = usize::try_from(super::count_value(Some(&value))).unwrap_or(usize::MAX);
            if count > 0 {
                counts.insert(hash.to_owned(), count);
            }
        }
        Ok(counts)
    }

    fn files_held(&self, piece: &str) -> Result<usize, StoreError> {
        let stored = self
            .ordered
            .get(super::file_count_key(piece))
            .map_err(backend)?;
        Ok(usize::try_from(super::count_value(stored.as_deref())).unwrap_or(usize::MAX))
    }

    fn each_own_answers(&self, each: &mut dyn FnMut(Answers)) -> Result<(), StoreError> {
        for entry in self.own_answers.iter() {
            let (_, bytes) = entry.map_err(backend)?;
            each(decode(&bytes)?);
        }
        Ok(())
    }

    fn each_dossier(&self, each: &mut dyn FnMut(Dossier)) -> Result<(), StoreError> {
        self.each_dossier_bytes(&mut |_, bytes| {
            each(decode_dossier(&bytes)?);
            Ok(())
        })
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
        let mut rows = Vec::new();
        self.each_row_of(formation, state, &mut |row| rows.push(row))?;
        Ok(rows)
    }

    fn each_row_of(
        &self,
        formation: &str,
        state: Option<&str>,
        each: &mut dyn FnMut(Row),
    ) -> Result<(), StoreError> {
        self.each_row_containing(formation, state, &[], RowParts::Whole, each)
    }

    fn row(
        &self,
        formation: &str,
        state: &str,
        dossier: &str,
        candidature: &str,
        parts: RowParts,
    ) -> Result<Option<Row>, StoreError> {
        let key = super::index_key(&[formation, state, dossier, candidature]);
        match self.by_formation.get(&key).map_err(backend)? {
            Some(bytes) => decode_row(&key, &bytes, parts).map(Some),
            None => Ok(None),
        }
    }

    fn each_row_containing(
        &self,
        formation: &str,
        state: Option<&str>,
        texts: &[&str],
        parts: RowParts,
        each: &mut dyn FnMut(Row),
    ) -> Result<(), StoreError> {
        // A text inside a value is inside the value's JSON, escaped the
        // same way: rows whose bytes lack it are not decoded (most of a
        // formation's rows, for a name searched or a decision filtered).
        let finders: Vec<memchr::memmem::Finder<'static>> = texts
            .iter()
            .map(|text| memchr::memmem::Finder::new(json_inside(text).as_bytes()).into_owned())
            .collect();
        let prefix = super::index_prefix(formation, state);
        for entry in self.by_formation.scan_prefix(prefix) {
            let (key, bytes) = entry.map_err(backend)?;
            if finders.iter().all(|finder| finder.find(&bytes).is_some()) {
                each(decode_row(&key, &bytes, parts)?);
            }
        }
        Ok(())
    }

    fn count_of(&self, formation: &str, state: &str) -> Result<usize, StoreError> {
        let key = super::count_key(formation, state);
        let count = self.ordered.get(key).map_err(backend)?;
        Ok(usize::try_from(super::count_value(count.as_deref())).unwrap_or(usize::MAX))
    }

    fn tallies_of(&self, formation: &str, state: &str) -> Result<Tallies, StoreError> {
        let prefix = super::tally_count_prefix(formation, state);
        let mut tallies = Tallies::new();
        for entry in self.ordered.scan_prefix(&prefix) {
            let (key, value) = entry.map_err(backend)?;
            let count = usize::try_from(super::count_value(Some(&value))).unwrap_or(usize::MAX);
            if count == 0 {
                continue;
            }
            let (field, option) = super::tally_of_count_key(&key, prefix.len())
                .ok_or_else(|| StoreError::Backend("a count key of an unexpected form".into()))?;
            tallies.entry(field).or_default().insert(option, count);
        }
        Ok(tallies)
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
        let mut list = Vec::new();
        self.each_waiting(rule, formation, &mut |dossier, candidature, rank| {
            list.push((dossier, candidature, rank));
            true
        })?;
        Ok(list)
    }

    fn each_waiting(
        &self,
        rule: &str,
        formation: &str,
        each: &mut dyn FnMut(String, String, f64) -> bool,
    ) -> Result<(), StoreError> {
        let prefix = super::waiting_prefix(rule, formation);
        for key in self.ordered.scan_prefix(&prefix).keys() {
            if let Some((dossier, candidature, rank)) =
                super::waiting_entry(&key.map_err(backend)?, prefix.len())
            {
                if !each(dossier, candidature, rank) {
                    break;
                }
            }
        }
        Ok(())
    }

    fn build_index(
        &self,
        indexed: &dyn Fn(&Dossier) -> Result<super::Indexed, StoreError>,
    ) -> Result<(), StoreError> {
        const BUILT: &[u8] = SledStore::INDEXES_BUILT.as_bytes();
        // Earlier versions' markers, removed once this version's indexes are
        // built: one found beside this marker says a server of that version
        // ran on the store since (rolled back to), writing commands that
        // kept this version's indexes as it knew them, so they are built
        // again.
        const EARLIER: [&[u8]; 12] = [
            b"index built",
            b"indexes with rows and due times, version 2",
            b"indexes: rows, due times, waiting lists (version 3)",
            b"indexes: rows, counts, due times, waiting lists (version 4)",
            b"indexes: rows, counts, due times, waiting lists (version 5)",
            b"indexes: rows, counts, due times, waiting lists (version 6)",
            b"indexes: rows, counts, due times, waiting lists (version 7)",
            b"indexes: rows, counts, due times, waiting lists, answers sent (version 8)",
            b"indexes: rows, counts, due times, waiting lists, answers (version 9)",
            b"indexes: rows, counts, due times, waiting lists, answers (version 10)",
            b"indexes: rows, counts, due times, waiting lists, answers, versions (version 11)",
            b"indexes: rows, counts, due times, waiting lists, answers, versions (version 12)",
        ];
        let mut rolled_back = false;
        for earlier in EARLIER {
            rolled_back |= self.db.contains_key(earlier).map_err(backend)?;
        }
        if self.db.contains_key(BUILT).map_err(backend)? && !rolled_back {
            return Ok(());
        }
        // Version 13: the count of candidatures holding each option of a
        // list column, by formation and state (prefix `O`), each
        // candidature's options among its dossier's index keys (prefix `o`).
        // Version 12: the count of dossiers on each version (prefix `V`),
        // each dossier's version among its index keys (prefix `v`).
        // Version 11: each dossier's version key in `ordered` too.
        // Version 10: a row's search text heads with its sorted name.
        // Version 9: each dossier's own answers apart, a sent copy only
        // where it differs.
        // Version 8: the answers each candidature was sent with, apart.
        // Version 7: a row without its ids, as an array (`encode_row`).
        // Version 6: a row's search text holds its names, folded. Before
        // version 5, each dossier's keys in `ordered` alone, as JSON.
        self.db
            .drop_tree("ordered_keys_by_dossier")
            .map_err(backend)?;
        for tree in [
            &self.by_formation,
            &self.ordered,
            &self.index_keys,
            &self.answers,
            &self.own_answers,
        ] {
            tree.clear().map_err(backend)?;
        }
        // The counts moved by keys kept among the dossiers' index keys
        // alone (versions, options), by the count's key.
        let mut moved: BTreeMap<Vec<u8>, u64> = BTreeMap::new();
        self.each_dossier_bytes(&mut |id, bytes| {
            let dossier = decode_dossier::<Dossier>(&bytes)?;
            self.own_answers
                .insert(&id, encode(&dossier.profile)?)
                .map_err(backend)?;
            for candidature in &dossier.candidatures {
                if let Some(sent) = candidature
                    .sent
                    .as_ref()
                    .filter(|sent| sent.profile != dossier.profile)
                {
                    self.answers
                        .insert(
                            answers_key(&dossier.id, &candidature.id),
                            encode(&sent.profile)?,
                        )
                        .map_err(backend)?;
                }
            }
            let indexed = indexed(&dossier)?;
            let keys = IndexKeys::of(&indexed);
            for (key, row) in keys.rows.iter().zip(&indexed.rows) {
                self.by_formation
                    .insert(key.as_slice(), encode_row(row)?)
                    .map_err(backend)?;
            }
            for (key, change) in super::count_changes(&[], &indexed.rows) {
                let count = super::count_value(self.ordered.get(&key).map_err(backend)?.as_deref());
                let count = count.saturating_add_signed(change);
                self.ordered
                    .insert(key, count.to_be_bytes().as_slice())
                    .map_err(backend)?;
            }
            for key in &keys.ordered {
                match super::count_moved_by(key) {
                    Some(count) => *moved.entry(count).or_insert(0u64) += 1,
                    None => {
                        self.ordered.insert(key.as_slice(), &[]).map_err(backend)?;
                    }
                }
            }
            self.index_keys.insert(id, keys.bytes()).map_err(backend)?;
            Ok(())
        })?;
        for (key, count) in moved {
            self.ordered
                .insert(key, count.to_be_bytes().as_slice())
                .map_err(backend)?;
        }
        for earlier in EARLIER {
            self.db.remove(earlier).map_err(backend)?;
        }
        self.db.insert(BUILT, &[]).map_err(backend)?;
        self.make_durable()
    }

    fn history(&self, id: &str, parts: EventParts) -> Result<Vec<Event>, StoreError> {
        // An event past the dossier's version is that of a write a crash
        // cut before its dossier (see `WriteSet::guard`).
        let stored = self.stored_version(id)?;
        self.events_in(id, 0..=stored, parts).collect()
    }

    fn latest_history(
        &self,
        id: &str,
        before: Option<u64>,
        count: usize,
        kept: &dyn Fn(&Event) -> bool,
    ) -> Result<Vec<Event>, StoreError> {
        let mut latest: Vec<Event> = Vec::new();
        let stored = self.stored_version(id)?;
        let mut upto = stored;
        if let Some(before) = before {
            match before.checked_sub(1) {
                Some(last) => upto = upto.min(last),
                None => return Ok(latest),
            }
        }
        // The newest events from the dossier's tail, when the page starts
        // among them.
        if count > 0 && stored > 0 && upto + Tails::EVENTS > stored {
            let tail = self.tail(id, stored)?;
            let newest = tail.iter().rev();
            let shown = newest.filter(|event| event.version <= upto && kept(event));
            latest.extend(shown.take(count).cloned());
            latest.reverse();
            match tail.first() {
                Some(oldest) if oldest.version > 1 => upto = upto.min(oldest.version - 1),
                _ => return Ok(latest),
            }
        }
        // Then forward, a window of versions at a time from the newest back:
        // sled's backward iteration copies a node at each step (the latest
        // ten of thirty events took 12.9 µs backward, 9.5 µs so).
        while latest.len() < count {
            let wanted = (count - latest.len()) as u64;
            let from = upto.saturating_sub(wanted - 1);
            let mut window = Vec::new();
            for event in self.events_in(id, from..=upto, EventParts::WithoutChanges) {
                let event = event?;
                if kept(&event) {
                    window.push(event);
                }
            }
            window.append(&mut latest);
            latest = window;
            if from == 0 {
                break;
            }
            upto = from - 1;
        }
        Ok(latest)
    }

    fn enqueue(&self, mails: &[OutboxMail]) -> Result<(), StoreError> {
        let mut set = WriteSet::default();
        for mail in mails {
            set.insert(Target::Outbox, super::outbox_key(mail), encode(mail)?);
        }
        self.write_through(&mut *self.writer()?, &set)?;
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
        // In a writer's turn, the last record removed first: played again
        // when the store opens, it would queue this mail again.
        let mut writer = self.writer()?;
        if writer.record_kept {
            self.records.remove(RECORD).map_err(backend)?;
            writer.record_kept = false;
        }
        self.outbox
            .remove(super::outbox_key(mail))
            .map_err(backend)?;
        drop(writer);
        self.make_durable()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Indexed;
    use serde_json::json;

    /// The store in `path` opened again: sled's threads may hold its lock
    /// for a moment after the last one is dropped.
    fn reopened(path: &Path) -> SledStore {
        for _ in 0..100 {
            if let Ok(store) = SledStore::open(path) {
                return store;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        SledStore::open(path).expect("opened again")
    }

    fn at(text: &str) -> jiff::Timestamp {
        text.parse().expect("a timestamp")
    }

    /// The keys kept among a dossier's index keys alone name the count
    /// they move; an option's count key gives back its column and option.
    #[test]
    fn a_key_kept_with_its_dossier_alone_moves_its_count() {
        use crate::store::{
            count_moved_by, tally_count_key, tally_count_prefix, tally_key, tally_of_count_key,
            version_count_key, version_key,
        };
        let option = tally_key("m1", "decided", "decision", "yes", "c2");
        let count = tally_count_key("m1", "decided", "decision", "yes");
        assert_eq!(count_moved_by(&option), Some(count.clone()));
        let prefix = tally_count_prefix("m1", "decided");
        assert!(count.starts_with(&prefix));
        assert_eq!(
            tally_of_count_key(&count, prefix.len()),
            Some(("decision".to_owned(), "yes".to_owned()))
        );
        assert_eq!(
            count_moved_by(&version_key("hash", "d1")),
            Some(version_count_key("hash"))
        );
        assert_eq!(
            count_moved_by(&crate::store::file_key("diploma", "c2")),
            Some(crate::store::file_count_key("diploma"))
        );
        // Due times and waiting lists are in the ordered tree itself.
        let due = Due {
            dossier: "d1".into(),
            candidature: "c1".into(),
            deadline: "reminder".into(),
            at: at("2027-04-01T00:00:00Z"),
        };
        assert_eq!(count_moved_by(&crate::store::due_key(&due)), None);
    }

    /// Version `version` of dossier `d1`, with one candidature in `state`
    /// (its list row, its count) and one deadline falling due at `due`.
    fn commit(version: u64, state: &str, due: &str) -> Commit {
        commit_of("d1", version, state, due)
    }

    /// [`commit`] of dossier `id`.
    fn commit_of(id: &str, version: u64, state: &str, due: &str) -> Commit {
        let dossier: Dossier = serde_json::from_value(json!({
            "id": id, "version": version, "definition": "hash", "owner": "owner",
            "candidate": {"last_name": "Martin", "first_name": "Alex", "email": "c@example.org"},
            "language": "fr", "created_at": "2027-03-10T09:00:00Z", "profile": {},
            "candidatures": [{
                "id": "c1", "formation": "m1", "state": state,
                "created_at": "2027-03-10T09:00:00Z", "entered_state_at": "2027-03-10T09:00:00Z",
                "data": {}, "pieces": {}, "deadlines_done": []
            }]
        }))
        .expect("a dossier");
        let event: Event = serde_json::from_value(json!({
            "dossier": id, "version": version, "at": "2027-03-10T09:00:00Z",
            "actor": {"role": "applicant", "id": "owner"}, "command": null, "changes": []
        }))
        .expect("an event");
        let row: Row = serde_json::from_value(json!({
            "dossier": id, "candidature": "c1", "formation": "m1", "state": state,
            "last_name": "Martin", "first_name": "Alex", "email": "c@example.org",
            "sent_at": null, "entered_state_at": "2027-03-10T09:00:00Z",
            "provided": 0, "required": 0, "pieces": {}, "columns": {}, "search": ""
        }))
        .expect("a row");
        let mail = OutboxMail {
            id: format!("mail-{id}-{version}"),
            dossier: Some(id.into()),
            mail: "status".into(),
            to: vec!["c@example.org".into()],
            subject: format!("version {version}"),
            text: String::new(),
            html: None,
            letters: Vec::new(),
            queued_at: at("2027-03-10T09:00:00Z"),
        };
        Commit {
            expected_version: version - 1,
            dossier,
            event,
            mails: vec![mail],
            indexed: Indexed {
                rows: vec![row],
                deadlines: vec![Due {
                    dossier: id.into(),
                    candidature: "c1".into(),
                    deadline: "reminder".into(),
                    at: at(due),
                }],
                waiting: Vec::new(),
                on_version: Default::default(),
                files: Vec::new(),
            },
        }
    }

    /// Leaves in `folder` a store holding `first`, then `second` cut short
    /// by a crash: what `guard` makes of its write set stored first, then
    /// `cut` of its operations.
    fn cut_short(
        folder: &Path,
        first: Commit,
        second: &Commit,
        guard: impl Fn(&WriteSet) -> Vec<u8>,
        cut: usize,
    ) {
        let store = SledStore::open(folder).expect("a store");
        store.commit(&[first]).expect("written");
        let (mut set, _) = store
            .write_set(std::slice::from_ref(second))
            .expect("a write set");
        store.records.insert(RECORD, guard(&set)).expect("stored");
        set.operations.truncate(cut);
        store.apply(&set).expect("applied");
        store.flush().expect("flushed");
    }

    /// A crash may stop a write after its record and any number of its
    /// operations: opening the store again finishes it, whatever the cut.
    #[test]
    fn a_write_cut_short_by_a_crash_is_finished_when_the_store_opens() {
        let second = commit(2, "complete", "2027-05-01T00:00:00Z");
        let operations = {
            let folder = tempfile::tempdir().expect("a folder");
            let store = SledStore::open(folder.path()).expect("a store");
            store
                .commit(&[commit(1, "received", "2027-04-01T00:00:00Z")])
                .expect("written");
            store
                .write_set(std::slice::from_ref(&second))
                .expect("a write set")
                .0
                .operations
                .len()
        };
        assert!(operations >= 6, "{operations} operations");
        for cut in 0..=operations {
            let folder = tempfile::tempdir().expect("a folder");
            let first = commit(1, "received", "2027-04-01T00:00:00Z");
            cut_short(folder.path(), first, &second, WriteSet::record, cut);
            let store = reopened(folder.path());
            let dossier = store.dossier("d1").expect("read").expect("the dossier");
            assert_eq!(dossier.version, 2, "cut after {cut} operations");
            assert_eq!(
                store
                    .history("d1", EventParts::Whole)
                    .expect("history")
                    .len(),
                2
            );
            assert_eq!(store.count_of("m1", "received").expect("count"), 0);
            assert_eq!(store.count_of("m1", "complete").expect("count"), 1);
            let rows = store.rows_of("m1", None).expect("rows");
            assert_eq!(rows.len(), 1);
            assert_eq!(rows[0].state, "complete");
            let due = store.due_entries(at("2027-12-31T00:00:00Z")).expect("due");
            assert_eq!(due.len(), 1);
            assert_eq!(due[0].at, at("2027-05-01T00:00:00Z"));
            let outbox = store.outbox_page(None, 10).expect("outbox");
            assert_eq!(outbox.len(), 2);
            assert!(store.records.is_empty(), "the record is removed");
            // And the next command goes on from there.
            store
                .commit(&[commit(3, "admitted", "2027-06-01T00:00:00Z")])
                .expect("written");
            assert_eq!(store.count_of("m1", "complete").expect("count"), 0);
        }
    }

    /// Version `version` of a dossier whose own answer `a` is `answer`.
    fn answered(version: u64, answer: i64) -> Commit {
        let mut answered = commit(version, "received", "2027-04-01T00:00:00Z");
        answered.mails.clear();
        answered.dossier.profile.insert("a".into(), json!(answer));
        answered
    }

    /// A section saved writes its dossier's own answers just before the
    /// dossier, with the dossier's id stored first: cut anywhere, the
    /// answers read once the store is opened again are those of the
    /// dossier as stored.
    #[test]
    fn own_answers_cut_ahead_of_their_dossier_are_written_again_from_it() {
        let operations = {
            let folder = tempfile::tempdir().expect("a folder");
            let store = SledStore::open(folder.path()).expect("a store");
            store.commit(&[answered(1, 1)]).expect("written");
            let (set, _) = store.write_set(&[answered(2, 2)]).expect("a set");
            assert_eq!(set.guard(), Guard::OwnAnswersOf(b"d1"), "{set:?}");
            set.operations.len()
        };
        assert_eq!(operations, 3);
        for cut in 0..=operations {
            let folder = tempfile::tempdir().expect("a folder");
            let own_answers_of = |_: &WriteSet| Recorded::own_answers_of(b"d1");
            cut_short(
                folder.path(),
                answered(1, 1),
                &answered(2, 2),
                own_answers_of,
                cut,
            );
            let store = reopened(folder.path());
            let dossier = store.dossier("d1").expect("read").expect("the dossier");
            let answers = store.answers_of("d1", "c1").expect("read");
            assert_eq!(answers.as_ref(), Some(&dossier.profile), "cut after {cut}");
            let expected = if cut == operations { 2 } else { 1 };
            assert_eq!(dossier.profile["a"], json!(expected), "cut after {cut}");
            assert!(store.records.is_empty(), "the id is removed");
        }
    }

    /// Own answers are written when they change, not on every command; a
    /// candidature not sent, or not the dossier's, is read with them.
    #[test]
    fn own_answers_are_written_when_they_change() {
        let folder = tempfile::tempdir().expect("a folder");
        let store = SledStore::open(folder.path()).expect("a store");
        assert_eq!(store.answers_of("d1", "c1").expect("read"), None);
        store.commit(&[answered(1, 1)]).expect("written");
        for version in 2..=4 {
            let (set, _) = store.write_set(&[answered(version, 1)]).expect("a set");
            assert_eq!(set.guard(), Guard::Nothing, "unchanged at {version}");
            store.commit(&[answered(version, 1)]).expect("written");
        }
        store.commit(&[answered(5, 5)]).expect("written");
        for candidature in ["c1", "c9"] {
            let answers = store.answers_of("d1", candidature).expect("read");
            assert_eq!(answers.expect("answers")["a"], json!(5));
        }
        drop(store);
        let store = reopened(folder.path());
        let answers = store.answers_of("d1", "c1").expect("read");
        assert_eq!(answers.expect("answers")["a"], json!(5), "from the tree");
        assert_eq!(store.answers_of("d2", "c1").expect("read"), None);
    }

    /// A store shut down keeps no record nor id of its last write, which
    /// an earlier version could not read; what was written stays.
    #[test]
    fn a_store_shut_down_keeps_nothing_of_its_last_write_but_the_write() {
        let folder = tempfile::tempdir().expect("a folder");
        {
            let store = SledStore::open(folder.path()).expect("a store");
            store.commit(&[answered(1, 1)]).expect("written");
            store.commit(&[answered(2, 2)]).expect("written");
            let kept = store.records.get(RECORD).expect("read");
            assert_eq!(kept.as_deref(), Some(&Recorded::own_answers_of(b"d1")[..]));
            store.shut_down().expect("shut down");
            assert!(store.records.is_empty());
        }
        let store = reopened(folder.path());
        let dossier = store.dossier("d1").expect("read").expect("the dossier");
        assert_eq!(dossier.version, 2);
        let answers = store.answers_of("d1", "c1").expect("read");
        assert_eq!(answers.expect("answers")["a"], json!(2));
    }

    /// A dossier written once is not copied among the recent ones; from
    /// its second write on it is, as last written.
    #[test]
    fn a_dossier_is_kept_as_recent_from_its_second_write() {
        let folder = tempfile::tempdir().expect("a folder");
        let store = SledStore::open(folder.path()).expect("a store");
        let recent_version = |store: &SledStore| {
            let recent = store.recent();
            recent
                .dossiers
                .get("d1")
                .map(|(dossier, _)| dossier.version)
        };
        store
            .commit(&[commit(1, "received", "2027-04-01T00:00:00Z")])
            .expect("written");
        assert_eq!(recent_version(&store), None, "written once");
        for version in [2, 3] {
            store
                .commit(&[commit(version, "complete", "2027-05-01T00:00:00Z")])
                .expect("written");
            assert_eq!(recent_version(&store), Some(version));
            let read = store.dossier("d1").expect("read").expect("the dossier");
            assert_eq!(read.version, version);
        }
    }

    /// A dossier is stored compressed and read back as it was written,
    /// whole or in part; one stored as plain JSON (as earlier versions
    /// stored every dossier) is read as well; damaged bytes are an error,
    /// not a panic nor a huge allocation.
    #[test]
    fn a_dossier_is_stored_compressed_and_plain_ones_are_read_too() {
        let folder = tempfile::tempdir().expect("a folder");
        let store = SledStore::open(folder.path()).expect("a store");
        let mut written = commit(1, "received", "2027-04-01T00:00:00Z");
        written
            .dossier
            .profile
            .insert("note".into(), json!("la même phrase, ".repeat(40)));
        store
            .commit(std::slice::from_ref(&written))
            .expect("written");
        let stored = store.dossiers.get("d1").expect("read").expect("stored");
        let json = serde_json::to_vec(&written.dossier).expect("json");
        assert_eq!(stored[0], COMPRESSED);
        assert!(
            stored.len() * 2 < json.len(),
            "{} of {}",
            stored.len(),
            json.len()
        );
        let read = store.dossier("d1").expect("read").expect("the dossier");
        assert_eq!(*read, written.dossier);
        assert_eq!(store.version_of("d1").expect("version"), 1);
        assert_eq!(
            store.dossiers().expect("every dossier"),
            vec![written.dossier.clone()]
        );
        // A short dossier is stored as it is.
        let short = commit_of("d2", 1, "received", "2027-04-01T00:00:00Z");
        store.commit(std::slice::from_ref(&short)).expect("written");
        let stored_short = store.dossiers.get("d2").expect("read").expect("stored");
        assert_eq!(stored_short[0], b'{');
        assert_eq!(
            *store.dossier("d2").expect("read").expect("d2"),
            short.dossier
        );

        // Written plain for an earlier version, then read again.
        assert_eq!(store.write_dossiers_plain().expect("written plain"), 1);
        let plain = store.dossiers.get("d1").expect("read").expect("stored");
        assert_eq!(&plain[..], &json[..]);
        assert_eq!(store.write_dossiers_plain().expect("none left"), 0);

        // Written by an earlier version: plain JSON, read in every way.
        store.dossiers.insert("d1", json).expect("replaced");
        let reopened_store = {
            drop(store);
            reopened(folder.path())
        };
        let read = reopened_store
            .dossier("d1")
            .expect("read")
            .expect("the dossier");
        assert_eq!(*read, written.dossier);
        assert_eq!(reopened_store.version_of("d1").expect("version"), 1);

        // Damaged: cut short, a length claiming far more than LZ4 makes, or
        // bytes that are not LZ4's.
        let mut claims_too_much = stored.to_vec();
        claims_too_much[1..5].copy_from_slice(&u32::MAX.to_le_bytes());
        let mut garbled = stored.to_vec();
        for byte in &mut garbled[5..] {
            *byte = 0xff;
        }
        for damaged in [
            &stored[..3],
            &stored[..stored.len() / 2],
            &claims_too_much,
            &garbled,
        ] {
            reopened_store
                .dossiers
                .insert("d1", damaged)
                .expect("replaced");
            assert!(
                matches!(reopened_store.dossier("d1"), Err(StoreError::Corrupt(_))),
                "{damaged:?}"
            );
        }
    }

    #[test]
    fn a_stale_version_writes_nothing() {
        let folder = tempfile::tempdir().expect("a folder");
        let store = SledStore::open(folder.path()).expect("a store");
        store
            .commit(&[commit(1, "received", "2027-04-01T00:00:00Z")])
            .expect("written");
        let record = store.records.get(RECORD).expect("read");
        let mut stale = commit(2, "complete", "2027-05-01T00:00:00Z");
        stale.expected_version = 0;
        let refused = store.commit(&[stale]);
        assert!(matches!(
            refused,
            Err(StoreError::Conflict {
                found: 1,
                expected: 0,
                ..
            })
        ));
        assert_eq!(store.count_of("m1", "received").expect("count"), 1);
        assert_eq!(
            store
                .history("d1", EventParts::Whole)
                .expect("history")
                .len(),
            1
        );
        assert_eq!(store.records.get(RECORD).expect("read"), record);
    }

    #[test]
    fn an_event_is_kept_without_its_key_and_read_back_whole() {
        let folder = tempfile::tempdir().expect("a folder");
        let store = SledStore::open(folder.path()).expect("a store");
        let first = commit(1, "received", "2027-04-01T00:00:00Z");
        store.commit(std::slice::from_ref(&first)).expect("written");
        let kept = store.events.get(event_key("d1", 1)).expect("read");
        let kept = kept.expect("the event");
        assert_eq!(kept.first(), Some(&DESCRIBED_THEN_CHANGES));
        let kept = String::from_utf8_lossy(&kept);
        assert!(
            !kept.contains("\"dossier\"") && !kept.contains("\"version\""),
            "{kept}"
        );
        // An event as earlier versions kept it, its key repeated in it.
        let second = commit(2, "complete", "2027-05-01T00:00:00Z");
        store
            .commit(std::slice::from_ref(&second))
            .expect("written");
        let mut earlier = second.event;
        earlier.changes.push(crate::dossier::Change {
            path: "profile/a".into(),
            before: json!(null),
            after: json!("b"),
        });
        let bytes = serde_json::to_vec(&earlier).expect("json");
        store
            .events
            .insert(event_key("d1", 2), bytes)
            .expect("inserted");
        assert_eq!(
            store.history("d1", EventParts::Whole).expect("history"),
            [first.event.clone(), earlier.clone()]
        );
        // Read for a page, the same events with no changes decoded.
        let without = |event: Event| Event {
            changes: Vec::new(),
            ..event
        };
        assert_eq!(
            store
                .history("d1", EventParts::WithoutChanges)
                .expect("history"),
            [without(first.event), without(earlier)]
        );
    }

    #[test]
    fn a_page_reads_an_event_without_reading_its_changes() {
        let folder = tempfile::tempdir().expect("a folder");
        let store = SledStore::open(folder.path()).expect("a store");
        let mut first = commit(1, "received", "2027-04-01T00:00:00Z");
        first.event.changes.push(crate::dossier::Change {
            path: "profile/a".into(),
            before: json!(null),
            after: json!({"b": ["c"]}),
        });
        store.commit(std::slice::from_ref(&first)).expect("written");
        let key = event_key("d1", 1);
        let kept = store.events.get(&key).expect("read").expect("the event");
        let changes_at = kept.len()
            - serde_json::to_vec(&first.event.changes)
                .expect("json")
                .len();
        // The changes made unreadable: the description alone is read.
        let mut spoilt = kept[..changes_at].to_vec();
        spoilt.extend_from_slice(b"[{\"path\": ");
        store.events.insert(&key, spoilt).expect("inserted");
        let read = store
            .history("d1", EventParts::WithoutChanges)
            .expect("history");
        assert_eq!(
            read,
            [Event {
                changes: Vec::new(),
                ..first.event.clone()
            }]
        );
        assert!(matches!(
            store.history("d1", EventParts::Whole),
            Err(StoreError::Corrupt(_))
        ));
        // A description cut short is an error, not a panic.
        let cut = kept[..changes_at - 3].to_vec();
        store.events.insert(&key, cut).expect("inserted");
        for parts in [EventParts::Whole, EventParts::WithoutChanges] {
            assert!(matches!(
                store.history("d1", parts),
                Err(StoreError::Corrupt(_))
            ));
        }
    }

    /// An event's time is kept as nanoseconds since the epoch, to the
    /// nanosecond; as text where that number would not fit, and read back
    /// as the store before kept it, as text.
    #[test]
    fn an_events_time_is_kept_as_a_number_and_read_as_text_too() {
        let folder = tempfile::tempdir().expect("a folder");
        let store = SledStore::open(folder.path()).expect("a store");
        let times = [
            (1, "2027-04-01T08:30:00.123456789Z", "1806568200123456789"),
            (2, "2300-01-01T00:00:00Z", "\"2300-01-01T00:00:00Z\""),
            (3, "1601-01-01T00:00:00Z", "\"1601-01-01T00:00:00Z\""),
        ];
        let mut written = Vec::new();
        for (version, time, kept_as) in times {
            let mut commit = commit(version, "received", "2027-04-01T00:00:00Z");
            commit.event.at = at(time);
            store
                .commit(std::slice::from_ref(&commit))
                .expect("written");
            let kept = store.events.get(event_key("d1", version)).expect("read");
            let kept = String::from_utf8_lossy(&kept.expect("the event")).into_owned();
            assert!(kept.contains(&format!("{{\"at\":{kept_as},")), "{kept}");
            written.push(commit.event);
        }
        // The first event as the store's version before kept it, its time
        // as text.
        let description = serde_json::to_vec(&json!({
            "at": "2027-04-01T08:30:00.123456789Z", "actor": written[0].actor,
        }))
        .expect("json");
        let mut bytes = vec![DESCRIBED_THEN_CHANGES];
        bytes.extend_from_slice(&super::super::write_set::length_bytes(description.len()));
        bytes.extend_from_slice(&description);
        bytes.extend_from_slice(b"[]");
        store
            .events
            .insert(event_key("d1", 1), bytes)
            .expect("inserted");
        for parts in [EventParts::Whole, EventParts::WithoutChanges] {
            assert_eq!(store.history("d1", parts).expect("history"), written);
        }
    }

    /// The latest events a page shows are the newest the filter keeps
    /// (before a version, for a page further back), oldest first, read from
    /// the newest back past an event written without its dossier; the
    /// memory store's reading of all of them gives the same.
    #[test]
    fn the_latest_events_kept_are_read_from_the_newest_back() {
        let folder = tempfile::tempdir().expect("a folder");
        let store = SledStore::open(folder.path()).expect("a store");
        let memory = crate::store::MemoryStore::new();
        for version in 1..=5 {
            let mut commit = saved(version, false);
            commit.event.changes.push(crate::dossier::Change {
                path: "profile/a".into(),
                before: json!(null),
                after: json!(version),
            });
            store
                .commit(std::slice::from_ref(&commit))
                .expect("written");
            memory.commit(&[commit]).expect("written");
        }
        let (mut set, _) = store.write_set(&[saved(6, false)]).expect("a set");
        set.operations.truncate(1);
        store.apply(&set).expect("applied");
        let versions = |store: &dyn Store, before, count, odd_only: bool| -> Vec<u64> {
            let kept = |event: &Event| !odd_only || event.version % 2 == 1;
            let events = store
                .latest_history("d1", before, count, &kept)
                .expect("read");
            assert!(events.iter().all(|event| event.changes.is_empty()));
            events.iter().map(|event| event.version).collect()
        };
        for store in [&store as &dyn Store, &memory] {
            assert_eq!(versions(store, None, 2, false), [4, 5]);
            assert_eq!(versions(store, None, 2, true), [3, 5]);
            assert_eq!(versions(store, None, 10, false), [1, 2, 3, 4, 5]);
            assert_eq!(versions(store, None, 0, false), [0; 0]);
            // A page further back: the events before a version.
            assert_eq!(versions(store, Some(4), 2, false), [2, 3]);
            assert_eq!(versions(store, Some(5), 2, true), [1, 3]);
            assert_eq!(versions(store, Some(2), 10, false), [1]);
            assert_eq!(versions(store, Some(1), 10, false), [0; 0]);
            assert_eq!(versions(store, Some(0), 10, false), [0; 0]);
            // Past the dossier's version: as if none, the unwritten one left.
            assert_eq!(versions(store, Some(99), 2, false), [4, 5]);
        }
    }

    /// The latest events read again as a history grows (one write between
    /// two reads, or several, or one cut before its dossier) are those the
    /// memory store reads from the whole history: what a dossier's tail
    /// holds is added to, never read past the dossier's version.
    #[test]
    fn the_latest_events_stay_right_as_the_history_grows() {
        let folder = tempfile::tempdir().expect("a folder");
        let store = SledStore::open(folder.path()).expect("a store");
        let memory = crate::store::MemoryStore::new();
        let versions = |store: &dyn Store, before, count, odd_only: bool| -> Vec<(u64, String)> {
            let kept = |event: &Event| !odd_only || event.version % 2 == 1;
            let events = store
                .latest_history("d1", before, count, &kept)
                .expect("read");
            let at = |event: &Event| event.at.to_string();
            events
                .iter()
                .map(|event| (event.version, at(event)))
                .collect()
        };
        let mut version = 0;
        for written in [1, 1, 3, 1, 9, 1, 1, 20, 1, 2] {
            for _ in 0..written {
                version += 1;
                let commit = saved(version, false);
                store
                    .commit(std::slice::from_ref(&commit))
                    .expect("written");
                memory.commit(&[commit]).expect("written");
            }
            // A write cut before its dossier leaves an event past it, which
            // the next write replaces.
            let mut cut = saved(version + 1, false);
            cut.event.at = at("2027-05-01T00:00:00Z");
            let (mut set, _) = store.write_set(&[cut]).expect("a set");
            set.operations.truncate(1);
            store.apply(&set).expect("applied");
            for count in [1, 3, 10, 16, 17, 40] {
                for odd_only in [false, true] {
                    for before in [
                        None,
                        Some(version),
                        Some(version.saturating_sub(5)),
                        Some(3),
                    ] {
                        assert_eq!(
                            versions(&store, before, count, odd_only),
                            versions(&memory, before, count, odd_only),
                            "{version} written, {count} before {before:?}, odd only {odd_only}"
                        );
                    }
                }
            }
        }
        let newest = versions(&store, None, 3, false);
        assert_eq!(
            newest.iter().map(|(v, _)| *v).collect::<Vec<_>>(),
            [38, 39, 40]
        );
    }

    /// Version `version` of a dossier with no candidature (no index entry),
    /// queuing a mail or not.
    fn saved(version: u64, mailed: bool) -> Commit {
        let mut saved = commit(version, "received", "2027-04-01T00:00:00Z");
        saved.dossier.candidatures.clear();
        saved.indexed = Indexed::default();
        if !mailed {
            saved.mails.clear();
        }
        saved
    }

    /// A save without index change is its event then its dossier, with no
    /// record: cut between the two, the dossier and its history stay as
    /// they were, and the next command writes over the lone event.
    #[test]
    fn an_event_written_without_its_dossier_is_not_read() {
        let folder = tempfile::tempdir().expect("a folder");
        {
            let store = SledStore::open(folder.path()).expect("a store");
            store.commit(&[saved(1, false)]).expect("written");
            let (mut set, _) = store.write_set(&[saved(2, false)]).expect("a set");
            assert!(set.whole_at_any_cut());
            assert_eq!(set.operations.len(), 2);
            set.operations.truncate(1);
            store.apply(&set).expect("applied");
            store.flush().expect("flushed");
            assert_eq!(
                store
                    .history("d1", EventParts::Whole)
                    .expect("history")
                    .len(),
                1
            );
        }
        let store = reopened(folder.path());
        assert_eq!(
            store.dossier("d1").expect("read").expect("dossier").version,
            1
        );
        assert_eq!(
            store
                .history("d1", EventParts::Whole)
                .expect("history")
                .len(),
            1
        );
        let mut second = saved(2, false);
        second.event.changes.push(crate::dossier::Change {
            path: "profile/a".into(),
            before: json!(null),
            after: json!("b"),
        });
        store
            .commit(std::slice::from_ref(&second))
            .expect("written");
        let history = store.history("d1", EventParts::Whole).expect("history");
        assert_eq!(history.len(), 2);
        assert_eq!(history[1], second.event);
        assert!(store.records.is_empty(), "no record was needed");
    }

    /// A record kept from an earlier command must not set back what later
    /// writes without a record changed.
    #[test]
    fn a_kept_record_is_not_played_over_later_writes() {
        let folder = tempfile::tempdir().expect("a folder");
        {
            let store = SledStore::open(folder.path()).expect("a store");
            store.commit(&[saved(1, true)]).expect("written");
            assert!(!store.records.is_empty(), "a mail needs a record");
            store.commit(&[saved(2, false)]).expect("written");
            store.commit(&[saved(3, false)]).expect("written");
            assert!(!store.records.is_empty(), "the record is kept");
        }
        let store = reopened(folder.path());
        assert_eq!(
            store.dossier("d1").expect("read").expect("dossier").version,
            3
        );
        assert_eq!(
            store
                .history("d1", EventParts::Whole)
                .expect("history")
                .len(),
            3
        );
        assert!(store.records.is_empty());
    }

    /// A row as stored is not written again: a command that changes no
    /// list row, count or deadline goes without a record.
    #[test]
    fn an_unchanged_row_is_not_written_again() {
        let folder = tempfile::tempdir().expect("a folder");
        let store = SledStore::open(folder.path()).expect("a store");
        store
            .commit(&[commit(1, "received", "2027-04-01T00:00:00Z")])
            .expect("written");
        let mut again = commit(2, "received", "2027-04-01T00:00:00Z");
        again.mails.clear();
        let (set, _) = store
            .write_set(std::slice::from_ref(&again))
            .expect("a set");
        assert_eq!(set.operations.len(), 2, "{set:?}");
        assert!(set.whole_at_any_cut());
        let mut moved = commit(2, "complete", "2027-04-01T00:00:00Z");
        moved.mails.clear();
        let (set, _) = store
            .write_set(std::slice::from_ref(&moved))
            .expect("a set");
        assert!(!set.whole_at_any_cut());
    }

    /// A row is handed only if it holds every text asked for (as a part of
    /// one of its values, however JSON escapes it); the others are not
    /// decoded.
    #[test]
    fn rows_lacking_a_text_are_not_handed() {
        let folder = tempfile::tempdir().expect("a folder");
        let store = SledStore::open(folder.path()).expect("a store");
        let mut first = commit(1, "received", "2027-04-01T00:00:00Z");
        first.indexed.rows[0].search = "martin alex \"le grand\" c@example.org".into();
        first.indexed.rows[0]
            .columns
            .insert("decision".into(), json!("waiting_list"));
        first.indexed.rows[0]
            .pieces
            .insert("passport".into(), "to_complete".into());
        store.commit(&[first]).expect("written");
        let handed = |texts: &[&str]| {
            let mut count = 0;
            store
                .each_row_containing("m1", None, texts, RowParts::Whole, &mut |_| count += 1)
                .expect("read");
            count
        };
        assert_eq!(handed(&[]), 1);
        assert_eq!(handed(&["mart", "alex"]), 1);
        assert_eq!(handed(&["\"le"]), 1, "a quote, escaped in the row's JSON");
        assert_eq!(handed(&["waiting_list", "to_complete"]), 1);
        // The ids are the key's: a text only they hold is not looked for.
        assert_eq!(handed(&["received"]), 0, "the state");
        assert_eq!(handed(&["martin", "durand"]), 0);
        assert_eq!(handed(&["martin alex\""]), 0);
    }

    /// A row read without its pieces is the whole row but for them.
    #[test]
    fn a_row_read_without_its_pieces_holds_the_rest() {
        let folder = tempfile::tempdir().expect("a folder");
        let store = SledStore::open(folder.path()).expect("a store");
        let mut first = commit(1, "received", "2027-04-01T00:00:00Z");
        let row = &mut first.indexed.rows[0];
        row.pieces.insert("passport".into(), "to_complete".into());
        row.pieces.insert("resume".into(), "{\"[provided]".into());
        row.columns
            .insert("decision".into(), json!({ "a": [1, "b"] }));
        let whole = row.clone();
        store.commit(&[first]).expect("written");
        let read = |parts| {
            let mut rows = Vec::new();
            store
                .each_row_containing("m1", None, &[], parts, &mut |row| rows.push(row))
                .expect("read");
            rows
        };
        assert_eq!(read(RowParts::Whole), std::slice::from_ref(&whole));
        let without = Row {
            pieces: BTreeMap::new(),
            ..whole
        };
        assert_eq!(read(RowParts::WithoutPieces), [without]);
    }

    /// One row read by its key, from either store, as the list holds it.
    #[test]
    fn a_row_is_read_by_its_key() {
        let folder = tempfile::tempdir().expect("a folder");
        let sled = SledStore::open(folder.path()).expect("a store");
        let memory = crate::store::MemoryStore::new();
        let first = commit(1, "received", "2027-04-01T00:00:00Z");
        let stores: [&dyn Store; 2] = [&sled, &memory];
        for store in stores {
            store.commit(std::slice::from_ref(&first)).expect("written");
            let row = |state, candidature| {
                store
                    .row("m1", state, "d1", candidature, RowParts::Whole)
                    .expect("read")
            };
            assert_eq!(row("received", "c1").as_ref(), first.indexed.rows.first());
            assert_eq!(row("complete", "c1"), None);
            assert_eq!(row("received", "c2"), None);
        }
    }

    /// The last command's record is kept until the next write: a mail
    /// delivered meanwhile must not come back when the store opens again.
    #[test]
    fn a_delivered_mail_stays_delivered_across_a_reopening() {
        let folder = tempfile::tempdir().expect("a folder");
        {
            let store = SledStore::open(folder.path()).expect("a store");
            store
                .commit(&[commit(1, "received", "2027-04-01T00:00:00Z")])
                .expect("written");
            let queued = store.outbox_page(None, 10).expect("outbox");
            assert_eq!(queued.len(), 1);
            store.remove_from_outbox(&queued[0]).expect("removed");
        }
        let store = reopened(folder.path());
        assert_eq!(store.outbox_page(None, 10).expect("outbox"), Vec::new());
        assert_eq!(
            store.dossier("d1").expect("read").expect("dossier").version,
            1
        );
    }

    /// A withdrawal with its promotion in one formation passes a place on:
    /// the count of those holding one is left as stored, not written again.
    #[test]
    fn a_place_passed_on_leaves_its_count_unwritten() {
        let folder = tempfile::tempdir().expect("a folder");
        let store = SledStore::open(folder.path()).expect("a store");
        let due = "2027-04-01T00:00:00Z";
        store
            .commit(&[
                commit_of("d1", 1, "admis", due),
                commit_of("d2", 1, "liste", due),
            ])
            .expect("written");
        let passed_on = [
            commit_of("d1", 2, "desiste", due),
            commit_of("d2", 2, "admis", due),
        ];
        let (set, _) = store.write_set(&passed_on).expect("a write set");
        let count_of = |state| super::super::count_key("m1", state);
        let counts_written: Vec<Vec<u8>> = set
            .operations
            .iter()
            .filter(|op| op.target == Target::Ordered)
            .filter(|op| {
                ["admis", "desiste", "liste"]
                    .map(count_of)
                    .contains(&op.key)
            })
            .map(|op| op.key.clone())
            .collect();
        assert_eq!(
            counts_written,
            vec![count_of("desiste"), count_of("liste")],
            "the counts that change, and only them"
        );
        store.commit(&passed_on).expect("written");
        assert_eq!(store.count_of("m1", "admis").expect("count"), 1);
        assert_eq!(store.count_of("m1", "desiste").expect("count"), 1);
        assert_eq!(store.count_of("m1", "liste").expect("count"), 0);
    }
}
