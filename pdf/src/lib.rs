//! A candidature as one PDF: a cover, every section of the dossier laid out
//! (long texts wrapped, repeatable sections as tables), the pieces with their
//! statuses, then every uploaded piece appended — PDF pages as they are,
//! JPEG and PNG scaled onto A4 pages — with one outline entry per section and
//! per piece. What it prints is given as plain text ([`Printed`]): the pages
//! that know the procedure decide what a reader may see; this crate only lays
//! it out, the same bytes for the same input.
//!
//! ```
//! use guichet_pdf::{render, Body, Printed, Section};
//!
//! let printed = Printed {
//!     title: "Zoé Lefèvre — Master".into(),
//!     subtitle: "Institut".into(),
//!     cover: vec![("Dossier".into(), "d-42".into())],
//!     sections: vec![Section {
//!         title: "État civil".into(),
//!         body: Body::Fields(vec![("Nom".into(), "Lefèvre".into())]),
//!     }],
//!     ..Printed::default()
//! };
//! let pdf = render(&printed).unwrap();
//! assert!(pdf.bytes.starts_with(b"%PDF"));
//! assert_eq!(pdf.pages, pdf.summary_pages);
//! ```

use std::sync::Arc;

use hayro_syntax::{LoadPdfError, Pdf};
use krilla::configure::{ConfigurationBuilder, PdfVersion};
use krilla::destination::XyzDestination;
use krilla::geom::{PathBuilder, Point, Rect, Size, Transform};
use krilla::image::Image;
use krilla::outline::{Outline, OutlineNode};
use krilla::page::PageSettings;
use krilla::pdf::PdfDocument;
use krilla::text::{Font, TextDirection};
use krilla::{Document, SerializeSettings};

const REGULAR: &[u8] = include_bytes!("../fonts/DejaVuSans.ttf");
const BOLD: &[u8] = include_bytes!("../fonts/DejaVuSans-Bold.ttf");

/// A4, in points.
const PAGE: (f32, f32) = (595.28, 841.89);
const MARGIN: f32 = 56.0;
const BODY: f32 = 10.0;
const HEADING: f32 = 13.0;
const TITLE: f32 = 18.0;
const LEADING: f32 = 1.4;

/// What a PDF holds, as text already in its reader's language.
#[derive(Debug, Clone, Default)]
pub struct Printed {
    /// The first line of the cover (and the document's title).
    pub title: String,
    /// The line above it: the institution, the procedure.
    pub subtitle: String,
    /// The cover's facts: candidate, formation, state, date sent, dossier number.
    pub cover: Vec<(String, String)>,
    /// The dossier's sections, in order.
    pub sections: Vec<Section>,
    /// The heading of the list of pieces.
    pub pieces_heading: String,
    /// Each piece with its status and comment.
    pub pieces: Vec<PieceLine>,
    /// The files appended after the summary, in order.
    pub attachments: Vec<Attachment>,
    /// The sentence of a page standing for a piece that cannot be included:
    /// `{piece}` and `{reason}` are replaced.
    pub not_included: String,
    /// The reasons a piece's file cannot be included, in words.
    pub reasons: Reasons,
}

/// Why a piece's file cannot be included, in the reader's words.
#[derive(Debug, Clone)]
pub struct Reasons {
    /// A PDF that needs a password.
    pub encrypted: String,
    /// A file that cannot be read.
    pub damaged: String,
    /// A PDF without a page.
    pub no_page: String,
}

impl Default for Reasons {
    fn default() -> Self {
        Reasons {
            encrypted: "it is protected by a password".into(),
            damaged: "it is damaged".into(),
            no_page: "it has no page".into(),
        }
    }
}

/// A section of the dossier.
#[derive(Debug, Clone)]
pub struct Section {
    /// Its title (an outline entry).
    pub title: String,
    /// Its answers.
    pub body: Body,
}

