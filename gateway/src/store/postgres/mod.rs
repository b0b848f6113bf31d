//! The PostgreSQL backend: one database shared by several gateway nodes.
//!
//! Each transaction keeps the store's promises whichever node runs it: a thread's row is locked while
//! its next `seq` is taken, so `seq` stays gapless across nodes; a partial unique index allows one
//! running run per thread; a run is owned by one node, whose lease (a row in `nodes`) it renews, and
//! every write of a run checks, in its transaction, that this node still owns it (fencing), so a node
//! whose runs were taken over can write nothing more of them. Each stored event and each cancel is
//! announced with `NOTIFY` in the transaction that stores it (`listener`). Every call is bounded by the
//! busy timeout: a stalled server fails calls, it never hangs them.

mod listener;
mod retention;
mod schema;

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use serde_json::Value;
use tokio::sync::mpsc;
use tokio_postgres::error::SqlState;
use tokio_postgres::{NoTls, Transaction};

use super::backend::{Backend, Signal};
use super::{AcceptedRequest, History, InterruptedRun, Pruned, RunStart, StoreError, unstored};
use crate::config::HistoryLimits;
use crate::protocol::{Event, EventType, RunStatus, timestamp_now};

/// Connections each node keeps to the server.
const POOL_SIZE: usize = 16;

/// A PostgreSQL error as a store error.
pub(super) fn failed(error: tokio_postgres::Error) -> StoreError {
    StoreError::Postgres(error.to_string())
}

/// Runs `$body` (a `Result`, with the transaction as `$t`) in a transaction on a pooled connection,
/// within the call timeout; the transaction commits when the body succeeds and rolls back otherwise.
macro_rules! in_transaction {
    ($backend:expr, $t:ident, $body:expr) => {
        $backend.bounded(async {
            let mut client = $backend.client().await?;
            let transaction = client.transaction().await.map_err(failed)?;
            let value: Result<_, StoreError> = {
                let $t: &Transaction<'_> = &transaction;
                $body
            };
            let value = value?;
            transaction.commit().await.map_err(failed)?;
            Ok(value)
        })
    };
}

/// The PostgreSQL backend of one node.
pub(super) struct PostgresBackend {
    pool: Pool,
    node: String,
    /// How long this node's lease lasts without renewal.
    lease: Duration,
    /// How long one call may take, in milliseconds (the busy timeout).
    call_timeout_ms: AtomicU64,
    /// What the other nodes say, until the gateway takes it.
    signals: Mutex<Option<mpsc::Receiver<Signal>>>,
}

