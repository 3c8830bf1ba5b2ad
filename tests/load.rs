//! The load tool: the real `guichet` binary on a temporary data directory,
//! played like a campaign's last hour, with a bare axum "hello world" run in
//! the same invocation as the baseline.
//!
//! - `cargo test --test load` (part of every test run): a short run, a few
//!   candidates and a second per page; it fails if any request fails, never
//!   on timings.
//! - `cargo test --release --test load -- --full`: the measurement reported
//!   in `docs/performance.md` (the release server; 500 candidates, 50
//!   connections, ten seconds per page in five rounds). `--candidates N`,
//!   `--connections N`, `--seconds S` and `--rounds N` change it,
//!   `--arrivals S` and `--think S` the paced hour; `--pages TEXT` reads
//!   only the pages whose kind holds TEXT and plays no hour (e.g.
//!   `--pages section`, to profile one page: the server's process id is
//!   printed first, for `perf record -p`).
//!
//! The last hour is played twice, each time by candidates of their own: paced
//! (every candidate arrives within the first seconds and takes a person's
//! time between steps, all of them at it together), then all at once (every
//! step as soon as the last one is answered: the worst case).
//!
//! It prints, per kind of request: how many, the rate and the serving
//! process's processor time per request (for the pages read at full speed:
//! `/health`, home, the catalogue, a formation, the sign-in form, a
//! signed-in candidate's section and dashboard, and those of a candidate
//! who filled their dossier and applied to two formations, with a real
//! dossier's history of twenty-three events: their dashboard and their
//! first candidature), p50
//! and p99, the errors;
//! and the server's peak memory. The pages are read in rounds, the bare
//! server first in each: a page's share of the bare server's rate is the
//! median of its rounds' shares, each against the bare server's rate of the
//! same round, with their range (the machine's speed drifts over a run more
//! than a round lasts).
//!
//! Candidates sign up and activate their accounts over HTTP before anything
//! is measured (their sessions are the server's own); each comes from its own
//! address (`X-Forwarded-For`, the server trusting the loopback as its proxy),
//! as behind a real reverse proxy.

mod serving;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{header, Method, Request};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use serving::*;

type Http = Client<HttpConnector, Body>;

/// How big a run is.
struct Plan {
    candidates: usize,
    connections: usize,
    /// How long each page is read at full speed, in all…
    seconds: f64,
    /// …over this many rounds.
    rounds: usize,
    full: bool,
    /// Only the pages whose kind holds this text.
    pages: Option<String>,
    /// The paced hour: candidates arrive over this many seconds…
    arrivals: f64,
    /// …and take about this long between two steps.
    think: f64,
}

impl Plan {
    fn from_args() -> Plan {
        let args: Vec<String> = std::env::args().collect();
        let full = args.iter().any(|a| a == "--full");
        let number = |name: &str, short: f64, full_value: f64| -> f64 {
            args.iter()
                .position(|a| a == name)
                .and_then(|at| args.get(at + 1))
                .and_then(|v| v.parse().ok())
                .unwrap_or(if full { full_value } else { short })
        };
        Plan {
            candidates: number("--candidates", 4.0, 500.0) as usize,
            connections: number("--connections", 4.0, 50.0) as usize,
            seconds: number("--seconds", 0.5, 10.0),
            rounds: (number("--rounds", 1.0, 5.0) as usize).max(1),
            full,
            arrivals: number("--arrivals", 0.2, 10.0),
            think: number("--think", 0.02, 2.0),
            pages: args
                .iter()
                .position(|a| a == "--pages")
                .and_then(|at| args.get(at + 1).cloned()),
        }
    }
}

/// What each kind of request measured.
#[derive(Default)]
struct Measured {
    took: Vec<Duration>,
    errors: Vec<String>,
    /// For the pages read at full speed: each round's length, how many
    /// requests it answered, and the processor time the serving process
    /// used for them (where `/proc` said).
    rounds: Vec<(Duration, usize, Option<f64>)>,
}

impl Measured {
    /// Requests answered per second over every round.
    fn rate(&self) -> Option<f64> {
        let length: Duration = self.rounds.iter().map(|(length, ..)| *length).sum();
        let count: usize = self.rounds.iter().map(|(_, count, _)| count).sum();
        (!self.rounds.is_empty()).then(|| count as f64 / length.as_secs_f64())
    }

    /// The serving process's processor time per request over every round,
    /// in microseconds: unlike a rate, it holds when the machine is shared.
    fn processor_per_request(&self) -> Option<f64> {
        let used: f64 = self
            .rounds
            .iter()
            .map(|(.., used)| *used)
            .sum::<Option<f64>>()?;
        let count: usize = self.rounds.iter().map(|(_, count, _)| count).sum();
        (count > 0).then(|| used * 1e6 / count as f64)
    }

    /// Each round's rate.
    fn round_rates(&self) -> impl Iterator<Item = f64> + '_ {
        self.rounds
            .iter()
            .map(|(length, count, _)| *count as f64 / length.as_secs_f64())
    }
}

