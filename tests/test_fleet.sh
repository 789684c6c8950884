#!/usr/bin/env bash
# tests/test_fleet.sh - the head office collector with real parts: a
# private PostgreSQL cluster and a private mosquitto broker on free
# localhost ports, kiosk databases made by `earshot transcribe --db`,
# their day reports published with mosquitto_pub -q 1.
set -euo pipefail
E=${EARSHOT_BIN:-build/earshot}
here=$(cd "$(dirname "$0")/.." && pwd)
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
tmp=$(mktemp -d /tmp/earshot-fleet-XXXXXX)
chmod 755 "$tmp"
AS=()
[ "$(id -u)" -eq 0 ] && { chown postgres "$tmp"; AS=(runuser -u postgres --); }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PGPORT=$(free_port); MQPORT=$(free_port)
cleanup() {
  [ -n "${COL:-}" ] && kill "$COL" 2>/dev/null || true
  [ -n "${MQ:-}" ] && kill "$MQ" 2>/dev/null || true
  "${AS[@]}" "$PGBIN/pg_ctl" -D "$tmp/pg" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "test_fleet: FAIL: $*" >&2; exit 1; }

"${AS[@]}" "$PGBIN/initdb" -D "$tmp/pg" -U earshot --auth=trust >/dev/null
"${AS[@]}" "$PGBIN/pg_ctl" -D "$tmp/pg" -o "-p $PGPORT -k $tmp -c listen_addresses=127.0.0.1" -l "$tmp/pg.log" -w start >/dev/null
PG="postgresql://earshot@127.0.0.1:$PGPORT/postgres"
printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\n' "$MQPORT" > "$tmp/mq.conf"
mosquitto -c "$tmp/mq.conf" >"$tmp/mq.log" 2>&1 & MQ=$!
sleep 0.5
q() { psql -XAtq "$PG" -c "$1"; }

start_collector() {
  "$E" collect --mqtt "mqtt://127.0.0.1:$MQPORT" --pg "$PG" >>"$tmp/col.log" 2>&1 & COL=$!
  for _ in $(seq 50); do grep -q subscribed "$tmp/col.log" 2>/dev/null && return; sleep 0.1; done
  fail "collector did not subscribe: $(cat "$tmp/col.log")"
}
wait_rows() { # wait until periods has $1 rows
  for _ in $(seq 100); do [ "$(q 'SELECT count(*) FROM periods')" = "$1" ] && return; sleep 0.1; done
  fail "periods has $(q 'SELECT count(*) FROM periods') rows, expected $1"
}
start_collector

# Three kiosk databases, each with the sample transcribed.
day=$(date -u +%F)
for k in 1 2 3; do
  "$E" transcribe --db "$tmp/k$k.db" --consent granted "$here/examples/sample.wav" >/dev/null 2>&1 \
    || "$E" transcribe --db "$tmp/k$k.db" "$here/examples/sample.wav" >/dev/null
  "$E" report --db "$tmp/k$k.db" --format json --min-group 1 --since "$day" --until "$day" --out "$tmp/k$k.json"
  id=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['sources'][0])" "$tmp/k$k.json")
  echo "$id" > "$tmp/k$k.id"
  mosquitto_pub -p "$MQPORT" -q 1 -t "earshot/fleet/shop$k/$id/$day" -f "$tmp/k$k.json"
done
wait_rows 3
figs=$(q 'SELECT count(*) FROM figures')
[ "$figs" -gt 0 ] || fail "no figures stored"

# The fleet report equals `report merge` of the same files, figure for figure.
cmp_reports() { python3 - "$1" "$2" <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
def norm(r):
    s = r["sections"]
    return {k: (sorted(json.dumps(x, sort_keys=True) for x in v) if isinstance(v, list) else v)
            for k, v in s.items()}, sorted(r["sources"]), r["period"], r["min_group"]
if norm(a) != norm(b):
    print(json.dumps(norm(a))[:2000]); print(json.dumps(norm(b))[:2000]); sys.exit(1)
PY
}
for K in 1 2; do
  "$E" report merge "$tmp/k1.json" "$tmp/k2.json" "$tmp/k3.json" --min-group $K --format json --out "$tmp/merge.json"
  "$E" fleet-report --pg "$PG" --min-group $K --format json --out "$tmp/fleet.json"
  cmp_reports "$tmp/merge.json" "$tmp/fleet.json" || fail "fleet report != report merge (K=$K)"
