//! The JSON Schema of the definition format, and the structural pass built on it.
//!
//! The schema is generated from the Rust types of [`crate::model`], published as
//! `definitions/guichet.schema.json` for editors, and used by the loader to report
//! every structural problem of a file at once (unknown keys, wrong types at any
//! depth, missing keys), each at its `file:line:column`.

use std::sync::OnceLock;

use jsonschema::error::ValidationErrorKind;
use jsonschema::ValidationError;
use serde_json::Value;

use crate::diagnostic::Diagnostics;
use crate::model::DefinitionFile;
use crate::suggest::did_you_mean;
use crate::yaml::{escape_segment, SourceMap};

/// The JSON Schema of the definition format (draft 2020-12).
pub fn json_schema() -> Value {
    let schema = schemars::schema_for!(DefinitionFile);
    serde_json::to_value(schema).unwrap_or(Value::Null)
}

/// The schema as published, pretty-printed with a final newline.
pub fn json_schema_text() -> String {
    published(&json_schema())
}

/// The JSON Schema of a file written as changes to another one (its
/// `extends:`, see [`crate::overlay`]): the format's, with nothing required
/// (the file names only what it changes: a formation's `capacity` without its
/// title) and `remove` allowed in every entry with an `id`. Keys and types
/// are checked as in the format's schema.
pub fn overlay_json_schema() -> Value {
    let mut schema = json_schema();
    loosened(&mut schema);
    if let Value::Object(root) = &mut schema {
        root.insert(
            "title".into(),
            Value::String("A Guichet definition written as changes to another (extends)".into()),
        );
    }
    schema
}

/// [`overlay_json_schema`] as published, pretty-printed with a final newline.
pub fn overlay_json_schema_text() -> String {
    published(&overlay_json_schema())
}

fn published(schema: &Value) -> String {
    let mut text = serde_json::to_string_pretty(schema).unwrap_or_default();
    text.push('\n');
    text
}

/// `schema` with no `required` keys, and `remove` among the properties of
/// every object with an `id`. Only schemas are changed: a map of properties
/// (whose keys are names, `required` among them for a field) is walked
/// into, not changed itself.
fn loosened(schema: &mut Value) {
    let Value::Object(keywords) = schema else {
        return;
    };
    keywords.remove("required");
    for (keyword, value) in keywords.iter_mut() {
        match (keyword.as_str(), value) {
            (
                "properties" | "$defs" | "definitions" | "patternProperties",
                Value::Object(named),
            ) => {
                named.values_mut().for_each(loosened);
            }
            ("anyOf" | "oneOf" | "allOf" | "prefixItems", Value::Array(schemas)) => {
                schemas.iter_mut().for_each(loosened);
            }
            (
                "items" | "additionalProperties" | "not" | "if" | "then" | "else" | "contains",
                value,
            ) => loosened(value),
            _ => {}
        }
    }
    if let Some(Value::Object(properties)) = keywords.get_mut("properties") {
        if properties.contains_key("id") {
            properties.insert(
                "remove".into(),
                serde_json::json!({
                    "description": "`true` takes the base's entry of this id out.",
                    "type": "boolean"
                }),
            );
        }
    }
}

struct PublishedSchema {
    schema: Value,
    validator: Option<jsonschema::Validator>,
}

fn compiled() -> &'static PublishedSchema {
    static COMPILED: OnceLock<PublishedSchema> = OnceLock::new();
    COMPILED.get_or_init(|| {
        let schema = json_schema();
        let validator = jsonschema::draft202012::options().build(&schema).ok();
        PublishedSchema { schema, validator }
    })
}

/// Reports every structural problem of `value`; returns whether there was none.
pub(crate) fn check_structure(
    value: &Value,
    map: &SourceMap,
    diagnostics: &mut Diagnostics,
    file: usize,
) -> bool {
    let compiled = compiled();
    let Some(validator) = &compiled.validator else {
        diagnostics.push(
            file,
            0..0,
            "internal error: the definition schema does not compile",
            "report this to the Guichet developers",
        );
        return false;
    };
    let before = diagnostics.items().len();
    let errors: Vec<ValidationError<'_>> = validator.iter_errors(value).collect();
    // `lable:` for `label:` is one mistake, not two: the unknown key's suggestion
    // says it all, so the missing key it stands for is not reported again.
    let mut typos: Vec<(String, String)> = Vec::new();
    for error in &errors {
        if let ValidationErrorKind::AdditionalProperties { unexpected } = error.kind() {
            let at = error.instance_path().as_str();
            let allowed = allowed_keys(&compiled.schema, error);
            for key in unexpected {
                if let Some(close) = did_you_mean(key, allowed.iter().map(String::as_str)) {
                    typos.push((at.to_owned(), close.to_owned()));
                }
            }
        }
    }
    for error in &errors {
        if let ValidationErrorKind::Required { property } = error.kind() {
            let at = error.instance_path().as_str();
            let name = property.as_str().unwrap_or_default();
            if typos.iter().any(|(path, key)| path == at && key == name) {
                continue;
            }
        }
        report(error, &compiled.schema, map, diagnostics, file);
    }
    diagnostics.items().len() == before
}

