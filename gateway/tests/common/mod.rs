//! A real gateway on 127.0.0.1 (port 0) with a temporary database, and a real WebSocket client.
#![allow(dead_code)]

pub mod postgres;
pub mod process;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use gateway::AppState;
use gateway::agent::Agents;
use gateway::config::Config;
use gateway::store::Store;
use gateway::tools::Tools;
use serde_json::Value;
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// The HS256 secret every test gateway uses.
pub const SECRET: &str = "integration-test-secret-0123456789";

/// How long a test waits for one message before failing.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// A running gateway.
pub struct TestGateway {
    pub addr: SocketAddr,
    pub state: AppState,
    pub database: PathBuf,
    shutdown: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    _dir: Option<tempfile::TempDir>,
}

/// A test configuration on a fresh temporary database.
pub fn config() -> (Config, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    (Config::for_tests(SECRET, dir.path().join("gateway.db")), dir)
}

impl TestGateway {
    /// A gateway with the test configuration and the standard agents.
    pub async fn start() -> Self {
        let (config, dir) = config();
        Self::start_with(config, Agents::standard(), Some(dir)).await
    }

    /// A gateway with the given configuration and agents; `dir` is kept alive with it.
    /// With `GATEWAY_TEST_SUITE_STORE=postgres` (and a server in `GATEWAY_TEST_POSTGRES`), the gateway
    /// keeps its store in a fresh PostgreSQL database instead: the protocol's tests then run against a
    /// cluster node.
    pub async fn start_with(mut config: Config, agents: Agents, dir: Option<tempfile::TempDir>) -> Self {
        let database = config.database.clone();
        if std::env::var("GATEWAY_TEST_SUITE_STORE").as_deref() == Ok("postgres") {
            let server = postgres::server().expect("GATEWAY_TEST_SUITE_STORE=postgres needs GATEWAY_TEST_POSTGRES");
            config.store = gateway::config::StoreLocation::Postgres(postgres::fresh_database(&server, "suite").await);
        }
        let store = Store::connect(&config).await.expect("store opens");
        let state = AppState::new(config, store, agents, Tools::standard()).expect("state");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binds");
        let addr = listener.local_addr().expect("addr");
        let (shutdown, signal) = oneshot::channel::<()>();
        let task = tokio::spawn(gateway::serve(listener, state.clone(), async move {
            let _ = signal.await;
        }));
        TestGateway {
            addr,
            state,
            database,
            shutdown: Some(shutdown),
            task,
            _dir: dir,
        }
    }

    /// A valid token for `user`.
    pub fn token(&self, user: &str) -> String {
        self.state.auth.mint(user, 600).expect("mints")
    }

    /// The WebSocket URL.
    pub fn url(&self) -> String {
        format!("ws://{}/v1/ws", self.addr)
    }

    /// An upgrade request for `user` with a bearer header.
    pub fn request(&self, user: &str) -> tokio_tungstenite::tungstenite::handshake::client::Request {
        let mut request = self.url().into_client_request().expect("request");
        let header = format!("Bearer {}", self.token(user)).parse().expect("header");
        request.headers_mut().insert("authorization", header);
        request
    }

    /// Connects as `user` with a bearer header and reads `connection_ready`.
    pub async fn connect(&self, user: &str) -> Client {
        let (ws, _) = tokio_tungstenite::connect_async(self.request(user))
            .await
            .expect("connects");
        let mut client = Client { ws };
        let ready = client.recv().await;
        assert_eq!(ready["type"], "connection_ready", "{ready}");
        assert_eq!(ready["user_id"], user);
        client
    }

    /// Stops the gateway (drains as on SIGTERM) and waits for it.
    pub async fn stop(mut self) -> Option<tempfile::TempDir> {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        let task = &mut self.task;
        tokio::time::timeout(PATIENCE, task)
            .await
            .expect("stops in time")
            .expect("joins")
            .expect("serves");
        self._dir.take()
    }

    /// A plain HTTP GET: the status and the body.
    pub async fn get(&self, path: &str) -> (u16, String) {
        http_get(self.addr, path).await
    }
}

