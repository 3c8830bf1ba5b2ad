//! The list of candidatures, a staff member's home: the candidatures of
//! their scope, filtered, sorted and paged, with the counts per state. The
//! view lives in the URL (`?formation=…&state=…&sort=…`), so it can be
//! bookmarked and shared; exports and bulk actions read the same query.
//!
//! Rows come from the store's index (one prefix per formation, or per
//! formation and state), never from the dossiers.

use std::cmp::Ordering;
use std::sync::Arc;

use axum::extract::Query;
use axum::http::StatusCode;
use guichet_engine::model::FieldType;
use guichet_engine::{list_columns, Definition, Row, RowParts, Store};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::super::catalogue::fold;
use super::super::error::{blocking, PageError, PageResult};
use super::super::site::Lang;
use super::member::Staff;
use super::runs::{RunSorter, Sorted};
use crate::staff_store::Rights;
use crate::web::reading::{cell_text, column_text};
use crate::web::state::AppState;

/// Rows per page.
const PAGE_SIZE: usize = 50;

/// What a list shows: its filters, sort and page, as the URL gives them.
#[derive(Debug, Clone, Default)]
pub struct View {
    /// One formation, or all of the scope.
    pub formation: Option<String>,
    /// One state, or all those the member sees.
    pub state: Option<String>,
    /// Candidatures with at least one piece in this status.
    pub piece_status: Option<String>,
    /// Values of the list columns (a decision…), by column id.
    pub columns: Vec<(String, String)>,
    /// Free text: name, email, dossier number, searchable answers.
    pub text: String,
    /// Column sorted on, and whether descending.
    pub sort: (String, bool),
    /// Page, from 1.
    pub page: usize,
}

impl View {
    /// The view a query string asks for (unknown keys are ignored).
    pub fn from_pairs(definition: &Definition, pairs: &[(String, String)]) -> View {
        let mut view = View {
            page: 1,
            sort: ("sent".into(), false),
            ..View::default()
        };
        let columns = list_columns(definition);
        let given = |value: &str| Some(value.trim().to_owned()).filter(|v| !v.is_empty());
        for (key, value) in pairs {
            match key.as_str() {
                "formation" => view.formation = given(value),
                "state" => view.state = given(value),
                "piece" => view.piece_status = given(value),
                "q" => view.text = value.trim().chars().take(200).collect(),
                "sort" => view.sort.0 = value.clone(),
                "order" => view.sort.1 = value == "desc",
                "page" => view.page = value.parse().unwrap_or(1).max(1),
                column if columns.iter().any(|c| c.id == column) => {
                    if let Some(value) = given(value) {
                        view.columns.push((key.clone(), value));
                    }
                }
                _ => {}
            }
        }
        view
    }

    /// The query string of this view, with `changes` made (key, value; an
    /// empty value removes the key).
    pub fn query(&self, changes: &[(&str, &str)]) -> String {
        let mut pairs: Vec<(String, String)> = Vec::new();
        let mut push = |key: &str, value: &str| {
            if !value.is_empty() {
                pairs.push((key.to_owned(), value.to_owned()));
            }
        };
        push("formation", self.formation.as_deref().unwrap_or(""));
        push("state", self.state.as_deref().unwrap_or(""));
        push("piece", self.piece_status.as_deref().unwrap_or(""));
        for (column, value) in &self.columns {
            push(column, value);
        }
        push("q", &self.text);
        push("sort", &self.sort.0);
        push("order", if self.sort.1 { "desc" } else { "" });
        if self.page > 1 {
            push("page", &self.page.to_string());
        }
        for (key, value) in changes {
            pairs.retain(|(k, _)| k != key);
            if !value.is_empty() {
                pairs.push(((*key).to_owned(), (*value).to_owned()));
            }
        }
        let encoded: Vec<String> = pairs
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect();
        encoded.join("&")
    }
}

/// `text` escaped for a URL's query.
fn encode(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(byte))
            }
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

/// The candidatures a view selects, sorted, and the counts per state of the
/// formations it covers.
pub struct Selection<K = Row> {
    /// The rows that pass the filters, sorted: all of them, or the first
    /// ones only when fewer were asked for (see [`select`]), whole (but for
    /// their [`Row::pieces`], read only for a view filtering on them) or as
    /// their [`Place`].
    pub rows: Vec<K>,
    /// How many rows pass the filters.
    pub total: usize,
    /// Candidatures per visible state (before the state and other filters).
    pub counts: Vec<(String, usize)>,
}

/// The states a member with `rights` sees, in the definition's order.
pub fn visible_states<'d>(rights: &Rights, definition: &'d Definition) -> Vec<&'d str> {
    definition
        .file()
        .workflow
        .states
        .iter()
        .filter(|s| rights.sees_state(definition, &s.id))
        .map(|s| s.id.as_str())
        .collect()
}

