//! Retention: a thread keeps a bounded history. Whole runs are removed from the oldest on, while the
//! thread stores more event data than its limit or while they ended longer ago than the retention
//! period; the thread remembers the `seq` through which history was removed, so a `resume` from before
//! it is told its history was truncated instead of silently getting a gap, and `seq` never starts over.
//! What goes is `store::cut`'s decision; this applies it to the SQLite tables.

use rusqlite::{Connection, params};

use super::{Pruned, StoreError};
use crate::config::HistoryLimits;
use crate::store::cut;

/// Threads examined per transaction: the writer is never held long by retention.
pub(super) const THREADS_PER_TRANSACTION: usize = 64;

/// A thread retention may have to cut.
struct Candidate {
    id: String,
    stored_bytes: i64,
    removed_through: i64,
}

/// Prunes the threads after `after` (in id order) that may be over a limit, up to
/// [`THREADS_PER_TRANSACTION`] of them; returns what was removed and the last thread examined
/// (`None` when no thread was left to examine).
pub(super) fn prune_some(
    c: &Connection,
    limits: &HistoryLimits,
    after: &str,
) -> Result<(Pruned, Option<String>), StoreError> {
    let cutoff = cut::cutoff(limits);
    let candidates = c
        .prepare_cached(
            "SELECT id, stored_bytes, removed_through FROM threads
              WHERE id > ?1 AND (stored_bytes > ?2 OR (?3 IS NOT NULL AND EXISTS (
                    SELECT 1 FROM runs WHERE runs.thread_id = threads.id AND runs.status != 'running'
                       AND runs.ended_at < ?3)))
              ORDER BY id LIMIT ?4",
        )?
        .query_map(
            params![
                after,
                i64::try_from(limits.bytes_per_thread).unwrap_or(i64::MAX),
                cutoff,
                THREADS_PER_TRANSACTION as i64
            ],
            |row| {
                Ok(Candidate {
                    id: row.get(0)?,
                    stored_bytes: row.get(1)?,
                    removed_through: row.get(2)?,
                })
            },
        )?
        .collect::<Result<Vec<_>, _>>()?;
    let mut pruned = Pruned::default();
    for candidate in &candidates {
        let limit = i64::try_from(limits.bytes_per_thread).unwrap_or(i64::MAX);
        pruned.add(&prune_thread(c, candidate, limit, cutoff.as_deref())?);
    }
    let last = (candidates.len() == THREADS_PER_TRANSACTION).then(|| candidates.last().map(|t| t.id.clone()));
    Ok((pruned, last.flatten()))
}

