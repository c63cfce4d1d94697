#!/bin/sh
# Builds the x86_64 and LuCI packages with openwrt/build-ipk.sh and checks them as opkg and
# an OpenWrt router would see them: the outer gzip'd tar and its members in order, the
# control fields, file modes and owners, conffiles, reproducibility (a second build from
# touched sources gives the same bytes), then installs them into a temporary root with
# busybox tar and runs their maintainer scripts there against stand-ins.
#
# x86_64 uses target/x86_64-unknown-linux-musl/release/ftwall when `make cross` built it,
# else the host build (--allow-host-binary; the build script says so).
# Prints one line per failed check and "ipk-test: N passed, N failed"; exits 1 on failure.
# sh -c '...' scripts below take their values as arguments, on purpose.
# shellcheck disable=SC3043,SC2016

set -u
here="$(cd "$(dirname "$0")" && pwd)"
top="$(cd "$here/../.." && pwd)"
build="$top/openwrt/build-ipk.sh"

# shellcheck source=checks.sh
. "$here/checks.sh"

for tool in busybox gzip tar; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "ipk-test: FAIL: $tool is needed (sh .ci/deps installs it)"
		echo "ipk-test: 0 passed, 1 failed"
		exit 1
	fi
done

work="$(mktemp -d "${TMPDIR:-/tmp}/ftwall-ipk-test.XXXXXX")"
trap 'rm -rf "$work"' EXIT INT TERM

EPOCH=1700000000
export TZ=UTC
version="$(sed -n 's/^version = "\(.*\)"$/\1/p' "$top/Cargo.toml" | head -n 1)"
release="$(sed -n 's/^PKG_RELEASE:=//p' "$top/openwrt/ftwall/Makefile")"
V="$version-r$release"

# ---- build twice -----------------------------------------------------------------------------

if ! SOURCE_DATE_EPOCH=$EPOCH sh "$build" --out "$work/out1" --allow-host-binary x86_64 > "$work/build1.log" 2>&1; then
	cat "$work/build1.log"
	echo "ipk-test: FAIL: build-ipk.sh failed"
	echo "ipk-test: 0 passed, 1 failed"
	exit 1
fi
sed 's/^/  build: /' "$work/build1.log"

# The second build starts from sources with other dates and a stricter umask.
touch "$top/files/ftwall.init" "$top/files/ftwall.config"
(umask 077 && SOURCE_DATE_EPOCH=$EPOCH sh "$build" --out "$work/out2" --allow-host-binary x86_64 > "$work/build2.log" 2>&1)
check "second build succeeds" [ $? = 0 ]
for f in x86_64/ftwall_${V}_x86_64.ipk x86_64/ftwall-fw3_${V}_x86_64.ipk all/luci-app-ftwall_${V}_all.ipk; do
	check "$f exists" [ -f "$work/out1/$f" ]
	check "$f is the same in both builds (reproducible)" cmp -s "$work/out1/$f" "$work/out2/$f"
done
same "nothing else is built" \
	"all/luci-app-ftwall_${V}_all.ipk x86_64/ftwall-fw3_${V}_x86_64.ipk x86_64/ftwall_${V}_x86_64.ipk" \
	"$(cd "$work/out1" && find . -type f | sed 's|^\./||' | sort | tr '\n' ' ' | sed 's/ $//')"

# Unknown architectures and missing binaries are refused.
check "an unknown architecture is refused" \
	sh -c '! sh "$1" --out "$2" sparc_v8 >/dev/null 2>&1' sh "$build" "$work/bad"
if [ ! -f "$top/target/mips-unknown-linux-musl/release/ftwall" ]; then
	check "a missing cross binary is refused, naming make cross" \
		sh -c 'sh "$1" --out "$2" mips_24kc 2>&1 | grep -q "make cross TARGET=mips-unknown-linux-musl"' sh "$build" "$work/bad"
fi

tdir="${CARGO_TARGET_DIR:-$top/target}"
binary="$tdir/x86_64-unknown-linux-musl/release/ftwall"
[ -f "$binary" ] || binary="$tdir/release/ftwall"

