//! What the server tests share: the real `guichet` binary on a free loopback
//! port, a real SMTP server (aiosmtpd), a cookie-keeping HTTP client, and
//! copies of the OSU definition.
#![allow(dead_code)] // each test crate uses its own part of it

use guichet_engine::{
    Actor, Candidate, Command as EngineCommand, Definition, Engine, FileRef, SledStore,
};
use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

// The engine tests' helpers, for what both kinds of test share.
#[path = "../support/mod.rs"]
mod support;
pub use support::OSU_PIECES;

pub fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn wait_for(what: &str, mut ready: impl FnMut() -> bool) {
    let started = Instant::now();
    while !ready() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A real SMTP server writing every mail it accepts into a Maildir.
pub struct SmtpServer {
    pub process: Child,
    pub port: u16,
    pub maildir: PathBuf,
}

/// aiosmtpd's Maildir server on the port given (0: one the system
/// chooses), which it announces once it listens.
const SMTP_SERVER: &str = r#"
import asyncio, sys
from aiosmtpd.handlers import Mailbox
from aiosmtpd.smtp import SMTP

async def serve(port, maildir):
    handler = Mailbox(maildir)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(handler), '127.0.0.1', port)
    print('listening on port', server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()

asyncio.run(serve(int(sys.argv[1]), sys.argv[2]))
"#;

impl SmtpServer {
    /// A server on a port the system chooses (a port found free here and
    /// bound later could be taken meanwhile by a test running beside).
    pub fn start(maildir: &Path) -> Self {
        Self::start_on(0, maildir)
    }

    /// A server on `port`, for a test that needs it to come back on the
    /// same one.
    pub fn start_on(port: u16, maildir: &Path) -> Self {
        let mut process = Command::new("python3")
            .args(["-c", SMTP_SERVER, &port.to_string()])
            .arg(maildir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 with aiosmtpd (installed by scripts/test.sh) starts");
        let port = announced_port(&mut process, Log::Discarded, "listening on port ");
        Self {
            process,
            port,
            maildir: maildir.to_owned(),
        }
    }

    /// The mails received so far, decoded by Python's `email` package.
    pub fn received(&self) -> Vec<Value> {
        let new = self.maildir.join("new");
        let Ok(entries) = std::fs::read_dir(&new) else {
            return Vec::new();
        };
        let mut files: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).collect();
        files.sort();
        files.iter().map(|file| decode(file)).collect()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

/// Subject, recipients, Message-ID, text and HTML parts of a mail file.
pub fn decode(file: &Path) -> Value {
    let script = r#"
import email, email.policy, json, sys
message = email.message_from_binary_file(open(sys.argv[1], 'rb'), policy=email.policy.default)
text = message.get_body(('plain',))
html = message.get_body(('html',))
print(json.dumps({
    'subject': str(message['subject']), 'to': str(message['to']), 'from': str(message['from']),
    'message_id': str(message['message-id']),
    'text': text.get_content() if text else None, 'html': html.get_content() if html else None,
    'attachments': [
        {'filename': part.get_filename(), 'content_type': part.get_content_type(), 'hex': part.get_content().hex()}
        for part in message.iter_attachments()
    ],
}))
"#;
    let output = Command::new("python3")
        .args(["-c", script])
        .arg(file)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// Where a server's log goes.
pub enum Log {
    Discarded,
    Into(std::fs::File),
}

impl From<std::fs::File> for Log {
    fn from(file: std::fs::File) -> Self {
        Self::Into(file)
    }
}

/// The port `process` says it listens on, in the line of its standard
/// output where `before_port` comes just before the port's digits; its
/// output goes on into `log` as it comes. Panics if it stops, or says
/// nothing of it within a minute.
pub fn announced_port(process: &mut Child, log: Log, before_port: &'static str) -> u16 {
    try_announced_port(process, log, before_port)
        .unwrap_or_else(|why| panic!("stopped or hung before listening: {why}"))
}

/// [`announced_port`], or why there is none: the process, killed if it
/// still runs, and how it ended.
pub fn try_announced_port(
    process: &mut Child,
    log: Log,
    before_port: &'static str,
) -> Result<u16, String> {
    let output = process.stdout.take().expect("a piped standard output");
    let (port, announced) = mpsc::channel();
    std::thread::spawn(move || {
        let mut sink: Box<dyn Write + Send> = match log {
            Log::Discarded => Box::new(std::io::sink()),
            Log::Into(file) => Box::new(file),
        };
        let mut output = BufReader::new(output);
        let mut line = String::new();
        while output.read_line(&mut line).unwrap_or(0) > 0 {
            let _ = sink.write_all(line.as_bytes());
            if let Some((_, after)) = line.split_once(before_port) {
                let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
                if let Ok(bound) = digits.parse::<u16>() {
                    let _ = port.send(bound);
                }
            }
            line.clear();
        }
    });
    match announced.recv_timeout(Duration::from_secs(60)) {
        Ok(port) => Ok(port),
        Err(_) => {
            let _ = process.kill();
            Err(format!("{:?}", process.wait()))
        }
    }
}

/// What `guichet serve` writes, once it listens, just before its port.
pub const SERVING_ON: &str = " serving address=127.0.0.1:";

/// The `guichet serve` process.
pub struct Guichet {
    pub process: Child,
    pub port: u16,
}

impl Guichet {
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn start(data: &Path, smtp: Option<u16>) -> Self {
        Self::launch(data, smtp, &[], Log::Discarded)
    }

    pub fn launch(data: &Path, smtp: Option<u16>, options: &[&str], log: impl Into<Log>) -> Self {
        let definition = repository().join("definitions/osu-pytheas.yaml");
        Self::launch_on(&definition, data, smtp, options, log)
    }

    pub fn launch_on(
        definition: &Path,
        data: &Path,
        smtp: Option<u16>,
        options: &[&str],
        log: impl Into<Log>,
    ) -> Self {
        Self::launch_all(&[definition], data, smtp, options, log)
    }

    /// A server of every procedure of `definitions`, on a port the system
    /// chooses: a port found free here and bound later by the server could
    /// be taken meanwhile by a test running beside, whose server would then
    /// answer this one's requests.
    pub fn launch_all(
        definitions: &[&Path],
        data: &Path,
        smtp: Option<u16>,
        options: &[&str],
        log: impl Into<Log>,
    ) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_guichet"));
        command
            .current_dir(repository())
            .arg("serve")
            .args(definitions)
            .args(["--addr", "127.0.0.1:0"])
            .arg("--data")
            .arg(data)
            .args(options)
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        if let Some(smtp) = smtp {
            command.args(["--smtp", &format!("smtp://127.0.0.1:{smtp}")]);
        }
        let mut process = command.spawn().unwrap();
        let port = announced_port(&mut process, log.into(), SERVING_ON);
        let server = Self { process, port };
        wait_for("the server", || server.get("/health", &[]).0 == 200);
        server
    }

    pub fn get(
        &self,
        path: &str,
        headers: &[(&str, &str)],
    ) -> (u16, Vec<(String, String)>, String) {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let mut request = agent.get(&format!("http://127.0.0.1:{}{path}", self.port));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        match request.call() {
            Ok(mut response) => {
                let headers = response
                    .headers()
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_owned()))
                    .collect();
                let status = response.status().as_u16();
                (
                    status,
                    headers,
                    response.body_mut().read_to_string().unwrap_or_default(),
                )
            }
            Err(_) => (0, Vec::new(), String::new()),
        }
    }

    /// SIGTERM, then the exit status must be a success (graceful shutdown).
    pub fn stop(mut self) {
        terminate(&mut self.process);
    }
}

/// Stops `process` as a service manager does (SIGTERM), and checks it
/// exited cleanly.
pub fn terminate(process: &mut std::process::Child) {
    let status = Command::new("kill")
        .args(["-TERM", &process.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = process.wait().unwrap();
    assert!(exit.success(), "guichet exited with {exit}");
}

impl Drop for Guichet {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

/// Puts a transmitted candidature in the store: three mails wait in the outbox.
/// Commands on one dossier of a store the server is not running on, each on
/// the version the last one left: how tests seed what the server then finds.
pub struct Seeded<'e> {
    engine: &'e Engine<SledStore>,
    /// The dossier's id.
    pub dossier: String,
    owner: String,
    version: u64,
    now: jiff::Timestamp,
}

impl<'e> Seeded<'e> {
    /// A new dossier of `owner` (first name `first_name`, address
    /// `owner@example.org` unless `email` says otherwise).
    pub fn new(
        engine: &'e Engine<SledStore>,
        (owner, first_name, email): (&str, &str, Option<&str>),
        now: jiff::Timestamp,
    ) -> Self {
        let candidate = Candidate {
            last_name: "Lefèvre".into(),
            first_name: first_name.into(),
            email: email.map_or_else(|| format!("{owner}@example.org"), str::to_owned),
        };
        let dossier = engine.create_dossier(owner, candidate, "fr", now).unwrap();
        Seeded {
            engine,
            dossier: dossier.id,
            owner: owner.to_owned(),
            version: 1,
            now,
        }
    }

    /// The dossier `id` as it stands in `engine` (one a candidate made
    /// through the pages), to go on with.
    pub fn existing(engine: &'e Engine<SledStore>, id: &str, now: jiff::Timestamp) -> Self {
        let dossier = engine.dossier(id).unwrap().expect("the dossier exists");
        Seeded {
            engine,
            dossier: dossier.id.clone(),
            owner: dossier.owner.clone(),
            version: dossier.version,
            now,
        }
    }

    /// Applies `command` as `role`.
    pub fn act(&mut self, role: &str, command: EngineCommand) {
        let actor = Actor::new(role, &self.owner);
        let outcome = self
            .engine
            .apply(&self.dossier, self.version, &actor, command, self.now);
        self.version = outcome.unwrap_or_else(|e| panic!("{e}")).dossier.version;
    }

    /// A transition of the first candidature, as `role`.
    pub fn transition(&mut self, role: &str, id: &str, input: Value) {
        let command = EngineCommand::Transition {
            candidature: "c1".into(),
            transition: id.into(),
            input: input.as_object().cloned().unwrap_or_default(),
        };
        self.act(role, command);
    }

    /// Applies to `formation`, uploads `pieces` and transmits, as the candidate.
    pub fn send(&mut self, formation: &str, pieces: &[&str]) {
        self.send_with_form(formation, pieces, None);
    }

    /// [`Seeded::send`], answering the formation's complementary form online first.
    pub fn send_with_form(&mut self, formation: &str, pieces: &[&str], form: Option<Value>) {
        self.act(
            "candidat",
            EngineCommand::Apply {
                formation: formation.into(),
            },
        );
        if let Some(Value::Object(answers)) = form {
            let command = EngineCommand::SaveForm {
                candidature: "c1".into(),
                answers,
            };
            self.act("candidat", command);
        }
        for piece in pieces {
            let file = FileRef {
                name: format!("{piece}.pdf"),
                sha256: "0".repeat(64),
                size: 1000,
                format: "pdf".into(),
            };
            let command = EngineCommand::Piece {
                candidature: "c1".into(),
                piece: (*piece).into(),
                transition: "deposer".into(),
                file: Some(file),
                comment: None,
            };
            self.act("candidat", command);
        }
        self.transition("candidat", "transmettre", Value::Null);
    }
}

/// The OSU engine on the store in `data`.
pub fn osu_engine(data: &Path) -> Engine<SledStore> {
    engine_on(&repository().join("definitions/osu-pytheas.yaml"), data)
}

/// The engine of `definition` on the store in `data`.
pub fn engine_on(definition: &Path, data: &Path) -> Engine<SledStore> {
    let definition = Definition::load(definition).unwrap();
    Engine::open(definition, SledStore::open(data.join("store")).unwrap()).unwrap()
}

pub fn queue_mails(data: &Path) -> Vec<String> {
    let engine = osu_engine(data);
    let now = "2027-03-10T10:00:00Z".parse().unwrap();
    let mut zoe = Seeded::new(
        &engine,
        ("zoe", "Zoé", Some("zoe.lefevre@example.org")),
        now,
    );
    zoe.send_with_form(
        "m1-oceanographie",
        &OSU_PIECES,
        Some(serde_json::json!({"projet": "Étudier les courants côtiers."})),
    );
    engine.outbox().unwrap().into_iter().map(|m| m.id).collect()
}

pub fn outbox(data: &Path) -> Vec<String> {
    let definition = Definition::load(repository().join("definitions/osu-pytheas.yaml")).unwrap();
    let engine = Engine::open(definition, SledStore::open(data.join("store")).unwrap()).unwrap();
    engine.outbox().unwrap().into_iter().map(|m| m.id).collect()
}

/// A browser: keeps cookies, does not follow redirects.
pub struct Browser {
    pub agent: ureq::Agent,
    pub cookies: std::collections::BTreeMap<String, String>,
}

pub struct Page {
    pub status: u16,
    pub location: Option<String>,
    pub set_cookies: Vec<String>,
    pub body: String,
}

impl Browser {
    pub fn new() -> Self {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .build()
            .into();
        Self {
            agent,
            cookies: Default::default(),
        }
    }

    pub fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub fn keep(&mut self, response: ureq::http::Response<ureq::Body>) -> Page {
        let mut response = response;
        let set_cookies: Vec<String> = response
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        for cookie in &set_cookies {
            let pair = cookie.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            if value.is_empty() || cookie.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        let location = response
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_owned());
        let status = response.status().as_u16();
        Page {
            status,
            location,
            set_cookies,
            body: response.body_mut().read_to_string().unwrap(),
        }
    }

    pub fn get(&mut self, url: &str) -> Page {
        let response = self
            .agent
            .get(url)
            .header("cookie", &self.cookie_header())
            .call()
            .unwrap();
        self.keep(response)
    }

    pub fn post(&mut self, url: &str, fields: &[(&str, &str)]) -> Page {
        let response = self
            .agent
            .post(url)
            .header("cookie", &self.cookie_header())
            .send_form(fields.iter().copied())
            .unwrap();
        self.keep(response)
    }

    /// Fills the form of the page at `url` (its CSRF token included) and sends it.
    pub fn submit(&mut self, url: &str, fields: &[(&str, &str)]) -> Page {
        let form = self.get(url);
        assert_eq!(form.status, 200, "{}", form.body);
        let csrf = csrf_of(&form.body);
        let mut all = vec![("csrf", csrf.as_str())];
        all.extend_from_slice(fields);
        self.post(url, &all)
    }
}

pub fn csrf_of(page: &str) -> String {
    let start =
        page.find(r#"name="csrf" value=""#).expect("a CSRF field") + r#"name="csrf" value=""#.len();
    page[start..].split('"').next().unwrap().to_owned()
}

pub fn heading(page: &Page) -> String {
    let start = page.body.find("<h1>").map_or(0, |i| i + 4);
    page.body[start..]
        .split("</h1>")
        .next()
        .unwrap_or("")
        .to_owned()
}

/// The newest mail to `to` whose subject starts with `subject`, and the link in it.
pub fn link_in_mail(smtp: &SmtpServer, to: &str, subject: &str, count: usize) -> (Value, String) {
    wait_for("the mail", || {
        smtp.received()
            .iter()
            .filter(|m| m["to"] == to && m["subject"].as_str().unwrap().starts_with(subject))
            .count()
            >= count
    });
    let mails: Vec<Value> = smtp
        .received()
        .into_iter()
        .filter(|m| m["to"] == to && m["subject"].as_str().unwrap().starts_with(subject))
        .collect();
    let mail = mails[count - 1].clone();
    let text = mail["text"].as_str().unwrap();
    let start = text.find("http://").expect("a link in the mail");
    let link = text[start..].split_whitespace().next().unwrap().to_owned();
    (mail, link)
}

/// The links to `prefix…` logged for `email` by a server without SMTP, oldest first.
pub fn links_in_log(log_path: &Path, email: &str, prefix: &str) -> Vec<String> {
    let text = std::fs::read_to_string(log_path).unwrap_or_default();
    text.lines()
        .filter(|line| line.contains(email))
        .filter_map(|line| {
            let at = line.find(prefix)?;
            let link = line[at..]
                .split(|c: char| !c.is_ascii_alphanumeric() && !":/.-".contains(c))
                .next()?;
            Some(link.to_owned())
        })
        .collect()
}

/// Signs up and activates `email` on a server without SMTP (the link comes
/// from its log); the browser returned is signed in.
pub fn activated(server: &Guichet, log_path: &Path, email: &str) -> Browser {
    activated_at(server, "", log_path, email)
}

/// [`activated`], signing up with the procedure under `prefix` of a server
/// of several.
pub fn activated_at(server: &Guichet, prefix: &str, log_path: &Path, email: &str) -> Browser {
    let mut browser = Browser::new();
    browser.submit(
        &server.url(&format!("{prefix}/inscription")),
        &[
            ("last_name", "Durand"),
            ("first_name", "Camille"),
            ("email", email),
        ],
    );
    let mut link = String::new();
    wait_for("the link in the log", || {
        let links = links_in_log(
            log_path,
            email,
            &server.url(&format!("{prefix}/activation/")),
        );
        links.first().map(|first| link.clone_from(first)).is_some()
    });
    let done = browser.submit(
        &link,
        &[
            ("password", "Calanques-de-Sormiou-7"),
            ("password_confirm", "Calanques-de-Sormiou-7"),
        ],
    );
    assert_eq!(done.status, 303);
    browser
}

/// A copy of the OSU definition (and its lists) in `folder`, changed by `edit`.
pub fn osu_copy(folder: &Path, edit: impl Fn(String) -> String) -> PathBuf {
    let lists = folder.join("data");
    std::fs::create_dir_all(&lists).unwrap();
    for entry in std::fs::read_dir(repository().join("definitions/data")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), lists.join(entry.file_name())).unwrap();
    }
    let text = std::fs::read_to_string(repository().join("definitions/osu-pytheas.yaml")).unwrap();
    let path = folder.join("procedure.yaml");
    std::fs::write(&path, edit(text)).unwrap();
    path
}

/// The OSU procedure with its campaign open today.
pub fn open_campaign(text: String) -> String {
    let open = text.replace(
        "  opens: 2027-03-01\n  closes: 2027-06-15",
        "  opens: 2026-01-01\n  closes: 2099-12-31",
    );
    assert_ne!(open, text, "the campaign dates were found");
    open
}

/// A server on the OSU procedure (campaign open), without SMTP, logging to a
/// file, and a signed-in candidate.
pub fn signed_up(folder: &Path, extra: &[&str]) -> (Guichet, Browser, PathBuf) {
    signed_up_on(folder, open_campaign, extra)
}

/// [`signed_up`] on the OSU procedure as `edit` changes it.
pub fn signed_up_on(
    folder: &Path,
    edit: impl Fn(String) -> String,
    extra: &[&str],
) -> (Guichet, Browser, PathBuf) {
    let log_path = folder.join("guichet.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let data = folder.join("data-store");
    let definition = osu_copy(&folder.join("definition"), edit);
    let server = Guichet::launch_on(&definition, &data, None, extra, log);
    let browser = activated(&server, &log_path, "camille@example.org");
    (server, browser, data)
}

pub const BOUNDARY: &str = "----guichet-test-boundary";

/// Sends a file as a browser's upload form does.
pub fn upload(browser: &mut Browser, url: &str, csrf: &str, name: &str, bytes: &[u8]) -> Page {
    let mut body = Vec::new();
    body.extend_from_slice(
        format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{csrf}\r\n")
            .as_bytes(),
    );
    body.extend_from_slice(
        format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"fichier\"; filename=\"{name}\"\r\nContent-Type: application/pdf\r\n\r\n").as_bytes(),
    );
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    let response = browser
        .agent
        .post(url)
        .header("cookie", &browser.cookie_header())
        .header(
            "content-type",
            &format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .send(&body[..])
        .unwrap();
    browser.keep(response)
}

/// A real one-page PDF (its cross-reference table right), as a scanner
/// or a word processor writes one.
pub fn pdf() -> Vec<u8> {
    pdf_of_pages(1)
}

/// A real PDF of `pages` pages, each saying its number.
pub fn pdf_of_pages(pages: usize) -> Vec<u8> {
    let contents: Vec<String> = (1..=pages)
        .map(|n| format!("BT /F1 24 Tf 72 760 Td (Page {n}) Tj ET"))
        .collect();
    pdf_of_contents(&contents)
}

/// A real PDF whose pages draw `contents` (one content stream each).
pub fn pdf_of_contents(contents: &[String]) -> Vec<u8> {
    let pages = contents.len();
    let font = 3 + 2 * pages;
    let mut objects = vec![
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        format!(
            "<< /Type /Pages /Kids [{}] /Count {pages} >>",
            (0..pages)
                .map(|n| format!("{} 0 R", 3 + 2 * n))
                .collect::<Vec<_>>()
                .join(" ")
        ),
    ];
    for (n, content) in contents.iter().enumerate() {
        objects.push(format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents {} 0 R /Resources << /Font << /F1 {font} 0 R >> >> >>",
            4 + 2 * n
        ));
        objects.push(format!(
            "<< /Length {} >>\nstream\n{content}\nendstream",
            content.len()
        ));
    }
    objects.push("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_owned());
    let mut out = String::from("%PDF-1.4\n");
    let mut offsets = Vec::new();
    for (number, body) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.push_str(&format!("{} 0 obj\n{body}\nendobj\n", number + 1));
    }
    let xref = out.len();
    out.push_str(&format!(
        "xref\n0 {}\n0000000000 65535 f \n",
        objects.len() + 1
    ));
    for offset in offsets {
        out.push_str(&format!("{offset:010} 00000 n \n"));
    }
    out.push_str(&format!(
        "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
        objects.len() + 1
    ));
    out.into_bytes()
}

pub fn png() -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00\x90\x77\x53\xde".to_vec();
    bytes.extend_from_slice(
        b"\x00\x00\x00\x0cIDAT\x08\xd7\x63\xf8\xcf\xc0\x00\x00\x03\x01\x01\x00\x18\xdd\x8d\xb0",
    );
    bytes.extend_from_slice(b"\x00\x00\x00\x00IEND\xae\x42\x60\x82");
    bytes
}

pub fn walk(folder: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(folder) else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .map(|e| {
            if e.path().is_dir() {
                walk(&e.path())
            } else {
                1
            }
        })
        .sum()
}

/// The definition changed by its administrators: a label, a new field, a new piece.
pub fn changed_by_administrators(text: String) -> String {
    let changed = text
        .replace(r#"label: { fr: "Nom de naissance", en: "Birth name" }"#, r#"label: { fr: "Nom de famille à la naissance", en: "Family name at birth" }"#)
        .replace(
            "      - { id: nom_usage,",
            "      - { id: prenom_usage, type: text, label: { fr: \"Prénom d'usage\", en: \"Usual first name\" } }\n      - { id: nom_usage,",
        )
        .replace(
            "pieces:\n",
            "pieces:\n  - { id: photo, label: { fr: \"Photo d'identité\", en: \"Photo\" }, accept: [jpg, png], max_size: 1MB }\n",
        )
        .replace(
            "    pieces: [cv, lettre_motivation, releves_notes, diplomes, piece_identite, non_francophone]\n",
            "    pieces: [cv, lettre_motivation, releves_notes, diplomes, piece_identite, non_francophone, photo]\n",
        );
    assert_eq!(changed.matches("photo").count(), 2, "every change was made");
    changed
}

/// `guichet staff add` on `data`: the password link it prints.
pub fn add_staff(data: &Path, email: &str, roles: &str, scope: &str, admin: bool) -> String {
    let osu = repository().join("definitions/osu-pytheas.yaml");
    add_staff_on(&osu, data, email, roles, scope, admin)
}

/// [`add_staff`] under another procedure's `definition`.
pub fn add_staff_on(
    definition: &Path,
    data: &Path,
    email: &str,
    roles: &str,
    scope: &str,
    admin: bool,
) -> String {
    let data = data.to_str().unwrap();
    let mut args = vec![
        "staff",
        "--data",
        data,
        "--definition",
        definition.to_str().unwrap(),
        "add",
        email,
        "--scope",
        scope,
        "--name",
        "Claire Martin",
    ];
    if !roles.is_empty() {
        args.extend(["--role", roles]);
    }
    if admin {
        args.push("--admin");
    }
    let output = Command::new(env!("CARGO_BIN_EXE_guichet"))
        .args(&args)
        .current_dir(repository())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let at = stdout.find("http://").expect("a password link");
    stdout[at..].trim().to_owned()
}

/// A copy of the doctoral school's procedure (and its lists) in `folder`,
/// its campaign open today.
pub fn doctoral_school_open(folder: &Path) -> PathBuf {
    let lists = folder.join("data");
    std::fs::create_dir_all(&lists).unwrap();
    for entry in std::fs::read_dir(repository().join("examples/data")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), lists.join(entry.file_name())).unwrap();
    }
    let text = std::fs::read_to_string(repository().join("examples/ecole-doctorale.yaml")).unwrap();
    let open = text.replace(
        "campaign: { opens: 2027-04-01, closes: 2027-05-20",
        "campaign: { opens: 2026-01-01, closes: 2099-12-31",
    );
    assert_ne!(open, text, "the campaign dates were found");
    let path = folder.join("ecole-doctorale.yaml");
    std::fs::write(&path, open).unwrap();
    path
}

