//! Uploaded files: checked by their content, stored by their SHA-256.
//!
//! The name and the browser's type are ignored: a file is a PDF, a JPEG or a
//! PNG only if its bytes say so, down to its end (a truncated file is refused).
//! Files live under the data directory, never in a served folder, each
//! received into room aligned for a write past the page cache ([`FileBytes`]):
//! an upload is read again rarely, and caching it cost more than the rest of
//! its handling.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use guichet_engine::model::FileFormat;
use sha2::{Digest, Sha256};

/// Largest image accepted, in pixels (width × height): a small file can
/// declare an enormous image, which any later processing (the dossier as a
/// PDF) would have to allocate. 40 megapixels is more than any phone takes.
pub const MAX_PIXELS: u64 = 40_000_000;

/// What is wrong with an uploaded file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileProblem {
    /// Empty.
    Empty,
    /// Not a PDF, JPEG or PNG by its content.
    UnknownFormat,
    /// Starts as a PDF, JPEG or PNG but is cut or damaged, or carries other
    /// data after its end (a file of another kind hidden behind it).
    Damaged,
    /// An image larger than [`MAX_PIXELS`].
    TooManyPixels,
    /// A PDF that needs a password.
    Encrypted,
    /// A PDF without a page, or with more than [`guichet_pdf::MAX_PAGES`].
    Pages,
}

/// Recognises the format of `bytes` and checks its structure, from its first
/// byte to its last.
pub fn recognise(bytes: &[u8]) -> Result<FileFormat, FileProblem> {
    if bytes.is_empty() {
        return Err(FileProblem::Empty);
    }
    let (format, whole, size) = if bytes.starts_with(b"%PDF-") {
        (FileFormat::Pdf, pdf_is_whole(bytes), None)
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        // Image data ends with the End Of Image marker; a cut file lacks it,
        // and so does a file with something else appended.
        let whole = trim_trailing_zeros(bytes).ends_with(&[0xFF, 0xD9]);
        (FileFormat::Jpg, whole, jpeg_size(bytes))
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        let size = png_size(bytes);
        (FileFormat::Png, size.is_some(), size)
    } else {
        return Err(FileProblem::UnknownFormat);
    };
    if !whole {
        return Err(FileProblem::Damaged);
    }
    match size {
        Some((width, height)) if u64::from(width) * u64::from(height) > MAX_PIXELS => {
            return Err(FileProblem::TooManyPixels)
        }
        _ => {}
    }
    // A PDF is read as the dossier's PDF will read it: one that cannot be
    // included there is refused now, while the candidate can still fix it.
    if format == FileFormat::Pdf {
        match guichet_pdf::check_pdf(bytes.to_vec()) {
            Ok(_) => {}
            Err(guichet_pdf::PdfProblem::Encrypted) => return Err(FileProblem::Encrypted),
            Err(guichet_pdf::PdfProblem::Damaged) => return Err(FileProblem::Damaged),
            Err(guichet_pdf::PdfProblem::Pages(_)) => return Err(FileProblem::Pages),
        }
    }
    Ok(format)
}

/// A PDF with its version, its cross-reference offset near the end, and
/// nothing after its last `%%EOF` but line ends.
fn pdf_is_whole(bytes: &[u8]) -> bool {
    let version = bytes
        .get(5..8)
        .is_some_and(|v| v[0].is_ascii_digit() && v[1] == b'.' && v[2].is_ascii_digit());
    let tail = &bytes[bytes.len().saturating_sub(1024)..];
    let ends = rfind(tail, b"%%EOF").is_some_and(|at| {
        tail[at + 5..]
            .iter()
            .all(|b| matches!(b, b'\r' | b'\n' | b' ' | b'\t' | 0))
    });
    version && ends && find(tail, b"startxref").is_some()
}

fn trim_trailing_zeros(bytes: &[u8]) -> &[u8] {
    let end = bytes.iter().rposition(|b| *b != 0).map_or(0, |i| i + 1);
    &bytes[..end]
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn rfind(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).rposition(|w| w == needle)
}

