//! The list as a file: the same view as the page (its filters and sort, all
//! pages), one row per candidature, with every answer of the profile as a
//! column too. CSV as French spreadsheets read it (UTF-8 with a BOM, `;`),
//! streamed as it is written; XLSX written by rust_xlsxwriter.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::extract::Query;
use axum::http::{header, HeaderValue};
use axum::response::Response;
use guichet_engine::model::SectionDef;
use guichet_engine::{list_columns, Definition, Row};
use serde_json::Value;
use tokio::sync::OwnedSemaphorePermit;

use super::super::error::{blocking, PageError, PageResult};
use super::super::site::Lang;
use super::list::{read_again, row_view, select_in_order, Place, Places, View};
use super::member::Staff;
use crate::staff_store::Rights;
use crate::web::reading::answer_text;
use crate::web::state::AppState;

/// Rows read and written between two chunks of a CSV export.
const CHUNK: usize = 200;

/// How long a CSV export waits for its reader to take a chunk (a few dozen
/// kilobytes) before it gives up its turn and ends the download.
const READER_PATIENCE: std::time::Duration = std::time::Duration::from_secs(30);

/// The longest a CSV export holds its turn, however its reader paces it
/// (100,000 candidatures, 27 MB, take four minutes at 1 Mbit/s).
const LONGEST_DOWNLOAD: std::time::Duration = std::time::Duration::from_secs(600);

/// The profile sections a member with `rights` reads, in order.
fn sections<'d>(definition: &'d Definition, rights: &Rights) -> Vec<&'d SectionDef> {
    let all = definition.file().profile.iter();
    all.filter(|s| rights.reads_section(definition, &s.id))
        .collect()
}

/// The column headings: the list's, then one per profile field read.
fn headings(definition: &Definition, rights: &Rights, lang: Lang) -> Vec<String> {
    let code = lang.code();
    let mut headings: Vec<String> = [
        "staff_dossier",
        "last_name",
        "first_name",
        "email",
        "staff_formation",
        "status",
        "staff_pieces",
        "staff_sent",
    ]
    .iter()
    .map(|key| lang.t(key))
    .collect();
    headings.extend(
        list_columns(definition)
            .iter()
            .map(|f| f.label.get(code).to_owned()),
    );
    for section in sections(definition, rights) {
        for field in &section.fields {
            let title = section.title.get(code);
            headings.push(format!("{title} — {}", field.label.get(code)));
        }
    }
    headings
}

/// One candidature's cells, in the order of [`headings`]; its answers are
/// those it was sent with (the dossier's own before it was sent).
fn cells(
    state: &AppState,
    rights: &Rights,
    row: &Row,
    lang: Lang,
) -> Result<Vec<String>, PageError> {
    let definition = state.engine.definition();
    let view = row_view(&definition, row, lang);
    let mut cells = vec![
        row.dossier.clone(),
        row.last_name.clone(),
        row.first_name.clone(),
        row.email.clone(),
        view.formation,
        view.state,
        view.pieces,
        view.sent,
    ];
    cells.extend(view.columns);
    let profile = state.engine.answers_of(&row.dossier, &row.candidature)?;
    for section in sections(&definition, rights) {
        let answers = profile.as_ref().and_then(|p| p.get(&section.id));
        for field in &section.fields {
            let text = |entry: &Value| {
                entry
                    .get(&field.id)
                    .map(|v| answer_text(&definition, field, v, lang))
                    .unwrap_or_default()
            };
            cells.push(match answers {
                Some(Value::Array(entries)) => {
                    entries.iter().map(text).collect::<Vec<_>>().join(" | ")
                }
                Some(entry) => text(entry),
                None => String::new(),
            });
        }
    }
    Ok(cells)
}

/// Where the rows a query's view selects for the member (all pages) stand,
/// in order (see [`select_in_order`]), selected in the export's turn
/// ([`AppState::export_turn`]), which is given back with them.
async fn places(
    staff: &Staff,
    pairs: &[(String, String)],
) -> Result<(Places, OwnedSemaphorePermit), PageError> {
    let state = Arc::clone(&staff.visit.state);
    let turn = state.export_turn().await.map_err(PageError::internal)?;
    let view = View::from_pairs(&state.engine.definition(), pairs);
    let rights = staff.member.rights.clone();
    let (places, turn) = blocking(move || (select_in_order(&state, &rights, &view), turn)).await?;
    Ok((places?, turn))
}

