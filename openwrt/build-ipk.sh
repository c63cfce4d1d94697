#!/bin/sh
# Builds opkg packages (.ipk) of ftwall and luci-app-ftwall without the OpenWrt SDK, from
# the static binaries of `make cross` and the files in files/ and openwrt/.
#
#   openwrt/build-ipk.sh [--out DIR] [--allow-host-binary] [ARCH...]
#
# ARCH is an OpenWrt package architecture (`opkg print-architecture` on the router); the
# default is every one listed in cross/targets.tsv, the single list of targets (Rust triple,
# qemu, the package architectures its binary serves). opkg installs only packages whose
# Architecture: is one of the router's own, so each package architecture gets its own
# packages, with the same binary as the others of its Rust triple. For each it writes, into
# DIR/ARCH/ (default DIR: dist/ipk):
#   ftwall_VERSION_ARCH.ipk      for firewall4 (nftables; OpenWrt 22.03 and later)
#   ftwall-fw3_VERSION_ARCH.ipk  for firewall3 (iptables; OpenWrt 21.02 and earlier)
# and once, into DIR/all/: luci-app-ftwall_VERSION_all.ipk.
#
# The format is what OpenWrt's ipkg-build writes and opkg reads: a gzip'd tar (not an ar
# archive) of ./debian-binary, ./data.tar.gz and ./control.tar.gz, all entries owned by
# root (0/0), sorted, dated SOURCE_DATE_EPOCH (default: the last commit's date), compressed
# with gzip -n: the same inputs give the same bytes.
#
# Binaries come from target/RUST_TARGET/release/ftwall ($CARGO_TARGET_DIR instead of target/
# when set, as for cargo). A missing one, or one whose ELF header (class, byte order,
# machine; derived from the triple) does not match, is an error. With
# --allow-host-binary (for tests), x86_64 falls back to the host build target/release/ftwall
# (built if missing): that one is dynamically linked against the build machine's libc and
# does not run on a router, which the output says.
#
# Needs GNU tar (for --sort, --owner, --mtime) and gzip.
set -eu

top="$(cd "$(dirname "$0")/.." && pwd)"
targetdir="${CARGO_TARGET_DIR:-$top/target}"
out="$top/dist/ipk"
allow_host=0
targets_tsv="$top/cross/targets.tsv"

die() {
	echo "build-ipk: $*" >&2
	exit 1
}

while [ $# -gt 0 ]; do
	case "$1" in
	--out)
		[ $# -ge 2 ] || die "--out needs a directory"
		out="$2"
		shift 2
		;;
	--allow-host-binary)
		allow_host=1
		shift
		;;
	-h | --help)
		sed -n '2,/^set -eu/{/^set -eu/d;s/^# \{0,1\}//;p}' "$0"
		exit 0
		;;
	-*) die "unknown option $1 (see --help)" ;;
	*) break ;;
	esac
done
[ -f "$targets_tsv" ] || die "missing $targets_tsv"
# Every package architecture of targets.tsv, one a line ("TRIPLE ARCH"), in the file's order.
arch_table="$(awk -F '\t' '!/^#/ && NF >= 3 { n = split($3, a, ","); for (i = 1; i <= n; i++) print $1, a[i] }' "$targets_tsv")"
[ -n "$arch_table" ] || die "no targets in $targets_tsv"
all_archs="$(echo "$arch_table" | cut -d ' ' -f 2 | tr '\n' ' ' | sed 's/ $//')"
archs="${*:-$all_archs}"

tar --version 2>/dev/null | grep -q 'GNU tar' || die "GNU tar is needed"
command -v gzip >/dev/null || die "gzip is needed"

# OpenWrt package architecture -> Rust target triple (from targets.tsv).
rust_target() {
	echo "$arch_table" | awk -v a="$1" '$2 == a { print $1; found = 1; exit } END { exit !found }'
}

