/* report_findings.c - what a manager should act on first (issue 18):
 * findings tested on sessions, the change against the previous period,
 * and alert thresholds.
 *
 * While a report counts, every session leaves a small record here (its
 * first day, channel, last rating, and bit sets of the topics it
 * mentioned, complained about, its effort signals and its intents). The
 * records never leave this file: only shares of sessions that pass the
 * report's min_group and a significance test become findings.
 *
 * Method (also printed under each report, see method()):
 * - Periods: with since and until, "this period" is the window and "the
 *   previous period" the same number of days just before it; otherwise
 *   the days the data covers are split in two halves (the later half
 *   against the earlier one).
 * - Every finding compares two shares of sessions with a two-sided
 *   two-proportion z-test (pooled standard error) and is shown when p is
 *   below 0.05 divided by the number of candidates its family tested
 *   (Bonferroni), when the difference points the way the finding says,
 *   and when every count behind it is 0 or at least min_group. The 95%
 *   interval of the difference is Wald's (unpooled).
 * - Ranking: by impact, the number of sessions the difference accounts
 *   for (difference times the group's sessions).
 * - Not enough evidence: the sessions more needed for an 80% chance of a
 *   significant result (Fleiss' sample size for two proportions at the
 *   family's threshold), for the observed shares when they pass
 *   min_group and differ by 5 points or more, otherwise for a 10-point
 *   difference on a 10% base (planning values, so that hidden figures do
 *   not show through the estimate). */
#include "report.h"
#include "store.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_NAMES = 64, MAX_FINDINGS = 5, N_FAMILIES = 5, MAX_LIST = MAX_FINDINGS + N_FAMILIES };

typedef struct names {
    char *v[MAX_NAMES];
    int n;
} names;

typedef struct ses_rec {
    long day;
    uint64_t topics, complaints, signals, intents;
    int channel; /* index into channels, -1 none */
    int score;   /* the last rating given, -1 none */
} ses_rec;

/* A word of unmatched speech: the sessions that said it and its first day. */
enum { W_SESSIONS = 0, W_FIRST_DAY = 1 };
static const report_table_def word_def = {"words", "words", 1, {"word"}, 2, {"sessions", "day"}, 1};

typedef struct change {
    int ti;
    char name[64];
    long long x0, x1; /* sessions mentioning it, previous and this period */
} change;

struct earshot__findings {
    ses_rec *rec;
    size_t n, cap;
    int64_t cur_ses;
    int have_cur;
    names topics, signals, intents, channels;
    report_table words;
    /* results */
    int compared;         /* there is a previous period */
    long cs, ce, ps, pe;  /* this period and the previous, day numbers */
    long long n0, n1;     /* sessions in the previous period and this one */
    change *ch;
    size_t n_ch;
    earshot_finding list[MAX_LIST];
    char subject[MAX_LIST][64];
    char sentence[MAX_LIST][640];
    size_t n_list;
};

earshot__findings *earshot__findings_new(void)
{
    earshot__findings *fx = calloc(1, sizeof *fx);
    if (fx)
        fx->words.def = &word_def;
    return fx;
}

static void names_free(names *n)
{
    for (int i = 0; i < n->n; i++)
        free(n->v[i]);
}

void earshot__findings_free(earshot__findings *fx)
{
    if (!fx)
        return;
    free(fx->rec);
    names_free(&fx->topics);
    names_free(&fx->signals);
    names_free(&fx->intents);
    names_free(&fx->channels);
    for (size_t k = 0; k < fx->words.n; k++)
        free(fx->words.rows[k].key[0]);
    free(fx->words.rows);
    free(fx->words.slots);
    free(fx->ch);
    free(fx);
}

