/* quality.c - how well an utterance could be heard.
 *
 * The recogniser always returns words; this says whether to believe them.
 * Every 16 ms frame of the stream leaves a few numbers in a ring (its
 * level, how much of its energy lies above 5 kHz, how many samples hit
 * full scale), and when an utterance ends its frames, and the quieter
 * frames just before it, give the verdict:
 *
 *   clipped     the input overloaded (samples at full scale)
 *   too_quiet   the speech sits near the converter's floor
 *   narrowband  nothing above 5 kHz: a phone line or an 8 kHz file
 *               resampled, which the 16 kHz acoustic model hears badly
 *   unclear     the recogniser itself doubted its words
 *   noisy       speech little above the noise around it
 *   ok          none of these
 *
 * The thresholds were set on the field set (docs: README "Audio quality"),
 * not on single files. The only filter here is a fixed high-pass used to
 * measure bandwidth; it never touches the audio the recogniser hears. */
#include "quality.h"
#include "earshot.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum {
    FRAME = 256,    /* 16 ms at 16 kHz; a decoder block holds 8 */
    RING = 1 << 12, /* frames kept: 65 s, longer than any utterance */
    CLIP = 32700,
};
#define FRAMES_PER_SECOND (EARSHOT_SAMPLE_RATE / (double)FRAME)
/* Frames before an utterance that show the noise floor around it. */
#define CONTEXT_SECONDS 3.0

/* Thresholds, measured (README "Audio quality"). */
#define TOO_QUIET_DBFS (-45.0)
#define NARROWBAND_DB (-60.0)
#define NOISY_SNR_DB 15.0
#define CLIPPED_SHARE 0.001

typedef struct frame_stats {
    float db;      /* mean square, dBFS */
    float hf;      /* mean square above 5 kHz, dBFS */
    uint16_t clip; /* samples at full scale */
} frame_stats;

/* One biquad section, transposed direct form II. */
typedef struct biquad {
    double b0, b1, b2, a1, a2, z1, z2;
} biquad;

struct earshot__quality {
    frame_stats ring[RING];
    uint64_t n_frames; /* frames completed since the stream began */
    double sum, hf_sum;
    int clip, fill;
    biquad hp[4];
};

/* An 8th-order Butterworth high-pass at 5 kHz as four biquads (the audio
 * EQ cookbook's formulas with the Butterworth section Qs). A gentler one
 * let a phone line's strong 3 kHz band leak through and look like a dull
 * but wideband voice. */
static void biquad_highpass(biquad *b, double fc, double q)
{
    double w0 = 2.0 * M_PI * fc / EARSHOT_SAMPLE_RATE;
    double c = cos(w0), alpha = sin(w0) / (2.0 * q), a0 = 1.0 + alpha;
    b->b0 = (1.0 + c) / 2.0 / a0;
    b->b1 = -(1.0 + c) / a0;
    b->b2 = (1.0 + c) / 2.0 / a0;
    b->a1 = -2.0 * c / a0;
    b->a2 = (1.0 - alpha) / a0;
    b->z1 = b->z2 = 0;
}

static double biquad_run(biquad *b, double x)
{
    double y = b->b0 * x + b->z1;
    b->z1 = b->b1 * x - b->a1 * y + b->z2;
    b->z2 = b->b2 * x - b->a2 * y;
    return y;
}

earshot__quality *earshot__quality_new(void)
{
    earshot__quality *q = malloc(sizeof *q);
    if (q)
        earshot__quality_reset(q);
    return q;
}

void earshot__quality_free(earshot__quality *q)
{
    free(q);
}

void earshot__quality_reset(earshot__quality *q)
{
    q->n_frames = 0;
    q->sum = q->hf_sum = 0;
    q->clip = q->fill = 0;
    static const double qs[4] = {0.5098, 0.6013, 0.9000, 2.5629};
    for (int i = 0; i < 4; i++)
        biquad_highpass(&q->hp[i], 5000.0, qs[i]);
}

static float to_db(double mean_square)
{
    return (float)(10.0 * log10(mean_square / (32768.0 * 32768.0) + 1e-12));
}

void earshot__quality_feed(earshot__quality *q, const int16_t *pcm, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        double x = pcm[i];
        double h = x;
        for (int k = 0; k < 4; k++)
            h = biquad_run(&q->hp[k], h);
        q->sum += x * x;
        q->hf_sum += h * h;
        if (pcm[i] >= CLIP || pcm[i] <= -CLIP)
            q->clip++;
        if (++q->fill == FRAME) {
            frame_stats *f = &q->ring[q->n_frames % RING];
            f->db = to_db(q->sum / FRAME);
            f->hf = to_db(q->hf_sum / FRAME);
            f->clip = (uint16_t)q->clip;
            q->n_frames++;
            q->sum = q->hf_sum = 0;
            q->clip = q->fill = 0;
        }
    }
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* The p-th quantile (0..1) of v[0..n), sorting v. */
static float quantile(float *v, size_t n, double p)
{
    qsort(v, n, sizeof *v, cmp_float);
    size_t k = (size_t)(p * (double)(n - 1) + 0.5);
    return v[k < n ? k : n - 1];
}

