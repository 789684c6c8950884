/* report_render.c - the insight report for people: one self-contained
 * HTML file (inline CSS and SVG, no script, no request leaves the page),
 * CSV (one table per section, in one file or one file each) and Markdown.
 * Every figure goes through earshot__report_cell_str(), so suppression
 * is applied in one place (report.c). */
#include "report.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define fail earshot__report_fail

FILE *earshot__report_open(earshot_report *r, const char *path)
{
    if (!strcmp(path, "-"))
        return stdout;
    FILE *f = fopen(path, "w");
    if (!f)
        fail(r, EARSHOT_IO, "%s: %s", path, strerror(errno));
    return f;
}

int earshot__report_close(earshot_report *r, FILE *f, const char *path)
{
    int bad = ferror(f);
    bad |= (f == stdout ? fflush(f) : fclose(f)) != 0;
    return bad ? fail(r, EARSHOT_IO, "%s: cannot write: %s", path, strerror(errno)) : EARSHOT_OK;
}

static const report_row *single(const earshot_report *r, int ti)
{
    static const report_row empty;
    return r->t[ti].n ? &r->t[ti].rows[0] : &empty;
}

/* ------------------------------------------------------------------ */
/* HTML                                                                 */
/* ------------------------------------------------------------------ */

static void esc(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        default: fputc(*s, f);
        }
    }
}

/* Names as people read them: "wait_time" -> "wait time". */
static void esc_name(FILE *f, const char *s)
{
    if (!s || !*s) {
        fputs("(unnamed)", f);
        return;
    }
    for (; *s; s++) {
        if (*s == '_')
            fputc(' ', f);
        else {
            char c[2] = {*s, 0};
            esc(f, c);
        }
    }
}

static const char *cell(const earshot_report *r, const report_cell *c, char *buf, size_t len)
{
    return earshot__report_cell_str(r, c, buf, len);
}

static void pct_html(FILE *f, int v, const char *suffix)
{
    if (v == REPORT_NA)
        fputs("<span class=na>&ndash;</span>", f);
    else
        fprintf(f, "%d%s", v, suffix);
}

static const char *const palette[] = {"#3b6fb6", "#d9534f", "#5cb85c", "#f0ad4e", "#8e6bbf",
                                      "#2aa198", "#c06c84", "#7f8c8d", "#b58900", "#6c71c4"};

static const char css[] =
    ":root{--ink:#1d2433;--mute:#5b6474;--line:#dde2ea;--bg:#f6f7f9;--card:#fff;"
    "--neg:#d9534f;--neu:#b8c0cc;--pos:#5cb85c;--acc:#3b6fb6}"
    "*{box-sizing:border-box}"
    "body{margin:0;background:var(--bg);color:var(--ink);font:15px/1.45 system-ui,-apple-system,"
    "'Segoe UI',Roboto,Helvetica,Arial,sans-serif}"
    "main{max-width:980px;margin:0 auto;padding:16px}"
    "header h1{font-size:1.6em;margin:.2em 0}"
    ".meta{color:var(--mute);margin:0 0 8px}"
    "section{background:var(--card);border:1px solid var(--line);border-radius:10px;"
    "padding:14px 16px;margin:14px 0;break-inside:avoid}"
    "h2{font-size:1.15em;margin:.1em 0 .6em}h3{font-size:1em;margin:1em 0 .4em;color:var(--mute)}"
    ".cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:10px}"
    ".card{border:1px solid var(--line);border-radius:8px;padding:10px 12px}"
    ".card b{display:block;font-size:1.6em}.card span{color:var(--mute);font-size:.9em}"
    ".scroll{overflow-x:auto}"
    "table{border-collapse:collapse;width:100%;font-size:.92em}"
    "th,td{padding:5px 8px;border-bottom:1px solid var(--line);text-align:right;white-space:nowrap}"
    "th:first-child,td:first-child{text-align:left}"
    "th{color:var(--mute);font-weight:600}"
    "td.txt{white-space:normal;text-align:left}"
    ".na{color:var(--mute)}.flag{color:#a94442;font-weight:600;white-space:normal;text-align:left}"
    "svg{display:block;max-width:100%;height:auto}"
    /* Charts keep a legible size on a phone and scroll sideways instead. */
    ".chart{overflow-x:auto}.chart svg{min-width:520px}"
    "svg text{font:12px system-ui,sans-serif;fill:var(--ink)}"
    ".legend{display:flex;flex-wrap:wrap;gap:4px 14px;font-size:.85em;color:var(--mute);"
    "margin:6px 0}"
    ".legend i{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:4px}"
    "blockquote{margin:6px 0 6px 4px;padding:4px 10px;border-left:3px solid var(--acc);"
    "color:#333;font-style:italic}"
    "ol.phrases{columns:2 260px;margin:0;padding-left:1.4em}ol.phrases li{margin:2px 0}"
    "ol.phrases small{color:var(--mute)}"
    "footer{color:var(--mute);font-size:.85em;margin:18px 0}"
    "footer li{margin:3px 0}"
    ".empty{color:var(--mute);font-style:italic}"
    ".chg{color:var(--mute);font-size:.9em;white-space:nowrap}"
    "#act{border-left:4px solid var(--acc)}ol.act li,ul.notyet li{margin:4px 0}"
    "ol.themes{margin:0;padding-left:1.4em}ol.themes li{margin:6px 0}"
    "ol.themes small{color:var(--mute)}"
    "td.txt,.flag,li,p,blockquote{overflow-wrap:anywhere}"
    "@media print{body{background:#fff}section{border:none;padding:0}main{max-width:none}}";

