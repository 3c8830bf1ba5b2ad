//! The catalogue, applying, and a candidature's page: pieces, uploads, and the
//! transitions the candidate may perform (transmission, cancellation…).
//!
//! Every action is a command to the engine, which decides whether it holds;
//! the pages only offer what the definition gives the candidate's role.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use guichet_engine::model::{FileEffect, FileFormat};
use guichet_engine::{
    candidature_context, Actor, Command, Definition, Dossier, EngineError, FileRef, WorkflowError,
};
use jiff::Timestamp;
use serde::Deserialize;
use serde_json::{json, Value};

use super::accounts::{csrf_refused, csrf_valid, must_sign_in, render_with_csrf};
use super::dossier::owner;
use super::strings::t;
use super::{language, AppState, LanguageChoice};
use crate::accounts::Account;
use crate::files::{recognise, FileProblem};

/// Lowercase, without accents: "Géologie" and "geologie" compare equal.
pub fn fold(text: &str) -> String {
    text.to_lowercase()
        .chars()
        .flat_map(|c| {
            let plain = match c {
                'à' | 'â' | 'ä' | 'á' | 'ã' | 'å' => "a",
                'ç' => "c",
                'é' | 'è' | 'ê' | 'ë' => "e",
                'î' | 'ï' | 'í' | 'ì' => "i",
                'ô' | 'ö' | 'ó' | 'ò' | 'õ' => "o",
                'ù' | 'û' | 'ü' | 'ú' => "u",
                'ÿ' | 'ý' => "y",
                'œ' => "oe",
                'æ' => "ae",
                _ => "",
            };
            if plain.is_empty() {
                vec![c]
            } else {
                plain.chars().collect()
            }
        })
        .collect()
}

#[derive(Deserialize)]
pub struct CatalogueQuery {
    lang: Option<String>,
    q: Option<String>,
    composante: Option<String>,
}

fn composante_label(state: &AppState, key: Option<&str>) -> Option<String> {
    let definition = state.engine.definition();
    let list = definition.list(definition.file().composantes.as_deref()?)?;
    Some(list.row(key?)?.get(&list.label)?.clone())
}

/// `GET /formations`: search by words (accents and case ignored), browse by composante.
pub async fn catalogue(
    State(state): State<Arc<AppState>>,
    Query(query): Query<CatalogueQuery>,
    headers: HeaderMap,
) -> Response {
    let lang = language(
        &LanguageChoice {
            lang: query.lang.clone(),
        },
        &headers,
    );
    let definition = state.engine.definition();
    let words: Vec<String> = query
        .q
        .as_deref()
        .unwrap_or("")
        .split_whitespace()
        .map(fold)
        .collect();
    let composante = query.composante.as_deref().filter(|c| !c.is_empty());
    let formations: Vec<Value> = definition
        .file()
        .formations
        .iter()
        .filter(|f| composante.is_none() || f.composante.as_deref() == composante)
        .filter(|f| {
            let mut haystack = format!("{} {} {}", f.title.get("fr"), f.title.get("en"), f.keywords.join(" "));
            if let Some(description) = &f.description {
                haystack.push_str(description.get(lang));
            }
            if let Some(label) = composante_label(&state, f.composante.as_deref()) {
                haystack.push_str(&label);
            }
            let haystack = fold(&haystack);
            words.iter().all(|w| haystack.contains(w.as_str()))
        })
        .map(|f| json!({"id": f.id, "title": f.title.get(lang), "composante": composante_label(&state, f.composante.as_deref())}))
        .collect();
    let composantes: Vec<Value> = definition
        .file()
        .composantes
        .as_deref()
        .and_then(|id| definition.list(id))
        .map(|list| {
            list.rows
                .iter()
                .map(|row| {
                    let id = row.get(&list.key).cloned().unwrap_or_default();
                    json!({"selected": Some(id.as_str()) == composante, "id": id, "label": row.get(&list.label)})
                })
                .collect()
        })
        .unwrap_or_default();
    let mut values = state.pages.common(&state.engine, lang);
    if let Value::Object(map) = &mut values {
        map.insert("q".into(), json!(query.q.unwrap_or_default()));
        map.insert("count".into(), json!(formations.len()));
        map.insert("formations".into(), json!(formations));
        map.insert("composantes".into(), json!(composantes));
    }
    state.pages.render("catalogue.html", StatusCode::OK, values)
}

