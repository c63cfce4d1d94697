//! Counters the engine keeps for `status` and the benchmarks. Plain integers: the
//! engine is single-threaded, so no atomics (and no 64-bit atomics on 32-bit MIPS).

use crate::detect::Protocol;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    pub packets: u64,
    pub accepted: u64,
    pub dropped: u64,
    /// Monitor mode: packets that would have been dropped.
    pub would_drop: u64,
    pub malformed: u64,
    pub not_inspected: u64,
    pub spoofed: u64,
    pub probes: u64,
    pub clients_evicted: u64,
    pub peers_evicted: u64,
    pub flows_evicted: u64,
    /// DNS answers read, refused as unreadable (malformed, truncated, looping), and their
    /// address records learned, refused by the safety rules, and evicted from the table.
    pub dns_answers: u64,
    pub dns_unreadable: u64,
    pub dns_learned: u64,
    pub dns_refused: u64,
    pub dns_evicted: u64,
    /// Detections per protocol, indexed by `Protocol as usize`.
    pub detections: [u64; Protocol::ALL.len()],
}

impl Counters {
    pub fn detected(&mut self, p: Protocol) {
        let slot = &mut self.detections[p as usize];
        *slot = slot.wrapping_add(1);
    }

    /// Name and value of every counter, in a fixed order, for `status`.
    pub fn named(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        let fixed = [
            ("packets", self.packets),
            ("accepted", self.accepted),
            ("dropped", self.dropped),
            ("would_drop", self.would_drop),
            ("malformed", self.malformed),
            ("not_inspected", self.not_inspected),
            ("spoofed", self.spoofed),
            ("probes", self.probes),
            ("clients_evicted", self.clients_evicted),
            ("peers_evicted", self.peers_evicted),
            ("flows_evicted", self.flows_evicted),
            ("dns_answers", self.dns_answers),
            ("dns_unreadable", self.dns_unreadable),
            ("dns_learned", self.dns_learned),
            ("dns_refused", self.dns_refused),
            ("dns_evicted", self.dns_evicted),
        ];
        fixed.into_iter().chain(Protocol::ALL.iter().map(|&p| (p.name(), self.detections[p as usize])))
    }
}

/// Adds one, wrapping: counters must never panic under overflow checks.
pub fn bump(c: &mut u64) {
    *c = c.wrapping_add(1);
}