#[derive(Clone, Default)]
struct Record(Arc<Mutex<BTreeMap<String, Measured>>>);

impl Record {
    fn add(&self, kind: &str, took: Duration, error: Option<String>) {
        let mut all = self.0.lock().unwrap();
        let measured = all.entry(kind.to_owned()).or_default();
        measured.took.push(took);
        measured.errors.extend(error);
    }

    /// How many requests of `kind` were answered so far.
    fn count(&self, kind: &str) -> usize {
        self.0.lock().unwrap().get(kind).map_or(0, |m| m.took.len())
    }

    /// How many requests of the kinds starting with `prefix` were answered.
    fn count_of_kinds(&self, prefix: &str) -> usize {
        let all = self.0.lock().unwrap();
        all.iter()
            .filter(|(kind, _)| kind.starts_with(prefix))
            .map(|(_, m)| m.took.len())
            .sum()
    }

    fn round(&self, kind: &str, length: Duration, count: usize, processor: Option<f64>) {
        self.0
            .lock()
            .unwrap()
            .entry(kind.to_owned())
            .or_default()
            .rounds
            .push((length, count, processor));
    }

    fn errors(&self) -> Vec<String> {
        let all = self.0.lock().unwrap();
        all.iter()
            .flat_map(|(kind, m)| m.errors.iter().map(move |e| format!("{kind}: {e}")))
            .collect()
    }

    /// The table of figures; page rates also as a share of the bare
    /// server's: the median of the rounds' shares, with their range.
    fn print(&self) {
        let all = self.0.lock().unwrap();
        let bare = all.get("bare hello world");
        let share = |measured: &Measured| {
            let bare = bare?;
            if std::ptr::eq(measured, bare) {
                return Some("1.00".to_owned());
            }
            let mut shares: Vec<f64> = measured
                .round_rates()
                .zip(bare.round_rates())
                .map(|(rate, bare)| rate / bare)
                .collect();
            shares.sort_by(f64::total_cmp);
            let median = *shares.get(shares.len() / 2)?;
            Some(match (shares.first(), shares.last()) {
                (Some(low), Some(high)) if shares.len() > 1 => {
                    format!("{median:.2} ({low:.2}–{high:.2})")
                }
                _ => format!("{median:.2}"),
            })
        };
        println!("| request | count | req/s | share of bare | processor per request | p50 | p99 | errors |");
        println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        for (kind, measured) in all.iter() {
            let mut took = measured.took.clone();
            took.sort();
            let at = |q: f64| {
                took.get(((took.len() as f64 * q).ceil() as usize).saturating_sub(1))
                    .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
            };
            let per_second = measured.rate().map_or(String::new(), |r| format!("{r:.0}"));
            let share = share(measured).unwrap_or_default();
            let processor = measured
                .processor_per_request()
                .map_or(String::new(), |used| format!("{used:.0} µs"));
            println!(
                "| {kind} | {} | {per_second} | {share} | {processor} | {:.1} ms | {:.1} ms | {} |",
                took.len(),
                at(0.5),
                at(0.99),
                measured.errors.len()
            );
        }
    }
}

/// A browser: its cookies, its address.
struct Visitor {
    http: Http,
    base: String,
    cookies: BTreeMap<String, String>,
    address: String,
    /// Put before the kind of each request it records (the paced hour's).
    kinds: &'static str,
}

/// A response as the tool reads it.
struct Answer {
    status: u16,
    body: String,
}

impl Visitor {
    fn new(http: &Http, base: &str, number: usize) -> Visitor {
        Visitor {
            http: http.clone(),
            base: base.to_owned(),
            cookies: BTreeMap::new(),
            address: format!(
                "10.{}.{}.{}",
                number / 62500,
                number / 250 % 250,
                number % 250 + 1
            ),
            kinds: "",
        }
    }