/// Reads the rows `view` selects for a member with `rights` (blocking:
/// reads the store).
///
/// With `first`, only the first `first` rows in the view's order are kept:
/// the rows are read one at a time and the others dropped as the reading
/// goes, so that a page of a view over a hundred thousand candidatures holds
/// a page's worth of rows, not all of them.
pub fn select(
    state: &AppState,
    rights: &Rights,
    view: &View,
    first: Option<usize>,
) -> Result<Selection, PageError> {
    select_kept(state, rights, view, first)
}

/// Where each row `view` selects for a member with `rights` stands, in the
/// view's order: an export reads each row again as it writes it
/// ([`read_again`]), where a hundred thousand whole rows held at once took
/// hundreds of megabytes. The places are sorted in runs of
/// [`EXPORT_RUN`] (see [`RunSorter`]): however many rows a view selects,
/// a run's worth of places is held at a time.
pub fn select_in_order(
    state: &AppState,
    rights: &Rights,
    view: &View,
) -> Result<Places, PageError> {
    let definition = state.engine.definition();
    let order = Order {
        definition: &definition,
        sort: &view.sort,
    };
    let mut sorter = order.place_runs(EXPORT_RUN);
    let mut unwritten = None;
    each_selected(state, rights, view, &mut |row| {
        if unwritten.is_none() {
            unwritten = sorter.push(order.ranked(row)).err();
        }
    })?;
    if let Some(error) = unwritten {
        return Err(PageError::internal(error));
    }
    let sorted = sorter.finish().map_err(PageError::internal)?;
    Ok(Places(sorted))
}

/// How many places an export sorts in memory at a time (about 1.5 MB of
/// them for the shipped procedure's rows); the others wait in temporary
/// files.
const EXPORT_RUN: usize = 8192;

/// How two ranked places compare, in a view's order.
type PlaceOrder = Box<dyn Fn(&Ranked<Place>, &Ranked<Place>) -> Ordering + Send>;

/// The places of [`select_in_order`], in the view's order, read as they
/// are needed.
pub struct Places(Sorted<Ranked<Place>, PlaceOrder>);

impl Iterator for Places {
    type Item = Result<Place, PageError>;

    fn next(&mut self) -> Option<Self::Item> {
        let next = self.0.next()?;
        Some(next.map(|ranked| ranked.kept).map_err(PageError::internal))
    }
}

/// Where a row stands in the index: its formation, state, dossier and
/// candidature, in one allocation (a selection may hold 100,000 of them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Place {
    /// The four ids, each followed by a NUL (ids never hold one).
    ids: Box<str>,
}

impl Place {
    /// The formation's, state's, dossier's and candidature's ids.
    pub fn ids(&self) -> [&str; 4] {
        let mut parts = self.ids.split('\0');
        [(); 4].map(|()| parts.next().unwrap_or_default())
    }
}

/// What a selection keeps of each row: the row, or its place.
trait Kept {
    fn kept(row: Row) -> Self;
    /// The dossier's and candidature's ids, which order rows that tie.
    fn dossier_and_candidature(&self) -> (&str, &str);
}

impl Kept for Row {
    fn kept(row: Row) -> Self {
        row
    }

    fn dossier_and_candidature(&self) -> (&str, &str) {
        (&self.dossier, &self.candidature)
    }
}

impl Kept for Place {
    fn kept(row: Row) -> Self {
        let mut ids = String::with_capacity(
            row.formation.len() + row.state.len() + row.dossier.len() + row.candidature.len() + 4,
        );
        for id in [&row.formation, &row.state, &row.dossier, &row.candidature] {
            ids.push_str(id);
            ids.push('\0');
        }
        Place { ids: ids.into() }
    }

    fn dossier_and_candidature(&self) -> (&str, &str) {
        let [_, _, dossier, candidature] = self.ids();
        (dossier, candidature)
    }
}

/// The rows `view` selects (the first `first`, or all), each kept as `K`.
fn select_kept<K: Kept>(
    state: &AppState,
    rights: &Rights,
    view: &View,
    first: Option<usize>,
) -> Result<Selection<K>, PageError> {
    let definition = state.engine.definition();
    let mut kept = FirstRows::new(
        Order {
            definition: &definition,
            sort: &view.sort,
        },
        first,
    );
    let counts = each_selected(state, rights, view, &mut |row| kept.push(row))?;
    let (rows, total) = kept.finish();
    Ok(Selection {
        rows,
        total,
        counts,
    })
}