/// The width and height a JPEG declares in its frame header, if it has one.
fn jpeg_size(bytes: &[u8]) -> Option<(u32, u32)> {
    let mut at = 2;
    while let Some(&[0xFF, marker]) = bytes.get(at..at + 2) {
        // Start Of Frame markers, all but DHT (C4), JPG (C8) and DAC (CC).
        if (0xC0..=0xCF).contains(&marker) && ![0xC4, 0xC8, 0xCC].contains(&marker) {
            let frame = bytes.get(at + 5..at + 9)?;
            let height = u32::from(u16::from_be_bytes([frame[0], frame[1]]));
            let width = u32::from(u16::from_be_bytes([frame[2], frame[3]]));
            return Some((width, height));
        }
        let length = bytes.get(at + 2..at + 4)?;
        at += 2 + usize::from(u16::from_be_bytes([length[0], length[1]]));
    }
    None
}

/// Walks the PNG chunks: an IHDR with a non-zero size first, every chunk
/// within the file, an IEND last and nothing after it. Gives the declared
/// width and height.
fn png_size(bytes: &[u8]) -> Option<(u32, u32)> {
    let mut at = 8;
    let mut size = None;
    while let Some(header) = bytes.get(at..at + 8) {
        let length = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let kind = &header[4..8];
        if size.is_none() {
            let declared = bytes.get(at + 8..at + 16)?;
            let width = u32::from_be_bytes([declared[0], declared[1], declared[2], declared[3]]);
            let height = u32::from_be_bytes([declared[4], declared[5], declared[6], declared[7]]);
            if kind != b"IHDR" || width == 0 || height == 0 {
                return None;
            }
            size = Some((width, height));
        }
        let next = at.checked_add(12)?.checked_add(length)?;
        if next > bytes.len() {
            return None;
        }
        if kind == b"IEND" {
            return (next == bytes.len()).then_some(size?);
        }
        at = next;
    }
    None
}

/// Longest file name kept, in characters.
const MAX_NAME: usize = 100;

