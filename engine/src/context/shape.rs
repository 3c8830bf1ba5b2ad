//! The data conditions and mail templates see.
//!
//! One [`Shape`] per kind of expression describes which names exist; the checker
//! validates expressions and templates against it at load, and the same shape
//! fills in every known name (as null) where the values built at run time
//! lack it, so an expression that passed the check never meets a missing
//! name: an expression's, in the part of the values it reads, as it is
//! evaluated ([`crate::script`]); a mail's, in its whole context.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::model::{DefinitionFile, FieldDef, SectionDef};

/// The names an expression or template may read.
#[derive(Debug, Clone, PartialEq)]
pub enum Shape {
    /// A value with no named parts.
    Leaf,
    /// Named parts.
    Object(BTreeMap<String, Shape>),
    /// A list of values of one shape.
    List(Box<Shape>),
    /// Anything (e.g. free-form data).
    Any,
}

impl Shape {
    fn object<const N: usize>(entries: [(&str, Shape); N]) -> Shape {
        Shape::Object(
            entries
                .into_iter()
                .map(|(name, shape)| (name.to_owned(), shape))
                .collect(),
        )
    }

    pub(crate) fn leaves(names: &[&str]) -> Shape {
        Shape::Object(
            names
                .iter()
                .map(|name| ((*name).to_owned(), Shape::Leaf))
                .collect(),
        )
    }

    /// Adds a root name (only on an object shape).
    pub fn with(mut self, name: &str, shape: Shape) -> Shape {
        if let Shape::Object(fields) = &mut self {
            fields.insert(name.to_owned(), shape);
        }
        self
    }

    /// The part at `name`, if this is an object that has it.
    pub fn get(&self, name: &str) -> Option<&Shape> {
        match self {
            Shape::Object(fields) => fields.get(name),
            _ => None,
        }
    }

    /// Checks a dotted name against the shape. An unknown first name is accepted
    /// when `locals_allowed` (a loop variable, a closure parameter…).
    pub fn check_path(&self, names: &[&str], locals_allowed: bool) -> Result<(), PathError> {
        let mut current = self;
        for (depth, name) in names.iter().enumerate() {
            match current {
                Shape::Object(fields) => match fields.get(*name) {
                    Some(next) => current = next,
                    None if depth == 0 && locals_allowed => return Ok(()),
                    None => {
                        return Err(PathError {
                            segment: (*name).to_owned(),
                            known: fields.keys().cloned().collect(),
                        })
                    }
                },
                Shape::Any => return Ok(()),
                Shape::Leaf | Shape::List(_) => {
                    return Err(PathError {
                        segment: (*name).to_owned(),
                        known: Vec::new(),
                    })
                }
            }
        }
        Ok(())
    }

    /// Completes `value` so every name of the shape exists (missing ones as null).
    pub fn fill(&self, value: &mut Value) {
        match (self, value) {
            (Shape::Object(fields), Value::Object(map)) => {
                // Both in name order: one walk through the two, not a
                // lookup (and a copy of the name) per name of the shape.
                let mut missing = Vec::new();
                let mut values = map.iter_mut().peekable();
                for (name, shape) in fields {
                    while values.next_if(|(key, _)| *key < name).is_some() {}
                    match values.next_if(|(key, _)| *key == name) {
                        Some((_, value)) => shape.fill(value),
                        None => missing.push((name, shape)),
                    }
                }
                // Looked up again rather than inserted: right even if the
                // map were in another order.
                for (name, shape) in missing {
                    let entry = map.entry(name.clone()).or_insert_with(|| shape.empty());
                    shape.fill(entry);
                }
            }
            (Shape::List(item), Value::Array(items)) => {
                for entry in items {
                    item.fill(entry);
                }
            }
            _ => {}
        }
    }

    /// The part of this shape that `paths` (dotted names below it) go
    /// through, whole below where a path ends: every name an expression
    /// reading these paths may meet.
    pub(crate) fn along(&self, paths: &[&[String]]) -> Shape {
        let (Shape::Object(fields), Some(groups)) = (self, by_first_name(paths)) else {
            return self.clone();
        };
        let kept = groups.into_iter().filter_map(|(first, below)| {
            let field = fields.get(first)?;
            Some((first.to_owned(), field.along(&below)))
        });
        Shape::Object(kept.collect())
    }

