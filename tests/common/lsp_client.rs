//! A language server client for tests and the editor-loop benchmark: starts `ssot-check server`,
//! frames JSON-RPC messages over its standard input and output, answers its requests, and keeps what
//! it sent until a test looks for it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// A running server and what it sent that no one has taken yet.
pub struct LspClient {
    child: Child,
    stdin: ChildStdin,
    incoming: mpsc::Receiver<Value>,
    backlog: Vec<Value>,
    next_id: u64,
    /// The requests the server sent (answered with `null`).
    pub server_requests: Vec<Value>,
}

impl LspClient {
    /// Starts `binary server ARGS` in `cwd`.
    pub fn start(binary: &Path, cwd: &Path, args: &[&str], cache: &Path) -> Self {
        let mut child = Command::new(binary)
            .arg("server")
            .args(args)
            .current_dir(cwd)
            .env("SSOT_CHECK_CACHE_DIR", cache)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("starts the server");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let (sender, incoming) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            while let Some(message) = read_message(&mut reader) {
                if sender.send(message).is_err() {
                    return;
                }
            }
        });
        LspClient {
            child,
            stdin,
            incoming,
            backlog: Vec::new(),
            next_id: 0,
            server_requests: Vec::new(),
        }
    }

    /// Sends a request and waits for its answer: `Ok(result)` or `Err(error)`.
    pub fn request(&mut self, method: &str, params: Value) -> Result<Value, Value> {
        self.next_id += 1;
        let id = self.next_id;
        self.send(&json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }));
        let answer = self
            .wait(Duration::from_secs(60), |m| {
                m.get("id") == Some(&json!(id)) && m.get("method").is_none()
            })
            .unwrap_or_else(|| panic!("no answer to {method}"));
        match answer.get("error") {
            Some(error) => Err(error.clone()),
            None => Ok(answer.get("result").cloned().unwrap_or(Value::Null)),
        }
    }

    /// Sends a notification.
    pub fn notify(&mut self, method: &str, params: Value) {
        self.send(&json!({ "jsonrpc": "2.0", "method": method, "params": params }));
    }

    /// Waits up to `timeout` for a message that `wanted` accepts (looking first at those already
    /// received); it is taken out.
    pub fn wait(&mut self, timeout: Duration, wanted: impl Fn(&Value) -> bool) -> Option<Value> {
        if let Some(at) = self.backlog.iter().position(&wanted) {
            return Some(self.backlog.remove(at));
        }
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            let message = self.incoming.recv_timeout(left).ok()?;
            if message.get("method").is_some() && message.get("id").is_some() {
                // A request of the server's: answered, and kept for the test to look at.
                let answer = json!({ "jsonrpc": "2.0", "id": message["id"], "result": null });
                self.send(&answer);
                self.server_requests.push(message.clone());
            }
            if wanted(&message) {
                return Some(message);
            }
            self.backlog.push(message);
        }
    }

    /// Waits for the diagnostics published for `uri` that `wanted` accepts (earlier ones for it are
    /// dropped): their list.
    pub fn diagnostics(
        &mut self,
        uri: &str,
        timeout: Duration,
        wanted: impl Fn(&[Value]) -> bool,
    ) -> Option<Vec<Value>> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            let published = self.wait(left, |m| {
                m["method"] == "textDocument/publishDiagnostics" && m["params"]["uri"] == uri
            })?;
            let list = published["params"]["diagnostics"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            if wanted(&list) {
                return Some(list);
            }
        }
    }

    /// Shuts the server down as a client does (`shutdown`, then `exit`); its exit code.
    pub fn shutdown(mut self) -> Option<i32> {
        let _ = self.request("shutdown", Value::Null);
        self.notify("exit", Value::Null);
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        None
    }

    fn send(&mut self, message: &Value) {
        let body = message.to_string();
        let framed = format!("Content-Length: {}\r\n\r\n{body}", body.len());
        let _ = self.stdin.write_all(framed.as_bytes());
        let _ = self.stdin.flush();
    }
}

impl Drop for LspClient {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One framed message (`None` at the end of the stream).
fn read_message(reader: &mut impl BufRead) -> Option<Value> {
    let mut length = None;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).ok()? == 0 {
            return None;
        }
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some(value) = header.strip_prefix("Content-Length:") {
            length = value.trim().parse::<usize>().ok();
        }
    }
    let mut body = vec![0; length?];
    reader.read_exact(&mut body).ok()?;
    serde_json::from_slice(&body).ok()
}

/// The `file:` URI of an absolute path (ASCII paths, as the tests use).
pub fn uri(path: &Path) -> String {
    format!("file://{}", path.display())
}

/// `text` with LSP text edits applied (positions in UTF-16 units, which are bytes in ASCII text).
pub fn apply_edits(text: &str, edits: &[Value]) -> String {
    let offset = |position: &Value| {
        let line = position["line"].as_u64().expect("line") as usize;
        let character = position["character"].as_u64().expect("character") as usize;
        let start: usize = text.split_inclusive('\n').take(line).map(str::len).sum();
        start + character
    };
    let mut ranges: Vec<(usize, usize, String)> = edits
        .iter()
        .map(|e| {
            (
                offset(&e["range"]["start"]),
                offset(&e["range"]["end"]),
                e["newText"].as_str().expect("newText").to_owned(),
            )
        })
        .collect();
    ranges.sort_by_key(|r| std::cmp::Reverse(r.0));
    let mut out = text.to_owned();
    for (start, end, new) in ranges {
        out.replace_range(start..end, &new);
    }
    out
}
