//! Accounts on the real `guichet serve`, with a real SMTP server receiving
//! the mails: sign-up, activation, sign-in and out, password reset, email
//! change, CSRF, throttling, and mailed links that expire or were used.

mod serving;

use std::process::Stdio;
use std::time::Duration;

use guichet_engine::{Definition, Engine, SledStore};
use serving::*;

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

#[test]
fn fifty_parallel_requests_keep_the_session_and_signing_out_ends_it() {
    let folder = tempfile::tempdir().unwrap();
    let (server, mut browser, _) = signed_up(folder.path(), &[]);
    let pages = [
        "/tableau-de-bord",
        "/dossier/etat_civil",
        "/dossier/baccalaureat/apercu",
        "/dossier/cursus_externe",
        "/compte/email",
    ];
    let csrf = csrf_of(&browser.get(&server.url("/dossier/baccalaureat")).body);
    let statuses = |browser: &Browser| -> Vec<(String, u16)> {
        let threads: Vec<_> = (0..50)
            .map(|n| {
                let url = server.url(pages[n % pages.len()]);
                let agent = browser.agent.clone();
                let cookies = browser.cookie_header();
                let csrf = csrf.clone();
                // Each connection sends several requests in a row, as a
                // browser's open tabs and live previews do.
                std::thread::spawn(move || {
                    let mut worst = 0;
                    for _ in 0..10 {
                        let response = if url.ends_with("/apercu") {
                            let answers = [
                                ("csrf", csrf.as_str()),
                                ("situation", "bac_francais"),
                                ("annee", "2021"),
                            ];
                            let request = agent.post(&url).header("cookie", &cookies);
                            request.send_form(answers).unwrap()
                        } else {
                            agent.get(&url).header("cookie", &cookies).call().unwrap()
                        };
                        worst = worst.max(response.status().as_u16());
                        // What a signed-in candidate sees is kept by no cache.
                        let cache = response.headers().get("cache-control");
                        assert_eq!(cache.unwrap().to_str().unwrap(), "no-store", "{url}");
                    }
                    (url, worst)
                })
            })
            .collect();
        threads.into_iter().map(|t| t.join().unwrap()).collect()
    };
    // Twice: the second round meets the last-seen times the first one wrote.
    for _ in 0..2 {
        let answers = statuses(&browser);
        assert!(
            answers.iter().all(|(_, status)| *status == 200),
            "{answers:?}"
        );
    }
    let dashboard = browser.get(&server.url("/tableau-de-bord"));
    let session = browser.cookies["guichet_session"].clone();
    let out = browser.post(
        &server.url("/deconnexion"),
        &[("csrf", &csrf_of(&dashboard.body))],
    );
    assert_eq!(out.status, 200);
    // The old cookie, kept by an attacker or another tab, opens nothing.
    let mut stale = Browser {
        agent: browser.agent.clone(),
        cookies: browser.cookies.clone(),
    };
    stale.cookies.insert("guichet_session".into(), session);
    let answers = statuses(&stale);
    assert!(
        answers.iter().all(|(_, status)| *status == 401),
        "{answers:?}"
    );
    server.stop();
}