/// The answers of a section.
#[derive(Debug, Clone)]
pub enum Body {
    /// Label and answer, one under the other.
    Fields(Vec<(String, String)>),
    /// A repeatable section: a column per field, a row per entry.
    Table {
        /// Column headings.
        columns: Vec<String>,
        /// One row per entry, a cell per column.
        rows: Vec<Vec<String>>,
    },
}

/// A piece in the summary.
#[derive(Debug, Clone)]
pub struct PieceLine {
    /// Its label.
    pub label: String,
    /// Its status, in words.
    pub status: String,
    /// Why (a refusal), if said.
    pub comment: Option<String>,
}

/// A file appended after the summary.
#[derive(Debug, Clone)]
pub struct Attachment {
    /// The piece it is (an outline entry).
    pub label: String,
    /// Its content, or why it could not be read.
    pub content: Result<(Format, Arc<Vec<u8>>), String>,
}

/// Formats a piece can be appended in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Its pages are appended as they are.
    Pdf,
    /// Scaled onto an A4 page.
    Jpeg,
    /// Scaled onto an A4 page.
    Png,
}

/// Most pages an uploaded PDF may have: a piece is a document, not a library.
pub const MAX_PAGES: usize = 300;

/// Why an uploaded PDF cannot be taken as a piece.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PdfProblem {
    /// It needs a password to be read.
    #[error("the PDF is protected by a password")]
    Encrypted,
    /// It cannot be read as a PDF.
    #[error("the PDF cannot be read")]
    Damaged,
    /// It has no page, or more than [`MAX_PAGES`].
    #[error("the PDF has {0} pages")]
    Pages(usize),
}

/// Reads an uploaded PDF as the dossier's PDF will: its page count, or why
/// it cannot be included.
pub fn check_pdf(bytes: Vec<u8>) -> Result<usize, PdfProblem> {
    match Pdf::new(bytes) {
        Ok(pdf) => match pdf.pages().len() {
            pages @ 1..=MAX_PAGES => Ok(pages),
            pages => Err(PdfProblem::Pages(pages)),
        },
        Err(LoadPdfError::Decryption(_)) => Err(PdfProblem::Encrypted),
        Err(_) => Err(PdfProblem::Damaged),
    }
}

/// Why the PDF could not be written.
#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    /// The embedded font could not be read (a build problem, not input).
    #[error("the embedded font could not be read")]
    Font,
    /// The PDF writer refused the document.
    #[error("the PDF could not be written: {0}")]
    Write(String),
}

/// A written PDF.
#[derive(Debug, Clone)]
pub struct Rendered {
    /// Its bytes.
    pub bytes: Vec<u8>,
    /// Its pages.
    pub pages: usize,
    /// The pages of the summary (before the appended pieces).
    pub summary_pages: usize,
}

/// The two weights of the text face, with their metrics for wrapping.
struct Fonts {
    regular: Font,
    bold: Font,
    regular_face: ttf_parser::Face<'static>,
    bold_face: ttf_parser::Face<'static>,
}

impl Fonts {
    fn load() -> Result<Fonts, PdfError> {
        let font = |bytes: &'static [u8]| Font::new(bytes.into(), 0).ok_or(PdfError::Font);
        let face =
            |bytes: &'static [u8]| ttf_parser::Face::parse(bytes, 0).map_err(|_| PdfError::Font);
        Ok(Fonts {
            regular: font(REGULAR)?,
            bold: font(BOLD)?,
            regular_face: face(REGULAR)?,
            bold_face: face(BOLD)?,
        })
    }

    /// The width of `text` at `size`, in points.
    fn width(&self, text: &str, size: f32, bold: bool) -> f32 {
        let face = if bold {
            &self.bold_face
        } else {
            &self.regular_face
        };
        let units = f32::from(face.units_per_em());
        let advance: f32 = text
            .chars()
            .map(|c| {
                face.glyph_index(c)
                    .and_then(|g| face.glyph_hor_advance(g))
                    .map_or(units / 2.0, f32::from)
            })
            .sum();
        advance * size / units
    }

