//! YAML text → JSON value, keeping where every key and value came from.
//!
//! The definition is parsed once, event by event, so that every later stage (the
//! JSON Schema pass, the semantic checks) can name `file:line:column` through a
//! JSON Pointer. Duplicate keys are reported, all of them, instead of one winning.

use std::collections::HashMap;
use std::ops::Range;

use granit_parser::{Event, Parser, ScalarStyle, Span};
use serde_json::{Map, Number, Value};

/// Alias expansion can blow a small file up exponentially ("billion laughs"),
/// or repeat a long text many times: past this size once expanded (a node
/// counts one, a text its bytes), the document is refused.
const MAX_EXPANDED: usize = 16_000_000;

/// Where each node of a parsed document starts and ends, by JSON Pointer.
#[derive(Debug, Default, Clone)]
pub struct SourceMap {
    values: HashMap<String, Range<usize>>,
    keys: HashMap<String, Range<usize>>,
}

impl SourceMap {
    /// The byte range of the value at `pointer`, or of its closest ancestor.
    pub fn value_span(&self, pointer: &str) -> Range<usize> {
        self.lookup(pointer, false)
    }

    /// The byte range of the key that introduces `pointer` (falls back to the value).
    pub fn key_span(&self, pointer: &str) -> Range<usize> {
        self.lookup(pointer, true)
    }

    /// The same positions, `offset` bytes further: for a text read after
    /// another (a base definition after the one extending it).
    pub fn shifted(mut self, offset: usize) -> SourceMap {
        for span in self.values.values_mut().chain(self.keys.values_mut()) {
            *span = span.start + offset..span.end + offset;
        }
        self
    }

    /// Records for `to` (and below it) the positions `from` has for
    /// `from_pointer` (and below it): a subtree moved by a merge.
    pub fn copy_subtree(&mut self, from: &SourceMap, from_pointer: &str, to: &str) {
        let moved = |pointer: &str| {
            let rest = pointer.strip_prefix(from_pointer)?;
            (rest.is_empty() || rest.starts_with('/')).then(|| format!("{to}{rest}"))
        };
        for (pointer, span) in &from.values {
            if let Some(at) = moved(pointer) {
                self.values.insert(at, span.clone());
            }
        }
        for (pointer, span) in &from.keys {
            if let Some(at) = moved(pointer) {
                self.keys.insert(at, span.clone());
            }
        }
    }

    /// Records for `to` alone (not below) the positions `from` has for `from_pointer`.
    pub fn copy_node(&mut self, from: &SourceMap, from_pointer: &str, to: &str) {
        if let Some(span) = from.values.get(from_pointer) {
            self.values.insert(to.to_owned(), span.clone());
        }
        if let Some(span) = from.keys.get(from_pointer) {
            self.keys.insert(to.to_owned(), span.clone());
        }
    }

    fn lookup(&self, pointer: &str, prefer_key: bool) -> Range<usize> {
        let mut current = pointer;
        loop {
            if prefer_key {
                if let Some(span) = self.keys.get(current) {
                    return span.clone();
                }
            }
            if let Some(span) = self.values.get(current) {
                return span.clone();
            }
            match current.rfind('/') {
                Some(cut) => current = &current[..cut],
                None => return 0..0,
            }
        }
    }
}

/// A problem found while reading YAML text.
#[derive(Debug, Clone)]
pub struct YamlProblem {
    pub message: String,
    pub span: Range<usize>,
    pub hint: String,
}

/// Escapes one JSON Pointer segment (RFC 6901).
pub fn escape_segment(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

enum Frame {
    Sequence {
        pointer: String,
        start: Range<usize>,
        anchor: usize,
        items: Vec<Value>,
    },
    Mapping {
        pointer: String,
        start: Range<usize>,
        anchor: usize,
        entries: Map<String, Value>,
        key: Option<String>,
        merges: Vec<Value>,
    },
}

struct Builder<'a> {
    source: &'a str,
    map: SourceMap,
    problems: Vec<YamlProblem>,
    stack: Vec<Frame>,
    anchors: HashMap<usize, Value>,
    expanded: usize,
    root: Option<Value>,
}

