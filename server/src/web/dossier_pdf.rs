//! A candidature as one PDF, for its candidate (their dossier as it is) and
//! for staff (what was sent, as far as their role reads it): what it holds
//! is decided here, in the reader's words; `guichet_pdf` lays it out.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::http::{header, HeaderValue};
use axum::response::IntoResponse;
use guichet_engine::model::FileFormat;
use guichet_engine::{Candidature, Definition, Dossier, FileRef, PieceState};
use guichet_pdf::{Attachment, Body, Format, PieceLine, Printed, Reasons, Section};
use serde_json::Value;

use super::error::{blocking, PageError, PageResult};
use super::site::Lang;
use super::state::AppState;

/// What goes into a candidature's PDF besides the answers.
pub struct Source<'a> {
    /// The dossier's definition version.
    pub definition: &'a Definition,
    /// The dossier.
    pub dossier: &'a Dossier,
    /// The candidature.
    pub candidature: &'a Candidature,
    /// The pieces as the reader sees them (sent, or current).
    pub pieces: &'a BTreeMap<String, PieceState>,
    /// Which pieces the reader reads.
    pub reads_piece: &'a dyn Fn(&str) -> bool,
    /// Whether third parties' letters are appended (staff only).
    pub letters: bool,
    /// More facts for the cover (the values transitions gave, for staff).
    pub facts: Vec<(String, String)>,
    /// The reader's language.
    pub lang: Lang,
}

/// A section as read: single answers, or a repeatable section's entries.
pub struct SectionText {
    /// The section's title.
    pub title: String,
    /// Label and answer of a single entry.
    pub answers: Vec<(String, String)>,
    /// A repeatable section's columns…
    pub columns: Vec<String>,
    /// …and its entries.
    pub entries: Vec<Vec<String>>,
}

/// The PDF's content: cover, `sections`, pieces and their files.
pub fn printed(state: &AppState, source: &Source<'_>, sections: Vec<SectionText>) -> Printed {
    let (definition, dossier, candidature, lang) = (
        source.definition,
        source.dossier,
        source.candidature,
        source.lang,
    );
    let code = lang.code();
    let t = |key: &str| lang.t(key);
    let formation = definition
        .formation(&candidature.formation)
        .map_or(candidature.formation.clone(), |f| {
            f.title.get(code).to_owned()
        });
    let name = format!(
        "{} {}",
        dossier.candidate.first_name, dossier.candidate.last_name
    );
    let state_label = definition.state_label(&candidature.state, code).to_owned();
    let mut cover = vec![
        (
            t("pdf_candidate"),
            format!("{name} ({})", dossier.candidate.email),
        ),
        (t("pdf_formation"), formation.clone()),
        (t("status"), state_label),
        (
            t("pdf_dossier"),
            format!("{} / {}", dossier.id, candidature.id),
        ),
    ];
    if let Some(sent) = &candidature.sent {
        cover.push((t("pdf_sent"), definition.day_of(sent.at)));
    }
    cover.extend(source.facts.iter().cloned());
    if !candidature.letters.is_empty() {
        let issued: Vec<String> = candidature
            .letters
            .iter()
            .map(|letter| format!("{} ({})", letter.title, letter.day))
            .collect();
        cover.push((t("letters_issued"), issued.join("\n")));
    }
    let sections = sections
        .into_iter()
        .map(|section| Section {
            title: section.title,
            body: if section.columns.is_empty() {
                Body::Fields(section.answers)
            } else {
                Body::Table {
                    columns: section.columns,
                    rows: section.entries,
                }
            },
        })
        .collect();
    let piece_ids: Vec<&String> = definition
        .formation(&candidature.formation)
        .map(|f| f.pieces.iter().collect())
        .unwrap_or_default();
    let mut pieces = Vec::new();
    let mut attachments = Vec::new();
    for piece_id in piece_ids.into_iter().filter(|p| (source.reads_piece)(p)) {
        let Some(piece) = definition.piece(piece_id) else {
            continue;
        };
        let label = piece.label.get(code).to_owned();
        let piece_state = source.pieces.get(piece_id);
        let status = piece_state.map_or(String::new(), |s| {
            definition
                .piece_status(&s.status)
                .map_or(s.status.clone(), |d| d.label.get(code).to_owned())
        });
        pieces.push(PieceLine {
            label: label.clone(),
            status,
            comment: piece_state.and_then(|s| s.comment.clone()),
        });
        if let Some(file) = piece_state.and_then(|s| s.file.as_ref()) {
            attachments.push(attachment(state, &dossier.id, label.clone(), file));
        }
        if source.letters && definition.provider_of(piece_id).is_some() {
            for request in &candidature.requests {
                if let Some(letter) = &request.letter {
                    let titled = format!("{label} — {}", request.name);
                    attachments.push(attachment(state, &dossier.id, titled, letter));
                }
            }
        }
    }
    // The letters issued (the decision, once published) close the dossier.
    for letter in &candidature.letters {
        let content = crate::letters::render(letter)
            .map(|pdf| (Format::Pdf, Arc::new(pdf.bytes)))
            .map_err(|_| t("pdf_damaged"));
        attachments.push(Attachment {
            label: letter.title.clone(),
            content,
        });
    }
    Printed {
        title: format!("{name} — {formation}"),
        subtitle: definition.file().title.get(code).to_owned(),
        cover,
        sections,
        pieces_heading: t("pdf_pieces"),
        pieces,
        attachments,
        not_included: t("pdf_not_included"),
        reasons: Reasons {
            encrypted: t("pdf_encrypted"),
            damaged: t("pdf_damaged"),
            no_page: t("pdf_no_page"),
        },
    }
}