int earshot__quality_judge(const earshot__quality *q, double start, double end,
                           double mean_confidence, double unclear,
                           earshot__quality_stats *out)
{
    earshot__quality_stats st = {-120.0, 0.0, 0.0, 0.0};
    uint64_t oldest = q->n_frames > RING ? q->n_frames - RING : 0;
    uint64_t f0 = start > 0 ? (uint64_t)(start * FRAMES_PER_SECOND) : 0;
    uint64_t f1 = end > 0 ? (uint64_t)(end * FRAMES_PER_SECOND + 0.5) : 0;
    uint64_t c0 = start > CONTEXT_SECONDS ? (uint64_t)((start - CONTEXT_SECONDS) * FRAMES_PER_SECOND) : 0;
    if (f1 > q->n_frames)
        f1 = q->n_frames;
    if (f0 < oldest)
        f0 = oldest;
    if (c0 < oldest)
        c0 = oldest;
    int verdict = EARSHOT_QUALITY_OK;
    if (f1 > f0) {
        size_t n = (size_t)(f1 - f0), nc = (size_t)(f1 - c0);
        float *v = malloc((n + nc) * sizeof *v);
        if (v) {
            float *ctx = v + n;
            double clip = 0;
            for (uint64_t f = f0; f < f1; f++) {
                v[f - f0] = q->ring[f % RING].db;
                clip += q->ring[f % RING].clip;
            }
            for (uint64_t f = c0; f < f1; f++)
                ctx[f - c0] = q->ring[f % RING].db;
            st.level_dbfs = quantile(v, n, 0.95);
            double ctx_floor = quantile(ctx, nc, 0.10);
            /* The pauses inside the utterance show noise that arrives
             * with the speaker (babble, a radio) which the silence before
             * may not hold; the louder of the two floors counts. */
            double in_floor = quantile(v, n, 0.10);
            st.level_dbfs = quantile(v, n, 0.95);
            st.snr_db = st.level_dbfs - (in_floor > ctx_floor ? in_floor : ctx_floor);
            st.clipped = clip / ((double)n * FRAME);
            /* Bandwidth over the speech frames only: pauses hold little
             * but noise. */
            double all = 0, hf = 0;
            for (uint64_t f = f0; f < f1; f++) {
                const frame_stats *fs = &q->ring[f % RING];
                if (fs->db >= st.level_dbfs - 20.0) {
                    all += pow(10.0, fs->db / 10.0);
                    hf += pow(10.0, fs->hf / 10.0);
                }
            }
            st.band_db = all > 0 ? 10.0 * log10(hf / all + 1e-12) : 0.0;
            free(v);
        }
        if (st.clipped > CLIPPED_SHARE)
            verdict = EARSHOT_QUALITY_CLIPPED;
        else if (st.level_dbfs < TOO_QUIET_DBFS)
            verdict = EARSHOT_QUALITY_TOO_QUIET;
        else if (st.band_db < NARROWBAND_DB)
            verdict = EARSHOT_QUALITY_NARROWBAND;
        else if (mean_confidence < unclear)
            verdict = EARSHOT_QUALITY_UNCLEAR;
        else if (st.snr_db < NOISY_SNR_DB)
            verdict = EARSHOT_QUALITY_NOISY;
    } else if (mean_confidence < unclear) {
        verdict = EARSHOT_QUALITY_UNCLEAR;
    }
    if (out)
        *out = st;
    return verdict;
}

/* The stream's bandwidth so far, for the band fill (audio/bandfill.h):
 * over the frames within 20 dB of the loudest seen, once there are enough
 * of them to be speech rather than a click. The frames are those of the
 * audio as it arrived. */
int earshot__quality_stream_narrowband(const earshot__quality *q)
{
    enum { MIN_LOUD = 4 }; /* 64 ms of sound */
    uint64_t oldest = q->n_frames > RING ? q->n_frames - RING : 0;
    float top = -200.0f;
    for (uint64_t f = oldest; f < q->n_frames; f++)
        if (q->ring[f % RING].db > top)
            top = q->ring[f % RING].db;
    /* Too quiet to tell (silence, a muted input): undecided. */
    if (top < TOO_QUIET_DBFS)
        return -1;
    double all = 0, hf = 0;
    int loud = 0;
    for (uint64_t f = oldest; f < q->n_frames; f++) {
        const frame_stats *fs = &q->ring[f % RING];
        if (fs->db >= top - 20.0f) {
            all += pow(10.0, fs->db / 10.0);
            hf += pow(10.0, fs->hf / 10.0);
            loud++;
        }
    }
    if (loud < MIN_LOUD)
        return -1;
    return 10.0 * log10(hf / all + 1e-12) < NARROWBAND_DB;
}
