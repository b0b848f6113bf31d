//! One WebSocket connection of one user: connected with a bearer header, `connection_ready` read.

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::Target;
use crate::token;

/// A connected client.
pub struct Client {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Client {
    /// Connects as `user`, the `index`th, to the gateway its index picks, and waits for
    /// `connection_ready`.
    pub async fn connect(target: &Target, user: &str, index: usize) -> Result<Self, String> {
        let url = target
            .url
            .get(index % target.url.len().max(1))
            .ok_or("no gateway URL given")?;
        let mut request = url
            .as_str()
            .into_client_request()
            .map_err(|e| format!("bad URL {url}: {e}"))?;
        let bearer = format!("Bearer {}", token::mint(&target.secret, user)?);
        request.headers_mut().insert(
            "authorization",
            bearer.parse().map_err(|e| format!("bad token header: {e}"))?,
        );
        let (ws, _) = tokio_tungstenite::connect_async_with_config(request, None, true)
            .await
            .map_err(|e| format!("cannot connect as {user}: {e}"))?;
        let mut client = Client { ws };
        let ready = client.recv().await?;
        if ready["type"] != "connection_ready" {
            return Err(format!("expected connection_ready, got {ready}"));
        }
        Ok(client)
    }

    /// Sends one JSON message.
    pub async fn send(&mut self, message: &Value) -> Result<(), String> {
        self.ws
            .send(Message::text(message.to_string()))
            .await
            .map_err(|e| format!("cannot send: {e}"))
    }

    /// Closes the connection with a close handshake (a dropped socket is logged by the gateway).
    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
        // Read until the gateway's close frame ends the stream.
        while let Some(Ok(_)) = self.ws.next().await {}
    }

    /// The next JSON message (pings and other control frames are skipped).
    pub async fn recv(&mut self) -> Result<Value, String> {
        loop {
            match self.ws.next().await {
                Some(Ok(Message::Text(text))) => {
                    return serde_json::from_str(&text).map_err(|e| format!("bad JSON from the gateway: {e}"));
                }
                Some(Ok(Message::Close(frame))) => return Err(format!("closed by the gateway: {frame:?}")),
                Some(Ok(_)) => {}
                Some(Err(error)) => return Err(format!("connection failed: {error}")),
                None => return Err("connection ended".into()),
            }
        }
    }
}
