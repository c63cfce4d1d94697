#!/bin/sh
# Drives files/ftwall.init (and the firewall include) under busybox ash, as OpenWrt would,
# with the stand-ins in stubs/ for rc.common/procd, validate_data, logger, fw4/fw3 and the
# ftwall binary, for every case in init-cases.sh. Each case runs in its own temporary root
# (removed afterwards) and compares the trace of what the script asked procd, the firewall
# and ftwall to do, and what it logged, with the expected trace.
#
# Prints one line per case and "N passed, N failed"; exits 1 if any case failed.
# Needs busybox and python3 (for the validate_data stand-in); fails without them.
# shellcheck disable=SC3043

set -u
here="$(cd "$(dirname "$0")" && pwd)"
top="$(cd "$here/../.." && pwd)"
FTWALL_STUBS="$here/stubs"
INIT="${FTWALL_INIT:-$top/files/ftwall.init}"
INCLUDE="$top/files/ftwall.firewall"
SHIPPED_CONFIG="$top/files/ftwall.config"
export FTWALL_STUBS

for tool in busybox python3; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "init-test: FAIL: $tool is needed (sh .ci/deps installs it)" >&2
		echo "0 passed, 1 failed"
		exit 1
	fi
done

work="$(mktemp -d "${TMPDIR:-/tmp}/ftwall-init-test.XXXXXX")"
trap 'rm -rf "$work"' EXIT INT TERM

# The scripts run with nothing in PATH but the stand-ins and these busybox applets, all in
# OpenWrt's default busybox: a command a router lacks fails the test. (python3 only runs
# the validate_data stand-in.)
BUSYBOX="$(command -v busybox)"
mkdir -p "$work/busybox"
for applet in ash sh cat cp echo grep ls ln mkdir mv printf rm sed sleep test tr; do
	ln -s "$BUSYBOX" "$work/busybox/$applet"
done
python3="$(command -v python3)"
[ -x /usr/bin/python3 ] && python3=/usr/bin/python3
ln -s "$python3" "$work/busybox/python3"

passed=0
failed=0

# ---- helpers for the cases ----------------------------------------------------------------

# config: the UCI file /etc/config/ftwall, from stdin; @ROOT@ stands for the test root.
config() {
	sed "s|@ROOT@|$ROOT|g" > "$ROOT/etc/config/ftwall"
}

# shipped_config: files/ftwall.config with its absolute paths moved into the test root.
shipped_config() {
	sed -e "s|'/etc/|'$ROOT/etc/|g" -e "s|'/var/|'$ROOT/var/|g" "$SHIPPED_CONFIG" > "$ROOT/etc/config/ftwall"
}

# set_option NAME VALUE: changes (or adds) an option in the main section.
set_option() {
	local f="$ROOT/etc/config/ftwall"
	if grep -q "^[[:space:]]*option $1 " "$f"; then
		sed -i "s|^\([[:space:]]*\)option $1 .*|\1option $1 '$2'|" "$f"
	else
		sed -i "/^config ftwall 'main'/a\\	option $1 '$2'" "$f"
	fi
}

# firewall fw4|fw3|none: which firewall the router has.
firewall() {
	case "$1" in
	fw4 | fw3) ln -s "$FTWALL_STUBS/fwzone" "$ROOT/sbin/$1" ;;
	none) ;;
	esac
}

# zones 'zone dev dev' ...: the firewall's zones and their devices.
zones() {
	printf '%s\n' "$@" > "$ROOT/zones"
}

# file PATH: creates an (empty) file in the root.
file() {
	mkdir -p "$ROOT${1%/*}"
	: > "$ROOT$1"
}

# run ACTION: /etc/init.d/ftwall ACTION.
run() {
	echo "== $1" >> "$ROOT/trace"
	PATH="$ROOT/bin:$work/busybox" TRACE="$ROOT/trace" FAKE_ZONES="$ROOT/zones" \
		UCI_CONFIG_DIR="$ROOT/etc/config" FTWALL_TEST_OVERRIDES="$ROOT/overrides" \
		"$BUSYBOX" ash "$FTWALL_STUBS/rc.common" "$ROOT/etc/init.d/ftwall" "$1" 2>> "$ROOT/stderr"
}

