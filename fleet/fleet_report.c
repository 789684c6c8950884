/* fleet_report.c - `earshot fleet-report --pg URL`: the chain's report,
 * summed in PostgreSQL, and `earshot sites import FILE --pg URL`.
 *
 * One report model: SQL adds up the stored figures into one report in
 * the JSON format `report merge` reads; the library loads it and merges
 * it (a merge of one) with --min-group, so suppression and rendering are
 * the library's own (HTML, JSON, CSV, Markdown). A separate command for
 * now: it becomes `earshot report --pg` once cli/main.c is split. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "commands.h"
#include "earshot.h"
#include "fleet.h"
#include "report.h"

static const char *const fleet_usage =
    "usage: earshot fleet-report --pg postgresql://... [--site S] [--region R]\n"
    "                            [--since YYYY-MM-DD] [--until YYYY-MM-DD]\n"
    "                            [--min-group K] [--format html|json|csv|md] [--out PATH]\n"
    "\n"
    "The fleet's report from what earshot collect stored: figures summed over\n"
    "kiosks and days in PostgreSQL, then suppressed under K (5) distinct\n"
    "sessions and written as `earshot report` writes (Markdown to stdout by\n"
    "default). --region needs sites imported with `earshot sites import`.\n";

static const char *const sql_select =
    "WITH sel AS (SELECT p.db_id, p.period FROM periods p LEFT JOIN sites s ON s.site = p.site"
    " WHERE ($1::text IS NULL OR p.site = $1) AND ($2::text IS NULL OR s.region = $2)"
    " AND ($3::date IS NULL OR p.period >= $3::date)"
    " AND ($4::date IS NULL OR p.period <= $4::date)) ";

static int fail_pg(PGresult *r)
{
    const char *m = PQresultErrorMessage(r);
    fprintf(stderr, "earshot fleet-report: PostgreSQL: %.*s\n", (int)strcspn(m, "\n"), m);
    PQclear(r);
    return 0;
}

static PGresult *query(PGconn *pg, const char *tail, const char *const *v)
{
    size_t n = strlen(sql_select) + strlen(tail) + 1;
    char *sql = malloc(n);
    if (!sql)
        return NULL;
    snprintf(sql, n, "%s%s", sql_select, tail);
    PGresult *r = PQexecParams(pg, sql, 4, NULL, v, NULL, NULL, 0);
    free(sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        fail_pg(r);
        return NULL;
    }
    return r;
}

static int def_index(const char *id)
{
    for (int i = 0; i < N_TABLES; i++)
        if (!strcmp(earshot__report_defs[i].id, id))
            return i;
    return -1;
}

/* The summed report as merge's JSON; NULL on failure (said). */
static json_t *fleet_json(PGconn *pg, const char *const *v)
{
    PGresult *h = query(pg, "SELECT count(*), count(DISTINCT timezone), min(timezone),"
                            " min(period_from), max(period_to),"
                            " CASE WHEN count(filter_since) = count(*) AND"
                            "  count(DISTINCT filter_since) = 1 THEN min(filter_since) END,"
                            " CASE WHEN count(filter_until) = count(*) AND"
                            "  count(DISTINCT filter_until) = 1 THEN min(filter_until) END"
                            " FROM periods JOIN sel USING (db_id, period)", v);
    if (!h)
        return NULL;
    if (atoi(PQgetvalue(h, 0, 0)) == 0 || atoi(PQgetvalue(h, 0, 1)) != 1) {
        fprintf(stderr, "earshot fleet-report: %s\n", atoi(PQgetvalue(h, 0, 0)) == 0
                ? "no kiosk reports match (collected with earshot collect?)"
                : "the kiosks' reports mix UTC and local days: they cannot be added up");
        PQclear(h);
        return NULL;
    }
#define OPT(i) (PQgetisnull(h, 0, i) ? NULL : PQgetvalue(h, 0, i))
    json_t *root = json_pack("{s:s,s:i,s:s,s:i,s:s,s:s,s:{s:s?,s:s?,s:n},s:{s:s?,s:s?}}",
                             "format", "earshot-report", "version", 1, "generator",
                             "earshot fleet-report", "min_group", 1, "time_unit", "day",
                             "timezone", PQgetvalue(h, 0, 2), "filter", "since", OPT(5),
                             "until", OPT(6), "channel", "period", "from", OPT(3), "to", OPT(4));
#undef OPT
    PQclear(h);
    json_t *src = json_array(), *sections = json_object(), *index = json_object();
    json_object_set_new(root, "sources", src);
    json_object_set_new(root, "sections", sections);
    for (int i = 0; i < N_TABLES; i++)
        json_object_set_new(sections, earshot__report_defs[i].id,
                            earshot__report_defs[i].n_keys ? json_array() : json_object());
    PGresult *r = query(pg, "SELECT DISTINCT db_id FROM sel ORDER BY 1", v);
    if (!r)
        goto fail;
    for (int i = 0; i < PQntuples(r); i++)
        json_array_append_new(src, json_string(PQgetvalue(r, i, 0)));
    PQclear(r);
    /* Merge's rule for a figure some input had suppressed (unknown): all
     * unknown stays unknown; otherwise the sum is a lower bound. */
    /* From the per-site rollup (the collector keeps it), filtered as sel
     * filters the kiosks' days. */
    r = query(pg, "SELECT tbl, key1, key2, cell, sum(n)::bigint, sum(sessions)::bigint,"
                  " sum(unknown) > 0, sum(unknown) = sum(inputs), sum(partial) > 0"
                  " FROM site_figures f LEFT JOIN sites s ON s.site = f.site"
                  " WHERE ($1::text IS NULL OR f.site = $1) AND ($2::text IS NULL OR s.region = $2)"
                  " AND ($3::date IS NULL OR f.period >= $3::date)"
                  " AND ($4::date IS NULL OR f.period <= $4::date)"
                  " GROUP BY tbl, key1, key2, cell HAVING sum(inputs) > 0"
                  " ORDER BY tbl, key1, key2", v);
    if (!r)
        goto fail;
    for (int i = 0; i < PQntuples(r); i++) {
        int ti = def_index(PQgetvalue(r, i, 0));
        if (ti < 0)
            continue;
        const report_table_def *d = &earshot__report_defs[ti];
        char id[1024];
        snprintf(id, sizeof id, "%s\x1f%s\x1f%s", d->id, PQgetvalue(r, i, 1),
                 PQgetvalue(r, i, 2));
        json_t *row = json_object_get(index, id);
        if (!row) {
            row = d->n_keys ? json_object() : json_object_get(sections, d->id);
            for (int k = 0; k < d->n_keys; k++)
                json_object_set_new(row, d->keys[k], json_string(PQgetvalue(r, i, 1 + k)));
            if (d->n_keys)
                json_array_append_new(json_object_get(sections, d->id), row);
            json_object_set(index, id, row);
        }
        int any_unknown = PQgetvalue(r, i, 6)[0] == 't', all_unknown = PQgetvalue(r, i, 7)[0] == 't';
        int partial = PQgetvalue(r, i, 8)[0] == 't';
        long long n = atoll(PQgetvalue(r, i, 4)), s = atoll(PQgetvalue(r, i, 5));
        json_t *cell;
        if (all_unknown || (any_unknown && !n && !s && !partial))
            cell = json_pack("{s:b}", "suppressed", 1);
        else {
            cell = json_pack("{s:I,s:I}", "n", (json_int_t)n, "sessions", (json_int_t)s);
            if (any_unknown || partial)
                json_object_set_new(cell, "at_least", json_true());
        }
        json_object_set_new(row, PQgetvalue(r, i, 3), cell);
    }
    PQclear(r);
    r = query(pg, "SELECT tbl, key1, key2, text, max(confidence) FROM quotes"
                  " JOIN sel USING (db_id, period) GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 5 DESC",
              v);
    if (!r)
        goto fail;
    for (int i = 0; i < PQntuples(r); i++) {
        char id[1024];
        snprintf(id, sizeof id, "%s\x1f%s\x1f%s", PQgetvalue(r, i, 0), PQgetvalue(r, i, 1),
                 PQgetvalue(r, i, 2));
        json_t *row = json_object_get(index, id);
        if (!row)
            continue;
        json_t *qs = json_object_get(row, "quotes");
        if (!qs)
            json_object_set_new(row, "quotes", qs = json_array());
        json_array_append_new(qs, json_pack("{s:s,s:f}", "text", PQgetvalue(r, i, 3),
                                            "confidence", atoi(PQgetvalue(r, i, 4)) / 1000.0));
    }
    PQclear(r);
    json_decref(index);
    return root;
fail:
    json_decref(index);
    json_decref(root);
    return NULL;
}