# Every architecture, from stand-in binaries that are only an ELF header of the right kind
# (class, byte order, machine) in a target directory of their own.
# fake_elf FILE CLASS DATA E_TYPE E_MACHINE: bytes as printf %b escapes (\0ddd), the last two
# in the file's byte order.
fake_elf() {
	mkdir -p "$(dirname "$1")"
	printf '%b' '\0177ELF' "$2" "$3" '\01\0\0\0\0\0\0\0\0\0' "$4" "$5" > "$1"
}
ft="$work/fake-target"
fake_elf "$ft/mips-unknown-linux-musl/release/ftwall" '\01' '\02' '\0\02' '\0\010'
fake_elf "$ft/mipsel-unknown-linux-musl/release/ftwall" '\01' '\01' '\02\0' '\010\0'
fake_elf "$ft/armv7-unknown-linux-musleabihf/release/ftwall" '\01' '\01' '\02\0' '\050\0'
fake_elf "$ft/aarch64-unknown-linux-musl/release/ftwall" '\02' '\01' '\02\0' '\0267\0'
fake_elf "$ft/x86_64-unknown-linux-musl/release/ftwall" '\02' '\01' '\02\0' '\076\0'
CARGO_TARGET_DIR="$ft" SOURCE_DATE_EPOCH=$EPOCH sh "$build" --out "$work/all-archs" > "$work/all.log" 2>&1
check "make ipk builds every architecture from make cross's binaries" [ $? = 0 ]
# "TRIPLE ARCH" for every package architecture of cross/targets.tsv, the list make ipk follows.
awk -F '\t' '!/^#/ && NF >= 3 { n = split($3, a, ","); for (i = 1; i <= n; i++) print $1, a[i] }' \
	"$top/cross/targets.tsv" > "$work/archs"
check "cross/targets.tsv lists the architectures of the cross-build issue" \
	sh -c 'for a in mips_24kc mipsel_24kc mipsel_74kc arm_cortex-a7_neon-vfpv4 aarch64_cortex-a53 x86_64; do grep -q " $a\$" "$1" || exit 1; done' sh "$work/archs"
while read -r triple arch; do
	check "a stand-in binary for $triple (add one above when targets.tsv gains a target)" \
		[ -f "$ft/$triple/release/ftwall" ]
	for pkg in ftwall ftwall-fw3; do
		f="$work/all-archs/$arch/${pkg}_${V}_${arch}.ipk"
		same "$pkg for $arch: Architecture" "$arch" \
			"$(tar -xzOf "$f" ./control.tar.gz 2>/dev/null | tar -xzO ./control 2>/dev/null | sed -n 's/^Architecture: //p')"
		# Every package architecture of a triple carries that triple's binary, unchanged.
		tar -xzOf "$f" ./data.tar.gz 2>/dev/null | tar -xzO ./usr/sbin/ftwall > "$work/arch-bin" 2>/dev/null
		check "$pkg for $arch carries the $triple binary" cmp -s "$ft/$triple/release/ftwall" "$work/arch-bin"
	done
done < "$work/archs"
n_archs="$(wc -l < "$work/archs" | tr -d ' ')"
same "two packages per package architecture ($n_archs) and the LuCI app" $((2 * n_archs + 1)) \
	"$(find "$work/all-archs" -name '*.ipk' | wc -l | tr -d ' ')"
# A binary of the wrong kind is refused: big-endian MIPS where little-endian is needed.
cp "$ft/mips-unknown-linux-musl/release/ftwall" "$ft/mipsel-unknown-linux-musl/release/ftwall"
check "a binary of another architecture is refused" \
	sh -c 'CARGO_TARGET_DIR="$1" sh "$2" --out "$3" mipsel_24kc 2>&1 | grep -q "mipsel_24kc needs .32 little 8."' sh "$ft" "$build" "$work/bad"

# ---- one package -----------------------------------------------------------------------------

# field CONTROL NAME: a control field's value (first line).
field() {
	sed -n "s/^$2: //p" "$1"
}

