#!/usr/bin/env python3
"""pf_compare.py - `make bench ONLY=compare`: StreamFlow side by side with
VictoriaMetrics and InfluxDB 1.6 on the shared TSBS dataset (ingest, storage,
queries), and with Etsy statsd on sfgen's StatsD traffic (pf_compare_statsd.py),
every figure a ratio measured in the same run on the same machine.

The peers must be installed (tools/install-peers; `make bench ONLY=compare`
runs it first); without them this exits 77 (SKIP). Each system runs on
127.0.0.1 with its own data directory under one temp directory, with the
settings in SETTINGS below (printed at the start, with the versions), and
is stopped and cleaned at the end, also on failure.

Ingest: the dataset (../shared/data/tsbs, 864,000 lines, 8.64 M values) is
loaded into a fresh instance of each system by tools/sfload (gzip'd
10,000-line batches prepared before the clock, POSTed over N keep-alive
connections to the system's InfluxDB-compatible /write), for each N in
--conns, and then made to write everything down and merge (persist):
StreamFlow `sfctl flush` (a checkpoint into blocks); VictoriaMetrics
/internal/force_flush and /internal/force_merge, then until it is back to
its idle CPU rate; InfluxDB (cache-snapshot-write-cold-duration = 1s,
compact-full-write-cold-duration = 5s) until its WAL files are empty and
one TSM generation is left. Reported per system and N:
  values/s           sfload's clock (first request to last answer)
  CPU-s per M values utime + stime of the server process (/proc) from just
                     before the load to the end of persist: the CPU it
                     takes to get the data durable and merged, deferred work
                     included; its idle rate (2 s before the load) is
                     printed apart (compare_<system>_idle_cpu_s_per_s), not
                     subtracted (StreamFlow's workers poll)
and every system's stored values are counted after persist (StreamFlow
store.points_stored, VictoriaMetrics count_over_time, InfluxDB count(*));
a shortfall is printed and fails the run. The ratios use each system's
fastest N; CPU ratios are also printed per equal N.

Storage, after the largest N's persist: on-disk bytes per value and
resident memory (VmRSS) per series (1,000 series: 100 hosts x 10 fields).
Disk: VictoriaMetrics its data directory; InfluxDB data, wal and meta;
StreamFlow its data directory less the WAL's preallocated segments (two of
wal.segment_size per shard whatever the data: printed apart; more WAL than
that fails the run).

Queries, on the same persisted instance: the first --queries (100) of each
of the 16 TSBS devops types (../shared/data/tsbs/queries), one at a time on
one keep-alive connection: StreamFlow and InfluxDB as TSBS's influx runner
sends them (POST /query?q=...&db=benchmark), VictoriaMetrics through the
MetricsQL translation of pf_tsbs_vm.py (its docstring has it, per type), with
nocache=1 and again as TSBS runs it, with its rollup result cache. Before the
timing, the first CHECKED (5) of each type run once with epoch=ms and every
system's answers are reduced to cells and compared with StreamFlow's; the
mismatched cells are counted and the first printed, never fatal (they also
warm every system's caches). p50 and p99 (nearest rank) per system, and the
ratio to the fastest peer variant per type.

Output: per-system lines (BENCH compare_<system>_<metric> ...) and the
ratios StreamFlow / peer:
  BENCH compare_ingest_cpu_per_mvalue_<peer>_ratio
  BENCH compare_ingest_cpu_per_mvalue_<peer>_c<N>_ratio
  BENCH compare_ingest_values_per_s_<peer>_ratio
  BENCH compare_disk_bytes_per_value_<peer>_ratio
  BENCH compare_rss_bytes_per_series_<peer>_ratio
  BENCH compare_query_check_<type>_<peer>_mismatched_cells   (and _cells)
  BENCH compare_query_p50_<type>_best_peer_ratio
  BENCH compare_statsd_lossless_rate_statsd_ratio

Usage: pf_compare.py STREAMFLOWD SFCTL SFLOAD SFGEN SFREPLAY [--conns=1,2,4]
                     [--queries=100] [--parts=tsbs,statsd]
"""
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from http.client import HTTPConnection

