//! What keeps one candidate from filling the server's disk: texts of a
//! bounded length, repeatable sections of a bounded number of entries, files
//! deleted once nothing refers to them, and a budget of changes a minute;
//! each limit said to the candidate in words.

mod serving;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use serving::*;

/// Uploads of 2 MB pieces the server receives at once: its memory for
/// uploads (`UPLOAD_MEMORY_MIB` in its web module, 32 MiB) over each one's
/// share, 2 MiB.
const UPLOADS_AT_ONCE: usize = 16;

/// Bytes of the files under `folder`.
fn size_of(folder: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(folder) else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .map(|entry| match entry.metadata() {
            Ok(meta) if meta.is_dir() => size_of(&entry.path()),
            Ok(meta) => meta.len(),
            Err(_) => 0,
        })
        .sum()
}

/// A valid PDF, different for each `n`.
fn pdf_number(n: usize) -> Vec<u8> {
    let mut bytes = pdf();
    let comment = format!("%{n} {}\n", "x".repeat(100_000));
    bytes.splice(9..9, comment.bytes());
    bytes
}

#[test]
fn one_candidate_cannot_fill_the_disk_and_is_told_each_limit() {
    let folder = tempfile::tempdir().unwrap();
    let (server, mut browser, data) = signed_up(folder.path(), &[]);
    let store = data.join("store");
    let before = size_of(&store);
    let csrf = csrf_of(&browser.get(&server.url("/tableau-de-bord")).body);

    // A 60 KB name: refused, next to its field, in characters.
    let name = "x".repeat(60_000);
    let refused = browser.post(
        &server.url("/dossier/etat_civil"),
        &[("csrf", &csrf), ("nom_naissance", &name)],
    );
    assert_eq!(refused.status, 422);
    assert!(
        refused.body.contains("Saisissez au plus 200 caractères."),
        "{}",
        refused.body
    );

    // Thirty internships as long as allowed, and no thirty-first.
    let (employer, duties) = ("e".repeat(200), "m".repeat(5000));
    let internship = |csrf: &str| {
        vec![
            ("csrf".to_owned(), csrf.to_owned()),
            ("debut".to_owned(), "2022-06-01".to_owned()),
            ("employeur".to_owned(), employer.clone()),
            ("fonction".to_owned(), "Stagiaire".to_owned()),
            ("missions".to_owned(), duties.clone()),
        ]
    };
    let new = server.url("/dossier/stages/nouveau");
    for n in 0..30 {
        let fields = internship(&csrf);
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (&**k, &**v)).collect();
        let saved = browser.post(&new, &fields);
        assert_eq!(saved.status, 303, "entry {n}: {}", saved.body);
    }
    let list = browser.get(&server.url("/dossier/stages"));
    assert!(
        list.body.contains("nombre maximal d&#x27;entrées (30)"),
        "{}",
        list.body
    );
    assert!(!list.body.contains("/dossier/stages/nouveau"));
    let fields = internship(&csrf);
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (&**k, &**v)).collect();
    let thirty_first = browser.post(&new, &fields);
    assert_eq!(thirty_first.status, 422);
    assert!(
        thirty_first.body.contains("Donnez au plus 30 entrées."),
        "{}",
        thirty_first.body
    );

    // Twenty replacements of a 100 KB piece leave one file.
    let apply = browser.post(
        &server.url("/formations/m1-set/candidater"),
        &[("csrf", &csrf)],
    );
    assert_eq!(apply.status, 303);
    let cv = server.url("/candidatures/c1/pieces/cv");
    for n in 0..20 {
        let sent = upload(&mut browser, &cv, &csrf, "cv.pdf", &pdf_number(n));
        assert_eq!(sent.status, 303, "upload {n}: {}", sent.body);
    }
    assert_eq!(walk(&data.join("files")), 1, "replaced files are deleted");

    // All that stays within a stated bound (about 14 MB measured here).
    let grown = size_of(&store).saturating_sub(before);
    assert!(grown < 25_000_000, "the store grew by {grown} bytes");

    // And changes have a budget: past sixty in a minute, the candidate waits.
    let mut paused = None;
    for _ in 0..20 {
        let page = browser.post(
            &server.url("/candidatures/c1/pieces/cv/retirer"),
            &[("csrf", &csrf)],
        );
        if page.status == 429 {
            paused = Some(page);
            break;
        }
    }
    let paused = paused.expect("a pause before the eightieth change");
    assert!(
        paused
            .body
            .contains("Trop d&#x27;enregistrements en peu de temps"),
        "{}",
        paused.body
    );
    server.stop();
}

/// The status line of the answer to `request`, sent on a connection of its
/// own; empty if none came within ten seconds (the request waits).
fn status_line(server: &Guichet, request: &str) -> String {
    let address = server.url("").trim_start_matches("http://").to_owned();
    let mut stream = TcpStream::connect(address).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut received = [0u8; 64];
    let read = stream.read(&mut received).unwrap_or(0);
    let text = String::from_utf8_lossy(&received[..read]).into_owned();
    text.lines().next().unwrap_or_default().to_owned()
}

