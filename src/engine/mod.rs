//! The decision engine (being written).
pub mod action;
pub mod config;
pub mod table;
pub use action::*;
pub use config::*;