/* A horizontal bar chart of one cell of a table's rows. */
static void bars_svg(FILE *f, const earshot_report *r, const report_row **rows, size_t n,
                     int cellno, const char *color, int show_share)
{
    int64_t max = 1;
    for (size_t i = 0; i < n; i++)
        if (earshot__report_cell_visible(r, &rows[i]->c[cellno]) && rows[i]->c[cellno].n > max)
            max = rows[i]->c[cellno].n;
    int h = 24, w = 640, lab = 150, bar = 380;
    fprintf(f, "<div class=chart><svg viewBox='0 0 %d %zu' role=img aria-label='bar chart'>", w,
            n * h + 4);
    char b[32];
    for (size_t i = 0; i < n; i++) {
        const report_cell *c = &rows[i]->c[cellno];
        int y = (int)i * h + 2;
        fprintf(f, "<text x='%d' y='%d' text-anchor='end'>", lab - 8, y + 15);
        esc_name(f, rows[i]->key[0]);
        fputs("</text>", f);
        if (earshot__report_cell_visible(r, c)) {
            int len = (int)(bar * c->n / max);
            fprintf(f, "<rect x='%d' y='%d' width='%d' height='%d' rx='3' fill='%s'/>", lab, y + 3,
                    len < 2 ? 2 : len, h - 7, color);
            fprintf(f, "<text x='%d' y='%d'>%s", lab + len + 6, y + 15, cell(r, c, b, sizeof b));
            if (show_share) {
                int s = earshot__report_derived(r, T_INTENTS, rows[i], "share_pct");
                if (s != REPORT_NA)
                    fprintf(f, " (%d%%)", s);
            }
            fputs("</text>", f);
        } else {
            fprintf(f, "<rect x='%d' y='%d' width='40' height='%d' rx='3' fill='none' "
                       "stroke='#b8c0cc' stroke-dasharray='3 2'/>", lab, y + 3, h - 7);
            fprintf(f, "<text x='%d' y='%d' fill='#5b6474'>%s</text>", lab + 46, y + 15,
                    cell(r, c, b, sizeof b));
        }
    }
    fputs("</svg></div>", f);
}

/* The trend chart draws the TREND_TOP intents heard most (the intents
 * table's order, so colours match it) and sums the rest as one "other
 * intents" series: ten colours over 90 columns cannot be read. */
enum { TREND_TOP = 5, TREND_SERIES = TREND_TOP + 1 };
static const char *const trend_other = "other intents";

static int trend_series(const char *const *top, int n_top, const char *intent)
{
    for (int i = 0; i < n_top; i++)
        if (!strcmp(top[i], intent))
            return i;
    return TREND_TOP;
}

/* A day "YYYY-MM-DD" as its ISO week "YYYY-Www"; anything else as is. */
static void iso_week(const char *day, char *out, size_t len)
{
    int y, m, d;
    struct tm tm = {0};
    if (sscanf(day, "%4d-%2d-%2d", &y, &m, &d) != 3) {
        snprintf(out, len, "%s", day);
        return;
    }
    tm.tm_year = y - 1900;
    tm.tm_mon = m - 1;
    tm.tm_mday = d;
    tm.tm_hour = 12;
    time_t t = timegm(&tm);
    gmtime_r(&t, &tm);
    strftime(out, len, "%G-W%V", &tm);
}

/* Days from one "YYYY-MM-DD" to another; 0 when either is not a day. */
static long day_span(const char *a, const char *b)
{
    int y, m, d;
    struct tm ta = {0}, tb = {0};
    if (sscanf(a, "%4d-%2d-%2d", &y, &m, &d) != 3)
        return 0;
    ta.tm_year = y - 1900, ta.tm_mon = m - 1, ta.tm_mday = d;
    if (sscanf(b, "%4d-%2d-%2d", &y, &m, &d) != 3)
        return 0;
    tb.tm_year = y - 1900, tb.tm_mon = m - 1, tb.tm_mday = d;
    return (long)((timegm(&tb) - timegm(&ta)) / 86400);
}

/* Whether the chart is drawn per week: a daily report of more than 31
 * days (its period, first to last day with data). */
static int trend_weekly(const earshot_report *r)
{
    return r->unit == EARSHOT_TIME_DAY && day_span(r->from, r->to) > 31;
}

/* Stacked columns: per period, the shown utterance counts of the top
 * intents and of the others summed. A daily trend over more than 31 days
 * is drawn per ISO week. Only figures the report shows are added up (a
 * suppressed day is left out of its week and said so below the chart),
 * so the chart tells nothing the tables do not. */
