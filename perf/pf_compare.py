#!/usr/bin/env python3
"""pf_compare.py - `make bench ONLY=compare`: StreamFlow side by side with
VictoriaMetrics and InfluxDB 1.6 on the shared TSBS dataset, every figure a
ratio measured in the same run on the same machine.

This part: ingest and storage. (Queries and StatsD: to come, issue 6.)

Each system runs on 127.0.0.1 with its own data directory under one temp
directory, with the settings in SETTINGS below (printed at the start), and is
stopped and cleaned at the end, also on failure. The peers are installed if
missing (tools/install-peers: Debian packages, services never started).

Ingest: the dataset (../shared/data/tsbs, 864,000 lines, 8.64 M values) is
loaded into a fresh instance of each system by tools/sfload (gzip'd
10,000-line batches prepared before the clock, POSTed over N keep-alive
connections to the system's InfluxDB-compatible /write), for each N in
--conns. Reported per system and N: values/s (sfload's clock) and the
server's own CPU seconds per million values: utime + stime of the server
process from /proc, from just before the load until the process goes quiet
(its idle rate, measured for 2 s before the load, plus at most 10 ms of
CPU in 0.5 s; at most 30 s), so work a system defers
past its acknowledgement (VictoriaMetrics' in-memory parts, InfluxDB's WAL
compaction) counts too. The main figures use each system's best N.

Storage: after the largest-N load, each system is made to write everything
down and merge: StreamFlow `sfctl flush` (a checkpoint into blocks);
VictoriaMetrics /internal/force_flush then /internal/force_merge; InfluxDB
with compact-full-write-cold-duration = 5s, waited for until its shard
holds no WAL file and one TSM generation. Then: on-disk bytes per value
(the data directory; for StreamFlow without its WAL's two preallocated
64 MiB segments, which are the same whatever the data and are printed
apart) and resident memory (VmRSS) per series (1,000 series: 100 hosts x
10 fields).

Output: per-system lines (BENCH compare_<system>_<metric> ...) and the
ratios StreamFlow / peer:
  BENCH compare_ingest_cpu_per_mvalue_<peer>_ratio
  BENCH compare_ingest_values_per_s_<peer>_ratio
  BENCH compare_disk_bytes_per_value_<peer>_ratio
  BENCH compare_rss_bytes_per_series_<peer>_ratio

Usage: pf_compare.py STREAMFLOWD SFCTL SFLOAD [--conns=1,2,4]
"""
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
DATA = os.path.join(REPO, '..', 'shared', 'data', 'tsbs')
DATASET = os.path.join(DATA, 'cpu-only_scale100_1d_seed123.influx.zst')
VALUES = 8640000
SERIES = 1000
TICK = os.sysconf('SC_CLK_TCK')

# What each system runs with; printed, and copied into docs/BENCHMARKS.md.
SETTINGS = {
    'streamflow': 'defaults, plus shard.ooo_window=24h (several connections deliver a '
                  'day-long set out of order: the default 1h window refuses older points)',
    'victoriametrics': 'defaults (-retentionPeriod=100y: the dataset is from 2016)',
    'influxdb': 'defaults, plus reporting off, [monitor] store off, '
                'compact-full-write-cold-duration = 5s (so it compacts within the run)',
}


def bench(name, value, unit):
    print('BENCH %s %s %s' % (name, ('%.4g' % value) if isinstance(value, float) else value,
                              unit), flush=True)


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


def du(path):
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(root, f)).st_blocks * 512
            except OSError:
                pass
    return total


def wait_port(port, proc, what, path, timeout=30):
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


def idle_rate(pid, span=2.0):
    """CPU-s per second the process spends doing nothing asked of it (polling, timers)."""
    c0, t0 = cpu_s(pid), time.monotonic()
    time.sleep(span)
    return (cpu_s(pid) - c0) / (time.monotonic() - t0)


def settle(pid, idle=0.0, quiet=0.01, step=0.5, limit=30):
    """Wait until the process uses at most its idle rate plus `quiet` CPU-s per `step`."""
    t = time.monotonic()
    last = cpu_s(pid)
    while time.monotonic() - t < limit:
        time.sleep(step)
        now = cpu_s(pid)
        if now - last < idle * step + quiet:
            return
        last = now


