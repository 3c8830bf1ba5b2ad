//! The dossier's sections and forms, their fields, the pieces and the
//! formations of the catalogue.

use std::collections::BTreeSet;

use regex::Regex;

use super::Checker;
use crate::context::shape::{self, Shape};
use crate::model::FormMode;
use crate::model::{FieldDef, FieldType};
use crate::units::parse_size;

/// The largest `max_size` a piece may have, in bytes. An upload is held
/// whole while its content is checked: a limit of gigabytes (a typo for
/// megabytes) would let a few candidates fill the server's memory.
const LARGEST_PIECE: u64 = 100_000_000;

impl Checker<'_> {
    pub(super) fn fields(&mut self, base: &str, fields: &[FieldDef], condition_shape: &Shape) {
        self.unique(base, "field", fields.iter().map(|f| f.id.as_str()));
        for (index, field) in fields.iter().enumerate() {
            let at = format!("{base}/{index}");
            self.identifier(&format!("{at}/id"), &field.id);
            self.text(&format!("{at}/label"), &field.label);
            if let Some(when) = &field.when {
                self.expression(&format!("{at}/when"), when, condition_shape);
            }
            if let Some(pattern) = &field.pattern {
                // Whole-value match: `^[0-9]{5}$` and `[0-9]{5}` mean the same.
                match Regex::new(&format!("^(?:{pattern})$")) {
                    Ok(compiled) => {
                        self.patterns.insert(pattern.clone(), compiled);
                    }
                    Err(error) => {
                        let message = error.to_string();
                        let first = message.lines().last().unwrap_or(&message).to_owned();
                        self.error(
                        &format!("{at}/pattern"),
                        format!("this pattern is not a valid regular expression: {first}"),
                        "write a regular expression, e.g. `^[0-9]{9}[A-Z]{2}$`; in YAML, quote it with single quotes",
                    );
                    }
                }
            }
            let is_choice = matches!(field.kind, FieldType::Choice | FieldType::MultiChoice);
            match (&field.options, &field.options_from) {
                (Some(_), Some(_)) => self.error(
                    &at,
                    format!("field `{}` has both `options` and `options_from`", field.id),
                    "keep one of them",
                ),
                (None, None) if is_choice => self.error(
                    &at,
                    format!("choice field `{}` has no options", field.id),
                    "add `options:` or `options_from: { list: … }`",
                ),
                (Some(_), _) | (_, Some(_)) if !is_choice => self.error(
                    &at,
                    format!("field `{}` has options but is not a choice", field.id),
                    "use `type: choice` or `type: multi_choice`, or remove the options",
                ),
                _ => {}
            }
            if let Some(options) = &field.options {
                self.unique(
                    &format!("{at}/options"),
                    "option",
                    options.iter().map(|o| o.id.as_str()),
                );
            }
            if let Some(from) = &field.options_from {
                match self.lists.get(&from.list) {
                    None => {
                        let known: Vec<String> = self.def.lists.keys().cloned().collect();
                        let known: Vec<&str> = known.iter().map(String::as_str).collect();
                        self.unknown(
                            &format!("{at}/options_from/list"),
                            "list",
                            &from.list,
                            &known,
                        );
                    }
                    Some(list) => {
                        if let Some(filter) = &from.filter {
                            let shape = shape::filter_shape(self.def, fields, &list.columns);
                            self.expression(&format!("{at}/options_from/filter"), filter, &shape);
                        }
                    }
                }
            }
            if let (Some(min), Some(max)) = (field.min, field.max) {
                if min > max {
                    self.error(
                        &format!("{at}/max"),
                        format!("`max` ({max}) is smaller than `min` ({min})"),
                        "swap them",
                    );
                }
            }
        }
    }

    pub(super) fn profile(&mut self) {
        let sections = &self.def.profile;
        self.unique(
            "/profile",
            "section",
            sections.iter().map(|s| s.id.as_str()),
        );
        for (index, section) in sections.iter().enumerate() {
            let at = format!("/profile/{index}");
            self.identifier(&format!("{at}/id"), &section.id);
            self.text(&format!("{at}/title"), &section.title);
            let shape = shape::section_shape(self.def, &section.fields);
            if let Some(when) = &section.when {
                self.expression(&format!("{at}/when"), when, &shape::base_shape(self.def));
            }
            if section.repeat.is_some() && section.import.is_some() {
                self.error(
                    &format!("{at}/import"),
                    "an imported section cannot also be repeatable by the candidate",
                    "remove `repeat:` (imported entries come as a list anyway) or `import:`",
                );
            }
            self.fields(&format!("{at}/fields"), &section.fields, &shape);
        }
    }

    pub(super) fn forms(&mut self) {
        let forms = &self.def.forms;
        self.unique("/forms", "form", forms.iter().map(|f| f.id.as_str()));
        for (index, form) in forms.iter().enumerate() {
            let at = format!("/forms/{index}");
            self.slug(&format!("{at}/id"), &form.id);
            let shape = shape::section_shape(self.def, &form.fields);
            self.fields(&format!("{at}/fields"), &form.fields, &shape);
            if let Some(piece) = &form.piece {
                let pieces: Vec<&str> = self.def.pieces.iter().map(|p| p.id.as_str()).collect();
                if !pieces.contains(&piece.as_str()) {
                    self.unknown(&format!("{at}/piece"), "piece", piece, &pieces);
                }
            }
            match (form.mode, &form.url) {
                (FormMode::External, None) => self.error(
                    &at,
                    "an external form needs its `url`",
                    "give the questionnaire's address, e.g. `url: https://survey.example.org/42?dossier={dossier}`",
                ),
                (FormMode::Online, Some(_)) => self.error(
                    &format!("{at}/url"),
                    "a form filled online has no `url`",
                    "remove `url`, or say `mode: external`",
                ),
                _ => {}
            }
        }
    }

    pub(super) fn pieces(&mut self) {
        let pieces = &self.def.pieces;
        self.unique("/pieces", "piece", pieces.iter().map(|p| p.id.as_str()));
        let shape = shape::formation_shape(self.def);
        for (index, piece) in pieces.iter().enumerate() {
            let at = format!("/pieces/{index}");
            self.identifier(&format!("{at}/id"), &piece.id);
            self.text(&format!("{at}/label"), &piece.label);
            if piece.accept.is_empty() {
                self.error(
                    &format!("{at}/accept"),
                    "no file format is accepted",
                    "list at least one of: pdf, jpg, png",
                );
            }
            match parse_size(&piece.max_size) {
                Ok(bytes) if bytes > LARGEST_PIECE => self.error(
                    &format!("{at}/max_size"),
                    format!(
                        "`{}` is more than a piece may be (at most {} MB): a piece is \
                         a document, received whole and checked before it is kept",
                        piece.max_size,
                        LARGEST_PIECE / 1_000_000
                    ),
                    "write a size such as `2MB`, `10MB` or `100MB`",
                ),
                Ok(bytes) => {
                    self.max_sizes.insert(piece.id.clone(), bytes);
                }
                Err(message) => self.error(
                    &format!("{at}/max_size"),
                    message,
                    "write a size such as `2MB`, `500KB` or `1.5MiB`",
                ),
            }
            if let Some(when) = &piece.required_when {
                self.expression(&format!("{at}/required_when"), when, &shape);
            }
        }
    }

    pub(super) fn formations(&mut self) {
        let def = self.def;
        self.unique(
            "/formations",
            "formation",
            def.formations.iter().map(|f| f.id.as_str()),
        );
        let pieces: Vec<&str> = def.pieces.iter().map(|p| p.id.as_str()).collect();
        let forms: Vec<&str> = def.forms.iter().map(|f| f.id.as_str()).collect();
        for (index, formation) in def.formations.iter().enumerate() {
            let at = format!("/formations/{index}");
            self.slug(&format!("{at}/id"), &formation.id);
            self.text(&format!("{at}/title"), &formation.title);
            let mut seen = BTreeSet::new();
            for (p, piece) in formation.pieces.iter().enumerate() {
                let pointer = format!("{at}/pieces/{p}");
                if !pieces.contains(&piece.as_str()) {
                    self.unknown(&pointer, "piece", piece, &pieces);
                } else if !seen.insert(piece) {
                    self.error(
                        &pointer,
                        format!("piece `{piece}` is listed twice"),
                        "list it once",
                    );
                }
            }
            if let Some(form) = &formation.form {
                if !forms.contains(&form.as_str()) {
                    self.unknown(&format!("{at}/form"), "form", form, &forms);
                }
            }
            match (&formation.composante, &def.composantes) {
                (Some(key), Some(list_id)) => {
                    if let Some(list) = self.lists.get(list_id) {
                        if list.row(key).is_none() {
                            let keys: Vec<String> = list
                                .rows
                                .iter()
                                .filter_map(|r| r.get(&list.key).cloned())
                                .collect();
                            let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
                            self.unknown(&format!("{at}/composante"), "composante", key, &keys);
                        }
                    }
                }
                (Some(_), None) => self.error(
                    &format!("{at}/composante"),
                    "formations name a composante but no list of composantes is declared",
                    "add `composantes: <list id>` at the top level, naming the list of composantes",
                ),
                _ => {}
            }
        }
    }
}