static void trend_svg(FILE *f, const earshot_report *r)
{
    size_t n;
    const report_row **rows = earshot__report_rows(r, T_TREND, &n);
    /* At most one period per row. */
    char (*periods)[16] = malloc((n + 1) * sizeof *periods);
    int64_t (*v)[TREND_SERIES] = calloc(n + 1, sizeof *v);
    int64_t *totals = calloc(n + 1, sizeof *totals);
    const report_row **in = NULL;
    if (!rows || !periods || !v || !totals)
        goto done;
    const char *top[TREND_TOP];
    int n_top = 0;
    size_t ni;
    in = earshot__report_rows(r, T_INTENTS, &ni);
    for (size_t i = 0; in && i < ni && n_top < TREND_TOP; i++)
        if (earshot__report_cell_visible(r, &in[i]->c[0]))
            top[n_top++] = in[i]->key[0];
    int weekly = trend_weekly(r);
    size_t np = 0, hidden = 0;
    int any_other = 0;
    for (size_t i = 0; i < n; i++) {
        char per[16];
        if (weekly)
            iso_week(rows[i]->key[0], per, sizeof per);
        else
            snprintf(per, sizeof per, "%s", rows[i]->key[0]);
        /* Rows come in period order, so a week's days are together. */
        if (!np || strcmp(periods[np - 1], per))
            snprintf(periods[np++], sizeof *periods, "%s", per);
        if (!earshot__report_cell_visible(r, &rows[i]->c[0])) {
            hidden++;
            continue;
        }
        int k = trend_series(top, n_top, rows[i]->key[1]);
        any_other |= k == TREND_TOP;
        v[np - 1][k] += rows[i]->c[0].n;
        totals[np - 1] += rows[i]->c[0].n;
    }
    if (np == 0) {
        fputs("<p class=empty>No utterances in this period.</p>", f);
        goto done;
    }
    int64_t max = 1;
    for (size_t p = 0; p < np; p++)
        if (totals[p] > max)
            max = totals[p];
    int W = 660, H = 200, left = 40, bottom = 30;
    double cw = (double)(W - left - 40) / (double)np;
    fprintf(f, "<div class=chart><svg viewBox='0 0 %d %d' role=img aria-label='intents per %s'"
               " data-unit=%s>", W, H, weekly ? "week" : earshot__report_unit_name(r->unit),
            weekly ? "week" : earshot__report_unit_name(r->unit));
    fprintf(f, "<line x1='%d' y1='%d' x2='%d' y2='%d' stroke='#dde2ea'/>", left, H - bottom, W - 10,
            H - bottom);
    fprintf(f, "<text x='%d' y='%d' text-anchor='end'>%lld</text>", left - 4, 14,
            (long long)max);
    fprintf(f, "<text x='%d' y='%d' text-anchor='end'>0</text>", left - 4, H - bottom);
    for (size_t p = 0; p < np; p++) {
        double y = H - bottom;
        for (int k = 0; k < TREND_SERIES; k++) {
            if (!v[p][k])
                continue;
            double hh = (double)(H - bottom - 20) * (double)v[p][k] / (double)max;
            y -= hh;
            fprintf(f, "<rect x='%.1f' y='%.1f' width='%.1f' height='%.1f' fill='%s'><title>",
                    left + p * cw + cw * 0.1, y, cw * 0.8, hh,
                    k < TREND_TOP ? palette[k] : palette[7]);
            esc(f, periods[p]);
            fputs(" ", f);
            if (k < TREND_TOP)
                esc_name(f, top[k]);
            else
                fputs(trend_other, f);
            fprintf(f, ": %lld</title></rect>", (long long)v[p][k]);
        }
    }
    /* Label a few periods, not all: they would overlap. */
    size_t step = np / 6 + 1;
    for (size_t p = 0; p < np; p += step) {
        fprintf(f, "<text x='%.1f' y='%d' text-anchor='middle'>", left + p * cw + cw / 2,
                H - bottom + 16);
        esc(f, periods[p]);
        fputs("</text>", f);
    }
    fputs("</svg></div><div class=legend>", f);
    for (int i = 0; i < n_top; i++) {
        fprintf(f, "<span><i style='background:%s'></i>", palette[i]);
        esc_name(f, top[i]);
        fputs("</span>", f);
    }
    if (any_other)
        fprintf(f, "<span class=other><i style='background:%s'></i>%s</span>", palette[7],
                trend_other);
    fputs("</div>", f);
    if (weekly)
        fputs("<p class=meta>Per ISO week (more than 31 days of data); the JSON and CSV "
              "reports keep the days.</p>", f);
    if (hidden)
        fprintf(f, "<p class=meta>%zu %s-and-intent figures from fewer than %d sessions are "
                   "not drawn.</p>", hidden, earshot__report_unit_name(r->unit), r->min_group);
done:
    free(in);
    free(rows);
    free(periods);
    free(v);
    free(totals);
}

/* Negative / neutral / positive as one stacked bar, when all three show. */
static void sentiment_bar(FILE *f, const earshot_report *r, const report_row *row)
{
    const report_cell *c = row->c;
    if (!earshot__report_cell_visible(r, &c[TOP_NEG]) ||
        !earshot__report_cell_visible(r, &c[TOP_NEU]) ||
        !earshot__report_cell_visible(r, &c[TOP_POS])) {
        fputs("<span class=na>&ndash;</span>", f);
        return;
    }
    double tot = (double)(c[TOP_NEG].n + c[TOP_NEU].n + c[TOP_POS].n);
    if (tot <= 0)
        tot = 1;
    double a = 120 * c[TOP_NEG].n / tot, b = 120 * c[TOP_NEU].n / tot;
    fprintf(f, "<svg width='120' height='12' viewBox='0 0 120 12' style='display:inline-block'>"
               "<rect width='%.1f' height='12' fill='#d9534f'/>"
               "<rect x='%.1f' width='%.1f' height='12' fill='#b8c0cc'/>"
               "<rect x='%.1f' width='%.1f' height='12' fill='#5cb85c'/></svg>",
            a, a, b, a + b, 120 - a - b);
}

/* A table of keys and cells, with derived figures, for one report table. */
static void table_html(FILE *f, const earshot_report *r, int ti, const report_row **rows, size_t n,
                       const char *const *headers, const int *cells, int n_cols)
{
    const char *dn[REPORT_MAX_DERIVED];
    int nd = earshot__report_n_derived(ti, dn);
    const report_table_def *d = &earshot__report_defs[ti];
    fputs("<div class=scroll><table><tr>", f);
    for (int k = 0; k < d->n_keys; k++) {
        fputs("<th>", f);
        esc_name(f, d->keys[k]);
        fputs("</th>", f);
    }
    for (int j = 0; j < n_cols; j++)
        fprintf(f, "<th>%s</th>", headers[j]);
    for (int k = 0; k < nd; k++) {
        fputs("<th>", f);
        esc_name(f, dn[k]);
        fputs("</th>", f);
    }
    if (ti == T_CHANNELS)
        fputs("<th>stands out</th>", f);
    fputs("</tr>", f);
    char b[32];
    for (size_t i = 0; i < n; i++) {
        fputs("<tr>", f);
        for (int k = 0; k < d->n_keys; k++) {
            fputs(d->free_text ? "<td class=txt>" : "<td>", f);
            esc_name(f, rows[i]->key[k]);
            fputs("</td>", f);
        }
        for (int j = 0; j < n_cols; j++)
            fprintf(f, "<td>%s</td>", cell(r, &rows[i]->c[cells[j]], b, sizeof b));
        for (int k = 0; k < nd; k++) {
            fputs("<td>", f);
            pct_html(f, earshot__report_derived(r, ti, rows[i], dn[k]),
                     strcmp(dn[k], "nps") ? "%" : "");
            fputs("</td>", f);
        }
        if (ti == T_CHANNELS) {
            char flag[128];
            earshot__report_channel_flag(r, rows[i], flag, sizeof flag);
            fputs("<td class=flag>", f);
            esc(f, flag);
            fputs("</td>", f);
        }
        fputs("</tr>", f);
    }
    fputs("</table></div>", f);
}

