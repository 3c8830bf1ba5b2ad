//! What a procedure's pages speak: its languages and own words ([`Site`],
//! one per version of the definition, kept for the process) and the
//! language of one request ([`Lang`]), which every page and link carries.

use std::sync::{Mutex, PoisonError};

use axum::extract::Query;
use axum::http::{header, HeaderMap};
use guichet_engine::Definition;
use serde::Deserialize;

use super::session::{cookie, LANGUAGE_COOKIE};
use super::words;

/// What a procedure says of its pages' languages: which (the default
/// first) and the words it overrides. Made once at start-up and kept for the
/// process, so that every `Lang` can carry it: one per distinct content
/// (see [`Site::kept`]).
#[derive(Debug, Default, PartialEq)]
pub struct Site {
    /// Languages, the default first.
    pub languages: Vec<&'static str>,
    /// The definition's own words, by language then key.
    pub words: std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>>,
    /// Where the procedure's pages live: empty for a server of one
    /// procedure, `/<id>` when it serves several.
    pub prefix: String,
}

impl Site {
    /// The site of `definition`, its pages under `prefix` (see [`Site::kept`]).
    pub fn of(definition: &Definition, prefix: String) -> &'static Site {
        let languages = definition
            .languages()
            .into_iter()
            .filter_map(|code| {
                guichet_engine::SUPPORTED_LANGUAGES
                    .into_iter()
                    .find(|known| *known == code)
            })
            .collect();
        let words = definition.file().words.clone();
        Site::kept(Site {
            languages,
            words,
            prefix,
        })
    }

    /// `site`, kept for the rest of the process: every `Lang` refers to its
    /// site. A version of the definition (a publication, a draft previewed in
    /// the editor) whose pages speak as an earlier one's shares that one's:
    /// only a site that says something new is kept anew.
    pub fn kept(site: Site) -> &'static Site {
        static KEPT: Mutex<Vec<&'static Site>> = Mutex::new(Vec::new());
        let mut kept = KEPT.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(same) = kept.iter().find(|earlier| ***earlier == site) {
            return same;
        }
        let site: &'static Site = Box::leak(Box::new(site));
        kept.push(site);
        site
    }

    /// Every page word in `code`, the procedure's over the built-in ones.
    pub fn words_in(&self, code: &str) -> serde_json::Value {
        let mut all = words::all(code);
        if let (Some(own), serde_json::Value::Object(map)) = (self.words.get(code), &mut all) {
            for (key, text) in own {
                map.insert(key.clone(), serde_json::Value::String(text.clone()));
            }
        }
        all
    }
}

/// The page language: `?lang=`, else the language the visitor chose before
/// (its cookie), else the browser's first preference among the procedure's
/// languages, else the procedure's default language.
#[derive(Debug, Clone, Copy)]
pub struct Lang {
    code: &'static str,
    site: &'static Site,
}

impl PartialEq for Lang {
    fn eq(&self, other: &Self) -> bool {
        self.code == other.code
    }
}

impl Eq for Lang {}

#[derive(Deserialize)]
struct LanguageChoice {
    lang: Option<String>,
}

impl Lang {
    /// The language a request asks for explicitly with `?lang=`, if any.
    pub fn chosen(uri: &axum::http::Uri, site: &'static Site) -> Option<Lang> {
        let Query(choice) = Query::<LanguageChoice>::try_from_uri(uri).ok()?;
        Self::known(choice.lang.as_deref()?, site)
    }

    fn known(code: &str, site: &'static Site) -> Option<Lang> {
        let code = site.languages.iter().find(|l| **l == code)?;
        Some(Lang { code, site })
    }

    /// The procedure's default language.
    pub fn default_of(site: &'static Site) -> Lang {
        let code = site.languages.first().copied().unwrap_or("fr");
        Lang { code, site }
    }

