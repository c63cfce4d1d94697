//! Replays, under plain `cargo test`, every input that made a fuzz target fail once
//! (fuzz/seeds/<target>/<name>), through the very code the fuzz target runs
//! (fuzz/src/harness.rs), so a fixed bug stays fixed without nightly or libFuzzer.
//! Each finding also has a named test here saying what it was.

#[path = "../fuzz/src/harness.rs"]
mod harness;

use std::fs;
use std::path::Path;

fn seed(target: &str, name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds").join(target).join(name);
    fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn every_saved_finding_passes_its_target() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds");
    let mut replayed = 0;
    for dir in fs::read_dir(&root).unwrap_or_else(|e| panic!("{}: {e}", root.display())).flatten() {
        let target = dir.file_name().to_string_lossy().into_owned();
        assert!(harness::TARGETS.contains(&target.as_str()), "fuzz/seeds/{target}: no such fuzz target");
        for file in fs::read_dir(dir.path()).expect("seed directory").flatten() {
            let bytes = fs::read(file.path()).expect("seed");
            eprintln!("replaying {target}/{}", file.file_name().to_string_lossy());
            harness::run(&target, &bytes);
            replayed += 1;
        }
    }
    assert!(replayed > 0, "no saved findings under {}", root.display());
}

/// cli: an option value with newlines (`-b $'ittor\n\n\n\nrent'`) was echoed raw in the
/// error, so the "one line on stderr" promise broke and a value could forge log lines.
#[test]
fn cli_newline_in_an_option_value() {
    let input = seed("cli", "newline-in-value");
    assert!(input.contains(&b'\n'));
    harness::cli(&input);
}

/// training: a name of just ".." (the cut mark) read as an empty tail still marked cut,
/// which is written back as "-" and then read as a different tail: the training file did
/// not read back what it wrote.
#[test]
fn training_bare_cut_mark() {
    let input = seed("training", "bare-cut-mark");
    assert!(input.ends_with(b" ..\n"));
    harness::training(&input);
}