static void simple_table(FILE *f, const earshot_report *r, int ti, const char *what)
{
    size_t n;
    const report_row **rows = earshot__report_rows(r, ti, &n);
    if (!rows)
        return;
    if (n == 0) {
        fprintf(f, "<p class=empty>No %s in this period.</p>", what);
    } else {
        static const int c0[] = {0};
        const char *h[] = {earshot__report_defs[ti].cells[0]};
        table_html(f, r, ti, rows, n, h, c0, 1);
    }
    free(rows);
}

static void rating_svg(FILE *f, const earshot_report *r)
{
    const report_cell *by[11] = {0};
    report_table const *t = &r->t[T_RATINGS];
    for (size_t i = 0; i < t->n; i++) {
        int s = atoi(t->rows[i].key[0]);
        if (s >= 0 && s <= 10)
            by[s] = &t->rows[i].c[0];
    }
    int64_t max = 1;
    for (int s = 0; s <= 10; s++)
        if (by[s] && earshot__report_cell_visible(r, by[s]) && by[s]->n > max)
            max = by[s]->n;
    int W = 640, H = 190, bottom = 36, cw = 52, left = 34;
    char b[32];
    fprintf(f, "<div class=chart><svg viewBox='0 0 %d %d' role=img aria-label='ratings 0 to 10'>",
            W, H);
    for (int s = 0; s <= 10; s++) {
        const char *col = s >= 9 ? "#5cb85c" : s >= 7 ? "#f0ad4e" : "#d9534f";
        int x = left + s * cw;
        if (by[s] && earshot__report_cell_visible(r, by[s])) {
            int hh = (int)((H - bottom - 22) * by[s]->n / max);
            fprintf(f, "<rect x='%d' y='%d' width='%d' height='%d' rx='3' fill='%s'/>", x + 6,
                    H - bottom - hh, cw - 12, hh < 1 ? 1 : hh, col);
            fprintf(f, "<text x='%d' y='%d' text-anchor='middle'>%s</text>", x + cw / 2,
                    H - bottom - hh - 4, cell(r, by[s], b, sizeof b));
        } else if (by[s]) {
            fprintf(f, "<text x='%d' y='%d' text-anchor='middle' fill='#5b6474'>%s</text>",
                    x + cw / 2, H - bottom - 4, cell(r, by[s], b, sizeof b));
        }
        fprintf(f, "<text x='%d' y='%d' text-anchor='middle'>%d</text>", x + cw / 2,
                H - bottom + 16, s);
    }
    fprintf(f, "<text x='%d' y='%d' fill='#5b6474'>detractors 0-6 &middot; passives 7-8 &middot; "
               "promoters 9-10</text>", left, H - 4);
    fputs("</svg></div>", f);
}

static void card(FILE *f, const char *value, const char *label)
{
    fprintf(f, "<div class=card><b>%s</b><span>%s</span></div>", value, label);
}

static void rule_li(const char *s, void *u)
{
    FILE *f = u;
    fputs("<li>", f);
    esc(f, s);
    fputs("</li>", f);
}

static void period_text(FILE *f, const earshot_report *r)
{
    if (r->from[0]) {
        esc(f, r->from);
        if (strcmp(r->from, r->to)) {
            fputs(" &ndash; ", f);
            esc(f, r->to);
        }
    } else {
        fputs("no data", f);
    }
}

/* "What to act on": shown findings first, then what cannot be shown yet. */
static void findings_html(FILE *f, const earshot_report *r)
{
    fputs("<section id=act><h2>What to act on</h2>", f);
    const earshot_finding *fv;
    size_t n = earshot__report_findings(r, &fv), shown = 0;
    const char *absent = earshot__report_findings_absent(r);
    if (absent[0]) {
        fputs("<p class=empty>", f);
        esc(f, absent);
        fputs("</p></section>\n", f);
        return;
    }
    for (size_t i = 0; i < n; i++)
        shown += fv[i].shown != 0;
    if (shown) {
        fputs("<ol class=act>", f);
        for (size_t i = 0; i < n; i++)
            if (fv[i].shown) {
                fputs("<li>", f);
                esc(f, fv[i].sentence);
                fputs("</li>", f);
            }
        fputs("</ol>", f);
    } else {
        fputs("<p>Nothing passes the evidence threshold yet.</p>", f);
    }
    if (shown < n) {
        fputs("<h3>Not enough evidence yet</h3><ul class=notyet>", f);
        for (size_t i = 0; i < n; i++)
            if (!fv[i].shown) {
                fputs("<li>", f);
                esc(f, fv[i].sentence);
                fputs("</li>", f);
            }
        fputs("</ul>", f);
    }
    char m[1024];
    earshot__report_findings_method(r, m, sizeof m);
    fputs("<p class=meta>", f);
    esc(f, m);
    fputs("</p></section>\n", f);
}

static void change_html(FILE *f, const earshot_report *r, int ti, const char *name)
{
    char b[64];
    earshot__report_change(r, ti, name, 1, b, sizeof b);
    if (b[0])
        fprintf(f, " <span class=chg>%s</span>", b);
}

