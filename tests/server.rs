//! The real `guichet serve` on a loopback port: mail delivery to a real SMTP
//! server (aiosmtpd, started by the tests) or to files, and what every page
//! carries (language, security headers).

mod serving;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serving::*;

#[test]
fn queued_mails_are_delivered_through_smtp_in_utf8_with_both_parts() {
    let folder = tempfile::tempdir().unwrap();
    let data = folder.path().join("data");
    let ids = queue_mails(&data);
    assert_eq!(ids.len(), 3);
    let smtp = SmtpServer::start(&folder.path().join("maildir"));
    let server = Guichet::start(&data, Some(smtp.port));
    wait_for("three mails", || smtp.received().len() == 3);
    server.stop();

    let mails = smtp.received();
    let received = mails
        .iter()
        .find(|m| {
            m["subject"]
                .as_str()
                .unwrap()
                .starts_with("Dossier réceptionné")
        })
        .unwrap();
    assert_eq!(
        received["subject"],
        "Dossier réceptionné : Master Océanographie — M1"
    );
    assert_eq!(received["to"], "zoe.lefevre@example.org");
    assert_eq!(
        received["from"],
        "OSU Institut Pythéas — scolarité <scolarite@osupytheas.fr>"
    );
    assert!(
        received["text"].as_str().unwrap().contains("Bonjour Zoé,"),
        "{received}"
    );
    assert!(
        received["html"]
            .as_str()
            .unwrap()
            .contains("<p>Bonjour Zoé,</p>"),
        "{received}"
    );
    let mut message_ids: Vec<String> = mails
        .iter()
        .map(|m| m["message_id"].as_str().unwrap().to_owned())
        .collect();
    message_ids.sort();
    let mut expected: Vec<String> = ids.iter().map(|id| format!("<{id}@127.0.0.1>")).collect();
    expected.sort();
    assert_eq!(
        message_ids, expected,
        "the Message-ID is the mail's stable id"
    );
    assert!(outbox(&data).is_empty(), "delivered mails leave the outbox");
}

#[test]
fn mails_queued_while_smtp_is_down_arrive_exactly_once_after_a_restart() {
    let folder = tempfile::tempdir().unwrap();
    let data = folder.path().join("data");
    let ids = queue_mails(&data);
    let smtp_port = free_port();

    // SMTP is down: the mails stay queued, across a restart of guichet.
    let server = Guichet::start(&data, Some(smtp_port));
    std::thread::sleep(Duration::from_secs(2));
    server.stop();
    assert_eq!(outbox(&data), ids);

    // SMTP comes back, and so does guichet: every mail arrives, once.
    let smtp = SmtpServer::start_on(smtp_port, &folder.path().join("maildir"));
    let server = Guichet::start(&data, Some(smtp_port));
    wait_for("three mails", || smtp.received().len() == 3);
    std::thread::sleep(Duration::from_secs(2));
    server.stop();
    assert_eq!(smtp.received().len(), 3, "no mail twice");
    assert!(outbox(&data).is_empty());
}

#[test]
fn without_smtp_mails_are_written_as_files_named_by_their_id() {
    let folder = tempfile::tempdir().unwrap();
    let data = folder.path().join("data");
    let ids = queue_mails(&data);
    let server = Guichet::start(&data, None);
    let mail_folder = data.join("mail");
    let count = || std::fs::read_dir(&mail_folder).map_or(0, |entries| entries.count());
    wait_for("three files", || count() == 3);
    server.stop();
    for id in &ids {
        let mail = decode(&mail_folder.join(format!("{id}.eml")));
        assert_eq!(mail["message_id"], format!("<{id}@127.0.0.1>"));
    }
    assert!(outbox(&data).is_empty());
}