done
printf 'site,region\nshop1,north\nshop2,north\nshop3,south\n' > "$tmp/sites.csv"
"$E" sites import "$tmp/sites.csv" --pg "$PG" >/dev/null
"$E" report merge "$tmp/k1.json" "$tmp/k2.json" --min-group 1 --format json --out "$tmp/merge.json"
"$E" report --pg "$PG" --region north --min-group 1 --format json --out "$tmp/fleet.json"
cmp_reports "$tmp/merge.json" "$tmp/fleet.json" || fail "region north != merge of shop1+shop2"
"$E" fleet-report --pg "$PG" --site shop3 --format md --out "$tmp/fleet.md"
grep -q . "$tmp/fleet.md" || fail "no Markdown fleet report"

# Duplicated and replayed: nothing changes.
id1=$(cat "$tmp/k1.id")
mosquitto_pub -p "$MQPORT" -q 1 -t "earshot/fleet/shop1/$id1/$day" -f "$tmp/k1.json"
mosquitto_pub -p "$MQPORT" -q 1 -t "earshot/fleet/shop1/$id1/$day" -f "$tmp/k1.json"
# Malformed and oversized: skipped, logged.
mosquitto_pub -p "$MQPORT" -q 1 -t "earshot/fleet/shop1/$id1/$day" -m '{"format": "earshot-report", "version": 1, "sections": ['
head -c 5000000 /dev/zero | tr '\0' ' ' > "$tmp/big"
mosquitto_pub -p "$MQPORT" -q 1 -t "earshot/fleet/shop1/$id1/$day" -f "$tmp/big"
for _ in $(seq 50); do [ "$(grep -c skipped "$tmp/col.log")" -ge 2 ] && break; sleep 0.1; done
[ "$(grep -c 'skipped' "$tmp/col.log")" -ge 2 ] || fail "malformed/oversized not logged: $(cat "$tmp/col.log")"
[ "$(q 'SELECT count(*) FROM periods')" = 3 ] || fail "periods changed"
[ "$(q 'SELECT count(*) FROM figures')" = "$figs" ] || fail "figures changed after duplicates"
kill -0 "$COL" || fail "collector died"

# Killed with SIGKILL; reports published while it is down arrive on restart.
kill -9 "$COL"; wait "$COL" 2>/dev/null || true; COL=
python3 - "$tmp/k2.json" "$tmp/k2b.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
r["sections"]["overview"]["utterances"]["n"] += 1   # a corrected day
json.dump(r, open(sys.argv[2], "w"))
PY
id2=$(cat "$tmp/k2.id")
mosquitto_pub -p "$MQPORT" -q 1 -t "earshot/fleet/shop2/$id2/$day" -f "$tmp/k2b.json"
start_collector
want=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['sections']['overview']['utterances']['n'])" "$tmp/k2b.json")
for _ in $(seq 100); do
  [ "$(q "SELECT n FROM figures WHERE db_id='$id2' AND tbl='overview' AND cell='utterances'")" = "$want" ] && break; sleep 0.1; done
sleep 1
[ "$(q 'SELECT count(*) FROM periods')" = 3 ] || fail "periods after restart"
[ "$(q 'SELECT count(*) FROM figures')" = "$figs" ] || fail "figures doubled or lost after restart"
got=$(q "SELECT n FROM figures WHERE db_id='$id2' AND tbl='overview' AND cell='utterances'")
[ "$got" = "$want" ] || fail "corrected day not applied: $got != $want"

