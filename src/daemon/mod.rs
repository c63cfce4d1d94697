//! The daemon: the thin, living edge around the engine. It takes packets from an
//! NFQUEUE queue, asks the engine, gives every packet exactly one verdict, carries out
//! the engine's actions (spoofed answers, probes, storefile lines, client files, kernel
//! sets, logs) and keeps the engine's clock running when no packet comes.
//!
//! # Lifecycle
//! Start: read the storefile and preload its peers (into the engine and the kernel's
//! peer set), read the DNS training file (`-D`, into the engine only), open the raw and
//! probe sockets, bind the queue, then detach unless `-d` or `-s` was given, write the
//! pid file, and drop every capability but CAP_NET_ADMIN and CAP_NET_RAW. Everything
//! that can fail at start fails before detaching, so an init script sees the error.
//!
//! The default is to detach (fork, new session, `/`, stdio on /dev/null) because that is
//! what ftwall always did and what SysV init scripts expect. Supervisors that watch a
//! foreground process (OpenWrt's procd, systemd) pass `-s`.
//!
//! # Signals
//! * SIGTERM, SIGINT: stop cleanly. Packets already queued get their verdicts, the
//!   storefile is synced to the disk, the DNS training file rewritten, the client files
//!   are removed (nothing would remove them later; the kernel's lock timeouts end the
//!   locks on their own), the status file and the pid file are removed. Exit status 0.
//! * SIGHUP: re-read what can change while running: the storefile and the DNS training
//!   file (lines added by hand are loaded and blocked; removing a line takes effect at
//!   the next start), the `--pattern-file` files, the interface indices (also looked up
//!   every 10 s, for interfaces that come up late or are re-created), the router's
//!   addresses and the syslog connection; and refill the kernel sets from memory, which
//!   repairs them after a firewall reload flushed them. Options given on the command
//!   line do not change.
//! * SIGUSR1: write the status file now.
//!
//! # Kernel sets
//! Locks, unlocks and blocked peers are queued and sent in batches, one `nft`/`ipset`
//! command for many elements (see `rules::sets` for when: a lock within 25 ms, the rest
//! within 250 ms); the loop wakes up for a batch that is due. The status file counts the
//! commands and the changes (`daemon_set_commands`, `daemon_set_changes`,
//! `daemon_set_changes_failed`).
//!
//! # Failures
//! A problem with a file (storefile, client directory, status file) or a kernel set
//! update never stops the firewall: it is logged (at most once a minute per kind) and
//! the daemon goes on blocking from memory. A panic inside the engine for one packet is
//! caught: that packet is accepted, the panic is counted and logged, and the loop goes
//! on (the release profile keeps panic=unwind for this). Packets the kernel could not
//! hand over because the daemon fell behind (passed with fail-open, dropped with
//! `--fail-closed`) are counted from the gaps in the queue's packet ids
//! (`daemon_queue_missed`) and logged like any other trouble.

mod caps;
mod clientdir;
mod dnstrain;
mod effects;
mod guard;
mod ifaddrs;
pub mod datagram;
pub mod kernel;
mod logging;
mod overflow;
pub mod path;
mod peerstore;
mod process;
pub mod queue;
mod send;
pub mod signals;
pub mod status;
mod syslog;
mod troubles;

use std::net::IpAddr;
use std::path::{Path as FsPath, PathBuf};

use crate::addr::MacAddr;
use crate::cli::Settings;
use crate::engine::{Action, Engine, Packet, Verdict as EngineVerdict};
use crate::time::Millis;
use clientdir::ClientDir;
use effects::Effects;
use guard::{guarded, install_panic_hook};
use troubles::{Trouble, Troubles};
use kernel::{KernelSets, NoSets};
use logging::{LogSetup, Logger};
use path::{Devices, Interfaces};
use peerstore::PeerStore;
use queue::{Queue, Verdict};
use send::Senders;
use signals::Signals;