long earshot__day_number(const char *day)
{
    int y, m, d;
    if (!day || sscanf(day, "%4d-%2d-%2d", &y, &m, &d) != 3 || m < 1 || m > 12 || d < 1 ||
        d > 31)
        return -1;
    /* days from civil (Howard Hinnant's algorithm) */
    y -= m <= 2;
    long era = (y >= 0 ? y : y - 399) / 400;
    long yoe = y - era * 400;
    long doy = (153L * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* The name's index (added when new), -1 past MAX_NAMES or out of memory. */
static int intern(names *n, const char *s, size_t len)
{
    for (int i = 0; i < n->n; i++)
        if (strlen(n->v[i]) == len && !memcmp(n->v[i], s, len))
            return i;
    if (n->n == MAX_NAMES || !(n->v[n->n] = strndup(s, len)))
        return -1;
    return n->n++;
}

/* The bits of a comma-joined list of names. */
static uint64_t mask_of(names *n, const char *list)
{
    uint64_t m = 0;
    for (const char *p = list; *p;) {
        const char *e = strchr(p, ',');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        int i = l ? intern(n, p, l) : -1;
        if (i >= 0)
            m |= 1ull << i;
        p += l + (e ? 1 : 0);
    }
    return m;
}

static int push_current(earshot__findings *fx, const ses_rec *r)
{
    if (fx->n == fx->cap) {
        size_t nc = fx->cap ? fx->cap * 2 : 1024;
        ses_rec *v = realloc(fx->rec, nc * sizeof *v);
        if (!v)
            return 0;
        fx->rec = v;
        fx->cap = nc;
    }
    fx->rec[fx->n++] = *r;
    return 1;
}

static void see_words(earshot__findings *fx, const char *text, int64_t ses, long day,
                      const earshot__stopwords *stop)
{
    for (const char *p = text; *p;) {
        while (*p == ' ')
            p++;
        const char *e = p;
        while (*e && *e != ' ')
            e++;
        size_t l = (size_t)(e - p);
        if (l > 2 && l < 40 && p[0] != '[' && !earshot__stopwords_has(stop, p, l)) {
            char w[48];
            memcpy(w, p, l);
            w[l] = '\0';
            report_row *row = earshot__report_row(&fx->words, w, NULL);
            if (row) {
                earshot__report_count(row, W_SESSIONS, ses);
                if (!row->c[W_FIRST_DAY].n || day + 1 < row->c[W_FIRST_DAY].n)
                    row->c[W_FIRST_DAY].n = day + 1;
            }
        }
        p = e;
    }
}

int earshot__findings_utterance(earshot__findings *fx, const earshot__scan_utterance *u,
                                long day, const earshot__stopwords *stop)
{
    ses_rec *cur;
    static ses_rec fresh = {.channel = -1, .score = -1};
    if (!fx->have_cur || fx->cur_ses != u->session) {
        ses_rec r = fresh;
        r.day = day;
        r.channel = intern(&fx->channels, u->channel, strlen(u->channel));
        if (!push_current(fx, &r))
            return 0;
        fx->have_cur = 1;
        fx->cur_ses = u->session;
    }
    cur = &fx->rec[fx->n - 1];
    const char *intent = u->intent[0] ? u->intent : "other";
    cur->intents |= mask_of(&fx->intents, intent);
    uint64_t t = mask_of(&fx->topics, u->topics);
    cur->topics |= t;
    if (!strcmp(intent, "complaint"))
        cur->complaints |= t;
    cur->signals |= mask_of(&fx->signals, u->signals);
    if (u->score >= 0)
        cur->score = u->score;
    if (!strcmp(intent, "other") && stop && u->text[0])
        see_words(fx, u->text, u->session, day, stop);
    return 1;
}

/* ------------------------------------------------------------------ */
/* statistics                                                           */
/* ------------------------------------------------------------------ */

typedef struct test2 {
    double p0, p1, d, lo, hi, p;
} test2;

static test2 two_prop(long long x0, long long n0, long long x1, long long n1)
{
    test2 t = {0, 0, 0, 0, 0, 1};
    if (n0 <= 0 || n1 <= 0)
        return t;
    t.p0 = (double)x0 / (double)n0;
    t.p1 = (double)x1 / (double)n1;
    t.d = t.p1 - t.p0;
    double pp = (double)(x0 + x1) / (double)(n0 + n1);
    double se = sqrt(pp * (1 - pp) * (1.0 / (double)n0 + 1.0 / (double)n1));
    t.p = se > 0 ? erfc(fabs(t.d) / se / sqrt(2.0)) : 1;
    double su = sqrt(t.p0 * (1 - t.p0) / (double)n0 + t.p1 * (1 - t.p1) / (double)n1);
    t.lo = t.d - 1.959964 * su;
    t.hi = t.d + 1.959964 * su;
    return t;
}

/* The standard normal quantile, by bisection on erfc (only a few calls). */
static double z_upper(double a)
{
    double lo = 0, hi = 10;
    for (int i = 0; i < 80; i++) {
        double m = (lo + hi) / 2;
        if (0.5 * erfc(m / sqrt(2.0)) > a)
            lo = m;
        else
            hi = m;
    }
    return (lo + hi) / 2;
}

/* Fleiss: sessions per group for 80% power at two-sided alpha. */
static double n_per_group(double p0, double p1, double alpha)
{
    double za = z_upper(alpha / 2), zb = 0.841621;
    double pb = (p0 + p1) / 2, d = p1 - p0;
    if (d <= 0)
        return 1e9;
    double a = za * sqrt(2 * pb * (1 - pb)) + zb * sqrt(p0 * (1 - p0) + p1 * (1 - p1));
    return a * a / (d * d);
}

/* 0, or at least k: a count that may be shown. */
static int showable(const earshot_report *r, long long x)
{
    return x == 0 || x >= r->min_group;
}

/* Sessions more needed: each group (drawn from a pool of N sessions at
 * share s_g) must reach the per-group size, and the group with the effect
 * must hold min_group sessions with it. */
static long long more_needed(const earshot_report *r, const earshot_finding *f, double alpha,
                             long long pool)
{
    int real = showable(r, f->x_before) && showable(r, f->x_after) &&
               f->n_before >= r->min_group && f->n_after >= r->min_group &&
               f->delta_pts >= 5;
    double p0 = real ? f->before_pct / 100 : 0.10, p1 = real ? f->after_pct / 100 : 0.20;
    double need = n_per_group(p0, p1, alpha);
    double need_k = (double)r->min_group / p1;
    if (need_k > need)
        need = need_k;
    if (pool <= 0)
        return (long long)ceil(2 * need);
    double s0 = (double)f->n_before / (double)pool, s1 = (double)f->n_after / (double)pool;
    /* An empty group: assume an even split. */
    if (s0 <= 0)
        s0 = 0.5;
    if (s1 <= 0)
        s1 = 0.5;
    double total = need / (s0 < s1 ? s0 : s1);
    long long more = (long long)ceil(total) - pool;
    return more > 0 ? more : 0;
}

/* ------------------------------------------------------------------ */
/* findings                                                             */
/* ------------------------------------------------------------------ */

static void human(char *out, size_t len, const char *name)
{
    snprintf(out, len, "%s", name);
    for (char *p = out; *p; p++)
        if (*p == '_')
            *p = ' ';
}

static void fmt_p(char *b, size_t len, double p)
{
    if (p < 0.0001)
        snprintf(b, len, "p < 0.0001");
    else
        snprintf(b, len, "p = %.4f", p);
}

typedef struct cand {
    earshot_finding f;
    char subject[64];
    char extra[96]; /* theme: an example phrase */
} cand;

typedef struct family {
    earshot_finding_kind kind;
    const char *name;
    cand *c;
    size_t n, cap;
    long long pool; /* the sessions the groups are drawn from */
    const char *why_none; /* no candidate at all */
} family;

static cand *add_cand(family *fam, const char *subject, long long x0, long long n0,
                      long long x1, long long n1)
{
    if (fam->n == fam->cap) {
        size_t nc = fam->cap ? fam->cap * 2 : 16;
        cand *v = realloc(fam->c, nc * sizeof *v);
        if (!v)
            return NULL;
        fam->c = v;
        fam->cap = nc;
    }
    cand *c = &fam->c[fam->n++];
    memset(c, 0, sizeof *c);
    snprintf(c->subject, sizeof c->subject, "%s", subject);
    test2 t = two_prop(x0, n0, x1, n1);
    c->f.kind = fam->kind;
    c->f.kind_name = fam->name;
    c->f.x_before = x0;
    c->f.n_before = n0;
    c->f.x_after = x1;
    c->f.n_after = n1;
    c->f.before_pct = 100 * t.p0;
    c->f.after_pct = 100 * t.p1;
    c->f.delta_pts = 100 * t.d;
    c->f.ci_low = 100 * t.lo;
    c->f.ci_high = 100 * t.hi;
    c->f.p = t.p;
    c->f.impact = (long long)floor(t.d * (double)n1 + 0.5);
    return c;
}

static int passes(const earshot_report *r, const earshot_finding *f)
{
    return f->delta_pts > 0 && f->p < f->alpha && showable(r, f->x_before) &&
           showable(r, f->x_after) && f->x_after >= r->min_group &&
           f->n_before >= r->min_group && f->n_after >= r->min_group;
}

static void sentence(const earshot__findings *fx, const cand *c, char *out, size_t len)
{
    const earshot_finding *f = &c->f;
    char nm[80], p[32], ci[64];
    human(nm, sizeof nm, c->subject);
    fmt_p(p, sizeof p, f->p);
    snprintf(ci, sizeof ci, "95%% CI %+.0f to %+.0f", f->ci_low, f->ci_high);
    long days = fx->ce - fx->cs + 1;
    switch (f->kind) {
    case EARSHOT_FINDING_COMPLAINTS:
    case EARSHOT_FINDING_EFFORT:
        snprintf(out, len, "%s %s rose from %.0f%% to %.0f%% of sessions (%+.0f points, %s) "
                 "in the last %ld days against the %ld days before: %lld of %lld sessions "
                 "against %lld of %lld, two-proportion z-test %s.",
                 f->kind == EARSHOT_FINDING_COMPLAINTS ? "Complaints about" : "Effort signal",
                 nm, f->before_pct, f->after_pct, f->delta_pts, ci, days, days, f->x_after,
                 f->n_after, f->x_before, f->n_before, p);
        break;
    case EARSHOT_FINDING_DRIVER:
        snprintf(out, len, "%s drives detractors most: mentioned in %.0f%% of detractor sessions "
                 "(%lld of %lld) against %.0f%% of promoter sessions (%lld of %lld), %+.0f "
                 "points, %s, two-proportion z-test %s.", nm, f->after_pct, f->x_after,
                 f->n_after, f->before_pct, f->x_before, f->n_before, f->delta_pts, ci, p);
        if (out[0] >= 'a' && out[0] <= 'z')
            out[0] = (char)(out[0] - 'a' + 'A');
        break;
    case EARSHOT_FINDING_CHANNEL:
        snprintf(out, len, "Channel %s stands out: %.0f%% of its sessions had a complaint "
                 "(%lld of %lld) against %.0f%% on the other channels (%lld of %lld), %+.0f "
                 "points, %s, two-proportion z-test %s.", nm, f->after_pct, f->x_after,
                 f->n_after, f->before_pct, f->x_before, f->n_before, f->delta_pts, ci, p);
        break;
    case EARSHOT_FINDING_THEME:
        snprintf(out, len, "New in unmatched speech: \"%s\"%s%s%s, heard in %lld of %lld "
                 "sessions in the last %ld days and never before, two-proportion z-test %s "
                 "against the %lld sessions of the %ld days before.", c->subject,
                 c->extra[0] ? " (as in \"" : "", c->extra, c->extra[0] ? "\")" : "",
                 f->x_after, f->n_after, days, p, f->n_before, days);
        break;
    }
}

static const char *family_title(earshot_finding_kind k)
{
    switch (k) {
    case EARSHOT_FINDING_COMPLAINTS: return "A rise in complaints about a topic";
    case EARSHOT_FINDING_DRIVER: return "The topic that drives detractors";
    case EARSHOT_FINDING_CHANNEL: return "A channel that stands out";
    case EARSHOT_FINDING_THEME: return "A new theme in unmatched speech";
    case EARSHOT_FINDING_EFFORT: return "An effort signal on the rise";
    }
    return "";
}

static int by_impact(const void *a, const void *b)
{
    const cand *x = a, *y = b;
    if (x->f.impact != y->f.impact)
        return x->f.impact > y->f.impact ? -1 : 1;
    if (x->f.p != y->f.p)
        return x->f.p < y->f.p ? -1 : 1;
    return strcmp(x->subject, y->subject);
}

static int in_range(long d, long a, long b)
{
    return d >= a && d <= b;
}

int earshot__findings_finish(earshot_report *r, long cur_from, long cur_to,
                             earshot__report_guard *g)
{
    earshot__findings *fx = r->fx;
    /* Periods. */
    long wfrom, wto; /* the report's window, for drivers and channels */
    if (cur_from >= 0 && cur_to >= cur_from) {
        fx->cs = cur_from;
        fx->ce = cur_to;
        long L = cur_to - cur_from + 1;
        fx->ps = cur_from - L;
        fx->pe = cur_from - 1;
        fx->compared = 1;
        wfrom = cur_from;
        wto = cur_to;
    } else {
        long lo = -1, hi = -1;
        for (size_t i = 0; i < fx->n; i++) {
            if (fx->rec[i].day < 0)
                continue;
            if (lo < 0 || fx->rec[i].day < lo)
                lo = fx->rec[i].day;
            if (hi < 0 || fx->rec[i].day > hi)
                hi = fx->rec[i].day;
        }
        long L = lo >= 0 ? (hi - lo + 1) / 2 : 0;
        fx->compared = L >= 1;
        fx->ce = hi;
        fx->cs = hi - L + 1;
        fx->pe = fx->cs - 1;
        fx->ps = fx->cs - L;
        wfrom = lo;
        wto = hi;
    }
    long long n0 = 0, n1 = 0, nw = 0;
    for (size_t i = 0; i < fx->n; i++) {
        long d = fx->rec[i].day;
        n0 += fx->compared && in_range(d, fx->ps, fx->pe);
        n1 += fx->compared && in_range(d, fx->cs, fx->ce);
        nw += in_range(d, wfrom, wto);
    }
    fx->n0 = n0;
    fx->n1 = n1;

    /* Changes of intents and topics. */
    int nt = fx->topics.n, ni = fx->intents.n;
    fx->ch = calloc((size_t)(nt + ni) + 1, sizeof *fx->ch);
    if (!fx->ch)
        return 0;
    for (int k = 0; k < ni + nt; k++) {
        change *c = &fx->ch[fx->n_ch++];
        c->ti = k < ni ? T_INTENTS : T_TOPICS;
        snprintf(c->name, sizeof c->name, "%s", k < ni ? fx->intents.v[k] : fx->topics.v[k - ni]);
        uint64_t bit = 1ull << (k < ni ? k : k - ni);
        for (size_t i = 0; fx->compared && i < fx->n; i++) {
            const ses_rec *s = &fx->rec[i];
            uint64_t m = k < ni ? s->intents : s->topics;
            if (!(m & bit))
                continue;
            c->x0 += in_range(s->day, fx->ps, fx->pe);
            c->x1 += in_range(s->day, fx->cs, fx->ce);
        }
    }

    /* Candidates, family by family. */
    family fam[N_FAMILIES] = {
        {EARSHOT_FINDING_COMPLAINTS, "complaints", NULL, 0, 0, n0 + n1, NULL},
        {EARSHOT_FINDING_DRIVER, "driver", NULL, 0, 0, nw, NULL},
        {EARSHOT_FINDING_CHANNEL, "channel", NULL, 0, 0, nw, NULL},
        {EARSHOT_FINDING_THEME, "theme", NULL, 0, 0, n0 + n1, NULL},
        {EARSHOT_FINDING_EFFORT, "effort", NULL, 0, 0, n0 + n1, NULL},
    };
    int ok = 1;
    if (!fx->compared) {
        fam[0].why_none = fam[3].why_none = fam[4].why_none =
            "the data covers a single day, so there is no previous period to compare with";
    } else if (n0 == 0) {
        fam[0].why_none = fam[3].why_none = fam[4].why_none =
            "no session fell in the previous period of equal length";
    } else {
        for (int k = 0; ok && k < nt; k++) {
            long long x0 = 0, x1 = 0;
            for (size_t i = 0; i < fx->n; i++)
                if (fx->rec[i].complaints & (1ull << k)) {
                    x0 += in_range(fx->rec[i].day, fx->ps, fx->pe);
                    x1 += in_range(fx->rec[i].day, fx->cs, fx->ce);
                }
            if (strcmp(fx->topics.v[k], "(none)") && (x0 || x1))
                ok = add_cand(&fam[0], fx->topics.v[k], x0, n0, x1, n1) != NULL;
        }
        for (int k = 0; ok && k < (int)fx->signals.n; k++) {
            long long x0 = 0, x1 = 0;
            for (size_t i = 0; i < fx->n; i++)
                if (fx->rec[i].signals & (1ull << k)) {
                    x0 += in_range(fx->rec[i].day, fx->ps, fx->pe);
                    x1 += in_range(fx->rec[i].day, fx->cs, fx->ce);
                }
            if (x0 || x1)
                ok = add_cand(&fam[4], fx->signals.v[k], x0, n0, x1, n1) != NULL;
        }
        /* Words first heard this period, said in min_group sessions. */
        for (size_t k = 0; ok && k < fx->words.n; k++) {
            const report_row *w = &fx->words.rows[k];
            long first = (long)w->c[W_FIRST_DAY].n - 1;
            if (w->c[W_SESSIONS].sessions < r->min_group || first < fx->cs ||
                !earshot__report_phrase_ok(g, w->key[0]))
                continue;
            cand *c = add_cand(&fam[3], w->key[0], 0, n0, w->c[W_SESSIONS].sessions, n1);
            ok = c != NULL;
            /* An example phrase of the unmatched list that holds it. */
            for (size_t i = 0; c && i < r->t[T_UNMATCHED].n; i++) {
                const report_row *ph = &r->t[T_UNMATCHED].rows[i];
                const char *at = strstr(ph->key[0], w->key[0]);
                size_t wl = strlen(w->key[0]);
                if (at && (at == ph->key[0] || at[-1] == ' ') && (!at[wl] || at[wl] == ' ') &&
                    earshot__report_cell_visible(r, &ph->c[0])) {
                    snprintf(c->extra, sizeof c->extra, "%s", ph->key[0]);
                    break;
                }
            }
        }
        if (ok && fam[0].n == 0)
            fam[0].why_none = "no complaint named a topic";
        if (ok && fam[4].n == 0)
            fam[4].why_none = "no effort signal was heard";
        if (ok && fam[3].n == 0)
            fam[3].why_none = NULL; /* said below, with how many sessions */
    }
    /* Drivers: detractor sessions against promoter sessions, in the window. */
    long long nd = 0, np = 0;
    for (size_t i = 0; i < fx->n; i++) {
        if (!in_range(fx->rec[i].day, wfrom, wto))
            continue;
        nd += fx->rec[i].score >= 0 && fx->rec[i].score <= 6;
        np += fx->rec[i].score >= 9;
    }
    if (nd == 0 || np == 0) {
        fam[1].why_none = "it needs both detractors (0-6) and promoters (9-10) among the "
                          "ratings given by voice";
    } else {
        for (int k = 0; ok && k < nt; k++) {
            long long xd = 0, xp = 0;
            for (size_t i = 0; i < fx->n; i++) {
                const ses_rec *s = &fx->rec[i];
                if (!in_range(s->day, wfrom, wto) || !(s->topics & (1ull << k)))
                    continue;
                xd += s->score >= 0 && s->score <= 6;
                xp += s->score >= 9;
            }
            if (strcmp(fx->topics.v[k], "(none)") && (xd || xp))
                ok = add_cand(&fam[1], fx->topics.v[k], xp, np, xd, nd) != NULL;
        }
    }
    /* Channels: one channel's sessions with a complaint against the rest. */
    if (fx->channels.n < 2) {
        fam[2].why_none = "it needs sessions from two channels or more";
    } else {
        int ci = -1;
        for (int k = 0; k < fx->intents.n; k++)
            if (!strcmp(fx->intents.v[k], "complaint"))
                ci = k;
        uint64_t cbit = ci >= 0 ? 1ull << ci : 0;
        for (int k = 0; ok && k < fx->channels.n; k++) {
            long long xc = 0, ncx = 0, xo = 0, no = 0;
            for (size_t i = 0; i < fx->n; i++) {
                const ses_rec *s = &fx->rec[i];
                if (!in_range(s->day, wfrom, wto))
                    continue;
                int compl = (s->intents & cbit) != 0;
                if (s->channel == k) {
                    ncx++;
                    xc += compl;
                } else {
                    no++;
                    xo += compl;
                }
            }
            if (ncx && no)
                ok = add_cand(&fam[2], fx->channels.v[k], xo, no, xc, ncx) != NULL;
        }
    }
    if (!ok) {
        for (int k = 0; k < N_FAMILIES; k++)
            free(fam[k].c);
        return 0;
    }
    /* Thresholds, and the list: shown ones by impact, then one line per
     * family without a shown finding. */
    cand shown[MAX_FINDINGS * N_FAMILIES];
    size_t ns = 0;
    for (int k = 0; k < N_FAMILIES; k++) {
        double alpha = 0.05 / (double)(fam[k].n ? fam[k].n : 1);
        for (size_t i = 0; i < fam[k].n; i++)
            fam[k].c[i].f.alpha = alpha;
        if (fam[k].n) /* c is NULL for an empty family, and qsort's pointer is nonnull */
            qsort(fam[k].c, fam[k].n, sizeof *fam[k].c, by_impact);
        /* A family contributes its best few; drivers and channels their best one. */
        size_t most = (fam[k].kind == EARSHOT_FINDING_DRIVER ||
                       fam[k].kind == EARSHOT_FINDING_CHANNEL) ? 1 : MAX_FINDINGS;
        size_t took = 0;
        for (size_t i = 0; i < fam[k].n && took < most; i++)
            if (passes(r, &fam[k].c[i].f)) {
                fam[k].c[i].f.shown = 1;
                shown[ns++] = fam[k].c[i];
                took++;
            }
    }
    qsort(shown, ns, sizeof *shown, by_impact);
    if (ns > MAX_FINDINGS)
        ns = MAX_FINDINGS;
    for (size_t i = 0; i < ns; i++) {
        size_t at = fx->n_list++;
        fx->list[at] = shown[i].f;
        snprintf(fx->subject[at], sizeof fx->subject[at], "%s", shown[i].subject);
        sentence(fx, &shown[i], fx->sentence[at], sizeof fx->sentence[at]);
    }
    for (int k = 0; k < N_FAMILIES; k++) {
        int any = 0;
        for (size_t i = 0; i < ns; i++)
            any |= shown[i].f.kind == fam[k].kind;
        if (any)
            continue;
        size_t at = fx->n_list++;
        earshot_finding *f = &fx->list[at];
        char *out = fx->sentence[at];
        size_t len = sizeof fx->sentence[at];
        memset(f, 0, sizeof *f);
        f->kind = fam[k].kind;
        f->kind_name = fam[k].name;
        f->alpha = 0.05 / (double)(fam[k].n ? fam[k].n : 1);
        fx->subject[at][0] = '\0';
        /* The best candidate that points the right way, if any. */
        const cand *best = NULL;
        for (size_t i = 0; i < fam[k].n && !best; i++)
            if (fam[k].c[i].f.delta_pts > 0)
                best = &fam[k].c[i];
        if (best) {
            *f = best->f;
            f->shown = 0;
            snprintf(fx->subject[at], sizeof fx->subject[at], "%s", best->subject);
        } else {
            f->n_before = fam[k].kind == EARSHOT_FINDING_DRIVER ? np : n0;
            f->n_after = fam[k].kind == EARSHOT_FINDING_DRIVER ? nd : n1;
        }
        int figures_ok = best && showable(r, f->x_before) && showable(r, f->x_after) &&
                         f->n_before >= r->min_group && f->n_after >= r->min_group;
        long long pool = fam[k].pool;
        f->more_sessions = more_needed(r, f, f->alpha, pool);
        char nm[80], p[32];
        human(nm, sizeof nm, fx->subject[at]);
        fmt_p(p, sizeof p, f->p);
        if (f->more_sessions == 0 && !fam[k].why_none) {
            /* Enough sessions already: a difference of the planned size
             * would have shown; none did. */
            snprintf(out, len, "%s: none found: with %lld sessions a difference of 10 points "
                     "or more would have passed the test, and none did.",
                     family_title(f->kind), pool);
            f->x_before = f->x_after = 0;
            f->before_pct = f->after_pct = f->delta_pts = f->ci_low = f->ci_high = 0;
            f->p = 1;
            fx->subject[at][0] = '\0';
        } else if (fam[k].why_none && f->more_sessions == 0) {
            snprintf(out, len, "%s: nothing to test: %s.", family_title(f->kind),
                     fam[k].why_none);
        } else if (fam[k].why_none) {
            snprintf(out, len, "%s: not enough evidence yet (about %lld more sessions needed): "
                     "%s.", family_title(f->kind), f->more_sessions, fam[k].why_none);
        } else if (!best) {
            snprintf(out, len, "%s: not enough evidence yet (about %lld more sessions "
                     "needed): nothing points that way yet.", family_title(f->kind),
                     f->more_sessions);
        } else if (figures_ok) {
            snprintf(out, len, "%s: not enough evidence yet (about %lld more sessions "
                     "needed): the strongest candidate, %s, differs by %+.0f points, "
                     "two-proportion z-test %s, short of the %.4g threshold or of %d "
                     "sessions.", family_title(f->kind), f->more_sessions, nm, f->delta_pts,
                     p, f->alpha, r->min_group);
        } else {
            /* Figures under min_group are not described, not even as a p. */
            snprintf(out, len, "%s: not enough evidence yet (about %lld more sessions "
                     "needed): the candidates rest on groups of fewer than %d sessions.",
                     family_title(f->kind), f->more_sessions, r->min_group);
            f->x_before = f->x_after = 0;
            f->before_pct = f->after_pct = f->delta_pts = f->ci_low = f->ci_high = 0;
            f->p = 1;
            fx->subject[at][0] = '\0';
        }
    }
    for (size_t i = 0; i < fx->n_list; i++) {
        fx->list[i].subject = fx->subject[i];
        fx->list[i].sentence = fx->sentence[i];
        if (fx->list[i].shown)
            fx->list[i].more_sessions = 0;
    }
    for (int k = 0; k < N_FAMILIES; k++)
        free(fam[k].c);
    /* The per-session records are no longer needed. */
    free(fx->rec);
    fx->rec = NULL;
    fx->n = fx->cap = 0;
    return 1;
}

/* ------------------------------------------------------------------ */
/* for renderers and callers                                            */
/* ------------------------------------------------------------------ */

size_t earshot__report_findings(const earshot_report *r, const earshot_finding **out)
{
    *out = r->fx ? r->fx->list : NULL;
    return r->fx ? r->fx->n_list : 0;
}

size_t earshot_report_findings(const earshot_report *r, const earshot_finding **out)
{
    if (!out)
        return 0;
    *out = NULL;
    if (!r)
        return 0;
    return earshot__report_findings(r, out);
}

const char *earshot__report_findings_absent(const earshot_report *r)
{
    if (r->fx)
        return "";
    if (r->dp)
        return "Not shown under differential privacy: findings test exact per-session "
               "figures, which the noise is there to hide, so they are left out rather than "
               "computed from noisy figures.";
    if (r->n_sources > 1)
        return "Not available for a merged report: findings are tested on each database's "
               "sessions, which a report file does not carry. Read each kiosk's own report "
               "for them.";
    return "Not available for a report read back from JSON: findings are computed when a "
           "report is built from its database.";
}

void earshot__report_findings_method(const earshot_report *r, char *buf, size_t len)
{
    const earshot__findings *fx = r->fx;
    if (!fx) {
        buf[0] = '\0';
        return;
    }
    snprintf(buf, len, "Each finding compares two shares of sessions with a two-sided "
             "two-proportion z-test and is shown only when p is below 0.05 divided by the "
             "number of candidates of its kind (Bonferroni), and every count behind it is 0 or "
             "at least %d sessions; the interval is a 95%% Wald interval. Findings are ranked "
             "by the sessions the difference accounts for. \"More sessions needed\" is the "
             "sample an 80%% chance of a significant result would need (Fleiss' formula), "
             "from the observed shares when they may be shown, otherwise for a 10-point "
             "difference on a 10%% base.", r->min_group);
}

void earshot__report_change_basis(const earshot_report *r, char *buf, size_t len)
{
    const earshot__findings *fx = r->fx;
    buf[0] = '\0';
    if (!fx || !fx->compared || fx->n0 == 0)
        return;
    long days = fx->ce - fx->cs + 1;
    snprintf(buf, len, "Changes compare the last %ld day%s with the %ld day%s before, as "
             "shares of sessions (arrows: up or down by at least 1 point).", days,
             days == 1 ? "" : "s", days, days == 1 ? "" : "s");
}

void earshot__report_change(const earshot_report *r, int ti, const char *name, int html,
                            char *buf, size_t len)
{
    const earshot__findings *fx = r->fx;
    buf[0] = '\0';
    if (!fx || !fx->compared || fx->n0 < r->min_group || fx->n1 < r->min_group)
        return;
    const char *up = html ? "&#9650;" : "\u25b2", *down = html ? "&#9660;" : "\u25bc";
    const char *same = html ? "&#9644;" : "=";
    if (ti == T_OVERVIEW) {
        double d = 100.0 * (double)(fx->n1 - fx->n0) / (double)fx->n0;
        snprintf(buf, len, "%s %+.0f%% sessions", d >= 1 ? up : d <= -1 ? down : same, d);
        return;
    }
    for (size_t i = 0; i < fx->n_ch; i++) {
        const change *c = &fx->ch[i];
        if (c->ti != ti || strcmp(c->name, name))
            continue;
        if (!showable(r, c->x0) || !showable(r, c->x1))
            return;
        double d = 100.0 * ((double)c->x1 / (double)fx->n1 - (double)c->x0 / (double)fx->n0);
        snprintf(buf, len, "%s %+.0f pts", d >= 1 ? up : d <= -1 ? down : same, d);
        return;
    }
}

int earshot_finding_matches(const earshot_finding *f, const char *spec)
{
    if (!f || !spec)
        return -1;
    char kind[32] = "", subject[64] = "";
    const char *c1 = strchr(spec, ':');
    size_t kl = c1 ? (size_t)(c1 - spec) : strlen(spec);
    if (kl == 0 || kl >= sizeof kind)
        return -1;
    memcpy(kind, spec, kl);
    static const char *const kinds[] = {"complaints", "driver", "channel", "theme", "effort"};
    int known = 0;
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++)
        known |= !strcmp(kind, kinds[i]);
    if (!known)
        return -1;
    const char *delta = NULL;
    if (c1) {
        const char *c2 = strchr(c1 + 1, ':');
        size_t sl = c2 ? (size_t)(c2 - c1 - 1) : strlen(c1 + 1);
        if (sl >= sizeof subject)
            return -1;
        memcpy(subject, c1 + 1, sl);
        subject[sl] = '\0';
        if (c2)
            delta = c2 + 1;
    }
    double th = 0;
    int sign = 0;
    if (delta) {
        char *end;
        if (delta[0] != '+' && delta[0] != '-')
            return -1;
        th = strtod(delta, &end);
        if (end == delta + 1 || *end || !isfinite(th))
            return -1;
        sign = delta[0] == '+' ? 1 : -1;
    }
    if (!f->shown || strcmp(kind, f->kind_name))
        return 0;
    if (subject[0] && strcmp(subject, "*") && strcmp(subject, f->subject))
        return 0;
    if (sign > 0 && f->delta_pts < th)
        return 0;
    if (sign < 0 && f->delta_pts > th)
        return 0;
    return 1;
}
