//! Conditions and guards in rhai: compiled once at load, evaluated in a sandbox.
//!
//! Expressions see a read-only view of the dossier (see [`crate::context`]).
//! The sandbox has no file, network or `eval` access, and bounds the number of
//! operations, call depth, string, array and map sizes, so a guard that loops
//! forever fails with an error instead of hanging a request.

use std::collections::HashMap;
use std::sync::Arc;

use rhai::{Dynamic, Engine, EvalAltResult, Scope, AST};
use serde_json::Value;

use crate::context::shape::{by_first_name, Shape};
use crate::list::Lists;

/// Most operations one evaluation may perform.
pub const MAX_OPERATIONS: u64 = 50_000;

/// Builds the sandboxed rhai engine every expression runs in.
pub fn sandbox() -> Engine {
    let mut engine = Engine::new();
    engine.set_max_operations(MAX_OPERATIONS);
    engine.set_max_call_levels(16);
    engine.set_max_expr_depths(32, 16);
    engine.set_max_string_size(4096);
    engine.set_max_array_size(1000);
    engine.set_max_map_size(1000);
    engine.set_max_variables(64);
    engine.set_max_functions(32);
    engine.disable_symbol("eval");
    engine.set_strict_variables(true);
    // A typo in a property name must fail loudly rather than read as `()`.
    engine.set_fail_on_invalid_map_property(true);
    engine.on_print(|_| {});
    engine.on_debug(|_, _, _| {});
    refuse_text_and_number(&mut engine);
    crate::dates::register_rhai(&mut engine);
    engine
}

/// `today + 7` reads as date arithmetic but rhai appends `7` to the text
/// `"2027-03-10"`: a date that is no date would be stored in a dossier.
/// Adding a number to a text (either way round) is refused instead, with
/// the reason; the operators are looked up, not fast-pathed, for that.
fn refuse_text_and_number(engine: &mut Engine) {
    const REASON: &str = "`+` between a text and a number: dates are texts here, and \
                          `today + 7` would give `2027-03-107`; write `add_days(today, 7)`, \
                          or add texts with `+ \"…\"`";
    engine.set_fast_operators(false);
    engine.register_fn(
        "+",
        |_: &str, _: rhai::INT| -> Result<Dynamic, Box<EvalAltResult>> { Err(REASON.into()) },
    );
    engine.register_fn(
        "+",
        |_: rhai::INT, _: &str| -> Result<Dynamic, Box<EvalAltResult>> { Err(REASON.into()) },
    );
    engine.register_fn(
        "+",
        |_: &str, _: rhai::FLOAT| -> Result<Dynamic, Box<EvalAltResult>> { Err(REASON.into()) },
    );
}

/// Why an expression could not be compiled or evaluated.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ScriptError {
    /// The expression does not compile.
    #[error("{0}")]
    Compile(String),
    /// A dotted name does not exist in the data the expression sees.
    #[error("unknown name `{path}`")]
    UnknownPath {
        /// The full dotted name as written.
        path: String,
        /// The segment that does not exist.
        segment: String,
        /// Names that exist at that place.
        known: Vec<String>,
    },
    /// Evaluation failed (limit reached, wrong types…).
    #[error("expression `{expression}` failed")]
    Eval {
        /// The expression.
        expression: String,
        /// rhai's error.
        #[source]
        source: Arc<EvalAltResult>,
    },
    /// The expression is not among those compiled with the definition.
    #[error("expression `{expression}` was not compiled with the definition")]
    NotCompiled {
        /// The expression.
        expression: String,
    },
    /// The expression did not give `true` or `false`.
    #[error("expression `{expression}` gave {got} where true or false was expected")]
    NotBoolean {
        /// The expression.
        expression: String,
        /// Type of the value it gave.
        got: String,
    },
}

/// A compiled expression and the variables it reads.
struct CompiledScript {
    /// Its number among the definition's, naming it in the memo's keys.
    number: u32,
    /// Whether its results are kept in the memo: not when it reads a value
    /// that differs at every evaluation.
    kept: bool,
    ast: Arc<AST>,
    /// Converting the whole dossier for every evaluation would dominate its cost:
    /// only these variables are handed to rhai, and of each only what the
    /// expression's dotted names go down to.
    reads: Vec<Read>,
}

/// A variable an expression reads, with the paths its dotted names take
/// below it (an empty path: the whole value).
struct Read {
    root: String,
    paths: Vec<Vec<String>>,
    /// The names of the variable's shape these paths go through, every
    /// name below where a path ends: filled in (as null) where the value
    /// lacks them, so that an expression that passed the check never meets
    /// a missing name, while the rest of the dossier's values stay unfilled.
    shape: Shape,
}

/// Compiled expressions of one definition, by source text.
pub struct Scripts {
    engine: Engine,
    compiled: HashMap<String, CompiledScript>,
    /// Results already found, by expression and the values it read (see
    /// [`Memo`]).
    memo: Memo,
}

