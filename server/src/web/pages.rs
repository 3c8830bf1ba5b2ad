//! Server-rendered pages: templates embedded in the binary, values escaped.
//!
//! Each page gives its values as a typed struct; the values every page uses
//! (language, words, institution, asset versions) are added here.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use minijinja::value::{from_args, Enumerator, Object, ObjectExt, ObjectRepr, Serde};
use minijinja::{Environment, Value};
use serde::Serialize;

use super::site::{escaped_for_attribute, prefixed, with_language, Lang};

/// The stylesheet, embedded.
pub const STYLESHEET: &str = include_str!("../../assets/guichet.css");

/// The script that makes forms live, embedded.
pub const SCRIPT: &str = include_str!("../../assets/guichet.js");

/// Every page template, embedded in the binary.
const TEMPLATES: &[(&str, &str)] = &[
    ("layout.html", include_str!("../../templates/layout.html")),
    ("macros.html", include_str!("../../templates/macros.html")),
    ("home.html", include_str!("../../templates/home.html")),
    ("error.html", include_str!("../../templates/error.html")),
    ("form.html", include_str!("../../templates/form.html")),
    ("message.html", include_str!("../../templates/message.html")),
    (
        "dashboard.html",
        include_str!("../../templates/dashboard.html"),
    ),
    ("history.html", include_str!("../../templates/history.html")),
    ("section.html", include_str!("../../templates/section.html")),
    ("entries.html", include_str!("../../templates/entries.html")),
    (
        "catalogue.html",
        include_str!("../../templates/catalogue.html"),
    ),
    (
        "formation.html",
        include_str!("../../templates/formation.html"),
    ),
    ("confirm.html", include_str!("../../templates/confirm.html")),
    (
        "procedures.html",
        include_str!("../../templates/procedures.html"),
    ),
    (
        "third_party.html",
        include_str!("../../templates/third_party.html"),
    ),
    (
        "candidature.html",
        include_str!("../../templates/candidature.html"),
    ),
    (
        "staff/layout.html",
        include_str!("../../templates/staff/layout.html"),
    ),
    (
        "staff/list.html",
        include_str!("../../templates/staff/list.html"),
    ),
    (
        "staff/candidature.html",
        include_str!("../../templates/staff/candidature.html"),
    ),
    (
        "staff/transition.html",
        include_str!("../../templates/staff/transition.html"),
    ),
    (
        "staff/bulk.html",
        include_str!("../../templates/staff/bulk.html"),
    ),
    (
        "staff/archive.html",
        include_str!("../../templates/staff/archive.html"),
    ),
    (
        "staff/formations.html",
        include_str!("../../templates/staff/formations.html"),
    ),
    (
        "staff/team.html",
        include_str!("../../templates/staff/team.html"),
    ),
    (
        "staff/versions.html",
        include_str!("../../templates/staff/versions.html"),
    ),
    (
        "staff/editor.html",
        include_str!("../../templates/staff/editor.html"),
    ),
    ("preview.html", include_str!("../../templates/preview.html")),
    (
        "mails-preview.html",
        include_str!("../../templates/mails-preview.html"),
    ),
    (
        "staff/editor-preview.html",
        include_str!("../../templates/staff/editor-preview.html"),
    ),
];

