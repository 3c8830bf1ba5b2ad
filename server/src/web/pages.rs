//! Server-rendered pages: templates embedded in the binary, values escaped.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use guichet_engine::{Engine, SledStore};
use minijinja::Environment;
use serde_json::{json, Value};

use super::strings::strings;

/// The stylesheet, embedded.
pub const STYLESHEET: &str = include_str!("../../assets/guichet.css");

/// The script that makes forms live, embedded.
pub const SCRIPT: &str = include_str!("../../assets/guichet.js");

/// Every page template, embedded in the binary.
const TEMPLATES: &[(&str, &str)] = &[
    ("layout.html", include_str!("../../templates/layout.html")),
    ("home.html", include_str!("../../templates/home.html")),
    ("error.html", include_str!("../../templates/error.html")),
    ("form.html", include_str!("../../templates/form.html")),
    ("message.html", include_str!("../../templates/message.html")),
    (
        "dashboard.html",
        include_str!("../../templates/dashboard.html"),
    ),
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
        "candidature.html",
        include_str!("../../templates/candidature.html"),
    ),
];

/// The page templates.
pub struct Pages {
    templates: Environment<'static>,
    css_version: String,
    js_version: String,
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

impl Pages {
    /// Compiles the embedded templates.
    pub fn new() -> anyhow::Result<Self> {
        let mut templates = Environment::new();
        templates.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        for (name, source) in TEMPLATES {
            templates.add_template(name, source)?;
        }
        Ok(Self {
            templates,
            css_version: content_version(STYLESHEET),
            js_version: content_version(SCRIPT),
        })
    }

    /// Renders template `name` with `values` (the common values added).
    pub fn render(&self, name: &str, status: StatusCode, values: Value) -> Response {
        let rendered = self
            .templates
            .get_template(name)
            .and_then(|t| t.render(minijinja::value::Serde(&values)));
        match rendered {
            Ok(html) => (status, Html(html)).into_response(),
            Err(error) => {
                tracing::error!(%error, template = name, "page could not be rendered");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
            }
        }
    }

    /// Values every page uses: language, words, institution, stylesheet version.
    pub fn common(&self, engine: &Engine<SledStore>, lang: &str) -> Value {
        let definition = engine.definition().file();
        json!({
            "lang": lang,
            "t": strings(lang),
            "institution": definition.title.get(lang),
            "css_version": self.css_version,
            "js_version": self.js_version,
        })
    }

    /// The home page: the procedure, its campaign and its catalogue.
    pub fn home(&self, engine: &Engine<SledStore>, lang: &str) -> Response {
        let definition = engine.definition();
        let file = definition.file();
        let composante = |key: &Option<String>| -> Option<String> {
            let list = definition.list(file.composantes.as_deref()?)?;
            Some(list.row(key.as_deref()?)?.get(&list.label)?.clone())
        };
        let formations: Vec<Value> = file
            .formations
            .iter()
            .map(|f| json!({"title": f.title.get(lang), "composante": composante(&f.composante)}))
            .collect();
        let mut values = self.common(engine, lang);
        if let Value::Object(map) = &mut values {
            map.insert("opens".into(), json!(file.campaign.opens));
            map.insert("closes".into(), json!(file.campaign.closes));
            map.insert(
                "open".into(),
                json!(definition.campaign_is_open(jiff::Timestamp::now())),
            );
            map.insert("formations".into(), json!(formations));
        }
        self.render("home.html", StatusCode::OK, values)
    }

    /// A 404 page in the user's language.
    pub fn not_found(&self, engine: &Engine<SledStore>, lang: &str) -> Response {
        let mut values = self.common(engine, lang);
        let t = strings(lang);
        if let Value::Object(map) = &mut values {
            map.insert("heading".into(), t["not_found"].clone());
            map.insert("message".into(), t["not_found_text"].clone());
        }
        self.render("error.html", StatusCode::NOT_FOUND, values)
    }
}
