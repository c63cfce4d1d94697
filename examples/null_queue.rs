//! The null NFQUEUE consumer, the queue-path baseline of `make bench`: binds the queue
//! exactly as the daemon does (its own option parser, its `Queue` with the same copy
//! range, fail-open flag and non-blocking socket, the same poll loop and batch, the
//! same NF_REPEAT-with-mark accept) and accepts every packet without looking at it.
//! Whatever the daemon costs beyond this is the engine and its actions.
//!
//! Usage: null_queue [daemon options: --queue N, -b BYTES, --fail-closed, ...]
//! SIGUSR1 prints `verdicts N MS` (verdicts given so far, CLOCK_MONOTONIC milliseconds)
//! on stdout; SIGTERM/SIGINT print it and stop.

use std::io::Write;

use ftwall::cli::{Request, Settings};
use ftwall::daemon::queue::{self, AcceptAs, Queue, Verdict};
use ftwall::daemon::signals::Signals;
use ftwall::daemon::PASS_MARK;

/// The daemon's batch: packets handled per wake-up.
const BATCH: usize = 64;

fn settings() -> Result<Settings, String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match ftwall::cli::settings::parse(&args)? {
        Request::Run(s) => Ok(*s),
        Request::Help | Request::Version => Err("null_queue takes the daemon's options only".into()),
    }
}

fn report(n: u64) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "verdicts {n} {}", ftwall::daemon::monotonic_now().0);
    let _ = out.flush();
}

fn main() {
    let opts = match settings() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("null_queue: {e}");
            std::process::exit(2);
        }
    };
    // The daemon's copy range rule (see daemon::Daemon::start).
    let copy = u16::try_from(opts.buffer).unwrap_or(u16::MAX).max(64);
    let mut q = match Queue::open(opts.queue, copy, !opts.fail_closed) {
        Ok(q) => q,
        Err(e) => {
            eprintln!("null_queue: cannot bind queue {}: {e}", opts.queue);
            std::process::exit(1);
        }
    };
    let signals = Signals::install().expect("signal handlers");
    let accept_as = AcceptAs::RepeatWithMark(PASS_MARK);
    let mut verdicts = 0u64;
    eprintln!("null_queue: bound queue {}", q.number());
    loop {
        let ready = queue::wait(&[q.fd(), signals.fd()], 1000).expect("poll");
        let req = signals.take_if(ready[1]);
        if req.status || req.stop {
            report(verdicts);
        }
        if req.stop {
            return;
        }
        if ready[0] {
            for _ in 0..BATCH {
                match q.recv() {
                    Ok(Some(msg)) => {
                        if q.verdict(msg, Verdict::Accept, accept_as).is_ok() {
                            verdicts = verdicts.wrapping_add(1);
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        eprintln!("null_queue: recv: {e}");
                        break;
                    }
                }
            }
        }
    }
}
