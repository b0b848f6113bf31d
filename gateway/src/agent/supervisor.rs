//! The default agent: a small supervisor that needs no network. It reads the request, plans which tools
//! help (the calculator for arithmetic, the clock for the time, the thread search for what was said
//! earlier), calls them in turn, and composes an answer from their results.

use std::sync::Arc;

use futures_util::future::BoxFuture;
use serde_json::{Value, json};

use super::{Agent, AgentError, AgentSession};

/// The supervisor agent.
pub struct Supervisor;

/// One planned tool call and why.
struct Step {
    tool: &'static str,
    params: Value,
    why: String,
}

impl Agent for Supervisor {
    fn name(&self) -> &'static str {
        "supervisor"
    }

    fn run(self: Arc<Self>, session: AgentSession) -> BoxFuture<'static, Result<String, AgentError>> {
        Box::pin(async move {
            let text = session.task().text.clone();
            session
                .think(format!("Reading the request: \"{}\"", shorten(&text, 120)))
                .await?;
            session.pause().await?;
            let plan = plan(&text);
            if plan.is_empty() {
                session.think("No tool is needed; answering directly.").await?;
            } else {
                let steps: Vec<&str> = plan.iter().map(|s| s.why.as_str()).collect();
                session.think(format!("Plan: {}.", steps.join("; then "))).await?;
            }
            let mut parts = Vec::new();
            for step in &plan {
                session.pause().await?;
                let result = session.call_tool(step.tool, step.params.clone()).await?;
                parts.push(describe(step.tool, &result));
            }
            session.pause().await?;
            session
                .think(format!("Composing the answer from {} tool result(s).", parts.len()))
                .await?;
            if parts.is_empty() {
                parts.push(format!(
                    "You said: \"{}\". I can do arithmetic (try \"what is 2 + 3 * 4?\"), tell the time, and search \
                     what was said earlier in this thread.",
                    shorten(&text, 200)
                ));
            }
            Ok(parts.join(" "))
        })
    }
}

/// The tools that help with `text`, in order.
fn plan(text: &str) -> Vec<Step> {
    let lower = text.to_lowercase();
    let mut plan = Vec::new();
    if let Some(expression) = arithmetic(text) {
        plan.push(Step {
            tool: "calculator",
            params: json!({ "expression": expression }),
            why: format!("evaluate `{expression}` with the calculator"),
        });
    }
    let has_word = |words: &[&str]| lower.split(|c: char| !c.is_alphanumeric()).any(|w| words.contains(&w));
    if has_word(&["time", "clock", "date", "today", "now"]) {
        plan.push(Step {
            tool: "clock",
            params: json!({}),
            why: "read the clock".into(),
        });
    }
    if has_word(&["earlier", "before", "remember", "said", "previous", "recall", "search"]) {
        plan.push(Step {
            tool: "thread_search",
            params: json!({ "query": text }),
            why: "search this thread".into(),
        });
    }
    plan
}

/// The longest run of arithmetic characters holding a digit and an operator between operands.
fn arithmetic(text: &str) -> Option<String> {
    let is_math = |c: char| c.is_ascii_digit() || " .+-*/%^()".contains(c);
    let mut best: Option<String> = None;
    let mut current = String::new();
    for c in text.chars().chain(std::iter::once('\n')) {
        if is_math(c) {
            current.push(c);
            continue;
        }
        let candidate = current
            .trim()
            .trim_end_matches(['+', '-', '*', '/', '%', '^', '.'])
            .trim()
            .to_owned();
        let has_digit = candidate.chars().any(|c| c.is_ascii_digit());
        let has_operator = candidate.chars().skip(1).any(|c| "+-*/%^".contains(c));
        if has_digit && has_operator && best.as_ref().is_none_or(|b| candidate.len() > b.len()) {
            best = Some(candidate);
        }
        current.clear();
    }
    best
}

fn describe(tool: &str, result: &Value) -> String {
    match tool {
        "calculator" => format!(
            "{} = {}.",
            result["expression"].as_str().unwrap_or("?"),
            result["value"]
        ),
        "clock" => format!("It is {} (UTC).", result["utc"].as_str().unwrap_or("?")),
        _ => match result["matches"].as_array().and_then(|m| m.first()) {
            Some(first) => format!("Earlier in this thread: \"{}\".", first["text"].as_str().unwrap_or("")),
            None => "I found nothing earlier in this thread about that.".into(),
        },
    }
}

fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        format!("{}...", text.chars().take(max).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_arithmetic_in_a_sentence() {
        assert_eq!(arithmetic("what is 2 + 3 * 4?"), Some("2 + 3 * 4".into()));
        assert_eq!(arithmetic("compute (1+2)^3 please"), Some("(1+2)^3".into()));
        assert_eq!(arithmetic("I have 3 cats"), None);
        assert_eq!(arithmetic("2026-01-01 was a day"), Some("2026-01-01".into()));
    }

    #[test]
    fn plans_tools_from_the_request() {
        let tools = |text: &str| plan(text).iter().map(|s| s.tool).collect::<Vec<_>>();
        assert_eq!(tools("what is 6*7 and what time is it?"), vec!["calculator", "clock"]);
        assert_eq!(tools("what did I say earlier?"), vec!["thread_search"]);
        assert!(tools("hello").is_empty());
    }
}
