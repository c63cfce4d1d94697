# Shared helpers for the cross/*.sh scripts (sourced, not run). Bash.
#
# Knobs (environment):
#   FTWALL_CROSS_METHOD     auto (default): cross-rs if a container engine really works, else zigbuild;
#                           or force "cross" / "zigbuild".
#   FTWALL_CROSS_TOOLCHAIN  nightly toolchain for targets whose std is built from source
#                           (default: nightly; -Zbuild-std needs a nightly).
#   FTWALL_CROSS_STABLE     toolchain for targets with a prebuilt rust-std (default: stable).
#   FTWALL_CROSS_STD        "source" (default): std built from source for every target, without
#                           std's backtrace symbolizer (36-40% smaller on aarch64/x86_64 than the
#                           prebuilt std, measured) and with one toolchain for all;
#                           "prebuilt": the stable toolchain's rust-std where `rustup target add`
#                           works (never for the tier-3 MIPS targets), std from source otherwise.
#   FTWALL_CROSS_NO_INSTALL set to 1 to never install anything (fail instead).

FTWALL_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CROSS_DIR="$FTWALL_ROOT/cross"
CROSS_TOOLCHAIN="${FTWALL_CROSS_TOOLCHAIN:-nightly}"
CROSS_STABLE="${FTWALL_CROSS_STABLE:-stable}"
# The std crates to build from source: panic_unwind because the shipped profile keeps
# panic=unwind (see cross/README.md); panic_abort so that a panic=abort build works too.
# Features: "panic-unwind" without std's default "backtrace" feature, whose symbolizer
# (addr2line, gimli, miniz) cannot name anything in a stripped binary anyway and was 47% of a
# MIPS binary (567 KB -> 300 KB, measured). optimize_for_size: std's smaller sort and integer
# formatting (7.8 KB, 1.2% of the real MIPS binary; nothing on the packet path sorts or formats).
# Release builds only (not the tests under qemu), for std and ftwall alike:
# -Zlocation-detail=none, panics keep their message but lose file:line:column (25 KB, 4% of the
# MIPS binary; why that is acceptable: cross/README.md); -Cllvm-args=-inline-threshold=30,
# more inlining than opt-level z's 5, measured smaller (16 KB, 2.6% on MIPS; 20 to 50 all
# save 12-16 KB, 60 and up cost more: cross/README.md).
# Here and not in cross/config.toml because profile rustflags need nightly cargo, and the
# "prebuilt" path runs stable.
CROSS_BUILD_STD=(-Zbuild-std=std,panic_unwind,panic_abort -Zbuild-std-features=panic-unwind,optimize_for_size
    -Zprofile-rustflags
    --config 'profile.release.rustflags=["-Zlocation-detail=none", "-Cllvm-args=-inline-threshold=30"]')

say() { printf '%s\n' "cross: $*" >&2; }
die() { printf '%s\n' "cross: error: $*" >&2; exit 1; }

# Every target triple listed in cross/targets.tsv, in order.
all_targets() {
    awk -F '\t' '!/^#/ && NF >= 3 { print $1 }' "$CROSS_DIR/targets.tsv"
}

# Column of targets.tsv for one triple: target_field TRIPLE N
target_field() {
    awk -F '\t' -v t="$1" -v n="$2" '!/^#/ && $1 == t { print $n; found = 1 } END { exit !found }' \
        "$CROSS_DIR/targets.tsv"
}

known_target() {
    target_field "$1" 1 >/dev/null || die "unknown target '$1' (known: $(all_targets | tr '\n' ' '))"
}

# The qemu-user binary for a target, or "-" when it runs natively on this host.
qemu_for() { target_field "$1" 2; }

binary_path() { printf '%s\n' "$FTWALL_ROOT/target/$1/release/ftwall"; }

