//! A command's writes as plain operations on the store's trees, and their
//! record: the bytes that make them all-or-nothing across a crash.
//!
//! sled makes a batch or a transaction atomic by writing it between two
//! rolls of its log buffer, so each one costs two writes to disk instead of
//! one. The sled store writes a command's operations as one value instead
//! (the record: a single insert, atomic by itself, replacing the last
//! command's), then the operations one by one. sled recovers its log as a
//! prefix, so after a crash the last record found is that of the last
//! command begun, with any part of its operations: the store plays it
//! again when it opens, unless its last dossier is stored at its version
//! or a later one (every operation before it is then stored too). Playing
//! it again is harmless: each operation sets a key to a value, or removes
//! it, and only commands write those keys (but for the removal of a
//! delivered mail, which removes the record first).
//!
//! Operations that no cut can leave wrong (a dossier's event then the
//! dossier, see [`WriteSet::guard`]) are written without a record. A
//! dossier's own answers, kept apart for exports, are the one copy a cut
//! could leave ahead of their dossier: a section saved writes, instead of
//! the record, the dossier's id alone, and opening the store writes that
//! dossier's answers again from it.

/// The trees a command writes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    Dossiers,
    Events,
    Outbox,
    ByFormation,
    Ordered,
    IndexKeys,
    Answers,
    OwnAnswers,
}

impl Target {
    // In the order of their bytes, as records store them: a new tree goes
    // last.
    const ALL: [Target; 8] = [
        Target::Dossiers,
        Target::Events,
        Target::Outbox,
        Target::ByFormation,
        Target::Ordered,
        Target::IndexKeys,
        Target::Answers,
        Target::OwnAnswers,
    ];

    fn byte(self) -> u8 {
        self as u8
    }

    fn from_byte(byte: u8) -> Option<Self> {
        Self::ALL.get(usize::from(byte)).copied()
    }
}

/// One operation: set `key` of `target` to `value`, or remove it (`None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Operation {
    pub target: Target,
    pub key: Vec<u8>,
    pub value: Option<Vec<u8>>,
}

/// Operations in the order they are to be done.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct WriteSet {
    pub operations: Vec<Operation>,
}

/// The first byte of a record, raised if its form ever changes.
const FORM: u8 = 1;

/// The first byte of what is stored instead of a record before a dossier's
/// own answers ([`Guard::OwnAnswersOf`]): the dossier's id follows.
const OWN_ANSWERS_OF: u8 = 2;

/// What a write set needs stored before its operations ([`WriteSet::guard`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Guard<'a> {
    Nothing,
    /// The id of the dossier whose own answers are written again from it
    /// if the store opens after a crash.
    OwnAnswersOf(&'a [u8]),
    Record,
}

/// What the store keeps while a command is being written, read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Recorded {
    /// The command's operations, to play again.
    Operations(WriteSet),
    /// The dossier whose own answers are to be written again from it.
    OwnAnswersOf(Vec<u8>),
}

impl Recorded {
    /// What `bytes` hold: a record ([`WriteSet::record`]) or a dossier's id
    /// ([`Recorded::own_answers_of`]); `None` if neither.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        match bytes.split_first()? {
            (&OWN_ANSWERS_OF, id) => Some(Self::OwnAnswersOf(id.to_vec())),
            _ => WriteSet::from_record(bytes).map(Self::Operations),
        }
    }

    /// What is stored for [`Guard::OwnAnswersOf`] dossier `id`.
    pub fn own_answers_of(id: &[u8]) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(1 + id.len());
        bytes.push(OWN_ANSWERS_OF);
        bytes.extend_from_slice(id);
        bytes
    }
}

impl WriteSet {
    pub fn insert(&mut self, target: Target, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) {
        self.operations.push(Operation {
            target,
            key: key.into(),
            value: Some(value.into()),
        });
    }

    pub fn remove(&mut self, target: Target, key: impl Into<Vec<u8>>) {
        self.operations.push(Operation {
            target,
            key: key.into(),
            value: None,
        });
    }

