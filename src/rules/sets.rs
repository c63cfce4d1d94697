//! Changing the kernel sets (time-locked clients, blocked peers) by running `nft` or
//! `ipset`. The daemon reaches this through its own small trait
//! (`daemon::kernel::KernelSets`), so a netlink implementation can replace it.
//!
//! A command is a process: a few milliseconds of CPU. The daemon meets a new client or
//! peer at every new P2P source, so under a flood of distinct sources a command per
//! element falls behind at a few hundred a second. Its changes are therefore queued
//! (`queue_lock`, `queue_unlock`, `queue_peer`) and sent as one batch, one command for
//! up to [`MAX_BATCH`] changes of all four sets (`flush`), when [`CommandSets::next_flush`]
//! says: a lock at once, unless a batch went out less than [`LOCK_GAP_MS`] ago (so
//! locks reach the kernel within that, plus the command's own run time, and a lock flood
//! costs at most 1000/LOCK_GAP_MS commands a second); anything else (a peer, an unlock)
//! within [`FLUSH_DELAY_MS`]; and a full batch at once. The immediate calls (`lock`,
//! `block_peers`, ...) run one command each, for `ftwall rules`, start-up and tests.
//!
//! Each tool takes a batch as a whole (`nft -f` is one transaction; `ipset restore` stops
//! at its first error), so when a batch fails, the changes of each set are sent again on
//! their own: a set that is gone or full loses only its own changes, which are reported.

use std::collections::HashMap;
use std::net::IpAddr;

use super::policy::{sets_of, Family};
use super::{ipt, nft, Backend, Exec, RulesError, SET_LOCKED4, SET_LOCKED6, SET_PEERS4, SET_PEERS6};
use crate::time::Millis;

/// Longest timeout ipset accepts (and plenty for a lock).
pub const MAX_LOCK_SECS: u32 = 2_147_483;

/// Most changes one batch command carries; a full batch is sent at once, so the queue's
/// memory stays bounded whatever the flood.
pub const MAX_BATCH: usize = 1024;
/// Least time between two batch commands while a lock waits: the bound on how late a
/// lock reaches the kernel (plus the command's run time).
pub const LOCK_GAP_MS: u64 = 25;
/// Longest a queued peer or unlock waits for its batch.
pub const FLUSH_DELAY_MS: u64 = 250;

/// Every set a batch can touch, in the order a batch lists them.
const SETS: [&str; 4] = [SET_LOCKED4, SET_LOCKED6, SET_PEERS4, SET_PEERS6];

/// One queued change: the element enters the set (with this timeout) or leaves it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Change {
    Add(Option<u32>),
    Remove,
}

#[derive(Clone, Copy, Debug)]
struct Queued {
    set: &'static str,
    ip: IpAddr,
    change: Change,
}

/// Changes of one set that a batch could not make.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchFailure {
    pub set: &'static str,
    /// How many changes of that set were lost.
    pub changes: usize,
    pub error: RulesError,
}

/// What the batches did so far, for the daemon's status file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SetStats {
    /// Commands run for batches (retries included).
    pub commands: u64,
    /// Changes that reached the kernel.
    pub changes: u64,
    /// Changes lost to failed commands.
    pub failed: u64,
}

/// The kernel sets through the `nft` or `ipset` command.
///
/// Lock refreshes are throttled: a refresh with the same length within 1/8 of it of the
/// previous one is skipped (the kernel's timer is then still at least 7/8 of what was
/// asked), so a burst of evidence queues one change, not one per packet.
pub struct CommandSets<E: Exec> {
    backend: Backend,
    ipv6: bool,
    exec: E,
    recent: HashMap<IpAddr, (Millis, u32)>,
    queued: Vec<Queued>,
    /// When the oldest queued change, and the oldest queued lock, were queued.
    queued_since: Option<Millis>,
    lock_since: Option<Millis>,
    last_flush: Option<Millis>,
    stats: SetStats,
}

/// An address as the sets hold it: IPv4-mapped IPv6 addresses are IPv4.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