/* Themes of a phrase table, each with its size and one quote never
 * printed before in this report. */
static void themes_html(FILE *f, const earshot_report *r, int ti, report_seen *seen,
                        const char *none)
{
    if (r->no_stopwords) {
        fputs("<p class=empty>No phrases: the grammar folder has no stopwords.txt.</p>", f);
        return;
    }
    size_t n;
    report_theme *th = earshot__report_themes(r, ti, (size_t)r->max_rows, &n);
    if (!th || n == 0) {
        fprintf(f, "<p class=empty>%s</p>", none);
        free(th);
        return;
    }
    fputs("<ol class=themes>", f);
    for (size_t i = 0; i < n; i++) {
        fputs("<li><b>&ldquo;", f);
        esc(f, th[i].lead->key[0]);
        fprintf(f, "&rdquo;</b> <small>at least %lld sessions", (long long)th[i].sessions);
        if (th[i].n_phrases > 1) {
            fprintf(f, ", %d phrasings, also ", th[i].n_phrases);
            for (int k = 0; k < th[i].n_alt; k++) {
                fputs(k ? ", &ldquo;" : "&ldquo;", f);
                esc(f, th[i].alt[k]->key[0]);
                fputs("&rdquo;", f);
            }
        }
        fputs("</small>", f);
        if (th[i].quote && earshot__report_seen_first(seen, th[i].quote)) {
            fputs("<blockquote>&ldquo;", f);
            esc(f, th[i].quote);
            fputs("&rdquo;</blockquote>", f);
        }
        fputs("</li>", f);
    }
    fputs("</ol>", f);
    free(th);
}

/* A small pilot: what can be shown yet. */
static void pilot_html(FILE *f, const earshot_report *r, const report_row *ov)
{
    int64_t ses = ov->c[OV_SESSIONS].n;
    if (r->dp || r->n_sources > 1 || ses >= 20L * r->min_group)
        return;
    fprintf(f, "<section id=pilot><h2>A small start</h2><p>With %s sessions so far, only "
               "groups of at least %d sessions can be shown: most rows below read "
               "&ldquo;&lt;%d&rdquo; and most comparisons wait for more data. Totals, the "
               "intents heard most and the rules are shown now; trends, drivers and changes "
               "need about %lld more sessions (a report of %d sessions or more).</p></section>\n",
            earshot__report_cell_visible(r, &ov->c[OV_SESSIONS]) ? "a few" : "very few",
            r->min_group, r->min_group, (long long)(20L * r->min_group - ses),
            20 * r->min_group);
}