    /// The language of a request.
    pub fn of(uri: &axum::http::Uri, headers: &HeaderMap, site: &'static Site) -> Lang {
        if let Some(lang) = Self::chosen(uri, site) {
            return lang;
        }
        let kept = cookie(headers, LANGUAGE_COOKIE);
        if let Some(lang) = kept.and_then(|c| Self::known(&c, site)) {
            return lang;
        }
        let accepted = headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        // The first language listed is the preferred one.
        accepted
            .split([',', ';', '-'])
            .next()
            .and_then(|first| Self::known(first.trim(), site))
            .unwrap_or_else(|| Self::default_of(site))
    }

    /// This language on `site` (another version's pages), else that site's
    /// default language.
    pub fn on(self, site: &'static Site) -> Lang {
        Self::known(self.code, site).unwrap_or_else(|| Self::default_of(site))
    }

    /// The language code.
    pub fn code(self) -> &'static str {
        self.code
    }

    /// A page word in this language: the procedure's, else the built-in one.
    pub fn t(self, key: &str) -> String {
        self.found(key).unwrap_or(key).to_owned()
    }

    /// [`Lang::t`] of a key written in the code, lent rather than copied:
    /// for the words a page writes again and again.
    pub fn word(self, key: &'static str) -> &'static str {
        self.found(key).unwrap_or(key)
    }

    /// The word `key` in this language, the procedure's or else the
    /// built-in one, if there is one.
    fn found(self, key: &str) -> Option<&'static str> {
        let own = self.site.words.get(self.code).and_then(|w| w.get(key));
        own.map(String::as_str)
            .or_else(|| words::found(self.code, key))
    }

    /// A link to `path` that keeps this language.
    pub fn href(self, path: &str) -> String {
        with_language(&prefixed(&self.site.prefix, path), self.code)
    }

    /// [`Lang::href`] escaped for an HTML attribute, as the templates'
    /// `href(path)` writes it.
    pub fn href_attribute(self, path: &str) -> String {
        escaped_for_attribute(self.href(path))
    }

    /// Appends [`Lang::href_attribute`] of the path `parts` make, one after
    /// the other, to `html`: a page with links on every line writes them
    /// in place rather than building each as a string.
    pub fn write_href<'p>(self, html: &mut String, parts: impl IntoIterator<Item = &'p str>) {
        let prefix = self.site.prefix.as_str();
        write_attribute(html, prefix);
        let mut parts = parts.into_iter().peekable();
        let first = parts.next();
        // The home of a procedure under a prefix is the prefix itself.
        let home = first == Some("/") && parts.peek().is_none();
        let mut queried = prefix.contains('?');
        if prefix.is_empty() || !home {
            for part in first.into_iter().chain(parts) {
                queried |= part.contains('?');
                write_attribute(html, part);
            }
        }
        // As `with_language` adds the language to a query already there.
        html.push_str(if queried { "&amp;lang=" } else { "?lang=" });
        write_attribute(html, self.code);
    }
}

/// `url` escaped for an HTML attribute (`&`, `<`, `>` and quotes), its `/`
/// kept: links read in the page's source as written.
pub fn escaped_for_attribute(url: String) -> String {
    if !needs_escaping(&url) {
        return url;
    }
    let mut escaped = String::with_capacity(url.len() + 8);
    write_attribute(&mut escaped, &url);
    escaped
}

// Bytes, not chars: every character escaped is ASCII, and a byte's test
// is a fraction of decoding each character.
fn needs_escaping(text: &str) -> bool {
    text.bytes()
        .any(|b| matches!(b, b'&' | b'<' | b'>' | b'"' | b'\''))
}

/// `text` written as minijinja's `HtmlEscape` writes it (the templates'
/// escaping, `/` included), but at once when nothing in it needs escaping,
/// as most words and names do not: for the HTML the pages write in code.
pub struct Escaped<'a>(pub &'a str);

