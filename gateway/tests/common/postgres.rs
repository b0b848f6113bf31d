//! The PostgreSQL server the cluster tests share: its address comes from `GATEWAY_TEST_POSTGRES`
//! (`.ci/run` installs and starts one on a free port), and each test gets a database of its own.

use tokio_postgres::NoTls;

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