/// The page templates, and what every page shares.
pub struct Pages {
    templates: Environment<'static>,
    /// The page words of each language, built once.
    words: Vec<(&'static str, Value)>,
    /// Where the procedure's pages live (see [`super::site::Site::prefix`]).
    prefix: &'static str,
    /// Each page says it is a preview, its forms and links leading nowhere.
    previewing: bool,
    /// The length of each template's last page: the next is written into
    /// room that size, not grown from nothing by copies (a section's
    /// page runs to tens of kilobytes).
    last_lengths: HashMap<&'static str, AtomicUsize>,
}

/// A short version tag for a static asset, changing with its content.
fn content_version(content: &str) -> String {
    // FNV-1a: enough to bust caches, no cryptography needed.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in content.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}

/// `t` in templates: the page words of one language, by key.
///
/// Found by the key's hash: a template map is ordered, and each `t.…`
/// compared its key with nine of the three hundred words' keys, a page
/// reading twenty words or more.
#[derive(Debug)]
struct Words(HashMap<String, Value>);

impl Words {
    /// The words of `all`, an object of texts by key.
    fn of(all: &serde_json::Value) -> Words {
        let words = all.as_object().map_or_else(HashMap::new, |all| {
            all.iter()
                .map(|(key, text)| {
                    let text = text
                        .as_str()
                        .map_or_else(|| text.to_string(), str::to_owned);
                    (key.clone(), Value::from(text))
                })
                .collect()
        });
        Words(words)
    }
}

impl Object for Words {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        self.0.get(key.as_str()?).cloned()
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        self.mapped_enumerator(|words| {
            Box::new(words.0.keys().map(|key| Value::from(key.as_str())))
        })
    }
}

/// What every page of one language shows alike, written into its
/// templates once rather than looked up at each render (see
/// [`written_in`]).
struct Fixed<'a> {
    /// The page words, an object of texts by key: `{{ t.key }}`.
    words: &'a serde_json::Value,
    /// The links to the procedure's pages: `{{ href('/path') }}`.
    href: &'a Href,
    /// The other values, each by the expression that shows it, already
    /// written as HTML.
    values: Vec<(&'static str, String)>,
}

impl Fixed<'_> {
    /// The HTML of `expression` (what a `{{ … }}` holds, spaces trimmed)
    /// if it shows a fixed value: a word, a link to a path written in the
    /// template, or one of `values`.
    fn html(&self, expression: &str) -> Option<String> {
        if let Some(key) = expression.strip_prefix("t.") {
            let is_name = |c: char| c.is_ascii_alphanumeric() || c == '_';
            if key.is_empty() || !key.chars().all(is_name) {
                return None;
            }
            let text = self.words.get(key)?.as_str()?;
            return Some(minijinja::HtmlEscape(text).to_string());
        }
        if let Some(path) = expression
            .strip_prefix("href('")
            .and_then(|rest| rest.strip_suffix("')"))
        {
            if path.contains(['\'', '\\']) {
                return None;
            }
            return self.href.link(path).as_str().map(str::to_owned);
        }
        let (_, html) = self.values.iter().find(|(shown, _)| *shown == expression)?;
        Some(html.clone())
    }
}

/// `source` with each `{{ … }}` that shows a value of `fixed` replaced by
/// that value's HTML, as the template's own escaping would write it, its
/// braces as character references: a word is never read as template
/// syntax. Any other expression (a filter applied, a word passed to a
/// function, a value of the page) is left to the render.
fn written_in(source: &str, fixed: &Fixed) -> String {
    let mut written = String::with_capacity(source.len());
    let mut rest = source;
    while let Some(at) = rest.find("{{") {
        written.push_str(&rest[..at]);
        let from = &rest[at..];
        let shown = from[2..].find("}}").and_then(|end| {
            let html = fixed.html(from[2..2 + end].trim_matches(' '))?;
            Some((html, 2 + end + 2))
        });
        match shown {
            Some((html, length)) => {
                written.push_str(&html.replace('{', "&#123;").replace('}', "&#125;"));
                rest = &from[length..];
            }
            None => {
                written.push_str("{{");
                rest = &from[2..];
            }
        }
    }
    written.push_str(rest);
    written
}

/// The links to the page in each language but `lang`, for the layout's
/// `{{ language_links }}`.
fn language_links(languages: &[&str], lang: &str) -> String {
    use std::fmt::Write;
    let mut html = String::new();
    for other in languages.iter().filter(|code| **code != lang) {
        let name = if *other == "en" {
            "English"
        } else {
            "Français"
        };
        let code = minijinja::HtmlEscape(other);
        // Writing to a `String` cannot fail.
        let _ = write!(
            html,
            "<a href=\"?lang={code}\" hreflang=\"{code}\" lang=\"{code}\">{}</a>",
            minijinja::HtmlEscape(name)
        );
    }
    html
}

/// `href(path)` in templates: a link that keeps the page's language.
///
/// Given with each page's values, holding the page's language and prefix: a
/// function would look both up among the page's values at every link, a
/// few percent of a page with a link per line.
#[derive(Debug)]
struct Href {
    lang: &'static str,
    prefix: &'static str,
}

impl Object for Href {
    fn call(
        self: &Arc<Self>,
        _state: &mut minijinja::State<'_, '_>,
        args: &[Value],
    ) -> Result<Value, minijinja::Error> {
        let (path,): (&str,) = from_args(args)?;
        Ok(self.link(path))
    }
}

