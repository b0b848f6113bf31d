//! What the other nodes say, heard through PostgreSQL's `LISTEN`: each stored event and each cancel is
//! a notification sent in the transaction that stored it, so it is heard only once committed, in
//! commit order. The listening connection is its own; when it is cut, it is opened again and a
//! [`Signal::Resync`] tells the subscribers that what was said meanwhile is only in the store.

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio_postgres::{AsyncMessage, NoTls, Notification};

use super::failed;
use crate::store::StoreError;

use crate::store::Signal;

/// The channel events are announced on (by `gateway_insert_event`): `{"node", "thread_id", "seq"}`.
pub(super) const EVENTS: &str = "gateway_events";
/// The channel cancels are asked on: the run's id.
pub(super) const CANCELS: &str = "gateway_cancels";

/// Signals waiting for the gateway before the oldest are dropped (and a resync asked instead).
const BACKLOG: usize = 65_536;

/// Starts listening for the other nodes of `node`; the receiver gets what they say. Returns once the
/// first `LISTEN` is in place, so nothing another node commits after the gateway starts serving goes
/// unheard.
pub(super) async fn start(url: String, node: String) -> Result<mpsc::Receiver<Signal>, StoreError> {
    let (signals, receiver) = mpsc::channel(BACKLOG);
    let first = Listening::open(&url).await.map_err(failed)?;
    tokio::spawn(listen(url, node, signals, first));
    Ok(receiver)
}

/// One listening connection.
struct Listening {
    _client: tokio_postgres::Client,
    heard: mpsc::UnboundedReceiver<Notification>,
    driver: tokio::task::JoinHandle<()>,
}

impl Listening {
    /// Connects and listens on both channels.
    async fn open(url: &str) -> Result<Self, tokio_postgres::Error> {
        let (client, mut connection) = tokio_postgres::connect(url, NoTls).await?;
        let (notifications, heard) = mpsc::unbounded_channel();
        let driver = tokio::spawn(async move {
            let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
            while let Some(message) = messages.next().await {
                match message {
                    Ok(AsyncMessage::Notification(notification)) => {
                        if notifications.send(notification).is_err() {
                            return;
                        }
                    }
                    Ok(_) => {}
                    Err(error) => {
                        tracing::warn!(%error, "the connection listening to the other nodes was cut");
                        return;
                    }
                }
            }
        });
        client
            .batch_execute(&format!("LISTEN {EVENTS}; LISTEN {CANCELS};"))
            .await?;
        Ok(Listening {
            _client: client,
            heard,
            driver,
        })
    }

    /// Hands on what is heard until the connection is cut (or no one takes signals any more).
    async fn relay(mut self, node: &str, signals: &mpsc::Sender<Signal>) -> Ended {
        while let Some(notification) = self.heard.recv().await {
            let Some(signal) = parse(notification.channel(), notification.payload(), node) else {
                continue;
            };
            match signals.try_send(signal) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Closed(_)) => return Ended::ReceiverGone,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    tracing::warn!("too many signals from the other nodes waiting; subscribers resume from the store");
                    if signals.send(Signal::Resync).await.is_err() {
                        return Ended::ReceiverGone;
                    }
                }
            }
        }
        self.driver.abort();
        Ended::Cut
    }
}

enum Ended {
    Cut,
    ReceiverGone,
}

/// Relays what is heard until no one takes signals any more, opening the connection again whenever
/// it is cut; each time, subscribers are told to resume, since what was said meanwhile is only in
/// the store.
async fn listen(url: String, node: String, signals: mpsc::Sender<Signal>, first: Listening) {
    let mut listening = Some(first);
    let mut pause = Duration::from_millis(100);
    loop {
        if let Some(current) = listening.take() {
            if let Ended::ReceiverGone = current.relay(&node, &signals).await {
                return;
            }
            pause = Duration::from_millis(100);
        }
        if signals.is_closed() {
            return;
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(5));
        match Listening::open(&url).await {
            Ok(again) => {
                tracing::info!("listening to the other nodes again; subscribers resume from the store");
                if signals.send(Signal::Resync).await.is_err() {
                    return;
                }
                listening = Some(again);
            }
            Err(error) => tracing::warn!(%error, "cannot listen to the other nodes; trying again"),
        }
    }
}

/// The signal a notification carries, unless it is this node's own (already delivered here) or
/// unreadable.
fn parse(channel: &str, payload: &str, node: &str) -> Option<Signal> {
    match channel {
        CANCELS => Some(Signal::Cancel(payload.to_owned())),
        EVENTS => {
            let value: Value = serde_json::from_str(payload).ok()?;
            if value["node"].as_str() == Some(node) {
                return None;
            }
            Some(Signal::Stored {
                thread_id: value["thread_id"].as_str()?.to_owned(),
                seq: value["seq"].as_u64()?,
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The payload `gateway_insert_event` (in `schema`) announces an event with.
    fn announcement(node: &str, thread_id: &str, seq: u64) -> String {
        serde_json::json!({ "node": node, "thread_id": thread_id, "seq": seq }).to_string()
    }

    #[test]
    fn a_nodes_own_events_are_not_signalled_back_to_it() {
        let said = announcement("a", "t1", 7);
        assert_eq!(parse(EVENTS, &said, "a"), None);
        assert_eq!(
            parse(EVENTS, &said, "b"),
            Some(Signal::Stored {
                thread_id: "t1".into(),
                seq: 7
            })
        );
        assert_eq!(parse(CANCELS, "r1", "b"), Some(Signal::Cancel("r1".into())));
        assert_eq!(parse(EVENTS, "not json", "b"), None);
        assert_eq!(parse("other", "x", "b"), None);
    }
}
