#!/bin/sh
# test_daemon.sh - start the real streamflowd and check its life cycle:
# --help lists every key, bad configuration exits 2 with a clear message,
# the daemon starts on a fresh data_dir, refuses a second daemon on the same
# directory, and stops cleanly (exit 0) on SIGTERM and on SIGINT.
# usage: test_daemon.sh PATH/TO/streamflowd
set -u
SFD="$1"
. "$(dirname "$0")/lib.sh"

# wait_for FILE PATTERN: up to 5 s
wait_for() {
	i=0
	while ! grep -q "$2" "$1" 2>/dev/null; do
		i=$((i + 1))
		[ $i -gt 100 ] && return 1
		sleep 0.05
	done
}

# wait_exit PID: up to 5 s, then the exit status
wait_exit() {
	i=0
	while kill -0 "$1" 2>/dev/null; do
		i=$((i + 1))
		[ $i -gt 100 ] && return 124
		sleep 0.05
	done
	wait "$1"
}

"$SFD" --help > "$tmp/help" || fail "--help exited non-zero"
for key in data_dir log.level dataplane.workers shard.chunk_points shard.chunk_span \
	shard.ooo_window shard.memory_limit shard.max_series wal.durability \
	wal.fsync_interval_ms storage.partition storage.retention storage.cold_dir \
	storage.min_free backend statsd.listen line.udp_listen line.tcp_listen binary.listen \
	statsd.flush_interval socket.rcvbuf dpdk.eal_args dataplane.idle_wait stats.file; do
	grep -q "^  $key " "$tmp/help" || fail "--help does not list $key"
done

"$SFD" --set shard.chunk_points=lots > /dev/null 2> "$tmp/err"
[ $? -eq 2 ] || fail "a bad --set must exit 2"
grep -q "shard.chunk_points" "$tmp/err" || fail "the error must name the key"

printf '[shard]\nchunk_points = 64\nno_such_key = 1\n' > "$tmp/bad.ini"
"$SFD" --config "$tmp/bad.ini" > /dev/null 2> "$tmp/err"
[ $? -eq 2 ] || fail "a bad config file must exit 2"
grep -q "line 3" "$tmp/err" || fail "the error must name the line: $(cat "$tmp/err")"

printf 'data_dir = %s/data\n[shard]\nchunk_points = 64\n[http]\nlisten = 127.0.0.1:0\n[mgmt]\nsocket = %s/sock\n' \
	"$tmp" "$tmp" > "$tmp/good.ini"
"$SFD" --config "$tmp/good.ini" --set shard.ooo_window=5m --print-config > "$tmp/eff" ||
	fail "--print-config failed"
grep -q "chunk_points = 64" "$tmp/eff" || fail "file value not applied"
grep -q "ooo_window = 300000000000ns" "$tmp/eff" || fail "--set value not applied"

for sig in TERM INT; do
	: > "$tmp/log"
	"$SFD" --config "$tmp/good.ini" 2> "$tmp/log" &
	pid=$!
	wait_for "$tmp/log" "event=ready" || fail "daemon did not become ready"
	[ -d "$tmp/data" ] || fail "data_dir was not created"
	for f in shard-000/wal shard-000/blocks shard-000/series.cat; do
		[ -e "$tmp/data/$f" ] || fail "the store did not create $f"
	done
	ls "$tmp/data/shard-000/wal/"*.wal > /dev/null 2>&1 || fail "no WAL segment"
	grep -q "event=recovered shard=0" "$tmp/log" || fail "no recovery logged"

	"$SFD" --config "$tmp/good.ini" 2> "$tmp/log2"
	[ $? -eq 1 ] || fail "a second daemon on the same data_dir must fail"
	grep -q "in use by another process (pid $pid)" "$tmp/log2" ||
		fail "the second daemon must name the first: $(cat "$tmp/log2")"

	kill -"$sig" "$pid"
	wait_exit "$pid"
	rc=$?
	pid=""
	[ $rc -eq 0 ] || fail "SIG$sig: exit status $rc, want 0"
	grep -q "event=stopped" "$tmp/log" || fail "SIG$sig: no clean stop logged"
done
echo "daemon life cycle: ok"