impl Href {
    /// The link to `path`, escaped here for an attribute (`&`, `<`, `>` and
    /// quotes) and given as safe, so that the template's auto-escaping keeps
    /// `/` as it is: links read as written in the page's source.
    fn link(&self, path: &str) -> Value {
        let url = with_language(&prefixed(self.prefix, path), self.lang);
        Value::from_safe_string(escaped_for_attribute(url))
    }
}

/// What a template reads by name: the values every page has and those
/// added to it, then the page's own.
///
/// Found in a short list by name before the page's map, rather than merged
/// into one map with the page's: the merged map compared each name read
/// with the keys of both, a name at a time.
#[derive(Debug)]
struct PageValues {
    shared: Vec<(&'static str, Value)>,
    page: Value,
}

impl Object for PageValues {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let name = key.as_str()?;
        match self.shared.iter().find(|(shared, _)| *shared == name) {
            Some((_, value)) => Some(value.clone()),
            None => self.page.get_item(key).ok().filter(|v| !v.is_undefined()),
        }
    }
}

/// `heading(title, help, back_href, back_label)` in templates: the top of a
/// page within the procedure (a way back, the heading, its help).
///
/// A function, not a macro: importing a macro evaluates its whole file again
/// at each page, which was a third of a section page's rendering.
fn heading(title: &Value, help: &Value, back_href: &Value, back_label: &Value) -> Value {
    let mut html = String::with_capacity(96);
    html.push_str("<p><a href=\"");
    write_escaped(&mut html, back_href);
    html.push_str("\">");
    write_escaped(&mut html, back_label);
    html.push_str("</a></p>\n<h1>");
    write_escaped(&mut html, title);
    html.push_str("</h1>");
    if help.is_true() {
        html.push_str("\n<p>");
        write_escaped(&mut html, help);
        html.push_str("</p>");
    }
    Value::from_safe_string(html)
}

/// `issued_letters(letters, t)` in templates: the letters issued to a
/// candidature (a decision's, [`super::dossier_pdf::LetterLink`]), each a
/// PDF to download; nothing when there is none.
///
/// A function for the reason [`heading`] is: the candidate's and the
/// staff's candidature pages both show them.
fn issued_letters(letters: &Value, words: &Value) -> Result<Value, minijinja::Error> {
    if !letters.is_true() {
        return Ok(Value::from_safe_string(String::new()));
    }
    let mut html = String::with_capacity(256);
    html.push_str("\n<h2>");
    write_escaped(&mut html, &words.get_attr("letters_issued")?);
    html.push_str("</h2>\n<ul class=\"issued-letters\">\n  ");
    let letter_of = words.get_attr("letter_of")?;
    for letter in letters.try_iter()? {
        html.push_str("<li><a href=\"");
        write_escaped(&mut html, &letter.get_attr("href")?);
        html.push_str("\">");
        write_escaped(&mut html, &letter.get_attr("title")?);
        html.push_str("</a> (");
        write_escaped(&mut html, &letter_of);
        html.push(' ');
        write_escaped(&mut html, &letter.get_attr("day")?);
        html.push_str(")</li>");
    }
    html.push_str("\n</ul>\n");
    Ok(Value::from_safe_string(html))
}

/// Appends `value` as the templates write it: as it is when marked safe
/// (a link from `href`), escaped otherwise; nothing for none.
fn write_escaped(html: &mut String, value: &Value) {
    use std::fmt::Write;
    if value.is_none() || value.is_undefined() {
        return;
    }
    // Writing to a `String` cannot fail.
    let _ = match (value.is_safe(), value.as_str()) {
        (true, Some(text)) => html.write_str(text),
        (false, Some(text)) => write!(html, "{}", super::site::Escaped(text)),
        (_, None) => write!(html, "{}", minijinja::HtmlEscape(&value.to_string())),
    };
}