import pf_compare_statsd
import pf_tsbs_vm
from pf_common import DATASET, TSBS, bench, pct, peer_port, start_streamflowd

VALUES = 8640000
SERIES = 1000
FIRST_MS = 1451606400000   # the dataset's first timestamp, 2016-01-01T00:00:00Z
CHECKED = 5                # queries per type whose answers are compared (and warm the caches)
TICK = os.sysconf('SC_CLK_TCK')
PEER_BINS = ('victoria-metrics', 'influxd')

# What each system runs with; printed, and copied into docs/BENCHMARKS.md.
SETTINGS = {
    'streamflow': 'defaults, plus shard.ooo_window=24h (several connections deliver a '
                  'day-long set out of order: the default 1h window refuses older points)',
    'victoriametrics': 'defaults, plus -retentionPeriod=100y (the dataset is from 2016)',
    'influxdb': 'defaults, plus reporting off, [monitor] store off, '
                'cache-snapshot-write-cold-duration = 1s and compact-full-write-cold-duration '
                '= 5s (so it writes down and compacts within the run)',
}


def http(method, url, body=None, timeout=120):
    req = urllib.request.Request(url, data=body, method=method)
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.status, r.read()


def cpu_s(pid):
    f = open('/proc/%d/stat' % pid).read().rsplit(')', 1)[1].split()
    return (int(f[11]) + int(f[12])) / TICK


def rss_bytes(pid):
    m = re.search(r'VmRSS:\s+(\d+) kB', open('/proc/%d/status' % pid).read())
    return int(m.group(1)) * 1024


def du(*paths):
    total = 0
    for path in paths:
        for root, _, files in os.walk(path):
            for f in files:
                try:
                    total += os.lstat(os.path.join(root, f)).st_blocks * 512
                except OSError:
                    pass
    return total


def idle_rate(pid, span=2.0):
    """CPU-s per second the process spends doing nothing asked of it (polling, timers)."""
    c0, t0 = cpu_s(pid), time.monotonic()
    time.sleep(span)
    return (cpu_s(pid) - c0) / (time.monotonic() - t0)


def settle(pid, idle, quiet=0.01, step=0.5, limit=60):
    """Wait until the process is back to its idle rate (plus `quiet` CPU-s per `step`).
    False if it was not within `limit` s."""
    t = time.monotonic()
    last = cpu_s(pid)
    while time.monotonic() - t < limit:
        time.sleep(step)
        now = cpu_s(pid)
        if now - last < idle * step + quiet:
            return True
        last = now
    return False


def package_version(pkg):
    """The installed Debian package's version (the binaries do not all print one)."""
    return subprocess.run(['dpkg-query', '-W', '-f', '${Version}', pkg], stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL, text=True).stdout.strip() or 'unknown'


def wait_http(port, proc, what, path, timeout=30):
    t = time.monotonic()
    while time.monotonic() - t < timeout:
        if proc.poll() is not None:
            sys.exit('%s exited during start' % what)
        try:
            http('GET', 'http://127.0.0.1:%d%s' % (port, path), timeout=2)
            return
        except Exception:
            time.sleep(0.1)
    sys.exit('%s did not answer %s on %d' % (what, path, port))