/// A stored piece as an attachment, or why it cannot be read.
fn attachment(state: &AppState, dossier: &str, label: String, file: &FileRef) -> Attachment {
    let format = match FileFormat::from_name(&file.format) {
        Some(FileFormat::Pdf) => Format::Pdf,
        Some(FileFormat::Png) => Format::Png,
        _ => Format::Jpeg,
    };
    let content = state
        .files
        .get(dossier, &file.sha256)
        .map(|bytes| (format, Arc::new(bytes)))
        .map_err(|_| "the file is missing".to_owned());
    Attachment { label, content }
}

/// The sections `definition` lists, as read in `profile` (those `reads` keeps).
pub fn sections(
    definition: &Definition,
    profile: &BTreeMap<String, Value>,
    reads: &dyn Fn(&str) -> bool,
    lang: Lang,
) -> Vec<SectionText> {
    definition
        .file()
        .profile
        .iter()
        .filter(|section| reads(&section.id))
        .map(|section| text_of(definition, section, profile.get(&section.id), lang))
        .collect()
}

/// `section` as read in `answers`, as the PDF prints it.
fn text_of(
    definition: &Definition,
    section: &guichet_engine::model::SectionDef,
    answers: Option<&Value>,
    lang: Lang,
) -> SectionText {
    let view = super::reading::section_view(definition, section, answers, lang);
    SectionText {
        title: view.title,
        answers: view
            .answers
            .into_iter()
            .map(|a| (a.label, a.value))
            .collect(),
        columns: view.columns,
        entries: view.entries,
    }
}

/// The answers to `candidature`'s complementary form, as a section, if any
/// were given and the reader reads the piece it stands for.
pub fn form_section(
    definition: &Definition,
    candidature: &Candidature,
    reads_piece: &dyn Fn(&str) -> bool,
    lang: Lang,
) -> Option<SectionText> {
    let form = definition.form_of(&candidature.formation)?;
    let answers = candidature.form.as_ref()?;
    if !form.piece.as_deref().is_none_or(reads_piece) {
        return None;
    }
    let section = super::reading::as_section(form);
    let answers = Value::Object(answers.clone());
    Some(text_of(definition, &section, Some(&answers), lang))
}

/// What `build` prints, written as a PDF off the async threads (it reads
/// the pieces' files) in one of `state`'s turns, as a download called
/// `name`.
pub async fn respond(
    state: &AppState,
    name: String,
    build: impl FnOnce() -> Printed + Send + 'static,
) -> PageResult {
    // Held until the PDF is made; the semaphore is never closed.
    let turn = state.pdf_turn().await;
    send(format!("{name}.pdf"), move || {
        let rendered = guichet_pdf::render(&build());
        drop(turn);
        rendered
    })
    .await
}

/// A PDF rendered on a blocking thread, sent as a file named `name`.
async fn send(
    name: String,
    render: impl FnOnce() -> Result<guichet_pdf::Rendered, guichet_pdf::PdfError> + Send + 'static,
) -> PageResult {
    let rendered = blocking(render).await?.map_err(PageError::internal)?;
    let mut response = rendered.bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/pdf"),
    );
    let disposition = format!("attachment; filename=\"{name}\"");
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

/// A letter issued to a candidature, in the list of its page.
#[derive(serde::Serialize)]
pub struct LetterLink {
    /// Its subject line.
    pub title: String,
    /// The day it was issued.
    pub day: String,
    /// Where its PDF is.
    pub href: String,
}

/// The letters issued to `candidature`, each under `{base}/courrier/<letter>`.
pub fn letter_links(candidature: &Candidature, base: &str, lang: Lang) -> Vec<LetterLink> {
    candidature
        .letters
        .iter()
        .map(|letter| LetterLink {
            title: letter.title.clone(),
            day: letter.day.clone(),
            href: lang.href(&format!("{base}/courrier/{}", letter.letter)),
        })
        .collect()
}

/// The letter `letter` issued to `candidature` of `dossier`, as PDF.
pub async fn letter(dossier: &Dossier, candidature: &Candidature, letter: &str) -> PageResult {
    let issued = candidature
        .letters
        .iter()
        .find(|l| l.letter == letter)
        .ok_or(PageError::NotFound)?
        .clone();
    let name = crate::letters::file_name(&dossier.id, &issued);
    send(name, move || crate::letters::render(&issued)).await
}

/// The file name of a candidature's PDF.
pub fn file_name(dossier: &Dossier, candidature: &Candidature) -> String {
    let keep = crate::files::name_part;
    format!("dossier-{}-{}", keep(&dossier.id), keep(&candidature.id))
}