/// An uploaded file's name as it is kept and shown: without path, control
/// or direction-changing characters (which make `exe.pdf` read as `fdp.exe`),
/// cut to [`MAX_NAME`] characters with its extension kept.
pub fn clean_file_name(sent: &str) -> String {
    let base = sent.rsplit(['/', '\\']).next().unwrap_or("");
    let kept: String = base
        .chars()
        .filter(|c| !c.is_control())
        .filter(|c| !matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'))
        .collect();
    let kept = kept.trim();
    if kept.chars().count() <= MAX_NAME {
        return kept.to_owned();
    }
    let extension = kept
        .rsplit_once('.')
        .map(|(_, ext)| ext)
        .filter(|ext| ext.chars().count() <= 10)
        .unwrap_or("");
    let room = MAX_NAME - extension.chars().count() - 1;
    let stem: String = kept.chars().take(room).collect();
    if extension.is_empty() {
        stem
    } else {
        format!("{stem}.{extension}")
    }
}

/// The uploaded files, each dossier's in its own folder, named by their
/// SHA-256: a file no piece of its dossier refers to any more (replaced,
/// removed, and gone from the sent copies) can be deleted without asking any
/// other dossier.
pub struct FileStore {
    root: PathBuf,
    /// One writer per dossier at a time: a file stored for a command is never
    /// swept by another command of the same dossier before it refers to it.
    writers: std::sync::Mutex<HashMap<String, Arc<std::sync::Mutex<()>>>>,
}

/// The ASCII letters, digits and dashes of `text`: a part of a download's
/// file name that every browser and mail client keeps as it is.
pub fn name_part(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect()
}

/// Makes the names in folder `path` durable (the files' bytes are synced
/// on their own).
fn sync_folder(path: &Path) -> std::io::Result<()> {
    std::fs::File::open(path)?.sync_all()
}

/// The alignment a write past the page cache needs, of its bytes' address,
/// offset and length: a disk's logical block, 4096 bytes at most.
const DIRECT_ALIGNMENT: usize = 4096;

/// A file's bytes as they are received, kept from an address and up to a
/// length that a write past the page cache accepts (whole blocks, the last
/// one padded with zeros), so that storing them copies nothing more.
///
/// Not `Clone`: a vector's copy would not keep the alignment.
#[derive(Default)]
pub struct FileBytes {
    /// Zeros up to `start`, the bytes, then zeros to a whole block.
    room: Vec<u8>,
    start: usize,
    len: usize,
}

impl FileBytes {
    /// Empty, with room for `expected` bytes (a sender's declared length:
    /// more is taken as it comes).
    pub fn with_capacity(expected: usize) -> Self {
        let mut bytes = Self::default();
        bytes.make_room(expected);
        bytes
    }

    /// Adds `chunk` at the end.
    pub fn extend_from_slice(&mut self, chunk: &[u8]) {
        let len = self.len + chunk.len();
        if self.start + whole_blocks(len) > self.room.capacity() {
            self.make_room(len.max(2 * self.len));
        }
        self.room.truncate(self.start + self.len);
        self.room.extend_from_slice(chunk);
        self.len = len;
        self.room.resize(self.start + whole_blocks(len), 0);
    }

    /// Moves the bytes to a new room for `len` bytes (the vector's own
    /// growth would not keep them aligned).
    fn make_room(&mut self, len: usize) {
        let mut room: Vec<u8> = Vec::with_capacity(whole_blocks(len) + DIRECT_ALIGNMENT);
        // Unaligned if the offset is not known: written through the cache then.
        let start = Some(room.as_ptr().align_offset(DIRECT_ALIGNMENT))
            .filter(|&offset| offset < DIRECT_ALIGNMENT)
            .unwrap_or(0);
        room.resize(start, 0);
        room.extend_from_slice(self.as_slice());
        room.resize(start + whole_blocks(self.len), 0);
        (self.room, self.start) = (room, start);
    }

    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        &self.room[self.start..self.start + self.len]
    }

    /// The bytes and the zeros after them to a whole block.
    fn blocks(&self) -> &[u8] {
        &self.room[self.start..]
    }

    /// How many bytes.
    pub fn len(&self) -> usize {
        self.len
    }
}

impl From<&[u8]> for FileBytes {
    fn from(bytes: &[u8]) -> Self {
        let mut file = Self::with_capacity(bytes.len());
        file.extend_from_slice(bytes);
        file
    }
}

/// `len` rounded up to whole blocks of [`DIRECT_ALIGNMENT`].
fn whole_blocks(len: usize) -> usize {
    len.div_ceil(DIRECT_ALIGNMENT) * DIRECT_ALIGNMENT
}

/// Writes `bytes` as the file `path` (created or emptied) and syncs it.
///
/// Written past the page cache where the file system allows it: an upload
/// is read again rarely, if ever, and copying it into the cache took a third
/// of the server's processor in a burst of uploads on the project's machine
/// (docs/performance.md, twentieth round). Where it does not (tmpfs, a disk
/// with larger blocks), the file is written through the cache.
fn write_synced(path: &Path, bytes: &FileBytes) -> std::io::Result<()> {
    if write_direct(path, bytes).is_ok() {
        return Ok(());
    }
    use std::io::Write;
    let mut file = std::fs::File::create(path)?;
    file.write_all(bytes.as_slice())?;
    file.sync_all()
}

/// Writes `bytes` as the file `path` past the page cache, then syncs it;
/// an error (`EINVAL`) where the file system refuses it.
fn write_direct(path: &Path, bytes: &FileBytes) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .custom_flags(libc::O_DIRECT)
            .open(path)?;
        // The last block's padding is cut off again once written.
        file.write_all(bytes.blocks())?;
        file.set_len(bytes.len() as u64)?;
        file.sync_all()
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (path, bytes);
        Err(std::io::Error::from(std::io::ErrorKind::Unsupported))
    }
}