/// Gives `each` the rows `view` selects for a member with `rights`, in
/// the index's order; returns the counts per visible state of the
/// formations it covers.
fn each_selected(
    state: &AppState,
    rights: &Rights,
    view: &View,
    each: &mut dyn FnMut(Row),
) -> Result<Vec<(String, usize)>, PageError> {
    let definition = state.engine.definition();
    let store = state.engine.store();
    let formations: Vec<&str> = rights
        .formations(&definition)
        .into_iter()
        .filter(|f| view.formation.as_deref().is_none_or(|wanted| wanted == *f))
        .collect();
    let states = visible_states(rights, &definition);
    let mut counts = Vec::new();
    for state_id in &states {
        let mut count = 0;
        for formation in &formations {
            count += store
                .count_of(formation, state_id)
                .map_err(PageError::internal)?;
        }
        counts.push(((*state_id).to_owned(), count));
    }
    let wanted_states: Vec<&str> = match &view.state {
        Some(one) => states.iter().copied().filter(|s| s == one).collect(),
        None => states.clone(),
    };
    let text = fold(&view.text);
    // What every row kept holds somewhere: the store skips the others
    // without decoding them.
    let mut held: Vec<&str> = text.split_whitespace().collect();
    held.extend(view.columns.iter().map(|(_, wanted)| wanted.as_str()));
    held.extend(view.piece_status.as_deref());
    // Neither the list nor an export shows each piece's status: only a
    // filter on one reads them.
    let parts = match view.piece_status {
        Some(_) => RowParts::Whole,
        None => RowParts::WithoutPieces,
    };
    for formation in &formations {
        for state_id in &wanted_states {
            let mut passing = |row: Row| {
                if passes(&row, view, &text) {
                    each(row);
                }
            };
            store
                .each_row_containing(formation, Some(state_id), &held, parts, &mut passing)
                .map_err(PageError::internal)?;
        }
    }
    Ok(counts)
}

/// The row a place of [`select_in_order`] stands for, read again (its
/// pieces may be left out: an export does not show them): as the index
/// holds it, or, if its candidature moved since, as its dossier gives it
/// now when the member may still see it; `None` otherwise.
pub fn read_again(
    state: &AppState,
    rights: &Rights,
    place: &Place,
) -> Result<Option<Row>, PageError> {
    let [formation, state_id, dossier_id, candidature] = place.ids();
    let store = state.engine.store();
    let held = store
        .row(
            formation,
            state_id,
            dossier_id,
            candidature,
            RowParts::WithoutPieces,
        )
        .map_err(PageError::internal)?;
    if held.is_some() {
        return Ok(held);
    }
    let Some(dossier) = state.engine.dossier(dossier_id)? else {
        return Ok(None);
    };
    let definition = state.engine.definition();
    let visible = visible_states(rights, &definition);
    let now = state.engine.indexed(&dossier, state.clock.now())?;
    Ok(now
        .rows
        .into_iter()
        .find(|row| row.candidature == candidature && visible.contains(&row.state.as_str())))
}

/// Whether `row` passes the view's filters but formation and state (`text`:
/// the view's text, folded).
fn passes(row: &Row, view: &View, text: &str) -> bool {
    if let Some(status) = &view.piece_status {
        if !row.pieces.values().any(|s| s == status) {
            return false;
        }
    }
    for (column, wanted) in &view.columns {
        let value = row.columns.get(column).map(cell_text).unwrap_or_default();
        if &value != wanted {
            return false;
        }
    }
    if text.is_empty() {
        return true;
    }
    // The row's search text is folded already (names, email, number).
    text.split_whitespace()
        .all(|word| row.search.contains(word))
}

/// What a view's order compares of a row, taken once per row: the sorted
/// column's value, then the folded name. Written as it is when an export
/// sorts more places than it holds (see [`select_in_order`]).
#[derive(Serialize, Deserialize)]
struct Ranked<K> {
    value: Rank,
    name: Box<str>,
    kept: K,
}

/// The sorted column's value of a row.
#[derive(Serialize, Deserialize)]
enum Rank {
    /// Sorted by name alone.
    Nothing,
    /// A formation's id.
    Id(Box<str>),
    /// A state's position in the workflow.
    Position(usize),
    /// Pieces provided, then required.
    Pieces(u32, u32),
    Sent(Option<jiff::Timestamp>),
    /// A list column's value.
    Column(Option<Value>),
}

impl Rank {
    fn compare(&self, other: &Rank) -> Ordering {
        match (self, other) {
            (Rank::Id(a), Rank::Id(b)) => a.cmp(b),
            (Rank::Position(a), Rank::Position(b)) => a.cmp(b),
            (Rank::Pieces(a, b), Rank::Pieces(c, d)) => (a, b).cmp(&(c, d)),
            (Rank::Sent(a), Rank::Sent(b)) => a.cmp(b),
            (Rank::Column(a), Rank::Column(b)) => compare_values(a.as_ref(), b.as_ref()),
            // One order ranks every row alike.
            _ => Ordering::Equal,
        }
    }
}

/// The first rows in a view's order among those pushed, or all of them: at
/// most twice as many held at any time, sorted and cut from time to time.
struct FirstRows<'a, K> {
    order: Order<'a>,
    first: Option<usize>,
    kept: Vec<Ranked<K>>,
    total: usize,
}

impl<'a, K: Kept> FirstRows<'a, K> {
    fn new(order: Order<'a>, first: Option<usize>) -> Self {
        FirstRows {
            order,
            first,
            kept: Vec::new(),
            total: 0,
        }
    }

