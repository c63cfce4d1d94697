//! Network-namespace lab helpers for the integration tests (root only): namespaces that
//! delete themselves, veth links, running a closure or a command inside a namespace,
//! and small TCP/UDP echo services. Every name carries the test process id, so
//! parallel and leftover runs never collide.
#![allow(dead_code)]

use std::fs::File;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsRawFd;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Prints a message that shows even when the test passes (the harness captures only
/// the print macros, not direct writes to stderr).
pub fn loud(msg: &str) {
    let _ = writeln!(std::io::stderr(), "{msg}");
}

/// True if the tests can run. Without root they cannot: say so loudly, and fail under
/// CI (CI=true) instead of skipping.
pub fn require_root(test: &str) -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        return true;
    }
    not_run(&format!("!!! {test}: NOT RUN: network namespace tests need root (run `make test` as root) !!!"))
}

/// Says loudly that a test cannot run; under CI (CI=true) that is a failure.
fn not_run(msg: &str) -> bool {
    loud(msg);
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{msg} (CI=true: failing)");
    }
    false
}

/// True if `prog` can be run (found in PATH or the sbin directories).
pub fn have_tool(prog: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("PATH=\"$PATH:/usr/sbin:/sbin\" command -v {prog}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Like [`require_root`] for a tool.
pub fn require_tool(test: &str, prog: &str) -> bool {
    if have_tool(prog) {
        return true;
    }
    not_run(&format!("!!! {test}: NOT RUN: '{prog}' is not installed (sh .ci/deps installs it) !!!"))
}

static SEQ: AtomicUsize = AtomicUsize::new(0);

/// A network namespace, deleted (with its interfaces) when dropped, also when the test
/// panics.
pub struct Ns {
    pub name: String,
}

impl Ns {
    pub fn new(tag: &str) -> Ns {
        let name = format!("ftw{}-{}-{tag}", std::process::id(), SEQ.fetch_add(1, Ordering::Relaxed));
        run(&["ip", "netns", "add", &name]).unwrap_or_else(|e| panic!("ip netns add {name}: {e}"));
        let ns = Ns { name };
        ns.ok(&["ip", "link", "set", "lo", "up"]);
        ns
    }

    /// Runs a command inside the namespace: stdout, or the error output.
    pub fn run(&self, args: &[&str]) -> Result<String, String> {
        let mut full = vec!["ip", "netns", "exec", &self.name];
        full.extend_from_slice(args);
        run(&full)
    }

    /// Like [`run`](Self::run), panicking on failure.
    pub fn ok(&self, args: &[&str]) -> String {
        self.run(args).unwrap_or_else(|e| panic!("in {}: {args:?} failed: {e}", self.name))
    }

    /// Runs `f` on a thread that has joined the namespace: sockets it opens and
    /// programs it starts belong to the namespace. Panics propagate.
    pub fn enter<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        let file = File::open(format!("/run/netns/{}", self.name)).expect("open netns");
        std::thread::scope(|s| {
            s.spawn(move || {
                // SAFETY: a valid namespace fd; setns changes only this thread.
                let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
                assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
                f()
            })
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p))
        })
    }

    /// Like [`enter`](Self::enter) for a long-running closure: returns at once.
    pub fn spawn<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> JoinHandle<T> {
        let file = File::open(format!("/run/netns/{}", self.name)).expect("open netns");
        std::thread::spawn(move || {
            // SAFETY: as in `enter`.
            let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
            f()
        })
    }
}

impl Drop for Ns {
    fn drop(&mut self) {
        if let Err(e) = run(&["ip", "netns", "del", &self.name]) {
            eprintln!("warning: could not delete namespace {}: {e}", self.name);
        }
    }
}

/// Runs a program: stdout, or its error output.
pub fn run(args: &[&str]) -> Result<String, String> {
    let out = Command::new(args[0])
        .args(&args[1..])
        .env("PATH", format!("{}:/usr/sbin:/sbin", std::env::var("PATH").unwrap_or_default()))
        .output()
        .map_err(|e| format!("{}: {e}", args[0]))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!("{}{}", String::from_utf8_lossy(&out.stderr), String::from_utf8_lossy(&out.stdout)))
    }
}

