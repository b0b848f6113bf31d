//! Real `gateway` processes for the tests that kill, stall and restart them, and the client side of
//! their checks: connect, read, replay a thread, check a thread's history.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// One gateway process and the address it listens on.
pub struct Process {
    /// The process.
    pub child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
}

impl Process {
    /// Sends the process a signal (`-TERM`, `-STOP`, `-CONT`).
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([name, &self.child.id().to_string()])
            .status()
            .expect("signals");
        assert!(status.success(), "kill {name}");
    }
}

impl Drop for Process {
    /// A test that fails leaves no gateway running (holding ports and database connections).
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The gateway binary with the test secret and `args`, its log on stderr (piped).
pub fn gateway_command<I, S>(args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut command = Command::new(env!("CARGO_BIN_EXE_gateway"));
    command
        .args(["--bind", "127.0.0.1:0", "--jwt-secret", super::SECRET])
        .args(args)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    command
}

/// Starts the binary with `args` and waits for its "listening" line; the rest of its log is drained
/// so it never blocks on a full pipe (and kept in `log`, when given).
pub fn start<I, S>(args: I) -> Process
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut child = gateway_command(args).spawn().expect("spawns the gateway");
    let stderr = child.stderr.take().expect("stderr");
    let (found, address) = std::sync::mpsc::channel();
    // With GATEWAY_TEST_LOGS=DIR, each process's log is kept there (named by its pid), to read after
    // a failure.
    let mut keep = std::env::var_os("GATEWAY_TEST_LOGS").and_then(|dir| {
        std::fs::File::create(std::path::Path::new(&dir).join(format!("gateway-{}.log", child.id()))).ok()
    });
    std::thread::spawn(move || {
        let mut found = Some(found);
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if let Some(file) = keep.as_mut() {
                use std::io::Write;
                let _ = writeln!(file, "{line}");
            }
            if let Some(at) = line.find("address=") {
                let addr: String = line[at + "address=".len()..]
                    .chars()
                    .take_while(|c| !c.is_whitespace())
                    .collect();
                if let Some(found) = found.take() {
                    let _ = found.send(addr);
                }
            }
        }
    });
    let addr = address
        .recv_timeout(super::PATIENCE)
        .expect("the gateway says where it listens")
        .parse()
        .expect("an address");
    Process { child, addr }
}

/// `count` users (`user0`, `user1`, ...) with a token each.
pub fn users_with_tokens(count: usize) -> Vec<(String, String)> {
    (0..count)
        .map(|i| {
            let user = format!("user{i}");
            let token = token(&user);
            (user, token)
        })
        .collect()
}

/// A token for `user`, minted by the binary.
pub fn token(user: &str) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_gateway"))
        .args(["token", "--user", user, "--jwt-secret", super::SECRET])
        .output()
        .expect("mints a token");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).expect("utf-8").trim().to_owned()
}

/// A client socket.
pub type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Connects with `token`, or `None` when the gateway is not there.
pub async fn connect(addr: SocketAddr, token: &str) -> Option<Socket> {
    let mut request = format!("ws://{addr}/v1/ws").into_client_request().ok()?;
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().ok()?);
    let (ws, _) = tokio::time::timeout(
        Duration::from_secs(5),
        tokio_tungstenite::connect_async_with_config(request, None, true),
    )
    .await
    .ok()?
    .ok()?;
    Some(ws)
}

/// The next JSON message other than a heartbeat, or `None` when the connection is gone.
pub async fn next_json(ws: &mut Socket) -> Option<Value> {
    loop {
        match tokio::time::timeout(super::PATIENCE, ws.next()).await.ok()?? {
            Ok(Message::Text(text)) => {
                let value: Value = serde_json::from_str(&text).expect("the gateway sends JSON");
                if value["type"] != "heartbeat" {
                    return Some(value);
                }
            }
            Ok(Message::Ping(_) | Message::Pong(_)) => {}
            _ => return None,
        }
    }
}

/// A connection to the next gateway of the list after `attempt` (a load balancer's round robin), with
/// that gateway's address, or, when it does not answer, `None` after a short pause.
pub async fn connect_next(
    addresses: &Mutex<Vec<SocketAddr>>,
    attempt: &mut usize,
    token: &str,
) -> Option<(SocketAddr, Socket)> {
    let addr = {
        let addresses = addresses.lock().expect("addresses");
        *attempt += 1;
        addresses[*attempt % addresses.len()]
    };
    let ws = connect(addr, token).await;
    if ws.is_none() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Some((addr, ws?))
}