/// The cells of the row at each of `places` (from [`places`]), read again
/// one at a time.
fn records<'r>(
    state: &'r AppState,
    rights: &'r Rights,
    places: impl Iterator<Item = Result<Place, PageError>> + 'r,
    lang: Lang,
) -> impl Iterator<Item = Result<Vec<String>, PageError>> + 'r {
    places.filter_map(
        move |place| match place.and_then(|p| read_again(state, rights, &p)) {
            Ok(Some(row)) => Some(cells(state, rights, &row, lang)),
            Ok(None) => None,
            Err(error) => Some(Err(error)),
        },
    )
}

pub(super) fn attachment(response: &mut Response, content_type: &'static str, name: &str) {
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
}

/// A cell a spreadsheet will not run: a text that starts like a formula
/// (`=`, `+`, `-`, `@`, or a tab or line break before one) gets a leading
/// apostrophe, which spreadsheets read as "this is text". A candidate's name
/// is not a formula to run on a staff member's computer. (The XLSX export
/// writes every cell as a string, which is never run.)
fn inert(cell: &str) -> std::borrow::Cow<'_, str> {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}").into(),
        _ => cell.into(),
    }
}

/// Chunks written by a blocking task, as a body stream.
pub(super) struct Chunks(pub tokio::sync::mpsc::Receiver<Result<Bytes, std::io::Error>>);

impl futures_core::Stream for Chunks {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.0.poll_recv(context)
    }
}

/// Where a CSV export's chunks go from the thread writing them: to the
/// download's reader, as long as it takes them.
struct Handover {
    sender: tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>,
    runtime: tokio::runtime::Handle,
    /// How long a chunk waits for the reader to take one.
    patience: std::time::Duration,
    /// When the download has lasted its longest.
    ends: tokio::time::Instant,
}

impl Handover {
    /// A handover to `sender`'s reader from now on, waiting on `runtime`'s
    /// clock.
    fn new(
        sender: tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>,
        runtime: tokio::runtime::Handle,
        patience: std::time::Duration,
        longest: std::time::Duration,
    ) -> Self {
        let ends = tokio::time::Instant::now() + longest;
        Handover {
            sender,
            runtime,
            patience,
            ends,
        }
    }

    /// Hands `chunk` to the reader, blocking the writing thread while the
    /// reader lags. False once the reader is gone, has taken nothing for the
    /// patience, or lags after the download has lasted its longest: the
    /// export then stops, and its turn goes to the next.
    fn hand(&self, chunk: Result<Bytes, std::io::Error>) -> bool {
        let until = self.ends.min(tokio::time::Instant::now() + self.patience);
        let sending = async { tokio::time::timeout_at(until, self.sender.send(chunk)).await };
        matches!(self.runtime.block_on(sending), Ok(Ok(())))
    }
}

/// `GET /staff/export.csv?…`: the view's candidatures, streamed.
pub async fn csv(staff: Staff, Query(pairs): Query<Vec<(String, String)>>) -> PageResult {
    let (places, turn) = places(&staff, &pairs).await?;
    let (state, lang) = (Arc::clone(&staff.visit.state), staff.visit.lang);
    let rights = staff.member.rights.clone();
    let (sender, receiver) = tokio::sync::mpsc::channel(4);
    let reader = Handover::new(
        sender,
        tokio::runtime::Handle::current(),
        READER_PATIENCE,
        LONGEST_DOWNLOAD,
    );
    tokio::task::spawn_blocking(move || {
        // Held to the last row: the rows read again fill memory too, and
        // exports streamed together each held as much.
        let _turn = turn;
        let write = |records: &mut dyn Iterator<Item = Result<Vec<String>, PageError>>| {
            let mut writer = csv::WriterBuilder::new()
                .delimiter(b';')
                .from_writer(Vec::new());
            for record in records {
                let record = record.map_err(std::io::Error::other)?;
                writer.write_record(record.iter().map(|cell| inert(cell).into_owned()))?;
            }
            writer
                .into_inner()
                .map_err(|e| std::io::Error::other(e.to_string()))
        };
        // The BOM tells spreadsheets the file is UTF-8.
        let mut head = "\u{feff}".as_bytes().to_vec();
        let heading = write(&mut std::iter::once(Ok(headings(
            &state.engine.definition(),
            &rights,
            lang,
        ))));
        let first = heading.map(|bytes| {
            head.extend(bytes);
            Bytes::from(head)
        });
        if !reader.hand(first) {
            return;
        }
        let mut places = places.peekable();
        while places.peek().is_some() {
            let chunk = places.by_ref().take(CHUNK);
            let bytes = write(&mut records(&state, &rights, chunk, lang));
            let failed = bytes.is_err();
            // A client gone, or a failure (sent as the stream's error): stop.
            if !reader.hand(bytes.map(Bytes::from)) || failed {
                return;
            }
        }
    });
    let mut response = Response::new(Body::from_stream(Chunks(receiver)));
    attachment(&mut response, "text/csv; charset=utf-8", "candidatures.csv");
    Ok(response)
}