#[test]
fn pages_speak_the_users_language_and_carry_security_headers() {
    let folder = tempfile::tempdir().unwrap();
    let server = Guichet::start(&folder.path().join("data"), None);

    let (status, headers, body) = server.get("/", &[]);
    assert_eq!(status, 200);
    assert!(body.contains("<html lang=\"fr\">"), "{body}");
    assert!(body.contains("Master Océanographie — M1"), "{body}");
    assert!(body.contains("Formations"));
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let csp = header("content-security-policy").unwrap();
    assert!(
        csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'self'"),
        "{csp}"
    );
    assert_eq!(header("x-content-type-options").as_deref(), Some("nosniff"));
    assert_eq!(header("referrer-policy").as_deref(), Some("same-origin"));

    let (_, _, english) = server.get("/", &[("accept-language", "en-GB,en;q=0.9,fr;q=0.5")]);
    assert!(
        english.contains("<html lang=\"en\">") && english.contains("Programmes"),
        "{english}"
    );
    let (_, _, chosen) = server.get("/?lang=fr", &[("accept-language", "en")]);
    assert!(chosen.contains("<html lang=\"fr\">"));

    let (status, headers, css) = server.get("/static/guichet.css", &[]);
    assert_eq!(status, 200);
    assert!(css.contains("320 px"));
    let cache = headers
        .iter()
        .find(|(k, _)| k == "cache-control")
        .map(|(_, v)| v.as_str());
    assert_eq!(cache, Some("public, max-age=31536000, immutable"));

    let (status, _, body) = server.get("/no/such/page", &[]);
    assert_eq!(status, 404);
    assert!(body.contains("Page introuvable"));
    server.stop();
}

#[test]
fn the_language_a_visitor_chooses_is_kept_across_pages() {
    let folder = tempfile::tempdir().unwrap();
    let server = Guichet::start(&folder.path().join("data"), None);
    let mut browser = Browser::new();
    assert!(browser
        .get(&server.url("/"))
        .body
        .contains("<html lang=\"fr\">"));
    let chosen = browser.get(&server.url("/?lang=en"));
    assert!(chosen.body.contains("<html lang=\"en\">"));
    // A page reached without `?lang=` (the institution's link, an error page)
    // stays in English.
    let later = browser.get(&server.url("/formations"));
    assert!(later.body.contains("<html lang=\"en\">"), "{}", later.body);
    let missing = browser.get(&server.url("/nowhere"));
    assert_eq!(missing.status, 404);
    assert!(missing.body.contains("Page not found"), "{}", missing.body);
    // Choosing again changes it; the cookie is not set again for nothing.
    browser.get(&server.url("/?lang=fr"));
    let again = browser.get(&server.url("/formations?lang=fr"));
    assert!(again
        .set_cookies
        .iter()
        .all(|c| !c.starts_with("guichet_lang")));
    assert!(browser
        .get(&server.url("/"))
        .body
        .contains("<html lang=\"fr\">"));
    server.stop();
}

/// Opens a connection to `server` and sends `start` (an unfinished request).
fn slow_client(server: &Guichet, start: &str) -> TcpStream {
    let address = server.url("").trim_start_matches("http://").to_owned();
    let mut stream = TcpStream::connect(address).unwrap();
    stream.write_all(start.as_bytes()).unwrap();
    stream
}

/// What the server sends on `stream` before closing it (within thirty
/// seconds: the tests of this file run at once on a small machine).
fn until_closed(stream: &mut TcpStream) -> String {
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut received = Vec::new();
    let outcome = stream.read_to_end(&mut received);
    // Closed with data of ours unread, the system resets the connection.
    let reset = matches!(&outcome, Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset);
    assert!(outcome.is_ok() || reset, "still open: {outcome:?}");
    String::from_utf8_lossy(&received).into_owned()
}

