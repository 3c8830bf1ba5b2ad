//! One server, several procedures: each under its own address with its own
//! catalogue, dossiers, staff and mails; one candidate account for all.

mod serving;

use std::path::{Path, PathBuf};

use serving::*;

const OSU: &str = "/osu-pytheas";
const SCHOOL: &str = "/ecole-doctorale-exemple";

/// The member whose password link is `link` signs in under `prefix`.
fn staff_signed_in(server: &Guichet, prefix: &str, link: &str) -> Browser {
    let token = &link[link.find("/staff/").unwrap()..];
    let mut browser = Browser::new();
    let done = browser.submit(
        &server.url(&format!("{prefix}{token}")),
        &[
            ("password", "Vieux-Port-Marseille-13"),
            ("password_confirm", "Vieux-Port-Marseille-13"),
        ],
    );
    assert_eq!(done.status, 303, "{}", done.body);
    browser
}

/// Applies to `formation` of the procedure under `prefix`.
fn apply(browser: &mut Browser, server: &Guichet, prefix: &str, formation: &str) -> Page {
    let url = server.url(&format!("{prefix}/formations/{formation}/candidater"));
    let form = browser.get(&url);
    assert_eq!(form.status, 200, "{}", form.body);
    browser.post(&url, &[("csrf", &csrf_of(&form.body))])
}

/// Under `folder`: the data folder, a copy of the OSU procedure and the
/// doctoral school, both campaigns open.
fn two_procedures(folder: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let osu = osu_copy(&folder.join("osu"), open_campaign);
    let school = doctoral_school_open(&folder.join("school"));
    (folder.join("data"), osu, school)
}

/// A server of both procedures, its log in `folder/guichet.log`.
fn serve_both(folder: &Path, data: &Path, [osu, school]: [&Path; 2]) -> Guichet {
    let log = std::fs::File::create(folder.join("guichet.log")).unwrap();
    Guichet::launch_all(&[osu, school], data, None, &[], log)
}

/// The doctoral school's office, added by the CLI: its password link.
fn school_office(school: &Path, data: &Path) -> String {
    add_staff_on(school, data, "office@school.example", "school", "*", false)
}

