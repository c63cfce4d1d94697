# Shared by the test stand-ins: appends one line to $TRACE, words quoted when they hold
# anything but plain characters, so that expected traces are easy to read and exact.
# shellcheck shell=sh disable=SC3043

trace() {
	local out='' w
	for w in "$@"; do
		case "$w" in
		'' | *[!A-Za-z0-9_./:=,+@%-]*) w="'$w'" ;;
		esac
		out="${out:+$out }$w"
	done
	printf '%s\n' "$out" >> "$TRACE"
}
