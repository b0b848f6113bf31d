//! The PostgreSQL server the cluster tests share: its address comes from `GATEWAY_TEST_POSTGRES`
//! (`.ci/run` installs and starts one on a free port), and each test gets a database of its own.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;

use serde_json::Value;
use tokio_postgres::NoTls;

use super::process::{Socket, assert_thread, connect as connect_client, next_json, replay};

/// The server's connection string (to its `postgres` database), or `None` when no server is given and
/// none is required: the test then says it is skipped. `GATEWAY_REQUIRE_POSTGRES=1` (CI) makes a
/// missing server a failure, so the tests cannot pass by not running.
pub fn server() -> Option<String> {
    match std::env::var("GATEWAY_TEST_POSTGRES") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var_os("GATEWAY_REQUIRE_POSTGRES").is_none(),
                "GATEWAY_REQUIRE_POSTGRES is set but GATEWAY_TEST_POSTGRES names no server"
            );
            eprintln!("skipped: no PostgreSQL server (set GATEWAY_TEST_POSTGRES=postgres://USER@HOST:PORT/postgres)");
            None
        }
    }
}

/// A connection to the database at `url`.
pub async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to {url}: {e}"));
    tokio::spawn(connection);
    client
}

/// A new, empty database on the server; its connection string.
pub async fn fresh_database(server: &str, name: &str) -> String {
    let database = format!("{name}_{}", uuid::Uuid::new_v4().simple());
    connect(server)
        .await
        .batch_execute(&format!("CREATE DATABASE {database}"))
        .await
        .expect("creates the database");
    let base = server.rsplit_once('/').map_or(server, |(base, _)| base);
    format!("{base}/{database}")
}

/// One number the query returns.
pub async fn count(client: &tokio_postgres::Client, sql: &str) -> i64 {
    client.query_one(sql, &[]).await.expect("counts").get(0)
}

/// Replays every stored thread from the start, each owner on a connection of its own to one of
/// `nodes` (in turn), and checks each thread's history (see `assert_thread`); every stored run must
/// have its events. Returns the histories and how many runs they hold.
pub async fn replay_every_thread(
    database: &tokio_postgres::Client,
    nodes: &[SocketAddr],
    tokens: &HashMap<String, String>,
) -> (BTreeMap<String, Vec<Value>>, usize) {
    let threads = database
        .query("SELECT id, owner FROM threads", &[])
        .await
        .expect("threads");
    let mut stored = BTreeMap::new();
    let mut runs = 0;
    let mut sockets: HashMap<String, Socket> = HashMap::new();
    for row in threads {
        let (thread, owner): (String, String) = (row.get(0), row.get(1));
        if !sockets.contains_key(&owner) {
            let addr = nodes[sockets.len() % nodes.len()];
            let mut ws = connect_client(addr, &tokens[&owner]).await.expect("connects");
            assert_eq!(next_json(&mut ws).await.expect("ready")["type"], "connection_ready");
            sockets.insert(owner.clone(), ws);
        }
        let events = replay(sockets.get_mut(&owner).expect("socket"), &thread).await;
        runs += assert_thread(&thread, &events);
        stored.insert(thread, events);
    }
    let stored_runs = count(database, "SELECT COUNT(*) FROM runs").await;
    assert_eq!(runs as i64, stored_runs, "every stored run has its events");
    (stored, runs)
}
