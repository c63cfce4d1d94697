//! The NFQUEUE side: binds the queue with the `nfq` crate, reads packets without ever
//! blocking for more than the caller's poll timeout, and gives verdicts.
//!
//! * Fail-open: the queue is told to accept packets when it overflows (the kernel's
//!   `NFQA_CFG_F_FAIL_OPEN`), so a slow daemon slows nothing down; `--fail-closed` turns
//!   that off. When the daemon is gone altogether, the rules' bypass flag decides.
//! * Copy range (`-b`): how many bytes of each packet the kernel copies to us; headers
//!   and the first payload bytes are all the detectors need.
//! * `nfq` does not expose its socket, and the main loop must poll it together with the
//!   signal pipe and a timeout (the engine's clock runs without packets). The socket is
//!   found by comparing the open descriptors before and after [`nfq::Queue::open`] and
//!   checking that the new one is a netfilter netlink socket; then the queue is switched
//!   to non-blocking reads.

use std::fs;
use std::io;
use std::os::fd::RawFd;

/// A verdict with what the kernel needs to carry it out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Accept,
    Drop,
}

/// How an accepted packet is handed back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AcceptAs {
    /// NF_ACCEPT.
    Accept,
    /// NF_REPEAT with this mark bit added: the packet runs through the same chain again
    /// and skips the queue rule, which checks the bit (see the rules module).
    RepeatWithMark(u32),
}

pub struct Queue {
    inner: nfq::Queue,
    fd: RawFd,
    num: u16,
}

impl Queue {
    /// Binds queue `num`, copying `copy` bytes of each packet.
    pub fn open(num: u16, copy: u16, fail_open: bool) -> io::Result<Queue> {
        // Compare netfilter sockets only: listing /proc/self/fd opens a descriptor of its
        // own, which may take the number the queue's socket gets next.
        let before = netfilter_sockets()?;
        let mut inner = nfq::Queue::open()?;
        let after = netfilter_sockets()?;
        let fd = after
            .into_iter()
            .filter(|fd| !before.contains(fd))
            .min()
            .ok_or_else(|| io::Error::other("cannot find the NFQUEUE socket among the open descriptors"))?;
        inner.bind(num)?;
        inner.set_copy_range(num, copy)?;
        inner.set_fail_open(num, fail_open)?;
        inner.set_nonblocking(true);
        Ok(Queue { inner, fd, num })
    }

    pub fn fd(&self) -> RawFd {
        self.fd
    }

    pub fn number(&self) -> u16 {
        self.num
    }

    /// The next queued packet, or `None` when there is none right now.
    pub fn recv(&mut self) -> io::Result<Option<nfq::Message>> {
        match self.inner.recv() {
            Ok(m) => Ok(Some(m)),
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Gives the packet its verdict.
    pub fn verdict(&mut self, mut msg: nfq::Message, v: Verdict, accept_as: AcceptAs) -> io::Result<()> {
        match (v, accept_as) {
            (Verdict::Drop, _) => msg.set_verdict(nfq::Verdict::Drop),
            (Verdict::Accept, AcceptAs::Accept) => msg.set_verdict(nfq::Verdict::Accept),
            (Verdict::Accept, AcceptAs::RepeatWithMark(bit)) => {
                let mark = msg.get_nfmark();
                msg.set_nfmark(mark | bit);
                msg.set_verdict(nfq::Verdict::Repeat);
            }
        }
        self.inner.verdict(msg)
    }
}

// A Vec, not a set: a handful of descriptors, and a BTreeSet cost 8 KB of code.
fn open_fds() -> io::Result<Vec<RawFd>> {
    let mut fds = Vec::new();
    for e in fs::read_dir("/proc/self/fd")? {
        if let Some(fd) = e?.file_name().to_str().and_then(|s| s.parse().ok()) {
            fds.push(fd);
        }
    }
    Ok(fds)
}

fn netfilter_sockets() -> io::Result<Vec<RawFd>> {
    Ok(open_fds()?.into_iter().filter(|&fd| is_netfilter_socket(fd)).collect())
}

fn sockopt(fd: RawFd, opt: libc::c_int) -> Option<libc::c_int> {
    let mut v: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: getsockopt into a local c_int with its size; a non-socket fd just fails.
    let r = unsafe { libc::getsockopt(fd, libc::SOL_SOCKET, opt, (&mut v as *mut libc::c_int).cast(), &mut len) };
    (r == 0).then_some(v)
}

fn is_netfilter_socket(fd: RawFd) -> bool {
    sockopt(fd, libc::SO_DOMAIN) == Some(libc::AF_NETLINK) && sockopt(fd, libc::SO_PROTOCOL) == Some(libc::NETLINK_NETFILTER)
}

/// Waits until one of `fds` is readable or `timeout_ms` passes. Returns which are
/// readable; a signal ends the wait early with nothing readable. No allocation: the
/// loop calls it at every wake-up.
pub fn wait<const N: usize>(fds: &[RawFd; N], timeout_ms: i32) -> io::Result<[bool; N]> {
    let mut p = fds.map(|fd| libc::pollfd { fd, events: libc::POLLIN, revents: 0 });
    // SAFETY: `p` is a valid array of pollfd of the given length.
    let n = unsafe { libc::poll(p.as_mut_ptr(), N as libc::nfds_t, timeout_ms) };
    if n < 0 {
        let e = io::Error::last_os_error();
        if e.kind() == io::ErrorKind::Interrupted {
            return Ok([false; N]);
        }
        return Err(e);
    }
    Ok(p.map(|x| x.revents & (libc::POLLIN | libc::POLLERR | libc::POLLHUP) != 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_netfilter_netlink_sockets_are_taken_for_the_queue() {
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        use std::os::fd::AsRawFd;
        assert!(!is_netfilter_socket(udp.as_raw_fd()));
        assert!(!is_netfilter_socket(0x7fff_0000));
        // SAFETY: a plain socket call; closed below.
        let nl = unsafe { libc::socket(libc::AF_NETLINK, libc::SOCK_RAW, libc::NETLINK_NETFILTER) };
        if nl >= 0 {
            assert!(is_netfilter_socket(nl));
            // SAFETY: closing the descriptor we opened.
            unsafe { libc::close(nl) };
        }
        let fds = open_fds().unwrap();
        assert!(fds.contains(&udp.as_raw_fd()));
    }

    #[test]
    fn wait_times_out_and_sees_readable_descriptors() {
        let a = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        use std::os::fd::AsRawFd;
        assert_eq!(wait(&[a.as_raw_fd(), b.as_raw_fd()], 10).unwrap(), [false, false]);
        a.send_to(b"x", b.local_addr().unwrap()).unwrap();
        assert_eq!(wait(&[a.as_raw_fd(), b.as_raw_fd()], 1000).unwrap(), [false, true]);
    }
}
