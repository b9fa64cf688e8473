"""pf_compare_statsd.py - the StatsD part of `make bench ONLY=compare`: the highest
rate StreamFlow and Etsy statsd each absorb with less than 0.1% loss, from the
same sfgen traffic over loopback UDP.

Traffic: `sfgen traffic --format statsd --seed 11 --series 1000 --count 1000
--statsd-types c,g,ms,s --statsd-single --pcap` (counters, gauges, timers and
sets, sample rates @0.5 and @0.25, 0-3 DogStatsD tags, CRLF now and then,
lines packed into datagrams of up to 1,400 bytes: all of it what Etsy statsd
0.9 parses; the DogStatsD h and d types and packed values, which it refuses
and logs line by line, are left out), made once into a capture before any
clock. Each step replays it with tools/sfreplay at one datagram rate for
STEP_S seconds (from the start again after the last datagram; sendmmsg in
bursts of at most 200 us, so that the sender's own cost stays far below the
receivers': about 345,000 datagrams/s, 5.7 M lines/s, into a socket nobody
reads); sfreplay counts the datagrams and lines it sent.

What was absorbed, from each server's own counters, read once it is idle:
StreamFlow the change in decode.statsd.ok (lines decoded); Etsy statsd the sum of statsd.metrics_received
over its flushes (the console backend prints every flush; a line counts as
received once read off the socket). Loss = 1 - absorbed / sent lines. The
kernel's drops for full receive buffers (/proc/net/snmp Udp RcvbufErrors,
machine-wide; one server runs at a time) are printed beside it.

The sweep doubles the rate from START_RATE until a step loses 0.1% or more, or
the sender cannot keep the rate (it then reports the rate it reached, and the
server's figure is a lower bound: printed as such), then halves the gap between
the last good and the first bad rate BISECT times. The figure is the highest
good step's lines/s. Each server runs with its defaults (StreamFlow: the
kernel-socket backend with an 8 MiB receive buffer asked for; Etsy statsd:
the kernel's default, net.core.rmem_default; both flush every 10 s), on
127.0.0.1, one at a time.
"""
import json
import os
import re
import subprocess
import sys
import time

from pf_common import REPO, bench, peer_port, start_streamflowd

STEP_S = 8
VALUES_PER_SERIES = 1000   # the capture: 1,000 series x 1,000 values, 1 M lines, ~60,000 datagrams
START_RATE = 2000
BISECT = 3
LOSS = 0.001
ETSY = os.path.join(REPO, 'var', 'peers', 'node_modules', 'statsd')


SETTINGS = ('Etsy statsd: its defaults (flushInterval 10 s, the kernel\'s receive buffer), '
            'the console backend (its flushes carry statsd.metrics_received); StreamFlow: '
            'its defaults (statsd.flush_interval 10 s, socket.rcvbuf 8 MiB)')


def etsy_path():
    return os.path.join(ETSY, 'stats.js')


def etsy_version():
    try:
        return json.load(open(os.path.join(ETSY, 'package.json')))['version']
    except (OSError, ValueError, KeyError):
        return 'unknown'


def udp_rcvbuf_errors():
    """The kernel's count of datagrams dropped for a full receive buffer (all UDP sockets)."""
    rows = [l.split() for l in open('/proc/net/snmp') if l.startswith('Udp:')]
    return int(rows[1][rows[0].index('RcvbufErrors')])


def capture(sfgen, tmp):
    """The traffic, made once: sfgen's StatsD datagrams as a capture for sfreplay."""
    path = os.path.join(tmp, 'statsd.pcap')
    subprocess.run([sfgen, 'traffic', '--format', 'statsd', '--seed', '11', '--series', '1000',
                    '--count', str(VALUES_PER_SERIES), '--statsd-types', 'c,g,ms,s',
                    '--statsd-single', '--pcap', path, '--statsd-port', '8125',
                    '--manifest', path + '.manifest'], check=True, stderr=subprocess.DEVNULL)
    return path


