#!/usr/bin/env bash
# bench/fleet.sh BUILD_DIR KIOSKS DAYS - head office scale by simulation:
# one real day report (earshot transcribe + report) copied for KIOSKS
# databases x DAYS days (db id and day rewritten), published with
# mosquitto_pub -q 1, collected into a private PostgreSQL; prints the
# ingest rate (kiosk-days/s), the database size and the fleet report time.
set -euo pipefail
B=${1:-build}; K=${2:-100}; D=${3:-90}
E=$(cd "$B" && pwd)/earshot
here=$(cd "$(dirname "$0")/.." && pwd)
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
printf 'listener %s 127.0.0.1\nallow_anonymous true\nmax_queued_messages 0\n' "$MQPORT" > "$tmp/mq.conf"
mosquitto -c "$tmp/mq.conf" >"$tmp/mq.log" 2>&1 & MQ=$!
sleep 0.5
"$E" transcribe --db "$tmp/k.db" "$here/examples/sample.wav" >/dev/null 2>&1
day=$(date -u +%F)
"$E" report --db "$tmp/k.db" --format json --min-group 1 --since "$day" --until "$day" --out "$tmp/k.json"
# Register the persistent session, then stop: the broker queues for it.
"$E" collect --mqtt "mqtt://127.0.0.1:$MQPORT" --pg "$PG" --exit-idle 1 2>/dev/null
mkdir "$tmp/msgs"
python3 - "$tmp/k.json" "$tmp/msgs" "$K" "$D" <<'PY'
import json, sys, datetime, os
r = json.load(open(sys.argv[1])); out = sys.argv[2]; K, D = int(sys.argv[3]), int(sys.argv[4])
old = r["sources"][0]; start = datetime.date(2026, 1, 1)
txt = json.dumps(r)
for k in range(K):
    db = "%032x" % (k + 1)
    for d in range(D):
        day = (start + datetime.timedelta(days=d)).isoformat()
        t = txt.replace(old, db).replace(r["filter"]["since"], day)
        open(os.path.join(out, "shop%d_%s_%s" % (k % 50, db, day)), "w").write(t)
PY
t0=$(date +%s.%N)
for f in "$tmp"/msgs/*; do n=$(basename "$f"); IFS=_ read -r s db d <<<"$n"
  mosquitto_pub -p "$MQPORT" -q 1 -t "earshot/fleet/$s/$db/$d" -f "$f"; done
t1=$(date +%s.%N)
"$E" collect --mqtt "mqtt://127.0.0.1:$MQPORT" --pg "$PG" --exit-idle 2 2>"$tmp/col.log"
t2=$(date +%s.%N)
n=$(psql -XAtq "$PG" -c 'SELECT count(*) FROM periods')
echo "fleet bench: $K kiosks x $D days = $((K*D)) reports; stored $n ($(tail -1 "$tmp/col.log"))"
echo "  publish (one mosquitto_pub per report): $(echo "$K*$D/($t1-$t0)" | bc) reports/s"
echo "  collect: $(echo "$n/($t2-$t1-2)" | bc) kiosk-days/s (less the 2 s idle exit)"
echo "  database size: $(psql -XAtq "$PG" -c "SELECT pg_size_pretty(pg_database_size('postgres'))"), figures rows: $(psql -XAtq "$PG" -c 'SELECT count(*) FROM figures')"
t3=$(date +%s.%N); "$E" fleet-report --pg "$PG" --format json --out "$tmp/f.json"; t4=$(date +%s.%N)
echo "  fleet report, whole chain: $(echo "$t4-$t3" | bc) s"
