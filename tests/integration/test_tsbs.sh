#!/bin/sh
# test_tsbs.sh - TSBS query correctness: the shared cpu-only dataset
# (../shared/data/tsbs, 864,000 lines, 100 hosts, 2016-01-01) imported with
# `sfctl import` straight from its .zst, then the 16 TSBS devops query types
# sent over HTTP exactly as tsbs_run_queries_influx sends them, each result
# compared with a brute-force evaluation of the dataset (tsbs_check.py):
#   phase 1: the first 10 queries of each type (and 3 groupby-orderby-limit
#            ones with ORDER BY time DESC, as TSBS means them) while every
#            point is still in memory chunks and the WAL (no checkpoint yet);
#   phase 2: after `sfctl flush`, all 100 queries of each type (and 10 of
#            the ORDER BY time DESC form) from the on-disk blocks.
# Each mismatch is printed as "MISMATCH <file>:<line>: <first difference>";
# the script exits 1 when a phase has one, 77 (SKIP) without the dataset,
# zstd or python3. Takes 1.5-2.5 minutes on 2 shared cores (debugoptimized).
# usage: test_tsbs.sh PATH/TO/streamflowd PATH/TO/sfctl
# ($TSBS_DATA: another directory holding the dataset and queries/)
set -u
SFD="$1"; SFCTL="$2"
. "$(dirname "$0")/lib.sh"

data="${TSBS_DATA:-$(dirname "$0")/../../../shared/data/tsbs}"
zst="$data/cpu-only_scale100_1d_seed123.influx.zst"
[ -f "$zst" ] && [ -d "$data/queries" ] || skip "no TSBS dataset at $data"
command -v zstd > /dev/null || skip "zstd is not installed"
command -v python3 > /dev/null || skip "python3 is not installed"
check="$(dirname "$0")/tsbs_check.py"
started=$(date +%s)

# ---------------------------------------------------------------- the daemon
# no UDP/TCP listeners (port 0); no periodic checkpoint before phase 1 is done; two
# decode helpers (mg_decode.c: none by default on 2 cores) read row sets ahead, so the
# answers are checked through them
start_daemon --set statsd.listen=127.0.0.1:0 --set line.udp_listen=127.0.0.1:0 \
	--set line.tcp_listen=127.0.0.1:0 --set binary.listen=127.0.0.1:0 \
	--set storage.flush_interval=1h --set dataplane.pin=false --set mgmt.decode_threads=2
# http.listen=127.0.0.1:0 (lib.sh): the port the kernel gave is in the log
[ -n "$port" ] || fail "no 'http event=listening' line in the log"

# ---------------------------------------------------------------- import
# CREATE DATABASE as TSBS's loader sends it: POST /query?q=..., 200 wanted
python3 - "$port" > "$tmp/create" 2>&1 <<'EOF' || fail "CREATE DATABASE benchmark: $(cat "$tmp/create")"
import http.client, sys
c = http.client.HTTPConnection('127.0.0.1', int(sys.argv[1]), timeout=30)
c.request('POST', '/query?q=CREATE+DATABASE+benchmark', body=b'')
r = c.getresponse()
body = r.read().decode()
print('HTTP %d %s' % (r.status, body))
sys.exit(0 if r.status == 200 and body.strip() == '{"results":[{"statement_id":0}]}' else 1)
EOF
"$SFCTL" -s "$tmp/sock" -d benchmark --quiet import "$zst" > "$tmp/import" 2>&1 ||
	fail "sfctl import exited $?: $(cat "$tmp/import")"
grep -Eq '^imported 864000 lines \(8640000 values\) .* 0 errors$' "$tmp/import" ||
	fail "sfctl import: $(cat "$tmp/import")"
echo "tsbs: $(cat "$tmp/import")"
# every point stored, and the 100 series in the index (it catches up every 100 ms)
wait_until '[ "$(stat store.points_stored)" = 8640000 ]' ||
	fail "store.points_stored $(stat store.points_stored), want 8640000"
series_indexed() {
	[ "$("$SFCTL" -s "$tmp/sock" -d benchmark series cpu 2>/dev/null | grep -c '^cpu,')" = 100 ]
}
wait_until series_indexed || fail "SHOW SERIES FROM cpu does not list 100 series"
[ "$(stat store.checkpoints)" = 0 ] && [ "$(stat blocks.warm)" = 0 ] ||
	fail "a checkpoint ran before phase 1 (store.checkpoints $(stat store.checkpoints))"

# ---------------------------------------------------------------- phase 1: memory
t=$(date +%s)
python3 "$check" --port "$port" --data "$zst" --queries "$data/queries" \
	--cache "$tmp/tsbs.model" --per-type 10 --intent 3 --phase "phase 1 (memory+WAL)" ||
	bad phase1 "answers differ from the brute force (the MISMATCH lines above)"
phase1=$(( $(date +%s) - t ))
kill -0 "$pid" 2>/dev/null || fail "streamflowd died during phase 1"
[ "$(stat store.checkpoints)" = 0 ] ||
	fail "a checkpoint ran during phase 1: it did not read memory chunks alone"

# ---------------------------------------------------------------- phase 2: blocks
"$SFCTL" -s "$tmp/sock" flush > "$tmp/flush" 2>&1 || fail "sfctl flush: $(cat "$tmp/flush")"
wait_until '[ "$(stat blocks.warm)" -gt 0 ]' || fail "no warm blocks after sfctl flush"
echo "tsbs: $(cat "$tmp/flush"), $(stat blocks.warm) blocks of $(stat blocks.warm_bytes) bytes"
t=$(date +%s)
python3 "$check" --port "$port" --data "$zst" --queries "$data/queries" \
	--cache "$tmp/tsbs.model" --intent 10 --phase "phase 2 (blocks)" ||
	bad phase2 "answers differ from the brute force (the MISMATCH lines above)"
phase2=$(( $(date +%s) - t ))
# the helpers read row sets, and chunks inside a bucket were answered by their summaries
"$SFCTL" -s "$tmp/sock" stats > "$tmp/svc_stats"
svc_stat() { awk -v k="$1" '$1 == k { print $2 }' "$tmp/svc_stats"; }
ahead=$(svc_stat query.rowsets_read_ahead) summarized=$(svc_stat query.chunks_summarized)
[ "${ahead:-0}" -gt 0 ] || bad helpers "query.rowsets_read_ahead is ${ahead:-missing}: no helper read"
[ "${summarized:-0}" -gt 0 ] ||
	bad summaries "query.chunks_summarized is ${summarized:-missing}: no summary used"
echo "tsbs: $ahead row sets read by the decode helpers, $summarized chunks from summaries"

stop_daemon
echo "tsbs: phase 1 $phase1 s, phase 2 $phase2 s, $(( $(date +%s) - started )) s in all"
finish "tsbs queries"