impl Browser {
    /// The bytes at `url` (a PDF), with this browser's cookies, and the response's content type.
    pub fn get_bytes(&mut self, url: &str) -> (u16, String, Vec<u8>) {
        let mut response = self
            .agent
            .get(url)
            .header("cookie", &self.cookie_header())
            .call()
            .unwrap();
        let status = response.status().as_u16();
        let kind = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let bytes = response
            .body_mut()
            .with_config()
            .limit(100_000_000)
            .read_to_vec()
            .unwrap();
        (status, kind, bytes)
    }
}

/// What poppler-utils (installed by `scripts/test.sh`) read in a PDF: its
/// pages, its text (spaces collapsed) and its outline (page, title).
pub struct PdfRead {
    pub pages: usize,
    pub text: String,
    pub outline: Vec<(usize, String)>,
}

pub fn read_pdf(bytes: &[u8]) -> PdfRead {
    let folder = tempfile::tempdir().unwrap();
    let path = folder.path().join("read.pdf");
    std::fs::write(&path, bytes).unwrap();
    let run = |tool: &str, before: &[&str], after: &[&str]| {
        let output = Command::new(tool)
            .args(before)
            .arg(&path)
            .args(after)
            .output()
            .unwrap_or_else(|e| panic!("{tool} (poppler-utils): {e}"));
        assert!(
            output.status.success(),
            "{tool}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    };
    let info = run("pdfinfo", &[], &[]);
    let pages = info
        .lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("{info}"));
    let text = run("pdftotext", &["-layout"], &["-"]);
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let xml = run("pdftohtml", &["-xml", "-i", "-stdout", "-q"], &[]);
    let outline = xml
        .split("<item page=\"")
        .skip(1)
        .filter_map(|item| {
            let (page, rest) = item.split_once("\">")?;
            let title = rest.split("</item>").next()?;
            Some((page.parse().ok()?, title.to_owned()))
        })
        .collect();
    PdfRead {
        pages,
        text,
        outline,
    }
}

/// The store under `data`, once the process that last had it lets it go
/// (sled releases its lock when its flusher stops).
pub fn open_store(data: &Path) -> guichet_engine::SledStore {
    for _ in 0..100 {
        if let Ok(store) = guichet_engine::SledStore::open(data.join("store")) {
            return store;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("the store stays locked");
}

/// A candidate named `owner` Martin, writing from `owner@example.org`.
pub fn martin(owner: &str) -> Candidate {
    Candidate {
        last_name: "Martin".into(),
        first_name: owner.into(),
        email: format!("{owner}@example.org"),
    }
}

/// Three dossiers under `tests/fixtures/versions/v1.yaml` in `data`: Ada's
/// sent (status `received`), Bruno's sent then closed, Chloé's with a hobby
/// (a field the next version drops). Returns their ids.
pub fn dossiers_under_v1(data: &Path) -> [String; 3] {
    use guichet_engine::{Actor, Command, Definition, Engine, FileRef, SledStore};
    let definition =
        Definition::load(repository().join("tests/fixtures/versions/v1.yaml")).unwrap();
    let engine = Engine::open(definition, SledStore::open(data.join("store")).unwrap()).unwrap();
    let now = "2027-03-10T10:00:00Z".parse().unwrap();
    let act = |id: &str, owner: &str, role: &str, command: Command| {
        let version = engine.dossier(id).unwrap().unwrap().version;
        engine
            .apply(id, version, &Actor::new(role, owner), command, now)
            .unwrap();
    };
    let mut ids = Vec::new();
    for (owner, hobby, sent, closed) in [
        ("ada", None, true, false),
        ("bruno", None, true, true),
        ("chloe", Some("Escalade"), false, false),
    ] {
        let id = engine
            .create_dossier(owner, martin(owner), "en", now)
            .unwrap()
            .id;
        let mut answers = serde_json::json!({"nationality": "FR"});
        if let Some(hobby) = hobby {
            answers["hobby"] = hobby.into();
        }
        let save = Command::SaveSection {
            section: "identity".into(),
            answers,
        };
        act(&id, owner, "candidate", save);
        let apply = Command::Apply {
            formation: "master".into(),
        };
        act(&id, owner, "candidate", apply);
        if sent {
            let upload = Command::Piece {
                candidature: "c1".into(),
                piece: "cv".into(),
                transition: "upload".into(),
                file: Some(FileRef {
                    name: "cv.pdf".into(),
                    sha256: "0".repeat(64),
                    size: 1000,
                    format: "pdf".into(),
                }),
                comment: None,
            };
            act(&id, owner, "candidate", upload);
            let transmit = Command::Transition {
                candidature: "c1".into(),
                transition: "transmit".into(),
                input: Default::default(),
            };
            act(&id, owner, "candidate", transmit);
        }
        if closed {
            let close = Command::Transition {
                candidature: "c1".into(),
                transition: "close".into(),
                input: Default::default(),
            };
            act(&id, "office", "staff", close);
        }
        ids.push(id);
    }
    [ids[0].clone(), ids[1].clone(), ids[2].clone()]
}