fn report(
    error: &ValidationError<'_>,
    schema: &Value,
    map: &SourceMap,
    diagnostics: &mut Diagnostics,
    file: usize,
) {
    let at = error.instance_path().as_str().to_owned();
    let schema_path = error.schema_path().as_str();
    let parent = schema_path.rsplit_once('/').map_or("", |(head, _)| head);
    let node = schema.pointer(parent);
    let description = node
        .and_then(|n| n.get("description"))
        .and_then(Value::as_str)
        .map(|text| text.lines().next().unwrap_or(text).to_owned());
    let place = place_name(&at);
    match error.kind() {
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            let allowed = allowed_keys(schema, error);
            for key in unexpected {
                let pointer = format!("{at}/{}", escape_segment(key));
                let hint = match did_you_mean(key, allowed.iter().map(String::as_str)) {
                    Some(close) => format!("did you mean `{close}`?"),
                    None => format!("the keys allowed here are: {}", allowed.join(", ")),
                };
                diagnostics.push(
                    file,
                    map.key_span(&pointer),
                    format!("unknown key `{key}` in {place}"),
                    hint,
                );
            }
        }
        ValidationErrorKind::Required { property } => {
            let name = property.as_str().unwrap_or_default();
            let what = schema
                .pointer(&format!("{parent}/properties/{}", escape_segment(name)))
                .and_then(|n| n.get("description"))
                .and_then(Value::as_str)
                .map(|d| format!(" ({})", d.trim_end_matches('.')))
                .unwrap_or_default();
            diagnostics.push(
                file,
                map.value_span(&at),
                format!("missing key `{name}` in {place}"),
                format!("add `{name}:` to this mapping{what}"),
            );
        }
        ValidationErrorKind::Enum { options } => {
            let choices: Vec<String> = options
                .as_array()
                .map(|list| list.iter().map(display_value).collect())
                .unwrap_or_default();
            not_one_of(error, &choices, &place, map, diagnostics, file);
        }
        ValidationErrorKind::AnyOf { context } | ValidationErrorKind::OneOfNotValid { context } => {
            // Documented enum variants become one `const` branch each.
            let constants: Option<Vec<String>> = context
                .iter()
                .map(|errors| match errors.as_slice() {
                    [only] => match only.kind() {
                        ValidationErrorKind::Constant { expected_value } => {
                            Some(display_value(expected_value))
                        }
                        _ => None,
                    },
                    _ => None,
                })
                .collect();
            if let Some(choices) = constants.filter(|c| !c.is_empty()) {
                not_one_of(error, &choices, &place, map, diagnostics, file);
                return;
            }
            // An either/or value (a text or per-language texts, one id or a list):
            // when one branch matches the value's kind, its errors are the useful ones.
            let branch = context.iter().find(|errors| {
                !errors.is_empty()
                    && !errors.iter().any(|e| {
                        e.instance_path().as_str() == at
                            && matches!(e.kind(), ValidationErrorKind::Type { .. })
                    })
            });
            match branch {
                Some(errors) => {
                    for inner in errors {
                        report(inner, schema, map, diagnostics, file);
                    }
                }
                None => diagnostics.push(
                    file,
                    map.value_span(&at),
                    format!("{place} has the wrong kind of value"),
                    description.unwrap_or_else(|| "check the format documentation".into()),
                ),
            }
        }
        ValidationErrorKind::Type { .. } => {
            let expected = node
                .and_then(|n| n.get("type"))
                .map(type_name)
                .unwrap_or_else(|| "another kind of value".into());
            let given = kind_of(error.instance());
            let mut hint = format!("write {expected} here");
            if let Some(description) = description {
                hint.push_str(&format!(": {description}"));
            }
            diagnostics.push(
                file,
                map.value_span(&at),
                format!("{place} must be {expected}, not {given}"),
                hint,
            );
        }
        _ => diagnostics.push(
            file,
            map.value_span(&at),
            format!("{place}: {error}"),
            description.unwrap_or_else(|| "check the format documentation".into()),
        ),
    }
}

