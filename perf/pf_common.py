"""pf_common.py - what the Python benchmarks (pf_query_bench.py, pf_compare.py)
share: BENCH lines, nearest-rank percentiles, the shared TSBS dataset,
streamflowd started on a scratch directory with the HTTP port the kernel
gave it, and free ports for peers that cannot report theirs.
"""
import math
import os
import random
import re
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
TSBS = os.path.join(REPO, '..', 'shared', 'data', 'tsbs')
DATASET = os.path.join(TSBS, 'cpu-only_scale100_1d_seed123.influx.zst')


def bench(name, value, unit):
    print('BENCH %s %s %s' % (name, ('%.4g' % value) if isinstance(value, float) else value,
                              unit), flush=True)


def pct(v, p):
    """Nearest rank: the smallest value with at least p of the samples at or below it."""
    v = sorted(v)
    return v[max(0, math.ceil(p * len(v)) - 1)]


def start_streamflowd(sfd, scratch, extra=()):
    """streamflowd on scratch/data, socket scratch/sock, log scratch/log, no UDP/TCP
    listeners, HTTP on a kernel-given port: (proc, http_port, socket_path) once ready."""
    os.makedirs(scratch, exist_ok=True)
    sock, log = os.path.join(scratch, 'sock'), os.path.join(scratch, 'log')
    proc = subprocess.Popen(
        [sfd, '--set', 'data_dir=' + os.path.join(scratch, 'data'), '--set', 'log.level=info',
         '--set', 'http.listen=127.0.0.1:0', '--set', 'mgmt.socket=' + sock,
         '--set', 'statsd.listen=127.0.0.1:0', '--set', 'line.udp_listen=127.0.0.1:0',
         '--set', 'line.tcp_listen=127.0.0.1:0', '--set', 'binary.listen=127.0.0.1:0']
        + list(extra), stdout=open(log, 'w'), stderr=subprocess.STDOUT)
    for _ in range(600):
        if proc.poll() is not None:
            sys.exit('streamflowd exited: ' + open(log).read()[-2000:])
        text = open(log).read()
        m = re.search(r' http event=listening .* port=(\d+)', text)
        if 'event=ready' in text and m:
            return proc, int(m.group(1)), sock
        time.sleep(0.05)
    proc.kill()
    sys.exit('streamflowd not ready in 30 s')


def peer_port():
    """A TCP port free on 127.0.0.1 now, below the kernel's ephemeral range (where the
    kernel-given ports of everything else land), as tests/integration/lib.sh picks them."""
    try:
        lo = int(open('/proc/sys/net/ipv4/ip_local_port_range').read().split()[0])
    except (OSError, ValueError, IndexError):
        lo = 32768
    lo = lo if lo > 12000 else 32768
    while True:
        p = random.randrange(10000, lo)
        with socket.socket() as s:
            try:
                s.bind(('127.0.0.1', p))
                return p
            except OSError:
                continue
