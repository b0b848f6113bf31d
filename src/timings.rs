//! Phase timings for performance work: with `SSOT_CHECK_TIMINGS` set, each phase of a run prints how
//! long it took to standard error. Off by default, and free when off.

use std::sync::OnceLock;
use std::time::Instant;

fn enabled() -> bool {
    static ENABLED: OnceLock<bool> = OnceLock::new();
    *ENABLED.get_or_init(|| std::env::var_os("SSOT_CHECK_TIMINGS").is_some())
}

/// A running phase; prints its duration when dropped (if timings are on).
pub struct Phase {
    name: &'static str,
    start: Option<(Instant, u64)>,
}

/// Starts timing a phase named `name`.
pub fn phase(name: &'static str) -> Phase {
    Phase {
        name,
        start: enabled().then(|| (Instant::now(), cpu_nanoseconds())),
    }
}

/// Prints a remark about the run (why a shortcut was not taken), when timings are on; the text is
/// only made then.
pub fn note(text: impl FnOnce() -> String) {
    if enabled() {
        eprintln!("timing: note: {}", text());
    }
}

/// The CPU time all the process's threads have had, in nanoseconds (the first field of each thread's
/// `schedstat`): beside the wall time, it tells how well a phase uses the cores. 0 where unknown.
fn cpu_nanoseconds() -> u64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .filter_map(Result::ok)
        .filter_map(|task| std::fs::read_to_string(task.path().join("schedstat")).ok())
        .filter_map(|stat| stat.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

impl Drop for Phase {
    fn drop(&mut self) {
        if let Some((start, cpu)) = self.start {
            let peak = std::fs::read_to_string("/proc/self/status")
                .ok()
                .and_then(|status| status.lines().find(|l| l.starts_with("VmHWM:")).map(str::to_owned))
                .unwrap_or_default();
            eprintln!(
                "timing: {:<24} {:8.1} ms  cpu {:8.1} ms  {peak}",
                self.name,
                start.elapsed().as_secs_f64() * 1e3,
                cpu_nanoseconds().saturating_sub(cpu) as f64 / 1e6
            );
        }
    }
}
