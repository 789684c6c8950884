#!/usr/bin/env bash
# bench/intent.sh BUILD_DIR - accuracy and cost of the keyword and intent
# core: text path and speech path on the labelled sets, out-of-domain WER
# with and without the domain model, analyze speed, matcher share of
# transcription time, domain model compile time and memory.
set -euo pipefail
B=${1:-build}
E=$B/earshot
EV=$B/bench/eval_intents
here=$(cd "$(dirname "$0")/.." && pwd)
DEV=$here/../shared/eval/dev
LIBRI=/usr/share/pocketsphinx/test/data/librivox
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

echo
echo "== Text path (earshot analyze), grammars/en-us"
for tsv in "$DEV/utterances.tsv" tests/data/paraphrase.tsv tests/data/holdout2.tsv bench/data/holdout3.tsv; do
  [ -r "$tsv" ] || continue
  echo "-- $tsv"
  $EV "$tsv" | tail -n +2
done
cat <<'NOTE'
   (dev: tuned on; paraphrase.tsv, holdout2.tsv: written by helpers and later
    tuned on; holdout3.tsv: never used for tuning, the honest unseen figure)
NOTE

echo
echo "== Speech path: dev sentences spoken by flite (shared/eval/dev/synth.sh)"
bash "$DEV/synth.sh" "$tmp/dev" >/dev/null
for w in 0.3 0; do
  label="domain model weight $w"; [ "$w" = 0 ] && label="generic model only"
  echo "-- $label"
  /usr/bin/time -f "%U %S %M" -o "$tmp/t.$w" $EV --domain-weight $w --wav "$tmp/dev" "$DEV/utterances.tsv" | tail -n +2
done

echo
echo "== Out of domain: librivox (human speech) WER"
mkdir -p "$tmp/libri"
printf 'id\tintent\tscore\ttopics\tsentiment\ttext\n' >"$tmp/libri.tsv"
for f in "$LIBRI"/*.wav; do
  b=$(basename "$f" .wav); ln -s "$f" "$tmp/libri/$b.wav"
  t=$(grep "($b)" "$LIBRI/transcription" | sed 's/<s>//; s/<\/s>//; s/([^)]*)//')
  printf '%s\tother\t-\t-\tneutral\t%s\n' "$b" "$t" >>"$tmp/libri.tsv"
done
for w in 0 0.3; do
  label="with the domain model (0.3)"; [ "$w" = 0 ] && label="spine, generic model"
  printf '%-32s' "$label"; $EV --domain-weight $w --wav "$tmp/libri" "$tmp/libri.tsv" | grep "word error"
done

echo
echo "== Speed"
$EV --speed 500000 "$DEV/utterances.tsv"
read -r u s m <"$tmp/t.0.3"
per_utt=$(echo "($u + $s) / 130" | bc -l)
ana=$($EV --speed 500000 "$DEV/utterances.tsv" | sed 's/.*: \([0-9]*\) utterances\/s.*/\1/')
printf 'transcription CPU per dev utterance %.3f s; analysis %.2f us: the matcher adds %.5f %% to transcription time\n' \
  "$per_utt" "$(echo "1000000 / $ana" | bc -l)" "$(echo "100 / $ana / $per_utt" | bc -l)"
read -r u0 s0 m0 <"$tmp/t.0"
printf 'peak RSS decoding the dev set: %.1f MB with the domain model, %.1f MB generic only\n' \
  "$(echo "$m / 1024" | bc -l)" "$(echo "$m0 / 1024" | bc -l)"

echo
echo "== Domain model compile time (empty cache) and cached start-up"
XDG_CACHE_HOME=$tmp/cache /usr/bin/time -f "%e s wall, first run (compiles)" $E transcribe "$LIBRI/sense_and_sensibility_01_austen_64kb-0880.wav" >/dev/null
XDG_CACHE_HOME=$tmp/cache /usr/bin/time -f "%e s wall, second run (cached)" $E transcribe "$LIBRI/sense_and_sensibility_01_austen_64kb-0880.wav" >/dev/null
ls -la "$tmp"/cache/earshot/ | awk 'NR>1 && /arpa/ {printf "compiled model: %s, %d bytes\n", $9, $5}'
