//! Helpers shared by the detectors' unit tests: segments built by hand and
//! deterministic noise.

use super::{FlowView, Prefix, Proto, Protocol, Segment};
use crate::test_rng::XorShift32;

/// Deterministic pseudo-random bytes, so tests need no crate and always see the same bytes.
pub fn noise(seed: u32, n: usize) -> Vec<u8> {
    XorShift32(seed.max(1)).noise(n)
}

/// A segment of a new flow between a LAN client and a remote on high ports.
pub fn seg(proto: Proto, from_client: bool, payload: &[u8]) -> Segment<'_> {
    seg_ports(proto, from_client, 50000, 51413, payload)
}

/// A segment of a new flow with the given client and remote ports.
pub fn seg_ports(proto: Proto, from_client: bool, client_port: u16, remote_port: u16, payload: &[u8]) -> Segment<'_> {
    Segment {
        proto,
        client: crate::addr::Endpoint::new("192.168.1.10".parse().unwrap(), client_port),
        remote: crate::addr::Endpoint::new("203.0.113.5".parse().unwrap(), remote_port),
        from_client,
        remote_is_router: false,
        payload,
        flow: FlowView::NEW,
    }
}

/// Marks that the client's first payload (and `n` payloads in all) came before.
pub fn after_client<'a>(mut s: Segment<'a>, first: &[u8], n: u8) -> Segment<'a> {
    s.flow.client_first = Prefix::of(first);
    s.flow.client_payloads = n;
    s
}

/// Marks that the remote's first payload (and `n` payloads in all) came before.
pub fn after_remote<'a>(mut s: Segment<'a>, first: &[u8], n: u8) -> Segment<'a> {
    s.flow.remote_first = Prefix::of(first);
    s.flow.remote_payloads = n;
    s
}

/// Sets the host state the engine would pass.
pub fn known(mut s: Segment<'_>, client: Option<Protocol>, remote: bool) -> Segment<'_> {
    s.flow.client_known = client;
    s.flow.remote_known = remote;
    s
}