    fn push(&mut self, row: Row) {
        self.total += 1;
        let ranked = self.order.ranked(row);
        self.kept.push(ranked);
        if let Some(first) = self.first {
            if self.kept.len() >= first.max(1).saturating_mul(2) {
                self.order.sort(&mut self.kept);
                self.kept.truncate(first);
            }
        }
    }

    /// The rows kept, in order, and how many were pushed.
    fn finish(mut self) -> (Vec<K>, usize) {
        self.order.sort(&mut self.kept);
        if let Some(first) = self.first {
            self.kept.truncate(first);
        }
        // Collected into a vector of their own size: `collect` would reuse
        // the ranked rows' allocation, four times theirs, and an archive
        // keeps the rows to its last one.
        let mut rows = Vec::with_capacity(self.kept.len());
        rows.extend(self.kept.into_iter().map(|ranked| ranked.kept));
        (rows, self.total)
    }
}

/// A view's order: on its column (then by name, then by id, for a stable
/// page order), ascending or descending.
struct Order<'a> {
    definition: &'a Definition,
    sort: &'a (String, bool),
}

impl Order<'_> {
    /// What `row` is kept as, with what this order compares of it (its
    /// folded name copied once per row, not read at each comparison).
    fn ranked<K: Kept>(&self, row: Row) -> Ranked<K> {
        let (column, _) = self.sort;
        let value = match column.as_str() {
            "name" => Rank::Nothing,
            "formation" => Rank::Id(row.formation.as_str().into()),
            "state" => {
                let states = &self.definition.file().workflow.states;
                Rank::Position(
                    states
                        .iter()
                        .position(|s| s.id == row.state)
                        .unwrap_or(usize::MAX),
                )
            }
            "pieces" => Rank::Pieces(row.provided, row.required),
            "sent" => Rank::Sent(row.sent_at),
            other => Rank::Column(row.columns.get(other).cloned()),
        };
        let name = row.sorted_name().into();
        Ranked {
            value,
            name,
            kept: K::kept(row),
        }
    }

    fn sort<K: Kept>(&self, rows: &mut [Ranked<K>]) {
        let (_, descending) = *self.sort;
        // No two rows tie (their dossier and candidature differ), so an
        // unstable sort orders them as a stable one would, without the
        // stable one's buffer: half to all of the rows again (6.4 MB for an
        // export of 100,000), taken when the selection holds the most.
        rows.sort_unstable_by(|a, b| compare_ranked(a, b, descending));
    }

    /// A sorter of places in this order, holding `run_length` at a time.
    fn place_runs(&self, run_length: usize) -> RunSorter<Ranked<Place>, PlaceOrder> {
        let (_, descending) = *self.sort;
        RunSorter::new(
            run_length,
            Box::new(move |a, b| compare_ranked(a, b, descending)),
        )
    }
}

/// How two ranked rows compare: their sorted column's values, then their
/// names, then their ids (so that no two tie), ascending or `descending`.
fn compare_ranked<K: Kept>(a: &Ranked<K>, b: &Ranked<K>, descending: bool) -> Ordering {
    let order = a
        .value
        .compare(&b.value)
        .then_with(|| a.name.cmp(&b.name))
        .then_with(|| {
            a.kept
                .dossier_and_candidature()
                .cmp(&b.kept.dossier_and_candidature())
        });
    if descending {
        order.reverse()
    } else {
        order
    }
}

