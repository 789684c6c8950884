/* recognizer.h - PocketSphinx behind a small interface: model folder
 * resolution, voice-activity segmentation, timed words. Internal. */
#ifndef EARSHOT_RECOGNIZER_H
#define EARSHOT_RECOGNIZER_H

#include "earshot.h"

typedef struct earshot__recognizer earshot__recognizer;

/* Model files found in a folder. Paths are written into the caller's
 * buffers. */
typedef struct earshot__model_paths {
    char hmm[1024], dict[1024], lm[1024];
} earshot__model_paths;

/* Fills p from a model folder and explicit overrides (either may be NULL)
 * and checks that every file the decoder will open is readable, so a bad
 * folder gives a clear message instead of PocketSphinx's fatal exit.
 * Returns EARSHOT_OK or EARSHOT_MODEL with the reason in err. */
int earshot__model_resolve(earshot__model_paths *p, const char *dir,
                           const char *hmm, const char *dict, const char *lm,
                           char *err, size_t errlen);

/* domain_arpa, when set with domain_weight > 0, is interpolated with the
 * model's own language model at that weight. */
int earshot__recognizer_open(earshot__recognizer **out,
                             const earshot__model_paths *p, int verbose,
                             const char *domain_arpa, double domain_weight,
                             const char *decoder_options, char *err, size_t errlen);

/* Decodes n samples. Each time voice activity ends an utterance, cb is
 * called with it. Returns EARSHOT_OK, EARSHOT_STOPPED when cb returned
 * non-zero, or EARSHOT_DECODER. */
int earshot__recognizer_process(earshot__recognizer *r, const int16_t *pcm,
                                size_t n, earshot_utterance_fn cb, void *user);

/* Ends the stream: finishes the utterance in flight (delivering it if it
 * holds words) and starts a new stream whose times restart at zero. */
int earshot__recognizer_finish(earshot__recognizer *r, earshot_utterance_fn cb,
                               void *user);

void earshot__recognizer_close(earshot__recognizer *r);

/* Non-zero while an utterance is under way (speech heard, not yet ended). */
int earshot__recognizer_in_speech(const earshot__recognizer *r);

/* The words of the utterance under way so far (first pass only), and in
 * *start where they began; "" before any word, NULL when memory runs out.
 * Valid until the next call on r. */
const char *earshot__recognizer_partial(earshot__recognizer *r, double *start);

/* Applies an MLLR transform (PocketSphinx -mllr) to the acoustic model.
 * EARSHOT_MODEL when the file is missing, unreadable or for another
 * model's feature streams. */
int earshot__recognizer_set_mllr(earshot__recognizer *r, const char *path, char *err,
                                 size_t errlen);

/* Adds the pronunciations of an addendum ("word PHONES..." lines) as
 * variants word(2), word(3)... of words the dictionary has; *n_added
 * counts them. EARSHOT_GRAMMAR with "FILE:LINE: ..." for a bad line. */
int earshot__recognizer_add_pronunciations(earshot__recognizer *r, const char *path,
                                           int *n_added, char *err, size_t errlen);

/* A hash of the bytes of every model file, for provenance. */
uint64_t earshot__model_hash(const earshot__model_paths *p);

#endif
