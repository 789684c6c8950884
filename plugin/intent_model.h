/* intent_model.h - the learned back-off beside the templates: a
 * multinomial naive Bayes classifier over word unigrams and bigrams with
 * negation marking, trained from the grammar's own expansions. Internal. */
#ifndef EARSHOT_INTENT_MODEL_H
#define EARSHOT_INTENT_MODEL_H

#include "grammar.h"

#include <stddef.h>

typedef struct earshot__intent_model earshot__intent_model;

/* Trains on g's template and cue expansions (per intent), its sentiment
 * lexicon (positive phrases to the intents fed by positive sentiment,
 * negative to those fed by negative, each also negated to the other side)
 * and, as "other", its topic keywords, neutral collocations and the
 * expansions of negative-weight cues. other is the index of the "other"
 * intent (-1: none). NULL when out of memory. g must outlive the model. */
earshot__intent_model *earshot__intent_model_train(const earshot__grammar *g, int other);

void earshot__intent_model_free(earshot__intent_model *m);

/* Posterior over the grammar's intents, in post[n_intents], for the
 * utterance's tokens: tok[] grammar word ids (-1 unknown), num[] number
 * value or -1, conf[] word confidence (a feature counts by it). Returns
 * the number of known features seen (0: the model knows none of the
 * words, post is uniform). */
size_t earshot__intent_model_classify(const earshot__intent_model *m, const int *tok,
                                      const int *num, const double *conf, size_t n,
                                      double *post);

/* Seconds of CPU the last training took, and the number of weighted
 * training sequences (for the README's figures and the tests). */
double earshot__intent_model_train_seconds(const earshot__intent_model *m);
size_t earshot__intent_model_n_sequences(const earshot__intent_model *m);

/* The calibration map (intent_model.c, applied by intent.c): the probability that an intent of this
 * kind of decision is right, from its raw score (0..1) and the
 * utterance's mean word posterior (1 for text). Rises with raw. */
enum { CAL_TEMPLATE, CAL_OTHER, CAL_MODEL, CAL_CONTEXT, CAL_GATED, CAL_N };
double earshot__intent_calibrate(int kind, double raw, double heard);

#endif