/// `GET /staff/export.xlsx?…`: the same as a workbook.
pub async fn xlsx(staff: Staff, Query(pairs): Query<Vec<(String, String)>>) -> PageResult {
    let (places, turn) = places(&staff, &pairs).await?;
    let (state, lang) = (Arc::clone(&staff.visit.state), staff.visit.lang);
    let rights = staff.member.rights.clone();
    let bytes = blocking(move || -> Result<Vec<u8>, PageError> {
        let _turn = turn;
        let mut workbook = rust_xlsxwriter::Workbook::new();
        // Rows go to a temporary file as they are written (in order, as
        // here), not into memory: a formation's thousands of rows took
        // a hundred megabytes.
        let sheet = workbook
            .add_worksheet_with_constant_memory()
            .map_err(PageError::internal)?;
        let bold = rust_xlsxwriter::Format::new().set_bold();
        let failed = |error: rust_xlsxwriter::XlsxError| PageError::internal(error);
        for (column, heading) in headings(&state.engine.definition(), &rights, lang)
            .iter()
            .enumerate()
        {
            let column = u16::try_from(column).map_err(PageError::internal)?;
            sheet
                .write_string_with_format(0, column, heading, &bold)
                .map_err(failed)?;
        }
        for (index, record) in records(&state, &rights, places, lang).enumerate() {
            let line = u32::try_from(index + 1).map_err(PageError::internal)?;
            for (column, cell) in record?.iter().enumerate() {
                let column = u16::try_from(column).map_err(PageError::internal)?;
                sheet.write_string(line, column, cell).map_err(failed)?;
            }
        }
        workbook.save_to_buffer().map_err(failed)
    })
    .await??;
    let mut response = Response::new(Body::from(bytes));
    attachment(
        &mut response,
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "candidatures.xlsx",
    );
    Ok(response)
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;

    fn chunk() -> Result<Bytes, std::io::Error> {
        Ok(Bytes::from_static(b"dossier;nom\n"))
    }

    /// A runtime for the clock, and a handover over a channel of one chunk.
    fn handover(
        patience: Duration,
        longest: Duration,
    ) -> (
        tokio::runtime::Runtime,
        Handover,
        tokio::sync::mpsc::Receiver<Result<Bytes, std::io::Error>>,
    ) {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_time()
            .build()
            .expect("a runtime");
        let (sender, receiver) = tokio::sync::mpsc::channel(1);
        let handover = Handover::new(sender, runtime.handle().clone(), patience, longest);
        (runtime, handover, receiver)
    }

    #[test]
    fn a_reader_taking_its_chunks_gets_them() {
        let (_runtime, handover, mut receiver) =
            handover(Duration::from_secs(10), Duration::from_secs(600));
        for _ in 0..3 {
            assert!(handover.hand(chunk()));
            assert!(receiver.try_recv().is_ok_and(|taken| taken.is_ok()));
        }
    }

    #[test]
    fn a_reader_taking_nothing_is_given_up_after_the_patience() {
        let patience = Duration::from_millis(50);
        let (_runtime, handover, receiver) = handover(patience, Duration::from_secs(600));
        assert!(handover.hand(chunk()), "room for one chunk");
        let begun = Instant::now();
        assert!(!handover.hand(chunk()), "the reader stalled");
        assert!(begun.elapsed() >= patience);
        drop(receiver);
    }

    #[test]
    fn a_reader_gone_is_given_up_at_once() {
        let (_runtime, handover, receiver) =
            handover(Duration::from_secs(10), Duration::from_secs(600));
        drop(receiver);
        let begun = Instant::now();
        assert!(!handover.hand(chunk()));
        assert!(begun.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn a_download_past_its_longest_stops_when_its_reader_lags() {
        let (_runtime, handover, mut receiver) = handover(Duration::from_secs(10), Duration::ZERO);
        // Past its longest, a chunk with room still goes: the reader keeps up.
        assert!(handover.hand(chunk()));
        // The reader lags: given up without waiting the patience.
        let begun = Instant::now();
        assert!(!handover.hand(chunk()));
        assert!(begun.elapsed() < Duration::from_secs(10));
        assert!(receiver.try_recv().is_ok());
    }
}
