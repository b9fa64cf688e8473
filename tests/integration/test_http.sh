#!/bin/sh
# test_http.sh - the InfluxDB-1.x-compatible HTTP API of the real daemon,
# with curl: /ping and its headers, /health, CREATE DATABASE and SHOW
# DATABASES through /query (GET, POST form), writes read back (integers and
# floats, precision=s and ms, gzip'd bodies, a partial write whose good
# lines are stored), 413 past a small http.max_body (raw and inflated),
# 404 for an unknown database, 400 for a missing q and a query that does
# not parse, several statements per request, chunked=true documents,
# epoch=ms, the SHOW statements Grafana and Telegraf use, /metrics, tz()
# (local days across a daylight saving switch, printed with their offset), and
# DROP DATABASE: its series gone from queries at once, a re-created database
# empty, the dropped points deleted from blocks and the hot tier at the next
# checkpoint (flush.points_expired), and the drop durable across kill -9.
#
# Every check runs even when an earlier one failed; each failure prints
# "FAIL: <check>: <why>" and the script exits 1 after the last one, naming
# them all. JSON is checked with python3 (or jq when python3 is missing).
# usage: test_http.sh PATH/TO/streamflowd PATH/TO/sfctl
set -u
SFD="$1"; SFCTL="$2"
. "$(dirname "$0")/lib.sh"

command -v curl > /dev/null || skip "curl is not installed"
if command -v python3 > /dev/null; then
	json_tool=python3
elif command -v jq > /dev/null; then
	json_tool=jq
else
	skip "neither python3 nor jq to read JSON with"
fi

# http CHECK WANT-STATUS CURL-ARGS...: the body in $tmp/body, the headers in
# $tmp/hdr; false (and the check failed) when the status is not WANT-STATUS.
http() {
	name="$1"; want="$2"; shift 2
	code=$(curl -sS --max-time 30 -o "$tmp/body" -D "$tmp/hdr" -w '%{http_code}' "$@" \
		2> "$tmp/curl.err")
	[ "$code" = "$want" ] && return 0
	bad "$name" "HTTP $code, want $want: $(head -c 400 "$tmp/body") $(cat "$tmp/curl.err")"
	return 1
}

# js CHECK EXPR: EXPR is true of the body. python3: a Python expression over d
# (the parsed body), docs (every line of a chunked body, parsed) and pieces (the
# series of every document); jq: a jq
# filter over the stream of documents, slurped (-s).
js() {
	if [ "$json_tool" = python3 ]; then
		python3 - "$tmp/body" "$2" > "$tmp/js.err" 2>&1 <<'EOF'
import json, sys
text = open(sys.argv[1]).read()
docs = [json.loads(l) for l in text.splitlines() if l.strip()]
d = docs[0] if len(docs) == 1 else None
pieces = [s for x in docs for r in x.get("results", []) for s in r.get("series", [])]
sys.exit(0 if eval("(" + sys.argv[2] + "\n)") else 1)
EOF
	else
		jq -e -s "$3" "$tmp/body" > "$tmp/js.err" 2>&1
	fi
	[ $? = 0 ] && return 0
	bad "$1" "not true: $2; body: $(head -c 600 "$tmp/body") $(tail -2 "$tmp/js.err")"
	return 1
}

# header CHECK PATTERN: a response header line matches PATTERN (grep -Ei).
header() {
	tr -d '\r' < "$tmp/hdr" | grep -Eiq -- "$2" && return 0
	bad "$1" "no header matches '$2' in: $(tr -d '\r' < "$tmp/hdr" | tr '\n' '|')"
	return 1
}

# q NAME DB QUERY [MORE CURL ARGS]: GET /query, status 200 wanted.
q() {
	name="$1"; db="$2"; text="$3"; shift 3
	http "$name" 200 -G "$base/query" --data-urlencode "db=$db" --data-urlencode "q=$text" "$@"
}

# retry SECONDS COMMAND...: run COMMAND quietly until it succeeds (the series index
# catches up with new series every mgmt.index_interval); then once more, loudly.
retry() {
	secs=$1; shift
	i=0
	while [ $i -lt $((secs * 10)) ]; do
		( "$@" ) > /dev/null 2>&1 && break
		i=$((i + 1))
		sleep 0.1
	done
	"$@"
}

