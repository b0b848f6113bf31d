//! Per-user quotas: how many connections one user holds and how fast all of them together may send.
//! One user opening hundreds of sockets, or spreading a flood over them, must not use up what every
//! other user shares (memory, file descriptors, the store's time).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use crate::rate_limit::TokenBucket;

/// What one user with open connections holds.
#[derive(Debug)]
struct UserQuota {
    connections: usize,
    /// Shared by all the user's connections; forgotten with the last one.
    messages: TokenBucket,
}

type Users = Arc<Mutex<HashMap<String, UserQuota>>>;

/// Counts each user's open connections against a limit and meters their messages together.
#[derive(Clone, Debug)]
pub struct ConnectionQuota {
    limit: usize,
    per_second: u32,
    burst: u32,
    users: Users,
}

/// One held connection of a user; given back when dropped, however the connection ends.
#[derive(Debug)]
pub struct ConnectionSlot {
    user_id: String,
    users: Users,
}

impl ConnectionQuota {
    /// A quota of `limit` open connections per user, whose messages together may come `per_second`
    /// on average with bursts of `burst`.
    pub fn new(limit: usize, per_second: u32, burst: u32) -> Self {
        ConnectionQuota {
            limit,
            per_second,
            burst,
            users: Arc::default(),
        }
    }

    /// The most connections one user may hold.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// A slot for one more connection of `user_id`, or `None` when the user holds the limit already.
    pub fn acquire(&self, user_id: &str) -> Option<ConnectionSlot> {
        // A count table has no invariant a panicking holder could leave half-changed.
        let mut users = self.users.lock().unwrap_or_else(PoisonError::into_inner);
        let user = users.entry(user_id.to_owned()).or_insert_with(|| UserQuota {
            connections: 0,
            messages: TokenBucket::new(self.per_second, self.burst),
        });
        if user.connections >= self.limit {
            return None;
        }
        user.connections += 1;
        Some(ConnectionSlot {
            user_id: user_id.to_owned(),
            users: Arc::clone(&self.users),
        })
    }
}

impl ConnectionSlot {
    /// Whether the user may send one more message now (taking it from the user's shared budget).
    pub fn try_take_message(&self) -> bool {
        let mut users = self.users.lock().unwrap_or_else(PoisonError::into_inner);
        users
            .get_mut(&self.user_id)
            .is_some_and(|user| user.messages.try_take())
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let mut users = self.users.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(user) = users.get_mut(&self.user_id) {
            user.connections -= 1;
            if user.connections == 0 {
                users.remove(&self.user_id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_holds_at_most_the_limit_and_slots_come_back_when_dropped() {
        let quota = ConnectionQuota::new(2, 1, 1);
        let first = quota.acquire("alice").expect("first");
        let second = quota.acquire("alice").expect("second");
        assert!(quota.acquire("alice").is_none(), "third refused");
        assert!(quota.acquire("bob").is_some(), "another user is not affected");
        drop(first);
        let third = quota.acquire("alice").expect("a slot came back");
        drop((second, third));
        assert!(quota.users.lock().expect("lock").is_empty(), "no entry left behind");
    }

    #[test]
    fn a_users_connections_share_one_message_budget() {
        let quota = ConnectionQuota::new(10, 1, 3);
        let (first, second) = (
            quota.acquire("alice").expect("one"),
            quota.acquire("alice").expect("two"),
        );
        let taken = (0..6).filter(|i| {
            if i % 2 == 0 {
                first.try_take_message()
            } else {
                second.try_take_message()
            }
        });
        assert_eq!(taken.count(), 3, "the burst is the user's, not each connection's");
        let bob = quota.acquire("bob").expect("bob");
        assert!(bob.try_take_message(), "another user has a budget of their own");
    }
}