# A container engine is usable only if its daemon answers; a docker client alone is not enough.
container_engine_works() {
    local engine
    for engine in ${CROSS_CONTAINER_ENGINE:-docker podman}; do
        if command -v "$engine" >/dev/null 2>&1 && timeout 20 "$engine" info >/dev/null 2>&1; then
            return 0
        fi
    done
    return 1
}

# Which path builds: "cross" or "zigbuild".
build_method() {
    case "${FTWALL_CROSS_METHOD:-auto}" in
        cross | zigbuild) printf '%s\n' "$FTWALL_CROSS_METHOD" ;;
        auto)
            if command -v cross >/dev/null 2>&1 && container_engine_works; then
                echo cross
            else
                echo zigbuild
            fi
            ;;
        *) die "FTWALL_CROSS_METHOD must be auto, cross or zigbuild" ;;
    esac
}

may_install() {
    [ "${FTWALL_CROSS_NO_INSTALL:-0}" != 1 ] || die "missing: $* (and FTWALL_CROSS_NO_INSTALL=1)"
}

# Which toolchain builds TARGET: prints the toolchain name, then "prebuilt" or "build-std".
# With FTWALL_CROSS_STD=prebuilt, a prebuilt rust-std is used where the stable toolchain has or
# can install one (faster to build); the MIPS targets are tier 3 and never have one.
std_plan() {
    local target="$1"
    command -v rustup >/dev/null 2>&1 || die "rustup is required (https://rustup.rs)"
    case "${FTWALL_CROSS_STD:-source}" in
        source | prebuilt) ;;
        *) die "FTWALL_CROSS_STD must be source or prebuilt" ;;
    esac
    if [ "${FTWALL_CROSS_STD:-source}" = prebuilt ] && case "$target" in mips*) false ;; esac; then
        if rustup target list --installed --toolchain "$CROSS_STABLE" 2>/dev/null | grep -qx "$target"; then
            echo "$CROSS_STABLE prebuilt"
            return 0
        fi
        if [ "${FTWALL_CROSS_NO_INSTALL:-0}" != 1 ] &&
            rustup target add --toolchain "$CROSS_STABLE" "$target" >/dev/null 2>&1; then
            say "installed the prebuilt rust-std for $target ($CROSS_STABLE)"
            echo "$CROSS_STABLE prebuilt"
            return 0
        fi
        say "no prebuilt rust-std for $target on $CROSS_STABLE: building std from source"
    fi
    echo "$CROSS_TOOLCHAIN build-std"
}

# The nightly toolchain with rust-src (for -Zbuild-std). RUSTUP_AUTO_INSTALL=0 may be set, so
# install explicitly instead of relying on `cargo +nightly` to fetch it.
ensure_toolchain() {
    command -v rustup >/dev/null 2>&1 || die "rustup is required (https://rustup.rs)"
    if ! rustup run "$CROSS_TOOLCHAIN" rustc --version >/dev/null 2>&1; then
        may_install "rust toolchain $CROSS_TOOLCHAIN"
        say "installing rust toolchain $CROSS_TOOLCHAIN"
        rustup toolchain install "$CROSS_TOOLCHAIN" --profile minimal
    fi
    if [ ! -d "$(rustup run "$CROSS_TOOLCHAIN" rustc --print sysroot)/lib/rustlib/src/rust/library" ]; then
        may_install "rust-src for $CROSS_TOOLCHAIN"
        say "installing rust-src for $CROSS_TOOLCHAIN"
        rustup component add rust-src --toolchain "$CROSS_TOOLCHAIN"
    fi
}

