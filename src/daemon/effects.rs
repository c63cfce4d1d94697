//! Carrying out the engine's actions: spoofed answers and probes through the sockets,
//! peers to the storefile, client files, kernel set updates and log events. A failure is
//! counted and logged (throttled), never fatal.

use super::clientdir::ClientDir;
use super::kernel::KernelSets;
use super::logging::Logger;
use super::peerstore::PeerStore;
use super::send::Senders;
use super::status;
use super::troubles::{Trouble, Troubles};
use crate::engine::Action;
use crate::storefile::Entry;
use crate::time::Millis;

/// Everything the engine's actions touch.
pub struct Effects {
    pub senders: Senders,
    pub store: Option<PeerStore>,
    pub clients: Option<ClientDir>,
    pub kernel: Box<dyn KernelSets>,
    pub logger: &'static Logger,
    pub troubles: Troubles,
}

impl Effects {
    pub fn perform(&mut self, a: Action, now: Millis) {
        match a {
            Action::Spoof { from, to, payload } => {
                if let Err(e) = self.senders.spoof(from, to, &payload) {
                    self.troubles.note(Trouble::Spoof, now, || format!("cannot send the answer from {from} to {to}: {e}"));
                }
            }
            Action::Probe { to, payload } => {
                if let Err(e) = self.senders.probe(to, &payload) {
                    self.troubles.note(Trouble::Probe, now, || format!("cannot probe {to}: {e}"));
                }
            }
            Action::StorePeer { peer, protocol } => {
                if let Some(store) = &mut self.store {
                    if let Err(e) = store.add(Entry { peer, protocol }) {
                        let path = store.path().display().to_string();
                        let pending = store.pending();
                        self.troubles.note(Trouble::Storefile, now, || {
                            format!("cannot write peer {peer} to {path}: {e}; {pending} peers wait in memory (still blocked)")
                        });
                    }
                }
            }
            Action::BlockPeer { ip } => {
                if let Err(e) = self.kernel.block_peer(ip, now) {
                    self.troubles.note(Trouble::KernelSet, now, || format!("cannot add peer {ip} to the kernel set: {e}"));
                }
            }
            Action::Lock { client, secs } => {
                if let Err(e) = self.kernel.lock(client, secs, now) {
                    self.troubles.note(Trouble::KernelSet, now, || format!("cannot lock {client} in the kernel: {e}"));
                }
            }
            Action::Unlock { client } => {
                if let Err(e) = self.kernel.unlock(client, now) {
                    self.troubles.note(Trouble::KernelSet, now, || format!("cannot unlock {client} in the kernel: {e}"));
                }
            }
            Action::ClientOnline { client, protocol, mac } => {
                if let Some(dir) = &self.clients {
                    if let Err(e) = dir.online(client, protocol, mac, status::unix_now()) {
                        self.troubles.note(Trouble::ClientDir, now, || format!("cannot write the client file of {client}: {e}"));
                    }
                }
            }
            Action::ClientOffline { client } => {
                if let Some(dir) = &self.clients {
                    if let Err(e) = dir.offline(client) {
                        self.troubles.note(Trouble::ClientDir, now, || format!("cannot remove the client file of {client}: {e}"));
                    }
                }
            }
            Action::Log(event) => self.logger.event(&event),
        }
    }

    /// Sends the queued kernel set changes if they are due (see `rules::sets`).
    pub fn flush_sets_if_due(&mut self, now: Millis) {
        if self.kernel.next_flush().is_some_and(|due| due <= now) {
            self.flush_sets(now);
        }
    }

    /// Sends the queued kernel set changes now.
    pub fn flush_sets(&mut self, now: Millis) {
        for e in self.kernel.flush(now) {
            self.troubles.note(Trouble::KernelSet, now, || format!("kernel set update failed: {e}"));
        }
    }
}
