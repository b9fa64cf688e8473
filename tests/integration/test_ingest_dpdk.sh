#!/bin/sh
# test_ingest_dpdk.sh - the DPDK backend end to end, without a NIC or
# hugepages: sfgen writes a capture mixing StatsD, line protocol and binary
# frames (with junk payloads, gaps, duplicates, reorders) and junk frames
# (ARP, TCP, IPv4 fragments, unknown ports); streamflowd --set backend=dpdk
# replays it through net_pcap. After an orderly stop, sfinspect finds
# exactly what the manifest says, and every frame is accounted for: received
# = delivered + dropped by cause, each cause as many as sfgen made.
# Exits 77 when the EAL cannot start here.
# usage: test_ingest_dpdk.sh streamflowd sfgen sfinspect
set -u
SFD="$1"; SFGEN="$2"; SFINSPECT="$3"
. "$(dirname "$0")/lib.sh"

# run_case NAME WORKERS SFGEN-ARGS...
run_case() {
	name="$1"; workers="$2"; shift 2
	rm -rf "$tmp/data" "$tmp/stats"
	m="$tmp/$name.m"
	"$SFGEN" traffic --manifest "$m" --pcap "$tmp/$name.pcap" --statsd-port 8125 \
		--line-port 8089 --binary-port 7100 "$@" > "$tmp/sfgen.out" 2>&1 ||
		fail "$name: sfgen: $(cat "$tmp/sfgen.out")"
	frames=$(awk -F '\t' '$1 == "sent" { s += $3 } $1 == "junk" && ($2 == "not_ip" ||
		$2 == "not_udp" || $2 == "fragment" || $2 == "unknown_port") { s += $3 }
		END { print s }' "$m")
	# The pcap replays into worker 0's queue (net_pcap has one RX queue per file).
	start_daemon --set backend=dpdk --set dataplane.workers="$workers" \
		--set statsd.flush_interval=1h \
		--set dpdk.eal_args="--no-huge --no-pci --no-shconf --no-telemetry -m 256 --file-prefix sf$$" \
		-- --vdev="net_pcap0,rx_pcap=$tmp/$name.pcap"
	wait_until '[ "$(stat rx.packets)" -ge "$frames" ]' ||
		fail "$name: received $(stat rx.packets) of $frames frames in 30 s"
	stop_daemon
	expect_eq "frames received" "$(stat rx.packets)" "$frames"
	expect_eq "rx.packets = msgs + drops" "$(( $(stat_sum rx.msgs.) + $(stat_sum rx.drop.) ))" \
		"$frames"
	for kind in not_ip not_udp fragment unknown_port; do
		expect_eq "frames dropped as $kind" "$(stat rx.drop.$kind)" "$(mf "$m" junk $kind 3)"
	done
	check_decoders "$m"
	check_accounting
	"$SFINSPECT" --check "$m" "$tmp/data" > "$tmp/check.out" 2>&1 ||
		fail "$name: stored data differs from the manifest: $(head -20 "$tmp/check.out")"
	echo "ok $name: $frames frames; $(tail -1 "$tmp/check.out")"
}

run_case mix 1 --format mix --seed 21 --count 60 --junk 60 --gaps 3 --dups 3 --reorders 3
run_case mix_2workers 2 --format mix --seed 22 --count 40 --junk 30 --gaps 1 --dups 1 --reorders 1