impl Pages {
    /// Compiles the embedded templates, with the words of `site`'s languages.
    pub fn new(site: &'static super::site::Site) -> anyhow::Result<Self> {
        let mut templates = Environment::new();
        templates.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        templates.add_function("heading", heading);
        templates.add_function("issued_letters", issued_letters);
        // Each template once per language, what its pages show alike
        // written in: its words, links and the layout's values are the same
        // at every render in that language.
        let escaped = |text: &str| minijinja::HtmlEscape(text).to_string();
        let prefix = site.prefix.as_str();
        for lang in &site.languages {
            let words = site.words_in(lang);
            let fixed = Fixed {
                words: &words,
                href: &Href { lang, prefix },
                values: vec![
                    ("lang", escaped(lang)),
                    ("prefix", escaped(prefix)),
                    (
                        "prefix or '/'",
                        escaped(if prefix.is_empty() { "/" } else { prefix }),
                    ),
                    ("css_version", escaped(&content_version(STYLESHEET))),
                    ("js_version", escaped(&content_version(SCRIPT))),
                    ("language_links", language_links(&site.languages, lang)),
                ],
            };
            for (name, source) in TEMPLATES {
                let source = written_in(source, &fixed);
                templates.add_template_owned(format!("{lang}/{name}"), source)?;
            }
        }
        // A template names the others it extends or imports as embedded:
        // they are its own language's.
        templates.set_path_join_callback(|name, parent| match parent.split_once('/') {
            Some((lang, _)) => Cow::Owned(format!("{lang}/{name}")),
            None => Cow::Borrowed(name),
        });
        let words = site
            .languages
            .iter()
            .map(|lang| (*lang, Value::from_object(Words::of(&site.words_in(lang)))))
            .collect();
        Ok(Self {
            templates,
            words,
            prefix: &site.prefix,
            previewing: false,
            last_lengths: TEMPLATES
                .iter()
                .map(|(name, _)| (*name, AtomicUsize::new(0)))
                .collect(),
        })
    }

    /// Whether each page says it is a preview.
    pub fn is_preview(&self) -> bool {
        self.previewing
    }

    /// The same pages, each saying it is a preview.
    pub fn previewing(self) -> Self {
        Self {
            previewing: true,
            ..self
        }
    }

    /// Renders template `name` with `page`'s values and the common ones.
    pub fn render(
        &self,
        name: &str,
        status: StatusCode,
        lang: Lang,
        institution: &str,
        page: &impl Serialize,
    ) -> Response {
        self.render_with(name, status, lang, institution, Vec::new(), page)
    }

    /// [`Pages::render`] with values `added` to the page's (a form's token,
    /// the member signed in), each read by its name.
    pub fn render_with(
        &self,
        name: &str,
        status: StatusCode,
        lang: Lang,
        institution: &str,
        added: Vec<(&'static str, Value)>,
        page: &impl Serialize,
    ) -> Response {
        let t = self
            .words
            .iter()
            .find(|(code, _)| *code == lang.code())
            .map(|(_, words)| words.clone())
            .unwrap_or_default();
        let href = Href {
            lang: lang.code(),
            prefix: self.prefix,
        };
        let mut shared = added;
        shared.extend([
            ("href", Value::from_object(href)),
            ("lang", Value::from(lang.code())),
            ("t", t),
            ("institution", Value::from(institution)),
            ("prefix", Value::from(self.prefix)),
            ("previewing", Value::from(self.previewing)),
        ]);
        let values = Value::from_object(PageValues {
            shared,
            page: Value::from(Serde(page)),
        });
        let last_length = self.last_lengths.get(name);
        let room = last_length.map_or(0, |length| length.load(Ordering::Relaxed));
        let mut html = Vec::with_capacity(room + room / 8);
        let rendered = self
            .templates
            .get_template(&format!("{}/{name}", lang.code()))
            .and_then(|t| t.render_captured_to(values, &mut html));
        match rendered {
            Ok(_) => {
                if let Some(length) = last_length {
                    length.store(html.len(), Ordering::Relaxed);
                }
                (status, Html(html)).into_response()
            }
            Err(error) => {
                tracing::error!(error = %super::error::chain(&error), template = name, "page could not be rendered");
                let status = StatusCode::INTERNAL_SERVER_ERROR;
                if name == "error.html" {
                    // Even the error page fails: words without a page.
                    return (status, lang.t("internal_error")).into_response();
                }
                let page = super::error::MessagePage {
                    heading: lang.t("internal_error"),
                    message: lang.t("internal_error_text"),
                    link: None,
                };
                self.render("error.html", status, lang, institution, &page)
            }
        }
    }
}

/// An embedded asset; its URL carries the content's hash, so it can be kept
/// for a year.
pub fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
        ],
        body,
    )
        .into_response()
}

/// `GET /static/guichet.css`: the pages' stylesheet.
pub async fn stylesheet() -> Response {
    asset("text/css; charset=utf-8", STYLESHEET)
}

/// `GET /static/guichet.js`: the pages' script.
pub async fn script() -> Response {
    asset("text/javascript; charset=utf-8", SCRIPT)
}

#[cfg(test)]
mod tests {
    use minijinja::Value;

