//! Applying, a candidature's page (its pieces and what the candidate may do),
//! and the candidate's transitions and piece actions.
//!
//! Every action is a command to the engine, which decides whether it holds;
//! the page offers what the engine's `actions_for` says the candidate may do.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use guichet_engine::{actions_for, Actor, Command, EngineError};
use jiff::Timestamp;
use serde::Serialize;

use super::error::{blocking, PageError};
use super::extract::{CsrfForm, Lang, OwnDossier};
use super::forms::Confirmation;
use super::words::{human_size, refusal};
use super::AppState;

/// `GET /formations/{id}/candidater`: the confirmation step.
pub async fn apply_form(
    State(state): State<Arc<AppState>>,
    lang: Lang,
    headers: HeaderMap,
    _: OwnDossier,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let definition = state.engine.definition();
    let formation = definition.formation(&id).ok_or(PageError::NotFound)?;
    let title = formation.title.get(lang.code());
    let page = Confirmation {
        heading: format!("{} {title}", lang.t("apply_to")),
        text: lang.t("apply_text"),
        action: lang.href(&format!("/formations/{id}/candidater")),
        button: lang.t("apply_confirm"),
        back: lang.href(&format!("/formations/{id}")),
    };
    Ok(page.render(&state, &headers, lang))
}

/// `POST /formations/{id}/candidater`
pub async fn apply(
    State(state): State<Arc<AppState>>,
    lang: Lang,
    own: OwnDossier,
    Path(id): Path<String>,
    _: CsrfForm,
) -> Result<Response, PageError> {
    let worker = Arc::clone(&state);
    let command = Command::Apply { formation: id };
    let result =
        blocking(move || worker.run_as_candidate(&own.account.id, &own.dossier, command)).await?;
    Ok(match result {
        Ok(outcome) => {
            let candidature = outcome
                .dossier
                .candidatures
                .last()
                .map_or(String::new(), |c| c.id.clone());
            Redirect::to(&lang.href(&format!("/candidatures/{candidature}"))).into_response()
        }
        Err(error) => {
            let page = super::error::MessagePage {
                heading: lang.t("refused_title"),
                message: refusal(lang.code(), &error),
                link: None,
            };
            state.render(lang, "message.html", StatusCode::CONFLICT, &page)
        }
    })
}

#[derive(Serialize)]
struct ActionLink {
    url: String,
    label: String,
}

#[derive(Serialize)]
struct PieceView {
    id: String,
    label: serde_json::Value,
    help: Option<String>,
    status: serde_json::Value,
    comment: serde_json::Value,
    required: serde_json::Value,
    file: serde_json::Value,
    download: String,
    upload: Option<String>,
    upload_label: Option<String>,
    accept: String,
    accept_mime: String,
    max: String,
    actions: Vec<ActionLink>,
}

#[derive(Serialize)]
struct Summary {
    formation: String,
    state: serde_json::Value,
}

#[derive(Serialize)]
struct CandidaturePage {
    candidature: Summary,
    pieces: Vec<PieceView>,
    transitions: Vec<ActionLink>,
    missing: bool,
    error: Option<String>,
}