impl std::fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = self.0;
        if text
            .bytes()
            .any(|b| matches!(b, b'&' | b'<' | b'>' | b'"' | b'\'' | b'/'))
        {
            minijinja::HtmlEscape(text).fmt(f)
        } else {
            f.write_str(text)
        }
    }
}

/// Appends `text` to `html` escaped as [`escaped_for_attribute`] escapes.
pub fn write_attribute(html: &mut String, text: &str) {
    if !needs_escaping(text) {
        html.push_str(text);
        return;
    }
    for c in text.chars() {
        match c {
            '&' => html.push_str("&amp;"),
            '<' => html.push_str("&lt;"),
            '>' => html.push_str("&gt;"),
            '"' => html.push_str("&quot;"),
            '\'' => html.push_str("&#x27;"),
            other => html.push(other),
        }
    }
}

/// `path` of a procedure whose pages live under `prefix`: its home is the
/// prefix itself.
pub fn prefixed(prefix: &str, path: &str) -> String {
    match path {
        "/" if !prefix.is_empty() => prefix.to_owned(),
        _ => [prefix, path].concat(),
    }
}

/// `path` with `lang=` added to its query: the one way links keep the page
/// language (templates call it as `href(path)`).
pub fn with_language(path: &str, lang: &str) -> String {
    let separator = if path.contains('?') { '&' } else { '?' };
    let mut url = String::with_capacity(path.len() + 6 + lang.len());
    url.push_str(path);
    url.push(separator);
    url.push_str("lang=");
    url.push_str(lang);
    url
}

#[cfg(test)]
mod tests {
    use super::Site;

    /// The pages' escaping writes what the templates' does, whatever the
    /// text holds.
    #[test]
    fn text_is_escaped_as_the_templates_escape_it() {
        for text in [
            "",
            "Identity card",
            "Pièce d'identité",
            "<b>Master</b> & co",
            "\"quoted\" 'single' a/b",
            "é/<>&\"'",
            "&amp; already",
        ] {
            assert_eq!(
                super::Escaped(text).to_string(),
                minijinja::HtmlEscape(text).to_string(),
                "{text}"
            );
        }
    }

    fn site(languages: Vec<&'static str>) -> Site {
        Site {
            languages,
            prefix: "/doctorat".into(),
            ..Site::default()
        }
    }

    /// A link written in place is the link `href_attribute` gives, on a
    /// site with a prefix and one without, its parts escaped.
    #[test]
    fn a_link_written_in_place_is_the_link_given() {
        for prefix in ["", "/doctorat"] {
            let site = Site::kept(Site {
                prefix: prefix.into(),
                ..site(vec!["fr", "en"])
            });
            let lang = super::Lang::default_of(site);
            for parts in [
                &["/"][..],
                &[
                    "/candidatures/",
                    "c1",
                    "/pieces/",
                    "resume",
                    "/fichier-envoye",
                ],
                &["/dossier/", "a&b\"<c>'"],
                &["/formations", "?q=1"],
            ] {
                let mut written = String::from("<a href=\"");
                lang.write_href(&mut written, parts.iter().copied());
                let given = lang.href_attribute(&parts.concat());
                assert_eq!(written, format!("<a href=\"{given}"), "{prefix} {parts:?}");
            }
        }
        let lang = super::Lang::default_of(Site::kept(site(vec!["fr"])));
        assert_eq!(
            lang.href_attribute("/dossier/a&b\""),
            "/doctorat/dossier/a&amp;b&quot;?lang=fr"
        );
    }

    #[test]
    fn a_site_saying_what_an_earlier_one_says_is_that_one() {
        let first = Site::kept(site(vec!["fr", "en"]));
        let same = Site::kept(site(vec!["fr", "en"]));
        let other = Site::kept(site(vec!["en", "fr"]));
        assert!(std::ptr::eq(first, same));
        assert!(!std::ptr::eq(first, other));
        assert_eq!(other.languages, ["en", "fr"]);
    }
}