    async fn send(
        &mut self,
        method: Method,
        path: &str,
        content_type: Option<String>,
        body: Vec<u8>,
    ) -> Result<Answer, String> {
        let url = if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{path}", self.base)
        };
        let cookies: Vec<String> = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let mut request = Request::builder()
            .method(method)
            .uri(url)
            .header("x-forwarded-for", &self.address)
            .header(header::COOKIE, cookies.join("; "));
        if let Some(content_type) = content_type {
            request = request.header(header::CONTENT_TYPE, content_type);
        }
        let request = request.body(Body::from(body)).map_err(|e| e.to_string())?;
        let response = self
            .http
            .request(request)
            .await
            .map_err(|e| e.to_string())?;
        for cookie in response.headers().get_all(header::SET_COOKIE) {
            let text = cookie.to_str().unwrap_or_default();
            let pair = text.split(';').next().unwrap_or_default();
            if let Some((name, value)) = pair.split_once('=') {
                if value.is_empty() || text.contains("Max-Age=0") {
                    self.cookies.remove(name);
                } else {
                    self.cookies.insert(name.to_owned(), value.to_owned());
                }
            }
        }
        let status = response.status().as_u16();
        let bytes = axum::body::to_bytes(Body::new(response.into_body()), usize::MAX)
            .await
            .map_err(|e| e.to_string())?;
        Ok(Answer {
            status,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        })
    }

    /// `GET path`, timed as `kind`, expecting `expected`.
    async fn get(
        &mut self,
        record: &Record,
        kind: &str,
        path: &str,
        expected: u16,
    ) -> Option<Answer> {
        let start = Instant::now();
        let answer = self.send(Method::GET, path, None, Vec::new()).await;
        self.checked(record, kind, start, answer, expected, path)
    }

    /// Posts `fields` (the CSRF token first), timed as `kind`, expecting a redirection.
    async fn post(
        &mut self,
        record: &Record,
        kind: &str,
        path: &str,
        csrf: &str,
        fields: &[(&str, &str)],
    ) -> Option<Answer> {
        self.post_expecting(record, kind, path, csrf, fields, 303)
            .await
    }

    /// [`Visitor::post`], expecting `expected`.
    async fn post_expecting(
        &mut self,
        record: &Record,
        kind: &str,
        path: &str,
        csrf: &str,
        fields: &[(&str, &str)],
        expected: u16,
    ) -> Option<Answer> {
        let mut all = vec![("csrf", csrf)];
        all.extend_from_slice(fields);
        let body = serde_urlencoded::to_string(&all).unwrap_or_default();
        let start = Instant::now();
        let form = Some("application/x-www-form-urlencoded".to_owned());
        let answer = self.send(Method::POST, path, form, body.into_bytes()).await;
        self.checked(record, kind, start, answer, expected, path)
    }

    /// Reads the confirmation page at `path` (a signed-in page), then
    /// confirms with its token, timed as `kind`.
    async fn confirm(&mut self, record: &Record, kind: &str, path: &str) -> Option<Answer> {
        let page = self.get(record, "page (signed in)", path, 200).await?;
        self.post(record, kind, path, &csrf(&page), &[]).await
    }

    /// Uploads `bytes` as a browser's form does, timed as `upload`.
    async fn upload(
        &mut self,
        record: &Record,
        path: &str,
        csrf: &str,
        bytes: &[u8],
    ) -> Option<Answer> {
        let mut body = Vec::with_capacity(bytes.len() + 512);
        body.extend_from_slice(
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{csrf}\r\n--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"fichier\"; filename=\"piece.pdf\"\r\nContent-Type: application/pdf\r\n\r\n").as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
        let start = Instant::now();
        let multipart = Some(format!("multipart/form-data; boundary={BOUNDARY}"));
        let answer = self.send(Method::POST, path, multipart, body).await;
        self.checked(record, "upload 1 MB piece", start, answer, 303, path)
    }

    /// [`checked`], the kind recorded under this visitor's prefix.
    fn checked(
        &self,
        record: &Record,
        kind: &str,
        start: Instant,
        answer: Result<Answer, String>,
        expected: u16,
        path: &str,
    ) -> Option<Answer> {
        let kind = format!("{}{kind}", self.kinds);
        checked(record, &kind, start, answer, expected, path)
    }
}

/// Records the answer as `kind`; the answer if it is the one expected.
fn checked(
    record: &Record,
    kind: &str,
    start: Instant,
    answer: Result<Answer, String>,
    expected: u16,
    path: &str,
) -> Option<Answer> {
    let took = start.elapsed();
    match answer {
        Ok(answer) if answer.status == expected => {
            record.add(kind, took, None);
            Some(answer)
        }
        Ok(answer) => {
            let start_of_body: String = answer.body.chars().take(300).collect();
            record.add(
                kind,
                took,
                Some(format!("{path}: {} {start_of_body}", answer.status)),
            );
            None
        }
        Err(error) => {
            record.add(kind, took, Some(format!("{path}: {error}")));
            None
        }
    }
}

/// The CSRF token of a page.
fn csrf(answer: &Answer) -> String {
    csrf_of(&answer.body)
}

/// The size of a piece the candidates upload.
const PIECE_BYTES: usize = 1_000_000;

/// A real PDF of about [`PIECE_BYTES`], different for each `seed`.
///
/// One PDF is made once, its seed written with a fixed width; each piece
/// is a copy with its own seed written over it. Made anew for each piece,
/// it took the load tool 3 ms of its runtime's thread per upload, which
/// held back the answers it was timing.
fn piece(seed: usize) -> Vec<u8> {
    const MARK: &str = "(Piece ";
    static MODEL: std::sync::OnceLock<(Vec<u8>, usize)> = std::sync::OnceLock::new();
    let (model, seed_at) = MODEL.get_or_init(|| {
        let line = format!("% {}\n", "0123456789abcdef".repeat(4));
        let mut content = format!("BT /F1 24 Tf 72 760 Td {MARK}{:020}) Tj ET\n", 0);
        content.push_str(&line.repeat(PIECE_BYTES.div_ceil(line.len())));
        content.truncate(PIECE_BYTES);
        let pdf = pdf_of_contents(&[content]);
        let mark = pdf.windows(MARK.len()).position(|w| w == MARK.as_bytes());
        let at = mark.expect("the seed's place") + MARK.len();
        (pdf, at)
    });
    let mut pdf = model.clone();
    pdf[*seed_at..seed_at + 20].copy_from_slice(format!("{seed:020}").as_bytes());
    pdf
}