#[test]
fn one_account_applies_to_two_procedures_whose_staff_stay_apart() {
    let folder = tempfile::tempdir().unwrap();
    let (data, osu, school) = two_procedures(folder.path());
    let osu_office = add_staff_on(
        &osu,
        &data,
        "scolarite@osu.example",
        "gestionnaire",
        "*",
        false,
    );
    let school_office = school_office(&school, &data);
    let server = serve_both(folder.path(), &data, [&osu, &school]);
    let log_path = folder.path().join("guichet.log");

    // The server's home lists both procedures.
    let (status, _, home) = server.get("/", &[]);
    assert_eq!(status, 200);
    assert!(
        home.contains("OSU Institut Pythéas") && home.contains("École doctorale"),
        "{home}"
    );

    // One account, made on one procedure, applies to both.
    let mut camille = activated_at(&server, OSU, &log_path, "camille@example.org");
    let osu_applied = apply(&mut camille, &server, OSU, "m1-set");
    assert_eq!(osu_applied.status, 303, "{}", osu_applied.body);
    let school_applied = apply(&mut camille, &server, SCHOOL, "contrat-2027");
    assert_eq!(school_applied.status, 303, "{}", school_applied.body);
    let osu_dashboard = camille.get(&server.url(&format!("{OSU}/tableau-de-bord")));
    let school_dashboard = camille.get(&server.url(&format!("{SCHOOL}/tableau-de-bord")));
    assert!(
        osu_dashboard.body.contains("Environnement Terrestre"),
        "{}",
        osu_dashboard.body
    );
    assert!(
        !osu_dashboard.body.contains("Doctoral contract"),
        "{}",
        osu_dashboard.body
    );
    assert!(
        school_dashboard.body.contains("Doctoral contract 2027"),
        "{}",
        school_dashboard.body
    );
    assert!(
        !school_dashboard.body.contains("Environnement Terrestre"),
        "{}",
        school_dashboard.body
    );
    // Each procedure's links stay under its own address.
    assert!(
        school_dashboard
            .body
            .contains("href=\"/ecole-doctorale-exemple/candidatures/c1?"),
        "{}",
        school_dashboard.body
    );

    // A new address, confirmed on one procedure, is the one of both dossiers.
    let sent = camille.submit(
        &server.url(&format!("{SCHOOL}/compte/email")),
        &[
            ("email", "camille.durand@example.net"),
            ("password", "Calanques-de-Sormiou-7"),
        ],
    );
    assert_eq!(sent.status, 200, "{}", sent.body);
    let mut confirm = String::new();
    wait_for("the confirmation link", || {
        let prefix = server.url(&format!("{SCHOOL}/compte/email/"));
        let links = links_in_log(&log_path, "camille.durand@example.net", &prefix);
        links.first().map(|link| confirm.clone_from(link)).is_some()
    });
    assert_eq!(camille.get(&confirm).status, 200);

    // The doctoral school's office sees Camille's candidature there.
    let mut office = staff_signed_in(&server, SCHOOL, &school_office);
    let list = office.get(&server.url(&format!("{SCHOOL}/staff")));
    assert_eq!(list.status, 200, "{}", list.body);
    let marker = "ecole-doctorale-exemple&#x2f;staff&#x2f;candidatures&#x2f;";
    let at = list
        .body
        .find(marker)
        .unwrap_or_else(|| panic!("{}", list.body))
        + marker.len();
    let dossier: String = list.body[at..]
        .chars()
        .take_while(char::is_ascii_alphanumeric)
        .collect();
    let page = format!("{SCHOOL}/staff/candidatures/{dossier}/c1");
    assert_eq!(office.get(&server.url(&page)).status, 200);

    // The OSU office, signed in on its own procedure, reaches nothing of the other.
    let mut osu_member = staff_signed_in(&server, OSU, &osu_office);
    assert_eq!(
        osu_member.get(&server.url(&format!("{OSU}/staff"))).status,
        200
    );
    for path in [
        page.clone(),
        format!("{page}/pieces/research_project/fichier-envoye"),
        format!("{SCHOOL}/staff"),
        format!("{SCHOOL}/staff/export.csv"),
    ] {
        let refused = osu_member.get(&server.url(&path));
        assert_eq!(refused.status, 403, "{path}: {}", refused.body);
    }
    // Nor can they sign in there with their password.
    let signin = format!("{SCHOOL}/staff/connexion");
    let form = Browser::new().get(&server.url(&signin));
    let mut stranger = Browser::new();
    let refused = stranger.post(
        &server.url(&signin),
        &[
            ("csrf", &csrf_of(&form.body)),
            ("email", "scolarite@osu.example"),
            ("password", "Vieux-Port-Marseille-13"),
        ],
    );
    assert_ne!(refused.status, 303, "{}", refused.body);
    assert!(!stranger.cookies.contains_key("guichet_staff"));
    server.stop();

    // Each procedure keeps its dossiers in its own store.
    for (procedure, formation) in [
        ("osu-pytheas", "m1-set"),
        ("ecole-doctorale-exemple", "contrat-2027"),
    ] {
        let store =
            guichet_engine::SledStore::open(data.join("procedures").join(procedure).join("store"))
                .unwrap();
        let dossiers = guichet_engine::Store::dossiers(&store).unwrap();
        let formations: Vec<&str> = dossiers
            .iter()
            .flat_map(|d| d.candidatures.iter().map(|c| c.formation.as_str()))
            .collect();
        assert_eq!(formations, [formation], "{procedure}");
    }
}

