#!/usr/bin/env bash
# bench/fleet.sh BUILD_DIR KIOSKS DAYS [busy|sample] - head office scale by
# simulation: one real day report copied for KIOSKS databases x DAYS days
# (db id and day rewritten), published with QoS 1 by bench/fleet_pub (100
# in flight), collected into a private PostgreSQL by one `earshot collect`;
# prints the publish and ingest rates (kiosk-days/s), the database size and
# the fleet report time for the whole chain and for one region.
#   busy   (default) a busy kiosk's day: ~220 utterances in 74 sessions of
#          the dev sentences (bench/report_bench's generated database),
#          ~25 kB of JSON, ~250 figure rows
#   sample the bundled sample transcribed: one utterance, 17 figure rows
set -euo pipefail
B=${1:-build}; K=${2:-100}; D=${3:-90}; KIND=${4:-busy}
E=$(cd "$B" && pwd)/earshot
here=$(cd "$(dirname "$0")/.." && pwd)
[ -x "$B/bench/fleet_pub" ] && [ -x "$B/bench/report_bench" ] \
  || { echo "bench/fleet.sh: needs make $B/bench/fleet_pub $B/bench/report_bench" >&2; exit 2; }
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
tmp=$(mktemp -d /tmp/earshot-fleetbench-XXXXXX); chmod 755 "$tmp"
AS=(); [ "$(id -u)" -eq 0 ] && { chown postgres "$tmp"; AS=(runuser -u postgres --); }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PGPORT=$(free_port); MQPORT=$(free_port)
cleanup() { [ -n "${MQ:-}" ] && kill "$MQ" 2>/dev/null; "${AS[@]}" "$PGBIN/pg_ctl" -D "$tmp/pg" -m immediate stop >/dev/null 2>&1; rm -rf "$tmp"; }
trap cleanup EXIT
"${AS[@]}" "$PGBIN/initdb" -D "$tmp/pg" -U earshot --auth=trust >/dev/null
"${AS[@]}" "$PGBIN/pg_ctl" -D "$tmp/pg" -o "-p $PGPORT -k $tmp -c listen_addresses=127.0.0.1" -l "$tmp/pg.log" -w start >/dev/null
PG="postgresql://earshot@127.0.0.1:$PGPORT/postgres"
printf 'listener %s 127.0.0.1\nallow_anonymous true\nmax_queued_messages 0\nmax_queued_bytes 0\n' "$MQPORT" > "$tmp/mq.conf"
mosquitto -c "$tmp/mq.conf" >"$tmp/mq.log" 2>&1 & MQ=$!
sleep 0.5
if [ "$KIND" = sample ]; then
  "$E" transcribe --db "$tmp/k.db" "$here/examples/sample.wav" >/dev/null 2>&1
  day=$(date -u +%F)
  "$E" report --db "$tmp/k.db" --format json --min-group 1 --since "$day" --until "$day" --out "$tmp/k.json"
else
  mkdir "$tmp/rb"
  "$B/bench/report_bench" "$tmp/rb" "$here/../shared/eval/dev/utterances.tsv" 20000 >/dev/null
  day=$(sqlite3 "$tmp/rb/report.db" "select substr(started_at,1,10) d from sessions group by d order by count(*) desc limit 1")
  "$E" report --db "$tmp/rb/report.db" --format json --min-group 1 --utc --since "$day" --until "$day" --out "$tmp/k.json"
fi
rows=$(python3 -c "
import json,sys; r=json.load(open(sys.argv[1])); print(sum(len(v) if isinstance(v,list) else 1 for v in r['sections'].values()))" "$tmp/k.json")
# Register the persistent session, then stop: the broker queues for it.
"$E" collect --mqtt "mqtt://127.0.0.1:$MQPORT" --pg "$PG" --exit-idle 1 2>/dev/null
now() { date +%s.%N; }
t0=$(now)
sent=$("$B/bench/fleet_pub" 127.0.0.1 "$MQPORT" "$tmp/k.json" "$K" "$D" 2026-01-01)
t1=$(now)
${TIMECOL:+/usr/bin/time -f "collector CPU: user %U s, sys %S s, max RSS %M kB"} "$E" collect --mqtt "mqtt://127.0.0.1:$MQPORT" --pg "$PG" --exit-idle 2 ${VERBOSE:+--verbose} 2>"$tmp/col.log" &
col=$!
# Timed to the last stored report, not to the collector's idle exit.
while :; do n=$(psql -XAtq "$PG" -c 'SELECT count(*) FROM periods'); [ "$n" -ge "$sent" ] && break
  kill -0 $col 2>/dev/null || break; sleep 0.2; done
t2=$(now)
wait $col || true; [ -n "${VERBOSE:-}" ] && cp "$tmp/col.log" /tmp/fleet-col.log
n=$(psql -XAtq "$PG" -c 'SELECT count(*) FROM periods')
echo "fleet bench ($KIND day, $(wc -c < "$tmp/k.json") bytes, $rows report rows): $K kiosks x $D days = $((K*D)) reports; stored $n"
echo "  $(tail -1 "$tmp/col.log")"
echo "  publish (fleet_pub, QoS 1, 100 in flight): $(echo "$sent/($t1-$t0)" | bc) reports/s"
echo "  collect: $(echo "$n/($t2-$t1)" | bc) kiosk-days/s ($(echo "$t2-$t1" | bc) s)"
echo "  database size: $(psql -XAtq "$PG" -c "SELECT pg_size_pretty(pg_database_size('postgres'))"), figures rows: $(psql -XAtq "$PG" -c 'SELECT count(*) FROM figures')"
# Regions: 50 shops in 5 regions.
{ echo site,region; for s in $(seq 0 49); do echo "shop$s,region$((s % 5))"; done; } > "$tmp/sites.csv"
"$E" sites import "$tmp/sites.csv" --pg "$PG" >/dev/null
for run in 1 2; do
  t3=$(now); "$E" report --pg "$PG" --format json --out "$tmp/f.json"; t4=$(now)
  "$E" report --pg "$PG" --region region0 --format json --out "$tmp/r.json"; t5=$(now)
  "$E" report --pg "$PG" --format html --out "$tmp/f.html"; t6=$(now)
  echo "  fleet report (run $run): whole chain JSON $(echo "$t4-$t3" | bc) s, one region (of 5) $(echo "$t5-$t4" | bc) s, whole chain HTML $(echo "$t6-$t5" | bc) s"
done
