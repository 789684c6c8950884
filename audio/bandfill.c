/* bandfill.c - the 3.5-8 kHz noise floor (why: bandfill.h). */
#include "bandfill.h"
#include "resample.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { GEN = 512, FIFO = 8192 };

/* The band filled: from just above a phone line's 3.4 kHz to 8 kHz. Noise
 * band-limited to HALF_BW (by upsampling white noise generated at twice
 * that rate), then multiplied by a carrier at CENTRE, covers
 * CENTRE +- HALF_BW. */
#define LOW_HZ 3500.0
#define HIGH_HZ 8000.0
#define CENTRE ((LOW_HZ + HIGH_HZ) / 2)
#define HALF_BW ((HIGH_HZ - LOW_HZ) / 2)

struct earshot__bandfill {
    earshot__resampler *rs;
    double amp;        /* peak of the uniform 8 kHz noise */
    uint32_t seed;
    uint64_t pos;      /* samples handed out this stream, for the 4 kHz shift */
    float fifo[FIFO];  /* upsampled noise not yet used */
    size_t fifo_len;
};

earshot__bandfill *earshot__bandfill_new(double rms)
{
    earshot__bandfill *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    /* Uniform noise on [-a, a] has RMS a / sqrt(3); the upsampling keeps
     * the level. */
    b->amp = rms * sqrt(3.0);
    if (earshot__bandfill_reset(b) != 0) {
        free(b);
        return NULL;
    }
    return b;
}

int earshot__bandfill_reset(earshot__bandfill *b)
{
    earshot__resampler_free(b->rs);
    b->rs = earshot__resampler_new((int)(2 * HALF_BW), 16000);
    b->seed = 12345u;
    b->pos = 0;
    b->fifo_len = 0;
    return b->rs ? 0 : -1;
}

/* Tops the FIFO up to at least need samples. */
static int refill(earshot__bandfill *b, size_t need)
{
    float gen[GEN];
    while (b->fifo_len < need) {
        for (int i = 0; i < GEN; i++) {
            b->seed = b->seed * 1664525u + 1013904223u;
            gen[i] = (float)(b->amp * ((double)(b->seed >> 8) / 8388608.0 - 1.0));
        }
        long got = earshot__resampler_run(b->rs, gen, GEN, 0, b->fifo + b->fifo_len,
                                          FIFO - b->fifo_len);
        if (got < 0)
            return -1;
        b->fifo_len += (size_t)got;
        /* Guard against a resampler that holds everything back. */
        if (got == 0 && earshot__resampler_pending(b->rs) > 16 * GEN)
            return -1;
    }
    return 0;
}

int earshot__bandfill_process(earshot__bandfill *b, int16_t *pcm, size_t n)
{
    if (!b->rs)
        return -1;
    while (n) {
        size_t take = n > FIFO / 2 ? FIFO / 2 : n;
        if (refill(b, take) != 0)
            return -1;
        for (size_t i = 0; i < take; i++) {
            /* The carrier moves the noise up; sqrt(2) keeps its power. */
            double c = M_SQRT2 * cos(2 * M_PI * CENTRE / 16000.0 * (double)(b->pos++ % 32000));
            double v = (double)pcm[i] + c * b->fifo[i];
            long r = lrint(v);
            pcm[i] = (int16_t)(r > 32767 ? 32767 : r < -32768 ? -32768 : r);
        }
        memmove(b->fifo, b->fifo + take, (b->fifo_len - take) * sizeof *b->fifo);
        b->fifo_len -= take;
        pcm += take;
        n -= take;
    }
    return 0;
}

void earshot__bandfill_free(earshot__bandfill *b)
{
    if (!b)
        return;
    earshot__resampler_free(b->rs);
    free(b);
}