# What a triple's ELF header must say: "BITS ENDIAN MACHINE" (BITS 32 or 64, the byte order,
# e_machine), from the triple's CPU field, so that a new line in targets.tsv needs no edit here.
elf_expected() {
	case "${1%%-*}" in
	mips | mipsisa32r6) echo '32 big 8' ;;
	mipsel | mipsisa32r6el) echo '32 little 8' ;;
	mips64 | mipsisa64r6) echo '64 big 8' ;;
	mips64el | mipsisa64r6el) echo '64 little 8' ;;
	arm | armv5te | armv6 | armv7 | thumbv7neon) echo '32 little 40' ;;
	armeb | armebv7r) echo '32 big 40' ;;
	aarch64) echo '64 little 183' ;;
	aarch64_be) echo '64 big 183' ;;
	i586 | i686) echo '32 little 3' ;;
	x86_64) echo '64 little 62' ;;
	powerpc) echo '32 big 20' ;;
	powerpc64) echo '64 big 21' ;;
	powerpc64le) echo '64 little 21' ;;
	riscv64gc) echo '64 little 243' ;;
	loongarch64) echo '64 little 258' ;;
	*) return 1 ;;
	esac
}

# Prints "BITS ENDIAN MACHINE" from an ELF file's header.
elf_describe() {
	# shellcheck disable=SC2046 # twenty decimal numbers, split on purpose
	set -- $(od -An -tu1 -N20 "$1")
	[ $# -eq 20 ] && [ "$1" = 127 ] && [ "$2" = 69 ] && [ "$3" = 76 ] && [ "$4" = 70 ] || return 1
	bits=32
	[ "$5" = 2 ] && bits=64
	if [ "$6" = 2 ]; then
		echo "$bits big $((${19} * 256 + ${20}))"
	else
		echo "$bits little $((${20} * 256 + ${19}))"
	fi
}

# ---- version and dates -------------------------------------------------------------------

version="$(sed -n 's/^version = "\(.*\)"$/\1/p' "$top/Cargo.toml" | head -n 1)"
release="$(sed -n 's/^PKG_RELEASE:=//p' "$top/openwrt/ftwall/Makefile")"
[ -n "$version" ] || die "no version in Cargo.toml"
[ -n "$release" ] || die "no PKG_RELEASE in openwrt/ftwall/Makefile"
# apk-valid and opkg-comparable: 3.0.0-r1, as OpenWrt writes versions.
pkg_version="$version-r$release"

if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
	SOURCE_DATE_EPOCH="$(git -C "$top" log -1 --format=%ct 2>/dev/null || echo 0)"
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/ftwall-ipk.XXXXXX")"
trap 'rm -rf "$work"' EXIT INT TERM

# ---- archive helpers ------------------------------------------------------------------------

tar_reproducible() {
	# $1 directory, $2 output .tar; every entry root-owned and dated SOURCE_DATE_EPOCH.
	tar --format=gnu --numeric-owner --owner=0 --group=0 --sort=name \
		--mtime="@$SOURCE_DATE_EPOCH" -C "$1" -cf "$2" .
}

gzip_reproducible() {
	gzip -n -9 -c "$1" > "$2"
}

# put SRC DEST MODE: copies a file into the staging tree with an exact mode.
put() {
	mkdir -p "$(dirname "$2")"
	cp "$1" "$2"
	chmod "$3" "$2"
}

# make_ipk STAGE OUTDIR: STAGE holds data/ and control/ (control/control without
# Installed-Size, which is filled in here); writes OUTDIR/Package_Version_Arch.ipk.
make_ipk() {
	stage="$1"
	find "$stage/data" "$stage/control" -type d -exec chmod 0755 {} +
	tar_reproducible "$stage/data" "$stage/data.tar"
	size="$(wc -c < "$stage/data.tar" | tr -d ' ')"
	sed -i "s/^Installed-Size: .*/Installed-Size: $size/" "$stage/control/control"
	gzip_reproducible "$stage/data.tar" "$stage/outer/data.tar.gz"
	tar_reproducible "$stage/control" "$stage/control.tar"
	gzip_reproducible "$stage/control.tar" "$stage/outer/control.tar.gz"
	printf '2.0\n' > "$stage/outer/debian-binary"
	chmod 0644 "$stage/outer/debian-binary" "$stage/outer/data.tar.gz" "$stage/outer/control.tar.gz"
	name="$(sed -n 's/^Package: //p' "$stage/control/control")"
	arch="$(sed -n 's/^Architecture: //p' "$stage/control/control")"
	mkdir -p "$2"
	# The order ipkg-build uses; opkg looks the members up by name.
	tar --format=gnu --numeric-owner --owner=0 --group=0 --mtime="@$SOURCE_DATE_EPOCH" \
		-C "$stage/outer" -cf - ./debian-binary ./data.tar.gz ./control.tar.gz |
		gzip -n -9 > "$2/${name}_${pkg_version}_${arch}.ipk"
	echo "built $2/${name}_${pkg_version}_${arch}.ipk"
}

# control NAME ARCH DEPENDS CONFLICTS DESCRIPTION-FIRST-LINE [MORE-LINES]: a control file
# with the fields OpenWrt's package-pack.mk writes.
control() {
	printf 'Package: %s\n' "$1"
	printf 'Version: %s\n' "$pkg_version"
	[ -n "$3" ] && printf 'Depends: %s\n' "$3"
	[ -n "$4" ] && printf 'Conflicts: %s\n' "$4"
	printf 'Source: openwrt/%s\n' "$6"
	printf 'SourceName: %s\n' "$6"
	printf 'License: GPL-2.0-or-later\n'
	printf 'Section: %s\n' "$7"
	printf 'SourceDateEpoch: %s\n' "$SOURCE_DATE_EPOCH"
	printf 'Maintainer: ftwall developers\n'
	printf 'Architecture: %s\n' "$2"
	printf 'Installed-Size: 0\n'
	printf 'Description:  %s\n' "$5"
	shift 7
	for line in "$@"; do
		printf ' %s\n' "$line"
	done
}

DESCRIPTION_BODY='Stops peer-to-peer clients on the LAN (FastTrack/Kazaa, WinMX, OpenNap,
BitTorrent, eDonkey, Gnutella, Direct Connect, Ares, Soulseek) from reaching
peers on the internet: a netfilter queue daemon inspects the first packets of
new connections, blocks the peers it learns and time-locks the clients.
Installed disabled: configure /etc/config/ftwall (or LuCI), then enable.'

