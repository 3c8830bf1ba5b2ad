//! The candidate manual's journey in a real browser: headless Chromium driven
//! through chromedriver, against the real server and a real SMTP server, with
//! axe-core checking every page. Screenshots go to `target/e2e/`.
//!
//! Needs the Debian packages `chromium` and `chromium-driver`, and axe-core
//! (npm) under `tests/browser/node_modules`: `scripts/test.sh` installs them.

mod serving;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};
use serving::*;

struct Chromedriver {
    process: Child,
    port: u16,
}

impl Chromedriver {
    /// Chromedriver on a port of its choosing. It was once seen to exit at
    /// start (status 1, before saying its port) in a CI run where every
    /// other start succeeded: it is started again then, up to three times.
    fn start() -> Self {
        let mut attempt = 1;
        loop {
            let mut process = Command::new("chromedriver")
                .arg("--port=0")
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .expect(
                    "chromedriver (Debian package chromium-driver, installed by scripts/test.sh)",
                );
            let announced = try_announced_port(
                &mut process,
                Log::Discarded,
                "started successfully on port ",
            );
            match announced {
                Ok(port) => return Self { process, port },
                Err(why) if attempt < 3 => {
                    eprintln!("chromedriver did not start ({why}): starting it again");
                    attempt += 1;
                }
                Err(why) => panic!("chromedriver did not start, three times: {why}"),
            }
        }
    }
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

/// A PNG of `width` × `height` pixels of noise (it does not compress: a
/// scan's weight), made by Python.
fn noisy_png(folder: &Path, width: usize, height: usize) -> Vec<u8> {
    let script = r#"
import os, struct, sys, zlib
path, width, height = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff)
raw = b"".join(b"\x00" + os.urandom(3 * width) for _ in range(height))
png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
open(path, "wb").write(png)
"#;
    let path = folder.join("scan.png");
    let status = Command::new("python3")
        .args(["-c", script])
        .arg(&path)
        .args([width.to_string(), height.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    std::fs::read(path).unwrap()
}

/// A real PDF (with its cross-reference table) and a real PNG, made by Python.
fn real_files(folder: &Path) -> (PathBuf, PathBuf) {
    let script = r#"
import struct, sys, zlib
folder = sys.argv[1]
objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
           b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
           None, b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
text = b"BT /F1 24 Tf 72 760 Td (Curriculum vitae) Tj ET"
objects[3] = b"<< /Length " + str(len(text)).encode() + b" >>\nstream\n" + text + b"\nendstream"
out = bytearray(b"%PDF-1.4\n")
offsets = []
for number, body in enumerate(objects, 1):
    offsets.append(len(out))
    out += str(number).encode() + b" 0 obj\n" + body + b"\nendobj\n"
xref = len(out)
out += b"xref\n0 " + str(len(objects) + 1).encode() + b"\n0000000000 65535 f \n"
for offset in offsets:
    out += b"%010d 00000 n \n" % offset
out += b"trailer\n<< /Size " + str(len(objects) + 1).encode() + b" /Root 1 0 R >>\nstartxref\n" + str(xref).encode() + b"\n%%EOF\n"
open(folder + "/cv.pdf", "wb").write(out)
def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff)
width, height = 64, 48
raw = b"".join(b"\x00" + bytes([30, 90, 160]) * width for _ in range(height))
png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
open(folder + "/passeport.png", "wb").write(png)
"#;
    let status = Command::new("python3")
        .args(["-c", script])
        .arg(folder)
        .status()
        .unwrap();
    assert!(status.success());
    (folder.join("cv.pdf"), folder.join("passeport.png"))
}

/// Runs a browser journey to its end.
fn in_browser(journey: impl std::future::Future<Output = ()>) {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(journey);
}

struct Journey {
    client: Client,
    base: String,
    step: usize,
    violations: Vec<String>,
    axe: String,
    screenshots: PathBuf,
    prefix: String,
}

impl Journey {
    /// Zoé Lefèvre signs up and activates her account with the link mailed
    /// to her (each page checked, if `checked`).
    async fn sign_up(&mut self, smtp: &SmtpServer, checked: bool) {
        self.goto("/inscription").await;
        if checked {
            self.check("inscription").await;
        }
        self.fill("last_name", "Lefèvre").await;
        self.fill("first_name", "Zoé").await;
        self.fill("email", "zoe.lefevre@example.org").await;
        self.submit().await;
        let text = self.text().await;
        assert!(text.contains("Consultez votre messagerie"), "{text}");
        if checked {
            self.check("courriel-envoye").await;
        }
        let (_, link) = link_in_mail(smtp, "zoe.lefevre@example.org", "Activation", 1);
        self.client.goto(&link).await.unwrap();
        if checked {
            self.check("activation").await;
        }
        self.fill("password", "Calanques-de-Sormiou-7").await;
        self.fill("password_confirm", "Calanques-de-Sormiou-7")
            .await;
        self.submit().await;
    }

    /// A Chromium session on `server`; screenshots named `{prefix}NN-name.png`.
    async fn start(driver: &Chromedriver, server: &Guichet, prefix: &str) -> Journey {
        Journey::start_at(driver, server.url(""), prefix).await
    }