/// The mark bit that tells the rules a packet was already passed by the daemon (the
/// accept verdict is NF_REPEAT with this bit set); the rules module owns its value.
pub use crate::rules::PASS_MARK;

pub use queue::AcceptAs;

/// `ftwall [options]`: runs the daemon until it is told to stop. Returns the process
/// exit status (0 after a clean stop, 1 when it cannot start or the queue fails).
pub fn run(settings: &Settings) -> i32 {
    run_with(settings.clone(), AcceptAs::RepeatWithMark(PASS_MARK))
}

/// Runs the daemon, handing accepted packets back as `accept_as` says.
pub fn run_with(mut opts: Settings, accept_as: AcceptAs) -> i32 {
    opts.engine.log = opts.engine.log.union(opts.syslog).union(opts.stderr);
    let logger = Logger::install(LogSetup {
        syslog_events: opts.syslog,
        stderr_events: opts.stderr,
        debug: opts.debug.as_deref().is_some_and(|w| w != "-"),
        syslog_to_stdout: opts.debug.as_deref().is_some_and(|w| w.contains(['A', 'l'])),
    });
    install_panic_hook();
    let mut d = match Daemon::start(opts, accept_as, logger) {
        Ok(d) => d,
        Err(e) => {
            log::error!("{e}");
            return 1;
        }
    };
    let code = d.run();
    d.stop();
    code
}

/// A monotonic clock in milliseconds (CLOCK_MONOTONIC; never jumps with the wall clock).
pub fn monotonic_now() -> Millis {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    let secs = u64::try_from(ts.tv_sec).unwrap_or(0);
    let ms = u64::try_from(ts.tv_nsec).unwrap_or(0) / 1_000_000;
    Millis(secs.saturating_mul(1000).saturating_add(ms))
}

struct Daemon {
    opts: Settings,
    /// Interface names that did not resolve at the last look.
    missing_ifaces: Vec<String>,
    accept_as: AcceptAs,
    engine: Engine,
    queue: Queue,
    signals: Signals,
    ifaces: Interfaces,
    fx: Effects,
    actions: Vec<Action>,
    started_unix: u64,
    /// The DNS training file (-D).
    training: Option<dnstrain::DnsTraining>,
    /// Packets the queue could not deliver to us (passed or dropped by the kernel).
    missed: overflow::Missed,
}

/// Packets handled per wake-up before the clock and the signals get a look.
const BATCH: usize = 64;
const TICK_MS: u64 = 1000;
const IFACE_CHECK_MS: u64 = 10_000;

fn absolute(p: &FsPath) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

