//! The files a definition is made of, as read from disk or given as text.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::yaml;

/// Why the files of a definition could not be read.
#[derive(Debug, thiserror::Error)]
#[error("cannot read {}", path.display())]
pub struct ReadError {
    /// The path.
    pub path: std::path::PathBuf,
    /// The cause.
    #[source]
    pub source: std::io::Error,
}

/// The files a definition is made of: the YAML text and the list files it names.
///
/// A bundle is what a dossier is pinned to: the engine stores it under its hash,
/// so a dossier started under one version keeps being handled by that version.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Bundle {
    /// Name of the definition file, used in diagnostics.
    pub name: String,
    /// Text of the definition file.
    pub text: String,
    /// Files named by the definition (CSV lists), by the path written in it.
    pub files: BTreeMap<String, String>,
    /// Folder the names in `files` are relative to, for diagnostics only.
    #[serde(default)]
    pub base: String,
}

impl Bundle {
    /// A bundle of a single YAML text with no list files.
    pub fn from_text(name: &str, text: &str) -> Self {
        Self {
            name: name.to_owned(),
            text: text.to_owned(),
            files: BTreeMap::new(),
            base: String::new(),
        }
    }

    /// Reads a definition file and every list file it names.
    pub fn read(path: &Path) -> Result<Self, ReadError> {
        let text = std::fs::read_to_string(path).map_err(|source| ReadError {
            path: path.to_owned(),
            source,
        })?;
        let base = path.parent().unwrap_or(Path::new(""));
        let mut files = BTreeMap::new();
        // Missing or unreadable list files are reported by the checker, at the line naming them.
        if let Ok((value, _)) = yaml::parse(&text) {
            if let Some(lists) = value.get("lists").and_then(Value::as_object) {
                for list in lists.values() {
                    if let Some(name) = list.get("file").and_then(Value::as_str) {
                        if let Ok(content) = std::fs::read_to_string(base.join(name)) {
                            files.insert(name.to_owned(), content);
                        }
                    }
                }
            }
        }
        Ok(Self {
            name: path.display().to_string(),
            text,
            files,
            base: base.display().to_string(),
        })
    }

    /// Content hash: the same texts give the same hash wherever they are stored.
    pub fn hash(&self) -> String {
        let mut hasher = Sha256::new();
        let mut feed = |part: &str| {
            hasher.update((part.len() as u64).to_le_bytes());
            hasher.update(part.as_bytes());
        };
        feed(&self.text);
        for (name, content) in &self.files {
            feed(name);
            feed(content);
        }
        let digest = hasher.finalize();
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }
}
