//! The staff's side over HTTP, on the real binary: accounts from the command
//! line, sign-in, the list with its filters, sort and exports, a
//! candidature's page and actions, bulk actions, and every refusal of a
//! member outside their scope or role, or of a candidate, with nothing
//! changed in the store.

mod serving;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};
use serving::*;

fn guichet(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_guichet"))
        .args(args)
        .current_dir(repository())
        .output()
        .unwrap()
}

/// The password link of a CLI run, on `server`'s port; the member signed in.
/// The candidatures a bulk confirmation page's form names, as a browser
/// sends them (the page escapes `/`).
fn bulk_keys(confirmation: &Page) -> Vec<String> {
    confirmation
        .body
        .split(r#"<input type="hidden" name="c" value=""#)
        .skip(1)
        .map(|rest| rest[..rest.find('"').unwrap()].replace("&#x2f;", "/"))
        .collect()
}

fn signed_in_staff(server: &Guichet, link: &str) -> Browser {
    let path = &link[link.find("/staff/").unwrap()..];
    let mut browser = Browser::new();
    let done = browser.submit(
        &server.url(path),
        &[
            ("password", "Vieux-Port-Marseille-13"),
            ("password_confirm", "Vieux-Port-Marseille-13"),
        ],
    );
    assert_eq!(done.status, 303, "{}", done.body);
    assert!(browser.cookies.contains_key("guichet_staff"));
    browser
}

/// The M1 SET office (a gestionnaire scoped to `m1-set`) added by the
/// CLI: its password link.
fn set_office(data: &Path) -> String {
    add_staff(
        data,
        "scolarite-set@osu.example",
        "gestionnaire",
        "m1-set",
        false,
    )
}

/// The member of password link `link` signed in, with the page of
/// `dossier`'s first candidature open: the browser, the page's path, the
/// page (checked to be there).
fn candidature_opened(server: &Guichet, link: &str, dossier: &str) -> (Browser, String, Page) {
    let mut browser = signed_in_staff(server, link);
    let path = format!("/staff/candidatures/{dossier}/c1");
    let page = browser.get(&server.url(&path));
    assert_eq!(page.status, 200, "{}", page.body);
    (browser, path, page)
}

/// Three candidatures: Alice (M1 SET, received, with a real PDF as her CV),
/// Bruno (M1 Oceanography, received) and Chloé (M1 SET, decision entered).
/// Returns their dossier ids.
fn seed(data: &Path) -> [String; 3] {
    let engine = osu_engine(data);
    let now = "2027-03-20T10:00:00Z".parse().unwrap();
    let mut alice = Seeded::new(&engine, ("alice", "Alice", None), now);
    alice.send("m1-set", &OSU_PIECES);
    let mut bruno = Seeded::new(&engine, ("bruno", "Bruno", None), now);
    let answers = json!({"projet": "Étudier les courants côtiers.", "embarquement": true});
    bruno.send_with_form("m1-oceanographie", &OSU_PIECES, Some(answers));
    let mut chloe = Seeded::new(&engine, ("chloe", "Chloé", None), now);
    chloe.send("m1-set", &OSU_PIECES);
    chloe.transition("gestionnaire", "declarer_complet", Value::Null);
    chloe.transition("commission", "saisir_avis", json!({"avis": "favorable"}));
    pieces_stored(data, &alice.dossier);
    [alice.dossier, bruno.dossier, chloe.dossier]
}

/// A real PDF where the seeded pieces of `dossier` name their file (by a
/// digest of zeros).
fn pieces_stored(data: &Path, dossier: &str) {
    let folder = data.join("files/dossiers").join(dossier);
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("0".repeat(64)), pdf()).unwrap();
}

/// Each dossier's version, from the store (the server stopped).
fn versions(data: &Path) -> Vec<(String, u64)> {
    let engine = osu_engine(data);
    let mut versions: Vec<(String, u64)> = engine
        .dossiers()
        .unwrap()
        .into_iter()
        .map(|d| (d.id, d.version))
        .collect();
    versions.sort();
    versions
}

fn start(data: &Path) -> Guichet {
    start_on(&repository().join("definitions/osu-pytheas.yaml"), data)
}

/// The server on `definition`, on the day the seeded candidatures are seen.
fn start_on(definition: &Path, data: &Path) -> Guichet {
    Guichet::launch_on(
        definition,
        data,
        None,
        &["--now", "2027-03-25T10:00:00+01:00"],
        Log::Discarded,
    )
}

#[test]
fn staff_accounts_are_managed_from_the_command_line() {
    let folder = tempfile::tempdir().unwrap();
    let data = folder.path().to_str().unwrap();
    let checked = [
        "staff",
        "--data",
        data,
        "--definition",
        "definitions/osu-pytheas.yaml",
    ];
    let run = |more: &[&str]| {
        let mut args = checked.to_vec();
        args.extend_from_slice(more);
        guichet(&args)
    };
    let candidate_role = run(&["add", "x@osu.example", "--role", "candidat", "--scope", "*"]);
    assert_eq!(candidate_role.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&candidate_role.stderr);
    assert!(
        stderr.contains("`candidat` is not a staff role"),
        "{stderr}"
    );
    let unknown = run(&[
        "add",
        "x@osu.example",
        "--role",
        "gestionnaire",
        "--scope",
        "m3-set",
    ]);
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("`m3-set` is neither"));
    let not_an_address = run(&["add", "claire", "--scope", "*"]);
    assert_eq!(not_an_address.status.code(), Some(1));

    // By composante: every formation of the OSU.
    let added = run(&[
        "add",
        "Claire@OSU.example",
        "--role",
        "gestionnaire,commission",
        "--scope",
        "osu-pytheas",
    ]);
    assert!(added.status.success());
    let listed = String::from_utf8_lossy(&run(&["list"]).stdout).to_string();
    assert!(listed.contains("claire@osu.example"), "{listed}");
    assert!(
        listed.contains("roles commission,gestionnaire; scope osu-pytheas"),
        "{listed}"
    );
    assert!(listed.contains("no password yet"), "{listed}");
    let link = run(&["link", "claire@osu.example"]);
    assert!(String::from_utf8_lossy(&link.stdout).contains("/staff/mot-de-passe/"));
    assert!(run(&["disable", "claire@osu.example"]).status.success());
    let listed = String::from_utf8_lossy(&run(&["list"]).stdout).to_string();
    assert!(listed.contains("disabled"), "{listed}");
    let nobody = run(&["disable", "nobody@osu.example"]);
    assert!(String::from_utf8_lossy(&nobody.stderr).contains("no staff account"));
}