    /// `text` cut into lines no wider than `width`: at spaces, and inside a
    /// word only when the word alone is wider; its own line breaks kept.
    fn wrap(&self, text: &str, width: f32, size: f32, bold: bool) -> Vec<String> {
        let mut lines = Vec::new();
        for paragraph in text.lines() {
            let mut line = String::new();
            for word in paragraph.split_whitespace() {
                let candidate = if line.is_empty() {
                    word.to_owned()
                } else {
                    format!("{line} {word}")
                };
                if self.width(&candidate, size, bold) <= width {
                    line = candidate;
                    continue;
                }
                if !line.is_empty() {
                    lines.push(std::mem::take(&mut line));
                }
                // A word wider than the line is cut where it must be.
                for c in word.chars() {
                    let longer = format!("{line}{c}");
                    if !line.is_empty() && self.width(&longer, size, bold) > width {
                        lines.push(std::mem::take(&mut line));
                        line.push(c);
                    } else {
                        line = longer;
                    }
                }
            }
            lines.push(line);
        }
        if lines.is_empty() {
            lines.push(String::new());
        }
        lines
    }
}

/// One thing drawn on a summary page.
enum Op {
    Text {
        x: f32,
        y: f32,
        size: f32,
        bold: bool,
        text: String,
    },
    Rule {
        y: f32,
    },
}

/// The summary laid out: pages of drawing operations, and where each outline
/// entry points.
struct Layout<'f> {
    fonts: &'f Fonts,
    pages: Vec<Vec<Op>>,
    y: f32,
    outline: Vec<(String, usize, f32)>,
}

impl<'f> Layout<'f> {
    fn new(fonts: &'f Fonts) -> Self {
        Layout {
            fonts,
            pages: vec![Vec::new()],
            y: MARGIN,
            outline: Vec::new(),
        }
    }

    fn new_page(&mut self) {
        self.pages.push(Vec::new());
        self.y = MARGIN;
    }

    /// Room for `height` more points on this page, or a new page.
    fn room(&mut self, height: f32) {
        if self.y + height > PAGE.1 - MARGIN {
            self.new_page();
        }
    }

    fn push(&mut self, op: Op) {
        if let Some(page) = self.pages.last_mut() {
            page.push(op);
        }
    }

    /// `text` wrapped at `x` within `width`, line after line.
    fn paragraph(&mut self, x: f32, width: f32, text: &str, size: f32, bold: bool) {
        for line in self.fonts.wrap(text, width, size, bold) {
            self.room(size * LEADING);
            self.y += size * LEADING;
            self.push(Op::Text {
                x,
                y: self.y,
                size,
                bold,
                text: line,
            });
        }
    }

    /// A heading, kept with what follows it, and its outline entry.
    fn heading(&mut self, text: &str) {
        self.y += HEADING * 0.8;
        self.room(HEADING * LEADING + BODY * LEADING * 3.0);
        let entry = (text.to_owned(), self.pages.len() - 1, self.y);
        self.outline.push(entry);
        self.paragraph(MARGIN, PAGE.0 - 2.0 * MARGIN, text, HEADING, true);
        self.y += 3.0;
        let y = self.y;
        self.push(Op::Rule { y });
        self.y += 2.0;
    }

    fn fields(&mut self, fields: &[(String, String)]) {
        let width = PAGE.0 - 2.0 * MARGIN;
        for (label, value) in fields {
            self.room(BODY * LEADING * 2.0);
            self.paragraph(MARGIN, width, label, BODY, true);
            let shown = if value.trim().is_empty() {
                "—"
            } else {
                value
            };
            self.paragraph(MARGIN + 12.0, width - 12.0, shown, BODY, false);
            self.y += BODY * 0.4;
        }
    }