    /// Every name of either shape.
    pub(crate) fn union(self, other: Shape) -> Shape {
        match (self, other) {
            (Shape::Object(mut fields), Shape::Object(others)) => {
                for (name, other) in others {
                    let merged = match fields.remove(&name) {
                        Some(field) => field.union(other),
                        None => other,
                    };
                    fields.insert(name, merged);
                }
                Shape::Object(fields)
            }
            (Shape::List(item), Shape::List(other)) => Shape::List(Box::new(item.union(*other))),
            (Shape::Leaf, other) => other,
            (shape, _) => shape,
        }
    }

    /// A value with every name of the shape, each null (an empty list for
    /// a list).
    pub(crate) fn empty(&self) -> Value {
        match self {
            Shape::Object(_) => {
                let mut value = Value::Object(Map::new());
                self.fill(&mut value);
                value
            }
            Shape::List(_) => Value::Array(Vec::new()),
            Shape::Leaf | Shape::Any => Value::Null,
        }
    }
}

/// A name, with what the paths through it go on to below it.
pub(crate) type PathsBelow<'p> = (&'p str, Vec<&'p [String]>);

/// `paths` (dotted names, each split) grouped by their first name, in the
/// order first met, each with what its paths go on to below it; `None`
/// when one of them is empty (it reads the whole value).
pub(crate) fn by_first_name<'p>(paths: &[&'p [String]]) -> Option<Vec<PathsBelow<'p>>> {
    let mut groups: Vec<PathsBelow> = Vec::new();
    for path in paths {
        let (first, rest) = path.split_first()?;
        match groups.iter_mut().find(|(name, _)| name == first) {
            Some((_, below)) => below.push(rest),
            None => groups.push((first.as_str(), vec![rest])),
        }
    }
    Some(groups)
}

/// A dotted name that does not exist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathError {
    /// The first part that does not exist.
    pub segment: String,
    /// The names that exist at that place.
    pub known: Vec<String>,
}

const PIECE_NAMES: &[&str] = &[
    "id",
    "label",
    "status",
    "status_label",
    "required",
    "provided",
    "not_concerned_allowed",
    "comment",
    "file_name",
];

/// Shape of one piece as seen by expressions and templates.
pub fn piece_shape() -> Shape {
    Shape::leaves(PIECE_NAMES)
}

fn fields_shape(fields: &[FieldDef]) -> Shape {
    Shape::Object(
        fields
            .iter()
            .map(|field| (field.id.clone(), Shape::Leaf))
            .collect(),
    )
}

fn section_value_shape(section: &SectionDef) -> Shape {
    let entry = fields_shape(&section.fields);
    if section.repeat.is_some() {
        Shape::List(Box::new(entry))
    } else {
        entry
    }
}

/// Shape of the whole profile.
pub fn profile_shape(definition: &DefinitionFile) -> Shape {
    Shape::Object(
        definition
            .profile
            .iter()
            .map(|section| (section.id.clone(), section_value_shape(section)))
            .collect(),
    )
}

/// The names of [`base_shape`] whose values change with the time alone,
/// the dossier unchanged: what an expression reading none of them answers
/// holds until the dossier or the definition changes.
pub(crate) const CLOCK_NAMES: &[&str] = &["today", "now", "campaign"];

/// Names every expression about a dossier sees.
pub fn base_shape(definition: &DefinitionFile) -> Shape {
    Shape::object([
        ("today", Shape::Leaf),
        ("now", Shape::Leaf),
        ("institution", Shape::leaves(&["id", "title"])),
        ("campaign", Shape::leaves(&["opens", "closes", "is_open"])),
        (
            "candidate",
            Shape::leaves(&["first_name", "last_name", "email"]),
        ),
        ("profile", profile_shape(definition)),
        ("dossier", Shape::leaves(&["id", "active_candidatures"])),
    ])
}

/// Names seen by an expression about a candidature's formation (`required_when`).
pub fn formation_shape(definition: &DefinitionFile) -> Shape {
    base_shape(definition).with(
        "formation",
        Shape::object([
            ("id", Shape::Leaf),
            ("title", Shape::Leaf),
            ("composante", Shape::Leaf),
            ("keywords", Shape::List(Box::new(Shape::Leaf))),
        ]),
    )
}