# ---- ftwall -----------------------------------------------------------------------------------

# find_man: the man page, wherever the daemon's author keeps it (installed if present).
find_man() {
	for f in "$top/doc/ftwall.8" "$top/man/ftwall.8" "$top/ftwall.8"; do
		[ -f "$f" ] && echo "$f" && return 0
	done
	return 0
}

build_ftwall() {
	arch="$1"
	binary="$2"
	flavour="$3"
	stage="$work/$flavour-$arch"
	d="$stage/data"
	mkdir -p "$d" "$stage/control" "$stage/outer"

	put "$binary" "$d/usr/sbin/ftwall" 0755
	put "$top/files/ftwall.init" "$d/etc/init.d/ftwall" 0755
	put "$top/files/ftwall.config" "$d/etc/config/ftwall" 0600
	put "$top/files/ftwall.firewall" "$d/usr/share/ftwall/firewall.include" 0644
	put "$top/files/ftwall.uci-defaults" "$d/etc/uci-defaults/90-ftwall" 0755
	conffiles='/etc/config/ftwall'
	if [ -f "$top/files/ftwall.patterns" ]; then
		put "$top/files/ftwall.patterns" "$d/etc/ftwall/patterns" 0644
		conffiles="$conffiles
/etc/ftwall/patterns"
	else
		echo "build-ipk: note: files/ftwall.patterns is missing; the package ships no default DNS patterns" >&2
	fi
	man="$(find_man)"
	[ -n "$man" ] && put "$man" "$d/usr/share/man/man8/ftwall.8" 0644
	# What sysupgrade keeps, as OpenWrt's package-pack.mk records it.
	mkdir -p "$d/lib/upgrade/keep.d"
	printf '%s\n' "$conffiles" > "$d/lib/upgrade/keep.d/ftwall"
	chmod 0644 "$d/lib/upgrade/keep.d/ftwall"

	if [ "$flavour" = ftwall ]; then
		depends='kmod-nft-queue'
		conflicts='ftwall-fw3'
		firewall='firewall4 (nftables, OpenWrt 22.03 and later).'
	else
		depends='iptables-mod-nfqueue, kmod-ipt-nfqueue, ipset, iptables-mod-conntrack-extra, kmod-ipt-conntrack-extra'
		conflicts='ftwall'
		firewall='firewall3 (iptables, OpenWrt 21.02 and earlier).'
	fi
	old_ifs="$IFS"
	IFS='
'
	# shellcheck disable=SC2086
	control "$flavour" "$arch" "$depends" "$conflicts" \
		'Blocks peer-to-peer clients on the LAN from reaching peers on the internet' \
		ftwall net $DESCRIPTION_BODY "This package is for $firewall" > "$stage/control/control"
	IFS="$old_ifs"
	printf '%s\n' "$conffiles" > "$stage/control/conffiles"
	put "$top/openwrt/ipk/postinst" "$stage/control/postinst" 0755
	put "$top/openwrt/ipk/prerm" "$stage/control/prerm" 0755
	put "$top/openwrt/ipk/ftwall.postrm" "$stage/control/postrm" 0755
	chmod 0644 "$stage/control/control" "$stage/control/conffiles"
	make_ipk "$stage" "$out/$arch"
}