class System:
    """One system under test: start() a fresh instance, persist() after a load."""
    PING = '/ping'   # answers at once, no work (InfluxDB's /ping, 204)

    def __init__(self, name, tmp):
        self.name, self.dir, self.proc, self.port = name, os.path.join(tmp, name), None, None
        self.idle = 0.0

    def fresh_dir(self):
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)

    def write_url(self):
        return 'http://127.0.0.1:%d/write?db=benchmark' % self.port

    def connect(self):
        self.conn = HTTPConnection('127.0.0.1', self.port, timeout=600)

    def request(self, method, path):
        """One request on the keep-alive connection: the body, or exit on an error."""
        self.conn.request(method, path)
        r = self.conn.getresponse()
        data = r.read()
        if r.status not in (200, 204) or b'"error"' in data[:200]:
            sys.exit('%s answered %d to %s: %s' % (self.name, r.status, path[:200], data[:300]))
        return data

    def query_request(self, q, cached=False):
        """What TSBS's influx query runner sends: POST /query?q=...&db=benchmark."""
        return 'POST', '/query?' + urllib.parse.urlencode({'q': q.q, 'db': 'benchmark'})

    def query_cells(self, q):
        body = self.request('POST', '/query?' + urllib.parse.urlencode(
            {'q': q.q, 'db': 'benchmark', 'epoch': 'ms'}))
        return pf_tsbs_vm.cells_influx(q, json.loads(body))

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


class StreamFlow(System):
    def __init__(self, tmp, sfd, sfctl):
        super().__init__('streamflow', tmp)
        self.sfd, self.sfctl = sfd, sfctl

    def version(self):
        return 'this tree (%s)' % self.sfd

    def start(self):
        self.fresh_dir()
        self.proc, self.port, self.sock = start_streamflowd(
            self.sfd, self.dir, ['--set', 'shard.ooo_window=24h'])
        http('POST', 'http://127.0.0.1:%d/query?q=CREATE+DATABASE+benchmark' % self.port, b'')

    def stat(self, key):
        out = subprocess.run([self.sfctl, '-s', self.sock, 'stats'], check=True,
                             stdout=subprocess.PIPE, text=True).stdout
        m = re.search(r'^%s\s+(\d+)$' % re.escape(key), out, re.M)
        return int(m.group(1)) if m else None

    def persist(self):
        subprocess.run([self.sfctl, '-s', self.sock, 'flush'], check=True,
                       stdout=subprocess.DEVNULL)

    def stored(self):
        return self.stat('store.points_stored')

    def wal_bytes(self):
        return du(*glob.glob(os.path.join(self.dir, 'data', 'shard-*', 'wal')))

    def data_bytes(self):
        """The data directory less the WAL's preallocated segments (printed apart)."""
        wal = self.wal_bytes()
        shards = len(glob.glob(os.path.join(self.dir, 'data', 'shard-*')))
        if wal > shards * 2 * (64 << 20):
            sys.exit('streamflow holds %d WAL bytes after its flush: more than its two '
                     'preallocated segments per shard' % wal)
        bench('compare_streamflow_wal_preallocated_bytes', wal, 'bytes')
        return du(os.path.join(self.dir, 'data')) - wal


class VictoriaMetrics(System):
    PING = '/health'

    def __init__(self, tmp):
        super().__init__('victoriametrics', tmp)

    def version(self):
        return package_version('victoria-metrics')

    def start(self):
        self.fresh_dir()
        self.port = peer_port()
        self.proc = subprocess.Popen(
            ['victoria-metrics', '-storageDataPath=' + os.path.join(self.dir, 'data'),
             '-httpListenAddr=127.0.0.1:%d' % self.port, '-retentionPeriod=100y',
             '-loggerLevel=ERROR'],
            stdout=open(os.path.join(self.dir, 'log'), 'w'), stderr=subprocess.STDOUT)
        wait_http(self.port, self.proc, 'victoria-metrics', '/health')

    def persist(self):
        base = 'http://127.0.0.1:%d' % self.port
        http('GET', base + '/internal/force_flush')
        http('GET', base + '/internal/force_merge?partition_prefix=2016_01', timeout=600)
        if not settle(self.proc.pid, self.idle):
            print('note: victoria-metrics did not go back to idle in 60 s', flush=True)

    def stored(self):
        q = urllib.parse.urlencode({'query': 'sum(count_over_time({__name__=~"cpu_.*"}[2d]))',
                                    'time': '2016-01-02T12:00:00Z'})
        _, body = http('GET', 'http://127.0.0.1:%d/api/v1/query?%s' % (self.port, q))
        res = json.loads(body)['data']['result']
        return int(float(res[0]['value'][1])) if res else 0

    def data_bytes(self):
        return du(os.path.join(self.dir, 'data'))

    def query_request(self, q, cached=False):
        """The MetricsQL translation; cached: with the rollup result cache, as TSBS runs it."""
        return 'GET', pf_tsbs_vm.vm_url(q, FIRST_MS, self.now, not cached)

    def query_cells(self, q):
        body = self.request('GET', pf_tsbs_vm.vm_url(q, FIRST_MS, self.now, True))
        return pf_tsbs_vm.cells_vm(q, json.loads(body))


