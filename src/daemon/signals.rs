//! Signals, the async-signal-safe way: each handler only sets an atomic flag and writes
//! one byte to a self-pipe, so the main loop's `poll` wakes at once and does the real
//! work outside the handler.
//!
//! * SIGTERM, SIGINT: stop cleanly.
//! * SIGHUP: re-read what can change at run time.
//! * SIGUSR1: write the status file now.
//!
//! Only 32-bit atomics are used (32-bit MIPS has no 64-bit ones).

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

static STOP: AtomicBool = AtomicBool::new(false);
static RELOAD: AtomicBool = AtomicBool::new(false);
static STATUS: AtomicBool = AtomicBool::new(false);
/// Write end of the self-pipe, -1 until installed.
static WAKE_FD: AtomicI32 = AtomicI32::new(-1);

/// What the signals asked for since the last look.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Requests {
    pub stop: bool,
    pub reload: bool,
    pub status: bool,
}

/// The read end of the self-pipe; poll it alongside the queue.
pub struct Signals {
    read: OwnedFd,
    _write: OwnedFd,
}

extern "C" fn on_signal(sig: libc::c_int) {
    match sig {
        libc::SIGTERM | libc::SIGINT => STOP.store(true, Ordering::SeqCst),
        libc::SIGHUP => RELOAD.store(true, Ordering::SeqCst),
        libc::SIGUSR1 => STATUS.store(true, Ordering::SeqCst),
        _ => {}
    }
    let fd = WAKE_FD.load(Ordering::SeqCst);
    if fd >= 0 {
        let b = 1u8;
        // SAFETY: write(2) is async-signal-safe; a full pipe (EAGAIN) is fine: the
        // loop is already due to wake.
        unsafe { libc::write(fd, (&b as *const u8).cast(), 1) };
    }
}

impl Signals {
    /// Installs the handlers. Call once, before the main loop.
    pub fn install() -> io::Result<Signals> {
        let mut fds = [0 as libc::c_int; 2];
        // SAFETY: fds has room for the two descriptors pipe2 writes.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) } < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: both descriptors are fresh and owned by nobody else.
        let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        WAKE_FD.store(write.as_raw_fd(), Ordering::SeqCst);
        for sig in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP, libc::SIGUSR1] {
            // SAFETY: a zeroed sigaction is valid; the handler is an extern "C" fn that
            // only touches atomics and calls write(2). No SA_RESTART: a signal interrupts
            // poll so the loop sees it at once.
            unsafe {
                let mut sa: libc::sigaction = std::mem::zeroed();
                sa.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
                libc::sigemptyset(&mut sa.sa_mask);
                if libc::sigaction(sig, &sa, std::ptr::null_mut()) < 0 {
                    return Err(io::Error::last_os_error());
                }
            }
        }
        Ok(Signals { read, _write: write })
    }

    pub fn fd(&self) -> RawFd {
        self.read.as_raw_fd()
    }

    /// Takes the pending requests and empties the pipe.
    pub fn take(&self) -> Requests {
        let mut buf = [0u8; 64];
        // SAFETY: reading into a local buffer from our own non-blocking pipe.
        while unsafe { libc::read(self.read.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) } > 0 {}
        self.take_flags()
    }

    /// Takes the pending requests, or [`take`](Self::take)s them when `pipe_ready` (the
    /// wait saw the pipe readable): a loop that polls the pipe saves a read per wake-up.
    /// A signal that comes after the wait leaves its byte for the next one.
    pub fn take_if(&self, pipe_ready: bool) -> Requests {
        if pipe_ready {
            self.take()
        } else {
            self.take_flags()
        }
    }

    fn take_flags(&self) -> Requests {
        Requests {
            stop: STOP.load(Ordering::SeqCst),
            reload: RELOAD.swap(false, Ordering::SeqCst),
            status: STATUS.swap(false, Ordering::SeqCst),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signal_sets_its_flag_and_wakes_the_pipe() {
        let s = Signals::install().unwrap();
        // SAFETY: raising a signal whose handler we installed.
        unsafe { libc::raise(libc::SIGUSR1) };
        let mut pfd = libc::pollfd { fd: s.fd(), events: libc::POLLIN, revents: 0 };
        // SAFETY: one valid pollfd.
        let n = unsafe { libc::poll(&mut pfd, 1, 1000) };
        assert_eq!(n, 1, "the self-pipe must be readable");
        let r = s.take();
        assert!(r.status && !r.reload && !r.stop);
        assert_eq!(s.take(), Requests::default(), "requests are taken once");

        // Without a look at the pipe the flag is still seen, and the byte left for the
        // next wait; with one, the pipe is emptied.
        // SAFETY: as above.
        unsafe { libc::raise(libc::SIGUSR1) };
        assert!(s.take_if(false).status);
        // SAFETY: one valid pollfd.
        assert_eq!(unsafe { libc::poll(&mut pfd, 1, 0) }, 1, "the byte is still there");
        assert_eq!(s.take_if(true), Requests::default());
        // SAFETY: one valid pollfd.
        assert_eq!(unsafe { libc::poll(&mut pfd, 1, 0) }, 0, "the pipe is empty");
    }
}
