//! What retention cuts from a thread, the same for both backends: whole runs go from the oldest on,
//! while the thread stores more event data than its limit or while they ended before the retention
//! period; the thread's latest run always stays (it is what a client resumes from, and a running run
//! is not over). The backends read the thread and its events, and remove what the cut says.

use crate::config::HistoryLimits;

/// The time before which a finished run is too old, as the protocol writes times (`None`: no age limit).
pub(super) fn cutoff(limits: &HistoryLimits) -> Option<String> {
    limits.max_age.map(|age| {
        let age = chrono::Duration::from_std(age).unwrap_or(chrono::Duration::MAX);
        let cutoff = chrono::Utc::now()
            .checked_sub_signed(age)
            .unwrap_or(chrono::DateTime::<chrono::Utc>::MIN_UTC);
        cutoff.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    })
}

/// A thread as retention sees it.
pub(super) struct Thread {
    /// Bytes of event data it stores.
    pub stored_bytes: i64,
    /// The `seq` through which its history was removed before.
    pub removed_through: i64,
    /// Its latest `seq`.
    pub last_seq: i64,
}

/// One stored event, as retention weighs it.
pub(super) struct Weighed {
    /// Its `seq`.
    pub seq: i64,
    /// Its run.
    pub run_id: String,
    /// Its type.
    pub kind: String,
    /// Bytes of its data.
    pub bytes: i64,
    /// When it was stored.
    pub timestamp: String,
}

/// What to remove from a thread.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Cut {
    /// Events with `seq` up to this one go.
    pub through: i64,
    /// Bytes of event data that go.
    pub bytes: i64,
    /// Events that go.
    pub events: u64,
    /// The runs that go.
    pub runs: Vec<String>,
    /// The end of the last run that goes: the conversation's messages up to it go with the runs.
    pub last_timestamp: String,
}

/// What the limits cut from `thread`, whose events after `removed_through` are `events` in `seq`
/// order; `None` when nothing goes.
pub(super) fn plan(
    thread: &Thread,
    events: impl IntoIterator<Item = Weighed>,
    bytes_per_thread: i64,
    cutoff: Option<&str>,
) -> Option<Cut> {
    let mut cut = Cut {
        through: thread.removed_through,
        bytes: 0,
        events: 0,
        runs: Vec::new(),
        last_timestamp: String::new(),
    };
    let (mut run_bytes, mut run_events) = (0i64, 0u64);
    for event in events {
        run_bytes += event.bytes;
        run_events += 1;
        if event.kind != "agent_completed" {
            continue;
        }
        let too_much = thread.stored_bytes - cut.bytes > bytes_per_thread;
        let too_old = cutoff.is_some_and(|cutoff| event.timestamp.as_str() < cutoff);
        let more_follow = event.seq < thread.last_seq;
        if !(too_much || too_old) || !more_follow {
            break;
        }
        cut.through = event.seq;
        cut.bytes += run_bytes;
        cut.events += run_events;
        (run_bytes, run_events) = (0, 0);
        cut.runs.push(event.run_id);
        cut.last_timestamp = event.timestamp;
    }
    (cut.through != thread.removed_through).then_some(cut)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(first: i64, name: &str, bytes: i64, ended: &str) -> Vec<Weighed> {
        ["agent_started", "agent_thinking", "agent_completed"]
            .iter()
            .enumerate()
            .map(|(i, kind)| Weighed {
                seq: first + i as i64,
                run_id: name.into(),
                kind: (*kind).into(),
                bytes,
                timestamp: ended.into(),
            })
            .collect()
    }

    #[test]
    fn whole_runs_go_oldest_first_and_the_latest_stays() {
        let events: Vec<Weighed> = [run(1, "r1", 100, "a"), run(4, "r2", 100, "b"), run(7, "r3", 100, "c")]
            .into_iter()
            .flatten()
            .collect();
        let thread = Thread {
            stored_bytes: 900,
            removed_through: 0,
            last_seq: 9,
        };
        let cut = plan(&thread, events, 350, None).expect("a cut");
        assert_eq!((cut.through, cut.bytes, cut.events), (6, 600, 6));
        assert_eq!(cut.runs, vec!["r1".to_owned(), "r2".to_owned()]);
        assert_eq!(cut.last_timestamp, "b");
        let within = plan(&thread, run(1, "r1", 100, "a"), 10_000, None);
        assert_eq!(within, None, "nothing goes within the limits");
        let old = plan(&thread, run(1, "r1", 100, "a"), 10_000, Some("b")).expect("too old");
        assert_eq!(old.runs, vec!["r1".to_owned()]);
    }
}
