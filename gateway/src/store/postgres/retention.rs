//! Retention on PostgreSQL: the cut of `store::cut` (whole runs go from the oldest
//! on, the latest run stays, the thread remembers through which `seq` its history was removed), run
//! by whichever node prunes. A thread being written to is skipped (its row is locked) and pruned at a
//! later pass, so retention never waits for a run nor makes one wait.

use tokio_postgres::Transaction;

use super::failed;
use crate::config::HistoryLimits;
use crate::store::{Pruned, StoreError, cut};

/// Threads examined per transaction.
const THREADS_PER_TRANSACTION: i64 = 64;

/// A thread retention may have to cut.
struct Candidate {
    id: String,
    stored_bytes: i64,
    removed_through: i64,
    last_seq: i64,
}

/// Prunes the threads after `after` (in id order) that may be over a limit, up to
/// [`THREADS_PER_TRANSACTION`] of them; returns what was removed and the last thread examined
/// (`None` when no thread was left to examine).
pub(super) async fn prune_some(
    t: &Transaction<'_>,
    limits: &HistoryLimits,
    after: &str,
) -> Result<(Pruned, Option<String>), StoreError> {
    let cutoff = cut::cutoff(limits);
    let limit = i64::try_from(limits.bytes_per_thread).unwrap_or(i64::MAX);
    let rows = t
        .query(
            "SELECT id, stored_bytes, removed_through, last_seq FROM threads
              WHERE id > $1 AND (stored_bytes > $2 OR ($3::text IS NOT NULL AND EXISTS (
                    SELECT 1 FROM runs WHERE runs.thread_id = threads.id AND runs.status <> 'running'
                       AND runs.ended_at < $3::text)))
              ORDER BY id LIMIT $4 FOR UPDATE SKIP LOCKED",
            &[&after, &limit, &cutoff, &THREADS_PER_TRANSACTION],
        )
        .await
        .map_err(failed)?;
    let candidates: Vec<Candidate> = rows
        .iter()
        .map(|row| Candidate {
            id: row.get(0),
            stored_bytes: row.get(1),
            removed_through: row.get(2),
            last_seq: row.get(3),
        })
        .collect();
    let mut pruned = Pruned::default();
    for candidate in &candidates {
        pruned.add(&prune_thread(t, candidate, limit, cutoff.as_deref()).await?);
    }
    let full = candidates.len() == THREADS_PER_TRANSACTION as usize;
    Ok((pruned, full.then(|| candidates.last().map(|c| c.id.clone())).flatten()))
}

/// Cuts one thread's history at the last run boundary the limits require (see [`cut::plan`]).
async fn prune_thread(
    t: &Transaction<'_>,
    thread: &Candidate,
    bytes_per_thread: i64,
    cutoff: Option<&str>,
) -> Result<Pruned, StoreError> {
    let rows = t
        .query(
            "SELECT seq, run_id, type, octet_length(data)::bigint, timestamp FROM events
              WHERE thread_id = $1 AND seq > $2 ORDER BY seq",
            &[&thread.id, &thread.removed_through],
        )
        .await
        .map_err(failed)?;
    let bounds = cut::Thread {
        stored_bytes: thread.stored_bytes,
        removed_through: thread.removed_through,
        last_seq: thread.last_seq,
    };
    let events = rows.iter().map(|row| cut::Weighed {
        seq: row.get(0),
        run_id: row.get(1),
        kind: row.get(2),
        bytes: row.get(3),
        timestamp: row.get(4),
    });
    let Some(cut) = cut::plan(&bounds, events, bytes_per_thread, cutoff) else {
        return Ok(Pruned::default());
    };
    t.execute(
        "DELETE FROM events WHERE thread_id = $1 AND seq > $2 AND seq <= $3",
        &[&thread.id, &thread.removed_through, &cut.through],
    )
    .await
    .map_err(failed)?;
    t.execute(
        "DELETE FROM runs WHERE id = ANY($1) AND status <> 'running'",
        &[&cut.runs],
    )
    .await
    .map_err(failed)?;
    let messages = t
        .execute(
            "DELETE FROM messages WHERE thread_id = $1 AND created_at <= $2",
            &[&thread.id, &cut.last_timestamp],
        )
        .await
        .map_err(failed)?;
    t.execute(
        "UPDATE threads SET removed_through = $2, stored_bytes = stored_bytes - $3 WHERE id = $1",
        &[&thread.id, &cut.through, &cut.bytes],
    )
    .await
    .map_err(failed)?;
    Ok(Pruned {
        threads: 1,
        events: cut.events,
        bytes: u64::try_from(cut.bytes).unwrap_or(0),
        messages,
    })
}
