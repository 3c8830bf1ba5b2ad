//! The PDFs of the candidatures a list view selects, as one ZIP: built in
//! the background, its progress shown on a page that refreshes itself, kept
//! an hour for the member who asked. Archives are files in the procedure's
//! `archives/` folder, emptied when the server starts (the jobs that knew
//! them are gone).

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::body::Body;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};

use super::list::{select, View};
use super::member::Staff;
use crate::web::archives::Job;
use crate::web::error::{blocking, PageError, PageResult};
use crate::web::extract::CsrfForm;

/// `POST /staff/archive?<the list's view>`: starts the archive of the
/// candidatures the view selects.
pub async fn start(
    staff: Staff,
    Query(pairs): Query<Vec<(String, String)>>,
    _: CsrfForm,
) -> PageResult {
    let state = Arc::clone(&staff.visit.state);
    // One at a time: asked again while one is built (the button clicked
    // again, another view), the member is shown the one in progress.
    if let Some(id) = state.archives.building_for(&staff.member.account.id) {
        let href = staff.visit.href(&format!("/staff/archive/{id}?deja=1"));
        return Ok(Redirect::to(&href).into_response());
    }
    let view = View::from_pairs(&state.engine.definition(), &pairs);
    let rights = staff.member.rights.clone();
    // One row more than an archive holds is enough to refuse it, with the
    // view's count: a view of every candidature is not held whole for it.
    let most = state.archives.max;
    let selection = {
        let (state, rights) = (Arc::clone(&state), rights.clone());
        blocking(move || select(&state, &rights, &view, Some(most.saturating_add(1)))).await??
    };
    let rows = selection.rows;
    if selection.total > most {
        let page = ArchivePage {
            too_many: Some(selection.total),
            max: state.archives.max,
            ..ArchivePage::default()
        };
        let status = StatusCode::UNPROCESSABLE_ENTITY;
        return Ok(staff.render("staff/archive.html", status, &page));
    }
    let job = Arc::new(Job {
        owner: staff.member.account.id.clone(),
        total: rows.len(),
        done: AtomicUsize::new(0),
        result: Mutex::new(None),
        started: Instant::now(),
    });
    let (id, path) = state.archives.start(Arc::clone(&job))?;
    let lang = staff.visit.lang;
    tokio::task::spawn_blocking(move || {
        let written = (|| -> Result<PathBuf, String> {
            let file = std::fs::File::create(&path).map_err(|e| e.to_string())?;
            let mut zip = zip::ZipWriter::new(file);
            // PDFs are compressed already: stored as they are.
            let options = zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Stored);
            for row in &rows {
                let dossier = state
                    .engine
                    .dossier(&row.dossier)
                    .map_err(|e| e.to_string())?;
                let found = dossier.as_ref().and_then(|d| {
                    let candidature = d.candidatures.iter().find(|c| c.id == row.candidature)?;
                    Some((d, candidature))
                });
                if let Some((dossier, candidature)) = found {
                    let definition = state.definition_of(dossier);
                    let printed = super::candidature::staff_printed(
                        &state,
                        &rights,
                        (&definition, dossier, candidature),
                        lang,
                    );
                    let pdf = guichet_pdf::render(&printed).map_err(|e| e.to_string())?;
                    let name = format!(
                        "{}-{}.pdf",
                        crate::web::dossier_pdf::file_name(dossier, candidature),
                        ascii(&format!("{}-{}", row.last_name, row.first_name))
                    );
                    zip.start_file(name, options).map_err(|e| e.to_string())?;
                    zip.write_all(&pdf.bytes).map_err(|e| e.to_string())?;
                }
                job.done.fetch_add(1, Ordering::Relaxed);
            }
            zip.finish().map_err(|e| e.to_string())?;
            Ok(path)
        })();
        if let Err(error) = &written {
            tracing::error!(%error, "an archive of PDFs could not be written");
        }
        *job.result
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(written);
    });
    Ok(Redirect::to(&staff.visit.href(&format!("/staff/archive/{id}"))).into_response())
}

/// A name's letters and digits, for a file name.
fn ascii(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

#[derive(Serialize, Default)]
struct ArchivePage {
    done: usize,
    total: usize,
    percent: usize,
    finished: bool,
    failed: bool,
    download: String,
    /// The view holds this many candidatures, more than an archive may.
    too_many: Option<usize>,
    max: usize,
    /// Another was asked for while this one is built.
    already: bool,
}

/// `?deja=1`: the member asked for another archive while this one is built.
#[derive(Deserialize)]
pub struct ProgressQuery {
    deja: Option<String>,
}

/// The archive `id` of the member signed in; another's is not there.
fn own_job(staff: &Staff, id: &str) -> Result<Arc<Job>, PageError> {
    let archives = &staff.visit.state.archives;
    archives
        .get(id, &staff.member.account.id)
        .ok_or(PageError::NotFound)
}

/// `GET /staff/archive/{id}`: how far the archive is, refreshing itself
/// until it is ready to download.
pub async fn progress(
    staff: Staff,
    Path(id): Path<String>,
    Query(query): Query<ProgressQuery>,
) -> PageResult {
    let job = own_job(&staff, &id)?;
    let done = job.done.load(Ordering::Relaxed);
    let result = job
        .result
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let page = ArchivePage {
        done,
        total: job.total,
        percent: (done * 100).checked_div(job.total).unwrap_or(100),
        finished: result.as_ref().is_some_and(Result::is_ok),
        failed: result.as_ref().is_some_and(Result::is_err),
        download: staff.visit.href(&format!("/staff/archive/{id}/fichier")),
        already: query.deja.is_some() && result.is_none(),
        ..ArchivePage::default()
    };
    drop(result);
    Ok(staff.render("staff/archive.html", StatusCode::OK, &page))
}

/// `GET /staff/archive/{id}/fichier`: the ZIP, once written.
pub async fn download(staff: Staff, Path(id): Path<String>) -> Result<Response, PageError> {
    let job = own_job(&staff, &id)?;
    let path = match job
        .result
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .as_ref()
    {
        Some(Ok(path)) => path.clone(),
        _ => return Err(PageError::NotFound),
    };
    let file = std::fs::File::open(&path).map_err(|_| PageError::NotFound)?;
    // Sent as it is read: an archive of hundreds of PDFs never sits in memory.
    let (sender, receiver) = tokio::sync::mpsc::channel(4);
    tokio::task::spawn_blocking(move || {
        let mut file = file;
        loop {
            let mut chunk = vec![0; 256 * 1024];
            match std::io::Read::read(&mut file, &mut chunk) {
                Ok(0) => return,
                Ok(read) => {
                    chunk.truncate(read);
                    let bytes = axum::body::Bytes::from(chunk);
                    // The client gone: stop reading.
                    if sender.blocking_send(Ok(bytes)).is_err() {
                        return;
                    }
                }
                Err(error) => {
                    let _ = sender.blocking_send(Err(error));
                    return;
                }
            }
        }
    });
    let mut response = Body::from_stream(super::export::Chunks(receiver)).into_response();
    super::export::attachment(&mut response, "application/zip", "dossiers.zip");
    Ok(response)
}
