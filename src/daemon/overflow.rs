//! Counting the packets the queue could not hand to the daemon.
//!
//! When the daemon falls behind (a burst, a stopped or busy process), its netlink
//! socket's buffer fills up and the kernel can no longer deliver queued packets: with
//! fail-open it lets them through unexamined, with `--fail-closed` it drops them. The
//! kernel numbers every packet it tries to deliver (the packet id, one queue-wide
//! sequence, in order), so the packets that never arrived show as gaps in the ids the
//! daemon receives. A gap is seen when the next packet arrives.

/// The gaps in a queue's packet ids.
#[derive(Debug, Default)]
pub struct Missed {
    last: Option<u32>,
    /// Packets that never reached the daemon, in all.
    pub total: u64,
}

/// A "gap" this large is ids out of order, not packets lost: count nothing.
const IMPLAUSIBLE: u32 = 1 << 31;

impl Missed {
    /// Notes a received packet id; returns how many packets before it never arrived.
    pub fn see(&mut self, id: u32) -> u32 {
        let missed = match self.last {
            Some(last) => id.wrapping_sub(last).wrapping_sub(1),
            None => 0,
        };
        self.last = Some(id);
        if missed >= IMPLAUSIBLE {
            return 0;
        }
        self.total = self.total.saturating_add(u64::from(missed));
        missed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_in_the_ids_are_the_packets_that_never_arrived() {
        let mut m = Missed::default();
        assert_eq!(m.see(7), 0, "the first id says nothing");
        assert_eq!(m.see(8), 0);
        assert_eq!(m.see(9), 0);
        assert_eq!(m.see(2753), 2743);
        assert_eq!(m.see(2754), 0);
        assert_eq!(m.total, 2743);
        // The sequence wraps around.
        let mut w = Missed::default();
        w.see(u32::MAX - 1);
        assert_eq!(w.see(1), 2);
        // A repeated or older id is not a loss of four billion packets.
        assert_eq!(w.see(1), 0);
        assert_eq!(w.see(0), 0);
        assert_eq!(w.total, 2);
    }
}