impl PostgresBackend {
    /// Connects to `url`, sets up the schema, takes this node's lease and starts listening to the
    /// other nodes.
    pub(super) async fn connect(url: &str, lease: Duration) -> Result<Self, StoreError> {
        let config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| StoreError::Postgres(format!("bad connection string: {e}")))?;
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .wait_timeout(Some(Duration::from_secs(5)))
            .create_timeout(Some(Duration::from_secs(5)))
            .build()
            .map_err(|e| StoreError::Postgres(format!("cannot make a connection pool: {e}")))?;
        let node = format!("node-{}", uuid::Uuid::new_v4().simple());
        let signals = listener::start(url.to_owned(), node.clone()).await?;
        let backend = PostgresBackend {
            pool,
            node,
            lease,
            call_timeout_ms: AtomicU64::new(5_000),
            signals: Mutex::new(Some(signals)),
        };
        let mut client = backend.client().await?;
        schema::set_up(&mut client).await?;
        drop(client);
        backend.renew_lease().await?;
        Ok(backend)
    }

    async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        self.pool
            .get()
            .await
            .map_err(|e| StoreError::Postgres(format!("cannot reach the database: {e}")))
    }

    /// Runs `call` within the call timeout: a stalled server fails the call, it never hangs it.
    async fn bounded<T>(&self, call: impl Future<Output = Result<T, StoreError>>) -> Result<T, StoreError> {
        let limit = Duration::from_millis(self.call_timeout_ms.load(Ordering::Relaxed));
        tokio::time::timeout(limit, call)
            .await
            .map_err(|_| StoreError::Postgres(format!("no answer from the database in {} ms", limit.as_millis())))?
    }

    /// Whether this node may write the run: it owns it and its lease is still valid (a node whose
    /// lease expired may have had the run taken over, or will have). The run's row stays locked until
    /// the transaction ends, so no takeover comes in between. `Ok(None)` when the run is ours but not
    /// running (ended).
    async fn fence(&self, t: &Transaction<'_>, run_id: &str) -> Result<Option<()>, StoreError> {
        let row = t
            .query_opt(
                "SELECT node, status,
                        EXISTS (SELECT 1 FROM nodes WHERE nodes.id = runs.node AND alive_until > now())
                   FROM runs WHERE id = $1 FOR UPDATE",
                &[&run_id],
            )
            .await
            .map_err(failed)?
            .ok_or_else(|| StoreError::Fenced(run_id.to_owned()))?;
        let (node, status, alive): (String, String, bool) = (row.get(0), row.get(1), row.get(2));
        if node != self.node || !alive {
            return Err(StoreError::Fenced(run_id.to_owned()));
        }
        Ok((status == "running").then_some(()))
    }

    /// Stores an event with the thread's next `seq` and announces it, inside the caller's transaction.
    async fn insert_event(&self, t: &Transaction<'_>, event: &Event) -> Result<Event, StoreError> {
        let data = event.data.to_string();
        let seq: i64 = t
            .query_opt(
                "UPDATE threads SET last_seq = last_seq + 1, stored_bytes = stored_bytes + $2
                  WHERE id = $1 RETURNING last_seq",
                &[&event.thread_id, &(data.len() as i64)],
            )
            .await
            .map_err(failed)?
            .ok_or_else(|| StoreError::Corrupt(format!("no thread {}", event.thread_id)))?
            .get(0);
        t.execute(
            "INSERT INTO events (thread_id, seq, run_id, request_id, type, data, timestamp)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                &event.thread_id,
                &seq,
                &event.run_id,
                &event.request_id,
                &event.kind.as_str(),
                &data,
                &event.timestamp,
            ],
        )
        .await
        .map_err(failed)?;
        let seq = to_seq(seq)?;
        let said = listener::announcement(&self.node, &event.thread_id, seq);
        t.execute("SELECT pg_notify($1, $2)", &[&listener::EVENTS, &said])
            .await
            .map_err(failed)?;
        Ok(Event { seq, ..event.clone() })
    }

    /// The thread's latest event, if it is this very event of this run: a write retried after its
    /// commit's answer was lost (the commit may have happened) is that event, not a second one.
    async fn already_stored(t: &Transaction<'_>, event: &Event) -> Result<Option<Event>, StoreError> {
        let row = t
            .query_opt(
                "SELECT seq, run_id, type, data, timestamp FROM events WHERE thread_id = $1 ORDER BY seq DESC LIMIT 1",
                &[&event.thread_id],
            )
            .await
            .map_err(failed)?;
        let Some(row) = row else { return Ok(None) };
        let (run_id, kind, data): (String, String, String) = (row.get(1), row.get(2), row.get(3));
        let same_data = serde_json::from_str::<Value>(&data).is_ok_and(|stored| stored == event.data);
        if run_id != event.run_id || kind != event.kind.as_str() || !same_data {
            return Ok(None);
        }
        Ok(Some(Event {
            seq: to_seq(row.get(0))?,
            timestamp: row.get(4),
            ..event.clone()
        }))
    }
}