# ---------------------------------------------------------------- the daemon
hp=$(free_port); ps=$(free_port); pl=$(free_port); pt=$(free_port); pb=$(free_port)
base="http://127.0.0.1:$hp"
start() {
	start_daemon --set http.listen=127.0.0.1:$hp --set http.max_body=16KiB \
		--set mgmt.socket="$tmp/ctl.sock" --set statsd.listen=127.0.0.1:$ps \
		--set line.udp_listen=127.0.0.1:$pl --set line.tcp_listen=127.0.0.1:$pt \
		--set binary.listen=127.0.0.1:$pb
}
start
wait_until "curl -s -o /dev/null --max-time 2 $base/ping" ||
	fail "the daemon is up but does not answer on $base (mg_http_start not called?)"

# ---------------------------------------------------------------- ping, health
if http ping 204 "$base/ping"; then
	header ping_version '^X-Influxdb-Version: [0-9]' && header ping_build '^X-Influxdb-Build: OSS' &&
		ok ping
fi
http ping_head 204 -I "$base/ping" && ok ping_head
http ping_verbose 200 "$base/ping?verbose=true" && js ping_verbose 'len(d["version"]) > 0' \
	'.[0].version | length > 0' && ok ping_verbose
http health 200 "$base/health" &&
	js health 'd["status"] == "pass" and d["name"] == "streamflow" and d["checks"] == []' \
		'.[0].status == "pass" and .[0].name == "streamflow"' && ok health
http not_found 404 "$base/nope" && ok not_found
http wrong_method 405 "$base/write?db=x" && ok wrong_method

# ---------------------------------------------------------------- databases
http create_db 200 -XPOST "$base/query" --data-urlencode "q=CREATE DATABASE httptest" &&
	js create_db 'd == {"results": [{"statement_id": 0}]}' \
		'.[0] == {"results": [{"statement_id": 0}]}' && ok create_db
# TSBS's loader: POST /query?q=show databases, and needs values as arrays of strings
if http show_databases 200 -XPOST "$base/query?q=show+databases"; then
	js show_databases 'd["results"][0]["series"][0]["name"] == "databases" and
		["httptest"] in d["results"][0]["series"][0]["values"]' \
		'.[0].results[0].series[0].values | index([["httptest"]]) != null' && ok show_databases
fi

# ---------------------------------------------------------------- writes read back
t0=1451606400
printf 'http_cpu,host=a,region=eu usage=58i,load=0.5 %s\nhttp_cpu,host=b,region=us usage=7i,load=1.25 %s\n' \
	$t0 $((t0 + 10)) > "$tmp/cpu.lp"
http write_s 204 -XPOST "$base/write?db=httptest&precision=s" --data-binary @"$tmp/cpu.lp" &&
	ok write_s
read_back_s() {
	q read_back_s httptest "SELECT usage, load FROM http_cpu WHERE host = 'a'" &&
		js read_back_s 'd["results"][0]["series"][0]["columns"] == ["time", "usage", "load"] and
			d["results"][0]["series"][0]["values"] == [["2016-01-01T00:00:00Z", 58, 0.5]]' \
			'.[0].results[0].series[0].values == [["2016-01-01T00:00:00Z", 58, 0.5]]'
}
retry 5 read_back_s && ok read_back_s

printf 'http_ms v=1i,f=2.5 %s123\nhttp_ms v=2i,f=3.5 %s124\n' $t0 $t0 > "$tmp/ms.lp"
http write_ms 204 -XPOST "$base/write?db=httptest&precision=ms" --data-binary @"$tmp/ms.lp" &&
	ok write_ms
read_back_ms() {
	q read_back_ms httptest "SELECT v FROM http_ms" --data-urlencode epoch=ms &&
		js read_back_ms 'd["results"][0]["series"][0]["values"] == [[1451606400123, 1], [1451606400124, 2]]' \
			'.[0].results[0].series[0].values == [[1451606400123, 1], [1451606400124, 2]]'
}
retry 5 read_back_ms && ok read_back_ms
q rfc3339_ms httptest "SELECT v FROM http_ms LIMIT 1" &&
	js rfc3339_ms 'd["results"][0]["series"][0]["values"][0][0] == "2016-01-01T00:00:00.123Z"' \
		'.[0].results[0].series[0].values[0][0] == "2016-01-01T00:00:00.123Z"' && ok rfc3339_ms

# a string field is accepted (204) and not stored, and counted; the line's other field is stored
http write_string 204 -XPOST "$base/write?db=httptest&precision=s" \
	--data-binary "http_str,host=a note=\"up 3 days\",v=4i $t0" && ok write_string