/// The results of evaluations, each under its expression's number and the
/// values handed to rhai, as JSON. An expression reads nothing but those
/// values and the definition's lists (the sandbox has no clock, no chance
/// and no state), so the same values give the same result: a guard on a
/// candidature's status is judged once per status, not once per page.
/// Each evaluation costs 3 to 8 µs (the values converted for rhai, and
/// every operator a function looked up, the sandbox's fast operators
/// being off); finding it here, well under one.
struct Memo {
    results: quick_cache::sync::Cache<Box<[u8]>, Dynamic, MemoWeight>,
}

/// Bytes the memo holds at most, keys and results counted.
const MEMO_BYTES: u64 = 4 << 20;

/// The context's name whose value differs at every evaluation (the
/// instant, to the nanosecond): an expression reading it is not kept.
const NEVER_THE_SAME: &str = "now";

/// Values read over this size are not kept: a key that large is a whole
/// profile or list read, which few evaluations would share.
const MEMO_KEY_MOST: usize = 4096;

/// An entry's weight: its key's bytes, and a result's as a guess (most are
/// booleans).
#[derive(Clone)]
struct MemoWeight;

impl quick_cache::Weighter<Box<[u8]>, Dynamic> for MemoWeight {
    fn weight(&self, key: &Box<[u8]>, _: &Dynamic) -> u64 {
        key.len() as u64 + 64
    }
}

impl Default for Memo {
    fn default() -> Self {
        let entries = (MEMO_BYTES / 256) as usize;
        Self {
            results: quick_cache::sync::Cache::with_weighter(entries, MEMO_BYTES, MemoWeight),
        }
    }
}

impl std::fmt::Debug for Scripts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scripts")
            .field("compiled", &self.compiled.len())
            .finish()
    }
}

impl Default for Scripts {
    fn default() -> Self {
        Self::new(Lists::default())
    }
}

impl Scripts {
    /// A script set whose expressions may read `lists` with
    /// `lookup("list", key, "column")`: the column of the row with that key,
    /// or `()` when no row has it (e.g. an unanswered field).
    pub fn new(lists: Lists) -> Self {
        let mut engine = sandbox();
        engine.register_fn(
            "lookup",
            move |list: &str, key: Dynamic, column: &str| -> Result<Dynamic, Box<EvalAltResult>> {
                let found = lists
                    .get(list)
                    .ok_or_else(|| format!("lookup: no list `{list}`"))?;
                if !found.columns.iter().any(|c| c == column) {
                    return Err(format!("lookup: list `{list}` has no column `{column}`").into());
                }
                let Ok(key) = key.into_immutable_string() else {
                    return Ok(Dynamic::UNIT);
                };
                Ok(found
                    .row(&key)
                    .and_then(|row| row.get(column))
                    .map_or(Dynamic::UNIT, |value| Dynamic::from(value.clone())))
            },
        );
        Self {
            engine,
            compiled: HashMap::new(),
            memo: Memo::default(),
        }
    }

    /// Compiles `source` as an expression seeing the variables of `shape`
    /// (an object shape whose keys are the variables), and checks every dotted
    /// name it reads against that shape.
    pub fn compile(&mut self, source: &str, shape: &Shape) -> Result<(), ScriptError> {
        // Declared as variables, not constants: rhai's optimiser would otherwise
        // fold the placeholder values into the compiled expression.
        let mut scope = Scope::new();
        if let Shape::Object(roots) = shape {
            for name in roots.keys() {
                scope.push(name.as_str(), Dynamic::UNIT);
            }
        }
        let ast = self
            .engine
            .compile_with_scope(&scope, normalize_quotes(source))
            .map_err(|error| ScriptError::Compile(error.to_string()))?;
        check_paths(source, shape)?;
        let mut reads: Vec<Read> = Vec::new();
        for (chain, is_call) in dotted_chains(source) {
            let mut names: Vec<String> = chain.split('.').map(str::to_owned).collect();
            if is_call && names.len() > 1 {
                names.pop();
            }
            let root = names.remove(0);
            if shape.get(&root).is_none() {
                continue;
            }
            match reads.iter_mut().find(|read| read.root == root) {
                Some(read) => read.paths.push(names),
                None => reads.push(Read {
                    root,
                    paths: vec![names],
                    shape: Shape::Leaf,
                }),
            }
        }
        let earlier = self.compiled.get(source);
        let number = earlier.map_or(self.compiled.len() as u32, |compiled| compiled.number);
        for read in &mut reads {
            let paths: Vec<&[String]> = read.paths.iter().map(Vec::as_slice).collect();
            let along = shape
                .get(&read.root)
                .map_or(Shape::Leaf, |root| root.along(&paths));
            // The same text checked at two places, against two shapes: its
            // paths exist in both, and it sees the names of either.
            let before = earlier
                .and_then(|compiled| compiled.reads.iter().find(|r| r.root == read.root))
                .map(|r| r.shape.clone());
            read.shape = match before {
                Some(before) => before.union(along),
                None => along,
            };
        }
        self.compiled.insert(
            source.to_owned(),
            CompiledScript {
                number,
                kept: !reads.iter().any(|read| read.root == NEVER_THE_SAME),
                ast: Arc::new(ast),
                reads,
            },
        );
        Ok(())
    }

