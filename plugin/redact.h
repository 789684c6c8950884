/* redact.h - replaces personal data in a transcript with typed tags
 * ([PHONE], [CARD], [NUMBER], [EMAIL], [NAME], [ADDRESS], [DATE],
 * [POSTCODE]) before anything
 * is stored. Internal to libearshot. Everything language-specific (number
 * words, cue phrases, street words, name lists) comes from the grammar
 * folder's redact.rules, whose format is in grammars/README.md.
 *
 * A redactor is immutable once opened: any number of threads may call
 * earshot__redact() on the same one at the same time. */
#ifndef EARSHOT_REDACT_H
#define EARSHOT_REDACT_H

#include <stddef.h>

/* Bits of the mask earshot__redact() reports, one per tag. */
enum {
    EARSHOT__PII_PHONE = 1 << 0,   /* [PHONE] */
    EARSHOT__PII_CARD = 1 << 1,    /* [CARD] */
    EARSHOT__PII_NUMBER = 1 << 2,  /* [NUMBER]: order, account, other long numbers */
    EARSHOT__PII_EMAIL = 1 << 3,   /* [EMAIL] */
    EARSHOT__PII_NAME = 1 << 4,    /* [NAME] */
    EARSHOT__PII_ADDRESS = 1 << 5, /* [ADDRESS] */
    EARSHOT__PII_DATE = 1 << 6,     /* [DATE]: a date of birth */
    EARSHOT__PII_POSTCODE = 1 << 7, /* [POSTCODE] */
};

typedef struct earshot__redactor earshot__redactor;

/* Loads grammar_dir/redact.rules (and the name lists it refers to). On
 * failure returns NULL and writes one line, "FILE:LINE:COL: what is wrong"
 * (or "FILE: what is wrong"), into err; the first problem is the one
 * named. err may be NULL when errlen is 0. */
earshot__redactor *earshot__redactor_open(const char *grammar_dir, char *err, size_t errlen);

/* Returns a malloc'd copy of text with personal data replaced by tags; the
 * caller frees it. Text outside the replaced spans is copied byte for byte
 * (case, spacing and punctuation kept). Returns NULL only when memory runs
 * out. If found is non-NULL, *found receives the EARSHOT__PII_* bits of
 * the tags used (0 when nothing was replaced). text may be any bytes up to
 * its NUL, valid UTF-8 or not. */
char *earshot__redact(const earshot__redactor *r, const char *text, unsigned *found);

/* earshot__redact() for one utterance of a stream, where a number read
 * out with pauses arrives as several utterances ("my card is four five
 * three nine", "one four eight eight", ...). *open carries what the last
 * utterance left open: 0 at the start of a stream (and after a long gap,
 * which the caller judges); on return it says whether this text ended in
 * a phone, card or other number, or in a cue for one, so that the digits
 * the next text starts with continue it. open may be NULL (then it is
 * earshot__redact()). */
char *earshot__redact_next(const earshot__redactor *r, const char *text, int *open,
                           unsigned *found);

/* The longest silence, in seconds between one utterance's end and the
 * next one's start, across which a number read out still continues. */
#define EARSHOT__REDACT_PAUSE_MAX 6.0

/* NULL is a no-op. */
void earshot__redactor_close(earshot__redactor *r);

/* Checks grammar_dir/redact.rules: calls diag once per problem (all of
 * them, not just the first) with one line "FILE:LINE:COL: what is wrong",
 * valid during the call. Returns the number of problems, 0 when the file
 * is good. diag may be NULL. */
int earshot__redact_check(const char *grammar_dir, void (*diag)(const char *line, void *user),
                          void *user);

#endif
