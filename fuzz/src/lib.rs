//! The fuzz targets' bodies live in [`harness`], a plain file that the crate's own tests
//! (tests/fuzz_regressions.rs) and the seed writer (examples/fuzz_seeds.rs) include too,
//! so a crash input found here replays under plain `cargo test`.

pub mod harness;
