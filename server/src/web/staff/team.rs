//! The team page, for administrators: the staff accounts with their roles
//! and scopes, a form to add one (its owner gets a link to choose a
//! password), and a way to disable or enable an account.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use guichet_engine::model::RoleKind;
use serde::Serialize;

use super::super::error::{blocking, PageError, PageResult};
use super::super::extract::CsrfForm;
use super::super::forms::{valid_email, valid_name};
use super::member::Staff;
use crate::staff_store::{Rights, StaffMember};

#[derive(Serialize)]
struct MemberLine {
    email: String,
    name: String,
    roles: String,
    scope: String,
    admin: bool,
    status: String,
    /// Where its enable/disable button posts; none for oneself.
    change: Option<String>,
    disabled: bool,
}

#[derive(Serialize)]
struct RoleChoice {
    id: String,
    label: String,
    checked: bool,
}

#[derive(Serialize)]
struct TeamPage {
    members: Vec<MemberLine>,
    roles: Vec<RoleChoice>,
    values: std::collections::BTreeMap<&'static str, String>,
    errors: Vec<String>,
    link: Option<String>,
    action: String,
}

fn render(
    staff: &Staff,
    members: Vec<StaffMember>,
    (values, errors, link): (Vec<(String, String)>, Vec<String>, Option<String>),
) -> PageResult {
    let lang = staff.visit.lang;
    let code = lang.code();
    let definition = staff.visit.state.engine.definition();
    let role_label = |id: &str| {
        definition
            .role(id)
            .map_or(id.to_owned(), |r| r.label.get(code).to_owned())
    };
    let lines = members
        .iter()
        .map(|m| MemberLine {
            email: m.account.email.clone(),
            name: m.name(),
            roles: m
                .rights
                .roles
                .iter()
                .map(|r| role_label(r))
                .collect::<Vec<_>>()
                .join(", "),
            scope: m
                .rights
                .scope
                .iter()
                .cloned()
                .collect::<Vec<_>>()
                .join(", "),
            admin: m.rights.admin,
            status: lang.t(match (m.rights.disabled, m.account.password.is_some()) {
                (true, _) => "staff_disabled",
                (false, true) => "staff_active",
                (false, false) => "staff_no_password",
            }),
            change: (m.account.id != staff.member.account.id)
                .then(|| lang.href(&format!("/staff/equipe/{}", m.account.id))),
            disabled: m.rights.disabled,
        })
        .collect();
    let checked = |id: &str| values.iter().any(|(k, v)| k == "role" && v == id);
    let roles = definition
        .file()
        .roles
        .iter()
        .filter(|r| r.kind == RoleKind::Staff)
        .map(|r| RoleChoice {
            id: r.id.clone(),
            label: r.label.get(code).to_owned(),
            checked: checked(&r.id),
        })
        .collect();
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    // What was typed comes back (every key present: the template reads each).
    let values = ["email", "first_name", "last_name", "scope", "admin"]
        .into_iter()
        .map(|key| {
            let given = values
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.clone());
            (key, given.unwrap_or_default())
        })
        .collect();
    let page = TeamPage {
        members: lines,
        roles,
        values,
        errors,
        link,
        action: lang.href("/staff/equipe"),
    };
    Ok(staff.render("staff/team.html", status, &page))
}

async fn members(staff: &Staff) -> Result<Vec<StaffMember>, PageError> {
    let state = Arc::clone(&staff.visit.state);
    let members = blocking(move || {
        let procedure = state.procedure.as_deref();
        let all = state.staff.members()?;
        Ok::<_, crate::account_store::AccountError>(
            all.into_iter()
                .filter(|m| m.rights.works_in(procedure))
                .collect(),
        )
    });
    Ok(members.await??)
}

/// `GET /staff/equipe`
pub async fn page(staff: Staff) -> PageResult {
    staff.admin()?;
    let members = members(&staff).await?;
    render(&staff, members, (Vec::new(), Vec::new(), None))
}

/// `POST /staff/equipe`: adds a member; the page shows the link they choose
/// their password with (valid a week), for the administrator to pass on.
pub async fn add(staff: Staff, form: CsrfForm) -> PageResult {
    staff.admin()?;
    let lang = staff.visit.lang;
    let definition = staff.visit.state.engine.definition();
    let email = form.trimmed("email").to_lowercase();
    let (first, last) = (form.trimmed("first_name"), form.trimmed("last_name"));
    let rights = Rights {
        roles: form
            .0
            .iter()
            .filter(|(k, _)| k == "role")
            .map(|(_, v)| v.clone())
            .collect(),
        scope: form
            .trimmed("scope")
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect::<BTreeSet<_>>(),
        admin: form.get("admin").is_some(),
        disabled: false,
        procedure: Some(definition.file().id.clone()),
    };
    let mut errors = Vec::new();
    if !valid_email(&email) {
        errors.push(lang.t("email_invalid"));
    }
    if first.is_empty() || last.is_empty() || !valid_name(first) || !valid_name(last) {
        errors.push(lang.t("name_invalid"));
    }
    if rights.scope.is_empty() {
        errors.push(lang.t("staff_scope_needed"));
    }
    errors.extend(rights.unknown_to(&definition));
    if !errors.is_empty() {
        let members = members(&staff).await?;
        return render(&staff, members, (form.0.clone(), errors, None));
    }
    let state = Arc::clone(&staff.visit.state);
    let names = (first.to_owned(), last.to_owned());
    let link = blocking(move || -> Result<Option<String>, PageError> {
        let now = jiff::Timestamp::now();
        let name = Some((names.0.as_str(), names.1.as_str()));
        let (member, _) = state.staff.add(&email, name, rights, now)?;
        if member.account.password.is_some() {
            return Ok(None);
        }
        let (link, _) = state
            .staff
            .password_link(&member.account.id, &state.base_url, now)?;
        Ok(Some(link))
    })
    .await??;
    let members = members(&staff).await?;
    render(&staff, members, (Vec::new(), Vec::new(), link))
}

/// `POST /staff/equipe/{id}`: disables (`action=disable`) or enables a
/// member, or gives a new link to choose a password (`action=link`, for a
/// forgotten one).
pub async fn change(staff: Staff, Path(id): Path<String>, form: CsrfForm) -> PageResult {
    staff.admin()?;
    if id == staff.member.account.id {
        return Err(PageError::Forbidden);
    }
    let state = Arc::clone(&staff.visit.state);
    if form.get("action") == Some("link") {
        let link = blocking(move || -> Result<String, PageError> {
            let procedure = state.procedure.as_deref();
            let member = state.staff.member(&id)?;
            member
                .filter(|m| m.rights.works_in(procedure))
                .ok_or(PageError::NotFound)?;
            let now = jiff::Timestamp::now();
            Ok(state.staff.password_link(&id, &state.base_url, now)?.0)
        })
        .await??;
        let members = members(&staff).await?;
        return render(&staff, members, (Vec::new(), Vec::new(), Some(link)));
    }
    let disable = form.get("action") == Some("disable");
    blocking(move || -> Result<(), PageError> {
        let procedure = state.procedure.as_deref();
        let member = state.staff.member(&id)?;
        let member = member
            .filter(|m| m.rights.works_in(procedure))
            .ok_or(PageError::NotFound)?;
        let rights = Rights {
            disabled: disable,
            ..member.rights
        };
        Ok(state.staff.set_rights(&id, &rights)?)
    })
    .await??;
    Ok(Redirect::to(&staff.visit.href("/staff/equipe")).into_response())
}
