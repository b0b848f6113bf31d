//! What the other nodes say, heard through PostgreSQL's `LISTEN`: each stored event and each cancel is
//! a notification sent in the transaction that stored it, so it is heard only once committed, in
//! commit order. The listening connection is its own; when it is cut, it is opened again and a
//! [`Signal::Resync`] tells the subscribers that what was said meanwhile is only in the store.

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio_postgres::{AsyncMessage, NoTls};

use crate::store::Signal;

/// The channel events are announced on: `{"node", "thread_id", "seq"}`.
pub(super) const EVENTS: &str = "gateway_events";
/// The channel cancels are asked on: the run's id.
pub(super) const CANCELS: &str = "gateway_cancels";

/// Signals waiting for the gateway before the oldest are dropped (and a resync asked instead).
const BACKLOG: usize = 65_536;

/// Starts listening for the other nodes of `node`; the receiver gets what they say.
pub(super) fn start(url: String, node: String) -> mpsc::Receiver<Signal> {
    let (signals, receiver) = mpsc::channel(BACKLOG);
    tokio::spawn(listen(url, node, signals));
    receiver
}

/// Listens until the receiver is gone, opening the connection again whenever it is cut.
async fn listen(url: String, node: String, signals: mpsc::Sender<Signal>) {
    let mut pause = Duration::from_millis(100);
    let mut first = true;
    loop {
        match listen_once(&url, &node, &signals, first).await {
            Ok(Ended::ReceiverGone) => return,
            Ok(Ended::Cut) => pause = Duration::from_millis(100),
            Err(error) => tracing::warn!(%error, "cannot listen to the other nodes; trying again"),
        }
        first = false;
        if signals.is_closed() {
            return;
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(5));
    }
}

enum Ended {
    Cut,
    ReceiverGone,
}

/// One listening connection, until it is cut.
async fn listen_once(
    url: &str,
    node: &str,
    signals: &mpsc::Sender<Signal>,
    first: bool,
) -> Result<Ended, tokio_postgres::Error> {
    let (client, mut connection) = tokio_postgres::connect(url, NoTls).await?;
    let (notifications, mut heard) = mpsc::unbounded_channel();
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
    if !first {
        // Whatever was said while no connection listened is only in the store now.
        tracing::info!("listening to the other nodes again; subscribers resume from the store");
        if signals.send(Signal::Resync).await.is_err() {
            return Ok(Ended::ReceiverGone);
        }
    }
    while let Some(notification) = heard.recv().await {
        let Some(signal) = parse(notification.channel(), notification.payload(), node) else {
            continue;
        };
        match signals.try_send(signal) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Closed(_)) => return Ok(Ended::ReceiverGone),
            Err(mpsc::error::TrySendError::Full(_)) => {
                tracing::warn!("too many signals from the other nodes waiting; subscribers resume from the store");
                if signals.send(Signal::Resync).await.is_err() {
                    return Ok(Ended::ReceiverGone);
                }
            }
        }
    }
    driver.abort();
    drop(client);
    Ok(Ended::Cut)
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

/// The payload announcing an event stored by `node`.
pub(super) fn announcement(node: &str, thread_id: &str, seq: u64) -> String {
    serde_json::json!({ "node": node, "thread_id": thread_id, "seq": seq }).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

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