def send(sfreplay, pcap, port, rate):
    """One step: (datagrams, lines, seconds) sent at `rate` datagrams/s."""
    out = subprocess.run([sfreplay, '--to', '127.0.0.1:%d' % port, '--rate', str(rate),
                          '--seconds', str(STEP_S), pcap],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    m = re.search(r'datagrams=(\d+) lines=(\d+) .*seconds=([\d.]+)', out.stdout)
    if out.returncode or not m:
        sys.exit('sfreplay failed: %s %s' % (out.stdout, out.stderr[-1000:]))
    return int(m.group(1)), int(m.group(2)), float(m.group(3))


class StreamFlowStatsd:
    name = 'streamflow'

    def __init__(self, sfd, sfctl, tmp):
        self.sfctl, self.port = sfctl, peer_port()
        self.proc, _, self.sock = start_streamflowd(sfd, os.path.join(tmp, 'sf-statsd'), [
            '--set', 'statsd.listen=127.0.0.1:%d' % self.port])

    def stats(self):
        out = subprocess.run([self.sfctl, '-s', self.sock, 'stats'], check=True,
                             stdout=subprocess.PIPE, text=True).stdout
        return {k: int(v) for k, v in re.findall(r'^(\S+)\s+(\d+)$', out, re.M)}

    def absorbed(self):
        """Lines decoded so far, once the workers have read everything queued."""
        last = None
        while True:
            now = self.stats()['decode.statsd.ok']
            if now == last:
                return now
            last = now
            time.sleep(0.5)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(60)


class EtsyStatsd:
    name = 'statsd'

    def __init__(self, tmp):
        d = os.path.join(tmp, 'etsy')
        os.makedirs(d, exist_ok=True)
        self.port = peer_port()
        conf = os.path.join(d, 'config.js')
        open(conf, 'w').write(
            '{ port: %d, address: "127.0.0.1", mgmt_port: %d, mgmt_address: "127.0.0.1",\n'
            '  flushInterval: 10000, backends: ["./backends/console"],\n'
            '  console: { prettyprint: false } }\n' % (self.port, peer_port()))
        self.log = os.path.join(d, 'log')
        self.proc = subprocess.Popen(['node', etsy_path(), conf], cwd=ETSY,
                                     stdout=open(self.log, 'w'), stderr=subprocess.STDOUT)
        t = time.monotonic()
        while 'server is up' not in open(self.log).read():
            if self.proc.poll() is not None or time.monotonic() - t > 30:
                sys.exit('etsy statsd did not start: ' + open(self.log).read()[-1500:])
            time.sleep(0.1)

    def received(self):
        text = open(self.log).read()
        return (sum(int(x) for x in re.findall(r"counters: \{[^}]*'statsd\.metrics_received': (\d+)", text)),
                len(re.findall(r'Flushing stats at', text)))

    def absorbed(self):
        """metrics_received over every flush, once two flushes in a row added nothing."""
        total, flushes = self.received()
        quiet = 0
        t = time.monotonic()
        while quiet < 2:
            if time.monotonic() - t > 60:
                sys.exit('etsy statsd did not flush for 60 s')
            time.sleep(0.5)
            now, n = self.received()
            if n > flushes:
                quiet = quiet + 1 if now == total else 0
                total, flushes = now, n
        return total

    def stop(self):
        self.proc.terminate()
        self.proc.wait(60)


def sweep(server, sfreplay, pcap):
    """The highest lossless lines/s of one server: (lines_per_s, sender_limited)."""
    base, base_drops = server.absorbed(), udp_rcvbuf_errors()
    good, bad, rate, limited, bisect = None, None, START_RATE, False, 0
    while rate >= 100:
        dgrams, lines, secs = send(sfreplay, pcap, server.port, rate)
        got, drops = server.absorbed(), udp_rcvbuf_errors()
        loss = 1 - (got - base) / lines
        print('statsd %s: asked %d datagrams/s, sent %d datagrams, %d lines in %.2f s '
              '(%.0f lines/s), absorbed %d, loss %.4f%%, kernel drops %d' %
              (server.name, rate, dgrams, lines, secs, lines / secs, got - base, loss * 100,
               drops - base_drops), flush=True)
        if got - base > lines or (good is None and bad is None and loss):
            sys.exit('%s counted %d lines of %d sent at %d datagrams/s: its counters do not '
                     'match the traffic' % (server.name, got - base, lines, rate))
        base, base_drops = got, drops
        if loss < LOSS:
            good = (rate, lines / secs)
            if dgrams / secs < 0.95 * rate:   # the sender's own ceiling, and no loss
                limited = True
                break
        else:
            bad = rate
        if bad is None:
            rate *= 2
        elif good is None:
            rate //= 2
        elif bisect < BISECT:
            bisect += 1
            rate = (good[0] + bad) // 2
        else:
            break
    return (good[1] if good else 0.0), limited


def run(sfd, sfctl, sfgen, sfreplay, tmp):
    """Both sweeps; BENCH lines and the ratio."""
    pcap = capture(sfgen, tmp)
    figures = {}
    for make in (lambda: StreamFlowStatsd(sfd, sfctl, tmp), lambda: EtsyStatsd(tmp)):
        server = make()
        try:
            lps, limited = sweep(server, sfreplay, pcap)
        finally:
            server.stop()
        figures[server.name] = lps
        bench('compare_%s_statsd_lossless_lines_per_s' % server.name, lps, 'lines/s')
        if limited:
            print('note: %s absorbed everything sfreplay could send; its figure is a lower '
                  'bound' % server.name, flush=True)
            bench('compare_%s_statsd_sender_limited' % server.name, 1, 'bool')
    bench('compare_statsd_lossless_rate_statsd_ratio',
          figures['streamflow'] / figures['statsd'] if figures['statsd'] else float('inf'), 'x')
