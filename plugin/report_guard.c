/* report_guard.c - a report checks what it prints (issue 14, item 3).
 *
 * Stored text was redacted with the rules of the day it was stored, and
 * a rule can miss a shape: "four five three nine and one four eight
 * eight and ..." left twelve card digits behind "[CARD]". So a quote or a
 * phrase is printed only if (1) today's redactor would not change it and
 * (2) it holds no run of two or more consecutive number words (a quote),
 * or no number word at all (a phrase: a phrase list adds up fragments
 * across sessions, and "four eight eight" is a fragment of someone's
 * number whatever the suppression threshold). Dropping loses an example;
 * printing loses a customer's card.
 *
 * What counts as a number word comes from the language's redact.rules,
 * asked through the redactor's public functions only (redact.h, via
 * store.c): a word is a number word when a run of it ("four four four
 * ...") is redacted as [PHONE], [CARD] or [NUMBER]. Written digits are
 * number words without asking. Answers are cached per word. */
#include "report.h"
#include "redact.h"
#include "store.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* A one-key table as a word cache: c[0].n is 1 for a number word, 2 for
 * any other word. */
static const report_table_def cache_def = {"words", "words", 1, {"word"}, 1, {"kind"}, 0};

struct earshot__report_guard {
    earshot_store *store;
    report_table words;
    int nomem;
};

earshot__report_guard *earshot__report_guard_open(earshot_store *s)
{
    earshot__report_guard *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->store = s;
    g->words.def = &cache_def;
    return g;
}

void earshot__report_guard_close(earshot__report_guard *g)
{
    if (!g)
        return;
    for (size_t i = 0; i < g->words.n; i++)
        free(g->words.rows[i].key[0]);
    free(g->words.rows);
    free(g->words.slots);
    free(g);
}

int earshot__report_guard_nomem(const earshot__report_guard *g)
{
    return g->nomem;
}

enum { PROBE_REPEATS = 12, MAX_WORD = 48 };

/* 1 when word (lower case, no spaces) is a number word. */
static int number_word(earshot__report_guard *g, const char *word)
{
    int digits = 1;
    for (const char *p = word; *p; p++)
        if (!isdigit((unsigned char)*p))
            digits = 0;
    if (digits)
        return 1;
    report_row *row = earshot__report_row(&g->words, word, NULL);
    if (!row) {
        g->nomem = 1;
        return 1; /* when unsure, the text is not printed */
    }
    if (row->c[0].n == 0) {
        char probe[PROBE_REPEATS * (MAX_WORD + 1) + 1];
        size_t len = 0, wl = strlen(word);
        for (int i = 0; i < PROBE_REPEATS; i++) {
            if (i)
                probe[len++] = ' ';
            memcpy(probe + len, word, wl);
            len += wl;
        }
        probe[len] = '\0';
        unsigned found = 0;
        char *out = earshot__store_redact_found(g->store, probe, &found);
        if (!out) {
            g->nomem = 1;
            return 1;
        }
        free(out);
        row->c[0].n =
            found & (EARSHOT__PII_PHONE | EARSHOT__PII_CARD | EARSHOT__PII_NUMBER) ? 1 : 2;
    }
    return row->c[0].n == 1;
}

/* The longest run of consecutive number words in text, and how many
 * number words it holds in all. Words are cut at spaces and '-'; leading
 * and trailing punctuation is not part of a word ("four," is "four"). */
static void scan_numbers(earshot__report_guard *g, const char *text, int *longest, int *total)
{
    int run = 0;
    *longest = *total = 0;
    for (const char *p = text; *p;) {
        while (*p && (isspace((unsigned char)*p) || *p == '-'))
            p++;
        const char *e = p;
        while (*e && !isspace((unsigned char)*e) && *e != '-')
            e++;
        if (e == p)
            break;
        const char *a = p, *b = e;
        while (a < b && !isalnum((unsigned char)*a) && !((unsigned char)*a & 0x80))
            a++;
        while (b > a && !isalnum((unsigned char)b[-1]) && !((unsigned char)b[-1] & 0x80))
            b--;
        int num = 0;
        /* A tag ("[CARD]") is what redaction left: not a number word. */
        if (b > a && *p != '[') {
            char w[MAX_WORD + 1];
            size_t n = (size_t)(b - a);
            if (n > MAX_WORD) {
                num = 0; /* no number word is that long */
            } else {
                for (size_t i = 0; i < n; i++)
                    w[i] = (char)tolower((unsigned char)a[i]);
                w[n] = '\0';
                num = number_word(g, w);
            }
        }
        run = num ? run + 1 : 0;
        *total += num;
        if (run > *longest)
            *longest = run;
        p = e;
    }
}

/* 1 when today's redactor would change text. */
static int redactable(earshot__report_guard *g, const char *text)
{
    char *again = earshot__store_redact_found(g->store, text, NULL);
    if (!again) {
        g->nomem = 1;
        return 1;
    }
    int changed = strcmp(again, text) != 0;
    free(again);
    return changed;
}

int earshot__report_quote_ok(earshot__report_guard *g, const char *text)
{
    int longest, total;
    scan_numbers(g, text, &longest, &total);
    return longest < 2 && !redactable(g, text);
}

int earshot__report_phrase_ok(earshot__report_guard *g, const char *phrase)
{
    int longest, total;
    scan_numbers(g, phrase, &longest, &total);
    return total == 0 && !redactable(g, phrase);
}