read_back_string() {
	q read_back_string httptest "SELECT * FROM http_str" &&
		js read_back_string 'd["results"][0]["series"][0]["columns"] == ["time", "host", "v"]' \
			'.[0].results[0].series[0].columns == ["time", "host", "v"]'
}
retry 5 read_back_string && ok read_back_string
strings=$("$SFCTL" -s "$tmp/ctl.sock" stats | awk '$1 == "write.strings_skipped" { print $2 }')
[ "$strings" = 1 ] && ok strings_counted || bad strings_counted "write.strings_skipped=$strings, want 1"

# gzip'd, as TSBS and Telegraf send it, with TSBS's consistency=all
awk -v t=$t0 'BEGIN { for (i = 0; i < 100; i++) printf "http_gz,host=h%d v=%di %d\n", i % 4, i, t + i }' |
	gzip > "$tmp/gz.lp.gz"
http write_gzip 204 -XPOST "$base/write?consistency=all&db=httptest&precision=s" \
	-H 'Content-Encoding: gzip' --data-binary @"$tmp/gz.lp.gz" && ok write_gzip
read_back_gzip() {
	q read_back_gzip httptest "SELECT count(v) FROM http_gz" --data-urlencode epoch=s &&
		js read_back_gzip 'd["results"][0]["series"][0]["values"][0][1] == 100' \
			'.[0].results[0].series[0].values[0][1] == 100'
}
retry 5 read_back_gzip && ok read_back_gzip
printf 'not gzip' > "$tmp/notgz"
http bad_gzip 400 -XPOST "$base/write?db=httptest" -H 'Content-Encoding: gzip' \
	--data-binary @"$tmp/notgz" && ok bad_gzip

# a partial write: 400 with InfluxDB's wording, the good lines stored
printf 'http_part v=1i %s\nhttp_part v=\nhttp_part v=3i %s\n' $t0 $((t0 + 1)) > "$tmp/part.lp"
if http partial_write 400 -XPOST "$base/write?db=httptest&precision=s" --data-binary @"$tmp/part.lp"; then
	js partial_write 'd["error"].startswith("partial write:") and "dropped=" in d["error"]' \
		'.[0].error | startswith("partial write:")' && ok partial_write
fi
partial_stored() {
	q partial_stored httptest "SELECT v FROM http_part" --data-urlencode epoch=s &&
		js partial_stored 'd["results"][0]["series"][0]["values"] == [[1451606400, 1], [1451606401, 3]]' \
			'.[0].results[0].series[0].values == [[1451606400, 1], [1451606401, 3]]'
}
retry 5 partial_stored && ok partial_stored

# past http.max_body (16 KiB): raw, and inflated from a small gzip body
awk 'BEGIN { for (i = 0; i < 2000; i++) printf "http_big v=%di\n", i }' > "$tmp/big.lp"
[ "$(wc -c < "$tmp/big.lp")" -gt 16384 ] || bad too_large "the body is not large"
http too_large 413 -XPOST "$base/write?db=httptest" --data-binary @"$tmp/big.lp" &&
	js too_large 'd == {"error": "Request Entity Too Large"}' \
		'.[0] == {"error": "Request Entity Too Large"}' && ok too_large
gzip -c "$tmp/big.lp" > "$tmp/big.lp.gz"
[ "$(wc -c < "$tmp/big.lp.gz")" -lt 16384 ] || bad too_large_gzip "the gzip body is not small"
http too_large_gzip 413 -XPOST "$base/write?db=httptest" -H 'Content-Encoding: gzip' \
	--data-binary @"$tmp/big.lp.gz" && ok too_large_gzip

http unknown_db 404 -XPOST "$base/write?db=nosuchdb" --data-binary @"$tmp/cpu.lp" &&
	js unknown_db 'd == {"error": "database not found: \"nosuchdb\""}' \
		'.[0] == {"error": "database not found: \"nosuchdb\""}' && ok unknown_db
http no_db 400 -XPOST "$base/write" --data-binary @"$tmp/cpu.lp" &&
	js no_db 'd == {"error": "database is required"}' '.[0] == {"error": "database is required"}' &&
	ok no_db

# ---------------------------------------------------------------- query errors
http missing_q 400 "$base/query?db=httptest" &&
	js missing_q 'd == {"error": "missing required parameter \"q\""}' \
		'.[0] == {"error": "missing required parameter \"q\""}' && ok missing_q
