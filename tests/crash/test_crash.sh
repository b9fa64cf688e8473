#!/bin/sh
# test_crash.sh - kill -9 during sustained ingest in sync mode, restart, and
# check that every acknowledged point is present exactly once (sf_crashtest
# verify). Kill times are random (0.1-0.9 s after start, so some land in
# recovery, some in checkpoints); the seed is printed to replay a failure.
# usage: test_crash.sh PATH/TO/sf_crashtest CYCLES [SEED]
set -u
BIN="$1"
CYCLES="$2"
SEED="${3:-$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')}"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sf_crash.XXXXXX")
pid=""
cleanup() {
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
echo "crash test: $CYCLES cycles, seed $SEED"

acked=0
i=0
while [ "$i" -lt "$CYCLES" ]; do
	i=$((i + 1))
	ms=$(awk -v s="$SEED" -v i="$i" 'BEGIN { srand(s * 1000 + i); print int(100 + rand() * 800) }')
	"$BIN" write "$tmp/data" "$acked" > "$tmp/acks" 2> "$tmp/err" &
	pid=$!
	sleep "$(awk -v ms="$ms" 'BEGIN { printf "%.3f", ms / 1000 }')"
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	pid=""
	last=$(tail -n 1 "$tmp/acks" | awk '$1 == "ack" { print $2 }')
	[ -n "$last" ] && acked="$last"
	if ! "$BIN" verify "$tmp/data" "$acked" > "$tmp/verify" 2>&1; then
		echo "FAIL: cycle $i (killed after $ms ms, acked $acked, seed $SEED)"
		cat "$tmp/verify" "$tmp/err"
		exit 1
	fi
	echo "cycle $i: killed after ${ms} ms, $(cat "$tmp/verify")"
done
[ "$acked" -gt 0 ] || { echo "FAIL: nothing was ever acknowledged"; exit 1; }
echo "ok: $CYCLES kill/restart cycles, $acked points acknowledged"