/// Parses `source` into a JSON value and its source map.
///
/// Errors are returned together: a syntax error stops the parse (nothing after it
/// can be trusted), but duplicate keys do not.
pub fn parse(source: &str) -> Result<(Value, SourceMap), Vec<YamlProblem>> {
    let mut builder = Builder {
        source,
        map: SourceMap::default(),
        problems: Vec::new(),
        stack: Vec::new(),
        anchors: HashMap::new(),
        expanded: 0,
        root: None,
    };
    for next in Parser::new_from_str(source) {
        match next {
            Ok((event, span)) => {
                if let Err(problem) = builder.event(event, span) {
                    builder.problems.push(problem);
                    return Err(builder.problems);
                }
            }
            Err(error) => {
                let at = builder.byte_offset(error.marker());
                // The parser gives up where the text runs out; the mistake is
                // often a quote opened lines before and never closed.
                if let Some(start) = unclosed_quote_before(source, at) {
                    builder.problems.push(YamlProblem {
                        message: "this quoted text is not closed".into(),
                        span: start..start + 1,
                        hint: "close it with the same quote on this line".into(),
                    });
                }
                builder.problems.push(YamlProblem {
                    message: format!("YAML syntax error: {}", error.info()),
                    span: at..at,
                    hint: "check the indentation and the quotes on this line or the line before: \
                           a value containing `: ` or starting with a special character needs quotes"
                        .into(),
                });
                return Err(builder.problems);
            }
        }
    }
    if !builder.problems.is_empty() {
        return Err(builder.problems);
    }
    Ok((builder.root.unwrap_or(Value::Null), builder.map))
}

/// Where a quote opens and does not close on its line, in the twenty lines
/// before the one of byte `at` (comments and the other kind of quote taken
/// into account); the latest such line.
fn unclosed_quote_before(source: &str, at: usize) -> Option<usize> {
    // The lines before the one the parser stopped on: on that line, the
    // quote that ends the runaway text looks like an opening one.
    let before = source.get(..source.get(..at)?.rfind('\n')?)?;
    let starts: Vec<usize> = std::iter::once(0)
        .chain(before.match_indices('\n').map(|(newline, _)| newline + 1))
        .collect();
    starts.iter().rev().take(20).find_map(|&start| {
        let end = before[start..]
            .find('\n')
            .map_or(before.len(), |n| start + n);
        open_quote(&before[start..end]).map(|column| start + column)
    })
}

/// The column of a quote left open at the end of `line`, if any.
fn open_quote(line: &str) -> Option<usize> {
    let mut open: Option<(char, usize)> = None;
    let mut chars = line.char_indices().peekable();
    while let Some((column, c)) = chars.next() {
        match (open, c) {
            (None, '#') => break,
            (None, '"' | '\'') => open = Some((c, column)),
            (Some(('"', _)), '\\') => {
                chars.next();
            }
            (Some(('\'', _)), '\'') if chars.peek().is_some_and(|(_, n)| *n == '\'') => {
                chars.next();
            }
            (Some((quote, _)), c) if c == quote => open = None,
            _ => {}
        }
    }
    // An apostrophe inside a plain word (`l'INE`) opens nothing.
    open.filter(|(quote, column)| {
        *quote == '"' || !line[..*column].ends_with(|c: char| c.is_alphanumeric())
    })
    .map(|(_, column)| column)
}