/// One user's load: runs back to back, a few per thread, reconnecting whenever the gateway is gone.
/// Every event seen live is recorded. With several gateways, each connection goes to the next one.
pub async fn user_load(
    addresses: Arc<Mutex<Vec<SocketAddr>>>,
    token: String,
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Vec<Value>>>,
) {
    let mut thread: Option<(String, usize)> = None;
    // Each connection goes to the next gateway of the list (a load balancer's round robin).
    let mut attempt = token.len();
    while !stop.load(Ordering::Relaxed) {
        let Some((_, mut ws)) = connect_next(&addresses, &mut attempt, &token).await else {
            continue;
        };
        while !stop.load(Ordering::Relaxed) {
            let mut message = json!({"type": "user_message", "text": "what is 6 * 7, and what time is it?"});
            if let Some((id, _)) = &thread {
                message["thread_id"] = json!(id);
            }
            if ws.send(Message::Text(message.to_string().into())).await.is_err() {
                break;
            }
            let mut completed = false;
            while let Some(value) = next_json(&mut ws).await {
                match value["type"].as_str() {
                    Some("connection_ready" | "pong") => {}
                    Some("error") => break,
                    Some(kind) => {
                        let done = kind == "agent_completed";
                        let id = value["thread_id"].as_str().map(str::to_owned);
                        seen.lock().expect("seen").push(value);
                        if done {
                            completed = true;
                            thread = match (thread.take(), id) {
                                (Some((id, runs)), _) if runs < 3 => Some((id, runs + 1)),
                                (None, Some(id)) => Some((id, 1)),
                                _ => None,
                            };
                            break;
                        }
                    }
                    None => {}
                }
            }
            if !completed {
                // An error or a lost connection: start over on a fresh thread.
                thread = None;
                break;
            }
        }
    }
}

/// Replays a thread from the start on `ws`: its events, in the order sent (a ping marks the end, as
/// the replay is queued before the pong). A `RATE_LIMITED` refusal (retryable) is waited out and asked
/// again, as a client should: a fast machine replays many threads within one rate window.
pub async fn replay(ws: &mut Socket, thread: &str) -> Vec<Value> {
    'ask: loop {
        let resume = json!({"type": "resume", "thread_id": thread, "after_seq": 0});
        ws.send(Message::Text(resume.to_string().into()))
            .await
            .expect("sends resume");
        ws.send(Message::Text(json!({"type": "ping"}).to_string().into()))
            .await
            .expect("sends ping");
        let mut events = Vec::new();
        let mut limited = false;
        loop {
            // Once refused, the ping may have been refused too: the replay ends with a pong or silence.
            let value = match limited {
                false => next_json(ws).await.expect("the replay arrives"),
                true => match tokio::time::timeout(Duration::from_secs(2), next_json(ws)).await {
                    Ok(Some(value)) if value["type"] != "pong" => value,
                    _ => {
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        continue 'ask;
                    }
                },
            };
            match value["type"].as_str() {
                Some("pong") => return events,
                Some("error") if value["code"] == "RATE_LIMITED" && value["retryable"] == true => limited = true,
                Some("error") => panic!("resume of {thread} refused: {value}"),
                _ => events.push(value),
            }
        }
    }
}

/// Checks one thread's stored history: gapless `seq`, runs one after another, each keeping the contract.
pub fn assert_thread(thread: &str, events: &[Value]) -> usize {
    let seqs: Vec<u64> = events.iter().map(|e| e["seq"].as_u64().expect("seq")).collect();
    assert_eq!(
        seqs,
        (1..=events.len() as u64).collect::<Vec<_>>(),
        "thread {thread}: seq gapless"
    );
    let mut runs: Vec<(String, Vec<Value>)> = Vec::new();
    for event in events {
        let run = event["run_id"].as_str().expect("run_id").to_owned();
        match runs.last_mut() {
            Some((id, run_events)) if *id == run => run_events.push(event.clone()),
            _ => {
                assert!(
                    runs.iter().all(|(id, _)| *id != run),
                    "thread {thread}: run {run} resumes after another run began"
                );
                runs.push((run, vec![event.clone()]));
            }
        }
    }
    for (_, run_events) in &runs {
        super::assert_run_contract(run_events);
    }
    runs.len()
}

/// Kills the process with SIGKILL and reaps it.
pub fn kill(process: &mut Process) {
    process.child.kill().expect("SIGKILL");
    process.child.wait().expect("reaped");
}

/// Every event a client saw live is stored, as it was sent.
pub fn assert_seen_is_stored(seen: &[Value], stored: &std::collections::BTreeMap<String, Vec<Value>>) {
    for event in seen {
        let thread = event["thread_id"].as_str().expect("thread");
        let seq = event["seq"].as_u64().expect("seq");
        let stored_event = stored
            .get(thread)
            .and_then(|events| events.iter().find(|e| e["seq"].as_u64() == Some(seq)))
            .unwrap_or_else(|| panic!("seen but not stored: {event}"));
        assert_eq!(stored_event, event, "stored as sent");
    }
}