class InfluxDB(System):
    def __init__(self, tmp):
        super().__init__('influxdb', tmp)

    def version(self):
        return package_version('influxdb')

    def start(self):
        self.fresh_dir()
        self.port = peer_port()
        conf = os.path.join(self.dir, 'influxdb.conf')
        d = self.dir
        open(conf, 'w').write(
            'reporting-disabled = true\nbind-address = "127.0.0.1:%d"\n'
            '[meta]\n  dir = "%s/meta"\n'
            '[data]\n  dir = "%s/data"\n  wal-dir = "%s/wal"\n'
            '  cache-snapshot-write-cold-duration = "1s"\n'
            '  compact-full-write-cold-duration = "5s"\n'
            '[http]\n  bind-address = "127.0.0.1:%d"\n  log-enabled = false\n'
            '[monitor]\n  store-enabled = false\n' % (peer_port(), d, d, d, self.port))
        self.proc = subprocess.Popen(['influxd', '-config', conf],
                                     stdout=open(os.path.join(d, 'log'), 'w'),
                                     stderr=subprocess.STDOUT)
        wait_http(self.port, self.proc, 'influxd', '/ping')
        http('POST', 'http://127.0.0.1:%d/query?q=CREATE+DATABASE+benchmark' % self.port, b'')

    def persist(self):
        """Until the WAL files are empty and one TSM generation is left, then idle."""
        t = time.monotonic()
        while True:
            wal = [f for f in glob.glob(os.path.join(self.dir, 'wal', '**', '*.wal'),
                                        recursive=True) if os.path.getsize(f) > 0]
            tsm = glob.glob(os.path.join(self.dir, 'data', '**', '*.tsm'), recursive=True)
            if not wal and len({os.path.basename(f).split('-')[0] for f in tsm}) == 1:
                break
            if time.monotonic() - t > 300:
                sys.exit('influxdb did not write down and compact in 300 s')
            time.sleep(1)
        if not settle(self.proc.pid, self.idle):
            print('note: influxd did not go back to idle in 60 s', flush=True)

    def stored(self):
        q = urllib.parse.urlencode({'db': 'benchmark', 'q': 'SELECT count(*) FROM cpu'})
        _, body = http('GET', 'http://127.0.0.1:%d/query?%s' % (self.port, q))
        series = json.loads(body)['results'][0].get('series', [])
        return sum(series[0]['values'][0][1:]) if series else 0

    def data_bytes(self):
        return du(*(os.path.join(self.dir, x) for x in ('data', 'wal', 'meta')))


def tsbs_queries(n):
    """{type: [pf_tsbs_vm.Query]}: the first n of every TSBS query type."""
    qdir = os.path.join(TSBS, 'queries')
    return {fn[:-4]: [pf_tsbs_vm.Query(fn[:-4], l.split('\t')[4])
                      for l in open(os.path.join(qdir, fn)).read().splitlines()[:n]]
            for fn in sorted(os.listdir(qdir))}


