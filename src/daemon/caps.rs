//! Dropping privileges: after its sockets and files are open, the daemon keeps only
//! CAP_NET_ADMIN (kernel set updates, SO_MARK, the queue) and CAP_NET_RAW (already-open
//! raw sockets need nothing more, but a SIGHUP may reopen them), in the effective,
//! permitted and bounding sets; inheritable and ambient are emptied. A program it runs
//! (`nft`, `ipset` for set updates) can therefore gain nothing beyond those two.
//!
//! Done with prctl(2) and capset(2) directly: two system calls do not need a crate. A
//! process that is not privileged to begin with (a test run as a user) keeps what it has.

use std::io;

/// Capability numbers (linux/capability.h).
pub const CAP_NET_ADMIN: u32 = 12;
pub const CAP_NET_RAW: u32 = 13;
const CAP_SETPCAP: u32 = 8;

const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// The two 32-bit halves of a capability mask.
fn mask(caps: &[u32]) -> [u32; 2] {
    let mut m = [0u32; 2];
    for &c in caps {
        if let Some(word) = m.get_mut((c / 32) as usize) {
            *word |= 1 << (c % 32);
        }
    }
    m
}

fn capget() -> io::Result<[CapData; 2]> {
    let mut h = CapHeader { version: LINUX_CAPABILITY_VERSION_3, pid: 0 };
    let mut d = [CapData::default(); 2];
    // SAFETY: header and two data structs as capget(2) expects for version 3.
    if unsafe { libc::syscall(libc::SYS_capget, &mut h as *mut CapHeader, d.as_mut_ptr()) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(d)
}

fn last_cap() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap").ok().and_then(|s| s.trim().parse().ok()).unwrap_or(63)
}

/// Keeps only `keep` (of those the process has). Returns the capabilities still
/// permitted afterwards, as a 64-bit mask, for the log.
pub fn keep_only(keep: &[u32]) -> io::Result<u64> {
    let have = capget()?;
    let can_drop_bounding = have[0].effective & (1 << CAP_SETPCAP) != 0;
    if can_drop_bounding {
        for cap in 0..=last_cap() {
            if keep.contains(&cap) {
                continue;
            }
            // SAFETY: PR_CAPBSET_DROP with a capability number; EINVAL for numbers the
            // kernel does not know is harmless.
            unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) };
        }
    }
    // SAFETY: PR_CAP_AMBIENT_CLEAR_ALL takes no further arguments; old kernels say EINVAL.
    unsafe { libc::prctl(libc::PR_CAP_AMBIENT, libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong, 0, 0, 0) };

    let want = mask(keep);
    let mut d = [CapData::default(); 2];
    for i in 0..2 {
        let p = have[i].permitted & want[i];
        d[i] = CapData { effective: p, permitted: p, inheritable: 0 };
    }
    let mut h = CapHeader { version: LINUX_CAPABILITY_VERSION_3, pid: 0 };
    // SAFETY: header and two data structs as capset(2) expects for version 3.
    if unsafe { libc::syscall(libc::SYS_capset, &mut h as *mut CapHeader, d.as_ptr()) } < 0 {
        return Err(io::Error::last_os_error());
    }
    let now = capget()?;
    Ok(u64::from(now[0].permitted) | (u64::from(now[1].permitted) << 32))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_put_bits_in_the_right_word() {
        assert_eq!(mask(&[CAP_NET_ADMIN, CAP_NET_RAW]), [(1 << 12) | (1 << 13), 0]);
        assert_eq!(mask(&[33, 0]), [1, 2]);
        assert_eq!(mask(&[200]), [0, 0]);
    }

    /// Dropping happens in a child process so the test runner keeps its privileges.
    #[test]
    fn a_dropped_process_keeps_only_the_network_capabilities() {
        // SAFETY: the child only makes system calls and exits with _exit.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0);
        if pid == 0 {
            let code = match keep_only(&[CAP_NET_ADMIN, CAP_NET_RAW]) {
                Ok(left) if left & !((1 << 12) | (1 << 13)) == 0 => 0,
                _ => 1,
            };
            // SAFETY: leave the forked test runner at once.
            unsafe { libc::_exit(code) };
        }
        let mut status = 0;
        // SAFETY: waiting for our own child.
        unsafe { libc::waitpid(pid, &mut status, 0) };
        assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0, "child status {status}");
    }
}
