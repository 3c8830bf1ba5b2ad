//! A candidature's complementary form, answered online on its own page like
//! a section (the same checks, the same live behaviour); complete, it stands
//! for its piece.

use std::sync::Arc;

use axum::extract::Path;
use axum::response::Response;
use guichet_engine::check_entry;
use guichet_engine::model::{FormDef, FormMode};
use guichet_engine::{base_context, Candidature, Command, Definition};
use serde_json::{Map, Value};

use super::candidature::act;
use super::dossier::{answers_from, preview_of, SectionForm};
use super::error::{PageError, PageResult};
use super::extract::{CsrfForm, OwnDossier};
use super::site::Lang;

/// The online form of `candidature`'s formation.
fn online_form<'d>(
    definition: &'d Definition,
    candidature: &Candidature,
) -> Result<&'d FormDef, PageError> {
    definition
        .form_of(&candidature.formation)
        .filter(|f| f.mode == FormMode::Online)
        .ok_or(PageError::NotFound)
}

fn page<'a>(form: &'a FormDef, id: &str, entry: Map<String, Value>) -> SectionForm<'a> {
    SectionForm {
        title: &form.title,
        help: form.help.as_ref(),
        fields: &form.fields,
        action: format!("/candidatures/{id}/formulaire-complementaire"),
        preview: format!("/candidatures/{id}/formulaire-complementaire/apercu"),
        back: (format!("/candidatures/{id}"), "back_to_candidature"),
        entry,
        problems: Vec::new(),
    }
}

/// `GET /candidatures/{id}/formulaire-complementaire`
pub async fn show(own: OwnDossier, Path(id): Path<String>) -> PageResult {
    let candidature = own.candidature(&id)?;
    let form = online_form(&own.definition, candidature)?;
    let entry = candidature.form.clone().unwrap_or_default();
    Ok(page(form, &id, entry).render(&own))
}

/// `POST /candidatures/{id}/formulaire-complementaire`: checked like a section, then saved.
pub async fn save(
    own: OwnDossier,
    Path(id): Path<String>,
    CsrfForm(pairs): CsrfForm,
) -> PageResult {
    let definition = Arc::clone(&own.definition);
    let candidature = own.candidature(&id)?;
    let form = online_form(&definition, candidature)?;
    let entry = answers_from(&form.fields, &pairs);
    let base = base_context(&definition, &own.dossier, own.visit.state.clock.now());
    let check =
        check_entry(&definition, &base, &form.fields, &entry).map_err(PageError::internal)?;
    if !check.problems.is_empty() {
        let mut again = page(form, &id, entry);
        again.problems = check.problems;
        return Ok(again.render(&own));
    }
    let command = Command::SaveForm {
        candidature: id.clone(),
        answers: check.answers,
    };
    act(own, &id, command).await
}

/// `POST /candidatures/{id}/formulaire-complementaire/apercu`: the live preview.
pub async fn preview(
    lang: Lang,
    own: Result<OwnDossier, PageError>,
    Path(id): Path<String>,
    form: Result<CsrfForm, Response>,
) -> Response {
    use axum::response::IntoResponse;
    let (Ok(own), Ok(CsrfForm(pairs))) = (own, form) else {
        return axum::http::StatusCode::UNAUTHORIZED.into_response();
    };
    let definition = Arc::clone(&own.definition);
    let Some(form) = own
        .candidature(&id)
        .ok()
        .and_then(|c| online_form(&definition, c).ok())
    else {
        return axum::http::StatusCode::NOT_FOUND.into_response();
    };
    preview_of(&own, &form.fields, &pairs, lang)
}
