//! The PostgreSQL schema: the SQLite tables, plus the nodes sharing the store (each with its lease) and,
//! on each run, the node that owns it, its user, and whether a cancel was asked.

use tokio_postgres::Client;

use super::failed;
use crate::store::StoreError;

/// Serializes schema set-up between nodes starting together (`CREATE ... IF NOT EXISTS` is not safe
/// against itself in PostgreSQL).
const SETUP_LOCK: i64 = 0x6761_7465_7761_7901;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS nodes (
    id TEXT PRIMARY KEY,
    alive_until TIMESTAMPTZ NOT NULL,
    started_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS threads (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    created_at TEXT NOT NULL,
    last_seq BIGINT NOT NULL DEFAULT 0,
    stored_bytes BIGINT NOT NULL DEFAULT 0,
    removed_through BIGINT NOT NULL DEFAULT 0,
    last_position BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    thread_id TEXT NOT NULL REFERENCES threads(id),
    user_id TEXT NOT NULL,
    request_id TEXT,
    agent TEXT NOT NULL,
    status TEXT NOT NULL,
    started_at TEXT NOT NULL,
    ended_at TEXT,
    task TEXT NOT NULL,
    node TEXT NOT NULL,
    cancel_requested BOOLEAN NOT NULL DEFAULT false
);
-- One running run per thread, whichever node started it.
CREATE UNIQUE INDEX IF NOT EXISTS one_running_run_per_thread ON runs(thread_id) WHERE status = 'running';
CREATE INDEX IF NOT EXISTS running_runs_by_node ON runs(node) WHERE status = 'running';
CREATE INDEX IF NOT EXISTS running_runs_by_user ON runs(user_id) WHERE status = 'running';
CREATE INDEX IF NOT EXISTS runs_by_request ON runs(request_id) WHERE request_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS ended_runs ON runs(thread_id, ended_at) WHERE status <> 'running';
CREATE TABLE IF NOT EXISTS messages (
    thread_id TEXT NOT NULL REFERENCES threads(id),
    position BIGINT NOT NULL,
    role TEXT NOT NULL,
    text TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (thread_id, position)
);
CREATE TABLE IF NOT EXISTS events (
    thread_id TEXT NOT NULL REFERENCES threads(id),
    seq BIGINT NOT NULL,
    run_id TEXT NOT NULL,
    request_id TEXT,
    type TEXT NOT NULL,
    data TEXT NOT NULL,
    timestamp TEXT NOT NULL,
    PRIMARY KEY (thread_id, seq)
);
";

/// Creates what is missing, one node at a time.
pub(super) async fn set_up(client: &mut Client) -> Result<(), StoreError> {
    let transaction = client.transaction().await.map_err(failed)?;
    transaction
        .execute("SELECT pg_advisory_xact_lock($1)", &[&SETUP_LOCK])
        .await
        .map_err(failed)?;
    // Each existing table would otherwise be a NOTICE in every node's log at every start.
    transaction
        .batch_execute("SET LOCAL client_min_messages = warning")
        .await
        .map_err(failed)?;
    transaction.batch_execute(SCHEMA).await.map_err(failed)?;
    transaction.commit().await.map_err(failed)
}