def free_port():
    import socket
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    p = s.getsockname()[1]
    s.close()
    return p


class System:
    def __init__(self, name, tmp):
        self.name, self.dir, self.proc, self.port = name, os.path.join(tmp, name), None, None

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

    def start(self):
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        log = os.path.join(self.dir, 'log')
        self.sock = os.path.join(self.dir, 'sock')
        self.proc = subprocess.Popen(
            [self.sfd, '--set', 'data_dir=' + os.path.join(self.dir, 'data'),
             '--set', 'log.level=info', '--set', 'http.listen=127.0.0.1:0',
             '--set', 'mgmt.socket=' + self.sock, '--set', 'statsd.listen=127.0.0.1:0',
             '--set', 'line.udp_listen=127.0.0.1:0', '--set', 'line.tcp_listen=127.0.0.1:0',
             '--set', 'binary.listen=127.0.0.1:0', '--set', 'shard.ooo_window=24h'],
            stdout=open(log, 'w'), stderr=subprocess.STDOUT)
        for _ in range(600):
            text = open(log).read()
            m = re.search(r' http event=listening .* port=(\d+)', text)
            if 'event=ready' in text and m:
                self.port = int(m.group(1))
                break
            if self.proc.poll() is not None:
                sys.exit('streamflowd exited: ' + text[-2000:])
            time.sleep(0.05)
        http('POST', 'http://127.0.0.1:%d/query?q=CREATE+DATABASE+benchmark' % self.port, b'')

    def write_url(self):
        return 'http://127.0.0.1:%d/write?db=benchmark' % self.port

    def persist(self):
        subprocess.run([self.sfctl, '-s', self.sock, 'flush'], check=True,
                       stdout=subprocess.DEVNULL)

    def data_bytes(self):
        """Blocks, catalogs and checkpoints: the WAL's preallocated segments (2 x 64 MiB
        whatever the data) are reported apart (wal_bytes)."""
        return du(os.path.join(self.dir, 'data')) - self.wal_bytes()

    def wal_bytes(self):
        return sum(du(w) for w in glob.glob(os.path.join(self.dir, 'data', 'shard-*', 'wal')))


class VictoriaMetrics(System):
    def __init__(self, tmp):
        super().__init__('victoriametrics', tmp)

    def start(self):
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        self.port = free_port()
        self.proc = subprocess.Popen(
            ['victoria-metrics', '-storageDataPath=' + os.path.join(self.dir, 'data'),
             '-httpListenAddr=127.0.0.1:%d' % self.port, '-retentionPeriod=100y',
             '-loggerLevel=ERROR'],
            stdout=open(os.path.join(self.dir, 'log'), 'w'), stderr=subprocess.STDOUT)
        wait_port(self.port, self.proc, 'victoria-metrics', '/health')

    def write_url(self):
        return 'http://127.0.0.1:%d/write?db=benchmark' % self.port

    def persist(self):
        base = 'http://127.0.0.1:%d' % self.port
        http('GET', base + '/internal/force_flush')
        http('GET', base + '/internal/force_merge?partition_prefix=2016_01', timeout=600)
        settle(self.proc.pid)

    def data_bytes(self):
        return du(os.path.join(self.dir, 'data'))


class InfluxDB(System):
    def __init__(self, tmp):
        super().__init__('influxdb', tmp)

    def start(self):
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        self.port = free_port()
        conf = os.path.join(self.dir, 'influxdb.conf')
        d = self.dir
        open(conf, 'w').write(
            'reporting-disabled = true\nbind-address = "127.0.0.1:%d"\n'
            '[meta]\n  dir = "%s/meta"\n'
            '[data]\n  dir = "%s/data"\n  wal-dir = "%s/wal"\n'
            '  compact-full-write-cold-duration = "5s"\n'
            '[http]\n  bind-address = "127.0.0.1:%d"\n  log-enabled = false\n'
            '[monitor]\n  store-enabled = false\n' % (free_port(), d, d, d, self.port))
        self.proc = subprocess.Popen(['influxd', '-config', conf],
                                     stdout=open(os.path.join(d, 'log'), 'w'),
                                     stderr=subprocess.STDOUT)
        wait_port(self.port, self.proc, 'influxd', '/ping')
        http('POST', 'http://127.0.0.1:%d/query?q=CREATE+DATABASE+benchmark' % self.port, b'')

    def write_url(self):
        return 'http://127.0.0.1:%d/write?db=benchmark' % self.port

    def persist(self):
        # the WAL files empty out and one TSM generation remains once it has compacted
        t = time.monotonic()
        while time.monotonic() - t < 300:
            wal = [f for f in glob.glob(os.path.join(self.dir, 'wal', '**', '*.wal'),
                                        recursive=True) if os.path.getsize(f) > 0]
            tsm = glob.glob(os.path.join(self.dir, 'data', '**', '*.tsm'), recursive=True)
            gens = {os.path.basename(f).split('-')[0] for f in tsm}
            if not wal and len(gens) == 1:
                break
            time.sleep(1)
        settle(self.proc.pid)

    def data_bytes(self):
        return du(self.dir)  # data, wal and meta


