//! Per-user connection quota: one user opening hundreds of sockets must not use up what every other
//! user shares (memory, file descriptors, the writer's time).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

/// Counts each user's open connections against a limit.
#[derive(Clone, Debug)]
pub struct ConnectionQuota {
    limit: usize,
    open: Arc<Mutex<HashMap<String, usize>>>,
}

/// One held connection of a user; given back when dropped, however the connection ends.
#[derive(Debug)]
pub struct ConnectionSlot {
    user_id: String,
    open: Arc<Mutex<HashMap<String, usize>>>,
}

impl ConnectionQuota {
    /// A quota of `limit` open connections per user.
    pub fn new(limit: usize) -> Self {
        ConnectionQuota {
            limit,
            open: Arc::default(),
        }
    }

    /// The most connections one user may hold.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// A slot for one more connection of `user_id`, or `None` when the user holds the limit already.
    pub fn acquire(&self, user_id: &str) -> Option<ConnectionSlot> {
        // A count table has no invariant a panicking holder could leave half-changed.
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let count = open.entry(user_id.to_owned()).or_insert(0);
        if *count >= self.limit {
            return None;
        }
        *count += 1;
        Some(ConnectionSlot {
            user_id: user_id.to_owned(),
            open: Arc::clone(&self.open),
        })
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = open.get_mut(&self.user_id) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.user_id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_holds_at_most_the_limit_and_slots_come_back_when_dropped() {
        let quota = ConnectionQuota::new(2);
        let first = quota.acquire("alice").expect("first");
        let second = quota.acquire("alice").expect("second");
        assert!(quota.acquire("alice").is_none(), "third refused");
        assert!(quota.acquire("bob").is_some(), "another user is not affected");
        drop(first);
        let third = quota.acquire("alice").expect("a slot came back");
        drop((second, third));
        assert!(quota.open.lock().expect("lock").is_empty(), "no entry left behind");
    }
}
