//! A candidature's pieces as its candidate's page lists them: each with its
//! status, its file, the upload form and the other actions allowed, the
//! letters of the people named for it, written as HTML.
//!
//! Written here rather than in the template: a formation asks for half a
//! dozen pieces, each with up to three forms, and evaluating them in the
//! template was a third of the page's time. Every value goes through
//! minijinja's own `HtmlEscape`, as the templates escape.

use std::fmt::{self, Write};

use minijinja::HtmlEscape;
use serde::Serialize;

use super::site::Lang;

/// One person named for a piece: whether their letter arrived, never what
/// it says.
pub(super) struct LetterLine {
    pub name: String,
    pub email: String,
    pub state: String,
}

/// The people named for a third party's piece, and where to ask them.
#[derive(Default)]
pub(super) struct Letters {
    /// Each person named, with where their letter stands.
    pub people: Vec<LetterLine>,
    /// Where to post to mail the links, when someone is left to ask.
    pub ask: Option<String>,
    /// Where the candidate names them (the section's page and title), when
    /// nobody is named yet.
    pub name_them: Option<(String, String)>,
}

/// An action's button or link, to `url`.
#[derive(Serialize)]
pub(super) struct ActionLink<'a> {
    pub url: String,
    pub label: &'a str,
}

/// Where the candidate uploads a piece's file.
pub(super) struct Upload<'a> {
    pub url: String,
    pub label: &'a str,
    /// The formats accepted, for people (`PDF, JPG`) and for the browser's
    /// file picker (their media types).
    pub accept: String,
    pub accept_mime: String,
    /// The largest file accepted, for people.
    pub max: String,
}

/// One piece of the candidature, as its page draws it.
pub(super) struct PieceLine<'a> {
    pub id: &'a str,
    pub label: &'a str,
    pub help: Option<&'a str>,
    pub required: bool,
    pub status: &'a str,
    pub comment: Option<&'a str>,
    /// The file sent, with where to download it.
    pub file: Option<(&'a str, String)>,
    pub upload: Option<Upload<'a>>,
    pub actions: Vec<ActionLink<'a>>,
    /// For a piece third parties send: who is named and where each stands.
    pub letters: Option<Letters>,
    /// For a piece an online form stands for: the form's page, and whether
    /// it is complete.
    pub form: Option<(String, bool)>,
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

/// The HTML of `pieces`, each a list item, with `csrf` in each form.
pub(super) fn pieces_html(
    pieces: &[PieceLine],
    words: &PieceWords,
    csrf: &str,
) -> minijinja::Value {
    let mut html = String::with_capacity(pieces.len() * 1200);
    for piece in pieces {
        // Writing to a `String` cannot fail.
        let _ = piece.write(&mut html, words, csrf);
    }
    minijinja::Value::from_safe_string(html)
}

impl PieceLine<'_> {
    fn write(&self, html: &mut String, t: &PieceWords, token: &str) -> fmt::Result {
        let csrf = HtmlEscape(token);
        let status = HtmlEscape(t.status);
        write!(html, "<li class=\"piece\">\n<h3>{}", HtmlEscape(self.label))?;
        if self.required {
            html.push_str(" <span class=\"required\">*</span>");
        }
        html.push_str("</h3>\n");
        if let Some(help) = self.help {
            writeln!(html, "<p class=\"help\">{}</p>", HtmlEscape(help))?;
        }
        if let Some((href, complete)) = &self.form {
            let state = if *complete {
                t.form_complete
            } else {
                t.form_incomplete
            };
            writeln!(
                html,
                "<p>{status} : <strong>{}</strong></p>\n<p><a class=\"button\" href=\"{}\">{}</a></p>",
                HtmlEscape(state),
                HtmlEscape(href),
                HtmlEscape(t.form_fill)
            )?;
        } else if self.letters.is_none() {
            write!(
                html,
                "<p>{status} : <strong>{}</strong>",
                HtmlEscape(self.status)
            )?;
            if let Some(comment) = self.comment.filter(|c| !c.is_empty()) {
                write!(html, " — {}", HtmlEscape(comment))?;
            }
            html.push_str("</p>\n");
        }
        if let Some(external) = &self.external {
            writeln!(
                html,
                "<p><a href=\"{}\" rel=\"noopener\">{}</a></p>",
                HtmlEscape(external),
                HtmlEscape(t.form_external)
            )?;
        }
        if let Some((name, href)) = self.file.as_ref().filter(|(name, _)| !name.is_empty()) {
            writeln!(
                html,
                "<p><a href=\"{}\">{} {}</a></p>",
                HtmlEscape(href),
                HtmlEscape(t.download),
                HtmlEscape(name)
            )?;
        }
        if let Some(upload) = &self.upload {
            let id = HtmlEscape(self.id);
            writeln!(
                html,
                "<form method=\"post\" action=\"{}\" enctype=\"multipart/form-data\">\n\
                 <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\n\
                 <label for=\"file-{id}\">{} ({}, {})</label>\n\
                 <input id=\"file-{id}\" name=\"fichier\" type=\"file\" accept=\"{}\">\n\
                 <button type=\"submit\">{}</button>\n</form>",
                HtmlEscape(&upload.url),
                HtmlEscape(t.choose_file),
                HtmlEscape(&upload.accept),
                HtmlEscape(&upload.max),
                HtmlEscape(&upload.accept_mime),
                HtmlEscape(upload.label),
            )?;
        }
        if let Some(letters) = &self.letters {
            letters.write(html, t, token)?;
        }
        for action in &self.actions {
            writeln!(
                html,
                "<form method=\"post\" action=\"{}\" class=\"inline\">\n\
                 <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\n\
                 <button type=\"submit\" class=\"secondary\">{}</button>\n</form>",
                HtmlEscape(&action.url),
                HtmlEscape(action.label),
            )?;
        }
        html.push_str("</li>\n");
        Ok(())
    }
}