# The per-site rollup the fleet report reads equals the kiosks' figures
# summed per site and day, row for row.
rollup_ok() {
  local bad
  bad=$(q "SELECT count(*) FROM (SELECT p.site, f.period, f.tbl, f.key1, f.key2, f.cell,
             sum(f.n) AS n, sum(f.sessions) AS s, count(*) AS i,
             count(*) FILTER (WHERE f.flags & 1 <> 0) AS u
           FROM figures f JOIN periods p USING (db_id, period) GROUP BY 1, 2, 3, 4, 5, 6) a
         FULL JOIN site_figures r USING (site, period, tbl, key1, key2, cell)
         WHERE a.n IS DISTINCT FROM r.n OR a.s IS DISTINCT FROM r.sessions
            OR a.i IS DISTINCT FROM r.inputs OR a.u IS DISTINCT FROM r.unknown")
  [ "$bad" = 0 ] || fail "site rollup differs from the kiosks' figures in $bad rows ($1)"
}
rollup_ok "after a correction"
# A corrected day that moves the kiosk to another site: its figures leave
# shop2's rollup and join shop2b's; the fleet report follows.
python3 - "$tmp/k2b.json" "$tmp/k2c.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
r["sections"]["overview"]["utterances"]["n"] += 1
json.dump(r, open(sys.argv[2], "w"))
PY
mosquitto_pub -p "$MQPORT" -q 1 -t "earshot/fleet/shop2b/$id2/$day" -f "$tmp/k2c.json"
for _ in $(seq 100); do [ "$(q "SELECT site FROM periods WHERE db_id='$id2'")" = shop2b ] && break; sleep 0.1; done
[ "$(q "SELECT site FROM periods WHERE db_id='$id2'")" = shop2b ] || fail "the day did not move to shop2b"
rollup_ok "after a site move"
[ "$(q "SELECT count(*) FROM site_figures WHERE site = 'shop2'")" = 0 ] || fail "shop2 keeps rollup rows"
"$E" report merge "$tmp/k1.json" "$tmp/k2c.json" "$tmp/k3.json" --min-group 1 --format json --out "$tmp/merge.json"
"$E" report --pg "$PG" --min-group 1 --format json --out "$tmp/fleet.json"
cmp_reports "$tmp/merge.json" "$tmp/fleet.json" || fail "fleet report after the corrections != merge"
"$E" report merge "$tmp/k2c.json" --min-group 1 --format json --out "$tmp/merge.json"
"$E" report --pg "$PG" --site shop2b --min-group 1 --format json --out "$tmp/fleet.json"
cmp_reports "$tmp/merge.json" "$tmp/fleet.json" || fail "shop2b's report != the moved kiosk's day"

# A row twice in one table: skipped (PostgreSQL's key would refuse it and
# stop the collector, and the broker would resend it for ever).
python3 - "$tmp/k3.json" "$tmp/k3dup.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
rows = r["sections"]["intents"]
assert rows, "the sample has an intent row"
rows.append(dict(rows[0]))
json.dump(r, open(sys.argv[2], "w"))
PY
id3=$(cat "$tmp/k3.id")
mosquitto_pub -p "$MQPORT" -q 1 -t "earshot/fleet/shop3/$id3/$day" -f "$tmp/k3dup.json"
for _ in $(seq 50); do grep -q 'twice' "$tmp/col.log" && break; sleep 0.1; done
grep -q "sections.intents: the row .* twice" "$tmp/col.log" || fail "duplicate row not skipped: $(tail -3 "$tmp/col.log")"
kill -0 "$COL" || fail "collector died on a duplicate row"
[ "$(q 'SELECT count(*) FROM figures')" = "$figs" ] || fail "figures changed after a duplicate row"

# A kiosk offline for 3 days (the broker stopped) catches up with
# `earshot publish` when it returns; the collector reconnects by itself.
"$E" transcribe --db "$tmp/k9.db" --consent granted "$here/examples/sample.wav" >/dev/null 2>&1 \
  || "$E" transcribe --db "$tmp/k9.db" "$here/examples/sample.wav" >/dev/null
for _ in 1 2; do "$E" transcribe --db "$tmp/k9.db" "$here/examples/sample.wav" >/dev/null 2>&1; done
days9=$(python3 - "$tmp/k9.db" <<'PY'
import sqlite3, sys
con = sqlite3.connect(sys.argv[1])
n = con.execute("select count(*) from sessions").fetchone()[0]
assert n == 3, "three sessions, got %d" % n
# one session on each of the three days before today
con.execute("update sessions set started_at = replace(started_at, substr(started_at,1,10),"
            " date('now', '-' || id || ' days'))")
con.execute("update utterances set heard_at = replace(heard_at, substr(heard_at,1,10),"
            " (select substr(started_at,1,10) from sessions s where s.id = session_id))")
con.commit()
print(" ".join(r[0] for r in con.execute("select distinct substr(started_at,1,10) from sessions order by 1")))
PY
)
[ "$(wc -w <<<"$days9")" = 3 ] || fail "kiosk 9 has not 3 days: $days9"
p0=$(q 'SELECT count(*) FROM periods')
kill "$MQ"; wait "$MQ" 2>/dev/null || true; MQ=
set +e
"$E" publish --db "$tmp/k9.db" --mqtt "mqtt://127.0.0.1:$MQPORT" --site shop9 --timeout 2 2>"$tmp/pub.err"
rc=$?
set -e
[ "$rc" = 1 ] || fail "publish with the broker down: exit $rc (want 1): $(cat "$tmp/pub.err")"
grep -q "3 messages not acknowledged" "$tmp/pub.err" || fail "publish did not say what it kept: $(cat "$tmp/pub.err")"
[ "$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(\"select count(*) from outbox where sent_at is null and topic like 'earshot/fleet/%'\").fetchone()[0])" "$tmp/k9.db")" = 3 ] \
  || fail "the 3 days are not kept in the kiosk's outbox"
