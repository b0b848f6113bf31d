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
    start: Option<Instant>,
}

/// Starts timing a phase named `name`.
pub fn phase(name: &'static str) -> Phase {
    Phase {
        name,
        start: enabled().then(Instant::now),
    }
}

impl Drop for Phase {
    fn drop(&mut self) {
        if let Some(start) = self.start {
            let peak = std::fs::read_to_string("/proc/self/status")
                .ok()
                .and_then(|status| status.lines().find(|l| l.starts_with("VmHWM:")).map(str::to_owned))
                .unwrap_or_default();
            eprintln!(
                "timing: {:<24} {:8.1} ms  {peak}",
                self.name,
                start.elapsed().as_secs_f64() * 1e3
            );
        }
    }
}