# modes TARBALL: "mode owner path" per entry, sorted by path.
modes() {
	tar --numeric-owner -tvzf "$1" | awk '{ print $1, $2, $6 }' | sort -k3
}

# check_ipk FILE PACKAGE ARCH DEPENDS "CONTROL-MEMBERS" EXPECTED-DATA-LISTING
check_ipk() {
	local ipk="$1" pkg="$2" arch="$3" depends="$4" members="$5" listing="$6" x="$work/x-$2" c
	rm -rf "$x"
	mkdir -p "$x/outer" "$x/control" "$x/data"

	same "$pkg: file name" "${pkg}_${V}_${arch}.ipk" "${ipk##*/}"
	same "$pkg: outer archive is gzip" " 1f 8b" "$(od -An -tx1 -N2 "$ipk")"
	same "$pkg: outer members, in ipkg-build's order" \
		"./debian-binary ./data.tar.gz ./control.tar.gz" "$(tar -tzf "$ipk" | tr '\n' ' ' | sed 's/ $//')"
	same "$pkg: outer members root-owned, dated SOURCE_DATE_EPOCH" \
		"0/0 2023-11-14 22:13:20|0/0 2023-11-14 22:13:20|0/0 2023-11-14 22:13:20|" \
		"$(tar --numeric-owner --full-time -tvzf "$ipk" | awk '{ printf "%s %s %s|", $2, $4, $5 }')"
	busybox tar -xzf "$ipk" -C "$x/outer"
	same "$pkg: debian-binary" "2.0" "$(cat "$x/outer/debian-binary")"

	busybox tar -xzf "$x/outer/control.tar.gz" -C "$x/control"
	busybox tar -xzf "$x/outer/data.tar.gz" -C "$x/data"
	c="$x/control/control"

	same "$pkg: control members and modes" "$members" "$(modes "$x/outer/control.tar.gz" | tr '\n' '|')"
	same "$pkg: data files, modes and owners" "$listing" "$(modes "$x/outer/data.tar.gz" | tr '\n' '|')"
	same "$pkg: every data entry dated SOURCE_DATE_EPOCH" "2023-11-14 22:13:20" \
		"$(tar --full-time -tvzf "$x/outer/data.tar.gz" | awk '{ print $4, $5 }' | sort -u)"

	same "$pkg: Package" "$pkg" "$(field "$c" Package)"
	same "$pkg: Version" "$V" "$(field "$c" Version)"
	same "$pkg: Depends" "$depends" "$(field "$c" Depends)"
	same "$pkg: Architecture" "$arch" "$(field "$c" Architecture)"
	same "$pkg: License" "GPL-2.0-or-later" "$(field "$c" License)"
	same "$pkg: SourceDateEpoch" "$EPOCH" "$(field "$c" SourceDateEpoch)"
	check "$pkg: Section, Maintainer, Source, Description present" \
		sh -c 'grep -q "^Section: ." "$1" && grep -q "^Maintainer: ." "$1" && grep -q "^Source: ." "$1" && grep -q "^Description:  ." "$1"' sh "$c"
	same "$pkg: Installed-Size is data.tar's size" \
		"$(gzip -dc "$x/outer/data.tar.gz" | wc -c | tr -d ' ')" "$(field "$c" Installed-Size)"
	check "$pkg: control lines are fields or continuation lines" \
		sh -c '! grep -Ev "^([A-Z][A-Za-z-]*: .*| .+)$" "$1"' sh "$c"
}

DIR='drwxr-xr-x 0/0'
FTWALL_DATA="$DIR ./|$DIR ./etc/|$DIR ./etc/config/|-rw------- 0/0 ./etc/config/ftwall|"
conffiles='/etc/config/ftwall'
if [ -f "$top/files/ftwall.patterns" ]; then
	FTWALL_DATA="$FTWALL_DATA$DIR ./etc/ftwall/|-rw-r--r-- 0/0 ./etc/ftwall/patterns|"
	conffiles="$conffiles /etc/ftwall/patterns"
