//! ftwall: stops peer-to-peer clients on a LAN from reaching peers on the internet.
//!
//! The crate is split so that the architecture shows in the file tree:
//!
//! * [`engine`]: the pure decision engine. Packet bytes and the time go in; a verdict and
//!   a list of [`engine::Action`]s (spoofed replies, probes, storefile lines, log events)
//!   come out. No I/O, no clock, no heap allocation per packet.
//! * [`detect`]: one detector per peer-to-peer protocol, each in its own file, behind the
//!   small [`detect::Detector`] trait.
//! * [`wire`]: typed, length-checked views over packet bytes.
//! * Edges around the engine: the capture reader, `inspect` (offline replay), the command
//!   line, the daemon and the netfilter rules.

pub mod addr;
pub mod capture;
pub mod cli;
pub mod daemon;
pub mod detect;
pub mod dns;
pub mod engine;
pub mod inspect;
pub mod rules;
pub mod storefile;
#[cfg(test)]
mod test_rng;
pub mod training;
pub mod time;
pub mod wire;
