#!/bin/sh
# `make test-openwrt`: every test of the OpenWrt package.
#   1. every shell file (files/, openwrt/, .ci/) passes `shellcheck -s sh` and parses under
#      `busybox ash -n`;
#   2. the init script and firewall include, driven under busybox ash (init-test.sh);
#   3. the .ipk files, built, unpacked, checked and installed into a temporary root
#      (ipk-test.sh; needs the host or x86_64 cross binary, built if missing);
#   4. LuCI: every view parses (node --check, compiled as LuCI compiles it: as a function
#      body), the JSON files are valid, and the views behave (node --test luci.test.js);
#   5. the feed Makefile installs what build-ipk.sh packages, with the same postrm;
#   6. the feed Makefiles carry the crate's version.
# A missing tool is a failure, not a skip. Ends with "openwrt: N passed, N failed".
# shellcheck disable=SC3043

set -u
here="$(cd "$(dirname "$0")" && pwd)"
top="$(cd "$here/../.." && pwd)"
cd "$top" || exit 1

passed=0
failed=0
result() {
	# result NAME STATUS
	if [ "$2" = 0 ]; then
		echo "ok   $1"
		passed=$((passed + 1))
	else
		echo "FAIL $1"
		failed=$((failed + 1))
	fi
}

need() {
	if command -v "$1" >/dev/null 2>&1; then
		return 0
	fi
	echo "FAIL $1 is not installed (sh .ci/deps installs it)"
	failed=$((failed + 1))
	return 1
}

work="$(mktemp -d "${TMPDIR:-/tmp}/ftwall-openwrt-test.XXXXXX")"
trap 'rm -rf "$work"' EXIT INT TERM

# ---- 1. shell files ----------------------------------------------------------------------------

# A shell file: *.sh, a #! line naming a shell, or a "# shellcheck shell=sh" directive.
is_shell() {
	case "$1" in
	*.sh) return 0 ;;
	*.js | *.json | *.md | */Makefile) return 1 ;;
	esac
	head -n 1 "$1" | grep -Eq '^#!.*/(env )?(ba|da|a)?sh( |$)|^#!/usr/bin/env (ba|da|a)?sh' && return 0
	grep -q '^# shellcheck shell=sh' "$1"
}

find files openwrt .ci -type f 2>/dev/null | sort > "$work/all-files"
: > "$work/shell-files"
while IFS= read -r f; do
	is_shell "$f" && echo "$f" >> "$work/shell-files"
done < "$work/all-files"

if ! grep -qx files/ftwall.init "$work/shell-files" || ! grep -qx .ci/deps "$work/shell-files"; then
	echo "FAIL shell file discovery missed files/ftwall.init or .ci/deps"
	failed=$((failed + 1))
fi
if need shellcheck && need busybox; then
	while IFS= read -r f; do
		shellcheck -s sh -x -P SCRIPTDIR "$f"
		result "shellcheck -s sh $f" $?
		busybox ash -n "$f"
		result "busybox ash -n $f" $?
	done < "$work/shell-files"
fi

# ---- 2. init script ----------------------------------------------------------------------------

sh "$here/init-test.sh"
result "init script driven under busybox ash (init-test.sh)" $?

# ---- 3. packages -------------------------------------------------------------------------------

sh "$here/ipk-test.sh"
result ".ipk packages built, checked and installed (ipk-test.sh)" $?

# ---- 4. LuCI -----------------------------------------------------------------------------------

if need node; then
	find openwrt/luci-app-ftwall -name '*.js' | sort > "$work/js"
	[ -s "$work/js" ]
	result "LuCI views found" $?
	while IFS= read -r f; do
		# LuCI's loader runs a view as the body of a function (it ends in `return`).
		{
			echo '(function () {'
			cat "$f"
			echo '});'
		} > "$work/view.js"
		node --check "$work/view.js"
		result "node --check $f (as LuCI compiles it)" $?
	done < "$work/js"

	find openwrt -name '*.json' | sort > "$work/json"
	[ -s "$work/json" ]
	result "JSON files found" $?
	while IFS= read -r f; do
		node -e 'JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"))' "$f"
		result "valid JSON: $f" $?
	done < "$work/json"

	node --test "$here/luci.test.js"
	result "LuCI views behave (node --test luci.test.js)" $?
fi

# ---- 5. the feed Makefiles agree with the .ipk builder --------------------------------------

# "mode source destination" of every file of files/ each one installs. (The $ in these
# patterns are make's and the script's, matched literally.)
# shellcheck disable=SC2016
sed -n 's/^[[:space:]]*\$(INSTALL_\(BIN\|CONF\|DATA\)) \$(PKG_BUILD_DIR)\/\(files\/[^ ]*\) \$(1)\([^ ;]*\);\{0,1\}[[:space:]\\]*$/\1 \2 \3/p' \
	openwrt/ftwall/Makefile | sed 's/^BIN/755/;s/^CONF/600/;s/^DATA/644/' | sort > "$work/feed-files"
sed -n 's/^[[:space:]]*put "\$top\/\(files\/[^"]*\)" "\$d\([^"]*\)" 0\([0-7]*\)$/\3 \1 \2/p' \
	openwrt/build-ipk.sh | sort > "$work/ipk-files"
[ "$(wc -l < "$work/feed-files")" -ge 5 ] && cmp -s "$work/feed-files" "$work/ipk-files"
result "feed Makefile and build-ipk.sh install the same files/ at the same places and modes" $?
diff "$work/feed-files" "$work/ipk-files"

# The feed Makefile's postrm is openwrt/ipk/ftwall.postrm (make's $$ is the shell's $).
sed -n '/^define Package\/ftwall\/postrm$/,/^endef$/p' openwrt/ftwall/Makefile |
	sed -e '1d;$d' -e 's/\$\$/$/g' | grep -v '^#[^!]' > "$work/feed-postrm"
grep -v '^#[^!]' openwrt/ipk/ftwall.postrm > "$work/ipk-postrm"
[ -s "$work/feed-postrm" ] && cmp -s "$work/feed-postrm" "$work/ipk-postrm"
result "feed Makefile postrm is openwrt/ipk/ftwall.postrm" $?
diff "$work/feed-postrm" "$work/ipk-postrm"

# ---- 6. versions -------------------------------------------------------------------------------

crate="$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)"
for mk in openwrt/ftwall/Makefile openwrt/luci-app-ftwall/Makefile; do
	[ "$(sed -n 's/^PKG_VERSION:=//p' "$mk")" = "$crate" ]
	result "$mk PKG_VERSION is the crate's ($crate)" $?
done

echo "openwrt: $passed passed, $failed failed"
[ "$failed" = 0 ]