http parse_error 400 -G "$base/query" --data-urlencode "q=SELEKT * FROM cpu" &&
	js parse_error 'd["error"].startswith("error parsing query")' \
		'.[0].error | startswith("error parsing query")' && ok parse_error
http bad_epoch 400 -G "$base/query" --data-urlencode "q=SHOW DATABASES" --data-urlencode epoch=x &&
	ok bad_epoch

# ---------------------------------------------------------------- query shapes
q two_statements httptest "SELECT usage FROM http_cpu WHERE host = 'a'; SELECT v FROM http_ms" &&
	js two_statements '[r["statement_id"] for r in d["results"]] == [0, 1] and
		all("series" in r for r in d["results"])' \
		'[.[0].results[].statement_id] == [0, 1]' && ok two_statements

# POST with a form body, as Grafana sends it
http form_post 200 -XPOST "$base/query" --data-urlencode "db=httptest" \
	--data-urlencode "q=SELECT usage FROM http_cpu WHERE host = 'b'" --data-urlencode epoch=s &&
	js form_post 'd["results"][0]["series"][0]["values"] == [[1451606410, 7]]' \
		'.[0].results[0].series[0].values == [[1451606410, 7]]' && ok form_post

# chunked: documents of at most 2 rows, 100 rows in all, every one partial but the last
q chunked httptest "SELECT v FROM http_gz" --data-urlencode chunked=true \
	--data-urlencode chunk_size=2 --data-urlencode epoch=s &&
	js chunked 'len(docs) >= 2 and all(len(s["values"]) <= 2 for s in pieces) and
		sum(len(s["values"]) for s in pieces) == 100 and
		all(x["results"][0].get("partial") for x in docs[:-1]) and
		not docs[-1]["results"][0].get("partial")' \
		'length >= 2 and ([.[].results[0].series[]?.values | length] | add) == 100
		and (.[-1].results[0].partial | not)' &&
	header chunked_transfer '^Transfer-Encoding: chunked' && ok chunked

q epoch_ms httptest "SELECT usage FROM http_cpu" --data-urlencode epoch=ms &&
	js epoch_ms '[v[0] for v in d["results"][0]["series"][0]["values"]] == [1451606400000, 1451606410000]' \
		'[.[0].results[0].series[0].values[][0]] == [1451606400000, 1451606410000]' && ok epoch_ms
if q pretty httptest "SHOW MEASUREMENTS" --data-urlencode pretty=true; then
	grep -q '^    "results": \[' "$tmp/body" && ok pretty ||
		bad pretty "not indented: $(head -c 200 "$tmp/body")"
fi

# ---------------------------------------------------------------- SHOW statements
q show_measurements httptest "SHOW MEASUREMENTS" &&
	js show_measurements 'd["results"][0]["series"][0]["name"] == "measurements" and
		all([m] in d["results"][0]["series"][0]["values"]
		    for m in ["http_cpu", "http_gz", "http_ms", "http_part"])' \
		'.[0].results[0].series[0].values | contains([["http_cpu"], ["http_gz"], ["http_ms"]])' &&
	ok show_measurements
q show_tag_keys httptest "SHOW TAG KEYS FROM http_cpu" &&
	js show_tag_keys 'd["results"][0]["series"][0]["columns"] == ["tagKey"] and
		d["results"][0]["series"][0]["values"] == [["host"], ["region"]]' \
		'.[0].results[0].series[0].values == [["host"], ["region"]]' && ok show_tag_keys
q show_tag_values httptest 'SHOW TAG VALUES FROM http_cpu WITH KEY = "host"' &&
	js show_tag_values 'd["results"][0]["series"][0]["columns"] == ["key", "value"] and
		d["results"][0]["series"][0]["values"] == [["host", "a"], ["host", "b"]]' \
		'.[0].results[0].series[0].values == [["host", "a"], ["host", "b"]]' && ok show_tag_values
q show_field_keys httptest "SHOW FIELD KEYS FROM http_cpu" &&
	js show_field_keys 'd["results"][0]["series"][0]["columns"] == ["fieldKey", "fieldType"] and
		d["results"][0]["series"][0]["values"] == [["load", "float"], ["usage", "integer"]]' \
		'.[0].results[0].series[0].values == [["load", "float"], ["usage", "integer"]]' &&
	ok show_field_keys
q show_series httptest "SHOW SERIES FROM http_cpu" &&
	js show_series 'd["results"][0]["series"][0]["values"] ==
		[["http_cpu,host=a,region=eu"], ["http_cpu,host=b,region=us"]]' \
		'.[0].results[0].series[0].values ==
		[["http_cpu,host=a,region=eu"], ["http_cpu,host=b,region=us"]]' &&
	ok show_series
