"""pf_tsbs_vm.py - the TSBS devops queries for pf_compare.py: each InfluxQL query of
../shared/data/tsbs/queries translated into the equivalent MetricsQL request to
VictoriaMetrics, and every system's answer reduced to comparable cells.

VictoriaMetrics keeps InfluxDB lines as one series per field, named
<measurement>_<field> (cpu_usage_user), with the line's tags as labels. A range
query evaluates its expression at start, start + step, ..., end, and a rollup
`f(m[W])` at time e reads the window (e - W, e]. InfluxQL's GROUP BY time(I)
bucket T holds [T, T + I), so every rollup here is shifted by a negative offset
of I - 1 ms: at e = T it reads (T - 1 ms, T + I - 1 ms], which is [T, T + I) at
the millisecond resolution both stores keep. The translation, per type (H: the
query's hosts as `hostname=~"h1|h2"`, nothing when it names none; F: its fields;
[t0, t1): its time range):

  single-groupby-M-H-T, cpu-max-all-H   (max of F per 1m or 1h over H)
    max by (__name__) (max_over_time({__name__=~"cpu_(F)", H}[I] offset -(I-1ms)))
    range: start = t0 rounded down to I, end = the bucket holding t1 - 1 ms, step = I
  double-groupby-N                      (mean of F per 1h per host)
    avg by (__name__, hostname) (avg_over_time({__name__=~"cpu_(F)"}[1h] offset -(1h-1ms)))
    range as above
  high-cpu-1, high-cpu-all              (every field of the rows where usage_user > 90)
    {__name__=~"cpu_usage_.*", H} and on(hostname) (cpu_usage_user{H} > 90)
    range: the 10 s points in [t0, t1) (the data's interval: a bare selector at a
    point's own time returns that point)
  lastpoint                             (every field's last value per host)
    last_over_time({__name__=~"cpu_usage_.*"}[D]) at now, D reaching back past the
    dataset's first day (2016-01-01): "the last value ever", as the InfluxQL asks
  groupby-orderby-limit                 (max usage_user per minute, five buckets)
    max(max_over_time(cpu_usage_user[1m] offset -59999ms)), step 1m, over the five
    buckets InfluxDB 1.6 answers: the first five of the data (the InfluxQL has no
    lower bound and no ORDER BY; docs/TSQL.md). TSBS means the five before T; the
    three systems are asked the same question here.

The rollups drop the metric name in MetricsQL, so `by (__name__)` alone would
merge the fields; the rollups keep it with `keep_metric_names` (VictoriaMetrics
1.79 knows the modifier).

Answers become cells {(field, hostname or '', time ms or None): value}: InfluxDB's
and StreamFlow's JSON (epoch=ms) and VictoriaMetrics' result vectors alike.
Buckets not wholly inside [t0, t1) are left out of the comparison (InfluxQL clips
them to the range, a rollup window cannot), and lastpoint compares values only
(an instant query answers at its own time).
"""
import calendar
import re
import time
import urllib.parse

BUCKET_MS = {'1m': 60000, '1h': 3600000}


def _ms(text):
    return calendar.timegm(time.strptime(text, '%Y-%m-%dT%H:%M:%SZ')) * 1000


class Query:
    """One TSBS query: its type, its InfluxQL and what the translation needs of it."""

    def __init__(self, qtype, influxql):
        self.type, self.q = qtype, influxql
        self.fields = re.findall(r'(?:max|mean)\((\w+)\)', influxql)
        self.hosts = re.findall(r"hostname = '([^']+)'", influxql)
        m0 = re.search(r"time >= '([^']+)'", influxql)
        m1 = re.search(r"time < '([^']+)'", influxql)
        self.t0 = _ms(m0.group(1)) if m0 else None
        self.t1 = _ms(m1.group(1)) if m1 else None
        mg = re.search(r'group by time\((\w+)\)', influxql, re.I)
        self.bucket = BUCKET_MS[mg.group(1)] if mg else None
        self.star = bool(re.match(r'SELECT \*', influxql, re.I))


def _hosts(q):
    return ', hostname=~"%s"' % '|'.join(q.hosts) if q.hosts else ''


