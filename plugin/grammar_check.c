/* grammar_check.c - `earshot grammar check`: a grammar folder read for
 * errors, every word looked up in the recogniser's pronunciation
 * dictionary, and the redaction rules beside it checked too. Kept apart
 * from grammar.c, which only reads and expands, because it needs the
 * dictionary and the redactor and grammar.c needs neither. */
#include "array.h"
#include "earshot.h"
#include "grammar.h"
#include "hash.h"
#include "redact.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static size_t hash_str(const char *s, size_t len)
{
    return (size_t)earshot__fnv1a(EARSHOT_FNV_SEED, s, len);
}

typedef struct check_ctx {
    earshot_diag_fn fn;
    void *user;
    long problems; /* errors; missing dictionary words are warnings */
    /* dictionary words: open addressing over strings */
    char **dict;
    size_t dict_slots;
    /* grammar words already reported or checked */
    char **done;
    size_t done_n, done_cap;
} check_ctx;

static void check_diag(const char *file, int line, int col, const char *msg, void *user)
{
    check_ctx *c = user;
    c->problems++;
    if (c->fn)
        c->fn(file, line, col, msg, c->user);
}

static int dict_has(const check_ctx *c, const char *w)
{
    size_t mask = c->dict_slots - 1;
    for (size_t i = hash_str(w, strlen(w)) & mask; c->dict[i]; i = (i + 1) & mask)
        if (!strcmp(c->dict[i], w))
            return 1;
    return 0;
}

/* Reads the head words of a PocketSphinx dictionary ("word(2) P R O N"). */
static int dict_load(check_ctx *c, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = 0, cap = 0;
    char **words = NULL;
    char line[1024];
    while (fgets(line, sizeof line, f)) {
        size_t len = strcspn(line, " \t(\n");
        if (!len)
            continue;
        if (!earshot__grow((void **)&words, &cap, n + 1, sizeof *words))
            break;
        if (!(words[n] = strndup(line, len)))
            break;
        n++;
    }
    fclose(f);
    size_t slots = 1;
    while (slots < n * 2 + 2)
        slots *= 2;
    c->dict = calloc(slots, sizeof *c->dict);
    c->dict_slots = slots;
    if (!c->dict) {
        for (size_t i = 0; i < n; i++)
            free(words[i]);
        free(words);
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        size_t j = hash_str(words[i], strlen(words[i])) & (slots - 1);
        while (c->dict[j] && strcmp(c->dict[j], words[i]))
            j = (j + 1) & (slots - 1);
        if (c->dict[j])
            free(words[i]);
        else
            c->dict[j] = words[i];
    }
    free(words);
    return 1;
}

static void check_word(const char *word, const char *file, int line, int col, void *user)
{
    check_ctx *c = user;
    for (size_t i = 0; i < c->done_n; i++)
        if (!strcmp(c->done[i], word))
            return;
    if (earshot__grow((void **)&c->done, &c->done_cap, c->done_n + 1, sizeof *c->done))
        c->done[c->done_n++] = (char *)word;
    if (!dict_has(c, word) && c->fn) {
        char msg[300];
        snprintf(msg, sizeof msg, "warning: word not in the pronunciation dictionary, so "
                 "the recogniser cannot hear it: '%s'", word);
        c->fn(file, line, col, msg, c->user);
    }
}

/* redact.c reports "FILE:LINE:COL: message"; split it for the caller. */
static void redact_diag(const char *line, void *user)
{
    check_ctx *c = user;
    if (!c->fn)
        return;
    /* FILE:LINE:COL: the file name ends at the last ':' followed by digits
     * and ':' (names.txt errors come this way too). */
    const char *p = NULL;
    for (const char *q = strchr(line, ':'); q; q = strchr(q + 1, ':'))
        if (q[1] >= '0' && q[1] <= '9') {
            p = q;
            break;
        }
    if (p) {
        char file[4096];
        size_t n = (size_t)(p - line);
        snprintf(file, sizeof file, "%.*s", (int)n, line);
        char *end;
        long ln = strtol(p + 1, &end, 10), col = 0;
        if (*end == ':')
            col = strtol(end + 1, &end, 10);
        if (ln > 0 && *end == ':') {
            c->fn(file, (int)ln, (int)col, end + (end[1] == ' ' ? 2 : 1), c->user);
            return;
        }
    }
    const char *sep = strstr(line, ": ");
    char file[4096];
    snprintf(file, sizeof file, "%.*s", sep ? (int)(sep - line) : 0, line);
    c->fn(file, 0, 0, sep ? sep + 2 : line, c->user);
}

long earshot_grammar_check(const char *dir, const char *dict_path, earshot_diag_fn fn,
                           void *user)
{
    check_ctx c = {.fn = fn, .user = user};
    if (!dir)
        dir = earshot_default_grammar_dir();
    earshot__grammar *g = earshot__grammar_load(dir, check_diag, &c);
    if (g && dict_path) {
        if (!dict_load(&c, dict_path)) {
            earshot__grammar_free(g);
            return -1;
        }
        earshot__grammar_each_word(g, check_word, &c);
    }
    /* The redaction rules live in the same folder and are checked too. */
    char rules[4096];
    snprintf(rules, sizeof rules, "%s/redact.rules", dir);
    if (access(rules, F_OK) == 0)
        c.problems += earshot__redact_check(dir, redact_diag, &c);
    earshot__grammar_free(g);
    for (size_t i = 0; i < c.dict_slots; i++)
        free(c.dict ? c.dict[i] : NULL);
    free(c.dict);
    free(c.done);
    return c.problems;
}
