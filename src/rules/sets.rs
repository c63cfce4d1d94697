//! Changing the kernel sets (time-locked clients, blocked peers) by running `nft` or
//! `ipset`: these are rare events (a new lock, a lock refresh, a new peer), so a
//! command per event is cheap enough. The daemon reaches this through its own small
//! trait (`daemon::kernel::KernelSets`), so a netlink implementation can replace it.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::policy::{sets_of, Family};
use super::{ipt, nft, Backend, Exec, RulesError};

/// Longest timeout ipset accepts (and plenty for a lock).
pub const MAX_LOCK_SECS: u32 = 2_147_483;

/// The kernel sets through the `nft` or `ipset` command.
///
/// Lock refreshes are throttled: a refresh with the same length within 1/8 of it of the
/// previous one is skipped (the kernel's timer is then still at least 7/8 of what was
/// asked), so a burst of evidence costs one command, not one per packet.
pub struct CommandSets<E: Exec> {
    backend: Backend,
    ipv6: bool,
    exec: E,
    recent: HashMap<IpAddr, (Instant, u32)>,
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
        CommandSets { backend, ipv6, exec, recent: HashMap::new() }
    }

    fn checked(&self, ip: IpAddr) -> Result<(IpAddr, Family), RulesError> {
        let ip = canonical(ip);
        let f = family(ip);
        if f == Family::V6 && !self.ipv6 {
            return Err(RulesError::FamilyDisabled(ip));
        }
        Ok((ip, f))
    }

    fn nft(&mut self, script: &str) -> Result<(), RulesError> {
        self.exec.run("nft", &["-f", "-"], Some(script)).map(|_| ())
    }

    fn ipset(&mut self, args: &[String]) -> Result<(), RulesError> {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.exec.run("ipset", &args, None).map(|_| ())
    }

    fn remove_from(&mut self, set: &str, ip: IpAddr) -> Result<(), RulesError> {
        match self.backend {
            Backend::Nft => self.nft(&nft::remove_element(set, ip)),
            Backend::Iptables | Backend::IptablesLegacy => self.ipset(&["del".into(), set.into(), ip.to_string(), "-exist".into()]),
        }
    }

    /// Locks `client` off the internet for `secs` seconds from now, replacing any
    /// earlier timeout. The kernel drops the lock by itself when it runs out, daemon or
    /// not. `secs == 0` unlocks.
    pub fn lock(&mut self, client: IpAddr, secs: u32) -> Result<(), RulesError> {
        self.lock_at(client, secs, Instant::now())
    }

    /// [`lock`](Self::lock) at a given time (for tests of the throttle).
    pub fn lock_at(&mut self, client: IpAddr, secs: u32, now: Instant) -> Result<(), RulesError> {
        if secs == 0 {
            return self.unlock(client);
        }
        let secs = secs.min(MAX_LOCK_SECS);
        let (ip, f) = self.checked(client)?;
        if let Some(&(at, s)) = self.recent.get(&ip) {
            if s == secs && now.saturating_duration_since(at) < Duration::from_secs(u64::from(secs / 8)) {
                return Ok(());
            }
        }
        let set = sets_of(f).0;
        match self.backend {
            Backend::Nft => self.nft(&nft::refresh_element(set, ip, secs))?,
            Backend::Iptables | Backend::IptablesLegacy => self.ipset(&ipt::add_args(set, ip, Some(secs)))?,
        }
        // Forget locks that have run out, so the map stays as small as the lock list.
        self.recent.retain(|_, (at, s)| now.saturating_duration_since(*at) < Duration::from_secs(u64::from(*s)));
        self.recent.insert(ip, (now, secs));
        Ok(())
    }

    /// Ends a lock early (not an error if there is none).
    pub fn unlock(&mut self, client: IpAddr) -> Result<(), RulesError> {
        let (ip, f) = self.checked(client)?;
        self.recent.remove(&ip);
        self.remove_from(sets_of(f).0, ip)
    }

    /// Blocks these peers (no timeout); already blocked ones are fine.
    pub fn block_peers(&mut self, peers: &[IpAddr]) -> Result<(), RulesError> {
        let mut by_family: [Vec<IpAddr>; 2] = [Vec::new(), Vec::new()];
        for &p in peers {
            let (ip, f) = self.checked(p)?;
            by_family[usize::from(f == Family::V6)].push(ip);
        }
        let mut script = String::new();
        for (ips, f) in by_family.iter().zip([Family::V4, Family::V6]) {
            if ips.is_empty() {
                continue;
            }
            let set = sets_of(f).1;
            match self.backend {
                Backend::Nft => script.push_str(&nft::add_elements(set, ips)),
                Backend::Iptables | Backend::IptablesLegacy => script.push_str(&ipt::add_many(set, ips)),
            }
        }
        if script.is_empty() {
            return Ok(());
        }
        match self.backend {
            Backend::Nft => self.nft(&script),
            Backend::Iptables | Backend::IptablesLegacy => self.exec.run("ipset", &["restore"], Some(&script)).map(|_| ()),
        }
    }

    pub fn block_peer(&mut self, peer: IpAddr) -> Result<(), RulesError> {
        self.block_peers(&[peer])
    }

    /// Unblocks a peer (not an error if it was not blocked).
    pub fn unblock_peer(&mut self, peer: IpAddr) -> Result<(), RulesError> {
        let (ip, f) = self.checked(peer)?;
        self.remove_from(sets_of(f).1, ip)
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
    fn nft_lock_refreshes_and_unlock_removes() {
        let mut k = CommandSets::new(Backend::Nft, true, FakeExec::default());
        k.lock(ip("192.0.2.10"), 120).unwrap();
        k.lock(ip("2001:db8::10"), 30).unwrap();
        k.unlock(ip("192.0.2.10")).unwrap();
        let inputs: Vec<&str> = k.exec.calls.iter().map(|(_, i)| i.as_deref().unwrap()).collect();
        assert_eq!(inputs[0], nft::refresh_element("ftwall_locked4", ip("192.0.2.10"), 120));
        assert_eq!(inputs[1], nft::refresh_element("ftwall_locked6", ip("2001:db8::10"), 30));
        assert_eq!(inputs[2], nft::remove_element("ftwall_locked4", ip("192.0.2.10")));
    }

    #[test]
    fn ipset_commands() {
        let mut k = CommandSets::new(Backend::Iptables, true, FakeExec::default());
        k.lock(ip("::ffff:192.0.2.11"), 60).unwrap();
        k.lock(ip("192.0.2.12"), 0).unwrap();
        k.block_peers(&[ip("198.51.100.1"), ip("2001:db8::2"), ip("198.51.100.3")]).unwrap();
        k.unblock_peer(ip("198.51.100.1")).unwrap();
        assert_eq!(
            k.exec.commands(),
            [
                "ipset add ftwall_locked4 192.0.2.11 timeout 60 -exist",
                "ipset del ftwall_locked4 192.0.2.12 -exist",
                "ipset restore",
                "ipset del ftwall_peers4 198.51.100.1 -exist",
            ]
        );
        assert_eq!(
            k.exec.calls[2].1.as_deref(),
            Some("add ftwall_peers4 198.51.100.1 -exist\nadd ftwall_peers4 198.51.100.3 -exist\nadd ftwall_peers6 2001:db8::2 -exist\n")
        );
    }

    #[test]
    fn refreshes_are_throttled_per_client_and_length() {
        let mut k = CommandSets::new(Backend::Iptables, true, FakeExec::default());
        let t0 = Instant::now();
        let a = ip("192.0.2.20");
        k.lock_at(a, 120, t0).unwrap();
        k.lock_at(a, 120, t0 + Duration::from_secs(14)).unwrap(); // within 120/8 = 15 s: skipped
        k.lock_at(ip("192.0.2.21"), 120, t0 + Duration::from_secs(14)).unwrap(); // another client
        k.lock_at(a, 60, t0 + Duration::from_secs(14)).unwrap(); // another length
        k.lock_at(a, 60, t0 + Duration::from_secs(30)).unwrap(); // 16 s later: due again
        k.unlock(a).unwrap();
        k.lock_at(a, 60, t0 + Duration::from_secs(31)).unwrap(); // after an unlock: always
        assert_eq!(k.exec.commands().len(), 6, "{:?}", k.exec.commands());
    }

    #[test]
    fn ipv6_off_refuses_v6_addresses_without_running_anything() {
        let mut k = CommandSets::new(Backend::Nft, false, FakeExec::default());
        assert_eq!(k.lock(ip("2001:db8::1"), 10), Err(RulesError::FamilyDisabled(ip("2001:db8::1"))));
        assert!(k.block_peers(&[ip("198.51.100.1"), ip("2001:db8::1")]).is_err());
        assert!(k.exec.calls.is_empty());
        k.block_peer(ip("::ffff:198.51.100.9")).unwrap();
        assert_eq!(k.exec.calls[0].1.as_deref(), Some("add element inet ftwall ftwall_peers4 { 198.51.100.9 }\n"));
    }
}