impl Builder<'_> {
    fn byte_offset(&self, marker: &granit_parser::Marker) -> usize {
        marker.byte_offset().unwrap_or_else(|| {
            self.source
                .char_indices()
                .nth(marker.index())
                .map_or(self.source.len(), |(at, _)| at)
        })
    }

    fn range(&self, span: &Span) -> Range<usize> {
        self.byte_offset(&span.start)..self.byte_offset(&span.end)
    }

    fn event(&mut self, event: Event<'_>, span: Span) -> Result<(), YamlProblem> {
        let range = self.range(&span);
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                let forced_string = tag.as_ref().is_some_and(|t| t.suffix() == "str");
                let value = if style == ScalarStyle::Plain && !forced_string {
                    plain_scalar(&text)
                } else {
                    Value::String(text.into_owned())
                };
                if self.expecting_key() {
                    return self.key(&value, range);
                }
                if anchor != 0 {
                    self.anchors.insert(anchor, value.clone());
                }
                self.node(value, range)
            }
            Event::Alias(anchor) => {
                if self.expecting_key() {
                    return Err(YamlProblem {
                        message: "an alias cannot be used as a mapping key".into(),
                        span: range,
                        hint: "write the key in full".into(),
                    });
                }
                let value = self.anchors.get(&anchor).cloned().unwrap_or(Value::Null);
                self.expanded += expanded_size(&value);
                self.node(value, range)
            }
            Event::SequenceStart(_, anchor, _) => {
                let pointer = self.child_pointer(&range)?;
                self.stack.push(Frame::Sequence {
                    pointer,
                    start: range,
                    anchor,
                    items: Vec::new(),
                });
                Ok(())
            }
            Event::MappingStart(_, anchor, _) => {
                let pointer = self.child_pointer(&range)?;
                self.stack.push(Frame::Mapping {
                    pointer,
                    start: range,
                    anchor,
                    entries: Map::new(),
                    key: None,
                    merges: Vec::new(),
                });
                Ok(())
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (value, anchor, start, pointer) = match self.stack.pop() {
                    Some(Frame::Sequence {
                        items,
                        anchor,
                        start,
                        pointer,
                    }) => (Value::Array(items), anchor, start, pointer),
                    Some(Frame::Mapping {
                        mut entries,
                        anchor,
                        start,
                        merges,
                        pointer,
                        ..
                    }) => {
                        // `<<: *defaults`: keys written here win over merged ones.
                        for merged in merges {
                            if let Value::Object(source) = merged {
                                for (key, value) in source {
                                    entries.entry(key).or_insert(value);
                                }
                            }
                        }
                        (Value::Object(entries), anchor, start, pointer)
                    }
                    None => return Ok(()),
                };
                // A collection is shown by its first line: enough to locate it
                // without underlining a whole block.
                let end = range.start.max(start.start);
                let first_line_end = self.source[start.start..end]
                    .find('\n')
                    .map_or(end, |at| start.start + at);
                let shown = start.start..first_line_end;
                self.map.values.insert(pointer, shown.clone());
                let start = shown;
                if anchor != 0 {
                    self.anchors.insert(anchor, value.clone());
                }
                self.attach(value, start)
            }
            _ => Ok(()),
        }
    }

    fn expecting_key(&self) -> bool {
        matches!(self.stack.last(), Some(Frame::Mapping { key: None, .. }))
    }

    /// The pointer of the node about to start, recording where it starts.
    fn child_pointer(&mut self, range: &Range<usize>) -> Result<String, YamlProblem> {
        if self.expecting_key() {
            return Err(YamlProblem {
                message: "a mapping key must be plain text".into(),
                span: range.clone(),
                hint: "keys are simple words such as `id:` or `label:`".into(),
            });
        }
        let pointer = match self.stack.last() {
            None => String::new(),
            Some(Frame::Sequence { pointer, items, .. }) => format!("{pointer}/{}", items.len()),
            Some(Frame::Mapping { pointer, key, .. }) => {
                format!("{pointer}/{}", escape_segment(key.as_deref().unwrap_or("")))
            }
        };
        self.map.values.insert(pointer.clone(), range.clone());
        Ok(pointer)
    }

    fn key(&mut self, value: &Value, range: Range<usize>) -> Result<(), YamlProblem> {
        let text = match value {
            Value::String(text) => text.clone(),
            Value::Null => String::new(),
            other => other.to_string(),
        };
        let Some(Frame::Mapping {
            pointer,
            entries,
            key,
            ..
        }) = self.stack.last_mut()
        else {
            return Ok(());
        };
        let child = format!("{pointer}/{}", escape_segment(&text));
        if entries.contains_key(&text) {
            self.problems.push(YamlProblem {
                message: format!("duplicate key `{text}`"),
                span: range.clone(),
                hint: format!(
                    "`{text}` is already given above in the same mapping; keep only one of them"
                ),
            });
        } else {
            self.map.keys.insert(child, range);
        }
        *key = Some(text);
        Ok(())
    }

    fn node(&mut self, value: Value, range: Range<usize>) -> Result<(), YamlProblem> {
        self.child_pointer(&range)?;
        self.attach(value, range)
    }

    fn attach(&mut self, value: Value, range: Range<usize>) -> Result<(), YamlProblem> {
        self.expanded += 1 + value.as_str().map_or(0, str::len);
        if self.expanded > MAX_EXPANDED {
            return Err(YamlProblem {
                message: "the document expands to more than 16 MB".into(),
                span: range,
                hint: "anchors and aliases are expanded: avoid aliases of aliases".into(),
            });
        }
        match self.stack.last_mut() {
            None => self.root = Some(value),
            Some(Frame::Sequence { items, .. }) => items.push(value),
            Some(Frame::Mapping {
                entries,
                key,
                merges,
                ..
            }) => {
                let Some(name) = key.take() else {
                    return Ok(());
                };
                if name == "<<" {
                    match value {
                        Value::Array(list) => merges.extend(list),
                        other => merges.push(other),
                    }
                } else {
                    entries.entry(name).or_insert(value);
                }
            }
        }
        Ok(())
    }
}

