//! Uploading a piece (read as a stream, cut at the piece's limit, checked by
//! content) and downloading it again, by its owner only.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::multipart::Field;
use axum::extract::{FromRequest, Multipart, Path, Request};
use axum::http::{header, HeaderValue};
use axum::response::Response;
use guichet_engine::model::FileFormat;
use guichet_engine::{Command, FileRef};

use super::candidature::{answer, candidate_actions, render_candidature};
use super::error::{blocking, PageError, PageResult};
use super::extract::{OwnDossier, Visit};
use super::session::csrf_valid;
use super::site::Lang;
use super::state::UPLOAD_MEMORY_MIB;
use super::words::{file_problem, human_size};
use crate::files::{clean_file_name, recognise, FileBytes};

/// Why an upload could not be read.
enum UploadFailure {
    /// Past the piece's limit: nothing kept past it.
    TooLarge,
    /// The stream broke (or the server's own body limit cut it).
    Broken,
}

/// Room for an upload form's other fields (its CSRF token) beside the file.
const FORM_ROOM: u64 = 1 << 20;

/// How much past a piece's limit a form is still read to its end (and the
/// file dropped), so that its sender is told the limit: a connection
/// closed on a body not read to its end is reset, and the browser shows
/// that instead of the answer. A phone's photo sent for a 2 MB piece is
/// within it; past it, the connection is cut.
const READ_PAST_LIMIT: u64 = 32 << 20;

/// The upload form `request` carries, its body cut past `limit`, the
/// form's room and what is read past the limit. `limit` is the piece's as
/// the sender's version of the definition sets it, which a version
/// published since start-up may have raised (the routes leave bodies
/// unlimited for this). `None` if it is not a multipart form (one without
/// its file is told so later).
async fn upload_form(request: Request, limit: u64) -> Option<Multipart> {
    let most = limit.saturating_add(FORM_ROOM + READ_PAST_LIMIT);
    let most = usize::try_from(most).unwrap_or(usize::MAX);
    let request = request.map(|body| Body::new(http_body_util::Limited::new(body, most)));
    Multipart::from_request(request, &()).await.ok()
}

/// What an upload form sent.
#[derive(Default)]
struct Upload {
    csrf: Option<String>,
    /// The file's name and bytes.
    file: Option<(String, FileBytes)>,
}

/// Reads the file of an upload form as a stream, keeping nothing once it
/// passes `limit` bytes; room for `expected` bytes is taken at once.
async fn read_upload(
    multipart: &mut Multipart,
    limit: u64,
    expected: u64,
) -> Result<Upload, UploadFailure> {
    /// The most a CSRF token takes.
    const TOKEN_MOST: u64 = 512;
    let mut upload = Upload::default();
    while let Some(mut field) = multipart
        .next_field()
        .await
        .map_err(|_| UploadFailure::Broken)?
    {
        match field.name() {
            Some("csrf") => {
                let token = read_field(&mut field, TOKEN_MOST, 0).await.ok().flatten();
                upload.csrf =
                    token.and_then(|bytes| String::from_utf8(bytes.as_slice().to_vec()).ok());
            }
            Some("fichier") => {
                let name = field.file_name().unwrap_or("fichier").to_owned();
                let bytes = read_field(&mut field, limit, expected)
                    .await?
                    .ok_or(UploadFailure::TooLarge)?;
                upload.file = Some((name, bytes));
            }
            _ => {}
        }
    }
    Ok(upload)
}

/// The bytes of `field`, or `None` past `most` bytes. Past it nothing more
/// is kept, but the rest is read and dropped, so that the browser gets the
/// answer, not a reset: any field may be as large as the body. Room for
/// `expected` bytes is taken before the first.
async fn read_field(
    field: &mut Field<'_>,
    most: u64,
    expected: u64,
) -> Result<Option<FileBytes>, UploadFailure> {
    let mut bytes = FileBytes::with_capacity(usize::try_from(expected).unwrap_or(0));
    let mut too_large = false;
    while let Some(chunk) = field.chunk().await.map_err(|_| UploadFailure::Broken)? {
        too_large = too_large || (bytes.len() + chunk.len()) as u64 > most;
        if too_large {
            bytes = FileBytes::default();
        } else {
            bytes.extend_from_slice(&chunk);
        }
    }
    Ok((!too_large).then_some(bytes))
}

/// The file as a piece of `piece_id` would take it, or what the candidate
/// is told about it.
fn accepted_file(
    lang: Lang,
    accept: &[FileFormat],
    file: Option<(String, FileBytes)>,
) -> Result<(String, FileBytes, FileFormat), String> {
    let (name, bytes) = file.ok_or_else(|| lang.t("file_missing"))?;
    let format =
        recognise(bytes.as_slice()).map_err(|problem| file_problem(lang.code(), problem))?;
    if !accept.contains(&format) {
        return Err(lang.t("file_format"));
    }
    Ok((name, bytes, format))
}

