#!/bin/sh
# test_sfctl.sh - sfctl against the real daemon over its management socket:
# ping, the socket file's mode, import (plain, .gz, .zst when zstd is
# installed, a partial one, a truncated .gz, bytes that JSON would escape),
# queries printed as table, CSV and JSON, stats,
# series/measurements/tags/fields, config, flush, tiers, queries, kill,
# --format json for the other commands, the shell from a pipe, the exit
# codes (3 for a query that does not parse, 2 for a wrong socket, 4 for a
# partial import), and shutdown through the socket.
#
# Every check runs even when an earlier one failed (except those that need
# the socket at all); each failure is printed as "FAIL: <check>: <why>" and
# the script exits 1 after the last one, naming them all.
# usage: test_sfctl.sh PATH/TO/streamflowd PATH/TO/sfctl
set -u
SFD="$1"; SFCTL="$2"
. "$(dirname "$0")/lib.sh"

# sfctl_run CHECK WANT-RC ARGS...: sfctl's stdout in $tmp/out, stderr in $tmp/err;
# false (and the check failed) when the exit status is not WANT-RC.
sfctl_run() {
	name="$1"; want="$2"; shift 2
	"$SFCTL" -s "$sock" "$@" > "$tmp/out" 2> "$tmp/err"
	rc=$?
	[ "$rc" = "$want" ] && return 0
	bad "$name" "sfctl $* exited $rc, want $want; stderr: $(head -3 "$tmp/err")"
	return 1
}
# has CHECK PATTERN [FILE]: the file ($tmp/out) holds a line matching PATTERN (grep -E).
has() {
	grep -Eq -- "$2" "${3:-$tmp/out}" && return 0
	bad "$1" "no line matches '$2' in: $(head -c 600 "${3:-$tmp/out}")"
	return 1
}

# ---------------------------------------------------------------- the daemon
sock="$tmp/run/ctl/sock"       # its directories do not exist yet
ps=$(free_port); pl=$(free_port); pt=$(free_port); pb=$(free_port)
set -- --set mgmt.socket="$sock" --set statsd.listen=127.0.0.1:$ps \
	--set line.udp_listen=127.0.0.1:$pl --set line.tcp_listen=127.0.0.1:$pt \
	--set binary.listen=127.0.0.1:$pb
"$SFD" --help 2>/dev/null | grep -q '^  http.listen ' &&
	set -- "$@" --set http.listen=127.0.0.1:$(free_port)
"$SFD" --help 2>/dev/null | grep -q '^  mgmt.socket ' ||
	fail "streamflowd has no mgmt.socket key: mg_ctl_cfg_table is not among mg_daemon_cfg_tables"
start_daemon "$@"
wait_until '[ -S "$sock" ]' ||
	fail "the daemon is up but serves no socket at $sock (mg_ctl_start not called?)"

# ---------------------------------------------------------------- ping, socket
sfctl_run ping 0 ping && has ping '^ok' && ok ping
mode=$(command stat -c %a "$sock")  # lib.sh defines a stat() function
[ "$mode" = 660 ] && ok socket_mode || bad socket_mode "mode $mode, want 660"
SF_SOCKET="$sock" "$SFCTL" ping > /dev/null 2>&1 && ok sf_socket_env ||
	bad sf_socket_env "sfctl does not use \$SF_SOCKET"

# ---------------------------------------------------------------- import
# sfctl_cpu: 2000 lines, 4 hosts, usage = i.5 and n = i (integer), one a second
base=1700000000000000000
# (awk's numbers are doubles: timestamps are written as seconds followed by nine zeros)
awk -v b=$((base / 1000000000)) 'BEGIN { for (i = 0; i < 2000; i++)
	printf "sfctl_cpu,host=h%d usage=%d.5,n=%di %.0f000000000\n", i % 4, i, i, b + i }' \
	> "$tmp/cpu.lp"
# sfctl_mem: 500 lines, gzipped, sent in batches of 120 with two in flight
awk -v b=$((base / 1000000000)) 'BEGIN { for (i = 0; i < 500; i++)
	printf "sfctl_mem,host=h%d free=%d %.0f000000000\n", i % 2, 1000 + i, b + i }' |
	gzip > "$tmp/mem.lp.gz"
if sfctl_run import 0 --quiet import "$tmp/cpu.lp"; then
	has import '^imported 2000 lines \(4000 values\) in [0-9.]+ s: [0-9]+ lines/s, 0 errors$' &&
		ok import
