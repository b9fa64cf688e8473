#!/usr/bin/env python3
"""test_analytics.py - the analytics statements and functions of TSQL and the
streaming detectors, through the real daemon's HTTP API.

Data written over /write (fixed seed, one-minute points):
  sine,host=a  v: 10 + 5 sin(2 pi t / 60) + noise, spikes +40 at t=500, -40 at 1500
  sine,host=b  v: the same wave without spikes; w = 2 v + 1 (so correlate(v, w) = 1)
  step         v: 0 for 300 points, then 10 (one change point), plus noise
  gc           x: white noise; y_t = 0.8 x_(t-1) + noise (x Granger-causes y)
Checks: FORECAST (rows, times, bands, accuracy on the known wave), DETECT
(the spikes and little else), anomaly_score() per series, changepoints(),
correlate(), causality() both ways, spectrum() (the 1 h period), motifs(),
FORECAST over GROUP BY time(), and the errors (unknown method or parameter,
analytics mixed with other fields). Then a second daemon with detect.rules:
a spike written with the current time must show up in the anomalies
measurement within 1 s of the write's acknowledgement.

usage: test_analytics.py PATH/TO/streamflowd
"""
import json
import math
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

SFD = sys.argv[1]
T0 = 1_700_000_000 * 10**9        # the first point's time (ns), a whole minute
MIN = 60 * 10**9
failed = []


def bad(check, why):
    print(f"FAIL: {check}: {why}")
    failed.append(check)


def ok(check):
    print(f"ok {check}")


class Daemon:
    def __init__(self, tmp, *sets):
        self.tmp = tmp
        self.log = os.path.join(tmp, "log")
        args = [SFD, "--set", f"data_dir={tmp}/data", "--set", "http.listen=127.0.0.1:0",
                "--set", f"mgmt.socket={tmp}/sock", "--set", "log.level=info",
                "--set", f"stats.file={tmp}/stats", "--set", "stats.interval=100ms"]
        for s in sets:
            args += ["--set", s]
        self.p = subprocess.Popen(args, stdout=open(self.log, "w"), stderr=subprocess.STDOUT)
        deadline = time.time() + 20
        while time.time() < deadline:
            text = open(self.log).read()
            if "event=ready" in text:
                self.port = int(re.search(r" http event=listening .* port=(\d+)", text).group(1))
                return
            if self.p.poll() is not None:
                break
            time.sleep(0.05)
        print(open(self.log).read()[-3000:])
        raise SystemExit("FAIL: streamflowd did not start")

    def write(self, body, precision="ns"):
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/write?db=streamflow&precision={precision}", data=body.encode(),
            method="POST")
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status

    def query(self, q):
        data = urllib.parse.urlencode({"q": q, "db": "streamflow", "epoch": "ns"}).encode()
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}/query", data=data)
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as e:
            return json.loads(e.read())

    def stop(self):
        self.p.terminate()
        try:
            rc = self.p.wait(30)
        except subprocess.TimeoutExpired:
            self.p.kill()
            rc = -9
        if rc != 0:
            bad("daemon exit", f"status {rc}: {open(self.log).read()[-1500:]}")


def series(res):
    """The series of the first statement (raise with its error)."""
    st = res["results"][0]
    if "error" in st:
        raise RuntimeError(st["error"])
    return st.get("series", [])


def err_of(res):
    st = res.get("results", [{}])[0]
    return st.get("error") or res.get("error") or ""


def dataset():
    rnd = random.Random(7)
    lines = []
    for t in range(2000):
        wave = 10 + 5 * math.sin(2 * math.pi * t / 60)
        a = wave + rnd.gauss(0, 0.2) + (40 if t == 500 else -40 if t == 1500 else 0)
        b = wave + rnd.gauss(0, 0.2)
        ts = T0 + t * MIN
        lines.append(f"sine,host=a v={a!r} {ts}")
        lines.append(f"sine,host=b v={b!r},w={2 * b + 1!r} {ts}")
    for t in range(600):
        lines.append(f"step v={(10 if t >= 300 else 0) + rnd.gauss(0, 0.5)!r} {T0 + t * MIN}")
    for t in range(600):  # values near the bottom of the doubles: GSL must not abort the daemon
        lines.append(f"tiny v={1e-200 * (1 + 0.1 * math.sin(t))!r} {T0 + t * MIN}")
    x_prev = 0.0
    for t in range(1000):
        x = rnd.gauss(0, 1)
        y = 0.8 * x_prev + rnd.gauss(0, 0.3)
        x_prev = x
        lines.append(f"gc x={x!r},y={y!r} {T0 + t * MIN}")
    return "\n".join(lines) + "\n"


def check(name, fn):
    try:
        why = fn()
    except Exception as e:  # a query error, a missing column
        why = f"{type(e).__name__}: {e}"
    if why:
        bad(name, why)
    else:
        ok(name)


