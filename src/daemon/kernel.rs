//! The kernel's sets (locked clients with a timeout, blocked peers), as the daemon
//! sees them: a small trait, so the daemon does not care whether nftables or ipset
//! holds them, and tests can watch the calls.
//!
//! Changes are queued and sent in batches (see `rules::sets`): the main loop asks
//! [`KernelSets::next_flush`] when to call [`KernelSets::flush`]. A failing update is
//! logged by the caller and never stops the daemon: the engine still drops what it
//! sees, the kernel only saves it the round trip.

use std::fmt;
use std::net::IpAddr;

use crate::time::Millis;

/// Why a set update failed, for the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetError(pub String);

impl fmt::Display for SetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The kernel's view of locks and blocked peers.
pub trait KernelSets {
    /// Queues a lock of a client for `secs` seconds from now (replacing an earlier timeout).
    fn lock(&mut self, ip: IpAddr, secs: u32, now: Millis) -> Result<(), SetError>;
    /// Queues the end of a client's lock before its timeout.
    fn unlock(&mut self, ip: IpAddr, now: Millis) -> Result<(), SetError>;
    /// Queues a peer address to block.
    fn block_peer(&mut self, ip: IpAddr, now: Millis) -> Result<(), SetError>;
    /// Blocks many peers at once, now (start-up, SIGHUP).
    fn block_peers(&mut self, ips: &[IpAddr]) -> Result<(), SetError>;
    /// Makes the next lock of every client go out even if it was sent lately (after a
    /// firewall reload emptied the sets).
    fn forget_locks(&mut self) {}
    /// When [`flush`](Self::flush) is due; `None` when nothing is queued.
    fn next_flush(&self) -> Option<Millis> {
        None
    }
    /// Sends what is queued; returns one error per set whose changes were lost.
    fn flush(&mut self, _now: Millis) -> Vec<SetError> {
        Vec::new()
    }
    /// Counters for the status file: (name, value).
    fn counters(&self) -> [(&'static str, u64); 3] {
        [("daemon_set_commands", 0), ("daemon_set_changes", 0), ("daemon_set_changes_failed", 0)]
    }
}

/// No kernel sets (no rules installed, or rules that keep everything in userspace):
/// the engine's verdicts do all the work.
#[derive(Debug, Default)]
pub struct NoSets;

impl KernelSets for NoSets {
    fn lock(&mut self, _: IpAddr, _: u32, _: Millis) -> Result<(), SetError> {
        Ok(())
    }
    fn unlock(&mut self, _: IpAddr, _: Millis) -> Result<(), SetError> {
        Ok(())
    }
    fn block_peer(&mut self, _: IpAddr, _: Millis) -> Result<(), SetError> {
        Ok(())
    }
    fn block_peers(&mut self, _: &[IpAddr]) -> Result<(), SetError> {
        Ok(())
    }
}

fn set_error(e: crate::rules::RulesError) -> SetError {
    SetError(e.to_string())
}

/// The kernel sets `ftwall rules` installs, changed in batches through `nft` or `ipset`.
impl<E: crate::rules::Exec> KernelSets for crate::rules::CommandSets<E> {
    fn lock(&mut self, ip: IpAddr, secs: u32, now: Millis) -> Result<(), SetError> {
        self.queue_lock(ip, secs, now).map_err(set_error)
    }
    fn unlock(&mut self, ip: IpAddr, now: Millis) -> Result<(), SetError> {
        self.queue_unlock(ip, now).map_err(set_error)
    }
    fn block_peer(&mut self, ip: IpAddr, now: Millis) -> Result<(), SetError> {
        self.queue_peer(ip, now).map_err(set_error)
    }
    fn block_peers(&mut self, ips: &[IpAddr]) -> Result<(), SetError> {
        crate::rules::CommandSets::block_peers(self, ips).map_err(set_error)
    }
    fn forget_locks(&mut self) {
        crate::rules::CommandSets::forget_locks(self)
    }
    fn next_flush(&self) -> Option<Millis> {
        crate::rules::CommandSets::next_flush(self)
    }
    fn flush(&mut self, now: Millis) -> Vec<SetError> {
        crate::rules::CommandSets::flush(self, now)
            .into_iter()
            .map(|f| SetError(format!("{} changes of set {} were not made: {}", f.changes, f.set, f.error)))
            .collect()
    }
    fn counters(&self) -> [(&'static str, u64); 3] {
        let s = self.stats();
        [("daemon_set_commands", s.commands), ("daemon_set_changes", s.changes), ("daemon_set_changes_failed", s.failed)]
    }
}
