//! PROTOCOL.md guarantee 3 under load: 200 users at once, each sending several messages, each receiving
//! exactly its own events, gapless and in order, and none of anyone else's.

mod common;

use std::collections::HashSet;

use common::{TestGateway, assert_run_contract};
use serde_json::json;

const USERS: usize = 200;
const MESSAGES: usize = 3;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_users_each_get_exactly_their_own_events() {
    let gateway = std::sync::Arc::new(TestGateway::start().await);
    let users: Vec<_> = (0..USERS)
        .map(|user| {
            let gateway = std::sync::Arc::clone(&gateway);
            tokio::spawn(async move {
                let name = format!("user-{user}");
                let mut client = gateway.connect(&name).await;
                let mut thread: Option<String> = None;
                let mut expected_seq = 1;
                for message in 0..MESSAGES {
                    // A question only this user asks, so an answer reaching another user would show.
                    let (a, b) = (user * 1000 + message, 7 + message);
                    let mut request = json!({"type": "user_message", "text": format!("what is {a} * {b}?"), "request_id": format!("{name}-{message}")});
                    if let Some(thread) = &thread {
                        request["thread_id"] = json!(thread);
                    }
                    client.send(request).await;
                    let events = client.run_events().await;
                    let completed = assert_run_contract(&events);
                    for event in &events {
                        assert_eq!(event["request_id"], format!("{name}-{message}").as_str(), "{name} got {event}");
                        assert_eq!(event["seq"], expected_seq, "{name}: gapless across runs of the thread");
                        expected_seq += 1;
                    }
                    let this_thread = events[0]["thread_id"].as_str().expect("thread").to_owned();
                    assert!(thread.as_ref().is_none_or(|t| *t == this_thread), "{name} stays on its thread");
                    thread = Some(this_thread);
                    assert_eq!(completed["status"], "completed");
                    let answer = format!("{}", (a * b) as f64);
                    assert!(completed["final_response"].as_str().is_some_and(|r| r.contains(&answer)), "{name}: {completed}");
                }
                thread.expect("a thread")
            })
        })
        .collect();
    let mut threads = HashSet::new();
    for user in users {
        threads.insert(user.await.expect("every user succeeds"));
    }
    assert_eq!(threads.len(), USERS, "every user has a thread of its own");
    std::sync::Arc::try_unwrap(gateway)
        .ok()
        .expect("sole owner")
        .stop()
        .await;
}