/// `GET /formations/{id}`
pub async fn formation(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    Query(choice): Query<LanguageChoice>,
    headers: HeaderMap,
) -> Response {
    let lang = language(&choice, &headers);
    let definition = state.engine.definition();
    let Some(formation) = definition.formation(&id) else {
        return state.pages.not_found(&state.engine, lang);
    };
    let pieces: Vec<&str> = formation
        .pieces
        .iter()
        .filter_map(|p| definition.piece(p))
        .map(|p| p.label.get(lang))
        .collect();
    let form = formation
        .form
        .as_deref()
        .and_then(|f| definition.file().forms.iter().find(|x| x.id == f))
        .map(|f| f.title.get(lang));
    let mut values = state.pages.common(&state.engine, lang);
    if let Value::Object(map) = &mut values {
        map.insert(
            "formation".into(),
            json!({
                "id": formation.id, "title": formation.title.get(lang), "pieces": pieces, "form": form,
                "composante": composante_label(&state, formation.composante.as_deref()),
                "description": formation.description.as_ref().map(|d| d.get(lang)),
            }),
        );
    }
    state.pages.render("formation.html", StatusCode::OK, values)
}

/// A confirmation step: what is about to happen, and the button that does it.
struct Confirmation {
    heading: String,
    text: String,
    action: String,
    button: String,
    back: String,
}

fn confirm_page(state: &AppState, headers: &HeaderMap, lang: &str, page: Confirmation) -> Response {
    render_with_csrf(
        state,
        headers,
        lang,
        "confirm.html",
        StatusCode::OK,
        |map| {
            map.insert("heading".into(), json!(page.heading));
            map.insert("text".into(), json!(page.text));
            map.insert("action".into(), json!(page.action));
            map.insert("button".into(), json!(page.button));
            map.insert("back".into(), json!(page.back));
        },
    )
}

/// `GET /formations/{id}/candidater`: the confirmation step.
pub async fn apply_form(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    Query(choice): Query<LanguageChoice>,
    headers: HeaderMap,
) -> Response {
    let lang = language(&choice, &headers);
    if owner(&state, &headers).await.is_none() {
        return must_sign_in(&state, lang);
    }
    let Some(formation) = state.engine.definition().formation(&id) else {
        return state.pages.not_found(&state.engine, lang);
    };
    let title = formation.title.get(lang);
    let heading = format!("{} {title}", t(lang, "apply_to"));
    confirm_page(
        &state,
        &headers,
        lang,
        Confirmation {
            heading,
            text: t(lang, "apply_text"),
            action: format!("/formations/{id}/candidater?lang={lang}"),
            button: t(lang, "apply_confirm"),
            back: format!("/formations/{id}?lang={lang}"),
        },
    )
}

/// The refusal of a command in words for the candidate.
fn refusal(error: &EngineError, lang: &str) -> String {
    match error {
        EngineError::Workflow(WorkflowError::CampaignClosed) => t(lang, "refused_closed"),
        EngineError::Workflow(WorkflowError::AlreadyApplied { .. }) => t(lang, "refused_twice"),
        EngineError::Workflow(WorkflowError::TooManyCandidatures { max }) => {
            format!("{} ({max})", t(lang, "refused_cap"))
        }
        EngineError::Workflow(WorkflowError::GuardFailed {
            message: Some(text),
            ..
        }) => text.get(lang).to_owned(),
        EngineError::Workflow(WorkflowError::InvalidValue { message, .. }) => message.clone(),
        error if error.is_conflict() => t(lang, "refused_conflict"),
        _ => t(lang, "refused_now"),
    }
}

fn run(
    state: &AppState,
    account: &Account,
    dossier: &Dossier,
    command: Command,
) -> Result<guichet_engine::Outcome, EngineError> {
    let role = state.definition_of(dossier).candidate_role().to_owned();
    let actor = Actor::new(role, &account.id);
    let outcome = state.engine.apply(
        &dossier.id,
        dossier.version,
        &actor,
        command,
        Timestamp::now(),
    )?;
    if !outcome.mails.is_empty() {
        state.mail_wake.notify_one();
    }
    Ok(outcome)
}