fi
if sfctl_run import_gz 0 --batch 120 --pipeline 2 import "$tmp/mem.lp.gz"; then
	has import_gz '^imported 500 lines \(500 values\) .* 0 errors$' && ok import_gz
fi
printf 'sfctl_part v=1 %s\nsfctl_part v=\nsfctl_part v=2 %s\n' $base $((base + 1)) > "$tmp/part.lp"
if sfctl_run import_partial 4 import "$tmp/part.lp"; then
	has import_partial '^imported 2 lines \(2 values\) .* 1 errors$' &&
		has import_partial '^sfctl: import: ' "$tmp/err" && ok import_partial
fi
# sfctl_zst: 300 lines, zstd-compressed from a file, then the same lines as plain text from stdin
awk -v b=$((base / 1000000000)) 'BEGIN { for (i = 0; i < 300; i++)
	printf "sfctl_zst v=%d %.0f000000000\n", i, b + i }' > "$tmp/zst.lp"
if command -v zstd > /dev/null; then
	zstd -q "$tmp/zst.lp" -o "$tmp/zst.lp.zst"
	if sfctl_run import_zst 0 import "$tmp/zst.lp.zst"; then
		has import_zst '^imported 300 lines \(300 values\) .* 0 errors$' && ok import_zst
	fi
else
	echo "skip import_zst (no zstd program to compress the input)"
fi
if sfctl_run import_stdin 0 import - < "$tmp/zst.lp"; then
	has import_stdin '^imported 300 lines \(300 values\) .* 0 errors$' && ok import_stdin
fi
# sfctl_raw: bytes a JSON string would escape (" and \) reach the daemon as they are (raw bodies)
printf 'sfctl_raw,k=a"b\\ c\\,d v=1 %s\nsfctl_raw,k=e\\\\f v=2 %s\n' $base $((base + 1)) > "$tmp/raw.lp"
if sfctl_run import_raw 0 --quiet import "$tmp/raw.lp"; then
	has import_raw '^imported 2 lines \(2 values\) .* 0 errors$' &&
		sfctl_run import_raw 0 series sfctl_raw && has import_raw '^sfctl_raw,k=a"b\\ c\\,d$' &&
		has import_raw '^sfctl_raw,k=e\\\\f$' && ok import_raw
fi
# a .gz cut short: what came before the cut is stored, the exit status is 4
awk -v b=$((base / 1000000000)) 'BEGIN { for (i = 0; i < 20000; i++)
	printf "sfctl_trunc,host=h%d v=%d %.0f000000000\n", i % 7, i, b + i }' | gzip > "$tmp/t.gz"
head -c $(($(wc -c < "$tmp/t.gz") / 2)) "$tmp/t.gz" > "$tmp/trunc.lp.gz"
if sfctl_run import_truncated 4 --quiet import "$tmp/trunc.lp.gz"; then
	has import_truncated 'truncated gzip file' "$tmp/err" &&
		has import_truncated '^imported [1-9][0-9]* lines .* 0 errors$' && ok import_truncated
fi

# ---------------------------------------------------------------- queries
# host h1 has i = 1, 5, 9, ...: usage 1.5, 5.5, 9.5 at base + i s
if sfctl_run query_table 0 query "SELECT usage FROM sfctl_cpu WHERE host = 'h1' LIMIT 3"; then
	has query_table '^name: sfctl_cpu$' && has query_table '^time +usage$' &&
		has query_table "^$((base + 5000000000)) +5\.5$" && ok query_table
fi
if sfctl_run query_csv 0 -f csv query "SELECT usage, n FROM sfctl_cpu WHERE host = 'h2' LIMIT 2"; then
	has query_csv '^name,tags,time,usage,n$' &&
		has query_csv "^sfctl_cpu,,$((base + 6000000000)),6\.5,6$" && ok query_csv
fi
if sfctl_run query_json 0 -f json -e ms query "SELECT count(usage) FROM sfctl_cpu"; then
	has query_json '^\{"results":\[\{"statement_id":0,"series":\[\{"name":"sfctl_cpu"' &&
		has query_json '"columns":\["time","count"\],"values":\[\[[0-9]+,2000\]\]' &&
		ok query_json
fi
if sfctl_run query_epoch 0 -f csv -e s query "SELECT free FROM sfctl_mem WHERE host = 'h0' LIMIT 1"; then
	has query_epoch "^sfctl_mem,,$((base / 1000000000)),1000$" && ok query_epoch