binary_for() {
	arch="$1"
	target="$(rust_target "$arch")" || die "unknown architecture $arch (known, from cross/targets.tsv: $all_archs)"
	bin="$targetdir/$target/release/ftwall"
	if [ ! -f "$bin" ] && [ "$allow_host" = 1 ] && [ "$arch" = x86_64 ] && [ "$(uname -m)" = x86_64 ]; then
		bin="$targetdir/release/ftwall"
		if [ ! -f "$bin" ]; then
			echo "build-ipk: building the host binary (cargo build --release --locked)" >&2
			(cd "$top" && cargo build --release --locked >&2)
		fi
		echo "build-ipk: NOTE: x86_64 packages the HOST build $bin, not a static musl binary: for tests only, it will not run on a router" >&2
	fi
	[ -f "$bin" ] || die "missing $bin: build it with \`make cross TARGET=$target\`"
	got="$(elf_describe "$bin")" || die "$bin is not an ELF binary"
	want="$(elf_expected "$target")" || die "no ELF expectation for the CPU of $target (openwrt/build-ipk.sh elf_expected)"
	[ "$got" = "$want" ] || die "$bin is ELF '$got' but $arch needs '$want' (bits endianness machine)"
	echo "$bin"
}

for arch in $archs; do
	bin="$(binary_for "$arch")"
	build_ftwall "$arch" "$bin" ftwall
	build_ftwall "$arch" "$bin" ftwall-fw3
done

# ---- luci-app-ftwall ------------------------------------------------------------------------

luci="$top/openwrt/luci-app-ftwall"
stage="$work/luci"
d="$stage/data"
mkdir -p "$d" "$stage/control" "$stage/outer"
(cd "$luci/htdocs" && find . -type f) | sort | while IFS= read -r f; do
	put "$luci/htdocs/$f" "$d/www/$f" 0644
done
(cd "$luci/root" && find . -type f) | sort | while IFS= read -r f; do
	put "$luci/root/$f" "$d/$f" 0644
done
control luci-app-ftwall all 'luci-base, ftwall | ftwall-fw3' '' \
	'LuCI support for ftwall' luci-app-ftwall luci \
	'Settings and status pages for ftwall (Services > ftwall).' > "$stage/control/control"
put "$top/openwrt/ipk/postinst" "$stage/control/postinst" 0755
put "$top/openwrt/ipk/prerm" "$stage/control/prerm" 0755
put "$top/openwrt/ipk/luci-app-ftwall.postinst-pkg" "$stage/control/postinst-pkg" 0644
chmod 0644 "$stage/control/control"
make_ipk "$stage" "$out/all"
