/* resample.c - rate conversion with libsamplerate.
 *
 * Why libsamplerate's SRC_SINC_FASTEST: it is a band-limited sinc filter, so
 * energy above 8 kHz in a 44.1/48 kHz recording is removed instead of being
 * folded into the speech band (a linear or decimating converter lost 25-35
 * points of WER on such input, docs/FINDINGS.md), and at ~380x real time it
 * costs nothing next to the decoder. */
#include "resample.h"

#include <samplerate.h>
#include <stdlib.h>
#include <string.h>

struct earshot__resampler {
    SRC_STATE *src;
    double ratio;
    /* Input not yet consumed by libsamplerate (it may stop early when the
     * output buffer is full). */
    float *in;
    size_t in_len, in_cap;
    int drained;
};

earshot__resampler *earshot__resampler_new(int in_rate, int out_rate)
{
    if (in_rate <= 0 || out_rate <= 0)
        return NULL;
    double ratio = (double)out_rate / in_rate;
    if (!src_is_valid_ratio(ratio))
        return NULL;
    earshot__resampler *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    int err = 0;
    r->src = src_new(SRC_SINC_FASTEST, 1, &err);
    if (!r->src) {
        free(r);
        return NULL;
    }
    r->ratio = ratio;
    return r;
}

long earshot__resampler_run(earshot__resampler *r, const float *in, size_t n,
                            int last, float *out, size_t max)
{
    if (n) {
        if (r->in_len + n > r->in_cap) {
            size_t cap = (r->in_len + n) * 2;
            float *p = realloc(r->in, cap * sizeof *p);
            if (!p)
                return -1;
            r->in = p;
            r->in_cap = cap;
        }
        memcpy(r->in + r->in_len, in, n * sizeof *in);
        r->in_len += n;
    }
    if (r->drained || max == 0)
        return 0;
    SRC_DATA d = {
        .data_in = r->in,
        .input_frames = (long)r->in_len,
        .data_out = out,
        .output_frames = (long)max,
        .src_ratio = r->ratio,
        .end_of_input = last,
    };
    if (src_process(r->src, &d) != 0)
        return -1;
    size_t used = (size_t)d.input_frames_used;
    if (used) {
        memmove(r->in, r->in + used, (r->in_len - used) * sizeof *r->in);
        r->in_len -= used;
    }
    if (last && r->in_len == 0 && d.output_frames_gen == 0)
        r->drained = 1;
    return d.output_frames_gen;
}

size_t earshot__resampler_pending(const earshot__resampler *r)
{
    return r->in_len;
}

void earshot__resampler_free(earshot__resampler *r)
{
    if (!r)
        return;
    src_delete(r->src);
    free(r->in);
    free(r);
}
