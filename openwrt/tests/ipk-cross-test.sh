#!/bin/sh
# End to end from the cross build to a router's file system: builds the real mips_24kc
# packages (ath79 routers) with openwrt/build-ipk.sh from the release binary `make cross` /
# `make test-cross` built at target/mips-unknown-linux-musl/release/ftwall, unpacks them and
# checks the control fields, that the packaged binary is a 32-bit big-endian MIPS ELF
# byte-identical to the cross build, installs the package into a temporary root with busybox
# tar and runs the installed binary under qemu-user (a static binary needs no loader there).
#
# Run by `make test-cross` right after it builds that binary (test-openwrt runs before it in
# `make test`, when the binary may not exist yet). A missing binary or tool is a failure, never
# a skip. Prints one line per failed check and "ipk-cross-test: N passed, N failed".
# sh -c '...' scripts below take their values as arguments, on purpose.
# shellcheck disable=SC3043,SC2016

set -u
here="$(cd "$(dirname "$0")" && pwd)"
top="$(cd "$here/../.." && pwd)"
build="$top/openwrt/build-ipk.sh"
ARCH=mips_24kc
TRIPLE=mips-unknown-linux-musl
cross_bin="${CARGO_TARGET_DIR:-$top/target}/$TRIPLE/release/ftwall"

# shellcheck source=checks.sh
. "$here/checks.sh"
give_up() {
	echo "ipk-cross-test: FAIL: $*"
	echo "ipk-cross-test: $passed passed, $((failed + 1)) failed"
	exit 1
}

# The architecture this test is about must still be the one targets.tsv builds it from.
same "cross/targets.tsv builds $ARCH from $TRIPLE" "$TRIPLE" \
	"$(awk -F '\t' -v a="$ARCH" '!/^#/ && NF >= 3 && ("," $3 ",") ~ ("," a ",") { print $1 }' "$top/cross/targets.tsv")"
qemu="$(awk -F '\t' -v t="$TRIPLE" '!/^#/ && $1 == t { print $2 }' "$top/cross/targets.tsv")"

[ -f "$cross_bin" ] || give_up "missing $cross_bin: build it with \`make cross TARGET=$TRIPLE\` (make test-cross does)"
for tool in busybox gzip tar od cmp "$qemu"; do
	command -v "$tool" >/dev/null 2>&1 || give_up "$tool is needed (sh .ci/deps or cross/lib.sh ensure_qemu installs it)"
done

work="$(mktemp -d "${TMPDIR:-/tmp}/ftwall-ipk-cross-test.XXXXXX")"
trap 'rm -rf "$work"' EXIT INT TERM

version="$(sed -n 's/^version = "\(.*\)"$/\1/p' "$top/Cargo.toml" | head -n 1)"
release="$(sed -n 's/^PKG_RELEASE:=//p' "$top/openwrt/ftwall/Makefile")"
V="$version-r$release"

SOURCE_DATE_EPOCH=1700000000 sh "$build" --out "$work/out" "$ARCH" > "$work/build.log" 2>&1 ||
	{ cat "$work/build.log"; give_up "build-ipk.sh $ARCH failed"; }
same "only the $ARCH packages and the LuCI app are built" \
	"all/luci-app-ftwall_${V}_all.ipk $ARCH/ftwall-fw3_${V}_$ARCH.ipk $ARCH/ftwall_${V}_$ARCH.ipk" \
	"$(cd "$work/out" && find . -type f | sed 's|^\./||' | sort | tr '\n' ' ' | sed 's/ $//')"

# elf_header FILE: "MAGIC CLASS DATA MACHINE" read straight from the header bytes (e_machine
# in the byte order EI_DATA names).
elf_header() {
	# shellcheck disable=SC2046 # twenty numbers, split on purpose
	set -- $(od -An -tu1 -N20 "$1")
	[ $# = 20 ] || return 1
	if [ "$6" = 2 ]; then m=$((${19} * 256 + ${20})); else m=$((${20} * 256 + ${19})); fi
	echo "$1.$2.$3.$4 $5 $6 $m"
}

for pkg in ftwall ftwall-fw3; do
	ipk="$work/out/$ARCH/${pkg}_${V}_$ARCH.ipk"
	x="$work/x-$pkg"
	mkdir -p "$x/outer" "$x/control" "$x/data"
	if ! busybox tar -xzf "$ipk" -C "$x/outer" || ! busybox tar -xzf "$x/outer/control.tar.gz" -C "$x/control" ||
		! busybox tar -xzf "$x/outer/data.tar.gz" -C "$x/data"; then
		bad "$pkg: unpacks with busybox tar"
		continue
	fi
	c="$x/control/control"
	same "$pkg: Package" "$pkg" "$(sed -n 's/^Package: //p' "$c")"
	same "$pkg: Architecture" "$ARCH" "$(sed -n 's/^Architecture: //p' "$c")"
	if [ "$pkg" = ftwall ]; then
		depends='kmod-nft-queue'
	else
		depends='iptables-mod-nfqueue, kmod-ipt-nfqueue, ipset, iptables-mod-conntrack-extra, kmod-ipt-conntrack-extra'
	fi
	same "$pkg: Depends" "$depends" "$(sed -n 's/^Depends: //p' "$c")"
	size="$(gzip -dc "$x/outer/data.tar.gz" | wc -c | tr -d ' ')"
	same "$pkg: Installed-Size is data.tar's size" "$size" "$(sed -n 's/^Installed-Size: //p' "$c")"
	check "$pkg: Installed-Size is more than the binary" [ "$size" -gt "$(wc -c < "$cross_bin")" ]
	# 127.69.76.70 = "\177ELF"; class 1 = 32-bit, data 2 = big-endian, machine 8 = EM_MIPS.
	same "$pkg: the packaged binary is a 32-bit big-endian MIPS ELF" "127.69.76.70 1 2 8" \
		"$(elf_header "$x/data/usr/sbin/ftwall")"
	check "$pkg: the packaged binary is the cross build, byte for byte" cmp "$cross_bin" "$x/data/usr/sbin/ftwall"
done

# Install into a temporary root as opkg --offline-root would place the files.
root="$work/root"
mkdir -p "$root"
busybox tar -xzf "$work/x-ftwall/outer/data.tar.gz" -C "$root"
same "installed /usr/sbin/ftwall with mode 755" 755 "$(stat -c %a "$root/usr/sbin/ftwall" 2>/dev/null)"
check "installed /usr/sbin/ftwall is the cross build" cmp -s "$cross_bin" "$root/usr/sbin/ftwall"
for f in /etc/init.d/ftwall /etc/config/ftwall /usr/share/ftwall/firewall.include /etc/uci-defaults/90-ftwall; do
	check "installed $f" [ -f "$root$f" ]
done
# The installed binary runs on the emulated CPU and reports the packaged version.
out="$("$qemu" "$root/usr/sbin/ftwall" --version 2>&1)"
check "installed binary runs under $qemu and prints version $version" \
	sh -c 'printf "%s\n" "$1" | grep -q "$2"' sh "$out" "$version"
[ "$failed" = 0 ] || printf '    %s --version said: %s\n' "$qemu" "$out"

echo "ipk-cross-test: $passed passed, $failed failed"
[ "$failed" = 0 ]