    fn table(&mut self, columns: &[String], rows: &[Vec<String>]) {
        let count = columns.len().max(1);
        let gap = 8.0;
        let width = (PAGE.0 - 2.0 * MARGIN - gap * (count - 1) as f32) / count as f32;
        let size = BODY - 1.0;
        self.row(columns, width, gap, size, true);
        for row in rows {
            self.row(row, width, gap, size, false);
        }
    }

    /// One row of a table: each cell wrapped in its column, the row as tall
    /// as its tallest cell, on one page.
    fn row(&mut self, cells: &[String], width: f32, gap: f32, size: f32, bold: bool) {
        let wrapped: Vec<Vec<String>> = cells
            .iter()
            .map(|cell| self.fonts.wrap(cell, width, size, bold))
            .collect();
        let lines = wrapped.iter().map(Vec::len).max().unwrap_or(1);
        self.room(lines as f32 * size * LEADING + 4.0);
        let top = self.y;
        for (column, cell) in wrapped.into_iter().enumerate() {
            let x = MARGIN + column as f32 * (width + gap);
            for (number, line) in cell.into_iter().enumerate() {
                self.push(Op::Text {
                    x,
                    y: top + (number + 1) as f32 * size * LEADING,
                    size,
                    bold,
                    text: line,
                });
            }
        }
        self.y = top + lines as f32 * size * LEADING + 4.0;
        let y = self.y - 2.0;
        self.push(Op::Rule { y });
    }
}

/// An appended piece, read before the document is written (its PDF version
/// decides the document's).
enum Prepared {
    /// Its pages, and whether it is PDF 2.0.
    Pdf(PdfDocument, usize, bool),
    Image(Image),
    Failed(String),
}

fn prepare(attachment: &Attachment, reasons: &Reasons) -> Prepared {
    match &attachment.content {
        Err(reason) => Prepared::Failed(reason.clone()),
        Ok((Format::Pdf, bytes)) => match Pdf::new(Arc::clone(bytes)) {
            Ok(pdf) => {
                let pages = pdf.pages().len();
                if pages == 0 {
                    return Prepared::Failed(reasons.no_page.clone());
                }
                let newest = pdf.version() == hayro_syntax::PdfVersion::Pdf20;
                Prepared::Pdf(PdfDocument::new(Arc::new(pdf)), pages, newest)
            }
            Err(LoadPdfError::Decryption(_)) => Prepared::Failed(reasons.encrypted.clone()),
            Err(_) => Prepared::Failed(reasons.damaged.clone()),
        },
        Ok((format, bytes)) => {
            let data = krilla::Data::from(Arc::clone(bytes));
            let image = match format {
                Format::Png => Image::from_png(data, true),
                _ => Image::from_jpeg(data, true),
            };
            image.map_or_else(
                |_| Prepared::Failed(reasons.damaged.clone()),
                Prepared::Image,
            )
        }
    }
}