impl Daemon {
    fn start(mut opts: Settings, accept_as: AcceptAs, logger: &'static Logger) -> Result<Daemon, String> {
        if opts.lan_ifs.is_empty() && opts.lan_nets.is_empty() {
            return Err("the daemon needs to know the LAN: name it with --lan-if IFACE (or --lan CIDR)".into());
        }
        // Paths are made absolute before detaching moves us to `/`.
        for p in [&mut opts.storefile, &mut opts.client_dir, &mut opts.pidfile, &mut opts.dns_training].into_iter().flatten() {
            *p = absolute(p);
        }
        opts.status_file = absolute(&opts.status_file);
        opts.pattern_files = opts.pattern_files.iter().map(|p| absolute(p)).collect();

        let now = monotonic_now();
        let mut engine = Engine::new(engine_config(&opts));
        let mut kernel: Box<dyn KernelSets> = match crate::rules::cli::kernel_sets(&opts) {
            Ok(sets) => Box::new(sets),
            Err(e) => {
                log::warn!("kernel sets not used ({e}): locks and blocked peers act only on queued packets");
                Box::new(NoSets)
            }
        };

        let store = opts.storefile.as_deref().map(|path| {
            let (store, report) = PeerStore::open(path, engine.capacities().peers);
            let fresh = preload(&mut engine, path, &report, now);
            if !opts.engine.monitor {
                if let Err(e) = kernel.block_peers(&fresh) {
                    log::warn!("cannot load the storefile's peers into the kernel set: {e}");
                }
            }
            store
        });

        let training = opts.dns_training.as_deref().map(|path| dnstrain::DnsTraining::open(path, &mut engine, now));

        let clients = opts.client_dir.as_deref().and_then(|dir| match ClientDir::open(dir) {
            Ok((c, stale)) => {
                if stale > 0 {
                    log::info!("removed {stale} client files left by an earlier run from {}", dir.display());
                }
                Some(c)
            }
            Err(e) => {
                log::error!("client directory {}: {e}; running without it", dir.display());
                None
            }
        });

        let mark = match accept_as {
            AcceptAs::RepeatWithMark(bit) => Some(bit),
            AcceptAs::Accept => None,
        };
        let senders = Senders::open(opts.ipv6, mark).map_err(|e| format!("cannot open the sockets for spoofed answers and probes: {e}"))?;
        let copy = u16::try_from(opts.buffer).unwrap_or(u16::MAX).max(64);
        let queue = Queue::open(opts.queue, copy, !opts.fail_closed)
            .map_err(|e| format!("cannot bind NFQUEUE queue {}: {e} (is nfnetlink_queue loaded, and are we root?)", opts.queue))?;
        let signals = Signals::install().map_err(|e| format!("cannot install signal handlers: {e}"))?;

        let mut d = Daemon {
            ifaces: Interfaces::default(),
            missing_ifaces: Vec::new(),
            engine,
            queue,
            signals,
            fx: Effects { senders, store, clients, kernel, logger, troubles: Troubles::default() },
            actions: Vec::with_capacity(16),
            started_unix: status::unix_now(),
            training,
            missed: overflow::Missed::default(),
            accept_as,
            opts,
        };
        d.resolve_interfaces();

        if !d.opts.foreground {
            process::daemonize().map_err(|e| format!("cannot detach: {e}"))?;
            logger.reopen();
        }
        if let Some(p) = &d.opts.pidfile {
            if let Err(e) = process::write_pidfile(p) {
                log::error!("cannot write the pid file {}: {e}", p.display());
            }
        }
        // The status file's directory is made while we still may.
        if let Some(dir) = d.opts.status_file.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        match caps::keep_only(&[caps::CAP_NET_ADMIN, caps::CAP_NET_RAW]) {
            Ok(left) => log::debug!("capabilities left: {left:#x}"),
            Err(e) => log::warn!("cannot drop capabilities: {e}"),
        }
        log::info!(
            "started: queue {}, {} peers known, lock {} s{}",
            d.queue.number(),
            d.engine.peers().count(),
            d.opts.engine.lock_secs,
            if d.opts.engine.monitor { ", monitor mode (nothing is blocked)" } else { "" }
        );
        Ok(d)
    }

    /// Looks the interface names up again: at start, on SIGHUP and every
    /// [`IFACE_CHECK_MS`] (an interface may come up after the daemon, or be re-created
    /// with a new index). Logs only what changed.
    fn resolve_interfaces(&mut self) {
        let (lan, missing_lan) = path::resolve(&self.opts.lan_ifs);
        let (wan, missing_wan) = path::resolve(&self.opts.wan_ifs);
        let missing: Vec<String> = missing_lan.into_iter().chain(missing_wan).collect();
        if missing != self.missing_ifaces {
            for name in missing.iter().filter(|n| !self.missing_ifaces.contains(n)) {
                log::warn!("interface {name} does not exist (yet); its packets are passed unexamined until it does");
            }
            for name in self.missing_ifaces.iter().filter(|n| !missing.contains(n)) {
                log::info!("interface {name} is there now");
            }
            self.missing_ifaces = missing;
        }
        self.ifaces = Interfaces { lan, wan };
    }

