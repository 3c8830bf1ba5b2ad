//! Accounts on the real `guichet serve`, with a real SMTP server receiving
//! the mails: sign-up, activation, sign-in and out, password reset, email
//! change, CSRF, throttling, and mailed links that expire or were used.

mod serving;

use std::time::Duration;

use guichet_engine::{Definition, Engine, SledStore};
use serving::*;

#[test]
fn a_candidate_signs_up_activates_signs_in_and_out_and_resets_the_password() {
    let folder = tempfile::tempdir().unwrap();
    let smtp = SmtpServer::start(&folder.path().join("maildir"));
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
    let smtp = SmtpServer::start(&folder.path().join("maildir"));
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
    let smtp = SmtpServer::start(&folder.path().join("maildir"));
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

    // A session alone does not move the account: its password does.
    let without = browser.submit(
        &server.url("/compte/email"),
        &[("email", "lea.roux@example.net"), ("password", "not-hers")],
    );
    assert_eq!(without.status, 422);
    assert!(without
        .body
        .contains("Ce n&#x27;est pas le mot de passe de votre compte."));
    let sent = browser.submit(
        &server.url("/compte/email"),
        &[
            ("email", "lea.roux@example.net"),
            ("password", "Pointe-Rouge-2027"),
        ],
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

    // The former address is told, with a way back; taking it ends every
    // session (whoever changed the address may hold one).
    let (_, undo) = link_in_mail(
        &smtp,
        "lea@example.org",
        "L'adresse de votre compte a été changée",
        1,
    );
    let undone = Browser::new().get(&undo);
    assert_eq!(
        heading(&undone),
        "Votre adresse électronique a été rétablie"
    );
    for session in [&mut browser, &mut fresh] {
        assert_eq!(session.get(&server.url("/tableau-de-bord")).status, 401);
    }
    let back = Browser::new().submit(
        &server.url("/connexion"),
        &[
            ("email", "lea@example.org"),
            ("password", "Pointe-Rouge-2027"),
        ],
    );
    assert_eq!(back.status, 303);
    server.stop();

    // The dossier's mails go to the address it has again.
    let definition = Definition::load(repository().join("definitions/osu-pytheas.yaml")).unwrap();
    let engine = Engine::open(definition, SledStore::open(data.join("store")).unwrap()).unwrap();
    let dossiers = engine.dossiers().unwrap();
    assert_eq!(dossiers.len(), 1);
    assert_eq!(dossiers[0].candidate.email, "lea@example.org");
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