def metricsql(q, first_ms=None, now_s=None):
    """(path, params) of the VictoriaMetrics request that answers q. first_ms: the
    dataset's first timestamp (groupby-orderby-limit); now_s: the instant of lastpoint."""
    if q.type == 'lastpoint':
        days = int((now_s * 1000 - first_ms) // 86400000) + 2
        return '/api/v1/query', {
            'query': 'last_over_time({__name__=~"cpu_usage_.*"}[%dd]) keep_metric_names' % days,
            'time': '%d' % now_s}
    if q.star:   # high-cpu
        step = 10000
        start = -(-q.t0 // step) * step
        end = (q.t1 - 1) // step * step
        h = _hosts(q)
        expr = '{__name__=~"cpu_usage_.*"%s} and on(hostname) (cpu_usage_user{%s} > 90)' % (
            h, h.lstrip(', '))
        return '/api/v1/query_range', {'query': expr, 'start': '%.3f' % (start / 1000),
                                       'end': '%.3f' % (end / 1000), 'step': '10s'}
    b = q.bucket
    window = '[%dms] offset -%dms' % (b, b - 1)
    if q.type == 'groupby-orderby-limit':
        start = first_ms // b * b
        end = start + 4 * b
        expr = 'max(max_over_time(cpu_usage_user%s))' % window
    else:
        start = q.t0 // b * b
        end = (q.t1 - 1) // b * b
        names = '__name__=~"cpu_(%s)"' % '|'.join(q.fields)
        if q.type.startswith('double-groupby'):
            expr = ('avg by (__name__, hostname) (avg_over_time({%s}%s) keep_metric_names)'
                    % (names, window))
        else:
            expr = ('max by (__name__) (max_over_time({%s%s}%s) keep_metric_names)'
                    % (names, _hosts(q), window))
    return '/api/v1/query_range', {'query': expr, 'start': '%.3f' % (start / 1000),
                                   'end': '%.3f' % (end / 1000), 'step': '%dms' % b}


def vm_url(q, first_ms, now_s, nocache):
    path, params = metricsql(q, first_ms, now_s)
    if nocache:
        params['nocache'] = '1'
    return path + '?' + urllib.parse.urlencode(params)


def _keep(q, ts):
    """Whether a cell at ts is compared: buckets wholly inside [t0, t1)."""
    if ts is None or not q.bucket or q.t0 is None:
        return True
    return ts >= q.t0 and ts + q.bucket <= q.t1


def cells_influx(q, answer):
    """Cells of an InfluxDB-1.x JSON answer (requested with epoch=ms)."""
    out = {}
    for series in answer['results'][0].get('series', []):
        tags = series.get('tags', {})
        cols = series['columns']
        for row in series['values']:
            host = tags.get('hostname') or (row[cols.index('hostname')]
                                            if 'hostname' in cols else '')
            ts = None if q.type == 'lastpoint' else row[0]
            if not _keep(q, ts):
                continue
            if q.star:
                fields = [(c, row[i]) for i, c in enumerate(cols) if c.startswith('usage_')]
            else:
                fields = list(zip(q.fields, row[1:]))
            for f, v in fields:
                if v is not None:
                    out[f, host if (q.star or q.type.startswith('double')) else '', ts] = v
    return out


def cells_vm(q, answer):
    """Cells of a VictoriaMetrics /api/v1/query[_range] answer."""
    out = {}
    for r in answer['data']['result']:
        name = r['metric'].get('__name__', '')
        f = name[4:] if name.startswith('cpu_') else (q.fields[0] if len(q.fields) == 1 else '?')
        host = r['metric'].get('hostname', '')
        for t, v in r.get('values', [r.get('value')]):
            ts = None if q.type == 'lastpoint' else int(round(float(t) * 1000))
            if _keep(q, ts):
                out[f, host, ts] = float(v)
    return out


def mismatches(a, b, rel=1e-9):
    """The keys where two cell sets differ (missing on one side or unequal values), sorted."""
    bad = []
    for k in set(a) | set(b):
        x, y = a.get(k), b.get(k)
        if x is None or y is None or abs(x - y) > rel * max(1.0, abs(x), abs(y)):
            bad.append((k, x, y))
    return sorted(bad, key=repr)
