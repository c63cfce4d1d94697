//! The kernel's sets (locked clients with a timeout, blocked peers), as the daemon
//! sees them: a small trait, so the daemon does not care whether nftables or ipset
//! holds them, and tests can watch the calls.
//!
//! A failing update is logged by the caller and never stops the daemon: the engine
//! still drops what it sees, the kernel only saves it the round trip.

use std::fmt;
use std::net::IpAddr;

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
    /// Locks a client for `secs` seconds from now (replacing an earlier timeout).
    fn lock(&mut self, ip: IpAddr, secs: u32) -> Result<(), SetError>;
    /// Ends a client's lock before its timeout.
    fn unlock(&mut self, ip: IpAddr) -> Result<(), SetError>;
    /// Blocks a peer address.
    fn block_peer(&mut self, ip: IpAddr) -> Result<(), SetError>;
    /// Blocks many peers at once (start-up, SIGHUP); the default does one at a time.
    fn block_peers(&mut self, ips: &[IpAddr]) -> Result<(), SetError> {
        ips.iter().try_for_each(|&ip| self.block_peer(ip))
    }
}

/// No kernel sets (no rules installed, or rules that keep everything in userspace):
/// the engine's verdicts do all the work.
#[derive(Debug, Default)]
pub struct NoSets;

impl KernelSets for NoSets {
    fn lock(&mut self, _: IpAddr, _: u32) -> Result<(), SetError> {
        Ok(())
    }
    fn unlock(&mut self, _: IpAddr) -> Result<(), SetError> {
        Ok(())
    }
    fn block_peer(&mut self, _: IpAddr) -> Result<(), SetError> {
        Ok(())
    }
}

/// The kernel sets `ftwall rules` installs, changed through `nft` or `ipset`.
impl<E: crate::rules::Exec> KernelSets for crate::rules::CommandSets<E> {
    fn lock(&mut self, ip: IpAddr, secs: u32) -> Result<(), SetError> {
        crate::rules::CommandSets::lock(self, ip, secs).map_err(|e| SetError(e.to_string()))
    }
    fn unlock(&mut self, ip: IpAddr) -> Result<(), SetError> {
        crate::rules::CommandSets::unlock(self, ip).map_err(|e| SetError(e.to_string()))
    }
    fn block_peer(&mut self, ip: IpAddr) -> Result<(), SetError> {
        crate::rules::CommandSets::block_peer(self, ip).map_err(|e| SetError(e.to_string()))
    }
    fn block_peers(&mut self, ips: &[IpAddr]) -> Result<(), SetError> {
        crate::rules::CommandSets::block_peers(self, ips).map_err(|e| SetError(e.to_string()))
    }
}