def timed(s, requests):
    """p50 and p99 (ms) of (method, path) requests, each built before the clock."""
    lat = []
    for method, path in requests:
        t = time.monotonic()
        s.request(method, path)
        lat.append((time.monotonic() - t) * 1e3)
    return pct(lat, 0.5), pct(lat, 0.99)


def run_queries(s, queries, cells, p50):
    """Every type's queries on system s (persisted, running): the first CHECKED once with
    epoch=ms for the answer check (they also warm its caches), then all of them timed, one
    at a time on one keep-alive connection. cells[type][system] and p50[type][system] filled."""
    s.connect()
    s.now = int(time.time())
    # the floor under every latency: a request that asks for no work, on the same connection
    for _ in range(20):
        s.request('GET', s.PING)
    floor, _ = timed(s, [('GET', s.PING)] * 200)
    bench('compare_%s_http_floor_p50_ms' % s.name, floor, 'ms')
    variants = [(s.name, False)]
    if isinstance(s, VictoriaMetrics):   # also as TSBS runs it, with the rollup result cache
        variants.append(('victoriametrics_cached', True))
    for qtype, qs in queries.items():
        cells.setdefault(qtype, {})[s.name] = [s.query_cells(q) for q in qs[:CHECKED]]
        for name, cached in variants:
            a, b = timed(s, [s.query_request(q, cached) for q in qs])
            bench('compare_%s_query_%s_p50_ms' % (name, qtype), a, 'ms')
            bench('compare_%s_query_%s_p99_ms' % (name, qtype), b, 'ms')
            p50.setdefault(qtype, {})[name] = a
    s.conn.close()


def check_answers(cells):
    """The peers' answers against StreamFlow's, cell by cell; mismatches printed, not fatal."""
    for qtype, by in cells.items():
        for peer in ('victoriametrics', 'influxdb'):
            bad, total = [], 0
            for mine, theirs in zip(by['streamflow'], by[peer]):
                total += len(mine)
                bad += pf_tsbs_vm.mismatches(mine, theirs)
            bench('compare_query_check_%s_%s_cells' % (qtype, peer), total, 'cells')
            if total == 0:
                print('note: %s: streamflow answered no cells; nothing was compared with %s'
                      % (qtype, peer), flush=True)
            bench('compare_query_check_%s_%s_mismatched_cells' % (qtype, peer), len(bad),
                  'cells')
            for k, x, y in bad[:3]:
                print('mismatch %s %s: %s streamflow %s, %s %s' % (qtype, peer, k, x, peer, y),
                      flush=True)