/// A plain HTTP GET to `addr`: the status and the body.
pub async fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = TcpStream::connect(addr).await.expect("connects");
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("writes");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("reads");
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status");
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// A WebSocket client.
pub struct Client {
    pub ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Client {
    /// Sends a JSON message.
    pub async fn send(&mut self, value: Value) {
        self.ws
            .send(Message::Text(value.to_string().into()))
            .await
            .expect("sends");
    }

    /// The next JSON message, heartbeats skipped.
    pub async fn recv(&mut self) -> Value {
        loop {
            let message = tokio::time::timeout(PATIENCE, self.ws.next())
                .await
                .expect("a message in time");
            match message {
                Some(Ok(Message::Text(text))) => {
                    let value: Value = serde_json::from_str(&text).expect("JSON");
                    if value["type"] != "heartbeat" {
                        return value;
                    }
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                other => panic!("expected a text message, got {other:?}"),
            }
        }
    }

    /// Events up to and including the next `agent_completed`.
    pub async fn run_events(&mut self) -> Vec<Value> {
        let mut events = Vec::new();
        loop {
            let message = self.recv().await;
            let done = message["type"] == "agent_completed";
            events.push(message);
            if done {
                return events;
            }
        }
    }

    /// Waits for the server's close frame (messages before it are skipped).
    pub async fn closed(&mut self) -> Option<CloseFrame> {
        loop {
            match tokio::time::timeout(PATIENCE, self.ws.next())
                .await
                .expect("closes in time")
            {
                Some(Ok(Message::Close(frame))) => return frame,
                Some(Ok(_)) => {}
                None | Some(Err(_)) => return None,
            }
        }
    }
}

/// Checks one run's events: the five-event contract of PROTOCOL.md guarantee 1, consecutive `seq`s,
/// one run id, and the fields each type carries. Returns the run's `agent_completed` data.
pub fn assert_run_contract(events: &[Value]) -> Value {
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().expect("type")).collect();
    assert_eq!(types.first(), Some(&"agent_started"), "{types:?}");
    assert_eq!(types.last(), Some(&"agent_completed"), "{types:?}");
    assert_eq!(
        types.iter().filter(|t| **t == "agent_completed").count(),
        1,
        "{types:?}"
    );
    assert!(types.contains(&"agent_thinking"), "{types:?}");
    let run_id = &events[0]["run_id"];
    let first_seq = events[0]["seq"].as_u64().expect("seq");
    let mut open_call: Option<String> = None;
    for (i, event) in events.iter().enumerate() {
        assert_eq!(&event["run_id"], run_id, "one run: {event}");
        assert_eq!(event["seq"].as_u64(), Some(first_seq + i as u64), "gapless: {types:?}");
        assert!(event["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')), "{event}");
        assert!(event["thread_id"].is_string(), "{event}");
        let data = &event["data"];
        match event["type"].as_str().expect("type") {
            "agent_started" => assert!(
                data["agent_name"].is_string() && data["task_description"].is_string(),
                "{event}"
            ),
            "agent_thinking" => assert!(data["reasoning"].is_string() && data["step"].is_u64(), "{event}"),
            "tool_executing" => {
                assert!(
                    open_call.is_none(),
                    "a tool call started before the previous one completed"
                );
                assert!(
                    data["tool_name"].is_string() && data.get("parameters").is_some(),
                    "{event}"
                );
                open_call = Some(data["call_id"].as_str().expect("call_id").to_owned());
            }
            "tool_completed" => {
                let call = open_call.take().expect("tool_completed after its tool_executing");
                assert_eq!(data["call_id"], call.as_str());
                assert!(
                    data["success"].is_boolean() && data["duration_ms"].is_u64() && data.get("results").is_some(),
                    "{event}"
                );
            }
            "agent_completed" => {
                assert!(
                    matches!(data["status"].as_str(), Some("completed" | "failed" | "cancelled")),
                    "{event}"
                );
                assert!(
                    data["final_response"].is_string() && data["execution_time_ms"].is_u64(),
                    "{event}"
                );
            }
            other => panic!("unexpected event type {other}"),
        }
    }
    assert!(open_call.is_none(), "every tool_executing has its tool_completed");
    events.last().expect("events")["data"].clone()
}
