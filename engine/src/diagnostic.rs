//! Diagnostics of a definition: what is wrong, where (`file:line:column`), and how to fix it.

use std::fmt;
use std::ops::Range;

use codespan_reporting::diagnostic::{Diagnostic as Rendered, Label};
use codespan_reporting::files::SimpleFiles;
use codespan_reporting::term::{self, Config};

/// A source file a diagnostic can point into.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// Path as given by the user.
    pub name: String,
    /// Full text.
    pub text: String,
}

/// One problem in a definition.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Diagnostic {
    /// Path of the file.
    pub file: String,
    /// Line, 1-based.
    pub line: usize,
    /// Column, 1-based, in characters.
    pub column: usize,
    /// Line where the faulty text ends.
    pub end_line: usize,
    /// Column just past the faulty text (equal to `column` for a point).
    pub end_column: usize,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub hint: String,
    #[serde(skip)]
    span: Range<usize>,
    #[serde(skip)]
    file_index: usize,
}

/// Line and column (1-based, in characters) of byte `at` of `text`, a char boundary.
fn line_and_column(text: &str, at: usize) -> (usize, usize) {
    let before = text.get(..at).unwrap_or("");
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |newline| newline + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// Every problem found in a definition, reported at once.
#[derive(Debug, Clone, Default)]
pub struct Diagnostics {
    files: Vec<SourceFile>,
    items: Vec<Diagnostic>,
    /// Byte offsets past a file's end that stand for another file: a base
    /// definition's positions, read after the file extending it. `(file,
    /// from, other)`: offset `from + n` of `file` is offset `n` of `other`.
    continued: Vec<(usize, usize, usize)>,
}

impl Diagnostics {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Registers a file and returns its index for [`Diagnostics::push`].
    pub(crate) fn add_file(&mut self, name: &str, text: &str) -> usize {
        self.files.push(SourceFile {
            name: name.to_owned(),
            text: text.to_owned(),
        });
        self.files.len() - 1
    }

    /// Offsets of `file` from `from` on stand for file `other` (see
    /// `continued`).
    pub(crate) fn continue_in(&mut self, file: usize, from: usize, other: usize) {
        self.continued.push((file, from, other));
    }

    /// Records a problem at `span` (byte range) of file `file_index`.
    pub(crate) fn push(
        &mut self,
        mut file_index: usize,
        mut span: Range<usize>,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) {
        // The furthest continuation the span lies in names its real file.
        let continuation = self
            .continued
            .iter()
            .filter(|(file, from, _)| *file == file_index && span.start >= *from)
            .max_by_key(|(_, from, _)| *from);
        if let Some(&(_, from, other)) = continuation {
            file_index = other;
            span = span.start - from..span.end.saturating_sub(from);
        }
        let Some(file) = self.files.get(file_index) else {
            return;
        };
        let mut start = span.start.min(file.text.len());
        while !file.text.is_char_boundary(start) {
            start -= 1;
        }
        let mut end = span.end.clamp(start, file.text.len());
        while !file.text.is_char_boundary(end) {
            end += 1;
        }
        let (line, column) = line_and_column(&file.text, start);
        let (end_line, end_column) = line_and_column(&file.text, end);
        self.items.push(Diagnostic {
            file: file.name.clone(),
            line,
            column,
            end_line,
            end_column,
            message: message.into(),
            hint: hint.into(),
            span: start..end,
            file_index,
        });
    }

    /// The problems, sorted by file and position.
    pub fn items(&self) -> &[Diagnostic] {
        &self.items
    }

    /// Whether nothing was found.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub(crate) fn sort(&mut self) {
        self.items
            .sort_by_key(|item| (item.file_index, item.span.start));
    }

    /// Renders every problem the way rustc does: location, the line with a caret, a hint.
    pub fn render(&self) -> String {
        let mut files = SimpleFiles::new();
        for file in &self.files {
            files.add(file.name.clone(), file.text.clone());
        }
        let config = Config::default();
        let mut out = String::new();
        for item in &self.items {
            let span = if item.span.is_empty() {
                // A zero-width span still deserves a visible caret.
                let text = &self.files[item.file_index].text;
                let end = text[item.span.start..]
                    .chars()
                    .next()
                    .map_or(item.span.start, |c| item.span.start + c.len_utf8());
                item.span.start..end
            } else {
                item.span.clone()
            };
            let rendered = Rendered::error()
                .with_message(&item.message)
                .with_labels(vec![Label::primary(item.file_index, span)])
                .with_notes(vec![format!("help: {}", item.hint)]);
            match term::emit_into_string(&config, &files, &rendered) {
                Ok(text) => out.push_str(&text),
                Err(_) => out.push_str(&format!(
                    "error: {}\n  --> {}:{}:{}\n  = help: {}\n",
                    item.message, item.file, item.line, item.column, item.hint
                )),
            }
        }
        let count = self.items.len();
        out.push_str(&format!(
            "{count} problem{} found\n",
            if count == 1 { "" } else { "s" }
        ));
        out
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render())
    }
}

impl std::error::Error for Diagnostics {}

/// `error` followed by each of its causes, `: `-separated: errors keep their
/// causes as [`std::error::Error::source`], and reports show them all.
pub fn with_causes(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(next) = cause {
        text.push_str(": ");
        text.push_str(&next.to_string());
        cause = next.source();
    }
    text
}