#[async_trait]
impl Backend for PostgresBackend {
    fn kind(&self) -> &'static str {
        "postgres"
    }

    fn node_id(&self) -> &str {
        &self.node
    }

    async fn set_busy_timeout(&self, timeout: Duration) -> Result<(), StoreError> {
        let millis = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX).max(1);
        self.call_timeout_ms.store(millis, Ordering::Relaxed);
        Ok(())
    }

    async fn ping(&self) -> bool {
        in_transaction!(self, t, {
            t.query_one("SELECT 1", &[]).await.map_err(failed)?;
            Ok(())
        })
        .await
        .is_ok()
    }

    async fn create_thread(&self, owner: &str) -> Result<String, StoreError> {
        let id = uuid::Uuid::new_v4().to_string();
        in_transaction!(self, t, {
            t.execute(
                "INSERT INTO threads (id, owner, created_at) VALUES ($1, $2, $3)",
                &[&id, &owner, &timestamp_now()],
            )
            .await
            .map_err(failed)?;
            Ok(())
        })
        .await?;
        Ok(id)
    }

    async fn thread_owner(&self, thread_id: &str) -> Result<Option<String>, StoreError> {
        in_transaction!(self, t, {
            let row = t
                .query_opt("SELECT owner FROM threads WHERE id = $1", &[&thread_id])
                .await
                .map_err(failed)?;
            Ok(row.map(|row| row.get(0)))
        })
        .await
    }

    async fn accept_run(&self, run: RunStart, started: Value) -> Result<Event, StoreError> {
        let event = unstored(
            EventType::AgentStarted,
            &run.thread_id,
            &run.run_id,
            run.request_id.as_deref(),
            started,
        );
        in_transaction!(self, t, {
            if let Some(request_id) = &run.request_id
                && let Some(accepted) = accepted_request(t, &run.user_id, request_id, &run.task).await?
            {
                return Err(StoreError::AlreadyAccepted(accepted));
            }
            // The user's running runs are counted under a lock of the user's, so two nodes accepting
            // at once cannot both see room for one more.
            t.execute("SELECT pg_advisory_xact_lock(hashtext($1))", &[&run.user_id])
                .await
                .map_err(failed)?;
            let going: i64 = t
                .query_one(
                    "SELECT COUNT(*) FROM runs WHERE user_id = $1 AND status = 'running'",
                    &[&run.user_id],
                )
                .await
                .map_err(failed)?
                .get(0);
            if usize::try_from(going).unwrap_or(usize::MAX) >= run.user_run_limit {
                return Err(StoreError::TooManyRuns(run.user_run_limit));
            }
            let inserted = t
                .execute(
                    "INSERT INTO runs (id, thread_id, user_id, request_id, agent, status, started_at, task, node)
                     VALUES ($1, $2, $3, $4, $5, 'running', $6, $7, $8)",
                    &[
                        &run.run_id,
                        &run.thread_id,
                        &run.user_id,
                        &run.request_id,
                        &run.agent,
                        &event.timestamp,
                        &run.task,
                        &self.node,
                    ],
                )
                .await;
            if let Err(error) = inserted {
                let busy = error.code() == Some(&SqlState::UNIQUE_VIOLATION)
                    && error
                        .as_db_error()
                        .and_then(|db| db.constraint())
                        .is_some_and(|name| name == "one_running_run_per_thread");
                return Err(if busy { StoreError::ThreadBusy } else { failed(error) });
            }
            insert_message(t, &run.thread_id, "user", &run.task).await?;
            self.insert_event(t, &event).await
        })
        .await
    }

    async fn accepted_request(
        &self,
        user_id: &str,
        request_id: &str,
        task: &str,
    ) -> Result<Option<AcceptedRequest>, StoreError> {
        in_transaction!(self, t, accepted_request(t, user_id, request_id, task).await).await
    }

    async fn complete_run(
        &self,
        thread_id: &str,
        run_id: &str,
        request_id: Option<&str>,
        status: RunStatus,
        data: Value,
    ) -> Result<Event, StoreError> {
        let event = unstored(EventType::AgentCompleted, thread_id, run_id, request_id, data);
        in_transaction!(self, t, {
            if self.fence(t, run_id).await?.is_none() {
                // Completed already: by this very call, whose commit's answer was lost, if the stored
                // end is this one; anything else ending it twice is refused.
                return match Self::already_stored(t, &event).await? {
                    Some(stored) => Ok(stored),
                    None => Err(StoreError::Fenced(run_id.to_owned())),
                };
            }
            let stored = self.insert_event(t, &event).await?;
            t.execute(
                "UPDATE runs SET status = $2, ended_at = $3 WHERE id = $1",
                &[&run_id, &status.as_str(), &stored.timestamp],
            )
            .await
            .map_err(failed)?;
            if status == RunStatus::Completed
                && let Some(answer) = stored.data["final_response"].as_str()
            {
                insert_message(t, thread_id, "agent", answer).await?;
            }
            Ok(stored)
        })
        .await
    }

    async fn finish_run(&self, run_id: &str, status: RunStatus) -> Result<(), StoreError> {
        in_transaction!(self, t, {
            t.execute(
                "UPDATE runs SET status = $2, ended_at = $3 WHERE id = $1 AND node = $4",
                &[&run_id, &status.as_str(), &timestamp_now(), &self.node],
            )
            .await
            .map_err(failed)?;
            Ok(())
        })
        .await
    }

    async fn claim_interrupted_runs(&self, running_here: &[String]) -> Result<Vec<InterruptedRun>, StoreError> {
        in_transaction!(self, t, {
            // A run whose node's lease is gone (expired, or given up at shutdown) is taken by this
            // node, and so is a run of this node that it no longer executes (an earlier ending of it
            // failed halfway). Never a run this node still executes: its execution goes on (or is
            // fenced off, and another node ends it). Two nodes claiming at once: the second finds the
            // row already re-owned by a live node once the first commits, so a run is claimed once.
            let rows = t
                .query(
                    "UPDATE runs SET node = $1, cancel_requested = false
                      WHERE status = 'running' AND NOT (id = ANY($2))
                        AND (node = $1 OR node NOT IN (SELECT id FROM nodes WHERE alive_until > now()))
                  RETURNING id, thread_id, request_id,
                            (SELECT data::json ->> 'status' FROM events
                              WHERE events.thread_id = runs.thread_id AND events.run_id = runs.id
                                AND events.type = 'agent_completed' LIMIT 1)",
                    &[&self.node, &running_here],
                )
                .await
                .map_err(failed)?;
            // Nodes long gone are forgotten (their runs were claimed above, or earlier).
            t.execute("DELETE FROM nodes WHERE alive_until < now() - interval '1 hour'", &[])
                .await
                .map_err(failed)?;
            Ok(rows
                .into_iter()
                .map(|row| InterruptedRun {
                    run_id: row.get(0),
                    thread_id: row.get(1),
                    request_id: row.get(2),
                    completed: row.get(3),
                })
                .collect())
        })
        .await
    }

    async fn renew_lease(&self) -> Result<Vec<String>, StoreError> {
        let ttl = self.lease.as_secs_f64();
        in_transaction!(self, t, {
            t.execute(
                "INSERT INTO nodes (id, alive_until) VALUES ($1, now() + make_interval(secs => $2))
                 ON CONFLICT (id) DO UPDATE SET alive_until = EXCLUDED.alive_until",
                &[&self.node, &ttl],
            )
            .await
            .map_err(failed)?;
            let rows = t
                .query(
                    "SELECT id FROM runs WHERE node = $1 AND status = 'running' AND cancel_requested",
                    &[&self.node],
                )
                .await
                .map_err(failed)?;
            Ok(rows.into_iter().map(|row| row.get(0)).collect())
        })
        .await
    }

    async fn release_lease(&self) -> Result<(), StoreError> {
        in_transaction!(self, t, {
            t.execute("DELETE FROM nodes WHERE id = $1", &[&self.node])
                .await
                .map_err(failed)?;
            Ok(())
        })
        .await
    }

    async fn request_cancel(&self, user_id: &str, run_id: &str) -> Result<bool, StoreError> {
        in_transaction!(self, t, {
            let asked = t
                .query(
                    "WITH asked AS (
                        UPDATE runs SET cancel_requested = true
                         WHERE id = $2 AND user_id = $1 AND status = 'running' RETURNING id)
                     SELECT pg_notify($3, id) FROM asked",
                    &[&user_id, &run_id, &listener::CANCELS],
                )
                .await
                .map_err(failed)?;
            Ok(!asked.is_empty())
        })
        .await
    }

    fn take_signals(&self) -> Option<mpsc::Receiver<Signal>> {
        self.signals
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
    }

    async fn add_message(&self, thread_id: &str, role: &str, text: &str) -> Result<(), StoreError> {
        in_transaction!(self, t, insert_message(t, thread_id, role, text).await).await
    }

    async fn messages(&self, thread_id: &str, last: usize) -> Result<Vec<(String, String)>, StoreError> {
        let limit = i64::try_from(last).unwrap_or(i64::MAX);
        in_transaction!(self, t, {
            let rows = t
                .query(
                    "SELECT role, text FROM messages WHERE thread_id = $1 ORDER BY position DESC LIMIT $2",
                    &[&thread_id, &limit],
                )
                .await
                .map_err(failed)?;
            let mut newest_first: Vec<(String, String)> =
                rows.into_iter().map(|row| (row.get(0), row.get(1))).collect();
            newest_first.reverse();
            Ok(newest_first)
        })
        .await
    }

    async fn append_event(
        &self,
        thread_id: &str,
        run_id: &str,
        request_id: Option<&str>,
        kind: EventType,
        data: Value,
    ) -> Result<Event, StoreError> {
        let event = unstored(kind, thread_id, run_id, request_id, data);
        in_transaction!(self, t, {
            if self.fence(t, run_id).await?.is_none() {
                return Err(StoreError::Fenced(run_id.to_owned()));
            }
            if let Some(stored) = Self::already_stored(t, &event).await? {
                return Ok(stored);
            }
            self.insert_event(t, &event).await
        })
        .await
    }

    async fn history(&self, thread_id: &str) -> Result<History, StoreError> {
        in_transaction!(self, t, {
            let row = t
                .query_opt(
                    "SELECT last_seq, removed_through FROM threads WHERE id = $1",
                    &[&thread_id],
                )
                .await
                .map_err(failed)?;
            let (latest, removed): (i64, i64) = row.map_or((0, 0), |row| (row.get(0), row.get(1)));
            Ok(History {
                latest: to_seq(latest)?,
                removed_through: to_seq(removed)?,
            })
        })
        .await
    }

    async fn prune(&self, limits: HistoryLimits) -> Result<Pruned, StoreError> {
        let mut pruned = Pruned::default();
        let mut after = String::new();
        loop {
            let (batch, last) = in_transaction!(self, t, retention::prune_some(t, &limits, &after).await).await?;
            pruned.add(&batch);
            match last {
                Some(last) => after = last,
                None => return Ok(pruned),
            }
        }
    }

    async fn events_page(&self, thread_id: &str, after_seq: u64, limit: usize) -> Result<Vec<Event>, StoreError> {
        let after = i64::try_from(after_seq).unwrap_or(i64::MAX);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        in_transaction!(self, t, {
            let rows = t
                .query(
                    "SELECT seq, run_id, request_id, type, data, timestamp FROM events
                      WHERE thread_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
                    &[&thread_id, &after, &limit],
                )
                .await
                .map_err(failed)?;
            rows.into_iter()
                .map(|row| {
                    let kind: String = row.get(3);
                    let data: String = row.get(4);
                    Ok(Event {
                        kind: EventType::parse(&kind)
                            .ok_or_else(|| StoreError::Corrupt(format!("event type {kind}")))?,
                        seq: to_seq(row.get(0))?,
                        thread_id: thread_id.to_owned(),
                        run_id: row.get(1),
                        request_id: row.get(2),
                        timestamp: row.get(5),
                        data: serde_json::from_str(&data).map_err(|e| StoreError::Corrupt(e.to_string()))?,
                    })
                })
                .collect()
        })
        .await
    }
}