nsub=$(grep -c subscribed "$tmp/col.log")
mosquitto -c "$tmp/mq.conf" >>"$tmp/mq.log" 2>&1 & MQ=$!
for _ in $(seq 100); do [ "$(grep -c subscribed "$tmp/col.log")" -gt "$nsub" ] && break; sleep 0.1; done
[ "$(grep -c subscribed "$tmp/col.log")" -gt "$nsub" ] || fail "collector did not resubscribe: $(tail -3 "$tmp/col.log")"
"$E" publish --db "$tmp/k9.db" --mqtt "mqtt://127.0.0.1:$MQPORT" --site shop9 --timeout 20 2>"$tmp/pub.err" \
  || fail "publish after the broker returned: $(cat "$tmp/pub.err")"
wait_rows $((p0 + 3))
first=${days9%% *}; last=${days9##* }
"$E" report --db "$tmp/k9.db" --format json --min-group 1 --utc --since "$first" --until "$last" --out "$tmp/merge.json"
"$E" report --pg "$PG" --site shop9 --min-group 1 --format json --out "$tmp/fleet.json"
cmp_reports "$tmp/merge.json" "$tmp/fleet.json" || fail "kiosk 9's 3 days at head office != its own report of the 3 days"

# SIGKILL mid-batch: 600 busy days queued while the collector is away; it
# is killed while it drains them, restarted, and every day is there once.
kill "$COL"; wait "$COL" 2>/dev/null || true; COL=
B=$(dirname "$E")
"$B/bench/report_bench" "$tmp" "$here/../shared/eval/dev/utterances.tsv" 20000 >/dev/null
bday=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select substr(started_at,1,10) d from sessions group by d order by count(*) desc limit 1').fetchone()[0])" "$tmp/report.db")
"$E" report --db "$tmp/report.db" --format json --min-group 1 --utc --since "$bday" --until "$bday" --out "$tmp/busy.json"
p0=$(q 'SELECT count(*) FROM periods'); f0=$(q 'SELECT count(*) FROM figures')
[ "$("$B/bench/fleet_pub" 127.0.0.1 "$MQPORT" "$tmp/busy.json" 20 30 2025-01-01)" = 600 ] || fail "fleet_pub did not publish 600"
# Three kills, each a moment after a batch was seen committed: the next
# batch is being read and stored then, its acknowledgements held back.
prev=$p0; mid=
for _ in 1 2 3; do
  start_collector
  for _ in $(seq 600); do [ "$(q 'SELECT count(*) FROM periods')" -gt "$prev" ] && break; sleep 0.02; done
  sleep 0.1
  kill -9 "$COL"; wait "$COL" 2>/dev/null || true; COL=
  prev=$(q 'SELECT count(*) FROM periods'); mid=${mid:-$prev}
done
[ "$mid" -gt "$p0" ] && [ "$mid" -lt $((p0 + 600)) ] || fail "not killed mid-way: $((mid - p0)) of 600 stored"
start_collector
wait_rows $((p0 + 600))
sleep 1
[ "$(q 'SELECT count(*) FROM periods')" = $((p0 + 600)) ] || fail "periods after SIGKILL mid-batch"
per=$(python3 - "$tmp/busy.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print(r["sections"]["overview"]["utterances"]["n"])
PY
)
got=$(q "SELECT sum(n) FROM figures WHERE db_id LIKE '0000%' AND tbl='overview' AND cell='utterances'")
[ "$got" = $((600 * per)) ] || fail "utterances after SIGKILL mid-batch: $got, want $((600 * per))"
nf=$(q "SELECT count(*) FROM figures WHERE db_id LIKE '0000%'")
[ $((nf % 600)) = 0 ] && [ "$(q 'SELECT count(*) FROM figures')" = $((f0 + nf)) ] || fail "figures after SIGKILL mid-batch: $nf"
rollup_ok "after the SIGKILLs"
# Under SANITIZE=1 the collector's reports land in its log: any is a failure.
kill "$COL"; wait "$COL" 2>/dev/null || true; COL=
! grep -E "AddressSanitizer|LeakSanitizer|runtime error:" "$tmp/col.log" || fail "sanitizer report in the collector's log"
grep -q "stored, .* (.* transactions)" "$tmp/col.log" || fail "collector did not stop cleanly on SIGTERM"
echo "test_fleet: ok (3 kiosks, $figs figures; duplicate, replay, malformed, oversized, duplicate row, SIGKILL, correction; a kiosk 3 days offline caught up; 3 SIGKILLs while draining 600, the first after $((mid - p0)))"
