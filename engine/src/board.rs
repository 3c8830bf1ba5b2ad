//! What staff lists show of a candidature: one summary [`Row`] per
//! candidature, computed when its dossier is written and kept in the store's
//! index beside the key (formation, state), so a list reads only the rows of
//! the formations and states it shows, never the dossiers themselves.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::context::{base_context, piece_views, set_formation, PieceView};
use crate::definition::Definition;
use crate::dossier::{Candidature, Dossier};
use crate::model::{FieldDef, FieldType};
use crate::script::ScriptError;

/// One candidature as a staff list shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// Dossier id (also the dossier number shown).
    pub dossier: String,
    /// Candidature id.
    pub candidature: String,
    /// Formation id.
    pub formation: String,
    /// Status id.
    pub state: String,
    /// Candidate's last name.
    pub last_name: String,
    /// Candidate's first name.
    pub first_name: String,
    /// Candidate's email address.
    pub email: String,
    /// When the candidate last sent it, if they did.
    pub sent_at: Option<Timestamp>,
    /// When it entered its status.
    pub entered_state_at: Timestamp,
    /// Pieces provided (uploaded, declared not concerned, validated…).
    pub provided: u32,
    /// Pieces the candidature requires.
    pub required: u32,
    /// Status of each of the formation's pieces, by piece id.
    pub pieces: BTreeMap<String, String>,
    /// The values of the [`list_columns`] the candidature holds.
    pub columns: BTreeMap<String, Value>,
    /// What staff search reads, folded ([`crate::fold`]): the names, the
    /// email, the dossier number and the answers of the fields marked
    /// `search: true`, space-separated, each name followed by a NUL too
    /// (see [`Row::sorted_name`]).
    pub search: String,
}

impl Row {
    /// The [`Row::search`] text of a candidate named `first_name`
    /// `last_name`, then the words of `more` (the email, the dossier
    /// number, searched answers).
    ///
    /// ```
    /// use guichet_engine::Row;
    /// let search = Row::search_text("Le Goff", "Anaïs", "a@example.org");
    /// assert_eq!(search, "le goff\0 anais\0 a@example.org");
    /// ```
    pub fn search_text(last_name: &str, first_name: &str, more: impl std::fmt::Display) -> String {
        crate::fold(&format!("{last_name}\0 {first_name}\0 {more}"))
    }

    /// The candidate's names as staff lists sort them, folded: the last
    /// name, a NUL, a space and the first name (a NUL sorts before every
    /// letter, so "Le" comes before "Le Goff"). They head
    /// [`Row::search`]: a list sorts every row it reads by them, and
    /// folding them again for each took a fifth of its time.
    pub fn sorted_name(&self) -> &str {
        let mut nuls = self.search.match_indices('\0').map(|(at, _)| at);
        let end = nuls.nth(1).unwrap_or(self.search.len());
        &self.search[..end]
    }
}

/// The values staff lists show as columns (and filter on): the `choice` and
/// `number` inputs of the transitions (a decision, a rank), once each.
pub fn list_columns(definition: &Definition) -> Vec<&FieldDef> {
    let mut columns: Vec<&FieldDef> = Vec::new();
    for transition in &definition.file().workflow.transitions {
        for field in &transition.input {
            let shown = matches!(field.kind, FieldType::Choice | FieldType::Number);
            if shown && !columns.iter().any(|c| c.id == field.id) {
                columns.push(field);
            }
        }
    }
    columns
}

/// The rows of every candidature of `dossier`, under its `definition`.
pub fn rows(
    definition: &Definition,
    dossier: &Dossier,
    now: Timestamp,
) -> Result<Vec<Row>, ScriptError> {
    if dossier.candidatures.is_empty() {
        return Ok(Vec::new());
    }
    // A row counts its pieces: their views, not the whole context.
    let mut base = base_context(definition, dossier, now);
    let language = dossier.language.as_str();
    let candidatures = dossier.candidatures.iter();
    candidatures
        .map(|candidature| {
            set_formation(definition, &mut base, &candidature.formation, language);
            let pieces = piece_views(definition, dossier, candidature, &base)?;
            Ok(row(definition, dossier, candidature, &pieces))
        })
        .collect()
}