#[test]
fn slow_clients_are_cut_off_and_others_still_served() {
    let folder = tempfile::tempdir().unwrap();
    let limits = [
        "--header-timeout",
        "2 seconds",
        "--request-timeout",
        "3 seconds",
    ];
    let server = Guichet::launch(&folder.path().join("data"), None, &limits, Log::Discarded);
    // A hundred clients that never finish their headers, a hundred that send
    // a body a byte at a time.
    let mut unfinished: Vec<TcpStream> = (0..100)
        .map(|_| slow_client(&server, "GET / HTTP/1.1\r\nHost: guichet\r\n"))
        .collect();
    let body = "POST /connexion HTTP/1.1\r\nHost: guichet\r\nContent-Type: \
                application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\nemail=";
    let mut trickling: Vec<TcpStream> = (0..100).map(|_| slow_client(&server, body)).collect();
    let started = std::time::Instant::now();
    // Meanwhile, a normal request is answered.
    let (status, _, _) = server.get("/health", &[]);
    assert_eq!(status, 200);
    for stream in &mut trickling {
        stream.write_all(b"a").unwrap();
    }
    for stream in &mut unfinished {
        until_closed(stream);
    }
    for stream in &mut trickling {
        let answer = until_closed(stream);
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    }
    assert!(started.elapsed() < Duration::from_secs(30));
    server.stop();
}

#[test]
fn connections_past_the_cap_are_closed_until_others_end() {
    let folder = tempfile::tempdir().unwrap();
    let limits = ["--max-connections", "5", "--header-timeout", "30 seconds"];
    let server = Guichet::launch(&folder.path().join("data"), None, &limits, Log::Discarded);
    // The connection that saw the server start ends first.
    std::thread::sleep(Duration::from_millis(500));
    let held: Vec<TcpStream> = (0..5)
        .map(|_| slow_client(&server, "GET / HTTP/1.1\r\n"))
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let mut sixth = slow_client(&server, "GET /health HTTP/1.1\r\nHost: guichet\r\n\r\n");
    assert_eq!(until_closed(&mut sixth), "", "closed without an answer");
    drop(held);
    wait_for("a place", || server.get("/health", &[]).0 == 200);
    server.stop();
}

#[test]
fn a_procedure_in_english_first_with_its_own_words() {
    let folder = tempfile::tempdir().unwrap();
    let definition = osu_copy(&folder.path().join("definition"), |text| {
        text.replace(
            "timezone: Europe/Paris\n",
            "timezone: Europe/Paris\nlanguages: [en, fr]\nwords:\n  en: { catalogue: \"Master's programmes\" }\n",
        )
    });
    // A list's label in another language: the `<label>_<language>` column.
    let composantes = folder.path().join("definition/data/composantes.csv");
    std::fs::write(
        &composantes,
        "id,label,label_en\nosu-pytheas,OSU Institut Pythéas,Pytheas Institute\n",
    )
    .unwrap();
    let server = Guichet::launch_on(
        &definition,
        &folder.path().join("data"),
        None,
        &[],
        Log::Discarded,
    );
    let (status, _, home) = server.get("/", &[]);
    assert_eq!(status, 200);
    assert!(
        home.contains(r#"<html lang="en">"#),
        "the default language: {home}"
    );
    assert!(
        home.contains("Master&#x27;s programmes"),
        "the procedure's own word: {home}"
    );
    assert!(
        home.contains(r#"hreflang="fr""#),
        "a link to the other language"
    );
    assert!(
        home.contains("Pytheas Institute"),
        "the list's English label"
    );
    let (_, _, french) = server.get("/", &[("accept-language", "fr-FR,fr")]);
    assert!(french.contains(r#"<html lang="fr">"#));
    assert!(
        french.contains("OSU Institut Pythéas</"),
        "the list's own label"
    );
    let (_, _, catalogue) = server.get("/formations?lang=fr", &[]);
    assert!(catalogue.contains(r#"<html lang="fr">"#));
    server.stop();

    // A word the pages do not have is an error, at check and at start.
    let mistyped = osu_copy(&folder.path().join("mistyped"), |text| {
        text.replace(
            "timezone: Europe/Paris\n",
            "timezone: Europe/Paris\nwords:\n  en: { catalog: Programmes }\n",
        )
    });
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_guichet"))
        .arg("check")
        .arg(&mistyped)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("no word `catalog` (did you mean `catalogue`?)"),
        "{stderr}"
    );
}
