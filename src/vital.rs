//! The tasks the switch cannot serve without, and what a failure of one of them does: it ends the
//! process.
//!
//! They are the journal's committer, the ISO 8583 and HTTPS listeners, the housekeeping that
//! bounds memory (holds, answers, sessions), the periodic-fee scheduler, the webhook deliverer and
//! the watch for a take-over. [`VitalTasks::supervise`] returns [`VitalTaskFailed`] as soon as one
//! panics, fails, or ends before shutdown was asked for; `antaca serve` then exits at once with
//! [`EXIT_VITAL_TASK`], so that whatever restarts the switch (systemd, the chaos run, a standby)
//! takes over, and the fence keeps this instance's late commits out. Requests in flight meanwhile
//! are answered 9109 (not durable), never approved.
//!
//! Why not restart the task in place: the committer's queue, its batches in flight or in doubt and
//! the memory they are applied to are one state. Rebuilding it from the database is what start-up
//! does, and what the crash soak tests a hundred times over; an in-place restart would be a second
//! path, tested by nothing. Before this, one panic in the committer left a process that accepted
//! connections and answered 9109 to everything until someone restarted it (issue 23).
//!
//! A panic in one request's task (a network connection, an HTTP request) stays in that task:
//! tokio catches it, the peer sees its connection close, and the switch goes on.

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;

use futures_util::FutureExt;
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;

/// `antaca serve`'s exit status when a vital task failed (EX_SOFTWARE of sysexits.h).
pub const EXIT_VITAL_TASK: u8 = 70;

/// A vital task panicked, failed, or ended while the switch was meant to be serving.
#[derive(Debug, thiserror::Error)]
#[error("vital task `{task}` {reason}; the switch cannot serve without it")]
pub struct VitalTaskFailed {
    pub task: &'static str,
    pub reason: String,
}

/// How a task ended.
enum Ending {
    Returned(anyhow::Result<()>),
    Panicked(String),
}

/// The vital tasks of one running application.
#[derive(Default)]
pub struct VitalTasks {
    tasks: JoinSet<(&'static str, Ending)>,
    /// Tasks that end on shutdown (the others, such as the committer, outlive `supervise`).
    ending_on_shutdown: usize,
}

impl std::fmt::Debug for VitalTasks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VitalTasks").field("tasks", &self.tasks.len()).finish()
    }
}

impl VitalTasks {
    /// Spawns `task`, which must end once shutdown is asked for, and not before.
    pub fn spawn<F>(&mut self, name: &'static str, task: F)
    where
        F: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        self.ending_on_shutdown += 1;
        self.tasks.spawn(async move {
            let ending = match AssertUnwindSafe(task).catch_unwind().await {
                Ok(result) => Ending::Returned(result),
                Err(payload) => Ending::Panicked(panic_message(payload.as_ref())),
            };
            (name, ending)
        });
    }

    /// Watches a task spawned elsewhere that outlives shutdown (the journal's committer ends only
    /// when the state is dropped): any ending of it while supervised is a failure.
    pub fn watch(&mut self, name: &'static str, task: JoinHandle<()>) {
        self.tasks.spawn(async move {
            let ending = match task.await {
                Ok(()) => Ending::Returned(Ok(())),
                Err(error) if error.is_panic() => Ending::Panicked(panic_message(error.into_panic().as_ref())),
                Err(error) => Ending::Returned(Err(error.into())),
            };
            (name, ending)
        });
    }

    /// Waits until every task that ends on shutdown has ended, after `shutdown` was cancelled; or
    /// returns the first failure at once: a panic, an error, or an ending before shutdown. Dropping
    /// the set then detaches what is left (the committer goes on until the state is dropped).
    pub async fn supervise(mut self, shutdown: &CancellationToken) -> Result<(), VitalTaskFailed> {
        while self.ending_on_shutdown > 0 {
            let Some(joined) = self.tasks.join_next().await else {
                break;
            };
            let (task, ending) = joined.map_err(|error| VitalTaskFailed {
                task: "supervisor",
                reason: format!("lost a task: {error}"),
            })?;
            let reason = match ending {
                Ending::Panicked(message) => format!("panicked: {message}"),
                Ending::Returned(Err(error)) => format!("failed: {error:#}"),
                Ending::Returned(Ok(())) if !shutdown.is_cancelled() => "ended before shutdown".to_owned(),
                Ending::Returned(Ok(())) => {
                    self.ending_on_shutdown -= 1;
                    continue;
                }
            };
            return Err(VitalTaskFailed { task, reason });
        }
        Ok(())
    }
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(message) = payload.downcast_ref::<&str>() {
        (*message).to_owned()
    } else if let Some(message) = payload.downcast_ref::<String>() {
        message.clone()
    } else {
        "(a panic without a message)".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panic_is_reported_at_once_with_the_task_and_its_message() {
        let shutdown = CancellationToken::new();
        let mut vital = VitalTasks::default();
        let never = shutdown.clone();
        vital.spawn("listener", async move {
            never.cancelled().await;
            Ok(())
        });
        vital.spawn("committer", async { panic!("boom") });
        let failed = vital.supervise(&shutdown).await.unwrap_err();
        assert_eq!(failed.task, "committer");
        assert_eq!(failed.reason, "panicked: boom");
    }

    #[tokio::test]
    async fn a_watched_task_that_panics_is_a_failure() {
        let shutdown = CancellationToken::new();
        let mut vital = VitalTasks::default();
        let never = shutdown.clone();
        vital.spawn("listener", async move {
            never.cancelled().await;
            Ok(())
        });
        vital.watch("committer", tokio::spawn(async { panic!("stopped for good") }));
        let failed = vital.supervise(&shutdown).await.unwrap_err();
        assert_eq!(
            (failed.task, failed.reason.as_str()),
            ("committer", "panicked: stopped for good")
        );
    }

    #[tokio::test]
    async fn ending_before_shutdown_is_a_failure_and_after_it_is_not() {
        let shutdown = CancellationToken::new();
        let mut vital = VitalTasks::default();
        vital.spawn("housekeeping", async { Ok(()) });
        let failed = vital.supervise(&shutdown).await.unwrap_err();
        assert_eq!(failed.reason, "ended before shutdown");

        let mut vital = VitalTasks::default();
        let ends = shutdown.clone();
        vital.spawn("housekeeping", async move {
            ends.cancelled().await;
            Ok(())
        });
        // The committer outlives shutdown: supervision does not wait for it.
        vital.watch("committer", tokio::spawn(std::future::pending::<()>()));
        shutdown.cancel();
        vital.supervise(&shutdown).await.expect("a clean shutdown");
    }

    #[tokio::test]
    async fn an_error_is_a_failure_with_its_context() {
        let shutdown = CancellationToken::new();
        let mut vital = VitalTasks::default();
        vital.spawn("HTTPS listener", async { Err(anyhow::anyhow!("address in use")) });
        let failed = vital.supervise(&shutdown).await.unwrap_err();
        assert_eq!(
            failed.to_string(),
            "vital task `HTTPS listener` failed: address in use; the switch cannot serve without it"
        );
    }
}
