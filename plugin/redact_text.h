/* redact_text.h - the token array one earshot__redact() call works on,
 * shared by redact.c (tokens, digit runs, addresses, names) and
 * redact_shapes.c (dates of birth, postcodes, identity codes, e-mail).
 * Internal to libearshot. */
#ifndef EARSHOT_REDACT_TEXT_H
#define EARSHOT_REDACT_TEXT_H

#include "redact_rules.h"

#include <stddef.h>
#include <string.h>

enum { T_WORD, T_DIGITS, T_PUNCT, T_EMAIL };

typedef struct token {
    size_t start, end;  /* bytes of the text */
    int id;             /* lexicon id of a T_WORD, or -1 */
    unsigned char kind;
    unsigned char gap;  /* white space before it */
    unsigned char digit_first; /* a T_WORD such as "221b" */
    unsigned char taken;       /* inside a span already */
    char punct;         /* a T_PUNCT's byte */
} token;

typedef struct span {
    size_t first, last; /* tokens, inclusive */
    int type;           /* index into tags[] */
} span;

enum { TAG_PHONE, TAG_CARD, TAG_NUMBER, TAG_EMAIL, TAG_NAME, TAG_ADDRESS, TAG_DATE, TAG_POSTCODE };

/* Everything one earshot__redact() call works on; the redactor itself is
 * only read. */
typedef struct ctx {
    const earshot__redactor *r;
    const char *text;
    token *t;
    size_t n, cap;
    span *spans;
    size_t n_spans, cap_spans;
    int nomem;
} ctx;

/* The digits of a run: how many, the first 20 for the Luhn check (cards
 * have at most 19), and whether a filler stands for a digit nobody knows. */
typedef struct digits {
    size_t n;
    char d[20];
    int unknown;
} digits;

static inline int is_alnum(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static inline int is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static inline unsigned flags_of(const ctx *c, size_t i)
{
    if (i >= c->n || c->t[i].kind != T_WORD || c->t[i].id < 0)
        return 0;
    return c->r->words[c->t[i].id].flags;
}

static inline int free_word(const ctx *c, size_t i)
{
    return i < c->n && c->t[i].kind == T_WORD && !c->t[i].taken;
}

static inline int punct_is(const ctx *c, size_t i, const char *set)
{
    return i < c->n && c->t[i].kind == T_PUNCT && !c->t[i].taken && c->t[i].punct &&
           strchr(set, c->t[i].punct);
}

/* A cue of a kind in mask (CUE_BIT()s) before token i, glue words allowed
 * between when glue is set; its kind or -1, *strong (may be NULL) whether
 * it is a strong cue. */
int earshot__cue_before(const ctx *c, size_t i, unsigned mask, int glue, int *strong);

/* Records tokens first..last as one span of a TAG_ type and marks them
 * taken; sets c->nomem when memory runs out. */
void earshot__add_span(ctx *c, size_t first, size_t last, int type);

/* One spoken number at token i ("forty two", "double oh"), its digits
 * appended to g; the tokens used, 0 when none. */
size_t earshot__spoken_number(const ctx *c, size_t i, digits *g);

/* The passes of redact_shapes.c, run by earshot__redact_next(). */
void earshot__pass_email(ctx *c);
void earshot__pass_date(ctx *c);
void earshot__pass_codes(ctx *c);
void earshot__pass_postcode(ctx *c);

#endif