#[test]
fn a_new_password_ends_the_other_sessions_and_every_older_link() {
    let folder = tempfile::tempdir().unwrap();
    let (server, mut first_tab, _) = signed_up(folder.path(), &[]);
    let log = folder.path().join("guichet.log");
    let email = "camille@example.org";
    let mut elsewhere = Browser::new();
    let signed_in = elsewhere.submit(
        &server.url("/connexion"),
        &[("email", email), ("password", "Calanques-de-Sormiou-7")],
    );
    assert_eq!(signed_in.status, 303);
    // A change of address waits for its confirmation…
    let asked = first_tab.submit(
        &server.url("/compte/email"),
        &[
            ("email", "camille.new@example.org"),
            ("password", "Calanques-de-Sormiou-7"),
        ],
    );
    assert_eq!(asked.status, 200);
    // …and two reset links are asked for; the newer one is used.
    let mut stranger = Browser::new();
    for _ in 0..2 {
        stranger.submit(&server.url("/mot-de-passe-oublie"), &[("email", email)]);
    }
    let reset = server.url("/mot-de-passe/");
    let mut links = Vec::new();
    wait_for("two reset links", || {
        links = links_in_log(&log, email, &reset);
        links.len() == 2
    });
    let changed = stranger.submit(
        &links[1],
        &[
            ("password", "Massif-des-Calanques-8"),
            ("password_confirm", "Massif-des-Calanques-8"),
        ],
    );
    assert_eq!(changed.status, 303);
    assert_eq!(stranger.get(&server.url("/tableau-de-bord")).status, 200);

    // Whoever held a session of the old password is signed out…
    for browser in [&mut first_tab, &mut elsewhere] {
        assert_eq!(browser.get(&server.url("/tableau-de-bord")).status, 401);
    }
    // …and the older links are spent.
    let older = stranger.get(&links[0]);
    assert_eq!(older.status, 410, "{}", older.body);
    let confirm = server.url("/compte/email/");
    let pending = links_in_log(&log, "camille.new@example.org", &confirm);
    assert_eq!(pending.len(), 1);
    assert_eq!(stranger.get(&pending[0]).status, 410);
    server.stop();
}

#[test]
fn a_csrf_token_is_worth_something_only_for_its_own_browser_and_session() {
    let folder = tempfile::tempdir().unwrap();
    let (server, mut camille, data) = signed_up(folder.path(), &[]);
    let log = folder.path().join("guichet.log");
    let sign_up = |email: &str| -> Vec<(String, String)> {
        vec![
            ("last_name".into(), "X".into()),
            ("first_name".into(), "Y".into()),
            ("email".into(), email.into()),
        ]
    };
    // A pair of cookie and field chosen by whoever sends them.
    for forged in ["a", &"ab".repeat(32)] {
        let mut attacker = Browser::new();
        attacker
            .cookies
            .insert("guichet_csrf".into(), forged.into());
        let mut fields = sign_up("forged@example.org");
        fields.push(("csrf".into(), forged.into()));
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (&**k, &**v)).collect();
        let refused = attacker.post(&server.url("/inscription"), &fields);
        assert_eq!(refused.status, 403, "{forged}");
    }
    // A token of one signed-in candidate, sent with another's session.
    let token = csrf_of(&camille.get(&server.url("/tableau-de-bord")).body);
    let mut other = activated(&server, &log, "noe@example.org");
    let refused = other.post(&server.url("/deconnexion"), &[("csrf", &token)]);
    assert_eq!(refused.status, 403);
    assert_eq!(other.get(&server.url("/tableau-de-bord")).status, 200);
    // Its own token works; the key is the server's alone.
    let out = camille.post(&server.url("/deconnexion"), &[("csrf", &token)]);
    assert_eq!(out.status, 200);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let key = std::fs::metadata(data.join("csrf.key")).unwrap();
        assert_eq!(key.permissions().mode() & 0o077, 0, "owner-only");
        let folder = std::fs::metadata(&data).unwrap();
        assert_eq!(
            folder.permissions().mode() & 0o077,
            0,
            "the data directory too"
        );
    }
    server.stop();
}

/// Sends `count` wrong passwords at once from `browser`, each with `headers`;
/// gives the statuses.
fn wrong_passwords_at_once(
    server: &Guichet,
    browser: &mut Browser,
    count: usize,
    headers: &[(&str, &str)],
) -> Vec<u16> {
    let token = csrf_of(&browser.get(&server.url("/connexion")).body);
    let threads: Vec<_> = (0..count)
        .map(|n| {
            let (agent, cookies) = (browser.agent.clone(), browser.cookie_header());
            let url = server.url("/connexion");
            let token = token.clone();
            let headers: Vec<(String, String)> = headers
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect();
            std::thread::spawn(move || {
                let mut request = agent.post(&url).header("cookie", &cookies);
                for (name, value) in &headers {
                    request = request.header(name, value);
                }
                let email = format!("person{n}@example.org");
                let fields = [
                    ("csrf", token.as_str()),
                    ("email", &email),
                    ("password", "wrong"),
                ];
                request.send_form(fields).unwrap().status().as_u16()
            })
        })
        .collect();
    threads.into_iter().map(|t| t.join().unwrap()).collect()
}

