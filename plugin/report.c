/* report.c - anonymised insight reports: counting what was stored,
 * suppressing small groups, merging a fleet's reports, JSON in and out.
 * Rendering for people (HTML, CSV, Markdown) is in report_render.c.
 *
 * One pass over the store (plugin/store.c reads SQLite; this file never
 * does): every utterance adds to the cells it belongs to. Utterances come
 * ordered by session, so a cell counts distinct sessions by remembering
 * the last one it saw; no set of ids is ever kept. Session ids stay in
 * this file's counters and never reach a report. */
#include "report.h"
#include "array.h"
#include "store.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const report_table_def earshot__report_defs[N_TABLES] = {
    /* unclear: utterances heard too poorly to read (audio quality unclear
     * or narrowband), counted instead of guessed at. */
    [T_OVERVIEW] = {"overview", "Overview", 0, {0}, 4,
                    {"sessions", "consented_sessions", "utterances", "unclear"}, 0},
    [T_INTENTS] = {"intents", "What customers want", 1, {"intent"}, 1, {"utterances"}, 0},
    [T_TREND] = {"intent_trend", "Intents over time", 2, {"period", "intent"}, 1,
                 {"utterances"}, 0},
    [T_TOPICS] = {"topics", "Friction hotspots: topics by sentiment", 1, {"topic"}, 5,
                  {"utterances", "negative", "neutral", "positive", "complaints"}, 0},
    [T_EFFORT] = {"effort", "Effort signals", 1, {"signal"}, 1, {"utterances"}, 0},
    [T_RATINGS] = {"ratings", "Ratings given by voice", 1, {"score"}, 1, {"ratings"}, 0},
    [T_NPS] = {"nps", "Net Promoter Score", 0, {0}, 4,
               {"ratings", "promoters", "passives", "detractors"}, 0},
    [T_CHURN] = {"churn", "Churn signals: cancellations by topic", 1, {"topic"}, 1,
                 {"cancels"}, 0},
    [T_IDEAS] = {"ideas", "Ideas: suggestions by topic", 1, {"topic"}, 1, {"suggestions"}, 0},
    [T_QUESTIONS] = {"questions", "Knowledge gaps: questions by topic", 1, {"topic"}, 1,
                     {"questions"}, 0},
    [T_QUESTION_PHRASES] = {"question_phrases", "Knowledge gaps: what they ask about", 1,
                            {"phrase"}, 1, {"utterances"}, 1},
    [T_UNMATCHED] = {"unmatched", "Unmatched speech: frequent phrases", 1, {"phrase"}, 1,
                     {"utterances"}, 1},
    [T_CHANNELS] = {"channels", "Channel consistency", 1, {"channel"}, 9,
                    {"sessions", "consented_sessions", "utterances", "complaints", "negative",
                     "ratings", "promoters", "detractors", "cancels"}, 0},
};

earshot_report_config earshot_report_config_default(void)
{
    return (earshot_report_config){
        .since = NULL,
        .until = NULL,
        .channel = NULL,
        .min_group = 5,
        .time_unit = EARSHOT_TIME_DAY,
        .utc = 0,
        .max_rows = 15,
        .max_quotes = 3,
        .privacy = EARSHOT_PRIVACY_SUPPRESS,
        .epsilon = 0,
        .budget = 0,
        .grammar_dir = NULL,
    };
}

int earshot__report_fail(earshot_report *r, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->errmsg, sizeof r->errmsg, fmt, ap);
    va_end(ap);
    return rc;
}
#define fail earshot__report_fail

const char *earshot_report_errmsg(const earshot_report *r)
{
    if (!r)
        return "out of memory";
    return r->errmsg[0] ? r->errmsg : "not an error";
}

const char *earshot__report_unit_name(earshot_time_unit u)
{
    return u == EARSHOT_TIME_WEEK ? "week" : u == EARSHOT_TIME_MONTH ? "month" : "day";
}

/* How a period of the unit is written (strftime). */
static const char *unit_format(earshot_time_unit u)
{
    return u == EARSHOT_TIME_WEEK ? "%G-W%V" : u == EARSHOT_TIME_MONTH ? "%Y-%m" : "%Y-%m-%d";
}

static earshot_report *report_new(void)
{
    earshot_report *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    for (int i = 0; i < N_TABLES; i++)
        r->t[i].def = &earshot__report_defs[i];
    earshot_report_config d = earshot_report_config_default();
    r->min_group = d.min_group;
    r->max_rows = d.max_rows;
    r->max_quotes = d.max_quotes;
    return r;
}

void earshot_report_free(earshot_report *r)
{
    if (!r)
        return;
    for (int i = 0; i < N_TABLES; i++) {
        report_table *t = &r->t[i];
        for (size_t k = 0; k < t->n; k++) {
            for (int j = 0; j < REPORT_MAX_KEYS; j++)
                free(t->rows[k].key[j]);
            for (size_t q = 0; q < t->rows[k].n_quotes; q++)
                free(t->rows[k].quotes[q].text);
            free(t->rows[k].quotes);
        }
        free(t->rows);
        free(t->slots);
    }
    for (size_t i = 0; i < r->n_sources; i++)
        free(r->sources[i]);
    free(r->sources);
    free(r->since);
    free(r->until);
    free(r->channel);
    earshot__findings_free(r->fx);
    free(r);
}

/* ------------------------------------------------------------------ */
/* rows: a small open-addressing hash per table                         */
/* ------------------------------------------------------------------ */