/// The file an upload form sent, read up to `limit` bytes, its CSRF token
/// checked, recognised by its content among `accept`; or what its sender is
/// told about it.
pub(super) async fn received_file(
    visit: &Visit,
    request: Request,
    accept: &[FileFormat],
    limit: u64,
) -> Result<Result<(String, FileBytes, FileFormat), String>, PageError> {
    let lang = visit.lang;
    let too_large = format!("{} {}.", lang.t("file_too_large"), human_size(limit));
    // A body cut by the server's own limit reads as a broken stream: say why.
    let declared = visit
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    let Some(mut multipart) = upload_form(request, limit).await else {
        return Ok(Err(lang.t("upload_broken")));
    };
    // Room for the declared length is taken before the bytes come, within
    // the uploads' memory: past it, a declared length is believed only as
    // its bytes come.
    let expected = declared.min(limit).min(u64::from(UPLOAD_MEMORY_MIB) << 20);
    let upload = match read_upload(&mut multipart, limit, expected).await {
        Ok(upload) => upload,
        Err(UploadFailure::TooLarge) => return Ok(Err(too_large)),
        Err(UploadFailure::Broken) if declared > limit => return Ok(Err(too_large)),
        Err(UploadFailure::Broken) => return Ok(Err(lang.t("upload_broken"))),
    };
    let state = &visit.state;
    if !csrf_valid(
        &state.csrf,
        state.secure_cookies,
        &visit.headers,
        upload.csrf.as_deref(),
    ) {
        return Err(PageError::CsrfRefused);
    }
    Ok(accepted_file(lang, accept, upload.file))
}

/// `POST /candidatures/{id}/pieces/{piece}`
pub async fn upload(
    own: OwnDossier,
    Path((id, piece_id)): Path<(String, String)>,
    request: Request,
) -> PageResult {
    let (visit, lang) = (&own.visit, own.visit.lang);
    let candidature = own.candidature(&id)?;
    if !candidature.pieces.contains_key(&piece_id) {
        return Err(PageError::NotFound);
    }
    let piece = own.definition.piece(&piece_id).ok_or(PageError::NotFound)?;
    let limit = own.definition.max_size(&piece_id).unwrap_or(0);
    let refused = |words: String| render_candidature(&own, &id, Some(words));
    // Held until the answer is made; the semaphore is never closed.
    let state = Arc::clone(&visit.state);
    let _turn = state.upload_turn(limit).await;
    let (name, bytes, format) = match received_file(visit, request, &piece.accept, limit).await? {
        Ok(file) => file,
        Err(words) => return refused(words),
    };
    let actions = candidate_actions(&own, candidature)?;
    let attach = actions.piece(&piece_id).iter().find(|a| a.attaches_file);
    let transition = match attach {
        Some(action) if action.allowed => action.id.to_owned(),
        Some(action) => {
            let words = action
                .refusal
                .as_ref()
                .map(|r| r.get(lang.code()).to_owned());
            return refused(words.unwrap_or_else(|| lang.t("refused_now")));
        }
        None => return refused(lang.t("refused_now")),
    };
    let (name, size) = (clean_file_name(&name), bytes.len() as u64);
    let candidature = id.clone();
    let command = move |sha256| Command::Piece {
        candidature,
        piece: piece_id,
        transition,
        file: Some(FileRef {
            name,
            sha256,
            size,
            format: format.name().to_owned(),
        }),
        comment: None,
    };
    let worker = Arc::clone(&visit.state);
    let (account, dossier) = (own.account.id.clone(), own.dossier.clone());
    let result = blocking(move || worker.upload_as_candidate(&account, &dossier, &bytes, command))
        .await?
        .map_err(PageError::internal)?;
    answer(own, &id, result)
}

/// `GET /candidatures/{id}/pieces/{piece}/fichier-envoye`: the file, to its owner only.
pub async fn download(own: OwnDossier, Path((id, piece_id)): Path<(String, String)>) -> PageResult {
    let file = own
        .candidature(&id)?
        .pieces
        .get(&piece_id)
        .and_then(|p| p.file.clone())
        .ok_or(PageError::NotFound)?;
    file_response(&own.visit.state, &own.dossier.id, &file, false)
}

/// A stored piece as a response: as an attachment, or `inline` for a viewer
/// in a page of this site (PDF in a frame, image in an `img`), which may
/// frame it but nobody else may.
pub fn file_response(
    state: &super::AppState,
    dossier: &str,
    file: &guichet_engine::FileRef,
    inline: bool,
) -> PageResult {
    let bytes = state
        .files
        .get(dossier, &file.sha256)
        .map_err(|_| PageError::NotFound)?;
    let mime = FileFormat::from_name(&file.format).map_or("application/octet-stream", |f| f.mime());
    let safe_name: String = file
        .name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "._- ".contains(*c))
        .collect();
    let disposition = format!(
        "{}; filename=\"{}\"",
        if inline { "inline" } else { "attachment" },
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
    if inline {
        // Nothing of the file runs as this site; only its own pages frame it.
        headers_out.insert(
            "content-security-policy",
            HeaderValue::from_static("default-src 'none'; img-src 'self'; frame-ancestors 'self'"),
        );
        headers_out.insert("x-frame-options", HeaderValue::from_static("SAMEORIGIN"));
    }
    Ok(response)
}