fi
FTWALL_DATA="$FTWALL_DATA$DIR ./etc/init.d/|-rwxr-xr-x 0/0 ./etc/init.d/ftwall|$DIR ./etc/uci-defaults/|-rwxr-xr-x 0/0 ./etc/uci-defaults/90-ftwall|$DIR ./lib/|$DIR ./lib/upgrade/|$DIR ./lib/upgrade/keep.d/|-rw-r--r-- 0/0 ./lib/upgrade/keep.d/ftwall|$DIR ./usr/|$DIR ./usr/sbin/|-rwxr-xr-x 0/0 ./usr/sbin/ftwall|$DIR ./usr/share/|$DIR ./usr/share/ftwall/|-rw-r--r-- 0/0 ./usr/share/ftwall/firewall.include|"
for man in doc/ftwall.8 man/ftwall.8 ftwall.8; do
	if [ -f "$top/$man" ]; then
		FTWALL_DATA="$FTWALL_DATA$DIR ./usr/share/man/|$DIR ./usr/share/man/man8/|-rw-r--r-- 0/0 ./usr/share/man/man8/ftwall.8|"
		break
	fi
done
# sort -k3 orders by path the same way for any package; recompute the expected order.
FTWALL_DATA="$(printf '%s' "$FTWALL_DATA" | tr '|' '\n' | sort -k3 | tr '\n' '|')"
FTWALL_CONTROL="$(printf '%s\n' "$DIR ./" "-rw-r--r-- 0/0 ./conffiles" "-rw-r--r-- 0/0 ./control" \
	"-rwxr-xr-x 0/0 ./postinst" "-rwxr-xr-x 0/0 ./postrm" "-rwxr-xr-x 0/0 ./prerm" | sort -k3 | tr '\n' '|')"

NFT_DEPENDS='kmod-nft-queue'
FW3_DEPENDS='iptables-mod-nfqueue, kmod-ipt-nfqueue, ipset, iptables-mod-conntrack-extra, kmod-ipt-conntrack-extra'

check_ipk "$work/out1/x86_64/ftwall_${V}_x86_64.ipk" ftwall x86_64 "$NFT_DEPENDS" "$FTWALL_CONTROL" "$FTWALL_DATA"
same "ftwall: Conflicts" "ftwall-fw3" "$(field "$work/x-ftwall/control/control" Conflicts)"
check_ipk "$work/out1/x86_64/ftwall-fw3_${V}_x86_64.ipk" ftwall-fw3 x86_64 "$FW3_DEPENDS" "$FTWALL_CONTROL" "$FTWALL_DATA"
same "ftwall-fw3: Conflicts" "ftwall" "$(field "$work/x-ftwall-fw3/control/control" Conflicts)"

x="$work/x-ftwall"
same "ftwall: conffiles" "$conffiles" "$(tr '\n' ' ' < "$x/control/conffiles" | sed 's/ $//')"
same "ftwall: sysupgrade keeps the conffiles" "$conffiles" "$(tr '\n' ' ' < "$x/data/lib/upgrade/keep.d/ftwall" | sed 's/ $//')"
for f in $conffiles; do
	check "ftwall: conffile $f is in the package" [ -f "$x/data$f" ]
done
check "ftwall: the binary is the built one" cmp -s "$binary" "$x/data/usr/sbin/ftwall"
check "ftwall: init script is files/ftwall.init" cmp -s "$top/files/ftwall.init" "$x/data/etc/init.d/ftwall"
check "ftwall: UCI default is files/ftwall.config" cmp -s "$top/files/ftwall.config" "$x/data/etc/config/ftwall"
check "ftwall: firewall include is files/ftwall.firewall" cmp -s "$top/files/ftwall.firewall" "$x/data/usr/share/ftwall/firewall.include"
check "ftwall: postinst is the default_postinst wrapper" cmp -s "$top/openwrt/ipk/postinst" "$x/control/postinst"
check "ftwall: prerm is the default_prerm wrapper" cmp -s "$top/openwrt/ipk/prerm" "$x/control/prerm"

