//! Accounts under pressure, on the real `guichet serve`: parallel requests of
//! one session, a new password ending what the old one opened, CSRF tokens
//! bound to their session, attempts counted when they start (behind a proxy
//! too), names and addresses that cannot write into mails.

mod serving;

use serving::*;

#[test]
fn fifty_parallel_requests_keep_the_session_and_signing_out_ends_it() {
    let folder = tempfile::tempdir().unwrap();
    let (server, mut browser, _) = signed_up(folder.path(), &[]);
    let pages = [
        "/tableau-de-bord",
        "/tableau-de-bord/historique",
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
    let server = Guichet::launch_on(&definition, &data, None, &proxy, Log::Discarded);
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