/// Keys of `candidature.data`: every transition input and `set` key.
pub fn data_keys(definition: &DefinitionFile) -> Vec<String> {
    let mut keys: Vec<String> = definition
        .workflow
        .transitions
        .iter()
        .flat_map(|t| {
            t.input
                .iter()
                .map(|field| field.id.clone())
                .chain(t.set.keys().cloned())
        })
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

/// Names seen by guards and deadline conditions.
pub fn candidature_shape(definition: &DefinitionFile) -> Shape {
    let pieces = Shape::Object(
        definition
            .pieces
            .iter()
            .map(|piece| (piece.id.clone(), piece_shape()))
            .collect(),
    );
    let data = Shape::Object(
        data_keys(definition)
            .into_iter()
            .map(|key| (key, Shape::Leaf))
            .collect(),
    );
    formation_shape(definition).with(
        "candidature",
        Shape::object([
            ("id", Shape::Leaf),
            ("state", Shape::Leaf),
            ("state_label", Shape::Leaf),
            ("created_at", Shape::Leaf),
            ("entered_state_at", Shape::Leaf),
            ("data", data),
            ("pieces", pieces),
            ("missing_pieces", Shape::List(Box::new(Shape::Leaf))),
            ("refused_pieces", Shape::List(Box::new(piece_shape()))),
            ("piece_list", Shape::List(Box::new(piece_shape()))),
        ]),
    )
}

/// Names seen by a transition's guard and `set` expressions.
pub fn transition_shape(definition: &DefinitionFile, input: &[FieldDef]) -> Shape {
    candidature_shape(definition).with("input", fields_shape(input))
}

/// Names seen by a piece transition's guard.
pub fn piece_transition_shape(definition: &DefinitionFile) -> Shape {
    candidature_shape(definition).with("piece", piece_shape())
}

/// Names seen by a field's or section's `when` inside a profile section.
pub fn section_shape(definition: &DefinitionFile, fields: &[FieldDef]) -> Shape {
    let mut shape = base_shape(definition);
    if let (Shape::Object(roots), Shape::Object(own)) = (&mut shape, fields_shape(fields)) {
        roots.extend(own);
    }
    shape
}

/// Names seen by an `options_from` filter: the section's and `row`'s columns.
pub fn filter_shape(definition: &DefinitionFile, fields: &[FieldDef], columns: &[String]) -> Shape {
    let row = Shape::Object(
        columns
            .iter()
            .map(|column| (column.clone(), Shape::Leaf))
            .collect(),
    );
    section_shape(definition, fields).with("row", row)
}

/// Names a candidature mail template may use.
pub fn candidature_mail_shape(definition: &DefinitionFile) -> Shape {
    candidature_shape(definition)
        .with("transition", Shape::leaves(&["id", "label"]))
        .with("deadline", Shape::leaves(&["id", "label", "due"]))
        .with("input", Shape::Any)
        .with(
            "third_party",
            Shape::leaves(&["name", "email", "link", "expires"]),
        )
}

/// Names an account mail template may use.
pub fn account_mail_shape() -> Shape {
    Shape::object([
        (
            "account",
            Shape::leaves(&["first_name", "last_name", "email", "identifier"]),
        ),
        ("link", Shape::Leaf),
        ("expires_at", Shape::Leaf),
        ("institution", Shape::leaves(&["id", "title"])),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Every name of the shape ends up there, null where it was missing;
    /// what was there (the shape's names or not) is kept as it was.
    #[test]
    fn fill_adds_the_missing_names_and_keeps_the_others() {
        let shape = Shape::object([
            ("b", Shape::Leaf),
            ("d", Shape::leaves(&["x", "y"])),
            ("f", Shape::List(Box::new(Shape::leaves(&["z"])))),
            ("h", Shape::leaves(&["w"])),
        ]);
        let mut value = json!({
            "a": 1,
            "b": "kept",
            "c": [1, 2],
            "d": {"y": true, "extra": 3},
            "f": [{}, {"z": 5}],
        });
        shape.fill(&mut value);
        assert_eq!(
            value,
            json!({
                "a": 1,
                "b": "kept",
                "c": [1, 2],
                "d": {"x": null, "y": true, "extra": 3},
                "f": [{"z": null}, {"z": 5}],
                "h": {"w": null},
            })
        );
    }
}
