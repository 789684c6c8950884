/* bandfill.h - a faint noise floor in the 4-8 kHz band, so a phone-band
 * signal does not leave the recogniser's upper filters empty. Internal.
 *
 * Debian's en-us model computes 25 mel filters up to 6.8 kHz. A phone line
 * (300-3400 Hz) or an 8 kHz file resampled to 16 kHz holds nothing above
 * 4 kHz, so a third of the filters see exact silence: their log energies
 * sit on the front end's floor, far from anything the model was trained
 * on, and the model hears "hm" or "what" for whole sentences (WER 100 % on
 * the field set's phone line). Every real wideband microphone has a noise
 * floor up there; adding one back at about -62 dBFS (far under the high
 * band of wideband speech, which the quality module measures before this
 * runs) brings the phone line to 66 % WER, and with the phone transform
 * (grammars/en-us/phone.mllr) to 33 %. Band-limited by libsamplerate's
 * sinc filter (8 kHz white noise upsampled, then shifted up by 4 kHz):
 * no hand-written filter. */
#ifndef EARSHOT_BANDFILL_H
#define EARSHOT_BANDFILL_H

#include <stddef.h>
#include <stdint.h>

typedef struct earshot__bandfill earshot__bandfill;

/* rms: the noise's RMS in sample units (27 is about -62 dBFS). NULL on out
 * of memory. */
earshot__bandfill *earshot__bandfill_new(double rms);

/* Adds the noise to pcm in place (saturating). The noise depends only on
 * the position in the stream, not on how the stream is cut. Returns 0, or
 * -1 on out of memory or a resampler failure (pcm is then left as it is). */
int earshot__bandfill_process(earshot__bandfill *b, int16_t *pcm, size_t n);

/* Restarts the noise from the beginning: a new stream. */
int earshot__bandfill_reset(earshot__bandfill *b);

void earshot__bandfill_free(earshot__bandfill *b); /* NULL is a no-op */

#endif
