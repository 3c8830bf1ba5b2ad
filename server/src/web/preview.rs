//! What a definition's author reads before publishing: its scenarios
//! played, every mail (with the letters it issues) as they render it, and
//! each candidate page as a sample candidate would see it. Shown on the
//! staff editor's review page, and served alone by `guichet preview FILE`
//! to authors who work in files.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use guichet_engine::{Actor, Command, Definition, DefinitionError, Engine, MemoryStore};
use serde::Serialize;

use super::error::{blocking, PageError, PageResult};
use super::extract::{OwnDossier, Visit};
use super::site::Lang;
use super::state::AppState;

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
                        super::words::joined(
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
    pages: Vec<(String, String)>,
}

/// The file previewed, and the throwaway procedure its candidate pages are
/// rendered in (made at the first visit the file checks, then given each
/// new version of the file).
struct Previewed {
    file: PathBuf,
    // Before `data`: fields drop in this order, the store before its folder.
    state: Mutex<Option<Arc<AppState>>>,
    data: tempfile::TempDir,
}

impl Previewed {
    /// The procedure with the file as it is now on disk; or the page saying
    /// why the file cannot be shown. Blocking.
    fn current(&self) -> Result<Arc<AppState>, (StatusCode, String)> {
        let definition = Definition::load(&self.file).map_err(|error| {
            let status = match error {
                DefinitionError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
                _ => StatusCode::NOT_FOUND,
            };
            (status, crate::publish::described(&error))
        })?;
        let words = super::words::unknown_overrides(&definition);
        if !words.is_empty() {
            return Err((StatusCode::UNPROCESSABLE_ENTITY, words.join("\n")));
        }
        let mut kept = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let failed = |error: String| (StatusCode::INTERNAL_SERVER_ERROR, error);
        match kept.as_ref() {
            Some(state) if state.engine.definition().hash() == definition.hash() => {}
            Some(state) => {
                crate::publish::put_in_place(state, Arc::new(definition), "preview")
                    .map_err(|refusal| failed(refusal.to_string()))?;
            }
            None => {
                let state =
                    crate::procedure::preview_state(&self.file, definition, self.data.path())
                        .map_err(|error| failed(format!("{error:#}")))?;
                *kept = Some(state);
            }
        }
        kept.clone()
            .ok_or_else(|| failed("no procedure".to_owned()))
    }

    /// The visit of a browser (asking `uri` with `headers`) to the
    /// procedure previewed.
    async fn visit(self: Arc<Self>, uri: Uri, headers: HeaderMap) -> Result<Visit, Response> {
        let state = tokio::task::spawn_blocking(move || self.current())
            .await
            .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())?
            .map_err(|(status, why)| text(status, why))?;
        Ok(Visit::of(&state, &uri, headers))
    }
}

