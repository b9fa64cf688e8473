#!/usr/bin/env python3
"""pf_query_bench.py - `make bench ONLY=query`: the TSBS query benchmark.

Starts the real daemon (release build) on a scratch data directory, imports
the shared TSBS dataset (../shared/data/tsbs, 864,000 lines, 8.64 M values)
with `sfctl import` straight from the .zst file (the bulk-import figure:
client decompression, parsing and batching included), checkpoints it into blocks
(`sfctl flush`, so queries read the warm tier as they would a day later),
then runs the first N queries of every TSBS query type (default 100) over
HTTP (/query, one keep-alive connection) and over the management socket,
one at a time, and prints per type and path the p50 and p99 latency (nearest
rank). Each type's queries run once untimed first, so both paths see warm caches
(the page cache and the section cache hold the day's blocks, 4.3 MB decompressed):

  BENCH import_lines_per_s <v> lines/s
  BENCH query_<type>_p50_ms <v> ms        (HTTP; the issue's names)
  BENCH query_<type>_p99_ms <v> ms
  BENCH query_socket_<type>_p50_ms <v> ms
  BENCH query_<type>_p50_target_ratio <p50 / target>   (<= 1: target met)

Latency is wall time at the client, request sent to last byte read. The
socket client parses each JSON reply (json.loads) and the HTTP client does
not, so a large answer's socket figure includes Python's parse. The
peer comparison (InfluxDB, VictoriaMetrics on the same queries) is
`make bench ONLY=compare` (issue 6); the targets are issue 5's.

Usage: pf_query_bench.py STREAMFLOWD SFCTL [N] [--types=T1,T2] [--no-flush] [--set=K=V ...]
  --types=    only these query types (e.g. lastpoint,groupby-orderby-limit)
  --set=K=V   a daemon setting (e.g. --set=mgmt.decode_threads=1 --set=dataplane.pin=false)
  --no-flush  query the data where the import leaves it: hot chunks and the
              WAL (a live series' newest points), not warm blocks
"""
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse

from pf_common import DATASET, TSBS, bench, pct, start_streamflowd

TARGET_MS = {'lastpoint': 1, 'single-groupby-1-1-1': 1, 'double-groupby-all': 50,
             'high-cpu-all': 50}
DEFAULT_TARGET_MS = 10


def sock_query(sock, q):
    sock.sendall((json.dumps({'cmd': 'query', 'q': q, 'db': 'benchmark'}) + '\n').encode())
    buf = b''
    while not buf.endswith(b'\n'):
        chunk = sock.recv(1 << 20)
        if not chunk:
            sys.exit('management socket closed')
        buf += chunk
    r = json.loads(buf)
    if not r.get('ok'):
        sys.exit('socket query failed: %s' % buf[:300])


def http_query(conn, q):
    body = urllib.parse.urlencode({'q': q, 'db': 'benchmark'})
    conn.request('POST', '/query', body, {'Content-Type': 'application/x-www-form-urlencoded'})
    r = conn.getresponse()
    data = r.read()
    if r.status != 200 or b'"error"' in data:
        sys.exit('query failed (%d): %s: %s' % (r.status, q[:120], data[:300]))


def main():
    args = [a for a in sys.argv[1:] if not a.startswith('--')]
    opts = [a for a in sys.argv[1:] if a.startswith('--')]
    types, flush, extra = None, True, []
    for o in opts:
        if o.startswith('--set='):
            extra += ['--set', o.split('=', 1)[1]]
        elif o.startswith('--types='):
            types = set(o.split('=', 1)[1].split(','))
        elif o == '--no-flush':
            flush = False
        else:
            sys.exit('unknown option %s\n%s' % (o, __doc__))
    if len(args) < 2:
        sys.exit(__doc__)
    sfd, sfctl = args[0], args[1]
    n = int(args[2]) if len(args) > 2 else 100
    dataset = DATASET
    if not os.path.exists(dataset):
        print('SKIP: %s is missing' % dataset)
        sys.exit(77)
    tmp = tempfile.mkdtemp(prefix='pf_query.')
    proc = None
    try:
        proc, port, sockp = start_streamflowd(sfd, tmp, extra)
        ctl = [sfctl, '-s', sockp, '-d', 'benchmark']
        subprocess.run(ctl + ['query', 'CREATE DATABASE benchmark'], check=True,
                       stdout=subprocess.DEVNULL)
        t0 = time.monotonic()
        out = subprocess.run(ctl + ['--quiet', 'import', dataset], check=True,
                             stdout=subprocess.PIPE, text=True).stdout
        m = re.search(r'imported (\d+) lines', out)
        if not m:
            sys.exit('sfctl import printed no line count: ' + out[-500:])
        bench('import_lines_per_s', int(m.group(1)) / (time.monotonic() - t0), 'lines/s')
        if flush:
            subprocess.run(ctl + ['flush'], check=True, stdout=subprocess.DEVNULL)

        conn = http.client.HTTPConnection('127.0.0.1', port, timeout=120)
        sock = socket.socket(socket.AF_UNIX)
        sock.connect(sockp)
        qdir = os.path.join(TSBS, 'queries')
        for fn in sorted(os.listdir(qdir)):
            qtype = fn[:-4]
            if types is not None and qtype not in types:
                continue
            qs = [l.split('\t')[4] for l in open(os.path.join(qdir, fn)).read().splitlines()][:n]
            for q in qs:  # warm, untimed: both paths then find the same caches
                http_query(conn, q)
            for path, run in (('', lambda q: http_query(conn, q)),
                              ('socket_', lambda q: sock_query(sock, q))):
                lat = []
                for q in qs:
                    t = time.monotonic()
                    run(q)
                    lat.append((time.monotonic() - t) * 1e3)
                bench('query_%s%s_p50_ms' % (path, qtype), pct(lat, 0.5), 'ms')
                bench('query_%s%s_p99_ms' % (path, qtype), pct(lat, 0.99), 'ms')
                if not path:
                    bench('query_%s_p50_target_ratio' % qtype,
                          pct(lat, 0.5) / TARGET_MS.get(qtype, DEFAULT_TARGET_MS), 'x')
        sock.close()
        conn.close()
    finally:
        if proc and proc.poll() is None:
            proc.terminate()
            proc.wait(60)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == '__main__':
    main()