    /// The variables a compiled expression reads, each with the paths its
    /// dotted names take below it (an empty path: the whole value).
    pub(crate) fn reads(
        &self,
        source: &str,
    ) -> Option<impl Iterator<Item = (&str, &[Vec<String>])>> {
        let compiled = self.compiled.get(source)?;
        Some(
            compiled
                .reads
                .iter()
                .map(|read| (read.root.as_str(), read.paths.as_slice())),
        )
    }

    /// Evaluates a compiled condition against `context` (an object whose keys are the variables).
    pub fn eval_bool(&self, source: &str, context: &Value) -> Result<bool, ScriptError> {
        self.eval_bool_with(source, context, None)
    }

    /// [`Scripts::eval_bool`] with one more variable, `name` standing for
    /// `value` over any of the context's (a piece guard's `piece`, a list
    /// filter's `row`): the context, a whole candidature's, is not copied
    /// to add it.
    pub fn eval_bool_with(
        &self,
        source: &str,
        context: &Value,
        more: Option<(&str, &Value)>,
    ) -> Result<bool, ScriptError> {
        let value = self.eval(source, context, more)?;
        value.as_bool().map_err(|got| ScriptError::NotBoolean {
            expression: source.to_owned(),
            got: got.to_owned(),
        })
    }

    /// Evaluates a compiled expression against `context` and returns its value as JSON.
    pub fn eval_value(&self, source: &str, context: &Value) -> Result<Value, ScriptError> {
        let value = self.eval(source, context, None)?;
        rhai::serde::from_dynamic::<Value>(&value).map_err(|error| ScriptError::Eval {
            expression: source.to_owned(),
            source: Arc::from(error),
        })
    }

    fn eval(
        &self,
        source: &str,
        context: &Value,
        more: Option<(&str, &Value)>,
    ) -> Result<Dynamic, ScriptError> {
        let failed = |error: Box<EvalAltResult>| ScriptError::Eval {
            expression: source.to_owned(),
            source: Arc::from(error),
        };
        let compiled = self
            .compiled
            .get(source)
            .ok_or_else(|| ScriptError::NotCompiled {
                expression: source.to_owned(),
            })?;
        let given = |read: &Read| match more {
            Some((name, value)) if name == read.root => Some(value),
            _ => context.get(&read.root),
        };
        let key = compiled.kept.then(|| memo_key(compiled, given)).flatten();
        if let Some(known) = key.as_ref().and_then(|key| self.memo.results.get(key)) {
            return Ok(known);
        }
        let parts = parts_of(compiled, given);
        let mut scope = Scope::new();
        for (read, part) in compiled.reads.iter().zip(&parts) {
            let value = rhai::serde::to_dynamic(part).map_err(failed)?;
            scope.push_constant(read.root.as_str(), value);
        }
        let result = self
            .engine
            .eval_ast_with_scope::<Dynamic>(&mut scope, &compiled.ast)
            .map_err(failed)?;
        if let Some(key) = key {
            self.memo.results.insert(key, result.clone());
        }
        Ok(result)
    }
}

/// The memo's key for `compiled` reading the values `given` has for its
/// variables: its number, then what each variable's paths go down to (see
/// [`write_read`]). `None` when too large to keep.
///
/// Written from the values themselves, not from the parts handed to rhai:
/// a result found needs no part made. The parts are a function of what is
/// written (the shape fills in the same names wherever the same are
/// missing), so the same key means the same parts.
fn memo_key<'v>(
    compiled: &CompiledScript,
    given: impl Fn(&Read) -> Option<&'v Value>,
) -> Option<Box<[u8]>> {
    let mut key = Vec::with_capacity(64);
    key.extend_from_slice(&compiled.number.to_le_bytes());
    for read in &compiled.reads {
        let paths: Vec<&[String]> = read.paths.iter().map(Vec::as_slice).collect();
        write_read(&mut key, given(read), &paths)?;
    }
    Some(key.into_boxed_slice())
}

/// What `compiled` hands to rhai of the values `given` has for its
/// variables: of each, what its paths go down to, the shape's names filled
/// in.
fn parts_of<'v>(
    compiled: &CompiledScript,
    given: impl Fn(&Read) -> Option<&'v Value>,
) -> Vec<Value> {
    let mut parts = Vec::with_capacity(compiled.reads.len());
    for read in &compiled.reads {
        let paths: Vec<&[String]> = read.paths.iter().map(Vec::as_slice).collect();
        let mut part = match given(read) {
            Some(value) => pruned(value, &paths).unwrap_or_else(|| value.clone()),
            None => read.shape.empty(),
        };
        read.shape.fill(&mut part);
        parts.push(part);
    }
    parts
}

