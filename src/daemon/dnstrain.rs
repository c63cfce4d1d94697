//! The DNS training file (`-D`) in the running daemon: read at start and on SIGHUP (its
//! addresses go into the engine, with the time they have left), and rewritten from the
//! engine's table when an answer taught something, and at a clean stop. The first lesson
//! after a quiet minute is written at the next clock tick, so a daemon killed a moment
//! later (SIGKILL, a crash, a power cut) still finds it after the restart; while answers
//! keep teaching, the file is rewritten at most once a minute, to spare the flash of a
//! router. The file format is in [`crate::training`]. A problem with the file never
//! stops the daemon: blocking goes on from memory.

use std::io;
use std::path::{Path, PathBuf};

use super::status::unix_now;
use crate::engine::Engine;
use crate::time::Millis;
use crate::training;

/// How often, at most, the file is rewritten while answers keep teaching.
pub const SAVE_MS: u64 = 60_000;

pub struct DnsTraining {
    path: PathBuf,
    /// The engine's `dns_learned` counter when the file was last written.
    saved_learned: u64,
    /// No rewrite before this: SAVE_MS after the last one (or attempt).
    next_save: Millis,
}

impl DnsTraining {
    /// Reads the file into the engine.
    pub fn open(path: &Path, engine: &mut Engine, now: Millis) -> DnsTraining {
        let t = DnsTraining { path: path.to_path_buf(), saved_learned: engine.counters().dns_learned, next_save: now };
        t.load_into(engine, now);
        t
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// (Re)reads the file: lines added by hand are blocked too.
    pub fn load_into(&self, engine: &mut Engine, now: Millis) {
        let shown = self.path.display();
        let loaded = match training::load(&self.path, unix_now()) {
            Ok(l) => l,
            Err(e) => {
                log::error!("DNS training file {shown}: {e}; starting without it");
                return;
            }
        };
        for e in &loaded.errors {
            log::warn!("DNS training file {shown} {e}: skipped");
        }
        let (accepted, refused) = training::preload(engine, &loaded, now, unix_now());
        if refused > 0 {
            log::warn!("DNS training file {shown}: {refused} addresses refused (never blocked: router, LAN, special or never-block)");
        }
        log::info!("DNS training file {shown}: {accepted} addresses blocked by name, {} expired", loaded.expired);
    }

    /// Rewrites the file if an answer taught something since the last write and the
    /// last write is at least SAVE_MS ago.
    pub fn save_if_due(&mut self, engine: &Engine, now: Millis) -> io::Result<()> {
        if engine.counters().dns_learned == self.saved_learned || now < self.next_save {
            return Ok(());
        }
        self.save(engine, now)
    }

    /// Rewrites the file now. A failed write is tried again SAVE_MS later, not sooner.
    pub fn save(&mut self, engine: &Engine, now: Millis) -> io::Result<()> {
        self.next_save = now.plus(SAVE_MS);
        training::save(&self.path, &training::snapshot(engine, now, unix_now()))?;
        self.saved_learned = engine.counters().dns_learned;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::name::NameTail;
    use crate::engine::Config;

    #[test]
    fn loads_at_start_saves_a_first_lesson_at_once_and_then_once_a_minute() {
        let dir = std::env::temp_dir().join(format!("ftwall-dnstrain-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("dns");
        let later = unix_now() + 3600;
        std::fs::write(&path, format!("198.51.100.70 {later} cache0.winmx.com\nbroken line\n127.0.0.1 {later} lo.winmx.com\n")).unwrap();

        let mut engine = Engine::new(Config::default());
        let t0 = Millis(10_000);
        let mut t = DnsTraining::open(&path, &mut engine, t0);
        assert!(engine.is_dns_blocked("198.51.100.70".parse().unwrap(), t0));
        assert!(!engine.is_dns_blocked("127.0.0.1".parse().unwrap(), t0));

        // Nothing learned: never rewritten, however long it runs (the bad lines stay for a human).
        t.save_if_due(&engine, t0.plus(10 * SAVE_MS)).unwrap();
        assert!(std::fs::read_to_string(&path).unwrap().contains("broken line"));

        // The first lesson is written at the next tick: a daemon killed right after keeps it.
        let mut cfg = Config::default();
        cfg.patterns.add("*.winmx.com").unwrap();
        engine.set_config(cfg);
        let learn = |engine: &mut Engine, name: &str, last: u8, at: Millis| {
            let answer = dns_answer(name, [198, 51, 100, last]);
            let pkt = udp_packet([203, 0, 113, 53], [192, 0, 2, 1], &answer);
            engine.process(&crate::engine::Packet { bytes: &pkt, path: crate::engine::Path::WanToRouter, mac: None }, at, &mut |_| {});
        };
        let t1 = t0.plus(10 * SAVE_MS);
        learn(&mut engine, "cache1.winmx.com", 71, t1);
        assert_eq!(engine.counters().dns_learned, 1);
        t.save_if_due(&engine, t1.plus(1000)).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains("broken line") && !text.contains("127.0.0.1"), "{text}");
        assert!(text.contains("198.51.100.70 ") && text.contains("198.51.100.71 ") && text.contains("cache1.winmx.com"), "{text}");

        // More lessons soon after: one rewrite a minute at most.
        learn(&mut engine, "cache2.winmx.com", 72, t1.plus(2000));
        t.save_if_due(&engine, t1.plus(3000)).unwrap();
        t.save_if_due(&engine, t1.plus(SAVE_MS)).unwrap();
        assert!(!std::fs::read_to_string(&path).unwrap().contains("198.51.100.72 "), "rewritten twice within a minute");
        t.save_if_due(&engine, t1.plus(1000 + SAVE_MS)).unwrap();
        assert!(std::fs::read_to_string(&path).unwrap().contains("198.51.100.72 "), "not rewritten a minute later");

        // Read back by a fresh engine (a restart).
        let mut fresh = Engine::new(Config::default());
        DnsTraining::open(&path, &mut fresh, Millis(0));
        let names: Vec<NameTail> = fresh.dns_blocked(Millis(0)).map(|s| s.name).collect();
        assert_eq!(names.len(), 3);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A one-answer DNS response (RFC 1035 layout, no compression).
    fn dns_answer(name: &str, ip: [u8; 4]) -> Vec<u8> {
        let mut wire = Vec::new();
        for l in name.split('.') {
            wire.push(l.len() as u8);
            wire.extend_from_slice(l.as_bytes());
        }
        wire.push(0);
        let mut m = vec![0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0];
        m.extend_from_slice(&wire);
        m.extend_from_slice(&[0, 1, 0, 1]);
        m.extend_from_slice(&wire);
        m.extend_from_slice(&[0, 1, 0, 1, 0, 0, 0x0e, 0x10, 0, 4]);
        m.extend_from_slice(&ip);
        m
    }

    /// An IPv4 UDP packet from port 53 (checksums left zero: the engine does not check them).
    fn udp_packet(src: [u8; 4], dst: [u8; 4], payload: &[u8]) -> Vec<u8> {
        let total = (20 + 8 + payload.len()) as u16;
        let mut p = vec![0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 17, 0, 0];
        p[2..4].copy_from_slice(&total.to_be_bytes());
        p.extend_from_slice(&src);
        p.extend_from_slice(&dst);
        p.extend_from_slice(&53u16.to_be_bytes());
        p.extend_from_slice(&31000u16.to_be_bytes());
        p.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
        p.extend_from_slice(&[0, 0]);
        p.extend_from_slice(payload);
        p
    }
}