/// `GET /`: what the file on disk asks, its scenarios and mails, and the
/// candidate pages it makes.
async fn overview(previewed: Arc<Previewed>, uri: Uri, headers: HeaderMap) -> Response {
    let file = previewed.file.display().to_string();
    let visit = match previewed.visit(uri, headers).await {
        Ok(visit) => visit,
        Err(response) => return response,
    };
    let definition = visit.state.engine.definition();
    let lang = visit.lang;
    let played = tokio::task::spawn_blocking(move || {
        let (reports, samples) = guichet_engine::play_scenarios(&definition);
        let scenarios = scenario_lines(reports);
        PreviewPage {
            file,
            failed: scenarios.iter().filter(|s| !s.ok).count(),
            scenarios,
            mails: mails_preview(samples),
            asked: asked_preview(&definition, lang),
            pages: sample_pages(&definition, lang),
        }
    })
    .await;
    match played {
        Ok(page) => visit.render("preview.html", StatusCode::OK, &page),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// `GET /apercu/{page}`: one candidate page of the file on disk.
async fn candidate_page(
    previewed: Arc<Previewed>,
    asked: String,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let visit = match previewed.visit(uri, headers).await {
        Ok(visit) => visit,
        Err(response) => return response,
    };
    let definition = visit.state.engine.definition();
    let (lang, state) = (visit.lang, Arc::clone(&visit.state));
    // The preview's router has no state for the server's error pages layer.
    let response = sample_page(visit, definition, &asked).await.into_response();
    super::layers::error_page(&state, lang, response)
}

/// Any other address: the forms and links of the pages shown lead here.
async fn elsewhere(previewed: Arc<Previewed>, uri: Uri, headers: HeaderMap) -> Response {
    let visit = match previewed.visit(uri, headers).await {
        Ok(visit) => visit,
        Err(response) => return response,
    };
    let page = super::error::MessagePage {
        heading: visit.t("preview_title"),
        message: visit.t("preview_elsewhere"),
        link: Some(super::error::Link {
            label: visit.t("preview_title"),
            href: visit.href("/"),
        }),
    };
    visit.render("message.html", StatusCode::NOT_FOUND, &page)
}

fn text(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// Serves the preview of `file` on `addr` until Ctrl-C or SIGTERM: the
/// overview at `/`, each candidate page at `/apercu/<page>`, read again at
/// each visit. The candidate pages are rendered in a procedure of its own
/// on a throwaway data directory, removed when the preview stops.
pub async fn serve(file: PathBuf, addr: SocketAddr) -> anyhow::Result<()> {
    let previewed = Arc::new(Previewed {
        file,
        state: Mutex::new(None),
        data: tempfile::Builder::new()
            .prefix("guichet-preview")
            .tempdir()?,
    });
    let (home, page, other) = (
        Arc::clone(&previewed),
        Arc::clone(&previewed),
        Arc::clone(&previewed),
    );
    let app = Router::new()
        .route(
            "/",
            get(move |uri: Uri, headers: HeaderMap| overview(Arc::clone(&home), uri, headers)),
        )
        .route(
            "/apercu/{page}",
            get(
                move |Path(asked): Path<String>, uri: Uri, headers: HeaderMap| {
                    candidate_page(Arc::clone(&page), asked, uri, headers)
                },
            ),
        )
        .route("/static/guichet.css", get(super::pages::stylesheet))
        .route("/static/guichet.js", get(super::pages::script))
        .fallback(move |uri: Uri, headers: HeaderMap| elsewhere(Arc::clone(&other), uri, headers))
        .layer(axum::middleware::from_fn(super::layers::security_headers));
    let shutdown = crate::listen::shutdown_signal();
    let listener = tokio::net::TcpListener::bind(addr).await?;
    println!(
        "preview on http://{}/ (read again at each visit; Ctrl-C stops)",
        listener.local_addr()?
    );
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await?;
    Ok(())
}

/// The candidate pages a preview of `definition` offers, each as
/// `(page, its name in lang)`; `page` is what [`sample_page`] renders.
pub fn sample_pages(definition: &Definition, lang: Lang) -> Vec<(String, String)> {
    let code = lang.code();
    let file = definition.file();
    let mut pages = vec![
        ("catalogue".to_owned(), lang.t("catalogue")),
        ("dashboard".to_owned(), lang.t("preview_page_dashboard")),
    ];
    for formation in &file.formations {
        let title = formation.title.get(code);
        pages.push((
            format!("candidature:{}", formation.id),
            format!("{} — {title}", lang.t("preview_page_candidature")),
        ));
        pages.push((
            format!("formation:{}", formation.id),
            format!("{} — {title}", lang.t("preview_page_formation")),
        ));
    }
    for section in &file.profile {
        let title = section.title.get(code);
        pages.push((
            format!("section:{}", section.id),
            format!("{} — {title}", lang.t("preview_page_section")),
        ));
        if section.repeat.is_some() {
            pages.push((
                format!("entry:{}", section.id),
                format!("{} — {title}", lang.t("preview_page_entry")),
            ));
        }
    }
    pages
}

/// Candidate page `asked` of `definition`, rendered by the candidates' own
/// page code for a sample candidate: the first scenario's answers, applied
/// to the formation of a candidature page (to the first of the catalogue for
/// the dashboard), played on an in-memory store: nothing kept. `asked` is
/// `catalogue`, `dashboard`, `formation:<id>`, `section:<id>`,
/// `entry:<repeatable section>` (its first entry, or a new one) or
/// `candidature:<formation>`.
pub async fn sample_page(visit: Visit, definition: Arc<Definition>, asked: &str) -> PageResult {
    if asked == "catalogue" {
        let query = super::catalogue::CatalogueQuery::default();
        return Ok(super::catalogue::render_catalogue(
            &visit,
            &definition,
            &query,
        ));
    }
    if let Some(id) = asked.strip_prefix("formation:") {
        return super::catalogue::render_formation(&visit, &definition, id);
    }
    let applied = match asked.strip_prefix("candidature:") {
        Some(formation) => Applied::To(formation.to_owned()),
        None if asked == "dashboard" => Applied::First,
        None => Applied::Nothing,
    };
    let sampled = Arc::clone(&definition);
    let (dossier, history) = match blocking(move || sample_dossier(&sampled, &applied)).await? {
        Ok(sample) => sample,
        Err(problem) => {
            let page = super::error::MessagePage {
                heading: visit.t("refused_title"),
                message: problem,
                link: None,
            };
            return Ok(visit.render("message.html", StatusCode::UNPROCESSABLE_ENTITY, &page));
        }
    };
    let account = crate::account_store::Account {
        id: dossier.owner.clone(),
        email: dossier.candidate.email.clone(),
        first_name: dossier.candidate.first_name.clone(),
        last_name: dossier.candidate.last_name.clone(),
        password: None,
        dossier: Some(dossier.id.clone()),
        dossiers: Default::default(),
        created_at: dossier.created_at,
    };
    if asked == "dashboard" {
        let now = visit.state.clock.now();
        let profile = guichet_engine::profile_state(&definition, &dossier, now).unwrap_or_default();
        return Ok(super::dashboard::render_dashboard(
            &visit,
            &account,
            (&definition, Some(&dossier)),
            (&history, &profile),
        ));
    }
    let first_entry = |section: &str| match dossier.profile.get(section) {
        Some(serde_json::Value::Array(entries)) if !entries.is_empty() => "1",
        _ => "nouveau",
    };
    let entry = asked
        .strip_prefix("entry:")
        .map(|section| (section.to_owned(), first_entry(section)));
    let own = OwnDossier {
        visit,
        account,
        dossier: Arc::new(dossier),
        definition,
    };
    if let Some(id) = asked.strip_prefix("section:") {
        return super::dossier::render_section(&own, id);
    }
    if let Some((section, number)) = entry {
        return super::dossier::render_entry(&own, &section, number);
    }
    if asked.starts_with("candidature:") {
        return super::candidature::render_candidature(&own, "c1", None);
    }
    Err(PageError::NotFound)
}

/// Which formation a sample candidate applies to.
enum Applied {
    Nothing,
    To(String),
    /// The first of the catalogue.
    First,
}

/// A sample candidate's dossier under `definition`, made at noon of the
/// campaign's first day with the answers of the first scenario, and applied
/// to the formation `applied` names; with its history. Why not, in words.
fn sample_dossier(
    definition: &Arc<Definition>,
    applied: &Applied,
) -> Result<(guichet_engine::Dossier, Vec<guichet_engine::Event>), String> {
    let failed = |error: guichet_engine::EngineError| guichet_engine::with_causes(&error);
    let engine = Engine::open_shared(Arc::clone(definition), MemoryStore::new()).map_err(failed)?;
    let opens = guichet_engine::parse_date(&definition.file().campaign.opens)?;
    let at = definition.start_of_day(opens) + jiff::SignedDuration::from_hours(12);
    let candidate = guichet_engine::Candidate {
        last_name: "Exemple".into(),
        first_name: "Camille".into(),
        email: "camille.exemple@example.org".into(),
    };
    let language = definition.default_language().to_owned();
    let mut dossier = engine
        .create_dossier("apercu", candidate, &language, at)
        .map_err(failed)?;
    let me = Actor::new(definition.candidate_role(), "apercu");
    let answers = definition.file().tests.first().map(|t| t.profile.clone());
    for (section, answers) in answers.into_iter().flatten() {
        let save = Command::SaveSection { section, answers };
        // An answer the edited text refuses leaves that section empty.
        if let Ok(outcome) = engine.apply(&dossier.id, dossier.version, &me, save, at) {
            dossier = outcome.dossier;
        }
    }
    let formation = match applied {
        Applied::Nothing => None,
        Applied::To(formation) => Some(formation.clone()),
        Applied::First => definition.file().formations.first().map(|f| f.id.clone()),
    };
    if let Some(formation) = formation {
        let apply = Command::Apply { formation };
        dossier = engine
            .apply(&dossier.id, dossier.version, &me, apply, at)
            .map_err(failed)?
            .dossier;
    }
    let history = engine
        .history_without_changes(&dossier.id)
        .map_err(failed)?;
    Ok((dossier, history))
}