/// Numbers as numbers, then text as text; no value last. A total order
/// even where one column holds both (two transitions' inputs of one id, a
/// number and a choice): numbers and text compared as text alike made
/// cycles (2 < 10, "10" < "1a" < "2"), which a sort may panic on.
fn compare_values(a: Option<&Value>, b: Option<&Value>) -> Ordering {
    match (a, b) {
        (Some(Value::Number(x)), Some(Value::Number(y))) => {
            let (x, y) = (x.as_f64().unwrap_or(0.0), y.as_f64().unwrap_or(0.0));
            x.total_cmp(&y)
        }
        (Some(Value::Number(_)), Some(_)) => Ordering::Less,
        (Some(_), Some(Value::Number(_))) => Ordering::Greater,
        (Some(x), Some(y)) => cell_text(x).cmp(&cell_text(y)),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

/// A row's values as people read them, for the page and the exports.
#[derive(Serialize)]
pub struct RowView {
    /// `dossier/candidature`, the value of its checkbox.
    pub key: String,
    /// Link to the candidature's page.
    pub href: String,
    /// `LAST First`.
    pub name: String,
    /// Email address.
    pub email: String,
    /// Dossier number.
    pub dossier: String,
    /// Formation title.
    pub formation: String,
    /// State label.
    pub state: String,
    /// `provided/required`.
    pub pieces: String,
    /// Day sent, or empty.
    pub sent: String,
    /// Each list column's value, as text (an option's label).
    pub columns: Vec<String>,
}

/// How `row` reads in `lang`.
pub fn row_view(definition: &Definition, row: &Row, lang: Lang) -> RowView {
    let code = lang.code();
    let formation = definition
        .formation(&row.formation)
        .map_or(row.formation.clone(), |f| f.title.get(code).to_owned());
    let state = definition.state_label(&row.state, code).to_owned();
    let sent = row
        .sent_at
        .map(|at| definition.day_of(at))
        .unwrap_or_default();
    let columns = list_columns(definition)
        .iter()
        .map(|field| column_text(definition, field, row.columns.get(&field.id), lang))
        .collect();
    RowView {
        key: format!("{}/{}", row.dossier, row.candidature),
        href: lang.href(&format!(
            "/staff/candidatures/{}/{}",
            row.dossier, row.candidature
        )),
        name: format!("{} {}", row.last_name.to_uppercase(), row.first_name),
        email: row.email.clone(),
        dossier: row.dossier.clone(),
        formation,
        state,
        pieces: format!("{}/{}", row.provided, row.required),
        sent,
        columns,
    }
}

#[derive(Serialize)]
struct Choice {
    value: String,
    label: String,
    selected: bool,
}

#[derive(Serialize)]
struct Filter {
    name: String,
    label: String,
    choices: Vec<Choice>,
}

#[derive(Serialize)]
struct Heading {
    label: String,
    href: String,
    /// `ascending`, `descending` or `none`, for `aria-sort`.
    sorted: &'static str,
}

#[derive(Serialize)]
struct CountLink {
    label: String,
    count: usize,
    href: String,
    current: bool,
}

#[derive(Serialize)]
struct BulkChoice {
    id: String,
    label: String,
}

#[derive(Serialize)]
struct ListPage {
    counts: Vec<CountLink>,
    total: usize,
    filters: Vec<Filter>,
    text: String,
    headings: Vec<Heading>,
    rows: Vec<RowView>,
    bulk: Vec<BulkChoice>,
    previous: Option<String>,
    next: Option<String>,
    page: usize,
    pages: usize,
    csv: String,
    xlsx: String,
    /// Where the archive of the view's PDFs is asked for.
    archive: String,
    reset: String,
}

/// A select of the filter form: `name`, its `label`, and its choices (value, label).
fn filter(
    name: &str,
    label: String,
    choices: Vec<(String, String)>,
    chosen: Option<&str>,
) -> Filter {
    Filter {
        name: name.to_owned(),
        label,
        choices: choices
            .into_iter()
            .map(|(value, label)| Choice {
                selected: chosen == Some(value.as_str()),
                value,
                label,
            })
            .collect(),
    }
}

fn filters(staff: &Staff, definition: &Definition, view: &View, lang: Lang) -> Vec<Filter> {
    let code = lang.code();
    let formations = staff.member.rights.formations(definition);
    let mut filters = vec![
        filter(
            "formation",
            lang.t("staff_formation"),
            formations
                .iter()
                .filter_map(|id| definition.formation(id))
                .map(|f| (f.id.clone(), f.title.get(code).to_owned()))
                .collect(),
            view.formation.as_deref(),
        ),
        filter(
            "state",
            lang.t("status"),
            visible_states(&staff.member.rights, definition)
                .iter()
                .filter_map(|id| definition.state(id))
                .map(|s| (s.id.clone(), s.label.get(code).to_owned()))
                .collect(),
            view.state.as_deref(),
        ),
        filter(
            "piece",
            lang.t("staff_piece_status"),
            definition
                .file()
                .workflow
                .piece_statuses
                .iter()
                .map(|s| (s.id.clone(), s.label.get(code).to_owned()))
                .collect(),
            view.piece_status.as_deref(),
        ),
    ];
    for field in list_columns(definition) {
        if field.kind != FieldType::Choice {
            continue;
        }
        let options = guichet_engine::options(definition, field, &Value::Null, code);
        let chosen = view
            .columns
            .iter()
            .find(|(c, _)| c == &field.id)
            .map(|(_, v)| v.as_str());
        filters.push(filter(
            &field.id,
            field.label.get(code).to_owned(),
            options
                .unwrap_or_default()
                .iter()
                .map(|o| (o.id.clone(), o.label.clone()))
                .collect(),
            chosen,
        ));
    }
    filters
}

fn headings(definition: &Definition, view: &View, lang: Lang) -> Vec<Heading> {
    let code = lang.code();
    let mut columns: Vec<(String, String)> = vec![
        ("name".into(), lang.t("staff_candidate")),
        ("formation".into(), lang.t("staff_formation")),
        ("state".into(), lang.t("status")),
        ("pieces".into(), lang.t("staff_pieces")),
        ("sent".into(), lang.t("staff_sent")),
    ];
    for field in list_columns(definition) {
        columns.push((field.id.clone(), field.label.get(code).to_owned()));
    }
    columns
        .into_iter()
        .map(|(id, label)| {
            let current = view.sort.0 == id;
            let descending = current && !view.sort.1;
            let order = if descending { "desc" } else { "" };
            Heading {
                href: lang.href(&format!(
                    "/staff?{}",
                    view.query(&[("sort", &id), ("order", order), ("page", "")])
                )),
                sorted: match (current, view.sort.1) {
                    (false, _) => "none",
                    (true, false) => "ascending",
                    (true, true) => "descending",
                },
                label,
            }
        })
        .collect()
}

/// The transitions a member may apply to several candidatures at once:
/// those of their roles that take no input.
pub fn bulk_transitions<'d>(
    staff: &Staff,
    definition: &'d Definition,
) -> Vec<&'d guichet_engine::model::TransitionDef> {
    let roles = staff.roles(definition);
    definition
        .file()
        .workflow
        .transitions
        .iter()
        .filter(|t| {
            t.input.is_empty() && t.by.as_slice().iter().any(|r| roles.contains(&r.as_str()))
        })
        .collect()
}