# cargo-zigbuild and zig, both from PyPI.
ensure_zigbuild() {
    if command -v cargo-zigbuild >/dev/null 2>&1 && { command -v zig >/dev/null 2>&1 ||
        python3 -m ziglang version >/dev/null 2>&1; }; then
        return 0
    fi
    may_install "cargo-zigbuild and ziglang"
    if ! python3 -m pip --version >/dev/null 2>&1; then
        [ "$(id -u)" = 0 ] || die "python3 pip is missing; install python3-pip"
        FTWALL_APT_PACKAGES="python3-pip" sh "$FTWALL_ROOT/.ci/deps"
    fi
    say "installing cargo-zigbuild and ziglang from PyPI"
    python3 -m pip install --quiet --disable-pip-version-check ziglang cargo-zigbuild ||
        python3 -m pip install --quiet --disable-pip-version-check --break-system-packages \
            ziglang cargo-zigbuild
    hash -r
    command -v cargo-zigbuild >/dev/null 2>&1 || die "cargo-zigbuild not on PATH after pip install"
}

# qemu-user-static from Debian, to run the target binaries.
ensure_qemu() {
    local t q missing=""
    for t in "$@"; do
        q="$(qemu_for "$t")"
        [ "$q" = - ] || command -v "$q" >/dev/null 2>&1 || missing=1
    done
    [ -z "$missing" ] && return 0
    may_install "qemu-user-static"
    [ "$(id -u)" = 0 ] || die "qemu-user-static is missing; install it (apt-get install qemu-user-static)"
    say "installing qemu-user-static"
    FTWALL_APT_PACKAGES="qemu-user-static" sh "$FTWALL_ROOT/.ci/deps"
}

# Run cargo-zigbuild (SUBCOMMAND is zigbuild or test) for one target, with the toolchain and std
# that std_plan picks. The target's rustflags and runner come from cross/config.toml; a RUSTFLAGS
# environment variable would override them, so it is refused rather than silently producing a
# crashing MIPS binary.
zigbuild() {
    local sub="$1" target="$2" plan toolchain std_args=()
    shift 2
    [ -z "${RUSTFLAGS:-}" ] || die "unset RUSTFLAGS: it would override cross/config.toml's per-target flags"
    plan="$(std_plan "$target")"
    toolchain="${plan% *}"
    if [ "${plan#* }" = build-std ]; then
        ensure_toolchain
        std_args=("${CROSS_BUILD_STD[@]}")
    fi
    say "$target: toolchain $toolchain, std ${plan#* }"
    (cd "$FTWALL_ROOT" && RUSTUP_TOOLCHAIN="$toolchain" cargo-zigbuild "$sub" --locked -j 2 \
        --target "$target" "${std_args[@]}" --config "$CROSS_DIR/config.toml" "$@") || return
    # What built it, for the size table (cross/sizes.sh).
    if [ "$sub" = zigbuild ]; then
        printf '%s, %s std\n' "$(RUSTUP_TOOLCHAIN="$toolchain" rustc --version)" \
            "$([ "${plan#* }" = build-std ] && echo "from-source" || echo "prebuilt")" \
            >"$(binary_path "$target").built-with"
    fi
}

# LLVM's MIPS backend gives every function a 32-byte .pdr (procedure descriptor) record, a
# section nothing reads at run time and which neither strip=true nor the linker removes: about
# 15% of a MIPS binary. Remove it after linking (no-op for other targets).
trim_binary() {
    local target="$1" bin sysroot objcopy
    case "$target" in mips*) ;; *) return 0 ;; esac
    bin="$(binary_path "$target")"
    # rustc ships llvm-objcopy as rust-objcopy; it needs the toolchain's libLLVM.
    sysroot="$(rustup run "$CROSS_TOOLCHAIN" rustc --print sysroot)"
    objcopy="$sysroot/lib/rustlib/$(rustc -vV | sed -n 's/^host: //p')/bin/rust-objcopy"
    if [ -x "$objcopy" ]; then
        LD_LIBRARY_PATH="$sysroot/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
            "$objcopy" --remove-section=.pdr "$bin" "$bin.trimmed"
    elif command -v llvm-objcopy >/dev/null 2>&1; then
        llvm-objcopy --remove-section=.pdr "$bin" "$bin.trimmed"
    else
        die "no rust-objcopy or llvm-objcopy to remove .pdr from $bin"
    fi
    mv -f "$bin.trimmed" "$bin"
}