static uint64_t key_hash(const char *k0, const char *k1)
{
    uint64_t h = 1469598103934665603ull;
    for (const char *p = k0 ? k0 : ""; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    h = (h ^ 0x1f) * 1099511628211ull;
    for (const char *p = k1 ? k1 : ""; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    return h;
}

static int key_eq(const report_row *row, const char *k0, const char *k1)
{
    return !strcmp(row->key[0] ? row->key[0] : "", k0 ? k0 : "") &&
           !strcmp(row->key[1] ? row->key[1] : "", k1 ? k1 : "");
}

static int rehash(report_table *t, size_t n_slots)
{
    uint32_t *slots = calloc(n_slots, sizeof *slots);
    if (!slots)
        return 0;
    for (size_t i = 0; i < t->n; i++) {
        size_t at = key_hash(t->rows[i].key[0], t->rows[i].key[1]) & (n_slots - 1);
        while (slots[at])
            at = (at + 1) & (n_slots - 1);
        slots[at] = (uint32_t)(i + 1);
    }
    free(t->slots);
    t->slots = slots;
    t->n_slots = n_slots;
    return 1;
}

report_row *earshot__report_row(report_table *t, const char *k0, const char *k1)
{
    if (t->def->n_keys < 2)
        k1 = NULL;
    if (t->def->n_keys < 1)
        k0 = NULL;
    if (t->n_slots == 0 && !rehash(t, 16))
        return NULL;
    uint64_t h = key_hash(k0, k1);
    size_t at = h & (t->n_slots - 1);
    while (t->slots[at]) {
        report_row *row = &t->rows[t->slots[at] - 1];
        if (key_eq(row, k0, k1))
            return row;
        at = (at + 1) & (t->n_slots - 1);
    }
    if (!earshot__grow((void **)&t->rows, &t->cap, t->n + 1, sizeof *t->rows))
        return NULL;
    report_row *row = &t->rows[t->n];
    memset(row, 0, sizeof *row);
    row->tab = t;
    for (int j = 0; j < REPORT_MAX_CELLS; j++)
        row->c[j].last = -1;
    if ((k0 && !(row->key[0] = strdup(k0))) || (k1 && !(row->key[1] = strdup(k1)))) {
        free(row->key[0]);
        return NULL;
    }
    t->slots[at] = (uint32_t)(++t->n);
    if (t->n * 2 > t->n_slots && !rehash(t, t->n_slots * 2))
        return NULL; /* the row exists; the next lookup retries the growth */
    return &t->rows[t->n - 1];
}

/* One more of cell j of the row, said in session ses. Under privacy dp
 * a session adds to at most dp_limit cells of a table: further cells
 * are not counted for it (contribution bounding), so that one session
 * can move the table's figures by at most dp_limit in all. */
static void count(report_row *row, int j, int64_t ses)
{
    if (!row)
        return;
    report_cell *c = &row->c[j];
    if (c->last != ses) {
        report_table *t = row->tab;
        if (t->dp_limit > 0) {
            if (t->dp_ses != ses) {
                t->dp_ses = ses;
                t->dp_used = 0;
            }
            if (t->dp_used >= t->dp_limit)
                return;
            t->dp_used++;
        }
        c->last = ses;
        c->sessions++;
    }
    c->n++;
}

void earshot__report_count(report_row *row, int j, int64_t ses)
{
    count(row, j, ses);
}

/* ------------------------------------------------------------------ */
/* suppression and derived figures                                      */
/* ------------------------------------------------------------------ */

int earshot__report_cell_visible(const earshot_report *r, const report_cell *c)
{
    if (r->dp)
        return 1; /* noise protects every figure; nothing is suppressed */
    if (c->flags & (CELL_UNKNOWN | CELL_HIDDEN))
        return 0;
    /* A zero is about nobody: shown. */
    return c->n == 0 || c->sessions >= r->min_group;
}

/* One additive relation: cells that add up to total. If exactly one of
 * them (total included) is hidden, subtraction would give it away: hide
 * the smallest shown part as well. Returns 1 when it hid a cell. */
static int protect_sum(const earshot_report *r, report_cell **cells, size_t n,
                       report_cell *total)
{
    if (!total)
        return 0;
    size_t hidden = !earshot__report_cell_visible(r, total);
    report_cell *smallest = NULL;
    for (size_t i = 0; i < n; i++) {
        if (!earshot__report_cell_visible(r, cells[i]))
            hidden++;
        else if (cells[i]->n > 0 && (!smallest || cells[i]->n < smallest->n))
            smallest = cells[i];
    }
    if (hidden != 1)
        return 0;
    if (!smallest)
        smallest = total; /* every part hidden but one... already two; or none */
    if (!earshot__report_cell_visible(r, smallest))
        return 0;
    smallest->flags |= CELL_HIDDEN;
    return 1;
}

static report_cell *find_cell(earshot_report *r, int ti, const char *k0, int cell)
{
    report_table *t = &r->t[ti];
    for (size_t i = 0; i < t->n; i++)
        if (!strcmp(t->rows[i].key[0] ? t->rows[i].key[0] : "", k0 ? k0 : ""))
            return &t->rows[i].c[cell];
    return NULL;
}

/* The cells of column cell of table ti (of rows whose second key is k1,
 * when given) into a malloc'd array. */
static report_cell **column(earshot_report *r, int ti, int cell, const char *k1, size_t *n)
{
    report_table *t = &r->t[ti];
    report_cell **v = malloc((t->n + 1) * sizeof *v);
    *n = 0;
    for (size_t i = 0; v && i < t->n; i++)
        if (!k1 || !strcmp(t->rows[i].key[1], k1))
            v[(*n)++] = &t->rows[i].c[cell];
    return v;
}

static int protect_column(earshot_report *r, int ti, int cell, const char *k1,
                          report_cell *total)
{
    size_t n;
    report_cell **v = column(r, ti, cell, k1, &n);
    int changed = v ? protect_sum(r, v, n, total) : 0;
    free(v);
    return changed;
}

void earshot__report_protect(earshot_report *r)
{
    if (r->dp)
        return;
    for (int ti = 0; ti < N_TABLES; ti++)
        for (size_t i = 0; i < r->t[ti].n; i++)
            for (int j = 0; j < REPORT_MAX_CELLS; j++)
                r->t[ti].rows[i].c[j].flags &= ~CELL_HIDDEN;
    report_cell *ov = r->t[T_OVERVIEW].n ? r->t[T_OVERVIEW].rows[0].c : NULL;
    report_cell *nps = r->t[T_NPS].n ? r->t[T_NPS].rows[0].c : NULL;
    /* Hiding one cell can expose another relation: repeat until still. */
    for (int round = 0, changed = 1; changed && round < 50; round++) {
        changed = 0;
        if (ov) {
            changed |= protect_column(r, T_INTENTS, 0, NULL, &ov[OV_UTTERANCES]);
            changed |= protect_column(r, T_CHANNELS, CH_SESSIONS, NULL, &ov[OV_SESSIONS]);
            changed |= protect_column(r, T_CHANNELS, CH_CONSENTED, NULL, &ov[OV_CONSENTED]);
            changed |= protect_column(r, T_CHANNELS, CH_UTT, NULL, &ov[OV_UTTERANCES]);
        }
        if (nps) {
            report_cell *parts[3] = {&nps[NPS_PROMOTERS], &nps[NPS_PASSIVES],
                                     &nps[NPS_DETRACTORS]};
            changed |= protect_sum(r, parts, 3, &nps[NPS_RATINGS]);
            changed |= protect_column(r, T_RATINGS, 0, NULL, &nps[NPS_RATINGS]);
            changed |= protect_column(r, T_CHANNELS, CH_RATINGS, NULL, &nps[NPS_RATINGS]);
            changed |= protect_column(r, T_CHANNELS, CH_PROMOTERS, NULL, &nps[NPS_PROMOTERS]);
            changed |= protect_column(r, T_CHANNELS, CH_DETRACTORS, NULL, &nps[NPS_DETRACTORS]);
        }
        changed |= protect_column(r, T_CHANNELS, CH_COMPLAINTS, NULL,
                                  find_cell(r, T_INTENTS, "complaint", 0));
        changed |= protect_column(r, T_CHANNELS, CH_CANCELS, NULL,
                                  find_cell(r, T_INTENTS, "cancel", 0));
        report_table *t = &r->t[T_TOPICS];
        for (size_t i = 0; i < t->n; i++) {
            report_cell *c = t->rows[i].c;
            report_cell *parts[3] = {&c[TOP_NEG], &c[TOP_NEU], &c[TOP_POS]};
            changed |= protect_sum(r, parts, 3, &c[TOP_UTT]);
        }
        t = &r->t[T_INTENTS];
        for (size_t i = 0; i < t->n; i++)
            changed |= protect_column(r, T_TREND, 0, t->rows[i].key[0], &t->rows[i].c[0]);
    }
}

const char *earshot__report_cell_str(const earshot_report *r, const report_cell *c, char *buf,
                                     size_t len)
{
    if (!earshot__report_cell_visible(r, c))
        snprintf(buf, len, "<%d", r->min_group);
    else if (c->flags & CELL_PARTIAL)
        snprintf(buf, len, ">=%lld", (long long)c->n);
    else
        snprintf(buf, len, "%lld", (long long)c->n);
    return buf;
}

int earshot__report_pct(const earshot_report *r, const report_cell *a, const report_cell *b)
{
    if (!earshot__report_cell_visible(r, a) || !earshot__report_cell_visible(r, b) || b->n <= 0 ||
        ((a->flags | b->flags) & CELL_PARTIAL))
        return REPORT_NA;
    return (int)((a->n * 200 + b->n) / (2 * b->n)); /* rounded half up */
}

int earshot__report_nps(const earshot_report *r, const report_row *row, int ratings,
                        int promoters, int detractors)
{
    const report_cell *R = &row->c[ratings], *P = &row->c[promoters], *D = &row->c[detractors];
    if (!earshot__report_cell_visible(r, R) || !earshot__report_cell_visible(r, P) ||
        !earshot__report_cell_visible(r, D) || R->n <= 0 ||
        ((R->flags | P->flags | D->flags) & CELL_PARTIAL))
        return REPORT_NA;
    double v = 100.0 * (double)(P->n - D->n) / (double)R->n;
    return (int)(v < 0 ? v - 0.5 : v + 0.5);
}

static const earshot_report *sort_report;
static int sort_table;

static int by_key(const report_row *a, const report_row *b)
{
    for (int j = 0; j < REPORT_MAX_KEYS; j++) {
        int c = strcmp(a->key[j] ? a->key[j] : "", b->key[j] ? b->key[j] : "");
        if (c)
            return c;
    }
    return 0;
}

static int row_order(const void *pa, const void *pb)
{
    const report_row *a = *(const report_row *const *)pa, *b = *(const report_row *const *)pb;
    /* Scores and periods read best in their natural order; channels by name. */
    if (sort_table == T_RATINGS)
        return atoi(a->key[0]) - atoi(b->key[0]);
    if (sort_table == T_TREND || sort_table == T_CHANNELS)
        return by_key(a, b);
    int va = earshot__report_cell_visible(sort_report, &a->c[0]);
    int vb = earshot__report_cell_visible(sort_report, &b->c[0]);
    if (va != vb)
        return vb - va;
    /* Suppressed rows are ordered by key only: their order must not tell
     * their hidden sizes. */
    if (va) {
        if (a->c[0].n != b->c[0].n)
            return a->c[0].n < b->c[0].n ? 1 : -1;
        if (a->c[0].sessions != b->c[0].sessions)
            return a->c[0].sessions < b->c[0].sessions ? 1 : -1;
    }
    return by_key(a, b);
}

const report_row **earshot__report_rows(const earshot_report *r, int ti, size_t *n)
{
    const report_table *t = &r->t[ti];
    const report_row **v = malloc((t->n + 1) * sizeof *v);
    if (!v)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < t->n; i++) {
        if (t->def->free_text && !earshot__report_cell_visible(r, &t->rows[i].c[0]))
            continue;
        v[k++] = &t->rows[i];
    }
    sort_report = r;
    sort_table = ti;
    qsort(v, k, sizeof *v, row_order);
    *n = k;
    return v;
}

/* A channel stands out when one of its shares is at least 10 points (NPS:
 * 20 points) from the other channels' pooled figure, both built from
 * shown cells only. */
void earshot__report_channel_flag(const earshot_report *r, const report_row *row, char *buf,
                                  size_t len)
{
    buf[0] = '\0';
    const report_table *t = &r->t[T_CHANNELS];
    static const struct {
        int num, den;
        const char *what;
    } shares[] = {{CH_COMPLAINTS, CH_UTT, "complaints"}, {CH_NEGATIVE, CH_UTT, "negative"}};
    double best = 0;
    for (size_t m = 0; m < sizeof shares / sizeof *shares; m++) {
        int mine = earshot__report_pct(r, &row->c[shares[m].num], &row->c[shares[m].den]);
        if (mine == REPORT_NA)
            continue;
        int64_t num = 0, den = 0;
        for (size_t i = 0; i < t->n; i++) {
            const report_row *o = &t->rows[i];
            if (o == row || earshot__report_pct(r, &o->c[shares[m].num], &o->c[shares[m].den]) ==
                                REPORT_NA)
                continue;
            num += o->c[shares[m].num].n;
            den += o->c[shares[m].den].n;
        }
        if (den <= 0)
            continue;
        double rest = 100.0 * (double)num / (double)den, d = mine - rest;
        if ((d >= 10 || d <= -10) && (d < 0 ? -d : d) > best) {
            best = d < 0 ? -d : d;
            snprintf(buf, len, "%s %d%% vs %.0f%% elsewhere", shares[m].what, mine, rest);
        }
    }
    int mine = earshot__report_nps(r, row, CH_RATINGS, CH_PROMOTERS, CH_DETRACTORS);
    if (mine != REPORT_NA) {
        int64_t R = 0, P = 0, D = 0;
        for (size_t i = 0; i < t->n; i++) {
            const report_row *o = &t->rows[i];
            if (o == row ||
                earshot__report_nps(r, o, CH_RATINGS, CH_PROMOTERS, CH_DETRACTORS) == REPORT_NA)
                continue;
            R += o->c[CH_RATINGS].n;
            P += o->c[CH_PROMOTERS].n;
            D += o->c[CH_DETRACTORS].n;
        }
        if (R > 0) {
            double rest = 100.0 * (double)(P - D) / (double)R, d = mine - rest;
            if ((d >= 20 || d <= -20) && (d < 0 ? -d : d) / 2 > best)
                snprintf(buf, len, "NPS %d vs %.0f elsewhere", mine, rest);
        }
    }
}

void earshot__report_rules(const earshot_report *r, void (*line)(const char *s, void *u),
                           void *u)
{
    char b[512];
    if (r->dp) {
        snprintf(b, sizeof b, "Differential privacy, epsilon %g for this whole report (%g for "
                 "each of its 10 tables), per session: every figure counts distinct consenting "
                 "sessions, a session adds to only a few figures of each table, and each "
                 "figure has two-sided geometric noise added; negative results show as 0.",
                 r->epsilon, r->epsilon / 10);
        line(b, u);
        line("Every intent, topic, signal, score and period is listed, zeros included, "
             "so that which rows appear tells nothing. Percentages and NPS are computed "
             "from the noisy figures. Phrases, quotes and channels are not included.", u);
        snprintf(b, sizeof b, "Each calendar month may spend a privacy budget of %g over all "
                 "such reports; the database's ledger refuses a report beyond it. This "
                 "protects each session, not a customer across several visits.", r->budget);
        line(b, u);
        if (r->dp_seeded)
            line("TEST ONLY: the noise came from EARSHOT_DP_TEST_SEED, a fixed seed, and "
                 "protects nobody. Never publish this report.", u);
        return;
    }
    snprintf(b, sizeof b,
             "Every figure built from fewer than %d distinct sessions (other than zero) is "
             "suppressed and shown as \"<%d\"; a phrase heard in fewer sessions is left out.",
             r->min_group, r->min_group);
    line(b, u);
    line("Where figures add up to a total that is shown, one more figure is hidden the same "
         "way whenever a single one would be, so that no hidden figure can be worked out by "
         "subtraction.", u);
    line("Suppressed rows are listed after the others, in name order, so that their order "
         "tells nothing of their size. Percentages and NPS are shown only when every figure "
         "they are built from is shown.", u);
    snprintf(b, sizeof b, "No session ids and no time finer than a %s (%s) appear in this "
             "report.", earshot__report_unit_name(r->unit), r->utc ? "UTC" : "local time");
    line(b, u);
    line("Only text redacted before it was stored is shown, and only if today's redaction "
         "rules would not change it: a quote holding two or more number words in a row, or a "
         "phrase holding any number word, is left out. Example quotes come only from "
         "customers whose consent includes the quotes scope.", u);
    line("A session is one customer's visit or call; counts are of utterances unless a "
         "column says sessions. NPS counts each rating given.", u);
    if (r->no_stopwords)
        line("The grammar folder has no stopwords.txt, so no phrases or themes are listed.", u);
    if (r->fx) {
        char m[1024];
        earshot__report_findings_method(r, m, sizeof m);
        line(m, u);
    }
    if (r->n_sources > 1) {
        snprintf(b, sizeof b, "This report adds up %zu databases; suppression was applied "
                 "again after adding. \">=N\" marks a sum that leaves out figures an input "
                 "report had suppressed.", r->n_sources);
        line(b, u);
    }
}

/* ------------------------------------------------------------------ */
/* building from a store                                                */
/* ------------------------------------------------------------------ */

typedef struct builder {
    earshot_report *r;
    earshot_store *store;
    earshot__report_guard *guard;
    int nomem;
    earshot__stopwords *stop;     /* NULL: no stopwords.txt, no phrases */
    earshot__quote_pool *pool;    /* quotes for phrases and themes */
    char cur_from[32];            /* since and until: the previous period is scanned too */
    long day;                     /* the day number of cache_day */
    char min_day[16], max_day[16];
    char cache_key[17], cache_day[16], cache_bucket[16];
} builder;

/* "YYYY-MM-DDTHH:MM:SSZ" (UTC) as the local (or UTC) day and the unit's
 * bucket. Consecutive utterances share their minute, so it is cached. */
static void when(builder *b, const char *iso)
{
    if (!strncmp(b->cache_key, iso, 16) && b->cache_key[0])
        return;
    snprintf(b->cache_key, sizeof b->cache_key, "%.16s", iso);
    struct tm tm = {0};
    if (sscanf(iso, "%d-%d-%dT%d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec) != 6) {
        snprintf(b->cache_day, sizeof b->cache_day, "unknown");
        snprintf(b->cache_bucket, sizeof b->cache_bucket, "unknown");
        return;
    }
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    time_t t = timegm(&tm);
    struct tm lt;
    if (b->r->utc)
        gmtime_r(&t, &lt);
    else
        localtime_r(&t, &lt);
    strftime(b->cache_day, sizeof b->cache_day, "%Y-%m-%d", &lt);
    b->day = earshot__day_number(b->cache_day);
    strftime(b->cache_bucket, sizeof b->cache_bucket, unit_format(b->r->unit), &lt);
}

static void see_day(builder *b)
{
    if (!b->min_day[0] || strcmp(b->cache_day, b->min_day) < 0)
        snprintf(b->min_day, sizeof b->min_day, "%s", b->cache_day);
    if (!b->max_day[0] || strcmp(b->cache_day, b->max_day) > 0)
        snprintf(b->max_day, sizeof b->max_day, "%s", b->cache_day);
}

static int on_session(const earshot__scan_session *s, void *user)
{
    builder *b = user;
    earshot_report *r = b->r;
    /* A session of the previous period counts only towards the changes. */
    if (b->cur_from[0] && strcmp(s->started_at, b->cur_from) < 0)
        return 0;
    report_row *ov = earshot__report_row(&r->t[T_OVERVIEW], NULL, NULL);
    report_row *ch = earshot__report_row(&r->t[T_CHANNELS], s->channel, NULL);
    if (!ov || !ch)
        return b->nomem = 1;
    count(ov, OV_SESSIONS, s->id);
    count(ch, CH_SESSIONS, s->id);
    if (s->consented) {
        count(ov, OV_CONSENTED, s->id);
        count(ch, CH_CONSENTED, s->id);
    }
    when(b, s->started_at);
    see_day(b);
    return 0;
}

/* Runs body with name set to each comma-separated name of list, or once
 * with "(none)" for an empty list. */
#define EACH_NAME(list, name, body)                                                           \
    do {                                                                                      \
        const char *p_ = (list);                                                              \
        if (!*p_) {                                                                           \
            const char *name = "(none)";                                                        \
            body;                                                                             \
        }                                                                                     \
        while (*p_) {                                                                         \
            const char *e_ = strchr(p_, ',');                                                 \
            size_t l_ = e_ ? (size_t)(e_ - p_) : strlen(p_);                                  \
            char n_[64];                                                                      \
            snprintf(n_, sizeof n_, "%.*s", (int)(l_ < 63 ? l_ : 63), p_);                    \
            const char *name = n_;                                                            \
            body;                                                                             \
            p_ += l_ + (e_ ? 1 : 0);                                                          \
        }                                                                                     \
    } while (0)

static int cmp_quote(const report_quote *a, const report_quote *b)
{
    if (a->confidence != b->confidence)
        return a->confidence > b->confidence ? -1 : 1;
    return strcmp(a->text, b->text);
}

/* Keeps the row's best max quotes: most confident first, then by text,
 * an order that survives merging. Takes ownership of text. */
static int add_quote(report_row *row, char *text, int conf, int max)
{
    report_quote q = {text, conf};
    for (size_t i = 0; i < row->n_quotes; i++)
        if (!strcmp(row->quotes[i].text, text)) {
            if (cmp_quote(&q, &row->quotes[i]) < 0)
                row->quotes[i].confidence = conf;
            free(text);
            return 1;
        }
    size_t at = row->n_quotes;
    while (at > 0 && cmp_quote(&q, &row->quotes[at - 1]) < 0)
        at--;
    if ((int)at >= max) {
        free(text);
        return 1;
    }
    if ((int)row->n_quotes < max) {
        report_quote *v = realloc(row->quotes, (row->n_quotes + 1) * sizeof *v);
        if (!v) {
            free(text);
            return 0;
        }
        row->quotes = v;
        row->n_quotes++;
    } else {
        free(row->quotes[row->n_quotes - 1].text);
    }
    memmove(&row->quotes[at + 1], &row->quotes[at], (row->n_quotes - 1 - at) * sizeof q);
    row->quotes[at] = q;
    return 1;
}

/* One more in cell of the row (k0, k1) of table ti: the row, or NULL
 * when out of memory. */
static report_row *tally(earshot_report *r, int ti, const char *k0, const char *k1, int cell,
                         int64_t ses)
{
    report_row *row = earshot__report_row(&r->t[ti], k0, k1);
    count(row, cell, ses);
    return row;
}

static int on_utterance(const earshot__scan_utterance *u, void *user)
{
    builder *b = user;
    earshot_report *r = b->r;
    const char *intent = u->intent[0] ? u->intent : "other";
    /* Consent answers and erasure requests are dialogue, not feedback. */
    if (!strcmp(intent, "consent_yes") || !strcmp(intent, "consent_no") ||
        !strcmp(intent, "forget_me"))
        return 0;
    int64_t ses = u->session;
    when(b, u->heard_at);
    if (r->fx && !earshot__findings_utterance(r->fx, u, b->day, b->stop))
        return b->nomem = 1;
    /* The previous period (since and until given) feeds only the changes. */
    if (b->cur_from[0] && strcmp(u->heard_at, b->cur_from) < 0)
        return 0;
    see_day(b);
    report_row *ch = tally(r, T_CHANNELS, u->channel, NULL, CH_UTT, ses);
    report_row *ov = tally(r, T_OVERVIEW, NULL, NULL, OV_UTTERANCES, ses);
    if (ov && (!strcmp(u->quality, "unclear") || !strcmp(u->quality, "narrowband")))
        count(ov, OV_UNCLEAR, ses);
    if (!ch || !ov ||
        !tally(r, T_INTENTS, intent, NULL, 0, ses) ||
        !tally(r, T_TREND, b->cache_bucket, intent, 0, ses))
        return b->nomem = 1;
    int complaint = !strcmp(intent, "complaint"), cancel = !strcmp(intent, "cancel");
    int neg = !strcmp(u->sentiment, "negative"), pos = !strcmp(u->sentiment, "positive");
    if (complaint)
        count(ch, CH_COMPLAINTS, ses);
    if (neg)
        count(ch, CH_NEGATIVE, ses);
    if (cancel)
        count(ch, CH_CANCELS, ses);
    /* The table by topic this intent feeds, and its phrase list. */
    int by_topic = cancel                          ? T_CHURN
                   : !strcmp(intent, "question")   ? T_QUESTIONS
                   : !strcmp(intent, "suggestion") ? T_IDEAS
                                                   : -1;
    int phrases = by_topic == T_QUESTIONS        ? T_QUESTION_PHRASES
                  : !strcmp(intent, "other")     ? T_UNMATCHED
                                                 : -1;
    EACH_NAME(u->topics, topic, {
        report_row *t = tally(r, T_TOPICS, topic, NULL, TOP_UTT, ses);
        if (!t)
            return b->nomem = 1;
        count(t, neg ? TOP_NEG : pos ? TOP_POS : TOP_NEU, ses);
        if (complaint)
            count(t, TOP_COMPLAINTS, ses);
        if (by_topic >= 0 && !(t = tally(r, by_topic, topic, NULL, 0, ses)))
            return b->nomem = 1;
        /* Checked before it competes for a place, so that a dropped
         * quote leaves its place to the next best one. */
        if (by_topic == T_IDEAS && u->quotable && u->text[0] &&
            earshot__report_quote_ok(b->guard, u->text)) {
            char *text = strdup(u->text);
            if (!text || !add_quote(t, text, (int)(u->confidence * 1000 + 0.5), r->max_quotes))
                return b->nomem = 1;
        }
    });
    if (u->signals[0]) {
        EACH_NAME(u->signals, sig, {
            if (!tally(r, T_EFFORT, sig, NULL, 0, ses))
                return b->nomem = 1;
        });
    }
    if (u->score >= 0) {
        char k[12];
        snprintf(k, sizeof k, "%d", u->score);
        report_row *np = tally(r, T_NPS, NULL, NULL, NPS_RATINGS, ses);
        if (!np || !tally(r, T_RATINGS, k, NULL, 0, ses))
            return b->nomem = 1;
        int kind = u->score >= 9 ? NPS_PROMOTERS : u->score >= 7 ? NPS_PASSIVES : NPS_DETRACTORS;
        count(np, kind, ses);
        count(ch, CH_RATINGS, ses);
        if (kind == NPS_PROMOTERS)
            count(ch, CH_PROMOTERS, ses);
        if (kind == NPS_DETRACTORS)
            count(ch, CH_DETRACTORS, ses);
    }
    if (phrases >= 0 && b->stop) {
        earshot__count_phrases(b->stop, &r->t[phrases], u->text, ses);
        if (u->quotable && u->text[0] && !r->dp &&
            !earshot__quote_pool_add(b->pool, u->text, (int)(u->confidence * 1000 + 0.5),
                                     phrases))
            return b->nomem = 1;
    }
    return 0;
}

int earshot__report_compact(report_table *t, int (*keep)(const report_row *row, void *u),
                            void *u)
{
    size_t k = 0;
    for (size_t i = 0; i < t->n; i++) {
        report_row *row = &t->rows[i];
        if (keep(row, u)) {
            t->rows[k++] = *row;
            continue;
        }
        for (int j = 0; j < REPORT_MAX_KEYS; j++)
            free(row->key[j]);
        for (size_t q = 0; q < row->n_quotes; q++)
            free(row->quotes[q].text);
        free(row->quotes);
    }
    if (k == t->n)
        return 1;
    t->n = k;
    return t->n_slots ? rehash(t, t->n_slots) : 1;
}

static int phrase_ok(const report_row *row, void *guard)
{
    return earshot__report_phrase_ok(guard, row->key[0] ? row->key[0] : "");
}

/* Removes the rows of a phrase table that the guard refuses. */
static int drop_phrases(report_table *t, earshot__report_guard *g)
{
    return earshot__report_compact(t, phrase_ok, g);
}

/* "YYYY-MM-DD" as a time_t at its start, in local time or UTC. */
static int parse_day(const char *s, int utc, int add_days, time_t *out)
{
    int y, m, d;
    char tail;
    if (!s || strlen(s) != 10 || sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3 || m < 1 ||
        m > 12 || d < 1 || d > 31)
        return 0;
    struct tm tm = {.tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d, .tm_isdst = -1};
    struct tm check = tm;
    if (utc) /* normalises check: 2026-02-30 becomes March 2 */
        timegm(&check);
    else
        mktime(&check);
    if (check.tm_mday != d || check.tm_mon != m - 1)
        return 0;
    tm.tm_mday += add_days;
    *out = utc ? timegm(&tm) : mktime(&tm);
    return 1;
}

static void iso_utc(time_t t, char *buf, size_t len)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* A day in the unit's format: the period a report states. */
static void day_in_unit(const earshot_report *r, const char *day, char *out, size_t len)
{
    struct tm tm = {0};
    if (sscanf(day, "%d-%d-%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday) != 3) {
        snprintf(out, len, "%s", day);
        return;
    }
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    tm.tm_hour = 12;
    timegm(&tm); /* fills tm_wday and tm_yday for %G-W%V */
    strftime(out, len, unit_format(r->unit), &tm);
}

void earshot__report_period(const earshot_report *r, const char *day, char *out, size_t len)
{
    day_in_unit(r, day, out, len);
}

static char *dup_opt(const char *s)
{
    return s ? strdup(s) : NULL;
}

int earshot_report_build(earshot_store *s, const earshot_report_config *cfg,
                         earshot_report **out)
{
    if (!out)
        return EARSHOT_MISUSE;
    earshot_report *r = *out = report_new();
    if (!r)
        return EARSHOT_NOMEM;
    earshot_report_config d = earshot_report_config_default();
    if (!cfg)
        cfg = &d;
    if (!s)
        return fail(r, EARSHOT_MISUSE, "earshot_report_build: no store");
    if (cfg->privacy == EARSHOT_PRIVACY_DP) {
        /* Two protections that do not compose: suppression decides what to
         * show from exact counts, which the noise is meant to hide. */
        if (cfg->min_group != 0)
            return fail(r, EARSHOT_MISUSE, "privacy dp replaces cell suppression: min_group "
                        "must be 0 with it, not %d (suppression and dp cannot be combined)",
                        cfg->min_group);
        if (!(cfg->epsilon > 0 && cfg->epsilon <= 10))
            return fail(r, EARSHOT_MISUSE, "privacy dp needs an epsilon above 0 and at most "
                        "10 (got %g)", cfg->epsilon);
        if (!(cfg->budget > 0) && cfg->budget != 0)
            return fail(r, EARSHOT_MISUSE, "the privacy budget must be above 0 (got %g)",
                        cfg->budget);
        if (!cfg->since || !cfg->until)
            return fail(r, EARSHOT_MISUSE, "privacy dp needs since and until: the window "
                        "declares the periods released and the months whose budget is spent");
        r->dp = 1;
        r->epsilon = cfg->epsilon;
        r->budget = cfg->budget > 0 ? cfg->budget : EARSHOT_DP_DEFAULT_BUDGET;
        for (int ti = 0; ti < N_TABLES; ti++) {
            r->t[ti].dp_limit = earshot__report_dp_limit(ti);
            r->t[ti].dp_ses = -1;
        }
    } else if (cfg->privacy != EARSHOT_PRIVACY_SUPPRESS) {
        return fail(r, EARSHOT_MISUSE, "unknown privacy mode %d", (int)cfg->privacy);
    } else if (cfg->min_group < 1) {
        return fail(r, EARSHOT_MISUSE, "min_group must be at least 1 (got %d)", cfg->min_group);
    }
    r->min_group = cfg->min_group;
    r->unit = cfg->time_unit;
    r->utc = cfg->utc;
    r->max_rows = cfg->max_rows > 0 ? cfg->max_rows : d.max_rows;
    r->max_quotes = cfg->max_quotes >= 0 ? cfg->max_quotes : d.max_quotes;
    if ((cfg->since && !(r->since = strdup(cfg->since))) ||
        (cfg->until && !(r->until = strdup(cfg->until))) ||
        (cfg->channel && !(r->channel = strdup(cfg->channel))))
        return fail(r, EARSHOT_NOMEM, "out of memory");
    char from[32], to[32];
    earshot__scan scan = {.channel = cfg->channel, .on_session = on_session,
                          .on_utterance = on_utterance};
    time_t t;
    if (cfg->since) {
        if (!parse_day(cfg->since, cfg->utc, 0, &t))
            return fail(r, EARSHOT_MISUSE, "since: '%s' is not a date (YYYY-MM-DD)", cfg->since);
        iso_utc(t, from, sizeof from);
        scan.from = from;
    }
    if (cfg->until) {
        if (!parse_day(cfg->until, cfg->utc, 1, &t))
            return fail(r, EARSHOT_MISUSE, "until: '%s' is not a date (YYYY-MM-DD)", cfg->until);
        iso_utc(t, to, sizeof to);
        scan.to = to;
    }
    if (scan.from && scan.to && strcmp(scan.from, scan.to) >= 0)
        return fail(r, EARSHOT_MISUSE, "since (%s) is after until (%s)", cfg->since, cfg->until);
    /* A misspelt channel would give an empty report that looks like a
     * quiet kiosk: say which channels there are instead. */
    if (cfg->channel) {
        char names[300];
        int has = earshot__store_channels(s, cfg->channel, names, sizeof names);
        if (has == 0)
            return fail(r, EARSHOT_MISUSE, "no session on channel '%s' (channels: %s)",
                        cfg->channel, names[0] ? names : "none yet");
    }
    builder b = {.r = r, .store = s, .guard = earshot__report_guard_open(s)};
    long cur_from = -1, cur_to = -1;
    if (!r->dp) {
        /* Findings and changes compare sessions; with since and until the
         * previous period of equal length is scanned as well, and counts
         * only towards them. */
        if (!(r->fx = earshot__findings_new())) {
            earshot__report_guard_close(b.guard);
            return fail(r, EARSHOT_NOMEM, "out of memory");
        }
        if (cfg->since && cfg->until) {
            cur_from = earshot__day_number(cfg->since);
            cur_to = earshot__day_number(cfg->until);
            long len = cur_to - cur_from + 1;
            if (len > 0 && len < 100000 && parse_day(cfg->since, cfg->utc, (int)-len, &t)) {
                snprintf(b.cur_from, sizeof b.cur_from, "%s", from);
                iso_utc(t, from, sizeof from);
            }
        }
    }
    int missing = 0;
    const char *gdir = cfg->grammar_dir ? cfg->grammar_dir : earshot_default_grammar_dir();
    b.stop = earshot__stopwords_load(gdir, &missing);
    r->no_stopwords = missing;
    b.pool = earshot__quote_pool_new();
    if (!b.guard || (!b.stop && !missing) || !b.pool) {
        earshot__report_guard_close(b.guard);
        earshot__stopwords_free(b.stop);
        earshot__quote_pool_free(b.pool);
        return fail(r, EARSHOT_NOMEM, "out of memory");
    }
    scan.user = &b;
    int rc = earshot__store_scan(s, &scan);
    /* Phrases are checked once each, after counting: a phrase with a
     * number word in it, or one today's rules would redact, is dropped. */
    for (int ti = T_QUESTION_PHRASES; rc == EARSHOT_OK && ti <= T_UNMATCHED; ti++)
        if (!drop_phrases(&r->t[ti], b.guard))
            b.nomem = 1;
    if (rc == EARSHOT_OK && !b.nomem && !r->dp && !earshot__quote_pool_attach(b.pool, r, b.guard))
        b.nomem = 1;
    if (rc == EARSHOT_OK && !b.nomem && r->fx &&
        !earshot__findings_finish(r, cur_from, cur_to, b.guard))
        b.nomem = 1;
    earshot__stopwords_free(b.stop);
    earshot__quote_pool_free(b.pool);
    if (b.nomem || earshot__report_guard_nomem(b.guard)) {
        earshot__report_guard_close(b.guard);
        return fail(r, EARSHOT_NOMEM, "out of memory while counting");
    }
    earshot__report_guard_close(b.guard);
    if (rc != EARSHOT_OK)
        return fail(r, rc, "%s", earshot_store_errmsg(s));
    /* The overview row exists even for an empty database. */
    if (!earshot__report_row(&r->t[T_OVERVIEW], NULL, NULL) ||
        !earshot__report_row(&r->t[T_NPS], NULL, NULL))
        return fail(r, EARSHOT_NOMEM, "out of memory");
    if (r->dp && (rc = earshot__report_dp_release(r, s, cfg)) != EARSHOT_OK)
        return rc;
    if (b.min_day[0] && !r->dp) {
        day_in_unit(r, b.min_day, r->from, sizeof r->from);
        day_in_unit(r, b.max_day, r->to, sizeof r->to);
    }
    const char *id = earshot__store_id(s);
    if (id[0]) {
        if (!(r->sources = malloc(sizeof *r->sources)) || !(r->sources[0] = strdup(id)))
            return fail(r, EARSHOT_NOMEM, "out of memory");
        r->n_sources = 1;
    }
    return EARSHOT_OK;
}

/* ------------------------------------------------------------------ */
/* JSON: writing                                                        */
/* ------------------------------------------------------------------ */

static json_t *cell_json(const earshot_report *r, const report_cell *c)
{
    if (!earshot__report_cell_visible(r, c))
        return json_pack("{s:b}", "suppressed", 1);
    json_t *o = json_pack("{s:I,s:I}", "n", (json_int_t)c->n, "sessions", (json_int_t)c->sessions);
    if (o && (c->flags & CELL_PARTIAL))
        json_object_set_new(o, "at_least", json_true());
    return o;
}

/* Derived figures: percentages and NPS, computed from shown cells only
 * (earshot__report_pct), so they are recomputed after a merge. */
static const struct {
    int table;
    const char *name;
} derived[] = {
    {T_OVERVIEW, "consented_pct"}, {T_INTENTS, "share_pct"},     {T_TOPICS, "negative_pct"},
    {T_TOPICS, "complaint_pct"},   {T_NPS, "nps"},               {T_CHANNELS, "complaint_pct"},
    {T_CHANNELS, "negative_pct"},  {T_CHANNELS, "nps"},
};

int earshot__report_n_derived(int ti, const char **names)
{
    int n = 0;
    for (size_t i = 0; i < sizeof derived / sizeof *derived; i++)
        if (derived[i].table == ti && n < REPORT_MAX_DERIVED)
            names[n++] = derived[i].name;
    return n;
}

int earshot__report_derived(const earshot_report *r, int ti, const report_row *row,
                            const char *name)
{
    const report_row *ov = r->t[T_OVERVIEW].n ? &r->t[T_OVERVIEW].rows[0] : NULL;
    const report_cell *c = row->c;
    switch (ti) {
    case T_OVERVIEW:
        return earshot__report_pct(r, &c[OV_CONSENTED], &c[OV_SESSIONS]);
    case T_INTENTS:
        return ov ? earshot__report_pct(r, &c[0], &ov->c[OV_UTTERANCES]) : REPORT_NA;
    case T_TOPICS:
        return earshot__report_pct(r, &c[name[0] == 'n' ? TOP_NEG : TOP_COMPLAINTS], &c[TOP_UTT]);
    case T_NPS:
        return earshot__report_nps(r, row, NPS_RATINGS, NPS_PROMOTERS, NPS_DETRACTORS);
    case T_CHANNELS:
        if (!strcmp(name, "nps"))
            return earshot__report_nps(r, row, CH_RATINGS, CH_PROMOTERS, CH_DETRACTORS);
        return earshot__report_pct(r, &c[name[0] == 'n' ? CH_NEGATIVE : CH_COMPLAINTS], &c[CH_UTT]);
    }
    return REPORT_NA;
}

static json_t *row_json(const earshot_report *r, int ti, const report_row *row)
{
    const report_table_def *d = &earshot__report_defs[ti];
    json_t *o = json_object();
    if (!o)
        return NULL;
    for (int k = 0; k < d->n_keys; k++) {
        if (ti == T_RATINGS)
            json_object_set_new(o, d->keys[k], json_integer(atoi(row->key[k])));
        else
            json_object_set_new(o, d->keys[k], json_string(row->key[k] ? row->key[k] : ""));
    }
    for (int j = 0; j < d->n_cells; j++)
        json_object_set_new(o, d->cells[j], cell_json(r, &row->c[j]));
    /* Derived figures, for readers; merging recomputes them. */
    const char *names[REPORT_MAX_DERIVED];
    int nd = earshot__report_n_derived(ti, names);
    for (int k = 0; k < nd; k++) {
        int v = earshot__report_derived(r, ti, row, names[k]);
        if (v != REPORT_NA)
            json_object_set_new(o, names[k], json_integer(v));
    }
    if (ti == T_CHANNELS) {
        char flag[128];
        earshot__report_channel_flag(r, row, flag, sizeof flag);
        if (flag[0])
            json_object_set_new(o, "stands_out", json_string(flag));
    }
    if (ti == T_IDEAS || ti == T_QUESTION_PHRASES || ti == T_UNMATCHED) {
        json_t *qs = json_array();
        /* Quotes only where the group itself may be shown. */
        if (earshot__report_cell_visible(r, &row->c[0]))
            for (size_t q = 0; q < row->n_quotes; q++)
                json_array_append_new(qs, json_pack("{s:s,s:f}", "text", row->quotes[q].text,
                                                    "confidence",
                                                    row->quotes[q].confidence / 1000.0));
        json_object_set_new(o, "quotes", qs);
    }
    return o;
}

static void add_rule(const char *s, void *u)
{
    json_array_append_new((json_t *)u, json_string(s));
}

static json_t *report_json(earshot_report *r)
{
    json_t *root = json_object();
    if (!root)
        return NULL;
    json_object_set_new(root, "format", json_string("earshot-report"));
    json_object_set_new(root, "version", json_integer(1));
    json_object_set_new(root, "generator", json_string("earshot " EARSHOT_VERSION));
    json_object_set_new(root, "min_group", json_integer(r->min_group));
    if (r->dp)
        json_object_set_new(root, "privacy",
                            json_pack("{s:s,s:s,s:f,s:f,s:s,s:s,s:b}", "mode", "dp",
                                      "mechanism", "two-sided geometric", "epsilon", r->epsilon,
                                      "budget_per_month", r->budget, "unit", "session",
                                      "noise", r->dp_seeded ? "fixed test seed" : "getrandom",
                                      "private", !r->dp_seeded));
    json_object_set_new(root, "time_unit", json_string(earshot__report_unit_name(r->unit)));
    json_object_set_new(root, "timezone", json_string(r->utc ? "UTC" : "local"));
    json_object_set_new(root, "filter",
                        json_pack("{s:s?,s:s?,s:s?}", "since", r->since, "until", r->until,
                                  "channel", r->channel));
    json_object_set_new(root, "period",
                        json_pack("{s:s?,s:s?}", "from", r->from[0] ? r->from : NULL, "to",
                                  r->to[0] ? r->to : NULL));
    json_t *src = json_array();
    for (size_t i = 0; i < r->n_sources; i++)
        json_array_append_new(src, json_string(r->sources[i]));
    json_object_set_new(root, "sources", src);
    json_t *sections = json_object();
    if (json_object_set_new(root, "sections", sections) != 0) {
        json_decref(root);
        return NULL;
    }
    for (int ti = 0; ti < N_TABLES; ti++) {
        const report_table_def *d = &earshot__report_defs[ti];
        if (d->n_keys == 0) {
            json_t *row = r->t[ti].n ? row_json(r, ti, &r->t[ti].rows[0]) : json_object();
            json_object_set_new(sections, d->id, row);
            continue;
        }
        size_t n;
        const report_row **rows = earshot__report_rows(r, ti, &n);
        if (!rows) {
            json_decref(root); /* and sections with it */
            return NULL;
        }
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(arr, row_json(r, ti, rows[i]));
        free(rows);
        json_object_set_new(sections, d->id, arr);
    }
    /* What to act on: recomputed never, so a merged or loaded report has
     * none (and says why). */
    const earshot_finding *fv;
    size_t nf = earshot__report_findings(r, &fv);
    json_t *fa = json_array();
    for (size_t i = 0; i < nf; i++) {
        const earshot_finding *f = &fv[i];
        json_t *o = json_pack("{s:s,s:s,s:b,s:s}", "kind", f->kind_name, "subject", f->subject,
                              "shown", f->shown, "sentence", f->sentence);
        if (o && f->shown)
            json_object_update_new(o, json_pack("{s:I,s:I,s:I,s:I,s:f,s:f,s:f,s:f,s:f,s:f,"
                                                "s:f,s:I,s:s}",
                                                "x_before", (json_int_t)f->x_before,
                                                "n_before", (json_int_t)f->n_before,
                                                "x_after", (json_int_t)f->x_after,
                                                "n_after", (json_int_t)f->n_after,
                                                "before_pct", f->before_pct,
                                                "after_pct", f->after_pct,
                                                "delta_pts", f->delta_pts, "ci_low", f->ci_low,
                                                "ci_high", f->ci_high, "p", f->p,
                                                "alpha", f->alpha, "impact",
                                                (json_int_t)f->impact, "test",
                                                "two-proportion z-test, two-sided"));
        else if (o)
            json_object_set_new(o, "more_sessions", json_integer(f->more_sessions));
        json_array_append_new(fa, o);
    }
    json_object_set_new(root, "findings", fa);
    const char *absent = earshot__report_findings_absent(r);
    if (absent[0])
        json_object_set_new(root, "findings_note", json_string(absent));
    json_t *rules = json_array();
    earshot__report_rules(r, add_rule, rules);
    json_object_set_new(root, "rules", rules);
    return root;
}

static int write_json(earshot_report *r, const char *path)
{
    json_t *root = report_json(r);
    if (!root)
        return fail(r, EARSHOT_NOMEM, "out of memory");
    FILE *f = earshot__report_open(r, path);
    if (!f) {
        json_decref(root);
        return EARSHOT_IO;
    }
    int bad = json_dumpf(root, f, JSON_INDENT(1) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
    fputc('\n', f);
    json_decref(root);
    int rc = earshot__report_close(r, f, path);
    return bad ? fail(r, EARSHOT_IO, "%s: cannot write", path) : rc;
}

int earshot_report_write(earshot_report *r, earshot_report_format format, const char *path)
{
    if (!r || !path)
        return EARSHOT_MISUSE;
    earshot__report_protect(r);
    switch (format) {
    case EARSHOT_REPORT_JSON:
        return write_json(r, path);
    case EARSHOT_REPORT_HTML:
        return earshot__report_write_html(r, path);
    case EARSHOT_REPORT_CSV:
        return earshot__report_write_csv(r, path);
    case EARSHOT_REPORT_MD:
        return earshot__report_write_md(r, path);
    }
    return fail(r, EARSHOT_MISUSE, "unknown report format %d", (int)format);
}

/* ------------------------------------------------------------------ */
/* JSON: reading and merging                                            */
/* ------------------------------------------------------------------ */

static int load_cell(earshot_report *r, const char *path, const char *tid, json_t *v,
                     report_cell *c)
{
    if (!json_is_object(v))
        return fail(r, EARSHOT_FORMAT, "%s: sections.%s: a figure must be an object", path, tid);
    if (json_is_true(json_object_get(v, "suppressed"))) {
        c->flags |= CELL_UNKNOWN;
        return EARSHOT_OK;
    }
    json_t *n = json_object_get(v, "n"), *s = json_object_get(v, "sessions");
    if (!json_is_integer(n) || !json_is_integer(s) || json_integer_value(n) < 0 ||
        json_integer_value(s) < 0)
        return fail(r, EARSHOT_FORMAT, "%s: sections.%s: a figure needs whole numbers n and "
                                       "sessions", path, tid);
    c->n = json_integer_value(n);
    c->sessions = json_integer_value(s);
    if (json_is_true(json_object_get(v, "at_least")))
        c->flags |= CELL_PARTIAL;
    return EARSHOT_OK;
}

static int load_row(earshot_report *r, const char *path, int ti, json_t *o)
{
    const report_table_def *d = &earshot__report_defs[ti];
    if (!json_is_object(o))
        return fail(r, EARSHOT_FORMAT, "%s: sections.%s: rows must be objects", path, d->id);
    char keys[REPORT_MAX_KEYS][256] = {{0}};
    for (int k = 0; k < d->n_keys; k++) {
        json_t *v = json_object_get(o, d->keys[k]);
        if (json_is_string(v))
            snprintf(keys[k], sizeof keys[k], "%s", json_string_value(v));
        else if (json_is_integer(v))
            snprintf(keys[k], sizeof keys[k], "%lld", (long long)json_integer_value(v));
        else
            return fail(r, EARSHOT_FORMAT, "%s: sections.%s: a row lacks its \"%s\"", path,
                        d->id, d->keys[k]);
    }
    report_row *row = earshot__report_row(&r->t[ti], keys[0], keys[1]);
    if (!row)
        return fail(r, EARSHOT_NOMEM, "out of memory");
    for (int j = 0; j < d->n_cells; j++) {
        json_t *v = json_object_get(o, d->cells[j]);
        if (!v)
            return fail(r, EARSHOT_FORMAT, "%s: sections.%s: a row lacks \"%s\"", path, d->id,
                        d->cells[j]);
        int rc = load_cell(r, path, d->id, v, &row->c[j]);
        if (rc != EARSHOT_OK)
            return rc;
    }
    json_t *qs = json_object_get(o, "quotes"), *q;
    size_t i;
    json_array_foreach(qs, i, q) {
        json_t *t = json_object_get(q, "text"), *c = json_object_get(q, "confidence");
        char *text;
        if (!json_is_string(t) || !json_is_number(c))
            return fail(r, EARSHOT_FORMAT, "%s: sections.ideas: a quote needs text and "
                                           "confidence", path);
        if (!(text = strdup(json_string_value(t))) ||
            !add_quote(row, text, (int)(json_number_value(c) * 1000 + 0.5), 1 << 20))
            return fail(r, EARSHOT_NOMEM, "out of memory");
    }
    return EARSHOT_OK;
}

static int load_json(earshot_report *r, const char *path, json_t *root)
{
    if (!json_is_object(root) ||
        !json_is_string(json_object_get(root, "format")) ||
        strcmp(json_string_value(json_object_get(root, "format")), "earshot-report"))
        return fail(r, EARSHOT_FORMAT, "%s: not an Earshot JSON report (no \"format\": "
                                       "\"earshot-report\")", path);
    if (json_integer_value(json_object_get(root, "version")) != 1)
        return fail(r, EARSHOT_FORMAT, "%s: report version %lld; this earshot reads version 1",
                    path, (long long)json_integer_value(json_object_get(root, "version")));
    if (json_object_get(root, "privacy"))
        return fail(r, EARSHOT_FORMAT, "%s: a differentially private report (privacy dp) "
                    "cannot be loaded for merging: cell suppression would be applied to its "
                    "noisy figures", path);
    json_t *k = json_object_get(root, "min_group");
    if (!json_is_integer(k) || json_integer_value(k) < 1)
        return fail(r, EARSHOT_FORMAT, "%s: min_group must be a whole number >= 1", path);
    r->min_group = (int)json_integer_value(k);
    const char *unit = json_string_value(json_object_get(root, "time_unit"));
    if (!unit || (strcmp(unit, "day") && strcmp(unit, "week") && strcmp(unit, "month")))
        return fail(r, EARSHOT_FORMAT, "%s: time_unit must be day, week or month", path);
    r->unit = unit[0] == 'd' ? EARSHOT_TIME_DAY : unit[0] == 'w' ? EARSHOT_TIME_WEEK
                                                                 : EARSHOT_TIME_MONTH;
    const char *tz = json_string_value(json_object_get(root, "timezone"));
    r->utc = tz && !strcmp(tz, "UTC");
    json_t *filter = json_object_get(root, "filter"), *period = json_object_get(root, "period");
    r->since = dup_opt(json_string_value(json_object_get(filter, "since")));
    r->until = dup_opt(json_string_value(json_object_get(filter, "until")));
    r->channel = dup_opt(json_string_value(json_object_get(filter, "channel")));
    const char *from = json_string_value(json_object_get(period, "from"));
    const char *to = json_string_value(json_object_get(period, "to"));
    snprintf(r->from, sizeof r->from, "%s", from ? from : "");
    snprintf(r->to, sizeof r->to, "%s", to ? to : "");
    json_t *src = json_object_get(root, "sources"), *v;
    size_t i;
    json_array_foreach(src, i, v) {
        char **s = realloc(r->sources, (r->n_sources + 1) * sizeof *s);
        if (!s)
            return fail(r, EARSHOT_NOMEM, "out of memory");
        r->sources = s;
        if (!json_is_string(v) || !(s[r->n_sources] = strdup(json_string_value(v))))
            return fail(r, EARSHOT_FORMAT, "%s: sources must be strings", path);
        r->n_sources++;
    }
    json_t *sections = json_object_get(root, "sections");
    if (!json_is_object(sections))
        return fail(r, EARSHOT_FORMAT, "%s: no \"sections\" object", path);
    for (int ti = 0; ti < N_TABLES; ti++) {
        const report_table_def *d = &earshot__report_defs[ti];
        json_t *sec = json_object_get(sections, d->id);
        if (!sec)
            return fail(r, EARSHOT_FORMAT, "%s: sections.%s is missing", path, d->id);
        int rc;
        if (d->n_keys == 0) {
            rc = json_object_size(sec) ? load_row(r, path, ti, sec) : EARSHOT_OK;
        } else {
            if (!json_is_array(sec))
                return fail(r, EARSHOT_FORMAT, "%s: sections.%s must be an array", path, d->id);
            json_t *row;
            rc = EARSHOT_OK;
            json_array_foreach(sec, i, row) {
                if ((rc = load_row(r, path, ti, row)) != EARSHOT_OK)
                    break;
            }
        }
        if (rc != EARSHOT_OK)
            return rc;
    }
    return EARSHOT_OK;
}

int earshot_report_load(const char *path, earshot_report **out)
{
    if (!out || !path)
        return EARSHOT_MISUSE;
    earshot_report *r = *out = report_new();
    if (!r)
        return EARSHOT_NOMEM;
    json_error_t err;
    json_t *root = json_load_file(path, 0, &err);
    if (!root) {
        FILE *f = fopen(path, "r");
        if (!f)
            return fail(r, EARSHOT_IO, "%s: %s", path, strerror(errno));
        fclose(f);
        return fail(r, EARSHOT_FORMAT, "%s:%d:%d: %s", path, err.line, err.column, err.text);
    }
    int rc = load_json(r, path, root);
    json_decref(root);
    return rc;
}

static void add_cell(report_cell *to, const report_cell *from)
{
    /* Hidden in an input's file means unknown here, like suppressed. */
    if (from->flags & CELL_UNKNOWN) {
        /* Unknown plus known is a lower bound; unknown plus nothing yet
         * stays unknown. */
        if (to->n || to->sessions || (to->flags & CELL_PARTIAL))
            to->flags |= CELL_PARTIAL;
        else
            to->flags |= CELL_UNKNOWN;
        return;
    }
    if (to->flags & CELL_UNKNOWN) {
        to->flags = (to->flags & ~CELL_UNKNOWN) | CELL_PARTIAL;
    }
    to->n += from->n;
    to->sessions += from->sessions;
    to->flags |= from->flags & CELL_PARTIAL;
}

int earshot_report_merge(const earshot_report *const *in, size_t n, int min_group,
                         earshot_report **out)
{
    if (!out)
        return EARSHOT_MISUSE;
    earshot_report *r = *out = report_new();
    if (!r)
        return EARSHOT_NOMEM;
    if (!in || n == 0)
        return fail(r, EARSHOT_MISUSE, "nothing to merge");
    if (min_group < 1)
        return fail(r, EARSHOT_MISUSE, "min_group must be at least 1 (got %d)", min_group);
    r->min_group = min_group;
    r->unit = in[0]->unit;
    r->utc = in[0]->utc;
    for (size_t i = 0; i < n; i++) {
        const earshot_report *a = in[i];
        if (a->unit != r->unit)
            return fail(r, EARSHOT_MISUSE, "report %zu counts per %s, report 1 per %s: build "
                        "them with the same time unit", i + 1, earshot__report_unit_name(a->unit),
                        earshot__report_unit_name(r->unit));
        if (a->utc != r->utc)
            return fail(r, EARSHOT_MISUSE, "report %zu uses %s days, report 1 %s days", i + 1,
                        a->utc ? "UTC" : "local", r->utc ? "UTC" : "local");
        for (size_t s = 0; s < a->n_sources; s++) {
            for (size_t k = 0; k < r->n_sources; k++)
                if (!strcmp(r->sources[k], a->sources[s]))
                    return fail(r, EARSHOT_MISUSE, "report %zu counts database %s again: "
                                "merging it twice would double its figures", i + 1,
                                a->sources[s]);
            char **v = realloc(r->sources, (r->n_sources + 1) * sizeof *v);
            if (!v || !(v[r->n_sources] = strdup(a->sources[s])))
                return fail(r, EARSHOT_NOMEM, "out of memory");
            r->sources = v;
            r->n_sources++;
        }
        if (a->from[0] && (!r->from[0] || strcmp(a->from, r->from) < 0))
            snprintf(r->from, sizeof r->from, "%s", a->from);
        if (a->to[0] && (!r->to[0] || strcmp(a->to, r->to) > 0))
            snprintf(r->to, sizeof r->to, "%s", a->to);
        /* The filter carries over only when every input had the same. */
        const char *const mine[3] = {a->since, a->until, a->channel};
        char **ours[3] = {&r->since, &r->until, &r->channel};
        for (int f = 0; f < 3; f++) {
            if (i == 0)
                *ours[f] = dup_opt(mine[f]);
            else if (*ours[f] && (!mine[f] || strcmp(*ours[f], mine[f]))) {
                free(*ours[f]);
                *ours[f] = NULL;
            }
        }
        for (int ti = 0; ti < N_TABLES; ti++) {
            const report_table *t = &a->t[ti];
            for (size_t k = 0; k < t->n; k++) {
                const report_row *from = &t->rows[k];
                report_row *to = earshot__report_row(&r->t[ti], from->key[0], from->key[1]);
                if (!to)
                    return fail(r, EARSHOT_NOMEM, "out of memory");
                for (int j = 0; j < t->def->n_cells; j++)
                    add_cell(&to->c[j], &from->c[j]);
                for (size_t q = 0; q < from->n_quotes; q++) {
                    char *text = strdup(from->quotes[q].text);
                    if (!text || !add_quote(to, text, from->quotes[q].confidence, r->max_quotes))
                        return fail(r, EARSHOT_NOMEM, "out of memory");
                }
            }
        }
    }
    return EARSHOT_OK;
}