    fn run(&mut self) -> i32 {
        let mut now = monotonic_now();
        let mut next_tick = now;
        let mut next_status = now;
        let mut next_retry = now.plus(peerstore::RETRY_MS);
        let mut next_iface_check = now.plus(IFACE_CHECK_MS);
        loop {
            if now >= next_tick {
                self.tick(now);
                next_tick = now.plus(TICK_MS);
            }
            if now >= next_iface_check {
                self.resolve_interfaces();
                next_iface_check = now.plus(IFACE_CHECK_MS);
            }
            if now >= next_retry {
                self.retry_store(now);
                next_retry = now.plus(peerstore::RETRY_MS);
            }
            if now >= next_status {
                self.write_status(now);
                next_status = now.plus(status::INTERVAL_SECS * 1000);
            }
            self.fx.flush_sets_if_due(now);
            let wake = next_tick.min(next_status).min(self.fx.kernel.next_flush().unwrap_or(next_tick));
            let timeout = i32::try_from(wake.since(now).min(TICK_MS)).unwrap_or(1000);
            let ready = match queue::wait(&[self.queue.fd(), self.signals.fd()], timeout) {
                Ok(r) => r,
                Err(e) => {
                    log::error!("cannot wait for packets: {e}");
                    return 1;
                }
            };
            let req = self.signals.take_if(ready[1]);
            now = monotonic_now();
            if req.stop {
                log::info!("stopping on a signal");
                return 0;
            }
            if req.reload {
                self.reload(now);
            }
            if req.status {
                self.write_status(now);
                next_status = now.plus(status::INTERVAL_SECS * 1000);
            }
            if ready[0] {
                self.drain(BATCH, now);
                now = monotonic_now();
            }
        }
    }

    /// Handles up to `max` queued packets, all at the time `now`: a batch takes well
    /// under a millisecond, the engine's resolution, so one clock read does for all.
    fn drain(&mut self, max: usize, now: Millis) -> usize {
        let mut n = 0;
        while n < max {
            match self.queue.recv() {
                Ok(Some(msg)) => self.handle(msg, now),
                Ok(None) => break,
                Err(e) => {
                    self.fx.troubles.note(Trouble::Recv, now, || format!("cannot read from the queue: {e}"));
                    break;
                }
            }
            n += 1;
        }
        n
    }

    fn handle(&mut self, msg: nfq::Message, now: Millis) {
        let missed = self.missed.see(msg.get_packet_id());
        if missed > 0 {
            let fate = if self.opts.fail_closed { "dropped" } else { "passed unexamined (fail-open)" };
            self.fx.troubles.note(Trouble::QueueOverflow, now, || {
                format!("the queue overflowed: {missed} packets {fate} while the daemon fell behind")
            });
        }
        let mut accept_as = self.accept_as;
        let looped = matches!(accept_as, AcceptAs::RepeatWithMark(bit) if msg.get_nfmark() & bit != 0);
        let verdict = if looped {
            // The packet came back although we marked it: the queue rule does not skip
            // marked packets. Accept it for good instead of looping.
            accept_as = AcceptAs::Accept;
            self.fx.troubles.note(Trouble::MarkLoop, now, || {
                format!("a passed packet was queued again: the queue rule must skip mark {PASS_MARK:#x} (use `ftwall rules`)")
            });
            Verdict::Accept
        } else {
            self.decide(&msg, now)
        };
        if let Err(e) = self.queue.verdict(msg, verdict, accept_as) {
            self.fx.troubles.note(Trouble::Verdict, now, || format!("cannot give a verdict: {e}"));
        }
        if self.actions.is_empty() {
            return;
        }
        let Daemon { actions, fx, .. } = self;
        let done = guarded(|| {
            for a in actions.drain(..) {
                fx.perform(a, now);
            }
        });
        if let Err(why) = done {
            self.actions.clear();
            self.fx.troubles.note(Trouble::Panic, now, || format!("panic while carrying out actions: {why}"));
        }
    }

