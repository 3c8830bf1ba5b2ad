//! The dossier PDF read back with poppler-utils (`pdfinfo`, `pdftotext`,
//! `pdftohtml` for the outline), installed by `scripts/test.sh`: its pages
//! are the summary's plus every piece's, its text holds every answer with
//! its accents, its outline names every section and piece, and a piece that
//! cannot be included is a page saying so.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use guichet_pdf::{render, Attachment, Body, Format, PieceLine, Printed, Reasons, Section};

fn fixture(name: &str) -> Arc<Vec<u8>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/pieces")
        .join(name);
    Arc::new(std::fs::read(path).unwrap())
}

/// Runs a poppler tool on `pdf` written in `folder`.
fn poppler(tool: &str, args: &[&str], pdf: &Path) -> String {
    let mut command = Command::new(tool);
    command.args(args).arg(pdf);
    if tool == "pdftotext" {
        command.arg("-");
    }
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("{tool} (poppler-utils, installed by scripts/test.sh): {e}"));
    assert!(
        output.status.success(),
        "{tool}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

fn written(folder: &Path, bytes: &[u8]) -> PathBuf {
    let path = folder.join("dossier.pdf");
    std::fs::write(&path, bytes).unwrap();
    path
}

fn dossier() -> Printed {
    let motivation =
        "Passionnée par l'océanographie côtière depuis mon stage à l'Institut méditerranéen, \
        je souhaite approfondir l'étude des échanges entre la lagune de Berre et le golfe de Fos. "
            .repeat(40);
    Printed {
        title: "Zoé Lefèvre — Master Océanographie".into(),
        subtitle: "Institut Pythéas — candidatures".into(),
        cover: vec![
            ("Candidat".into(), "Zoé Lefèvre".into()),
            ("Formation".into(), "Master Océanographie — M1".into()),
            ("Dossier".into(), "d-2027-0042".into()),
        ],
        sections: vec![
            Section {
                title: "État civil".into(),
                body: Body::Fields(vec![
                    ("Nom de naissance".into(), "Lefèvre".into()),
                    ("Commune de naissance".into(), "Aix-en-Provence".into()),
                    ("Lettre de motivation".into(), motivation),
                ]),
            },
            Section {
                title: "Cursus externe".into(),
                body: Body::Table {
                    columns: vec!["Année".into(), "Établissement".into(), "Intitulé".into()],
                    rows: vec![
                        vec![
                            "2021".into(),
                            "Université de Toulon".into(),
                            "L1, Sciences de la Terre".into(),
                        ],
                        vec![
                            "2022".into(),
                            "Université de Toulon".into(),
                            "L2, Géosciences".into(),
                        ],
                    ],
                },
            },
        ],
        pieces_heading: "Pièces".into(),
        pieces: vec![
            PieceLine {
                label: "Lettre de recommandation".into(),
                status: "Déposée".into(),
                comment: None,
            },
            PieceLine {
                label: "Photo d'identité".into(),
                status: "Refusée".into(),
                comment: Some("floue, à refaire".into()),
            },
        ],
        attachments: vec![
            Attachment {
                label: "Lettre de recommandation".into(),
                content: Ok((Format::Pdf, fixture("two-pages.pdf"))),
            },
            Attachment {
                label: "Photo d'identité".into(),
                content: Ok((Format::Png, fixture("scan.png"))),
            },
            Attachment {
                label: "Relevé chiffré".into(),
                content: Ok((Format::Pdf, fixture("encrypted.pdf"))),
            },
            Attachment {
                label: "Diplôme abîmé".into(),
                content: Ok((Format::Pdf, fixture("damaged.pdf"))),
            },
            Attachment {
                label: "Pièce perdue".into(),
                content: Err("the file is missing".into()),
            },
        ],
        not_included: "La pièce « {piece} » n'a pas pu être incluse : {reason}.".into(),
        reasons: Reasons {
            encrypted: "elle est protégée par un mot de passe".into(),
            damaged: "elle est endommagée".into(),
            no_page: "elle n'a aucune page".into(),
        },
    }
}

#[test]
fn the_dossier_pdf_holds_the_summary_then_every_piece_with_an_outline() {
    let folder = tempfile::tempdir().unwrap();
    let printed = dossier();
    let rendered = render(&printed).unwrap();
    let path = written(folder.path(), &rendered.bytes);

    // Pages: the summary's, the two of the letter, one for the photo, and one
    // for each piece that could not be included.
    let info = poppler("pdfinfo", &[], &path);
    let pages: usize = info
        .lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(
        rendered.summary_pages >= 3,
        "the long letter runs over pages"
    );
    assert_eq!(pages, rendered.summary_pages + 2 + 1 + 3, "{info}");
    assert_eq!(pages, rendered.pages);

    // Every answer, with its accents; the letter's own pages; what could not be included.
    let text = poppler("pdftotext", &["-layout"], &path);
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    for expected in [
        "Zoé Lefèvre — Master Océanographie",
        "d-2027-0042",
        "Commune de naissance",
        "Aix-en-Provence",
        "lagune de Berre et le golfe de Fos",
        "Université de Toulon",
        "L2, Géosciences",
        "Refusée — floue, à refaire",
        "Lettre page une",
        "Lettre page deux",
        "La pièce « Relevé chiffré » n'a pas pu être incluse : elle est protégée par un mot de passe.",
        "La pièce « Diplôme abîmé » n'a pas pu être incluse : elle est endommagée.",
        "La pièce « Pièce perdue » n'a pas pu être incluse : the file is missing.",
    ] {
        assert!(text.contains(expected), "no `{expected}` in\n{text}");
    }

    // The outline: every section and every piece.
    let xml = poppler("pdftohtml", &["-xml", "-i", "-stdout", "-q"], &path);
    let outline = &xml[xml
        .find("<outline>")
        .unwrap_or_else(|| panic!("no outline in\n{xml}"))..];
    for entry in [
        "État civil",
        "Cursus externe",
        "Pièces",
        "Lettre de recommandation",
        "Photo d'identité",
        "Relevé chiffré",
        "Diplôme abîmé",
        "Pièce perdue",
    ] {
        assert!(
            outline.contains(entry),
            "no outline entry `{entry}` in\n{outline}"
        );
    }

    // The same dossier gives the same bytes.
    assert_eq!(render(&printed).unwrap().bytes, rendered.bytes);
}

#[test]
fn a_long_letter_runs_over_pages_with_its_paragraphs_joined_and_its_signature_whole() {
    let paragraph =
        "La commission pédagogique a examiné votre dossier\navec attention. ".repeat(12);
    let body = vec![paragraph; 8].join("\n\n");
    let letter = guichet_pdf::Letter {
        institution: "Institut Pythéas\nCampus de Luminy".into(),
        recipient: vec!["Zoé Lefèvre".into(), "zoe@example.org".into()],
        place_and_date: "Marseille, le 2 avril 2027".into(),
        title: "Admission en Master Océanographie".into(),
        body,
        signature: vec!["La directrice".into(), "Par délégation".into()],
    };
    let rendered = guichet_pdf::render_letter(&letter).unwrap();
    assert!(rendered.pages >= 2, "{} page(s)", rendered.pages);
    let folder = tempfile::tempdir().unwrap();
    let path = written(folder.path(), &rendered.bytes);
    let info = poppler("pdfinfo", &[], &path);
    assert!(
        info.contains(&format!("Pages:           {}", rendered.pages)),
        "{info}"
    );
    let text = poppler("pdftotext", &[], &path);
    // A paragraph's own line breaks are not kept: the words run on.
    assert!(!text.contains("dossier\navec"), "{text}");
    let last_page = text.split('\u{c}').rfind(|p| !p.trim().is_empty()).unwrap();
    assert!(last_page.contains("La directrice"), "{last_page}");
    assert!(last_page.contains("Par délégation"), "{last_page}");
    // The same letter, the same bytes.
    assert_eq!(
        guichet_pdf::render_letter(&letter).unwrap().bytes,
        rendered.bytes
    );
}

/// What a candidate may type that the font has no glyph for (emoji,
/// Chinese, a right-to-left mark, control characters, a lone combining
/// accent), and a word longer than a line: the PDF is still made, and the
/// text around it is read back whole.
#[test]
fn text_the_font_cannot_draw_still_makes_a_pdf() {
    let odd = "avant 🙂 海洋学 \u{202e}droite\u{202c} \u{7}\u{0}\u{1b}[31m \u{301}é après";
    let long_word = "x".repeat(5000);
    let mut printed = dossier();
    printed.title = format!("Zoé {odd}");
    printed.sections = vec![Section {
        title: format!("Section {odd}"),
        body: Body::Fields(vec![
            ("Nom".into(), odd.into()),
            ("Mot".into(), long_word.clone()),
            ("Lignes".into(), "un\r\ndeux\n\n\ntrois\tquatre".into()),
        ]),
    }];
    printed.attachments = Vec::new();
    let rendered = render(&printed).expect("a PDF");
    let folder = tempfile::tempdir().unwrap();
    let text = poppler("pdftotext", &[], &written(folder.path(), &rendered.bytes));
    assert!(text.contains("avant"), "{text}");
    assert!(text.contains("après"), "{text}");
    assert!(text.contains("trois"), "{text}");
}
