//! What a definition's author reads before publishing: its scenarios
//! played, and every mail (with the letters it issues) as they render it.
//! Shown on the staff editor's review page, and served alone by
//! `guichet preview FILE` to authors who work in files.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use guichet_engine::{Definition, DefinitionError};
use serde::Serialize;

use super::extract::Lang;
use super::Face;

/// A scenario as the pages list it.
#[derive(Serialize)]
pub struct ScenarioLine {
    name: String,
    /// Whether it passed.
    pub ok: bool,
    line: usize,
    reason: String,
}

/// `reports` as the pages list them.
pub fn scenario_lines(reports: Vec<guichet_engine::ScenarioReport>) -> Vec<ScenarioLine> {
    reports
        .into_iter()
        .map(|report| ScenarioLine {
            ok: report.failure.is_none(),
            line: report.failure.as_ref().map_or(report.line, |f| f.line),
            reason: report.failure.map(|f| f.reason).unwrap_or_default(),
            name: report.name,
        })
        .collect()
}

/// A mail as a scenario renders it.
#[derive(Serialize)]
pub struct MailPreview {
    id: String,
    scenario: String,
    to: String,
    subject: String,
    text: String,
    /// The letters it issues: title and text.
    letters: Vec<(String, String)>,
}

/// Every mail of a definition rendered with its scenarios' sample data, and
/// the mails none of them sends.
#[derive(Serialize)]
pub struct MailsPreview {
    rendered: Vec<MailPreview>,
    never: Vec<String>,
}

/// The mails of `samples`, as the page shows them.
pub fn mails_preview(samples: guichet_engine::SampleMails) -> MailsPreview {
    MailsPreview {
        rendered: samples
            .rendered
            .into_iter()
            .map(|(scenario, mail)| MailPreview {
                id: mail.mail,
                scenario,
                to: mail.to.join(", "),
                subject: mail.subject,
                text: mail.text,
                letters: mail
                    .letters
                    .into_iter()
                    .map(|letter| (letter.title, letter.text))
                    .collect(),
            })
            .collect(),
        never: samples.never,
    }
}

/// What a candidature to one formation asks: its pieces, and its form.
#[derive(Serialize)]
pub struct FormationPreview {
    title: String,
    /// Each piece: label, formats and size, when it is asked.
    pieces: Vec<(String, String)>,
    form: Option<String>,
}

/// What candidates fill and upload under a definition, in its default
/// language: the sections of the dossier with their fields, then each
/// formation's pieces.
#[derive(Serialize)]
pub struct AskedPreview {
    sections: Vec<(String, Vec<String>)>,
    formations: Vec<FormationPreview>,
}

/// What `definition` asks of candidates, in `lang`.
pub fn asked_preview(definition: &Definition, lang: Lang) -> AskedPreview {
    let code = lang.code();
    let file = definition.file();
    let sections = file
        .profile
        .iter()
        .map(|section| {
            let fields = section
                .fields
                .iter()
                .map(|field| {
                    let mut label = field.label.get(code).to_owned();
                    if field.required {
                        label.push_str(" *");
                    }
                    if field.when.is_some() {
                        label.push_str(&format!(" ({})", lang.t("preview_conditional")));
                    }
                    label
                })
                .collect();
            (section.title.get(code).to_owned(), fields)
        })
        .collect();
    let formations = file
        .formations
        .iter()
        .map(|formation| FormationPreview {
            title: formation.title.get(code).to_owned(),
            pieces: formation
                .pieces
                .iter()
                .filter_map(|id| definition.piece(id))
                .map(|piece| {
                    if definition
                        .online_form_for(&formation.id, &piece.id)
                        .is_some()
                    {
                        let online = lang.t("preview_online");
                        return (piece.label.get(code).to_owned(), online);
                    }
                    let mut detail = format!(
                        "{}, {}",
                        super::candidature::joined(
                            &piece.accept,
                            guichet_engine::model::FileFormat::label,
                            ", "
                        ),
                        super::words::human_size(definition.max_size(&piece.id).unwrap_or(0))
                    );
                    if piece.required_when.is_some() {
                        detail.push_str(&format!(", {}", lang.t("preview_conditional")));
                    }
                    if piece.not_concerned {
                        detail.push_str(&format!(", {}", lang.t("preview_may_decline")));
                    }
                    (piece.label.get(code).to_owned(), detail)
                })
                .collect(),
            form: definition
                .form_of(&formation.id)
                .map(|form| form.title.get(code).to_owned()),
        })
        .collect();
    AskedPreview {
        sections,
        formations,
    }
}

#[derive(Serialize)]
struct PreviewPage {
    file: String,
    scenarios: Vec<ScenarioLine>,
    failed: usize,
    mails: MailsPreview,
    asked: AskedPreview,
}

/// The file previewed, and the pages of its last version read (rebuilt when
/// the file changes, not at each visit).
struct Previewed {
    file: PathBuf,
    face: Mutex<Option<(String, Face)>>,
}

/// `GET /`: the file as it is now on disk, read again at each visit.
fn page(previewed: &Previewed) -> Response {
    let definition = match Definition::load(&previewed.file) {
        Ok(definition) => Arc::new(definition),
        Err(DefinitionError::Invalid(diagnostics)) => {
            return text(StatusCode::UNPROCESSABLE_ENTITY, diagnostics.render())
        }
        Err(error) => return text(StatusCode::NOT_FOUND, guichet_engine::with_causes(&error)),
    };
    let face = {
        let mut kept = previewed
            .face
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match kept.as_ref() {
            Some((hash, face)) if hash == definition.hash() => face.clone(),
            _ => match Face::of(&definition, String::new()) {
                Ok(face) => {
                    *kept = Some((definition.hash().to_owned(), face.clone()));
                    face
                }
                Err(error) => return text(StatusCode::INTERNAL_SERVER_ERROR, format!("{error:#}")),
            },
        }
    };
    let (reports, samples) = guichet_engine::play_scenarios(&definition);
    let scenarios = scenario_lines(reports);
    let lang = Lang::default_of(face.site);
    let page = PreviewPage {
        file: previewed.file.display().to_string(),
        failed: scenarios.iter().filter(|s| !s.ok).count(),
        scenarios,
        mails: mails_preview(samples),
        asked: asked_preview(&definition, lang),
    };
    let title = definition.file().title.get(lang.code());
    face.pages
        .render("preview.html", StatusCode::OK, lang, title, &page)
}

fn text(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// Serves the preview of `file` on `addr` until Ctrl-C.
pub async fn serve(file: PathBuf, addr: SocketAddr) -> anyhow::Result<()> {
    let previewed = Arc::new(Previewed {
        file,
        face: Mutex::new(None),
    });
    let app = Router::new()
        .route(
            "/",
            get(move || {
                let previewed = Arc::clone(&previewed);
                async move {
                    tokio::task::spawn_blocking(move || page(&previewed))
                        .await
                        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
                }
            }),
        )
        .route("/static/guichet.css", get(super::stylesheet))
        .route("/static/guichet.js", get(super::script));
    let listener = tokio::net::TcpListener::bind(addr).await?;
    println!(
        "preview on http://{}/ (read again at each visit; Ctrl-C stops)",
        listener.local_addr()?
    );
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
