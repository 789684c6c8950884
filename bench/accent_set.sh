#!/usr/bin/env bash
# Speaks the first N sentences of bench/data/adapt_sentences.txt (default
# 30; none from the dev or held-out sets) with two British voices (festival
# rab, pico en-GB) and two American ones (pico en-US, mbrola us1), quiet, as
# the field set's clean rows are made, plus a TSV for eval_intents:
#
#   bash bench/accent_set.sh OUT_DIR [N]
#   build/bench/eval_intents --wav OUT_DIR OUT_DIR/british.tsv
#   build/bench/eval_intents --wav OUT_DIR OUT_DIR/american.tsv
#
# Used to keep only pronunciation variants (grammars/en-us/pronunciations.dict)
# that help British voices without hurting American ones. Deterministic.
set -euo pipefail
OUT=${1:?usage: accent_set.sh OUT_DIR [N]}
N=${2:-30}
HERE=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$OUT"
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
H=$'id\tintent\tscore\ttopics\tsentiment\ttext'
echo "$H" > "$OUT/british.tsv"; echo "$H" > "$OUT/american.tsv"
i=0
while IFS= read -r text && [ "$i" -lt "$N" ]; do
  for v in rab gb us us1; do
    id=$(printf 'ac%03d%s' "$i" "$v")
    case $v in
      rab) printf '%s\n' "$text" | text2wave -eval "(voice_rab_diphone)" -o "$TMP/v.wav"; t=british ;;
      gb) pico2wave -l en-GB -w "$TMP/v.wav" "$text"; t=british ;;
      us) pico2wave -l en-US -w "$TMP/v.wav" "$text"; t=american ;;
      us1) espeak-ng -v mb-us1 -w "$TMP/v.wav" "$text" 2>/dev/null; t=american ;;
    esac
    sox -R -V1 "$TMP/v.wav" -r 16000 -c 1 -b 16 "$OUT/$id.wav" gain -n -3 pad 0.3 0.4
    printf '%s\tother\t-\t-\tneutral\t%s\n' "$id" "$text" >> "$OUT/$t.tsv"
  done
  i=$((i + 1))
done < "$HERE/data/adapt_sentences.txt"
echo "accent_set.sh: $i sentences x 4 voices in $OUT"