/// Cuts one thread's history at the last run boundary the limits require (see [`cut::plan`]).
fn prune_thread(
    c: &Connection,
    thread: &Candidate,
    bytes_per_thread: i64,
    cutoff: Option<&str>,
) -> Result<Pruned, StoreError> {
    let bounds = cut::Thread {
        stored_bytes: thread.stored_bytes,
        removed_through: thread.removed_through,
        last_seq: last_seq(c, &thread.id)?,
    };
    let events = c
        .prepare_cached(
            "SELECT seq, run_id, type, length(CAST(data AS BLOB)), timestamp FROM events
              WHERE thread_id = +?1 AND seq > +?2 ORDER BY seq",
        )?
        .query_map(params![thread.id, thread.removed_through], |row| {
            Ok(cut::Weighed {
                seq: row.get(0)?,
                run_id: row.get(1)?,
                kind: row.get(2)?,
                bytes: row.get(3)?,
                timestamp: row.get(4)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let Some(cut) = cut::plan(&bounds, events, bytes_per_thread, cutoff) else {
        return Ok(Pruned::default());
    };
    c.prepare_cached("DELETE FROM events WHERE thread_id = +?1 AND seq > +?2 AND seq <= +?3")?
        .execute(params![thread.id, thread.removed_through, cut.through])?;
    for run in &cut.runs {
        c.prepare_cached("DELETE FROM runs WHERE id = +?1 AND status != 'running'")?
            .execute(params![run])?;
    }
    // The conversation of the removed runs: every message written up to the last removed run's end.
    let messages = c
        .prepare_cached("DELETE FROM messages WHERE thread_id = +?1 AND created_at <= +?2")?
        .execute(params![thread.id, cut.last_timestamp])?;
    c.prepare_cached("UPDATE threads SET removed_through = ?2, stored_bytes = stored_bytes - ?3 WHERE id = +?1")?
        .execute(params![thread.id, cut.through, cut.bytes])?;
    Ok(Pruned {
        threads: 1,
        events: cut.events,
        bytes: u64::try_from(cut.bytes).unwrap_or(0),
        messages: messages as u64,
    })
}

/// The thread's latest `seq`.
fn last_seq(c: &Connection, thread_id: &str) -> Result<i64, StoreError> {
    Ok(c.prepare_cached("SELECT last_seq FROM threads WHERE id = +?1")?
        .query_row(params![thread_id], |row| row.get(0))?)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::json;

    use super::*;
    use crate::protocol::{EventType, RunStatus};
    use crate::store::{RunStart, RunningHere, Store};

    /// Stores a whole run of about `bytes` bytes of event data on `thread`; returns its last seq.
    async fn run(store: &Store, thread: &str, name: &str, bytes: usize) -> u64 {
        let start = RunStart {
            run_id: name.into(),
            user_id: "alice".into(),
            thread_id: thread.into(),
            request_id: None,
            agent: "supervisor".into(),
            task: name.into(),
            user_run_limit: 16,
        };
        store.accept_run(start, json!({})).await.expect("accepted");
        store
            .append_event(
                thread,
                name,
                None,
                EventType::AgentThinking,
                json!({"reasoning": "x".repeat(bytes)}),
            )
            .await
            .expect("thinking");
        store.add_message(thread, "agent", name).await.expect("message");
        let end = store
            .complete_run(thread, name, None, RunStatus::Completed, json!({"status": "completed"}))
            .await
            .expect("completed");
        end.seq
    }

    fn limits(bytes_per_thread: u64, max_age: Option<Duration>) -> HistoryLimits {
        HistoryLimits {
            bytes_per_thread,
            max_age,
        }
    }

    /// Whole runs go, oldest first, until the thread is within its limit; the latest run stays however
    /// large; seq goes on from where it was, and a second pruning has nothing to do.
    #[tokio::test]
    async fn the_oldest_whole_runs_go_until_the_thread_is_within_its_limit() {
        let store = Store::in_memory().expect("store");
        let thread = store.create_thread("alice").await.expect("thread");
        let other = store.create_thread("bob").await.expect("thread");
        let mut ends = Vec::new();
        for name in ["r1", "r2", "r3", "r4"] {
            ends.push(run(&store, &thread, name, 1000).await);
        }
        run(&store, &other, "small", 10).await;

        let pruned = store.prune(limits(2500, None)).await.expect("prunes");
        assert_eq!(pruned.threads, 1, "{pruned:?}");
        assert_eq!(pruned.events, 6, "two runs of three events");
        assert!(pruned.messages >= 2, "{pruned:?}");
        let history = store.history(&thread).await.expect("history");
        assert_eq!(history.removed_through, ends[1]);
        assert_eq!(history.latest, ends[3]);
        let kept = store.events_after(&thread, 0).await.expect("events");
        assert_eq!(
            kept.first().map(|e| (e.seq, e.kind)),
            Some((ends[1] + 1, EventType::AgentStarted))
        );
        assert_eq!(
            store.prune(limits(2500, None)).await.expect("prunes"),
            Pruned::default()
        );

        let next = run(&store, &thread, "r5", 10).await;
        assert_eq!(next, ends[3] + 3, "seq goes on after the removed history");
        // However small the limit, the latest run is kept.
        store.prune(limits(1, None)).await.expect("prunes");
        let kept = store.events_after(&thread, 0).await.expect("events");
        assert_eq!(kept.len(), 3, "{kept:?}");
        assert_eq!(store.history(&other).await.expect("history").removed_through, 0);
    }

    /// Runs that ended before the retention period go whatever their size; a running run stays.
    #[tokio::test]
    async fn runs_older_than_the_retention_period_go() {
        let store = Store::in_memory().expect("store");
        let thread = store.create_thread("alice").await.expect("thread");
        let first = run(&store, &thread, "r1", 10).await;
        let second = run(&store, &thread, "r2", 10).await;
        let start = RunStart {
            run_id: "running".into(),
            user_id: "alice".into(),
            thread_id: thread.clone(),
            request_id: None,
            agent: "supervisor".into(),
            task: "still going".into(),
            user_run_limit: 16,
        };
        store.accept_run(start, json!({})).await.expect("accepted");
        assert_eq!(
            store
                .prune(limits(u64::MAX >> 2, Some(Duration::from_secs(3600))))
                .await
                .expect("prunes"),
            Pruned::default(),
            "nothing is an hour old"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
        let pruned = store
            .prune(limits(u64::MAX >> 2, Some(Duration::ZERO)))
            .await
            .expect("prunes");
        assert_eq!(pruned.events, 6, "{pruned:?}");
        let history = store.history(&thread).await.expect("history");
        assert_eq!(history.removed_through, second);
        assert!(first < second);
        let kept = store.events_after(&thread, 0).await.expect("events");
        assert_eq!(kept.len(), 1, "the running run's agent_started: {kept:?}");
        assert_eq!(
            store
                .claim_interrupted_runs(&RunningHere::default())
                .await
                .expect("runs")
                .len(),
            1,
            "the running run is kept"
        );
    }
}