def main_queries(d):
    st = d.write(dataset())
    if st != 204:
        bad("write", f"status {st}")
    end = T0 + 2000 * MIN
    rng = f"time >= {T0} AND time < {end}"

    def forecast():
        s = series(d.query(f"FORECAST v FROM sine WHERE host = 'b' AND {rng} "
                           "USING holt_winters(period = 60) FOR 60m WITH INTERVAL 90"))
        if len(s) != 1 or s[0]["columns"] != ["time", "forecast", "lower", "upper"]:
            return f"shape {s[:1]}"
        v = s[0]["values"]
        if len(v) != 60:
            return f"{len(v)} rows, want 60"
        worst = 0.0
        for i, (t, f, lo, hi) in enumerate(v):
            want_t = end + i * MIN
            if t != want_t:
                return f"row {i} at {t}, want {want_t}"
            if not lo <= f <= hi:
                return f"row {i}: {f} outside [{lo}, {hi}]"
            wave = 10 + 5 * math.sin(2 * math.pi * (2000 + i) / 60)
            worst = max(worst, abs(f - wave))
        return None if worst < 1.0 else f"forecast off the wave by {worst:.3f}"
    check("forecast holt_winters", forecast)

    def forecast_params():
        worst = {}
        for using in ("arima(p = 1, D = 1, Q = 1, period = 60)", "ets(model = 'ANA', period = 1h)"):
            s = series(d.query(f"FORECAST v FROM sine WHERE host = 'b' AND {rng} "
                               f"USING {using} FOR 30m"))
            v = s[0]["values"]
            if len(v) != 30:
                return f"{using}: {len(v)} rows"
            worst[using] = max(abs(f - (10 + 5 * math.sin(2 * math.pi * (2000 + i) / 60)))
                               for i, (t, f, lo, hi) in enumerate(v))
        return None if all(w < 1.0 for w in worst.values()) else f"off the wave: {worst}"
    check("forecast with model parameters (arima orders, ets model)", forecast_params)

    def forecast_auto():
        s = series(d.query(f"FORECAST v FROM sine WHERE {rng} GROUP BY host USING auto FOR 2h"))
        if len(s) != 2 or {x["tags"]["host"] for x in s} != {"a", "b"}:
            return f"series {[x.get('tags') for x in s]}"
        return None if all(len(x["values"]) == 120 for x in s) else "rows per series"
    check("forecast auto, per host", forecast_auto)

    def forecast_grouped():
        s = series(d.query(f"FORECAST mean(v) FROM sine WHERE host = 'b' AND {rng} "
                           "GROUP BY time(5m) USING ets FOR 1h"))
        v = s[0]["values"]
        if len(v) != 12 or v[1][0] - v[0][0] != 5 * MIN:
            return f"{len(v)} rows, step {v[1][0] - v[0][0] if len(v) > 1 else 0}"
        return None
    check("forecast over GROUP BY time()", forecast_grouped)

    def detect():
        s = series(d.query(f"DETECT ANOMALIES IN v FROM sine WHERE host = 'a' AND {rng} "
                           "USING mad(window = 120)"))
        if not s or s[0]["columns"] != ["time", "value", "score"]:
            return f"shape {s[:1]}"
        times = {r[0] for r in s[0]["values"]}
        want = {T0 + 500 * MIN, T0 + 1500 * MIN}
        if not want <= times:
            return f"spikes not flagged: {sorted((t - T0) // MIN for t in times)}"
        return None if len(times) <= 10 else f"{len(times)} points flagged"
    check("detect mad", detect)

    def detect_auto():
        s = series(d.query(f"DETECT ANOMALIES IN v FROM sine WHERE host = 'a' AND {rng}"))
        times = {r[0] for r in s[0]["values"]} if s else set()
        return None if T0 + 500 * MIN in times else "the +40 spike is not flagged by auto"
    check("detect auto (the ensemble)", detect_auto)

    def sensitivity():
        counts = []
        for sens in (0.2, 0.9):
            s = series(d.query(f"DETECT ANOMALIES IN v FROM sine WHERE host = 'a' AND {rng} "
                               f"USING zscore SENSITIVITY {sens}"))
            counts.append(len(s[0]["values"]) if s else 0)
        return None if counts[0] <= counts[1] and counts[1] > 0 else f"counts {counts}"
    check("SENSITIVITY flags more when higher", sensitivity)

    def score():
        s = series(d.query(f"SELECT anomaly_score(v, 'zscore(window = 60)') FROM sine "
                           f"WHERE {rng} GROUP BY host"))
        by = {x["tags"]["host"]: x for x in s}
        a = by["a"]["values"]
        if by["a"]["columns"] != ["time", "anomaly_score"] or len(a) != 2000:
            return f"columns {by['a']['columns']}, {len(a)} rows"
        top = max(a, key=lambda r: r[1])
        if top[0] not in (T0 + 500 * MIN, T0 + 1500 * MIN):
            return f"top score at {(top[0] - T0) // MIN}"
        if not all(0 <= r[1] <= 1 for r in a):
            return "a score outside [0, 1]"
        return None if max(r[1] for r in by["b"]["values"]) < top[1] else "b scores as high"
    check("anomaly_score per host", score)

    def changepoints():
        s = series(d.query(f"SELECT changepoints(v) FROM step WHERE {rng}"))
        v = s[0]["values"]
        if len(v) != 1:
            return f"{len(v)} change points: {v}"
        t, before, after = v[0]
        if abs((t - T0) // MIN - 300) > 2 or abs(before) > 0.5 or abs(after - 10) > 0.5:
            return f"change at {(t - T0) // MIN}, {before} -> {after}"
        return None
    check("changepoints", changepoints)

    def correlate():
        s = series(d.query(f"SELECT correlate(v, w) FROM sine WHERE host = 'b' AND {rng}"))
        row = dict(zip(s[0]["columns"], s[0]["values"][0]))
        return None if row["pearson"] > 0.999999 and row["n"] == 2000 else f"{row}"
    check("correlate", correlate)

    def causality():
        fwd = series(d.query(f"SELECT causality(x, y, 1) FROM gc WHERE {rng}"))
        rev = series(d.query(f"SELECT causality(y, x, 1) FROM gc WHERE {rng}"))
        f = dict(zip(fwd[0]["columns"], fwd[0]["values"][0]))
        r = dict(zip(rev[0]["columns"], rev[0]["values"][0]))
        if not (f["p_value"] < 1e-6 and f["causes"] is True):
            return f"x -> y: {f}"
        return None if r["p_value"] > 0.001 and r["causes"] is False else f"y -> x: {r}"
    check("causality", causality)

    def spectrum():
        s = series(d.query(f"SELECT spectrum(v, 3) FROM sine WHERE host = 'b' AND {rng}"))
        v = s[0]["values"]
        top = max(v, key=lambda r: r[3])
        return None if abs(top[1] - 3600) < 120 else f"dominant period {top[1]} s: {v}"
    check("spectrum", spectrum)

    def motifs():
        s = series(d.query(f"SELECT motifs(v, 30, 2) FROM sine WHERE host = 'b' AND {rng}"))
        v = s[0]["values"]
        if s[0]["columns"] != ["time", "match_time", "distance"] or not 1 <= len(v) <= 2:
            return f"{s[0]['columns']} {v}"
        # the wave repeats every 60 points: a motif pair is a whole number of periods apart
        gap = abs(v[0][1] - v[0][0]) // MIN
        return None if gap % 60 in (0, 1, 59) and v[0][2] < 5 else f"pair {v[0]}, gap {gap}"
    check("motifs", motifs)

    def tiny_values():
        for model in ("ets", "theta", "arima", "auto"):
            res = d.query(f"FORECAST v FROM tiny WHERE {rng} USING {model} FOR 1h")
            if d.p.poll() is not None:
                return f"the daemon died on {model}: {open(d.log).read()[-600:]}"
            st = res["results"][0]
            if "error" not in st and not st.get("series"):
                return f"{model}: neither an answer nor an error: {res}"
        return None
    check("forecasts of values near 1e-200 (GSL errors are returned, not aborts)", tiny_values)

    def errors():
        cases = {
            f"DETECT ANOMALIES IN v FROM sine USING nosuch": "unknown detector",
            # checked before the inner query: no data needed to hear of a typo
            f"DETECT ANOMALIES IN v FROM empty USING mad(windw = 2h)": "unknown parameter",
            f"SELECT forecast(v, 'nosuch', 1h) FROM empty": "unknown model",
            f"DETECT ANOMALIES IN v FROM sine USING mad(windw = 3)": "unknown parameter",
            f"FORECAST v FROM sine USING nosuch FOR 1h": "unknown model",
            f"FORECAST v FROM sine USING ets(model = 'XYZ') FOR 1h": "is not E T S",
            f"FORECAST v FROM sine USING arima(p = 9) FOR 1h": "above 5",
            f"FORECAST v FROM sine USING arima(p = 'x') FOR 1h": "must be a number",
            f"SELECT anomaly_score(v), mean(v) FROM sine": "alone",
            f"DETECT ANOMALIES IN * FROM sine": "one column per series argument",
            f"FORECAST v FROM sine WHERE {rng} USING naive FOR 9223372036854775807ns": "at most",
            f"FORECAST v FROM sine USING ets(model = '') FOR 1h": "is not E T S",
            f"DETECT ANOMALIES IN v FROM sine USING mad(window = 3, window = 4)": "given twice",
            f"DETECT ANOMALIES IN v FROM sine USING iforest(seed = 1e300)": "seed must be",
            f"SELECT correlate(v, v, 2) FROM sine WHERE time = {T0}": "too few points",
            f"SELECT forecast(v, 'naive') FROM sine": "usage",
            f"FORECAST v FROM sine USING naive FOR -1h": "",
        }
        for q, want in cases.items():
            e = err_of(d.query(q))
            if not e or want not in e:
                return f"{q!r}: error {e!r}, want one containing {want!r}"
        return None
    check("errors", errors)


def bad_rules(tmp):
    """Rules the streaming detectors cannot run stop the start, naming the rule and why."""
    cases = {
        "SELECT v FROM m": "not DETECT ANOMALIES",
        "DETECT ANOMALIES IN mean(v) FROM m": "raw points",
        "DETECT ANOMALIES IN v FROM m USING mad": "not an online detector",
        "DETECT ANOMALIES IN v FROM m USING ewma(x = 1)": "unknown parameter",
    }
    for rule, want in cases.items():
        p = subprocess.run([SFD, "--set", f"data_dir={tmp}/data", "--set", f"detect.rules={rule}",
                            "--set", "http.listen=127.0.0.1:0", "--set", f"mgmt.socket={tmp}/sock"],
                           capture_output=True, text=True, timeout=30)
        out = p.stdout + p.stderr
        if p.returncode == 0 or f"rule 1: " not in out or want not in out:
            bad("bad detect.rules", f"{rule!r}: exit {p.returncode}, want an error with {want!r}: "
                f"{out[-400:]}")
            return
    ok("bad detect.rules stop the start with the rule's error")


def streaming(tmp):
    rule = "DETECT ANOMALIES IN temp FROM sensors USING ewma(alpha = 0.1, threshold = 5)"
    d = Daemon(tmp, f"detect.rules={rule}", "detect.interval=50ms")
    try:
        rnd = random.Random(3)
        now = time.time_ns()
        warm = "\n".join(f"sensors,room=r1 temp={20 + rnd.gauss(0, 0.1)!r} {now - 1000 * 10**6 + i * 10**7}"
                         for i in range(100))
        d.write(warm + "\n")
        # a point stamped an hour ahead must not hold the rule's window in the future
        d.write(f"sensors,room=r2 temp=20.0 {time.time_ns() + 3600 * 10**9}\n")
        time.sleep(0.3)
        spike_ts = time.time_ns()
        d.write(f"sensors,room=r1 temp=35.0 {spike_ts}\n")
        acked = time.monotonic()
        seen = None
        while time.monotonic() - acked < 5:
            s = series(d.query("SELECT value, score, lag_ms, detector, src_field, room "
                               "FROM anomalies"))
            # an event's fields become visible one by one while its write is stored:
            # it is there once every column is
            done = [r for r in s[0]["values"] if r[0] == spike_ts and None not in r] if s else []
            if done:
                seen = time.monotonic() - acked
                row = done[0]
                break
            time.sleep(0.01)
        if seen is None:
            bad("streaming event", f"no event for the spike in 5 s: {open(d.log).read()[-1500:]} {open(d.tmp + '/stats').read()}")
            return
        cols = dict(zip(s[0]["columns"], row))
        if cols["value"] != 35.0 or cols["detector"] != "ewma" or cols["room"] != "r1" \
                or cols["src_field"] != "temp" or not cols["score"] > 0.9:
            bad("streaming event", f"{cols}")
        elif seen > 1.0:
            bad("streaming within 1 s", f"the event appeared {seen:.3f} s after the write")
        else:
            ok(f"streaming event {seen * 1000:.0f} ms after the write, lag_ms {cols['lag_ms']}")
        stats = dict(l.split() for l in open(d.tmp + "/stats") if len(l.split()) == 2)
        if int(stats.get("detect.future", 0)) < 1:
            bad("streaming future point", f"detect.future = {stats.get('detect.future')}")
        n = len([r for r in s[0]["values"]])
        if n != 1:
            bad("streaming false alarms", f"{n} events, want 1: {s[0]['values']}")
    finally:
        d.stop()


def main():
    tmp = tempfile.mkdtemp()
    try:
        d = Daemon(os.path.join(tmp, "q") if os.makedirs(os.path.join(tmp, "q")) is None else tmp)
        try:
            main_queries(d)
        finally:
            d.stop()
        os.makedirs(os.path.join(tmp, "s"))
        bad_rules(os.path.join(tmp, "s"))
        streaming(os.path.join(tmp, "s"))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if failed:
        print("FAILED checks: " + ", ".join(failed))
        sys.exit(1)
    print("test_analytics: ok")


if __name__ == "__main__":
    main()
