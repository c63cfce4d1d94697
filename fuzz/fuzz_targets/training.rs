//! Fuzz target `training`: see `harness::training` for what the input means and what is checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ftwall_fuzz::harness::training(data));