    /// Asks the engine about one packet; a panic in there accepts the packet.
    fn decide(&mut self, msg: &nfq::Message, now: Millis) -> Verdict {
        let bytes = msg.get_payload();
        let path = if self.opts.lan_ifs.is_empty() {
            match path::addresses(bytes) {
                Some((src, dst)) => path::path_by_address(&self.opts.lan_nets, msg.get_hook(), src, dst),
                None => crate::engine::Path::RouterToWan,
            }
        } else {
            self.ifaces.path(Devices {
                indev: msg.get_indev(),
                outdev: msg.get_outdev(),
                physindev: msg.get_physindev(),
                physoutdev: msg.get_physoutdev(),
            })
        };
        let mac = msg.get_hw_addr().and_then(|h| <[u8; 6]>::try_from(h).ok()).map(MacAddr);
        self.actions.clear();
        let Daemon { engine, actions, .. } = self;
        let pkt = Packet { bytes, path, mac };
        match guarded(|| engine.process(&pkt, now, &mut |a| actions.push(a))) {
            Ok(d) => match d.verdict {
                EngineVerdict::Accept => Verdict::Accept,
                EngineVerdict::Drop => Verdict::Drop,
            },
            Err(why) => {
                self.actions.clear();
                let len = bytes.len();
                self.fx.troubles.note(Trouble::Panic, now, || {
                    format!("the engine panicked on a {len}-byte packet ({path:?}); accepted it: {why}")
                });
                Verdict::Accept
            }
        }
    }

    fn tick(&mut self, now: Millis) {
        self.actions.clear();
        let Daemon { engine, actions, fx, .. } = self;
        let r = guarded(|| {
            engine.tick(now, &mut |a| actions.push(a));
            for a in actions.drain(..) {
                fx.perform(a, now);
            }
        });
        if let Err(why) = r {
            self.actions.clear();
            self.fx.troubles.note(Trouble::Panic, now, || format!("panic in the engine's clock: {why}"));
        }
        if let Some(t) = &mut self.training {
            if let Err(e) = t.save_if_due(&self.engine, now) {
                let path = t.path().display().to_string();
                self.fx.troubles.note(Trouble::TrainingFile, now, || format!("cannot write the DNS training file {path}: {e}"));
            }
        }
    }

    fn retry_store(&mut self, now: Millis) {
        if let Some(store) = &mut self.fx.store {
            if store.pending() > 0 {
                match store.retry() {
                    Ok(()) => log::info!("the storefile {} is writable again", store.path().display()),
                    Err(e) => {
                        let path = store.path().display().to_string();
                        self.fx.troubles.note(Trouble::Storefile, now, || format!("storefile {path} still not writable: {e}"));
                    }
                }
            }
        }
    }

    /// SIGHUP: see the module documentation.
    fn reload(&mut self, now: Millis) {
        log::info!("reloading (SIGHUP)");
        self.fx.logger.reopen();
        self.resolve_interfaces();
        // The router's and the LAN's addresses may have changed (DHCP, a new prefix);
        // the patterns in force stay until reload_patterns reads the files again.
        let mut config = engine_config(&self.opts);
        config.patterns = self.engine.config().patterns.clone();
        self.engine.set_config(config);
        self.reload_patterns();
        if let Some(store) = &mut self.fx.store {
            let report = store.reload();
            let path = store.path().to_path_buf();
            preload(&mut self.engine, &path, &report, now);
        }
        if let Some(t) = &self.training {
            t.load_into(&mut self.engine, now);
        }
        if !self.opts.engine.monitor {
            let peers: Vec<IpAddr> = self.engine.peers().map(|(ep, _)| ep.ip).collect();
            if let Err(e) = self.fx.kernel.block_peers(&peers) {
                self.fx.troubles.note(Trouble::KernelSet, now, || format!("cannot refill the kernel peer set: {e}"));
            }
            let locked: Vec<(IpAddr, u32)> = self.engine.clients(now).filter(|c| c.locked).map(|c| (c.ip, c.secs_left)).collect();
            self.fx.kernel.forget_locks();
            for (ip, secs) in locked {
                if let Err(e) = self.fx.kernel.lock(ip, secs, now) {
                    self.fx.troubles.note(Trouble::KernelSet, now, || format!("cannot lock {ip} in the kernel: {e}"));
                }
            }
            self.fx.flush_sets(now);
        }
        self.write_status(now);
    }

