//! The catalogue: search by words (accents and case ignored), browse by
//! composante, and each formation's page.

use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::Response;
use guichet_engine::model::FormationDef;
use guichet_engine::Definition;
use serde::{Deserialize, Serialize};

use super::error::PageError;
use super::extract::Visit;
use super::site::Lang;

pub use guichet_engine::fold;

/// The label of composante `key`, from the definition's composantes list.
pub fn composante_label(
    definition: &Definition,
    key: Option<&str>,
    language: &str,
) -> Option<String> {
    let list = definition.list(definition.file().composantes.as_deref()?)?;
    Some(list.label_in(list.row(key?)?, language)?.clone())
}

#[derive(Deserialize, Default)]
pub struct CatalogueQuery {
    q: Option<String>,
    composante: Option<String>,
}

#[derive(Serialize)]
struct FormationLine<'a> {
    id: &'a str,
    title: &'a str,
    composante: Option<String>,
}

#[derive(Serialize)]
struct ComposanteOption {
    id: String,
    label: Option<String>,
    selected: bool,
}

/// Why applications cannot be made now, if they cannot: before the campaign
/// opens, or after it closes.
pub fn campaign_note(definition: &Definition, now: jiff::Timestamp, lang: Lang) -> Option<String> {
    let campaign = &definition.file().campaign;
    if now < definition.campaign_opens_at() {
        Some(
            lang.t("campaign_not_yet")
                .replace("{date}", &campaign.opens),
        )
    } else if now >= definition.campaign_closes_at() {
        Some(lang.t("campaign_over").replace("{date}", &campaign.closes))
    } else {
        None
    }
}

#[derive(Serialize)]
struct CataloguePage<'a> {
    campaign: Option<String>,
    q: String,
    count: usize,
    formations: Vec<FormationLine<'a>>,
    composantes: Vec<ComposanteOption>,
}

fn composantes(
    definition: &Definition,
    selected: Option<&str>,
    lang: Lang,
) -> Vec<ComposanteOption> {
    let Some(list) = definition
        .file()
        .composantes
        .as_deref()
        .and_then(|id| definition.list(id))
    else {
        return Vec::new();
    };
    list.rows
        .iter()
        .map(|row| {
            let id = row.get(&list.key).cloned().unwrap_or_default();
            ComposanteOption {
                selected: Some(id.as_str()) == selected,
                label: list.label_in(row, lang.code()).cloned(),
                id,
            }
        })
        .collect()
}

/// Whether every word (folded) is in the formation's titles, keywords,
/// description or composante.
fn matches_words(
    definition: &Definition,
    formation: &FormationDef,
    words: &[String],
    lang: Lang,
) -> bool {
    // No search (the catalogue as most see it): nothing to fold.
    if words.is_empty() {
        return true;
    }
    let mut haystack = format!(
        "{} {} {}",
        formation.title.get("fr"),
        formation.title.get("en"),
        formation.keywords.join(" ")
    );
    if let Some(description) = &formation.description {
        haystack.push_str(description.get(lang.code()));
    }
    if let Some(label) = composante_label(definition, formation.composante.as_deref(), lang.code())
    {
        haystack.push_str(&label);
    }
    let haystack = fold(&haystack);
    words.iter().all(|w| haystack.contains(w.as_str()))
}

/// `GET /formations`
pub async fn catalogue(visit: Visit, Query(query): Query<CatalogueQuery>) -> Response {
    let definition = visit.state.engine.definition();
    render_catalogue(&visit, &definition, &query)
}

