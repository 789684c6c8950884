/* resample.h - streaming conversion of mono float audio to 16 kHz, over
 * libsamplerate. Internal to libearshot. */
#ifndef EARSHOT_RESAMPLE_H
#define EARSHOT_RESAMPLE_H

#include <stddef.h>

typedef struct earshot__resampler earshot__resampler;

/* NULL on out of memory or an unsupported rate. */
earshot__resampler *earshot__resampler_new(int in_rate, int out_rate);

/* Converts n input samples (n may be 0 with last set, to drain). Writes at
 * most max output samples to out and returns how many, or -1 on error.
 * Input that did not fit is kept inside and consumed by the next call, so
 * callers may pass a small out buffer. */
long earshot__resampler_run(earshot__resampler *r, const float *in, size_t n,
                            int last, float *out, size_t max);

/* Samples still held inside, waiting for room in out. */
size_t earshot__resampler_pending(const earshot__resampler *r);

void earshot__resampler_free(earshot__resampler *r);

#endif
