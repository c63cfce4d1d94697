//! `-d`'s output letters, through the real binary: `l` (and `A`, which includes it) copies
//! every line sent to syslog to standard output, as ftwall 2 did; without it stdout stays
//! quiet. The daemon is started without a LAN, so it stops at its first check (an error
//! logged to syslog) and never opens a queue: no root, no network.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_ftwall");
const ERROR: &str = "the daemon needs to know the LAN";

/// True (and says so) under qemu-user, which cannot exec the target binary (cross/README.md);
/// cross/check.sh compares the binary with the host build there instead.
fn emulated() -> bool {
    match std::env::var_os("FTWALL_TEST_EMULATED") {
        Some(emulator) => {
            eprintln!("NOT RUN under {emulator:?}: runs the ftwall binary");
            true
        }
        None => false,
    }
}

fn run(debug: &str) -> (i32, String, String) {
    let out = Command::new(BIN).arg(format!("-d{debug}")).output().expect("run ftwall");
    let text = |b: Vec<u8>| String::from_utf8_lossy(&b).into_owned();
    (out.status.code().unwrap_or(-1), text(out.stdout), text(out.stderr))
}

#[test]
fn letter_l_copies_syslog_lines_to_stdout() {
    if emulated() {
        return;
    }
    for what in ["l", "A", "tl"] {
        let (code, stdout, stderr) = run(what);
        assert_eq!(code, 1, "-d{what}: {stderr}");
        assert!(stdout.lines().any(|l| l.starts_with("ftwall: ") && l.contains(ERROR)), "-d{what}: stdout was {stdout:?}");
        assert!(stderr.contains(ERROR), "-d{what}: stderr was {stderr:?}");
    }
}

#[test]
fn without_l_stdout_stays_quiet() {
    if emulated() {
        return;
    }
    for what in ["t", "-", "p"] {
        let (code, stdout, stderr) = run(what);
        assert_eq!(code, 1, "-d{what}: {stderr}");
        assert!(stderr.contains(ERROR), "-d{what}: stderr was {stderr:?}");
        assert!(!stdout.contains(ERROR), "-d{what}: stdout was {stdout:?}");
    }
}