/// The size `value` counts for once expanded: one per node, plus its texts.
fn expanded_size(value: &Value) -> usize {
    match value {
        Value::Array(items) => 1 + items.iter().map(expanded_size).sum::<usize>(),
        Value::Object(entries) => {
            let each = entries.iter().map(|(k, v)| k.len() + expanded_size(v));
            1 + each.sum::<usize>()
        }
        Value::String(text) => 1 + text.len(),
        _ => 1,
    }
}

/// Resolves a plain scalar by the YAML 1.2 core schema.
fn plain_scalar(text: &str) -> Value {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        if let Ok(number) = text.parse::<i64>() {
            return Value::Number(number.into());
        }
    }
    if let Some(hex) = text.strip_prefix("0x") {
        if let Ok(number) = i64::from_str_radix(hex, 16) {
            return Value::Number(number.into());
        }
    }
    if let Some(octal) = text.strip_prefix("0o") {
        if let Ok(number) = i64::from_str_radix(octal, 8) {
            return Value::Number(number.into());
        }
    }
    let looks_numeric = digits
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_digit() || b == b'.')
        && digits
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+'));
    if looks_numeric {
        if let Some(number) = text.parse::<f64>().ok().and_then(Number::from_f64) {
            return Value::Number(number);
        }
    }
    Value::String(text.to_owned())
}

/// `value` as YAML text in block style: what `guichet check --merged`
/// prints, read back as the same value. Texts are written as JSON strings
/// (valid YAML double-quoted scalars) unless plain words read the same.
pub fn to_text(value: &Value) -> String {
    let mut out = String::new();
    write_node(value, 0, &mut out);
    out
}