fi
# a query that does not parse: exit 3 and the parser's message
if sfctl_run query_invalid 3 query "SELEC usage FROM sfctl_cpu"; then
	has query_invalid '^sfctl: query: .{8,}' "$tmp/err" && ok query_invalid
fi

# ---------------------------------------------------------------- listings
sfctl_run measurements 0 measurements && has measurements '^sfctl_cpu$' &&
	has measurements '^sfctl_mem$' && ok measurements
sfctl_run series 0 series sfctl_cpu && has series 'sfctl_cpu,host=h1' &&
	has series 'sfctl_cpu,host=h3' && ok series
sfctl_run tags 0 tags sfctl_cpu && has tags '^host$' && ok tags
sfctl_run fields 0 fields sfctl_cpu && has fields '^usage +float' &&
	has fields '^n +integer' && ok fields

# ---------------------------------------------------------------- operations
sfctl_run stats 0 stats && has stats '^rx\.[a-z_.]+ +[0-9]+$' &&
	has stats '^store\.[a-z_.]+ +[0-9]+$' && ok stats
if sfctl_run stats_prefix 0 -f csv stats store. && has stats_prefix '^store\.'; then
	# (a bare "! grep && ok" would fail silently: every failed check must say so)
	if grep -q '^rx\.' "$tmp/out"; then
		bad stats_prefix "rx. counters listed for the prefix store."
	else
		ok stats_prefix
	fi
fi
sfctl_run config 0 config && has config "mgmt\.socket.*$sock|^socket = $sock" && ok config
sfctl_run flush 0 flush && has flush '^flushed in ' && ok flush
if sfctl_run tiers 0 tiers; then
	[ -s "$tmp/out" ] && ok tiers || bad tiers "no output"
fi
sfctl_run queries 0 queries && has queries '^qid +duration' && ok queries
sfctl_run series_all 0 series && has series_all 'sfctl_cpu,host=h1' &&
	has series_all 'sfctl_mem,host=h0' && ok series_all
# --format json: the response as it is, without "ok"; flush and shutdown still say it in words
sfctl_run ping_json 0 -f json ping && has ping_json '^\{"version":"[^"]+","healthy":true\}$' &&
	ok ping_json
sfctl_run stats_json 0 -f json stats store. && has stats_json '^\{"stats":\[\{"name":"store\.' &&
	ok stats_json
sfctl_run config_json 0 -f json config && has config_json "^\\{\"lines\":\\[\".*socket = $sock\"" &&
	ok config_json
sfctl_run queries_json 0 -f json queries && has queries_json '^\{"queries":\[' && ok queries_json
sfctl_run flush_json 0 -f json flush && has flush_json '^flushed in ' && ok flush_json
sfctl_run kill_unknown 3 kill 987654321 && has kill_unknown '^sfctl: kill: ' "$tmp/err" &&
	ok kill_unknown
printf 'ping\nSHOW MEASUREMENTS\nformat csv\nmeasurements\n' | "$SFCTL" -s "$sock" > "$tmp/out" 2>&1
rc=$?
[ $rc = 0 ] && has shell_pipe '^ok' && has shell_pipe '^measurements,,sfctl_cpu$' && ok shell_pipe ||
	{ [ $rc = 0 ] || bad shell_pipe "exit $rc: $(head -3 "$tmp/out")"; }

# ---------------------------------------------------------------- errors
"$SFCTL" -s "$tmp/no-such.sock" ping > /dev/null 2> "$tmp/err"
rc=$?
[ $rc = 2 ] && has wrong_socket '^sfctl: connect ' "$tmp/err" && ok wrong_socket ||
	{ [ $rc = 2 ] || bad wrong_socket "exit $rc, want 2"; }
"$SFCTL" -s "$sock" no-such-command > /dev/null 2>&1
rc=$?
[ $rc = 1 ] && ok usage_error || bad usage_error "exit $rc, want 1"

# ---------------------------------------------------------------- shutdown
if sfctl_run shutdown 0 shutdown; then
	i=0
	while kill -0 "$pid" 2>/dev/null && [ $i -lt 300 ]; do
		i=$((i + 1))
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		bad shutdown "the daemon still runs 30 s after shutdown"
	else
		wait "$pid"
		rc=$?
		pid=""
		[ $rc = 0 ] || bad shutdown "the daemon exited with $rc"
		[ -e "$sock" ] && bad shutdown "the socket file is still there"
		[ $rc = 0 ] && [ ! -e "$sock" ] && ok shutdown
	fi
fi
finish sfctl