# Grafana's data source test
q grafana_health httptest "SHOW MEASUREMENTS LIMIT 1" --data-urlencode epoch=ms &&
	js grafana_health 'len(d["results"][0]["series"][0]["values"]) == 1' \
		'.[0].results[0].series[0].values | length == 1' && ok grafana_health

# ---------------------------------------------------------------- /metrics
if http metrics 200 "$base/metrics"; then
	header metrics_type '^Content-Type: text/plain; version=0\.0\.4' &&
		grep -Eq '^# TYPE streamflow_[a-zA-Z0-9_:]+_total counter$' "$tmp/body" &&
		grep -Eq '^streamflow_[a-zA-Z0-9_:]+_total [0-9]+$' "$tmp/body" &&
		grep -Eq '^# TYPE streamflow_[a-zA-Z0-9_:]+ gauge$' "$tmp/body" &&
		grep -Eq '^streamflow_[a-zA-Z0-9_:]+_bucket\{le="\+Inf"\} [0-9]+$' "$tmp/body" &&
		ok metrics || bad metrics "not Prometheus text with streamflow_ counters: $(head -c 300 "$tmp/body")"
	# nothing but comments and well-formed samples
	sample='streamflow_[a-zA-Z0-9_:]+(\{le="[^"]+"\})? [-+0-9.eEInfNa]+'
	bad_lines=$(grep -Ev "^(# (TYPE|HELP) .*|$sample)\$" "$tmp/body" | head -3)
	[ -z "$bad_lines" ] && ok metrics_format || bad metrics_format "lines: $bad_lines"
fi

# ---------------------------------------------------------------- tz()
# hourly points over Chicago's spring-forward: local days of 24, 23 and 24 hours,
# printed at local midnight with the day's offset
t_dst=1457762400   # 2016-03-12T06:00:00Z, local midnight
i=0; : > "$tmp/tz.lp"
while [ $i -lt 71 ]; do
	echo "tz_m v=${i}i $((t_dst + i * 3600))" >> "$tmp/tz.lp"
	i=$((i + 1))
done
http tz_write 204 -XPOST "$base/write?db=httptest&precision=s" --data-binary @"$tmp/tz.lp" &&
	retry 5 q tz_days httptest "SELECT count(v) FROM tz_m WHERE time >= '2016-03-12' AND
		time < '2016-03-15' GROUP BY time(1d) tz('America/Chicago')" &&
	js tz_days 'd["results"][0]["series"][0]["values"] == [["2016-03-12T00:00:00-06:00", 24],
		["2016-03-13T00:00:00-06:00", 23], ["2016-03-14T00:00:00-05:00", 24]]' \
		'.[0].results[0].series[0].values == [["2016-03-12T00:00:00-06:00", 24],
		["2016-03-13T00:00:00-06:00", 23], ["2016-03-14T00:00:00-05:00", 24]]' && ok tz_days
q tz_epoch httptest "SELECT count(v) FROM tz_m WHERE time >= '2016-03-12' AND
	time < '2016-03-15' GROUP BY time(1d) tz('America/Chicago')" --data-urlencode epoch=s &&
	js tz_epoch 'd["results"][0]["series"][0]["values"] == [[1457762400, 24], [1457848800, 23],
		[1457931600, 24]]' '.[0].results[0].series[0].values == [[1457762400, 24],
		[1457848800, 23], [1457931600, 24]]' && ok tz_epoch
q tz_unknown httptest "SELECT v FROM tz_m tz('Mars/Olympus')" &&
	js tz_unknown 'd["results"][0]["error"] == "unknown time zone '"'"'Mars/Olympus'"'"'"' \
		'.[0].results[0].error | startswith("unknown time zone")' && ok tz_unknown

