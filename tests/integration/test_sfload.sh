#!/bin/sh
# test_sfload.sh - the peers' common loader (tools/sfload.c) against the real
# daemon's /write: every line and value of a generated file acknowledged
# and stored over two keep-alive connections in gzip'd batches, the same
# from a .gz file, --limit, the values it counts (strings with commas and
# spaces, comments, blank lines), a refused batch (exit 1, the server's
# words), an endpoint nobody listens on (exit 1), a usage error (exit 2).
# usage: test_sfload.sh PATH/TO/streamflowd PATH/TO/sfctl PATH/TO/sfload
set -u
SFD="$1"; SFCTL="$2"; SFLOAD="$3"
. "$(dirname "$0")/lib.sh"

start_daemon --set statsd.listen=127.0.0.1:0 --set line.udp_listen=127.0.0.1:0 \
	--set line.tcp_listen=127.0.0.1:0 --set binary.listen=127.0.0.1:0
port=""
http_port() {
	port=$(sed -n 's/.* http event=listening .* port=\([0-9][0-9]*\).*/\1/p' "$tmp/log" | head -1)
	[ -n "$port" ]
}
wait_until http_port || fail "no 'http event=listening' line in the log"
"$SFCTL" -s "$tmp/sock" query 'CREATE DATABASE load' > /dev/null || fail "CREATE DATABASE"
url="http://127.0.0.1:$port/write?db=load"

# gen FIRST_SECOND: 2,500 lines, 3 values each, in time order per series (5 series), with a
# comment and a blank line; field s is a string holding a comma and a space (sfload counts
# it; the store keeps numbers and booleans only: 2 stored points a line)
gen() {
	awk -v t0="$1" 'BEGIN {
		print "# generated"
		for (i = 0; i < 2500; i++) {
			if (i == 1000) print ""
			printf "m,host=h%d a=%di,b=%d.5,s=\"x, y\" %d000000000\n", i % 5, i, i, t0 + i
		}
	}'
}
gen 1451606400 > "$tmp/in.lp"

# sfload_run CHECK WANT-RC ARGS...: stdout in $tmp/out, stderr in $tmp/err
sfload_run() {
	name="$1"; want="$2"; shift 2
	"$SFLOAD" "$@" > "$tmp/out" 2> "$tmp/err"
	rc=$?
	[ "$rc" = "$want" ] && return 0
	bad "$name" "sfload $* exited $rc, want $want; $(cat "$tmp/out") $(head -3 "$tmp/err")"
	return 1
}
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" "$tmp/out"; }

if sfload_run load 0 --url "$url" --connections 2 --batch 300 "$tmp/in.lp"; then
	[ "$(field lines)" = 2500 ] && [ "$(field values)" = 7500 ] && [ "$(field batches)" = 9 ] &&
		[ "$(field failed)" = 0 ] && ok load || bad load "counts: $(cat "$tmp/out")"
fi
wait_until '[ "$(stat store.points_stored)" = 5000 ]' && ok stored ||
	bad stored "store.points_stored $(stat store.points_stored), want 5000"
"$SFCTL" -s "$tmp/sock" -d load query 'SELECT count(a), sum(a), count(b) FROM m' --format csv \
	> "$tmp/q" 2>&1
grep -q ',2500,3123750,2500$' "$tmp/q" && ok query || bad query "$(cat "$tmp/q")"

# the same lines from a .gz, 3,000 s later (new points), and --limit
gen 1451609400 | gzip > "$tmp/in.lp.gz"
if sfload_run gz 0 --url "$url" --limit 1001 --level 1 "$tmp/in.lp.gz"; then
	[ "$(field lines)" = 1001 ] && [ "$(field values)" = 3003 ] && [ "$(field batches)" = 1 ] &&
		ok gz || bad gz "counts: $(cat "$tmp/out")"
fi
wait_until '[ "$(stat store.points_stored)" = 7002 ]' && ok gz_stored ||
	bad gz_stored "store.points_stored $(stat store.points_stored), want 7002"

# a batch the server refuses (a line that does not parse): exit 1 with its words
printf 'm,host=h0 a= 1451619400000000000\n' > "$tmp/bad.lp"
if sfload_run refused 1 --url "$url" "$tmp/bad.lp"; then
	[ "$(field failed)" = 1 ] && grep -q 'batch 0 failed: HTTP 400 .*unable to parse' "$tmp/err" &&
		ok refused || bad refused "$(cat "$tmp/out") $(cat "$tmp/err")"
fi
# nobody listening
if sfload_run no_server 1 --url "http://127.0.0.1:$(free_port)/write" --batch 1000 "$tmp/in.lp"; then
	[ "$(field failed)" = 3 ] && ok no_server || bad no_server "$(cat "$tmp/out")"
fi
sfload_run usage 2 --connections 0 "$tmp/in.lp" && ok usage
sfload_run missing 1 --url "$url" "$tmp/nosuch.lp" && grep -q "nosuch" "$tmp/err" && ok missing

stop_daemon
finish "sfload"