/// The catalogue of `definition`, searched by `query`.
pub fn render_catalogue(
    visit: &Visit,
    definition: &Definition,
    query: &CatalogueQuery,
) -> Response {
    let lang = visit.lang;
    let words: Vec<String> = query
        .q
        .as_deref()
        .unwrap_or("")
        .split_whitespace()
        .map(fold)
        .collect();
    let composante = query.composante.as_deref().filter(|c| !c.is_empty());
    let formations: Vec<FormationLine> = definition
        .file()
        .formations
        .iter()
        .filter(|f| composante.is_none() || f.composante.as_deref() == composante)
        .filter(|f| matches_words(definition, f, &words, lang))
        .map(|f| FormationLine {
            id: &f.id,
            title: f.title.get(lang.code()),
            composante: composante_label(definition, f.composante.as_deref(), lang.code()),
        })
        .collect();
    let page = CataloguePage {
        campaign: campaign_note(definition, visit.state.clock.now(), lang),
        q: query.q.clone().unwrap_or_default(),
        count: formations.len(),
        formations,
        composantes: composantes(definition, composante, lang),
    };
    visit.render("catalogue.html", StatusCode::OK, &page)
}

#[derive(Serialize)]
struct FormationView<'a> {
    id: &'a str,
    title: &'a str,
    pieces: Vec<&'a str>,
    form: Option<&'a str>,
    composante: Option<String>,
    description: Option<&'a str>,
}

#[derive(Serialize)]
struct FormationPage<'a> {
    formation: FormationView<'a>,
    /// Why one cannot apply now; no apply link then.
    campaign: Option<String>,
}

/// `GET /formations/{id}`
pub async fn formation(visit: Visit, Path(id): Path<String>) -> Result<Response, PageError> {
    let definition = visit.state.engine.definition();
    render_formation(&visit, &definition, &id)
}

/// The page of formation `id` of `definition`.
pub fn render_formation(
    visit: &Visit,
    definition: &Definition,
    id: &str,
) -> Result<Response, PageError> {
    let formation = definition.formation(id).ok_or(PageError::NotFound)?;
    let code = visit.lang.code();
    let view = FormationView {
        id: &formation.id,
        title: formation.title.get(code),
        pieces: formation
            .pieces
            .iter()
            .filter_map(|p| definition.piece(p))
            .map(|p| p.label.get(code))
            .collect(),
        form: formation
            .form
            .as_deref()
            .and_then(|f| definition.file().forms.iter().find(|x| x.id == f))
            .map(|f| f.title.get(code)),
        composante: composante_label(definition, formation.composante.as_deref(), code),
        description: formation.description.as_ref().map(|d| d.get(code)),
    };
    let page = FormationPage {
        formation: view,
        campaign: campaign_note(definition, visit.state.clock.now(), visit.lang),
    };
    Ok(visit.render("formation.html", StatusCode::OK, &page))
}

#[cfg(test)]
mod tests {
    use super::fold;

    const SAMPLES: [&str; 6] = [
        "Géologie",
        "OCÉANOGRAPHIE",
        "Œuvre",
        "Ångström Núñez Łódź",
        "Curaçao ÆTHER",
        "Écologie ﬁne", // a ligature NFD keeps
    ];

    /// The page script narrows lists with its own `fold`; run by Node.js, it
    /// must give what the server's search gives.
    #[test]
    fn the_page_script_folds_as_the_server_does() {
        let script = super::super::pages::SCRIPT;
        let start = script.find("function fold(").expect("fold in guichet.js");
        let end = start + script[start..].find("\n  }\n").expect("end of fold") + 4;
        let samples = serde_json::to_string(&SAMPLES).expect("json");
        let program = format!(
            "{}\nprocess.stdout.write(JSON.stringify({samples}.map(fold)));",
            &script[start..end]
        );
        let output = std::process::Command::new("node")
            .args(["-e", &program])
            .output()
            .expect("node (the test script needs Node.js) runs");
        assert!(output.status.success(), "{output:?}");
        let folded: Vec<String> = serde_json::from_slice(&output.stdout).expect("json");
        let expected: Vec<String> = SAMPLES.iter().map(|s| fold(s)).collect();
        assert_eq!(folded, expected);
    }
}
