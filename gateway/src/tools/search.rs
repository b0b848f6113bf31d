//! `thread_search`: finds the thread's earlier messages that share words with a query.

use std::collections::HashSet;

use futures_util::future::BoxFuture;
use serde_json::{Value, json};

use super::{Tool, ToolContext};

/// The search tool: `{"query": "..."}` -> `{"matches": [{"role": ..., "text": ...}]}`, best first, at most 5.
pub struct ThreadSearch;

/// Distinct query words considered; a longer query is cut there.
const MAX_QUERY_WORDS: usize = 32;

/// Earlier messages searched, the most recent ones.
const MAX_SEARCHED: usize = 2_000;

/// Words too common to say anything about a match.
const STOP_WORDS: &[&str] = &[
    "the", "a", "an", "and", "or", "to", "of", "in", "is", "it", "what", "did", "i", "you", "me", "my",
];

fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .filter(|w| !STOP_WORDS.contains(&w.as_str()))
        .collect()
}

impl Tool for ThreadSearch {
    fn name(&self) -> &'static str {
        "thread_search"
    }

    fn call<'a>(&'a self, params: &'a Value, context: &'a ToolContext) -> BoxFuture<'a, Result<Value, String>> {
        Box::pin(async move {
            let query = params["query"].as_str().ok_or("`query` must be a string")?;
            let wanted: HashSet<String> = words(query).into_iter().take(MAX_QUERY_WORDS).collect();
            // The last message is the one being answered; search the most recent ones before it.
            let mut earlier = context
                .store
                .messages(&context.thread_id, MAX_SEARCHED + 1)
                .await
                .map_err(|_| "the thread could not be read")?;
            earlier.pop();
            let searched = earlier.len();
            // Scoring is CPU work proportional to the thread: off the async workers, so one user's long
            // thread cannot stall every other connection.
            let matches = tokio::task::spawn_blocking(move || best_matches(&wanted, earlier))
                .await
                .map_err(|_| "the search failed")?;
            Ok(json!({ "query": query, "searched": searched, "matches": matches }))
        })
    }
}

/// The five messages sharing most words with `wanted` (each word of a message looked up once, so the
/// work is linear in the text searched), the most recent first among equals.
fn best_matches(wanted: &HashSet<String>, earlier: Vec<(String, String)>) -> Vec<Value> {
    let mut scored: Vec<(usize, usize, (String, String))> = earlier
        .into_iter()
        .enumerate()
        .map(|(i, m)| (words(&m.1).iter().filter(|w| wanted.contains(*w)).count(), i, m))
        .filter(|(score, _, _)| *score > 0)
        .collect();
    scored.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)));
    scored
        .into_iter()
        .take(5)
        .map(|(_, _, (role, text))| json!({ "role": role, "text": text }))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    #[tokio::test]
    async fn finds_earlier_messages_by_shared_words() {
        let store = Store::in_memory().expect("store");
        let thread = store.create_thread("alice").await.expect("thread");
        for (role, text) in [
            ("user", "my cat is called Miso"),
            ("agent", "noted"),
            ("user", "what is my cat called?"),
        ] {
            store.add_message(&thread, role, text).await.expect("add");
        }
        let context = ToolContext {
            thread_id: thread,
            store,
        };
        let result = ThreadSearch
            .call(&json!({"query": "cat called"}), &context)
            .await
            .expect("searches");
        assert_eq!(result["searched"], 2);
        assert_eq!(result["matches"][0]["text"], "my cat is called Miso");
        assert_eq!(result["matches"].as_array().map(Vec::len), Some(1));
    }

    #[tokio::test]
    async fn searches_only_the_most_recent_messages_and_the_first_query_words() {
        let store = Store::in_memory().expect("store");
        let thread = store.create_thread("alice").await.expect("thread");
        store
            .add_message(&thread, "user", "the oldest mentions zebra")
            .await
            .expect("add");
        for i in 0..MAX_SEARCHED {
            store
                .add_message(&thread, "user", &format!("filler {i}"))
                .await
                .expect("add");
        }
        store.add_message(&thread, "user", "find zebra").await.expect("add");
        let context = ToolContext {
            thread_id: thread,
            store,
        };
        let result = ThreadSearch
            .call(&json!({"query": "zebra"}), &context)
            .await
            .expect("searches");
        assert_eq!(result["searched"], MAX_SEARCHED);
        assert_eq!(
            result["matches"].as_array().map(Vec::len),
            Some(0),
            "the oldest is beyond the window"
        );

        for text in ["zebra again", "and now?"] {
            context
                .store
                .add_message(&context.thread_id, "user", text)
                .await
                .expect("add");
        }
        let result = ThreadSearch
            .call(&json!({"query": "zebra"}), &context)
            .await
            .expect("searches");
        assert_eq!(result["matches"][0]["text"], "zebra again");
        let long_query = format!(
            "{} zebra",
            (0..MAX_QUERY_WORDS)
                .map(|i| format!("w{i}"))
                .collect::<Vec<_>>()
                .join(" ")
        );
        let result = ThreadSearch
            .call(&json!({"query": long_query}), &context)
            .await
            .expect("searches");
        assert_eq!(
            result["matches"].as_array().map(Vec::len),
            Some(0),
            "words past the limit are ignored"
        );
        let result = ThreadSearch
            .call(&json!({"query": "filler 7"}), &context)
            .await
            .expect("searches");
        assert_eq!(result["matches"][0]["text"], "filler 7", "a recent message is found");
    }
}
