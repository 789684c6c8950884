/* report_themes.c - phrases and themes of what customers said in their
 * own words (issue 18, item 3): the grammar's stopwords, the phrases a
 * report counts, themes grouped from them, and one quote per theme.
 *
 * Stopwords are per language, in the grammar folder (stopwords.txt), so
 * that a report of a French kiosk does not filter with English words. */
#include "report.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* stopwords                                                            */
/* ------------------------------------------------------------------ */

struct earshot__stopwords {
    char **word;
    size_t n;
    uint32_t *slot; /* open addressing: index + 1, 0 empty */
    size_t mask;
};

static uint32_t word_hash(const char *w, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)w[i]) * 16777619u;
    return h;
}

void earshot__stopwords_free(earshot__stopwords *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        free(s->word[i]);
    free(s->word);
    free(s->slot);
    free(s);
}

int earshot__stopwords_has(const earshot__stopwords *s, const char *w, size_t len)
{
    if (!s || !s->slot)
        return 0;
    for (size_t at = word_hash(w, len) & s->mask; s->slot[at]; at = (at + 1) & s->mask) {
        const char *x = s->word[s->slot[at] - 1];
        if (strlen(x) == len && !memcmp(x, w, len))
            return 1;
    }
    return 0;
}

static int add_word(earshot__stopwords *s, const char *w, size_t len, size_t *cap)
{
    if (earshot__stopwords_has(s, w, len))
        return 1;
    if (s->n == *cap) {
        size_t nc = *cap ? *cap * 2 : 256;
        char **v = realloc(s->word, nc * sizeof *v);
        if (!v)
            return 0;
        s->word = v;
        *cap = nc;
    }
    if (!(s->word[s->n] = strndup(w, len)))
        return 0;
    s->n++;
    /* The table stays at most half full. */
    if (s->n * 2 > s->mask) {
        size_t ns = (s->mask + 1) * 2;
        if (ns < 1024)
            ns = 1024;
        uint32_t *v = calloc(ns, sizeof *v);
        if (!v)
            return 0;
        free(s->slot);
        s->slot = v;
        s->mask = ns - 1;
        for (size_t i = 0; i < s->n; i++) {
            size_t at = word_hash(s->word[i], strlen(s->word[i])) & s->mask;
            while (s->slot[at])
                at = (at + 1) & s->mask;
            s->slot[at] = (uint32_t)(i + 1);
        }
        return 1;
    }
    size_t at = word_hash(w, len) & s->mask;
    while (s->slot[at])
        at = (at + 1) & s->mask;
    s->slot[at] = (uint32_t)s->n;
    return 1;
}

earshot__stopwords *earshot__stopwords_load(const char *dir, int *missing)
{
    *missing = 0;
    char path[4096];
    snprintf(path, sizeof path, "%s/stopwords.txt", dir ? dir : ".");
    FILE *f = fopen(path, "r");
    if (!f) {
        *missing = 1;
        return NULL;
    }
    earshot__stopwords *s = calloc(1, sizeof *s);
    size_t cap = 0;
    char line[1024];
    int ok = s != NULL;
    while (ok && fgets(line, sizeof line, f)) {
        char *hash = strchr(line, '#');
        if (hash)
            *hash = '\0';
        /* Several words a line are allowed: the file reads better so. */
        for (char *p = line; *p && ok;) {
            while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
                p++;
            char *e = p;
            while (*e && *e != ' ' && *e != '\t' && *e != '\n' && *e != '\r')
                e++;
            if (e > p)
                ok = add_word(s, p, (size_t)(e - p), &cap);
            p = e;
        }
    }
    fclose(f);
    if (!ok) {
        earshot__stopwords_free(s);
        return NULL;
    }
    return s;
}

enum { MAX_PHRASE_WORDS = 3, MAX_WORDS = 64 };

