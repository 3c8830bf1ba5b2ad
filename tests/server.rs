//! The real `guichet serve` on a loopback port: mail delivery to a real SMTP
//! server (aiosmtpd, started by the tests) or to files, and what every page
//! carries (language, security headers).

mod serving;

use std::time::Duration;

use serving::*;

#[test]
fn queued_mails_are_delivered_through_smtp_in_utf8_with_both_parts() {
    let folder = tempfile::tempdir().unwrap();
    let data = folder.path().join("data");
    let ids = queue_mails(&data);
    assert_eq!(ids.len(), 3);
    let smtp = SmtpServer::start(free_port(), &folder.path().join("maildir"));
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
    let smtp = SmtpServer::start(smtp_port, &folder.path().join("maildir"));
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
