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
echo "test_fleet: ok (3 kiosks, $figs figures; duplicate, replay, malformed, oversized, SIGKILL, correction)"