#[test]
fn sixty_parallel_wrong_passwords_count_as_sixty() {
    let folder = tempfile::tempdir().unwrap();
    let server = Guichet::start(&folder.path().join("data"), None);
    let statuses = wrong_passwords_at_once(&server, &mut Browser::new(), 60, &[]);
    let tried = statuses.iter().filter(|s| **s == 422).count();
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!((tried, refused), (10, 50), "{statuses:?}");
    server.stop();
}

#[test]
fn behind_a_trusted_proxy_each_client_has_its_own_attempts() {
    let folder = tempfile::tempdir().unwrap();
    let data = folder.path().join("data");
    let definition = repository().join("definitions/osu-pytheas.yaml");
    let proxy = ["--trusted-proxy", "127.0.0.1"];
    let server = Guichet::launch_on(&definition, &data, None, &proxy, Stdio::null());
    for client in ["198.51.100.7", "203.0.113.9"] {
        // What a client writes itself comes first; the proxy appends the truth.
        let forwarded = format!("10.0.0.1, {client}");
        let headers = [("x-forwarded-for", forwarded.as_str())];
        let statuses = wrong_passwords_at_once(&server, &mut Browser::new(), 12, &headers);
        let tried = statuses.iter().filter(|s| **s == 422).count();
        assert_eq!(tried, 10, "{client}: {statuses:?}");
    }
    server.stop();
}

#[test]
fn names_and_addresses_are_checked_and_whoever_activates_names_the_account() {
    let folder = tempfile::tempdir().unwrap();
    let log_path = folder.path().join("guichet.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let definition = repository().join("definitions/osu-pytheas.yaml");
    let data = folder.path().join("data");
    let server = Guichet::launch_on(&definition, &data, None, &[], log);
    let mut browser = Browser::new();
    let long = "x".repeat(1_500_000);
    let refused = [
        (
            "Zoé\n\nVotre compte est bloqué",
            "Lefèvre",
            "zoe@example.org",
        ),
        ("Zoé", long.as_str(), "zoe@example.org"),
        ("Zoé", "Lefèvre", "a,b@example.org"),
        ("Zoé", "Lefèvre", "<victim@example.org>"),
    ];
    for (first_name, last_name, email) in refused {
        let page = browser.submit(
            &server.url("/inscription"),
            &[
                ("last_name", last_name),
                ("first_name", first_name),
                ("email", email),
            ],
        );
        assert_eq!(page.status, 422, "{first_name:?} {email}");
    }
    // Someone signs up another's address with a name of their choosing…
    browser.submit(
        &server.url("/inscription"),
        &[
            ("last_name", "Farceur"),
            ("first_name", "Un"),
            ("email", "zoe@example.org"),
        ],
    );
    let mut link = String::new();
    wait_for("the activation link", || {
        let links = links_in_log(&log_path, "zoe@example.org", &server.url("/activation/"));
        links.first().map(|first| link.clone_from(first)).is_some()
    });
    // …and whoever activates it says who they are.
    let mut owner = Browser::new();
    let form = owner.get(&link);
    assert!(form.body.contains("value=\"Farceur\""), "{}", form.body);
    let activated = owner.submit(
        &link,
        &[
            ("last_name", "Lefèvre"),
            ("first_name", "Zoé"),
            ("password", "Calanques-de-Sormiou-7"),
            ("password_confirm", "Calanques-de-Sormiou-7"),
        ],
    );
    assert_eq!(activated.status, 303, "{}", activated.body);
    let dashboard = owner.get(&server.url("/tableau-de-bord"));
    assert!(dashboard.body.contains("Zoé Lefèvre"), "{}", dashboard.body);
    server.stop();
}
