/* report_dp.c - differentially private reports (issue 14, item 5):
 * `earshot report --privacy dp --epsilon E`.
 *
 * The mechanism, step by step (the order of Google's differential-privacy
 * library: bound contributions, declare partitions, add secure noise,
 * account for the budget):
 * 1. Contribution bounding. Every figure is a count of distinct sessions
 *    (a session counts at most once per cell), and a session adds to at
 *    most earshot__report_dp_limit(t) cells of table t (report.c's
 *    count() stops counting a session beyond that). So one session
 *    changes table t by at most that many in L1.
 * 2. Pre-declared categories. The rows released are the grammar's
 *    intents, topics and signals, the scores 0-10 and the periods of the
 *    --since/--until window, all of them, zeros included; a row the data
 *    has outside them is dropped. No key depends on the data, so the set
 *    of rows tells nothing (no partition selection is needed). Free-text
 *    tables (phrases), quotes and channels (names not declared) are not
 *    released.
 * 3. Noise. Each released count gets two-sided geometric (discrete
 *    Laplace) noise, P(k) ~ alpha^|k| with alpha = exp(-eps_t / limit_t),
 *    eps_t = epsilon / 10 for each of the 10 tables: by sequential
 *    composition the report is epsilon-DP with respect to adding or
 *    removing one session. Integer noise drawn from integer-valued
 *    geometrics avoids the floating-point Laplace attack (Mironov 2012);
 *    the random bits come from getrandom(2). Negative results are shown
 *    as 0 (post-processing, which costs no privacy).
 * 4. Budget. Sessions of different calendar months are disjoint, so a
 *    report spends epsilon on every month its window touches; the
 *    store's ledger refuses a report that would take a month past its
 *    budget.
 * Derived figures (percentages, NPS) are computed by report.c from the
 * noisy counts: post-processing again. */
#include "report.h"
#include "grammar.h"
#include "store.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

enum { N_DP_TABLES = 10 };

int earshot__report_dp_limit(int ti)
{
    switch (ti) {
    case T_OVERVIEW: return 4;   /* each of its cells once: structural */
    case T_INTENTS: return 3;    /* three different intents per session */
    case T_TREND: return 3;
    case T_TOPICS: return 6;     /* e.g. two topics' utterances, sentiment, complaints */
    case T_EFFORT: return 2;
    case T_RATINGS: return 2;
    case T_NPS: return 4;        /* each of its cells once: structural */
    case T_CHURN: return 1;
    case T_IDEAS: return 1;
    case T_QUESTIONS: return 1;
    default: return 0;           /* not released */
    }
}

static int released(int ti)
{
    return earshot__report_dp_limit(ti) > 0;
}

/* splitmix64: only for the test seed. */
static uint64_t splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

int earshot__dp_rng_init(earshot__dp_rng *g)
{
    const char *seed = getenv("EARSHOT_DP_TEST_SEED");
    g->seeded = seed && seed[0];
    g->state = g->seeded ? strtoull(seed, NULL, 10) : 0;
    return g->seeded;
}

