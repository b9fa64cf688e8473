#!/usr/bin/env python3
"""tsbs_check.py - the TSBS queries of ../shared/data/tsbs against a brute-force
evaluator: every query is sent to the daemon's HTTP API exactly as
tsbs_run_queries_influx sends it (POST, the URL path of the .tsv file with
&db=benchmark appended, empty body, keep-alive connections) and its JSON
result must equal what this script computes from the dataset itself.

The dataset (864,000 lines of line protocol: measurement cpu, 10 tags, 10
integer fields, 100 hosts, one point every 10 s of 2016-01-01) is read once
through `zstd -dc` into per-host arrays; with --cache FILE the arrays are
kept in FILE (pickle) so that a second run does not parse again.

The evaluator knows the six query shapes of the 16 TSBS devops query types
(SHAPES below) and the InfluxDB 1.x semantics StreamFlow promises for them:
GROUP BY time buckets aligned on the epoch, from the bucket of the lower
bound (or, with none, of the earliest point the query matches) to the bucket
of T1-1ns, every one printed (fill(null)); column names de-duplicated
(max, max_1, ...); max() of an integer is an integer, mean() a float64
(sum / count); SELECT * prints time then every field and tag key sorted,
rows in time order then series key order; series in tag value order
(strings: host_0, host_1, host_10, ...); RFC3339 times in UTC. A query
that matches no shape is an error, never skipped. --intent N also sends
the first N groupby-orderby-limit queries rewritten as TSBS means them
(ORDER BY time DESC: the 5 newest buckets before T1).

Output: one line per query type (queries compared, matched, seconds), one
line per mismatch (FILE:LINE and the first difference: series, row, column,
expected vs got), and a closing summary. Exit 0 when all match, 1 when one
does not, 2 on a usage or input error.

Usage: tsbs_check.py --port PORT --data FILE.zst --queries DIR
                     [--per-type N] [--intent N] [--cache FILE] [--phase NAME]
Standard library only; single-threaded.
"""
import argparse
import bisect
import calendar
import collections
import gc
import glob
import http.client
import itertools
import json
import operator
import os
import pickle
import re
import subprocess
import sys
import time
import urllib.parse


def die(msg):
    print('tsbs_check: ' + msg, file=sys.stderr, flush=True)
    sys.exit(2)


# ---------------------------------------------------------------- the dataset
# model: {'fields': [field keys in line order], 'tag_keys': [sorted],
#         'hosts': {hostname: {'tags': {key: value}, 'key': series key,
#                              'ts': [ns, ascending], 'cols': {field: [int]}}}}

# the letters, '_' and '=' of "usage_user=58i,usage_system=2i,...": deleting
# them leaves "58,2,..." which json.loads turns into ints (small ones shared)
FIELD_NAME_BYTES = bytes(range(ord('a'), ord('z') + 1)) + b'_='
NEWLINE_TO_SPACE = bytes.maketrans(b'\n', b' ')
VALUE_BYTES = b'-0123456789'


