#!/usr/bin/env bash
# Builds the phone-band MLLR transform (grammars/en-us/phone.mllr) the way a
# user adapts Earshot to their own line: speech, a transcript, `earshot adapt`.
#
#   bash bench/phone_adapt.sh [BUILD_DIR] [OUT_DIR]
#
# The speech is synthesised here from bench/data/adapt_sentences.txt (60 shop
# sentences written for this, none from the dev or held-out sets), each
# spoken by two voices: one flite voice and one other (pico en-US/en-GB,
# mbrola us1/us2, festival rab), 120 utterances, about 5 minutes. It is put
# through the same phone line as the field set (300-3400 Hz, 8 kHz mu-law,
# kept at 8 kHz) so `earshot adapt` resamples it exactly as the recogniser
# resamples a phone recording. FLITE_ONLY=1 uses only the flite half (a
# check that the transform learns the line, not the field set's voices).
# Deterministic (sox -R).
set -euo pipefail
B=${1:-build}
OUT=${2:-/tmp/earshot-phone-adapt}
HERE=$(cd "$(dirname "$0")" && pwd)
S="sox -R -V1"
mkdir -p "$OUT/wav"
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
FL=(kal slt awb rms)
OT=(pico:en-US pico:en-GB mbrola:mb-us1 mbrola:mb-us2 festival:voice_rab_diphone)
: > "$OUT/transcript.txt"
i=0
while IFS= read -r text; do
  [ -n "$text" ] || continue
  for half in f o; do
    [ "$half" = o ] && [ "${FLITE_ONLY:-0}" = 1 ] && continue
    id=$(printf 'ad%03d%s' "$i" "$half")
    if [ "$half" = f ]; then
      flite -voice "${FL[$((i % 4))]}" -t "$text" -o "$TMP/v.wav"
    else
      v=${OT[$((i % 5))]}; eng=${v%%:*}; name=${v#*:}
      case $eng in
        pico) pico2wave -l "$name" -w "$TMP/v.wav" "$text" ;;
        mbrola) espeak-ng -v "$name" -w "$TMP/v.wav" "$text" 2>/dev/null ;;
        festival) printf '%s\n' "$text" | text2wave -eval "($name)" -o "$TMP/v.wav" ;;
      esac
    fi
    $S "$TMP/v.wav" -r 16000 -c 1 -b 16 "$TMP/c.wav" gain -n -3 pad 0.3 0.4
    $S "$TMP/c.wav" -r 8000 -e u-law -b 8 "$TMP/ph.wav" sinc 300-3400
    $S "$TMP/ph.wav" -e signed-integer -b 16 "$OUT/wav/$id.wav"
    printf '%s %s\n' "$id" "$text" >> "$OUT/transcript.txt"
  done
  i=$((i + 1))
done < "$HERE/data/adapt_sentences.txt"
echo "phone_adapt.sh: $(wc -l < "$OUT/transcript.txt") utterances in $OUT/wav"
if [ -x "$B/earshot" ] && "$B/earshot" adapt --help >/dev/null 2>&1; then
  "$B/earshot" adapt --wav "$OUT/wav" --transcript "$OUT/transcript.txt" -o "$OUT/phone.mllr"
fi
