//! Group commit: asset writes that arrive together share one transaction, so one fsync
//! (synchronous=FULL) serves them all; a big event delivery applied concurrently writes
//! hundreds of records per fsync instead of one. Each write runs in its own savepoint, so one
//! that fails (a lost race) rolls back alone; every caller hears its result only after the
//! commit, so nothing is reported done before it is durable.

use std::collections::VecDeque;
use std::sync::Mutex;

use rusqlite::Connection;

use super::{Inner, LocalStore, unavailable};
use crate::store::StoreError;

/// Hands a write's result to its caller once the transaction's fate is known.
type Finish = Box<dyn FnOnce(Result<(), String>) + Send>;
/// A queued write: runs inside the group's transaction.
type Job = Box<dyn FnOnce(&mut Connection) -> Finish + Send>;

/// Most writes in one transaction (bounds how long the writer is held).
const MAX_GROUP: usize = 256;

/// Writes waiting for the writer connection.
#[derive(Default)]
pub(super) struct WriteQueue(Mutex<VecDeque<Job>>);

impl WriteQueue {
    fn push(&self, job: Job) {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push_back(job);
    }

    fn take(&self) -> Vec<Job> {
        let mut queue = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let n = queue.len().min(MAX_GROUP);
        queue.drain(..n).collect()
    }
}

impl LocalStore {
    /// Runs `op` in the next group transaction; its result once that committed.
    pub(super) async fn write_grouped<T: Send + 'static>(
        &self,
        op: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.inner
            .queue
            .push(Box::new(move |conn: &mut Connection| {
                let result = in_savepoint(conn, op);
                Box::new(move |committed: Result<(), String>| {
                    let _ = tx.send(match committed {
                        Ok(()) => result,
                        Err(why) => Err(StoreError::Unavailable(anyhow::anyhow!(
                            "committing the write failed: {why}"
                        ))),
                    });
                }) as Finish
            }));
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || run_queue(&inner))
            .await
            .map_err(|e| StoreError::Unavailable(e.into()))?;
        // Our write ran in this call's group or in one another call was already running.
        rx.await
            .map_err(|_| StoreError::Unavailable(anyhow::anyhow!("the write was dropped")))?
    }
}

/// Takes the writer and commits queued writes, a group at a time, until none is left.
fn run_queue(inner: &Inner) {
    let mut conn = inner
        .writer
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    loop {
        let jobs = inner.queue.take();
        if jobs.is_empty() {
            return;
        }
        if !conn.is_autocommit() {
            // A group cut short (a panic mid-way) left its transaction open: it never committed.
            let _ = conn.execute_batch("ROLLBACK");
        }
        if let Err(err) = conn.execute_batch("BEGIN IMMEDIATE") {
            // Nothing ran: dropping the jobs tells each caller its write did not happen.
            tracing::warn!(error = %err, writes = jobs.len(), "could not start a write transaction");
            drop(jobs);
            continue;
        }
        let finishes: Vec<Finish> = jobs.into_iter().map(|job| job(&mut conn)).collect();
        let committed = conn.execute_batch("COMMIT").map_err(|err| {
            let _ = conn.execute_batch("ROLLBACK");
            err.to_string()
        });
        for finish in finishes {
            finish(committed.clone());
        }
    }
}

/// Runs `op` so that its failure undoes only its own changes.
fn in_savepoint<T>(
    conn: &mut Connection,
    op: impl FnOnce(&mut Connection) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    conn.execute_batch("SAVEPOINT write").map_err(unavailable)?;
    let result = op(conn);
    let end = if result.is_ok() {
        "RELEASE write"
    } else {
        "ROLLBACK TO write; RELEASE write"
    };
    conn.execute_batch(end).map_err(unavailable)?;
    result
}