/// A stored `seq` as a `u64`.
fn to_seq(value: i64) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| StoreError::Corrupt(format!("seq {value}")))
}

/// Adds a message at the end of a thread's conversation (the thread's row is locked for its position).
async fn insert_message(t: &Transaction<'_>, thread_id: &str, role: &str, text: &str) -> Result<(), StoreError> {
    let position: i64 = t
        .query_opt(
            "UPDATE threads SET last_position = last_position + 1 WHERE id = $1 RETURNING last_position",
            &[&thread_id],
        )
        .await
        .map_err(failed)?
        .ok_or_else(|| StoreError::Corrupt(format!("no thread {thread_id}")))?
        .get(0);
    t.execute(
        "INSERT INTO messages (thread_id, position, role, text, created_at) VALUES ($1, $2, $3, $4, $5)",
        &[&thread_id, &position, &role, &text, &timestamp_now()],
    )
    .await
    .map_err(failed)?;
    Ok(())
}

/// The run already accepted for a request: the same `request_id` and text from the same user.
async fn accepted_request(
    t: &Transaction<'_>,
    user_id: &str,
    request_id: &str,
    task: &str,
) -> Result<Option<AcceptedRequest>, StoreError> {
    let row = t
        .query_opt(
            "SELECT runs.id, runs.thread_id,
                    (SELECT seq FROM events WHERE events.thread_id = runs.thread_id
                       AND events.run_id = runs.id AND events.type = 'agent_started')
               FROM runs WHERE runs.request_id = $2 AND runs.task = $3 AND runs.user_id = $1 LIMIT 1",
            &[&user_id, &request_id, &task],
        )
        .await
        .map_err(failed)?;
    row.map(|row| {
        Ok(AcceptedRequest {
            run_id: row.get(0),
            thread_id: row.get(1),
            started_seq: to_seq(row.get(2))?,
        })
    })
    .transpose()
}
