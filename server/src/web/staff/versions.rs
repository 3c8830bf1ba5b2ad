//! The versions page, for administrators: every version of the definition
//! made current (when, by whom), what each changes from the one serving now,
//! and restoring one. Restoring publishes it as a new version would be:
//! checked, its scenarios played, or refused with why.

use std::sync::Arc;

use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use guichet_engine::diff;
use serde::Serialize;

use super::super::error::{blocking, PageError, PageResult};
use super::super::extract::CsrfForm;
use super::member::Staff;
use crate::publish::{self, Refusal};

#[derive(Serialize)]
struct VersionLine {
    at: String,
    by: String,
    hash: String,
    current: bool,
    /// What restoring it would change, one line each.
    changes: Vec<String>,
    /// Where its restore button posts (the latest line of each earlier version).
    restore: Option<String>,
}

#[derive(Serialize)]
struct VersionsPage {
    versions: Vec<VersionLine>,
    error: Option<String>,
    /// Dossiers following an earlier version than the one in service.
    behind: usize,
    /// What the last migration did, when the page answers one.
    migrated: Option<Migration>,
}

/// What moving the dossiers to the version in service did.
#[derive(Serialize, Default)]
struct Migration {
    moved: usize,
    /// Each dossier left where it was, with why.
    refused: Vec<(String, Vec<String>)>,
}

async fn render(staff: &Staff, error: Option<String>, migrated: Option<Migration>) -> PageResult {
    let state = Arc::clone(&staff.visit.state);
    let lang = staff.visit.lang;
    let (versions, behind) = blocking(move || -> Result<(Vec<VersionLine>, usize), PageError> {
        let current = state.engine.definition();
        let publications = state.engine.publications()?;
        let mut offered = std::collections::BTreeSet::new();
        let mut lines = Vec::new();
        // Newest first: the restore button goes on each version's latest line.
        for publication in publications.iter().rev() {
            let is_current = publication.hash == current.hash();
            let first_seen = offered.insert(publication.hash.clone());
            let mut changes = Vec::new();
            if !is_current && first_seen {
                if let Some(version) = state.engine.version(&publication.hash)? {
                    changes = diff::changes(&current, &version)
                        .iter()
                        .map(ToString::to_string)
                        .collect();
                }
            }
            lines.push(VersionLine {
                at: publication
                    .at
                    .to_zoned(current.timezone().clone())
                    .strftime("%Y-%m-%d %H:%M")
                    .to_string(),
                by: publication.by.clone(),
                hash: publication.hash.chars().take(12).collect(),
                current: is_current && lines.iter().all(|l: &VersionLine| !l.current),
                changes,
                restore: (!is_current && first_seen)
                    .then(|| lang.href(&format!("/staff/versions/{}", publication.hash))),
            });
        }
        // Counted from the index of dossiers by version, none read.
        let behind: usize = state
            .engine
            .dossiers_per_version()?
            .iter()
            .filter(|(hash, _)| hash.as_str() != current.hash())
            .map(|(_, count)| count)
            .sum();
        Ok((lines, behind))
    })
    .await??;
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let page = VersionsPage {
        versions,
        error,
        behind,
        migrated,
    };
    Ok(staff.render("staff/versions.html", status, &page))
}

/// `GET /staff/versions`.
pub async fn page(staff: Staff) -> PageResult {
    staff.admin()?;
    render(&staff, None, None).await
}

/// `POST /staff/versions/migrer`: moves every dossier it can to the version
/// in service, by its `migrate:` mappings, and says why not the others.
pub async fn migrate(staff: Staff, _: CsrfForm) -> PageResult {
    staff.admin()?;
    let state = Arc::clone(&staff.visit.state);
    let actor = guichet_engine::Actor::new("administrator", &staff.member.account.email)
        .named(staff.member.name());
    let now = state.clock.now();
    let migration = blocking(move || -> Result<Migration, PageError> {
        let mut migration = Migration::default();
        let current = state.engine.definition();
        // The ids only are kept while the store is read; each dossier is
        // read again as it is moved.
        let mut behind = Vec::new();
        state.engine.each_dossier(&mut |dossier| {
            if dossier.definition != current.hash() {
                behind.push(dossier.id);
            }
        })?;
        for id in behind {
            match state.engine.migrate(&id, &actor, now)? {
                guichet_engine::Migrated::Moved => migration.moved += 1,
                guichet_engine::Migrated::AlreadyCurrent => {}
                guichet_engine::Migrated::Refused(reasons) => {
                    migration.refused.push((id, reasons));
                }
            }
        }
        Ok(migration)
    })
    .await??;
    tracing::info!(
        by = %staff.member.account.email,
        moved = migration.moved,
        refused = migration.refused.len(),
        "dossiers moved to the version in service"
    );
    render(&staff, None, Some(migration)).await
}

/// `POST /staff/versions/{hash}`: makes that version current again.
pub async fn restore(staff: Staff, Path(hash): Path<String>, _: CsrfForm) -> PageResult {
    staff.admin()?;
    let state = Arc::clone(&staff.visit.state);
    let by = staff.member.account.email.clone();
    let restored = blocking(move || publish::restore(&state, &hash, &by)).await?;
    match restored {
        Ok(_) => {
            tracing::info!(by = %staff.member.account.email, "an earlier version restored");
            Ok(Redirect::to(&staff.visit.href("/staff/versions")).into_response())
        }
        Err(Refusal::UnknownVersion(_)) => Err(PageError::NotFound),
        Err(refusal) => render(&staff, Some(refusal.to_string()), None).await,
    }
}
