#!/usr/bin/env bash
# Runs the crate's unit tests and its pure integration tests on emulated targets (default:
# big-endian 32-bit mips-unknown-linux-musl and 32-bit armv7-unknown-linux-musleabihf), built by
# cargo-zigbuild with std from source and run by qemu-user through cross/config.toml's runner.
# This is how byte-order and 32-bit bugs are caught on every change.
#
# Which tests cannot run here, and how they are left out (see cross/README.md):
# - qemu-user cannot open NETLINK_NETFILTER sockets and cannot exec another target binary (no
#   binfmt_misc is assumed). A single test that needs either (runs env!("CARGO_BIN_EXE_ftwall"),
#   opens netfilter netlink, creates namespaces) checks the FTWALL_TEST_EMULATED environment
#   variable, set by cross/qemu-run, and returns early saying so on stderr. cross/check.sh runs
#   the target binary under qemu instead and compares it with the host build.
# - A whole integration test file (tests/*.rs) that is only about the host kernel is left out
#   when it contains the line `// cross-test: host-only`; each exclusion is printed.
# Usage: cross/test.sh [TARGET...]
set -euo pipefail
. "$(dirname "$0")/lib.sh"

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(mips-unknown-linux-musl armv7-unknown-linux-musleabihf)
for t in "${targets[@]}"; do known_target "$t"; done

ensure_zigbuild
ensure_qemu "${targets[@]}"

test_args=(--lib)
shopt -s nullglob
for f in "$FTWALL_ROOT"/tests/*.rs; do
    name="$(basename "$f" .rs)"
    if grep -q 'cross-test: host-only' "$f"; then
        say "left out under qemu: tests/$name.rs (marked cross-test: host-only)"
    else
        test_args+=(--test "$name")
    fi
done

say "NOTE: tests that exec the target binary or need netfilter netlink return early under qemu"
say "(they check FTWALL_TEST_EMULATED); cross/check.sh runs the binary under qemu instead."
for t in "${targets[@]}"; do
    say "testing on $t under $(qemu_for "$t")"
    start=$(date +%s)
    if ! zigbuild test "$t" --profile cross-test "${test_args[@]}"; then
        say "tests FAILED on $t. A test that runs the ftwall binary or needs netfilter netlink must"
        say "return early when FTWALL_TEST_EMULATED is set (see cross/README.md); any other failure is"
        say "probably a byte-order or 32-bit bug."
        exit 1
    fi
    say "tests on $t took $(($(date +%s) - start)) s"
done