    /// A link keeps the page's language, under the procedure's prefix,
    /// escaped for an attribute.
    #[test]
    fn a_link_keeps_the_pages_language_under_its_prefix() {
        let school = super::Href {
            lang: "en",
            prefix: "/ecole",
        };
        assert_eq!(
            school.link("/formations?q=\"a\"&b").as_str(),
            Some("/ecole/formations?q=&quot;a&quot;&amp;b&amp;lang=en")
        );
        assert_eq!(school.link("/").as_str(), Some("/ecole?lang=en"));
        let alone = super::Href {
            lang: "fr",
            prefix: "",
        };
        assert_eq!(alone.link("/").as_str(), Some("/?lang=fr"));
        assert!(alone.link("/").is_safe());
    }

    /// A template reads the values added and the page's by name, the added
    /// first; a name neither has is an error, as in any strict template.
    #[test]
    fn a_page_reads_its_added_values_before_its_own() {
        let page = serde_json::json!({"title": "<Mine>", "csrf": "the page's"});
        let values = Value::from_object(super::PageValues {
            shared: vec![("csrf", Value::from("added")), ("n", Value::from(2))],
            page: Value::from(minijinja::value::Serde(&page)),
        });
        let mut templates = minijinja::Environment::new();
        templates.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        templates.set_auto_escape_callback(|_| minijinja::AutoEscape::Html);
        let read = |source: &str| templates.render_str(source, values.clone());
        assert_eq!(
            read("{{ title }} {{ csrf }} {{ n + 1 }}").unwrap(),
            "&lt;Mine&gt; added 3"
        );
        assert!(read("{{ missing }}").is_err());
        assert_eq!(read("{{ missing is defined }}").unwrap(), "False");
    }

    /// `t` finds a page word by its key, tells a missing one, and can be
    /// listed.
    #[test]
    fn words_are_found_by_key() {
        let words = super::Words::of(&serde_json::json!({"a": "x & y", "b": "z"}));
        let mut templates = minijinja::Environment::new();
        templates.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        let shown = templates.render_str(
            "{{ t.a }}|{{ t.b }}|{{ t|length }}|{{ t.c is defined }}|{{ t|sort|join(',') }}",
            minijinja::context! { t => Value::from_object(words) },
        );
        assert_eq!(shown.unwrap(), "x & y|z|2|False|a,b");
    }

    /// The fixed values of a page in French under `/ecole`, of `words`.
    fn fixed<'a>(words: &'a serde_json::Value, href: &'a super::Href) -> super::Fixed<'a> {
        super::Fixed {
            words,
            href,
            values: vec![
                ("lang", "fr".into()),
                ("prefix or '/'", "&#x2f;ecole".into()),
            ],
        }
    }

    const SCHOOL: super::Href = super::Href {
        lang: "fr",
        prefix: "/ecole",
    };

    /// A word is written into a template where it is shown as it is,
    /// escaped as the template would escape it, its braces never read as
    /// template syntax; a word filtered, missing or trimmed is left to the
    /// render.
    #[test]
    fn words_are_written_into_the_templates() {
        let words = serde_json::json!({"a": "l'été <b> & \"c\"", "b": "{{ x }}"});
        let source = "{{ t.a }}|{{t.b}}|{{ t.a|upper }}|{{ t.c }}|{{ other }}|{{- t.a }}";
        assert_eq!(
            super::written_in(source, &fixed(&words, &SCHOOL)),
            "l&#x27;été &lt;b&gt; &amp; &quot;c&quot;|&#123;&#123; x &#125;&#125;|{{ t.a|upper }}|{{ t.c }}|{{ other }}|{{- t.a }}"
        );
        // As the template's own escaping writes it.
        let mut templates = minijinja::Environment::new();
        templates.add_template("word.html", "{{ t.a }}").unwrap();
        let rendered = templates
            .get_template("word.html")
            .unwrap()
            .render(minijinja::context! { t => Value::from_object(super::Words::of(&words)) });
        assert_eq!(
            rendered.unwrap(),
            super::written_in("{{ t.a }}", &fixed(&words, &SCHOOL))
        );
    }

