//! `ssot-check server`: a language server over standard input and output. It checks the workspace as
//! the editor holds it (open buffers, saved or not), shows each finding at every place it involves,
//! offers the fixes, a suppression and the way to the canonical definition as code actions, explains
//! rules on hover, and reloads the rule files when they change.
//!
//! Diagnostics are pushed (`textDocument/publishDiagnostics`) unless the client pulls them
//! (`textDocument/diagnostic`, `workspace/diagnostic`), in which case it is asked to pull again after
//! each check that changed them.

mod actions;
mod diagnostics;
mod documents;
mod hover;
mod lines;
mod session;
mod uris;

pub use session::Settings;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crossbeam_channel::{Receiver, select};
use lsp_server::{Connection, ErrorCode, Message, Notification, Request, RequestId, Response};
use lsp_types::{
    CodeActionKind, CodeActionOptions, CodeActionParams, CodeActionProviderCapability, DiagnosticOptions,
    DiagnosticServerCapabilities, DidChangeTextDocumentParams, DidCloseTextDocumentParams, DidOpenTextDocumentParams,
    DidSaveTextDocumentParams, DocumentDiagnosticParams, ExecuteCommandOptions, ExecuteCommandParams, HoverParams,
    HoverProviderCapability, InitializeParams, MessageType, PositionEncodingKind, PublishDiagnosticsParams,
    SaveOptions, ServerCapabilities, ServerInfo, ShowDocumentParams, ShowMessageParams, TextDocumentSyncCapability,
    TextDocumentSyncKind, TextDocumentSyncOptions, TextDocumentSyncSaveOptions, WorkspaceDiagnosticParams,
};

use crate::watch::ChangeWatcher;
use lines::Encoding;
use session::Session;

/// Why the server stopped before the client asked it to.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum ServerError {
    /// The client broke the protocol or went away during the handshake.
    #[error("language server protocol: {0}")]
    #[diagnostic(code(ssot_check::server))]
    Protocol(String),
}

impl From<lsp_server::ProtocolError> for ServerError {
    fn from(error: lsp_server::ProtocolError) -> Self {
        ServerError::Protocol(error.to_string())
    }
}

/// What the client said it can do, as far as the server cares.
struct Client {
    /// It pulls diagnostics.
    pulls: bool,
    /// It can be asked to pull again.
    refreshes: bool,
    /// It opens a document when asked to (`window/showDocument`).
    shows_documents: bool,
}

/// Runs the server over standard input and output until the client shuts it down or goes away. `cwd`
/// is the root when the client names no workspace folder; checks run on `pool`.
pub fn serve(settings: Settings, cwd: &Path, pool: rayon::ThreadPool) -> Result<(), ServerError> {
    let (connection, io_threads) = Connection::stdio();
    let result = run(&connection, settings, cwd, pool);
    drop(connection);
    // The reader thread fails once the loop stops receiving (a message after `exit`, or the stream
    // closed): the end of the session, not an error of it.
    let _ = io_threads.join();
    result
}