    /// Reads the pattern files again; a file that became unreadable keeps the old set.
    fn reload_patterns(&mut self) {
        if self.opts.pattern_files.is_empty() {
            return;
        }
        let mut warnings = Vec::new();
        match crate::cli::settings::patterns(&self.opts.patterns, &self.opts.pattern_files, &mut warnings) {
            Ok(set) => {
                log::info!("{} DNS name patterns in force", set.len());
                let mut config = self.engine.config().clone();
                config.patterns = set;
                self.engine.set_config(config);
            }
            Err(e) => log::error!("{e}; the patterns in force stay"),
        }
        for w in warnings {
            log::warn!("{w}");
        }
    }

    /// Streams the tables into the status file (see [`status::Lines`]).
    fn write_status(&mut self, now: Millis) {
        let (engine, troubles, store, missed) = (&self.engine, &self.fx.troubles, &self.fx.store, self.missed.total);
        let kernel = &self.fx.kernel;
        let (started, monitor) = (self.started_unix, self.opts.engine.monitor);
        let written = status::write_atomic_with(&self.opts.status_file, |out| {
            let mut l = status::Lines(out);
            l.head(std::process::id(), started, status::unix_now(), monitor)?;
            for c in engine.clients(now) {
                l.client(&c.ip, &c.protocol, c.secs_left, c.mac.as_ref().map(|m| m as &dyn std::fmt::Display))?;
            }
            for (peer, protocol) in engine.peers() {
                l.peer(&peer, &protocol)?;
            }
            for d in engine.dns_blocked(now) {
                l.dns(&d.ip, d.secs_left, &d.name)?;
            }
            let pending = ("daemon_storefile_pending", store.as_ref().map_or(0, |s| s.pending() as u64));
            let own = [pending, ("daemon_queue_missed", missed)];
            let sets = kernel.counters();
            for (name, value) in engine.counters().named().chain(troubles.named()).chain(own).chain(sets) {
                l.counter(name, value)?;
            }
            Ok(())
        });
        if let Err(e) = written {
            let path = self.opts.status_file.display().to_string();
            self.fx.troubles.note(Trouble::StatusFile, now, || format!("cannot write the status file {path}: {e}"));
        }
    }

    /// The clean stop: see the module documentation.
    fn stop(&mut self) {
        // Packets already queued get their verdicts instead of being dropped with the
        // socket; bounded, so a flood cannot hold the stop up.
        for _ in 0..16 {
            if self.drain(BATCH, monotonic_now()) == 0 {
                break;
            }
        }
        self.fx.flush_sets(monotonic_now());
        if let Some(store) = &mut self.fx.store {
            if let Err(e) = store.sync() {
                log::error!("storefile {}: {e}; {} peers could not be saved", store.path().display(), store.pending());
            }
        }
        if let Some(t) = &mut self.training {
            if let Err(e) = t.save(&self.engine, monotonic_now()) {
                log::error!("DNS training file {}: {e}; what DNS taught since the last write is lost", t.path().display());
            }
        }
        if let Some(dir) = &self.fx.clients {
            if let Err(e) = dir.remove_all() {
                log::warn!("cannot remove the client files: {e}");
            }
        }
        let _ = std::fs::remove_file(&self.opts.status_file);
        if let Some(p) = &self.opts.pidfile {
            process::remove_pidfile(p);
        }
        log::info!("stopped");
    }
}

