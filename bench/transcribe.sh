#!/usr/bin/env bash
# bench/transcribe.sh BUILD_DIR - earshot transcribe against
# pocketsphinx_continuous on the same files, same default en-us model.
#
# How the model is loaded: each program runs once per file, as a fresh
# process, so each loads the model once per file (pocketsphinx_continuous
# takes one -infile per run). A second earshot figure shows one process
# for all files, the way earshot is meant to be used on a batch.
#
# Prints wall and CPU seconds, their ratio, real-time factor (CPU s / audio
# s), peak RSS, and WER of both; then peak RSS on a long file to show memory
# does not grow with the length of the audio.
set -euo pipefail
B=${1:-build}
E=$B/earshot
W=$B/bench/wer
LIBRI=/usr/share/pocketsphinx/test/data/librivox
command -v pocketsphinx_continuous >/dev/null || { echo "bench: pocketsphinx_continuous missing (make deps)" >&2; exit 1; }
TIME=/usr/bin/time
[ -x $TIME ] || { echo "bench: /usr/bin/time missing (Debian package time; make deps)" >&2; exit 1; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
files=("$LIBRI"/*.wav)

audio=0
for f in "${files[@]}"; do audio=$(echo "$audio + $(soxi -D "$f")" | bc -l); done

# run LABEL CMD... : appends "wall cpu rss_kb" per run to $tmp/LABEL.t and the
# program's stdout to $tmp/LABEL.out
run() {
  local label=$1; shift
  $TIME -f "%e %U %S %M" -o "$tmp/t" "$@" >>"$tmp/$label.out" 2>/dev/null
  awk '{printf "%s %.2f %s\n", $1, $2 + $3, $4}' "$tmp/t" >>"$tmp/$label.t"
}

# Warm the page cache so neither side pays for the first read of the model.
cat /usr/share/pocketsphinx/model/en-us/en-us.lm.bin /usr/share/pocketsphinx/model/en-us/en-us/* >/dev/null
# The kiosk vocabulary (--model-vocab N) is built once into the cache here,
# untimed: the timed runs below start with a warm cache, as a kiosk does.
KIOSK_N=${KIOSK_N:-10000} # the small-board setting; KIOSK_N=40000 measures the default
"$E" transcribe --model-vocab "$KIOSK_N" "${files[0]}" >/dev/null
for f in "${files[@]}"; do
  run ref pocketsphinx_continuous -infile "$f" -logfn /dev/null
  run earshot "$E" transcribe --no-analyze "$f"
  run full "$E" transcribe --model-vocab full "$f"
  run kiosk "$E" transcribe --model-vocab "$KIOSK_N" "$f"
done
run earshot1 "$E" transcribe --no-analyze "${files[@]}"

sed -e 's/<s>//; s/<\/s>//; s/([^)]*)$//' "$LIBRI/transcription" >"$tmp/ref.txt"
cut -d: -f2- "$tmp/earshot.out" >"$tmp/earshot.hyp"
cut -d: -f2- "$tmp/full.out" | sed 's/ \[[^]]*\]$//' >"$tmp/full.hyp"
cut -d: -f2- "$tmp/kiosk.out" | sed 's/ \[[^]]*\]$//' >"$tmp/kiosk.hyp"

summ() { awk '{w += $1; c += $2; if ($3 > m) m = $3} END {printf "%.2f %.2f %d\n", w, c, m}' "$tmp/$1.t"; }
read -r rw rc rm <<<"$(summ ref)"
read -r ew ec em <<<"$(summ earshot)"
read -r ow oc om <<<"$(summ earshot1)"
read -r fw fc fm <<<"$(summ full)"
read -r kw kc km <<<"$(summ kiosk)"
read -r rerr rwords <<<"$($W "$tmp/ref.txt" "$tmp/ref.out")"
read -r eerr ewords <<<"$($W "$tmp/ref.txt" "$tmp/earshot.hyp")"
read -r ferr fwords <<<"$($W "$tmp/ref.txt" "$tmp/full.hyp")"
read -r kerr kwords <<<"$($W "$tmp/ref.txt" "$tmp/kiosk.hyp")"

printf '\nTranscription, %d librivox files, %.1f s of human speech (pocketsphinx-testdata)\n' "${#files[@]}" "$audio"
printf '%-44s %8s %8s %8s %10s %8s\n' "" "wall s" "CPU s" "RTF" "peak RSS" "WER"
printf '%-44s %8.2f %8.2f %8.3f %7.1f MB %7.1f%%\n' "pocketsphinx_continuous, one process a file" \
  "$rw" "$rc" "$(echo "$rc / $audio" | bc -l)" "$(echo "$rm / 1024" | bc -l)" "$(echo "100 * $rerr / $rwords" | bc -l)"
printf '%-44s %8.2f %8.2f %8.3f %7.1f MB %7.1f%%\n' "earshot transcribe --no-analyze, a process a file" \
  "$ew" "$ec" "$(echo "$ec / $audio" | bc -l)" "$(echo "$em / 1024" | bc -l)" "$(echo "100 * $eerr / $ewords" | bc -l)"
printf '%-44s %8.2f %8.2f %8.3f %7.1f MB %7.1f%%\n' "earshot transcribe (intents + domain model)" \
  "$fw" "$fc" "$(echo "$fc / $audio" | bc -l)" "$(echo "$fm / 1024" | bc -l)" "$(echo "100 * $ferr / $fwords" | bc -l)"
printf '%-44s %8.2f %8.2f %8.3f %7.1f MB %7.1f%%\n' "earshot transcribe --model-vocab $KIOSK_N" \
  "$kw" "$kc" "$(echo "$kc / $audio" | bc -l)" "$(echo "$km / 1024" | bc -l)" "$(echo "100 * $kerr / $kwords" | bc -l)"
printf '%-44s %8.2f %8.2f %8.3f %7.1f MB\n' "earshot transcribe --no-analyze, one process" \
  "$ow" "$oc" "$(echo "$oc / $audio" | bc -l)" "$(echo "$om / 1024" | bc -l)"
printf 'ratio earshot --no-analyze / continuous (one process a file): wall %.3f, CPU %.3f, peak RSS %.3f\n' \
  "$(echo "$ew / $rw" | bc -l)" "$(echo "$ec / $rc" | bc -l)" "$(echo "$em / $rm" | bc -l)"
printf 'ratio earshot --model-vocab %s (domain model on) / continuous: wall %.3f, CPU %.3f, peak RSS %.3f\n' \
  "$KIOSK_N" "$(echo "$kw / $rw" | bc -l)" "$(echo "$kc / $rc" | bc -l)" "$(echo "$km / $rm" | bc -l)"

# Bounded memory: a 5-minute file (the librivox files repeated) should peak
# at about the RSS of a 3-second one.
sox "${files[@]}" "$tmp/cat.wav"
reps=$(echo "300 / $audio" | bc)
sox "$tmp/cat.wav" "$tmp/long.wav" repeat "$reps"
long=$(soxi -D "$tmp/long.wav")
: >"$tmp/long.t"; : >"$tmp/short.t"
run long "$E" transcribe --no-analyze "$tmp/long.wav"
run short "$E" transcribe --no-analyze "${files[1]}"
read -r lw lc lm <<<"$(summ long)"
read -r sw sc sm <<<"$(summ short)"
printf '\nMemory against length: %.0f s file peaks at %.1f MB, %.1f s file at %.1f MB (RTF on the long file %.3f)\n' \
  "$long" "$(echo "$lm / 1024" | bc -l)" "$(soxi -D "${files[1]}")" "$(echo "$sm / 1024" | bc -l)" "$(echo "$lc / $long" | bc -l)"