fn run(connection: &Connection, settings: Settings, cwd: &Path, pool: rayon::ThreadPool) -> Result<(), ServerError> {
    let (id, params) = connection.initialize_start()?;
    // lsp-types reads `workspace.diagnostic`; the protocol (and every client) says `diagnostics`.
    let refreshes = params["capabilities"]["workspace"]["diagnostics"]["refreshSupport"] == true;
    let init: InitializeParams =
        serde_json::from_value(params).map_err(|e| ServerError::Protocol(format!("bad initialize params: {e}")))?;
    let capabilities = &init.capabilities;
    let encoding = match capabilities
        .general
        .as_ref()
        .and_then(|g| g.position_encodings.as_ref())
        .is_some_and(|offered| offered.contains(&PositionEncodingKind::UTF8))
    {
        true => Encoding::Utf8,
        false => Encoding::Utf16,
    };
    let client = Client {
        pulls: capabilities
            .text_document
            .as_ref()
            .is_some_and(|t| t.diagnostic.is_some()),
        refreshes,
        shows_documents: capabilities
            .window
            .as_ref()
            .and_then(|w| w.show_document.as_ref())
            .is_some_and(|s| s.support),
    };
    #[allow(deprecated)] // `rootUri`: what clients without workspace folders send.
    let root = init
        .workspace_folders
        .as_ref()
        .and_then(|folders| folders.first())
        .and_then(|folder| uris::path_of(&folder.uri))
        .or_else(|| init.root_uri.as_ref().and_then(uris::path_of))
        .unwrap_or_else(|| cwd.to_path_buf());
    let server_capabilities = ServerCapabilities {
        position_encoding: Some(match encoding {
            Encoding::Utf8 => PositionEncodingKind::UTF8,
            Encoding::Utf16 => PositionEncodingKind::UTF16,
        }),
        text_document_sync: Some(TextDocumentSyncCapability::Options(TextDocumentSyncOptions {
            open_close: Some(true),
            change: Some(TextDocumentSyncKind::INCREMENTAL),
            save: Some(TextDocumentSyncSaveOptions::SaveOptions(SaveOptions {
                include_text: Some(false),
            })),
            ..TextDocumentSyncOptions::default()
        })),
        code_action_provider: Some(CodeActionProviderCapability::Options(CodeActionOptions {
            code_action_kinds: Some(vec![CodeActionKind::QUICKFIX, CodeActionKind::from(actions::FIX_ALL)]),
            ..CodeActionOptions::default()
        })),
        hover_provider: Some(HoverProviderCapability::Simple(true)),
        execute_command_provider: Some(ExecuteCommandOptions {
            commands: vec![actions::SHOW_CANONICAL.to_owned()],
            ..ExecuteCommandOptions::default()
        }),
        diagnostic_provider: client.pulls.then(|| {
            DiagnosticServerCapabilities::Options(DiagnosticOptions {
                identifier: Some(diagnostics::SOURCE.to_owned()),
                inter_file_dependencies: true,
                workspace_diagnostics: true,
                ..DiagnosticOptions::default()
            })
        }),
        ..ServerCapabilities::default()
    };
    let result = serde_json::json!({
        "capabilities": server_capabilities,
        "serverInfo": ServerInfo { name: "ssot-check".into(), version: Some(env!("CARGO_PKG_VERSION").into()) },
    });
    connection.initialize_finish(id, result)?;
    let mut session = Session::new(&root, settings, encoding, pool);
    let (changes, _watcher) = watch_disk(&session.root);
    if changes.is_some() {
        // Every change on disk is reported: the disk need not be asked about every file at each check.
        session.documents = documents::Documents::watched();
    }
    let mut server = Server {
        connection,
        client,
        session,
        result_ids: HashMap::new(),
        generation: 0,
        next_request: 0,
    };
    if changes.is_none() {
        server.tell(
            MessageType::WARNING,
            "ssot-check cannot watch the workspace: files changed outside the editor are seen after the next edit",
        );
    }
    server.publish();
    let never = crossbeam_channel::never();
    let changes = changes.as_ref().unwrap_or(&never);
    loop {
        let message = select! {
            recv(connection.receiver) -> message => match message {
                Ok(message) => message,
                // The client went away without shutting down.
                Err(_) => return Ok(()),
            },
            recv(changes) -> changed => {
                server.session.disk_changed(changed.ok().flatten().as_deref());
                server.publish();
                continue;
            }
        };
        if server.handle(message)? {
            return Ok(());
        }
        // Edits typed in a burst are checked once: what is already waiting is applied first.
        while let Ok(message) = connection.receiver.try_recv() {
            if server.handle(message)? {
                return Ok(());
            }
        }
        server.publish();
    }
}

/// Watches the workspace on its own thread; each change arrives as the files that changed (`None`:
/// unknown files). `None` when the system refuses to watch.
type DiskChanges = Receiver<Option<Vec<PathBuf>>>;

fn watch_disk(root: &Path) -> (Option<DiskChanges>, Option<std::thread::JoinHandle<()>>) {
    let Ok(mut watcher) = ChangeWatcher::start(&[root.to_path_buf()]) else {
        return (None, None);
    };
    let (sender, receiver) = crossbeam_channel::unbounded();
    let thread = std::thread::Builder::new()
        .name("ssot-check-watch".into())
        .spawn(move || {
            while let Ok(changed) = watcher.next_change() {
                let changed = (!changed.is_empty()).then_some(changed);
                if sender.send(changed).is_err() {
                    return;
                }
            }
        })
        .ok();
    (Some(receiver), thread)
}

/// The session and the connection it answers on.
struct Server<'c> {
    connection: &'c Connection,
    client: Client,
    session: Session,
    /// The result id of each file's diagnostics as last reported to a pulling client.
    result_ids: HashMap<PathBuf, String>,
    generation: u64,
    next_request: u64,
}

