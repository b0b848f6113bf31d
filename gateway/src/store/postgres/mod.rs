//! The PostgreSQL backend: one database shared by several gateway nodes.
//!
//! Each write keeps the store's promises whichever node runs it: a thread's row is locked while its
//! next `seq` is taken, so `seq` stays gapless across nodes; one running run per thread (and a partial
//! unique index behind it); a run is owned by one node, whose lease (a row in `nodes`) it renews, and
//! every write of a run checks, in its transaction, that this node still owns it with a valid lease
//! (fencing), so a node whose runs were taken over can write nothing more of them. The hot writes are
//! functions on the server (`schema`), one statement each. Each stored event and each cancel is
//! announced with `NOTIFY` in the transaction that stores it (`listener`). Every call is bounded by the
//! busy timeout: a stalled server fails calls, it never hangs them.

mod announcer;
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
use tokio_postgres::types::ToSql;
use tokio_postgres::{NoTls, Row, Transaction};

use super::backend::{Backend, Signal};
use super::{AcceptedRequest, History, InterruptedRun, Pruned, RunStart, RunningHere, StoreError, unstored};
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
    /// Tells the other nodes which events this node stored.
    announce: mpsc::UnboundedSender<announcer::Stored>,
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
        let node_for_announcer = node.clone();
        let backend = PostgresBackend {
            pool,
            node,
            lease,
            call_timeout_ms: AtomicU64::new(5_000),
            signals: Mutex::new(Some(signals)),
            announce: announcer::start(url.to_owned(), node_for_announcer),
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

    /// Runs one statement (prepared once per connection, then reused) on a pooled connection, in a
    /// transaction of its own, within the call timeout.
    async fn call(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>, StoreError> {
        self.bounded(async {
            let client = self.client().await?;
            let statement = client.prepare_cached(sql).await.map_err(failed)?;
            client.query(&statement, params).await.map_err(refused)
        })
        .await
    }

    /// Has the event announced to the other nodes (after its commit; see `announcer`).
    fn announce(&self, event: &Event) {
        // The announcer ends only with this backend: a send cannot fail while it lives.
        let _ = self.announce.send((event.thread_id.clone(), event.seq));
    }

    /// The event as a function stored it (its `seq` and stamp in `row`), announced.
    fn stored(&self, row: &Row, event: Event) -> Result<Event, StoreError> {
        let stored = Event {
            seq: to_seq(row.get(0))?,
            timestamp: row.get(1),
            ..event
        };
        self.announce(&stored);
        Ok(stored)
    }

    /// The single row a statement returns.
    async fn call_one(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Row, StoreError> {
        self.call(sql, params)
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| StoreError::Corrupt(format!("no row from {sql}")))
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
        self.call("SELECT 1", &[]).await.is_ok()
    }

    async fn create_thread(&self, owner: &str) -> Result<String, StoreError> {
        let id = uuid::Uuid::new_v4().to_string();
        self.call(
            "INSERT INTO threads (id, owner, created_at) VALUES ($1, $2, $3)",
            &[&id, &owner, &timestamp_now()],
        )
        .await?;
        Ok(id)
    }

    async fn thread_owner(&self, thread_id: &str) -> Result<Option<String>, StoreError> {
        let rows = self
            .call("SELECT owner FROM threads WHERE id = $1", &[&thread_id])
            .await?;
        Ok(rows.first().map(|row| row.get(0)))
    }

    async fn accept_run(&self, run: RunStart, started: Value) -> Result<Event, StoreError> {
        let event = unstored(
            EventType::AgentStarted,
            &run.thread_id,
            &run.run_id,
            run.request_id.as_deref(),
            started,
        );
        let limit = i64::try_from(run.user_run_limit).unwrap_or(i64::MAX);
        let row = self
            .call_one(
                "SELECT * FROM gateway_accept_run($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                &[
                    &self.node,
                    &run.run_id,
                    &run.thread_id,
                    &run.user_id,
                    &run.request_id,
                    &run.agent,
                    &run.task,
                    &limit,
                    &event.data.to_string(),
                    &event.timestamp,
                ],
            )
            .await
            .map_err(|error| match error {
                StoreError::TooManyRuns(_) => StoreError::TooManyRuns(run.user_run_limit),
                other => other,
            })?;
        let (accepted, seq): (bool, Option<i64>) = (row.get(0), row.get(3));
        let seq = to_seq(seq.ok_or_else(|| StoreError::Corrupt(format!("run {} has no agent_started", run.run_id)))?)?;
        if !accepted {
            return Err(StoreError::AlreadyAccepted(AcceptedRequest {
                run_id: row.get(1),
                thread_id: row.get(2),
                started_seq: seq,
            }));
        }
        let stored = Event { seq, ..event };
        self.announce(&stored);
        Ok(stored)
    }

    async fn accepted_request(
        &self,
        user_id: &str,
        request_id: &str,
        task: &str,
    ) -> Result<Option<AcceptedRequest>, StoreError> {
        let rows = self
            .call(
                "SELECT runs.id, runs.thread_id,
                        (SELECT seq FROM events WHERE events.thread_id = runs.thread_id
                           AND events.run_id = runs.id AND events.type = 'agent_started')
                   FROM runs WHERE runs.request_id = $2 AND runs.task = $3 AND runs.user_id = $1 LIMIT 1",
                &[&user_id, &request_id, &task],
            )
            .await?;
        rows.first()
            .map(|row| {
                Ok(AcceptedRequest {
                    run_id: row.get(0),
                    thread_id: row.get(1),
                    started_seq: to_seq(row.get(2))?,
                })
            })
            .transpose()
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
        let answer = match status {
            RunStatus::Completed => event.data["final_response"].as_str(),
            _ => None,
        };
        let row = self
            .call_one(
                "SELECT * FROM gateway_complete_run($1, $2, $3, $4, $5, $6, $7, $8)",
                &[
                    &self.node,
                    &thread_id,
                    &run_id,
                    &request_id,
                    &status.as_str(),
                    &event.data.to_string(),
                    &event.timestamp,
                    &answer,
                ],
            )
            .await
            .map_err(|error| fenced(error, run_id))?;
        self.stored(&row, event)
    }

    async fn finish_run(&self, run_id: &str, status: RunStatus) -> Result<(), StoreError> {
        self.call(
            "UPDATE runs SET status = $2, ended_at = $3 WHERE id = $1 AND node = $4",
            &[&run_id, &status.as_str(), &timestamp_now(), &self.node],
        )
        .await?;
        Ok(())
    }

    async fn claim_interrupted_runs(&self, running_here: &RunningHere) -> Result<Vec<InterruptedRun>, StoreError> {
        // A run whose node's lease is gone (expired, or given up at shutdown) is taken by this node, and
        // so is a run of this node that it no longer executes (an earlier ending of it failed halfway).
        // Never a run this node still executes: its execution goes on (or is fenced off, and another
        // node ends it); nor one of this node's started since the list of what it executes was taken
        // (it may not be on the list yet). Two nodes claiming at once: the second finds the row already re-owned by a
        // live node once the first commits, so a run is claimed once.
        let rows = self
            .call(
                "UPDATE runs SET node = $1, cancel_requested = false
                  WHERE status = 'running' AND NOT (id = ANY($2))
                    AND ((node = $1 AND started_at < $3)
                         OR node NOT IN (SELECT id FROM nodes WHERE alive_until > now()))
              RETURNING id, thread_id, request_id,
                        (SELECT data::json ->> 'status' FROM events
                          WHERE events.thread_id = runs.thread_id AND events.run_id = runs.id
                            AND events.type = 'agent_completed' LIMIT 1)",
                &[&self.node, &running_here.runs, &running_here.listed_at],
            )
            .await?;
        // Nodes long gone are forgotten (their runs were claimed above, or earlier).
        self.call("DELETE FROM nodes WHERE alive_until < now() - interval '1 hour'", &[])
            .await?;
        Ok(rows
            .into_iter()
            .map(|row| InterruptedRun {
                run_id: row.get(0),
                thread_id: row.get(1),
                request_id: row.get(2),
                completed: row.get(3),
            })
            .collect())
    }

    async fn renew_lease(&self) -> Result<Vec<String>, StoreError> {
        let ttl = self.lease.as_secs_f64();
        self.call(
            "INSERT INTO nodes (id, alive_until) VALUES ($1, now() + make_interval(secs => $2))
             ON CONFLICT (id) DO UPDATE SET alive_until = EXCLUDED.alive_until",
            &[&self.node, &ttl],
        )
        .await?;
        let rows = self
            .call(
                "SELECT id FROM runs WHERE node = $1 AND status = 'running' AND cancel_requested",
                &[&self.node],
            )
            .await?;
        Ok(rows.into_iter().map(|row| row.get(0)).collect())
    }

    async fn release_lease(&self) -> Result<(), StoreError> {
        // Announcements still queued die with this process: the other nodes are asked to catch up
        // from the store, where every event of this node's runs is by now.
        let catch_up = serde_json::json!({ "node": self.node, "catch_up": true }).to_string();
        self.call(
            "WITH gone AS (DELETE FROM nodes WHERE id = $1) SELECT pg_notify($2, $3)",
            &[&self.node, &listener::EVENTS, &catch_up],
        )
        .await?;
        Ok(())
    }

    async fn expired_nodes(&self) -> Result<Vec<String>, StoreError> {
        let rows = self
            .call("SELECT id FROM nodes WHERE alive_until <= now()", &[])
            .await?;
        Ok(rows.into_iter().map(|row| row.get(0)).collect())
    }

    async fn request_cancel(&self, user_id: &str, run_id: &str) -> Result<bool, StoreError> {
        let asked = self
            .call(
                "WITH asked AS (
                    UPDATE runs SET cancel_requested = true
                     WHERE id = $2 AND user_id = $1 AND status = 'running' RETURNING id)
                 SELECT pg_notify($3, id) FROM asked",
                &[&user_id, &run_id, &listener::CANCELS],
            )
            .await?;
        Ok(!asked.is_empty())
    }

    fn take_signals(&self) -> Option<mpsc::Receiver<Signal>> {
        self.signals
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
    }

    async fn add_message(&self, thread_id: &str, role: &str, text: &str) -> Result<(), StoreError> {
        self.call(
            "SELECT gateway_insert_message($1, $2, $3, $4)",
            &[&thread_id, &role, &text, &timestamp_now()],
        )
        .await?;
        Ok(())
    }

    async fn messages(&self, thread_id: &str, last: usize) -> Result<Vec<(String, String)>, StoreError> {
        let limit = i64::try_from(last).unwrap_or(i64::MAX);
        let rows = self
            .call(
                "SELECT role, text FROM messages WHERE thread_id = $1 ORDER BY position DESC LIMIT $2",
                &[&thread_id, &limit],
            )
            .await?;
        let mut newest_first: Vec<(String, String)> = rows.into_iter().map(|row| (row.get(0), row.get(1))).collect();
        newest_first.reverse();
        Ok(newest_first)
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
        let row = self
            .call_one(
                "SELECT * FROM gateway_append_event($1, $2, $3, $4, $5, $6, $7)",
                &[
                    &self.node,
                    &thread_id,
                    &run_id,
                    &request_id,
                    &kind.as_str(),
                    &event.data.to_string(),
                    &event.timestamp,
                ],
            )
            .await
            .map_err(|error| fenced(error, run_id))?;
        self.stored(&row, event)
    }

    async fn history(&self, thread_id: &str) -> Result<History, StoreError> {
        let rows = self
            .call(
                "SELECT last_seq, removed_through FROM threads WHERE id = $1",
                &[&thread_id],
            )
            .await?;
        let (latest, removed): (i64, i64) = rows.first().map_or((0, 0), |row| (row.get(0), row.get(1)));
        Ok(History {
            latest: to_seq(latest)?,
            removed_through: to_seq(removed)?,
        })
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
        let rows = self
            .call(
                "SELECT seq, run_id, request_id, type, data, timestamp FROM events
                  WHERE thread_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
                &[&thread_id, &after, &limit],
            )
            .await?;
        rows.into_iter()
            .map(|row| {
                let kind: String = row.get(3);
                let data: String = row.get(4);
                Ok(Event {
                    kind: EventType::parse(&kind).ok_or_else(|| StoreError::Corrupt(format!("event type {kind}")))?,
                    seq: to_seq(row.get(0))?,
                    thread_id: thread_id.to_owned(),
                    run_id: row.get(1),
                    request_id: row.get(2),
                    timestamp: row.get(5),
                    data: serde_json::from_str(&data).map_err(|e| StoreError::Corrupt(e.to_string()))?,
                })
            })
            .collect()
    }
}

/// A stored `seq` as a `u64`.
fn to_seq(value: i64) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| StoreError::Corrupt(format!("seq {value}")))
}

/// An error of the gateway's functions as the refusal it stands for (see `schema`), or as an engine
/// failure.
fn refused(error: tokio_postgres::Error) -> StoreError {
    let code = error.code().map(SqlState::code);
    match code {
        Some("GW001") => StoreError::Fenced(String::new()),
        Some("GW002") => StoreError::ThreadBusy,
        Some("GW003") => StoreError::TooManyRuns(0),
        Some("GW004") => StoreError::Corrupt(
            error
                .as_db_error()
                .map_or_else(|| error.to_string(), |db| db.message().to_owned()),
        ),
        _ => failed(error),
    }
}

/// A fencing refusal, naming its run.
fn fenced(error: StoreError, run_id: &str) -> StoreError {
    match error {
        StoreError::Fenced(_) => StoreError::Fenced(run_id.to_owned()),
        other => other,
    }
}
