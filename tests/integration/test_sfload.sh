#!/bin/sh
# test_sfload.sh - the peers' common loader (tools/sfload.c) against the real
# daemon's /write: every line and value of a generated file acknowledged
# and stored over two keep-alive connections in gzip'd batches, the same
# from a .gz file, --limit, the lines and values it counts (as /write's
# decoder does: strings with commas, spaces and escapes, escaped tag
# spaces, CRLF, comments, blank lines, a bad line), a refused batch (exit
# 1, the server's words), an endpoint nobody listens on (exit 1), a usage
# error (exit 2), a missing file (exit 1).
# usage: test_sfload.sh PATH/TO/streamflowd PATH/TO/sfctl PATH/TO/sfload
set -u
SFD="$1"; SFCTL="$2"; SFLOAD="$3"
. "$(dirname "$0")/lib.sh"

start_daemon --set statsd.listen=127.0.0.1:0 --set line.udp_listen=127.0.0.1:0 \
	--set line.tcp_listen=127.0.0.1:0 --set binary.listen=127.0.0.1:0
[ -n "$port" ] || fail "no 'http event=listening' line in the log"
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

sfload_run() { n="$1"; w="$2"; shift 2; tool_run "$n" "$w" "$SFLOAD" "$@"; }

if sfload_run load 0 --url "$url" --connections 2 --batch 100 "$tmp/in.lp"; then
	[ "$(field lines)" = 2500 ] && [ "$(field values)" = 7500 ] && [ "$(field batches)" = 25 ] &&
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
# what it counts is what /write decodes: CRLF line ends, an escaped space in a tag, a quote
# and a comma escaped inside a string, a field key with a quote, a blank CRLF line; a line
# the decoder refuses is sent and counted as bad, not as values
printf 'm,host=a\\ b v=1i,s="q\\"x, y" 1451619400000000000\r\n\r\nm,host=c k"q=2i,w=3i 1451619401000000000\nm,host= v=1i\n' \
	> "$tmp/odd.lp"
sfload_run odd 1 --url "$url" "$tmp/odd.lp"
[ "$(field lines)" = 3 ] && [ "$(field values)" = 4 ] && [ "$(field bad_lines)" = 1 ] &&
	[ "$(field failed)" = 1 ] && ok odd || bad odd "$(cat "$tmp/out") $(head -2 "$tmp/err")"
if sfload_run usage 2 --connections 0 "$tmp/in.lp"; then
	ok usage
fi
if sfload_run missing 1 --url "$url" "$tmp/nosuch.lp"; then
	grep -q "nosuch" "$tmp/err" && ok missing || bad missing "stderr: $(cat "$tmp/err")"
fi

stop_daemon
finish "sfload"
