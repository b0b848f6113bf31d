//! Retention on PostgreSQL: the rules of the SQLite backend's retention (whole runs go from the oldest
//! on, the latest run stays, the thread remembers through which `seq` its history was removed), run
//! by whichever node prunes. A thread being written to is skipped (its row is locked) and pruned at a
//! later pass, so retention never waits for a run nor makes one wait.

use tokio_postgres::Transaction;

use super::failed;
use crate::config::HistoryLimits;
use crate::store::{Pruned, StoreError};

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
    let cutoff = limits.max_age.map(|age| {
        let age = chrono::Duration::from_std(age).unwrap_or(chrono::Duration::MAX);
        let cutoff = chrono::Utc::now()
            .checked_sub_signed(age)
            .unwrap_or(chrono::DateTime::<chrono::Utc>::MIN_UTC);
        cutoff.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    });
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

/// Cuts one thread's history at the last run boundary the limits require.
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
    let (mut through, mut removed_bytes, mut removed_events) = (thread.removed_through, 0i64, 0u64);
    let (mut run_bytes, mut run_events) = (0i64, 0u64);
    let mut runs = Vec::new();
    let mut last_timestamp = String::new();
    for row in &rows {
        let (seq, run_id, kind, bytes, timestamp): (i64, String, String, i64, String) =
            (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4));
        run_bytes += bytes;
        run_events += 1;
        if kind != "agent_completed" {
            continue;
        }
        let too_much = thread.stored_bytes - removed_bytes > bytes_per_thread;
        let too_old = cutoff.is_some_and(|cutoff| timestamp.as_str() < cutoff);
        // The latest run is never removed: it is what a client resumes from.
        let more_follow = seq < thread.last_seq;
        if !(too_much || too_old) || !more_follow {
            break;
        }
        through = seq;
        removed_bytes += run_bytes;
        removed_events += run_events;
        (run_bytes, run_events) = (0, 0);
        runs.push(run_id);
        last_timestamp = timestamp;
    }
    if through == thread.removed_through {
        return Ok(Pruned::default());
    }
    t.execute(
        "DELETE FROM events WHERE thread_id = $1 AND seq > $2 AND seq <= $3",
        &[&thread.id, &thread.removed_through, &through],
    )
    .await
    .map_err(failed)?;
    t.execute("DELETE FROM runs WHERE id = ANY($1) AND status <> 'running'", &[&runs])
        .await
        .map_err(failed)?;
    let messages = t
        .execute(
            "DELETE FROM messages WHERE thread_id = $1 AND created_at <= $2",
            &[&thread.id, &last_timestamp],
        )
        .await
        .map_err(failed)?;
    t.execute(
        "UPDATE threads SET removed_through = $2, stored_bytes = stored_bytes - $3 WHERE id = $1",
        &[&thread.id, &through, &removed_bytes],
    )
    .await
    .map_err(failed)?;
    Ok(Pruned {
        threads: 1,
        events: removed_events,
        bytes: u64::try_from(removed_bytes).unwrap_or(0),
        messages,
    })
}