/// Writes `printed` as one PDF.
pub fn render(printed: &Printed) -> Result<Rendered, PdfError> {
    let fonts = Fonts::load()?;
    let mut layout = Layout::new(&fonts);
    let width = PAGE.0 - 2.0 * MARGIN;
    layout.paragraph(MARGIN, width, &printed.subtitle, BODY, false);
    layout.y += 6.0;
    layout.paragraph(MARGIN, width, &printed.title, TITLE, true);
    layout.y += 10.0;
    layout.fields(&printed.cover);
    for section in &printed.sections {
        layout.heading(&section.title);
        match &section.body {
            Body::Fields(fields) => layout.fields(fields),
            Body::Table { columns, rows } => layout.table(columns, rows),
        }
    }
    if !printed.pieces.is_empty() {
        layout.heading(&printed.pieces_heading);
        let lines: Vec<(String, String)> = printed
            .pieces
            .iter()
            .map(|piece| {
                let status = match &piece.comment {
                    Some(comment) => format!("{} — {comment}", piece.status),
                    None => piece.status.clone(),
                };
                (piece.label.clone(), status)
            })
            .collect();
        layout.fields(&lines);
    }
    let Layout {
        pages: summary,
        outline: entries,
        ..
    } = layout;

    let prepared: Vec<Prepared> = printed
        .attachments
        .iter()
        .map(|a| prepare(a, &printed.reasons))
        .collect();
    // The document's version is at least each embedded PDF's.
    let newest = prepared
        .iter()
        .any(|p| matches!(p, Prepared::Pdf(_, _, true)));
    let version = if newest {
        PdfVersion::Pdf20
    } else {
        PdfVersion::Pdf17
    };
    let mut document = new_document(version)?;
    let mut outline = Outline::new();
    for (title, page, y) in entries {
        let point = Point::from_xy(MARGIN, (y - HEADING).max(0.0));
        outline.push_child(OutlineNode::new(title, XyzDestination::new(page, point)));
    }
    for ops in &summary {
        draw_page(&mut document, &fonts, ops);
    }
    let summary_pages = summary.len();
    let mut pages = summary_pages;
    for (attachment, prepared) in printed.attachments.iter().zip(prepared) {
        let destination = XyzDestination::new(pages, Point::from_xy(0.0, 0.0));
        outline.push_child(OutlineNode::new(attachment.label.clone(), destination));
        match prepared {
            Prepared::Pdf(pdf, count, _) => {
                let indices: Vec<usize> = (0..count).collect();
                document.embed_pdf_pages(&pdf, &indices);
                pages += count;
            }
            Prepared::Image(image) => {
                draw_image(&mut document, image);
                pages += 1;
            }
            Prepared::Failed(reason) => {
                let sentence = printed
                    .not_included
                    .replace("{piece}", &attachment.label)
                    .replace("{reason}", &reason);
                let mut layout = Layout::new(&fonts);
                layout.heading(&attachment.label);
                layout.paragraph(MARGIN, width, &sentence, BODY, false);
                draw_page(&mut document, &fonts, &layout.pages[0]);
                pages += 1;
            }
        }
    }
    document.set_outline(outline);
    finish(document, pages, summary_pages)
}

/// The document written out.
fn finish(document: Document, pages: usize, summary_pages: usize) -> Result<Rendered, PdfError> {
    let bytes = document
        .finish()
        .map_err(|e| PdfError::Write(format!("{e:?}")))?;
    Ok(Rendered {
        bytes,
        pages,
        summary_pages,
    })
}

fn new_document(version: PdfVersion) -> Result<Document, PdfError> {
    let configuration = ConfigurationBuilder::new()
        .with_version(version)
        .finish()
        .map_err(|e| PdfError::Write(format!("{e:?}")))?;
    let settings = SerializeSettings {
        configuration,
        ..SerializeSettings::default()
    };
    Ok(Document::new_with(settings))
}

/// A letter as it is printed, in its reader's language.
#[derive(Debug, Clone, Default)]
pub struct Letter {
    /// The sender, at the top: the institution's name, then its address
    /// (one line each).
    pub institution: String,
    /// Whom it is to, one line each (name, dossier number, formation).
    pub recipient: Vec<String>,
    /// The town and date it is written at.
    pub place_and_date: String,
    /// Its subject line.
    pub title: String,
    /// Its body: a blank line separates paragraphs; the lines of a
    /// paragraph are joined and wrapped to the page.
    pub body: String,
    /// The signature: name, then function, one line each.
    pub signature: Vec<String>,
}