void earshot__count_phrases(const earshot__stopwords *stop, report_table *t, const char *text,
                            int64_t ses)
{
    const char *w[MAX_WORDS];
    size_t wl[MAX_WORDS], n = 0;
    for (const char *p = text; *p && n < MAX_WORDS;) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        const char *e = p;
        while (*e && *e != ' ')
            e++;
        w[n] = p;
        wl[n++] = (size_t)(e - p);
        p = e;
    }
    char phrase[256];
    for (size_t i = 0; i < n; i++) {
        if (w[i][0] == '[' || earshot__stopwords_has(stop, w[i], wl[i]))
            continue;
        size_t len = 0;
        for (size_t k = i; k < n && k < i + MAX_PHRASE_WORDS; k++) {
            if (w[k][0] == '[' || len + wl[k] + 2 > sizeof phrase)
                break;
            if (k > i)
                phrase[len++] = ' ';
            memcpy(phrase + len, w[k], wl[k]);
            len += wl[k];
            phrase[len] = '\0';
            /* Single words said too little on their own ("much", "time"). */
            if (k == i || earshot__stopwords_has(stop, w[k], wl[k]))
                continue;
            report_row *row = earshot__report_row(t, phrase, NULL);
            if (row)
                earshot__report_count(row, 0, ses);
        }
    }
}

/* ------------------------------------------------------------------ */
/* quotes for phrases                                                   */
/* ------------------------------------------------------------------ */

/* The most recent quotable texts: enough to find one quote for each of
 * the few phrases a report lists, few enough to stay small on a big
 * database. */
enum { POOL_SIZE = 4096, QUOTED_ROWS = 60 };

typedef struct pooled {
    char *text;
    int confidence, ti, used;
} pooled;

struct earshot__quote_pool {
    pooled q[POOL_SIZE];
    size_t n, next;
};

earshot__quote_pool *earshot__quote_pool_new(void)
{
    return calloc(1, sizeof(earshot__quote_pool));
}

void earshot__quote_pool_free(earshot__quote_pool *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++)
        free(p->q[i].text);
    free(p);
}

int earshot__quote_pool_add(earshot__quote_pool *p, const char *text, int confidence, int ti)
{
    char *t = strdup(text);
    if (!t)
        return 0;
    pooled *slot = &p->q[p->next];
    if (p->n < POOL_SIZE)
        p->n++;
    else
        free(slot->text);
    *slot = (pooled){t, confidence, ti, 0};
    p->next = (p->next + 1) % POOL_SIZE;
    return 1;
}

/* The phrase as whole words of text. */
static int holds_phrase(const char *text, const char *phrase)
{
    size_t pl = strlen(phrase);
    for (const char *at = strstr(text, phrase); at; at = strstr(at + 1, phrase))
        if ((at == text || at[-1] == ' ') && (at[pl] == '\0' || at[pl] == ' '))
            return 1;
    return 0;
}

static int add_one_quote(report_row *row, const char *text, int conf)
{
    report_quote *v = realloc(row->quotes, (row->n_quotes + 1) * sizeof *v);
    if (!v)
        return 0;
    row->quotes = v;
    if (!(v[row->n_quotes].text = strdup(text)))
        return 0;
    v[row->n_quotes].confidence = conf;
    row->n_quotes++;
    return 1;
}

