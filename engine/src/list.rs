//! Reference lists (CSV files or inline rows) that fields and conditions read.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

use crate::model::SUPPORTED_LANGUAGES;

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
    /// Every row as an option, in each supported language: made once when
    /// the list is loaded, since every page showing the list offers them.
    choices: Vec<(&'static str, Vec<Choice>)>,
}

/// One option offered to the candidate: its stable key and its label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    /// Key stored in the answer.
    pub id: String,
    /// Label shown.
    pub label: String,
}

impl List {
    /// The list of `rows`, keyed by column `key` and labelled by column `label`.
    pub fn new(
        columns: Vec<String>,
        rows: Vec<BTreeMap<String, String>>,
        key: String,
        label: String,
    ) -> List {
        let mut list = List {
            columns,
            rows,
            key,
            label,
            choices: Vec::new(),
        };
        list.choices = SUPPORTED_LANGUAGES
            .into_iter()
            .map(|language| {
                let choices = list.rows.iter().map(|row| list.choice(row, language));
                (language, choices.collect())
            })
            .collect();
        list
    }

    /// `row` as an option in `language` (its key when it has no label).
    pub fn choice(&self, row: &BTreeMap<String, String>, language: &str) -> Choice {
        let id = row.get(&self.key).cloned().unwrap_or_default();
        let label = self
            .label_in(row, language)
            .cloned()
            .unwrap_or_else(|| id.clone());
        Choice { id, label }
    }

    /// Every row as an option in `language`, in the list's order.
    pub fn choices_in(&self, language: &str) -> Cow<'_, [Choice]> {
        match self.choices.iter().find(|(code, _)| *code == language) {
            Some((_, choices)) => Cow::Borrowed(choices),
            None => Cow::Owned(
                self.rows
                    .iter()
                    .map(|row| self.choice(row, language))
                    .collect(),
            ),
        }
    }

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
