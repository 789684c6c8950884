/* redact_rules.h - the lexicon redact.rules is read into, shared by the
 * rules reader (redact_rules.c) and the redactor (redact.c). Internal to
 * libearshot; the format itself is in grammars/README.md. */
#ifndef EARSHOT_REDACT_RULES_H
#define EARSHOT_REDACT_RULES_H

#include "redact.h"

#include <stddef.h>

/* A word longer than MAX_WORD bytes cannot be in the lexicon, so such a
 * token is simply not a rules word. */
#define MAX_WORD 64
#define MAX_PHRASE 8 /* words in one cue phrase */

/* ------------------------------------------------------------------ */
/* the lexicon                                                          */
/* ------------------------------------------------------------------ */

enum {
    W_NUMBER = 1u << 0,       /* number N: value in ->value */
    W_REPEAT = 1u << 1,       /* repeat N: "double", count in ->repeat */
    W_HUNDRED = 1u << 2,      /* hundred: */
    W_HUNDRED_AND = 1u << 3,  /* hundred-and: "one hundred and five" */
    W_PLUS = 1u << 4,         /* plus: spoken '+' before a phone number */
    W_GLUE = 1u << 5,         /* cue-glue: "is", "on" between a cue and its value */
    W_NAME = 1u << 6,         /* from a names-file */
    W_AMBIGUOUS = 1u << 7,    /* ambiguous-name: a name that is an everyday word */
    W_NEVER = 1u << 8,        /* never-name */
    W_SUFFIX = 1u << 9,       /* name-suffix: "speaking" */
    W_BREAK = 1u << 10,       /* clause-break: "and", "but" */
    W_STREET = 1u << 11,      /* street: */
    W_ADDR_PREFIX = 1u << 12, /* address-prefix: "number", "flat" */
    W_EMAIL_AT = 1u << 13,    /* email-at: */
    W_EMAIL_DOT = 1u << 14,   /* email-dot: */
    W_EMAIL_JOIN = 1u << 15,  /* email-join: "underscore", "dash" */
    W_TLD = 1u << 16,         /* tld: */
    W_TITLE = 1u << 17,       /* name-title: "mrs" before a name */
    W_UNIT = 1u << 18,        /* number-unit: "pounds" after a quantity */
    W_DIGIT_LIKE = 1u << 19,  /* digit-like N: "to", a digit only inside a run; N in ->value */
    W_FILLER = 1u << 20,      /* digit-filler: "w", an unknown digit inside a run */
    W_DIGIT_JOIN = 1u << 21,  /* digit-join: "and", "dash" between two digit groups */
    W_ORDINAL = 1u << 22,     /* ordinal N: "fifth", a day of a date; N in ->ordinal */
    W_MONTH = 1u << 23,       /* month: */
    W_DATE_GLUE = 1u << 24,   /* date-glue: "the", "of" inside a date */
    W_EMAIL_ROLE = 1u << 25,  /* email-role: "info", "sales", a local part though a word */
};

enum {
    CUE_PHONE,
    CUE_CARD,
    CUE_NUMBER,
    CUE_NAME,
    CUE_NAME_WEAK,
    CUE_ADDRESS,
    CUE_ADDRESS_WEAK,
    CUE_EMAIL,
    CUE_DATE,     /* date-cue: "date of birth", "born on" */
    CUE_POSTCODE, /* postcode-cue: "postcode", "zip code" */
};
#define CUE_BIT(k) (1u << (k))

typedef struct word {
    char *text;
    unsigned flags;
    int value;  /* W_NUMBER */
    int repeat; /* W_REPEAT */
    int ordinal; /* W_ORDINAL */
    /* Where things were first said, for the conflict messages. */
    int value_line, never_line, never_col, name_line, name_file;
} word;

typedef struct phrase {
    int kind;
    int strong; /* *-strong-cue: the number after it survives recognition noise */
    int n;
    int ids[MAX_PHRASE];
} phrase;

struct earshot__redactor {
    word *words;
    size_t n_words, cap_words;
    int *slots; /* open addressing over words, -1 empty; size a power of 2 */
    size_t n_slots;
    phrase *cues;
    size_t n_cues, cap_cues;
};


/* Both the rules and the text go through this: ASCII lower case, and the
 * typographic apostrophes U+2018/U+2019 become '\'', so "I’m" in a typed
 * comment matches "i'm" in the rules. Returns the normalised length, or 0
 * when it does not fit in MAX_WORD bytes. */
size_t earshot__rules_normalize(const char *s, size_t len, char *out);

/* The lexicon id of s (already normalised, len bytes), or -1. */
int earshot__rules_find(const earshot__redactor *r, const char *s, size_t len);

#endif
