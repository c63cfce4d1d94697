#!/usr/bin/env bash
# Builds the static release binary for each TARGET (default: every target in cross/targets.tsv)
# into target/<triple>/release/ftwall, with cross-rs where a container engine works, otherwise
# with cargo-zigbuild and a std built from source (-Zbuild-std). Installs what it needs.
# Usage: cross/build.sh [TARGET...]
set -euo pipefail
. "$(dirname "$0")/lib.sh"

targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(all_targets)
for t in "${targets[@]}"; do known_target "$t"; done

method="$(build_method)"
say "method: $method (toolchain $CROSS_TOOLCHAIN)"
case "$method" in
    cross)
        # Cross.toml at the repository root carries build-std, zig and the per-target flags.
        for t in "${targets[@]}"; do
            say "building $t with cross"
            (cd "$FTWALL_ROOT" && cross +"$CROSS_TOOLCHAIN" build --release --locked --target "$t")
            printf 'cross-rs (zig), %s\n' "$(RUSTUP_TOOLCHAIN="$CROSS_TOOLCHAIN" rustc --version)" \
                >"$(binary_path "$t").built-with"
        done
        ;;
    zigbuild)
        ensure_zigbuild
        for t in "${targets[@]}"; do
            say "building $t with cargo-zigbuild"
            start=$(date +%s)
            zigbuild zigbuild "$t" --release
            say "built $t in $(($(date +%s) - start)) s"
        done
        ;;
esac

for t in "${targets[@]}"; do
    bin="$(binary_path "$t")"
    [ -x "$bin" ] || die "expected $bin after building $t"
    trim_binary "$t"
    printf '%s\t%s\n' "$t" "$(stat -c %s "$bin")"
done
