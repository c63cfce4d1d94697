#!/usr/bin/env bash
# Proves that cross-built binaries behave exactly like the host build: each TARGET's
# target/<triple>/release/ftwall runs under qemu-user (or natively for x86_64) and must print the
# same stdout and stderr, and exit with the same status, as target/release/ftwall for:
#   --version, --help, a bad option, and (once the CLI has `inspect`) `inspect CAPTURE` and
#   `inspect CAPTURE --summary` for every pcap/pcapng in the shared captures and in tests/, plus
#   inspect's errors (no argument, a missing file, a damaged capture).
# Both sides run with argv[0] = "ftwall" so messages that name the program compare equal.
# Usage: cross/check.sh [TARGET...]   (default: every target in cross/targets.tsv)
# Environment: FTWALL_CAPTURES=DIR overrides where the shared captures are looked for.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(all_targets)
for t in "${targets[@]}"; do known_target "$t"; done
ensure_qemu "${targets[@]}"

# Always (re)build the host binary: a stale one would make every comparison meaningless.
host_bin="$FTWALL_ROOT/target/release/ftwall"
say "building the host binary for comparison"
(cd "$FTWALL_ROOT" && cargo build --release --locked --quiet)

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# run_as DIR QEMU BINARY ARGS...: stdout, stderr and exit status into DIR.
run_as() {
    local dir="$1" qemu="$2" bin="$3" status=0
    shift 3
    mkdir -p "$dir"
    if [ "$qemu" = - ]; then
        (exec -a ftwall "$bin" "$@") >"$dir/stdout" 2>"$dir/stderr" </dev/null || status=$?
    else
        "$qemu" -0 ftwall "$bin" "$@" >"$dir/stdout" 2>"$dir/stderr" </dev/null || status=$?
    fi
    echo "$status" >"$dir/status"
}

# One case per run; arguments separated by the unit separator so capture paths may hold spaces.
US=$'\x1f'
cases=("--version" "--help" "--no-such-option")

# `inspect` exists once the host binary's help mentions it.
if run_as "$work/probe" - "$host_bin" --help && grep -qw inspect "$work/probe/stdout" "$work/probe/stderr"; then
    capdirs=()
    if [ -n "${FTWALL_CAPTURES:-}" ]; then
        capdirs+=("$FTWALL_CAPTURES")
    else
        for d in "$FTWALL_ROOT/../shared/captures" "$FTWALL_ROOT/../../shared/captures"; do
            [ -d "$d" ] && { capdirs+=("$d"); break; }
        done
    fi
    [ -d "$FTWALL_ROOT/tests" ] && capdirs+=("$FTWALL_ROOT/tests")
    mapfile -t captures < <(find "${capdirs[@]}" -type f \( -name '*.pcap' -o -name '*.pcapng' \) 2>/dev/null | sort)
    if [ ${#captures[@]} -eq 0 ]; then
        die "ftwall has 'inspect' but no capture was found (set FTWALL_CAPTURES to the shared captures)"
    fi
    for c in "${captures[@]}"; do
        cases+=("inspect${US}$c" "inspect${US}$c${US}--summary")
    done
    # Errors too: a missing argument, a missing file, a damaged capture.
    printf '\xd4\xc3\xb2\xa1\x02\x00\x04\x00garbage' >"$work/junk.pcap"
    cases+=("inspect" "inspect${US}$work/no-such-capture.pcap" "inspect${US}$work/junk.pcap")
else
    say "NOTE: the host ftwall has no 'inspect' yet: comparing --version, --help and a bad option only"
fi

failed=0
compared=0
for t in "${targets[@]}"; do
    bin="$(binary_path "$t")"
    [ -x "$bin" ] || die "$bin is missing: run 'make cross TARGET=$t' first"
    qemu="$(qemu_for "$t")"
    for i in "${!cases[@]}"; do
        IFS="$US" read -r -a args <<<"${cases[$i]}"
        run_as "$work/host/$i" - "$host_bin" "${args[@]}"
        run_as "$work/$t/$i" "$qemu" "$bin" "${args[@]}"
        compared=$((compared + 1))
        for f in status stdout stderr; do
            if ! cmp -s "$work/host/$i/$f" "$work/$t/$i/$f"; then
                failed=$((failed + 1))
                say "FAIL $t: 'ftwall ${args[*]}': $f differs from the host build"
                diff "$work/host/$i/$f" "$work/$t/$i/$f" | head -20 >&2 || true
                break
            fi
        done
    done
    say "$t: ${#cases[@]} runs compared with the host build"
done

echo "cross-check: $((compared - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