/// `POST /formations/{id}/candidater`
pub async fn apply(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    Query(choice): Query<LanguageChoice>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let lang = language(&choice, &headers);
    if !csrf_valid(&headers, &form) {
        return csrf_refused(&state, lang);
    }
    let Some((account, dossier, _)) = owner(&state, &headers).await else {
        return must_sign_in(&state, lang);
    };
    let worker = Arc::clone(&state);
    let result = tokio::task::spawn_blocking(move || {
        run(
            &worker,
            &account,
            &dossier,
            Command::Apply { formation: id },
        )
    })
    .await;
    match result {
        Ok(Ok(outcome)) => {
            let candidature = outcome
                .dossier
                .candidatures
                .last()
                .map_or(String::new(), |c| c.id.clone());
            Redirect::to(&format!("/candidatures/{candidature}?lang={lang}")).into_response()
        }
        Ok(Err(error)) => super::accounts::message_text(
            &state,
            lang,
            StatusCode::CONFLICT,
            &t(lang, "refused_title"),
            &refusal(&error, lang),
        ),
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response(),
    }
}

fn format_mime(format: FileFormat) -> (&'static str, &'static str) {
    match format {
        FileFormat::Pdf => ("PDF", "application/pdf"),
        FileFormat::Jpg => ("JPG", "image/jpeg"),
        FileFormat::Png => ("PNG", "image/png"),
    }
}

fn human_size(bytes: u64) -> String {
    if bytes >= 1_000_000 {
        format!("{} Mo", bytes as f64 / 1_000_000.0)
    } else {
        format!("{} ko", bytes / 1000)
    }
}