fn family(ip: IpAddr) -> Family {
    if ip.is_ipv4() {
        Family::V4
    } else {
        Family::V6
    }
}

impl<E: Exec> CommandSets<E> {
    /// `ipv6` must say what the applied rules say (`RuleSpec::ipv6`).
    pub fn new(backend: Backend, ipv6: bool, exec: E) -> CommandSets<E> {
        CommandSets {
            backend,
            ipv6,
            exec,
            recent: HashMap::new(),
            queued: Vec::new(),
            queued_since: None,
            lock_since: None,
            last_flush: None,
            stats: SetStats::default(),
        }
    }

    fn checked(&self, ip: IpAddr) -> Result<(IpAddr, Family), RulesError> {
        let ip = canonical(ip);
        let f = family(ip);
        if f == Family::V6 && !self.ipv6 {
            return Err(RulesError::FamilyDisabled(ip));
        }
        Ok((ip, f))
    }

    /// Renders the changes of one set into `out` in the backend's syntax.
    fn render(&self, set: &str, removes: &[IpAddr], adds: &[(IpAddr, Option<u32>)], out: &mut String) {
        match self.backend {
            Backend::Nft => nft::batch_script(set, removes, adds, out),
            Backend::Iptables | Backend::IptablesLegacy => ipt::batch_lines(set, removes, adds, out),
        }
    }

    /// Runs one script: `nft -f -` or `ipset restore`.
    fn run(&mut self, script: &str) -> Result<(), RulesError> {
        match self.backend {
            Backend::Nft => self.exec.run("nft", &["-f", "-"], Some(script)),
            Backend::Iptables | Backend::IptablesLegacy => self.exec.run("ipset", &["restore"], Some(script)),
        }
        .map(|_| ())
    }

    /// Makes one change at once.
    fn change_now(&mut self, set: &str, ip: IpAddr, change: Change) -> Result<(), RulesError> {
        let mut script = String::new();
        match change {
            Change::Add(timeout) => self.render(set, &[], &[(ip, timeout)], &mut script),
            Change::Remove => self.render(set, &[ip], &[], &mut script),
        }
        self.run(&script)
    }

    /// Locks `client` off the internet for `secs` seconds from now, at once, replacing
    /// any earlier timeout. The kernel drops the lock by itself when it runs out, daemon
    /// or not. `secs == 0` unlocks.
    pub fn lock(&mut self, client: IpAddr, secs: u32) -> Result<(), RulesError> {
        if secs == 0 {
            return self.unlock(client);
        }
        let (ip, f) = self.checked(client)?;
        self.recent.remove(&ip);
        self.change_now(sets_of(f).0, ip, Change::Add(Some(secs.min(MAX_LOCK_SECS))))
    }

    /// Ends a lock early, at once (not an error if there is none).
    pub fn unlock(&mut self, client: IpAddr) -> Result<(), RulesError> {
        let (ip, f) = self.checked(client)?;
        self.recent.remove(&ip);
        self.change_now(sets_of(f).0, ip, Change::Remove)
    }

    /// Blocks these peers (no timeout) at once, in one command; already blocked ones are fine.
    pub fn block_peers(&mut self, peers: &[IpAddr]) -> Result<(), RulesError> {
        let mut by_family: [Vec<(IpAddr, Option<u32>)>; 2] = [Vec::new(), Vec::new()];
        for &p in peers {
            let (ip, f) = self.checked(p)?;
            by_family[usize::from(f == Family::V6)].push((ip, None));
        }
        let mut script = String::new();
        for (adds, f) in by_family.iter().zip([Family::V4, Family::V6]) {
            if !adds.is_empty() {
                self.render(sets_of(f).1, &[], adds, &mut script);
            }
        }
        if script.is_empty() {
            return Ok(());
        }
        self.run(&script)
    }

    pub fn block_peer(&mut self, peer: IpAddr) -> Result<(), RulesError> {
        self.block_peers(&[peer])
    }

    /// Unblocks a peer at once (not an error if it was not blocked).
    pub fn unblock_peer(&mut self, peer: IpAddr) -> Result<(), RulesError> {
        let (ip, f) = self.checked(peer)?;
        self.change_now(sets_of(f).1, ip, Change::Remove)
    }

