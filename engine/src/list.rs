//! Reference lists (CSV files or inline rows) that fields and conditions read.

use std::collections::BTreeMap;
use std::sync::Arc;

/// The reference lists of a definition, by id.
pub type Lists = Arc<BTreeMap<String, List>>;

/// A reference list, loaded.
#[derive(Debug, Clone)]
pub struct List {
    /// Column names.
    pub columns: Vec<String>,
    /// Rows, each a mapping column → value.
    pub rows: Vec<BTreeMap<String, String>>,
    /// Column holding the key.
    pub key: String,
    /// Column holding the label.
    pub label: String,
}

impl List {
    /// The label of `row` in `language`: its column `<label>_<language>`
    /// (`label_en`) when the list has one and it is filled, else its label.
    pub fn label_in<'r>(
        &self,
        row: &'r BTreeMap<String, String>,
        language: &str,
    ) -> Option<&'r String> {
        let translated = row.get(&format!("{}_{language}", self.label));
        translated
            .filter(|label| !label.is_empty())
            .or_else(|| row.get(&self.label))
    }

    /// The row with key `key`.
    pub fn row(&self, key: &str) -> Option<&BTreeMap<String, String>> {
        self.rows
            .iter()
            .find(|row| row.get(&self.key).map(String::as_str) == Some(key))
    }
}