LUCI_VIEW=./www/luci-static/resources/view/ftwall
LUCI_DATA="$(printf '%s\n' "$DIR ./" "$DIR ./usr/" "$DIR ./usr/share/" "$DIR ./usr/share/luci/" \
	"$DIR ./usr/share/luci/menu.d/" "-rw-r--r-- 0/0 ./usr/share/luci/menu.d/luci-app-ftwall.json" \
	"$DIR ./usr/share/rpcd/" "$DIR ./usr/share/rpcd/acl.d/" "-rw-r--r-- 0/0 ./usr/share/rpcd/acl.d/luci-app-ftwall.json" \
	"$DIR ./www/" "$DIR ./www/luci-static/" "$DIR ./www/luci-static/resources/" "$DIR ./www/luci-static/resources/view/" \
	"$DIR $LUCI_VIEW/" "-rw-r--r-- 0/0 $LUCI_VIEW/settings.js" "-rw-r--r-- 0/0 $LUCI_VIEW/status.js" | sort -k3 | tr '\n' '|')"
LUCI_CONTROL="$(printf '%s\n' "$DIR ./" "-rw-r--r-- 0/0 ./control" "-rwxr-xr-x 0/0 ./postinst" \
	"-rw-r--r-- 0/0 ./postinst-pkg" "-rwxr-xr-x 0/0 ./prerm" | sort -k3 | tr '\n' '|')"
check_ipk "$work/out1/all/luci-app-ftwall_${V}_all.ipk" luci-app-ftwall all 'luci-base, ftwall | ftwall-fw3' "$LUCI_CONTROL" "$LUCI_DATA"

# ---- install into an offline root, as opkg --offline-root would ------------------------------

root="$work/root"
mkdir -p "$root/usr/lib/opkg/info" "$root/lib" "$root/bin"
# install_ipk PACKAGE: data into the root, control files as info/PACKAGE.*, the file list.
install_ipk() {
	local x="$work/x-$1" f
	busybox tar -xzf "$x/outer/data.tar.gz" -C "$root"
	for f in "$x/control/"*; do
		cp -p "$f" "$root/usr/lib/opkg/info/$1.${f##*/}"
	done
	(cd "$x/data" && find . ! -type d | sed 's|^\.||' | sort) > "$root/usr/lib/opkg/info/$1.list"
}
install_ipk ftwall
install_ipk luci-app-ftwall

