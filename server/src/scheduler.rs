//! Deadlines run by the server: at start-up (those that fell due while it was
//! stopped), then at a steady pace. Each deadline is a command of the
//! engine's system role, which applies it once per entry into its state: a
//! pass repeated, or run again after a restart, changes nothing more.

use std::sync::Arc;
use std::time::Duration;

use guichet_engine::{with_causes, Engine, SledStore};
use tokio::sync::{watch, Notify};

use crate::web::state::{report_outcome, Clock};

/// Runs what is due every `interval`, at the procedure's time, until `stop`.
pub async fn run(
    engine: Arc<Engine<SledStore>>,
    clock: Clock,
    interval: Duration,
    mail_wake: Arc<Notify>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let now = clock.now();
        let worker = Arc::clone(&engine);
        match tokio::task::spawn_blocking(move || worker.run_due(now)).await {
            Ok(Ok(handled)) => {
                for (due, result) in handled {
                    match result {
                        Ok(outcome) => {
                            tracing::info!(
                                dossier = %due.dossier,
                                candidature = %due.candidature,
                                deadline = %due.deadline,
                                mails = outcome.mails.len(),
                                "deadline handled"
                            );
                            report_outcome(&outcome, &mail_wake);
                        }
                        Err(error) => tracing::warn!(
                            dossier = %due.dossier,
                            deadline = %due.deadline,
                            error = %with_causes(&error),
                            "deadline not handled"
                        ),
                    }
                }
            }
            Ok(Err(error)) => {
                tracing::error!(error = %with_causes(&error), "deadlines could not be read")
            }
            Err(error) => tracing::error!(%error, "the scheduler's task failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = stop.changed() => return,
        }
    }
}