    /// A link to a path written in the template, and a value every page of
    /// the language shows, are written in as the render would write them;
    /// a link to a page's value, a value filtered and a page's value are
    /// left to the render.
    #[test]
    fn links_and_fixed_values_are_written_as_the_render_writes_them() {
        let words = serde_json::json!({});
        let source = "<html lang=\"{{ lang }}\"><a href=\"{{ prefix or '/' }}\">\
                      <a href=\"{{ href('/formations?q=\"a\"&b') }}\"><a href=\"{{href('/')}}\">\
                      {{ lang|upper }}|{{ href(to) }}|{{ href('/it\\'s') }}|{{ lang }}{{ prefix }}";
        let written = super::written_in(source, &fixed(&words, &SCHOOL));
        assert_eq!(
            written,
            "<html lang=\"fr\"><a href=\"&#x2f;ecole\">\
             <a href=\"/ecole/formations?q=&quot;a&quot;&amp;b&amp;lang=fr\"><a href=\"/ecole?lang=fr\">\
             {{ lang|upper }}|{{ href(to) }}|{{ href('/it\\'s') }}|fr{{ prefix }}"
        );
        let mut templates = minijinja::Environment::new();
        templates.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        templates.add_template("as_written.html", source).unwrap();
        templates.add_template("written_in.html", &written).unwrap();
        let render = |name: &str| {
            let values = minijinja::context! {
                lang => "fr",
                prefix => "/ecole",
                href => Value::from_object(SCHOOL),
                to => "/x",
            };
            templates
                .get_template(name)
                .unwrap()
                .render(values)
                .unwrap()
        };
        assert_eq!(render("written_in.html"), render("as_written.html"));
    }

    /// The links to the other languages, each named in its own.
    #[test]
    fn the_language_links_name_every_other_language() {
        assert_eq!(
            super::language_links(&["fr", "en"], "fr"),
            "<a href=\"?lang=en\" hreflang=\"en\" lang=\"en\">English</a>"
        );
        assert_eq!(
            super::language_links(&["fr", "en"], "en"),
            "<a href=\"?lang=fr\" hreflang=\"fr\" lang=\"fr\">Français</a>"
        );
        assert_eq!(super::language_links(&["fr"], "fr"), "");
    }

    /// The letters issued, escaped as the templates would; nothing at all
    /// when there is none.
    #[test]
    fn issued_letters_are_listed_only_when_there_are_some() {
        let words = Value::from(minijinja::value::Serde(serde_json::json!({
            "letters_issued": "Courriers", "letter_of": "PDF du",
        })));
        let letters = Value::from(minijinja::value::Serde(serde_json::json!([
            {"title": "Admission <M1>", "day": "12/03/2027",
             "href": "/candidatures/c1/courrier/lettre_admission?lang=fr"},
        ])));
        let html = super::issued_letters(&letters, &words).unwrap();
        assert!(html.is_safe());
        assert_eq!(
            html.as_str(),
            Some(
                "\n<h2>Courriers</h2>\n<ul class=\"issued-letters\">\n  \
                 <li><a href=\"&#x2f;candidatures&#x2f;c1&#x2f;courrier&#x2f;lettre_admission?lang=fr\">\
                 Admission &lt;M1&gt;</a> (PDF du 12&#x2f;03&#x2f;2027)</li>\n</ul>\n"
            )
        );
        let none = Value::from(Vec::<Value>::new());
        assert_eq!(
            super::issued_letters(&none, &words).unwrap().as_str(),
            Some("")
        );
    }

    /// The heading escapes what it is given as the templates would, but for
    /// a link `href` already escaped and marked safe.
    #[test]
    fn the_heading_escapes_what_is_not_marked_safe() {
        let link = Value::from_safe_string("/formations?a=1&amp;lang=en".into());
        let html = super::heading(
            &Value::from("<b>Géologie & mer</b>"),
            &Value::from(()),
            &link,
            &Value::from("Retour \"au\" catalogue"),
        );
        assert!(html.is_safe());
        assert_eq!(
            html.as_str(),
            Some(
                "<p><a href=\"/formations?a=1&amp;lang=en\">Retour &quot;au&quot; catalogue</a></p>\n\
                 <h1>&lt;b&gt;Géologie &amp; mer&lt;&#x2f;b&gt;</h1>"
            )
        );
        let with_help = super::heading(
            &Value::from("État civil"),
            &Value::from("<i>Vous</i>"),
            &Value::from("/a?b=<c>"),
            &Value::from(2),
        );
        assert_eq!(
            with_help.as_str(),
            Some(
                "<p><a href=\"&#x2f;a?b=&lt;c&gt;\">2</a></p>\n<h1>État civil</h1>\n\
                 <p>&lt;i&gt;Vous&lt;&#x2f;i&gt;</p>"
            )
        );
    }
}