/// The engine's settings: the command line's, plus every address of the router and the
/// networks of the LAN interfaces as never-block, so that neither traffic nor a DNS
/// answer can get them blocked even when the LAN is only named by interface.
fn engine_config(opts: &Settings) -> crate::engine::Config {
    let mut config = opts.engine.clone();
    config.seed = table_seed();
    match ifaddrs::read(&opts.lan_ifs) {
        Ok(local) => config.never_block.extend(local.all()),
        Err(e) => log::warn!("cannot read the interfaces' addresses: {e}; only --lan and -a keep the LAN and the router from being blocked"),
    }
    config
}

/// A seed for the engine's table hash, new at every start. The default seed is in the
/// source: with it, anyone could work out which spoofed addresses share a bucket with a
/// locked client and evict that lock with a handful of packets instead of a flood.
fn table_seed() -> u32 {
    use std::io::Read;
    let mut b = [0u8; 4];
    match std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut b)) {
        Ok(()) => u32::from_ne_bytes(b),
        // No /dev/urandom (a bare chroot): the clock and the pid still differ per start.
        Err(_) => {
            let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
            t.subsec_nanos() ^ (t.as_secs() as u32).rotate_left(7) ^ std::process::id().rotate_left(16)
        }
    }
}

/// Hands the storefile's peers to the engine; returns the ones new to it (for the kernel).
fn preload(engine: &mut Engine, path: &FsPath, report: &peerstore::Report, now: Millis) -> Vec<IpAddr> {
    let l = &report.loaded;
    if l.skipped_bytes > 0 {
        log::warn!("storefile {} is too big: only its last part was read ({} bytes before it skipped)", path.display(), l.skipped_bytes);
    }
    let after = if l.skipped_bytes > 0 { " of the part read" } else { "" };
    for e in &l.errors {
        log::warn!("storefile {} {e}{after}: skipped", path.display());
    }
    if l.more_errors > 0 {
        log::warn!("storefile {}: {} more unreadable lines skipped", path.display(), l.more_errors);
    }
    if l.duplicates > 0 {
        log::info!("storefile {}: {} duplicate lines dropped", path.display(), l.duplicates);
    }
    if l.dropped > 0 {
        log::info!("storefile {}: kept its newest {} peers, {} older ones dropped", path.display(), l.entries.len(), l.dropped);
    }
    if report.rewritten {
        log::info!("storefile {} rewritten with its {} good entries", path.display(), l.entries.len());
    }
    if let Some(p) = &report.problem {
        log::error!("storefile: {p}; learned peers are kept in memory until it can be written");
    }
    let mut fresh = Vec::new();
    for e in &report.loaded.entries {
        if engine.preload_peer(e.peer, e.protocol, now) {
            fresh.push(e.peer.ip);
        }
    }
    fresh
}

#[cfg(test)]
mod tests {
    use super::*;



    #[test]
    fn every_start_hashes_the_tables_with_its_own_seed() {
        let seeds: Vec<u32> = (0..4).map(|_| table_seed()).collect();
        let default = crate::engine::Config::default().seed;
        assert!(seeds.iter().all(|&s| s != default), "{seeds:x?}");
        assert!(seeds.windows(2).any(|w| w[0] != w[1]), "{seeds:x?}");
        if let Some(emulator) = std::env::var_os("FTWALL_TEST_EMULATED") {
            // engine_config reads the interfaces (getifaddrs), which hangs under qemu-user for
            // big-endian MIPS; the seeds above are what this test is about.
            eprintln!("NOT RUN under {emulator:?}: the engine_config part needs the host kernel's netlink");
            return;
        }
        let opts = Settings::default();
        assert_ne!(engine_config(&opts).seed, default);
    }

    #[test]
    fn the_monotonic_clock_moves_forward() {
        let a = monotonic_now();
        std::thread::sleep(std::time::Duration::from_millis(20));
        let b = monotonic_now();
        assert!(b.since(a) >= 20 && a.0 > 0, "{a} -> {b}");
    }
}
