//! Typed, length-checked views over packet bytes.
//!
//! Every view borrows the bytes it was made from, checks lengths once when it is made and
//! then reads fields with explicit byte order. Making a view from bad bytes is an error,
//! never a panic.

pub mod bytes;
pub mod ip;

pub use ip::{IpPacket, Transport, WireError};
