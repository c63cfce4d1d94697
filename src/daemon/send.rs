//! The sockets ftwall sends through: raw sockets for the spoofed answers (we write the
//! whole IP header, so the datagram can carry the peer's address as its source) and
//! ordinary UDP sockets for the probes (from the router itself to a LAN client).
//!
//! Both are opened before capabilities are dropped: sending on an open raw socket needs
//! no privilege.
//!
//! Sends never wait. A datagram to a LAN address waits in the kernel for neighbour
//! discovery, charged to the socket's send buffer; addresses that never answer (a flood
//! from spoofed sources) fill that buffer for the three seconds discovery takes, and a
//! blocking send would stop the whole daemon that long (everything queued meanwhile
//! passes unexamined). A send that would wait fails instead, and is counted and logged
//! like any other. Either family may be missing (a kernel without IPv6, `--no-ipv6`); a
//! send in a missing family fails with an error the caller logs.

use std::io;
use std::mem;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use super::datagram;
use crate::addr::Endpoint;

/// The raw (spoof) and UDP (probe) sockets.
pub struct Senders {
    raw4: Option<OwnedFd>,
    raw6: Option<OwnedFd>,
    probe4: Option<UdpSocket>,
    probe6: Option<UdpSocket>,
    next_id: u16,
}

impl Senders {
    /// Opens what can be opened. IPv4 raw must work (it is ftwall's core); IPv6 is best
    /// effort unless `ipv6` is false, in which case it is not tried. With `mark`, every
    /// socket marks what it sends (SO_MARK), so ftwall's rules never queue the daemon's
    /// own datagrams back to it.
    pub fn open(ipv6: bool, mark: Option<u32>) -> io::Result<Senders> {
        let raw4 = Some(raw_socket(libc::AF_INET)?);
        let raw6 = if ipv6 { raw_socket(libc::AF_INET6).map_err(|e| log::warn!("no IPv6 raw socket: {e}")).ok() } else { None };
        // An address, not a string: a string goes through ToSocketAddrs, which links
        // libc's DNS resolver (getaddrinfo, about 20 KB of every binary) for nothing.
        let probe4 = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).map_err(|e| log::warn!("no IPv4 probe socket: {e}")).ok();
        let probe6 = if ipv6 {
            UdpSocket::bind((Ipv6Addr::UNSPECIFIED, 0)).map_err(|e| log::warn!("no IPv6 probe socket: {e}")).ok()
        } else {
            None
        };
        for sock in probe4.iter().chain(&probe6) {
            sock.set_nonblocking(true)?;
        }
        if let Some(mark) = mark {
            let fds = [raw4.as_ref().map(|f| f.as_raw_fd()), raw6.as_ref().map(|f| f.as_raw_fd())]
                .into_iter()
                .chain([probe4.as_ref().map(|s| s.as_raw_fd()), probe6.as_ref().map(|s| s.as_raw_fd())]);
            for fd in fds.flatten() {
                set_mark(fd, mark)?;
            }
        }
        // The id seeds IPv4 identification fields; any value will do, it only needs to vary.
        let next_id = (std::process::id() as u16).wrapping_mul(0x9e37);
        Ok(Senders { raw4, raw6, probe4, probe6, next_id })
    }

    /// Sends `payload` from `from` to `to` as if `from` had sent it.
    pub fn spoof(&mut self, from: Endpoint, to: Endpoint, payload: &[u8]) -> io::Result<()> {
        self.next_id = self.next_id.wrapping_add(1);
        let packet = datagram::udp(from, to, payload, self.next_id)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("cannot build datagram: {e:?}")))?;
        let fd = match to.ip {
            IpAddr::V4(_) => self.raw4.as_ref(),
            IpAddr::V6(_) => self.raw6.as_ref(),
        }
        .ok_or_else(|| io::Error::new(io::ErrorKind::Unsupported, "no raw socket for this address family"))?;
        send_raw(fd, to.ip, &packet)
    }

    /// Sends a probe from the router to a LAN client.
    pub fn probe(&self, to: Endpoint, payload: &[u8]) -> io::Result<()> {
        let sock = match to.ip {
            IpAddr::V4(_) => self.probe4.as_ref(),
            IpAddr::V6(_) => self.probe6.as_ref(),
        }
        .ok_or_else(|| io::Error::new(io::ErrorKind::Unsupported, "no probe socket for this address family"))?;
        sock.send_to(payload, SocketAddr::new(to.ip, to.port)).map(|_| ())
    }
}