static int usage_error(const char *fmt, const char *a)
{
    fputs("earshot fleet-report: ", stderr);
    fprintf(stderr, fmt, a);
    fputs("\n(see earshot fleet-report --help)\n", stderr);
    return 2;
}

int earshot_cmd_fleet_report(int argc, char **argv)
{
    const char *pgurl = NULL, *out = "-", *format = "md", *v[4] = {NULL, NULL, NULL, NULL};
    int min_group = 5;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(fleet_usage, stdout);
            return 0;
        }
        static const char *const opts[] = {"--pg", "--site", "--region", "--since", "--until",
                                           "--min-group", "--format", "--out"};
        size_t o = 0;
        while (o < sizeof opts / sizeof *opts && strcmp(a, opts[o]))
            o++;
        if (o == sizeof opts / sizeof *opts)
            return usage_error("unexpected argument '%s'", a);
        if (i + 1 >= argc)
            return usage_error("option '%s' needs a value", a);
        const char *val = argv[++i];
        if (o == 0)
            pgurl = val;
        else if (o <= 4)
            v[o - 1] = val;
        else if (o == 5) {
            char *end;
            long k = strtol(val, &end, 10);
            if (*end || end == val || k < 1 || k > 1000000)
                return usage_error("--min-group needs a whole number >= 1, not '%s'", val);
            min_group = (int)k;
        } else if (o == 6)
            format = val;
        else
            out = val;
    }
    if (!pgurl)
        return usage_error("%s", "needs --pg URL");
    earshot_report_format fmt;
    if (!strcasecmp(format, "json"))
        fmt = EARSHOT_REPORT_JSON;
    else if (!strcasecmp(format, "html"))
        fmt = EARSHOT_REPORT_HTML;
    else if (!strcasecmp(format, "csv"))
        fmt = EARSHOT_REPORT_CSV;
    else if (!strcasecmp(format, "md") || !strcasecmp(format, "markdown"))
        fmt = EARSHOT_REPORT_MD;
    else
        return usage_error("--format is html, json, csv or md, not '%s'", format);
    PGconn *pg = earshot__fleet_connect("fleet-report", pgurl);
    if (!pg)
        return 1;
    json_t *root = fleet_json(pg, v);
    PQfinish(pg);
    if (!root)
        return 1;
    /* The library reads reports from files: a private temporary one. */
    const char *dir = getenv("TMPDIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/earshot-fleet-XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(path);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    int bad = !f || json_dumpf(root, f, JSON_COMPACT) != 0;
    if (f && fclose(f))
        bad = 1;
    json_decref(root);
    if (bad) {
        fprintf(stderr, "earshot fleet-report: cannot write a temporary file in %s\n",
                dir && *dir ? dir : "/tmp");
        if (fd >= 0)
            unlink(path);
        return 1;
    }
    earshot_report *sum = NULL, *rep = NULL;
    int rc = earshot_report_load(path, &sum);
    unlink(path);
    if (rc == EARSHOT_OK) {
        const earshot_report *in[1] = {sum};
        rc = earshot_report_merge(in, 1, min_group, &rep);
        if (rc == EARSHOT_OK)
            rc = earshot_report_write(rep, fmt, out);
    }
    if (rc != EARSHOT_OK)
        fprintf(stderr, "earshot fleet-report: %s\n",
                earshot_report_errmsg(rep ? rep : sum));
    earshot_report_free(rep);
    earshot_report_free(sum);
    return rc == EARSHOT_OK ? 0 : 1;
}

int earshot_cmd_sites(int argc, char **argv)
{
    const char *pgurl = NULL, *file = NULL;
    if (argc < 2 || strcmp(argv[1], "import")) {
        fputs("usage: earshot sites import FILE.csv --pg postgresql://...\n"
              "Loads site,region lines (an optional header) for fleet-report --region.\n",
              argc >= 2 && !strcmp(argv[1], "--help") ? stdout : stderr);
        return argc >= 2 && !strcmp(argv[1], "--help") ? 0 : 2;
    }
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--pg") && i + 1 < argc)
            pgurl = argv[++i];
        else if (argv[i][0] != '-' && !file)
            file = argv[i];
        else {
            fprintf(stderr, "earshot sites: unexpected argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (!pgurl || !file) {
        fprintf(stderr, "earshot sites: import needs FILE and --pg URL\n");
        return 2;
    }
    PGconn *pg = earshot__fleet_connect("sites", pgurl);
    if (!pg)
        return 1;
    int rc = earshot__fleet_sites_import("sites", pg, file);
    PQfinish(pg);
    return rc;
}