/// The candidature page, with an optional message (a refused upload or action).
pub fn render_candidature(
    state: &AppState,
    headers: &HeaderMap,
    lang: Lang,
    own: &OwnDossier,
    id: &str,
    error: Option<String>,
) -> Result<Response, PageError> {
    let (dossier, definition) = (&own.dossier, own.definition.as_ref());
    let candidature = own.candidature(id)?;
    let now = Timestamp::now();
    let context = guichet_engine::candidature_context(definition, dossier, candidature, now)
        .map_err(PageError::internal)?;
    let me = Actor::new(definition.candidate_role(), &own.account.id);
    let actions =
        actions_for(definition, dossier, candidature, &me, now).map_err(PageError::internal)?;
    let code = lang.code();
    let base = format!("/candidatures/{id}/pieces");
    let views = context["candidature"]["piece_list"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let pieces = views
        .iter()
        .filter_map(|view| {
            let piece_id = view["id"].as_str()?;
            let piece = definition.piece(piece_id)?;
            let upload = actions.upload(piece_id);
            let others = actions
                .piece(piece_id)
                .iter()
                .filter(|a| a.allowed && !a.attaches_file);
            Some(PieceView {
                id: piece_id.to_owned(),
                label: view["label"].clone(),
                help: piece.help.as_ref().map(|h| h.get(code).to_owned()),
                status: view["status_label"].clone(),
                comment: view["comment"].clone(),
                required: view["required"].clone(),
                file: view["file_name"].clone(),
                download: lang.href(&format!("{base}/{piece_id}/fichier")),
                upload: upload.map(|_| lang.href(&format!("{base}/{piece_id}"))),
                upload_label: upload.map(|a| a.label.get(code).to_owned()),
                accept: piece
                    .accept
                    .iter()
                    .map(|f| f.label())
                    .collect::<Vec<_>>()
                    .join(", "),
                accept_mime: piece
                    .accept
                    .iter()
                    .map(|f| f.mime())
                    .collect::<Vec<_>>()
                    .join(","),
                max: human_size(definition.max_size(piece_id).unwrap_or(0)),
                actions: others
                    .map(|a| ActionLink {
                        url: lang.href(&format!("{base}/{piece_id}/{}", a.id)),
                        label: a.label.get(code).to_owned(),
                    })
                    .collect(),
            })
        })
        .collect();
    let transitions = actions
        .transitions
        .iter()
        .map(|a| ActionLink {
            url: lang.href(&format!("/candidatures/{id}/{}", a.id)),
            label: a.label.get(code).to_owned(),
        })
        .collect();
    let formation = definition
        .formation(&candidature.formation)
        .map_or(candidature.formation.clone(), |f| {
            f.title.get(code).to_owned()
        });
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let page = CandidaturePage {
        candidature: Summary {
            formation,
            state: context["candidature"]["state_label"].clone(),
        },
        pieces,
        transitions,
        missing: !actions.missing_pieces.is_empty(),
        error,
    };
    Ok(state.render_form(headers, lang, "candidature.html", status, &page))
}

/// `GET /candidatures/{id}`
pub async fn candidature(
    State(state): State<Arc<AppState>>,
    lang: Lang,
    headers: HeaderMap,
    own: OwnDossier,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    render_candidature(&state, &headers, lang, &own, &id, None)
}

/// `GET /candidatures/{id}/{transition}`: the confirmation step of a transition.
pub async fn transition_form(
    State(state): State<Arc<AppState>>,
    lang: Lang,
    headers: HeaderMap,
    own: OwnDossier,
    Path((id, transition)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let definition = &own.definition;
    // Offered to the candidate's role at all: whether it is possible from
    // where the candidature stands is the command's answer.
    let tr = definition
        .transition(&transition)
        .filter(|tr| tr.by.ids().contains(&definition.candidate_role()))
        .ok_or(PageError::NotFound)?;
    own.candidature(&id)?;
    let label = tr.label.get(lang.code()).to_owned();
    let page = Confirmation {
        heading: label.clone(),
        text: lang.t("confirm_text"),
        action: lang.href(&format!("/candidatures/{id}/{transition}")),
        button: label,
        back: lang.href(&format!("/candidatures/{id}")),
    };
    Ok(page.render(&state, &headers, lang))
}

/// `POST /candidatures/{id}/{transition}`
pub async fn perform(
    State(state): State<Arc<AppState>>,
    lang: Lang,
    headers: HeaderMap,
    own: OwnDossier,
    Path((id, transition)): Path<(String, String)>,
    _: CsrfForm,
) -> Result<Response, PageError> {
    let command = Command::Transition {
        candidature: id.clone(),
        transition,
        input: Default::default(),
    };
    act(&state, &headers, lang, own, &id, command).await
}

/// `POST /candidatures/{id}/pieces/{piece}/{transition}`: not concerned, remove…
pub async fn piece_action(
    State(state): State<Arc<AppState>>,
    lang: Lang,
    headers: HeaderMap,
    own: OwnDossier,
    Path((id, piece, transition)): Path<(String, String, String)>,
    _: CsrfForm,
) -> Result<Response, PageError> {
    let command = Command::Piece {
        candidature: id.clone(),
        piece,
        transition,
        file: None,
        comment: None,
    };
    act(&state, &headers, lang, own, &id, command).await
}

/// Performs a candidate's command on their candidature `id`: back to its
/// page, or the page with the refusal in words if the engine refuses.
pub async fn act(
    state: &Arc<AppState>,
    headers: &HeaderMap,
    lang: Lang,
    own: OwnDossier,
    id: &str,
    command: Command,
) -> Result<Response, PageError> {
    own.candidature(id)?;
    let worker = Arc::clone(state);
    let (account, dossier) = (own.account.id.clone(), own.dossier.clone());
    let result: Result<_, EngineError> =
        blocking(move || worker.run_as_candidate(&account, &dossier, command)).await?;
    match result {
        Ok(_) => Ok(Redirect::to(&lang.href(&format!("/candidatures/{id}"))).into_response()),
        Err(error) => {
            let words = refusal(lang.code(), &error);
            render_candidature(state, headers, lang, &own, id, Some(words))
        }
    }
}