int earshot__report_write_html(earshot_report *r, const char *path)
{
    FILE *f = earshot__report_open(r, path);
    if (!f)
        return EARSHOT_IO;
    char b[64], b2[64];
    const report_row *ov = single(r, T_OVERVIEW), *nps = single(r, T_NPS);
    fputs("<!doctype html>\n<html lang=en><head><meta charset=utf-8>"
          "<meta name=viewport content='width=device-width,initial-scale=1'>"
          /* The page may load nothing at all: no fonts, images or scripts. */
          "<meta http-equiv=Content-Security-Policy content=\"default-src 'none'; "
          "style-src 'unsafe-inline'; img-src data:\">"
          "<title>Earshot insight report ", f);
    period_text(f, r);
    fprintf(f, "</title><style>%s</style></head><body><main>\n", css);
    fputs("<header><h1>What customers told us</h1><p class=meta>", f);
    period_text(f, r);
    if (r->channel) {
        fputs(" &middot; channel ", f);
        esc(f, r->channel);
    }
    if (r->dp)
        fprintf(f, " &middot; %zu database%s &middot; differential privacy, epsilon %g%s"
                   " &middot; earshot %s</p></header>\n",
                r->n_sources, r->n_sources == 1 ? "" : "s", r->epsilon,
                r->dp_seeded ? " (TEST SEED: not private)" : "", EARSHOT_VERSION);
    else
        fprintf(f, " &middot; %zu database%s &middot; groups under %d sessions suppressed"
                   " &middot; earshot %s</p></header>\n",
                r->n_sources, r->n_sources == 1 ? "" : "s", r->min_group, EARSHOT_VERSION);

    pilot_html(f, r, ov);
    findings_html(f, r);
    report_seen seen = {0};

    /* Overview */
    fputs("<section id=overview><h2>Overview</h2><div class=cards>", f);
    {
        char lab[160], chg[64];
        earshot__report_change(r, T_OVERVIEW, NULL, 1, chg, sizeof chg);
        snprintf(lab, sizeof lab, "sessions (visits or calls)%s%s", chg[0] ? "<br>" : "", chg);
        card(f, cell(r, &ov->c[OV_SESSIONS], b, sizeof b), lab);
    }
    int cp = earshot__report_derived(r, T_OVERVIEW, ov, "consented_pct");
    if (cp != REPORT_NA)
        snprintf(b2, sizeof b2, "%d%%", cp);
    else
        snprintf(b2, sizeof b2, "&ndash;");
    card(f, b2, "consented to be heard");
    card(f, cell(r, &ov->c[OV_UTTERANCES], b, sizeof b), "things customers said");
    int npsv = earshot__report_derived(r, T_NPS, nps, "nps");
    if (npsv != REPORT_NA)
        snprintf(b2, sizeof b2, "%+d", npsv);
    else
        snprintf(b2, sizeof b2, "&ndash;");
    card(f, b2, "Net Promoter Score");
    fputs("</div>", f);
    {
        char basis[256];
        earshot__report_change_basis(r, basis, sizeof basis);
        if (basis[0])
            fprintf(f, "<p class=meta>%s</p>", basis);
    }
    fputs("</section>\n", f);

    /* What customers want */
    size_t n;
    const report_row **rows = earshot__report_rows(r, T_INTENTS, &n);
    /* A rating answers a question; it is shown under loyalty. */
    for (size_t i = 0, k = 0; rows && i < n; i++) {
        if (strcmp(rows[i]->key[0], "nps"))
            rows[k++] = rows[i];
        if (i + 1 == n)
            n = k;
    }
    fputs("<section id=intents><h2>What customers want</h2>", f);
    if (rows && n) {
        bars_svg(f, r, rows, n, 0, "#3b6fb6", 1);
        fputs("<div class=scroll><table><tr><th>intent</th><th>utterances</th>"
              "<th>change</th></tr>", f);
        for (size_t i = 0; i < n; i++) {
            fputs("<tr><td>", f);
            esc_name(f, rows[i]->key[0]);
            fprintf(f, "</td><td>%s</td><td>", cell(r, &rows[i]->c[0], b, sizeof b));
            change_html(f, r, T_INTENTS, rows[i]->key[0]);
            fputs("</td></tr>", f);
        }
        fputs("</table></div>", f);
        fprintf(f, "<h3>Over time (per %s)</h3>",
                trend_weekly(r) ? "week" : earshot__report_unit_name(r->unit));
        trend_svg(f, r);
    } else {
        fputs("<p class=empty>Nothing was said in this period.</p>", f);
    }
    free(rows);
    fputs("</section>\n", f);

    /* Friction */
    fputs("<section id=friction><h2>Friction hotspots</h2><h3>Topics by sentiment "
          "(most negative first)</h3>", f);
    rows = earshot__report_rows(r, T_TOPICS, &n);
    if (rows && n) {
        /* Most negative first: by the negative count, shown ones first;
         * speech with no topic last, as it points nowhere. */
        for (size_t i = 1; i < n; i++)
            for (size_t j = i; j > 0; j--) {
                const report_cell *a = &rows[j - 1]->c[TOP_NEG], *c = &rows[j]->c[TOP_NEG];
                int va = earshot__report_cell_visible(r, a), vc = earshot__report_cell_visible(r, c);
                int na = !strcmp(rows[j - 1]->key[0], "(none)");
                int nc = !strcmp(rows[j]->key[0], "(none)");
                if ((na && !nc) || (na == nc && ((vc && !va) || (va && vc && c->n > a->n)))) {
                    const report_row *t = rows[j];
                    rows[j] = rows[j - 1];
                    rows[j - 1] = t;
                }
            }
        fputs("<div class=scroll><table><tr><th>topic</th><th>utterances</th><th>negative</th>"
              "<th>complaints</th><th>negative share</th><th>sentiment</th><th>change</th></tr>", f);
        for (size_t i = 0; i < n; i++) {
            fputs("<tr><td>", f);
            esc_name(f, rows[i]->key[0]);
            fprintf(f, "</td><td>%s</td>", cell(r, &rows[i]->c[TOP_UTT], b, sizeof b));
            fprintf(f, "<td>%s</td>", cell(r, &rows[i]->c[TOP_NEG], b, sizeof b));
            fprintf(f, "<td>%s</td><td>", cell(r, &rows[i]->c[TOP_COMPLAINTS], b, sizeof b));
            pct_html(f, earshot__report_derived(r, T_TOPICS, rows[i], "negative_pct"), "%");
            fputs("</td><td>", f);
            sentiment_bar(f, r, rows[i]);
            fputs("</td><td>", f);
            change_html(f, r, T_TOPICS, rows[i]->key[0]);
            fputs("</td></tr>", f);
        }
        fputs("</table></div><div class=legend><span><i style='background:#d9534f'></i>negative"
              "</span><span><i style='background:#b8c0cc'></i>neutral</span><span>"
              "<i style='background:#5cb85c'></i>positive</span></div>", f);
    } else {
        fputs("<p class=empty>No topics in this period.</p>", f);
    }
    free(rows);
    fputs("<h3>Effort signals (\"third time\", \"nobody helps\", ...)</h3>", f);
    simple_table(f, r, T_EFFORT, "effort signals");
    fputs("</section>\n", f);

    /* Loyalty */
    fputs("<section id=loyalty><h2>Loyalty</h2>", f);
    fputs("<div class=cards>", f);
    card(f, cell(r, &nps->c[NPS_RATINGS], b, sizeof b), "ratings given by voice");
    card(f, cell(r, &nps->c[NPS_PROMOTERS], b, sizeof b), "promoters (9-10)");
    card(f, cell(r, &nps->c[NPS_PASSIVES], b, sizeof b), "passives (7-8)");
    card(f, cell(r, &nps->c[NPS_DETRACTORS], b, sizeof b), "detractors (0-6)");
    fputs("</div>", f);
    if (r->t[T_RATINGS].n)
        rating_svg(f, r);
    fputs("<h3>Churn signals: cancellations by topic</h3>", f);
    simple_table(f, r, T_CHURN, "cancellations");
    fputs("</section>\n", f);

    /* Ideas */
    fputs("<section id=ideas><h2>Ideas from customers</h2>", f);
    rows = earshot__report_rows(r, T_IDEAS, &n);
    if (rows && n) {
        for (size_t i = 0; i < n; i++) {
            /* A suppressed topic gets no heading of its own: it would
             * stand empty. They are named together, after the others. */
            if (!earshot__report_cell_visible(r, &rows[i]->c[0]))
                continue;
            fputs("<h3>", f);
            esc_name(f, rows[i]->key[0]);
            fprintf(f, ": %s suggestions</h3>", cell(r, &rows[i]->c[0], b, sizeof b));
            for (size_t q = 0; q < rows[i]->n_quotes; q++) {
                if (!earshot__report_seen_first(&seen, rows[i]->quotes[q].text))
                    continue;
                fputs("<blockquote>&ldquo;", f);
                esc(f, rows[i]->quotes[q].text);
                fputs("&rdquo;</blockquote>", f);
            }
        }
        int first = 1;
        for (size_t i = 0; i < n; i++) {
            if (earshot__report_cell_visible(r, &rows[i]->c[0]))
                continue;
            fprintf(f, first ? "<p>Also suggested, each in fewer than %d sessions (in name "
                               "order): " : ", ", r->min_group);
            esc_name(f, rows[i]->key[0]);
            first = 0;
        }
        if (!first)
            fputs(".</p>", f);
        fputs("<p class=meta>Quotes come only from customers who agreed to be quoted; they were "
              "redacted before storage and again for this report.</p>", f);
    } else {
        fputs("<p class=empty>No suggestions in this period.</p>", f);
    }
    free(rows);
    fputs("</section>\n", f);

    /* Knowledge gaps */
    fputs("<section id=gaps><h2>Knowledge gaps: what customers ask</h2>", f);
    simple_table(f, r, T_QUESTIONS, "questions");
    fputs("<h3>Most asked about</h3>", f);
    themes_html(f, r, T_QUESTION_PHRASES, &seen,
                "No question phrase was heard in enough sessions to show yet.");
    fputs("</section>\n", f);

    /* Channels */
    fputs("<section id=channels><h2>Channel consistency</h2>", f);
    rows = earshot__report_rows(r, T_CHANNELS, &n);
    if (rows && n) {
        static const char *const h[] = {"sessions", "utterances", "complaints", "ratings",
                                        "cancels"};
        static const int c[] = {CH_SESSIONS, CH_UTT, CH_COMPLAINTS, CH_RATINGS, CH_CANCELS};
        table_html(f, r, T_CHANNELS, rows, n, h, c, 5);
        fputs("<p class=meta>A channel stands out when its complaint or negative share is 10 "
              "points (NPS: 20) from the other channels' together.</p>", f);
    } else {
        fputs("<p class=empty>No channels in this period.</p>", f);
    }
    free(rows);
    fputs("</section>\n", f);

    /* Unmatched */
    fputs("<section id=unmatched><h2>Themes in speech no intent matched</h2>", f);
    themes_html(f, r, T_UNMATCHED, &seen,
                "No unmatched phrase was heard in enough sessions to show yet.");
    free(seen.v);
    fputs("</section>\n", f);

    fputs("<footer><h2>How this report protects customers</h2><ul>", f);
    earshot__report_rules(r, rule_li, f);
    fputs("</ul></footer></main></body></html>\n", f);
    return earshot__report_close(r, f, path);
}