/// The candidate of `browser` applies to M1 SET: the CSRF token of their
/// pages.
fn applied_to_m1_set(server: &Guichet, browser: &mut Browser) -> String {
    let csrf = csrf_of(&browser.get(&server.url("/tableau-de-bord")).body);
    let apply = browser.post(
        &server.url("/formations/m1-set/candidater"),
        &[("csrf", &csrf)],
    );
    assert_eq!(apply.status, 303);
    csrf
}

/// A dossier's PDF, made anew at each request, counts as a change: a script
/// asking for it again and again is paused like one saving again and again.
#[test]
fn a_candidates_pdfs_count_among_their_changes_of_a_minute() {
    let folder = tempfile::tempdir().unwrap();
    let (server, mut browser, _) = signed_up(folder.path(), &[]);
    applied_to_m1_set(&server, &mut browser);
    let url = server.url("/candidatures/c1/dossier.pdf");
    // The application was one change of the sixty.
    for n in 1..60 {
        let (status, kind, _) = browser.get_bytes(&url);
        assert_eq!((status, kind.as_str()), (200, "application/pdf"), "PDF {n}");
    }
    let paused = browser.get(&url);
    assert_eq!(paused.status, 429, "{}", paused.body);
    assert!(paused.body.contains("réessayez"), "{}", paused.body);
    server.stop();
}

/// A piece whose limit is more than the server's memory for uploads is
/// received alone: the others wait, then go through.
#[test]
fn a_piece_larger_than_the_memory_for_uploads_is_received_alone() {
    let folder = tempfile::tempdir().unwrap();
    // The CV (the first piece written) may be 40 MB.
    let large_cv =
        |text: String| open_campaign(text).replacen("max_size: 2MB", "max_size: 40MB", 1);
    let (server, mut browser, _) = signed_up_on(folder.path(), large_cv, &[]);
    let csrf = applied_to_m1_set(&server, &mut browser);
    // A CV whose body never ends.
    let address = server.url("").trim_start_matches("http://").to_owned();
    let mut held = TcpStream::connect(&address).unwrap();
    let request = format!(
        "POST /candidatures/c1/pieces/cv HTTP/1.1\r\nHost: guichet\r\nCookie: {}\r\n\
         Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n\
         Content-Length: 30000000\r\n\r\n--{BOUNDARY}\r\n",
        browser.cookie_header()
    );
    held.write_all(request.as_bytes()).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    // A cover letter of 2 MB at most waits for it…
    let letter = server.url("/candidatures/c1/pieces/lettre_motivation");
    let (sent, answered) = std::sync::mpsc::channel();
    let sender = std::thread::spawn(move || {
        let page = upload(&mut browser, &letter, &csrf, "lettre.pdf", &pdf());
        sent.send(page.status).unwrap();
    });
    assert!(
        answered.recv_timeout(Duration::from_secs(2)).is_err(),
        "no answer while the CV is received"
    );
    // …and is received once the CV's turn ends.
    drop(held);
    let status = answered.recv_timeout(Duration::from_secs(30)).unwrap();
    assert_eq!(status, 303);
    sender.join().unwrap();
    server.stop();
}

#[test]
fn uploads_waiting_for_their_turn_keep_no_one_else_waiting() {
    let folder = tempfile::tempdir().unwrap();
    let (server, mut browser, _) = signed_up(folder.path(), &[]);
    applied_to_m1_set(&server, &mut browser);
    // Uploads whose body never ends: every turn to receive one is taken.
    let upload = |cookie: &str| {
        format!(
            "POST /candidatures/c1/pieces/cv HTTP/1.1\r\nHost: guichet\r\n{cookie}\
             Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n\
             Content-Length: 1000000\r\n\r\n--{BOUNDARY}\r\n"
        )
    };
    let cookie = format!("Cookie: {}\r\n", browser.cookie_header());
    let address = server.url("").trim_start_matches("http://").to_owned();
    let held: Vec<TcpStream> = (0..UPLOADS_AT_ONCE)
        .map(|_| {
            let mut stream = TcpStream::connect(&address).unwrap();
            stream.write_all(upload(&cookie).as_bytes()).unwrap();
            stream
        })
        .collect();
    // Then a referee's page, a referee's letter sent with an unknown link
    // and an upload without a session are answered, not kept waiting.
    let referee = status_line(
        &server,
        "GET /tiers/unknown HTTP/1.1\r\nHost: guichet\r\n\r\n",
    );
    assert_eq!(referee, "HTTP/1.1 404 Not Found");
    let letter = upload("").replace("/candidatures/c1/pieces/cv", "/tiers/unknown");
    assert_eq!(status_line(&server, &letter), "HTTP/1.1 404 Not Found");
    let anonymous = status_line(&server, &upload(""));
    assert!(anonymous.starts_with("HTTP/1.1 "), "answered: {anonymous}");
    // And the signed-in candidate's own next upload waits for a turn.
    let mut waiting = TcpStream::connect(&address).unwrap();
    waiting.write_all(upload(&cookie).as_bytes()).unwrap();
    waiting
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let mut nothing = [0u8; 16];
    assert!(
        waiting.read(&mut nothing).is_err(),
        "no answer before a turn"
    );
    drop((held, waiting));
    server.stop();
}
