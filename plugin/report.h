/* report.h - the insight report's model, shared by report.c (building,
 * suppression, merging, JSON) and report_render.c (HTML, CSV, Markdown).
 * Internal.
 *
 * A report is a set of tables. A row has up to two keys (an intent, a
 * topic and a period, ...) and up to ten cells; a cell holds a count and
 * the number of distinct sessions behind it, which is what suppression
 * looks at. Counts are kept exact in memory; suppression is applied when
 * a report is shown or written, so that merging can add exact figures
 * and suppress again afterwards. */
#ifndef EARSHOT_REPORT_H
#define EARSHOT_REPORT_H

#include "earshot.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum { REPORT_MAX_KEYS = 2, REPORT_MAX_CELLS = 9 };

enum {
    T_OVERVIEW,
    T_INTENTS,
    T_TREND,
    T_TOPICS,
    T_EFFORT,
    T_RATINGS,
    T_NPS,
    T_CHURN,
    T_IDEAS,
    T_QUESTIONS,
    T_QUESTION_PHRASES,
    T_UNMATCHED,
    T_CHANNELS,
    N_TABLES
};

/* Cells of the overview and channels tables, by position. */
enum { OV_SESSIONS, OV_CONSENTED, OV_UTTERANCES, OV_UNCLEAR };
enum { TOP_UTT, TOP_NEG, TOP_NEU, TOP_POS, TOP_COMPLAINTS };
enum { NPS_RATINGS, NPS_PROMOTERS, NPS_PASSIVES, NPS_DETRACTORS };
enum { CH_SESSIONS, CH_CONSENTED, CH_UTT, CH_COMPLAINTS, CH_NEGATIVE, CH_RATINGS,
       CH_PROMOTERS, CH_DETRACTORS, CH_CANCELS };

typedef struct report_table_def {
    const char *id;    /* JSON member and CSV file name */
    const char *title; /* for people */
    int n_keys;
    const char *keys[REPORT_MAX_KEYS];
    int n_cells;
    const char *cells[REPORT_MAX_CELLS];
    /* Keys are customers' words (phrases): a suppressed row is left out
     * altogether, since its key would itself tell. */
    int free_text;
} report_table_def;

extern const report_table_def earshot__report_defs[N_TABLES];

/* A figure an input report had suppressed: unknown. */
#define CELL_UNKNOWN 1u
/* A sum that left out unknown figures: a lower bound. */
#define CELL_PARTIAL 2u
/* Hidden although large enough, so that a small figure cannot be worked
 * out by subtracting the others from a total (secondary suppression). */
#define CELL_HIDDEN 4u

typedef struct report_cell {
    int64_t n;        /* utterances (or sessions, or ratings, ...) */
    int64_t sessions; /* distinct sessions behind n */
    int64_t last;     /* while building: the last session counted */
    unsigned flags;
} report_cell;

typedef struct report_quote {
    char *text;
    int confidence; /* per mille, so that ordering survives a JSON round trip */
} report_quote;

typedef struct report_table report_table;
typedef struct earshot__findings earshot__findings;
typedef struct earshot__report_guard earshot__report_guard;

typedef struct report_row {
    report_table *tab; /* the table the row is in (for contribution bounding) */
    int declared;      /* privacy dp: a pre-declared category, released even at 0 */
    char *key[REPORT_MAX_KEYS];
    report_cell c[REPORT_MAX_CELLS];
    report_quote *quotes; /* ideas rows only */
    size_t n_quotes;
} report_row;

struct report_table {
    const report_table_def *def;
    /* Privacy dp, contribution bounding: a session adds to at most
     * dp_limit cells of this table (0: no bound); dp_used of them so far
     * for session dp_ses. */
    int dp_limit, dp_used;
    int64_t dp_ses;
    report_row *rows;
    size_t n, cap;
    uint32_t *slots; /* open addressing: row index + 1, 0 empty */
    size_t n_slots;
};

struct earshot_report {
    report_table t[N_TABLES];
    int min_group;
    earshot_time_unit unit;
    int utc;
    int max_rows, max_quotes;
    char *since, *until, *channel; /* the filter, as asked */
    char from[16], to[16];         /* the period the data covers, in unit format */
    char **sources;                /* database ids */
    size_t n_sources;
    /* Privacy dp (report_dp.c): figures are noisy counts of distinct
     * sessions, nothing is suppressed, and only dp tables are released. */
    int dp;
    double epsilon, budget;
    int dp_seeded; /* noise from EARSHOT_DP_TEST_SEED: not private */
    /* report_themes.c: no stopwords.txt in the grammar folder, so no
     * phrases were counted (the report says so). */
    int no_stopwords;
    /* report_findings.c: what to act on, and the change against the
     * previous period. Built from a store only (not loaded, not merged). */
    earshot__findings *fx;
    char errmsg[512];
};

/* Finds or adds the row with these keys (n_keys of them). NULL when out
 * of memory. */
report_row *earshot__report_row(report_table *t, const char *k0, const char *k1);