#[test]
fn a_gestionnaire_lists_filters_acts_and_exports_within_their_scope() {
    let folder = tempfile::tempdir().unwrap();
    let data = folder.path().join("data");
    let [alice, bruno, chloe] = seed(&data);
    let link = set_office(&data);
    let server = start(&data);
    let mut staff = signed_in_staff(&server, &link);

    // The list: Alice and Chloé, not Bruno (another formation).
    let list = staff.get(&server.url("/staff"));
    assert_eq!(list.status, 200);
    assert!(list.body.contains("LEFÈVRE Alice"), "{}", list.body);
    assert!(list.body.contains("LEFÈVRE Chloé"));
    assert!(!list.body.contains("Bruno"));
    assert!(
        list.body.contains("Réceptionné <strong>1</strong>"),
        "{}",
        list.body
    );
    assert!(list.body.contains("Avis en cours <strong>1</strong>"));
    let received = staff.get(&server.url("/staff?state=receptionne"));
    assert!(received.body.contains("Alice") && !received.body.contains("Chloé"));
    let favourable = staff.get(&server.url("/staff?avis=favorable"));
    assert!(favourable.body.contains("Chloé") && !favourable.body.contains("Alice"));
    let by_number = staff.get(&server.url(&format!("/staff?q={}", &alice[..12])));
    assert!(by_number.body.contains("Alice") && !by_number.body.contains("Chloé"));
    let by_name = staff.get(&server.url("/staff?q=chloe"));
    assert!(
        by_name.body.contains("Chloé") && !by_name.body.contains("Alice"),
        "accents folded"
    );
    let two_words = staff.get(&server.url("/staff?q=LEF%C3%88VRE+chlo"));
    assert!(
        two_words.body.contains("Chloé") && !two_words.body.contains("Alice"),
        "every word, the query folded too"
    );
    let descending = staff.get(&server.url("/staff?sort=name&order=desc"));
    let (a, c) = (
        descending.body.find("Alice").unwrap(),
        descending.body.find("Chloé").unwrap(),
    );
    assert!(c < a, "Chloé before Alice, descending");
    assert!(descending.body.contains(r#"aria-sort="descending""#));

    // Alice's page: her pieces, viewable inline; the officer's actions.
    let page_path = format!("/staff/candidatures/{alice}/c1");
    let page = staff.get(&server.url(&page_path));
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains("<iframe class=\"viewer\""),
        "{}",
        page.body
    );
    assert!(page.body.contains("Dossier complet"));
    assert!(
        page.body.contains("au moins une pièce, avec son motif"),
        "incomplete is refused, with why"
    );
    let (status, headers, _) = server.get(
        &format!("{page_path}/pieces/cv/fichier-envoye?inline=1"),
        &[("cookie", &staff.cookie_header())],
    );
    assert_eq!(status, 200);
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    assert_eq!(header("content-type"), "application/pdf");
    assert!(header("content-disposition").starts_with("inline"));
    assert!(header("content-security-policy").contains("frame-ancestors 'self'"));

    // A refusal needs its reason; then the dossier can be marked incomplete.
    let csrf = csrf_of(&page.body);
    let refuse = format!("{page_path}/pieces/cv/refuser_piece");
    let without = staff.post(&server.url(&refuse), &[("csrf", &csrf), ("comment", " ")]);
    assert_eq!(without.status, 422, "{}", without.body);
    assert!(
        without
            .body
            .contains("Commentaire : Ce champ est obligatoire."),
        "named by its label"
    );
    let essay = "x".repeat(6000);
    let too_long = staff.post(
        &server.url(&refuse),
        &[("csrf", &csrf), ("comment", &essay)],
    );
    assert_eq!(too_long.status, 422);
    assert!(
        too_long
            .body
            .contains("Commentaire : Saisissez au plus 5000 caractères."),
        "{}",
        too_long.body
    );
    let with = staff.post(
        &server.url(&refuse),
        &[("csrf", &csrf), ("comment", "Le CV est illisible")],
    );
    assert_eq!(with.status, 303, "{}", with.body);
    let incomplete = staff.post(
        &server.url(&format!("{page_path}/transitions/declarer_incomplet")),
        &[("csrf", &csrf)],
    );
    assert_eq!(incomplete.status, 303, "{}", incomplete.body);
    let page = staff.get(&server.url(&page_path));
    assert!(page.body.contains("Incomplet"));
    assert!(page.body.contains("Le CV est illisible"));
    assert!(
        page.body.contains("Claire Martin (Gestionnaire)"),
        "history names who acted: {}",
        page.body
    );
    let note = staff.post(
        &server.url(&format!("{page_path}/note")),
        &[("csrf", &csrf), ("note", "Rappeler la candidate")],
    );
    assert_eq!(note.status, 303);
    assert!(staff
        .get(&server.url(&page_path))
        .body
        .contains("Rappeler la candidate"));

    // Bulk: publish the decisions of the selection; Alice's cannot be.
    let selection = [
        ("csrf", csrf.as_str()),
        ("transition", "publier_avis"),
        ("c", &format!("{alice}/c1")),
        ("c", &format!("{chloe}/c1")),
        ("c", &format!("{bruno}/c1")),
    ];
    let confirm = staff.post(&server.url("/staff/lot"), &selection);
    assert_eq!(confirm.status, 200, "{}", confirm.body);
    assert!(
        confirm.body.contains("1 candidature(s) changeront"),
        "{}",
        confirm.body
    );
    assert!(confirm.body.contains("Pas depuis ce statut"));
    assert!(
        !confirm.body.contains("Bruno"),
        "out of scope: not even named"
    );
    // The confirmation's form names each candidature at the version shown.
    let shown = bulk_keys(&confirm);
    assert_eq!(shown.len(), 1, "{}", confirm.body);
    let confirmed = |staff: &mut Browser, keys: &[String]| {
        let mut fields = vec![("csrf", csrf.as_str()), ("transition", "publier_avis")];
        fields.extend(keys.iter().map(|key| ("c", key.as_str())));
        staff.post(&server.url("/staff/lot/appliquer"), &fields)
    };
    // Meanwhile, a colleague notes something on Chloé's candidature (here
    // the same member, from another tab): nothing is done over it unseen.
    let chloe_path = format!("/staff/candidatures/{chloe}/c1");
    let noted = staff.post(
        &server.url(&format!("{chloe_path}/note")),
        &[("csrf", &csrf), ("note", "Attendre le relevé de notes")],
    );
    assert_eq!(noted.status, 303, "{}", noted.body);
    let stale = confirmed(&mut staff, &shown);
    assert!(
        stale.body.contains("0 candidature(s) changée(s)")
            && stale
                .body
                .contains("a changé depuis la page de confirmation"),
        "{}",
        stale.body
    );
    assert!(staff
        .get(&server.url(&chloe_path))
        .body
        .contains("Avis en cours"));
    // Confirmed again, from the page as it is now: done.
    let confirm = staff.post(&server.url("/staff/lot"), &selection);
    let shown_now = bulk_keys(&confirm);
    assert_ne!(shown_now, shown);
    let done = confirmed(&mut staff, &shown_now);
    assert!(
        done.body.contains("1 candidature(s) changée(s)"),
        "{}",
        done.body
    );
    let published = staff.get(&server.url("/staff?state=avis_publie"));
    assert!(published.body.contains("Chloé"));

    // Exports of the view: CSV for French spreadsheets, and XLSX.
    let (status, _, csv) = server.get(
        "/staff/export.csv?sort=name",
        &[("cookie", &staff.cookie_header())],
    );
    assert_eq!(status, 200);
    assert!(csv.starts_with('\u{feff}'), "a BOM");
    let lines: Vec<&str> = csv.trim_start_matches('\u{feff}').lines().collect();
    assert!(
        lines[0].starts_with("Numéro de dossier;Nom;Prénom;"),
        "{}",
        lines[0]
    );
    assert!(
        lines[0].contains("État civil — Nom de naissance"),
        "a column per answer"
    );
    assert_eq!(lines.len(), 3, "{csv}");
    assert!(
        lines[1].contains(";Lefèvre;Alice;") && lines[2].contains(";Lefèvre;Chloé;"),
        "{csv}"
    );
    assert!(lines[2].contains(";Favorable;"), "{csv}");
    let response = staff
        .agent
        .get(&server.url("/staff/export.xlsx?sort=name"))
        .header("cookie", &staff.cookie_header())
        .call()
        .unwrap();
    let bytes = response.into_body().read_to_vec().unwrap();
    use calamine::Reader;
    let mut workbook = calamine::Xlsx::new(std::io::Cursor::new(bytes)).unwrap();
    let sheet = workbook.worksheet_range_at(0).unwrap().unwrap();
    let rows: Vec<Vec<String>> = sheet
        .rows()
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0][0], "Numéro de dossier");
    assert_eq!(
        (rows[2][1].as_str(), rows[2][2].as_str()),
        ("Lefèvre", "Chloé")
    );
    server.stop();
}

/// Every staff route, for the candidature `dossier`/c1 (`T`: a transition,
/// `P`: a piece transition), as (method, path).
fn routes(
    dossier: &str,
    transition: &str,
    piece_transition: &str,
    member: &str,
) -> Vec<(&'static str, String)> {
    let page = format!("/staff/candidatures/{dossier}/c1");
    vec![
        ("GET", "/staff".into()),
        ("GET", "/staff/formations".into()),
        ("GET", "/staff/equipe".into()),
        ("GET", "/staff/export.csv".into()),
        ("GET", "/staff/export.xlsx".into()),
        ("GET", page.clone()),
        ("GET", format!("{page}/transitions/{transition}")),
        ("GET", format!("{page}/pieces/cv/fichier-envoye")),
        ("GET", format!("{page}/pieces/cv/lettres/0")),
        ("GET", format!("{page}/dossier.pdf")),
        ("GET", format!("{page}/courrier/lettre_admission")),
        ("POST", format!("{page}/transitions/{transition}")),
        ("POST", format!("{page}/pieces/cv/{piece_transition}")),
        ("POST", format!("{page}/note")),
        ("POST", "/staff/lot".into()),
        ("POST", "/staff/lot/appliquer".into()),
        ("POST", "/staff/archive".into()),
        ("POST", "/staff/equipe".into()),
        ("POST", format!("/staff/equipe/{member}")),
    ]
    .into_iter()
    .chain(administration())
    .collect()
}

/// The administrators' pages of the procedure's versions and editor.
fn administration() -> Vec<(&'static str, String)> {
    vec![
        ("GET", "/staff/versions".into()),
        ("POST", format!("/staff/versions/{}", "0".repeat(64))),
        ("POST", "/staff/versions/migrer".into()),
        ("GET", "/staff/editeur".into()),
        ("GET", "/staff/editeur/schema.json".into()),
        ("POST", "/staff/editeur/verifier".into()),
        ("POST", "/staff/editeur/scenarios".into()),
        ("POST", "/staff/editeur/apercu".into()),
        ("POST", "/staff/editeur/apercu/page".into()),
        ("POST", "/staff/editeur/publier".into()),
        ("POST", "/staff/editeur/retour".into()),
    ]
}

/// What `browser` gets for `route`, posting the form fields a page would
/// (its own CSRF token, a selection of `dossier`, a reason, a decision).
fn request(
    server: &Guichet,
    browser: &mut Browser,
    (method, path): &(&str, String),
    csrf: &str,
    dossier: &str,
) -> u16 {
    if *method == "GET" {
        return browser.get(&server.url(path)).status;
    }
    let selected = format!("{dossier}/c1");
    let fields = [
        ("csrf", csrf),
        ("c", selected.as_str()),
        ("transition", "publier_avis"),
        ("comment", "motif"),
        ("note", "note"),
        ("avis", "favorable"),
        ("email", "intrus@osu.example"),
        ("first_name", "Intrus"),
        ("last_name", "Intrus"),
        ("scope", "*"),
        ("admin", "1"),
        ("action", "disable"),
    ];
    browser.post(&server.url(path), &fields).status
}

