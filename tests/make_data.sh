#!/usr/bin/env bash
# make_data.sh OUTDIR - audio the tests need, made from Debian packages:
# flite voices + sox for synthetic customer speech, pocketsphinx-testdata for
# real human speech. Nothing generated here is committed.
set -euo pipefail
out=$1
mkdir -p "$out/bad"
libri=/usr/share/pocketsphinx/test/data/librivox
src=$libri/sense_and_sensibility_01_austen_64kb-0880.wav
for tool in flite sox; do
  command -v $tool >/dev/null || { echo "make_data.sh: missing $tool (make deps)" >&2; exit 1; }
done
[ -r "$src" ] || { echo "make_data.sh: missing $src (package pocketsphinx-testdata)" >&2; exit 1; }

# The same recording at 44.1 kHz stereo, and as FLAC. -D: no dither, so the
# conversion adds nothing but the resampling itself.
sox -D "$src" -r 44100 -c 2 "$out/libri-44k-stereo.wav"
sox -D "$src" "$out/libri.flac"
sox -D "$src" -r 48000 -c 2 "$out/libri-48k-stereo.ogg"

# Several customer sentences with 1.5 s of silence between them. They come
# from ../shared/eval/dev when it is beside the project; these texts are
# the fallback, phrased like it.
sentences=(
  "the queue at the checkout was far too long today"
  "the young man at the counter was really helpful"
  "what time do you open on sunday mornings"
  "i would give you a nine out of ten"
)
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
voices=(slt rms awb kal16)
sox -n -r 16000 -c 1 -b 16 "$tmp/gap.wav" trim 0 1.5
parts=("$tmp/gap.wav")
for i in "${!sentences[@]}"; do
  flite -voice "${voices[$((i % 4))]}" -t "${sentences[$i]}" -o "$tmp/f$i.wav" </dev/null
  sox "$tmp/f$i.wav" -r 16000 -c 1 -b 16 "$tmp/s$i.wav"
  parts+=("$tmp/s$i.wav" "$tmp/gap.wav")
done
sox "${parts[@]}" "$out/multi.wav"
printf '%s\n' "${sentences[@]}" > "$out/multi.txt"

# Bad inputs, each with the one-line message it must give (tests/test_cli.c).
: > "$out/bad/empty.wav"
printf 'this is not audio, just text\n' > "$out/bad/notaudio.wav"
head -c 40000 "$src" > "$out/bad/truncated.wav"
sox -n -r 16000 -c 1 -b 16 "$out/bad/zerolength.wav" trim 0 0
sox -n -r 16000 -c 1 -b 16 "$out/bad/tiny.wav" trim 0 0.02
head -c 3000 "$out/libri.flac" > "$out/bad/truncated.flac"

# Whole sessions for the consent tests (tests/test_cli.c, and later the
# listener): a spoken consent answer, then customer sentences. The pauses
# carry a room's noise floor (-50 dBFS white noise, repeatable with -R), as
# a kiosk microphone does. (The floor was first a workaround for the cold
# start, the first sentence misheard after silence, which it did not even
# cure; that is fixed and tested on digital silence with the cold-* files
# below. The floor stays: the session tests were written against it.)
sox -R -n -r 16000 -c 1 -b 16 "$tmp/room.wav" synth 1.5 whitenoise vol 0.003
session() { # NAME SENTENCE...
  local name=$1; shift
  local parts=("$tmp/room.wav") i=0
  for t in "$@"; do
    flite -voice slt -t "$t" -o "$tmp/$name$i.raw.wav" </dev/null
    sox "$tmp/$name$i.raw.wav" -r 16000 -c 1 -b 16 "$tmp/$name$i.wav"
    parts+=("$tmp/$name$i.wav" "$tmp/room.wav"); i=$((i + 1))
  done
  sox "${parts[@]}" "$out/$name.wav"
  printf '%s\n' "$@" > "$out/$name.txt"
}
session consent-yes "yes you can record me" \
  "the checkout queue was far too long today" \
  "my phone number is oh seven seven double oh nine double oh one two three" \
  "i would give you a nine out of ten"
session consent-no "no thank you i do not want to be recorded" \
  "the checkout queue was far too long today" \
  "what time do you open on sunday"
session listen-yes "hello there" "yes you can record me" \
  "the checkout queue was far too long today" \
  "what time do you open on sunday" \
  "i would give you a nine out of ten"
session consent-forget "yes you can record me" \
  "the checkout queue was far too long today" \
  "please delete everything i just said"
# The listener asks before erasing: this customer confirms.
session consent-forget-yes "yes you can record me" \
  "the checkout queue was far too long today" \
  "please delete everything i just said" "yes"
# Consent given elsewhere, then praise that reads as a refusal when heard
# wrongly (issue 12): the session must survive whatever is heard.
session granted-praise "the checkout queue was far too long today" \
  "thank you don't monitor the staff so closely they were lovely"