    /// What must be stored before these operations so that a crash,
    /// cutting them anywhere, leaves nothing wrong:
    /// - nothing for one operation (sled writes each whole), or for a
    ///   dossier's events then the dossier itself (most of a candidate's
    ///   commands: a section saved changes no index). An event written past
    ///   its dossier's stored version is never read, and the next command's
    ///   event takes its key;
    /// - the dossier's id, for its events, its own answers, then itself: a
    ///   cut can leave only the answers ahead of the dossier, and the id
    ///   says whose to write again;
    /// - the whole record for anything else.
    pub fn guard(&self) -> Guard<'_> {
        let Some((last, before)) = self.operations.split_last() else {
            return Guard::Nothing;
        };
        if before.is_empty() {
            return Guard::Nothing;
        }
        let mut event_prefix = last.key.clone();
        event_prefix.push(0);
        let own_answers = |op: &Operation| op.target == Target::OwnAnswers && op.key == last.key;
        let events_then_dossier = last.target == Target::Dossiers
            && last.value.is_some()
            && before.iter().all(|op| {
                op.value.is_some()
                    && (own_answers(op)
                        || op.target == Target::Events && op.key.starts_with(&event_prefix))
            });
        if !events_then_dossier {
            return Guard::Record;
        }
        match before.iter().filter(|op| own_answers(op)).count() {
            0 => Guard::Nothing,
            1 => Guard::OwnAnswersOf(&last.key),
            _ => Guard::Record,
        }
    }

    /// Whether these operations need nothing stored before them
    /// ([`WriteSet::guard`]).
    #[cfg(test)]
    pub fn whole_at_any_cut(&self) -> bool {
        matches!(self.guard(), Guard::Nothing)
    }

    /// The last dossier these operations write, with its bytes: once it
    /// is stored, so is every operation before it.
    pub fn last_dossier(&self) -> Option<(&[u8], &[u8])> {
        self.operations
            .iter()
            .rev()
            .find(|op| op.target == Target::Dossiers)
            .and_then(|op| Some((op.key.as_slice(), op.value.as_deref()?)))
    }

    /// The record: the form's byte, the number of operations, then each
    /// operation as its target's byte, its key and its value (a removal: no
    /// value), each length first; numbers on 4 bytes, big-endian.
    pub fn record(&self) -> Vec<u8> {
        let size: usize = self
            .operations
            .iter()
            .map(|op| 10 + op.key.len() + op.value.as_ref().map_or(0, Vec::len))
            .sum();
        let mut bytes = Vec::with_capacity(5 + size);
        bytes.push(FORM);
        bytes.extend_from_slice(&length_bytes(self.operations.len()));
        for op in &self.operations {
            bytes.push(op.target.byte());
            push_bytes(&mut bytes, &op.key);
            match &op.value {
                Some(value) => {
                    bytes.push(1);
                    push_bytes(&mut bytes, value);
                }
                None => bytes.push(0),
            }
        }
        bytes
    }

    /// The write set a record holds; `None` if the bytes are not one.
    pub fn from_record(bytes: &[u8]) -> Option<Self> {
        let (&form, rest) = bytes.split_first()?;
        if form != FORM {
            return None;
        }
        let (count, mut rest) = take_length(rest)?;
        let mut operations = Vec::with_capacity(count.min(rest.len() / 10));
        for _ in 0..count {
            let (&target, after) = rest.split_first()?;
            let target = Target::from_byte(target)?;
            let (key, after) = take_bytes(after)?;
            let (&present, after) = after.split_first()?;
            let (value, after) = match present {
                0 => (None, after),
                1 => {
                    let (value, after) = take_bytes(after)?;
                    (Some(value.to_vec()), after)
                }
                _ => return None,
            };
            operations.push(Operation {
                target,
                key: key.to_vec(),
                value,
            });
            rest = after;
        }
        rest.is_empty().then_some(Self { operations })
    }
}

/// The keys the indexes hold of one dossier (its rows' keys, its keys in
/// the ordered index), kept beside it so that a command removes what is no
/// longer true and writes what changed, without reading the dossier.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct IndexKeys {
    pub rows: Vec<Vec<u8>>,
    pub ordered: Vec<Vec<u8>>,
}

