//! `extends:`: a definition written as changes to another one (an
//! institution's base procedure, a faculty's variant of it).
//!
//! Precedence, from the base up to the file that extends it:
//! - mappings merge key by key, the extending file winning;
//! - lists whose entries all have an `id` (formations, pieces, sections,
//!   fields, states, transitions, mails, deadlines, roles…) merge by id: an
//!   entry with a base entry's id merges into it key by key, keeping its
//!   place; `remove: true` takes the base entry out; new ids come after the
//!   base's, in the extending file's order;
//! - any other value (a text, a number, a list of plain values or of
//!   `tests:`) is replaced whole.
//!
//! Every merged node keeps where it was written, so a problem is reported
//! in the file and at the line that wrote it.

use serde_json::{Map, Value};

use crate::yaml::{escape_segment, SourceMap};

/// The key naming the base definition.
pub const EXTENDS: &str = "extends";

/// A parsed document and where each of its nodes is written.
pub struct Layer {
    /// The document.
    pub value: Value,
    /// Its positions (shifted for a base, see [`SourceMap::shifted`]).
    pub map: SourceMap,
}

/// `overlay` applied on `base`, with the merged document's positions.
pub fn merge(base: Layer, overlay: Layer) -> Layer {
    let mut map = SourceMap::default();
    let value = merge_node(
        Some((&base.value, &base.map, "")),
        Some((&overlay.value, &overlay.map, "")),
        "",
        &mut map,
    );
    Layer { value, map }
}

type Side<'a> = Option<(&'a Value, &'a SourceMap, &'a str)>;

fn merge_node(base: Side<'_>, overlay: Side<'_>, at: &str, out: &mut SourceMap) -> Value {
    match (base, overlay) {
        (None, None) => Value::Null,
        (Some((value, map, from)), None) | (None, Some((value, map, from))) => {
            out.copy_subtree(map, from, at);
            value.clone()
        }
        (Some(b), Some(o)) => match (b.0, o.0) {
            (Value::Object(base_map), Value::Object(over_map)) => {
                out.copy_node(o.1, o.2, at);
                let mut merged = Map::new();
                let keys = base_map
                    .keys()
                    .chain(over_map.keys().filter(|k| !base_map.contains_key(*k)));
                for key in keys {
                    let child = format!("{at}/{}", escape_segment(key));
                    let base_child = child_of(b, key);
                    let over_child = child_of(o, key);
                    let value = merge_node(
                        base_child.as_ref().map(|(v, m, p)| (*v, *m, p.as_str())),
                        over_child.as_ref().map(|(v, m, p)| (*v, *m, p.as_str())),
                        &child,
                        out,
                    );
                    merged.insert(key.clone(), value);
                }
                Value::Object(merged)
            }
            (Value::Array(base_items), Value::Array(over_items))
                if all_have_ids(base_items) && all_have_ids(over_items) =>
            {
                out.copy_node(o.1, o.2, at);
                merge_by_id(b, o, at, out)
            }
            _ => {
                out.copy_subtree(o.1, o.2, at);
                o.0.clone()
            }
        },
    }
}

/// The value at `key` of a side's mapping, with its map and pointer.
fn child_of<'a>(
    (value, map, from): (&'a Value, &'a SourceMap, &str),
    key: &str,
) -> Option<(&'a Value, &'a SourceMap, String)> {
    let object = value.as_object()?;
    let pointer = format!("{from}/{}", escape_segment(key));
    Some((object.get(key)?, map, pointer))
}

fn id_of(item: &Value) -> Option<&str> {
    item.get("id")?.as_str()
}

fn all_have_ids(items: &[Value]) -> bool {
    items.iter().all(|item| id_of(item).is_some())
}

fn removed(item: &Value) -> bool {
    item.get("remove") == Some(&Value::Bool(true))
}

fn merge_by_id(
    (base, base_map, base_at): (&Value, &SourceMap, &str),
    (over, over_map, over_at): (&Value, &SourceMap, &str),
    at: &str,
    out: &mut SourceMap,
) -> Value {
    let (base_items, over_items) = (
        base.as_array().map(Vec::as_slice).unwrap_or_default(),
        over.as_array().map(Vec::as_slice).unwrap_or_default(),
    );
    let mut merged = Vec::new();
    let position = |items: &[Value], id: Option<&str>| items.iter().position(|i| id_of(i) == id);
    for (index, item) in base_items.iter().enumerate() {
        let base_pointer = format!("{base_at}/{index}");
        let child = format!("{at}/{}", merged.len());
        let value = match position(over_items, id_of(item)) {
            Some(over_index) if removed(&over_items[over_index]) => continue,
            Some(over_index) => {
                let over_pointer = format!("{over_at}/{over_index}");
                let mut value = merge_node(
                    Some((item, base_map, &base_pointer)),
                    Some((&over_items[over_index], over_map, &over_pointer)),
                    &child,
                    out,
                );
                if let Value::Object(fields) = &mut value {
                    fields.remove("remove");
                }
                value
            }
            None => {
                out.copy_subtree(base_map, &base_pointer, &child);
                item.clone()
            }
        };
        merged.push(value);
    }
    for (index, item) in over_items.iter().enumerate() {
        if position(base_items, id_of(item)).is_some() {
            continue;
        }
        let child = format!("{at}/{}", merged.len());
        out.copy_subtree(over_map, &format!("{over_at}/{index}"), &child);
        merged.push(item.clone());
    }
    Value::Array(merged)
}

/// The document without its `extends:` (the merged result extends nothing).
pub fn without_extends(mut layer: Layer) -> Layer {
    if let Value::Object(map) = &mut layer.value {
        map.remove(EXTENDS);
    }
    layer
}

/// The base a document names, if any.
pub fn extends(value: &Value) -> Option<&str> {
    value.get(EXTENDS)?.as_str()
}

/// A base's list files, named relative to the extending file's folder:
/// `folder` is the base's folder as seen from there.
pub fn relocate_lists(value: &mut Value, folder: &str) {
    if folder.is_empty() {
        return;
    }
    let Some(lists) = value.get_mut("lists").and_then(Value::as_object_mut) else {
        return;
    };
    for list in lists.values_mut() {
        if let Some(Value::String(file)) = list.get_mut("file") {
            *file = format!("{}/{file}", folder.trim_end_matches('/'));
        }
    }
}