def load(sfload, url, conns):
    out = subprocess.run([sfload, '--url', url, '--connections', str(conns), DATASET],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    m = re.search(r'values=(\d+) .* values_per_s=(\d+) failed=(\d+)', out.stdout)
    if out.returncode or not m or int(m.group(3)):
        sys.exit('sfload into %s failed: %s %s' % (url, out.stdout, out.stderr[-1000:]))
    if int(m.group(1)) != VALUES:
        sys.exit('sfload sent %s values, want %d' % (m.group(1), VALUES))
    return float(m.group(2))


def run_tsbs(systems, sfload, conns, queries):
    """Ingest, storage and queries of every system, one at a time; then the ratios."""
    runs = {}   # (system, N) -> {'vps', 'cpu'}
    best = {}
    cells, p50 = {}, {}
    for s in systems:
        for n in conns:
            s.start()
            pid = s.proc.pid
            s.idle = idle_rate(pid)
            c0 = cpu_s(pid)
            vps = load(sfload, s.write_url(), n)
            s.persist()
            cpu = (cpu_s(pid) - c0) / (VALUES / 1e6)
            stored = s.stored()
            if stored != VALUES:
                sys.exit('%s stores %s values after the load, want %d' %
                         (s.name, stored, VALUES))
            bench('compare_%s_ingest_values_per_s_c%d' % (s.name, n), vps, 'values/s')
            bench('compare_%s_ingest_cpu_per_mvalue_c%d' % (s.name, n), cpu, 'cpu-s')
            bench('compare_%s_idle_cpu_s_per_s_c%d' % (s.name, n), s.idle, 'cpu-s/s')
            runs[s.name, n] = {'vps': vps, 'cpu': cpu}
            if s.name not in best or vps > best[s.name]['vps']:
                best[s.name] = dict(runs[s.name, n], conns=n)
            if n != conns[-1]:
                s.stop()
        # storage: the largest N's instance, persisted
        disk = s.data_bytes() / VALUES
        rss = rss_bytes(s.proc.pid) / SERIES
        best[s.name].update(disk=disk, rss=rss)
        bench('compare_%s_disk_bytes_per_value' % s.name, disk, 'bytes')
        bench('compare_%s_rss_bytes_per_series' % s.name, rss, 'bytes')
        run_queries(s, queries, cells, p50)
        s.stop()
    sf = best['streamflow']
    for peer in ('victoriametrics', 'influxdb'):
        p = best[peer]
        bench('compare_ingest_cpu_per_mvalue_%s_ratio' % peer, sf['cpu'] / p['cpu'], 'x')
        for n in conns:
            bench('compare_ingest_cpu_per_mvalue_%s_c%d_ratio' % (peer, n),
                  runs['streamflow', n]['cpu'] / runs[peer, n]['cpu'], 'x')
        bench('compare_ingest_values_per_s_%s_ratio' % peer, sf['vps'] / p['vps'], 'x')
        bench('compare_disk_bytes_per_value_%s_ratio' % peer, sf['disk'] / p['disk'], 'x')
        bench('compare_rss_bytes_per_series_%s_ratio' % peer, sf['rss'] / p['rss'], 'x')
    check_answers(cells)
    for qtype, by in p50.items():
        peer = min((v, k) for k, v in by.items() if k != 'streamflow')
        print('query %s: the faster peer is %s' % (qtype, peer[1]), flush=True)
        bench('compare_query_p50_%s_best_peer_ratio' % qtype, by['streamflow'] / peer[0], 'x')


def main():
    args = [a for a in sys.argv[1:] if not a.startswith('--')]
    opts = dict(o[2:].split('=', 1) for o in sys.argv[1:] if o.startswith('--') and '=' in o)
    if len(args) != 5:
        sys.exit(__doc__)
    sfd, sfctl, sfload, sfgen, sfreplay = args
    parts = set(opts.get('parts', 'tsbs,statsd').split(','))
    conns = sorted({int(c) for c in opts.get('conns', '1,2,4').split(',')})
    queries = tsbs_queries(int(opts.get('queries', '100')))
    if not os.path.exists(DATASET):
        print('SKIP: %s is missing' % DATASET)
        sys.exit(77)
    missing = [b for b in PEER_BINS if not shutil.which(b)]
    if not os.path.exists(pf_compare_statsd.etsy_path()):
        missing.append('Etsy statsd')
    if missing:
        print('SKIP: %s not installed (tools/install-peers installs them)' % ', '.join(missing))
        sys.exit(77)
    tmp = tempfile.mkdtemp(prefix='pf_compare.')
    systems = [StreamFlow(tmp, sfd, sfctl), VictoriaMetrics(tmp), InfluxDB(tmp)]
    for s in systems:
        print('settings %s (%s): %s' % (s.name, s.version(), SETTINGS[s.name]), flush=True)
    print('settings statsd (%s): %s' % (pf_compare_statsd.etsy_version(),
                                        pf_compare_statsd.SETTINGS), flush=True)
    try:
        if 'tsbs' in parts:
            run_tsbs(systems, sfload, conns, queries)
        if 'statsd' in parts:
            pf_compare_statsd.run(sfd, sfctl, sfgen, sfreplay, tmp)
    finally:
        for s in systems:
            s.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == '__main__':
    main()