/// `GET /staff`
pub async fn list(staff: Staff, Query(pairs): Query<Vec<(String, String)>>) -> PageResult {
    let state = Arc::clone(&staff.visit.state);
    let view = View::from_pairs(&state.engine.definition(), &pairs);
    let (rights, wanted) = (staff.member.rights.clone(), view.clone());
    // The rows up to the page asked for: a page past the end shows the
    // last one, which is among them.
    let first = view.page.max(1).saturating_mul(PAGE_SIZE);
    let selection = blocking(move || select(&state, &rights, &wanted, Some(first))).await??;
    let (visit, lang) = (&staff.visit, staff.visit.lang);
    let definition = visit.state.engine.definition();
    let code = lang.code();
    let total = selection.total;
    let pages = total.div_ceil(PAGE_SIZE).max(1);
    let page = view.page.min(pages);
    let rows = selection
        .rows
        .iter()
        .skip((page - 1) * PAGE_SIZE)
        .take(PAGE_SIZE)
        .map(|row| row_view(&definition, row, lang))
        .collect();
    let at_page = |n: usize| {
        lang.href(&format!(
            "/staff?{}",
            view.query(&[("page", &n.to_string())])
        ))
    };
    let counts = selection
        .counts
        .iter()
        .map(|(id, count)| CountLink {
            label: definition
                .state(id)
                .map_or(id.clone(), |s| s.label.get(code).to_owned()),
            count: *count,
            href: lang.href(&format!(
                "/staff?{}",
                view.query(&[("state", id), ("page", "")])
            )),
            current: view.state.as_deref() == Some(id),
        })
        .collect();
    let page_view = ListPage {
        counts,
        total,
        filters: filters(&staff, &definition, &view, lang),
        text: view.text.clone(),
        headings: headings(&definition, &view, lang),
        rows,
        bulk: bulk_transitions(&staff, &definition)
            .iter()
            .map(|t| BulkChoice {
                id: t.id.clone(),
                label: t.label.get(code).to_owned(),
            })
            .collect(),
        previous: (page > 1).then(|| at_page(page - 1)),
        next: (page < pages).then(|| at_page(page + 1)),
        page,
        pages,
        csv: lang.href(&format!(
            "/staff/export.csv?{}",
            view.query(&[("page", "")])
        )),
        xlsx: lang.href(&format!(
            "/staff/export.xlsx?{}",
            view.query(&[("page", "")])
        )),
        archive: lang.href(&format!("/staff/archive?{}", view.query(&[("page", "")]))),
        reset: lang.href("/staff"),
    };
    Ok(staff.render("staff/list.html", StatusCode::OK, &page_view))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;

    fn row(n: usize) -> Row {
        // Names, states and ranks in an order unlike the rows' own.
        let names = [
            "Nguyen", "Martin", "Élie", "durand", "Bernard", "Petit", "Roux",
        ];
        let states = ["received", "draft", "closed"];
        let mut columns = BTreeMap::new();
        if n % 5 != 0 {
            columns.insert("rang".to_owned(), json!((n * 37) % 11));
        }
        let last_name = names[(n * 3) % names.len()];
        let first_name = format!("Camille {}", n % 13);
        let email = format!("c{n}@example.org");
        let search = Row::search_text(last_name, &first_name, &email);
        Row {
            dossier: format!("d{:03}", (n * 7919) % 1000),
            candidature: format!("c{}", n % 2 + 1),
            formation: ["master", "licence"][n % 2].into(),
            state: states[n % states.len()].into(),
            last_name: last_name.into(),
            first_name,
            email,
            // Some not sent yet; the others on one of five days.
            sent_at: (n % 3 != 0).then(|| {
                jiff::Timestamp::UNIX_EPOCH + jiff::SignedDuration::from_hours(24 * (n % 5) as i64)
            }),
            entered_state_at: jiff::Timestamp::UNIX_EPOCH,
            provided: (n % 4) as u32,
            required: 4,
            pieces: BTreeMap::new(),
            columns,
            search,
        }
    }

    /// The minimal procedure of the tests' fixtures.
    fn minimal() -> Definition {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/fixtures/minimal.yaml"
        );
        Definition::load(path).expect("the minimal definition")
    }

    #[test]
    fn the_first_rows_kept_are_the_first_of_the_whole_sort() {
        let definition = minimal();
        for sort in [
            ("name".to_owned(), false),
            ("state".to_owned(), true),
            ("rang".to_owned(), false),
            ("pieces".to_owned(), true),
            ("sent".to_owned(), false),
            ("formation".to_owned(), true),
        ] {
            let order = || Order {
                definition: &definition,
                sort: &sort,
            };
            let mut all = FirstRows::<Row>::new(order(), None);
            (0..237).map(row).for_each(|r| all.push(r));
            let (sorted, total) = all.finish();
            assert_eq!((sorted.len(), total), (237, 237));
            // The sorted column comes in order (not yet sent first).
            let in_order = sorted.windows(2).all(|pair| match sort.0.as_str() {
                "sent" => pair[0].sent_at <= pair[1].sent_at,
                "formation" => pair[0].formation >= pair[1].formation,
                "name" => {
                    let folded = |r: &Row| (fold(&r.last_name), fold(&r.first_name));
                    folded(&pair[0]) <= folded(&pair[1])
                }
                _ => true,
            });
            assert!(in_order, "{sort:?}");
            // An archive holds its rows to its last one: no room to spare.
            assert_eq!(sorted.capacity(), sorted.len(), "{sort:?}, room");
            let ids = |rows: &[Row]| -> Vec<[String; 4]> {
                rows.iter()
                    .map(|r| {
                        [&r.formation, &r.state, &r.dossier, &r.candidature].map(|id| id.clone())
                    })
                    .collect()
            };
            // An export's places, sorted in runs of ten (23 of them written
            // and read back), name the same rows in the same order.
            let mut runs = order().place_runs(10);
            for r in (0..237).map(row) {
                runs.push(order().ranked(r)).expect("pushed");
            }
            let merged: Vec<[String; 4]> = Places(runs.finish().expect("sorted"))
                .map(|place| place.expect("read back").ids().map(str::to_owned))
                .collect();
            assert_eq!(merged, ids(&sorted), "{sort:?}, places sorted in runs");
            for first in [1, 50, 100, 236, 237, 500, usize::MAX] {
                let mut kept = FirstRows::<Row>::new(order(), Some(first));
                (0..237).map(row).for_each(|r| kept.push(r));
                let (rows, total) = kept.finish();
                assert_eq!(total, 237, "{sort:?}");
                assert_eq!(rows, sorted[..first.min(237)], "{sort:?}, first {first}");
            }
        }
    }

    #[test]
    fn a_column_holding_numbers_and_text_sorts_numbers_first() {
        let definition = minimal();
        let sort = ("rang".to_owned(), false);
        let values = [
            json!(2),
            json!("1a"),
            json!(10),
            json!("b"),
            json!(-0.5),
            json!("10"),
        ];
        let mut kept = FirstRows::<Row>::new(
            Order {
                definition: &definition,
                sort: &sort,
            },
            None,
        );
        for (n, value) in values.iter().enumerate() {
            let mut row = row(n);
            row.columns.insert("rang".to_owned(), value.clone());
            kept.push(row);
        }
        kept.push(row(5 * 7));
        let (sorted, _) = kept.finish();
        let ranks: Vec<Option<&serde_json::Value>> =
            sorted.iter().map(|r| r.columns.get("rang")).collect();
        let expected = [
            json!(-0.5),
            json!(2),
            json!(10),
            json!("10"),
            json!("1a"),
            json!("b"),
        ];
        let expected: Vec<Option<&serde_json::Value>> =
            expected.iter().map(Some).chain([None]).collect();
        assert_eq!(ranks, expected);
    }

    /// A procedure whose staff reviews then closes a candidature; closed
    /// candidatures are for the head of studies alone.
    const REVIEWED: &str = r#"