# firewall_reload: what fw3/fw4 do with a script include: source it from sh -c with UCI
# shut off. The include's fixed paths are moved into the test root.
firewall_reload() {
	echo "== firewall include" >> "$ROOT/trace"
	sed -e "s|/var/run/ftwall/|$ROOT/var/run/ftwall/|" -e "s|/usr/sbin/ftwall|$ROOT/usr/sbin/ftwall|" \
		"$INCLUDE" > "$ROOT/include"
	# shellcheck disable=SC2016
	PATH="$ROOT/bin:$work/busybox" TRACE="$ROOT/trace" \
		"$BUSYBOX" ash -c 'config() { echo "You cannot use UCI in firewall includes!" >&2; exit 1; }; . "$1"' \
		include "$ROOT/include" 2>> "$ROOT/stderr"
	echo "include exit $?" >> "$ROOT/trace"
}

# state: records which files the service keeps in /var/run/ftwall.
state() {
	local f line='state:'
	for f in "$ROOT"/var/run/ftwall/*; do
		[ -e "$f" ] && line="$line ${f##*/}"
	done
	echo "$line" >> "$ROOT/trace"
}

# show FILE: copies a file of the root into the trace.
show() {
	echo "-- $1" >> "$ROOT/trace"
	cat "$ROOT$1" >> "$ROOT/trace"
}

# expect: the expected trace, from stdin (paths without the test root).
expect() {
	cat > "$ROOT/expected"
}

new_root() {
	ROOT="$work/$1"
	mkdir -p "$ROOT/etc/config" "$ROOT/etc/init.d" "$ROOT/usr/sbin" "$ROOT/sbin" "$ROOT/var/run" "$ROOT/bin"
	cp "$FTWALL_STUBS/ftwall" "$ROOT/usr/sbin/ftwall"
	cp "$INIT" "$ROOT/etc/init.d/ftwall"
	cp "$FTWALL_STUBS/logger" "$ROOT/bin/logger"
	cp "$FTWALL_STUBS/ubus" "$ROOT/bin/ubus"
	: > "$ROOT/zones"
	: > "$ROOT/trace"
	cat > "$ROOT/overrides" <<-EOF
		PROG='$ROOT/usr/sbin/ftwall'
		STATE_DIR='$ROOT/var/run/ftwall'
		FW4='$ROOT/sbin/fw4'
		FW3='$ROOT/sbin/fw3'
		VALIDATE_DATA='$FTWALL_STUBS/validate_data'
	EOF
}

# ---- run every case -------------------------------------------------------------------------

# shellcheck source=init-cases.sh
. "$here/init-cases.sh"

sed -n 's/^case_\([a-z0-9_]*\)() {$/\1/p' "$here/init-cases.sh" > "$work/cases"
while IFS= read -r name; do
	new_root "$name"
	FAKE_FTWALL_FAIL=''
	export FAKE_FTWALL_FAIL
	"case_$name"
	sed "s|$ROOT||g" "$ROOT/trace" > "$ROOT/actual"
	if [ ! -s "$ROOT/expected" ]; then
		echo "FAIL $name: the case sets no expectation; its trace:"
		sed 's/^/    /' "$ROOT/actual"
		failed=$((failed + 1))
	elif cmp -s "$ROOT/expected" "$ROOT/actual"; then
		echo "ok   $name"
		passed=$((passed + 1))
	else
		echo "FAIL $name: trace differs (- expected, + actual):"
		diff -u "$ROOT/expected" "$ROOT/actual" | sed -n '3,$p'
		if [ -s "$ROOT/stderr" ]; then
			echo "  stderr:"
			sed 's/^/    /' "$ROOT/stderr"
		fi
		failed=$((failed + 1))
	fi
done < "$work/cases"

echo "init-test: $passed passed, $failed failed"
[ "$failed" = 0 ]
