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
    /// The definitions this one extends (its `extends:`, then that one's…),
    /// nearest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bases: Vec<BaseText>,
}

/// A definition another one extends.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BaseText {
    /// Its path, relative to the extending file's folder.
    pub path: String,
    /// Its text.
    pub text: String,
}

/// How many definitions deep `extends:` may go.
pub const MAX_EXTENDS: usize = 8;

/// The folder of `path` (a path as written, `/`-separated), `""` for none.
pub fn folder_of(path: &str) -> &str {
    path.rfind('/').map_or("", |cut| &path[..cut])
}

impl Bundle {
    /// A bundle of a single YAML text with no list files.
    pub fn from_text(name: &str, text: &str) -> Self {
        Self {
            name: name.to_owned(),
            text: text.to_owned(),
            files: BTreeMap::new(),
            base: String::new(),
            bases: Vec::new(),
        }
    }

    /// Reads a definition file and every list file it names.
    pub fn read(path: &Path) -> Result<Self, ReadError> {
        let text = std::fs::read_to_string(path).map_err(|source| ReadError {
            path: path.to_owned(),
            source,
        })?;
        Ok(Self::with_text(path, text))
    }

    /// `text` as the definition file at `path` would be: the bases and list
    /// files it names read beside `path` (an edit checked before it is saved).
    pub fn with_text(path: &Path, text: String) -> Self {
        Self::with_text_reading(path, text, &|_| true)
    }

    /// [`Self::with_text`] reading only the bases and list files `may_read`
    /// allows, by their path as written (relative to `path`'s folder, see
    /// [`is_below`]); the checker reports the others as files it could not
    /// read. A text that comes from elsewhere than the file's author (the
    /// staff's editor in a browser) must not make the server read, and show,
    /// whatever file it may read.
    pub fn with_text_reading(path: &Path, text: String, may_read: &dyn Fn(&str) -> bool) -> Self {
        let base = path.parent().unwrap_or(Path::new(""));
        let mut files = BTreeMap::new();
        // The chain of bases: a missing one is reported by the checker, at
        // the `extends:` naming it.
        let mut bases: Vec<BaseText> = Vec::new();
        let mut next = yaml::parse(&text)
            .ok()
            .and_then(|(value, _)| crate::overlay::extends(&value).map(str::to_owned));
        while let Some(relative) = next.take() {
            let seen = bases.iter().any(|b| b.path == relative);
            if seen || bases.len() >= MAX_EXTENDS || !may_read(&relative) {
                break;
            }
            let Ok(base_text) = std::fs::read_to_string(base.join(&relative)) else {
                break;
            };
            next = yaml::parse(&base_text).ok().and_then(|(value, _)| {
                let further = crate::overlay::extends(&value)?;
                Some(join(folder_of(&relative), further))
            });
            bases.push(BaseText {
                path: relative,
                text: base_text,
            });
        }
        // Missing or unreadable list files are reported by the checker, at the line naming them.
        if let Ok(value) = merged_value(&text, &bases) {
            if let Some(lists) = value.get("lists").and_then(Value::as_object) {
                for list in lists.values() {
                    if let Some(name) = list.get("file").and_then(Value::as_str) {
                        if !may_read(name) {
                            continue;
                        }
                        if let Ok(content) = std::fs::read_to_string(base.join(name)) {
                            files.insert(name.to_owned(), content);
                        }
                    }
                }
            }
        }
        Self {
            name: path.display().to_string(),
            text,
            files,
            base: base.display().to_string(),
            bases,
        }
    }

    /// Content hash: the same texts give the same hash wherever they are stored.
    pub fn hash(&self) -> String {
        let mut hasher = Sha256::new();
        let mut feed = |part: &str| {
            hasher.update((part.len() as u64).to_le_bytes());
            hasher.update(part.as_bytes());
        };
        feed(&self.text);
        for base in &self.bases {
            feed(&base.path);
            feed(&base.text);
        }
        for (name, content) in &self.files {
            feed(name);
            feed(content);
        }
        hex::encode(hasher.finalize())
    }
}

/// Whether `name`, a path as a definition writes it, stays below the
/// folder it is relative to: no root, no `..`, no `.`.
pub fn is_below(name: &str) -> bool {
    let path = Path::new(name);
    !name.is_empty()
        && path
            .components()
            .all(|part| matches!(part, std::path::Component::Normal(_)))
}

/// `path` (relative to `folder`) as seen from the folder `folder` is
/// relative to.
pub fn join(folder: &str, path: &str) -> String {
    if folder.is_empty() {
        path.to_owned()
    } else {
        format!("{folder}/{path}")
    }
}

/// The document of `text` with its `bases` applied (no positions), for
/// finding the list files of the merged definition.
pub(crate) fn merged_value(text: &str, bases: &[BaseText]) -> Result<Value, ()> {
    let (value, map) = yaml::parse(text).map_err(|_| ())?;
    let mut layers = vec![crate::overlay::Layer { value, map }];
    for base in bases {
        let (mut value, map) = yaml::parse(&base.text).map_err(|_| ())?;
        crate::overlay::relocate_lists(&mut value, folder_of(&base.path));
        layers.push(crate::overlay::Layer { value, map });
    }
    let mut merged = layers.pop().ok_or(())?;
    while let Some(overlay) = layers.pop() {
        merged = crate::overlay::merge(
            crate::overlay::without_extends(merged),
            crate::overlay::without_extends(overlay),
        );
    }
    Ok(crate::overlay::without_extends(merged).value)
}
