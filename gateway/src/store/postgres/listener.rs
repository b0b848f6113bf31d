//! What the other nodes say, heard through PostgreSQL's `LISTEN`: the events each node stored (its
//! `announcer` notifies after their commit), cancels (notified in the transaction that records them),
//! and calls to catch up. The listening connection is its own; when it is cut, it is opened again and a
//! [`Signal::CatchUp`] tells the subscribers that what was said meanwhile is only in the store.

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio_postgres::{AsyncMessage, NoTls, Notification};

use super::failed;
use crate::store::StoreError;

use crate::store::Signal;

/// The channel events are announced on (see `announcer`), and catch-ups called for.
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
            for signal in parse(notification.channel(), notification.payload(), node) {
                match signals.try_send(signal) {
                    Ok(()) => {}
                    Err(mpsc::error::TrySendError::Closed(_)) => return Ended::ReceiverGone,
                    Err(mpsc::error::TrySendError::Full(_)) => {
                        tracing::warn!(
                            "too many signals from the other nodes waiting; subscribers catch up from the store"
                        );
                        if signals.send(Signal::CatchUp).await.is_err() {
                            return Ended::ReceiverGone;
                        }
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
                if signals.send(Signal::CatchUp).await.is_err() {
                    return;
                }
                listening = Some(again);
            }
            Err(error) => tracing::warn!(%error, "cannot listen to the other nodes; trying again"),
        }
    }
}

/// The signals a notification carries: none for this node's own announcements (delivered here
/// already) or an unreadable one.
fn parse(channel: &str, payload: &str, node: &str) -> Vec<Signal> {
    match channel {
        CANCELS => vec![Signal::Cancel(payload.to_owned())],
        EVENTS => {
            let Ok(value) = serde_json::from_str::<Value>(payload) else {
                return Vec::new();
            };
            if value["node"].as_str() == Some(node) {
                return Vec::new();
            }
            if value["catch_up"] == true {
                return vec![Signal::CatchUp];
            }
            let Some(events) = value["events"].as_array() else {
                return Vec::new();
            };
            events
                .iter()
                .filter_map(|event| {
                    Some(Signal::Stored {
                        thread_id: event[0].as_str()?.to_owned(),
                        seq: event[1].as_u64()?,
                    })
                })
                .collect()
        }
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nodes_own_events_are_not_signalled_back_to_it() {
        let said = super::super::announcer::payload("a", &[("t1".into(), 7), ("t2".into(), 1)]);
        assert_eq!(parse(EVENTS, &said, "a"), Vec::new());
        let stored = |thread: &str, seq| Signal::Stored {
            thread_id: thread.into(),
            seq,
        };
        assert_eq!(parse(EVENTS, &said, "b"), vec![stored("t1", 7), stored("t2", 1)]);
        assert_eq!(
            parse(EVENTS, r#"{"node":"a","catch_up":true}"#, "b"),
            vec![Signal::CatchUp]
        );
        assert_eq!(parse(CANCELS, "r1", "b"), vec![Signal::Cancel("r1".into())]);
        assert_eq!(parse(EVENTS, "not json", "b"), Vec::new());
        assert_eq!(parse("other", "x", "b"), Vec::new());
    }
}
