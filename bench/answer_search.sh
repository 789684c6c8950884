#!/usr/bin/env bash
# answer_search.sh BUILD [OUT] - the answer-search measurement of issue 12
# (item 3): short answers to the consent and rating questions, spoken by
# four voices (flite slt, pico en-US, mbrola us1, festival rab), clean and
# mixed with babble and music at 10 dB; plus noise alone where the answer
# should be. Then build/bench/answer_search decodes each file with the open
# search (the library, with the question set) and a constrained one
# (PocketSphinx JSGF of the expected answers with a garbage loop).
# Babble is three other voices' speech from the field set
# (/work/field/sub, or FIELD=DIR), music the field set's synthetic chords.
set -euo pipefail
B=${1:-build}; OUT=${2:-$B/answer-search}
FIELD=${FIELD:-/work/field/sub}
mkdir -p "$OUT"; TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
S="sox -R -V1"
rms() { sox "$1" -n stat 2>&1 | awk '/^RMS[ ]+amplitude/ {print $3}'; }
mix_at() {  # mix_at SIGNAL NOISE SNR OUT
  local dur g; dur=$(soxi -D "$1")
  $S "$2" "$TMP/n1.wav" repeat 20 trim 0 "$dur"
  g=$(awk -v s="$(rms "$1")" -v n="$(rms "$TMP/n1.wav")" -v d="$3" 'BEGIN { if (n <= 0) print 1; else printf "%.6f", (s / n) / (10 ^ (d / 20)) }')
  if [ "${5:-}" = alone ]; then $S -v "$g" "$TMP/n1.wav" -r 16000 -c 1 -b 16 "$4"
  else $S -m -v 1 "$1" -v "$g" "$TMP/n1.wav" -r 16000 -c 1 -b 16 "$4"; fi
}
# question<TAB>expected<TAB>text; expected is yes, no or a score
cat > "$OUT/answers.tsv" <<'TSV'
consent	yes	yes
consent	yes	yes please
consent	yes	sure
consent	yes	okay go ahead
consent	yes	fine by me
consent	yes	of course
consent	no	no
consent	no	no thank you
consent	no	i'd rather not
consent	no	not today
rating	7	seven
rating	8	eight
rating	8	a solid eight
rating	6	probably a six
rating	9	nine out of ten
rating	10	ten
rating	5	i'd say five
TSV
voices=(flite:slt pico:en-US mbrola:mb-us1 festival:voice_rab_diphone)
babble=("$FIELD"/dev0[0-9]1.wav)
[ -r "${babble[0]}" ] || { echo "answer_search.sh: no field voices in $FIELD" >&2; exit 1; }
speak() { # ENGINE NAME TEXT OUT
  case $1 in
    flite) flite -voice "$2" -t "$3" -o "$TMP/v.wav" </dev/null ;;
    pico) pico2wave -l "$2" -w "$TMP/v.wav" "$3" ;;
    mbrola) espeak-ng -v "$2" -w "$TMP/v.wav" "$3" 2>/dev/null ;;
    festival) printf '%s\n' "$3" | text2wave -eval "($2)" -o "$TMP/v.wav" ;;
  esac
  $S "$TMP/v.wav" -r 16000 -c 1 -b 16 "$4" gain -n -3 pad 0.4 0.6
}
make_babble() { # SEED DUR OUT: three field voices, offset, looped
  local parts=() k j
  for k in 1 2 3; do
    j=$(( ($1 + k * 5) % ${#babble[@]} ))
    $S "${babble[j]}" "$TMP/b$k.wav" pad "0.$(( ($1 * 3 + k) % 10 ))" 0 repeat 5 trim 0 "$2"; parts+=("$TMP/b$k.wav")
  done
  $S -m "${parts[@]}" "$3"
}
make_music() { # SEED OUT
  local prog=("D3 F4 A4 D5" "G2 D4 G4 B4" "C3 E4 G4 C5" "A2 E4 A4 C5") files=() k
  local seed=$1 out=$2
  local beat; beat=$(awk -v a=$(( 40 + (seed * 13) % 41 )) 'BEGIN{printf "%.2f", a / 100}')
  for k in 0 1 2 3; do
    set -- ${prog[$(( (seed + k) % 4 ))]}
    $S -r 44100 -c 4 -n "$TMP/ch$k.wav" synth "$beat" pluck "$1" pluck "$2" pluck "$3" pluck "$4"; files+=("$TMP/ch$k.wav")
  done
  $S "${files[@]}" -r 16000 -c 1 -b 16 "$out" remix -
}
: > "$OUT/list.tsv"
n=0
while IFS=$'\t' read -r q want text; do
  for v in "${voices[@]}"; do
    n=$((n + 1)); id=$(printf 'a%03d' $n)
    speak "${v%%:*}" "${v#*:}" "$text" "$OUT/$id.wav"
    dur=$(soxi -D "$OUT/$id.wav")
    make_babble $n "$dur" "$TMP/babble.wav"; mix_at "$OUT/$id.wav" "$TMP/babble.wav" 10 "$OUT/${id}_babble.wav"
    make_music $n "$TMP/music.wav"; mix_at "$OUT/$id.wav" "$TMP/music.wav" 10 "$OUT/${id}_music.wav"
    printf '%s\t%s\t%s\t%s\t%s\n' "$id" "$q" "$want" "${v%%:*}" "$text" >> "$OUT/list.tsv"
  done
done < "$OUT/answers.tsv"
# Noise alone where an answer should be, at the level it was mixed with an
# answer (10 dB under it): 12 of each.
for i in $(seq 1 12); do
  id=$(printf 'n%03d' $i); ref=$(printf '%s/a%03d.wav' "$OUT" $((i * 5)))
  make_babble $((i * 7)) "$(soxi -D "$ref")" "$TMP/babble.wav"
  mix_at "$ref" "$TMP/babble.wav" 10 "$OUT/${id}_babble.wav" alone
  make_music $((i * 7)) "$TMP/music.wav"; mix_at "$ref" "$TMP/music.wav" 10 "$OUT/${id}_music.wav" alone
  for q in consent rating; do printf '%s\t%s\tnone\tnoise\t\n' "$id" "$q" >> "$OUT/list.tsv"; done
done
echo "answer_search.sh: $n answers x 3 conditions, 24 noise-only files in $OUT"