/// A veth pair from `a` (named `a_if`) to `b` (named `b_if`), both up.
pub fn veth(a: &Ns, a_if: &str, b: &Ns, b_if: &str) {
    a.ok(&["ip", "link", "add", a_if, "type", "veth", "peer", "name", b_if, "netns", &b.name]);
    a.ok(&["ip", "link", "set", a_if, "up"]);
    b.ok(&["ip", "link", "set", b_if, "up"]);
}

/// Adds an address without duplicate address detection (IPv6 would otherwise wait).
pub fn addr(ns: &Ns, dev: &str, cidr: &str) {
    if cidr.contains(':') {
        ns.ok(&["ip", "-6", "addr", "add", cidr, "dev", dev, "nodad"]);
    } else {
        ns.ok(&["ip", "addr", "add", cidr, "dev", dev]);
    }
}

/// Polls `cond` until it holds or `limit` passes.
pub fn wait_for(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() > end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// TCP and UDP echo services on one port (both families), stopped when dropped.
pub struct Echo {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl Echo {
    pub fn start(ns: &Ns, port: u16) -> Echo {
        let stop = Arc::new(AtomicBool::new(false));
        let mut threads = Vec::new();
        let s = stop.clone();
        threads.push(ns.spawn(move || {
            // Dual-stack: IPv4 clients arrive as v4-mapped addresses.
            let l = TcpListener::bind(("::", port)).expect("tcp bind");
            l.set_nonblocking(true).unwrap();
            while !s.load(Ordering::Relaxed) {
                match l.accept() {
                    Ok((c, _)) => {
                        let s2 = s.clone();
                        std::thread::spawn(move || echo_tcp(c, s2));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        }));
        let s = stop.clone();
        threads.push(ns.spawn(move || {
            let u = UdpSocket::bind(("::", port)).expect("udp bind");
            u.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
            let mut buf = [0u8; 2048];
            while !s.load(Ordering::Relaxed) {
                if let Ok((n, from)) = u.recv_from(&mut buf) {
                    let _ = u.send_to(&buf[..n], from);
                }
            }
        }));
        Echo { stop, threads }
    }
}

fn echo_tcp(mut c: TcpStream, stop: Arc<AtomicBool>) {
    c.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
    let mut buf = [0u8; 16384];
    while !stop.load(Ordering::Relaxed) {
        match c.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => {
                if c.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            Err(_) => return,
        }
    }
}

impl Drop for Echo {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// Connects from inside `ns`; `None` if no connection within `limit`.
pub fn tcp_connect(ns: &Ns, to: SocketAddr, limit: Duration) -> Option<TcpStream> {
    ns.enter(|| TcpStream::connect_timeout(&to, limit).ok())
}

/// Sends `n` bytes over `s` and reads them back; false on any failure or timeout.
pub fn tcp_echo(s: &mut TcpStream, n: usize, limit: Duration) -> bool {
    let data: Vec<u8> = (0..n).map(|i| (i % 251) as u8).collect();
    s.set_read_timeout(Some(limit)).unwrap();
    s.set_write_timeout(Some(limit)).unwrap();
    let mut back = vec![0u8; n];
    let writer = {
        let mut w = match s.try_clone() {
            Ok(w) => w,
            Err(_) => return false,
        };
        let data = data.clone();
        std::thread::spawn(move || w.write_all(&data).is_ok())
    };
    let read_ok = s.read_exact(&mut back).is_ok();
    let write_ok = writer.join().unwrap_or(false);
    read_ok && write_ok && back == data
}

/// One UDP datagram from inside `ns` to an echo service; true if it came back.
pub fn udp_echo(ns: &Ns, to: SocketAddr, limit: Duration) -> bool {
    ns.enter(|| {
        let local: SocketAddr = if to.is_ipv4() { "0.0.0.0:0".parse().unwrap() } else { "[::]:0".parse().unwrap() };
        let u = UdpSocket::bind(local).unwrap();
        u.set_read_timeout(Some(limit)).unwrap();
        if u.send_to(b"ftwall-udp-check", to).is_err() {
            return false;
        }
        let mut buf = [0u8; 64];
        matches!(u.recv_from(&mut buf), Ok((16, _)) if &buf[..16] == b"ftwall-udp-check")
    })
}

/// One ping from inside `ns`.
pub fn ping(ns: &Ns, to: &str) -> bool {
    ns.run(&["ping", "-n", "-q", "-c", "1", "-W", "1", to]).is_ok()
}
