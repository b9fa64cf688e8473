#!/bin/sh
# test_ingest_socket.sh - the socket backend end to end: sfgen sends StatsD,
# line protocol (UDP, then TCP) and binary frames with junk, gaps,
# duplicates and reorders to a real streamflowd over loopback; after an
# orderly stop, sfinspect finds exactly what the manifest says, and the
# stats file accounts for every datagram, line, record and point.
# usage: test_ingest_socket.sh streamflowd sfgen sfinspect
set -u
SFD="$1"; SFGEN="$2"; SFINSPECT="$3"
. "$(dirname "$0")/lib.sh"

# run_case NAME WORKERS LINE(udp|tcp) SFGEN-ARGS...: one daemon, one sfgen run, every check.
run_case() {
	name="$1"; workers="$2"; line="$3"; shift 3
	rm -rf "$tmp/data" "$tmp/stats"
	ps=$(free_port); pl=$(free_port); pt=$(free_port); pb=$(free_port)
	start_daemon --set dataplane.workers="$workers" --set statsd.flush_interval=1h \
		--set statsd.listen=127.0.0.1:$ps --set line.udp_listen=127.0.0.1:$pl \
		--set line.tcp_listen=127.0.0.1:$pt --set binary.listen=127.0.0.1:$pb
	"$SFGEN" traffic --manifest "$tmp/$name.m" --rate 3000 --max-seconds 60 \
		--statsd-to 127.0.0.1:$ps --binary-to 127.0.0.1:$pb \
		$([ "$line" = tcp ] && echo --line-tcp-to 127.0.0.1:$pt || echo --line-to 127.0.0.1:$pl) \
		"$@" > "$tmp/sfgen.out" 2>&1 ||
		fail "$name: sfgen: $(cat "$tmp/sfgen.out")"
	m="$tmp/$name.m"
	wait_until '[ "$(stat decode.statsd.ok)" -ge "$(mf "$m" sent statsd 4)" ] &&
		[ "$(stat decode.line.ok)" -ge "$(mf "$m" sent line 4)" ] &&
		[ "$(( $(stat worker.values.binary) + $(stat binary.defs) ))" -ge "$(mf "$m" sent binary 4)" ]' ||
		fail "$name: the daemon did not receive everything in 30 s"
	stop_daemon
	[ "$(stat rx.drop.kernel_overflow)" = 0 ] ||
		fail "$name: the kernel dropped $(stat rx.drop.kernel_overflow) datagrams (socket buffer)"
	check_decoders "$m"
	check_accounting
	"$SFINSPECT" --check "$m" "$tmp/data" > "$tmp/check.out" 2>&1 ||
		fail "$name: stored data differs from the manifest: $(head -20 "$tmp/check.out")"
	echo "ok $name: $(tail -1 "$tmp/check.out")"
}

# Every UDP datagram a backend received was delivered or dropped by cause.
check_udp_packets() {
	got=$(( $(stat_sum rx.msgs.) + $(stat_sum rx.drop. rx.drop.kernel_overflow) ))
	expect_eq "rx.packets = msgs + drops" "$got" "$(stat rx.packets)"
}

run_case mix_udp 1 udp --format mix --seed 7 --count 60 --junk 40 --gaps 3 --dups 3 --reorders 3
check_udp_packets
run_case line_tcp_2workers 2 tcp --format line --seed 11 --count 80 --junk 20
run_case mix_2workers 2 udp --format mix --seed 13 --count 50 --junk 10 --gaps 2 --dups 2 --reorders 2
check_udp_packets
