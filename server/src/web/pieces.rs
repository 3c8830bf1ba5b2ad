//! A candidature's pieces as its candidate's page lists them: each with its
//! status, its file, the upload form and the other actions allowed, the
//! letters of the people named for it, written as HTML.
//!
//! Written here rather than in the template: a formation asks for half a
//! dozen pieces, each with up to three forms, and evaluating them in the
//! template was a third of the page's time. Every value goes through
//! [`Escaped`], which writes what the templates' escaping writes.

use std::fmt::{self, Write};

use guichet_engine::model::FileFormat;
use serde::Serialize;

use super::site::{write_attribute, Escaped, Lang};
use super::words::{Joined, Size};

/// One person named for a piece: whether their letter arrived, never what
/// it says.
pub(super) struct LetterLine {
    pub name: String,
    pub email: String,
    pub state: String,
}

/// The people named for a third party's piece, and where to ask them.
#[derive(Default)]
pub(super) struct Letters<'a> {
    /// Each person named, with where their letter stands.
    pub people: Vec<LetterLine>,
    /// The role asked, when someone is left to ask: the form posts to the
    /// candidature's `tiers/{role}`.
    pub ask: Option<&'a str>,
    /// Where the candidate names them (the section's id and title), when
    /// nobody is named yet.
    pub name_them: Option<(&'a str, &'a str)>,
}

/// An action's button or link, to `url`.
#[derive(Serialize)]
pub(super) struct ActionLink<'a> {
    pub url: String,
    pub label: &'a str,
}

/// A piece's action other than sending a file: a button posting to the
/// piece's `{id}`.
pub(super) struct PieceAction<'a> {
    pub id: &'a str,
    pub label: &'a str,
}

/// Where the candidate uploads a piece's file: the form posts to the piece.
pub(super) struct Upload<'a> {
    pub label: &'a str,
    /// The formats accepted, shown to people (`PDF, JPG`) and to the
    /// browser's file picker (their media types).
    pub formats: &'a [FileFormat],
    /// The largest file accepted, in bytes.
    pub max_size: u64,
}

/// One piece of the candidature, as its page draws it.
pub(super) struct PieceLine<'a> {
    pub id: &'a str,
    pub label: &'a str,
    pub help: Option<&'a str>,
    pub required: bool,
    pub status: &'a str,
    pub comment: Option<&'a str>,
    /// The name of the file sent, downloaded at the piece's `fichier-envoye`.
    pub file: Option<&'a str>,
    pub upload: Option<Upload<'a>>,
    pub actions: Vec<PieceAction<'a>>,
    /// For a piece third parties send: who is named and where each stands.
    pub letters: Option<Letters<'a>>,
    /// For a piece an online form stands for: whether it is complete (the
    /// form is the candidature's `formulaire-complementaire`).
    pub form: Option<bool>,
    /// For a piece answered in an outside questionnaire: its address.
    pub external: Option<String>,
}

/// The words the pieces are written with, in the page's language.
pub(super) struct PieceWords {
    status: &'static str,
    form_complete: &'static str,
    form_incomplete: &'static str,
    form_fill: &'static str,
    form_external: &'static str,
    download: &'static str,
    choose_file: &'static str,
    letters_name_them: &'static str,
    letters_ask_help: &'static str,
    letters_ask: &'static str,
}

impl PieceWords {
    pub fn in_language(lang: Lang) -> Self {
        Self {
            status: lang.word("status"),
            form_complete: lang.word("form_complete"),
            form_incomplete: lang.word("form_incomplete"),
            form_fill: lang.word("form_fill"),
            form_external: lang.word("form_external"),
            download: lang.word("download"),
            choose_file: lang.word("choose_file"),
            letters_name_them: lang.word("letters_name_them"),
            letters_ask_help: lang.word("letters_ask_help"),
            letters_ask: lang.word("letters_ask"),
        }
    }
}

/// What the pieces of one candidature are written with: the words, the
/// page's language and token, and the candidature their links lead into.
pub(super) struct PiecesPage<'a> {
    pub words: PieceWords,
    pub lang: Lang,
    pub candidature: &'a str,
    pub csrf: &'a str,
}

