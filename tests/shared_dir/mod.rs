//! Where the shared captures are: beside the repository in CI (`../shared` from the crate
//! root), one level further in a developer's worktree (/work/wt/NAME). Missing captures
//! fail the test that needs them.

use std::path::{Path, PathBuf};

pub fn captures_dir() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let candidates = [root.join("../shared/captures"), root.join("../../shared/captures")];
    for dir in &candidates {
        if dir.join("ndpi").is_dir() {
            return dir.clone();
        }
    }
    panic!("shared captures not found; looked in {candidates:?} (CI puts shared/ beside the repository)");
}