impl IndexKeys {
    pub fn of(indexed: &super::Indexed) -> Self {
        Self {
            rows: indexed.rows.iter().map(super::row_key).collect(),
            ordered: indexed.ordered_keys(),
        }
    }

    /// As stored: the form's byte, then each list as its length and its keys.
    pub fn bytes(&self) -> Vec<u8> {
        let mut bytes = vec![FORM];
        for list in [&self.rows, &self.ordered] {
            bytes.extend_from_slice(&length_bytes(list.len()));
            for key in list {
                push_bytes(&mut bytes, key);
            }
        }
        bytes
    }

    /// The keys as stored; `None` if the bytes are not of this form.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let (&form, mut rest) = bytes.split_first()?;
        if form != FORM {
            return None;
        }
        let mut lists = [Vec::new(), Vec::new()];
        for list in &mut lists {
            let (count, after) = take_length(rest)?;
            rest = after;
            for _ in 0..count {
                let (key, after) = take_bytes(rest)?;
                list.push(key.to_vec());
                rest = after;
            }
        }
        let [rows, ordered] = lists;
        rest.is_empty().then_some(Self { rows, ordered })
    }
}

pub(super) fn length_bytes(length: usize) -> [u8; 4] {
    // Nothing of 4 GiB or more reaches here: sled refuses such values.
    u32::try_from(length).unwrap_or(u32::MAX).to_be_bytes()
}

fn push_bytes(into: &mut Vec<u8>, bytes: &[u8]) {
    into.extend_from_slice(&length_bytes(bytes.len()));
    into.extend_from_slice(bytes);
}

fn take_length(bytes: &[u8]) -> Option<(usize, &[u8])> {
    let length = u32::from_be_bytes(bytes.get(..4)?.try_into().ok()?);
    Some((usize::try_from(length).ok()?, bytes.get(4..)?))
}