# The cold start (tests/test_recognizer.c): 1.5 s of exact digital silence
# (sox -D: without it sox dithers even a generated silence to +-1 LSB),
# a sentence, 1 s of silence, the same sentence again. Three voices.
sox -D -n -r 16000 -c 1 -b 16 "$tmp/zero15.wav" trim 0 1.5
sox -D -n -r 16000 -c 1 -b 16 "$tmp/zero10.wav" trim 0 1
cold() { # NAME VOICE SENTENCE
  flite -voice "$2" -t "$3" -o "$tmp/$1.raw.wav" </dev/null
  sox -D "$tmp/$1.raw.wav" -r 16000 -c 1 -b 16 "$tmp/$1.wav"
  sox -D "$tmp/zero15.wav" "$tmp/$1.wav" "$tmp/zero10.wav" "$tmp/$1.wav" "$tmp/zero10.wav" \
    "$out/$1.wav"
  printf '%s\n' "$3" > "$out/$1.txt"
}
cold cold-consent slt "no thank you i do not want to be recorded"
cold cold-staff rms "the staff were very friendly and helpful"
cold cold-wait awb "the waiting time was far too long today"

# Audio-quality verdicts (tests/test_quality.c): one sentence spoken clean,
# over a phone line's band at 8 kHz and band-limited at 16 kHz, overloaded,
# at -45 dBFS; and noise with no speech at all (pink noise, a synthetic
# chord standing in for the shop's radio). q-cold holds the sentence twice,
# the first time after 1.5 s of exact digital silence (the cold start).
sox -n -r 16000 -c 1 -b 16 "$tmp/qgap.wav" trim 0 1.5
flite -voice slt -t "the queue at the checkout was far too long today" -o "$tmp/q.raw.wav" </dev/null
sox "$tmp/q.raw.wav" -r 16000 -c 1 -b 16 "$tmp/q.wav"
sox "$tmp/qgap.wav" "$tmp/q.wav" "$tmp/qgap.wav" "$out/q-clean.wav"
sox "$tmp/qgap.wav" "$tmp/q.wav" "$tmp/qgap.wav" "$tmp/q.wav" "$tmp/qgap.wav" "$out/q-cold.wav"
sox "$out/q-clean.wav" -r 8000 "$out/q-phone8k.wav" sinc 300-3400
sox "$out/q-clean.wav" "$out/q-band16k.wav" sinc 300-3400
sox -R "$out/q-clean.wav" "$out/q-clipped.wav" gain 24 2>/dev/null
sox -R "$tmp/q.wav" "$tmp/q-quiet.wav" gain -n -45
sox "$tmp/qgap.wav" "$tmp/q-quiet.wav" "$tmp/qgap.wav" "$out/q-quiet.wav"
sox -R -n -r 16000 -c 1 -b 16 "$out/q-pink.wav" synth 6 pinknoise vol 0.3
sox -R -n -r 16000 -c 1 -b 16 "$out/q-music.wav" synth 6 pluck C3 pluck E3 pluck G3 \
  tremolo 3 60 vol 0.3
printf '%s\n' "the queue at the checkout was far too long today" > "$out/q-clean.txt"

# A customer sentence in pink noise at 10 dB SNR (RMS of the padded speech
# file over the noise RMS; over the 3 s of speech alone it is about 12.5 dB),
# after 2 s of the noise alone (the front end learns it there), for the
# front-end test (tests/test_frontend.c). -R: the same noise each run. At
# 5 dB the sentence is lost with the front end on or off (9/9 words wrong).
noisy_text="the young man at the counter was really helpful"
flite -voice slt -t "$noisy_text" -o "$tmp/n.wav" </dev/null
sox "$tmp/n.wav" -r 16000 -c 1 -b 16 "$tmp/n16.wav" pad 2 0.5
len=$(soxi -D "$tmp/n16.wav")
sox -R -n -r 16000 -c 1 -b 16 "$tmp/pink.wav" synth "$len" pinknoise vol 0.5
rms() { sox "$1" -n stat 2>&1 | awk '/RMS +amplitude/ {print $3}'; }
vol=$(awk -v s="$(rms "$tmp/n16.wav")" -v n="$(rms "$tmp/pink.wav")" 'BEGIN {print s / n / 10^(10/20)}')
sox -R -m -v 1 "$tmp/n16.wav" -v "$vol" "$tmp/pink.wav" "$out/pink10db.wav"
printf '%s\n' "$noisy_text" > "$out/pink10db.txt"

# The labelled development set, spoken by flite (../shared/eval/dev beside
# the project), for the domain language model test.
synth=$(cd "$(dirname "$0")/.." && pwd)/../shared/eval/dev/synth.sh
if [ -r "$synth" ]; then
  bash "$synth" "$out/dev" >/dev/null
  cp "$(dirname "$synth")/utterances.tsv" "$out/dev/utterances.tsv"
else
  echo "make_data.sh: $synth not found: the shared/ folder must sit beside the project" >&2
  exit 1
fi
echo "make_data.sh: dev set audio in $out/dev"