    /// A Chromium session on the server at `base`.
    async fn start_at(driver: &Chromedriver, base: String, prefix: &str) -> Journey {
        let axe_path = repository().join("tests/browser/node_modules/axe-core/axe.min.js");
        let axe =
            std::fs::read_to_string(&axe_path).expect("axe-core, installed by scripts/test.sh");
        let screenshots = repository().join("target/e2e");
        std::fs::create_dir_all(&screenshots).unwrap();
        let chromium = which("chromium");
        let capabilities: serde_json::Map<String, Value> = serde_json::from_value(json!({
            "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--disable-background-networking", "--disable-component-update", "--disable-sync",
                         "--no-first-run", "--disable-quic", "--window-size=1280,1800", "--lang=fr-FR"],
                "prefs": { "intl.accept_languages": "fr-FR,fr" }
            }
        }))
        .unwrap();
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{}", driver.port))
            .await
            .expect("a Chromium session");
        Journey {
            client,
            base,
            step: 0,
            violations: Vec::new(),
            axe,
            screenshots,
            prefix: prefix.to_owned(),
        }
    }

    /// Uploads `file` as each of `pieces`, from the candidature's page.
    async fn upload_pieces(&self, file: &Path, pieces: &[&str]) {
        for piece in pieces {
            let input = self
                .client
                .find(Locator::Id(&format!("file-{piece}")))
                .await
                .unwrap();
            input.send_keys(file.to_str().unwrap()).await.unwrap();
            self.click_and_wait(&format!("form[action*='pieces/{piece}'] button"))
                .await;
        }
    }

    /// Ends the session; fails if axe-core found a serious or critical
    /// violation on a page checked.
    async fn finish(self) {
        self.client.close().await.unwrap();
        assert!(
            self.violations.is_empty(),
            "axe-core: {:#?}",
            self.violations
        );
    }

    async fn goto(&self, path: &str) {
        self.client
            .goto(&format!("{}{path}", self.base))
            .await
            .unwrap();
    }

    /// Waits until the page's live updates (if any) have arrived.
    async fn settle(&self) {
        self.wait_until(
            "live updates",
            "return (document.documentElement.dataset.updating || '0') === '0';",
        )
        .await;
    }

    async fn fill(&self, id: &str, value: &str) {
        self.settle().await;
        let field = self.client.find(Locator::Id(id)).await.unwrap();
        field.clear().await.unwrap();
        field.send_keys(value).await.unwrap();
    }

    /// Sets a date field (typing into one depends on the browser's locale).
    async fn date(&self, id: &str, value: &str) {
        self.client
            .execute(
                "document.getElementById(arguments[0]).value = arguments[1];",
                vec![json!(id), json!(value)],
            )
            .await
            .unwrap();
    }

    async fn select(&self, id: &str, value: &str) {
        self.click(&format!("#{id} option[value='{value}']")).await;
    }

    async fn click(&self, css: &str) {
        self.settle().await;
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
            .click()
            .await
            .unwrap();
    }

    async fn submit(&self) {
        self.click_and_wait("main form button[type=submit]").await;
    }

    /// Clicks something that loads a new page, and waits until it has.
    async fn click_and_wait(&self, css: &str) {
        let old_page = self.client.find(Locator::Css("html")).await.unwrap();
        self.click(css).await;
        self.wait_for_new_page(old_page).await;
    }

    /// Waits until a new page has replaced the one `old_page` is of.
    async fn wait_for_new_page(&self, old_page: fantoccini::elements::Element) {
        for _ in 0..200 {
            // The old page's element goes stale once the new page replaces it.
            if old_page.tag_name().await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.client
            .wait()
            .for_element(Locator::Css("footer"))
            .await
            .unwrap();
    }

    /// Clicks `css` twice at once, as a double-click does, and waits for
    /// the page that loads: whether each click's submission was stopped.
    async fn double_click_and_wait(&self, css: &str) -> Value {
        self.settle().await;
        let old_page = self.client.find(Locator::Css("html")).await.unwrap();
        // Heard last, after the page's own script: whether it stopped each one.
        let twice = "const stopped = []; \
            window.addEventListener('submit', e => stopped.push(e.defaultPrevented)); \
            const b = document.querySelector(arguments[0]); b.click(); b.click(); \
            return stopped;";
        let stopped = self.client.execute(twice, vec![json!(css)]).await.unwrap();
        self.wait_for_new_page(old_page).await;
        stopped
    }

    /// Waits until `script` (a function body) returns true.
    async fn wait_until(&self, what: &str, script: &str) {
        for _ in 0..300 {
            if self.client.execute(script, Vec::new()).await.unwrap() == json!(true) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("timed out waiting for {what}");
    }

    async fn text(&self) -> String {
        self.client
            .find(Locator::Css("main"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// Saves a screenshot and runs axe-core on the page; keeps serious and critical violations.
    async fn check(&mut self, name: &str) {
        self.step += 1;
        let png = self.client.screenshot().await.unwrap();
        std::fs::write(
            self.screenshots
                .join(format!("{}{:02}-{name}.png", self.prefix, self.step)),
            png,
        )
        .unwrap();
        self.client.execute(&self.axe, Vec::new()).await.unwrap();
        let results = self
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 axe.run(document, { resultTypes: ['violations'] }).then(r => done(r.violations.map(v => ({ id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target.join(' ')) }))));",
                Vec::new(),
            )
            .await
            .unwrap();
        for violation in results.as_array().cloned().unwrap_or_default() {
            let impact = violation["impact"].as_str().unwrap_or("");
            if impact == "serious" || impact == "critical" {
                self.violations.push(format!(
                    "{name}: {} ({impact}) at {}",
                    violation["id"], violation["nodes"]
                ));
            }
        }
    }
}

#[test]
fn the_manual_journey_in_a_real_browser() {
    let folder = tempfile::tempdir().unwrap();
    let (pdf, png) = real_files(folder.path());
    let smtp = SmtpServer::start(&folder.path().join("maildir"));
    let definition = osu_copy(&folder.path().join("definition"), open_campaign);
    let server = Guichet::launch_on(
        &definition,
        &folder.path().join("data"),
        Some(smtp.port),
        &[],
        Log::Discarded,
    );
    let driver = Chromedriver::start();
    in_browser(async {
        let mut j = Journey::start(&driver, &server, "").await;

        // I. The account.
        j.goto("/").await;
        j.check("accueil").await;
        j.sign_up(&smtp, true).await;
        assert!(j.text().await.contains("Zoé Lefèvre"));
        j.check("tableau-de-bord").await;

        // The six sections.
        j.goto("/dossier/etat_civil").await;
        j.click("#civilite-1").await;
        j.fill("nom_naissance", "Lefèvre").await;
        j.fill("prenoms", "Zoé Marie").await;
        j.date("date_naissance", "2003-05-14").await;
        j.fill("commune_naissance", "Marseille").await;
        j.select("pays_naissance", "FR").await;
        j.select("nationalite", "FR").await;
        j.fill("ine", "123456789AB").await;
        j.check("etat-civil").await;
        j.submit().await;

        j.goto("/dossier/coordonnees").await;
        // A long list gets a search box that narrows it.
        j.fill("pays-search", "fra").await;
        j.wait_until("the list to narrow", "return Array.from(document.querySelectorAll('#pays option')).filter(o => !o.hidden).length === 2;").await;
        j.fill("adresse", "12 rue Sainte").await;
        j.fill("code_postal", "13001").await;
        j.fill("commune", "Marseille").await;
        j.select("pays", "FR").await;
        j.fill("telephone", "06 12 34 56 78").await;
        j.fill("email", "zoe.lefevre@example.org").await;
        j.check("coordonnees").await;
        j.submit().await;

        // The year and the commune first: the lists of series and schools follow.
        // The form is live: the situation shows the year, which filters the
        // series; the commune filters the schools (the server test covers the
        // same without JavaScript).
        j.goto("/dossier/baccalaureat").await;
        j.click("#situation-1").await;
        j.wait_until(
            "the year to show",
            "return !document.getElementById('annee').closest('[data-field]').hidden;",
        )
        .await;
        j.fill("annee", "2021").await;
        j.select("commune", "13001").await;
        j.wait_until("the lists to follow", "return !!document.querySelector('#serie option[value=GEN]') && !document.querySelector('#serie option[value=S]') && !!document.querySelector('#etablissement option[value=aix-cezanne]');").await;
        j.select("serie", "GEN").await;
        j.select("etablissement", "aix-cezanne").await;
        j.check("baccalaureat").await;
        j.submit().await;

        j.goto("/dossier/cursus_interne").await;
        j.check("cursus-interne").await;
        for (year, level, title) in [
            ("2021", "l1", "L1, Sciences de la Terre"),
            ("2022", "l2", "L2, Sciences de la Terre"),
        ] {
            j.goto("/dossier/cursus_externe/nouveau").await;
            j.fill("annee", year).await;
            j.select("niveau", level).await;
            j.fill("etablissement", "Université de Toulon").await;
            j.select("pays", "FR").await;
            j.fill("intitule", title).await;
            j.click("#obtenu-1").await;
            j.submit().await;
        }
        assert!(j.text().await.contains("L2, Sciences de la Terre"));
        j.check("cursus-externe").await;
        j.goto("/dossier/stages/nouveau").await;
        j.date("debut", "2022-06-01").await;
        j.fill("employeur", "Institut méditerranéen d'océanologie")
            .await;
        j.fill("fonction", "Stagiaire").await;
        j.check("stage").await;
        j.submit().await;
        j.goto("/tableau-de-bord").await;
        let dashboard = j.text().await;
        assert_eq!(
            dashboard.matches("rubrique complète").count(),
            6,
            "{dashboard}"
        );
        j.goto("/tableau-de-bord/historique").await;
        let history = j.text().await;
        assert!(
            history.contains("Rubrique enregistrée : Coordonnées")
                && history.contains("Dossier créé"),
            "{history}"
        );
        j.check("historique").await;

        // II. The catalogue, and applying.
        j.goto("/formations").await;
        j.fill("q", "geologie").await;
        j.click_and_wait("form[role=search] button").await;
        j.check("catalogue").await;
        j.click_and_wait("ul.formations a").await;
        j.check("formation").await;
        j.click_and_wait("a.button").await;
        j.check("confirmation-candidature").await;
        j.submit().await;
        assert!(j.text().await.contains("En attente"));

        // III. Pieces: a real PDF, a real PNG, one declared not concerned.
        j.upload_pieces(&pdf, &OSU_PIECES[..4]).await;
        let input = j
            .client
            .find(Locator::Id("file-piece_identite"))
            .await
            .unwrap();
        input.send_keys(png.to_str().unwrap()).await.unwrap();
        j.click_and_wait("form[action*='pieces/piece_identite'] button")
            .await;
        j.click_and_wait("form[action*='non_francophone/declarer_non_concerne'] button")
            .await;
        let page = j.text().await;
        assert!(
            page.contains("Non concerné") && page.contains("Toutes les pièces sont déposées"),
            "{page}"
        );
        j.check("candidature").await;

        // IV. Transmission.
        j.click_and_wait("a.button[href*='transmettre']").await;
        j.check("confirmation-transmission").await;
        // A double-click sends the form once: the page says it was sent.
        let stopped = j
            .double_click_and_wait("main form button[type=submit]")
            .await;
        assert_eq!(stopped, json!([false, true]));
        let page = j.text().await;
        assert!(page.contains("Réceptionné"), "{page}");
        j.check("receptionne").await;

        // On a 320-px-wide phone: nothing wider than the screen.
        j.client.set_window_size(320, 900).await.unwrap();
        for (path, name) in [
            ("/tableau-de-bord", "telephone-tableau-de-bord"),
            ("/candidatures/c1", "telephone-candidature"),
            ("/dossier/baccalaureat", "telephone-baccalaureat"),
            (
                "/formations/m1-oceanographie/candidater",
                "telephone-confirmation",
            ),
        ] {
            j.goto(path).await;
            let width = j
                .client
                .execute("return document.documentElement.scrollWidth;", Vec::new())
                .await
                .unwrap();
            let viewport = j
                .client
                .execute("return document.documentElement.clientWidth;", Vec::new())
                .await
                .unwrap();
            assert!(
                width.as_i64() <= viewport.as_i64(),
                "{path}: {width} px wide in a {viewport} px window"
            );
            j.check(name).await;
        }
        // A candidature still to fill in, with its upload forms, on the phone.
        j.submit().await;
        let width = j.client.execute("return document.documentElement.scrollWidth <= document.documentElement.clientWidth;", Vec::new()).await.unwrap();
        assert_eq!(width, json!(true), "the upload forms fit a phone");
        assert!(j.text().await.contains("Formulaire complémentaire"));
        j.check("telephone-pieces").await;
        j.finish().await;
    });

    wait_for("the receipt", || {
        smtp.received().iter().any(|m| {
            m["subject"]
                .as_str()
                .unwrap()
                .starts_with("Dossier réceptionné")
        })
    });
    let receipt = smtp
        .received()
        .into_iter()
        .find(|m| {
            m["subject"]
                .as_str()
                .unwrap()
                .starts_with("Dossier réceptionné")
        })
        .unwrap();
    assert!(receipt["text"].as_str().unwrap().contains("Bonjour Zoé"));
    std::thread::sleep(Duration::from_millis(100));
    server.stop();
}

fn which(name: &str) -> String {
    let output = Command::new("which").arg(name).output().unwrap();
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

/// The newest mail to `to` whose subject starts with `subject`, waited for.
fn mail_to(smtp: &SmtpServer, to: &str, subject: &str) -> Value {
    wait_for(subject, || {
        smtp.received()
            .iter()
            .any(|m| m["to"] == to && m["subject"].as_str().unwrap().starts_with(subject))
    });
    smtp.received()
        .into_iter()
        .rev()
        .find(|m| m["to"] == to && m["subject"].as_str().unwrap().starts_with(subject))
        .unwrap()
}

impl Journey {
    /// Signs in as staff with the password link `guichet staff add` printed
    /// (the first time) or with the password chosen then.
    async fn staff_sign_in(&mut self, link: &str, first_time: bool) {
        if first_time {
            let path = &link[link.find("/staff/").unwrap()..];
            self.goto(path).await;
            self.check("mot-de-passe").await;
            self.fill("password", "Vieux-Port-Marseille-13").await;
            self.fill("password_confirm", "Vieux-Port-Marseille-13")
                .await;
        } else {
            let email = link.to_owned();
            self.goto("/staff/connexion").await;
            self.check("connexion").await;
            self.fill("email", &email).await;
            self.fill("password", "Vieux-Port-Marseille-13").await;
        }
        self.submit().await;
    }

    async fn staff_sign_out(&mut self) {
        self.click_and_wait(".staff-menu button").await;
    }

    /// Opens a candidate's page from the list, found by their name.
    async fn open_candidature(&mut self, name: &str) {
        self.goto("/staff").await;
        let css = format!("//a[contains(., '{name}')]");
        let link = self.client.find(Locator::XPath(&css)).await.unwrap();
        let href = link.attr("href").await.unwrap().unwrap();
        self.goto(&href).await;
    }
}

#[test]
fn the_staff_procedure_in_a_real_browser() {
    let folder = tempfile::tempdir().unwrap();
    let (pdf, _) = real_files(folder.path());
    let smtp = SmtpServer::start(&folder.path().join("maildir"));
    let definition = osu_copy(&folder.path().join("definition"), open_campaign);
    let data = folder.path().join("data");
    // Bruno sent his application before (under the same procedure).
    {
        let loaded = guichet_engine::Definition::load(&definition).unwrap();
        let store = guichet_engine::SledStore::open(data.join("store")).unwrap();
        let engine = guichet_engine::Engine::open(loaded, store).unwrap();
        let mut bruno = Seeded::new(
            &engine,
            ("bruno", "Bruno", Some("bruno.martin@example.org")),
            jiff::Timestamp::now(),
        );
        bruno.send("m1-set", &OSU_PIECES);
        // Its pieces name a file by a digest of zeros: put a real PDF there.
        let files = data.join("files/dossiers").join(&bruno.dossier);
        std::fs::create_dir_all(&files).unwrap();
        std::fs::copy(&pdf, files.join("0".repeat(64))).unwrap();
    }
    let office = add_staff(
        &data,
        "scolarite@osu.example",
        "gestionnaire",
        "m1-set",
        true,
    );
    let committee = add_staff(
        &data,
        "commission-set@osu.example",
        "commission",
        "m1-set",
        false,
    );
    let server = Guichet::launch_on(&definition, &data, Some(smtp.port), &[], Log::Discarded);
    let driver = Chromedriver::start();
    in_browser(async {
        let mut j = Journey::start(&driver, &server, "staff-").await;

        // Zoé signs up, applies, uploads her five pieces and sends.
        j.sign_up(&smtp, false).await;
        j.goto("/formations/m1-set/candidater").await;
        j.submit().await;
        j.upload_pieces(&pdf, &OSU_PIECES).await;
        j.click_and_wait("a.button[href*='transmettre']").await;
        j.submit().await;
        assert!(j.text().await.contains("Réceptionné"));

        // The officer refuses her CV with a reason and marks the dossier incomplete.
        j.staff_sign_in(&office, true).await;
        let list = j.text().await;
        assert!(
            list.contains("LEFÈVRE Zoé") && list.contains("LEFÈVRE Bruno"),
            "{list}"
        );
        j.check("liste").await;
        // The view's PDFs as one ZIP: the page follows its progress.
        j.click_and_wait("form[action*='staff/archive'] button")
            .await;
        j.wait_until(
            "the archive",
            "return !!document.querySelector('a.button[href*=fichier]') && document.getElementById('archive-progress').value === document.getElementById('archive-progress').max;",
        )
        .await;
        j.check("archive").await;
        j.open_candidature("Zoé").await;
        assert!(
            j.client.find(Locator::Css("iframe.viewer")).await.is_ok(),
            "the PDF shows in the page"
        );
        j.check("candidature-recue").await;
        j.fill("comment-cv-refuser_piece", "Le CV doit tenir sur une page.")
            .await;
        j.click_and_wait("form[action*='pieces/cv/refuser_piece'] button")
            .await;
        j.click_and_wait("form[action*='transitions/declarer_incomplet'] button")
            .await;
        assert!(j.text().await.contains("Incomplet"));
        j.check("candidature-incomplete").await;
        let mail = mail_to(&smtp, "zoe.lefevre@example.org", "Dossier incomplet");
        let text = mail["text"].as_str().unwrap();
        assert!(
            text.contains("Curriculum vitae : Le CV doit tenir sur une page."),
            "{text}"
        );

        // Zoé replaces the piece and sends again.
        j.goto("/candidatures/c1").await;
        let input = j.client.find(Locator::Id("file-cv")).await.unwrap();
        input.send_keys(pdf.to_str().unwrap()).await.unwrap();
        j.click_and_wait("form[action*='pieces/cv'] button").await;
        j.click_and_wait("a.button[href*='transmettre']").await;
        j.submit().await;
        assert!(j.text().await.contains("Réceptionné"));

        // The officer accepts the new CV in a second tab; the first tab's
        // page is then older than that, and its action is not taken but
        // says what changed, with the page as it is now, from which it is.
        j.open_candidature("Zoé").await;
        let first_tab = j.client.window().await.unwrap();
        let second_tab = j.client.new_window(true).await.unwrap().handle;
        j.client.switch_to_window(second_tab).await.unwrap();
        j.open_candidature("Zoé").await;
        j.click_and_wait("form[action*='pieces/cv/valider_piece'] button")
            .await;
        j.client.close_window().await.unwrap();
        j.client.switch_to_window(first_tab).await.unwrap();
        j.click_and_wait("form[action*='transitions/declarer_complet'] button")
            .await;
        let refused = j.text().await;
        assert!(
            refused.contains("Rien n'a été fait") && !refused.contains("Complet"),
            "{refused}"
        );
        j.check("candidature-changee-entre-temps").await;
        j.click_and_wait("form[action*='transitions/declarer_complet'] button")
            .await;
        assert!(j.text().await.contains("Complet"));
        j.open_candidature("Bruno").await;
        j.click_and_wait("form[action*='transitions/declarer_complet'] button")
            .await;
        j.goto("/staff/formations").await;
        j.check("tableau-formations").await;
        j.goto("/staff/equipe").await;
        j.check("equipe").await;
        j.staff_sign_out().await;

        // The committee decides: Zoé favourable, Bruno first on the waiting list.
        j.staff_sign_in(&committee, true).await;
        j.open_candidature("Zoé").await;
        j.click_and_wait("a.button[href*='transitions/saisir_avis']")
            .await;
        j.check("saisir-avis").await;
        j.select("avis", "favorable").await;
        j.submit().await;
        j.open_candidature("Bruno").await;
        j.click_and_wait("a.button[href*='transitions/saisir_avis']")
            .await;
        j.select("avis", "liste_complementaire").await;
        j.submit().await;
        let refused = j.text().await;
        assert!(
            refused.contains("une liste complémentaire un rang"),
            "the guard asks for the rank: {refused}"
        );
        j.check("saisir-avis-refuse").await;
        j.fill("rang", "1").await;
        j.submit().await;
        assert!(j.text().await.contains("Liste complémentaire"));
        j.staff_sign_out().await;

        // The officer publishes both decisions at once.
        j.staff_sign_in("scolarite@osu.example", false).await;
        j.goto("/staff?state=avis_saisi").await;
        for checkbox in j
            .client
            .find_all(Locator::Css("input[name=c]"))
            .await
            .unwrap()
        {
            checkbox.click().await.unwrap();
        }
        j.select("bulk-transition", "publier_avis").await;
        j.click_and_wait("form[action*='/staff/lot'] .bulk button")
            .await;
        assert!(j.text().await.contains("2 candidature(s) changeront"));
        j.check("lot-confirmation").await;
        j.submit().await;
        assert!(j.text().await.contains("2 candidature(s) changée(s)"));
        j.check("lot-resultat").await;
        mail_to(&smtp, "zoe.lefevre@example.org", "Avis favorable");

        // Zoé withdraws; Bruno is offered her place.
        j.goto("/candidatures/c1").await;
        j.click_and_wait("a.button[href*='se_desister']").await;
        j.submit().await;
        let promotion = mail_to(&smtp, "bruno.martin@example.org", "Avis favorable");
        assert!(promotion["text"].as_str().unwrap().contains("Bruno"));
        j.open_candidature("Bruno").await;
        assert!(j
            .text()
            .await
            .contains("Admission depuis la liste complémentaire"));
        j.check("promotion").await;
        j.finish().await;
    });
    server.stop();
}

#[test]
fn a_referee_sends_a_letter_through_the_mailed_link_in_a_real_browser() {
    let folder = tempfile::tempdir().unwrap();
    let (pdf, _) = real_files(folder.path());
    let smtp = SmtpServer::start(&folder.path().join("maildir"));
    let definition = doctoral_school_open(&folder.path().join("definition"));
    let server = Guichet::launch_on(
        &definition,
        &folder.path().join("data"),
        Some(smtp.port),
        &[],
        Log::Discarded,
    );
    let driver = Chromedriver::start();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let referees = [
        ("Charles Babbage", "babbage@example.org"),
        ("Mary Somerville", "somerville@example.org"),
    ];
    let links = runtime.block_on(async {
        let mut j = Journey::start(&driver, &server, "referee-").await;
        j.sign_up(&smtp, false).await;
        j.goto("/dossier/identity").await;
        j.fill("full_name", "Zoé Lefèvre").await;
        j.fill("orcid", "0000-0002-1825-0097").await;
        j.submit().await;
        for (name, email) in referees {
            j.goto("/dossier/referees/nouveau").await;
            j.fill("name", name).await;
            j.fill("email", email).await;
            j.submit().await;
        }
        j.goto("/formations/contrat-2027/candidater").await;
        j.submit().await;
        j.upload_pieces(&pdf, &["research_project", "supervisor_letter"])
            .await;
        // No upload form for the letters: the referees send them.
        assert!(j
            .client
            .find(Locator::Id("file-reference_letter"))
            .await
            .is_err());
        let page = j.text().await;
        assert_eq!(page.matches("Pas encore demandée").count(), 2, "{page}");
        j.click_and_wait("form[action*='/tiers/referee'] button")
            .await;
        let page = j.text().await;
        assert_eq!(page.matches("Demandée le").count(), 2, "{page}");
        j.check("lettres-demandees").await;
        let candidature = j.client.current_url().await.unwrap().to_string();

        // Each referee got their own link, by mail.
        let mut links = Vec::new();
        for (name, email) in referees {
            let (mail, link) = link_in_mail(
                &smtp,
                email,
                "Une lettre de recommandation pour Zoé Lefèvre",
                1,
            );
            assert!(
                mail["text"]
                    .as_str()
                    .unwrap()
                    .contains(&format!("Bonjour {name}")),
                "{mail}"
            );
            assert!(link.starts_with(&server.url("/tiers/")), "{link}");
            links.push(link);
        }
        assert_ne!(links[0], links[1]);

        // Charles Babbage, in a browser with no account and no session.
        j.client.delete_all_cookies().await.unwrap();
        j.client.goto(&links[0]).await.unwrap();
        let page = j.text().await;
        assert!(
            page.contains("Bonjour Charles Babbage")
                && page.contains("Zoé Lefèvre")
                && page.contains("Contrat doctoral 2027")
                && page.contains("Lettres de recommandation"),
            "{page}"
        );
        // Nothing else of the dossier: not the other referee, not the ORCID, not the pieces.
        assert!(
            !page.contains("Mary Somerville")
                && !page.contains("0000-0002-1825-0097")
                && !page.contains("cv.pdf"),
            "{page}"
        );
        j.check("referent").await;
        let input = j.client.find(Locator::Id("fichier")).await.unwrap();
        input.send_keys(pdf.to_str().unwrap()).await.unwrap();
        j.click_and_wait("main form button").await;
        let page = j.text().await;
        assert!(page.contains("votre document a été reçu"), "{page}");
        assert!(
            j.client.find(Locator::Id("fichier")).await.is_err(),
            "the link is used: no form"
        );
        j.check("referent-merci").await;
        // The link opens nothing else: not the candidature, not a neighbour's link.
        j.client.goto(&candidature).await.unwrap();
        assert!(!j.text().await.contains("Charles Babbage"));
        let forged = format!("{}{}", &links[0][..links[0].len() - 4], "0000");
        j.client.goto(&forged).await.unwrap();
        assert!(j.text().await.contains("Page introuvable"));
        j.finish().await;
        (candidature, links)
    });
    let (candidature, links) = links;

    // Mary Somerville sends hers without a browser session either.
    let mut mary = Browser::new();
    let page = mary.get(&links[1]);
    assert_eq!(page.status, 200);
    let sent = upload(
        &mut mary,
        &links[1],
        &csrf_of(&page.body),
        "lettre.pdf",
        &serving::pdf(),
    );
    assert_eq!(sent.status, 303, "{}", sent.body);

    // The candidate sees both letters received, and sends the application.
    in_browser(async {
        let mut j = Journey::start(&driver, &server, "referee-candidate-").await;
        j.goto("/connexion").await;
        j.fill("email", "zoe.lefevre@example.org").await;
        j.fill("password", "Calanques-de-Sormiou-7").await;
        j.submit().await;
        j.client.goto(&candidature).await.unwrap();
        let page = j.text().await;
        assert_eq!(page.matches("Reçue le").count(), 2, "{page}");
        assert!(
            !page.contains("lettre.pdf"),
            "the candidate never sees the letters: {page}"
        );
        j.check("lettres-recues").await;
        j.click_and_wait("a.button[href*='submit']").await;
        j.submit().await;
        assert!(j.text().await.contains("Déposé"));
        j.finish().await;
    });

    // Once the application is sent, the links take nothing more.
    let mut replay = Browser::new();
    let form = replay.get(&server.url("/connexion"));
    let again = upload(
        &mut replay,
        &links[1],
        &csrf_of(&form.body),
        "autre.pdf",
        &serving::pdf(),
    );
    assert_eq!(again.status, 422, "{}", again.body);
    assert!(
        again.body.contains("This link was already used"),
        "{}",
        again.body
    );
    server.stop();
}

#[test]
fn a_complementary_form_answered_online_reaches_the_commission_and_the_pdf() {
    let folder = tempfile::tempdir().unwrap();
    let (pdf, _) = real_files(folder.path());
    let smtp = SmtpServer::start(&folder.path().join("maildir"));
    let definition = osu_copy(&folder.path().join("definition"), open_campaign);
    let data = folder.path().join("data");
    let committee = add_staff(
        &data,
        "commission-oceano@osu.example",
        "commission",
        "m1-oceanographie",
        false,
    );
    let server = Guichet::launch_on(&definition, &data, Some(smtp.port), &[], Log::Discarded);
    let driver = Chromedriver::start();
    in_browser(async {
        let mut j = Journey::start(&driver, &server, "formulaire-").await;
        j.sign_up(&smtp, false).await;
        j.goto("/formations/m1-oceanographie/candidater").await;
        j.submit().await;
        // The form's piece is answered, not uploaded.
        assert!(j
            .client
            .find(Locator::Id("file-formulaire_complementaire"))
            .await
            .is_err());
        assert!(j.text().await.contains("Formulaire à compléter"));
        j.click_and_wait("a.button[href*='formulaire']").await;
        j.check("formulaire").await;
        // A required answer left empty is said, at the field.
        j.submit().await;
        assert!(j.text().await.contains("Votre projet professionnel"));
        j.check("formulaire-erreur").await;
        j.fill(
            "projet",
            "Étudier la dynamique des upwellings côtiers du golfe du Lion.",
        )
        .await;
        j.click("#embarquement-1").await;
        j.select("programmation", "python").await;
        j.submit().await;
        assert!(
            j.text().await.contains("Formulaire complet"),
            "{}",
            j.text().await
        );
        j.upload_pieces(&pdf, &OSU_PIECES).await;
        j.click_and_wait("form[action*='non_francophone/declarer_non_concerne'] button")
            .await;
        j.click_and_wait("a.button[href*='transmettre']").await;
        j.submit().await;
        assert!(j.text().await.contains("Réceptionné"));

        // Her dossier as one PDF, fetched as the browser would download it.
        let fetched = j
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 const link = Array.from(document.querySelectorAll('a')).find(a => a.href.includes('dossier.pdf'));
                 fetch(link.href).then(r => r.arrayBuffer().then(b => done([r.headers.get('content-type'), Array.from(new Uint8Array(b))])));",
                Vec::new(),
            )
            .await
            .unwrap();
        assert_eq!(fetched[0], "application/pdf");
        let bytes: Vec<u8> = fetched[1]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b.as_u64().unwrap() as u8)
            .collect();
        let read = read_pdf(&bytes);
        assert!(
            read.text.contains("upwellings côtiers du golfe du Lion"),
            "{}",
            read.text
        );
        assert!(
            read.outline
                .iter()
                .any(|(_, t)| t == "Formulaire complémentaire — Océanographie"),
            "{:?}",
            read.outline
        );

        // The commission reads her answers on her candidature's page.
        j.staff_sign_in(&committee, true).await;
        j.open_candidature("Zoé").await;
        let page = j.text().await;
        assert!(
            page.contains("Formulaire complémentaire — Océanographie")
                && page.contains("upwellings côtiers du golfe du Lion")
                && page.contains("Python"),
            "{page}"
        );
        j.check("commission-formulaire").await;
        j.finish().await;
    });
    server.stop();
}

#[test]
fn fifty_dossiers_as_one_zip_with_the_progress_seen_advancing_in_a_real_browser() {
    let folder = tempfile::tempdir().unwrap();
    let definition = osu_copy(&folder.path().join("definition"), open_campaign);
    let data = folder.path().join("data");
    // Fifty candidatures sent to M1 SET, each with a scanned CV (a PNG of
    // 1.9 MB, which the PDF re-encodes) and four PDFs of twenty pages.
    let scan = noisy_png(folder.path(), 800, 800);
    let piece = pdf_of_pages(20);
    let (scan_digest, pdf_digest) = ("1".repeat(64), "2".repeat(64));
    let mut names = Vec::new();
    {
        let loaded = guichet_engine::Definition::load(&definition).unwrap();
        let store = guichet_engine::SledStore::open(data.join("store")).unwrap();
        let engine = guichet_engine::Engine::open(loaded, store).unwrap();
        for number in 1..=50 {
            let owner = format!("candidat{number:02}");
            let first_name = format!("Prénom{number:02}");
            let mut seeded =
                Seeded::new(&engine, (&owner, &first_name, None), jiff::Timestamp::now());
            seeded.act(
                "candidat",
                guichet_engine::Command::Apply {
                    formation: "m1-set".into(),
                },
            );
            for piece in OSU_PIECES {
                let (sha256, format) = if piece == "cv" {
                    (&scan_digest, "png")
                } else {
                    (&pdf_digest, "pdf")
                };
                let file = guichet_engine::FileRef {
                    name: format!("{piece}.{format}"),
                    sha256: sha256.clone(),
                    size: 1000,
                    format: format.into(),
                };
                let upload = guichet_engine::Command::Piece {
                    candidature: "c1".into(),
                    piece: piece.into(),
                    transition: "deposer".into(),
                    file: Some(file),
                    comment: None,
                };
                seeded.act("candidat", upload);
            }
            seeded.transition("candidat", "transmettre", Value::Null);
            let files = data.join("files/dossiers").join(&seeded.dossier);
            std::fs::create_dir_all(&files).unwrap();
            std::fs::write(files.join(&scan_digest), &scan).unwrap();
            std::fs::write(files.join(&pdf_digest), &piece).unwrap();
            names.push(first_name);
        }
    }
    let office = add_staff(&data, "scolarite@osu.example", "gestionnaire", "*", false);
    let server = Guichet::launch_on(&definition, &data, None, &[], Log::Discarded);
    let driver = Chromedriver::start();
    in_browser(async {
        let mut j = Journey::start(&driver, &server, "archive-").await;
        j.staff_sign_in(&office, true).await;
        let list = j.text().await;
        assert!(list.contains("50 candidature(s)"), "{list}");
        j.click_and_wait("form[action*='staff/archive'] button")
            .await;
        let building = j.client.current_url().await.unwrap();
        // Asked again while it is built (back to the list, the button
        // clicked again): the one in progress is shown, none started.
        let old_page = j.client.find(Locator::Css("html")).await.unwrap();
        j.client.back().await.unwrap();
        j.wait_for_new_page(old_page).await;
        j.click_and_wait("form[action*='staff/archive'] button")
            .await;
        let again = j.client.current_url().await.unwrap();
        assert_eq!(again.path(), building.path(), "the same archive");
        assert!(again.query().unwrap_or_default().contains("deja=1"));
        let notice = j.text().await;
        assert!(notice.contains("encore en préparation"), "{notice}");
        // The page refreshes itself: its bar is read as it goes, until the
        // download link shows.
        let mut seen: Vec<u64> = Vec::new();
        for _ in 0..1200 {
            let read = j
                .client
                .execute(
                    "const bar = document.getElementById('archive-progress');
                     return bar ? [bar.value, !!document.querySelector('a.button[href*=fichier]')] : null;",
                    Vec::new(),
                )
                .await;
            // Between two refreshes there is no page to read.
            if let Ok(Value::Array(state)) = read {
                let value = state[0].as_f64().unwrap() as u64;
                if seen.last() != Some(&value) {
                    seen.push(value);
                }
                if state[1] == json!(true) {
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        eprintln!("progress seen: {seen:?}");
        assert_eq!(seen.last(), Some(&50), "{seen:?}");
        assert!(
            seen.windows(2).all(|w| w[0] < w[1]),
            "the bar only goes forward: {seen:?}"
        );
        assert!(
            seen.iter().any(|v| (1..50).contains(v)),
            "the bar was seen between the start and the end: {seen:?}"
        );
        assert!(j.text().await.contains("50 dossiers sur 50 (100 %)"));
        j.check("archive-terminee").await;

        // The archive, downloaded with the member's session.
        let mut browser = Browser::new();
        for cookie in j.client.get_all_cookies().await.unwrap() {
            browser
                .cookies
                .insert(cookie.name().to_owned(), cookie.value().to_owned());
        }
        let link = j
            .client
            .find(Locator::Css("a.button[href*=fichier]"))
            .await
            .unwrap()
            .attr("href")
            .await
            .unwrap()
            .unwrap();
        let (status, kind, bytes) = browser.get_bytes(&server.url(&link));
        assert_eq!((status, kind.as_str()), (200, "application/zip"));
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
        assert_eq!(archive.len(), 50);
        let mut found = Vec::new();
        for index in 0..archive.len() {
            let mut entry = archive.by_index(index).unwrap();
            let mut pdf = Vec::new();
            std::io::Read::read_to_end(&mut entry, &mut pdf).unwrap();
            let read = read_pdf(&pdf);
            // The summary, the scan's page, then four pieces of twenty pages.
            assert!(read.pages > 81, "{} pages", read.pages);
            let name = names
                .iter()
                .find(|n| read.text.contains(n.as_str()))
                .unwrap_or_else(|| panic!("{}", read.text));
            found.push(name.clone());
        }
        found.sort();
        found.dedup();
        assert_eq!(found.len(), 50, "each candidate's PDF once");
        j.finish().await;
    });
    server.stop();
}

#[test]
fn an_administrator_edits_checks_reviews_publishes_and_restores_the_procedure_in_a_real_browser() {
    let folder = tempfile::tempdir().unwrap();
    let smtp = SmtpServer::start(&folder.path().join("maildir"));
    // The OSU file as it is (its scenarios pass), served inside its campaign.
    let definition = osu_copy(&folder.path().join("definition"), |text| text);
    let original = std::fs::read_to_string(&definition).unwrap();
    let data = folder.path().join("data");
    let now = ["--now", "2027-04-02T10:00:00+02:00"];
    // Bruno sent his application to the M2 in ecology under this version.
    let bruno_dossier = {
        let loaded = guichet_engine::Definition::load(&definition).unwrap();
        let store = guichet_engine::SledStore::open(data.join("store")).unwrap();
        let engine = guichet_engine::Engine::open(loaded, store).unwrap();
        let mut bruno = Seeded::new(
            &engine,
            ("bruno", "Bruno", Some("bruno.martin@example.org")),
            "2027-04-01T10:00:00Z".parse().unwrap(),
        );
        let answers = json!({"parcours_souhaites": "Écologie des zones humides"});
        bruno.send_with_form("m2-set-ecologie", &OSU_PIECES, Some(answers));
        bruno.dossier.clone()
    };
    let admin = add_staff_on(
        &definition,
        &data,
        "admin@osu.example",
        "gestionnaire",
        "*",
        true,
    );
    let server = Guichet::launch_on(&definition, &data, Some(smtp.port), &now, Log::Discarded);
    let health = |server: &Guichet| -> String {
        let (_, _, body) = server.get("/health", &[]);
        serde_json::from_str::<Value>(&body).unwrap()["definition"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let first = health(&server);
    let line_of = |needle: &str| {
        original[..original.find(needle).unwrap()]
            .matches('\n')
            .count()
            + 1
    };
    let driver = Chromedriver::start();
    in_browser(async {
        let mut j = Journey::start(&driver, &server, "editeur-").await;
        j.staff_sign_in(&admin, true).await;
        j.goto("/staff/editeur").await;
        j.wait_until(
            "the editor",
            "return !!document.querySelector('#definition-editor .cm-content') && document.getElementById('editor-status').textContent !== '';",
        )
        .await;
        assert!(
            j.text().await.contains("Aucun problème."),
            "{}",
            j.text().await
        );
        j.check("editeur").await;

        // Completion from the schema: a key of `campaign:`, half typed.
        j.client
            .execute(
                "const view = window.guichetEditor; const text = view.state.doc.toString();
                 const line = '  closes: 2027-06-15';
                 const at = text.indexOf(line) + line.length;
                 view.dispatch({ changes: { from: at, insert: '\\n  ' }, selection: { anchor: at + 3 } });
                 view.focus();",
                Vec::new(),
            )
            .await
            .unwrap();
        j.client
            .active_element()
            .await
            .unwrap()
            .send_keys("max")
            .await
            .unwrap();
        j.wait_until(
            "the completion",
            "const list = document.querySelector('.cm-tooltip-autocomplete');
             return !!list && list.textContent.includes('max_candidatures');",
        )
        .await;
        // Back to the text in service.
        j.goto("/staff/editeur").await;
        j.wait_until(
            "the editor again",
            "return !!document.querySelector('#definition-editor .cm-content') && document.getElementById('editor-status').textContent === 'Aucun problème.';",
        )
        .await;

        // A mistake: shown where it is, as the administrator types.
        let replace = |from: &str, to: &str| {
            format!(
                "const view = window.guichetEditor; const text = view.state.doc.toString();
                 const at = text.indexOf({from:?});
                 if (at < 0) return false;
                 view.dispatch({{ changes: {{ from: at, to: at + {len}, insert: {to:?} }} }});
                 return true;",
                len = from.chars().map(char::len_utf16).sum::<usize>(),
            )
        };
        let done = j
            .client
            .execute(
                &replace("max_candidatures: 20", "max_candidatures: beaucoup"),
                Vec::new(),
            )
            .await
            .unwrap();
        assert_eq!(done, json!(true));
        j.wait_until(
            "the diagnostic",
            "return document.querySelectorAll('#editor-diagnostics li').length > 0;",
        )
        .await;
        let marked = j
            .client
            .execute(
                "const item = document.querySelector('#editor-diagnostics li');
                 const gutter = document.querySelectorAll('.cm-lint-marker-error').length;
                 return [Number(item.dataset.line), item.textContent, gutter];",
                Vec::new(),
            )
            .await
            .unwrap();
        assert_eq!(
            marked[0],
            json!(line_of("max_candidatures: 20")),
            "{marked}"
        );
        assert!(
            marked[1]
                .as_str()
                .unwrap()
                .contains("`campaign.max_candidatures` must be a whole number"),
            "{marked}"
        );
        assert!(
            marked[2].as_u64().unwrap() >= 1,
            "a mark in the gutter: {marked}"
        );
        j.check("editeur-erreur").await;
        // Fixed: the marks go.
        j.client
            .execute(
                &replace("max_candidatures: beaucoup", "max_candidatures: 20"),
                Vec::new(),
            )
            .await
            .unwrap();
        j.wait_until(
            "no diagnostic",
            "return document.querySelectorAll('#editor-diagnostics li').length === 0 && document.getElementById('editor-status').textContent === 'Aucun problème.';",
        )
        .await;

        // A new piece, asked by the M2 in ecology.
        let added = j
            .client
            .execute(
                "const view = window.guichetEditor; const text = view.state.doc.toString();
                 const pieces = text.indexOf('pieces:\\n') + 'pieces:\\n'.length;
                 const piece = '  - { id: attestation_stage, label: { fr: \"Attestation de stage\", en: \"Internship certificate\" }, accept: [pdf], max_size: 2MB }\\n';
                 view.dispatch({ changes: { from: pieces, insert: piece } });
                 const after = view.state.doc.toString();
                 const formation = after.indexOf('id: m2-set-ecologie');
                 const list = after.indexOf('formulaire_complementaire]', formation) + 'formulaire_complementaire'.length;
                 view.dispatch({ changes: { from: list, insert: ', attestation_stage' } });
                 return true;",
                Vec::new(),
            )
            .await
            .unwrap();
        assert_eq!(added, json!(true));
        j.wait_until(
            "the new text checked",
            "return document.getElementById('editor-status').textContent === 'Aucun problème.' && document.querySelectorAll('#editor-diagnostics li').length === 0;",
        )
        .await;
        // Its scenarios, played on demand.
        j.click("#editor-scenarios").await;
        j.wait_until(
            "the scenarios",
            "return document.querySelectorAll('#editor-scenario-results li').length > 10
                 || document.getElementById('editor-scenario-results').textContent === 'Les scénarios n\\'ont pas pu être joués.';",
        )
        .await;
        let played = j
            .client
            .execute(
                "return document.getElementById('editor-scenario-results').textContent;",
                Vec::new(),
            )
            .await
            .unwrap();
        assert!(!played.as_str().unwrap().contains("pas pu"), "{played}");
        let failed = j
            .client
            .execute(
                "return document.querySelectorAll('#editor-scenario-results li.failed').length;",
                Vec::new(),
            )
            .await
            .unwrap();
        assert_eq!(failed, json!(0));

        // What it changes, and does to Bruno's candidature already sent.
        j.submit().await;
        let review = j.text().await;
        for expected in [
            "+ piece `attestation_stage`",
            "~ formation `m2-set-ecologie`: pieces (+attestation_stage)",
            "! piece `attestation_stage` is newly required by formation `m2-set-ecologie`, of candidatures already sent (1)",
            "1 dossier(s) ont commencé sous la version en service",
            // What candidates to the M2 will upload, the new piece among them.
            "Attestation de stage (PDF, 2 Mo)",
            // Every mail, as the scenarios render it, with the letters.
            "avis_favorable — Avis favorable : Master",
            "Lettre jointe : Admission en Master",
        ] {
            assert!(review.contains(expected), "no `{expected}` in {review}");
        }
        j.check("editeur-avant-publication").await;
        // The candidature page a candidate to the M2 would see, in a new tab.
        j.select("preview-page", "candidature:m2-set-ecologie")
            .await;
        let review_window = j.client.window().await.unwrap();
        j.click("form[action*='apercu/page'] button").await;
        j.wait_until("the page's tab", "return true;").await;
        let mut tab = None;
        for _ in 0..100 {
            let windows = j.client.windows().await.unwrap();
            tab = windows.into_iter().find(|w| *w != review_window);
            if tab.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        j.client
            .switch_to_window(tab.expect("a new tab"))
            .await
            .unwrap();
        j.client
            .wait()
            .for_element(Locator::Css("footer"))
            .await
            .unwrap();
        let page = j.text().await;
        assert!(
            page.contains("Master SET — M2 parcours Écologie et biodiversité")
                && page.contains("Attestation de stage"),
            "{page}"
        );
        j.check("editeur-page-candidature").await;
        j.client.close_window().await.unwrap();
        j.client.switch_to_window(review_window).await.unwrap();
        // Meanwhile, the file is changed on the server and reloaded: the
        // review no longer says what publishing would change. Shown again
        // against the version now in service, then published from there.
        std::fs::write(&definition, format!("{original}# changed on the server\n")).unwrap();
        let reload = Command::new(env!("CARGO_BIN_EXE_guichet"))
            .args(["reload", "--data"])
            .arg(&data)
            .output()
            .unwrap();
        assert!(reload.status.success(), "{reload:?}");
        wait_for("the file reloaded", || health(&server) != first);
        j.click_and_wait("form[action*='editeur/publier'] button")
            .await;
        let again = j.text().await;
        assert!(
            again.contains("Rien n'a été publié") && again.contains("+ piece `attestation_stage`"),
            "{again}"
        );
        j.check("editeur-relecture-depassee").await;
        j.click_and_wait("form[action*='editeur/publier'] button")
            .await;
        assert!(
            j.text().await.contains("admin@osu.example"),
            "{}",
            j.text().await
        );
        j.check("versions").await;
        j.finish().await;
    });
    let second = health(&server);
    assert_ne!(second, first);
    // The file itself holds the published version.
    let written = std::fs::read_to_string(&definition).unwrap();
    assert!(written.contains("attestation_stage"));

    // A new candidature asks for the new piece; Bruno's keeps its version.
    let mut candidate = Browser::new();
    let applied = {
        let sign_up = candidate.submit(
            &server.url("/inscription"),
            &[
                ("last_name", "Durand"),
                ("first_name", "Camille"),
                ("email", "camille@example.org"),
            ],
        );
        assert!(sign_up.status < 400, "{}", sign_up.body);
        let (_, link) = link_in_mail(&smtp, "camille@example.org", "Activation", 1);
        let path = &link[link.find("/activation/").unwrap()..];
        let done = candidate.submit(
            &server.url(path),
            &[
                ("last_name", "Durand"),
                ("first_name", "Camille"),
                ("password", "Calanques-de-Sormiou-7"),
                ("password_confirm", "Calanques-de-Sormiou-7"),
            ],
        );
        assert_eq!(done.status, 303, "{}", done.body);
        candidate.submit(&server.url("/formations/m2-set-ecologie/candidater"), &[])
    };
    assert_eq!(applied.status, 303, "{}", applied.body);
    let page = candidate.get(&server.url("/candidatures/c1"));
    assert!(page.body.contains("Attestation de stage"), "{}", page.body);
    let mut office = Browser::new();
    office.submit(
        &server.url("/staff/connexion"),
        &[
            ("email", "admin@osu.example"),
            ("password", "Vieux-Port-Marseille-13"),
        ],
    );
    let bruno = office.get(&server.url(&format!("/staff/candidatures/{bruno_dossier}/c1")));
    assert_eq!(bruno.status, 200, "{}", bruno.body);
    assert!(
        !bruno.body.contains("Attestation de stage"),
        "{}",
        bruno.body
    );

    // The administrator restores the previous version.
    let versions = office.get(&server.url("/staff/versions"));
    let csrf = csrf_of(&versions.body);
    let restored = office.post(
        &server.url(&format!("/staff/versions/{first}")),
        &[("csrf", &csrf)],
    );
    assert_eq!(restored.status, 303, "{}", restored.body);
    assert_eq!(health(&server), first);
    server.stop();
}

#[test]
fn the_preview_of_a_file_and_its_candidate_pages_pass_axe_core() {
    let mut preview = Command::new(env!("CARGO_BIN_EXE_guichet"))
        .current_dir(repository())
        .args([
            "preview",
            "definitions/osu-pytheas.yaml",
            "--addr",
            "127.0.0.1:0",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let port = announced_port(&mut preview, Log::Discarded, "preview on http://127.0.0.1:");
    let base = format!("http://127.0.0.1:{port}");
    let driver = Chromedriver::start();
    in_browser(async {
        let mut journey = Journey::start_at(&driver, base, "preview-").await;
        journey.goto("/").await;
        let text = journey.text().await;
        assert!(text.contains("un parcours complet"), "{text}");
        journey.check("apercu").await;
        for (page, shows) in [
            ("candidature:m1-set", "Curriculum vitae"),
            ("dashboard", "Camille"),
            ("entry:cursus_externe", "Cursus externe"),
        ] {
            journey.goto(&format!("/apercu/{page}")).await;
            let text = journey.text().await;
            assert!(
                text.contains("Aperçu :") && text.contains(shows),
                "{page}: {text}"
            );
            journey.check(&page.replace(':', "-")).await;
        }
        journey.finish().await;
    });
    terminate(&mut preview);
}
