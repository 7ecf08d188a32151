//! Group commit: batches written at the same moment by different callers go to the database
//! as one transaction. The first writer to find no commit running leads: it takes every batch
//! waiting (its own first), writes them together, tells each caller, and goes on while more
//! wait; the others only wait for their answer. Under many concurrent writers (deal intake)
//! the database commits once for many deals instead of once for each; a lone writer commits
//! at once, as before.
//!
//! Each batch stays atomic (a merged transaction applies all of them or none). If a merged
//! write fails for a reason that is not a collision, each of its batches is written alone, so
//! every caller gets its own batch's outcome.

use std::sync::Mutex;

use tokio::sync::oneshot;

use super::{Statements, write_retrying};
use crate::Op;
use sqlx::AnyPool;

/// The most batches, and records, one merged transaction takes.
const MOST_BATCHES: usize = 256;
const MOST_RECORDS: usize = 2_000;

type Waiter = oneshot::Sender<Result<(), sqlx::Error>>;

#[derive(Default)]
pub(super) struct GroupCommit {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Batches waiting to be written, in arrival order.
    waiting: Vec<(Vec<Op>, Waiter)>,
    /// A writer is leading: it will take what waits.
    leading: bool,
}

impl GroupCommit {
    /// Write `ops` (one batch), with whatever else is written at the same moment.
    pub(super) async fn write(
        &self,
        pool: &AnyPool,
        sql: &'static Statements,
        ops: Vec<Op>,
    ) -> Result<(), sqlx::Error> {
        let (tx, rx) = oneshot::channel();
        let lead = {
            let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
            s.waiting.push((ops, tx));
            !std::mem::replace(&mut s.leading, true)
        };
        if lead {
            self.lead(pool, sql).await;
        }
        rx.await.unwrap_or(Err(sqlx::Error::WorkerCrashed))
    }

    /// Write what waits, group by group, until nothing does.
    async fn lead(&self, pool: &AnyPool, sql: &'static Statements) {
        loop {
            let group = {
                let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
                let (mut n, mut records) = (0, 0);
                while n < s.waiting.len()
                    && n < MOST_BATCHES
                    && (n == 0 || records + s.waiting[n].0.len() <= MOST_RECORDS)
                {
                    records += s.waiting[n].0.len();
                    n += 1;
                }
                if n == 0 {
                    s.leading = false;
                    return;
                }
                s.waiting.drain(..n).collect::<Vec<_>>()
            };
            write_group(pool, sql, group).await;
        }
    }
}

async fn write_group(pool: &AnyPool, sql: &'static Statements, group: Vec<(Vec<Op>, Waiter)>) {
    if group.len() == 1 {
        for (ops, waiter) in group {
            let _ = waiter.send(write_retrying(pool, sql, &ops).await);
        }
        return;
    }
    let (batches, waiters): (Vec<Vec<Op>>, Vec<Waiter>) = group.into_iter().unzip();
    let merged: Vec<&Op> = batches.iter().flatten().collect();
    match write_retrying(pool, sql, &merged).await {
        Ok(()) => {
            for w in waiters {
                let _ = w.send(Ok(()));
            }
        }
        Err(e) => {
            tracing::debug!(error = %e, batches = batches.len(), "a merged store write failed: writing its batches one by one");
            for (ops, w) in batches.iter().zip(waiters) {
                let _ = w.send(write_retrying(pool, sql, ops).await);
            }
        }
    }
}