def load(sfload, url, conns):
    out = subprocess.run([sfload, '--url', url, '--connections', str(conns), DATASET],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    m = re.search(r'values=(\d+) .* values_per_s=(\d+) failed=(\d+)', out.stdout)
    if out.returncode or not m or int(m.group(3)):
        sys.exit('sfload into %s failed: %s %s' % (url, out.stdout, out.stderr[-1000:]))
    if int(m.group(1)) != VALUES:
        sys.exit('sfload sent %s values, want %d' % (m.group(1), VALUES))
    return float(m.group(2))


def main():
    args = [a for a in sys.argv[1:] if not a.startswith('--')]
    opts = dict(o[2:].split('=', 1) for o in sys.argv[1:] if o.startswith('--') and '=' in o)
    if len(args) != 3:
        sys.exit(__doc__)
    sfd, sfctl, sfload = args
    conns = [int(c) for c in opts.get('conns', '1,2,4').split(',')]
    if not os.path.exists(DATASET):
        print('SKIP: %s is missing' % DATASET)
        sys.exit(77)
    subprocess.run([os.path.join(REPO, 'tools', 'install-peers'),
                    os.path.join(REPO, 'var', 'peers')], check=True)
    for name, s in SETTINGS.items():
        print('settings %s: %s' % (name, s), flush=True)
    tmp = tempfile.mkdtemp(prefix='pf_compare.')
    systems = [StreamFlow(tmp, sfd, sfctl), VictoriaMetrics(tmp), InfluxDB(tmp)]
    best = {}
    try:
        for s in systems:
            for n in conns:
                s.start()
                pid = s.proc.pid
                idle = idle_rate(pid)
                c0 = cpu_s(pid)
                vps = load(sfload, s.write_url(), n)
                settle(pid, idle)
                cpu = (cpu_s(pid) - c0) / (VALUES / 1e6)
                bench('compare_%s_ingest_values_per_s_c%d' % (s.name, n), vps, 'values/s')
                bench('compare_%s_ingest_cpu_per_mvalue_c%d' % (s.name, n), cpu, 'cpu-s')
                b = best.get(s.name)
                if not b or vps > b['vps']:
                    best[s.name] = {'vps': vps, 'cpu': cpu, 'conns': n}
                if n != conns[-1]:
                    s.stop()
            s.persist()
            disk = s.data_bytes() / VALUES
            if isinstance(s, StreamFlow):
                bench('compare_streamflow_wal_preallocated_bytes', s.wal_bytes(), 'bytes')
            rss = rss_bytes(s.proc.pid) / SERIES
            best[s.name].update(disk=disk, rss=rss)
            bench('compare_%s_disk_bytes_per_value' % s.name, disk, 'bytes')
            bench('compare_%s_rss_bytes_per_series' % s.name, rss, 'bytes')
            s.stop()
        sf = best['streamflow']
        for peer in ('victoriametrics', 'influxdb'):
            p = best[peer]
            bench('compare_ingest_cpu_per_mvalue_%s_ratio' % peer, sf['cpu'] / p['cpu'], 'x')
            bench('compare_ingest_values_per_s_%s_ratio' % peer, sf['vps'] / p['vps'], 'x')
            bench('compare_disk_bytes_per_value_%s_ratio' % peer, sf['disk'] / p['disk'], 'x')
            bench('compare_rss_bytes_per_series_%s_ratio' % peer, sf['rss'] / p['rss'], 'x')
    finally:
        for s in systems:
            s.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == '__main__':
    main()
