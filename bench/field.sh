#!/usr/bin/env bash
# bench/field.sh BUILD_DIR - Earshot against pocketsphinx_continuous on the
# field set (../shared/eval/dev/synth-field.sh: four non-flite voices, five
# shop conditions and a phone line) and the flite set (synth.sh), per
# condition: WER, intent accuracy, intent precision, rating-slot accuracy,
# calibration error, unclear share, narrowband verdicts, erasures a misheard
# utterance would cause, RTF and peak RSS; the goals of issues 11 and 12
# beside. Then the audio front ends on the same files: off, speexdsp
# (--frontend on, agc) and webrtc-audio-processing (build/bench/webrtc_fe).
#
# pocketsphinx_continuous's side: its transcript (-infile F -logfn
# /dev/null; the 8 kHz phone files resampled to 16 kHz with sox first, as
# Earshot resamples them, because the en-us model's feat.params forces
# -upperf 6800, which -samprate 8000 refuses) gives the WER, and the same
# intent core scores it: eval_intents' text path calls
# earshot_intents_analyze(), the call behind `earshot analyze`.
#
# Environment:
#   FIELD_ROWS=N    every N-th dev row for the field set (default 5: 26 rows)
#   FIELD_DIR=DIR   use an already synthesised field set instead (e.g.
#                   /work/field/sub); FLITE_DIR=DIR the same for synth.sh
#   FLITE_ROWS=N    every N-th row of the flite set (default 5: 26 of 130)
#   FIELD_FE=0      skip the front-end comparison; FIELD_FE=only: that
#                   comparison alone
#   WEBRTC_ARGS     options for webrtc_fe (default: its own, NS moderate,
#                   adaptive digital AGC to -3 dBFS, high-pass)
# Missing synthesis packages skip the field set with one line; never fails.
set -uo pipefail
B=${1:-build}
EV=$B/bench/eval_intents
W=$B/bench/wer
WF=$B/bench/webrtc_fe
here=$(cd "$(dirname "$0")/.." && pwd)
DEV=$here/../shared/eval/dev
TSV=$DEV/utterances.tsv
TIME=/usr/bin/time
ROWS=${FIELD_ROWS:-5}
FROWS=${FLITE_ROWS:-5}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

echo
echo "== Field set: Earshot against pocketsphinx_continuous, per condition"
[ "${FIELD_FE:-1}" = only ] && echo "(FIELD_FE=only: the front-end comparison alone)"
[ -r "$TSV" ] || { echo "field: no $TSV; skipped"; exit 0; }
command -v pocketsphinx_continuous >/dev/null || { echo "field: pocketsphinx_continuous missing (make deps); skipped"; exit 0; }
[ -x $TIME ] || { echo "field: /usr/bin/time missing (Debian package time); skipped"; exit 0; }