/// The candidature page, with an optional message (a refused upload or action).
fn render_candidature(
    state: &AppState,
    headers: &HeaderMap,
    lang: &str,
    dossier: &Dossier,
    definition: &Definition,
    id: &str,
    error: Option<String>,
) -> Response {
    let Some(candidature) = dossier.candidatures.iter().find(|c| c.id == id) else {
        return state.pages.not_found(&state.engine, lang);
    };
    let context = match candidature_context(definition, dossier, candidature, Timestamp::now()) {
        Ok(context) => context,
        Err(error) => {
            tracing::error!(%error, "candidature context");
            return (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response();
        }
    };
    let role = definition.candidate_role();
    let base = format!("/candidatures/{id}/pieces");
    let pieces: Vec<Value> = context["candidature"]["piece_list"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter_map(|view| {
            let piece_id = view["id"].as_str()?;
            let piece = definition.piece(piece_id)?;
            let status = view["status"].as_str().unwrap_or_default();
            // Only what the candidate can do now: the guard decides too.
            let mut scope = context.clone();
            if let Value::Object(map) = &mut scope {
                map.insert("piece".into(), view.clone());
            }
            let mine = definition.file().workflow.piece_transitions.iter().filter(|tr| {
                tr.by.ids().contains(&role)
                    && tr.from.ids().contains(&status)
                    && (!tr.requires_not_concerned || piece.not_concerned)
                    && tr.when.as_ref().is_none_or(|when| definition.eval_bool(when, &scope).unwrap_or(false))
            });
            let mut upload = None;
            let mut actions = Vec::new();
            for tr in mine {
                if tr.file == FileEffect::Attach {
                    upload = Some((format!("{base}/{piece_id}?lang={lang}"), tr.label.get(lang).to_owned()));
                } else {
                    actions.push(json!({"url": format!("{base}/{piece_id}/{}?lang={lang}", tr.id), "label": tr.label.get(lang)}));
                }
            }
            let accept: Vec<&str> = piece.accept.iter().map(|f| format_mime(*f).0).collect();
            let mimes: Vec<&str> = piece.accept.iter().map(|f| format_mime(*f).1).collect();
            Some(json!({
                "id": piece_id, "label": view["label"], "help": piece.help.as_ref().map(|h| h.get(lang)),
                "status": view["status_label"], "comment": view["comment"], "required": view["required"],
                "file": view["file_name"], "download": format!("{base}/{piece_id}/fichier?lang={lang}"),
                "upload": upload.as_ref().map(|u| u.0.clone()), "upload_label": upload.map(|u| u.1),
                "accept": accept.join(", "), "accept_mime": mimes.join(","),
                "max": human_size(definition.max_size(piece_id).unwrap_or(0)), "actions": actions,
            }))
        })
        .collect();
    let transitions: Vec<Value> = definition
        .file()
        .workflow
        .transitions
        .iter()
        .filter(|tr| tr.by.ids().contains(&role) && tr.from.ids().contains(&candidature.state.as_str()))
        .map(|tr| json!({"label": tr.label.get(lang), "url": format!("/candidatures/{id}/{}?lang={lang}", tr.id)}))
        .collect();
    let missing = context["candidature"]["missing_pieces"]
        .as_array()
        .is_some_and(|m| !m.is_empty());
    let formation = definition
        .formation(&candidature.formation)
        .map_or(candidature.formation.clone(), |f| {
            f.title.get(lang).to_owned()
        });
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    render_with_csrf(state, headers, lang, "candidature.html", status, |map| {
        map.insert(
            "candidature".into(),
            json!({"formation": formation, "state": context["candidature"]["state_label"]}),
        );
        map.insert("pieces".into(), json!(pieces));
        map.insert("transitions".into(), json!(transitions));
        map.insert("missing".into(), json!(missing));
        map.insert("error".into(), json!(error));
    })
}

/// `GET /candidatures/{id}`
pub async fn candidature(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    Query(choice): Query<LanguageChoice>,
    headers: HeaderMap,
) -> Response {
    let lang = language(&choice, &headers);
    let Some((_, dossier, definition)) = owner(&state, &headers).await else {
        return must_sign_in(&state, lang);
    };
    render_candidature(&state, &headers, lang, &dossier, &definition, &id, None)
}

/// Why an upload could not be read.
enum UploadFailure {
    /// Past the piece's limit: nothing kept past it.
    TooLarge,
    /// The stream broke (or the server's own body limit cut it).
    Broken,
}

/// The CSRF field and the file (name, bytes) of an upload form, reading the
/// file as a stream and keeping nothing once it passes `limit` bytes.
async fn read_upload(
    multipart: &mut Multipart,
    limit: u64,
) -> Result<(Option<String>, Option<(String, Vec<u8>)>), UploadFailure> {
    let mut csrf_field = None;
    let mut upload = None;
    while let Some(mut field) = multipart
        .next_field()
        .await
        .map_err(|_| UploadFailure::Broken)?
    {
        match field.name() {
            Some("csrf") => csrf_field = field.text().await.ok(),
            Some("fichier") => {
                let name = field.file_name().unwrap_or("fichier").to_owned();
                let mut bytes = Vec::new();
                let mut too_large = false;
                while let Some(chunk) = field.chunk().await.map_err(|_| UploadFailure::Broken)? {
                    // Past the limit nothing more is kept; the rest is read and
                    // dropped so the browser gets the answer, not a reset.
                    if too_large || (bytes.len() + chunk.len()) as u64 > limit {
                        too_large = true;
                        bytes = Vec::new();
                        continue;
                    }
                    bytes.extend_from_slice(&chunk);
                }
                if too_large {
                    return Err(UploadFailure::TooLarge);
                }
                upload = Some((name, bytes));
            }
            _ => {}
        }
    }
    Ok((csrf_field, upload))
}

/// `POST /candidatures/{id}/pieces/{piece}`: an upload, read as a stream and
/// cut as soon as it passes the piece's limit; checked by content.
pub async fn upload(
    State(state): State<Arc<AppState>>,
    Path((id, piece_id)): Path<(String, String)>,
    Query(choice): Query<LanguageChoice>,
    headers: HeaderMap,
    mut multipart: Multipart,
) -> Response {
    let lang = language(&choice, &headers);
    let Some((account, dossier, definition)) = owner(&state, &headers).await else {
        return must_sign_in(&state, lang);
    };
    let Some(candidature) = dossier.candidatures.iter().find(|c| c.id == id) else {
        return state.pages.not_found(&state.engine, lang);
    };
    if !candidature.pieces.contains_key(&piece_id) {
        return state.pages.not_found(&state.engine, lang);
    }
    let Some(piece) = definition.piece(&piece_id) else {
        return state.pages.not_found(&state.engine, lang);
    };
    let limit = definition.max_size(&piece_id).unwrap_or(0);
    let too_large = format!("{} {}.", t(lang, "file_too_large"), human_size(limit));
    // A body cut by the server's own limit reads as a broken stream: say why.
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    let broken = if declared > limit {
        too_large.clone()
    } else {
        t(lang, "upload_broken")
    };
    let (csrf_field, upload) = match read_upload(&mut multipart, limit).await {
        Ok(read) => read,
        Err(UploadFailure::TooLarge) => {
            return render_candidature(
                &state,
                &headers,
                lang,
                &dossier,
                &definition,
                &id,
                Some(too_large),
            )
        }
        Err(UploadFailure::Broken) => {
            return render_candidature(
                &state,
                &headers,
                lang,
                &dossier,
                &definition,
                &id,
                Some(broken),
            )
        }
    };
    let form: HashMap<String, String> = csrf_field
        .map(|c| ("csrf".to_owned(), c))
        .into_iter()
        .collect();
    if !csrf_valid(&headers, &form) {
        return csrf_refused(&state, lang);
    }
    let Some((name, bytes)) = upload else {
        return render_candidature(
            &state,
            &headers,
            lang,
            &dossier,
            &definition,
            &id,
            Some(t(lang, "file_missing")),
        );
    };
    let format = match recognise(&bytes) {
        Ok(format) => format,
        Err(problem) => {
            let key = match problem {
                FileProblem::Empty => "file_empty",
                FileProblem::Damaged => "file_damaged",
                FileProblem::UnknownFormat => "file_format",
            };
            return render_candidature(
                &state,
                &headers,
                lang,
                &dossier,
                &definition,
                &id,
                Some(t(lang, key)),
            );
        }
    };
    let accepted = piece
        .accept
        .iter()
        .any(|f| format_mime(*f).0.eq_ignore_ascii_case(format));
    if !accepted {
        return render_candidature(
            &state,
            &headers,
            lang,
            &dossier,
            &definition,
            &id,
            Some(t(lang, "file_format")),
        );
    }
    let Some(transition) = definition
        .file()
        .workflow
        .piece_transitions
        .iter()
        .find(|tr| {
            tr.file == FileEffect::Attach
                && tr.by.ids().contains(&definition.candidate_role())
                && candidature
                    .pieces
                    .get(&piece_id)
                    .is_some_and(|p| tr.from.ids().contains(&p.status.as_str()))
        })
        .map(|tr| tr.id.clone())
    else {
        return render_candidature(
            &state,
            &headers,
            lang,
            &dossier,
            &definition,
            &id,
            Some(t(lang, "refused_now")),
        );
    };
    let worker = Arc::clone(&state);
    let size = bytes.len() as u64;
    let dossier_for_page = dossier.clone();
    let id_for_command = id.clone();
    let result = tokio::task::spawn_blocking(move || -> Result<(), EngineError> {
        // Stored first: a dossier never points at a file that is not there.
        let sha256 = worker
            .files
            .put(&bytes)
            .map_err(|e| EngineError::Store(guichet_engine::StoreError::Backend(e.to_string())))?;
        let file = FileRef {
            name,
            sha256,
            size,
            format: format.to_owned(),
        };
        let command = Command::Piece {
            candidature: id_for_command,
            piece: piece_id,
            transition,
            file: Some(file),
            comment: None,
        };
        run(&worker, &account, &dossier, command).map(|_| ())
    })
    .await;
    answer(
        &state,
        &headers,
        lang,
        (&dossier_for_page, &definition),
        &id,
        result,
    )
}

/// `POST /candidatures/{id}/pieces/{piece}/{transition}`: not concerned, remove…
pub async fn piece_action(
    State(state): State<Arc<AppState>>,
    Path((id, piece, transition)): Path<(String, String, String)>,
    Query(choice): Query<LanguageChoice>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let lang = language(&choice, &headers);
    let command = Command::Piece {
        candidature: id.clone(),
        piece,
        transition,
        file: None,
        comment: None,
    };
    act(state, headers, lang, form, id, command).await
}

/// Performs a candidate's command on their candidature `id`: back to its page,
/// with the refusal in words if the engine refuses.
async fn act(
    state: Arc<AppState>,
    headers: HeaderMap,
    lang: &'static str,
    form: HashMap<String, String>,
    id: String,
    command: Command,
) -> Response {
    if !csrf_valid(&headers, &form) {
        return csrf_refused(&state, lang);
    }
    let Some((account, dossier, definition)) = owner(&state, &headers).await else {
        return must_sign_in(&state, lang);
    };
    if !dossier.candidatures.iter().any(|c| c.id == id) {
        return state.pages.not_found(&state.engine, lang);
    }
    let worker = Arc::clone(&state);
    let page_dossier = dossier.clone();
    let result =
        tokio::task::spawn_blocking(move || run(&worker, &account, &dossier, command).map(|_| ()))
            .await;
    answer(
        &state,
        &headers,
        lang,
        (&page_dossier, &definition),
        &id,
        result,
    )
}

/// After a candidate's command: back to the candidature, or its page with the
/// refusal in words.
fn answer(
    state: &AppState,
    headers: &HeaderMap,
    lang: &str,
    (dossier, definition): (&Dossier, &Definition),
    id: &str,
    result: Result<Result<(), EngineError>, tokio::task::JoinError>,
) -> Response {
    match result {
        Ok(Ok(())) => Redirect::to(&format!("/candidatures/{id}?lang={lang}")).into_response(),
        Ok(Err(error)) => render_candidature(
            state,
            headers,
            lang,
            dossier,
            definition,
            id,
            Some(refusal(&error, lang)),
        ),
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response(),
    }
}

/// `GET /candidatures/{id}/pieces/{piece}/fichier`: the file, to its owner only.
pub async fn download(
    State(state): State<Arc<AppState>>,
    Path((id, piece_id)): Path<(String, String)>,
    Query(choice): Query<LanguageChoice>,
    headers: HeaderMap,
) -> Response {
    let lang = language(&choice, &headers);
    let Some((_, dossier, _)) = owner(&state, &headers).await else {
        return must_sign_in(&state, lang);
    };
    let file = dossier
        .candidatures
        .iter()
        .find(|c| c.id == id)
        .and_then(|c| c.pieces.get(&piece_id))
        .and_then(|p| p.file.clone());
    let Some(file) = file else {
        return state.pages.not_found(&state.engine, lang);
    };
    let Ok(bytes) = state.files.get(&file.sha256) else {
        return state.pages.not_found(&state.engine, lang);
    };
    let mime = match file.format.as_str() {
        "pdf" => "application/pdf",
        "jpg" => "image/jpeg",
        _ => "image/png",
    };
    let safe_name: String = file
        .name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "._- ".contains(*c))
        .collect();
    let disposition = format!(
        "attachment; filename=\"{}\"",
        if safe_name.is_empty() {
            "piece".into()
        } else {
            safe_name
        }
    );
    let mut response = Response::new(Body::from(bytes));
    let headers_out = response.headers_mut();
    headers_out.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers_out.insert(header::CONTENT_DISPOSITION, value);
    }
    headers_out.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    response
}