def parse_dataset(path):
    """Reads the line protocol from `zstd -dc PATH` in 4 MiB pieces, split on
    the separators the TSBS format guarantees (one space before the fields,
    one before the timestamp, no spaces, quotes or escapes in tags); every
    piece is checked: 3 tokens a line, the same field keys in the same order
    on every line, integers only."""
    proc = subprocess.Popen(['zstd', '-dc', path], stdout=subprocess.PIPE)
    series_keys, stamps, values = [], [], []
    skeleton, rest, lines = None, b'', 0
    while True:
        buf = proc.stdout.read(1 << 22)
        if not buf:
            break
        buf = rest + buf
        cut = buf.rfind(b'\n')
        if cut < 0:
            rest = buf
            continue
        piece, rest = buf[:cut], buf[cut + 1:]
        n = piece.count(b'\n') + 1
        tok = piece.translate(NEWLINE_TO_SPACE).split(b' ')
        if len(tok) != 3 * n:
            die('%s: a line near line %d is not "series fields timestamp"' % (path, lines + 1))
        fields = b','.join(tok[1::3])
        if skeleton is None:
            # "usage_user=i,usage_system=i,...": the field keys of the first line
            skeleton = tok[1].translate(None, VALUE_BYTES)
            if not re.fullmatch(rb'[a-z_]+=i(,[a-z_]+=i)*', skeleton):
                die('%s: field keys %s: not [a-z_] integers' % (path, skeleton))
        if fields.translate(None, VALUE_BYTES) != b','.join([skeleton] * n):
            die('%s: a line near line %d has other field keys or non-integer values'
                % (path, lines + 1))
        series_keys += tok[0::3]
        stamps += map(int, tok[2::3])
        values += json.loads(b'[' + fields.translate(None, FIELD_NAME_BYTES) + b']')
        lines += n
    if proc.wait() != 0 or rest:
        die('%s: zstd -dc failed or the last line has no newline' % path)
    field_keys = [f.split(b'=')[0].decode() for f in skeleton.split(b',')]
    nf = len(field_keys)
    if len(values) != nf * lines:
        die('%s: %d values for %d lines' % (path, len(values), lines))

    # group the lines by series (one per host, checked), keeping file order
    ids = {}
    sid = [ids.setdefault(k, len(ids)) for k in series_keys]
    order = sorted(range(lines), key=sid.__getitem__)
    take = operator.itemgetter(*order)
    stamps = take(stamps)
    columns = [take(values[j::nf]) for j in range(nf)]
    counts = [0] * len(ids)
    for s in sid:
        counts[s] += 1
    hosts, start, tag_keys = {}, 0, set()
    for key, s in sorted(ids.items(), key=operator.itemgetter(1)):
        text = key.decode()
        if '\\' in text or '"' in text:
            die('series %s: escapes and quotes are not parsed here' % text)
        name, _, tagtext = text.partition(',')
        if name != 'cpu':
            die('measurement %r: the evaluator knows cpu only' % name)
        tags = dict(kv.split('=', 1) for kv in tagtext.split(','))
        host = tags.get('hostname')
        if host is None or host in hosts:
            die('series %s: one series per hostname expected' % text)
        end = start + counts[s]
        ts = list(stamps[start:end])
        if any(a >= b for a, b in zip(ts, ts[1:])):
            die('host %s: timestamps not strictly ascending in the file' % host)
        hosts[host] = {
            'tags': tags,
            'key': 'cpu,' + ','.join('%s=%s' % kv for kv in sorted(tags.items())),
            'ts': ts,
            'cols': {f: list(columns[j][start:end]) for j, f in enumerate(field_keys)},
        }
        tag_keys.update(tags)
        start = end
    return {'fields': field_keys, 'tag_keys': sorted(tag_keys), 'hosts': hosts, 'lines': lines}


def load_dataset(path, cache):
    """(model, 'parsed' or 'loaded'): from the cache file when there is one."""
    if cache and os.path.exists(cache):
        with open(cache, 'rb') as f:
            return pickle.load(f), 'loaded'
    model = parse_dataset(path)
    if cache:
        with open(cache + '.part', 'wb') as f:
            pickle.dump(model, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.rename(cache + '.part', cache)
    return model, 'parsed'


# ---------------------------------------------------------------- time
TIME_RE = re.compile(r'(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?Z')
UNITS_NS = {'ns': 1, 'u': 1000, 'µ': 1000, 'ms': 10**6, 's': 10**9, 'm': 60 * 10**9,
            'h': 3600 * 10**9, 'd': 86400 * 10**9, 'w': 7 * 86400 * 10**9}


def parse_time(text):
    """An InfluxQL RFC3339 literal ('2016-01-01T08:24:59Z') in ns since the epoch."""
    m = TIME_RE.fullmatch(text)
    if not m:
        die('time literal %r: not RFC3339 UTC' % text)
    secs = calendar.timegm(tuple(int(x) for x in m.groups()[:6]))
    return secs * 10**9 + int((m.group(7) or '0').ljust(9, '0'))


def parse_duration(text):
    m = re.fullmatch(r'(\d+)(ns|u|µ|ms|s|m|h|d|w)', text)
    if not m:
        die('duration %r' % text)
    return int(m.group(1)) * UNITS_NS[m.group(2)]


_rfc3339_cache = {}


def rfc3339(ns):
    """As InfluxDB prints times: UTC, fractional seconds only when not zero,
    trailing zeros trimmed."""
    s = _rfc3339_cache.get(ns)
    if s is None:
        secs, frac = divmod(ns, 10**9)
        s = time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(secs))
        if frac:
            s += ('.%09d' % frac).rstrip('0')
        s = _rfc3339_cache[ns] = s + 'Z'
    return s