# ---------------------------------------------------------------- DROP DATABASE
# count_is CHECK DB N: SELECT count(v) FROM drop_m in DB is N (0: no series at all)
count_is() {
	q "$1" "$2" "SELECT count(v) FROM drop_m" || return 1
	if [ "$3" = 0 ]; then
		js "$1" 'd == {"results": [{"statement_id": 0}]}' '.[0] == {"results": [{"statement_id": 0}]}'
	else
		js "$1" "d['results'][0]['series'][0]['values'][0][1] == $3" \
			".[0].results[0].series[0].values[0][1] == $3"
	fi
}
# write_drop CHECK FIRST N: N points of drop_m, v = FIRST.., one a second from t0
write_drop() {
	i=0; : > "$tmp/drop.lp"
	while [ $i -lt "$3" ]; do
		echo "drop_m,host=h$((i % 3)) v=$(($2 + i))i $((t0 + $2 + i))" >> "$tmp/drop.lp"
		i=$((i + 1))
	done
	http "$1" 204 -XPOST "$base/write?db=dropme&precision=s" --data-binary @"$tmp/drop.lp"
}
drop_db() {
	http "$1" 200 -XPOST "$base/query" --data-urlencode "q=DROP DATABASE dropme" &&
		js "$1" 'd == {"results": [{"statement_id": 0}]}' '.[0] == {"results": [{"statement_id": 0}]}'
}
sfflush() { "$SFCTL" -s "$tmp/ctl.sock" flush > "$tmp/flush.out" 2>&1 || bad "$1" "sfctl flush: $(cat "$tmp/flush.out")"; }
expired() { "$SFCTL" -s "$tmp/ctl.sock" stats | awk '$1 == "flush.points_expired" { print $2 }'; }

# life 0: 30 points, checkpointed to blocks, then 20 more left hot
http drop_create 200 -XPOST "$base/query" --data-urlencode "q=CREATE DATABASE dropme" &&
	write_drop drop_write0 0 30 && sfflush drop_flush0 && write_drop drop_write0 100 20 &&
	retry 5 count_is drop_before dropme 50 && ok drop_before
e0=$(expired)
drop_db drop && ok drop
q drop_gone_show x "SHOW DATABASES" &&
	js drop_gone_show '["dropme"] not in d["results"][0]["series"][0]["values"]' \
		'.[0].results[0].series[0].values | index([["dropme"]]) == null' && ok drop_gone_show
q drop_gone_select dropme "SELECT count(v) FROM drop_m" &&
	js drop_gone_select 'd["results"][0]["error"] == "database not found: dropme"' \
		'.[0].results[0].error == "database not found: dropme"' && ok drop_gone_select
http drop_gone_write 404 -XPOST "$base/write?db=dropme" --data-binary 'drop_m v=1i' &&
	ok drop_gone_write
drop_db drop_missing && ok drop_missing   # InfluxDB: not an error
# life 1: re-created empty; 7 new points, and only those
http drop_recreate 200 -XPOST "$base/query" --data-urlencode "q=CREATE DATABASE dropme" &&
	count_is drop_recreated_empty dropme 0 && ok drop_recreated_empty
write_drop drop_write1 1000 7 && retry 5 count_is drop_life1 dropme 7 &&
	q drop_life1_sum dropme "SELECT sum(v) FROM drop_m" &&
	js drop_life1_sum "d['results'][0]['series'][0]['values'][0][1] == $((7 * 1000 + 21))" \
		".[0].results[0].series[0].values[0][1] == $((7 * 1000 + 21))" && ok drop_life1
# the next checkpoint deletes life 0's 30 block points and 20 hot ones, keeps life 1's
sfflush drop_flush1
e1=$(expired)
[ "$((e1 - e0))" = 50 ] && ok drop_deleted ||
	bad drop_deleted "flush.points_expired went from $e0 to $e1, want +50"
count_is drop_life1_after_flush dropme 7 && ok drop_life1_after_flush
# a drop is durable once answered: kill -9 right after it, then life 2 starts empty
drop_db drop_kill && kill -9 "$pid" && wait "$pid" 2> /dev/null
pid=""
start
wait_until "curl -s -o /dev/null --max-time 2 $base/ping" || bad drop_restart "no answer on $base"
q drop_kill_show x "SHOW DATABASES" &&
	js drop_kill_show '["dropme"] not in d["results"][0]["series"][0]["values"]' \
		'.[0].results[0].series[0].values | index([["dropme"]]) == null' && ok drop_kill_show
http drop_recreate2 200 -XPOST "$base/query" --data-urlencode "q=CREATE DATABASE dropme" &&
	sfflush drop_flush2 && count_is drop_life2_empty dropme 0 && ok drop_life2_empty
q drop_other_db httptest "SELECT usage FROM http_cpu WHERE host = 'a'" &&
	js drop_other_db 'len(d["results"][0]["series"][0]["values"]) >= 1' \
		'.[0].results[0].series[0].values | length >= 1' && ok drop_other_db

stop_daemon
finish "http api"
