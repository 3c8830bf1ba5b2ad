//! Uploaded files: checked by their content, stored by their SHA-256.
//!
//! The name and the browser's type are ignored: a file is a PDF, a JPEG or a
//! PNG only if its bytes say so, down to its end (a truncated file is refused).
//! Files live under the data directory, never in a served folder.

use std::path::{Path, PathBuf};

use guichet_engine::model::FileFormat;
use sha2::{Digest, Sha256};

/// What is wrong with an uploaded file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileProblem {
    /// Empty.
    Empty,
    /// Not a PDF, JPEG or PNG by its content.
    UnknownFormat,
    /// Starts as a PDF, JPEG or PNG but is cut or damaged.
    Damaged,
}

/// Recognises the format of `bytes` and checks its structure.
pub fn recognise(bytes: &[u8]) -> Result<FileFormat, FileProblem> {
    if bytes.is_empty() {
        return Err(FileProblem::Empty);
    }
    if bytes.starts_with(b"%PDF-") {
        // A complete PDF ends with `%%EOF` after its cross-reference offset.
        let tail = &bytes[bytes.len().saturating_sub(1024)..];
        let ends = find(tail, b"%%EOF").is_some() && find(tail, b"startxref").is_some();
        let version = bytes
            .get(5..8)
            .is_some_and(|v| v[0].is_ascii_digit() && v[1] == b'.' && v[2].is_ascii_digit());
        return if ends && version {
            Ok(FileFormat::Pdf)
        } else {
            Err(FileProblem::Damaged)
        };
    }
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        // Image data ends with the End Of Image marker; a cut file lacks it.
        let trimmed = trim_trailing_zeros(bytes);
        return if trimmed.ends_with(&[0xFF, 0xD9]) {
            Ok(FileFormat::Jpg)
        } else {
            Err(FileProblem::Damaged)
        };
    }
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        return if png_is_whole(bytes) {
            Ok(FileFormat::Png)
        } else {
            Err(FileProblem::Damaged)
        };
    }
    Err(FileProblem::UnknownFormat)
}

fn trim_trailing_zeros(bytes: &[u8]) -> &[u8] {
    let end = bytes.iter().rposition(|b| *b != 0).map_or(0, |i| i + 1);
    &bytes[..end]
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Walks the PNG chunks: an IHDR with a non-zero size first, an IEND last,
/// every chunk within the file.
fn png_is_whole(bytes: &[u8]) -> bool {
    let mut at = 8;
    let mut first = true;
    while let Some(header) = bytes.get(at..at + 8) {
        let length = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let kind = &header[4..8];
        if first {
            let size = bytes.get(at + 8..at + 16);
            let valid =
                kind == b"IHDR" && size.is_some_and(|s| s[..4] != [0; 4] && s[4..] != [0; 4]);
            if !valid {
                return false;
            }
            first = false;
        }
        let next = at + 12 + length;
        if next > bytes.len() {
            return false;
        }
        if kind == b"IEND" {
            return true;
        }
        at = next;
    }
    false
}

/// The content-addressed store of uploaded files.
pub struct FileStore {
    root: PathBuf,
}

impl FileStore {
    /// Files under `root` (created if needed).
    pub fn open(root: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(root)?;
        Ok(Self {
            root: root.to_owned(),
        })
    }

    fn path(&self, sha256: &str) -> Option<PathBuf> {
        let valid = sha256.len() == 64 && sha256.bytes().all(|b| b.is_ascii_hexdigit());
        valid.then(|| self.root.join(&sha256[..2]).join(sha256))
    }

    /// Stores `bytes` durably; returns their SHA-256 (hex).
    pub fn put(&self, bytes: &[u8]) -> std::io::Result<String> {
        let digest: String = Sha256::digest(bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let Some(path) = self.path(&digest) else {
            return Err(std::io::Error::other("bad digest"));
        };
        if path.exists() {
            return Ok(digest);
        }
        let folder = path.parent().unwrap_or(&self.root);
        std::fs::create_dir_all(folder)?;
        // Written aside, synced, then renamed: a crash never leaves half a file
        // under its final name.
        let temporary = folder.join(format!(".{digest}.part"));
        {
            use std::io::Write;
            let mut file = std::fs::File::create(&temporary)?;
            file.write_all(bytes)?;
            file.sync_all()?;
        }
        std::fs::rename(&temporary, &path)?;
        Ok(digest)
    }

    /// The bytes stored under `sha256`.
    pub fn get(&self, sha256: &str) -> std::io::Result<Vec<u8>> {
        let path = self
            .path(sha256)
            .ok_or_else(|| std::io::Error::other("bad digest"))?;
        std::fs::read(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PDF: &[u8] = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\nstartxref\n9\n%%EOF\n";

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
            recognise(&PDF[..30]),
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
    fn files_are_stored_by_content() {
        let folder = tempfile::tempdir().expect("tempdir");
        let store = FileStore::open(folder.path()).expect("open");
        let first = store.put(PDF).expect("put");
        assert_eq!(
            store.put(PDF).expect("put"),
            first,
            "the same bytes, the same name"
        );
        assert_eq!(store.get(&first).expect("get"), PDF);
        assert!(store.get("../../etc/passwd").is_err());
    }
}
