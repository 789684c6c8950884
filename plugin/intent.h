/* intent.h - the matcher: intents, rating slot, sentiment, topics.
 * Internal. */
#ifndef EARSHOT_INTENT_H
#define EARSHOT_INTENT_H

#include "earshot.h"
#include "grammar.h"

typedef struct earshot__matcher earshot__matcher;

/* Indexes every phrase of g (which must outlive the matcher). NULL on
 * failure, with the reason in err. */
earshot__matcher *earshot__matcher_new(const earshot__grammar *g, char *err, size_t errlen);

/* Analyses text. conf, when given with one value per word of text, holds
 * the recogniser's word confidences: evidence from doubtful words counts
 * for less. *out is valid until the next call. */
/* Words with a posterior below floor count for nothing (0: all count). */
void earshot__matcher_set_word_floor(earshot__matcher *m, double floor);

/* Turns an analysis into "other" with no rating, for words that were a
 * guess. */
void earshot__matcher_set_other(const earshot__matcher *m, earshot_analysis *a);

int earshot__matcher_analyze(earshot__matcher *m, const char *text, const double *conf,
                             size_t n_conf, earshot_analysis *out);

void earshot__matcher_free(earshot__matcher *m);

/* The question the next utterances answer (earshot_question); analysis
 * reads them against it. EARSHOT_ASK_NONE at creation. */
void earshot__matcher_set_question(earshot__matcher *m, earshot_question q);

/* With a redactor set, digits that redaction would turn into [PHONE],
 * [CARD], [NUMBER] or [EMAIL] are taken out before matching, so a phone
 * number's "seven" is not read as a rating. r must outlive m. */
struct earshot__redactor;
void earshot__matcher_use_redactor(earshot__matcher *m, const struct earshot__redactor *r);

/* Opens DIR/redact.rules, when there is one, into *out and sets it on m.
 * Returns EARSHOT_OK (also when there is none) or EARSHOT_GRAMMAR with
 * the first problem in err. */
int earshot__attach_redactor(earshot__matcher *m, const char *dir,
                             struct earshot__redactor **out, char *err, size_t errlen);

#endif
