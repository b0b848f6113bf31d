//! `thread_search`: finds the thread's earlier messages that share words with a query.

use futures_util::future::BoxFuture;
use serde_json::{Value, json};

use super::{Tool, ToolContext};

/// The search tool: `{"query": "..."}` -> `{"matches": [{"role": ..., "text": ...}]}`, best first, at most 5.
pub struct ThreadSearch;

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
            let wanted = words(query);
            let messages = context
                .store
                .messages(&context.thread_id)
                .await
                .map_err(|_| "the thread could not be read")?;
            // The last message is the one being answered; search what came before it.
            let earlier = &messages[..messages.len().saturating_sub(1)];
            let mut scored: Vec<(usize, usize, &(String, String))> = earlier
                .iter()
                .enumerate()
                .map(|(i, m)| (words(&m.1).iter().filter(|w| wanted.contains(w)).count(), i, m))
                .filter(|(score, _, _)| *score > 0)
                .collect();
            scored.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)));
            let matches: Vec<Value> = scored
                .iter()
                .take(5)
                .map(|(_, _, (role, text))| json!({ "role": role, "text": text }))
                .collect();
            Ok(json!({ "query": query, "searched": earlier.len(), "matches": matches }))
        })
    }
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
}
