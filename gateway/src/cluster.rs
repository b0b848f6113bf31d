//! This node among the others sharing the store: it renews its lease on its runs, takes over (and
//! ends) the runs of nodes whose lease expired, delivers the events other nodes store to its own
//! subscribers, and cancels its runs when a client asks on another node. With the SQLite store no
//! other node exists: the lease is a no-op and no signal ever comes.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::engine::ExecutionEngine;
use crate::hub::Hub;
use crate::metrics::Metrics;
use crate::store::{Signal, Store};

/// This node's part in the cluster.
#[derive(Clone)]
pub struct Cluster {
    /// The shared store.
    pub store: Store,
    /// This node's subscriptions.
    pub hub: Hub,
    /// Runs this node's runs, and ends the ones it takes over.
    pub engine: ExecutionEngine,
    /// Takeovers and fan-out lag.
    pub metrics: Metrics,
    /// How long a lease lasts: it is renewed three times as often.
    pub lease: Duration,
}

impl Cluster {
    /// Renews this node's lease, for as long as it runs (until the caller drops it, after the drain:
    /// runs finishing in the grace period keep their lease). Nothing else waits in this loop, so a
    /// slow takeover never lets this node's own lease lapse.
    pub async fn keep_lease(self) {
        let mut interval = tokio::time::interval(self.lease / 3);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            match self.store.renew_lease().await {
                Ok(cancelled) => {
                    // A cancel whose signal this node missed is still recorded on the run.
                    for run_id in cancelled {
                        self.engine.cancel_here(&run_id);
                    }
                }
                Err(error) => tracing::warn!(%error, "cannot renew this node's lease"),
            }
        }
    }

    /// Takes over (and ends) the runs of gone nodes, checking as often as leases are renewed. A node
    /// seen gone may have died between storing events and announcing them: this node's subscribers
    /// catch up from the store.
    pub async fn take_over(self) {
        let mut interval = tokio::time::interval(self.lease / 3);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut known_gone = HashSet::new();
        loop {
            interval.tick().await;
            match self.store.expired_nodes().await {
                Ok(gone) => {
                    let gone: HashSet<String> = gone.into_iter().collect();
                    if gone.iter().any(|node| !known_gone.contains(node)) {
                        self.hub.catch_up_all();
                    }
                    known_gone = gone;
                }
                Err(error) => tracing::warn!(%error, "cannot read which nodes are gone"),
            }
            match self.engine.recover_interrupted_runs().await {
                Ok(0) => {}
                Ok(runs) => tracing::warn!(runs, "ended the runs of a node whose lease expired"),
                Err(error) => tracing::warn!(%error, "cannot take over the runs of gone nodes now"),
            }
        }
    }

    /// Acts on what the other nodes say until they can no longer say anything. Signals are handled
    /// one at a time, in the order they were committed, so a thread's events reach its subscribers here
    /// in `seq` order.
    pub async fn follow(self, mut signals: mpsc::Receiver<Signal>) {
        while let Some(signal) = signals.recv().await {
            match signal {
                Signal::Stored { thread_id, seq } => self.deliver(&thread_id, seq).await,
                Signal::Cancel(run_id) => {
                    self.engine.cancel_here(&run_id);
                }
                Signal::CatchUp => self.hub.catch_up_all(),
            }
        }
    }

    /// Reads an event another node stored and publishes it to this node's subscribers of its thread
    /// (only if there are some: the others need not read it).
    async fn deliver(&self, thread_id: &str, seq: u64) {
        if !self.hub.has_subscribers(thread_id) {
            return;
        }
        match self.store.events_page(thread_id, seq.saturating_sub(1), 1).await {
            Ok(mut page) if page.first().is_some_and(|event| event.seq == seq) => {
                let event = Arc::new(page.remove(0));
                if let Some(lag) = lag_since(&event.timestamp) {
                    self.metrics.fanned_out(lag);
                }
                self.hub.publish(&event);
            }
            // Removed already (retention), or unreadable now: the subscribers resume from the store,
            // where they find whatever is there, rather than miss one event and see the next.
            Ok(_) => self.hub.ask_to_resume_later(thread_id),
            Err(error) => {
                tracing::warn!(%error, thread_id, seq, "cannot read an event another node stored; its subscribers resume");
                self.hub.ask_to_resume_later(thread_id);
            }
        }
    }
}

/// How long ago an event's timestamp was (`None` if it cannot be read, or is in the future).
fn lag_since(timestamp: &str) -> Option<Duration> {
    let stored = chrono::DateTime::parse_from_rfc3339(timestamp).ok()?;
    (chrono::Utc::now() - stored.with_timezone(&chrono::Utc)).to_std().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lag_is_read_from_the_events_timestamp() {
        let a_second_ago =
            (chrono::Utc::now() - chrono::Duration::seconds(1)).to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let lag = lag_since(&a_second_ago).expect("a lag");
        assert!(
            lag >= Duration::from_millis(900) && lag < Duration::from_secs(30),
            "{lag:?}"
        );
        assert_eq!(lag_since("not a time"), None);
    }
}