impl PiecesPage<'_> {
    /// Appends the link to the candidature's path `tail` (from `/`) to `html`.
    fn write_link(&self, html: &mut String, tail: &[&str]) {
        let candidature = ["/candidatures/", self.candidature];
        self.lang
            .write_href(html, candidature.into_iter().chain(tail.iter().copied()));
    }

    /// Appends the link to `piece`'s path `tail` to `html`.
    fn write_piece_link(&self, html: &mut String, piece: &str, tail: &[&str]) {
        let candidature = ["/candidatures/", self.candidature, "/pieces/", piece];
        self.lang
            .write_href(html, candidature.into_iter().chain(tail.iter().copied()));
    }

    /// The HTML of `pieces`, each a list item, with the token in each form.
    pub fn html(&self, pieces: &[PieceLine]) -> minijinja::Value {
        let mut html = String::with_capacity(pieces.len() * 1200);
        for piece in pieces {
            // Writing to a `String` cannot fail.
            let _ = self.write_piece(&mut html, piece);
        }
        minijinja::Value::from_safe_string(html)
    }

    fn write_piece(&self, html: &mut String, piece: &PieceLine) -> fmt::Result {
        let t = &self.words;
        let csrf = Escaped(self.csrf);
        let status = Escaped(t.status);
        write!(html, "<li class=\"piece\">\n<h3>{}", Escaped(piece.label))?;
        if piece.required {
            html.push_str(" <span class=\"required\">*</span>");
        }
        html.push_str("</h3>\n");
        if let Some(help) = piece.help {
            writeln!(html, "<p class=\"help\">{}</p>", Escaped(help))?;
        }
        if let Some(complete) = piece.form {
            let state = if complete {
                t.form_complete
            } else {
                t.form_incomplete
            };
            write!(
                html,
                "<p>{status} : <strong>{}</strong></p>\n<p><a class=\"button\" href=\"",
                Escaped(state)
            )?;
            self.write_link(html, &["/formulaire-complementaire"]);
            writeln!(html, "\">{}</a></p>", Escaped(t.form_fill))?;
        } else if piece.letters.is_none() {
            write!(
                html,
                "<p>{status} : <strong>{}</strong>",
                Escaped(piece.status)
            )?;
            if let Some(comment) = piece.comment.filter(|c| !c.is_empty()) {
                write!(html, " — {}", Escaped(comment))?;
            }
            html.push_str("</p>\n");
        }
        if let Some(external) = &piece.external {
            html.push_str("<p><a href=\"");
            write_attribute(html, external);
            writeln!(
                html,
                "\" rel=\"noopener\">{}</a></p>",
                Escaped(t.form_external)
            )?;
        }
        if let Some(name) = piece.file.filter(|name| !name.is_empty()) {
            html.push_str("<p><a href=\"");
            self.write_piece_link(html, piece.id, &["/fichier-envoye"]);
            writeln!(html, "\">{} {}</a></p>", Escaped(t.download), Escaped(name))?;
        }
        if let Some(upload) = &piece.upload {
            let id = Escaped(piece.id);
            html.push_str("<form method=\"post\" action=\"");
            self.write_piece_link(html, piece.id, &[]);
            // The formats' names and media types are the code's own words,
            // the size its digits: nothing to escape.
            let (names, types) = (
                Joined(upload.formats, FileFormat::label, ", "),
                Joined(upload.formats, FileFormat::mime, ","),
            );
            writeln!(
                html,
                "\" enctype=\"multipart/form-data\">\n\
                 <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\n\
                 <label for=\"file-{id}\">{} ({names}, {})</label>\n\
                 <input id=\"file-{id}\" name=\"fichier\" type=\"file\" accept=\"{types}\">\n\
                 <button type=\"submit\">{}</button>\n</form>",
                Escaped(t.choose_file),
                Size(upload.max_size),
                Escaped(upload.label),
            )?;
        }
        if let Some(letters) = &piece.letters {
            self.write_letters(html, letters)?;
        }
        for action in &piece.actions {
            html.push_str("<form method=\"post\" action=\"");
            self.write_piece_link(html, piece.id, &["/", action.id]);
            writeln!(
                html,
                "\" class=\"inline\">\n\
                 <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\n\
                 <button type=\"submit\" class=\"secondary\">{}</button>\n</form>",
                Escaped(action.label),
            )?;
        }
        html.push_str("</li>\n");
        Ok(())
    }

    fn write_letters(&self, html: &mut String, letters: &Letters) -> fmt::Result {
        let t = &self.words;
        if !letters.people.is_empty() {
            html.push_str("<ul class=\"letters\">\n");
            for person in &letters.people {
                writeln!(
                    html,
                    "<li>{} ({}) : <strong>{}</strong></li>",
                    Escaped(&person.name),
                    Escaped(&person.email),
                    Escaped(&person.state)
                )?;
            }
            html.push_str("</ul>\n");
        } else if let Some((section, title)) = letters.name_them {
            write!(html, "<p>{} <a href=\"", Escaped(t.letters_name_them))?;
            self.lang.write_href(html, ["/dossier/", section]);
            writeln!(html, "\">{}</a>.</p>", Escaped(title))?;
        }
        if let Some(role) = letters.ask {
            html.push_str("<form method=\"post\" action=\"");
            self.write_link(html, &["/tiers/", role]);
            writeln!(
                html,
                "\">\n\
                 <input type=\"hidden\" name=\"csrf\" value=\"{}\">\n\
                 <p class=\"help\">{}</p>\n\
                 <button type=\"submit\">{}</button>\n</form>",
                Escaped(self.csrf),
                Escaped(t.letters_ask_help),
                Escaped(t.letters_ask),
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words() -> PieceWords {
        let word = |w: &'static str| w;
        PieceWords {
            status: word("Status"),
            form_complete: word("complete"),
            form_incomplete: word("incomplete"),
            form_fill: word("Fill in"),
            form_external: word("Answer outside"),
            download: word("Download"),
            choose_file: word("Choose"),
            letters_name_them: word("Name them in"),
            letters_ask_help: word("We mail them"),
            letters_ask: word("Ask"),
        }
    }

    fn piece(id: &str) -> PieceLine<'_> {
        PieceLine {
            id,
            label: "Resume <b>",
            help: None,
            required: true,
            status: "Received & checked",
            comment: None,
            file: None,
            upload: None,
            actions: Vec::new(),
            letters: None,
            form: None,
            external: None,
        }
    }

    /// Each value is escaped, each form carries the token, each link keeps
    /// the language, and a piece shows only the parts it has.
    #[test]
    fn pieces_are_escaped_and_each_form_carries_the_token() {
        let uploaded = PieceLine {
            comment: Some("blurred <scan>"),
            file: Some("resume\".pdf"),
            upload: Some(Upload {
                label: "Send",
                formats: &[FileFormat::Pdf, FileFormat::Jpg],
                max_size: 5_000_000,
            }),
            actions: vec![PieceAction {
                id: "remove",
                label: "Remove",
            }],
            ..piece("resume")
        };
        let referees = PieceLine {
            letters: Some(Letters {
                people: vec![LetterLine {
                    name: "Ada <L>".into(),
                    email: "ada@example.org".into(),
                    state: "asked".into(),
                }],
                ask: Some("referee"),
                name_them: None,
            }),
            ..piece("letters")
        };
        let unnamed = PieceLine {
            letters: Some(Letters {
                name_them: Some(("people", "People & <co>")),
                ..Letters::default()
            }),
            ..piece("others")
        };
        let site = super::super::site::Site::kept(Default::default());
        let page = PiecesPage {
            words: words(),
            lang: Lang::default_of(site),
            candidature: "c\"1",
            csrf: "to<ken",
        };
        let html = page.html(&[uploaded, referees, unnamed]);
        assert!(html.is_safe());
        let html = html.to_string();
        assert_eq!(html.matches("<li class=\"piece\">").count(), 3);
        assert!(html.contains("<h3>Resume &lt;b&gt; <span class=\"required\">*</span></h3>"));
        assert!(html.contains("Received &amp; checked</strong> — blurred &lt;scan&gt;</p>"));
        assert!(html.contains(
            "<a href=\"/candidatures/c&quot;1/pieces/resume/fichier-envoye?lang=fr\">\
             Download resume&quot;.pdf</a>"
        ));
        assert!(html.contains("action=\"/candidatures/c&quot;1/pieces/resume?lang=fr\""));
        assert!(html.contains("(PDF, JPG, 5 Mo)"));
        assert!(html.contains("accept=\"application/pdf,image/jpeg\""));
        assert!(html.contains("action=\"/candidatures/c&quot;1/pieces/resume/remove?lang=fr\""));
        assert!(html.contains("Ada &lt;L&gt; (ada@example.org) : <strong>asked</strong>"));
        assert!(html.contains("action=\"/candidatures/c&quot;1/tiers/referee?lang=fr\""));
        assert!(html.contains(
            "Name them in <a href=\"/dossier/people?lang=fr\">People &amp; &lt;co&gt;</a>."
        ));
        // Upload, removal and asking: three forms, each with the token.
        assert_eq!(html.matches("<form method=\"post\"").count(), 3);
        assert_eq!(html.matches("value=\"to&lt;ken\"").count(), 3);
        assert!(!html.contains("to<ken"));
        // A third party's piece shows its letters, not a status of its own.
        assert_eq!(html.matches("Status :").count(), 1);
    }
}
