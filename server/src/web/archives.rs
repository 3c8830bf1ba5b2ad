//! The staff's archives of PDFs, each being built or built, by id, and the
//! folder they are written in: what a procedure keeps of them between the
//! requests that start, follow and download one (the staff's archive
//! pages).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::web::error::PageError;

/// How long a finished archive is kept.
pub const KEPT: Duration = Duration::from_secs(3600);

/// One archive being built, or built.
pub struct Job {
    /// The staff member who asked (nobody else sees it).
    pub(in crate::web) owner: String,
    /// Candidatures to put in.
    pub(in crate::web) total: usize,
    /// Candidatures put in so far.
    pub(in crate::web) done: AtomicUsize,
    /// The archive once written, or why it could not be.
    pub(in crate::web) result: Mutex<Option<Result<PathBuf, String>>>,
    pub(in crate::web) started: Instant,
}

/// The archives of the server's staff, by id, and the folder they are written in.
pub struct Jobs {
    jobs: Mutex<HashMap<String, Arc<Job>>>,
    folder: PathBuf,
    /// Most candidatures one archive holds: a bigger view is filtered first
    /// (a ZIP of thousands of PDFs is hours of work and gigabytes on disk).
    pub(in crate::web) max: usize,
}

impl Jobs {
    /// The jobs of a procedure whose archives (of at most `max`
    /// candidatures) go in `folder`: left-overs of an earlier run are deleted.
    pub fn new(folder: PathBuf, max: usize) -> std::io::Result<Jobs> {
        match std::fs::remove_dir_all(&folder) {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => return Err(error),
            _ => {}
        }
        std::fs::create_dir_all(&folder)?;
        Ok(Jobs {
            jobs: Mutex::default(),
            folder,
            max,
        })
    }

    pub(in crate::web) fn get(&self, id: &str, owner: &str) -> Option<Arc<Job>> {
        let jobs = self
            .jobs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        jobs.get(id).filter(|job| job.owner == owner).cloned()
    }

    /// The id of the archive `owner` asked for that is still being built,
    /// if one is: a member's archives are built one at a time.
    pub(in crate::web) fn building_for(&self, owner: &str) -> Option<String> {
        let jobs = self
            .jobs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        jobs.iter()
            .find(|(_, job)| {
                job.owner == owner
                    && job
                        .result
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .is_none()
            })
            .map(|(id, _)| id.clone())
    }

    /// Keeps `job` under a new id, after forgetting (and deleting) the
    /// archives older than [`KEPT`]; the id and where its archive goes.
    pub(in crate::web) fn start(&self, job: Arc<Job>) -> Result<(String, PathBuf), PageError> {
        let id = crate::account_store::random_token().map_err(PageError::internal)?;
        let mut jobs = self
            .jobs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        jobs.retain(|_, old| {
            let keep = old.started.elapsed() < KEPT;
            if !keep {
                let result = old
                    .result
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                if let Some(Ok(path)) = result.as_ref() {
                    let _ = std::fs::remove_file(path);
                }
            }
            keep
        });
        jobs.insert(id.clone(), job);
        let path = self.folder.join(format!("{id}.zip"));
        Ok((id, path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(owner: &str) -> Arc<Job> {
        Arc::new(Job {
            owner: owner.into(),
            total: 3,
            done: AtomicUsize::new(0),
            result: Mutex::new(None),
            started: Instant::now(),
        })
    }

    #[test]
    fn a_members_archive_being_built_is_found_until_it_is_written() {
        let folder = tempfile::tempdir().unwrap();
        let jobs = Jobs::new(folder.path().join("archives"), 500).unwrap();
        assert_eq!(jobs.building_for("claire"), None);
        let claires = job("claire");
        let (id, path) = jobs.start(Arc::clone(&claires)).unwrap();
        jobs.start(job("paul")).unwrap();
        assert_eq!(jobs.building_for("claire"), Some(id));
        *claires.result.lock().unwrap() = Some(Ok(path));
        assert_eq!(
            jobs.building_for("claire"),
            None,
            "written: another may start"
        );
        assert!(jobs.building_for("paul").is_some(), "each member's own");
    }
}