/// A name that is missing, in a memo key.
const KEY_MISSING: u8 = 1;
/// A name that is there, then what its paths go down to, in a memo key.
const KEY_THERE: u8 = 2;

/// Writes into a memo key what [`pruned`] keeps of `value` for `paths`:
/// the value whole, as JSON, where [`pruned`] keeps it whole; else, for
/// each name the paths go down to, in their order, whether it is there and
/// what of it. JSON never holds the bytes that mark these, and the paths
/// are the expression's own, so no two values' keys are alike. `None` once
/// the key is over its limit.
fn write_read(key: &mut Vec<u8>, value: Option<&Value>, paths: &[&[String]]) -> Option<()> {
    let Some(value) = value else {
        key.push(KEY_MISSING);
        return Some(());
    };
    key.push(KEY_THERE);
    let groups = match value {
        Value::Object(map) => by_first_name(paths).map(|groups| (map, groups)),
        _ => None,
    };
    match groups {
        Some((map, groups)) => {
            for (first, below) in groups {
                write_read(key, map.get(first), &below)?;
            }
        }
        None => {
            serde_json::to_writer(&mut *key, value).ok()?;
        }
    }
    (key.len() <= MEMO_KEY_MOST).then_some(())
}

/// The part of `value` that `paths` go down to, each path's value whole
/// where the path ends or stops going down a map's keys (a method or a
/// property of a text, an index): `None` when that is all of `value`.
fn pruned(value: &Value, paths: &[&[String]]) -> Option<Value> {
    let Value::Object(map) = value else {
        return None;
    };
    let mut part = serde_json::Map::new();
    for (first, below) in by_first_name(paths)? {
        // A name the value lacks is left out: the shape fills it in if it
        // declares it, or rhai reports it as it would on the whole.
        let Some(child) = map.get(first) else {
            continue;
        };
        let child = pruned(child, &below).unwrap_or_else(|| child.clone());
        part.insert(first.to_owned(), child);
    }
    Some(Value::Object(part))
}