    /// Queues a change; a later change of the same element replaces an earlier one.
    fn queue(&mut self, set: &'static str, ip: IpAddr, change: Change, now: Millis) {
        match self.queued.iter_mut().find(|q| q.set == set && q.ip == ip) {
            Some(q) => q.change = change,
            None => self.queued.push(Queued { set, ip, change }),
        }
        self.queued_since.get_or_insert(now);
        if matches!(change, Change::Add(Some(_))) {
            self.lock_since.get_or_insert(now);
        }
    }

    /// Queues a lock of `client` for `secs` seconds (see [`lock`](Self::lock)); a
    /// refresh of the same length soon after the last one is skipped (see the type).
    pub fn queue_lock(&mut self, client: IpAddr, secs: u32, now: Millis) -> Result<(), RulesError> {
        if secs == 0 {
            return self.queue_unlock(client, now);
        }
        let secs = secs.min(MAX_LOCK_SECS);
        let (ip, f) = self.checked(client)?;
        if let Some(&(at, s)) = self.recent.get(&ip) {
            if s == secs && now.since(at) < u64::from(secs / 8) * 1000 {
                return Ok(());
            }
        }
        // Forget locks that have run out, so the map stays as small as the lock list.
        self.recent.retain(|_, (at, s)| now.since(*at) < u64::from(*s) * 1000);
        self.recent.insert(ip, (now, secs));
        self.queue(sets_of(f).0, ip, Change::Add(Some(secs)), now);
        Ok(())
    }

    /// Queues the end of a lock.
    pub fn queue_unlock(&mut self, client: IpAddr, now: Millis) -> Result<(), RulesError> {
        let (ip, f) = self.checked(client)?;
        self.recent.remove(&ip);
        self.queue(sets_of(f).0, ip, Change::Remove, now);
        Ok(())
    }

    /// Queues a peer to block.
    pub fn queue_peer(&mut self, peer: IpAddr, now: Millis) -> Result<(), RulesError> {
        let (ip, f) = self.checked(peer)?;
        self.queue(sets_of(f).1, ip, Change::Add(None), now);
        Ok(())
    }

    /// Forgets which locks were sent lately, so that the next `queue_lock` of each is
    /// sent again (after the sets were refilled or flushed by a firewall reload).
    pub fn forget_locks(&mut self) {
        self.recent.clear();
    }

    /// Changes waiting for a batch.
    pub fn queued(&self) -> usize {
        self.queued.len()
    }

    /// When [`flush`](Self::flush) should run (see the module documentation); `None`
    /// when nothing waits.
    pub fn next_flush(&self) -> Option<Millis> {
        let since = self.queued_since?;
        if self.queued.len() >= MAX_BATCH {
            return Some(since);
        }
        let due = self.lock_since.unwrap_or(since.plus(FLUSH_DELAY_MS));
        let gap = self.last_flush.map_or(Millis::ZERO, |t| t.plus(LOCK_GAP_MS));
        Some(due.max(gap))
    }

