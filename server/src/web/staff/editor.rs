//! The definition editor, for administrators: the version in service as
//! text, checked as they type (the same diagnostics as `guichet check`), its
//! scenarios played on demand, then what publishing it would change and do
//! to the dossiers in progress, and publishing it. Nothing is applied until
//! they publish; a published text is written back to the definition file
//! (and its list files), so that a restart serves it too.
//!
//! The page is a form with a textarea: it works without script, CodeMirror
//! (`assets/editor.js`) makes it an editor.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use guichet_engine::{diff, Bundle, Definition, DefinitionError};
use serde::{Deserialize, Serialize};

use super::super::error::{blocking, PageError, PageResult};
use super::super::extract::CsrfForm;
use super::member::Staff;
use crate::publish::{self, Refusal};
use crate::web::preview::{
    asked_preview, mails_preview, sample_page, sample_pages, scenario_lines, AskedPreview,
    MailsPreview, ScenarioLine,
};
use crate::web::state::{App, AppState};

/// The editor's script, bundled by `scripts/build-editor.sh`.
pub const SCRIPT: &str = include_str!("../../../assets/editor.js");

/// A JSON request of the editor's script: its CSRF token in `X-CSRF-Token`.
pub struct EditorRequest(Edit);

/// The text an administrator edits: the definition file and its list files
/// (CSV), by the name the definition gives them.
#[derive(Deserialize, Serialize, Default, Clone)]
pub struct Edit {
    source: String,
    #[serde(default)]
    lists: std::collections::BTreeMap<String, String>,
}

impl Edit {
    /// The version in service.
    fn running(state: &crate::web::state::AppState) -> Edit {
        let definition = state.engine.definition();
        let bundle = definition.bundle();
        Edit {
            source: bundle.text.clone(),
            lists: bundle.files.clone(),
        }
    }

    /// What a form of the editor posts: `source`, and `list:<name>` per list.
    fn posted(form: &CsrfForm) -> Edit {
        let text = |value: &str| value.replace("\r\n", "\n");
        Edit {
            source: text(form.get("source").unwrap_or("")),
            lists: form
                .0
                .iter()
                .filter_map(|(key, value)| {
                    Some((key.strip_prefix("list:")?.to_owned(), text(value)))
                })
                .collect(),
        }
    }

    /// The edit checked as the definition file of `state` it would
    /// replace, its lists as edited (the others read beside the file).
    ///
    /// The files it names are read only below the file's folder, or where
    /// the version in service already reads them (a base its operator put
    /// above it): an administrator's text must not make the server read,
    /// and show in its problems or its lists' options, any file it can.
    fn checked(&self, state: &AppState) -> Result<Definition, DefinitionError> {
        let running = state.engine.definition();
        let named = running.bundle();
        let may_read = |name: &str| {
            guichet_engine::is_below(name)
                || named.files.contains_key(name)
                || named.bases.iter().any(|base| base.path == name)
        };
        let file = &state.definition_file;
        let mut bundle = Bundle::with_text_reading(file, self.source.clone(), &may_read);
        for (name, content) in &self.lists {
            if let Some(kept) = bundle.files.get_mut(name) {
                kept.clone_from(content);
            }
        }
        Definition::from_bundle(bundle)
    }
}

impl FromRequest<App> for EditorRequest {
    type Rejection = Response;

    async fn from_request(request: Request, state: &App) -> Result<Self, Self::Rejection> {
        let headers = request.headers().clone();
        let token = headers
            .get("x-csrf-token")
            .and_then(|value| value.to_str().ok());
        if !super::super::session::csrf_valid(&state.csrf, state.secure_cookies, &headers, token) {
            return Err(PageError::CsrfRefused.into_response());
        }
        let body = Bytes::from_request(request, state)
            .await
            .map_err(IntoResponse::into_response)?;
        serde_json::from_slice(&body)
            .map(EditorRequest)
            .map_err(|_| StatusCode::BAD_REQUEST.into_response())
    }
}

#[derive(Serialize, Default)]
struct EditorPage {
    #[serde(flatten)]
    edit: Edit,
    file: String,
    /// Lets the editor's own styles in (CodeMirror writes them in the page).
    nonce: String,
    /// Problems of a text posted without the script, or why publishing failed.
    problems: Vec<String>,
    refusal: Option<String>,
}