fn write_node(value: &Value, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (key, child) in map {
                out.push_str(&format!(
                    "{pad}{}:",
                    scalar_text(&Value::String(key.clone()))
                ));
                write_child(child, indent, out);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for item in items {
                out.push_str(&format!("{pad}-"));
                match item {
                    Value::Object(map) if !map.is_empty() => {
                        // The entry's first key on the dash's line.
                        let mut first = true;
                        for (key, child) in map {
                            let lead = if first {
                                " ".to_owned()
                            } else {
                                format!("{pad}  ")
                            };
                            first = false;
                            out.push_str(&format!(
                                "{lead}{}:",
                                scalar_text(&Value::String(key.clone()))
                            ));
                            write_child(child, indent + 2, out);
                        }
                    }
                    other => write_child(other, indent, out),
                }
            }
        }
        other => {
            out.push_str(&pad);
            out.push_str(&scalar_text(other));
            out.push('\n');
        }
    }
}

/// A value after its key (or dash): on the same line if scalar or empty,
/// indented below otherwise.
fn write_child(child: &Value, indent: usize, out: &mut String) {
    match child {
        Value::Object(map) if !map.is_empty() => {
            out.push('\n');
            write_node(child, indent + 2, out);
        }
        Value::Array(items) if !items.is_empty() => {
            out.push('\n');
            write_node(child, indent + 2, out);
        }
        other => {
            out.push(' ');
            out.push_str(&scalar_text(other));
            out.push('\n');
        }
    }
}

fn scalar_text(value: &Value) -> String {
    match value {
        Value::Object(_) => "{}".into(),
        Value::Array(_) => "[]".into(),
        Value::String(text) => {
            let plain = !text.is_empty()
                && text
                    .chars()
                    .all(|c| c.is_alphanumeric() || "_-./@".contains(c))
                && !text.starts_with(['-', '.', '@'])
                && text.parse::<f64>().is_err()
                && !["true", "false", "null", "yes", "no", "on", "off", "~"]
                    .contains(&text.to_lowercase().as_str());
            if plain {
                text.clone()
            } else {
                Value::String(text.clone()).to_string()
            }
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_follow_the_core_schema() {
        let (value, _) = parse("a: 1\nb: 1.5\nc: true\nd: ~\ne: '1'\nf: 2027-03-01\ng: 2MB\n")
            .expect("valid yaml");
        assert_eq!(value["a"], 1);
        assert_eq!(value["b"], 1.5);
        assert_eq!(value["c"], true);
        assert!(value["d"].is_null());
        assert_eq!(value["e"], "1");
        assert_eq!(value["f"], "2027-03-01");
        assert_eq!(value["g"], "2MB");
    }

    #[test]
    fn positions_are_kept_for_keys_and_values() {
        let source = "top:\n  items:\n    - id: one\n    - id: two\n";
        let (_, map) = parse(source).expect("valid yaml");
        let span = map.value_span("/top/items/1/id");
        assert_eq!(&source[span], "two");
        let key = map.key_span("/top/items/1/id");
        assert_eq!(&source[key], "id");
        // An unknown pointer falls back to its closest known ancestor.
        let fallback = map.value_span("/top/items/1/missing");
        assert!(source[fallback].starts_with("id: two"));
    }

    #[test]
    fn every_duplicate_key_is_reported() {
        let problems = parse("a: 1\nb: 2\na: 3\nc:\n  x: 1\n  x: 2\n").expect_err("duplicates");
        assert_eq!(problems.len(), 2);
        assert_eq!(problems[0].message, "duplicate key `a`");
        assert_eq!(problems[0].span.start, 10);
        assert_eq!(problems[1].message, "duplicate key `x`");
    }

    #[test]
    fn anchors_and_merge_keys_are_applied() {
        let source = "base: &b { accept: [pdf], max: 2MB }\nphoto:\n  <<: *b\n  max: 1MB\n";
        let (value, _) = parse(source).expect("valid yaml");
        assert_eq!(value["photo"]["accept"][0], "pdf");
        assert_eq!(value["photo"]["max"], "1MB");
    }

    #[test]
    fn a_syntax_error_names_its_position() {
        let source = "a: [1, 2\nb: 3\n";
        let problems = parse(source).expect_err("syntax error");
        assert_eq!(problems.len(), 1);
        assert!(problems[0].message.starts_with("YAML syntax error"));
    }
}