/// The keys the schema allows where `error` (an unknown-key error) was found.
fn allowed_keys(schema: &Value, error: &ValidationError<'_>) -> Vec<String> {
    let schema_path = error.schema_path().as_str();
    let parent = schema_path.rsplit_once('/').map_or("", |(head, _)| head);
    schema
        .pointer(parent)
        .and_then(|n| n.get("properties"))
        .and_then(Value::as_object)
        .map(|props| props.keys().cloned().collect())
        .unwrap_or_default()
}

fn display_value(value: &Value) -> String {
    value
        .as_str()
        .map_or_else(|| value.to_string(), str::to_owned)
}

fn not_one_of(
    error: &ValidationError<'_>,
    choices: &[String],
    place: &str,
    map: &SourceMap,
    diagnostics: &mut Diagnostics,
    file: usize,
) {
    let given = display_value(error.instance());
    let hint = match did_you_mean(&given, choices.iter().map(String::as_str)) {
        Some(close) => format!("did you mean `{close}`?"),
        None => format!("write one of: {}", choices.join(", ")),
    };
    diagnostics.push(
        file,
        map.value_span(error.instance_path().as_str()),
        format!("`{given}` is not allowed as {place}"),
        hint,
    );
}

/// A readable name for the place a pointer designates: `key `max` of profile[2].fields[0]`.
fn place_name(pointer: &str) -> String {
    if pointer.is_empty() {
        return "the file".into();
    }
    let mut out = String::new();
    for segment in pointer.trim_start_matches('/').split('/') {
        let segment = segment.replace("~1", "/").replace("~0", "~");
        if segment.bytes().all(|b| b.is_ascii_digit()) {
            out.push_str(&format!("[{segment}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&segment);
        }
    }
    format!("`{out}`")
}

fn type_name(kind: &Value) -> String {
    let one = |name: &str| match name {
        "string" => "a text",
        "integer" => "a whole number",
        "number" => "a number",
        "boolean" => "true or false",
        "array" => "a list",
        "object" => "a mapping",
        "null" => "nothing",
        _ => "a value",
    };
    match kind {
        Value::String(name) => one(name).to_owned(),
        Value::Array(names) => names
            .iter()
            .filter_map(Value::as_str)
            .filter(|name| *name != "null")
            .map(one)
            .collect::<Vec<_>>()
            .join(" or "),
        _ => "a value".into(),
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "nothing",
        Value::Bool(_) => "true/false",
        Value::Number(_) => "a number",
        Value::String(_) => "a text",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::{json_schema, overlay_json_schema};

    fn example(name: &str) -> Value {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(name);
        let text = std::fs::read_to_string(&path).expect("the example");
        crate::yaml::parse(&text).expect("YAML").0
    }

    fn problems(schema: &Value, file: &Value) -> Vec<String> {
        let validator = jsonschema::draft202012::options()
            .build(schema)
            .expect("the schema compiles");
        validator.iter_errors(file).map(|e| e.to_string()).collect()
    }

    #[test]
    fn a_file_written_as_changes_meets_the_overlay_schema_not_the_whole_formats() {
        let changes = example("examples/ecole-doctorale-sciences.yaml");
        let refused = problems(&json_schema(), &changes);
        assert!(
            refused
                .iter()
                .any(|p| p.contains("\"opens\" is a required")),
            "{refused:?}"
        );
        assert_eq!(
            problems(&overlay_json_schema(), &changes),
            Vec::<String>::new()
        );
        // Whole files meet it too, and it still knows the format's keys
        // and types: a field keeps its `required` key, an entry may be removed.
        let whole = example("examples/ecole-doctorale.yaml");
        assert_eq!(
            problems(&overlay_json_schema(), &whole),
            Vec::<String>::new()
        );
        let mistaken = serde_json::json!({
            "formations": [{ "id": "m1", "capacity": "beaucoup", "remove": true }],
            "profile": [{ "id": "s", "fields": [{ "id": "f", "required": true, "lable": "F" }] }]
        });
        let found = problems(&overlay_json_schema(), &mistaken);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found.iter().any(|p| p.contains("beaucoup")), "{found:?}");
        assert!(found.iter().any(|p| p.contains("lable")), "{found:?}");
    }
}
