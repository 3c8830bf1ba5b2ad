//! Third parties (referees): the candidate asks them from the candidature
//! page; each opens the link mailed to them, with no account, and sends
//! their piece. The link shows the candidate's name, the formation and the
//! piece asked: nothing else of the dossier.

use std::sync::Arc;

use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use guichet_engine::model::FileFormat;
use jiff::Timestamp;
use serde::Serialize;

use super::candidature::act;
use super::error::{blocking, PageError, PageResult};
use super::extract::{CsrfForm, OwnDossier, Visit};
use super::uploads::received_file;
use super::words::{human_size, joined, refusal};
use crate::files::clean_file_name;

/// `POST /candidatures/{id}/tiers/{role}`: mail the links.
pub async fn ask(
    own: OwnDossier,
    Path((id, role)): Path<(String, String)>,
    _: CsrfForm,
) -> PageResult {
    act(
        own,
        &id.clone(),
        guichet_engine::Command::Ask {
            candidature: id,
            role,
        },
    )
    .await
}

/// What the third party's page shows.
#[derive(Serialize)]
struct LetterPage {
    /// To whom the page speaks.
    name: String,
    candidate: String,
    formation: String,
    piece: String,
    /// The form, while the link can be used.
    form: Option<LetterForm>,
    /// Why it cannot, or the thanks once sent.
    notice: Option<String>,
    error: Option<String>,
}

#[derive(Serialize)]
struct LetterForm {
    until: String,
    accept: String,
    accept_mime: String,
    max: String,
}

/// The page of link `token`, with `error` about a refused file.
fn letter_page(visit: &Visit, token: &str, error: Option<String>) -> PageResult {
    let state = &visit.state;
    let lang = visit.lang;
    let (dossier, candidature_id, request) = state
        .engine
        .request_of(token)
        .map_err(PageError::internal)?
        .ok_or(PageError::NotFound)?;
    let definition = state.definition_of(&dossier);
    let candidature = dossier
        .candidatures
        .iter()
        .find(|c| c.id == candidature_id)
        .ok_or(PageError::NotFound)?;
    // A link replaced by a newer one, or whose person the candidate changed, is gone.
    let current = guichet_engine::letters(&definition, &dossier, candidature)
        .into_iter()
        .any(|l| l.request == Some(&request));
    if !current {
        return Err(PageError::NotFound);
    }
    let code = lang.code();
    let piece_id = definition
        .role(&request.role)
        .and_then(|r| r.provides.clone())
        .unwrap_or_default();
    let piece = definition.piece(&piece_id).ok_or(PageError::NotFound)?;
    let now = state.clock.now();
    let day = |at: Timestamp| definition.day_of(at);
    let notice = if let Some(at) = request.received_at {
        Some(lang.t("tp_done").replace("{date}", &day(at)))
    } else if request.expires_at <= now {
        Some(
            lang.t("tp_expired")
                .replace("{date}", &day(request.expires_at)),
        )
    } else if definition.initial_state() != candidature.state {
        Some(lang.t("tp_closed"))
    } else {
        None
    };
    let form = notice.is_none().then(|| LetterForm {
        until: day(request.expires_at),
        accept: joined(&piece.accept, FileFormat::label, ", "),
        accept_mime: joined(&piece.accept, FileFormat::mime, ","),
        max: human_size(definition.max_size(&piece_id).unwrap_or(0)),
    });
    let page = LetterPage {
        name: request.name.clone(),
        candidate: format!(
            "{} {}",
            dossier.candidate.first_name, dossier.candidate.last_name
        ),
        formation: definition
            .formation(&candidature.formation)
            .map_or(candidature.formation.clone(), |f| {
                f.title.get(code).to_owned()
            }),
        piece: piece.label.get(code).to_owned(),
        form,
        notice,
        error: error.clone(),
    };
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let mut response = visit.render_form("third_party.html", status, &page);
    // The address holds the link's secret: kept by no cache.
    response.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    Ok(response)
}

/// `GET /tiers/{token}`
pub async fn show(visit: Visit, Path(token): Path<String>) -> PageResult {
    letter_page(&visit, &token, None)
}

/// `POST /tiers/{token}`: the third party sends their piece.
pub async fn send(
    visit: Visit,
    Path(token): Path<String>,
    form: axum::extract::Request,
) -> PageResult {
    let state = Arc::clone(&visit.state);
    let lang = visit.lang;
    let (dossier, _, request) = state
        .engine
        .request_of(&token)
        .map_err(PageError::internal)?
        .ok_or(PageError::NotFound)?;
    let definition = state.definition_of(&dossier);
    let piece = definition
        .role(&request.role)
        .and_then(|r| definition.piece(r.provides.as_deref()?))
        .ok_or(PageError::NotFound)?;
    let limit = definition.max_size(&piece.id).unwrap_or(0);
    // Held until the answer is made; the semaphore is never closed.
    let _turn = state.upload_turn(limit).await;
    let (name, bytes, format) = match received_file(&visit, form, &piece.accept, limit).await? {
        Ok(file) => file,
        Err(words) => return letter_page(&visit, &token, Some(words)),
    };
    let worker = Arc::clone(&state);
    let name = clean_file_name(&name);
    let sent = token.clone();
    let result = blocking(move || worker.deliver(&sent, &dossier, &bytes, name, format))
        .await?
        .map_err(PageError::internal)?;
    match result {
        Ok(_) => Ok(Redirect::to(&lang.href(&format!("/tiers/{token}"))).into_response()),
        Err(error) => {
            let words = refusal(&definition, lang.code(), &error);
            letter_page(&visit, &token, Some(words))
        }
    }
}