/// Requests `path` from `connections` tasks for `seconds`, as `kind`.
async fn pages_at_full_speed(
    record: &Record,
    visitor: &Visitor,
    kind: &str,
    path: &str,
    (plan, serving): (&Plan, u32),
) {
    let bare = kind.starts_with("bare");
    if !bare
        && plan
            .pages
            .as_ref()
            .is_some_and(|only| !kind.contains(only.as_str()))
    {
        return;
    }
    let until = Instant::now() + Duration::from_secs_f64(plan.seconds / plan.rounds as f64);
    let started = Instant::now();
    let before = record.count(kind);
    let processor = processor_seconds(serving);
    let tasks: Vec<_> = (0..plan.connections)
        .map(|_| {
            let (record, kind, path) = (record.clone(), kind.to_owned(), path.to_owned());
            let mut visitor = Visitor {
                http: visitor.http.clone(),
                base: visitor.base.clone(),
                cookies: visitor.cookies.clone(),
                address: visitor.address.clone(),
                kinds: visitor.kinds,
            };
            tokio::spawn(async move {
                while Instant::now() < until {
                    visitor.get(&record, &kind, &path, 200).await;
                }
            })
        })
        .collect();
    for task in tasks {
        let _ = task.await;
    }
    let answered = record.count(kind) - before;
    let used = processor.zip(processor_seconds(serving));
    let used = used.map(|(before, now)| now - before);
    record.round(kind, started.elapsed(), answered, used);
}

/// How long a person takes between two steps: `think` give or take a half,
/// the same for the same candidate and step in every run.
async fn think(think: Option<Duration>, number: usize, step: usize) {
    if let Some(think) = think {
        let share = 0.5 + ((number * 7 + step * 3) % 10) as f64 / 10.0;
        tokio::time::sleep(think.mul_f64(share)).await;
    }
}

/// A candidate's last hour: their dashboard, a section saved, applying,
/// five 1 MB pieces, transmitting; `pace`, a person's time between steps
/// (none: as fast as the server answers).
async fn deadline_hour(record: Record, mut me: Visitor, number: usize, pace: Option<Duration>) {
    let page = "page (signed in)";
    let mut step = 0;
    let mut pause = || {
        step += 1;
        think(pace, number, step)
    };
    if me
        .get(&record, page, "/tableau-de-bord", 200)
        .await
        .is_none()
    {
        return;
    }
    pause().await;
    let Some(form) = me.get(&record, page, "/dossier/coordonnees", 200).await else {
        return;
    };
    let email = email_of(number);
    let address = format!("{number} rue Sainte");
    let fields = [
        ("adresse", address.as_str()),
        ("code_postal", "13001"),
        ("commune", "Marseille"),
        ("pays", "FR"),
        ("telephone", "+33 6 12 34 56 78"),
        ("email", email.as_str()),
    ];
    let token = csrf(&form);
    pause().await;
    me.post(
        &record,
        "save a section",
        "/dossier/coordonnees",
        &token,
        &fields,
    )
    .await;
    let applying = "/formations/m1-set/candidater";
    pause().await;
    if me.confirm(&record, "apply", applying).await.is_none() {
        return;
    }
    pause().await;
    let Some(candidature) = me.get(&record, page, "/candidatures/c1", 200).await else {
        return;
    };
    let token = csrf(&candidature);
    for (n, name) in OSU_PIECES.iter().enumerate() {
        let bytes = piece(number * 10 + n);
        pause().await;
        me.upload(
            &record,
            &format!("/candidatures/c1/pieces/{name}"),
            &token,
            &bytes,
        )
        .await;
    }
    let declare = "/candidatures/c1/pieces/non_francophone/declarer_non_concerne";
    pause().await;
    if candidature.body.contains(declare) {
        me.post(&record, "save a section", declare, &token, &[])
            .await;
    }
    pause().await;
    me.confirm(&record, "transmit", "/candidatures/c1/transmettre")
        .await;
}