/// The formations' dashboard counts a formation's candidatures by state
/// and by decision, and shows its waiting list's head in rank order, with
/// a word that more wait: fifty-two ranked, one favourable, one received.
#[test]
fn the_formations_dashboard_counts_a_formation_and_shows_its_waiting_list_s_head() {
    let folder = tempfile::tempdir().unwrap();
    let data = folder.path().join("data");
    {
        let engine = osu_engine(&data);
        let now = "2027-03-20T10:00:00Z".parse().unwrap();
        // Ranked from the last seeded to the first: the index's order is
        // not the seeding's.
        for n in 1..=52 {
            let owner = format!("rang{n}");
            let mut ranked = Seeded::new(&engine, (&owner, &format!("Rang{n}"), None), now);
            ranked.send("m1-set", &OSU_PIECES);
            ranked.transition("gestionnaire", "declarer_complet", Value::Null);
            let decision = json!({"avis": "liste_complementaire", "rang": 53 - n});
            ranked.transition("commission", "saisir_avis", decision);
            ranked.transition("gestionnaire", "publier_avis", Value::Null);
        }
        let mut admitted = Seeded::new(&engine, ("admise", "Admise", None), now);
        admitted.send("m1-set", &OSU_PIECES);
        admitted.transition("gestionnaire", "declarer_complet", Value::Null);
        admitted.transition("commission", "saisir_avis", json!({"avis": "favorable"}));
        let mut received = Seeded::new(&engine, ("recue", "Reçue", None), now);
        received.send("m1-set", &OSU_PIECES);
    }
    let link = set_office(&data);
    let server = start(&data);
    let mut staff = signed_in_staff(&server, &link);
    let page = staff.get(&server.url("/staff/formations"));
    assert_eq!(page.status, 200, "{}", page.body);
    let board = &page.body[page.body.find(r#"id="board-m1-set""#).unwrap()..];
    let board = &board[..board.find("</section>").unwrap()];
    for counted in [
        "54 candidature(s)",
        "Réceptionné <strong>1</strong>",
        "Avis en cours <strong>1</strong>",
        "Avis rendu <strong>52</strong>",
        "Complet <strong>0</strong>",
        "Favorable <strong>1</strong>",
        "Liste complémentaire <strong>52</strong>",
        "Défavorable <strong>0</strong>",
    ] {
        assert!(board.contains(counted), "{counted}: {board}");
    }
    // Fifty shown, best rank first (seeded last), and a word that more wait.
    let waiting = &board[board.find(r#"<ol class="waiting">"#).expect(board)..];
    let waiting = &waiting[..waiting.find("</ol>").unwrap()];
    assert_eq!(waiting.matches("<li>").count(), 50, "{waiting}");
    let first = waiting.find("Rang52</a> (rang 1)").expect(waiting);
    let second = waiting.find("Rang51</a> (rang 2)").expect(waiting);
    assert!(first < second, "{waiting}");
    assert!(waiting.contains("Rang3</a> (rang 50)"), "{waiting}");
    assert!(!waiting.contains("Rang2<"), "{waiting}");
    assert!(
        board.contains("Les 50 premiers par rang ; la liste en compte davantage."),
        "{board}"
    );
}

#[test]
fn nobody_acts_outside_their_scope_or_roles_and_candidates_reach_no_staff_page() {
    let folder = tempfile::tempdir().unwrap();
    let data = folder.path().join("data");
    let [alice, bruno, chloe] = seed(&data);
    let office = set_office(&data);
    let committee = add_staff(
        &data,
        "commission-oceano@osu.example",
        "commission",
        "m1-oceanographie",
        false,
    );
    let overseer = add_staff(&data, "direction@osu.example", "", "*", true);
    let before = versions(&data);
    let log_path = folder.path().join("guichet.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let server = Guichet::launch(&data, None, &["--now", "2027-03-25T10:00:00+01:00"], log);
    let mut office = signed_in_staff(&server, &office);
    let mut committee = signed_in_staff(&server, &committee);
    let mut overseer = signed_in_staff(&server, &overseer);
    let csrf_of_list = |browser: &mut Browser| csrf_of(&browser.get(&server.url("/staff")).body);
    // A member id to aim the team page's buttons at: the office's.
    let team = overseer
        .get(&server.url("/staff/equipe"))
        .body
        .replace("&#x2f;", "/");
    let office_row = &team[team.find("<td>scolarite-set@osu.example").unwrap()..];
    let member = office_row
        .split("/staff/equipe/")
        .nth(1)
        .and_then(|rest| rest.split(['?', '"']).next())
        .unwrap()
        .to_owned();

    // Out of scope: as if the candidature did not exist.
    let office_csrf = csrf_of_list(&mut office);
    for route in routes(&bruno, "declarer_complet", "refuser_piece", &member) {
        if route.1.starts_with("/staff/candidatures/") {
            let status = request(&server, &mut office, &route, &office_csrf, &bruno);
            assert_eq!(status, 404, "office on Bruno: {route:?}");
        }
    }
    let committee_csrf = csrf_of_list(&mut committee);
    for route in routes(&alice, "declarer_complet", "refuser_piece", &member) {
        if route.1.starts_with("/staff/candidatures/") {
            let status = request(&server, &mut committee, &route, &committee_csrf, &alice);
            assert_eq!(status, 404, "committee on Alice: {route:?}");
        }
    }
    // In scope, not their role's action: refused, nothing done.
    let on_bruno = |path: &str| ("POST", format!("/staff/candidatures/{bruno}/c1{path}"));
    for route in [
        on_bruno("/transitions/declarer_complet"),
        on_bruno("/pieces/cv/refuser_piece"),
    ] {
        assert_eq!(
            request(&server, &mut committee, &route, &committee_csrf, &bruno),
            403,
            "{route:?}"
        );
    }
    let on_chloe = (
        "POST",
        format!("/staff/candidatures/{chloe}/c1/transitions/saisir_avis"),
    );
    assert_eq!(
        request(&server, &mut office, &on_chloe, &office_csrf, &chloe),
        403
    );
    let team_and_administration = [
        ("GET", "/staff/equipe".to_owned()),
        ("POST", "/staff/equipe".into()),
        ("POST", format!("/staff/equipe/{member}")),
    ];
    for route in team_and_administration.into_iter().chain(administration()) {
        assert_eq!(
            request(&server, &mut office, &route, &office_csrf, &alice),
            403,
            "{route:?}"
        );
    }
    // Bulk on what one may not see or do: nothing changes.
    let bulk = ("POST", "/staff/lot/appliquer".to_owned());
    let committee_bulk = request(&server, &mut committee, &bulk, &committee_csrf, &bruno);
    assert_eq!(committee_bulk, 403, "publishing is not the committee's");
    let page = office.post(
        &server.url("/staff/lot/appliquer"),
        &[
            ("csrf", &office_csrf),
            ("transition", "publier_avis"),
            ("c", &format!("{bruno}/c1")),
        ],
    );
    assert!(
        page.body.contains("0 candidature(s) changée(s)") && !page.body.contains("Bruno"),
        "{}",
        page.body
    );
    // An administrator without a role oversees and does not act.
    let overseer_csrf = csrf_of_list(&mut overseer);
    assert_eq!(
        overseer
            .get(&server.url(&format!("/staff/candidatures/{bruno}/c1")))
            .status,
        200
    );
    for route in [
        on_bruno("/transitions/declarer_complet"),
        on_bruno("/pieces/cv/refuser_piece"),
        on_bruno("/note"),
    ] {
        assert_eq!(
            request(&server, &mut overseer, &route, &overseer_csrf, &bruno),
            403,
            "{route:?}"
        );
    }
    // A form without this browser's token is refused.
    let forged = request(
        &server,
        &mut office,
        &("POST", format!("/staff/candidatures/{alice}/c1/note")),
        &"0".repeat(64),
        &alice,
    );
    assert_eq!(forged, 403);

    // A candidate's session opens no staff page, nor does none; a staff
    // session opens no candidate page.
    let mut candidate = activated(&server, &log_path, "camille@example.org");
    let candidate_csrf = csrf_of(&candidate.get(&server.url("/compte/email")).body);
    let mut nobody = Browser::new();
    for route in routes(&alice, "declarer_complet", "refuser_piece", &member) {
        if route.1 == "/staff" || route.1.starts_with("/staff/connexion") {
            continue;
        }
        assert_eq!(
            request(&server, &mut candidate, &route, &candidate_csrf, &alice),
            401,
            "candidate: {route:?}"
        );
        assert_eq!(
            request(&server, &mut nobody, &route, "", &alice),
            401,
            "nobody: {route:?}"
        );
    }
    assert_eq!(candidate.get(&server.url("/staff")).status, 401);
    assert_eq!(office.get(&server.url("/tableau-de-bord")).status, 401);

    // A forgotten password: the administrator gives a new link from the team page.
    let given = overseer.post(
        &server.url(&format!("/staff/equipe/{member}")),
        &[("csrf", &overseer_csrf), ("action", "link")],
    );
    assert_eq!(given.status, 200);
    let body = given.body.replace("&#x2f;", "/");
    let at = body.find("http://").expect("the link on the page");
    let link = body[at..].split('<').next().unwrap().to_owned();
    let again = signed_in_staff(&server, &link);
    assert!(again.cookies.contains_key("guichet_staff"));
    assert_eq!(
        office.get(&server.url("/staff")).status,
        401,
        "a new password ends the old sessions"
    );
    server.stop();
    // The candidate's activation made their own dossier; the others are as they were.
    let after: Vec<(String, u64)> = versions(&data)
        .into_iter()
        .filter(|(id, _)| before.iter().any(|(seeded, _)| seeded == id))
        .collect();
    assert_eq!(after, before, "nothing changed in the store");
}

/// The password link `guichet staff add` printed.
fn link_of(added: &std::process::Output) -> String {
    assert!(added.status.success(), "{added:?}");
    let out = String::from_utf8_lossy(&added.stdout).into_owned();
    out[out.find("http").unwrap()..].trim().to_owned()
}

/// A member acts and reads only through the definition's staff roles.
/// `guichet staff add` without `--definition` records roles unchecked: the
/// system's role among them gives no button and no right to its
/// transitions, and a role the definition lacks reads nothing.
#[test]
fn only_the_definitions_staff_roles_give_a_member_actions_and_reads() {
    let folder = tempfile::tempdir().unwrap();
    let data = folder.path().join("data");
    let dossier = {
        let engine = osu_engine(&data);
        let now = "2027-03-20T10:00:00Z".parse().unwrap();
        let mut dana = Seeded::new(&engine, ("dana", "Dana", None), now);
        dana.send("m1-set", &OSU_PIECES);
        dana.transition("gestionnaire", "declarer_complet", Value::Null);
        dana.transition("commission", "saisir_avis", json!({"avis": "favorable"}));
        dana.transition("gestionnaire", "publier_avis", Value::Null);
        dana.dossier
    };
    let data_arg = data.to_str().unwrap();
    let added = guichet(&[
        "staff",
        "--data",
        data_arg,
        "add",
        "office@osu.example",
        "--role",
        "gestionnaire",
        "--role",
        "systeme",
        "--scope",
        "*",
    ]);
    let link = link_of(&added);
    let ghost = link_of(&guichet(&[
        "staff",
        "--data",
        data_arg,
        "add",
        "ghost@osu.example",
        "--role",
        "jury",
        "--scope",
        "*",
    ]));
    let reader = link_of(&guichet(&[
        "staff",
        "--data",
        data_arg,
        "add",
        "reader@osu.example",
        "--scope",
        "*",
    ]));
    let before = versions(&data);
    let log_path = folder.path().join("guichet.log");
    let server = Guichet::launch_on(
        &repository().join("definitions/osu-pytheas.yaml"),
        &data,
        None,
        &["--now", "2027-03-25T10:00:00+01:00"],
        std::fs::File::create(&log_path).unwrap(),
    );
    // The server says at start which rights give nothing.
    let log = std::fs::read_to_string(&log_path).unwrap();
    for (member, role) in [
        ("office@osu.example", "systeme"),
        ("ghost@osu.example", "jury"),
    ] {
        assert!(
            log.lines()
                .any(|l| l.contains(member) && l.contains(&format!("`{role}` is not a staff role"))),
            "{log}"
        );
    }
    assert!(!log.contains("reader@osu.example"), "{log}");
    let (mut office, path, page) = candidature_opened(&server, &link, &dossier);
    assert!(page.body.contains("Dana"), "{}", page.body);
    assert!(
        !page.body.contains("Désistement automatique"),
        "{}",
        page.body
    );
    let automatic = office.post(
        &server.url(&format!("{path}/transitions/desistement_automatique")),
        &[("csrf", &csrf_of(&page.body))],
    );
    assert_eq!(automatic.status, 403, "{}", automatic.body);
    // A role the definition does not have (renamed by a new version, or
    // mistyped) reads nothing, where a member given no role reads all.
    let (_, _, page) = candidature_opened(&server, &ghost, &dossier);
    assert!(!page.body.contains("<h3>État civil</h3>"), "{}", page.body);
    assert!(!page.body.contains("id=\"piece-cv\""), "{}", page.body);
    let (_, _, page) = candidature_opened(&server, &reader, &dossier);
    assert!(page.body.contains("<h3>État civil</h3>"), "{}", page.body);
    server.stop();
    assert_eq!(versions(&data), before, "nothing done");
}

#[test]
fn a_role_reads_only_the_sections_and_pieces_the_definition_gives_it() {
    let folder = tempfile::tempdir().unwrap();
    let data = folder.path().join("data");
    let narrowed = osu_copy(&folder.path().join("definition"), |text| {
        let from = r#"kind: staff, address: commission@osupytheas.fr }"#;
        assert!(text.contains(from));
        text.replace(
            from,
            r#"kind: staff, address: commission@osupytheas.fr, reads: { sections: [etat_civil], pieces: [cv, lettre_motivation] } }"#,
        )
    });
    let definition = guichet_engine::Definition::load(&narrowed).unwrap();
    let store = guichet_engine::SledStore::open(data.join("store")).unwrap();
    let engine = guichet_engine::Engine::open(definition, store).unwrap();
    let now = "2027-03-20T10:00:00Z".parse().unwrap();
    let mut chloe = Seeded::new(&engine, ("chloe", "Chloé", None), now);
    chloe.act(
        "candidat",
        guichet_engine::Command::SaveSection {
            section: "coordonnees".into(),
            answers: json!({"adresse": "3 place Victor Hugo", "code_postal": "13003"}),
        },
    );
    chloe.send("m1-set", &OSU_PIECES);
    chloe.transition("gestionnaire", "declarer_complet", Value::Null);
    let dossier = chloe.dossier.clone();
    drop(engine);
    pieces_stored(&data, &dossier);
    let link = add_staff(
        &data,
        "commission-set@osu.example",
        "commission",
        "m1-set",
        false,
    );
    let server = start_on(&narrowed, &data);
    let (mut committee, page_path, page) = candidature_opened(&server, &link, &dossier);
    assert!(page.body.contains("<h3>État civil</h3>"), "{}", page.body);
    assert!(!page.body.contains("<h3>Coordonnées</h3>"));
    assert!(page.body.contains("id=\"piece-cv\""));
    assert!(!page.body.contains("id=\"piece-diplomes\""));
    // The history names only what the role reads: the CV's upload, not the
    // diplomas' nor the contact details saved.
    let history = &page.body[page.body.find("<ol class=\"history\">").unwrap()..];
    assert!(history.contains("Déposer : Curriculum vitae"), "{history}");
    assert!(!history.contains("Diplômes"), "{history}");
    assert!(!history.contains("Coordonnées"), "{history}");
    let read = committee.get(&server.url(&format!("{page_path}/pieces/cv/fichier-envoye")));
    assert_eq!(
        read.status, 200,
        "the same file, under a piece the role reads"
    );
    let hidden = committee.get(&server.url(&format!("{page_path}/pieces/diplomes/fichier-envoye")));
    assert_eq!(hidden.status, 404);
    let (_, _, csv) = server.get(
        "/staff/export.csv",
        &[("cookie", &committee.cookie_header())],
    );
    let header = csv.lines().next().unwrap();
    assert!(
        header.contains("État civil — ") && !header.contains("Coordonnées — "),
        "{header}"
    );
    server.stop();
}

/// Another institution may name a piece's transition `fichier`, the word
/// the piece's file once had as its address: the transition is the staff's
/// to perform, and the file keeps an address no id can take.
#[test]
fn a_piece_transition_named_fichier_is_performed_and_the_file_still_read() {
    let folder = tempfile::tempdir().unwrap();
    let data = folder.path().join("data");
    let definition = osu_copy(&folder.path().join("definition"), |text| {
        let renamed = text.replace("valider_piece", "fichier");
        assert_ne!(renamed, text, "the piece's transition renamed");
        renamed
    });
    let dossier = {
        let engine = engine_on(&definition, &data);
        let mut alice = Seeded::new(
            &engine,
            ("alice", "Alice", None),
            "2027-03-20T10:00:00Z".parse().unwrap(),
        );
        alice.send("m1-set", &OSU_PIECES);
        alice.dossier.clone()
    };
    pieces_stored(&data, &dossier);
    let link = add_staff_on(
        &definition,
        &data,
        "scolarite@osu.example",
        "gestionnaire",
        "*",
        false,
    );
    let server = start_on(&definition, &data);
    let (mut staff, page_path, page) = candidature_opened(&server, &link, &dossier);
    let file = staff.get(&server.url(&format!("{page_path}/pieces/cv/fichier-envoye")));
    assert_eq!(file.status, 200);
    let accept = format!("{page_path}/pieces/cv/fichier");
    let done = staff.post(&server.url(&accept), &[("csrf", &csrf_of(&page.body))]);
    assert_eq!(done.status, 303, "{}", done.body);
    server.stop();
    let stored = engine_on(&definition, &data)
        .dossier(&dossier)
        .unwrap()
        .unwrap();
    let candidature = stored.candidatures.iter().find(|c| c.id == "c1").unwrap();
    assert_eq!(candidature.pieces["cv"].status, "validee");
}

/// A member scoped to one formation reads, in a candidate's history, what
/// concerns the candidature they opened and the dossier as a whole, not
/// the candidate's candidatures elsewhere, outside their scope.
#[test]
fn the_history_a_member_reads_is_of_the_candidature_they_opened() {
    let folder = tempfile::tempdir().unwrap();
    let data = folder.path().join("data");
    let dossier = {
        let engine = osu_engine(&data);
        let now = "2027-03-20T10:00:00Z".parse().unwrap();
        let mut alice = Seeded::new(&engine, ("alice", "Alice", None), now);
        alice.send("m1-set", &OSU_PIECES);
        let elsewhere = "m1-oceanographie".to_owned();
        alice.act(
            "candidat",
            guichet_engine::Command::Apply {
                formation: elsewhere,
            },
        );
        let note = guichet_engine::Command::Note {
            candidature: "c2".into(),
            text: "Vue par l'autre formation.".into(),
        };
        alice.act("gestionnaire", note);
        alice.dossier.clone()
    };
    let link = set_office(&data);
    let server = start(&data);
    let (mut staff, _, page) = candidature_opened(&server, &link, &dossier);
    // Her transmission of this candidature is there.
    assert!(
        page.body.contains("Transmettre ma candidature"),
        "{}",
        page.body
    );
    assert!(!page.body.contains("Océanographie"), "{}", page.body);
    let noted = "Note interne modifiée";
    assert!(
        !page.body.contains(noted),
        "the other candidature's note: {}",
        page.body
    );
    // The other candidature is not theirs to open either.
    let other = staff.get(&server.url(&format!("/staff/candidatures/{dossier}/c2")));
    assert_eq!(other.status, 404);
    server.stop();
}

/// The dossier version a staff page's forms send back (`vu`).
fn seen_of(page: &Page) -> String {
    let at = page
        .body
        .find(r#"name="vu" value=""#)
        .expect("a form saying its version");
    let rest = &page.body[at + r#"name="vu" value=""#.len()..];
    rest[..rest.find('"').unwrap()].to_owned()
}

/// Form fields as `Browser::post` takes them.
fn borrowed<'a>(fields: &'a [(&'a str, String)]) -> Vec<(&'a str, &'a str)> {
    fields.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

#[test]
fn an_action_sent_from_a_page_older_than_a_colleagues_is_not_taken_and_says_what_changed() {
    let folder = tempfile::tempdir().unwrap();
    let data = folder.path().join("data");
    let [alice, _, chloe] = seed(&data);
    {
        // Alice applies to a second formation too.
        let engine = osu_engine(&data);
        let now = "2027-03-21T10:00:00Z".parse().unwrap();
        let mut seeded = Seeded::existing(&engine, &alice, now);
        let elsewhere = "m1-oceanographie".to_owned();
        let apply = guichet_engine::Command::Apply {
            formation: elsewhere,
        };
        seeded.act("candidat", apply);
    }
    let office = add_staff(&data, "scolarite@osu.example", "gestionnaire", "*", false);
    let committee = add_staff(
        &data,
        "commission-set@osu.example",
        "commission",
        "m1-set",
        false,
    );
    let server = start(&data);
    let (mut office, path, first_tab) = candidature_opened(&server, &office, &alice);
    let csrf = csrf_of(&first_tab.body);
    let seen = seen_of(&first_tab);

    // In a second tab, the CV is refused, with its reason.
    let second_tab = office.get(&server.url(&path));
    let refused = office.post(
        &server.url(&format!("{path}/pieces/cv/refuser_piece")),
        &[
            ("csrf", &csrf),
            ("vu", &seen_of(&second_tab)),
            ("comment", "Le CV est illisible"),
        ],
    );
    assert_eq!(refused.status, 303, "{}", refused.body);

    // From the first tab, now older: nothing is done, and the page says what
    // happened meanwhile and where the candidature stands.
    let complete = office.post(
        &server.url(&format!("{path}/transitions/declarer_complet")),
        &[("csrf", &csrf), ("vu", &seen)],
    );
    assert_eq!(complete.status, 409, "{}", complete.body);
    assert!(
        complete.body.contains("Rien n&#x27;a été fait"),
        "{}",
        complete.body
    );
    let changes = &complete.body[..complete.body.find("</div>").unwrap()];
    assert!(
        changes.contains("Claire Martin (Gestionnaire)"),
        "who acted meanwhile: {changes}"
    );
    assert!(complete.body.contains("<strong>Réceptionné</strong>"));
    assert_ne!(seen_of(&complete), seen, "its forms say the version now");
    // A note typed on the older page is given back, not written over the
    // page as it is now.
    let note = office.post(
        &server.url(&format!("{path}/note")),
        &[
            ("csrf", &csrf),
            ("vu", &seen),
            ("note", "Rappeler la candidate"),
        ],
    );
    assert_eq!(note.status, 409, "{}", note.body);
    assert!(
        note.body
            .contains(r#"<blockquote class="typed">Rappeler la candidate</blockquote>"#),
        "{}",
        note.body
    );
    let now = office.get(&server.url(&path));
    assert!(!now.body.contains("Rappeler la candidate"));
    assert!(now.body.contains("<strong>Réceptionné</strong>"));

    // What was done on her other candidature does not make this page old.
    let other_path = format!("/staff/candidatures/{alice}/c2");
    let other = office.get(&server.url(&other_path));
    assert_eq!(other.status, 200);
    let noted = office.post(
        &server.url(&format!("{other_path}/note")),
        &[
            ("csrf", &csrf),
            ("vu", &seen_of(&other)),
            ("note", "Vue par l'océanographie"),
        ],
    );
    assert_eq!(noted.status, 303, "{}", noted.body);
    let incomplete = office.post(
        &server.url(&format!("{path}/transitions/declarer_incomplet")),
        &[("csrf", &csrf), ("vu", &seen_of(&now))],
    );
    assert_eq!(incomplete.status, 303, "{}", incomplete.body);
    assert!(office
        .get(&server.url(&path))
        .body
        .contains("<strong>Incomplet</strong>"));
    // An action the change took away, sent from the page before it: said to
    // be what changed, not a right the member lacks.
    let gone = office.post(
        &server.url(&format!("{path}/pieces/cv/refuser_piece")),
        &[
            ("csrf", &csrf),
            ("vu", &seen_of(&now)),
            ("comment", "Illisible"),
        ],
    );
    assert_eq!(gone.status, 409, "{}", gone.body);
    assert!(gone.body.contains("Incomplet"), "{}", gone.body);
    assert!(gone
        .body
        .contains(r#"<blockquote class="typed">Illisible</blockquote>"#));

    // A transition's form opened before a colleague's note, sent after: shown
    // again with what was typed and what changed; sent again, it is taken.
    let mut committee = signed_in_staff(&server, &committee);
    let chloe_path = format!("/staff/candidatures/{chloe}/c1");
    let form_path = format!("{chloe_path}/transitions/saisir_avis");
    let form = committee.get(&server.url(&form_path));
    assert_eq!(form.status, 200, "{}", form.body);
    let chloe_page = office.get(&server.url(&chloe_path));
    let noted = office.post(
        &server.url(&format!("{chloe_path}/note")),
        &[
            ("csrf", &csrf),
            ("vu", &seen_of(&chloe_page)),
            ("note", "Entretien à prévoir"),
        ],
    );
    assert_eq!(noted.status, 303, "{}", noted.body);
    let committee_csrf = csrf_of(&form.body);
    let motif = "Prérequis en géologie insuffisants";
    let decision = |seen: &str| {
        let fields = [("avis", "defavorable"), ("motif", motif)];
        let mut sent = vec![("csrf", committee_csrf.clone()), ("vu", seen.to_owned())];
        sent.extend(fields.map(|(k, v)| (k, v.to_owned())));
        sent
    };
    let sent = decision(&seen_of(&form));
    let again = committee.post(&server.url(&form_path), &borrowed(&sent));
    assert_eq!(again.status, 409, "{}", again.body);
    assert!(
        again.body.contains("Note interne modifiée"),
        "{}",
        again.body
    );
    assert!(
        again.body.contains(&format!("{motif}</textarea>")),
        "what was typed stays: {}",
        again.body
    );
    let chloe_now = office.get(&server.url(&chloe_path));
    assert!(!chloe_now.body.contains("Défavorable"), "nothing decided");
    let resent = decision(&seen_of(&again));
    let decided = committee.post(&server.url(&form_path), &borrowed(&resent));
    assert_eq!(decided.status, 303, "{}", decided.body);
    assert!(office
        .get(&server.url(&chloe_path))
        .body
        .contains("Défavorable"));
    server.stop();
}

#[test]
fn exported_names_are_never_run_as_formulas() {
    let folder = tempfile::tempdir().unwrap();
    let data = folder.path().join("data");
    {
        let engine = osu_engine(&data);
        let now = "2027-03-20T10:00:00Z".parse().unwrap();
        let name = "=HYPERLINK(\"http://example.org\")";
        let mut dossier = Seeded::new(&engine, ("mallory", name, None), now);
        dossier.send("m1-set", &OSU_PIECES);
    }
    let link = add_staff(&data, "scolarite@osu.example", "gestionnaire", "*", false);
    let server = start(&data);
    let staff = signed_in_staff(&server, &link);
    let cookie = staff.cookie_header();
    let (_, _, csv) = server.get("/staff/export.csv", &[("cookie", &cookie)]);
    let row = csv.lines().nth(1).unwrap();
    assert!(
        row.contains(";\"'=HYPERLINK(\"\"http://example.org\"\")\";"),
        "{row}"
    );
    let response = staff
        .agent
        .get(&server.url("/staff/export.xlsx"))
        .header("cookie", &cookie)
        .call()
        .unwrap();
    let bytes = response.into_body().read_to_vec().unwrap();
    use calamine::Reader;
    let mut workbook = calamine::Xlsx::new(std::io::Cursor::new(bytes)).unwrap();
    let sheet = workbook.worksheet_range_at(0).unwrap().unwrap();
    assert_eq!(
        sheet.get((1, 2)).unwrap().to_string(),
        "=HYPERLINK(\"http://example.org\")"
    );
    let formulas = workbook.worksheet_formula("Sheet1").unwrap();
    assert!(
        formulas.used_cells().all(|(_, _, f)| f.is_empty()),
        "no formula in the workbook"
    );
    server.stop();
}

#[test]
fn staff_read_the_referees_letters_only_where_their_role_reads_the_piece() {
    let folder = tempfile::tempdir().unwrap();
    let data = folder.path().join("data");
    let definition = doctoral_school_open(&folder.path().join("definition"));
    let loaded = guichet_engine::Definition::load(&definition).unwrap();
    let store = guichet_engine::SledStore::open(data.join("store")).unwrap();
    let engine = guichet_engine::Engine::open(loaded, store).unwrap();
    let now = jiff::Timestamp::now();
    let mut ada = Seeded::new(&engine, ("ada", "Ada", None), now);
    let save = |section: &str, answers: Value| guichet_engine::Command::SaveSection {
        section: section.into(),
        answers,
    };
    ada.act(
        "applicant",
        save("identity", json!({"full_name": "Ada Lovelace"})),
    );
    ada.act(
        "applicant",
        save(
            "referees",
            json!([{"name": "Charles Babbage", "email": "babbage@example.org"}]),
        ),
    );
    ada.act(
        "applicant",
        guichet_engine::Command::Apply {
            formation: "contrat-2027".into(),
        },
    );
    let file = |name: &str| guichet_engine::FileRef {
        name: name.into(),
        sha256: "0".repeat(64),
        size: 1000,
        format: "pdf".into(),
    };
    for piece in ["research_project", "supervisor_letter"] {
        let upload = guichet_engine::Command::Piece {
            candidature: "c1".into(),
            piece: piece.into(),
            transition: "upload".into(),
            file: Some(file(&format!("{piece}.pdf"))),
            comment: None,
        };
        ada.act("applicant", upload);
    }
    let version = engine.dossier(&ada.dossier).unwrap().unwrap().version;
    let ask = guichet_engine::Command::Ask {
        candidature: "c1".into(),
        role: "referee".into(),
    };
    let asked = engine
        .apply(
            &ada.dossier,
            version,
            &guichet_engine::Actor::new("applicant", "ada"),
            ask,
            now,
        )
        .unwrap();
    engine
        .deliver(&asked.asked[0].1, file("babbage-letter.pdf"), now)
        .unwrap();
    let version = engine.dossier(&ada.dossier).unwrap().unwrap().version;
    let submit = guichet_engine::Command::Transition {
        candidature: "c1".into(),
        transition: "submit".into(),
        input: Default::default(),
    };
    engine
        .apply(
            &ada.dossier,
            version,
            &guichet_engine::Actor::new("applicant", "ada"),
            submit,
            now,
        )
        .unwrap();
    let dossier = ada.dossier.clone();
    drop(engine);
    pieces_stored(&data, &dossier);
    // The office reads everything; the jury's `reads:` leaves the letters out.
    let office = add_staff_on(
        &definition,
        &data,
        "office@school.example",
        "school",
        "*",
        false,
    );
    let jury = add_staff_on(
        &definition,
        &data,
        "jury@school.example",
        "jury",
        "*",
        false,
    );
    let server = Guichet::launch_on(&definition, &data, None, &[], Log::Discarded);
    let page_path = format!("/staff/candidatures/{dossier}/c1");
    let letter_path = format!("{page_path}/pieces/reference_letter/lettres/0");

    let mut office = signed_in_staff(&server, &office);
    let page = office.get(&server.url(&page_path));
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains("Charles Babbage (babbage@example.org)"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("reference_letter&#x2f;lettres&#x2f;0"),
        "{}",
        page.body
    );
    assert!(
        !page.body.contains("<strong>Missing</strong>"),
        "{}",
        page.body
    );
    let letter = office.get(&server.url(&letter_path));
    assert_eq!(letter.status, 200);
    assert!(letter.body.starts_with("%PDF"), "the letter itself");
    let nobody = office.get(&server.url(&format!("{page_path}/pieces/reference_letter/lettres/1")));
    assert_eq!(nobody.status, 404, "no second referee");
    // The dossier as one PDF: the summary, then each piece and the letter.
    let (status, _, bytes) = office.get_bytes(&server.url(&format!("{page_path}/dossier.pdf")));
    assert_eq!(status, 200);
    let office_pdf = read_pdf(&bytes);
    let titles: Vec<&str> = office_pdf.outline.iter().map(|(_, t)| t.as_str()).collect();
    assert!(
        titles.contains(&"Referees") && titles.contains(&"Reference letters — Charles Babbage"),
        "{titles:?}"
    );
    let first_piece = office_pdf
        .outline
        .iter()
        .find(|(_, t)| t == "Research project")
        .unwrap()
        .0;
    assert_eq!(
        office_pdf.pages,
        first_piece - 1 + 3,
        "three one-page pieces after the summary"
    );
    assert!(
        office_pdf.text.contains("Ada Lovelace"),
        "{}",
        office_pdf.text
    );

    let mut jury = signed_in_staff(&server, &jury);
    let page = jury.get(&server.url(&page_path));
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(!page.body.contains("babbage@example.org"), "{}", page.body);
    assert!(
        !page.body.contains("Babbage"),
        "nor in the history: {}",
        page.body
    );
    assert!(!page.body.contains("lettres&#x2f;0"), "{}", page.body);
    assert_eq!(jury.get(&server.url(&letter_path)).status, 404);
    // The jury's PDF holds what the jury reads, and not the letter.
    let (status, _, bytes) = jury.get_bytes(&server.url(&format!("{page_path}/dossier.pdf")));
    assert_eq!(status, 200);
    let jury_pdf = read_pdf(&bytes);
    let titles: Vec<&str> = jury_pdf.outline.iter().map(|(_, t)| t.as_str()).collect();
    assert!(
        titles.contains(&"Research project")
            && !titles
                .iter()
                .any(|t| t.starts_with("Reference letters") || *t == "Referees"),
        "{titles:?}"
    );
    assert!(
        !jury_pdf.text.contains("babbage@example.org"),
        "{}",
        jury_pdf.text
    );
    server.stop();
}

#[test]
fn the_pdfs_of_a_view_come_as_one_zip_built_in_the_background() {
    let folder = tempfile::tempdir().unwrap();
    let data = folder.path().join("data");
    seed(&data);
    let office = add_staff(&data, "scolarite@osu.example", "gestionnaire", "*", false);
    let other = add_staff(&data, "autre@osu.example", "gestionnaire", "*", false);
    let options = ["--now", "2027-03-25T10:00:00+01:00", "--archive-max", "2"];
    let server = Guichet::launch(&data, None, &options, Log::Discarded);
    let mut staff = signed_in_staff(&server, &office);

    // Every formation: three candidatures, more than an archive may hold here.
    let list = staff.get(&server.url("/staff"));
    let csrf = csrf_of(&list.body);
    let refused = staff.post(&server.url("/staff/archive"), &[("csrf", &csrf)]);
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(
        refused
            .body
            .contains("Cette vue compte 3 candidatures ; une archive en contient au plus 2."),
        "{}",
        refused.body
    );
    let archives = data.join("archives");
    assert_eq!(std::fs::read_dir(&archives).unwrap().count(), 0);

    // The view of M1 SET: Alice and Chloé.
    let list = staff.get(&server.url("/staff?formation=m1-set"));
    let csrf = csrf_of(&list.body);
    let started = staff.post(
        &server.url("/staff/archive?formation=m1-set"),
        &[("csrf", &csrf)],
    );
    assert_eq!(started.status, 303, "{}", started.body);
    let progress = started.location.unwrap();
    assert!(progress.starts_with("/staff/archive/"), "{progress}");
    // The page says how far it is until the archive is ready.
    let mut page = String::new();
    wait_for("the archive", || {
        page = staff.get(&server.url(&progress)).body;
        page.contains("fichier")
    });
    assert!(
        page.contains("2 dossiers sur 2 (100 %)") && page.contains("<progress"),
        "{page}"
    );
    let download = format!("{}/fichier", progress.split('?').next().unwrap());
    let (status, kind, bytes) = staff.get_bytes(&server.url(&download));
    assert_eq!((status, kind.as_str()), (200, "application/zip"));
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    assert_eq!(archive.len(), 2);
    let mut names = Vec::new();
    for index in 0..archive.len() {
        let mut entry = archive.by_index(index).unwrap();
        names.push(entry.name().unwrap().to_string());
        let mut pdf = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut pdf).unwrap();
        let read = read_pdf(&pdf);
        assert!(
            read.pages >= 1
                && read
                    .text
                    .contains("Master Sciences de l'Environnement Terrestre"),
            "{}",
            read.text
        );
    }
    assert!(
        names.iter().any(|n| n.contains("Alice")) && names.iter().any(|n| n.contains("Chlo")),
        "{names:?}"
    );

    // Another member cannot see it, nor anyone signed out.
    let mut stranger = signed_in_staff(&server, &other);
    assert_eq!(stranger.get(&server.url(&progress)).status, 404);
    assert_eq!(stranger.get_bytes(&server.url(&download)).0, 404);
    // A forged request without the form's token starts nothing.
    let forged = staff.post(&server.url("/staff/archive"), &[]);
    assert_ne!(forged.status, 303);
    // The archive is a file of the procedure's data, gone with a restart
    // (the job that knew it is gone too).
    assert_eq!(std::fs::read_dir(&archives).unwrap().count(), 1);
    server.stop();
    let server = start(&data);
    assert_eq!(std::fs::read_dir(&archives).unwrap().count(), 0);
    assert_eq!(staff.get(&server.url(&progress)).status, 404);
    server.stop();
}

/// The bytes of a mail's attachment, from [`decode`]'s hex.
fn attachment_bytes(attachment: &Value) -> Vec<u8> {
    let hex = attachment["hex"].as_str().unwrap();
    (0..hex.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(&hex[at..at + 2], 16).unwrap())
        .collect()
}

#[test]
fn a_published_decision_mails_its_letter_as_pdf_and_the_candidate_downloads_the_same() {
    let folder = tempfile::tempdir().unwrap();
    let data = folder.path().join("data");
    let log_path = folder.path().join("guichet.log");
    let server = Guichet::launch(
        &data,
        None,
        &IN_CAMPAIGN,
        std::fs::File::create(&log_path).unwrap(),
    );
    let mut candidate = activated(&server, &log_path, "camille@example.org");
    let mut mallory = activated(&server, &log_path, "mallory@example.org");
    server.stop();

    // The commission's favourable decision, published: its mail is queued.
    let engine = osu_engine(&data);
    let dossier = engine
        .dossiers()
        .unwrap()
        .into_iter()
        .find(|d| d.candidate.email == "camille@example.org")
        .unwrap();
    let mut camille = Seeded::existing(
        &engine,
        &dossier.id,
        "2027-04-02T10:00:00Z".parse().unwrap(),
    );
    camille.send("m1-set", &OSU_PIECES);
    camille.transition("gestionnaire", "declarer_complet", Value::Null);
    camille.transition("commission", "saisir_avis", json!({"avis": "favorable"}));
    camille.transition("gestionnaire", "publier_avis", Value::Null);
    drop(engine);

    let link = add_staff(&data, "scolarite@osu.example", "gestionnaire", "*", false);
    let smtp = SmtpServer::start(&folder.path().join("maildir"));
    let server = Guichet::launch(&data, Some(smtp.port), &IN_CAMPAIGN, Log::Discarded);
    let mut decision = Value::Null;
    wait_for("the decision's mail", || {
        let received = smtp.received();
        let found = received.into_iter().find(|m| {
            m["subject"]
                .as_str()
                .unwrap_or("")
                .starts_with("Avis favorable")
        });
        found.map(|m| decision = m).is_some()
    });
    let attachments = decision["attachments"].as_array().unwrap();
    assert_eq!(attachments.len(), 1, "{decision}");
    assert_eq!(attachments[0]["content_type"], "application/pdf");
    let name = attachments[0]["filename"].as_str().unwrap();
    assert_eq!(name, format!("lettre-admission-{}-c1.pdf", dossier.id));
    // The mail's own words are still there, beside the letter.
    assert!(
        decision["text"]
            .as_str()
            .unwrap()
            .contains("lettre d'admission est jointe"),
        "{decision}"
    );
    let mailed = attachment_bytes(&attachments[0]);
    let letter = read_pdf(&mailed);
    assert_eq!(letter.pages, 1);
    for expected in [
        "OSU Institut Pythéas — Observatoire des Sciences de l'Univers",
        "Camille Durand",
        "camille@example.org",
        "Marseille, le 2 avril 2027",
        "Admission en Master Sciences de l'Environnement Terrestre — M1",
        &format!("(dossier {})", dossier.id),
        "avant le 2027-04-10",
        "Le directeur de l'OSU Institut Pythéas",
        "Par délégation, le responsable de la scolarité",
    ] {
        assert!(
            letter.text.contains(expected),
            "no `{expected}` in {}",
            letter.text
        );
    }

    // The candidate finds it on the candidature's page: the same bytes.
    let page = candidate.get(&server.url("/candidatures/c1"));
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Admission en Master"), "{}", page.body);
    assert!(
        page.body.contains("courrier&#x2f;lettre_admission"),
        "{}",
        page.body
    );
    let (status, kind, downloaded) =
        candidate.get_bytes(&server.url("/candidatures/c1/courrier/lettre_admission"));
    assert_eq!((status, kind.as_str()), (200, "application/pdf"));
    assert_eq!(downloaded, mailed, "the download is the letter mailed");
    // The dossier's PDF names it on its cover and closes with it.
    let (_, _, dossier_pdf) = candidate.get_bytes(&server.url("/candidatures/c1/dossier.pdf"));
    let read = read_pdf(&dossier_pdf);
    let title = "Admission en Master Sciences de l'Environnement Terrestre — M1";
    assert!(
        read.text.contains(&format!("{title} (2027-04-02)")),
        "{}",
        read.text
    );
    assert_eq!(
        read.outline.last().map(|(page, t)| (*page, t.as_str())),
        Some((read.pages, title)),
        "{:?}",
        read.outline
    );
    assert!(read
        .text
        .contains("Par délégation, le responsable de la scolarité"));
    // No other letter, nobody else's.
    let (status, _, _) = candidate.get_bytes(&server.url("/candidatures/c1/courrier/lettre_refus"));
    assert_eq!(status, 404);
    let (status, _, _) =
        mallory.get_bytes(&server.url("/candidatures/c1/courrier/lettre_admission"));
    assert_eq!(status, 404);
    let (status, _, _) =
        Browser::new().get_bytes(&server.url("/candidatures/c1/courrier/lettre_admission"));
    assert_ne!(status, 200);

    // The scolarité reads the letter as it was sent.
    let mut office = signed_in_staff(&server, &link);
    let staff_page = format!("/staff/candidatures/{}/c1", dossier.id);
    let page = office.get(&server.url(&staff_page));
    assert!(page.body.contains("Admission en Master"), "{}", page.body);
    let (status, _, copy) =
        office.get_bytes(&server.url(&format!("{staff_page}/courrier/lettre_admission")));
    assert_eq!(status, 200);
    assert_eq!(copy, mailed);
    server.stop();
}

/// The definition hash `/health` reports.
fn serving_version(server: &Guichet) -> String {
    let (_, _, body) = server.get("/health", &[]);
    let health: Value = serde_json::from_str(&body).unwrap();
    health["definition"].as_str().unwrap().to_owned()
}

/// A time inside the OSU campaign, for `--now`.
const IN_CAMPAIGN: [&str; 2] = ["--now", "2027-04-02T10:00:00+02:00"];

/// The OSU file as it is (its scenarios pass) copied into `folder`, and the
/// data folder of a server on it.
fn osu_as_it_is(folder: &Path) -> (PathBuf, PathBuf) {
    let file = osu_copy(&folder.join("definition"), |text| text);
    (file, folder.join("data"))
}

/// The OSU file as it is, served inside its campaign with its log going to
/// `log`, and an administrator signed in: where the editor's tests start.
fn administered(folder: &Path, log: impl Into<Log>) -> (PathBuf, PathBuf, Guichet, Browser) {
    let (file, data) = osu_as_it_is(folder);
    let admin = add_staff_on(&file, &data, "admin@osu.example", "gestionnaire", "*", true);
    let server = Guichet::launch_on(&file, &data, None, &IN_CAMPAIGN, log);
    let office = signed_in_staff(&server, &admin);
    (file, data, server, office)
}

/// `guichet reload`, then waits until the log says `expected` one more time.
fn reload_and_wait(data: &Path, log: &Path, expected: &str) {
    let count = || {
        std::fs::read_to_string(log)
            .unwrap_or_default()
            .matches(expected)
            .count()
    };
    let before = count();
    let reload = guichet(&["reload", "--data", data.to_str().unwrap()]);
    assert!(
        reload.status.success(),
        "{}",
        String::from_utf8_lossy(&reload.stderr)
    );
    wait_for(expected, || count() > before);
}

#[test]
fn a_changed_file_is_published_on_reload_and_a_bad_one_refused_while_the_running_version_serves() {
    let folder = tempfile::tempdir().unwrap();
    let (file, data) = osu_as_it_is(folder.path());
    let original = std::fs::read_to_string(&file).unwrap();
    let log = folder.path().join("guichet.log");
    let admin = add_staff_on(&file, &data, "admin@osu.example", "gestionnaire", "*", true);
    let server = Guichet::launch_on(
        &file,
        &data,
        None,
        &IN_CAMPAIGN,
        std::fs::File::create(&log).unwrap(),
    );
    let first = serving_version(&server);

    // A file that does not check: refused, with where; the first version serves.
    std::fs::write(
        &file,
        original.replace("  closes: 2027-06-15", "  closes: 2027-13-45"),
    )
    .unwrap();
    reload_and_wait(&data, &log, "new version refused");
    let said = std::fs::read_to_string(&log).unwrap();
    assert!(said.contains("procedure.yaml:"), "{said}");
    assert_eq!(serving_version(&server), first);
    let (status, _, catalogue) = server.get("/formations", &[]);
    assert_eq!(status, 200);
    assert!(
        catalogue.contains("Master Sciences de l&#x27;Environnement Terrestre — M1"),
        "{catalogue}"
    );

    // A file whose own scenarios fail: refused the same way.
    let failing = original.replace(
        "letter_contains: [\"avis défavorable\"",
        "letter_contains: [\"avis introuvable\"",
    );
    assert_ne!(failing, original);
    std::fs::write(&file, failing).unwrap();
    reload_and_wait(&data, &log, "new version refused");
    assert!(std::fs::read_to_string(&log)
        .unwrap()
        .contains("avis introuvable"));
    assert_eq!(serving_version(&server), first);

    // A good change: published, served at once, without a restart.
    let renamed = original.replace(
        "Master SET — M2 parcours Écologie et biodiversité",
        "Master SET — M2 parcours Écologie, biodiversité et conservation",
    );
    assert_ne!(renamed, original);
    std::fs::write(&file, &renamed).unwrap();
    reload_and_wait(&data, &log, "new version published");
    let second = serving_version(&server);
    assert_ne!(second, first);
    let (_, _, catalogue) = server.get("/formations", &[]);
    assert!(
        catalogue.contains("Master SET — M2 parcours Écologie, biodiversité et conservation"),
        "{catalogue}"
    );

    // The administrator sees both versions and restores the first.
    let mut office = signed_in_staff(&server, &admin);
    let versions = office.get(&server.url("/staff/versions"));
    assert_eq!(versions.status, 200, "{}", versions.body);
    assert!(
        versions.body.contains("start-up") && versions.body.contains("SIGHUP"),
        "{}",
        versions.body
    );
    assert!(
        versions
            .body
            .contains("~ formation `m2-set-ecologie`: title"),
        "{}",
        versions.body
    );
    let csrf = csrf_of(&versions.body);
    let restore = format!("/staff/versions/{first}");
    let restored = office.post(&server.url(&restore), &[("csrf", &csrf)]);
    assert_eq!(restored.status, 303, "{}", restored.body);
    assert_eq!(serving_version(&server), first);
    // Written over the file too: a reload (or a restart) serves it still.
    let on_disk = std::fs::read_to_string(&file).unwrap();
    assert!(on_disk == original, "the file holds the version restored");
    reload_and_wait(&data, &log, "the file is the version running");
    assert_eq!(serving_version(&server), first);
    let versions = office.get(&server.url("/staff/versions"));
    assert!(
        versions.body.contains("admin@osu.example"),
        "{}",
        versions.body
    );
    // Without the form's token, nothing; a version the store does not have, 404.
    let forged = office.post(&server.url(&format!("/staff/versions/{second}")), &[]);
    assert_ne!(forged.status, 303);
    assert_eq!(serving_version(&server), first);
    let unknown = office.post(
        &server.url(&format!("/staff/versions/{}", "0".repeat(64))),
        &[("csrf", &csrf)],
    );
    assert_eq!(unknown.status, 404);
    server.stop();
}

#[test]
fn an_administrator_moves_the_dossiers_to_the_version_in_service_and_sees_why_some_stay() {
    let folder = tempfile::tempdir().unwrap();
    let data = folder.path().join("data");
    let file = folder.path().join("procedure.yaml");
    let fixtures = repository().join("tests/fixtures/versions");
    std::fs::copy(fixtures.join("v1.yaml"), &file).unwrap();
    let [ada, _bruno, _chloe] = dossiers_under_v1(&data);
    let admin = add_staff_on(&file, &data, "admin@school.example", "staff", "*", true);
    let log = folder.path().join("guichet.log");
    let server = Guichet::launch_on(
        &file,
        &data,
        None,
        &[],
        std::fs::File::create(&log).unwrap(),
    );
    std::fs::copy(fixtures.join("v2.yaml"), &file).unwrap();
    reload_and_wait(&data, &log, "new version published");

    let mut office = signed_in_staff(&server, &admin);
    let versions = office.get(&server.url("/staff/versions"));
    assert!(
        versions
            .body
            .contains("3 dossier(s) suivent une version antérieure"),
        "{}",
        versions.body
    );
    let csrf = csrf_of(&versions.body);
    let moved = office.post(&server.url("/staff/versions/migrer"), &[("csrf", &csrf)]);
    assert_eq!(moved.status, 200, "{}", moved.body);
    let said = moved.body.replace("&#x60;", "`");
    assert!(
        said.contains(
            "1 dossier(s) passé(s) à la version en service, 2 resté(s) sur leur version."
        ),
        "{said}"
    );
    assert!(
        said.contains("status `closed`, which this version does not have"),
        "{said}"
    );
    assert!(
        said.contains("field `identity.hobby` has an answer"),
        "{said}"
    );
    assert!(
        said.contains("2 dossier(s) suivent une version antérieure"),
        "{said}"
    );
    // Ada's candidature follows the new version: its renamed status, its new piece.
    let page = office.get(&server.url(&format!("/staff/candidatures/{ada}/c1")));
    assert!(
        page.body.contains("Arrived") && page.body.contains("Diploma"),
        "{}",
        page.body
    );
    // Without the form's token, nothing moves.
    let forged = office.post(&server.url("/staff/versions/migrer"), &[]);
    assert_ne!(forged.status, 200);
    server.stop();
}

/// A JSON request of the editor's script, with `token` in `X-CSRF-Token`.
fn editor_json(browser: &mut Browser, url: &str, token: &str, source: &str) -> (u16, String) {
    let response = browser
        .agent
        .post(url)
        .header("cookie", &browser.cookie_header())
        .header("x-csrf-token", token)
        .header("content-type", "application/json")
        .send(json!({ "source": source }).to_string())
        .unwrap();
    let page = browser.keep(response);
    (page.status, page.body)
}

#[test]
fn the_editor_checks_for_its_script_and_refuses_to_publish_what_its_scenarios_fail() {
    let folder = tempfile::tempdir().unwrap();
    let (file, _data, server, mut office) = administered(folder.path(), Log::Discarded);
    let original = std::fs::read_to_string(&file).unwrap();
    let first = serving_version(&server);
    let editor = office.get(&server.url("/staff/editeur"));
    assert_eq!(editor.status, 200);
    // The page holds the version in service, escaped, and its own policy.
    assert!(editor.body.contains("id: osu-pytheas"), "{}", editor.body);
    let csrf = csrf_of(&editor.body);

    // The script's check: JSON diagnostics with where; its token required.
    let broken = original.replace("max_candidatures: 20", "max_candidatures: beaucoup");
    let check = server.url("/staff/editeur/verifier");
    let (status, body) = editor_json(&mut office, &check, &csrf, &broken);
    assert_eq!(status, 200, "{body}");
    let problems: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(problems[0]["line"], 17, "{problems}");
    assert!(problems[0]["message"]
        .as_str()
        .unwrap()
        .contains("max_candidatures"));
    let (status, _) = editor_json(&mut office, &check, &"0".repeat(64), &broken);
    assert_eq!(status, 403);
    let (status, body) = editor_json(&mut office, &check, &csrf, &original);
    assert_eq!((status, body.as_str()), (200, "[]"));

    // A text whose scenarios fail: the review says so, publishing is refused,
    // the version in service and the file stay as they were.
    let failing = original.replace(
        "letter_contains: [\"avis défavorable\"",
        "letter_contains: [\"avis introuvable\"",
    );
    let (status, body) = editor_json(
        &mut office,
        &server.url("/staff/editeur/scenarios"),
        &csrf,
        &failing,
    );
    assert_eq!(status, 200);
    let reports: Value = serde_json::from_str(&body).unwrap();
    let failed: Vec<&Value> = reports
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["ok"] == false)
        .collect();
    assert_eq!(failed.len(), 1, "{reports}");
    assert!(failed[0]["reason"]
        .as_str()
        .unwrap()
        .contains("avis introuvable"));
    let review = office.post(
        &server.url("/staff/editeur/apercu"),
        &[("csrf", &csrf), ("source", &failing)],
    );
    assert_eq!(review.status, 200);
    assert!(
        review.body.contains("1 scénario(s) échouent"),
        "{}",
        review.body
    );
    let refused = office.post(
        &server.url("/staff/editeur/publier"),
        &[("csrf", &csrf), ("source", &failing)],
    );
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(
        refused.body.contains("avis introuvable"),
        "{}",
        refused.body
    );
    assert_eq!(serving_version(&server), first);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), original);

    // The candidate pages under an edited text: a new formation in the
    // catalogue and on its own page, a section's form, the text's own title
    // and words; nothing stored.
    let edited = original
        .replace(
            "  - id: m1-oceanographie\n",
            "  - id: m1-glaciologie\n    title: { fr: \"Master Glaciologie — M1\", en: \"Master in Glaciology — M1\" }\n    composante: osu-pytheas\n    pieces: [cv, lettre_motivation]\n  - id: m1-oceanographie\n",
        )
        .replace(
            "  fr: \"OSU Institut Pythéas — candidatures\"\n",
            "  fr: \"OSU Institut Pythéas — rentrée 2028\"\n",
        )
        .replace(
            "timezone: Europe/Paris\n",
            "timezone: Europe/Paris\nwords: { fr: { catalogue: \"Parcours proposés\" } }\n",
        );
    assert_eq!(edited.matches("rentrée 2028").count(), 1);
    assert_eq!(edited.matches("Parcours proposés").count(), 1);
    let mut page = |which: &str| {
        let fields = [
            ("csrf", csrf.as_str()),
            ("source", edited.as_str()),
            ("page", which),
        ];
        office.post(&server.url("/staff/editeur/apercu/page"), &fields)
    };
    // Each page, with what it must show: the edited text's new formation,
    // the sample candidate's answers (the first scenario's; a repeatable
    // section's entry is its first one).
    for (which, shows) in [
        (
            "catalogue",
            &[
                "Master Glaciologie — M1",
                "<h1>Parcours proposés</h1>",
                "OSU Institut Pythéas — rentrée 2028",
            ][..],
        ),
        (
            "formation:m1-glaciologie",
            &["Master Glaciologie — M1", "Lettre de motivation"],
        ),
        (
            "candidature:m1-glaciologie",
            &["Master Glaciologie — M1", "Curriculum vitae"],
        ),
        ("section:etat_civil", &["Nom de naissance"]),
        (
            "dashboard",
            &[
                "Camille",
                "Master Sciences de l&#x27;Environnement Terrestre — M1",
            ],
        ),
        (
            "entry:cursus_externe",
            &["action=\"&#x2f;dossier&#x2f;cursus_externe&#x2f;1"],
        ),
    ] {
        let shown = page(which);
        assert_eq!(shown.status, 200, "{which}: {}", shown.body);
        for words in shows {
            assert!(
                shown.body.contains(words),
                "{which}: {words}\n{}",
                shown.body
            );
        }
    }
    assert_eq!(page("section:nulle-part").status, 404);
    assert_eq!(page("entry:etat_civil").status, 404);
    assert_eq!(page("ailleurs").status, 404);
    let (_, _, served) = server.get("/formations", &[]);
    for edit in ["Glaciologie", "Parcours proposés", "rentrée 2028"] {
        assert!(
            !served.contains(edit),
            "the preview changed nothing: {edit}"
        );
    }

    // A text that does not check: its problems on the page, without the script.
    let review = office.post(
        &server.url("/staff/editeur/apercu"),
        &[("csrf", &csrf), ("source", &broken)],
    );
    assert_eq!(review.status, 422);
    assert!(
        review.body.contains("procedure.yaml:17:"),
        "{}",
        review.body
    );
    server.stop();
}

/// The version in service a review's publish form says it compared with.
fn reviewed_of(page: &Page) -> String {
    let at = page
        .body
        .find(r#"name="en_service" value=""#)
        .expect("a review's publish form");
    let rest = &page.body[at + r#"name="en_service" value=""#.len()..];
    rest[..rest.find('"').unwrap()].to_owned()
}

/// A review made before another publication does not publish over it
/// unseen: it is shown again, against the version in service now.
#[test]
fn a_review_older_than_another_publication_is_shown_again_not_published() {
    let folder = tempfile::tempdir().unwrap();
    let (file, _data, server, mut office) = administered(folder.path(), Log::Discarded);
    let csrf = csrf_of(&office.get(&server.url("/staff/editeur")).body);
    let source = std::fs::read_to_string(&file).unwrap();
    let mine = source.replace("max_candidatures: 20", "max_candidatures: 19");
    let theirs = source.replace("max_candidatures: 20", "max_candidatures: 18");
    let (review_url, publish_url) = (
        server.url("/staff/editeur/apercu"),
        server.url("/staff/editeur/publier"),
    );
    let review = office.post(&review_url, &[("csrf", &csrf), ("source", &mine)]);
    assert_eq!(review.status, 200, "{}", review.body);
    let reviewed = reviewed_of(&review);
    // Meanwhile, another version is put in service.
    let other = office.post(&publish_url, &[("csrf", &csrf), ("source", &theirs)]);
    assert_eq!(other.status, 303, "{}", other.body);
    let theirs_in_service = serving_version(&server);
    // Published from the older review: shown again, nothing published.
    let again = office.post(
        &publish_url,
        &[
            ("csrf", &csrf),
            ("en_service", &reviewed),
            ("source", &mine),
        ],
    );
    assert_eq!(again.status, 409, "{}", again.body);
    assert!(
        again.body.contains("Rien n&#x27;a été publié"),
        "{}",
        again.body
    );
    assert!(
        again.body.contains("max_candidatures"),
        "the change against it: {}",
        again.body
    );
    assert_eq!(serving_version(&server), theirs_in_service);
    // Published from the review made now, it is.
    let now = reviewed_of(&again);
    assert_ne!(now, reviewed);
    let published = office.post(
        &publish_url,
        &[("csrf", &csrf), ("en_service", &now), ("source", &mine)],
    );
    assert_eq!(published.status, 303, "{}", published.body);
    assert_ne!(serving_version(&server), theirs_in_service);
    server.stop();
}

/// Publications sent together from reviews of the same version: one goes
/// into service, the others are shown again against it; the definition
/// file holds the version in service. Checked apart from the publication,
/// each would have found the reviewed version still in service, and each
/// been published over the others.
#[test]
fn publications_sent_together_from_one_review_put_one_in_service() {
    let folder = tempfile::tempdir().unwrap();
    let log = folder.path().join("guichet.log");
    let logged = std::fs::File::create(&log).unwrap();
    let (file, data, server, mut office) = administered(folder.path(), logged);
    let csrf = csrf_of(&office.get(&server.url("/staff/editeur")).body);
    let source = std::fs::read_to_string(&file).unwrap();
    let review = office.post(
        &server.url("/staff/editeur/apercu"),
        &[("csrf", &csrf), ("source", &source)],
    );
    let reviewed = reviewed_of(&review);
    let texts: Vec<String> = (15..19)
        .map(|n| source.replace("max_candidatures: 20", &format!("max_candidatures: {n}")))
        .collect();
    let publish_url = server.url("/staff/editeur/publier");
    let answers: Vec<u16> = std::thread::scope(|scope| {
        let sent: Vec<_> = texts
            .iter()
            .map(|text| {
                let mut tab = Browser {
                    agent: office.agent.clone(),
                    cookies: office.cookies.clone(),
                };
                let (csrf, reviewed, url) = (&csrf, &reviewed, &publish_url);
                scope.spawn(move || {
                    let fields = [
                        ("csrf", csrf.as_str()),
                        ("en_service", reviewed),
                        ("source", text),
                    ];
                    tab.post(url, &fields).status
                })
            })
            .collect();
        sent.into_iter().map(|tab| tab.join().unwrap()).collect()
    });
    let published: Vec<&String> = texts
        .iter()
        .zip(&answers)
        .filter(|(_, status)| **status == 303)
        .map(|(text, _)| text)
        .collect();
    assert_eq!(published.len(), 1, "{answers:?}");
    assert!(
        answers.iter().all(|status| [303, 409].contains(status)),
        "{answers:?}"
    );
    assert_eq!(&std::fs::read_to_string(&file).unwrap(), published[0]);
    // What runs is what the file holds.
    reload_and_wait(&data, &log, "the file is the version running");
    server.stop();
}

/// An administrator's text names files: the server reads them only below
/// the definition's folder (or where the version in service reads them),
/// not any file it can (a list's lines would show as a choice's options in
/// the page previews, a base's problems where they are in it).
#[test]
fn the_editor_reads_no_file_outside_the_definitions_folder() {
    let folder = tempfile::tempdir().unwrap();
    let secret = folder.path().join("secret.yaml");
    std::fs::write(&secret, "password: [TOPSECRET unclosed\n").unwrap();
    std::fs::write(
        folder.path().join("secret.csv"),
        "id,label\nTOPSECRET,TOPSECRET\n",
    )
    .unwrap();
    let (file, _data, server, mut office) = administered(folder.path(), Log::Discarded);
    let csrf = csrf_of(&office.get(&server.url("/staff/editeur")).body);
    let check = server.url("/staff/editeur/verifier");
    let source = std::fs::read_to_string(&file).unwrap();
    // A base named by its whole path, then by one climbing out.
    for base in [secret.display().to_string(), "../secret.yaml".to_owned()] {
        let draft = source.replacen("guichet: 1\n", &format!("guichet: 1\nextends: {base}\n"), 1);
        let (status, body) = editor_json(&mut office, &check, &csrf, &draft);
        assert_eq!(status, 200, "{body}");
        assert!(!body.contains("TOPSECRET"), "{base}: {body}");
        assert!(body.contains("could not be read"), "{base}: {body}");
    }
    // A list file climbing out.
    let draft = source.replacen(
        "composantes: { file: data/composantes.csv }",
        "composantes: { file: ../secret.csv }",
        1,
    );
    assert_ne!(draft, source);
    let (status, body) = editor_json(&mut office, &check, &csrf, &draft);
    assert_eq!(status, 200, "{body}");
    assert!(!body.contains("TOPSECRET"), "{body}");
    assert!(body.contains("secret.csv"), "named as unread: {body}");
    // The files below the folder are read as before: the text as it is
    // has no problem.
    let (_, body) = editor_json(&mut office, &check, &csrf, &source);
    assert_eq!(body, "[]");
    server.stop();
}

#[test]
fn the_editor_publishes_a_changed_list_file_and_writes_nothing_the_definition_does_not_name() {
    let folder = tempfile::tempdir().unwrap();
    let (file, _data, server, mut office) = administered(folder.path(), Log::Discarded);
    let first = serving_version(&server);
    let editor = office.get(&server.url("/staff/editeur"));
    // Each list file of the definition is there to edit.
    assert!(
        editor
            .body
            .contains("name=\"list:data&#x2f;composantes.csv\""),
        "{}",
        editor.body
    );
    let csrf = csrf_of(&editor.body);
    let source = std::fs::read_to_string(&file).unwrap();
    let lists = folder.path().join("definition/data");
    let composantes = std::fs::read_to_string(lists.join("composantes.csv")).unwrap();
    let renamed = composantes.replace("OSU Institut Pythéas", "OSU Institut Pythéas (Luminy)");
    let published = office.post(
        &server.url("/staff/editeur/publier"),
        &[
            ("csrf", &csrf),
            ("source", &source),
            ("list:data/composantes.csv", &renamed),
            ("list:../evil.csv", "id,label\nx,y\n"),
            ("list:data/extra.csv", "id,label\nx,y\n"),
        ],
    );
    assert_eq!(published.status, 303, "{}", published.body);
    assert_ne!(serving_version(&server), first);
    let (_, _, catalogue) = server.get("/formations", &[]);
    assert!(
        catalogue.contains("OSU Institut Pythéas (Luminy)"),
        "{catalogue}"
    );
    assert_eq!(
        std::fs::read_to_string(lists.join("composantes.csv")).unwrap(),
        renamed
    );
    assert!(!folder.path().join("evil.csv").exists());
    assert!(!lists.join("extra.csv").exists());
    server.stop();
}

#[test]
fn a_piece_limit_raised_by_a_published_version_is_the_one_its_uploads_meet() {
    let folder = tempfile::tempdir().unwrap();
    let (file, data) = osu_as_it_is(folder.path());
    let original = std::fs::read_to_string(&file).unwrap();
    let log = folder.path().join("guichet.log");
    let logged = std::fs::File::create(&log).unwrap();
    let server = Guichet::launch_on(&file, &data, None, &IN_CAMPAIGN, logged);
    // A CV of 3.5 MB: past the 2 MB of the version the server started with,
    // and past that and the room of the form around it (read to its end all
    // the same, so that the candidate is told the limit).
    let text = "x".repeat(3_500_000);
    let cv = pdf_of_contents(&[format!("BT /F1 12 Tf 72 760 Td ({text}) Tj ET")]);
    let send_cv = |browser: &mut Browser| {
        let csrf = csrf_of(&browser.get(&server.url("/tableau-de-bord")).body);
        let apply = browser.post(
            &server.url("/formations/m1-set/candidater"),
            &[("csrf", &csrf)],
        );
        assert_eq!(apply.status, 303, "{}", apply.body);
        let url = server.url("/candidatures/c1/pieces/cv");
        upload(browser, &url, &csrf, "cv.pdf", &cv)
    };
    let mut early = activated(&server, &log, "alice@example.org");
    let refused = send_cv(&mut early);
    assert_eq!(refused.status, 422);
    assert!(refused.body.contains("2 Mo"), "{}", refused.body);

    // The CV's limit raised to 5 MB and published.
    let cv_line = "accept: [pdf, jpg, png], max_size: 2MB }";
    assert!(original.contains(&format!("en: CV }}, {cv_line}")));
    let raised = original.replacen(cv_line, "accept: [pdf, jpg, png], max_size: 5MB }", 1);
    std::fs::write(&file, raised).unwrap();
    reload_and_wait(&data, &log, "new version published");
    // A dossier begun under it takes the CV; the one begun before keeps
    // its version's limit.
    let mut late = activated(&server, &log, "bruno@example.org");
    let taken = send_cv(&mut late);
    assert_eq!(taken.status, 303, "{}", taken.body);
    let csrf = csrf_of(&early.get(&server.url("/tableau-de-bord")).body);
    let url = server.url("/candidatures/c1/pieces/cv");
    let still = upload(&mut early, &url, &csrf, "cv.pdf", &cv);
    assert_eq!(still.status, 422);
    assert!(still.body.contains("2 Mo"), "{}", still.body);
    server.stop();
}