/// Turns `'text'` literals into `"text"`: authors write conditions inside YAML
/// double-quoted strings, where single quotes are natural, but rhai reads them as
/// characters, which never equal a text answer.
fn normalize_quotes(source: &str) -> String {
    let mut out = String::with_capacity(source.len());
    let mut chars = source.chars();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        match (quote, c) {
            (None, '\'') => {
                quote = Some('\'');
                out.push('"');
            }
            (None, '"' | '`') => {
                quote = Some(c);
                out.push(c);
            }
            (Some('\''), '\'') => {
                quote = None;
                out.push('"');
            }
            (Some('\''), '"') => out.push_str("\\\""),
            (Some(_), '\\') => {
                out.push(c);
                if let Some(next) = chars.next() {
                    out.push(next);
                }
            }
            (Some(q), _) if q == c => {
                quote = None;
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

/// Checks every dotted name (`profile.identity.nationality`) against `shape`.
///
/// rhai itself reports unknown variables at compile time (strict variables) but
/// not unknown properties, which would only fail when evaluated, maybe months
/// later on a rare path: reading the names statically catches them at load.
fn check_paths(source: &str, shape: &Shape) -> Result<(), ScriptError> {
    for (chain, is_call) in dotted_chains(source) {
        let mut names: Vec<&str> = chain.split('.').collect();
        if is_call {
            names.pop();
        }
        shape
            .check_path(&names, true)
            .map_err(|error| ScriptError::UnknownPath {
                path: chain.clone(),
                segment: error.segment,
                known: error.known,
            })?;
    }
    Ok(())
}

/// Where the `}` closing a block that starts at `bytes` is (its length if
/// none): braces inside strings, nested backtick strings included, do not
/// count.
fn closing_brace(bytes: &[u8]) -> usize {
    let mut depth = 0usize;
    let mut at = 0;
    while at < bytes.len() {
        match bytes[at] {
            b'{' => depth += 1,
            b'}' if depth == 0 => return at,
            b'}' => depth -= 1,
            quote @ (b'"' | b'\'') => {
                at += 1;
                while at < bytes.len() && bytes[at] != quote {
                    at += usize::from(bytes[at] == b'\\') + 1;
                }
            }
            b'`' => {
                at += 1;
                while at < bytes.len() && bytes[at] != b'`' {
                    if bytes[at] == b'$' && bytes.get(at + 1) == Some(&b'{') {
                        at += 2;
                        at += closing_brace(&bytes[at..]);
                    }
                    at += 1;
                }
            }
            _ => {}
        }
        at += 1;
    }
    bytes.len()
}

/// Dotted identifier chains outside strings and comments (but inside a
/// backtick string's `${…}`), with whether a call follows.
fn dotted_chains(source: &str) -> Vec<(String, bool)> {
    let bytes = source.as_bytes();
    let mut chains = Vec::new();
    let mut at = 0;
    let is_start = |b: u8| b.is_ascii_alphabetic() || b == b'_';
    let is_part = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    while at < bytes.len() {
        let b = bytes[at];
        match b {
            // A backtick string: its `${…}` parts are code (rhai reads no
            // escapes in it).
            b'`' => {
                at += 1;
                while at < bytes.len() && bytes[at] != b'`' {
                    if bytes[at] == b'$' && bytes.get(at + 1) == Some(&b'{') {
                        let inside = at + 2;
                        at = inside + closing_brace(&bytes[inside..]);
                        chains.extend(dotted_chains(&source[inside..at]));
                    }
                    at += 1;
                }
                at += 1;
            }
            b'"' | b'\'' => {
                at += 1;
                while at < bytes.len() && bytes[at] != b {
                    if bytes[at] == b'\\' {
                        at += 1;
                    }
                    at += 1;
                }
                at += 1;
            }
            b'/' if bytes.get(at + 1) == Some(&b'/') => {
                while at < bytes.len() && bytes[at] != b'\n' {
                    at += 1;
                }
            }
            b'/' if bytes.get(at + 1) == Some(&b'*') => {
                at += 2;
                while at + 1 < bytes.len() && !(bytes[at] == b'*' && bytes[at + 1] == b'/') {
                    at += 1;
                }
                at += 2;
            }
            _ if is_start(b) && (at == 0 || bytes[at - 1] != b'.') => {
                let start = at;
                loop {
                    while at < bytes.len() && is_part(bytes[at]) {
                        at += 1;
                    }
                    let dot = if bytes.get(at) == Some(&b'.') {
                        1
                    } else if bytes.get(at) == Some(&b'?') && bytes.get(at + 1) == Some(&b'.') {
                        2
                    } else {
                        0
                    };
                    if dot > 0 && bytes.get(at + dot).is_some_and(|&c| is_start(c)) {
                        at += dot;
                    } else {
                        break;
                    }
                }
                let chain = source[start..at].replace("?.", ".");
                let mut after = at;
                while after < bytes.len() && bytes[after].is_ascii_whitespace() {
                    after += 1;
                }
                let is_call = bytes.get(after) == Some(&b'(');
                chains.push((chain, is_call));
            }
            _ => at += 1,
        }
    }
    chains
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::BTreeMap;

    fn shape() -> Shape {
        let mut identity = BTreeMap::new();
        identity.insert("nationality".to_owned(), Shape::Leaf);
        let mut profile = BTreeMap::new();
        profile.insert("identity".to_owned(), Shape::Object(identity));
        let mut roots = BTreeMap::new();
        roots.insert("profile".to_owned(), Shape::Object(profile));
        roots.insert("items".to_owned(), Shape::List(Box::new(Shape::Leaf)));
        Shape::Object(roots)
    }

    /// A name given beside the context stands over the context's own, and
    /// the context keeps the rest.
    #[test]
    fn a_name_given_beside_the_context_stands_over_its_own() {
        let mut roots = BTreeMap::new();
        roots.insert("piece".to_owned(), Shape::Leaf);
        roots.insert("state".to_owned(), Shape::Leaf);
        let mut scripts = Scripts::default();
        let guard = "piece == 'refused' && state == 'received'";
        scripts.compile(guard, &Shape::Object(roots)).unwrap();
        let context = json!({"piece": "sent", "state": "received"});
        assert!(!scripts.eval_bool(guard, &context).unwrap());
        let refused = json!("refused");
        let more = Some(("piece", &refused));
        assert!(scripts.eval_bool_with(guard, &context, more).unwrap());
        let elsewhere = json!({"piece": "refused", "state": "draft"});
        assert!(!scripts.eval_bool_with(guard, &elsewhere, more).unwrap());
    }

    /// A result is kept under the values the expression read, and only
    /// those: other values are evaluated, the same ones found again, and an
    /// expression reading the instant is never kept.
    #[test]
    fn a_result_is_kept_for_the_values_it_read() {
        let mut roots = BTreeMap::new();
        roots.insert("state".to_owned(), Shape::Leaf);
        roots.insert("note".to_owned(), Shape::Leaf);
        roots.insert("now".to_owned(), Shape::Leaf);
        let shape = Shape::Object(roots);
        let mut scripts = Scripts::default();
        let guard = "state == 'open'";
        let timed = "now > '2027'";
        scripts.compile(guard, &shape).unwrap();
        scripts.compile(timed, &shape).unwrap();
        let open = json!({"state": "open", "note": 1});
        let closed = json!({"state": "closed", "note": 1});
        assert!(scripts.eval_bool(guard, &open).unwrap());
        assert_eq!(scripts.memo.results.len(), 1);
        // A name the guard does not read makes no new entry.
        let other_note = json!({"state": "open", "note": 2});
        assert!(scripts.eval_bool(guard, &other_note).unwrap());
        assert_eq!(scripts.memo.results.len(), 1);
        assert!(!scripts.eval_bool(guard, &closed).unwrap());
        assert!(scripts.eval_bool(guard, &open).unwrap());
        assert_eq!(scripts.memo.results.len(), 2);
        // The same values under another expression are that one's own.
        let first = json!({"now": "2028-01-01T00:00:00Z"});
        let second = json!({"now": "2026-01-01T00:00:00Z"});
        assert!(scripts.eval_bool(timed, &first).unwrap());
        assert!(!scripts.eval_bool(timed, &second).unwrap());
        assert_eq!(scripts.memo.results.len(), 2);
    }

    /// Two values give the same memo key only when they give rhai the same
    /// parts (a name read, missing, null, a map where a text was, a path
    /// ending on a map or going through a list), and a name not read makes
    /// no other key. (A name missing and one filled in as the shape fills
    /// it give two keys for the same parts: a result evaluated twice, never
    /// a wrong one.)
    #[test]
    fn the_memo_key_tells_apart_what_the_parts_tell_apart() {
        let leaf = || Shape::Leaf;
        let object = |names: &[(&str, Shape)]| {
            Shape::Object(
                names
                    .iter()
                    .map(|(n, s)| (n.to_string(), s.clone()))
                    .collect(),
            )
        };
        let shape = object(&[
            (
                "a",
                object(&[
                    ("b", leaf()),
                    ("c", object(&[("d", leaf()), ("e", leaf())])),
                ]),
            ),
            ("f", leaf()),
            ("g", leaf()),
        ]);
        let mut scripts = Scripts::default();
        let guard = "a.b == 1 && a.c.d == 2 && f.len() > 0 && a.c == a.c";
        scripts.compile(guard, &shape).unwrap();
        let compiled = &scripts.compiled[guard];
        let contexts = [
            json!({}),
            json!({"a": {}}),
            json!({"a": {"b": 1}}),
            json!({"a": {"b": 1, "x": 9}}),
            json!({"a": {"b": null}}),
            json!({"a": {"b": "1"}}),
            json!({"a": {"b": 1, "c": {"d": 2}}}),
            json!({"a": {"b": 1, "c": {"d": 2, "e": 3}}}),
            json!({"a": {"b": 1, "c": {"d": 2, "e": 3, "z": 0}}}),
            json!({"a": {"b": 1, "c": "d"}}),
            json!({"a": {"b": 1, "c": ["d"]}}),
            json!({"a": "b"}),
            json!({"a": {"b": "d"}}),
            json!({"a": {"c": "d"}}),
            json!({"a": {"b": 1}, "f": [1, 2]}),
            json!({"a": {"b": 1}, "f": [1, 2], "g": 5}),
            json!({"a": {"b": 1}, "f": [2, 1]}),
            json!({"a": {"b": 1}, "f": "\u{1}\u{2}"}),
            json!({"a": {"b": 1}, "f": ""}),
        ];
        fn given<'c>(context: &'c Value) -> impl Fn(&Read) -> Option<&'c Value> + 'c {
            move |read: &Read| context.get(&read.root)
        }
        for first in &contexts {
            for second in &contexts {
                let same_key =
                    memo_key(compiled, given(first)) == memo_key(compiled, given(second));
                let same_parts =
                    parts_of(compiled, given(first)) == parts_of(compiled, given(second));
                assert!(!same_key || same_parts, "{first} and {second}");
            }
        }
        // Names not read make no other key.
        for (first, second) in [(2, 3), (14, 15)] {
            let key = |n: usize| memo_key(compiled, given(&contexts[n]));
            assert_eq!(key(first), key(second), "{first} and {second}");
        }
    }

    /// A value read over the key's limit is evaluated and not kept, and the
    /// memo keeps to its bytes however many values come, evicting entries.
    #[test]
    fn the_memo_keeps_no_large_value_and_stays_within_its_bytes() {
        let mut roots = BTreeMap::new();
        roots.insert("note".to_owned(), Shape::Leaf);
        let shape = Shape::Object(roots);
        let mut scripts = Scripts::default();
        let guard = "note.len() > 3";
        scripts.compile(guard, &shape).unwrap();
        let large = json!({ "note": "x".repeat(MEMO_KEY_MOST + 1) });
        assert!(scripts.eval_bool(guard, &large).unwrap());
        assert_eq!(scripts.memo.results.len(), 0);
        // Three times the memo's bytes in distinct notes, each just under
        // the key's limit.
        let each = MEMO_KEY_MOST - 100;
        let count = 3 * MEMO_BYTES as usize / each;
        for n in 0..count {
            let note = json!({ "note": format!("{n:0each$}") });
            assert!(scripts.eval_bool(guard, &note).unwrap());
            assert!(scripts.memo.results.weight() <= MEMO_BYTES);
        }
        assert!(scripts.memo.results.len() < count / 2);
        assert!(scripts.memo.results.weight() > MEMO_BYTES / 2);
        // What is kept still gives the same results.
        let short = json!({ "note": "ab" });
        assert!(!scripts.eval_bool(guard, &short).unwrap());
        assert!(!scripts.eval_bool(guard, &short).unwrap());
    }

    /// The sandbox has no clock of its own: an expression's result depends
    /// on the values it reads alone, which keeping results relies on.
    #[test]
    fn the_sandbox_has_no_clock() {
        let mut scripts = Scripts::default();
        let shape = Shape::Object(BTreeMap::new());
        let read = scripts
            .compile("timestamp().elapsed > 0.0", &shape)
            .and_then(|()| scripts.eval_bool("timestamp().elapsed > 0.0", &json!({})));
        assert!(read.is_err(), "{read:?}");
    }

    #[test]
    fn chains_skip_strings_and_note_calls() {
        let chains = dotted_chains(r#"a.b == "x.y" && c.len() > 0 // d.e"#);
        assert_eq!(
            chains,
            vec![("a.b".to_owned(), false), ("c.len".to_owned(), true)]
        );
    }

    #[test]
    fn unknown_fields_are_reported_with_what_exists() {
        let mut scripts = Scripts::default();
        let error = scripts
            .compile("profile.identity.natonality != 'FR'", &shape())
            .expect_err("typo");
        match error {
            ScriptError::UnknownPath { segment, known, .. } => {
                assert_eq!(segment, "natonality");
                assert_eq!(known, vec!["nationality".to_owned()]);
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(scripts
            .compile(
                "profile.identity.nationality != 'FR' && items.len() > 0",
                &shape()
            )
            .is_ok());
    }

    #[test]
    fn unknown_variables_fail_at_compile_time() {
        let mut scripts = Scripts::default();
        let error = scripts
            .compile("nobody == 1", &shape())
            .expect_err("unknown");
        assert!(matches!(error, ScriptError::Compile(_)), "{error:?}");
    }

    #[test]
    fn a_number_added_to_a_text_is_refused_not_appended() {
        let mut scripts = Scripts::default();
        let shape = Shape::Object([("today".to_owned(), Shape::Leaf)].into());
        for source in ["today + 7", "7 + today", "today + 1.5"] {
            scripts.compile(source, &shape).expect("compiles");
            let error = scripts
                .eval_value(source, &json!({"today": "2027-03-10"}))
                .expect_err("refused");
            let cause = std::error::Error::source(&error).map(ToString::to_string);
            assert!(
                cause.is_some_and(|c| c.contains("between a text and a number")),
                "{source}"
            );
        }
        let joined = "today + \" 09:00\"";
        scripts.compile(joined, &shape).expect("compiles");
        let value = scripts.eval_value(joined, &json!({"today": "2027-03-10"}));
        assert_eq!(value.expect("texts still join"), json!("2027-03-10 09:00"));
        scripts.compile("1 + 2", &shape).expect("compiles");
        assert_eq!(
            scripts.eval_value("1 + 2", &json!({})).expect("sum"),
            json!(3)
        );
    }

    #[test]
    fn a_guard_that_loops_forever_is_stopped_by_the_operation_limit() {
        let mut scripts = Scripts::default();
        let source = "let n = 0; loop { n += 1; } n > 0";
        scripts.compile(source, &shape()).expect("compiles");
        let error = scripts
            .eval_bool(source, &json!({"profile": {}, "items": []}))
            .expect_err("limit");
        // rhai's own error is the cause, kept as the error's source.
        let cause = std::error::Error::source(&error).map(ToString::to_string);
        assert!(
            cause
                .as_deref()
                .is_some_and(|c| c.contains("Too many operations")),
            "{error}: {cause:?}"
        );
    }

    #[test]
    fn the_dossier_cannot_be_changed_by_a_guard() {
        let mut scripts = Scripts::default();
        let source = "profile.identity.nationality = \"XX\"; true";
        let outcome = scripts.compile(source, &shape()).and_then(|()| {
            scripts.eval_bool(
                source,
                &json!({"profile": {"identity": {"nationality": "FR"}}, "items": []}),
            )
        });
        assert!(outcome.is_err(), "{outcome:?}");
    }

    #[test]
    fn names_inside_backtick_strings_are_found_and_odd_ones_do_not_panic() {
        let names = |source: &str| -> Vec<String> {
            dotted_chains(source)
                .into_iter()
                .map(|(chain, _)| chain)
                .collect()
        };
        assert_eq!(names("`${a.b} and ${c}`"), ["a.b", "c"]);
        assert_eq!(
            names("`${ if x.y { \"}\" } else { `${z}` } }` + w"),
            ["if", "x.y", "else", "z", "w"]
        );
        assert_eq!(names("`text ${a.b`"), ["a.b"]);
        assert_eq!(
            names("\"${not.code}\" + `$ {nor.this}`"),
            Vec::<String>::new()
        );
        for odd in ["`", "`${", "`${}", "`${`", "`${\"", "${`é", "`é${é.è}`"] {
            let _ = names(odd);
        }
    }

    /// Only the parts of a variable an expression names are converted for
    /// it; what it names reads as on the whole value.
    #[test]
    fn an_expression_sees_every_part_it_names() {
        let context = json!({
            "profile": {
                "identity": {"nationality": "FR", "city": "Marseille"},
                "notes": {"a": 1, "b": 2},
            },
            "items": ["x", "y"],
        });
        let mut notes = BTreeMap::new();
        notes.insert("a".to_owned(), Shape::Leaf);
        notes.insert("b".to_owned(), Shape::Leaf);
        let Shape::Object(mut roots) = shape() else {
            unreachable!("the test shape is an object")
        };
        if let Some(Shape::Object(profile)) = roots.get_mut("profile") {
            profile.insert("notes".to_owned(), Shape::Object(notes));
            if let Some(Shape::Object(identity)) = profile.get_mut("identity") {
                identity.insert("city".to_owned(), Shape::Leaf);
            }
        }
        let shape = Shape::Object(roots);
        let mut scripts = Scripts::default();
        for (source, expected) in [
            ("profile.identity.city.len() == 9", json!(true)),
            (
                "profile.identity.nationality + profile.identity.city",
                json!("FRMarseille"),
            ),
            ("profile.notes.keys().len()", json!(2)),
            ("profile.notes[\"b\"]", json!(2)),
            ("profile.notes.a + profile.notes.b", json!(3)),
            ("items.len() == 2 && \"y\" in items", json!(true)),
            (
                "if profile.identity.nationality == \"FR\" { profile.len() } else { 0 }",
                json!(2),
            ),
            ("type_of(profile.identity)", json!("map")),
            // Names inside a backtick string's `${…}` are read too.
            ("`${profile.identity.city}!`", json!("Marseille!")),
            ("`${items.len()} ${`${profile.notes.a}`}`", json!("2 1")),
        ] {
            scripts.compile(source, &shape).expect(source);
            assert_eq!(
                scripts.eval_value(source, &context).expect(source),
                expected,
                "{source}"
            );
        }
        let path = ["identity".to_owned(), "city".to_owned()];
        assert_eq!(
            pruned(&context["profile"], &[&path[..]]),
            Some(json!({"identity": {"city": "Marseille"}}))
        );
        assert_eq!(pruned(&context["profile"], &[&[][..]]), None, "whole");
        assert_eq!(pruned(&context["items"], &[&path[..1]]), None, "a list");
    }

    /// A name the shape declares and the value lacks reads as null (an
    /// empty list for a list), at every depth and for a variable missing
    /// whole; a part read whole has every name of its shape.
    #[test]
    fn a_declared_name_without_a_value_reads_as_null() {
        let mut notes = BTreeMap::new();
        notes.insert("a".to_owned(), Shape::Leaf);
        notes.insert("b".to_owned(), Shape::Leaf);
        let shape = shape().with("notes", Shape::Object(notes));
        let context = json!({"profile": {"identity": {}}});
        let mut scripts = Scripts::default();
        for (source, expected) in [
            ("profile.identity.nationality == ()", json!(true)),
            ("notes.a == () && notes.b == ()", json!(true)),
            ("notes.len()", json!(2)),
            ("items.len()", json!(0)),
            ("profile.identity.len() + profile.len()", json!(2)),
        ] {
            scripts.compile(source, &shape).expect(source);
            assert_eq!(
                scripts.eval_value(source, &context).expect(source),
                expected,
                "{source}"
            );
        }
        // A name no shape declares is still refused as rhai refuses it.
        let free = Shape::Object([("data".to_owned(), Shape::Any)].into());
        scripts.compile("data.x == 1", &free).expect("compiles");
        let refused = scripts.eval_bool("data.x == 1", &json!({"data": {}}));
        assert!(refused.is_err(), "{refused:?}");
    }

    /// The same text checked against two shapes sees the names of either.
    #[test]
    fn a_text_checked_twice_sees_the_names_of_both_shapes() {
        let mut scripts = Scripts::default();
        let one = Shape::Object([("a".to_owned(), Shape::leaves(&["x"]))].into());
        let two = Shape::Object([("a".to_owned(), Shape::leaves(&["y"]))].into());
        scripts.compile("a.len()", &one).expect("compiles");
        scripts.compile("a.len()", &two).expect("compiles");
        let value = scripts.eval_value("a.len()", &json!({"a": {}}));
        assert_eq!(value.expect("evaluates"), json!(2));
    }

    #[test]
    fn a_bare_variable_reads_its_run_time_value() {
        let mut scripts = Scripts::default();
        scripts.compile("items", &shape()).expect("compiles");
        let value = scripts
            .eval_value("items", &json!({"profile": {}, "items": [7]}))
            .expect("evaluates");
        assert_eq!(value, json!([7]));
    }

    #[test]
    fn single_quoted_texts_are_texts() {
        let mut scripts = Scripts::default();
        let source = "profile.identity.nationality != 'FR'";
        scripts.compile(source, &shape()).expect("compiles");
        let context = json!({"profile": {"identity": {"nationality": "FR"}}, "items": []});
        assert_eq!(scripts.eval_bool(source, &context).ok(), Some(false));
        assert_eq!(
            normalize_quotes(r#"a == 'l"x' && b == "it's""#),
            r#"a == "l\"x" && b == "it's""#
        );
    }
}