int earshot__quote_pool_attach(earshot__quote_pool *p, earshot_report *r,
                               earshot__report_guard *g)
{
    if (r->max_quotes <= 0)
        return 1;
    for (int ti = T_QUESTION_PHRASES; ti <= T_UNMATCHED; ti++) {
        size_t n;
        const report_row **rows = earshot__report_rows(r, ti, &n);
        if (!rows)
            return 0;
        for (size_t i = 0; i < n && i < QUOTED_ROWS; i++) {
            report_row *row = (report_row *)rows[i];
            pooled *best = NULL;
            for (size_t k = 0; k < p->n; k++) {
                pooled *q = &p->q[k];
                if (q->used || q->ti != ti || !holds_phrase(q->text, row->key[0]))
                    continue;
                if (!best || q->confidence > best->confidence ||
                    (q->confidence == best->confidence && strcmp(q->text, best->text) < 0))
                    best = q;
            }
            /* Checked only once chosen: the guard asks the redactor. */
            while (best && !earshot__report_quote_ok(g, best->text)) {
                best->used = 1;
                pooled *next = NULL;
                for (size_t k = 0; k < p->n; k++) {
                    pooled *q = &p->q[k];
                    if (!q->used && q->ti == ti && holds_phrase(q->text, row->key[0]) &&
                        (!next || q->confidence > next->confidence))
                        next = q;
                }
                best = next;
            }
            if (best) {
                best->used = 1;
                if (!add_one_quote(row, best->text, best->confidence)) {
                    free(rows);
                    return 0;
                }
            }
        }
        free(rows);
    }
    return 1;
}

/* ------------------------------------------------------------------ */
/* themes                                                               */
/* ------------------------------------------------------------------ */

/* A phrase's content words are its first and last ones: a phrase never
 * begins or ends with a stopword, so these are content words whichever
 * grammar counted it, in a merged report as well. */
static int first_last(const char *p, const char **w, size_t *wl)
{
    const char *sp = strchr(p, ' ');
    if (!sp)
        return 0;
    const char *last = strrchr(p, ' ') + 1;
    w[0] = p;
    wl[0] = (size_t)(sp - p);
    w[1] = last;
    wl[1] = strlen(last);
    return 1;
}

static int shares_word(const char *a, const char *b)
{
    const char *wa[2], *wb[2];
    size_t la[2], lb[2];
    if (!first_last(a, wa, la) || !first_last(b, wb, lb))
        return 0;
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++)
            if (la[i] == lb[j] && !memcmp(wa[i], wb[j], la[i]))
                return 1;
    return 0;
}

report_theme *earshot__report_themes(const earshot_report *r, int ti, size_t max, size_t *n)
{
    *n = 0;
    size_t nr;
    const report_row **rows = earshot__report_rows(r, ti, &nr);
    if (!rows)
        return NULL;
    report_theme *th = calloc(max + 1, sizeof *th);
    if (!th) {
        free(rows);
        return NULL;
    }
    /* Leader clustering: in order of sessions, a phrase joins the first
     * theme whose leading phrase shares a content word with it, or leads
     * a theme of its own. Joining only leaders keeps chains ("wait time",
     * "time slot", "slot machine") from growing into one theme. */
    size_t look = nr < 2000 ? nr : 2000;
    for (size_t i = 0; i < look; i++) {
        const report_row *row = rows[i];
        size_t t;
        for (t = 0; t < *n; t++)
            if (shares_word(th[t].lead->key[0], row->key[0]))
                break;
        if (t < *n) {
            report_theme *x = &th[t];
            x->n_phrases++;
            if (x->n_alt < 3)
                x->alt[x->n_alt++] = row;
            if (!x->quote && row->n_quotes)
                x->quote = row->quotes[0].text;
            continue;
        }
        if (*n == max)
            continue;
        th[*n] = (report_theme){.lead = row, .n_phrases = 1, .sessions = row->c[0].sessions,
                                .quote = row->n_quotes ? row->quotes[0].text : NULL};
        (*n)++;
    }
    free(rows);
    return th;
}

int earshot__report_seen_first(report_seen *s, const char *text)
{
    for (size_t i = 0; i < s->n; i++)
        if (!strcmp(s->v[i], text))
            return 0;
    if (s->n == s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 32;
        const char **v = realloc(s->v, nc * sizeof *v);
        if (!v)
            return 0; /* out of memory: leaving a quote out is the safe side */
        s->v = v;
        s->cap = nc;
    }
    s->v[s->n++] = text;
    return 1;
}
