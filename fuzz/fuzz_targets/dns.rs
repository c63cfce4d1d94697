//! Fuzz target `dns`: see `harness::dns` for what the input means and what is checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ftwall_fuzz::harness::dns(data));