/// `GET /candidatures/{id}/{transition}`: the confirmation step of a transition.
pub async fn transition_form(
    State(state): State<Arc<AppState>>,
    Path((id, transition)): Path<(String, String)>,
    Query(choice): Query<LanguageChoice>,
    headers: HeaderMap,
) -> Response {
    let lang = language(&choice, &headers);
    let Some((_, dossier, definition)) = owner(&state, &headers).await else {
        return must_sign_in(&state, lang);
    };
    let Some(tr) = definition
        .transition(&transition)
        .filter(|tr| tr.by.ids().contains(&definition.candidate_role()))
    else {
        return state.pages.not_found(&state.engine, lang);
    };
    if !dossier.candidatures.iter().any(|c| c.id == id) {
        return state.pages.not_found(&state.engine, lang);
    }
    confirm_page(
        &state,
        &headers,
        lang,
        Confirmation {
            heading: tr.label.get(lang).to_owned(),
            text: t(lang, "confirm_text"),
            action: format!("/candidatures/{id}/{transition}?lang={lang}"),
            button: tr.label.get(lang).to_owned(),
            back: format!("/candidatures/{id}?lang={lang}"),
        },
    )
}

/// `POST /candidatures/{id}/{transition}`
pub async fn perform(
    State(state): State<Arc<AppState>>,
    Path((id, transition)): Path<(String, String)>,
    Query(choice): Query<LanguageChoice>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let lang = language(&choice, &headers);
    let command = Command::Transition {
        candidature: id.clone(),
        transition,
        input: Default::default(),
    };
    act(state, headers, lang, form, id, command).await
}

#[cfg(test)]
mod tests {
    use super::fold;

    #[test]
    fn search_ignores_accents_and_case() {
        assert_eq!(fold("Géologie"), "geologie");
        assert_eq!(fold("OCÉANOGRAPHIE"), "oceanographie");
        assert_eq!(fold("Œuvre"), "oeuvre");
    }
}
