# shellcheck shell=sh
# Check counting for the openwrt/tests/*.sh scripts (sourced, not run): each check adds to
# $passed or prints "FAIL ..." and adds to $failed; the script reports both at its end.
# shellcheck disable=SC3043 # local: busybox ash and dash have it

passed=0
failed=0
ok() { passed=$((passed + 1)); }
bad() {
	echo "FAIL $*"
	failed=$((failed + 1))
}
# check DESCRIPTION COMMAND...: one check, passed when COMMAND succeeds.
check() {
	local desc="$1"
	shift
	if "$@"; then ok; else bad "$desc"; fi
}
# same DESCRIPTION EXPECTED ACTUAL
same() {
	if [ "$2" = "$3" ]; then
		ok
	else
		bad "$1"
		printf '  expected: %s\n  actual:   %s\n' "$2" "$3" | sed 's/^/    /'
	fi
}
