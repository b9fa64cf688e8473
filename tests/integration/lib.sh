# lib.sh - helpers for the integration tests that start the real daemon:
# free ports, start/stop with a stats file, wait on counters, read the
# stats file and an sfgen manifest. Sourced by sh scripts; sets $tmp.
# Every wait is bounded; a test never hangs.

tmp=$(mktemp -d)
pid=""
cleanup() {
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*"
	[ -f "$tmp/log" ] && tail -30 "$tmp/log"
	[ -f "$tmp/stats" ] && grep -v ' 0$' "$tmp/stats" | head -80
	exit 1
}
skip() { echo "SKIP: $*"; exit 77; }

# Checks that go on after one failed: `bad CHECK WHY` records a failure (and
# says once when the daemon has died, since the checks after it cannot pass),
# `ok CHECK` a success; `finish NAME` exits 1 naming every failed check, or 0.
failed=""
died=""
bad() {
	echo "FAIL: $1: $2"
	failed="$failed $1"
	if [ -n "$pid" ] && [ -z "$died" ] && ! kill -0 "$pid" 2>/dev/null; then
		died=1
		echo "FAIL: (the daemon is gone; the checks after this one cannot pass) $(tail -1 "$tmp/log")"
	fi
}
ok() { echo "ok $1"; }
finish() {
	if [ -n "$failed" ]; then
		echo "FAILED checks:$failed"
		[ -f "$tmp/log" ] && tail -20 "$tmp/log"
		exit 1
	fi
	echo "$1: ok"
	exit 0
}

# free_port: a port that is free for both UDP and TCP on 127.0.0.1 now, below the
# kernel's ephemeral range (where port 0 binds of tests running alongside land).
free_port() {
	lo=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
	[ "$lo" -gt 12000 ] || lo=32768
	while :; do
		p=$(( 10000 + $(od -An -N2 -tu2 /dev/urandom) % (lo - 10000) ))
		if ! ss -Hlnu "sport = :$p" | grep -q . && ! ss -Hlnt "sport = :$p" | grep -q .; then
			echo "$p"
			return
		fi
	done
}

# start_daemon ARGS...: streamflowd on $tmp/data with the stats file, in the background
# ($port: its HTTP port, when http.listen is the default 127.0.0.1:0 or another :0);
# exits 77 (SKIP) when backend=dpdk cannot start its EAL here.
start_daemon() {
	# the shell truncates the log in the child, after this function may look at it:
	# a previous run's "event=ready" must not be there to be seen
	rm -f "$tmp/log"
	# HTTP on a free port and the socket in $tmp unless the test says otherwise
	"$SFD" --set data_dir="$tmp/data" --set stats.file="$tmp/stats" \
		--set stats.interval=100ms --set log.level=info \
		--set http.listen=127.0.0.1:0 --set mgmt.socket="$tmp/sock" \
		"$@" > "$tmp/log" 2>&1 &
	pid=$!
	i=0
	while ! grep -q "event=ready" "$tmp/log" 2>/dev/null; do
		if ! kill -0 "$pid" 2>/dev/null; then
			wait "$pid"
			pid=""
			# backend=dpdk on a machine where the EAL cannot run: SKIP, not FAIL
			grep -q "dpdk eal init failed" "$tmp/log" &&
				skip "the EAL cannot start here: $(grep -o 'dpdk eal init failed.*' "$tmp/log" | head -1)"
			fail "streamflowd exited during start"
		fi
		i=$((i + 1))
		[ $i -gt 400 ] && fail "streamflowd not ready after 20 s"
		sleep 0.05
	done
	# the HTTP port the kernel gave (http.listen=127.0.0.1:0), logged before ready; "" if none
	port=$(sed -n 's/.* http event=listening .* port=\([0-9][0-9]*\).*/\1/p' "$tmp/log" | head -1)
}

# stop_daemon: SIGTERM, up to 30 s, exit status 0 required.
stop_daemon() {
	kill -TERM "$pid"
	i=0
	while kill -0 "$pid" 2>/dev/null; do
		i=$((i + 1))
		[ $i -gt 600 ] && fail "streamflowd did not stop in 30 s"
		sleep 0.05
	done
	wait "$pid" || fail "streamflowd exited with $?"
	pid=""
}

# tool_run CHECK WANT-RC COMMAND ARGS...: run a tool with stdout in $tmp/out and stderr in
# $tmp/err; an exit status other than WANT-RC is a `bad` CHECK (and returns 1).
tool_run() {
	name="$1"; want="$2"; shift 2
	"$@" > "$tmp/out" 2> "$tmp/err"
	rc=$?
	[ "$rc" = "$want" ] && return 0
	bad "$name" "$* exited $rc, want $want; $(cat "$tmp/out") $(head -3 "$tmp/err")"
	return 1
}
# field KEY: VALUE of the first " KEY=VALUE" in $tmp/out (a tool's one-line summary).
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" "$tmp/out"; }

