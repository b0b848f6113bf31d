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

/// The hot writes as functions: each is one statement (one round trip, its own transaction, its plans
/// kept by the server) instead of a transaction of a dozen round trips. Their errors carry codes of
/// their own (`GW...`), read by the backend: `GW001` the run is not this node's to write (fenced),
/// `GW002` the thread has a running run, `GW003` the user has as many runs as allowed, `GW004` no such
/// thread.
const FUNCTIONS: &str = r#"
CREATE OR REPLACE FUNCTION gateway_fence(p_node text, p_run text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE v_node text; v_status text;
BEGIN
    -- The run's row stays locked until the statement's transaction ends: no takeover comes between.
    SELECT node, status INTO v_node, v_status FROM runs WHERE id = p_run FOR UPDATE;
    IF NOT FOUND OR v_node <> p_node
       OR NOT EXISTS (SELECT 1 FROM nodes WHERE id = p_node AND alive_until > now()) THEN
        RAISE EXCEPTION 'run % is not this node''s to write', p_run USING ERRCODE = 'GW001';
    END IF;
    RETURN v_status;
END $$;

CREATE OR REPLACE FUNCTION gateway_insert_event(p_node text, p_thread text, p_run text, p_request text,
    p_type text, p_data text, p_timestamp text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE v_seq bigint;
BEGIN
    UPDATE threads SET last_seq = last_seq + 1, stored_bytes = stored_bytes + octet_length(p_data)
     WHERE id = p_thread RETURNING last_seq INTO v_seq;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no thread %', p_thread USING ERRCODE = 'GW004';
    END IF;
    INSERT INTO events (thread_id, seq, run_id, request_id, type, data, timestamp)
    VALUES (p_thread, v_seq, p_run, p_request, p_type, p_data, p_timestamp);
    RETURN v_seq;
END $$;

CREATE OR REPLACE FUNCTION gateway_insert_message(p_thread text, p_role text, p_text text, p_at text)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE v_position bigint;
BEGIN
    UPDATE threads SET last_position = last_position + 1 WHERE id = p_thread RETURNING last_position INTO v_position;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no thread %', p_thread USING ERRCODE = 'GW004';
    END IF;
    INSERT INTO messages (thread_id, position, role, text, created_at) VALUES (p_thread, v_position, p_role, p_text, p_at);
END $$;

-- The thread's latest event, if it is this event (a write retried after its commit's answer was lost).
CREATE OR REPLACE FUNCTION gateway_stored_already(p_thread text, p_run text, p_type text, p_data text)
RETURNS TABLE (seq bigint, stamped text) LANGUAGE sql AS $$
    SELECT e.seq, e.timestamp FROM (
        SELECT seq, run_id, type, data, timestamp FROM events WHERE thread_id = p_thread ORDER BY seq DESC LIMIT 1
    ) e WHERE e.run_id = p_run AND e.type = p_type AND e.data = p_data
$$;

CREATE OR REPLACE FUNCTION gateway_append_event(p_node text, p_thread text, p_run text, p_request text,
    p_type text, p_data text, p_timestamp text) RETURNS TABLE (seq bigint, stamped text) LANGUAGE plpgsql AS $$
BEGIN
    IF gateway_fence(p_node, p_run) <> 'running' THEN
        RAISE EXCEPTION 'run % has ended', p_run USING ERRCODE = 'GW001';
    END IF;
    RETURN QUERY SELECT * FROM gateway_stored_already(p_thread, p_run, p_type, p_data);
    IF FOUND THEN
        RETURN;
    END IF;
    RETURN QUERY SELECT gateway_insert_event(p_node, p_thread, p_run, p_request, p_type, p_data, p_timestamp), p_timestamp;
END $$;

CREATE OR REPLACE FUNCTION gateway_complete_run(p_node text, p_thread text, p_run text, p_request text,
    p_status text, p_data text, p_timestamp text, p_answer text) RETURNS TABLE (seq bigint, stamped text)
LANGUAGE plpgsql AS $$
BEGIN
    IF gateway_fence(p_node, p_run) <> 'running' THEN
        -- Completed already: by this very call, whose commit's answer was lost, if the stored end is
        -- this one; anything else ending it twice is refused.
        RETURN QUERY SELECT * FROM gateway_stored_already(p_thread, p_run, 'agent_completed', p_data);
        IF NOT FOUND THEN
            RAISE EXCEPTION 'run % has ended', p_run USING ERRCODE = 'GW001';
        END IF;
        RETURN;
    END IF;
    RETURN QUERY SELECT gateway_insert_event(p_node, p_thread, p_run, p_request, 'agent_completed', p_data, p_timestamp), p_timestamp;
    UPDATE runs SET status = p_status, ended_at = p_timestamp WHERE id = p_run;
    IF p_answer IS NOT NULL THEN
        PERFORM gateway_insert_message(p_thread, 'agent', p_answer, p_timestamp);
    END IF;
END $$;

CREATE OR REPLACE FUNCTION gateway_accept_run(p_node text, p_run text, p_thread text, p_user text,
    p_request text, p_agent text, p_task text, p_limit bigint, p_data text, p_timestamp text)
RETURNS TABLE (accepted boolean, run_id text, thread_id text, seq bigint) LANGUAGE plpgsql AS $$
BEGIN
    -- A retried request is the run it started.
    IF p_request IS NOT NULL THEN
        RETURN QUERY SELECT false, r.id, r.thread_id,
               (SELECT e.seq FROM events e WHERE e.thread_id = r.thread_id AND e.run_id = r.id AND e.type = 'agent_started')
          FROM runs r WHERE r.request_id = p_request AND r.task = p_task AND r.user_id = p_user LIMIT 1;
        IF FOUND THEN
            RETURN;
        END IF;
    END IF;
    -- The user's running runs are counted under a lock of the user's, so two nodes accepting at once
    -- cannot both see room for one more; the thread's row is locked to check it has no running run.
    PERFORM pg_advisory_xact_lock(hashtext(p_user));
    IF (SELECT COUNT(*) FROM runs WHERE user_id = p_user AND status = 'running') >= p_limit THEN
        RAISE EXCEPTION 'too many runs' USING ERRCODE = 'GW003';
    END IF;
    PERFORM 1 FROM threads WHERE id = p_thread FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no thread %', p_thread USING ERRCODE = 'GW004';
    END IF;
    IF EXISTS (SELECT 1 FROM runs WHERE runs.thread_id = p_thread AND status = 'running') THEN
        RAISE EXCEPTION 'thread % has a running run', p_thread USING ERRCODE = 'GW002';
    END IF;
    INSERT INTO runs (id, thread_id, user_id, request_id, agent, status, started_at, task, node)
    VALUES (p_run, p_thread, p_user, p_request, p_agent, 'running', p_timestamp, p_task, p_node);
    PERFORM gateway_insert_message(p_thread, 'user', p_task, p_timestamp);
    RETURN QUERY SELECT true, p_run, p_thread,
        gateway_insert_event(p_node, p_thread, p_run, p_request, 'agent_started', p_data, p_timestamp);
END $$;
"#;

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
    transaction.batch_execute(FUNCTIONS).await.map_err(failed)?;
    transaction.commit().await.map_err(failed)
}
