//! The real `guichet serve` on a loopback port, with a real SMTP server
//! (aiosmtpd, started by the tests) receiving the mails.

mod serving;

use std::time::Duration;

use guichet_engine::{Definition, Engine, SledStore};
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
fn a_candidate_signs_up_activates_signs_in_and_out_and_resets_the_password() {
    let folder = tempfile::tempdir().unwrap();
    let smtp = SmtpServer::start(free_port(), &folder.path().join("maildir"));
    let server = Guichet::start(&folder.path().join("data"), Some(smtp.port));
    let mut browser = Browser::new();

    // Sign up: the same answer is given to everyone.
    let sent = browser.submit(
        &server.url("/inscription"),
        &[
            ("last_name", "Lefèvre"),
            ("first_name", "Zoé"),
            ("email", "Zoe.Lefevre@example.org"),
        ],
    );
    assert_eq!(sent.status, 200);
    assert_eq!(heading(&sent), "Consultez votre messagerie");

    // The activation mail gives the identifier and a link.
    let (mail, link) = link_in_mail(
        &smtp,
        "zoe.lefevre@example.org",
        "Activation de votre compte",
        1,
    );
    assert!(
        mail["text"]
            .as_str()
            .unwrap()
            .contains("Votre identifiant : zoe.lefevre@example.org"),
        "{mail}"
    );
    assert!(link.starts_with(&server.url("/activation/")), "{link}");

    // A weak password is refused with a message next to the field.
    let weak = browser.submit(
        &link,
        &[("password", "zoe2027"), ("password_confirm", "zoe2027")],
    );
    assert_eq!(weak.status, 422);
    assert!(
        weak.body.contains("au moins 10 caractères")
            && weak
                .body
                .contains(r#"aria-describedby="password-help password-error""#),
        "{}",
        weak.body
    );

    let activated = browser.submit(
        &link,
        &[
            ("password", "Calanques-de-Sormiou-7"),
            ("password_confirm", "Calanques-de-Sormiou-7"),
        ],
    );
    assert_eq!(activated.status, 303);
    assert_eq!(
        activated.location.as_deref(),
        Some("/tableau-de-bord?lang=fr")
    );
    let session_cookie = activated
        .set_cookies
        .iter()
        .find(|c| c.starts_with("guichet_session="))
        .unwrap();
    assert!(
        session_cookie.contains("HttpOnly") && session_cookie.contains("SameSite=Lax"),
        "{session_cookie}"
    );
    let dashboard = browser.get(&server.url("/tableau-de-bord"));
    assert_eq!(dashboard.status, 200);
    assert!(
        dashboard
            .body
            .contains("Zoé Lefèvre — zoe.lefevre@example.org"),
        "{}",
        dashboard.body
    );

    // The link works once.
    let reused = browser.get(&link);
    assert_eq!(reused.status, 410);
    assert_eq!(heading(&reused), "Ce lien a déjà été utilisé");
    let unknown = browser.get(&server.url("/activation/0123456789abcdef"));
    assert_eq!(heading(&unknown), "Ce lien n&#x27;est pas valide");

    // Sign out, and the dashboard is closed.
    let dashboard = browser.get(&server.url("/tableau-de-bord"));
    let out = browser.post(
        &server.url("/deconnexion"),
        &[("csrf", &csrf_of(&dashboard.body))],
    );
    assert_eq!(heading(&out), "Vous êtes déconnecté");
    assert_eq!(browser.get(&server.url("/tableau-de-bord")).status, 401);

    // Sign in again; a second sign-in replaces the first session.
    let signed_in = browser.submit(
        &server.url("/connexion"),
        &[
            ("email", "zoe.lefevre@example.org"),
            ("password", "Calanques-de-Sormiou-7"),
        ],
    );
    assert_eq!(signed_in.status, 303);
    let first_session = browser.cookies["guichet_session"].clone();
    let mut other_tab = Browser {
        agent: browser.agent.clone(),
        cookies: browser.cookies.clone(),
    };
    browser.submit(
        &server.url("/connexion"),
        &[
            ("email", "zoe.lefevre@example.org"),
            ("password", "Calanques-de-Sormiou-7"),
        ],
    );
    assert_ne!(
        browser.cookies["guichet_session"], first_session,
        "rotated at sign-in"
    );
    assert_eq!(
        other_tab.get(&server.url("/tableau-de-bord")).status,
        401,
        "the old session is closed"
    );
    assert_eq!(browser.get(&server.url("/tableau-de-bord")).status, 200);

    // Forgotten password: a link by mail, a new password, the old one no longer works.
    let mut stranger = Browser::new();
    let sent = stranger.submit(
        &server.url("/mot-de-passe-oublie"),
        &[("email", "zoe.lefevre@example.org")],
    );
    assert_eq!(heading(&sent), "Consultez votre messagerie");
    let (_, reset) = link_in_mail(&smtp, "zoe.lefevre@example.org", "Mot de passe oublié", 1);
    let changed = stranger.submit(
        &reset,
        &[
            ("password", "Massif-des-Calanques-8"),
            ("password_confirm", "Massif-des-Calanques-8"),
        ],
    );
    assert_eq!(changed.status, 303);
    let mut later = Browser::new();
    let old = later.submit(
        &server.url("/connexion"),
        &[
            ("email", "zoe.lefevre@example.org"),
            ("password", "Calanques-de-Sormiou-7"),
        ],
    );
    assert_eq!(old.status, 422);
    assert!(
        old.body
            .contains("L&#x27;identifiant ou le mot de passe est incorrect."),
        "{}",
        old.body
    );
    let new = later.submit(
        &server.url("/connexion"),
        &[
            ("email", "zoe.lefevre@example.org"),
            ("password", "Massif-des-Calanques-8"),
        ],
    );
    assert_eq!(new.status, 303);
    server.stop();
}

#[test]
fn forms_refuse_requests_without_their_csrf_token() {
    let folder = tempfile::tempdir().unwrap();
    let server = Guichet::start(&folder.path().join("data"), None);
    let mut browser = Browser::new();
    // No token at all.
    let bare = browser.post(
        &server.url("/connexion"),
        &[("email", "a@example.org"), ("password", "x")],
    );
    assert_eq!(bare.status, 403);
    assert_eq!(heading(&bare), "Ce formulaire a expiré");
    // A cookie, but a field from elsewhere.
    browser.get(&server.url("/connexion"));
    let forged = browser.post(
        &server.url("/inscription"),
        &[
            ("csrf", "f00d"),
            ("last_name", "X"),
            ("first_name", "Y"),
            ("email", "x@example.org"),
        ],
    );
    assert_eq!(forged.status, 403);
    server.stop();
}

#[test]
fn sign_up_answers_the_same_whether_the_address_has_an_account_or_not() {
    let folder = tempfile::tempdir().unwrap();
    let smtp = SmtpServer::start(free_port(), &folder.path().join("maildir"));
    let server = Guichet::start(&folder.path().join("data"), Some(smtp.port));
    let fields = [
        ("last_name", "Martin"),
        ("first_name", "Noé"),
        ("email", "noe.martin@example.org"),
    ];
    let first = Browser::new().submit(&server.url("/inscription"), &fields);
    let (_, link) = link_in_mail(&smtp, "noe.martin@example.org", "Activation", 1);
    let mut browser = Browser::new();
    browser.submit(
        &link,
        &[
            ("password", "Vallon-des-Auffes-3"),
            ("password_confirm", "Vallon-des-Auffes-3"),
        ],
    );
    let again = Browser::new().submit(&server.url("/inscription"), &fields);
    let fresh = Browser::new().submit(
        &server.url("/inscription"),
        &[
            ("last_name", "Roux"),
            ("first_name", "Léa"),
            ("email", "lea.roux@example.org"),
        ],
    );
    assert_eq!((first.status, &first.body), (again.status, &again.body));
    assert_eq!((fresh.status, &fresh.body), (again.status, &again.body));
    server.stop();
}

#[test]
fn the_eleventh_wrong_password_in_a_minute_is_throttled() {
    let folder = tempfile::tempdir().unwrap();
    let server = Guichet::start(&folder.path().join("data"), None);
    let mut browser = Browser::new();
    for _ in 0..10 {
        let wrong = browser.submit(
            &server.url("/connexion"),
            &[("email", "nobody@example.org"), ("password", "wrong")],
        );
        assert_eq!(wrong.status, 422);
    }
    let throttled = browser.submit(
        &server.url("/connexion"),
        &[("email", "nobody@example.org"), ("password", "wrong")],
    );
    assert_eq!(throttled.status, 429);
    assert_eq!(heading(&throttled), "Trop de tentatives");
    assert!(throttled.body.contains("Patientez une minute"));
    server.stop();
}

#[test]
fn without_smtp_the_activation_link_is_in_the_log() {
    let folder = tempfile::tempdir().unwrap();
    let log_path = folder.path().join("guichet.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let server = Guichet::launch(&folder.path().join("data"), None, &[], log);
    Browser::new().submit(
        &server.url("/inscription"),
        &[
            ("last_name", "Roux"),
            ("first_name", "Léa"),
            ("email", "lea@example.org"),
        ],
    );
    let activation = server.url("/activation/");
    wait_for("the link in the log", || {
        std::fs::read_to_string(&log_path)
            .unwrap_or_default()
            .contains(&activation)
    });
    server.stop();
}

#[test]
fn the_email_changes_once_the_new_address_is_confirmed() {
    let folder = tempfile::tempdir().unwrap();
    let data = folder.path().join("data");
    let smtp = SmtpServer::start(free_port(), &folder.path().join("maildir"));
    let server = Guichet::start(&data, Some(smtp.port));
    let mut browser = Browser::new();
    browser.submit(
        &server.url("/inscription"),
        &[
            ("last_name", "Roux"),
            ("first_name", "Léa"),
            ("email", "lea@example.org"),
        ],
    );
    let (_, link) = link_in_mail(&smtp, "lea@example.org", "Activation", 1);
    browser.submit(
        &link,
        &[
            ("password", "Pointe-Rouge-2027"),
            ("password_confirm", "Pointe-Rouge-2027"),
        ],
    );

    let sent = browser.submit(
        &server.url("/compte/email"),
        &[("email", "lea.roux@example.net")],
    );
    assert_eq!(heading(&sent), "Consultez votre messagerie");
    // Nothing changes until the new address answers.
    assert!(browser
        .get(&server.url("/tableau-de-bord"))
        .body
        .contains("— lea@example.org"));
    let (_, confirm) = link_in_mail(
        &smtp,
        "lea.roux@example.net",
        "Confirmez votre nouvelle adresse",
        1,
    );
    let confirmed = browser.get(&confirm);
    assert_eq!(
        heading(&confirmed),
        "Votre adresse électronique a été changée"
    );
    assert!(browser
        .get(&server.url("/tableau-de-bord"))
        .body
        .contains("— lea.roux@example.net"));
    let mut fresh = Browser::new();
    let signed_in = fresh.submit(
        &server.url("/connexion"),
        &[
            ("email", "lea.roux@example.net"),
            ("password", "Pointe-Rouge-2027"),
        ],
    );
    assert_eq!(signed_in.status, 303);
    server.stop();

    // The dossier's mails go to the new address too.
    let definition = Definition::load(repository().join("definitions/osu-pytheas.yaml")).unwrap();
    let engine = Engine::open(definition, SledStore::open(data.join("store")).unwrap()).unwrap();
    let dossiers = engine.dossiers().unwrap();
    assert_eq!(dossiers.len(), 1);
    assert_eq!(dossiers[0].candidate.email, "lea.roux@example.net");
}

#[test]
fn an_expired_activation_link_gets_a_clear_page() {
    let folder = tempfile::tempdir().unwrap();
    let log_path = folder.path().join("guichet.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let server = Guichet::launch(
        &folder.path().join("data"),
        None,
        &["--link-validity", "1 second"],
        log,
    );
    Browser::new().submit(
        &server.url("/inscription"),
        &[
            ("last_name", "Roux"),
            ("first_name", "Léa"),
            ("email", "lea@example.org"),
        ],
    );
    let activation = server.url("/activation/");
    let mut link = String::new();
    wait_for("the link in the log", || {
        let text = std::fs::read_to_string(&log_path).unwrap_or_default();
        match text.find(&activation) {
            Some(at) => {
                link = text[at..]
                    .split(|c: char| !c.is_ascii_alphanumeric() && !":/.".contains(c))
                    .next()
                    .unwrap()
                    .to_owned();
                true
            }
            None => false,
        }
    });
    std::thread::sleep(Duration::from_millis(1500));
    let expired = Browser::new().get(&link);
    assert_eq!(expired.status, 410);
    assert_eq!(heading(&expired), "Ce lien a expiré");
    assert!(expired.body.contains("Recevoir un nouveau lien"));
    server.stop();
}

#[test]
fn dossier_sections_are_forms_checked_on_the_server() {
    let folder = tempfile::tempdir().unwrap();
    let (server, mut browser, data) = signed_up(folder.path(), &[]);

    // The identity form: labels, required markers, help; errors next to their field.
    let page = browser.get(&server.url("/dossier/etat_civil"));
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains(
            r#"<label for="nom_naissance">Nom de naissance <span class="required">*</span></label>"#
        ),
        "{}",
        page.body
    );
    assert!(page.body.contains("relevé de notes du baccalauréat"));
    let wrong = browser.submit(
        &server.url("/dossier/etat_civil"),
        &[
            ("nom_naissance", "<script>alert(1)</script>"),
            ("ine", "12345"),
            ("date_naissance", "2003-02-30"),
        ],
    );
    assert_eq!(wrong.status, 422);
    assert!(
        wrong
            .body
            .contains(r#"<p class="error" id="prenoms-error">Ce champ est obligatoire.</p>"#),
        "{}",
        wrong.body
    );
    assert!(
        wrong.body.contains("L&#x27;INE compte 11 caractères"),
        "{}",
        wrong.body
    );
    assert!(wrong
        .body
        .contains(r#"aria-describedby="ine-help ine-error""#));
    assert!(wrong.body.contains("Saisissez une date valide"));
    // What was typed is kept, as text.
    assert!(
        wrong
            .body
            .contains(r#"value="&lt;script&gt;alert(1)&lt;&#x2f;script&gt;""#),
        "{}",
        wrong.body
    );
    assert!(!wrong.body.contains("<script>alert(1)</script>"));

    let saved = browser.submit(
        &server.url("/dossier/etat_civil"),
        &[
            ("civilite", "mme"),
            ("nom_naissance", "<script>alert(1)</script>"),
            ("prenoms", "Camille"),
            ("date_naissance", "2003-05-14"),
            ("commune_naissance", "Marseille"),
            ("pays_naissance", "FR"),
            ("nationalite", "FR"),
            ("ine", "123456789AB"),
        ],
    );
    assert_eq!(saved.status, 303, "{}", saved.body);

    // The bac: without JavaScript, sending the form re-evaluates the conditions and lists.
    let bac = browser.submit(
        &server.url("/dossier/baccalaureat"),
        &[
            ("situation", "bac_francais"),
            ("annee", "2021"),
            ("serie", "S"),
        ],
    );
    assert_eq!(bac.status, 422);
    assert!(
        bac.body.contains(r#"<option value="GEN""#) && !bac.body.contains(r#"<option value="S""#),
        "series follow the year"
    );
    assert!(bac.body.contains("Choisissez une option de la liste."));
    let bac = browser.submit(
        &server.url("/dossier/baccalaureat"),
        &[
            ("situation", "bac_francais"),
            ("annee", "2021"),
            ("serie", "GEN"),
            ("commune", "13001"),
            ("etablissement", "aix-cezanne"),
        ],
    );
    assert_eq!(bac.status, 303, "{}", bac.body);
    let none = browser.submit(
        &server.url("/dossier/baccalaureat"),
        &[("situation", "sans_bac"), ("annee", "2021")],
    );
    assert_eq!(
        none.status, 303,
        "hidden fields are not required: {}",
        none.body
    );
    let page = browser.get(&server.url("/dossier/baccalaureat"));
    assert!(
        page.body
            .contains(r#"<div class="field" data-field="annee" hidden>"#),
        "{}",
        page.body
    );

    // Two external curriculum entries; one edited, then removed.
    for (year, level, title) in [
        ("2021", "l1", "L1, Sciences de la Terre"),
        ("2022", "l2", "L2, Sciences de la Terre"),
    ] {
        let added = browser.submit(
            &server.url("/dossier/cursus_externe/nouveau"),
            &[
                ("annee", year),
                ("niveau", level),
                ("etablissement", "Université de Toulon"),
                ("pays", "FR"),
                ("intitule", title),
                ("obtenu", "oui"),
            ],
        );
        assert_eq!(added.status, 303, "{}", added.body);
    }
    let bad = browser.submit(
        &server.url("/dossier/cursus_externe/nouveau"),
        &[
            ("annee", "2023"),
            ("niveau", "l3"),
            ("etablissement", "Toulon"),
            ("pays", "FR"),
            ("intitule", "Licence"),
            ("obtenu", "oui"),
        ],
    );
    assert_eq!(bad.status, 422);
    assert!(
        bad.body.contains("Séparez par des virgules"),
        "{}",
        bad.body
    );
    let list = browser.get(&server.url("/dossier/cursus_externe"));
    assert!(
        list.body.contains("L1, Sciences de la Terre")
            && list.body.contains("L2, Sciences de la Terre")
    );
    assert!(list.body.contains("Nouveau cursus"));
    let removed = browser.post(
        &server.url("/dossier/cursus_externe/1/supprimer"),
        &[("csrf", &csrf_of(&list.body))],
    );
    assert_eq!(removed.status, 303);
    let list = browser.get(&server.url("/dossier/cursus_externe"));
    assert!(
        !list.body.contains("L1, Sciences de la Terre")
            && list.body.contains("L2, Sciences de la Terre")
    );
    assert_eq!(
        browser.get(&server.url("/dossier/cursus_externe/7")).status,
        404
    );

    // The imported curriculum is read-only; the dashboard shows progress.
    let imported = browser.get(&server.url("/dossier/cursus_interne"));
    assert!(
        imported.body.contains("scolarite@osupytheas.fr") && !imported.body.contains("Nouveau")
    );
    let refused = browser.post(
        &server.url("/dossier/cursus_interne/nouveau"),
        &[("csrf", &csrf_of(&list.body)), ("annee", "2020")],
    );
    assert_eq!(refused.status, 404);
    let dashboard = browser.get(&server.url("/tableau-de-bord"));
    assert!(
        dashboard.body.contains(
            r#"<a href="/dossier/etat_civil?lang=fr">État civil</a> — rubrique complète"#
        ),
        "{}",
        dashboard.body
    );
    assert!(dashboard
        .body
        .contains(r#"<a href="/dossier/coordonnees?lang=fr">Coordonnées</a> — à compléter"#));

    // Without a session, nothing is shown.
    assert_eq!(
        Browser::new()
            .get(&server.url("/dossier/etat_civil"))
            .status,
        401
    );
    server.stop();

    // What was stored: the script tag as text, the hidden bac fields dropped.
    let definition = Definition::load(folder.path().join("definition/procedure.yaml")).unwrap();
    let engine = Engine::open(definition, SledStore::open(data.join("store")).unwrap()).unwrap();
    let dossier = engine.dossiers().unwrap().remove(0);
    assert_eq!(
        dossier.profile["etat_civil"]["nom_naissance"],
        "<script>alert(1)</script>"
    );
    assert_eq!(
        dossier.profile["baccalaureat"],
        serde_json::json!({"situation": "sans_bac"})
    );
    assert_eq!(
        dossier.profile["cursus_externe"].as_array().unwrap().len(),
        1
    );
}

#[test]
fn a_candidate_applies_uploads_checked_pieces_and_transmits() {
    let folder = tempfile::tempdir().unwrap();
    let (server, mut browser, data) = signed_up(folder.path(), &[]);

    // The catalogue: accents and capitals do not matter.
    let found = browser.get(&server.url("/formations?q=geologie"));
    assert!(
        found
            .body
            .contains("Master Sciences de l&#x27;Environnement Terrestre — M1"),
        "{}",
        found.body
    );
    assert!(!found.body.contains("Océanographie — M1"));
    let found = browser.get(&server.url("/formations?q=OCEANOGRAPHIE&composante=osu-pytheas"));
    assert!(found.body.contains("Master Océanographie — M1"));

    // Apply, with a confirmation step.
    let formation = browser.get(&server.url("/formations/m1-set"));
    assert!(formation.body.contains("Curriculum vitae"));
    let applied = browser.submit(&server.url("/formations/m1-set/candidater"), &[]);
    assert_eq!(applied.status, 303);
    assert_eq!(
        applied.location.as_deref(),
        Some("/candidatures/c1?lang=fr")
    );
    let twice = browser.submit(&server.url("/formations/m1-set/candidater"), &[]);
    assert!(
        twice
            .body
            .contains("Vous avez déjà une candidature à cette formation."),
        "{}",
        twice.body
    );

    let page = browser.get(&server.url("/candidatures/c1"));
    assert!(page.body.contains("En attente"), "{}", page.body);
    let csrf = csrf_of(&page.body);
    let cv = server.url("/candidatures/c1/pieces/cv");

    // A transmission forced by a direct POST while pieces are pending.
    let early = browser.post(
        &server.url("/candidatures/c1/transmettre"),
        &[("csrf", &csrf)],
    );
    assert_eq!(early.status, 422);
    assert!(
        early
            .body
            .contains("Toutes les pièces doivent être déposées"),
        "{}",
        early.body
    );

    // Bad files, each with its message, nothing stored.
    let zip = upload(
        &mut browser,
        &cv,
        &csrf,
        "cv.pdf",
        b"PK\x03\x04\x14\x00\x00\x00 not a pdf at all",
    );
    assert_eq!(zip.status, 422);
    assert!(
        zip.body.contains("n&#x27;est pas au format demandé"),
        "{}",
        zip.body
    );
    let mut big = pdf();
    big.resize(3_000_000, b' ');
    let too_big = upload(&mut browser, &cv, &csrf, "cv.pdf", &big);
    assert_eq!(too_big.status, 422);
    assert!(
        too_big
            .body
            .contains("trop volumineux : la taille maximale est de 2 Mo"),
        "{}",
        too_big.body
    );
    let truncated = upload(&mut browser, &cv, &csrf, "cv.pdf", &pdf()[..60]);
    assert!(
        truncated.body.contains("incomplet ou endommagé"),
        "{}",
        truncated.body
    );
    let files = data.join("files");
    let stored = || walk(&files);
    assert_eq!(stored(), 0);

    // Good files: a PDF and a PNG; the other piece declared not concerned.
    for piece in ["cv", "lettre_motivation", "releves_notes", "diplomes"] {
        let sent = upload(
            &mut browser,
            &server.url(&format!("/candidatures/c1/pieces/{piece}")),
            &csrf,
            &format!("{piece}.pdf"),
            &pdf(),
        );
        assert_eq!(sent.status, 303, "{}", sent.body);
    }
    let photo = upload(
        &mut browser,
        &server.url("/candidatures/c1/pieces/piece_identite"),
        &csrf,
        "passeport.png",
        &png(),
    );
    assert_eq!(photo.status, 303, "{}", photo.body);
    assert_eq!(stored(), 2, "the same PDF is stored once");
    let not_concerned = browser.post(
        &server.url("/candidatures/c1/pieces/non_francophone/declarer_non_concerne"),
        &[("csrf", &csrf)],
    );
    assert_eq!(not_concerned.status, 303);
    let page = browser.get(&server.url("/candidatures/c1"));
    assert!(
        page.body.contains("Non concerné") && page.body.contains("Toutes les pièces sont déposées"),
        "{}",
        page.body
    );

    // The file comes back to its owner only, as an attachment.
    let download = browser.get(&server.url("/candidatures/c1/pieces/cv/fichier"));
    assert_eq!(download.status, 200);
    assert_eq!(download.body.as_bytes(), &pdf()[..]);
    let mut other = activated(
        &server,
        &folder.path().join("guichet.log"),
        "mallory@example.org",
    );
    assert_eq!(other.get(&server.url("/candidatures/c1")).status, 404);
    assert_eq!(
        other
            .get(&server.url("/candidatures/c1/pieces/cv/fichier"))
            .status,
        404
    );

    // Transmit, with a confirmation: received, and the mail is sent.
    let sent = browser.submit(&server.url("/candidatures/c1/transmettre"), &[]);
    assert_eq!(sent.status, 303, "{}", sent.body);
    let page = browser.get(&server.url("/candidatures/c1"));
    assert!(
        page.body.contains("<strong>Réceptionné</strong>"),
        "{}",
        page.body
    );
    let late = upload(&mut browser, &cv, &csrf, "cv.pdf", &pdf());
    assert_eq!(late.status, 422, "read-only once sent");

    // The dashboard says what comes next, and what happened.
    let dashboard = browser.get(&server.url("/tableau-de-bord")).body;
    assert!(dashboard.contains("Réceptionné"), "{dashboard}");
    assert!(
        dashboard.contains("À faire : rien de votre part"),
        "{dashboard}"
    );
    assert!(
        dashboard.contains("Transmettre ma candidature"),
        "{dashboard}"
    );
    assert!(
        dashboard.contains("Déposer : Curriculum vitae"),
        "{dashboard}"
    );
    assert!(
        dashboard.contains("Je ne suis pas concerné : Étudiant d&#x27;un pays"),
        "{dashboard}"
    );
    let mails = data.join("mail");
    wait_for("the receipt", || {
        std::fs::read_dir(&mails).is_ok_and(|entries| {
            entries.filter_map(Result::ok).any(|e| {
                decode(&e.path())["subject"]
                    .as_str()
                    .unwrap()
                    .starts_with("Dossier réceptionné")
            })
        })
    });
    server.stop();
}

#[test]
fn a_changed_definition_changes_the_pages_after_a_restart_without_touching_dossiers_in_progress() {
    let folder = tempfile::tempdir().unwrap();
    let definition_folder = folder.path().join("definition");
    let definition = osu_copy(&definition_folder, open_campaign);
    let data = folder.path().join("data-store");
    let log_path = folder.path().join("guichet.log");
    let server = Guichet::launch_on(
        &definition,
        &data,
        None,
        &[],
        std::fs::File::create(&log_path).unwrap(),
    );
    let mut before = activated(&server, &log_path, "avant@example.org");
    let page = before.get(&server.url("/dossier/etat_civil"));
    assert!(page.body.contains("Nom de naissance") && !page.body.contains("Prénom d&#x27;usage"));
    server.stop();

    // The administrators edit the file; no Rust changes.
    osu_copy(&definition_folder, |text| {
        changed_by_administrators(open_campaign(text))
    });
    let log_path = folder.path().join("guichet-2.log");
    let server = Guichet::launch_on(
        &definition,
        &data,
        None,
        &[],
        std::fs::File::create(&log_path).unwrap(),
    );
    let mut after = activated(&server, &log_path, "apres@example.org");
    let page = after.get(&server.url("/dossier/etat_civil"));
    assert!(
        page.body.contains("Nom de famille à la naissance"),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains(r#"<label for="prenom_usage">Prénom d&#x27;usage</label>"#),
        "{}",
        page.body
    );
    let saved = after.submit(
        &server.url("/dossier/etat_civil"),
        &[
            ("civilite", "m"),
            ("nom_naissance", "Roux"),
            ("prenom_usage", "Léo"),
            ("prenoms", "Léon"),
            ("date_naissance", "2002-01-02"),
            ("commune_naissance", "Arles"),
            ("pays_naissance", "FR"),
            ("nationalite", "FR"),
        ],
    );
    assert_eq!(saved.status, 303, "{}", saved.body);
    let applied = after.submit(&server.url("/formations/m1-set/candidater"), &[]);
    assert_eq!(applied.status, 303);
    assert!(after
        .get(&server.url("/candidatures/c1"))
        .body
        .contains("Photo d&#x27;identité"));

    // The dossier started before the change keeps the rules it started under.
    let page = before.get(&server.url("/dossier/etat_civil"));
    assert!(
        page.body.contains("Nom de naissance") && !page.body.contains("Prénom d&#x27;usage"),
        "{}",
        page.body
    );
    server.stop();
}
