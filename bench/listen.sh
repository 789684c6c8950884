#!/usr/bin/env bash
# bench/listen.sh BUILD_DIR - the listener on a device paced in real time
# (a JACK server with the dummy driver): end-of-speech to event latency over
# the dev sentences, and CPU while listening and while idle.
set -euo pipefail
B=${1:-build}
here=$(cd "$(dirname "$0")/.." && pwd)
command -v jackd >/dev/null || { echo "bench/listen.sh: jackd missing (bash .ci/install-deps)"; exit 0; }
tmp=$(mktemp -d); export JACK_DEFAULT_SERVER=earshot-bench
trap 'kill $jack 2>/dev/null; rm -rf "$tmp"' EXIT
jackd -n $JACK_DEFAULT_SERVER --no-realtime -d dummy -r 16000 -p 1024 -w 64000 >/dev/null 2>&1 & jack=$!
for i in $(seq 50); do sleep 0.1; jack_lsp >/dev/null 2>&1 && break; done
echo
echo "== Listener (JACK dummy driver, real time)"
# 40 dev sentences, 1.5 s apart.
bash "$here/../shared/eval/dev/synth.sh" "$tmp/dev" >/dev/null
sox -n -r 16000 -c 1 -b 16 "$tmp/gap.wav" trim 0 1.5
parts=(); for f in $(ls "$tmp"/dev/*.wav | head -40); do parts+=("$f" "$tmp/gap.wav"); done
sox "${parts[@]}" "$tmp/play.wav"
secs=$(soxi -D "$tmp/play.wav" | cut -d. -f1)
"$B/bench/listen_bench" system $((secs + 4)) >"$tmp/out" &
bench=$!
for i in $(seq 300); do sleep 0.1; jack_lsp 2>/dev/null | grep -q PortAudio:in_0 && break; done
sndfile-jackplay -a=PortAudio:in_0 "$tmp/play.wav" >/dev/null 2>&1
wait $bench
echo "-- listening to 40 dev sentences ($secs s)"; cat "$tmp/out"
"$B/bench/listen_bench" system 20 >"$tmp/idle"
echo "-- idle (20 s of the device's silence)"; head -1 "$tmp/idle"