static int random64(earshot__dp_rng *g, uint64_t *out)
{
    if (g->seeded) {
        *out = splitmix(&g->state);
        return 1;
    }
    size_t got = 0;
    unsigned char *p = (unsigned char *)out;
    while (got < sizeof *out) {
        ssize_t n = getrandom(p + got, sizeof *out - got, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return 0;
        got += (size_t)n;
    }
    return 1;
}

/* A geometric draw, P(G >= g) = alpha^g, by inverting a uniform in
 * (0, 1] of 53 random bits. */
static int64_t geometric(earshot__dp_rng *g, double alpha, int *ok)
{
    uint64_t x;
    if (!random64(g, &x)) {
        *ok = 0;
        return 0;
    }
    double u = ((double)(x >> 11) + 1.0) * 0x1p-53;
    double v = floor(log(u) / log(alpha));
    return v > 1e15 ? (int64_t)1e15 : (int64_t)v;
}

int64_t earshot__dp_noise(earshot__dp_rng *g, double alpha, int *ok)
{
    *ok = 1;
    if (!(alpha > 0 && alpha < 1))
        return 0;
    int64_t a = geometric(g, alpha, ok), b = geometric(g, alpha, ok);
    return a - b;
}

/* ------------------------------------------------------------------ */
/* declaring every category                                             */
/* ------------------------------------------------------------------ */

static int declare(earshot_report *r, int ti, const char *k0, const char *k1)
{
    report_row *row = earshot__report_row(&r->t[ti], k0, k1);
    if (!row)
        return 0;
    row->declared = 1;
    return 1;
}

static int keep_declared(const report_row *row, void *u)
{
    (void)u;
    return row->declared;
}

static int keep_none(const report_row *row, void *u)
{
    (void)row;
    (void)u;
    return 0;
}

static int parse_ymd(const char *s, struct tm *tm)
{
    memset(tm, 0, sizeof *tm);
    if (sscanf(s, "%4d-%2d-%2d", &tm->tm_year, &tm->tm_mon, &tm->tm_mday) != 3)
        return 0;
    tm->tm_year -= 1900;
    tm->tm_mon -= 1;
    tm->tm_hour = 12;
    return 1;
}

static void grammar_diag(const char *file, int line, int col, const char *msg, void *user)
{
    char *err = user;
    if (!err[0])
        snprintf(err, 512, "%s:%d:%d: %s", file, line, col, msg);
}

/* Every intent, topic and signal of the grammar, every score, every
 * period of the window: declared, so that each is released, zero or not. */
static int declare_all(earshot_report *r, const earshot_report_config *cfg)
{
    const char *dir = cfg->grammar_dir ? cfg->grammar_dir : earshot_default_grammar_dir();
    char err[512] = "";
    earshot__grammar *g = earshot__grammar_load(dir, grammar_diag, err);
    if (!g || earshot__grammar_n_errors(g)) {
        earshot__grammar_free(g);
        return earshot__report_fail(r, EARSHOT_GRAMMAR, "privacy dp declares the grammar's "
                                    "categories: %s", err[0] ? err : dir);
    }
    const char *none = "(none)";
    int ok = declare(r, T_OVERVIEW, NULL, NULL) && declare(r, T_NPS, NULL, NULL) &&
             declare(r, T_INTENTS, "other", NULL);
    for (size_t i = 0; ok && i < earshot__grammar_n_intents(g); i++) {
        const char *in = earshot__grammar_intent(g, i);
        /* Dialogue, never counted (report.c skips them). */
        if (!strcmp(in, "consent_yes") || !strcmp(in, "consent_no") || !strcmp(in, "forget_me"))
            continue;
        ok = declare(r, T_INTENTS, in, NULL);
    }
    for (int t = -1; ok && t < (int)earshot__grammar_n_topics(g); t++) {
        const char *name = t < 0 ? none : earshot__grammar_topic(g, (size_t)t);
        if (t >= 0 && earshot__grammar_topic_is_signal(g, (size_t)t)) {
            ok = declare(r, T_EFFORT, name, NULL);
            continue;
        }
        ok = declare(r, T_TOPICS, name, NULL) && declare(r, T_CHURN, name, NULL) &&
             declare(r, T_IDEAS, name, NULL) && declare(r, T_QUESTIONS, name, NULL);
    }
    for (int sc = 0; ok && sc <= 10; sc++) {
        char k[4];
        snprintf(k, sizeof k, "%d", sc);
        ok = declare(r, T_RATINGS, k, NULL);
    }
    /* Periods of the window, each with every intent. */
    struct tm a, b;
    if (ok && parse_ymd(cfg->since, &a) && parse_ymd(cfg->until, &b)) {
        time_t t = timegm(&a), end = timegm(&b);
        char last[16] = "";
        for (; ok && t <= end; t += 86400) {
            struct tm d;
            gmtime_r(&t, &d);
            char day[16], period[16];
            strftime(day, sizeof day, "%Y-%m-%d", &d);
            earshot__report_period(r, day, period, sizeof period);
            if (!strcmp(period, last))
                continue;
            snprintf(last, sizeof last, "%s", period);
            const report_table *in = &r->t[T_INTENTS];
            for (size_t i = 0; ok && i < in->n; i++)
                if (in->rows[i].declared)
                    ok = declare(r, T_TREND, period, in->rows[i].key[0]);
        }
        earshot__report_period(r, cfg->since, r->from, sizeof r->from);
        earshot__report_period(r, cfg->until, r->to, sizeof r->to);
    }
    earshot__grammar_free(g);
    if (!ok)
        return earshot__report_fail(r, EARSHOT_NOMEM, "out of memory");
    return EARSHOT_OK;
}

/* The calendar months from since to until, "YYYY-MM", into a malloc'd
 * array of n strings. */
static char **months(const char *since, const char *until, size_t *n)
{
    int y0, m0, y1, m1;
    *n = 0;
    if (sscanf(since, "%4d-%2d", &y0, &m0) != 2 || sscanf(until, "%4d-%2d", &y1, &m1) != 2)
        return NULL;
    long count = (long)(y1 - y0) * 12 + (m1 - m0) + 1;
    if (count < 1 || count > 1200)
        return NULL;
    char **v = calloc((size_t)count, sizeof *v);
    for (long i = 0; v && i < count; i++) {
        int y = y0 + (int)((m0 - 1 + i) / 12), m = (int)((m0 - 1 + i) % 12) + 1;
        if (!(v[i] = malloc(16)))
            break;
        snprintf(v[i], 16, "%04d-%02d", y, m);
        (*n)++;
    }
    return v;
}

int earshot__report_dp_release(earshot_report *r, earshot_store *s,
                               const earshot_report_config *cfg)
{
    int rc = declare_all(r, cfg);
    if (rc != EARSHOT_OK)
        return rc;
    for (int ti = 0; ti < N_TABLES; ti++)
        if (!earshot__report_compact(&r->t[ti], released(ti) ? keep_declared : keep_none, NULL))
            return earshot__report_fail(r, EARSHOT_NOMEM, "out of memory");
    /* The budget first: a refused report releases nothing. */
    size_t n = 0;
    char **m = months(cfg->since, cfg->until, &n);
    if (!m || n == 0) {
        free(m);
        return earshot__report_fail(r, EARSHOT_NOMEM, "out of memory");
    }
    char what[128];
    snprintf(what, sizeof what, "report %s..%s epsilon %g", cfg->since, cfg->until,
             cfg->epsilon);
    rc = earshot__store_budget_spend(s, (const char *const *)m, n, r->epsilon, r->budget, what);
    for (size_t i = 0; i < n; i++)
        free(m[i]);
    free(m);
    if (rc != EARSHOT_OK)
        return earshot__report_fail(r, rc, "%s", earshot_store_errmsg(s));
    earshot__dp_rng g;
    r->dp_seeded = earshot__dp_rng_init(&g);
    for (int ti = 0; ti < N_TABLES; ti++) {
        if (!released(ti))
            continue;
        double eps_t = r->epsilon / N_DP_TABLES;
        double alpha = exp(-eps_t / earshot__report_dp_limit(ti));
        report_table *t = &r->t[ti];
        for (size_t i = 0; i < t->n; i++) {
            report_row *row = &t->rows[i];
            for (size_t q = 0; q < row->n_quotes; q++)
                free(row->quotes[q].text);
            free(row->quotes);
            row->quotes = NULL;
            row->n_quotes = 0;
            for (int j = 0; j < t->def->n_cells; j++) {
                int ok;
                int64_t v = row->c[j].sessions + earshot__dp_noise(&g, alpha, &ok);
                if (!ok)
                    return earshot__report_fail(r, EARSHOT_IO, "privacy dp: getrandom: %s "
                                                "(no noise, no report)", strerror(errno));
                row->c[j].n = row->c[j].sessions = v < 0 ? 0 : v;
                row->c[j].flags = 0;
            }
        }
    }
    return EARSHOT_OK;
}
