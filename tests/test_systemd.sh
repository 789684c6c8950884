#!/usr/bin/env bash
# tests/test_systemd.sh STAGE - the installed systemd unit passes
# `systemd-analyze verify` with nothing to say (issue 16, item 3).
#
# STAGE is a DESTDIR install with PREFIX=/usr (the one make test makes in
# build/install-check/stage). systemd-analyze checks that ExecStart's
# binary exists and is executable, so the unit is verified with the
# path put in by `make install` (/usr/bin/earshot) pointed at the staged
# binary; --root would need a whole systemd tree (sysinit.target ...).
# It needs no running systemd. verify exits 0 on unknown keys and bad
# values (it only warns), so any line it prints about the unit fails.
# EARSHOT_PLANT_BAD_UNIT=1 adds a misspelt key first, to see it fail.
set -euo pipefail
# make test runs it with no argument: the stage beside $EARSHOT_BIN.
stage=${1:-$(dirname "${EARSHOT_BIN:?usage: test_systemd.sh STAGE}")/install-check/stage}
unit=$stage/usr/lib/systemd/system/earshot.service
conf=$stage/usr/share/earshot/earshot.conf.example
command -v systemd-analyze >/dev/null || { echo "test_systemd: systemd-analyze is missing (Debian package systemd)" >&2; exit 1; }
for f in "$unit" "$conf" "$stage/usr/bin/earshot"; do
  [ -e "$f" ] || { echo "test_systemd: $f was not installed" >&2; exit 1; }
done
grep -q '^ExecStart=/usr/bin/earshot serve --config /etc/earshot/earshot.conf' "$unit" \
  || { echo "test_systemd: $unit: ExecStart does not run /usr/bin/earshot serve --config /etc/earshot/earshot.conf" >&2; exit 1; }
for want in Type=notify WatchdogSec= Restart=on-failure DynamicUser=yes StateDirectory=earshot \
            ProtectSystem=strict NoNewPrivileges=yes; do
  grep -q "^$want" "$unit" || { echo "test_systemd: $unit lacks $want" >&2; exit 1; }
done
tmp=$(mktemp -d "${TMPDIR:-/tmp}/earshot-systemd-XXXXXX"); trap 'rm -rf "$tmp"' EXIT
sed "s|^ExecStart=/usr/bin/|ExecStart=$stage/usr/bin/|" "$unit" > "$tmp/earshot.service"
[ "${EARSHOT_PLANT_BAD_UNIT:-}" = 1 ] && sed -i 's/^Restart=on-failure/Restart=on-failure\nRestartSecs=5/' "$tmp/earshot.service"
rc=0
systemd-analyze verify --man=no "$tmp/earshot.service" >"$tmp/out" 2>&1 || rc=$?
if [ "$rc" -ne 0 ] || grep -q . "$tmp/out"; then
  echo "test_systemd: systemd-analyze verify $unit (exit $rc):" >&2
  sed "s|$tmp/|$unit (staged copy) |" "$tmp/out" >&2
  exit 1
fi
# The example config holds every key of `earshot serve` and each one is
# accepted: all of them uncommented, the file is read (a bad key or value
# is a FILE:LINE: error) and only then the planted --consent is refused.
sed -E 's/^# ([a-z-]+ = .*)$/\1/' "$conf" > "$tmp/all.conf"
keys=$(grep -cE '^[a-z-]+ = ' "$tmp/all.conf")
opts=$("$stage/usr/bin/earshot" serve --help 2>&1 | grep -oE '\[--[a-z-]+' | grep -vc -- '--config')
[ "$keys" -eq "$opts" ] || { echo "test_systemd: $conf has $keys keys, earshot serve $opts options" >&2; exit 1; }
rc=0
"$stage/usr/bin/earshot" serve --config "$tmp/all.conf" --consent planted-error 2>"$tmp/err" || rc=$?
if [ "$rc" -ne 2 ] || ! grep -q "not 'planted-error'" "$tmp/err"; then
  echo "test_systemd: the example config is refused (exit $rc):" >&2; cat "$tmp/err" >&2; exit 1
fi
echo "test_systemd: ok ($unit verified, $conf accepted)"