guichet: 1
id: reviewed
title: Reviewed school
campaign: { opens: 2027-03-01, closes: 2027-06-15 }
roles:
  - { id: candidate, label: Candidate, kind: candidate }
  - { id: staff, label: Staff, kind: staff, address: office@example.org }
  - { id: head, label: Head of studies, kind: staff, address: head@example.org }
profile:
  - { id: identity, title: Identity, fields: [{ id: nationality, type: text, label: Nationality }] }
pieces:
  - { id: resume, label: Resume, accept: [pdf], max_size: 2MB }
formations:
  - { id: master, title: Master, pieces: [resume] }
workflow:
  states:
    - { id: draft, label: Draft, initial: true }
    - { id: received, label: Received }
    - { id: reviewed, label: Reviewed }
    - { id: closed, label: Closed, final: true, visible_to: [head] }
  transitions:
    - { id: transmit, label: Transmit, from: draft, to: received, by: candidate }
    - { id: review, label: Review, from: received, to: reviewed, by: staff }
    - { id: close, label: Close, from: reviewed, to: closed, by: staff }
  piece_statuses:
    - { id: pending, label: Pending, initial: true }
    - { id: sent, label: Sent, provided: true }
"#;

    /// The server of the [`REVIEWED`] procedure, in `folder`.
    fn reviewed_server(folder: &std::path::Path) -> Arc<AppState> {
        let file = folder.join("reviewed.yaml");
        std::fs::write(&file, REVIEWED).expect("definition written");
        let definition = Definition::load(&file).expect("the definition");
        crate::procedure::preview_state(&file, definition, &folder.join("data")).expect("state")
    }

    const IN_THE_CAMPAIGN: &str = "2027-04-01T10:00:00Z";

    /// A dossier of `name` with a candidature to the master's: its id, and
    /// the command's outcome.
    fn applied(state: &AppState, name: &str) -> (String, guichet_engine::Outcome) {
        let now: jiff::Timestamp = IN_THE_CAMPAIGN.parse().expect("in the campaign");
        let candidate = guichet_engine::Candidate {
            last_name: name.into(),
            first_name: "Camille".into(),
            email: format!("{name}@example.org"),
        };
        let dossier = state
            .engine
            .create_dossier(name, candidate, "en", now)
            .expect("dossier");
        let me = guichet_engine::Actor::new("candidate", name);
        let apply = guichet_engine::Command::Apply {
            formation: "master".into(),
        };
        let applied = state
            .engine
            .apply(&dossier.id, 1, &me, apply, now)
            .expect("apply");
        (dossier.id, applied)
    }

    /// A member of the [`REVIEWED`] procedure's staff, for every formation.
    fn staff_of_every_formation() -> Rights {
        Rights {
            roles: ["staff".to_owned()].into(),
            scope: ["*".to_owned()].into(),
            ..Rights::default()
        }
    }

    /// A view filtering on a piece's status reads each row's pieces, which
    /// the others skip.
    #[test]
    fn a_view_filters_on_a_piece_status() {
        let folder = tempfile::tempdir().expect("tempdir");
        let state = reviewed_server(folder.path());
        for name in ["durand", "martin"] {
            applied(&state, name);
        }
        let member = staff_of_every_formation();
        let selected = |status: &str| {
            let pairs = [("piece".to_owned(), status.to_owned())];
            let view = View::from_pairs(&state.engine.definition(), &pairs);
            let selection = select(&state, &member, &view, Some(50)).expect("selected");
            let places = select_in_order(&state, &member, &view).expect("selected");
            assert_eq!(places.count(), selection.total, "{status}");
            selection.total
        };
        assert_eq!(selected("pending"), 2);
        assert_eq!(selected("sent"), 0);
        assert_eq!(selected(""), 2, "no filter");
    }

    #[test]
    fn a_row_read_again_follows_its_candidature_while_the_member_sees_it() {
        let folder = tempfile::tempdir().expect("tempdir");
        let state = reviewed_server(folder.path());
        let engine = &state.engine;
        let now: jiff::Timestamp = IN_THE_CAMPAIGN.parse().expect("in the campaign");
        let (dossier_id, applied) = applied(&state, "camille");
        let me = guichet_engine::Actor::new("candidate", "camille");
        let staff = guichet_engine::Actor::new("staff", "claire");
        let candidature = applied.dossier.candidatures[0].id.clone();
        let transition = |id: &str| guichet_engine::Command::Transition {
            candidature: candidature.clone(),
            transition: id.into(),
            input: Default::default(),
        };
        let sent = engine
            .apply(&dossier_id, 2, &me, transition("transmit"), now)
            .expect("transmit");
        let member = staff_of_every_formation();
        let head = Rights {
            roles: ["head".to_owned()].into(),
            ..member.clone()
        };
        // The place an export took while the candidature was received.
        let indexed = engine.indexed(&sent.dossier, now).expect("indexed");
        let place = Place::kept(indexed.rows.into_iter().next().expect("a row"));
        let state_read = |rights: &Rights| {
            read_again(&state, rights, &place)
                .expect("read")
                .map(|row| row.state)
        };
        assert_eq!(state_read(&member).as_deref(), Some("received"), "as held");
        engine
            .apply(&dossier_id, 3, &staff, transition("review"), now)
            .expect("review");
        assert_eq!(
            state_read(&member).as_deref(),
            Some("reviewed"),
            "moved since: read from its dossier"
        );
        engine
            .apply(&dossier_id, 4, &staff, transition("close"), now)
            .expect("close");
        assert_eq!(
            state_read(&member),
            None,
            "moved where the member sees nothing"
        );
        assert_eq!(
            state_read(&head).as_deref(),
            Some("closed"),
            "seen by the head"
        );
    }
}