fn valid_digest(sha256: &str) -> bool {
    sha256.len() == 64 && sha256.bytes().all(|b| b.is_ascii_hexdigit())
}

fn valid_dossier(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

impl FileStore {
    /// Files under `root` (created if needed).
    pub fn open(root: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(root.join("dossiers"))?;
        sync_folder(root)?;
        // At the first start `root` itself is new: its name is made durable
        // in its parent too, or a crash could lose the folder and its files.
        if let Some(parent) = root.parent().filter(|p| !p.as_os_str().is_empty()) {
            sync_folder(parent)?;
        }
        Ok(Self {
            root: root.to_owned(),
            writers: Default::default(),
        })
    }

    fn folder(&self, dossier: &str) -> std::io::Result<PathBuf> {
        if !valid_dossier(dossier) {
            return Err(std::io::Error::other("bad dossier id"));
        }
        Ok(self.root.join("dossiers").join(dossier))
    }

    /// Holds `dossier`'s files for one writer until the guard is dropped.
    pub fn writer(&self, dossier: &str) -> Arc<std::sync::Mutex<()>> {
        let mut writers = self.writers.lock().unwrap_or_else(|e| e.into_inner());
        if writers.len() > 10_000 {
            // Only the locks someone holds now are worth keeping.
            writers.retain(|_, lock| Arc::strong_count(lock) > 1);
        }
        Arc::clone(writers.entry(dossier.to_owned()).or_default())
    }

    /// Stores `bytes` of `dossier` durably; returns their SHA-256 (hex).
    pub fn put(&self, dossier: &str, bytes: &FileBytes) -> std::io::Result<String> {
        let digest = hex::encode(Sha256::digest(bytes.as_slice()));
        let folder = self.folder(dossier)?;
        let path = folder.join(&digest);
        if path.exists() {
            return Ok(digest);
        }
        if !folder.exists() {
            std::fs::create_dir_all(&folder)?;
            // The folder's name is in its parent: synced too, or a crash
            // could lose the folder with the file in it.
            if let Some(parent) = folder.parent() {
                sync_folder(parent)?;
            }
        }
        // Written aside, synced, then renamed: a crash never leaves half a file
        // under its final name.
        let temporary = folder.join(format!(".{digest}.part"));
        write_synced(&temporary, bytes)?;
        std::fs::rename(&temporary, &path)?;
        // The new name is on disk only once its folder is synced: the
        // command that refers to the file is acknowledged after this.
        sync_folder(&folder)?;
        Ok(digest)
    }

    /// The bytes of `dossier` stored under `sha256` (files stored before
    /// dossiers had folders are found where they were).
    pub fn get(&self, dossier: &str, sha256: &str) -> std::io::Result<Vec<u8>> {
        if !valid_digest(sha256) {
            return Err(std::io::Error::other("bad digest"));
        }
        match std::fs::read(self.folder(dossier)?.join(sha256)) {
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                std::fs::read(self.root.join(&sha256[..2]).join(sha256))
            }
            read => read,
        }
    }

    /// Deletes the files of `dossier` not in `referenced`; gives how many.
    pub fn keep_only(&self, dossier: &str, referenced: &HashSet<&str>) -> std::io::Result<usize> {
        let entries = match std::fs::read_dir(self.folder(dossier)?) {
            Ok(entries) => entries,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(error) => return Err(error),
        };
        let mut deleted = 0;
        for entry in entries {
            let entry = entry?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if valid_digest(&name) && !referenced.contains(name.as_ref()) {
                std::fs::remove_file(entry.path())?;
                deleted += 1;
            }
        }
        Ok(deleted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real PDF, as the dossier's PDF reads them.
    const PDF: &[u8] = include_bytes!("../../tests/fixtures/pieces/two-pages.pdf");

    fn png(width: u8) -> Vec<u8> {
        let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
        bytes.extend_from_slice(&[0, 0, 0, 13]);
        bytes.extend_from_slice(b"IHDR");
        bytes.extend_from_slice(&[0, 0, 0, width, 0, 0, 0, 1, 8, 2, 0, 0, 0]);
        bytes.extend_from_slice(&[0, 0, 0, 0]); // CRC
        bytes.extend_from_slice(&[0, 0, 0, 0]);
        bytes.extend_from_slice(b"IEND");
        bytes.extend_from_slice(&[0xAE, 0x42, 0x60, 0x82]);
        bytes
    }

    #[test]
    fn formats_are_recognised_by_content_and_whole() {
        assert_eq!(recognise(PDF), Ok(FileFormat::Pdf));
        assert_eq!(
            recognise(&PDF[..300]),
            Err(FileProblem::Damaged),
            "a truncated PDF"
        );
        assert_eq!(recognise(&png(1)), Ok(FileFormat::Png));
        let whole = png(1);
        assert_eq!(
            recognise(&whole[..whole.len() - 12]),
            Err(FileProblem::Damaged),
            "a PNG without its end"
        );
        assert_eq!(recognise(&png(0)), Err(FileProblem::Damaged), "zero width");
        assert_eq!(
            recognise(&[0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 0xFF, 0xD9]),
            Ok(FileFormat::Jpg)
        );
        assert_eq!(
            recognise(&[0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3]),
            Err(FileProblem::Damaged),
            "a cut JPEG"
        );
        assert_eq!(
            recognise(b"PK\x03\x04 a zip renamed .pdf"),
            Err(FileProblem::UnknownFormat)
        );
        assert_eq!(
            recognise(b"<?php echo 1; ?>"),
            Err(FileProblem::UnknownFormat)
        );
        assert_eq!(recognise(b""), Err(FileProblem::Empty));
    }

    #[test]
    fn nothing_may_follow_the_end_of_a_file() {
        let mut polyglot = PDF.to_vec();
        polyglot.extend_from_slice(b"PK\x03\x04 an archive behind the PDF PK\x05\x06");
        assert_eq!(recognise(&polyglot), Err(FileProblem::Damaged));
        let mut png_and_more = png(1);
        png_and_more.extend_from_slice(b"PK\x03\x04");
        assert_eq!(recognise(&png_and_more), Err(FileProblem::Damaged));
        let mut pdf_with_line_ends = PDF.to_vec();
        pdf_with_line_ends.extend_from_slice(b"\r\n\r\n");
        assert_eq!(recognise(&pdf_with_line_ends), Ok(FileFormat::Pdf));
    }

    #[test]
    fn images_declaring_too_many_pixels_are_refused() {
        let mut huge = png(1);
        // 20,000 × 20,000 in the IHDR chunk.
        huge[16..24].copy_from_slice(&[0, 0, 0x4E, 0x20, 0, 0, 0x4E, 0x20]);
        assert_eq!(recognise(&huge), Err(FileProblem::TooManyPixels));
        // A JPEG frame header (SOF0) declaring 20,000 × 20,000.
        let jpeg = [
            0xFF, 0xD8, 0xFF, 0xC0, 0, 11, 8, 0x4E, 0x20, 0x4E, 0x20, 1, 1, 0x11, 0, 0xFF, 0xD9,
        ];
        assert_eq!(recognise(&jpeg), Err(FileProblem::TooManyPixels));
        let mut small = jpeg;
        small[7..11].copy_from_slice(&[0x0F, 0xA0, 0x0B, 0xB8]); // 4000 × 3000
        assert_eq!(recognise(&small), Ok(FileFormat::Jpg));
    }

    #[test]
    fn names_are_cleaned_and_shortened() {
        assert_eq!(clean_file_name("C:\\Users\\zoe\\cv.pdf"), "cv.pdf");
        assert_eq!(clean_file_name("../../etc/passwd"), "passwd");
        assert_eq!(clean_file_name("photo\u{202e}gnp.exe"), "photognp.exe");
        assert_eq!(clean_file_name("a\nb\tc.pdf"), "abc.pdf");
        let long = clean_file_name(&format!("{}.pdf", "x".repeat(900_000)));
        assert_eq!(long.chars().count(), 100);
        assert!(long.ends_with("x.pdf"));
    }

    #[test]
    fn files_are_stored_by_content() {
        let folder = tempfile::tempdir().expect("tempdir");
        let store = FileStore::open(folder.path()).expect("open");
        let first = store.put("d1", &PDF.into()).expect("put");
        assert_eq!(
            store.put("d1", &PDF.into()).expect("put"),
            first,
            "the same bytes, the same name"
        );
        assert_eq!(store.get("d1", &first).expect("get"), PDF);
        assert!(store.get("d1", "../../etc/passwd").is_err());
        assert!(store.put("../d2", &PDF.into()).is_err());
        // What the dossier no longer refers to goes; another dossier's stays.
        let other = store.put("d2", &PDF.into()).expect("put");
        let png = store.put("d1", &png(1).as_slice().into()).expect("put");
        assert_eq!(
            store
                .keep_only("d1", &HashSet::from([png.as_str()]))
                .expect("sweep"),
            1
        );
        assert!(store.get("d1", &first).is_err());
        assert_eq!(store.get("d2", &other).expect("get"), PDF);
    }

    /// Bytes of every length around a block's: none, one, a block less one,
    /// a block, a block and one, and a megabyte and three.
    fn lengths() -> Vec<Vec<u8>> {
        [0, 1, 4095, 4096, 4097, (1 << 20) + 3]
            .into_iter()
            .map(|len| (0..len).map(|i| (i % 251) as u8 + 1).collect())
            .collect()
    }

    #[test]
    fn received_bytes_stay_aligned_and_padded_as_they_grow() {
        for expected in [0, 10, 5000, 1 << 21] {
            let mut received = FileBytes::with_capacity(expected);
            let mut sent = Vec::new();
            for chunk in [1, 4095, 3, 70_000, 8192, 1 << 20] {
                let bytes: Vec<u8> = (0..chunk).map(|i| (i % 7) as u8 + 1).collect();
                received.extend_from_slice(&bytes);
                sent.extend_from_slice(&bytes);
                assert_eq!(received.as_slice(), sent, "the bytes as sent");
                let blocks = received.blocks();
                assert_eq!(blocks.as_ptr() as usize % DIRECT_ALIGNMENT, 0);
                assert_eq!(blocks.len() % DIRECT_ALIGNMENT, 0);
                assert!(blocks.len() - sent.len() < DIRECT_ALIGNMENT);
                assert!(
                    blocks[sent.len()..].iter().all(|&b| b == 0),
                    "padded with zeros"
                );
            }
        }
    }

    #[test]
    fn files_are_written_whole_past_the_cache_or_through_it() {
        let folder = tempfile::tempdir().expect("tempdir");
        for bytes in lengths() {
            let path = folder.path().join(format!("{}", bytes.len()));
            let file = FileBytes::from(bytes.as_slice());
            // Where the file system refuses a write past the cache, it
            // says so before writing.
            match write_direct(&path, &file) {
                Ok(()) => assert_eq!(std::fs::read(&path).expect("read"), bytes),
                Err(error) => assert_eq!(error.raw_os_error(), Some(libc::EINVAL), "{error}"),
            }
            // Over a longer file: emptied first.
            std::fs::write(&path, vec![9; 3 << 20]).expect("write");
            write_synced(&path, &file).expect("written");
            assert_eq!(std::fs::read(&path).expect("read"), bytes);
            // From an address a write past the cache refuses (a heap
            // address is a multiple of 16 at least, so one past it is not
            // a block's): through the cache.
            let mut room = vec![0];
            room.extend_from_slice(&bytes);
            room.resize(1 + whole_blocks(bytes.len()), 0);
            let unaligned = FileBytes {
                room,
                start: 1,
                len: bytes.len(),
            };
            std::fs::write(&path, vec![9; 3 << 20]).expect("write");
            write_synced(&path, &unaligned).expect("written");
            assert_eq!(std::fs::read(&path).expect("read"), bytes);
        }
    }
}