#[derive(Serialize)]
struct PreviewPage {
    #[serde(flatten)]
    edit: Edit,
    changes: Vec<String>,
    impacts: Vec<String>,
    dossiers: usize,
    scenarios: Vec<ScenarioLine>,
    failed: usize,
    mails: MailsPreview,
    asked: AskedPreview,
    /// The candidate pages one can preview: what to ask for, and its name.
    pages: Vec<(String, String)>,
    /// The version in service this review compares with, which its
    /// publish form sends back.
    reviewed: String,
    /// Why the review is shown again instead of publishing.
    notice: Option<String>,
}

/// The editor page, with a policy that lets in the styles CodeMirror writes
/// into it by a nonce of this response only (the other pages let in none).
fn editor_page(staff: &Staff, page: EditorPage, status: StatusCode) -> PageResult {
    let nonce = crate::account_store::random_token().map_err(PageError::internal)?;
    let page = EditorPage {
        nonce: nonce.clone(),
        ..page
    };
    let mut response = staff.render("staff/editor.html", status, &page);
    let policy = crate::web::layers::content_security_policy(Some(&nonce));
    if let Ok(value) = HeaderValue::from_str(&policy) {
        response
            .headers_mut()
            .insert("content-security-policy", value);
    }
    Ok(response)
}

/// `GET /staff/editeur`: the version in service, in the editor.
pub async fn page(staff: Staff) -> PageResult {
    staff.admin()?;
    let state = &staff.visit.state;
    let page = EditorPage {
        edit: Edit::running(state),
        file: state.definition_file.display().to_string(),
        ..EditorPage::default()
    };
    editor_page(&staff, page, StatusCode::OK)
}

/// `GET /staff/editeur/schema.json`: what the editor completes from.
pub async fn schema(staff: Staff) -> PageResult {
    staff.admin()?;
    let mut response = guichet_engine::json_schema_text().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(response)
}

/// `POST /staff/editeur/verifier`: the problems of the text as it stands.
pub async fn check(staff: Staff, EditorRequest(edited): EditorRequest) -> PageResult {
    staff.admin()?;
    let state = Arc::clone(&staff.visit.state);
    let found =
        blocking(move || crate::publish::problems(&state.definition_file, edited.checked(&state)))
            .await?;
    Ok(json(&found))
}

/// `POST /staff/editeur/scenarios`: the text's own scenarios, played.
pub async fn play(staff: Staff, EditorRequest(edited): EditorRequest) -> PageResult {
    staff.admin()?;
    let state = Arc::clone(&staff.visit.state);
    let reports = blocking(move || match edited.checked(&state) {
        Ok(definition) => scenario_lines(guichet_engine::run_scenarios(&Arc::new(definition))),
        Err(_) => Vec::new(),
    })
    .await?;
    Ok(json(&reports))
}