fn set_mark(fd: std::os::fd::RawFd, mark: u32) -> io::Result<()> {
    // SAFETY: valid fd, pointer and length of a u32 (the kernel reads an int-sized mark).
    let r = unsafe {
        libc::setsockopt(fd, libc::SOL_SOCKET, libc::SO_MARK, (&mark as *const u32).cast(), mem::size_of::<u32>() as libc::socklen_t)
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn raw_socket(family: libc::c_int) -> io::Result<OwnedFd> {
    // SAFETY: plain socket(2) call; the result is checked before use.
    let fd = unsafe { libc::socket(family, libc::SOCK_RAW | libc::SOCK_CLOEXEC, libc::IPPROTO_RAW) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is a fresh descriptor that nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    // IPPROTO_RAW implies "header included" on Linux; say so anyway, so that an older
    // kernel (IPv6 before 4.5) fails here instead of sending a doubled header.
    let (level, opt) = if family == libc::AF_INET { (libc::IPPROTO_IP, libc::IP_HDRINCL) } else { (libc::IPPROTO_IPV6, libc::IPV6_HDRINCL) };
    let one: libc::c_int = 1;
    // SAFETY: valid fd, pointer and length of a c_int.
    let r = unsafe {
        libc::setsockopt(fd.as_raw_fd(), level, opt, (&one as *const libc::c_int).cast(), mem::size_of::<libc::c_int>() as libc::socklen_t)
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(fd)
}

fn send_raw(fd: &OwnedFd, dst: IpAddr, packet: &[u8]) -> io::Result<()> {
    let r = match dst {
        IpAddr::V4(v4) => {
            // SAFETY: zeroed sockaddr_in is a valid value; fields set below.
            let mut sa: libc::sockaddr_in = unsafe { mem::zeroed() };
            sa.sin_family = libc::AF_INET as libc::sa_family_t;
            sa.sin_addr.s_addr = u32::from_ne_bytes(v4.octets());
            // SAFETY: valid fd, buffer and address of the stated lengths.
            unsafe {
                libc::sendto(
                    fd.as_raw_fd(),
                    packet.as_ptr().cast(),
                    packet.len(),
                    libc::MSG_DONTWAIT,
                    (&sa as *const libc::sockaddr_in).cast(),
                    mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
                )
            }
        }
        IpAddr::V6(v6) => {
            // SAFETY: as above, for sockaddr_in6. The port stays 0: with IPPROTO_RAW the
            // kernel would read a port as a protocol number.
            let mut sa: libc::sockaddr_in6 = unsafe { mem::zeroed() };
            sa.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            sa.sin6_addr.s6_addr = v6.octets();
            // SAFETY: valid fd, buffer and address of the stated lengths.
            unsafe {
                libc::sendto(
                    fd.as_raw_fd(),
                    packet.as_ptr().cast(),
                    packet.len(),
                    libc::MSG_DONTWAIT,
                    (&sa as *const libc::sockaddr_in6).cast(),
                    mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t,
                )
            }
        }
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// Raw sockets need CAP_NET_RAW: as a user this test says so, and fails under CI.
    fn privileged() -> bool {
        if let Some(emulator) = std::env::var_os("FTWALL_TEST_EMULATED") {
            // qemu-user does not translate every socket option (SO_MARK fails with ENOPROTOOPT).
            eprintln!("NOT RUN under {emulator:?}: daemon::send raw socket test needs the host kernel");
            return false;
        }
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } == 0 {
            return true;
        }
        assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "the raw socket test needs root under CI");
        eprintln!("NOT RUN: daemon::send raw socket test needs root");
        false
    }

    fn receive(sock: &UdpSocket) -> (Vec<u8>, SocketAddr) {
        sock.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let mut buf = [0u8; 256];
        let (n, from) = sock.recv_from(&mut buf).expect("a datagram within 2 s");
        (buf[..n].to_vec(), from)
    }

    #[test]
    fn spoofed_datagrams_arrive_from_the_claimed_sender_and_probes_from_us() {
        if !privileged() {
            return;
        }
        let mut s = Senders::open(true, Some(0x1000_0000)).unwrap();
        let client = UdpSocket::bind("127.0.0.1:0").unwrap();
        let to = Endpoint::new(client.local_addr().unwrap().ip(), client.local_addr().unwrap().port());
        let claimed: Endpoint = "127.0.0.9:1214".parse().unwrap();
        s.spoof(claimed, to, b"\x28pong").unwrap();
        let (data, from) = receive(&client);
        assert_eq!(data, b"\x28pong");
        assert_eq!(from, SocketAddr::new(claimed.ip, claimed.port), "the kernel accepted our checksums and our source");

        s.probe(to, b"\x27ping").unwrap();
        let (data, from) = receive(&client);
        assert_eq!(data, b"\x27ping");
        assert_eq!(from.ip(), "127.0.0.1".parse::<IpAddr>().unwrap());

        if let Ok(client6) = UdpSocket::bind("[::1]:0") {
            let a = client6.local_addr().unwrap();
            let claimed6: Endpoint = "[::1]:6346".parse().unwrap();
            s.spoof(claimed6, Endpoint::new(a.ip(), a.port()), b"v6").unwrap();
            let (data, from) = receive(&client6);
            assert_eq!((data.as_slice(), from), (&b"v6"[..], SocketAddr::new(claimed6.ip, claimed6.port)));
        }
    }
}
