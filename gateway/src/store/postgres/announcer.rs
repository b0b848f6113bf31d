//! Tells the other nodes which events this node stored: `NOTIFY` after the event's commit, from a
//! connection of its own, many events per notification.
//!
//! Not in the event's own transaction: PostgreSQL serializes the commits of notifying transactions
//! (a lock held through the commit's flush), which halved the store's throughput. Here the events are
//! durable first; the announcement is not, and needs not be: an event whose announcement is lost (this
//! node died between the two, or the announcing connection failed) is caught up from the store by the
//! nodes that missed it, when they see this node's lease expire or receive a catch-up call.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio_postgres::NoTls;

use super::listener::EVENTS;

/// Events announced in one notification at most (a payload stays under PostgreSQL's 8000 bytes).
const PER_NOTIFICATION: usize = 80;

/// Tries to send one notification before giving up on it and asking for a catch-up instead.
const ATTEMPTS: usize = 3;

/// An event to announce: its thread and `seq`.
pub(super) type Stored = (String, u64);

/// Starts the announcer of `node`; events sent to the returned channel are announced in order.
pub(super) fn start(url: String, node: String) -> mpsc::UnboundedSender<Stored> {
    let (announce, stored) = mpsc::unbounded_channel();
    tokio::spawn(announce_all(url, node, stored));
    announce
}

/// Announces until every sender is gone.
async fn announce_all(url: String, node: String, mut stored: mpsc::UnboundedReceiver<Stored>) {
    let mut client: Option<tokio_postgres::Client> = None;
    let mut batch = Vec::new();
    while let Some(first) = stored.recv().await {
        batch.push(first);
        while batch.len() < PER_NOTIFICATION {
            match stored.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let said = payload(&node, &batch);
        batch.clear();
        let mut sent = false;
        for attempt in 0..ATTEMPTS {
            if client.as_ref().is_none_or(tokio_postgres::Client::is_closed) {
                client = connect(&url).await;
            }
            if let Some(connected) = &client
                && connected
                    .execute("SELECT pg_notify($1, $2)", &[&EVENTS, &said])
                    .await
                    .is_ok()
            {
                sent = true;
                break;
            }
            client = None;
            tokio::time::sleep(Duration::from_millis(50 << attempt)).await;
        }
        if !sent {
            // The other nodes' subscribers read what they missed from the store once this gets through.
            tracing::warn!("cannot announce stored events to the other nodes; asking them to catch up");
            pending_catch_up(&url, &node, &mut client).await;
        }
    }
}

/// Keeps asking the other nodes to catch up until it gets through (or a while has passed: their
/// lease watch catches up too when this node is gone for good).
async fn pending_catch_up(url: &str, node: &str, client: &mut Option<tokio_postgres::Client>) {
    let said = serde_json::json!({ "node": node, "catch_up": true }).to_string();
    for attempt in 0..10u32 {
        if client.as_ref().is_none_or(tokio_postgres::Client::is_closed) {
            *client = connect(url).await;
        }
        if let Some(connected) = client.as_ref()
            && connected
                .execute("SELECT pg_notify($1, $2)", &[&EVENTS, &said])
                .await
                .is_ok()
        {
            return;
        }
        *client = None;
        tokio::time::sleep(Duration::from_millis(100) * (attempt + 1)).await;
    }
}

/// A connection for announcing: its commits are not waited for (an announcement need not be durable).
async fn connect(url: &str) -> Option<tokio_postgres::Client> {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await.ok()?;
    tokio::spawn(connection);
    client.batch_execute("SET synchronous_commit = off").await.ok()?;
    Some(client)
}

/// The notification announcing `stored` events of `node`: `{"node", "events": [[thread, seq], ...]}`.
pub(super) fn payload(node: &str, stored: &[Stored]) -> String {
    serde_json::json!({ "node": node, "events": stored }).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_notification_stays_under_the_servers_limit() {
        let thread = uuid::Uuid::new_v4().to_string();
        let events: Vec<Stored> = (0..PER_NOTIFICATION as u64)
            .map(|seq| (thread.clone(), u64::MAX - seq))
            .collect();
        let said = payload(&format!("node-{}", uuid::Uuid::new_v4().simple()), &events);
        assert!(said.len() < 8000, "{} bytes", said.len());
    }
}