    /// Sends every queued change: one command for all of them, or, if it fails, one per
    /// set. Returns what could not be changed (empty: everything is in the kernel).
    pub fn flush(&mut self, now: Millis) -> Vec<BatchFailure> {
        if self.queued.is_empty() {
            return Vec::new();
        }
        self.last_flush = Some(now);
        self.queued_since = None;
        self.lock_since = None;
        // One script per set, in a fixed order.
        let mut parts: Vec<(&'static str, usize, String)> = Vec::new();
        let (mut removes, mut adds) = (Vec::new(), Vec::new());
        for set in SETS {
            removes.clear();
            adds.clear();
            for q in self.queued.iter().filter(|q| q.set == set) {
                match q.change {
                    Change::Add(t) => adds.push((q.ip, t)),
                    Change::Remove => removes.push(q.ip),
                }
            }
            if removes.is_empty() && adds.is_empty() {
                continue;
            }
            let mut script = String::new();
            self.render(set, &removes, &adds, &mut script);
            parts.push((set, removes.len() + adds.len(), script));
        }
        self.queued.clear();
        if self.queued.capacity() > MAX_BATCH {
            self.queued.shrink_to(MAX_BATCH);
        }
        let total: usize = parts.iter().map(|p| p.1).sum();
        let all: String = parts.iter().map(|p| p.2.as_str()).collect();
        self.stats.commands = self.stats.commands.wrapping_add(1);
        let first = match self.run(&all) {
            Ok(()) => {
                self.stats.changes = self.stats.changes.wrapping_add(total as u64);
                return Vec::new();
            }
            Err(e) => e,
        };
        if let [(set, _, _)] = parts.as_slice() {
            self.stats.failed = self.stats.failed.wrapping_add(total as u64);
            return vec![BatchFailure { set, changes: total, error: first }];
        }
        let mut failures = Vec::new();
        for (set, changes, script) in parts {
            self.stats.commands = self.stats.commands.wrapping_add(1);
            match self.run(&script) {
                Ok(()) => self.stats.changes = self.stats.changes.wrapping_add(changes as u64),
                Err(error) => {
                    self.stats.failed = self.stats.failed.wrapping_add(changes as u64);
                    failures.push(BatchFailure { set, changes, error });
                }
            }
        }
        failures
    }

    pub fn stats(&self) -> SetStats {
        self.stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::exec::fake::FakeExec;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn nft_lock_refreshes_and_unlock_removes_at_once() {
        let mut k = CommandSets::new(Backend::Nft, true, FakeExec::default());
        k.lock(ip("192.0.2.10"), 120).unwrap();
        k.unlock(ip("192.0.2.10")).unwrap();
        let inputs: Vec<&str> = k.exec.calls.iter().map(|(_, i)| i.as_deref().unwrap()).collect();
        assert_eq!(
            inputs,
            [
                "add element inet ftwall ftwall_locked4 { 192.0.2.10 }\ndelete element inet ftwall ftwall_locked4 { 192.0.2.10 }\n\
                 add element inet ftwall ftwall_locked4 { 192.0.2.10 timeout 120s }\n",
                "add element inet ftwall ftwall_locked4 { 192.0.2.10 }\ndelete element inet ftwall ftwall_locked4 { 192.0.2.10 }\n",
            ]
        );
        assert_eq!(k.exec.commands(), ["nft -f -", "nft -f -"]);
    }

    #[test]
    fn ipset_commands_at_once() {
        let mut k = CommandSets::new(Backend::Iptables, true, FakeExec::default());
        k.lock(ip("::ffff:192.0.2.11"), 60).unwrap();
        k.lock(ip("192.0.2.12"), 0).unwrap();
        k.block_peers(&[ip("198.51.100.1"), ip("2001:db8::2"), ip("198.51.100.3")]).unwrap();
        k.unblock_peer(ip("198.51.100.1")).unwrap();
        assert_eq!(k.exec.commands(), ["ipset restore"; 4]);
        let inputs: Vec<&str> = k.exec.calls.iter().map(|(_, i)| i.as_deref().unwrap()).collect();
        assert_eq!(
            inputs,
            [
                "add ftwall_locked4 192.0.2.11 timeout 60 -exist\n",
                "del ftwall_locked4 192.0.2.12 -exist\n",
                "add ftwall_peers4 198.51.100.1 -exist\nadd ftwall_peers4 198.51.100.3 -exist\nadd ftwall_peers6 2001:db8::2 -exist\n",
                "del ftwall_peers4 198.51.100.1 -exist\n",
            ]
        );
    }

    #[test]
    fn refreshes_are_throttled_per_client_and_length() {
        let mut k = CommandSets::new(Backend::Iptables, true, FakeExec::default());
        let t0 = Millis(1_000_000);
        let a = ip("192.0.2.20");
        let sent = |k: &mut CommandSets<FakeExec>, client: &str, secs: u32, at: u64| {
            let now = t0.plus(at * 1000);
            k.queue_lock(ip(client), secs, now).unwrap();
            k.flush(now);
            k.exec.calls.drain(..).map(|(_, i)| i.unwrap()).collect::<String>()
        };
        assert_eq!(sent(&mut k, "192.0.2.20", 120, 0), "add ftwall_locked4 192.0.2.20 timeout 120 -exist\n");
        assert_eq!(sent(&mut k, "192.0.2.20", 120, 14), "", "within 120/8 = 15 s: skipped");
        assert_eq!(sent(&mut k, "192.0.2.21", 120, 14), "add ftwall_locked4 192.0.2.21 timeout 120 -exist\n", "another client");
        assert_eq!(sent(&mut k, "192.0.2.20", 60, 14), "add ftwall_locked4 192.0.2.20 timeout 60 -exist\n", "another length");
        assert_eq!(sent(&mut k, "192.0.2.20", 60, 30), "add ftwall_locked4 192.0.2.20 timeout 60 -exist\n", "16 s later: due");
        k.queue_unlock(a, t0.plus(30_500)).unwrap();
        assert_eq!(sent(&mut k, "192.0.2.20", 60, 31), "add ftwall_locked4 192.0.2.20 timeout 60 -exist\n", "the unlock was replaced");
        assert_eq!(sent(&mut k, "192.0.2.20", 60, 32), "");
        k.forget_locks();
        assert_eq!(sent(&mut k, "192.0.2.20", 60, 33), "add ftwall_locked4 192.0.2.20 timeout 60 -exist\n", "after a refill: always");
    }

    #[test]
    fn ipv6_off_refuses_v6_addresses_without_running_anything() {
        let mut k = CommandSets::new(Backend::Nft, false, FakeExec::default());
        assert_eq!(k.lock(ip("2001:db8::1"), 10), Err(RulesError::FamilyDisabled(ip("2001:db8::1"))));
        assert!(k.block_peers(&[ip("198.51.100.1"), ip("2001:db8::1")]).is_err());
        assert!(k.queue_peer(ip("2001:db8::1"), Millis(5)).is_err());
        assert!(k.queue_lock(ip("2001:db8::1"), 10, Millis(5)).is_err());
        assert_eq!(k.queued(), 0);
        assert!(k.exec.calls.is_empty());
        k.block_peer(ip("::ffff:198.51.100.9")).unwrap();
        assert_eq!(k.exec.calls[0].1.as_deref(), Some("add element inet ftwall ftwall_peers4 { 198.51.100.9 }\n"));
    }

    #[test]
    fn a_burst_of_changes_is_one_command() {
        let mut k = CommandSets::new(Backend::Nft, true, FakeExec::default());
        let now = Millis(50_000);
        for i in 0..500u32 {
            k.queue_lock(ip(&format!("192.0.2.{}", i % 250)), 120 + i / 250, now).unwrap();
            k.queue_peer(ip(&format!("2001:db8:8000::{i:x}")), now).unwrap();
            k.queue_peer(ip(&format!("198.51.{}.{}", 100 + i / 250, i % 250)), now).unwrap();
        }
        k.queue_unlock(ip("192.0.2.7"), now).unwrap();
        assert_eq!(k.queued(), 250 + 500 + 500, "a later change of an element replaces the earlier one");
        assert!(k.flush(now).is_empty());
        assert_eq!(k.exec.commands(), ["nft -f -"]);
        let script = k.exec.calls[0].1.as_deref().unwrap();
        assert_eq!(script.lines().count(), 3 + 1 + 1, "{script}");
        assert!(script.contains("192.0.2.249 timeout 121s") && !script.contains("192.0.2.7 timeout"));
        assert_eq!(k.stats(), SetStats { commands: 1, changes: 1250, failed: 0 });
        assert_eq!(k.queued(), 0);
        assert!(k.flush(now).is_empty());
        assert_eq!(k.exec.calls.len(), 1, "nothing queued: nothing run");
    }

    #[test]
    fn a_failed_batch_is_retried_per_set_and_loses_only_the_failing_sets_changes() {
        let mut x = FakeExec::default();
        x.answer("ipset restore", Err("ipset v7.17: Error in line 2: The set with the given name does not exist"));
        let mut k = CommandSets::new(Backend::Iptables, true, x);
        let now = Millis(7);
        k.queue_peer(ip("198.51.100.1"), now).unwrap();
        k.queue_peer(ip("2001:db8::1"), now).unwrap();
        k.queue_lock(ip("192.0.2.1"), 60, now).unwrap();
        let failed = k.flush(now);
        assert_eq!(k.exec.commands().len(), 4, "the batch, then each of its three sets");
        assert_eq!(failed.len(), 3);
        assert_eq!((failed[0].set, failed[0].changes), (SET_LOCKED4, 1));
        assert!(failed[0].error.to_string().contains("does not exist"), "{}", failed[0].error);
        assert_eq!(k.stats(), SetStats { commands: 4, changes: 0, failed: 3 });

        // Only the IPv6 peer set is gone: the others' changes get through on their own.
        let mut x = FakeExec::default();
        x.answer("ipset restore", Ok(""));
        let mut k = CommandSets::new(Backend::Iptables, true, Scripted { inner: x, refuse: "ftwall_peers6" });
        k.queue_peer(ip("198.51.100.1"), now).unwrap();
        k.queue_peer(ip("2001:db8::1"), now).unwrap();
        k.queue_peer(ip("2001:db8::2"), now).unwrap();
        k.queue_lock(ip("192.0.2.1"), 60, now).unwrap();
        let failed = k.flush(now);
        assert_eq!(failed.iter().map(|f| (f.set, f.changes)).collect::<Vec<_>>(), [(SET_PEERS6, 2)]);
        assert_eq!(k.stats(), SetStats { commands: 4, changes: 2, failed: 2 });
        let applied: Vec<&str> = k.exec.inner.calls.iter().skip(1).filter_map(|(_, i)| i.as_deref()).collect();
        assert_eq!(applied, ["add ftwall_locked4 192.0.2.1 timeout 60 -exist\n", "add ftwall_peers4 198.51.100.1 -exist\n"]);
    }

    /// Fails every script that names `refuse`, as a tool does for a set that is gone.
    struct Scripted {
        inner: FakeExec,
        refuse: &'static str,
    }

    impl Exec for Scripted {
        fn run(&mut self, prog: &str, args: &[&str], input: Option<&str>) -> Result<String, RulesError> {
            if input.is_some_and(|i| i.contains(self.refuse)) {
                self.inner.calls.push((format!("{prog} {}", args.join(" ")), None));
                return Err(RulesError::Tool { what: prog.into(), detail: format!("no set {}", self.refuse) });
            }
            self.inner.run(prog, args, input)
        }
    }

    #[test]
    fn locks_go_out_at_once_but_not_more_often_than_the_gap_and_the_rest_waits_its_delay() {
        let mut k = CommandSets::new(Backend::Nft, true, FakeExec::default());
        assert_eq!(k.next_flush(), None);
        let t = Millis(100_000);
        k.queue_peer(ip("198.51.100.1"), t).unwrap();
        assert_eq!(k.next_flush(), Some(t.plus(FLUSH_DELAY_MS)), "a peer waits for company");
        k.queue_lock(ip("192.0.2.1"), 60, t.plus(10)).unwrap();
        assert_eq!(k.next_flush(), Some(t.plus(10)), "a lock goes at once, and takes the peer along");
        k.flush(t.plus(10));
        k.queue_lock(ip("192.0.2.2"), 60, t.plus(12)).unwrap();
        assert_eq!(k.next_flush(), Some(t.plus(10 + LOCK_GAP_MS)), "but not sooner than the gap after the last batch");
        k.flush(t.plus(35));
        for i in 0..MAX_BATCH {
            k.queue_peer(ip(&format!("2001:db8:1::{i:x}")), t.plus(36)).unwrap();
        }
        assert_eq!(k.next_flush(), Some(t.plus(36)), "a full batch goes at once");
        assert_eq!(k.exec.calls.len(), 2);
    }
}
