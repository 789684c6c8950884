#!/usr/bin/env bash
# bench/latency.sh BUILD_DIR - end-of-speech-to-callback latency, paced in
# real time: dev sentences with a room's noise between them are played into
# a JACK server's dummy driver and build/bench/latency captures them the
# way a kiosk does (copy-only capture callback, one decoding thread). Each
# decoder setting is one pass over the same audio: latency median and p95,
# the voice-activity detector's share, the cost of finishing an utterance,
# CPU, and the WER of the words (so a faster setting shows what it costs).
#
# LATENCY_ROWS=N sentences (default 16, every 8th dev row);
# LATENCY_SETTINGS='label|options;label|options' replaces the default list.
set -euo pipefail
B=${1:-build}
here=$(cd "$(dirname "$0")/.." && pwd)
command -v jackd >/dev/null || { echo "bench/latency.sh: jackd missing (bash .ci/install-deps)"; exit 0; }
command -v sndfile-jackplay >/dev/null || { echo "bench/latency.sh: sndfile-jackplay missing (sndfile-tools)"; exit 0; }
tmp=$(mktemp -d); export JACK_DEFAULT_SERVER=earshot-latency-$$
jack=
trap '[ -n "$jack" ] && kill $jack 2>/dev/null; rm -rf "$tmp"' EXIT
jackd -n "$JACK_DEFAULT_SERVER" --no-realtime -d dummy -r 16000 -p 1024 -w 64000 >/dev/null 2>&1 & jack=$!
for i in $(seq 50); do sleep 0.1; jack_lsp >/dev/null 2>&1 && break; done

rows=${LATENCY_ROWS:-16}
tsv=$here/../shared/eval/dev/utterances.tsv
bash "$here/../shared/eval/dev/synth.sh" "$tmp/dev" >/dev/null
# Every 8th row, so that all four voices and all intents take part.
ids=$(awk -F'\t' 'NR > 1 && (NR - 2) % 8 == 0 {print $1}' "$tsv" | head -"$rows")
# 1.5 s of a room's noise floor (-50 dBFS) between sentences, as a kiosk
# microphone hears; the first sentence starts after it too.
sox -R -n -r 16000 -c 1 -b 16 "$tmp/gap.wav" synth 1.5 whitenoise vol 0.003
parts=("$tmp/gap.wav"); : >"$tmp/ref.txt"
for id in $ids; do
  parts+=("$tmp/dev/$id.wav" "$tmp/gap.wav")
  awk -F'\t' -v id="$id" '$1 == id {print $6}' "$tsv" >>"$tmp/ref.txt"
done
sox "${parts[@]}" "$tmp/play.wav"
secs=$(soxi -D "$tmp/play.wav")
n=$(echo "$ids" | wc -w)

settings=${LATENCY_SETTINGS:-"default|;partials on|--partial;-vad_postspeech 25|--decoder -vad_postspeech 25;-vad_postspeech 15|--decoder -vad_postspeech 15;-fwdflat no (best path only)|--decoder -fwdflat no;-fwdflat no -bestpath no (first pass only)|--decoder -fwdflat no -bestpath no"}
echo
printf '== Latency, end of speech to the utterance callback (JACK dummy driver, real time)\n'
printf '%d dev sentences, %.0f s of audio, 1.5 s of room noise between them; one pass per setting\n' "$n" "$secs"
# A warm cache (the kiosk vocabulary and domain model are built once).
"$B/earshot" transcribe "$tmp/dev/$(echo "$ids" | head -1).wav" >/dev/null
IFS=';' read -ra list <<<"$settings"
for s in "${list[@]}"; do
  label=${s%%|*}; opts=${s#*|}
  args=()
  if [[ $opts == --decoder* ]]; then args=(--decoder "${opts#--decoder }");
  elif [ -n "$opts" ]; then read -ra args <<<"$opts"; fi
  "$B/bench/latency" system "$(echo "$secs + 1" | bc)" ${args[@]+"${args[@]}"} >"$tmp/out" 2>"$tmp/err" &
  bench=$!
  for i in $(seq 300); do sleep 0.1; jack_lsp 2>/dev/null | grep -q PortAudio:in_0 && break; done
  sndfile-jackplay -a=PortAudio:in_0 "$tmp/play.wav" >/dev/null 2>&1
  wait $bench || { echo "-- $label: failed: $(cat "$tmp/err")"; continue; }
  sed -n 's/^text: //p' "$tmp/out" >"$tmp/hyp.txt"
  read -r err words <<<"$("$B/bench/wer" "$tmp/ref.txt" "$tmp/hyp.txt")"
  echo "-- $label (load average $(cut -d' ' -f1 /proc/loadavg) on $(nproc) cores)"
  grep -v '^text:' "$tmp/out" | sed 's/^/   /'
  printf '   WER %.1f %% (%d/%d)\n' "$(echo "100 * $err / $words" | bc -l)" "$err" "$words"
done