fn row(
    definition: &Definition,
    dossier: &Dossier,
    candidature: &Candidature,
    pieces: &[PieceView],
) -> Row {
    let count = |test: &dyn Fn(&PieceView) -> bool| {
        u32::try_from(pieces.iter().filter(|p| test(p)).count()).unwrap_or(u32::MAX)
    };
    let required = count(&|p| p.required);
    let provided = count(&|p| p.provided);
    let columns = list_columns(definition)
        .into_iter()
        .filter_map(|field| {
            let value = candidature.data.get(&field.id)?;
            Some((field.id.clone(), value.clone()))
        })
        .collect();
    // Staff search what the candidate sent, or what they are writing.
    let profile = dossier.answers_of(&candidature.id);
    Row {
        dossier: dossier.id.clone(),
        candidature: candidature.id.clone(),
        formation: candidature.formation.clone(),
        state: candidature.state.clone(),
        last_name: dossier.candidate.last_name.clone(),
        first_name: dossier.candidate.first_name.clone(),
        email: dossier.candidate.email.clone(),
        sent_at: candidature.sent.as_ref().map(|sent| sent.at),
        entered_state_at: candidature.entered_state_at,
        provided,
        required,
        pieces: pieces
            .iter()
            .map(|p| (p.id.to_owned(), p.status.to_owned()))
            .collect(),
        columns,
        search: Row::search_text(
            &dossier.candidate.last_name,
            &dossier.candidate.first_name,
            format_args!(
                "{} {} {}",
                dossier.candidate.email,
                dossier.id,
                searched_answers(definition, profile)
            ),
        ),
    }
}

/// The answers of the searchable fields of `profile`, space-separated.
fn searched_answers(definition: &Definition, profile: &BTreeMap<String, Value>) -> String {
    let mut words = Vec::new();
    for section in &definition.file().profile {
        let fields: Vec<&str> = section
            .fields
            .iter()
            .filter(|f| f.search)
            .map(|f| f.id.as_str())
            .collect();
        if fields.is_empty() {
            continue;
        }
        let answers = match profile.get(&section.id) {
            Some(Value::Array(entries)) => entries.iter().collect(),
            Some(entry) => vec![entry],
            None => Vec::new(),
        };
        for entry in answers {
            for field in &fields {
                match &entry[*field] {
                    Value::String(text) => words.push(text.clone()),
                    Value::Number(number) => words.push(number.to_string()),
                    _ => {}
                }
            }
        }
    }
    words.join(" ")
}

#[cfg(test)]
mod tests {
    use super::Row;

    fn named(last_name: &str, first_name: &str) -> Row {
        Row {
            dossier: "d".into(),
            candidature: "c".into(),
            formation: "f".into(),
            state: "s".into(),
            last_name: last_name.into(),
            first_name: first_name.into(),
            email: "e@example.org".into(),
            sent_at: None,
            entered_state_at: jiff::Timestamp::UNIX_EPOCH,
            provided: 0,
            required: 0,
            pieces: Default::default(),
            columns: Default::default(),
            search: Row::search_text(last_name, first_name, "e@example.org 42 marseille"),
        }
    }

    #[test]
    fn names_sort_by_last_name_then_first_folded() {
        let mut rows = [
            named("Le Goff", "Anaïs"),
            named("LÉ", "Zoé"),
            named("Le", "Anne Marie"),
            named("Åberg", "Nils"),
        ];
        rows.sort_by(|a, b| a.sorted_name().cmp(b.sorted_name()));
        let sorted: Vec<&str> = rows.iter().map(Row::sorted_name).collect();
        assert_eq!(
            sorted,
            [
                "aberg\0 nils",
                "le\0 anne marie",
                "le\0 zoe",
                "le goff\0 anais"
            ]
        );
        // The rest of the search text is not part of the name.
        assert!(rows[0].search.ends_with("\0 e@example.org 42 marseille"));
        // A text without the names' NULs (never written so) sorts whole.
        let mut stale = named("Le", "Anne");
        stale.search = "le anne".into();
        assert_eq!(stale.sorted_name(), "le anne");
    }
}