/// Writes `letter` as a PDF of as many pages as its text takes.
pub fn render_letter(letter: &Letter) -> Result<Rendered, PdfError> {
    let fonts = Fonts::load()?;
    let mut layout = Layout::new(&fonts);
    let width = PAGE.0 - 2.0 * MARGIN;
    // The recipient's block and the signature sit in the right half, as on
    // a letter sent by post.
    let right = PAGE.0 / 2.0 + 20.0;
    let right_width = PAGE.0 - MARGIN - right;
    let mut sender = letter.institution.lines();
    layout.paragraph(MARGIN, width, sender.next().unwrap_or(""), HEADING, true);
    for line in sender {
        layout.paragraph(MARGIN, width, line, BODY, false);
    }
    layout.y += 24.0;
    for line in &letter.recipient {
        layout.paragraph(right, right_width, line, BODY, false);
    }
    layout.y += 18.0;
    layout.paragraph(right, right_width, &letter.place_and_date, BODY, false);
    layout.y += 24.0;
    layout.paragraph(MARGIN, width, &letter.title, BODY + 1.0, true);
    layout.y += 12.0;
    for (number, paragraph) in paragraphs(&letter.body).iter().enumerate() {
        if number > 0 {
            layout.y += (BODY + 1.0) * 0.8;
        }
        layout.paragraph(MARGIN, width, paragraph, BODY + 1.0, false);
    }
    layout.y += 24.0;
    // The signature is kept whole, on the body's last page or the next.
    layout.room(letter.signature.len() as f32 * (BODY + 1.0) * LEADING);
    for (number, line) in letter.signature.iter().enumerate() {
        layout.paragraph(right, right_width, line, BODY + 1.0, number == 0);
    }
    let mut document = new_document(PdfVersion::Pdf17)?;
    for ops in &layout.pages {
        draw_page(&mut document, &fonts, ops);
    }
    let pages = layout.pages.len();
    finish(document, pages, pages)
}

/// The paragraphs of `text` (separated by blank lines), each on one line.
fn paragraphs(text: &str) -> Vec<String> {
    let mut paragraphs = Vec::new();
    let mut current: Vec<&str> = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() {
            if !current.is_empty() {
                paragraphs.push(current.join(" "));
                current.clear();
            }
        } else {
            current.push(line);
        }
    }
    if !current.is_empty() {
        paragraphs.push(current.join(" "));
    }
    paragraphs
}

fn draw_page(document: &mut Document, fonts: &Fonts, ops: &[Op]) {
    let Some(settings) = PageSettings::from_wh(PAGE.0, PAGE.1) else {
        return;
    };
    let mut page = document.start_page_with(settings);
    let mut surface = page.surface();
    for op in ops {
        match op {
            Op::Text {
                x,
                y,
                size,
                bold,
                text,
            } => {
                let font = if *bold { &fonts.bold } else { &fonts.regular };
                surface.draw_text(
                    Point::from_xy(*x, *y),
                    font.clone(),
                    *size,
                    text,
                    false,
                    TextDirection::Auto,
                );
            }
            Op::Rule { y } => {
                let mut path = PathBuilder::new();
                if let Some(rect) = Rect::from_xywh(MARGIN, *y, PAGE.0 - 2.0 * MARGIN, 0.5) {
                    path.push_rect(rect);
                }
                if let Some(path) = path.finish() {
                    surface.draw_path(&path);
                }
            }
        }
    }
    surface.finish();
    page.finish();
}

/// An image scaled to fit an A4 page within its margins, centred.
fn draw_image(document: &mut Document, image: Image) {
    let Some(settings) = PageSettings::from_wh(PAGE.0, PAGE.1) else {
        return;
    };
    let (width, height) = image.size();
    let (room_w, room_h) = (PAGE.0 - 2.0 * MARGIN, PAGE.1 - 2.0 * MARGIN);
    let scale = (room_w / width as f32).min(room_h / height as f32);
    let (w, h) = (width as f32 * scale, height as f32 * scale);
    let mut page = document.start_page_with(settings);
    let mut surface = page.surface();
    if let Some(size) = Size::from_wh(w, h) {
        let x = (PAGE.0 - w) / 2.0;
        let y = (PAGE.1 - h) / 2.0;
        surface.push_transform(&Transform::from_translate(x, y));
        surface.draw_image(image, size);
        surface.pop();
    }
    surface.finish();
    page.finish();
}
