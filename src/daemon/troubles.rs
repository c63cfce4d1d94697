//! Trouble the daemon meets while running (a file it cannot write, a kernel set it cannot
//! update, a caught panic): counted for `status` and logged at most once a minute per
//! kind, so a full disk cannot flood the log.

use crate::time::Millis;

/// Kinds of trouble that are logged at most once per [`THROTTLE_MS`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trouble {
    Panic,
    Verdict,
    Recv,
    Spoof,
    Probe,
    Storefile,
    ClientDir,
    KernelSet,
    StatusFile,
    MarkLoop,
    TrainingFile,
    QueueOverflow,
}

const TROUBLE_KINDS: usize = 12;
const THROTTLE_MS: u64 = 60_000;

/// Counts of trouble, for `status` and the throttled log.
#[derive(Default)]
pub struct Troubles {
    count: [u64; TROUBLE_KINDS],
    last_logged: [Option<Millis>; TROUBLE_KINDS],
    unlogged: [u64; TROUBLE_KINDS],
}

impl Troubles {
    const NAMES: [&'static str; TROUBLE_KINDS] = [
        "daemon_engine_panics",
        "daemon_verdict_errors",
        "daemon_recv_errors",
        "daemon_spoof_errors",
        "daemon_probe_errors",
        "daemon_storefile_errors",
        "daemon_client_dir_errors",
        "daemon_kernel_set_errors",
        "daemon_status_file_errors",
        "daemon_mark_loops",
        "daemon_training_file_errors",
        "daemon_queue_overflows",
    ];

    /// Counts one, and logs it unless the same kind was logged less than a minute ago.
    /// Returns true if it was logged.
    pub fn note(&mut self, kind: Trouble, now: Millis, what: impl FnOnce() -> String) -> bool {
        // Only `what` is generic: the counting and logging is one function, not one copy
        // per caller (there are about twenty).
        match self.count_one(kind, now) {
            Some(unlogged) => {
                log_trouble(what(), unlogged);
                true
            }
            None => false,
        }
    }

    /// Counts one; `Some(troubles not logged since the last log line)` if this one is due.
    fn count_one(&mut self, kind: Trouble, now: Millis) -> Option<u64> {
        let i = kind as usize;
        self.count[i] = self.count[i].wrapping_add(1);
        if self.last_logged[i].map_or(true, |t| now.since(t) >= THROTTLE_MS) {
            self.last_logged[i] = Some(now);
            Some(std::mem::take(&mut self.unlogged[i]))
        } else {
            self.unlogged[i] = self.unlogged[i].wrapping_add(1);
            None
        }
    }

    pub fn named(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        Self::NAMES.iter().copied().zip(self.count.iter().copied())
    }
}

fn log_trouble(what: String, unlogged: u64) {
    match unlogged {
        0 => log::warn!("{what}"),
        n => log::warn!("{what} ({n} more like it not logged)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trouble_is_counted_every_time_but_logged_once_a_minute() {
        let mut t = Troubles::default();
        let logged: Vec<u64> =
            [0, 10, 59_999, 60_000, 60_001, 200_000].into_iter().filter(|&ms| t.note(Trouble::Storefile, Millis(ms), String::new)).collect();
        assert_eq!(logged, vec![0, 60_000, 200_000]);
        assert_eq!(t.unlogged[Trouble::Storefile as usize], 0);
        let counts: Vec<(&str, u64)> = t.named().filter(|(_, n)| *n > 0).collect();
        assert_eq!(counts, vec![("daemon_storefile_errors", 6)]);
        t.note(Trouble::Spoof, Millis(1), String::new);
        assert_eq!(t.named().find(|(n, _)| *n == "daemon_spoof_errors").map(|(_, v)| v), Some(1));
    }
}
