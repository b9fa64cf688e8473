#!/bin/sh
# test_ingest_afpacket.sh - the DPDK backend on live traffic: a veth pair
# whose far end sits in a network namespace this test creates; streamflowd
# --set backend=dpdk reads the near end through net_af_packet while sfgen,
# inside the namespace, sends StatsD, line protocol and binary frames to it
# over real UDP. What is stored must match sfgen's manifest exactly, and
# every frame the port received is delivered or dropped by cause (the
# link's own IPv6 neighbour discovery lands in not_udp, for example).
# Exits 77 when namespaces or veth cannot be created, or the EAL cannot start.
# usage: test_ingest_afpacket.sh streamflowd sfgen sfinspect
set -u
SFD="$1"; SFGEN="$2"; SFINSPECT="$3"
. "$(dirname "$0")/lib.sh"

ns="sfns$$"
va="sfa$$"; vb="sfb$$"
netns_cleanup() {
	ip netns del "$ns" 2>/dev/null
	ip link del "$va" 2>/dev/null
	cleanup
}
trap netns_cleanup EXIT
ip netns add "$ns" 2>/dev/null || skip "cannot create a network namespace"
ip link add "$va" type veth peer name "$vb" 2>/dev/null || skip "cannot create a veth pair"
# The near end has no address: the kernel drops what arrives there without an ICMP answer
# (which would refuse sfgen's connected sockets), and DPDK sees every frame. The sender
# reaches 10.231.0.1 through a static neighbour entry for the near end's MAC.
mac=$(cat "/sys/class/net/$va/address")
ip link set "$vb" netns "$ns" && ip link set "$va" up &&
	ip netns exec "$ns" ip addr add 10.231.0.2/24 dev "$vb" &&
	ip netns exec "$ns" ip link set "$vb" up &&
	ip netns exec "$ns" ip neigh add 10.231.0.1 lladdr "$mac" dev "$vb" nud permanent ||
	fail "cannot configure the veth pair"

start_daemon --set backend=dpdk --set statsd.flush_interval=1h \
	--set dpdk.eal_args="--no-huge --no-pci --no-shconf --no-telemetry -m 256 --file-prefix sfa$$" \
	-- --vdev="net_af_packet0,iface=$va"

m="$tmp/run.m"
ip netns exec "$ns" "$SFGEN" traffic --manifest "$m" --format mix --seed 31 --count 40 \
	--junk 20 --gaps 2 --dups 2 --reorders 2 --rate 2000 --max-seconds 60 \
	--statsd-to 10.231.0.1:8125 --line-to 10.231.0.1:8089 --binary-to 10.231.0.1:7100 \
	> "$tmp/sfgen.out" 2>&1 || fail "sfgen: $(cat "$tmp/sfgen.out")"
wait_until '[ "$(stat decode.statsd.ok)" -ge "$(mf "$m" sent statsd 4)" ] &&
	[ "$(stat decode.line.ok)" -ge "$(mf "$m" sent line 4)" ] &&
	[ "$(( $(stat worker.values.binary) + $(stat binary.defs) ))" -ge "$(mf "$m" sent binary 4)" ]' ||
	fail "the daemon did not receive everything in 30 s"
stop_daemon
expect_eq "rx.packets = msgs + drops" "$(( $(stat_sum rx.msgs.) + $(stat_sum rx.drop.) ))" \
	"$(stat rx.packets)"
check_decoders "$m"
check_accounting
"$SFINSPECT" --check "$m" "$tmp/data" > "$tmp/check.out" 2>&1 ||
	fail "stored data differs from the manifest: $(head -20 "$tmp/check.out")"
echo "ok af_packet: $(stat rx.packets) frames ($(stat rx.drop.not_ip) not IP, $(stat rx.drop.not_udp) not UDP); $(tail -1 "$tmp/check.out")"