/// The accounts are the server's, not a procedure's: so are the attempts
/// at them. Ten wrong passwords under one procedure use up the minute's
/// attempts under the other too.
#[test]
fn the_sign_in_attempts_of_a_minute_are_counted_across_procedures() {
    let folder = tempfile::tempdir().unwrap();
    let (data, osu, school) = two_procedures(folder.path());
    let server = serve_both(folder.path(), &data, [&osu, &school]);
    let wrong = [("email", "camille@example.org"), ("password", "wrong")];
    let mut browser = Browser::new();
    for _ in 0..10 {
        let refused = browser.submit(&server.url(&format!("{OSU}/connexion")), &wrong);
        assert_eq!(refused.status, 422, "{}", refused.body);
    }
    let throttled = browser.submit(&server.url(&format!("{SCHOOL}/connexion")), &wrong);
    assert_eq!(throttled.status, 429, "{}", throttled.body);
    server.stop();
}

/// `guichet staff add` prints its link from the server's root, which names
/// no procedure: it leads to the member's own, where the password is chosen.
#[test]
fn a_staff_password_link_printed_from_the_root_leads_to_the_members_procedure() {
    let folder = tempfile::tempdir().unwrap();
    let (data, osu, school) = two_procedures(folder.path());
    let link = school_office(&school, &data);
    let server = serve_both(folder.path(), &data, [&osu, &school]);
    let path = &link[link.find("/staff/").unwrap()..];
    let mut browser = Browser::new();
    let sent = browser.get(&server.url(&format!("{path}?lang=en")));
    assert_eq!(sent.status, 303, "{}", sent.body);
    assert_eq!(
        sent.location.as_deref(),
        Some(format!("{SCHOOL}{path}?lang=en").as_str())
    );
    // There, the member chooses a password and is signed in.
    let form = browser.get(&server.url(&format!("{SCHOOL}{path}")));
    assert_eq!(form.status, 200, "{}", form.body);
    let chosen = browser.submit(
        &server.url(&format!("{SCHOOL}{path}")),
        &[
            ("password", "Vieux-Port-Marseille-13"),
            ("password_confirm", "Vieux-Port-Marseille-13"),
        ],
    );
    assert_eq!(chosen.status, 303, "{}", chosen.body);
    // A link nobody was given goes to the first procedure, which says so.
    let unknown = browser.get(&server.url("/staff/mot-de-passe/nothing-of-the-kind"));
    assert_eq!(
        unknown.location.as_deref(),
        Some(format!("{OSU}/staff/mot-de-passe/nothing-of-the-kind").as_str())
    );
    server.stop();
}

/// A candidate's changes of a minute are counted across procedures, as
/// their account is one: sixty on one leave none for the other.
#[test]
fn a_candidates_changes_of_a_minute_are_counted_across_procedures() {
    let folder = tempfile::tempdir().unwrap();
    let (data, osu, school) = two_procedures(folder.path());
    let server = serve_both(folder.path(), &data, [&osu, &school]);
    let log_path = folder.path().join("guichet.log");
    let mut camille = activated_at(&server, OSU, &log_path, "camille@example.org");
    let school_url = server.url(&format!("{SCHOOL}/formations/contrat-2027/candidater"));
    let school_form = camille.get(&school_url);
    assert_eq!(school_form.status, 200, "{}", school_form.body);
    let osu_url = server.url(&format!("{OSU}/formations/m1-set/candidater"));
    let osu_form = camille.get(&osu_url);
    for n in 0..60 {
        let changed = camille.post(&osu_url, &[("csrf", &csrf_of(&osu_form.body))]);
        assert_ne!(changed.status, 429, "change {n}: {}", changed.body);
    }
    let paused = camille.post(&school_url, &[("csrf", &csrf_of(&school_form.body))]);
    assert_eq!(paused.status, 429, "{}", paused.body);
    assert!(
        paused.body.contains("Too many changes in a short time"),
        "{}",
        paused.body
    );
    server.stop();
}
