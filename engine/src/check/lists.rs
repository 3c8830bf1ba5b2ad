//! The campaign dates, the time zone, and the reference lists (CSV files
//! or inline rows), each value checked where it is written.

use std::collections::BTreeSet;

use jiff::tz::TimeZone;

use super::{identifier, Checker, Place, Row};
use crate::list::List;
use crate::units::parse_date;
use crate::yaml::escape_segment;

impl Checker<'_> {
    pub(super) fn timezone(&mut self) -> Option<TimeZone> {
        let name = self.def.timezone.as_deref().unwrap_or("UTC");
        match TimeZone::get(name) {
            Ok(tz) => Some(tz),
            Err(_) => {
                self.error(
                    "/timezone",
                    format!("unknown time zone `{name}`"),
                    "use an IANA time zone name such as `Europe/Paris`",
                );
                None
            }
        }
    }

    pub(super) fn date(&mut self, pointer: &str, text: &str) -> Option<jiff::civil::Date> {
        match parse_date(text) {
            Ok(date) => Some(date),
            Err(message) => {
                self.error(
                    pointer,
                    message,
                    "write dates as YYYY-MM-DD, e.g. 2027-03-01",
                );
                None
            }
        }
    }

    pub(super) fn languages(&mut self) {
        let supported = crate::model::SUPPORTED_LANGUAGES;
        let languages = &self.def.languages;
        for (index, code) in languages.iter().enumerate() {
            if !supported.contains(&code.as_str()) {
                self.unknown(&format!("/languages/{index}"), "language", code, &supported);
            }
        }
        self.unique(
            "/languages",
            "language",
            languages.iter().map(String::as_str),
        );
        for code in self.def.words.keys() {
            if !supported.contains(&code.as_str()) {
                let pointer = format!("/words/{}", crate::yaml::escape_segment(code));
                self.unknown(&pointer, "language", code, &supported);
            }
        }
    }

    pub(super) fn campaign(&mut self) -> (Option<jiff::civil::Date>, Option<jiff::civil::Date>) {
        let opens = self.date("/campaign/opens", &self.def.campaign.opens);
        let closes = self.date("/campaign/closes", &self.def.campaign.closes);
        if let (Some(o), Some(c)) = (opens, closes) {
            if c < o {
                self.error(
                    "/campaign/closes",
                    format!("the campaign closes ({c}) before it opens ({o})"),
                    "`closes` must be the same day as `opens` or later",
                );
            }
        }
        if self.def.campaign.max_candidatures == Some(0) {
            self.error(
                "/campaign/max_candidatures",
                "a candidate could not apply to anything",
                "give at least 1, or remove the key for no limit",
            );
        }
        (opens, closes)
    }

    pub(super) fn lists(&mut self) {
        for (id, list) in &self.def.lists {
            let base = format!("/lists/{}", escape_segment(id));
            if !identifier().is_match(id) {
                self.error_at_key(
                    &base,
                    format!("`{id}` is not a valid list id"),
                    "use lowercase letters, digits and `_`",
                );
            }
            let rows = match (&list.file, &list.items) {
                (Some(_), Some(_)) | (None, None) => {
                    self.error(
                        &base,
                        format!("list `{id}` needs exactly one of `file` or `items`"),
                        "give `file: data/name.csv` or inline `items:`",
                    );
                    continue;
                }
                (None, Some(items)) => {
                    let places = (0..items.len())
                        .map(|n| (self.main, self.map.value_span(&format!("{base}/items/{n}"))))
                        .collect();
                    (items.clone(), places)
                }
                (Some(name), None) => match self.csv(&format!("{base}/file"), name) {
                    Some(rows) => rows,
                    None => continue,
                },
            };
            let (rows, places) = rows;
            let key = list.key.clone().unwrap_or_else(|| "id".into());
            let label = list.label.clone().unwrap_or_else(|| "label".into());
            let mut columns: Vec<String> = Vec::new();
            for row in &rows {
                for column in row.keys() {
                    if !columns.contains(column) {
                        columns.push(column.clone());
                    }
                }
            }
            for (what, column) in [("key", &key), ("label", &label)] {
                if !rows.is_empty() && !columns.contains(column) {
                    let known: Vec<&str> = columns.iter().map(String::as_str).collect();
                    let pointer = if list.key.is_some() && what == "key"
                        || list.label.is_some() && what == "label"
                    {
                        format!("{base}/{what}")
                    } else {
                        base.clone()
                    };
                    self.unknown(&pointer, &format!("{what} column"), column, &known);
                }
            }
            let mut seen = BTreeSet::new();
            for (row, (file, span)) in rows.iter().zip(&places) {
                if let Some(value) = row.get(&key) {
                    if !seen.insert(value.clone()) {
                        self.diagnostics.push(
                            *file,
                            span.clone(),
                            format!("list `{id}` has the key `{value}` twice"),
                            format!("each row needs its own value in column `{key}`"),
                        );
                    }
                }
            }
            self.lists
                .insert(id.clone(), List::new(columns, rows, key, label));
        }
        if let Some(composantes) = &self.def.composantes {
            if !self.def.lists.contains_key(composantes) {
                let known: Vec<&str> = self.def.lists.keys().map(String::as_str).collect();
                self.unknown("/composantes", "list", composantes, &known);
            }
        }
    }

    /// Reads a CSV list: its rows, and where each row stands.
    pub(super) fn csv(&mut self, pointer: &str, name: &str) -> Option<(Vec<Row>, Vec<Place>)> {
        let Some(content) = self.bundle.files.get(name) else {
            let path = std::path::Path::new(&self.bundle.base).join(name);
            self.error(
                pointer,
                format!("cannot read the list file `{}`", path.display()),
                "the path is relative to the definition file; check it exists and is readable",
            );
            return None;
        };
        let path = std::path::Path::new(&self.bundle.base).join(name);
        let file = self
            .diagnostics
            .add_file(&path.display().to_string(), content);
        let line_at = |offset: usize| {
            let end = content[offset.min(content.len())..]
                .find('\n')
                .map_or(content.len(), |n| offset + n);
            offset..end
        };
        let mut reader = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .from_reader(content.as_bytes());
        let headers = match reader.headers() {
            Ok(headers) => headers.clone(),
            Err(error) => {
                self.diagnostics.push(
                    file,
                    0..0,
                    format!("`{name}` is not a readable CSV file: {error}"),
                    "the first line must name the columns, separated by commas; the file must be UTF-8",
                );
                return None;
            }
        };
        let mut rows = Vec::new();
        let mut places = Vec::new();
        for record in reader.records() {
            match record {
                Ok(record) => {
                    let offset = record.position().map_or(0, |p| p.byte() as usize);
                    places.push((file, line_at(offset)));
                    rows.push(
                        headers
                            .iter()
                            .zip(record.iter())
                            .map(|(h, v)| (h.to_owned(), v.to_owned()))
                            .collect(),
                    );
                }
                Err(error) => {
                    let offset = error.position().map_or(0, |p| p.byte() as usize);
                    let message = match error.kind() {
                        csv::ErrorKind::UnequalLengths {
                            expected_len, len, ..
                        } => {
                            format!("this line has {len} values where the header names {expected_len} columns")
                        }
                        _ => format!("`{name}` cannot be read here: {error}"),
                    };
                    self.diagnostics.push(
                        file,
                        line_at(offset),
                        message,
                        "every line needs as many values as the header has columns; quote values containing commas",
                    );
                    return None;
                }
            }
        }
        Some((rows, places))
    }
}
