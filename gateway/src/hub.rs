//! Who receives a thread's live events: the connections subscribed to it.
//!
//! Only the thread's owner's connections subscribe (the router checks ownership first), so publishing by
//! thread never reaches another user. A connection too slow to keep up is told to close instead of
//! making the notifier wait or the queue grow without bound; its events stay in the store for `resume`.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::protocol::Event;

/// What a connection's writer is asked to do, in order.
#[derive(Debug)]
pub enum Outbound {
    /// Send a stored event (skipped if the connection already sent that `seq` of the thread).
    Event(Arc<Event>),
    /// Send a connection-level message (`pong`, `error`, ...).
    Text(String),
    /// Subscribe to the thread, then send its stored events after `after_seq`, then continue live.
    Replay {
        /// The thread (ownership already checked).
        thread_id: String,
        /// The last `seq` the client has.
        after_seq: u64,
        /// Whether events this connection already sent are sent again (the client asked to resume
        /// from there), or only those it has not sent (it follows a run it may already be following).
        resend: bool,
    },
    /// Close the socket with this code and reason.
    Close(u16, &'static str),
}

/// A subscribed connection.
#[derive(Clone, Debug)]
pub struct Subscriber {
    /// The connection's id.
    pub connection_id: String,
    /// Its writer's queue.
    pub sender: mpsc::Sender<Outbound>,
    /// Cancelled when the connection must close and the client resume later (its queue overflowed, or
    /// its thread's events cannot be stored for now).
    pub overflow: CancellationToken,
}

#[derive(Default)]
struct Subscriptions {
    by_thread: HashMap<String, Vec<Subscriber>>,
    by_connection: HashMap<String, HashSet<String>>,
}

/// The subscription table.
#[derive(Clone, Default)]
pub struct Hub {
    inner: Arc<Mutex<Subscriptions>>,
}

impl Hub {
    fn lock(&self) -> std::sync::MutexGuard<'_, Subscriptions> {
        // The table holds no invariant a panicking holder could break halfway.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Subscribes a connection to a thread (idempotent).
    pub fn subscribe(&self, thread_id: &str, subscriber: &Subscriber) {
        let mut subs = self.lock();
        let threads = subs.by_connection.entry(subscriber.connection_id.clone()).or_default();
        if !threads.insert(thread_id.to_owned()) {
            return;
        }
        subs.by_thread
            .entry(thread_id.to_owned())
            .or_default()
            .push(subscriber.clone());
    }

    /// Removes every subscription of a connection.
    pub fn unsubscribe_connection(&self, connection_id: &str) {
        let mut subs = self.lock();
        let Some(threads) = subs.by_connection.remove(connection_id) else {
            return;
        };
        for thread in threads {
            if let Some(list) = subs.by_thread.get_mut(&thread) {
                list.retain(|s| s.connection_id != connection_id);
                if list.is_empty() {
                    subs.by_thread.remove(&thread);
                }
            }
        }
    }

    /// Closes every connection subscribed to a thread with "try again later": its events cannot be
    /// stored for now, and a client that resumes later gets them, where one left waiting would not.
    pub fn ask_to_resume_later(&self, thread_id: &str) {
        let subscribers: Vec<Subscriber> = self.lock().by_thread.get(thread_id).cloned().unwrap_or_default();
        for subscriber in subscribers {
            subscriber.overflow.cancel();
            self.unsubscribe_connection(&subscriber.connection_id);
        }
    }

    /// Whether any connection here is subscribed to the thread.
    pub fn has_subscribers(&self, thread_id: &str) -> bool {
        self.lock().by_thread.contains_key(thread_id)
    }

    /// Has every subscribed connection read from the store what it has not sent of its threads:
    /// events of any thread may have been announced to no one. A connection that cannot take one more
    /// message now is closed to resume later.
    pub fn catch_up_all(&self) {
        let subscriptions: Vec<(String, Subscriber)> = {
            let subs = self.lock();
            subs.by_thread
                .iter()
                .flat_map(|(thread, subscribers)| subscribers.iter().map(|s| (thread.clone(), s.clone())))
                .collect()
        };
        for (thread_id, subscriber) in subscriptions {
            let catch_up = Outbound::Replay {
                thread_id,
                after_seq: 0,
                resend: false,
            };
            if subscriber.sender.try_send(catch_up).is_err() {
                subscriber.overflow.cancel();
                self.unsubscribe_connection(&subscriber.connection_id);
            }
        }
    }

    /// Queues an event for every connection subscribed to its thread.
    pub fn publish(&self, event: &Arc<Event>) {
        let subscribers: Vec<Subscriber> = self.lock().by_thread.get(&event.thread_id).cloned().unwrap_or_default();
        for subscriber in subscribers {
            match subscriber.sender.try_send(Outbound::Event(Arc::clone(event))) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(_)) => {
                    subscriber.overflow.cancel();
                    self.unsubscribe_connection(&subscriber.connection_id);
                }
                Err(mpsc::error::TrySendError::Closed(_)) => self.unsubscribe_connection(&subscriber.connection_id),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::EventType;

    fn event(thread: &str, seq: u64) -> Arc<Event> {
        Arc::new(Event {
            kind: EventType::AgentThinking,
            seq,
            thread_id: thread.into(),
            run_id: "r".into(),
            request_id: None,
            timestamp: String::new(),
            data: serde_json::json!({}),
        })
    }

    fn subscriber(id: &str, capacity: usize) -> (Subscriber, mpsc::Receiver<Outbound>) {
        let (sender, receiver) = mpsc::channel(capacity);
        (
            Subscriber {
                connection_id: id.into(),
                sender,
                overflow: CancellationToken::new(),
            },
            receiver,
        )
    }

    #[test]
    fn events_reach_only_the_threads_subscribers() {
        let hub = Hub::default();
        let (alice, mut alice_rx) = subscriber("a", 8);
        let (bob, mut bob_rx) = subscriber("b", 8);
        hub.subscribe("t-alice", &alice);
        hub.subscribe("t-alice", &alice);
        hub.subscribe("t-bob", &bob);
        hub.publish(&event("t-alice", 1));
        assert!(matches!(alice_rx.try_recv(), Ok(Outbound::Event(e)) if e.seq == 1));
        assert!(alice_rx.try_recv().is_err(), "subscribing twice delivers once");
        assert!(bob_rx.try_recv().is_err());
        hub.unsubscribe_connection("a");
        hub.publish(&event("t-alice", 2));
        assert!(alice_rx.try_recv().is_err());
    }

    #[test]
    fn a_full_queue_closes_the_slow_connection() {
        let hub = Hub::default();
        let (slow, _rx) = subscriber("slow", 1);
        hub.subscribe("t", &slow);
        hub.publish(&event("t", 1));
        hub.publish(&event("t", 2));
        assert!(slow.overflow.is_cancelled());
    }
}