/* ------------------------------------------------------------------ */
/* CSV and Markdown: the same tables, cell by cell                       */
/* ------------------------------------------------------------------ */

typedef struct sink {
    FILE *f;
    int md;
} sink;

/* RFC 4180 quoting; a text that a spreadsheet would run as a formula
 * (=, +, -, @) gets a leading apostrophe. */
static void csv_field(FILE *f, const char *s, int text)
{
    int quote = strpbrk(s, ",\"\n\r") != NULL;
    if (quote)
        fputc('"', f);
    if (text && (s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@'))
        fputc('\'', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    if (quote)
        fputc('"', f);
}

static void md_field(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '|' || *s == '\\' || *s == '*' || *s == '_' || *s == '`' || *s == '<')
            fputc('\\', f);
        fputc(*s == '\n' ? ' ' : *s, f);
    }
}

static void field(sink *k, int col, const char *s, int text)
{
    if (k->md) {
        fputs(col ? " " : "| ", k->f);
        md_field(k->f, s);
        fputs(" |", k->f);
    } else {
        if (col)
            fputc(',', k->f);
        csv_field(k->f, s, text);
    }
}

static void end_line(sink *k, int cols)
{
    fputc('\n', k->f);
    if (k->md && cols > 0) {
        for (int i = 0; i < cols; i++)
            fputs(i ? "---|" : "|---|", k->f);
        fputc('\n', k->f);
    }
}

static int emit_table(earshot_report *r, sink *k, int ti)
{
    const report_table_def *d = &earshot__report_defs[ti];
    const char *dn[REPORT_MAX_DERIVED];
    int nd = earshot__report_n_derived(ti, dn), col = 0;
    size_t n;
    const report_row **rows;
    if (d->n_keys == 0) {
        rows = malloc(sizeof *rows);
        if (rows) {
            rows[0] = single(r, ti);
            n = 1;
        }
    } else {
        rows = earshot__report_rows(r, ti, &n);
    }
    if (!rows)
        return fail(r, EARSHOT_NOMEM, "out of memory");
    for (int j = 0; j < d->n_keys; j++)
        field(k, col++, d->keys[j], 0);
    for (int j = 0; j < d->n_cells; j++)
        field(k, col++, d->cells[j], 0);
    for (int j = 0; j < nd; j++)
        field(k, col++, dn[j], 0);
    if (ti == T_CHANNELS)
        field(k, col++, "stands_out", 0);
    end_line(k, col);
    char b[128];
    for (size_t i = 0; i < n; i++) {
        col = 0;
        for (int j = 0; j < d->n_keys; j++)
            field(k, col++, rows[i]->key[j] ? rows[i]->key[j] : "", 1);
        for (int j = 0; j < d->n_cells; j++)
            field(k, col++, earshot__report_cell_str(r, &rows[i]->c[j], b, sizeof b), 0);
        for (int j = 0; j < nd; j++) {
            int v = earshot__report_derived(r, ti, rows[i], dn[j]);
            if (v == REPORT_NA)
                b[0] = '\0';
            else
                snprintf(b, sizeof b, "%d", v);
            field(k, col++, b, 0);
        }
        if (ti == T_CHANNELS) {
            earshot__report_channel_flag(r, rows[i], b, sizeof b);
            field(k, col++, b, 1);
        }
        end_line(k, 0);
    }
    free(rows);
    return EARSHOT_OK;
}

static int emit_quotes(earshot_report *r, sink *k)
{
    size_t n;
    const report_row **rows = earshot__report_rows(r, T_IDEAS, &n);
    if (!rows)
        return fail(r, EARSHOT_NOMEM, "out of memory");
    field(k, 0, "topic", 0);
    field(k, 1, "quote", 0);
    end_line(k, 2);
    for (size_t i = 0; i < n; i++) {
        if (!earshot__report_cell_visible(r, &rows[i]->c[0]))
            continue;
        for (size_t q = 0; q < rows[i]->n_quotes; q++) {
            field(k, 0, rows[i]->key[0], 1);
            field(k, 1, rows[i]->quotes[q].text, 1);
            end_line(k, 0);
        }
    }
    free(rows);
    return EARSHOT_OK;
}

static void rule_line(const char *s, void *u)
{
    sink *k = u;
    if (k->md) {
        fputs("- ", k->f);
        md_field(k->f, s);
    } else {
        csv_field(k->f, s, 1);
    }
    fputc('\n', k->f);
}

static void heading(sink *k, const char *id, const char *title)
{
    if (k->md)
        fprintf(k->f, "\n## %s\n\n", title);
    else
        fprintf(k->f, "%s\n", id);
}

/* Every table, then the quotes and the rules, into one stream. */
static int emit_all(earshot_report *r, sink *k)
{
    if (k->md) {
        fputs("# What customers told us\n\n", k->f);
        fprintf(k->f, "Period: %s%s%s. ", r->from[0] ? r->from : "no data",
                strcmp(r->from, r->to) ? " to " : "", strcmp(r->from, r->to) ? r->to : "");
        if (r->dp)
            fprintf(k->f, "Differential privacy, epsilon %g: figures are noisy counts of "
                          "sessions%s.\n", r->epsilon,
                    r->dp_seeded ? " (TEST SEED: not private)" : "");
        else
            fprintf(k->f, "Groups of fewer than %d sessions are suppressed.\n", r->min_group);
        fputs("\n## What to act on\n\n", k->f);
        const earshot_finding *fv;
        size_t nf = earshot__report_findings(r, &fv), shown = 0;
        const char *absent = earshot__report_findings_absent(r);
        if (absent[0]) {
            md_field(k->f, absent);
            fputc('\n', k->f);
        }
        for (size_t i = 0; i < nf; i++)
            if (fv[i].shown) {
                fprintf(k->f, "%zu. ", ++shown);
                md_field(k->f, fv[i].sentence);
                fputc('\n', k->f);
            }
        if (!absent[0] && !shown)
            fputs("Nothing passes the evidence threshold yet.\n", k->f);
        if (shown < nf) {
            fputs("\nNot enough evidence yet:\n\n", k->f);
            for (size_t i = 0; i < nf; i++)
                if (!fv[i].shown) {
                    fputs("- ", k->f);
                    md_field(k->f, fv[i].sentence);
                    fputc('\n', k->f);
                }
        }
        char basis[256];
        earshot__report_change_basis(r, basis, sizeof basis);
        if (basis[0])
            fprintf(k->f, "\n%s\n", basis);
    }
    for (int ti = 0; ti < N_TABLES; ti++) {
        heading(k, earshot__report_defs[ti].id, earshot__report_defs[ti].title);
        int rc = emit_table(r, k, ti);
        if (rc != EARSHOT_OK)
            return rc;
        if (!k->md)
            fputc('\n', k->f);
    }
    heading(k, "idea_quotes", "Ideas: example quotes");
    int rc = emit_quotes(r, k);
    if (rc != EARSHOT_OK)
        return rc;
    if (!k->md)
        fputc('\n', k->f);
    heading(k, "rules", "How this report protects customers");
    earshot__report_rules(r, rule_line, k);
    return EARSHOT_OK;
}

int earshot__report_write_md(earshot_report *r, const char *path)
{
    FILE *f = earshot__report_open(r, path);
    if (!f)
        return EARSHOT_IO;
    sink k = {f, 1};
    int rc = emit_all(r, &k);
    int wrc = earshot__report_close(r, f, path);
    return rc != EARSHOT_OK ? rc : wrc;
}

static int is_folder(const char *path)
{
    struct stat st;
    size_t n = strlen(path);
    return (n > 0 && path[n - 1] == '/') || (stat(path, &st) == 0 && S_ISDIR(st.st_mode));
}

int earshot__report_write_csv(earshot_report *r, const char *path)
{
    if (!is_folder(path)) {
        FILE *f = earshot__report_open(r, path);
        if (!f)
            return EARSHOT_IO;
        sink k = {f, 0};
        int rc = emit_all(r, &k);
        int wrc = earshot__report_close(r, f, path);
        return rc != EARSHOT_OK ? rc : wrc;
    }
    if (mkdir(path, 0700) != 0 && errno != EEXIST)
        return fail(r, EARSHOT_IO, "%s: %s", path, strerror(errno));
    for (int ti = 0; ti <= N_TABLES + 1; ti++) {
        const char *id = ti < N_TABLES ? earshot__report_defs[ti].id
                         : ti == N_TABLES ? "idea_quotes" : "rules";
        char file[4096];
        snprintf(file, sizeof file, "%s%s%s.csv", path, path[strlen(path) - 1] == '/' ? "" : "/",
                 id);
        FILE *f = fopen(file, "w");
        if (!f)
            return fail(r, EARSHOT_IO, "%s: %s", file, strerror(errno));
        sink k = {f, 0};
        int rc = EARSHOT_OK;
        if (ti < N_TABLES)
            rc = emit_table(r, &k, ti);
        else if (ti == N_TABLES)
            rc = emit_quotes(r, &k);
        else
            earshot__report_rules(r, rule_line, &k);
        int wrc = earshot__report_close(r, f, file);
        if (rc != EARSHOT_OK || wrc != EARSHOT_OK)
            return rc != EARSHOT_OK ? rc : wrc;
    }
    return EARSHOT_OK;
}