impl Server<'_> {
    /// Handles one message; `true` when the client shut the server down.
    fn handle(&mut self, message: Message) -> Result<bool, ServerError> {
        match message {
            Message::Request(request) => {
                if request.method == "shutdown" {
                    // After `shutdown` the client sends `exit`, or closes the stream (Neovim, when it
                    // quits): either ends the server cleanly.
                    self.send(Response::new_ok(request.id, ()).into());
                    let _ = self
                        .connection
                        .receiver
                        .recv_timeout(std::time::Duration::from_secs(30));
                    return Ok(true);
                }
                self.publish();
                let id = request.id.clone();
                let response = match self.answer(request) {
                    Ok(result) => Response::new_ok(id, result),
                    Err((code, message)) => Response::new_err(id, code as i32, message),
                };
                self.send(response.into());
            }
            Message::Notification(notification) => self.notified(notification),
            // Answers to the server's own requests (refresh, show document) need nothing more.
            Message::Response(_) => {}
        }
        Ok(false)
    }

    fn answer(&mut self, request: Request) -> Result<serde_json::Value, (ErrorCode, String)> {
        let json = |value: Result<serde_json::Value, serde_json::Error>| {
            value.map_err(|e| (ErrorCode::InternalError, e.to_string()))
        };
        match request.method.as_str() {
            "textDocument/codeAction" => {
                let params: CodeActionParams = params(request)?;
                let path = self.path_of(&params.text_document.uri)?;
                let text = self.session.documents.read_text(&path).unwrap_or_default();
                let request = actions::Request {
                    path: &path,
                    uri: &params.text_document.uri,
                    text: &text,
                    range: params.range,
                    only: params.context.only.as_deref(),
                    diagnostics: &params.context.diagnostics,
                };
                let found = actions::actions(
                    &request,
                    self.session.findings(),
                    &self.session.root,
                    self.session.encoding,
                    &uris::uri_of,
                );
                json(serde_json::to_value(found))
            }
            "textDocument/hover" => {
                let params: HoverParams = params(request)?;
                let document = params.text_document_position_params;
                let path = self.path_of(&document.text_document.uri)?;
                let text = self.session.documents.read_text(&path).unwrap_or_default();
                let position = document.position;
                let at: Vec<String> = self
                    .session
                    .published()
                    .get(&path)
                    .into_iter()
                    .flatten()
                    .filter(|d| d.range.start <= position && position <= d.range.end)
                    .filter_map(|d| match &d.code {
                        Some(lsp_types::NumberOrString::String(rule)) => Some(rule.clone()),
                        _ => None,
                    })
                    .collect();
                let shown = hover::hover(&text, position, self.session.encoding, &self.session.rules(), &at);
                json(serde_json::to_value(shown))
            }
            "textDocument/diagnostic" => {
                let params: DocumentDiagnosticParams = params(request)?;
                let path = self.path_of(&params.text_document.uri)?;
                let result_id = self.result_id(&path);
                Ok(match params.previous_result_id == Some(result_id.clone()) {
                    true => serde_json::json!({ "kind": "unchanged", "resultId": result_id }),
                    false => serde_json::json!({
                        "kind": "full",
                        "resultId": result_id,
                        "items": self.session.published().get(&path).cloned().unwrap_or_default(),
                    }),
                })
            }
            "workspace/diagnostic" => {
                let params: WorkspaceDiagnosticParams = params(request)?;
                let previous: HashMap<PathBuf, String> = params
                    .previous_result_ids
                    .iter()
                    .filter_map(|p| Some((uris::path_of(&p.uri)?, p.value.clone())))
                    .collect();
                let mut files: Vec<PathBuf> = self.session.published().keys().cloned().collect();
                files.extend(previous.keys().cloned());
                files.sort();
                files.dedup();
                let items: Vec<serde_json::Value> = files
                    .iter()
                    .filter_map(|path| {
                        let uri = uris::uri_of(path)?;
                        let result_id = self.result_id(path);
                        Some(match previous.get(path) == Some(&result_id) {
                            true => serde_json::json!({
                                "kind": "unchanged", "uri": uri, "version": null, "resultId": result_id,
                            }),
                            false => serde_json::json!({
                                "kind": "full", "uri": uri, "version": null, "resultId": result_id,
                                "items": self.session.published().get(path).cloned().unwrap_or_default(),
                            }),
                        })
                    })
                    .collect();
                Ok(serde_json::json!({ "items": items }))
            }
            "workspace/executeCommand" => {
                let params: ExecuteCommandParams = params(request)?;
                if params.command != actions::SHOW_CANONICAL {
                    return Err((
                        ErrorCode::InvalidParams,
                        format!("unknown command `{}`", params.command),
                    ));
                }
                let (Some(uri), Some(range)) = (params.arguments.first(), params.arguments.get(1)) else {
                    return Err((ErrorCode::InvalidParams, "expected a URI and a range".into()));
                };
                let (Ok(uri), Ok(range)) = (
                    serde_json::from_value(uri.clone()),
                    serde_json::from_value(range.clone()),
                ) else {
                    return Err((ErrorCode::InvalidParams, "expected a URI and a range".into()));
                };
                if self.client.shows_documents {
                    self.request(
                        "window/showDocument",
                        ShowDocumentParams {
                            uri,
                            external: None,
                            take_focus: Some(true),
                            selection: Some(range),
                        },
                    );
                }
                Ok(serde_json::Value::Null)
            }
            method => Err((
                ErrorCode::MethodNotFound,
                format!("ssot-check does not handle `{method}`"),
            )),
        }
    }

    fn notified(&mut self, notification: Notification) {
        let documents = &mut self.session.documents;
        match notification.method.as_str() {
            "textDocument/didOpen" => {
                if let Ok(params) = notification.extract::<DidOpenTextDocumentParams>("textDocument/didOpen")
                    && let Some(path) = local_path(&params.text_document.uri)
                {
                    documents.open(path, params.text_document.text);
                    self.session.stale = true;
                }
            }
            "textDocument/didChange" => {
                if let Ok(params) = notification.extract::<DidChangeTextDocumentParams>("textDocument/didChange")
                    && let Some(path) = local_path(&params.text_document.uri)
                {
                    documents.change(&path, params.content_changes, self.session.encoding);
                    self.session.stale = true;
                }
            }
            "textDocument/didClose" => {
                if let Ok(params) = notification.extract::<DidCloseTextDocumentParams>("textDocument/didClose")
                    && let Some(path) = local_path(&params.text_document.uri)
                {
                    documents.close(&path);
                    self.session.stale = true;
                }
            }
            "textDocument/didSave" => {
                if let Ok(params) = notification.extract::<DidSaveTextDocumentParams>("textDocument/didSave")
                    && let Some(path) = local_path(&params.text_document.uri)
                {
                    self.session.disk_changed(Some(&[path]));
                }
            }
            _ => {}
        }
    }

    /// Checks if anything changed, and tells the client what it should now show.
    fn publish(&mut self) {
        if let Err(problem) = self.session.check() {
            self.tell(MessageType::ERROR, &problem);
        }
        let changed = self.session.changed_diagnostics();
        if changed.is_empty() {
            return;
        }
        self.generation += 1;
        for (path, _) in &changed {
            self.result_ids.insert(path.clone(), self.generation.to_string());
        }
        if self.client.pulls {
            if self.client.refreshes {
                self.request("workspace/diagnostic/refresh", ());
            }
            return;
        }
        for (path, diagnostics) in changed {
            let Some(uri) = uris::uri_of(&path) else { continue };
            let params = PublishDiagnosticsParams::new(uri, diagnostics, None);
            self.send(Notification::new("textDocument/publishDiagnostics".into(), params).into());
        }
    }

    fn result_id(&self, path: &Path) -> String {
        self.result_ids.get(path).cloned().unwrap_or_else(|| "0".into())
    }

    fn path_of(&self, uri: &lsp_types::Uri) -> Result<PathBuf, (ErrorCode, String)> {
        local_path(uri).ok_or_else(|| (ErrorCode::InvalidParams, format!("not a file URI: {}", uri.as_str())))
    }

    fn tell(&self, typ: MessageType, message: &str) {
        let params = ShowMessageParams {
            typ,
            message: message.to_owned(),
        };
        self.send(Notification::new("window/showMessage".into(), params).into());
    }

    fn request(&mut self, method: &str, params: impl serde::Serialize) {
        self.next_request += 1;
        let id = RequestId::from(format!("ssot-check-{}", self.next_request));
        self.send(Request::new(id, method.to_owned(), params).into());
    }

    fn send(&self, message: Message) {
        // A client gone away is noticed by the receiving side, which ends the loop.
        let _ = self.connection.sender.send(message);
    }
}

/// A request's parameters, or the error that says what is wrong with them.
fn params<P: serde::de::DeserializeOwned>(request: Request) -> Result<P, (ErrorCode, String)> {
    serde_json::from_value(request.params).map_err(|e| {
        (
            ErrorCode::InvalidParams,
            format!("bad `{}` params: {e}", request.method),
        )
    })
}

/// The canonical path of a `file:` URI (as the workspace scan names files), or the path as given when
/// it does not exist on disk.
fn local_path(uri: &lsp_types::Uri) -> Option<PathBuf> {
    let path = uris::path_of(uri)?;
    Some(std::fs::canonicalize(&path).unwrap_or(path))
}