impl Letters {
    fn write(&self, html: &mut String, t: &PieceWords, token: &str) -> fmt::Result {
        let csrf = HtmlEscape(token);
        if !self.people.is_empty() {
            html.push_str("<ul class=\"letters\">\n");
            for person in &self.people {
                writeln!(
                    html,
                    "<li>{} ({}) : <strong>{}</strong></li>",
                    HtmlEscape(&person.name),
                    HtmlEscape(&person.email),
                    HtmlEscape(&person.state)
                )?;
            }
            html.push_str("</ul>\n");
        } else if let Some((href, title)) = &self.name_them {
            writeln!(
                html,
                "<p>{} <a href=\"{}\">{}</a>.</p>",
                HtmlEscape(t.letters_name_them),
                HtmlEscape(href),
                HtmlEscape(title)
            )?;
        }
        if let Some(ask) = &self.ask {
            writeln!(
                html,
                "<form method=\"post\" action=\"{}\">\n\
                 <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\n\
                 <p class=\"help\">{}</p>\n\
                 <button type=\"submit\">{}</button>\n</form>",
                HtmlEscape(ask),
                HtmlEscape(t.letters_ask_help),
                HtmlEscape(t.letters_ask),
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

    /// Each value is escaped, each form carries the token, and a piece
    /// shows only the parts it has.
    #[test]
    fn pieces_are_escaped_and_each_form_carries_the_token() {
        let uploaded = PieceLine {
            comment: Some("blurred <scan>"),
            file: Some((
                "resume\".pdf",
                "/candidatures/c1/pieces/resume/fichier-envoye".into(),
            )),
            upload: Some(Upload {
                url: "/candidatures/c1/pieces/resume".into(),
                label: "Send",
                accept: "PDF".into(),
                accept_mime: "application/pdf".into(),
                max: "5 MB".into(),
            }),
            actions: vec![ActionLink {
                url: "/candidatures/c1/pieces/resume/remove".into(),
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
                ask: Some("/candidatures/c1/tiers/referee".into()),
                name_them: None,
            }),
            ..piece("letters")
        };
        let html = pieces_html(&[uploaded, referees], &words(), "to<ken");
        assert!(html.is_safe());
        let html = html.to_string();
        assert_eq!(html.matches("<li class=\"piece\">").count(), 2);
        assert!(html.contains("<h3>Resume &lt;b&gt; <span class=\"required\">*</span></h3>"));
        assert!(html.contains("Received &amp; checked</strong> — blurred &lt;scan&gt;</p>"));
        assert!(html.contains("Download resume&quot;.pdf</a>"));
        assert!(html.contains("(PDF, 5 MB)"));
        assert!(html.contains("Ada &lt;L&gt; (ada@example.org) : <strong>asked</strong>"));
        // Upload, removal and asking: three forms, each with the token.
        assert_eq!(html.matches("<form method=\"post\"").count(), 3);
        assert_eq!(html.matches("value=\"to&lt;ken\"").count(), 3);
        assert!(!html.contains("to<ken"));
        // A third party's piece shows its letters, not a status of its own.
        assert_eq!(html.matches("Status :").count(), 1);
    }
}