# ---------------------------------------------------------------- the evaluator
def response(series):
    """The /query document of one statement; no "series" key when it has none."""
    stmt = {'statement_id': 0}
    if series:
        stmt['series'] = series
    return {'results': [stmt]}


def column_names(funcs):
    """time, then the function names, repeated ones numbered as InfluxDB does."""
    names, seen = ['time'], {}
    for fn, _ in funcs:
        k = seen.get(fn, 0)
        names.append(fn if k == 0 else '%s_%d' % (fn, k))
        seen[fn] = k + 1
    return names


def select_hosts(model, hostnames):
    """The hosts a hostname list names (all hosts for None), sorted by name as strings."""
    hosts = model['hosts']
    if hostnames is None:
        return sorted(hosts)
    return sorted(h for h in set(hostnames) if h in hosts)


def span(ts, t0, t1):
    """Index range of the points with t0 <= time < t1 (t0 None: no lower bound)."""
    return (0 if t0 is None else bisect.bisect_left(ts, t0)), bisect.bisect_left(ts, t1)


def aggregate(model, funcs, hostnames, t0, t1, every, by_host, desc, limit):
    """SELECT fn(field),... [WHERE hostname list] [time >= t0 AND] time < t1
    GROUP BY time(every)[,hostname] [ORDER BY time DESC] [LIMIT n]: one row a
    bucket from the first bucket to the one holding t1-1ns, null when empty."""
    hosts = model['hosts']
    names = select_hosts(model, hostnames)
    spans = {h: span(hosts[h]['ts'], t0, t1) for h in names}
    spans = {h: s for h, s in spans.items() if s[0] < s[1]}
    if not spans:
        return response([])
    first = t0 if t0 is not None else min(hosts[h]['ts'][lo] for h, (lo, _) in spans.items())
    buckets = list(range(first // every * every, (t1 - 1) // every * every + 1, every))
    # with fill(null) every bucket is a row: ORDER BY and LIMIT pick buckets
    if desc:
        buckets.reverse()
    if limit is not None:
        buckets = buckets[:limit]
    groups = [([h], {'hostname': h}) for h in sorted(spans)] if by_host else \
        [(sorted(spans), None)]
    series = []
    for members, tags in groups:
        # per member, the index range of each bucket (clipped to [t0, t1))
        ranges = []
        for h in members:
            ts, (lo, hi) = hosts[h]['ts'], spans[h]
            ranges.append((h, [(bisect.bisect_left(ts, b, lo, hi),
                                bisect.bisect_left(ts, b + every, lo, hi)) for b in buckets]))
        columns = [[rfc3339(b) for b in buckets]]
        for fn, field in funcs:
            columns.append(aggregate_column(hosts, ranges, fn, field))
        s = {'name': 'cpu'}
        if tags is not None:
            s['tags'] = tags
        s['columns'] = column_names(funcs)
        s['values'] = [list(r) for r in zip(*columns)]
        series.append(s)
    return response(series)


def aggregate_column(hosts, ranges, fn, field):
    """One aggregate over the members' points of each bucket; None for an empty bucket."""
    if fn == 'max':
        # per member, the max of each bucket (None when it has no point there)
        per = [[max(col[a:z], default=None) for a, z in rs]
               for col, rs in ((hosts[h]['cols'][field], rs) for h, rs in ranges)]
        return [max((v for v in vs if v is not None), default=None) for vs in zip(*per)]
    if fn == 'mean':
        per = [[sum(col[a:z]) for a, z in rs]
               for col, rs in ((hosts[h]['cols'][field], rs) for h, rs in ranges)]
        counts = [sum(z - a for a, z in b) for b in zip(*(rs for _, rs in ranges))]
        # the exact integer sum, then one correctly rounded division: float64 sum / count
        return [sum(vs) / c if c else None for vs, c in zip(zip(*per), counts)]
    die('function %s: the evaluator knows max and mean' % fn)


def raw_columns(model, drop=()):
    return sorted(k for k in model['fields'] + model['tag_keys'] if k not in drop)


def host_row_parts(model, host, columns, idx):
    """The columns (time excluded) of the rows at indexes idx (a list) of one
    host, as iterables for zip(): a field's values, or a tag's value repeated."""
    h = model['hosts'][host]
    pick = operator.itemgetter(*idx) if len(idx) > 1 else lambda col: (col[idx[0]],)
    return [pick(h['cols'][c]) if c in h['cols'] else itertools.repeat(h['tags'].get(c))
            for c in columns]


def threshold(model, field, limit_value, hostnames, t0, t1):
    """SELECT * FROM cpu WHERE field > limit [AND hostname list] AND time in
    [t0, t1): one series without tags; rows by time, then series key."""
    hosts = model['hosts']
    columns = raw_columns(model)
    if field not in model['fields']:
        die('field %s: not in the dataset' % field)
    keyed = []
    for host in select_hosts(model, hostnames):
        h = hosts[host]
        lo, hi = span(h['ts'], t0, t1)
        col = h['cols'][field]
        # int > float compared exactly (float.__lt__ takes ints)
        idx = list(itertools.compress(range(lo, hi), map(limit_value.__lt__, col[lo:hi])))
        if not idx:
            continue
        ts = h['ts']
        stamps = [ts[i] for i in idx]
        keyed.extend(zip(stamps, itertools.repeat(h['key']),
                         zip(*host_row_parts(model, host, columns, idx))))
    if not keyed:
        return response([])
    keyed.sort(key=operator.itemgetter(0, 1))
    values = [[rfc3339(t)] + list(r) for t, _, r in keyed]
    return response([{'name': 'cpu', 'columns': ['time'] + columns, 'values': values}])


def lastpoint(model):
    """SELECT * FROM cpu GROUP BY "hostname" ORDER BY time DESC LIMIT 1."""
    columns = raw_columns(model, drop=('hostname',))
    series = []
    for host in select_hosts(model, None):
        ts = model['hosts'][host]['ts']
        i = len(ts) - 1
        row = [rfc3339(ts[i])] + [next(iter(p)) for p in
                                   host_row_parts(model, host, columns, [i])]
        series.append({'name': 'cpu', 'tags': {'hostname': host},
                       'columns': ['time'] + columns, 'values': [row]})
    return response(series)


# ---------------------------------------------------------------- query shapes
AGGS = r"((?:max|mean)\(\w+\)(?:\s*,\s*(?:max|mean)\(\w+\))*)"
HOSTS = r"\((hostname = '[^']*'(?: or hostname = '[^']*')*)\)"
T = r"'([^']+)'"
SHAPES = [
    # cpu-max-all-*, single-groupby-*: max() over a host list, by 1m or 1h
    ('agg-hosts-by-time', re.compile(
        rf"SELECT {AGGS} from cpu where {HOSTS} and time >= {T} and time < {T}"
        rf" group by time\((\w+)\)", re.I)),
    # double-groupby-*: mean() of every host, by 1h and hostname
    ('agg-by-time-and-host', re.compile(
        rf"SELECT {AGGS} from cpu where time >= {T} and time < {T}"
        rf" group by time\((\w+)\)\s*,\s*hostname", re.I)),
    # high-cpu-1: the raw points of a host list over a threshold
    ('threshold-hosts', re.compile(
        rf"SELECT \* from cpu where (\w+) > ([0-9.]+)\s+and {HOSTS}"
        rf" and time >= {T} and time < {T}", re.I)),
    # high-cpu-all: the same over every host
    ('threshold-all', re.compile(
        rf"SELECT \* from cpu where (\w+) > ([0-9.]+)\s+and time >= {T} and time < {T}", re.I)),
    # lastpoint
    ('lastpoint', re.compile(
        r'SELECT \* from cpu group by "?hostname"? order by time desc limit 1', re.I)),
    # groupby-orderby-limit: no lower bound (and, rewritten by --intent, ORDER BY time DESC)
    ('open-start-limit', re.compile(
        rf"SELECT {AGGS} from cpu where time < {T} group by time\((\w+)\)"
        rf"(?: order by time (asc|desc))? limit (\d+)", re.I)),
]


def funcs_of(text):
    return [(fn.lower(), field) for fn, field in re.findall(r'(\w+)\((\w+)\)', text)]


def hosts_of(text):
    return re.findall(r"'([^']*)'", text)


def expected(model, query):
    """The response the brute force gives for an InfluxQL text, or exits when
    the text matches no known shape."""
    for shape, rx in SHAPES:
        m = rx.fullmatch(query.strip())
        if not m:
            continue
        g = m.groups()
        if shape == 'agg-hosts-by-time':
            return aggregate(model, funcs_of(g[0]), hosts_of(g[1]), parse_time(g[2]),
                             parse_time(g[3]), parse_duration(g[4]), False, False, None)
        if shape == 'agg-by-time-and-host':
            return aggregate(model, funcs_of(g[0]), None, parse_time(g[1]), parse_time(g[2]),
                             parse_duration(g[3]), True, False, None)
        if shape == 'threshold-hosts':
            return threshold(model, g[0], float(g[1]), hosts_of(g[2]), parse_time(g[3]),
                             parse_time(g[4]))
        if shape == 'threshold-all':
            return threshold(model, g[0], float(g[1]), None, parse_time(g[2]), parse_time(g[3]))
        if shape == 'lastpoint':
            return lastpoint(model)
        if shape == 'open-start-limit':
            return aggregate(model, funcs_of(g[0]), None, None, parse_time(g[1]),
                             parse_duration(g[2]), False, (g[3] or '').lower() == 'desc',
                             int(g[4]))
    die('query matches no known shape: %s' % query)


# ---------------------------------------------------------------- comparison
def typename(v):
    return 'null' if v is None else type(v).__name__


def value_ok(e, g):
    """ints as ints (not 1.0, not true), floats equal (a whole float may print as
    25, as InfluxDB prints it), strings equal, null as null."""
    if e is None or g is None:
        return e is None and g is None
    if type(e) is float:
        return type(g) in (int, float) and g == e
    return type(g) is type(e) and g == e


def same(exp, got, loose):
    """True when got is exp. == alone takes 1.0 and true for 1: when the answer
    has no float and no true/false (loose is false) equal values are also of
    the right types (an int where a float is expected is allowed: InfluxDB
    prints a whole float64 as 25); otherwise the types are checked per column."""
    if exp != got:
        return False
    if not loose:
        return True
    none = {type(None)}
    for es, gs in zip(exp['results'][0].get('series', []), got['results'][0].get('series', [])):
        for ecol, gcol in zip(zip(*es['values']), zip(*gs['values'])):
            types = set(map(type, ecol)) - none
            allowed = {int, float} if types == {float} else types
            if set(map(type, gcol)) - allowed - none:
                return False
    return True


def first_diff(exp, got):
    """Where got first differs from exp, in words (for the mismatch line)."""
    try:
        return results_diff(exp, got)
    except (KeyError, TypeError, AttributeError, IndexError) as e:
        return 'malformed answer (%r): %.300s' % (e, json.dumps(got))


def results_diff(exp, got):
    if not isinstance(got, dict) or not isinstance(got.get('results'), list):
        return 'no "results" array: %.300s' % json.dumps(got)
    if len(got['results']) != 1:
        return '%d statement results, want 1' % len(got['results'])
    er, gr = exp['results'][0], got['results'][0]
    if 'error' in gr:
        return 'error: %s' % gr['error']
    extra = set(gr) - set(er)
    if extra - {'series'}:
        return 'unexpected keys in the result: %s' % sorted(extra)
    es, gs = er.get('series', []), gr.get('series', [])
    if not es and gs:
        return 'expected no series, got %d (first: %.200s)' % (len(gs), json.dumps(gs[0]))
    if not gs and es:
        return 'expected %d series, got none' % len(es)
    if 'series' in gr and not gs:
        return 'an empty "series" array (InfluxDB prints none)'
    for i in range(max(len(es), len(gs))):
        if i >= len(gs):
            return 'expected %d series, got %d: series[%d] %s is missing' % (
                len(es), len(gs), i, es[i].get('tags', ''))
        if i >= len(es):
            return 'expected %d series, got %d: series[%d] %s is extra' % (
                len(es), len(gs), i, gs[i].get('tags', ''))
        d = series_diff(i, es[i], gs[i])
        if d:
            return d
    if er.get('statement_id') != gr.get('statement_id'):
        return 'statement_id %r, want %r' % (gr.get('statement_id'), er.get('statement_id'))
    return 'the values differ in type only'


def series_diff(i, e, g):
    where = 'series[%d]%s' % (i, (' ' + json.dumps(e['tags'])) if 'tags' in e else '')
    for k in ('name', 'tags', 'columns'):
        if e.get(k) != g.get(k):
            return '%s %s: expected %s, got %s' % (where, k, json.dumps(e.get(k)),
                                                   json.dumps(g.get(k)))
    if set(g) != set(e):
        return '%s keys: expected %s, got %s' % (where, sorted(e), sorted(g))
    ev, gv = e['values'], g['values']
    for r in range(max(len(ev), len(gv))):
        if r >= len(ev) or r >= len(gv):
            row = ev[r] if r < len(ev) else gv[r]
            return '%s: expected %d rows, got %d; first %s row %d: %s' % (
                where, len(ev), len(gv), 'missing' if r < len(ev) else 'extra', r,
                json.dumps(row)[:200])
        er, gr = ev[r], gv[r]
        if len(er) != len(gr):
            return '%s row %d: expected %d values, got %d' % (where, r, len(er), len(gr))
        for j, (a, b) in enumerate(zip(er, gr)):
            if not value_ok(a, b):
                return '%s row %d (%s) column %s: expected %s (%s), got %s (%s)' % (
                    where, r, er[0], e['columns'][j], json.dumps(a), typename(a),
                    json.dumps(b), typename(b))
    return None


# ---------------------------------------------------------------- the driver
class Client:
    """One keep-alive HTTP connection; send() and receive() apart so that the
    expected result is computed while the daemon works on the query."""

    def __init__(self, port):
        self.conn = http.client.HTTPConnection('127.0.0.1', port, timeout=120)

    def send(self, path):
        # as tsbs_run_queries_influx: POST, the query in the URL, an empty body
        self.conn.request('POST', path, body=b'')

    def receive(self):
        r = self.conn.getresponse()
        return r.status, r.read()


def read_queries(directory, per_type):
    """[(type, file:line, url path, influxql)] of every .tsv, the first per_type of each."""
    files = sorted(glob.glob(os.path.join(directory, '*.tsv')))
    if not files:
        die('no .tsv files in %s' % directory)
    out = []
    for path in files:
        qtype = os.path.basename(path)[:-4]
        with open(path, encoding='utf-8') as f:
            for n, line in enumerate(f, 1):
                if per_type is not None and n > per_type:
                    break
                cols = line.rstrip('\n').split('\t')
                where = '%s:%d' % (os.path.basename(path), n)
                if len(cols) != 5 or cols[2] != 'POST':
                    die('%s: not "label, description, POST, path, query"' % where)
                q = urllib.parse.parse_qs(urllib.parse.urlsplit(cols[3]).query).get('q')
                if q != [cols[4]]:
                    die('%s: the URL path does not carry the query text' % where)
                out.append((qtype, where, cols[3], cols[4]))
    return out


def intent_queries(queries, n):
    """groupby-orderby-limit as TSBS means it: ORDER BY time DESC before LIMIT."""
    out = []
    for qtype, where, _, text in queries:
        if qtype == 'groupby-orderby-limit' and len(out) < n:
            desc = re.sub(r'\s+limit\s+', ' order by time desc limit ', text, flags=re.I)
            out.append((qtype + '+desc', where + '+desc',
                        '/query?q=' + urllib.parse.quote_plus(desc), desc))
    return out


class Checker:
    """Compares the answers with the brute force and keeps the counts:
    stats {type: [compared, matched, seconds]} and the number of mismatches."""

    def __init__(self, model):
        self.model = model
        self.stats = {}
        self.mismatches = 0
        self.last = time.monotonic()

    def check(self, query, client):
        qtype, where, _, text = query
        want = expected(self.model, text)  # while the daemon still works on it
        try:
            status, body = client.receive()
        except (OSError, http.client.HTTPException) as e:
            print('FAIL %s: no answer from the daemon (%s); stopping' % (where, e), flush=True)
            sys.exit(1)
        diff = 'HTTP %d: %.300s' % (status, body.decode('utf-8', 'replace'))
        if status == 200:
            floats = []
            try:
                got = json.loads(body, parse_float=lambda v: floats.append(v) or float(v))
            except ValueError as e:
                diff = 'not JSON (%s): %.300s' % (e, body.decode('utf-8', 'replace'))
            else:
                loose = bool(floats) or b'true' in body or b'false' in body
                diff = None if same(want, got, loose) else first_diff(want, got)
        # a query's time: from the end of the previous check to the end of this one
        now = time.monotonic()
        st = self.stats.setdefault(qtype, [0, 0, 0.0])
        st[0] += 1
        st[1] += diff is None
        st[2] += now - self.last
        self.last = now
        if diff is not None:
            self.mismatches += 1
            print('MISMATCH %s: %s\n    query: %s' % (where, diff, text), flush=True)


def run(checker, port, queries, db):
    """Sends every query and checks its answer, two in flight on two
    connections: the daemon runs one while this script reads and checks the
    answer to the other (a single-threaded client would leave a core idle)."""
    clients = [Client(port), Client(port)]
    inflight = collections.deque()
    for k, query in enumerate(queries):
        client = clients[k % 2]
        try:
            client.send(query[2] + '&db=' + db)
        except (OSError, http.client.HTTPException) as e:
            print('FAIL %s: cannot send (%s); stopping' % (query[1], e), flush=True)
            sys.exit(1)
        inflight.append((query, client))
        if len(inflight) == 2:
            checker.check(*inflight.popleft())
    while inflight:
        checker.check(*inflight.popleft())


def main():
    ap = argparse.ArgumentParser(description='TSBS queries against a brute-force evaluator')
    ap.add_argument('--port', type=int, required=True, help="the daemon's HTTP port")
    ap.add_argument('--data', required=True, help='the TSBS .influx.zst dataset')
    ap.add_argument('--queries', required=True, help='the directory of <type>.tsv files')
    ap.add_argument('--db', default='benchmark')
    ap.add_argument('--per-type', type=int, default=None, help='first N queries of each type')
    ap.add_argument('--intent', type=int, default=0,
                    help='also N groupby-orderby-limit queries with ORDER BY time DESC')
    ap.add_argument('--cache', help='keep the parsed dataset in this file (pickle)')
    ap.add_argument('--phase', default='tsbs', help='a name for the summary line')
    args = ap.parse_args()

    gc.disable()  # millions of objects and no cycles: the collector would only rescan them
    t0 = time.monotonic()
    model, how = load_dataset(args.data, args.cache)
    t_load = time.monotonic() - t0
    queries = read_queries(args.queries, args.per_type)
    queries += intent_queries(queries, args.intent)

    t0 = time.monotonic()
    checker = Checker(model)
    run(checker, args.port, queries, args.db)
    t_run = time.monotonic() - t0
    stats, mismatches = checker.stats, checker.mismatches
    for qtype, (n, ok, secs) in stats.items():
        print('  %-28s %4d compared, %4d match  %6.2f s' % (qtype, n, ok, secs))
    total = sum(s[0] for s in stats.values())
    print('%s: %d queries of %d types, %s (dataset %d lines %s in %.1f s, queries %.1f s)' % (
        args.phase, total, len(stats),
        'all match' if not mismatches else '%d MISMATCH' % mismatches,
        model['lines'], how, t_load, t_run),
        flush=True)
    sys.exit(1 if mismatches else 0)


if __name__ == '__main__':
    main()