/* Marks the cells that secondary suppression must hide as well
 * (CELL_HIDDEN): wherever figures add up to a shown total (intents to all
 * utterances, ratings to all ratings, a topic's sentiments to its
 * utterances, an intent's days to the intent, channels to the whole), a
 * single hidden figure among them (the total included) would be given
 * away by subtraction, so the smallest shown one is hidden too, until no
 * relation has exactly one hidden figure.
 * Run before a report is written. */
void earshot__report_protect(earshot_report *r);

/* Whether a cell may be shown under the report's min_group. */
int earshot__report_cell_visible(const earshot_report *r, const report_cell *c);
/* The cell as text: "12", "<5", or ">=12" for a lower bound. */
const char *earshot__report_cell_str(const earshot_report *r, const report_cell *c, char *buf,
                                     size_t len);
/* Rows of table ti in the order a report lists them: visible rows by
 * their first cell, largest first; suppressed ones after, by key (never by
 * their hidden size); free-text tables leave suppressed rows out. Returns
 * a malloc'd array of row pointers, *n set; NULL when out of memory. */
const report_row **earshot__report_rows(const earshot_report *r, int ti, size_t *n);
/* a / b as a percentage rounded to an integer, when both cells may be
 * shown and b > 0; otherwise -1000 (not shown). */
int earshot__report_pct(const earshot_report *r, const report_cell *a, const report_cell *b);
/* NPS of a row with ratings, promoters, detractors at those positions;
 * -1000 when any of them is suppressed. */
int earshot__report_nps(const earshot_report *r, const report_row *row, int ratings,
                        int promoters, int detractors);
#define REPORT_NA (-1000)

/* A table's derived figures (consented_pct, share_pct, negative_pct,
 * complaint_pct, nps): their names into names (room for
 * REPORT_MAX_DERIVED), and each one's value for a row, REPORT_NA when
 * it may not be shown. */
enum { REPORT_MAX_DERIVED = 4 };
int earshot__report_n_derived(int ti, const char **names);
int earshot__report_derived(const earshot_report *r, int ti, const report_row *row,
                            const char *name);

/* Channels whose figure differs most from the other channels'. Writes a
 * short reason ("complaints 40% vs 12% elsewhere") into buf, or "" when
 * the channel does not stand out. */
void earshot__report_channel_flag(const earshot_report *r, const report_row *row, char *buf,
                                  size_t len);

/* The rules the report follows, one sentence per line, for its footer. */
void earshot__report_rules(const earshot_report *r, void (*line)(const char *s, void *u),
                           void *u);

/* "day", "week" or "month". */
const char *earshot__report_unit_name(earshot_time_unit u);

/* Keeps the rows of t for which keep() says 1, frees the others.
 * Returns 0 when out of memory. */
int earshot__report_compact(report_table *t, int (*keep)(const report_row *row, void *u),
                            void *u);
/* A day "YYYY-MM-DD" as the report's period of it ("2026-W48", ...). */
void earshot__report_period(const earshot_report *r, const char *day, char *out, size_t len);

/* One more in cell j of row for session ses (distinct sessions by the
 * last one seen). */
void earshot__report_count(report_row *row, int j, int64_t ses);

/* report_themes.c: stopwords and themes (issue 18, item 3). */
typedef struct earshot__stopwords earshot__stopwords;
/* Reads dir/stopwords.txt: one word a line, '#' comments. NULL when
 * there is none (*missing set) or out of memory (*missing 0). */
earshot__stopwords *earshot__stopwords_load(const char *dir, int *missing);
int earshot__stopwords_has(const earshot__stopwords *s, const char *w, size_t len);
void earshot__stopwords_free(earshot__stopwords *s);
/* Counts every 2- and 3-word phrase of text that neither starts nor ends
 * with a stopword nor crosses a redaction tag into t. */
void earshot__count_phrases(const earshot__stopwords *stop, report_table *t, const char *text,
                            int64_t ses);
/* Quotes for themes: a bounded pool of quotable unmatched or question
 * utterances kept while counting (the most recent ones). */
typedef struct earshot__quote_pool earshot__quote_pool;
earshot__quote_pool *earshot__quote_pool_new(void);
int earshot__quote_pool_add(earshot__quote_pool *p, const char *text, int confidence, int ti);
/* After counting: gives each of the top shown rows of the phrase tables
 * one quote that holds the phrase and that the guard accepts, a quote
 * never given twice. Returns 0 when out of memory. */
int earshot__quote_pool_attach(earshot__quote_pool *p, earshot_report *r,
                               earshot__report_guard *g);
void earshot__quote_pool_free(earshot__quote_pool *p);

/* A theme: phrases of a phrase table grouped by a shared content word. */
typedef struct report_theme {
    const report_row *lead;      /* its most heard phrase */
    const report_row *alt[3];    /* other phrasings */
    int n_alt, n_phrases;
    int64_t sessions;            /* at least this many sessions (its largest phrase) */
    const char *quote;           /* NULL: none */
} report_theme;
/* Up to max themes of phrase table ti, largest first; *n set. Themes are
 * built from the shown phrases only, so they work on merged reports too.
 * NULL when out of memory. */
