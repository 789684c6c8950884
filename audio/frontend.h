/* frontend.h - noise suppression and automatic gain for 16 kHz int16 PCM,
 * over speexdsp's preprocessor. Internal to libearshot.
 *
 * The recogniser's acoustic model was trained on close, quiet speech; a
 * kiosk hears a customer through shop noise and at a distance. Cleaning the
 * audio before feature extraction is cheaper than adapting the model, and a
 * well-kept library does it (no hand-written DSP here). */
#ifndef EARSHOT_FRONTEND_H
#define EARSHOT_FRONTEND_H

#include <stddef.h>
#include <stdint.h>

/* speexdsp works on fixed frames; 256 samples (16 ms) divides the
 * recogniser's 2048-sample block exactly, so chunking never changes which
 * samples share a frame. */
enum { EARSHOT__FRONTEND_FRAME = 256 };

typedef struct earshot__frontend earshot__frontend;

/* mode: EARSHOT_FRONTEND_* from earshot.h (not OFF: callers skip the front
 * end then). noise_db: attenuation of noise in dB, negative (0 = -15).
 * NULL on out of memory. */
earshot__frontend *earshot__frontend_new(int mode, int noise_db);

/* Cleans pcm in place, one frame at a time. Only whole frames are
 * processed; a tail shorter than a frame (the last block of a stream) is
 * left as it is, since speexdsp cannot take a partial frame and padding
 * would make the output depend on where the stream was cut. */
void earshot__frontend_process(earshot__frontend *f, int16_t *pcm, size_t n);

/* Forgets the noise estimate and gain: a new stream may come from another
 * room or another customer. Returns 0, or -1 on out of memory (the front
 * end then passes audio through until the next successful reset). */
int earshot__frontend_reset(earshot__frontend *f);

void earshot__frontend_free(earshot__frontend *f); /* NULL is a no-op */

#endif
