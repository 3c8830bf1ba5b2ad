//! A candidate's pages on the real `guichet serve`: the dossier's sections as
//! forms checked on the server, applying, pieces uploaded and checked by
//! content, transmission; and pages following a changed definition.

mod serving;

use guichet_engine::{Definition, Engine, SledStore};
use serving::*;

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
    // The page's heading, then the problems listed, each a link to its field.
    assert!(
        wrong.body.contains("</a></p>\n<h1>État civil</h1>"),
        "{}",
        wrong.body
    );
    assert!(
        wrong
            .body
            .contains(r##"<li><a href="#prenoms">Prénoms : Ce champ est obligatoire.</a></li>"##),
        "{}",
        wrong.body
    );
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
    // The answer chosen from a long list is the one selected, once.
    let page = browser.get(&server.url("/dossier/etat_civil"));
    let nationality = &page.body[page.body.find(r#"<select id="nationalite""#).unwrap()..];
    let nationality = &nationality[..nationality.find("</select>").unwrap()];
    assert!(
        nationality.contains(r#"<option value="FR" selected>Française</option>"#),
        "{nationality}"
    );
    assert_eq!(nationality.matches(" selected>").count(), 1);
    assert!(nationality.matches("<option ").count() > 40);

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
    // What happened, newest first, without naming who acted: the candidate.
    let history = &dashboard.body[dashboard.body.find("<ol class=\"history\">").unwrap()..];
    let saved = history.find("</time> — Rubrique enregistrée : État civil</li>");
    let created = history.find("</time> — Dossier créé</li>");
    assert!(saved.is_some() && saved < created, "{history}");

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

    // In the language the page is read in, whatever the dossier's: the
    // candidature's status, its pieces' names and their statuses.
    let english = browser.get(&server.url("/candidatures/c1?lang=en")).body;
    for words in ["Not yet sent", "Cover letter", "To upload"] {
        assert!(english.contains(words), "{words}: {english}");
    }
    assert!(!english.contains("Lettre de motivation"), "{english}");
    let page = browser.get(&server.url("/candidatures/c1?lang=fr"));
    assert!(page.body.contains("En attente"), "{}", page.body);
    let csrf = csrf_of(&page.body);
    let next_step = |browser: &mut Browser| {
        let dashboard = browser.get(&server.url("/tableau-de-bord")).body;
        let at = dashboard
            .find(r#"<span class="next">"#)
            .map_or(0, |at| at + 19);
        dashboard[at..]
            .split("</span>")
            .next()
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(
        next_step(&mut browser),
        "À faire : déposer les pièces manquantes, puis transmettre"
    );
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
    // A phone's photo of 12 MB: read to its end, so the answer arrives
    // rather than a reset connection.
    big.resize(12_000_000, b' ');
    let photo = upload(&mut browser, &cv, &csrf, "cv.pdf", &big);
    assert_eq!(photo.status, 422);
    assert!(photo.body.contains("la taille maximale est de 2 Mo"));
    let truncated = upload(&mut browser, &cv, &csrf, "cv.pdf", &pdf()[..60]);
    assert!(
        truncated.body.contains("incomplet ou endommagé"),
        "{}",
        truncated.body
    );
    // A PDF with an archive behind it, and a small PNG declaring
    // 20,000 × 20,000 pixels.
    let mut polyglot = pdf();
    polyglot.extend_from_slice(b"PK\x03\x04\x14\x00 an archive hidden behind PK\x05\x06");
    let hidden = upload(&mut browser, &cv, &csrf, "cv.pdf", &polyglot);
    assert_eq!(hidden.status, 422);
    assert!(
        hidden.body.contains("incomplet ou endommagé"),
        "{}",
        hidden.body
    );
    let mut huge = png();
    huge[16..24].copy_from_slice(&[0, 0, 0x4E, 0x20, 0, 0, 0x4E, 0x20]);
    let identity = server.url("/candidatures/c1/pieces/piece_identite");
    let oversized = upload(&mut browser, &identity, &csrf, "photo.png", &huge);
    assert_eq!(oversized.status, 422);
    assert!(
        oversized
            .body
            .contains("réduisez-la à 40 mégapixels au plus"),
        "{}",
        oversized.body
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
    assert_eq!(
        next_step(&mut browser),
        "À faire : Transmettre ma candidature"
    );

    // The file comes back to its owner only, as an attachment.
    let download = browser.get(&server.url("/candidatures/c1/pieces/cv/fichier-envoye"));
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
            .get(&server.url("/candidatures/c1/pieces/cv/fichier-envoye"))
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
    // An old confirmation link leads back to the candidature, which says
    // where it stands.
    let replayed = browser.get(&server.url("/candidatures/c1/transmettre?lang=fr"));
    assert_eq!(replayed.status, 303);
    assert_eq!(
        replayed.location.as_deref(),
        Some("/candidatures/c1?lang=fr")
    );

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

#[test]
fn before_the_campaign_pages_say_when_it_opens_and_a_demonstration_can_start_inside_it() {
    let folder = tempfile::tempdir().unwrap();
    let later = |text: String| {
        text.replace(
            "  opens: 2027-03-01\n  closes: 2027-06-15",
            "  opens: 2090-03-01\n  closes: 2090-06-15",
        )
    };
    let definition = osu_copy(&folder.path().join("definition"), later);
    let server = Guichet::launch_on(
        &definition,
        &folder.path().join("data"),
        None,
        &[],
        Log::Discarded,
    );
    let (_, _, formation) = server.get("/formations/m1-set", &[]);
    assert!(
        formation.contains("Les candidatures ouvrent le 2090-03-01."),
        "{formation}"
    );
    assert!(
        !formation.contains("/candidater"),
        "no apply link before opening"
    );
    let (_, _, catalogue) = server.get("/formations", &[]);
    assert!(catalogue.contains("Les candidatures ouvrent le 2090-03-01."));
    server.stop();

    // The same procedure, its time started inside the campaign.
    let log_path = folder.path().join("demo.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let demo = ["--now", "2090-03-10T09:00:00+01:00"];
    let data = folder.path().join("demo");
    let server = Guichet::launch_on(&definition, &data, None, &demo, log);
    let (_, _, formation) = server.get("/formations/m1-set", &[]);
    assert!(
        formation.contains("/formations/m1-set/candidater"),
        "{formation}"
    );
    let mut browser = activated(&server, &log_path, "demo@example.org");
    let applied = browser.submit(&server.url("/formations/m1-set/candidater"), &[]);
    assert_eq!(applied.status, 303, "{}", applied.body);
    server.stop();
}

#[test]
fn the_candidate_downloads_their_candidature_as_one_pdf() {
    let folder = tempfile::tempdir().unwrap();
    let (server, mut browser, _) = signed_up(folder.path(), &[]);
    let civil = browser.submit(
        &server.url("/dossier/etat_civil"),
        &[
            ("civilite", "mme"),
            ("nom_naissance", "Durand-Lefèvre"),
            ("prenoms", "Camille Zoé"),
            ("date_naissance", "2003-05-14"),
            ("commune_naissance", "Salon-de-Provence"),
            ("pays_naissance", "FR"),
            ("nationalite", "FR"),
            ("ine", "123456789AB"),
        ],
    );
    assert_eq!(civil.status, 303, "{}", civil.body);
    browser.submit(&server.url("/formations/m1-set/candidater"), &[]);
    let page = browser.get(&server.url("/candidatures/c1"));
    assert!(page.body.contains("c1&#x2f;dossier.pdf"), "{}", page.body);
    let csrf = csrf_of(&page.body);
    let sent = upload(
        &mut browser,
        &server.url("/candidatures/c1/pieces/cv"),
        &csrf,
        "cv.pdf",
        &pdf(),
    );
    assert_eq!(sent.status, 303, "{}", sent.body);

    let (status, kind, bytes) = browser.get_bytes(&server.url("/candidatures/c1/dossier.pdf"));
    assert_eq!((status, kind.as_str()), (200, "application/pdf"));
    let read = read_pdf(&bytes);
    for expected in [
        "Durand-Lefèvre",
        "Salon-de-Provence",
        "Master Sciences de l'Environnement Terrestre — M1",
        "Curriculum vitae",
    ] {
        assert!(
            read.text.contains(expected),
            "no `{expected}` in {}",
            read.text
        );
    }
    // The summary's pages, then the CV's one page.
    let cv_page = read
        .outline
        .iter()
        .find(|(_, title)| title == "Curriculum vitae")
        .map(|(page, _)| *page)
        .unwrap_or_else(|| panic!("{:?}", read.outline));
    assert_eq!(read.pages, cv_page, "{:?}", read.outline);
    assert!(
        read.outline.iter().any(|(_, title)| title == "État civil"),
        "{:?}",
        read.outline
    );

    // Nobody else's: another account, or none, gets nothing.
    let (status, _, _) = Browser::new().get_bytes(&server.url("/candidatures/c1/dossier.pdf"));
    assert_ne!(status, 200);
    let mut other = activated(
        &server,
        &folder.path().join("guichet.log"),
        "mallory@example.org",
    );
    let (status, _, _) = other.get_bytes(&server.url("/candidatures/c1/dossier.pdf"));
    assert_eq!(status, 404);
    server.stop();
}

#[test]
fn a_pdf_the_dossier_could_not_include_is_refused_at_upload() {
    let folder = tempfile::tempdir().unwrap();
    let (server, mut browser, _) = signed_up(folder.path(), &[]);
    browser.submit(&server.url("/formations/m1-set/candidater"), &[]);
    let page = browser.get(&server.url("/candidatures/c1"));
    let csrf = csrf_of(&page.body);
    let cv = server.url("/candidatures/c1/pieces/cv");
    let fixture =
        |name: &str| std::fs::read(repository().join("tests/fixtures/pieces").join(name)).unwrap();

    let encrypted = upload(
        &mut browser,
        &cv,
        &csrf,
        "cv.pdf",
        &fixture("encrypted.pdf"),
    );
    assert_eq!(encrypted.status, 422);
    assert!(
        encrypted.body.contains("protégé par un mot de passe"),
        "{}",
        encrypted.body
    );
    let library = upload(&mut browser, &cv, &csrf, "cv.pdf", &pdf_of_pages(301));
    assert_eq!(library.status, 422);
    assert!(
        library.body.contains("entre 1 et 300 pages"),
        "{}",
        library.body
    );
    let empty = upload(&mut browser, &cv, &csrf, "cv.pdf", &pdf_of_pages(0));
    assert_eq!(empty.status, 422, "{}", empty.body);
    let page = browser.get(&server.url("/candidatures/c1"));
    assert!(
        !page.body.contains("cv.pdf"),
        "nothing was kept: {}",
        page.body
    );
    // The same at the limit is taken.
    let longest = upload(&mut browser, &cv, &csrf, "cv.pdf", &pdf_of_pages(300));
    assert_eq!(longest.status, 303, "{}", longest.body);
    server.stop();
}

#[test]
fn a_complementary_form_is_its_candidates_alone_and_checked_like_a_section() {
    let folder = tempfile::tempdir().unwrap();
    let (server, mut browser, _) = signed_up(folder.path(), &[]);
    browser.submit(&server.url("/formations/m1-oceanographie/candidater"), &[]);
    let form = browser.get(&server.url("/candidatures/c1/formulaire-complementaire"));
    assert_eq!(form.status, 200, "{}", form.body);
    assert!(
        form.body.contains("Votre projet professionnel"),
        "{}",
        form.body
    );
    let csrf = csrf_of(&form.body);

    // A required answer left out, and a megabyte where a choice goes.
    let huge = "x".repeat(1 << 20);
    let refused = browser.post(
        &server.url("/candidatures/c1/formulaire-complementaire"),
        &[("csrf", &csrf), ("projet", ""), ("programmation", &huge)],
    );
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(!refused.body.contains(&huge[..1000]));
    let saved = browser.submit(
        &server.url("/candidatures/c1/formulaire-complementaire"),
        &[
            ("csrf", &csrf),
            (
                "projet",
                "Modéliser les <b>upwellings</b> du golfe du Lion.",
            ),
            ("programmation", "python"),
        ],
    );
    assert_eq!(saved.status, 303, "{}", saved.body);
    let page = browser.get(&server.url("/candidatures/c1"));
    assert!(page.body.contains("Formulaire complet"), "{}", page.body);

    // Another account reaches no form of hers, and changes nothing.
    let mut mallory = activated(
        &server,
        &folder.path().join("guichet.log"),
        "mallory@example.org",
    );
    let theirs = mallory.get(&server.url("/dossier/etat_civil"));
    let mallory_csrf = csrf_of(&theirs.body);
    assert_eq!(
        mallory
            .get(&server.url("/candidatures/c1/formulaire-complementaire"))
            .status,
        404
    );
    let forged = mallory.post(
        &server.url("/candidatures/c1/formulaire-complementaire"),
        &[("csrf", &mallory_csrf), ("projet", "Rien.")],
    );
    assert_eq!(forged.status, 404, "{}", forged.body);
    let form = browser.get(&server.url("/candidatures/c1/formulaire-complementaire"));
    // Her answer as she wrote it, escaped.
    assert!(
        form.body
            .contains("Modéliser les &lt;b&gt;upwellings&lt;&#x2f;b&gt; du golfe du Lion."),
        "{}",
        form.body
    );
    // Signed out, nothing either.
    let (status, _, _) =
        Browser::new().get_bytes(&server.url("/candidatures/c1/formulaire-complementaire"));
    assert_ne!(status, 200);
    server.stop();
}

/// Another institution's ids may be words the candidate's pages use in
/// their own addresses: a candidature's transition named `formulaire`, a
/// piece's named `fichier`. Each reaches its transition; the complementary
/// form and a piece's file keep addresses no id can take (ids have no `-`).
#[test]
fn transitions_named_like_the_pages_words_are_reached() {
    let folder = tempfile::tempdir().unwrap();
    let renamed = |text| {
        let renamed = open_campaign(text)
            .replace("transmettre", "formulaire")
            .replace("declarer_non_concerne", "fichier");
        assert!(
            renamed.contains("- id: formulaire\n"),
            "the transition renamed"
        );
        assert!(renamed.contains("- id: fichier\n"), "the piece's renamed");
        renamed
    };
    let (server, mut browser, _) = signed_up_on(folder.path(), renamed, &[]);
    browser.submit(&server.url("/formations/m1-oceanographie/candidater"), &[]);

    // The transition's confirmation, not the complementary form.
    let confirm = browser.get(&server.url("/candidatures/c1/formulaire"));
    assert_eq!(confirm.status, 200, "{}", confirm.body);
    assert!(
        confirm.body.contains("Transmettre ma candidature"),
        "{}",
        confirm.body
    );
    assert!(!confirm.body.contains("Votre projet professionnel"));
    let form = browser.get(&server.url("/candidatures/c1/formulaire-complementaire"));
    assert_eq!(form.status, 200, "{}", form.body);
    assert!(form.body.contains("Votre projet professionnel"));

    // The piece's transition, offered and done.
    let page = browser.get(&server.url("/candidatures/c1"));
    let declare = "/candidatures/c1/pieces/non_francophone/fichier";
    let offered = format!("action=\"{declare}?lang=fr\"");
    assert!(page.body.contains(&offered), "{}", page.body);
    let declared = browser.post(&server.url(declare), &[("csrf", &csrf_of(&page.body))]);
    assert_eq!(declared.status, 303, "{}", declared.body);
    let page = browser.get(&server.url("/candidatures/c1"));
    assert!(page.body.contains("Non concerné"), "{}", page.body);
    server.stop();
}

/// The dashboard's lines write the procedure's titles escaped, each a link
/// to its page in the page's language.
#[test]
fn the_dashboards_lines_escape_the_procedures_titles() {
    let folder = tempfile::tempdir().unwrap();
    let hostile = |text| {
        let edited = open_campaign(text)
            .replace(
                r#"title: { fr: "État civil""#,
                r#"title: { fr: "État <civil> & \"nom\"""#,
            )
            .replace(
                r#"title: { fr: "Master Sciences de l'Environnement Terrestre — M1""#,
                r#"title: { fr: "M1 <b>SET</b> & co""#,
            );
        assert!(edited.contains("<civil>") && edited.contains("<b>SET</b>"));
        edited
    };
    let (server, mut browser, _) = signed_up_on(folder.path(), hostile, &[]);
    let applied = browser.submit(&server.url("/formations/m1-set/candidater"), &[]);
    assert_eq!(applied.status, 303, "{}", applied.body);
    let dashboard = browser.get(&server.url("/tableau-de-bord")).body;
    for line in [
        r#"<li><a href="/dossier/etat_civil?lang=fr">État &lt;civil&gt; &amp; &quot;nom&quot;</a> — à compléter</li>"#,
        r#"<li><a href="/dossier/coordonnees?lang=fr">Coordonnées</a> — à compléter</li>"#,
        r#"<li><a href="/candidatures/c1?lang=fr">M1 &lt;b&gt;SET&lt;&#x2f;b&gt; &amp; co</a> — En attente<br><span class="next">À faire : "#,
        "</time> — Candidature créée : M1 &lt;b&gt;SET&lt;&#x2f;b&gt; &amp; co</li>",
    ] {
        assert!(dashboard.contains(line), "{line} in {dashboard}");
    }
    assert!(!dashboard.contains("<b>SET") && !dashboard.contains("<civil>"));
    server.stop();
}

/// The dashboard shows the latest ten events of the dossier, newest first,
/// and links to the page of the whole history once there are more; that
/// page shows every event, its newest first too.
#[test]
fn the_dashboard_shows_the_latest_events_and_links_the_whole_history() {
    let folder = tempfile::tempdir().unwrap();
    let (server, mut browser, _) = signed_up(folder.path(), &[]);
    // Each line from its time to its end: the times tell the saves apart.
    let lines = |page: &str| -> Vec<String> {
        let times = page.split("<li><time datetime=\"").skip(1);
        times
            .map(|line| line[..line.find("</li>").unwrap()].to_owned())
            .collect()
    };
    let link = r#"<a href="/tableau-de-bord/historique?lang=fr">Tout l&#x27;historique</a>"#;
    for number in 10..22 {
        let phone = format!("06 12 34 56 {number}");
        let saved = browser.submit(
            &server.url("/dossier/coordonnees"),
            &[
                ("adresse", "12 rue Sainte"),
                ("code_postal", "13001"),
                ("commune", "Marseille"),
                ("pays", "FR"),
                ("telephone", &phone),
                ("email", "camille@example.org"),
            ],
        );
        assert_eq!(saved.status, 303, "{}", saved.body);
        // Up to ten events and past them, the link exactly when some are
        // not shown.
        let dashboard = browser.get(&server.url("/tableau-de-bord")).body;
        let events = lines(&browser.get(&server.url("/tableau-de-bord/historique")).body);
        assert!(number > 10 || events.len() < 10, "{events:?}");
        assert_eq!(lines(&dashboard).len(), events.len().min(10));
        assert_eq!(dashboard.contains(link), events.len() > 10, "{dashboard}");
    }
    let dashboard = browser.get(&server.url("/tableau-de-bord")).body;
    let latest = lines(&dashboard);
    assert_eq!(latest.len(), 10, "{dashboard}");
    assert!(dashboard.contains(link), "{dashboard}");
    let whole = browser.get(&server.url("/tableau-de-bord/historique"));
    assert_eq!(whole.status, 200);
    let every = lines(&whole.body);
    assert_eq!(&every[..10], &latest[..]);
    let saves = every.iter().filter(|line| line.ends_with("Coordonnées"));
    assert_eq!(saves.count(), 12, "{}", whole.body);
    assert!(every.last().unwrap().ends_with("</time> — Dossier créé"));
    assert!(whole.body.contains("<h1>Historique de votre dossier</h1>"));
    // Another candidate reads their own history alone; without a session,
    // nothing.
    let log = folder.path().join("guichet.log");
    let mut other = activated(&server, &log, "noe@example.org");
    let theirs = other.get(&server.url("/tableau-de-bord/historique"));
    assert_eq!(theirs.status, 200);
    let their_lines = lines(&theirs.body);
    assert!(!their_lines.is_empty(), "{}", theirs.body);
    assert!(
        their_lines.iter().all(|line| !every.contains(line)),
        "{their_lines:?}"
    );
    assert!(!theirs.body.contains("Coordonnées"), "{}", theirs.body);
    let anonymous = Browser::new().get(&server.url("/tableau-de-bord/historique"));
    assert_eq!(anonymous.status, 401);
    server.stop();
}

/// A long history is read a page at a time, newest first: each page links
/// to the one before it until the dossier's making, and back to the
/// newest; the pages hold every event once.
#[test]
fn a_long_history_is_read_a_page_at_a_time() {
    let folder = tempfile::tempdir().unwrap();
    let (server, mut browser, data) = signed_up(folder.path(), &[]);
    server.stop();
    {
        // More saves than a candidate may make in a minute through the
        // pages: written through the engine, the server stopped.
        let definition = osu_copy(&folder.path().join("definition"), open_campaign);
        let engine = engine_on(&definition, &data);
        let dossiers = engine.dossiers().unwrap();
        let now = "2026-06-01T10:00:00Z".parse().unwrap();
        let mut camille = Seeded::existing(&engine, &dossiers[0].id, now);
        for number in 0..230 {
            let answers = serde_json::json!({
                "adresse": format!("{number} rue Sainte"), "code_postal": "13001",
                "commune": "Marseille", "pays": "FR", "telephone": "06 12 34 56 78",
                "email": "camille@example.org",
            });
            let section = "coordonnees".to_owned();
            camille.act(
                "candidat",
                guichet_engine::Command::SaveSection { section, answers },
            );
        }
    }
    let log = std::fs::File::create(folder.path().join("again.log")).unwrap();
    let definition = folder.path().join("definition/procedure.yaml");
    let server = Guichet::launch_on(&definition, &data, None, &[], log);
    let lines = |page: &str| -> Vec<String> {
        let times = page.split("<li><time datetime=\"").skip(1);
        times
            .map(|line| line[..line.find("</li>").unwrap()].to_owned())
            .collect()
    };
    let older = |page: &str| -> Option<String> {
        let at = page.find("/tableau-de-bord/historique?avant=")?;
        let link = &page[at..];
        Some(link[..link.find('"').unwrap()].replace("&amp;", "&"))
    };
    let newest = "Les événements les plus récents";
    let first = browser.get(&server.url("/tableau-de-bord/historique"));
    assert_eq!(first.status, 200, "{}", first.body);
    assert!(!first.body.contains(newest));
    let mut pages = vec![lines(&first.body)];
    let mut next = older(&first.body);
    while let Some(link) = next {
        assert!(pages.len() < 10, "the pages never end: {link}");
        let page = browser.get(&server.url(&link));
        assert_eq!(page.status, 200, "{}", page.body);
        assert!(page.body.contains(newest), "{}", page.body);
        pages.push(lines(&page.body));
        next = older(&page.body);
    }
    // The dossier's making and 230 saves, each shown once: pages of a
    // hundred, the last ending with the making.
    let sizes: Vec<usize> = pages.iter().map(Vec::len).collect();
    assert_eq!(sizes, [100, 100, 31]);
    let every: Vec<&String> = pages.iter().flatten().collect();
    assert!(every.last().unwrap().ends_with("</time> — Dossier créé"));
    let saves = every.iter().filter(|line| line.ends_with("Coordonnées"));
    assert_eq!(saves.count(), 230);
    // The dashboard's ten are the first page's first ten.
    let dashboard = browser.get(&server.url("/tableau-de-bord")).body;
    assert_eq!(lines(&dashboard), pages[0][..10]);
    // A page number that is not one shows the first page.
    let mistyped = browser.get(&server.url("/tableau-de-bord/historique?avant=douze"));
    assert_eq!(mistyped.status, 200);
    assert_eq!(lines(&mistyped.body), pages[0]);
    server.stop();
}

/// Several tabs, or a page sending its forms together: five pieces uploaded
/// and a section saved at once, each request read before the others land.
/// Each is kept; none is refused because another changed the dossier first.
#[test]
fn a_candidates_requests_sent_together_are_each_kept() {
    let folder = tempfile::tempdir().unwrap();
    let (server, mut browser, data) = signed_up(folder.path(), &[]);
    let applied = browser.submit(&server.url("/formations/m1-set/candidater"), &[]);
    assert_eq!(applied.status, 303);
    let page = browser.get(&server.url("/candidatures/c1"));
    let csrf = csrf_of(&page.body);
    let pieces = OSU_PIECES;
    let pdf = pdf();
    let tab = || Browser {
        agent: Browser::new().agent,
        cookies: browser.cookies.clone(),
    };
    let statuses: Vec<u16> = std::thread::scope(|scope| {
        let mut sent = Vec::new();
        for piece in pieces {
            let (mut tab, url) = (
                tab(),
                server.url(&format!("/candidatures/c1/pieces/{piece}")),
            );
            let (csrf, pdf) = (&csrf, &pdf);
            sent.push(scope.spawn(move || upload(&mut tab, &url, csrf, "piece.pdf", pdf).status));
        }
        let (mut tab, url) = (tab(), server.url("/dossier/baccalaureat"));
        let csrf = &csrf;
        sent.push(scope.spawn(move || {
            let fields = [("csrf", csrf.as_str()), ("situation", "sans_bac")];
            tab.post(&url, &fields).status
        }));
        sent.into_iter().map(|s| s.join().unwrap()).collect()
    });
    assert_eq!(statuses, [303; 6]);
    server.stop();

    let engine = osu_engine(&data);
    let dossier = engine.dossiers().unwrap().remove(0);
    let candidature = &dossier.candidatures[0];
    for piece in pieces {
        let state = &candidature.pieces[piece];
        assert!(state.file.is_some(), "{piece}: {state:?}");
    }
    assert_eq!(
        dossier.profile["baccalaureat"],
        serde_json::json!({"situation": "sans_bac"})
    );
}

/// Entries of a repeatable section added from several tabs at once: each
/// is kept (it was refused with "reload" when its request had read the
/// entries before another landed).
#[test]
fn entries_added_together_are_each_kept() {
    let folder = tempfile::tempdir().unwrap();
    let (server, browser, data) = signed_up(folder.path(), &[]);
    let url = server.url("/dossier/stages/nouveau");
    let statuses: Vec<(u16, String)> = std::thread::scope(|scope| {
        let sent: Vec<_> = ["Ifremer", "CNRS", "Météo-France", "IRD"]
            .into_iter()
            .map(|employer| {
                let mut tab = Browser {
                    agent: Browser::new().agent,
                    cookies: browser.cookies.clone(),
                };
                let url = &url;
                scope.spawn(move || {
                    let fields = [
                        ("debut", "2024-06-01"),
                        ("employeur", employer),
                        ("fonction", "Stagiaire"),
                    ];
                    let page = tab.submit(url, &fields);
                    (page.status, page.body)
                })
            })
            .collect();
        sent.into_iter().map(|s| s.join().unwrap()).collect()
    });
    // Each added to the entries as they are when it is saved, not to those
    // its request read.
    for (status, body) in &statuses {
        assert_eq!(*status, 303, "{body}");
    }
    server.stop();
    let engine = osu_engine(&data);
    let dossier = engine.dossiers().unwrap().remove(0);
    let entries = dossier.profile["stages"].as_array().unwrap();
    let mut employers: Vec<&str> = entries
        .iter()
        .map(|entry| entry["employeur"].as_str().unwrap())
        .collect();
    employers.sort_unstable();
    assert_eq!(employers, ["CNRS", "IRD", "Ifremer", "Météo-France"]);
}