for entry in "755 /usr/sbin/ftwall" "755 /etc/init.d/ftwall" "600 /etc/config/ftwall" \
	"755 /etc/uci-defaults/90-ftwall" "644 /usr/share/ftwall/firewall.include" \
	"644 /usr/share/luci/menu.d/luci-app-ftwall.json" "644 /usr/share/rpcd/acl.d/luci-app-ftwall.json" \
	"644 /www/luci-static/resources/view/ftwall/settings.js" "644 /www/luci-static/resources/view/ftwall/status.js"; do
	same "installed ${entry#* } with mode ${entry%% *}" "${entry%% *}" "$(stat -c %a "$root${entry#* }" 2>/dev/null)"
done
check "installed init script parses under busybox ash" busybox ash -n "$root/etc/init.d/ftwall"

# Maintainer scripts, with a stand-in /lib/functions.sh that records what it is asked.
cat > "$root/lib/functions.sh" <<'EOF'
default_postinst() { echo "default_postinst $*" >> "$IPKG_INSTROOT/calls"; }
default_prerm() { echo "default_prerm $*" >> "$IPKG_INSTROOT/calls"; }
EOF
info="$root/usr/lib/opkg/info"
(cd "$root" && IPKG_INSTROOT="$root" sh "$info/ftwall.postinst" configure)
(cd "$root" && IPKG_INSTROOT="$root" sh "$info/ftwall.prerm" remove)
(cd "$root" && IPKG_INSTROOT="$root" sh "$info/luci-app-ftwall.postinst" configure)
same "postinst/prerm hand over to default_postinst/default_prerm with their path and arguments" \
	"default_postinst $info/ftwall.postinst configure|default_prerm $info/ftwall.prerm remove|default_postinst $info/luci-app-ftwall.postinst configure|" \
	"$(tr '\n' '|' < "$root/calls")"
rm -f "$root/calls"
(IPKG_NO_SCRIPT=1 IPKG_INSTROOT="$root" sh "$info/ftwall.postinst" configure)
check "IPKG_NO_SCRIPT=1 runs nothing" [ ! -e "$root/calls" ]
mv "$root/lib/functions.sh" "$root/lib/functions.sh.off"
check "without /lib/functions.sh postinst succeeds and does nothing" \
	sh -c 'IPKG_INSTROOT="$1" sh "$2" configure && [ ! -e "$1/calls" ]' sh "$root" "$info/ftwall.postinst"
mv "$root/lib/functions.sh.off" "$root/lib/functions.sh"
check "luci postinst-pkg does nothing offline" \
	sh -c 'IPKG_INSTROOT="$1" sh "$2"' sh "$root" "$info/luci-app-ftwall.postinst-pkg"

# uci-defaults and postrm against a stand-in uci that records what it is asked.
cat > "$root/bin/uci" <<'EOF'
#!/bin/sh
[ "$1" = -q ] && shift
case "$1" in
get)
	case "$2" in
	firewall.ftwall) [ -n "$FAKE_UCI_INCLUDE" ] && echo include ;;
	firewall.ftwall.path) [ -n "$FAKE_UCI_INCLUDE" ] && echo "$FAKE_UCI_INCLUDE" ;;
	esac
	[ -n "$FAKE_UCI_INCLUDE" ]
	;;
batch) sed 's/^/batch: /' >> "$UCI_CALLS" ;;
*) echo "$*" >> "$UCI_CALLS" ;;
esac
EOF
chmod 755 "$root/bin/uci"
calls="$work/uci-calls"
run_uci() {
	# run_uci INCLUDE-PATH-OR-EMPTY ENV... -- COMMAND...: with the uci stand-in first in PATH.
	local include="$1"
	shift
	: > "$calls"
	env PATH="$root/bin:$PATH" UCI_CALLS="$calls" FAKE_UCI_INCLUDE="$include" "$@"
}
run_uci '' sh -c 'cd "$1/etc/uci-defaults" && . ./90-ftwall' sh "$root"
same "uci-defaults registers the firewall include" \
	"batch: set firewall.ftwall=include|batch: set firewall.ftwall.type='script'|batch: set firewall.ftwall.path='/usr/share/ftwall/firewall.include'|batch: set firewall.ftwall.reload='1'|batch: set firewall.ftwall.fw4_compatible='1'|batch: commit firewall|" \
	"$(tr '\n' '|' < "$calls")"
check "the include it registers is installed" [ -f "$root/usr/share/ftwall/firewall.include" ]
run_uci /usr/share/ftwall/firewall.include sh -c 'cd "$1/etc/uci-defaults" && . ./90-ftwall' sh "$root"
same "uci-defaults leaves an existing section alone" "" "$(cat "$calls")"
run_uci /usr/share/ftwall/firewall.include sh "$info/ftwall.postrm" remove
same "postrm removes the include on a live router" "delete firewall.ftwall|commit firewall|" "$(tr '\n' '|' < "$calls")"
run_uci /usr/share/ftwall/firewall.include PKG_UPGRADE=1 sh "$info/ftwall.postrm" upgrade
same "postrm keeps the include on upgrade" "" "$(cat "$calls")"
run_uci /usr/share/ftwall/firewall.include IPKG_INSTROOT="$root" sh "$info/ftwall.postrm" remove
same "postrm changes nothing in an offline root" "" "$(cat "$calls")"
run_uci /etc/other.include sh "$info/ftwall.postrm" remove
same "postrm leaves a section that is not its include alone" "" "$(cat "$calls")"

echo "ipk-test: $passed passed, $failed failed"
[ "$failed" = 0 ]
