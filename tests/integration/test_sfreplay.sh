#!/bin/sh
# test_sfreplay.sh - the capture replayer (tools/sfreplay.c) against the real
# daemon's StatsD listener: sfgen's StatsD traffic written to a capture (with
# a line-protocol stream to another port beside it), replayed at a rate for a
# time: the datagrams and lines it reports sent are the ones the daemon reads
# and decodes (more than the capture holds: it starts over after the last),
# the rate is kept, --port leaves the other port's datagrams out; a capture
# with nothing to that port (exit 2), a usage error (exit 2), a file that is
# not a capture (exit 1).
# usage: test_sfreplay.sh PATH/TO/streamflowd PATH/TO/sfgen PATH/TO/sfreplay
set -u
SFD="$1"; SFGEN="$2"; SFREPLAY="$3"
. "$(dirname "$0")/lib.sh"

sp=$(free_port)
start_daemon --set statsd.listen=127.0.0.1:$sp --set line.udp_listen=127.0.0.1:0 \
	--set line.tcp_listen=127.0.0.1:0 --set binary.listen=127.0.0.1:0

"$SFGEN" traffic --format mix --weights 3,1,0 --seed 5 --series 40 --count 50 \
	--statsd-types c,g,ms,s --statsd-single --pcap "$tmp/t.pcap" --statsd-port 8125 \
	--line-port 8089 --binary-port 7100 --manifest "$tmp/t.manifest" 2> /dev/null ||
	fail "sfgen --pcap"
dgrams_in_capture=$(mf "$tmp/t.manifest" sent statsd 3)
[ "$dgrams_in_capture" -gt 0 ] || fail "no StatsD datagrams in the capture"

replay_run() { n="$1"; w="$2"; shift 2; tool_run "$n" "$w" "$SFREPLAY" "$@"; }

# 1,500 datagrams/s for 2 s: 3,000 datagrams, more than the capture's StatsD ones
if replay_run replay 0 --to 127.0.0.1:$sp --port 8125 --rate 1500 --seconds 2 "$tmp/t.pcap"; then
	d=$(field datagrams); l=$(field lines)
	[ "$d" -ge 2990 ] && [ "$d" -le 3000 ] && [ "$d" -gt "$dgrams_in_capture" ] && ok rate ||
		bad rate "sent $d datagrams at 1500/s for 2 s (the capture holds $dgrams_in_capture)"
	wait_until '[ "$(stat rx.msgs.statsd)" = "$d" ]' && ok datagrams_read ||
		bad datagrams_read "rx.msgs.statsd $(stat rx.msgs.statsd), sent $d"
	wait_until '[ "$(stat decode.statsd.ok)" = "$l" ]' && ok lines_decoded ||
		bad lines_decoded "decode.statsd.ok $(stat decode.statsd.ok), sfreplay sent $l lines"
	[ "$(stat rx.msgs.line)" = 0 ] && ok port_filter ||
		bad port_filter "rx.msgs.line $(stat rx.msgs.line): line-protocol datagrams were sent"
fi

# a blank line is not a line: one datagram "a:1|c\n\nb:2.5|ms\n", as an Ethernet/IPv4/UDP capture
python3 - "$tmp/blank.pcap" "$sp" <<'PY' || fail "writing blank.pcap"
import struct, sys
payload = b"a:1|c\n\nb:2.5|ms\n"
udp = struct.pack('!HHHH', 40000, int(sys.argv[2]), 8 + len(payload), 0) + payload
ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(udp), 1, 0, 64, 17, 0,
                 bytes([127, 0, 0, 1]), bytes([127, 0, 0, 1])) + udp
frame = b'\0' * 12 + b'\x08\x00' + ip
open(sys.argv[1], 'wb').write(struct.pack('<IHHiIII', 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1) +
                              struct.pack('<IIII', 0, 0, len(frame), len(frame)) + frame)
PY
before=$(stat decode.statsd.ok)
if replay_run blank_line 0 --to 127.0.0.1:$sp --rate 100 --seconds 1 "$tmp/blank.pcap"; then
	d=$(field datagrams); l=$(field lines)
	[ "$l" = $((2 * d)) ] && ok blank_line || bad blank_line "$d datagrams counted as $l lines"
	wait_until '[ "$(stat decode.statsd.ok)" = $((before + l)) ]' && ok blank_line_decoded ||
		bad blank_line_decoded "decode.statsd.ok $(stat decode.statsd.ok), want $before + $l"
fi

replay_run no_payload 2 --to 127.0.0.1:$sp --port 9 --rate 10 --seconds 1 "$tmp/t.pcap" &&
	grep -q "no UDP payload" "$tmp/err" && ok no_payload
replay_run usage 2 --to 127.0.0.1 --rate 10 --seconds 1 "$tmp/t.pcap" && ok usage
replay_run no_seconds 2 --to 127.0.0.1:$sp --rate 10 "$tmp/t.pcap" && ok no_seconds
replay_run not_pcap 1 --to 127.0.0.1:$sp --rate 10 --seconds 1 "$tmp/t.manifest" && ok not_pcap

stop_daemon
finish sfreplay