/// A gestionnaire lists the received candidatures of a formation and opens
/// the first, `rounds` times.
async fn staff_rounds(record: Record, mut staff: Visitor, rounds: usize) {
    for _ in 0..rounds {
        let list = staff
            .get(
                &record,
                "staff list (filtered)",
                "/staff?formation=m1-set&state=receptionne",
                200,
            )
            .await;
        // The rows' links, as the page escapes them.
        let first = list.and_then(|list| {
            let start = "href=\"&#x2f;staff&#x2f;candidatures&#x2f;";
            let at = list.body.find(start)? + "href=\"".len();
            let escaped = list.body[at..].split('"').next()?;
            Some(escaped.replace("&#x2f;", "/").replace("&amp;", "&"))
        });
        if let Some(path) = first {
            staff
                .get(&record, "staff opens a candidature", &path, 200)
                .await;
        } else {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// The processor time process `pid` used so far, in seconds, from `/proc`
/// (which counts it in hundredths of a second on Linux).
fn processor_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The name, in parentheses, may hold spaces: the fields follow it.
    let fields: Vec<&str> = stat[stat.rfind(')')? + 1..].split_whitespace().collect();
    let ticks = |at: usize| fields.get(at)?.parse::<f64>().ok();
    // utime and stime, the 14th and 15th fields of the line.
    Some((ticks(11)? + ticks(12)?) / 100.0)
}

/// What the server's processor did during a part of the run: its time,
/// and per request of the kinds starting with `prefix`.
fn processor_used(record: &Record, pid: u32, since: Option<f64>, prefix: &str) -> String {
    match (since, processor_seconds(pid)) {
        (Some(before), Some(now)) => {
            let requests = record.count_of_kinds(prefix).max(1);
            format!(
                "the server using {:.1} s of processor ({:.2} ms per request)",
                now - before,
                (now - before) * 1e3 / requests as f64
            )
        }
        _ => "the server's processor time unknown".to_owned(),
    }
}

/// The number a line of process `pid`'s `/proc` status starts with `field`
/// (`VmHWM:`, its peak resident memory in kB; `Threads:`).
fn status_number(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The most threads process `pid` runs at once, sampled every 100 ms
/// until the sampler is dropped (the kernel keeps no peak of them): the
/// blocking pool grows under a burst, and each thread keeps its own
/// allocator's cache.
struct ThreadsSampled {
    most: Arc<std::sync::atomic::AtomicU64>,
    stop: Arc<std::sync::atomic::AtomicBool>,
}

impl ThreadsSampled {
    fn start(pid: u32) -> Self {
        use std::sync::atomic::Ordering::Relaxed;
        let sampled = ThreadsSampled {
            most: Default::default(),
            stop: Default::default(),
        };
        let (most, stop) = (Arc::clone(&sampled.most), Arc::clone(&sampled.stop));
        std::thread::spawn(move || {
            while !stop.load(Relaxed) {
                if let Some(threads) = status_number(pid, "Threads:") {
                    most.fetch_max(threads, Relaxed);
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        sampled
    }

    fn most(&self) -> u64 {
        self.most.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl Drop for ThreadsSampled {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Signs up `count` candidates and activates them (links from the log),
/// eight at a time.
async fn sign_up(http: &Http, base: &str, log: &Path, count: usize) -> Vec<Visitor> {
    let setup = Record::default();
    let (from, at) = (http.clone(), base.to_owned());
    let signing_up = setup.clone();
    let signed_up = eight_at_a_time((0..count).collect(), move |number| {
        let (setup, mut visitor) = (signing_up.clone(), Visitor::new(&from, &at, number));
        async move {
            if let Some(form) = visitor.get(&setup, "setup", "/inscription", 200).await {
                let email = email_of(number);
                let fields = [
                    ("last_name", "Durand"),
                    ("first_name", "Camille"),
                    ("email", email.as_str()),
                ];
                let token = csrf(&form);
                visitor
                    .post_expecting(&setup, "setup", "/inscription", &token, &fields, 200)
                    .await;
            }
            (number, visitor)
        }
    })
    .await;
    // The mails go out after the answers, from the server's mail worker:
    // the log is read again until it holds every link, or for 30 s.
    let numbers: Vec<usize> = signed_up.iter().map(|(number, _)| *number).collect();
    let waiting = Instant::now();
    let mut links = activation_links(log, &numbers);
    while links.iter().any(Option::is_none) && waiting.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(100)).await;
        links = activation_links(log, &numbers);
    }
    let activating = setup.clone();
    let with_links = signed_up.into_iter().zip(links).collect();
    let activated = eight_at_a_time(with_links, move |((number, mut visitor), link)| {
        let email = email_of(number);
        let setup = activating.clone();
        async move {
            let Some(link) = link else {
                setup.add(
                    "setup",
                    Duration::ZERO,
                    Some(format!("no link for {email}")),
                );
                return visitor;
            };
            if let Some(form) = visitor.get(&setup, "setup", &link, 200).await {
                let password = [
                    ("password", "Calanques-de-Sormiou-7"),
                    ("password_confirm", "Calanques-de-Sormiou-7"),
                ];
                let token = csrf(&form);
                visitor
                    .post(&setup, "setup", &link, &token, &password)
                    .await;
            }
            visitor
        }
    })
    .await;
    let errors = setup.errors();
    assert!(errors.is_empty(), "signing up: {errors:#?}");
    activated
}

/// `visitor`, having filled the dossier as a candidate does over the weeks
/// before a deadline: each profile section saved, some of them corrected,
/// three years of study and an internship, two formations applied to, one
/// candidature's pieces uploaded (one replaced) and the other's
/// complementary form answered twice. Twenty-three events: a real
/// dossier's history, whose latest the dashboard shows.
async fn applied(mut visitor: Visitor) -> Visitor {
    let setup = Record::default();
    let kind = "setup";
    let Some(page) = visitor.get(&setup, kind, "/dossier/etat_civil", 200).await else {
        panic!("the first section: {:#?}", setup.errors());
    };
    let token = csrf(&page);
    let identity = [
        ("civilite", "mme"),
        ("nom_naissance", "Martin"),
        ("prenoms", "Alex Marie"),
        ("date_naissance", "2001-04-12"),
        ("commune_naissance", "Marseille"),
        ("pays_naissance", "FR"),
        ("nationalite", "FR"),
    ];
    let address = [
        ("adresse", "12 rue Sainte"),
        ("code_postal", "13001"),
        ("commune", "Marseille"),
        ("pays", "FR"),
        ("email", "alex.martin@example.org"),
    ];
    let years = [
        ("2021", "l1", "L1, Sciences de la Terre"),
        ("2022", "l2", "L2, Sciences de la Terre"),
        ("2023", "l3", "L3, Sciences de la Terre"),
    ];
    let mut saves: Vec<(&str, Vec<(&str, &str)>)> = vec![
        ("/dossier/etat_civil", identity.to_vec()),
        (
            "/dossier/etat_civil",
            [identity.as_slice(), &[("ine", "123456789AB")]].concat(),
        ),
        (
            "/dossier/coordonnees",
            [address.as_slice(), &[("telephone", "06 12 34 56 78")]].concat(),
        ),
        (
            "/dossier/coordonnees",
            [address.as_slice(), &[("telephone", "+33 6 12 34 56 78")]].concat(),
        ),
        (
            "/dossier/baccalaureat",
            vec![
                ("situation", "bac_francais"),
                ("annee", "2021"),
                ("serie", "GEN"),
                ("mention", "bien"),
                ("commune", "13001"),
                ("etablissement", "aix-cezanne"),
            ],
        ),
    ];
    for (year, level, title) in years {
        let entry = vec![
            ("annee", year),
            ("niveau", level),
            ("etablissement", "Université de Toulon"),
            ("pays", "FR"),
            ("intitule", title),
            ("obtenu", if level == "l3" { "en_cours" } else { "oui" }),
        ];
        saves.push(("/dossier/cursus_externe/nouveau", entry));
    }
    // The third year passed since it was first entered.
    saves.push((
        "/dossier/cursus_externe/3",
        vec![
            ("annee", "2023"),
            ("niveau", "l3"),
            ("etablissement", "Université de Toulon"),
            ("pays", "FR"),
            ("intitule", "L3, Sciences de la Terre"),
            ("obtenu", "oui"),
        ],
    ));
    saves.push((
        "/dossier/stages/nouveau",
        vec![
            ("debut", "2024-06-03"),
            ("fin", "2024-07-26"),
            ("employeur", "Observatoire de Haute-Provence"),
            ("fonction", "Stagiaire"),
            ("quotite", "plein"),
        ],
    ));
    for (path, fields) in &saves {
        visitor.post(&setup, kind, path, &token, fields).await;
    }

    // The first formation: its pieces, one of them sent again.
    visitor
        .confirm(&setup, kind, "/formations/m1-set/candidater")
        .await;
    for (n, name) in OSU_PIECES.iter().enumerate() {
        let path = format!("/candidatures/c1/pieces/{name}");
        visitor
            .upload(&setup, &path, &token, &piece(900_000 + n))
            .await;
    }
    let concerned = "/candidatures/c1/pieces/non_francophone/declarer_non_concerne";
    visitor.post(&setup, kind, concerned, &token, &[]).await;
    let letter = "/candidatures/c1/pieces/lettre_motivation";
    visitor
        .post(&setup, kind, &format!("{letter}/retirer"), &token, &[])
        .await;
    visitor
        .upload(&setup, letter, &token, &piece(900_010))
        .await;

    // The second formation: its complementary form, answered, then completed.
    visitor
        .confirm(&setup, kind, "/formations/m1-oceanographie/candidater")
        .await;
    let form = "/candidatures/c2/formulaire-complementaire";
    let plan = "Océanographie physique, puis une thèse";
    visitor
        .post(&setup, kind, form, &token, &[("projet", plan)])
        .await;
    visitor
        .post(
            &setup,
            kind,
            form,
            &token,
            &[("projet", plan), ("programmation", "python")],
        )
        .await;
    let whole = "/tableau-de-bord/historique";
    let history = visitor.get(&setup, kind, whole, 200).await;
    let errors = setup.errors();
    assert!(errors.is_empty(), "filling and applying: {errors:#?}");
    let history = history.map_or(0, |page| page.body.matches("<li><time ").count());
    println!("the applicant's history: {history} events");
    visitor
}

/// The activation link the server's log holds for each candidate of
/// `numbers`, in their order.
fn activation_links(log: &Path, numbers: &[usize]) -> Vec<Option<String>> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    numbers
        .iter()
        .map(|&number| {
            let email = email_of(number);
            text.lines()
                .filter(|line| line.contains(&email))
                .find_map(|line| {
                    let at = line.find("/activation/")?;
                    let path = line[at..]
                        .split(|c: char| !c.is_ascii_alphanumeric() && !"/-".contains(c))
                        .next()?;
                    Some(path.to_owned())
                })
        })
        .collect()
}

/// Runs `work` on each of `items`, eight at a time; the results in order.
async fn eight_at_a_time<I, T, Work, Done>(items: Vec<I>, work: Work) -> Vec<T>
where
    Work: Fn(I) -> Done,
    Done: std::future::Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let mut results = Vec::with_capacity(items.len());
    let mut items = items.into_iter().peekable();
    while items.peek().is_some() {
        let group: Vec<_> = items
            .by_ref()
            .take(8)
            .map(|item| tokio::spawn(work(item)))
            .collect();
        for task in group {
            results.push(task.await.expect("a setup task"));
        }
    }
    results
}

/// The address of candidate `number`.
fn email_of(number: usize) -> String {
    format!("candidat{number}@example.org")
}

/// The bare server's process, stopped when the run ends, or fails.
struct Bare(std::process::Child);

impl Drop for Bare {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The bare server: "hello world" on `port`, axum on tokio's default runtime.
fn bare_server(port: u16) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let app = axum::Router::new().route("/", axum::routing::get(|| async { "Hello, World!" }));
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap();
        axum::serve(listener, app).await.unwrap();
    });
}

/// What the run left in the store: each tree's entries and bytes (events
/// per event), and the files' size on disk.
fn print_store_sizes(path: &std::path::Path) {
    let store = guichet_engine::SledStore::open(path).unwrap();
    let mut kept = 0;
    for tree in store.sizes().unwrap() {
        if tree.entries == 0 {
            continue;
        }
        kept += tree.bytes;
        println!(
            "store tree {}: {} entries, {:.1} MB ({} bytes each)",
            tree.name,
            tree.entries,
            tree.bytes as f64 / 1e6,
            tree.bytes / tree.entries
        );
    }
    let disk = store.size_on_disk().unwrap();
    println!(
        "store on disk: {:.1} MB for {:.1} MB kept ({:.1} x)",
        disk as f64 / 1e6,
        kept as f64 / 1e6,
        disk as f64 / kept.max(1) as f64
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == "--bare-server") {
        bare_server(args[at + 1].parse().unwrap());
        return;
    }
    let plan = Plan::from_args();
    let folder = tempfile::tempdir().unwrap();
    let data = folder.path().join("data");
    let definition = osu_copy(&folder.path().join("definition"), open_campaign);
    let staff_link = add_staff_on(
        &definition,
        &data,
        "gestion@osu.example",
        "gestionnaire",
        "*",
        false,
    );
    let log_path = folder.path().join("guichet.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let server = Guichet::launch_on(
        &definition,
        &data,
        None,
        &["--trusted-proxy", "127.0.0.1"],
        log,
    );
    let server_pid = server.process.id();
    println!("server process: {server_pid}");
    let bare_port = free_port();
    let bare = Bare(
        std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--bare-server", &bare_port.to_string()])
            .spawn()
            .unwrap(),
    );
    let bare_pid = bare.0.id();
    wait_for("the bare server", || {
        std::net::TcpStream::connect(("127.0.0.1", bare_port)).is_ok()
    });

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let record = Record::default();
    let base = server.url("");
    let threads = ThreadsSampled::start(server_pid);
    runtime.block_on(async {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let http: Http = Client::builder(hyper_util::rt::TokioExecutor::new())
            .pool_max_idle_per_host(2 * plan.candidates.max(plan.connections))
            // The server closes a connection idle for 10 s (its header
            // timeout): a connection is not reused that close to it, or the
            // request may cross the server's close (a browser would retry).
            .pool_idle_timeout(Duration::from_secs(5))
            .pool_timer(hyper_util::rt::TokioTimer::new())
            .build(connector);
        // Half the accounts for the paced hour, half for the burst, and one
        // who filled their dossier and applied: the pages a candidature adds.
        let accounts = 2 * plan.candidates.max(1) + 1;
        let mut visitors = sign_up(&http, &base, &log_path, accounts).await;
        let applicant = applied(visitors.pop().expect("an account")).await;
        let paced: Vec<Visitor> = visitors.split_off(plan.candidates.max(1));

        // Pages read at full speed, in rounds, the bare server first in each.
        let bare_visitor = Visitor::new(&http, &format!("http://127.0.0.1:{bare_port}"), 0);
        let anonymous = Visitor::new(&http, &base, 0);
        let signed_in = &visitors[0];
        let pages = [
            ("bare hello world", "/", &bare_visitor),
            ("page: /health", "/health", &anonymous),
            ("page: home", "/", &anonymous),
            ("page: catalogue", "/formations", &anonymous),
            ("page: a formation", "/formations/m1-set", &anonymous),
            ("page: sign-in", "/connexion", &anonymous),
            ("page: a section, signed in", "/dossier/etat_civil", signed_in),
            ("page: the dashboard, signed in", "/tableau-de-bord", signed_in),
            ("page: the dashboard, having applied", "/tableau-de-bord", &applicant),
            ("page: a candidature, signed in", "/candidatures/c1", &applicant),
        ];
        for _ in 0..plan.rounds {
            for (kind, path, visitor) in pages {
                let serving = if visitor.base == base { server_pid } else { bare_pid };
                pages_at_full_speed(&record, visitor, kind, path, (&plan, serving)).await;
            }
        }

        // A page profiled alone: no hour after it.
        if plan.pages.is_some() {
            return;
        }

        // The last hour: every candidate at once, and two gestionnaires.
        let mut staff = Visitor::new(&http, &base, 60000);
        let path = &staff_link[staff_link.find("/staff/").unwrap()..];
        let form = staff
            .get(&record, "setup", path, 200)
            .await
            .expect("the staff's password page");
        let password = [
            ("password", "Vieux-Port-Marseille-13"),
            ("password_confirm", "Vieux-Port-Marseille-13"),
        ];
        staff
            .post(&record, "setup", path, &csrf(&form), &password)
            .await;
        // The last hour as people live it: every candidate has a session
        // and arrives within the first seconds, then takes a person's time
        // between steps; all of them are at it together.
        let started = Instant::now();
        let processor = processor_seconds(server_pid);
        let think = Some(Duration::from_secs_f64(plan.think));
        let arrival = Duration::from_secs_f64(plan.arrivals / paced.len() as f64);
        let mut tasks = Vec::new();
        for (number, mut visitor) in paced.into_iter().enumerate() {
            visitor.kinds = "paced hour: ";
            let record = record.clone();
            tasks.push(tokio::spawn(async move {
                tokio::time::sleep(arrival * number as u32).await;
                deadline_hour(record, visitor, number, think).await
            }));
        }
        for task in tasks {
            let _ = task.await;
        }
        println!(
            "paced hour: {} candidates arriving over {:.1} s, about {:.1} s between steps, in {:.1} s, {}",
            plan.candidates,
            plan.arrivals,
            plan.think,
            started.elapsed().as_secs_f64(),
            processor_used(&record, server_pid, processor, "paced hour: "),
        );

        // The same hour with every candidate at once, as fast as the server
        // answers: the worst case.
        let started = Instant::now();
        let processor = processor_seconds(server_pid);
        let mut tasks = Vec::new();
        for (number, mut visitor) in visitors.into_iter().enumerate() {
            visitor.kinds = "all at once: ";
            tasks.push(tokio::spawn(deadline_hour(
                record.clone(),
                visitor,
                number,
                None,
            )));
        }
        let rounds = if plan.full { 40 } else { 3 };
        for n in 0..2 {
            let colleague = Visitor {
                http: http.clone(),
                base: base.clone(),
                cookies: staff.cookies.clone(),
                address: format!("192.168.0.{}", n + 1),
                kinds: "",
            };
            tasks.push(tokio::spawn(staff_rounds(
                record.clone(),
                colleague,
                rounds,
            )));
        }
        for task in tasks {
            let _ = task.await;
        }
        println!(
            "the hour all at once: {} candidates in {:.1} s, {}",
            plan.candidates,
            started.elapsed().as_secs_f64(),
            processor_used(&record, server_pid, processor, "all at once: "),
        );
    });
    let peak = status_number(server_pid, "VmHWM:");
    let bare_peak = status_number(bare.0.id(), "VmHWM:");
    drop(bare);
    println!();
    record.print();
    println!();
    println!(
        "server peak memory (VmHWM): {} MB; bare server: {} MB",
        peak.map_or("?".into(), |kb| format!("{:.0}", kb as f64 / 1024.0)),
        bare_peak.map_or("?".into(), |kb| format!("{:.0}", kb as f64 / 1024.0)),
    );
    println!("server threads at the most: {}", threads.most());
    let errors = record.errors();
    server.stop();
    print_store_sizes(&data.join("store"));
    assert!(
        errors.is_empty(),
        "{} requests failed: {:#?}",
        errors.len(),
        &errors[..errors.len().min(20)]
    );
}