pub(super) fn take_bytes(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let (length, rest) = take_length(bytes)?;
    Some((rest.get(..length)?, rest.get(length..)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example() -> WriteSet {
        let mut set = WriteSet::default();
        set.insert(
            Target::Events,
            b"d1\0\0".to_vec(),
            b"{\"event\":1}".to_vec(),
        );
        set.remove(Target::ByFormation, b"m1\0recu\0d1\0c1".to_vec());
        set.insert(Target::Ordered, b"c-count".to_vec(), Vec::new());
        set.insert(Target::Dossiers, b"d1".to_vec(), vec![0xff; 300]);
        set
    }

    #[test]
    fn a_record_gives_back_its_operations_in_order() {
        let set = example();
        assert_eq!(WriteSet::from_record(&set.record()), Some(set));
        let empty = WriteSet::default();
        assert_eq!(WriteSet::from_record(&empty.record()), Some(empty));
    }

    #[test]
    fn a_cut_or_altered_record_is_refused() {
        let record = example().record();
        for length in 0..record.len() {
            assert_eq!(
                WriteSet::from_record(&record[..length]),
                None,
                "cut at {length}"
            );
        }
        let mut longer = record.clone();
        longer.push(0);
        assert_eq!(WriteSet::from_record(&longer), None);
        let mut other_form = record.clone();
        other_form[0] = 9;
        assert_eq!(WriteSet::from_record(&other_form), None);
        let mut unknown_tree = record.clone();
        unknown_tree[5] = 200;
        assert_eq!(WriteSet::from_record(&unknown_tree), None);
        let mut huge_count = record;
        huge_count[1..5].copy_from_slice(&u32::MAX.to_be_bytes());
        assert_eq!(WriteSet::from_record(&huge_count), None);
    }

    #[test]
    fn only_a_dossier_after_its_own_events_goes_without_a_record() {
        let event = |key: &[u8]| {
            let mut set = WriteSet::default();
            set.insert(Target::Events, key.to_vec(), b"{}".to_vec());
            set
        };
        let mut saved = event(b"d1\0\0\0\0\0\0\0\0\x02");
        saved.insert(Target::Dossiers, b"d1".to_vec(), b"{}".to_vec());
        assert!(saved.whole_at_any_cut());
        assert!(WriteSet::default().whole_at_any_cut());
        assert!(event(b"d1\0").whole_at_any_cut(), "one operation");
        assert!(!example().whole_at_any_cut(), "an index changes");
        let mut other = event(b"d12\0\x02");
        other.insert(Target::Dossiers, b"d1".to_vec(), b"{}".to_vec());
        assert!(!other.whole_at_any_cut(), "another dossier's event");
        let mut mailed = saved.clone();
        mailed.operations.insert(
            1,
            Operation {
                target: Target::Outbox,
                key: b"mail".to_vec(),
                value: Some(Vec::new()),
            },
        );
        assert!(!mailed.whole_at_any_cut(), "a mail queued");
        let mut dossier_first = WriteSet::default();
        dossier_first.insert(Target::Dossiers, b"d1".to_vec(), b"{}".to_vec());
        dossier_first
            .operations
            .push(event(b"d1\0\x02").operations.remove(0));
        assert!(!dossier_first.whole_at_any_cut(), "the dossier first");
        assert_eq!(
            example().last_dossier(),
            Some((&b"d1"[..], &[0xff; 300][..]))
        );
        assert_eq!(event(b"d1\0").last_dossier(), None);
    }

    /// A dossier's own answers between its events and itself need its id
    /// stored first, nothing more; anywhere else, or another dossier's, the
    /// record.
    #[test]
    fn own_answers_before_their_dossier_need_only_its_id() {
        let mut saved = WriteSet::default();
        saved.insert(Target::Events, b"d1\0\x02".to_vec(), b"{}".to_vec());
        saved.insert(Target::OwnAnswers, b"d1".to_vec(), b"{}".to_vec());
        saved.insert(Target::Dossiers, b"d1".to_vec(), b"{}".to_vec());
        assert_eq!(saved.guard(), Guard::OwnAnswersOf(b"d1"));
        let mut other = saved.clone();
        other.operations[1].key = b"d2".to_vec();
        assert_eq!(other.guard(), Guard::Record, "another dossier's answers");
        let mut twice = saved.clone();
        twice.operations.insert(1, twice.operations[1].clone());
        assert_eq!(twice.guard(), Guard::Record, "two commands' answers");
        let mut removed = saved.clone();
        removed.operations[1].value = None;
        assert_eq!(removed.guard(), Guard::Record, "answers removed");
        let mut after = saved.clone();
        after.operations.swap(1, 2);
        assert_eq!(after.guard(), Guard::Record, "answers after the dossier");
        let mut mailed = saved.clone();
        mailed.insert(Target::Outbox, b"mail".to_vec(), Vec::new());
        mailed.operations.swap(2, 3);
        assert_eq!(mailed.guard(), Guard::Record, "a mail queued");
        assert_eq!(
            Recorded::from_bytes(&Recorded::own_answers_of(b"d1")),
            Some(Recorded::OwnAnswersOf(b"d1".to_vec()))
        );
        assert_eq!(
            Recorded::from_bytes(&example().record()),
            Some(Recorded::Operations(example()))
        );
        assert_eq!(Recorded::from_bytes(&[]), None);
        assert_eq!(Recorded::from_bytes(&[9, 1, 2]), None);
    }

    #[test]
    fn index_keys_read_back_as_written_and_refuse_a_cut() {
        let keys = IndexKeys {
            rows: vec![b"m1\0recu\0d1\0c1".to_vec(), b"m2\0recu\0d1\0c2".to_vec()],
            ordered: vec![vec![b'd'; 20]],
        };
        let bytes = keys.bytes();
        assert_eq!(IndexKeys::from_bytes(&bytes), Some(keys));
        assert_eq!(
            IndexKeys::from_bytes(&IndexKeys::default().bytes()),
            Some(IndexKeys::default())
        );
        for length in 0..bytes.len() {
            assert_eq!(
                IndexKeys::from_bytes(&bytes[..length]),
                None,
                "cut at {length}"
            );
        }
    }
}
