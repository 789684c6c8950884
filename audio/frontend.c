/* frontend.c - speexdsp preprocessor between the PCM the app feeds and the
 * recogniser. See frontend.h. */
#include "frontend.h"
#include "earshot.h"

#include <speex/speex_preprocess.h>
#include <stdlib.h>

struct earshot__frontend {
    SpeexPreprocessState *st; /* NULL after a failed reset: pass-through */
    int mode, noise_db;
};

static SpeexPreprocessState *make_state(int mode, int noise_db)
{
    SpeexPreprocessState *st =
        speex_preprocess_state_init(EARSHOT__FRONTEND_FRAME, EARSHOT_SAMPLE_RATE);
    if (!st)
        return NULL;
    int on = 1, off = 0;
    speex_preprocess_ctl(st, SPEEX_PREPROCESS_SET_DENOISE, &on);
    speex_preprocess_ctl(st, SPEEX_PREPROCESS_SET_NOISE_SUPPRESS, &noise_db);
    /* AGC lifts a customer 2 m away toward the level the model was trained
     * on; it is its own mode because it also lifts the noise floor between
     * words. */
    int agc = mode == EARSHOT_FRONTEND_DENOISE_AGC;
    speex_preprocess_ctl(st, SPEEX_PREPROCESS_SET_AGC, agc ? &on : &off);
    /* speexdsp's VAD stays off (its default; setting it, even to off,
     * prints a warning): PocketSphinx runs its own VAD on the features. */
    /* Dereverb off: see README "Audio front end" for the measurement. */
    speex_preprocess_ctl(st, SPEEX_PREPROCESS_SET_DEREVERB, &off);
    return st;
}

earshot__frontend *earshot__frontend_new(int mode, int noise_db)
{
    earshot__frontend *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->mode = mode;
    f->noise_db = noise_db < 0 ? noise_db : -15;
    if (!(f->st = make_state(f->mode, f->noise_db))) {
        free(f);
        return NULL;
    }
    return f;
}

void earshot__frontend_process(earshot__frontend *f, int16_t *pcm, size_t n)
{
    if (!f->st)
        return;
    for (size_t i = 0; i + EARSHOT__FRONTEND_FRAME <= n; i += EARSHOT__FRONTEND_FRAME)
        speex_preprocess_run(f->st, pcm + i);
}

int earshot__frontend_reset(earshot__frontend *f)
{
    /* speexdsp has no reset call; a fresh state is the documented way to
     * start over, and costs a few kilobytes once per stream. */
    if (f->st)
        speex_preprocess_state_destroy(f->st);
    f->st = make_state(f->mode, f->noise_db);
    return f->st ? 0 : -1;
}

void earshot__frontend_free(earshot__frontend *f)
{
    if (!f)
        return;
    if (f->st)
        speex_preprocess_state_destroy(f->st);
    free(f);
}