field=${FIELD_DIR:-}
if [ -z "$field" ]; then
  miss=()
  for c in sox:sox pico2wave:libttspico-utils espeak-ng:espeak-ng text2wave:festival; do
    command -v "${c%%:*}" >/dev/null || miss+=("${c#*:}")
  done
  [ -d /usr/share/mbrola/us1 ] && [ -d /usr/share/mbrola/us2 ] || miss+=(mbrola-us1 mbrola-us2)
  [ -d /usr/share/festival/voices/english/rab_diphone ] || miss+=(festvox-rablpc16k)
  if [ ${#miss[@]} -gt 0 ]; then
    echo "field: skipped, missing ${miss[*]}: apt-get install ${miss[*]} (pico and mbrola need the contrib and non-free components)"
  elif bash "$DEV/synth-field.sh" "$tmp/field" "$ROWS" >"$tmp/synth.log" 2>&1; then
    field=$tmp/field
  else
    echo "field: synth-field.sh failed (skipped): $(tail -n 1 "$tmp/synth.log")"
  fi
fi
flite=${FLITE_DIR:-}
if [ -z "$flite" ]; then
  bash "$DEV/synth.sh" "$tmp/flite" >/dev/null 2>&1 && flite=$tmp/flite || echo "field: synth.sh (flite) failed; flite set skipped"
fi

# conditions: name dir suffix stride
conds=()
[ -n "$flite" ] && conds+=("flite:$flite::$FROWS")
if [ -n "$field" ]; then
  for c in clean: babble:_babble reverb:_reverb far:_far music:_music phone8k:_phone8k; do
    conds+=("${c%%:*}:$field:${c#*:}:1")
  done
fi
[ ${#conds[@]} -gt 0 ] || exit 0

# subset NAME DIR SUFFIX STRIDE: the labelled rows whose file exists
subset() {
  awk -F'\t' -v d="$2" -v s="$3" -v k="$4" 'NR == 1 {print; next}
    { n++; f = d "/" $1 s ".wav"; if ((n - 1) % k == 0 && (getline x < f) >= 0) print; close(f) }' \
    "$TSV" >"$tmp/$1.tsv"
}
kv() { sed -n 's/.*[ ]'"$2"'=\([^ ]*\).*/\1/p' "$1"; }  # kv FILE KEY
secs() { awk '{u += $1 + $2; if ($3 > m) m = $3} END {printf "%.3f %d\n", u, m}' "$1"; }

# Model loads, timed once and taken off both sides' RTF (Earshot loads
# once a condition, pocketsphinx_continuous once a file).
sox -n -r 16000 -b 16 -c 1 "$tmp/sil.wav" trim 0 0.5
head -n 1 "$TSV" >"$tmp/none.tsv"
$TIME -f "%U %S %M" -o "$tmp/eload" $EV --wav "$tmp" "$tmp/none.tsv" >/dev/null 2>&1
$TIME -f "%U %S %M" -o "$tmp/pload" pocketsphinx_continuous -infile "$tmp/sil.wav" -logfn /dev/null >/dev/null 2>&1
read -r eload _ <<<"$(secs "$tmp/eload")"
read -r pload _ <<<"$(secs "$tmp/pload")"

goal() {  # goal COND: "key op value" goals of issues 11 and 12
  case $1 in
    flite) echo "intent>=0.92" ;;
    clean) echo "intent>=0.90 wer<=0.20" ;;
    babble) echo "intent>=0.70" ;; reverb) echo "intent>=0.75" ;;
    far) echo "intent>=0.80" ;; music) echo "intent>=0.70" ;;
    phone8k) echo "intent>=0.60|nb=all" ;;
  esac
  echo "precision>=0.90 ece<=0.05 erase<=0"
}
# misses SUMMARY COND: the goals a summary line does not meet
misses() {
  local out=() g k v n
  n=$(kv "$1" n)
  for g in $(goal "$2"); do
    if [ "$g" = "intent>=0.60|nb=all" ]; then
      awk -v a="$(kv "$1" intent)" -v b="$(kv "$1" narrowband)" -v n="$n" 'BEGIN {exit !(a >= 0.60 || b == n)}' || out+=(phone)
      continue
    fi
    k=${g%%[<>]*}; v=${g#*=}
    if [[ $g == *'>='* ]]; then awk -v a="$(kv "$1" "$k")" -v b="$v" 'BEGIN {exit !(a >= b)}' || out+=("$k")
    else awk -v a="$(kv "$1" "$k")" -v b="$v" 'BEGIN {exit !(a <= b)}' || out+=("$k"); fi
  done
  local IFS=,; echo "${out[*]:-none}"
}

row_fmt='%-8s %-9s %4s %6s %6s %6s %6s %6s %7s %4s %9s %6s %7s  %s\n'
[ "${FIELD_FE:-1}" = only ] || printf "$row_fmt" condition system n WER intent prec score ECE unclear nb "erase(rv)" RTF "RSS MB" "goals missed (Earshot)"
for c in "${conds[@]}"; do
  [ "${FIELD_FE:-1}" = only ] && break
  IFS=: read -r name dir suf stride <<<"$c"
  subset "$name" "$dir" "$suf" "$stride"
  n=$(($(wc -l <"$tmp/$name.tsv") - 1))
  [ "$n" -gt 0 ] || continue
  audio=0; : >"$tmp/$name.ref"; : >"$tmp/$name.hyp"; : >"$tmp/$name.pt"
  head -n 1 "$TSV" >"$tmp/$name.hyp.tsv"
  while IFS=$'\t' read -r id intent score topics sentiment text; do
    f=$dir/$id$suf.wav
    audio=$(echo "$audio + $(soxi -D "$f")" | bc -l)
    if [ "$(soxi -r "$f")" != 16000 ]; then sox "$f" -r 16000 "$tmp/r16.wav"; f=$tmp/r16.wav; fi
    $TIME -f "%U %S %M" -o "$tmp/t" pocketsphinx_continuous -infile "$f" -logfn /dev/null >"$tmp/h" 2>/dev/null
    cat "$tmp/t" >>"$tmp/$name.pt"
    h=$(tr '\n' ' ' <"$tmp/h" | sed 's/  */ /g; s/^ //; s/ $//')
    printf '%s\n' "$text" >>"$tmp/$name.ref"; printf '%s\n' "$h" >>"$tmp/$name.hyp"
    # nothing heard: a token the intent core reads as "other"
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$id" "$intent" "$score" "$topics" "$sentiment" "${h:--}" >>"$tmp/$name.hyp.tsv"
  done < <(tail -n +2 "$tmp/$name.tsv")
  sargs=(); [ -n "$suf" ] && sargs=(--suffix "$suf")
  $TIME -f "%U %S %M" -o "$tmp/et" $EV --summary "${sargs[@]}" --wav "$dir" "$tmp/$name.tsv" >"$tmp/$name.e" 2>/dev/null
  $EV --summary "$tmp/$name.hyp.tsv" >"$tmp/$name.p" 2>/dev/null
  read -r perr pwords <<<"$($W "$tmp/$name.ref" "$tmp/$name.hyp")"
  read -r ecpu erss <<<"$(secs "$tmp/et")"
  read -r pcpu prss <<<"$(secs "$tmp/$name.pt")"
  grep '^summary' "$tmp/$name.e" >"$tmp/$name.es"; grep '^summary' "$tmp/$name.p" >"$tmp/$name.ps"
  sed -i "s/ wer=[^ ]*/ wer=$(echo "$perr / $pwords" | bc -l | awk '{printf "%.3f", $1}')/" "$tmp/$name.ps"
  for side in e p; do
    s=$tmp/$name.${side}s
    if [ $side = e ]; then sys=earshot; cpu=$(echo "$ecpu - $eload" | bc -l); rss=$erss
      u=$(kv "$s" unclear); nb=$(kv "$s" narrowband); miss=$(misses "$s" "$name")
    else sys=continuous; cpu=$(echo "$pcpu - $n * $pload" | bc -l); rss=$prss; u=-; nb=-; miss=""; fi
    printf "$row_fmt" "$([ $side = e ] && echo "$name")" $sys "$n" "$(kv "$s" wer)" "$(kv "$s" intent)" \
      "$(kv "$s" precision)" "$(kv "$s" score)" "$(kv "$s" ece)" "$u" "$nb" \
      "$(kv "$s" erase)($(kv "$s" review))" "$(echo "$cpu / $audio" | bc -l | awk '{printf "%.3f", $1}')" \
      "$(echo "$rss / 1024" | bc -l | awk '{printf "%.1f", $1}')" "$miss"
  done
  echo "$audio" >"$tmp/$name.audio"
done
[ "${FIELD_FE:-1}" = only ] || cat <<NOTE
   goals (issues 11, 12): quiet other voices (clean) intent >= 0.90 and WER <= 0.20; babble >= 0.70;
   reverb >= 0.75; far >= 0.80; music >= 0.70; phone >= 0.60 or narrowband on every utterance;
   flite speech >= 0.92; precision >= 0.90, ECE <= 0.05 and zero erasures in every condition.
   prec: right share of utterances given a specific intent; score: rating-slot exact accuracy;
   unclear: share with the unclear verdict; nb: narrowband verdicts; erase(rv): forget_me or
   consent_no given to another intent, sure enough for the store to erase (review below that);
   RTF: CPU s / audio s without model loads (Earshot $(printf %.2f "$eload") s once a condition,
   pocketsphinx_continuous $(printf %.2f "$pload") s once a file); RSS: peak of any one process.
   Rows: field set every ${ROWS}th dev row (FIELD_ROWS) unless FIELD_DIR was given (${FIELD_DIR:-synthesised});
   flite set every ${FROWS}th row (FLITE_ROWS) of ${FLITE_DIR:-synth.sh}.
NOTE

[ "${FIELD_FE:-1}" = 0 ] && exit 0
echo
echo "== Audio front ends on the same files: off, speexdsp (--frontend on, agc), webrtc-audio-processing"
have_w=1
if [ ! -x "$WF" ]; then
  have_w=0; echo "field: $WF not built (libwebrtc-audio-processing-dev missing); webrtc column skipped"
fi
fe_fmt='%-8s %4s  %-17s %-17s %-17s %-17s\n'
printf "$fe_fmt" condition n "off" "speex on" "speex agc" "webrtc"
printf "$fe_fmt" "" "" "intent WER prec" "intent WER prec" "intent WER prec" "intent WER prec"
cell() { printf '%.2f %.2f %.2f' "$(kv "$1" intent)" "$(kv "$1" wer)" "$(kv "$1" precision)"; }
: >"$tmp/wt"
for c in "${conds[@]}"; do
  IFS=: read -r name dir suf stride <<<"$c"
  sargs=(); [ -n "$suf" ] && sargs=(--suffix "$suf")
  if [ ! -s "$tmp/$name.es" ]; then  # FIELD_FE=only: "off" measured here
    subset "$name" "$dir" "$suf" "$stride"
    [ "$(wc -l <"$tmp/$name.tsv")" -gt 1 ] || continue
    $EV --summary "${sargs[@]}" --wav "$dir" "$tmp/$name.tsv" 2>/dev/null | grep '^summary' >"$tmp/$name.es"
    awk -v d="$dir" -v s="$suf" -F'\t' 'NR > 1 {print d "/" $1 s ".wav"}' "$tmp/$name.tsv" | xargs soxi -D | paste -sd+ | bc -l >"$tmp/$name.audio"
  fi
  n=$(kv "$tmp/$name.es" n)
  for fe in on agc; do
    $EV --summary --frontend $fe "${sargs[@]}" --wav "$dir" "$tmp/$name.tsv" 2>/dev/null | grep '^summary' >"$tmp/$name.$fe"
  done
  wc="-"
  if [ $have_w = 1 ]; then
    mkdir -p "$tmp/w/$name"
    while IFS=$'\t' read -r id _; do
      # shellcheck disable=SC2086
      $TIME -a -f "%U %S %M" -o "$tmp/wt" $WF ${WEBRTC_ARGS:-} "$dir/$id$suf.wav" "$tmp/w/$name/$id$suf.wav" \
        || echo "field: webrtc_fe failed on $dir/$id$suf.wav"
    done < <(tail -n +2 "$tmp/$name.tsv")
    $EV --summary "${sargs[@]}" --wav "$tmp/w/$name" "$tmp/$name.tsv" 2>/dev/null | grep '^summary' >"$tmp/$name.w"
    wc=$(cell "$tmp/$name.w")
  fi
  printf "$fe_fmt" "$name" "$n" "$(cell "$tmp/$name.es")" "$(cell "$tmp/$name.on")" "$(cell "$tmp/$name.agc")" "$wc"
done
if [ $have_w = 1 ] && [ -s "$tmp/wt" ]; then
  total=$(cat "$tmp"/*.audio | paste -sd+ | bc -l)
  read -r wcpu wrss <<<"$(secs "$tmp/wt")"
  printf '   webrtc_fe (%s): %.4f CPU s per audio s, peak RSS %.1f MB (a process a file, load included)\n' \
    "${WEBRTC_ARGS:-NS moderate, adaptive digital AGC -3 dBFS, high-pass}" "$(echo "$wcpu / $total" | bc -l)" "$(echo "$wrss / 1024" | bc -l)"
fi