# stat KEY: a counter from the stats file (0 when absent).
stat() {
	[ -f "$tmp/stats" ] || { echo 0; return; }
	awk -v k="$1" '$1 == k { v = $2 } END { print v + 0 }' "$tmp/stats" 2>/dev/null
}
# stat_sum PREFIX [EXCEPT]: the sum of the counters whose name starts with PREFIX.
stat_sum() {
	[ -f "$tmp/stats" ] || { echo 0; return; }
	awk -v p="$1" -v x="${2:-}" 'index($1, p) == 1 && $1 != x { s += $2 } END { print s + 0 }' \
		"$tmp/stats" 2>/dev/null
}

# manifest FILE KIND FIELD...: e.g. `manifest m sent line 4` prints the records sent.
mf() {
	awk -F '\t' -v k="$2" -v a="$3" -v c="$4" '$1 == k && $2 == a { print $c; f = 1 }
		END { if (!f) print 0 }' "$1"
}
# mf_binary_sum FILE COLUMN: the sum of a column of the binary source records (4 gaps, 5 dups, 6 reorders).
mf_binary_sum() {
	awk -F '\t' -v c="$2" '$1 == "binary" { s += $c } END { print s + 0 }' "$1"
}

# wait_until EXPR-COMMAND: run the command (a shell test) every 100 ms, up to 30 s.
wait_until() {
	i=0
	while ! eval "$1"; do
		i=$((i + 1))
		[ $i -gt 300 ] && return 1
		sleep 0.1
	done
}

# expect_eq WHAT GOT WANT
expect_eq() {
	[ "$2" = "$3" ] || fail "$1: got $2, want $3"
}

# check_decoders MANIFEST: what each decoder accepted and refused is what was sent.
check_decoders() {
	m="$1"
	expect_eq "statsd lines ok" "$(stat decode.statsd.ok)" "$(mf "$m" sent statsd 4)"
	bad=$(( $(stat_sum decode.statsd.) - $(stat decode.statsd.ok) - $(stat decode.statsd.empty) ))
	expect_eq "statsd lines refused" "$bad" "$(mf "$m" junk statsd_bad_line 3)"
	expect_eq "line-protocol lines ok" "$(stat decode.line.ok)" "$(mf "$m" sent line 4)"
	bad=$(( $(stat_sum decode.line.) - $(stat decode.line.ok) - $(stat decode.line.empty) ))
	expect_eq "line-protocol lines refused" "$bad" "$(mf "$m" junk line_bad_line 3)"
	expect_eq "binary records ok" "$(( $(stat worker.values.binary) + $(stat binary.defs) ))" \
		"$(mf "$m" sent binary 4)"
	bad=$(( $(stat decode.binary.short) + $(stat decode.binary.bad_magic) + \
		$(stat decode.binary.bad_version) + $(stat decode.binary.bad_header) + \
		$(stat decode.binary.bad_length) + $(stat decode.binary.bad_crc) ))
	expect_eq "binary frames refused" "$bad" "$(mf "$m" junk binary_bad_frame 3)"
	bad=$(( $(stat_sum decode.binary.) - $(stat decode.binary.ok) - bad ))
	expect_eq "binary records refused" "$bad" "$(mf "$m" junk binary_bad_record 3)"
	expect_eq "duplicate frames" "$(stat binary.seq.duplicate)" "$(mf_binary_sum "$m" 5)"
	expect_eq "late frames" "$(stat binary.seq.late)" "$(mf_binary_sum "$m" 6)"
	expect_eq "frames missing" "$(stat binary.frames_missing)" \
		"$(( $(mf_binary_sum "$m" 4) + $(mf_binary_sum "$m" 6) ))"
}

# check_accounting: every value handed to the store is stored or refused by cause.
check_accounting() {
	in=$(stat worker.points_in)
	out=$(( $(stat worker.points_stored) + $(stat_sum worker.rejected.) ))
	expect_eq "points_in = stored + rejected" "$out" "$in"
	[ "$in" -gt 0 ] || fail "nothing was stored"
	expect_eq "statsd values aggregated" "$(stat worker.statsd_aggregated)" "$(stat worker.values.statsd)"
	expect_eq "statsd flush points stored" "$(stat statsd.stored)" "$(stat statsd.points)"
}
