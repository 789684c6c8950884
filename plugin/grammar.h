/* grammar.h - the grammar folder: parsing, diagnostics, expansion into
 * token sequences. Internal to libearshot; the format is documented in
 * grammars/README.md. */
#ifndef EARSHOT_GRAMMAR_H
#define EARSHOT_GRAMMAR_H

#include "earshot.h"

#include <stddef.h>
#include <stdint.h>

/* What a phrase entry means to the matcher. */
typedef enum earshot__entry_kind {
    ENTRY_TEMPLATE,    /* [intent X] sentence template: matcher and domain LM */
    ENTRY_CUE,         /* [intent X] "cue W: ..." evidence phrase */
    ENTRY_TOPIC,       /* [topic X] or [signal X] keyword phrase */
    ENTRY_POSITIVE,    /* [sentiment] positive W: ... */
    ENTRY_NEGATIVE,    /* [sentiment] negative W: ... */
    ENTRY_NEGATOR,     /* [sentiment] negator: ... */
    ENTRY_INTENSIFIER, /* [sentiment] intensifier W: ... */
    ENTRY_CONTRAST,    /* [sentiment] contrast: but | although */
    ENTRY_HYPOTHETICAL, /* [sentiment] hypothetical: would | could | if */
    ENTRY_NUMBER,      /* [numbers] N: ... */
    ENTRY_NOT_SCORE,   /* [numbers] not_score: a number here is no rating */
    ENTRY_FROM_POSITIVE, /* [intent X] sentiment positive W; no expr */
    ENTRY_FROM_NEGATIVE, /* [intent X] sentiment negative W; no expr */
    ENTRY_ANSWER,      /* [answers] yes: / no: / unsure: / filler:; target EARSHOT__ANSWER_* */
} earshot__entry_kind;

/* Targets of ENTRY_ANSWER. */
enum {
    EARSHOT__ANSWER_NO = -1,
    EARSHOT__ANSWER_UNSURE = 0, /* "not sure", "maybe": no answer, but blocks "sure" */
    EARSHOT__ANSWER_YES = 1,
    EARSHOT__ANSWER_FILLER = 2  /* "um", "well", "then": part of a bare answer */
};

/* Special token ids inside expanded sequences. */
#define TOK_SLOT_SCORE (-2) /* {score}: a number word 0..10 */
#define TOK_START (-3)      /* ^: the start of the utterance */
#define TOK_ANY_NUMBER (-4) /* <number>: any number word 0..10 */
#define TOK_END (-5)        /* $: the end of the utterance */

typedef struct earshot__entry {
    earshot__entry_kind kind;
    int target;    /* intent or topic index, or the number's value */
    double weight;
    int line;      /* 1-based, in file */
    int file;      /* index into grammar->files */
    struct earshot__node *expr;
} earshot__entry;

typedef struct earshot__grammar earshot__grammar;

/* Called once per problem found; all problems are reported, not just the
 * first. col is 1-based. */
typedef void (*earshot__diag_fn)(const char *file, int line, int col, const char *msg,
                                 void *user);

/* Reads every *.grammar file of dir, in name order, passing each problem
 * to diag. Returns NULL when the folder cannot be read or memory ran out
 * (diag gets a line-0 message). */
earshot__grammar *earshot__grammar_load(const char *dir, earshot__diag_fn diag, void *user);

void earshot__grammar_free(earshot__grammar *g);

/* Problems found while loading; a grammar with errors is returned (so its
 * words can still be checked) but must not be used for matching. */
int earshot__grammar_n_errors(const earshot__grammar *g);

size_t earshot__grammar_n_entries(const earshot__grammar *g);
const earshot__entry *earshot__grammar_entry(const earshot__grammar *g, size_t i);
size_t earshot__grammar_n_intents(const earshot__grammar *g);
const char *earshot__grammar_intent(const earshot__grammar *g, size_t i);
size_t earshot__grammar_n_topics(const earshot__grammar *g);
const char *earshot__grammar_topic(const earshot__grammar *g, size_t i);
/* Topics from [signal NAME] sections (effort signals such as "third
 * time") share the topics' index space; this tells them apart. */
int earshot__grammar_topic_is_signal(const earshot__grammar *g, size_t i);
const char *earshot__grammar_file(const earshot__grammar *g, size_t i);
/* 64-bit FNV-1a over the names and bytes of every file read. */
uint64_t earshot__grammar_hash(const earshot__grammar *g);

/* The vocabulary: every word any entry uses, each with a small integer id
 * (ids are dense, from 0). */
int earshot__grammar_word_id(const earshot__grammar *g, const char *word, size_t len);
const char *earshot__grammar_word(const earshot__grammar *g, int id);
size_t earshot__grammar_n_words(const earshot__grammar *g);

/* Expands an entry's expression into every token sequence it stands for.
 * fn is called once per sequence with token ids (or TOK_* specials); a
 * non-zero return stops. Returns the number of sequences, or -1 when more
 * than max would be produced (nothing beyond max is delivered). */
long earshot__grammar_expand(const earshot__grammar *g, const earshot__entry *e, long max,
                             int (*fn)(const int *toks, size_t n, void *user), void *user);

/* Each word a grammar line uses, with the first place it is used, for the
 * dictionary check. */
typedef void (*earshot__word_fn)(const char *word, const char *file, int line, int col,
                                 void *user);
void earshot__grammar_each_word(const earshot__grammar *g, earshot__word_fn fn, void *user);

#endif