report_theme *earshot__report_themes(const earshot_report *r, int ti, size_t max, size_t *n);

/* A quote may be printed once per report: the renderers remember them. */
typedef struct report_seen {
    const char **v;
    size_t n, cap;
} report_seen;
/* 1 the first time text is seen (and remembers it), 0 after. */
int earshot__report_seen_first(report_seen *s, const char *text);

/* report_findings.c (issue 18, items 1, 2 and 5). */
struct earshot__scan_utterance;
/* Per-session records while counting: NULL when out of memory. */
earshot__findings *earshot__findings_new(void);
void earshot__findings_free(earshot__findings *fx);
/* One utterance, with its day number (days since 1970-01-01, in the
 * report's time zone). Returns 0 when out of memory. */
int earshot__findings_utterance(earshot__findings *fx, const struct earshot__scan_utterance *u,
                                long day, const earshot__stopwords *stop);
/* After counting: splits the periods and computes the findings and
 * changes. cur_from/cur_to: the window's first and last day numbers
 * (since and until), or -1 to split the data in two halves. */
int earshot__findings_finish(earshot_report *r, long cur_from, long cur_to,
                             earshot__report_guard *g);
/* Days since 1970-01-01 of "YYYY-MM-DD", or -1. */
long earshot__day_number(const char *day);
/* The change of a row's session share against the previous period:
 * ti is T_OVERVIEW (name NULL: sessions), T_INTENTS or T_TOPICS. Writes
 * "▲ +5 pts" style text (HTML entities when html) into buf, "" when
 * there is no comparison or a figure would be under min_group. */
void earshot__report_change(const earshot_report *r, int ti, const char *name, int html,
                            char *buf, size_t len);
/* A sentence saying which periods the changes compare, "" when none. */
void earshot__report_change_basis(const earshot_report *r, char *buf, size_t len);
/* The findings for the renderers: shown ones first, ranked, then the
 * families with not enough evidence yet. */
size_t earshot__report_findings(const earshot_report *r, const earshot_finding **out);
/* Why there are no findings at all ("" when there are): a merged or
 * loaded report, privacy dp. */
const char *earshot__report_findings_absent(const earshot_report *r);
/* The footnote explaining the tests behind findings. */
void earshot__report_findings_method(const earshot_report *r, char *buf, size_t len);

/* report_dp.c: differential privacy (issue 14, item 5). */
/* The tables a dp report releases (others are emptied), and the most
 * cells of each one session may add to (contribution bounding). */
int earshot__report_dp_limit(int ti);
/* After counting: declares every category (zeros too), spends epsilon
 * from the store's ledger for each calendar month of the window (or
 * refuses with EARSHOT_BUDGET), and replaces every released figure by
 * its count of distinct sessions plus two-sided geometric noise. */
int earshot__report_dp_release(earshot_report *r, earshot_store *s,
                               const earshot_report_config *cfg);
/* The noise source: getrandom(2), or a fixed seed for tests. */
typedef struct earshot__dp_rng {
    uint64_t state;
    int seeded;
} earshot__dp_rng;
/* getrandom(2) unless the environment variable EARSHOT_DP_TEST_SEED is
 * set (tests only: the report then says its noise is not private).
 * Returns 1 when seeded. */
int earshot__dp_rng_init(earshot__dp_rng *g);
/* Two-sided geometric (discrete Laplace) noise: P(k) proportional to
 * alpha^|k|, alpha = exp(-epsilon / sensitivity). -1 never... returns the
 * draw; *ok set to 0 when the random source failed. */
int64_t earshot__dp_noise(earshot__dp_rng *g, double alpha, int *ok);

/* report_guard.c: what a report prints is checked again (issue 14).
 * A guard asks the store's redactor; it caches its answers per word. */
earshot__report_guard *earshot__report_guard_open(earshot_store *s); /* NULL: out of memory */
void earshot__report_guard_close(earshot__report_guard *g);
/* Non-zero once an answer could not be had for want of memory (the text
 * asked about was then refused). */
int earshot__report_guard_nomem(const earshot__report_guard *g);
/* A quote may be printed: no run of two or more consecutive number words
 * ("four eight eight", "4111 1111") and nothing today's redactor would
 * change. */
int earshot__report_quote_ok(earshot__report_guard *g, const char *text);
/* A phrase may be listed: no number word at all, nothing to redact. */
int earshot__report_phrase_ok(earshot__report_guard *g, const char *phrase);

/* report_render.c */
int earshot__report_write_html(earshot_report *r, const char *path);
int earshot__report_write_csv(earshot_report *r, const char *path);
int earshot__report_write_md(earshot_report *r, const char *path);
int earshot__report_fail(earshot_report *r, int rc, const char *fmt, ...);
/* path, or standard output for "-"; NULL with the reason set. */
FILE *earshot__report_open(earshot_report *r, const char *path);
/* Closes (or flushes standard output) and reports a failed write. */
int earshot__report_close(earshot_report *r, FILE *f, const char *path);

#endif