fn json(value: &impl Serialize) -> Response {
    let body = serde_json::to_string(value).unwrap_or_else(|_| "[]".into());
    let mut response = body.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// `POST /staff/editeur/apercu`: what publishing the text would change, and
/// do to the dossiers in progress; or its problems.
pub async fn preview(staff: Staff, form: CsrfForm) -> PageResult {
    staff.admin()?;
    review(&staff, Edit::posted(&form), None).await
}

/// The review of `edit` against the version in service now, saying
/// `notice` above it if given; or its problems.
async fn review(staff: &Staff, edit: Edit, notice: Option<String>) -> PageResult {
    let state = Arc::clone(&staff.visit.state);
    let lang = staff.visit.lang;
    let edited = edit.clone();
    let outcome = blocking(
        move || -> Result<Result<PreviewPage, Vec<String>>, PageError> {
            let definition = match edited.checked(&state) {
                Ok(definition) => Arc::new(definition),
                Err(DefinitionError::Invalid(diagnostics)) => {
                    return Ok(Err(diagnostics
                        .items()
                        .iter()
                        .map(|d| {
                            format!(
                                "{}:{}:{}: {} ({})",
                                d.file, d.line, d.column, d.message, d.hint
                            )
                        })
                        .collect()))
                }
                Err(error) => return Ok(Err(vec![guichet_engine::with_causes(&error)])),
            };
            let running = state.engine.definition();
            let on_running = state
                .engine
                .dossiers_per_version()?
                .get(running.hash())
                .copied()
                .unwrap_or(0);
            // Counted only when the draft removes or newly requires
            // something, from the indexes when they can say.
            let impacts = state.engine.impacts_of(&running, &definition)?;
            let (reports, samples) = guichet_engine::play_scenarios(&definition);
            let reports = scenario_lines(reports);
            Ok(Ok(PreviewPage {
                edit: edited.clone(),
                changes: diff::changes(&running, &definition)
                    .iter()
                    .map(ToString::to_string)
                    .collect(),
                impacts: impacts.iter().map(ToString::to_string).collect(),
                dossiers: on_running,
                failed: reports.iter().filter(|r| !r.ok).count(),
                scenarios: reports,
                mails: mails_preview(samples),
                asked: asked_preview(&definition, lang),
                pages: sample_pages(&definition, lang),
                reviewed: running.hash().to_owned(),
                notice,
            }))
        },
    )
    .await??;
    match outcome {
        Ok(page) => {
            let status = if page.notice.is_some() {
                StatusCode::CONFLICT
            } else {
                StatusCode::OK
            };
            Ok(staff.render("staff/editor-preview.html", status, &page))
        }
        Err(problems) => {
            let page = EditorPage {
                edit,
                file: staff.visit.state.definition_file.display().to_string(),
                problems,
                ..EditorPage::default()
            };
            editor_page(staff, page, StatusCode::UNPROCESSABLE_ENTITY)
        }
    }
}

/// `POST /staff/editeur/apercu/page`: one candidate page under the edited
/// text (see [`sample_page`]): nothing kept.
pub async fn page_preview(staff: Staff, form: CsrfForm) -> PageResult {
    staff.admin()?;
    let edit = Edit::posted(&form);
    let asked = form.trimmed("page").to_owned();
    let state = Arc::clone(&staff.visit.state);
    let edited = edit.clone();
    let checked = blocking(move || edited.checked(&state)).await?;
    let definition = match checked {
        Ok(definition) => Arc::new(definition),
        Err(error) => {
            let page = EditorPage {
                edit,
                file: staff.visit.state.definition_file.display().to_string(),
                refusal: Some(publish::described(&error)),
                ..EditorPage::default()
            };
            return editor_page(&staff, page, StatusCode::UNPROCESSABLE_ENTITY);
        }
    };
    // The draft's own words, languages and title, under the pages' prefix.
    let face = staff.visit.face.next(&definition);
    let face = face.map_err(|error| PageError::Internal(error.into()))?;
    sample_page(staff.visit.seeing(face), definition, &asked).await
}

/// `POST /staff/editeur/retour`: the text posted back into the editor.
pub async fn back(staff: Staff, form: CsrfForm) -> PageResult {
    staff.admin()?;
    let page = EditorPage {
        edit: Edit::posted(&form),
        file: staff.visit.state.definition_file.display().to_string(),
        ..EditorPage::default()
    };
    editor_page(&staff, page, StatusCode::OK)
}

/// What a publication from the editor did, when it was not refused.
enum Publication {
    Done,
    /// Another version went into service since the text was reviewed.
    ChangedMeanwhile,
}

/// `POST /staff/editeur/publier`: the text put in service (checked, its
/// scenarios played) and written to the definition file; or why not.
pub async fn publish(staff: Staff, form: CsrfForm) -> PageResult {
    staff.admin()?;
    let edit = Edit::posted(&form);
    let reviewed = form.get("en_service").map(str::to_owned);
    let state = Arc::clone(&staff.visit.state);
    let by = staff.member.account.email.clone();
    let edited = edit.clone();
    let published = blocking(move || -> Result<Publication, Refusal> {
        let _turn = state.publication_turn();
        // Reviewed against a version another publication has since
        // replaced: published, it would undo that one unseen.
        if reviewed.is_some_and(|reviewed| reviewed != state.engine.definition().hash()) {
            return Ok(Publication::ChangedMeanwhile);
        }
        let definition = Arc::new(edited.checked(&state)?);
        publish::publish(&state, Arc::clone(&definition), &by)?;
        publish::write_files(&state.definition_file, &definition)
            .map_err(|error| publish::unwritten(&state.definition_file, &error))?;
        Ok(Publication::Done)
    })
    .await?;
    match published {
        Ok(Publication::ChangedMeanwhile) => {
            // Reviewed again instead, against the version now in service.
            let notice = staff.visit.lang.t("staff_editor_changed_meanwhile");
            review(&staff, edit, Some(notice)).await
        }
        Ok(Publication::Done) => {
            tracing::info!(by = %staff.member.account.email, "a new version published from the editor");
            Ok(Redirect::to(&staff.visit.href("/staff/versions")).into_response())
        }
        Err(refusal) => {
            let page = EditorPage {
                edit,
                file: staff.visit.state.definition_file.display().to_string(),
                refusal: Some(refusal.to_string()),
                ..EditorPage::default()
            };
            editor_page(&staff, page, StatusCode::UNPROCESSABLE_ENTITY)
        }
    }
}

/// `GET /static/editor.js`.
pub async fn script() -> Response {
    crate::web::pages::asset("text/javascript; charset=utf-8", SCRIPT)
}
