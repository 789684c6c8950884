/* collect.c - `earshot collect`: the head office's collector. Subscribes
 * to the kiosks' daily reports (earshot/fleet/<site>/<db-id>/<day>,
 * QoS 1, a persistent session) and writes them into PostgreSQL, one
 * transaction per batch of the reports waiting on the socket.
 *
 * Nothing is lost or counted twice across a crash because a report is
 * acknowledged to the broker only after its transaction committed: the
 * client is put in libmosquitto's "threaded" mode, in which the PUBACK is
 * queued while on_message runs, and our own loop (pump) commits the batch
 * before it lets libmosquitto write. A SIGKILL before the commit leaves
 * nothing; the broker resends (the session is persistent). A SIGKILL between the commit and
 * the PUBACK makes the broker resend a report that is stored already: its
 * hash matches and nothing changes. A database error stops the collector
 * at once, before that report's PUBACK leaves. */
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "fleet.h"
#include "report.h"

static const char *const collect_usage =
    "usage: earshot collect --mqtt mqtt://HOST[:PORT] --pg postgresql://...\n"
    "                       [--client-id ID] [--shared] [--max-bytes N]\n"
    "                       [--exit-idle S] [--verbose]\n"
    "\n"
    "Collects kiosks' daily reports (earshot publish) from an MQTT broker into\n"
    "PostgreSQL. Subscribes to earshot/fleet/# with QoS 1 in a persistent\n"
    "session (client id --client-id, default earshot-collect), so reports sent\n"
    "while the collector is down wait at the broker. --shared joins the shared\n"
    "subscription $share/earshot/earshot/fleet/#: several collectors (each its\n"
    "own --client-id) split the load. A report is stored once: the same report\n"
    "again changes nothing, a kiosk's corrected day replaces the old one.\n"
    "Malformed reports and reports over --max-bytes (4194304) are logged and\n"
    "skipped. --exit-idle S stops after S seconds without a report. The schema\n"
    "is created and migrated here (fleet/README.md).\n";

#define TOPIC_PREFIX "earshot/fleet/"

typedef struct collector {
    PGconn *pg;
    size_t max_bytes;
    int verbose;
    long stored, replaced, duplicates, skipped, batches;
    size_t seq;
    time_t last;
} collector;

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

/* ------------------------------------------------------------------ */
/* validating a report                                                  */
/* ------------------------------------------------------------------ */

typedef struct parsed {
    char site[65], db_id[65], day[11];
    json_t *figures, *quotes; /* arrays of records for jsonb_to_recordset */
    const char *timezone, *generator, *since, *until, *channel, *from, *to;
    long long min_group;
} parsed;

static int name_ok(const char *s, size_t n, int hex)
{
    if (n == 0 || n > 64)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (hex ? !isxdigit(c) : !(isalnum(c) || c == '-' || c == '_' || c == '.'))
            return 0;
    }
    return 1;
}

static int day_ok(const char *s)
{
    static const char shape[] = "dddd-dd-dd";
    if (strlen(s) != 10)
        return 0;
    for (int i = 0; i < 10; i++)
        if (shape[i] == 'd' ? !isdigit((unsigned char)s[i]) : s[i] != '-')
            return 0;
    int m = atoi(s + 5), d = atoi(s + 8);
    return m >= 1 && m <= 12 && d >= 1 && d <= 31;
}

static int topic_parse(const char *topic, parsed *p)
{
    if (strncmp(topic, TOPIC_PREFIX, strlen(TOPIC_PREFIX)))
        return 0;
    const char *a = topic + strlen(TOPIC_PREFIX), *b = strchr(a, '/'), *c;
    if (!b || !(c = strchr(b + 1, '/')) || strchr(c + 1, '/'))
        return 0;
    if (!name_ok(a, (size_t)(b - a), 0) || !name_ok(b + 1, (size_t)(c - b - 1), 1) ||
        !day_ok(c + 1))
        return 0;
    snprintf(p->site, sizeof p->site, "%.*s", (int)(b - a), a);
    snprintf(p->db_id, sizeof p->db_id, "%.*s", (int)(c - b - 1), b + 1);
    snprintf(p->day, sizeof p->day, "%s", c + 1);
    return 1;
}

/* A string member, or NULL (absent or null); *bad set if another type. */
static const char *opt_string(json_t *o, const char *name, int *bad)
{
    json_t *v = json_object_get(o, name);
    if (!v || json_is_null(v))
        return NULL;
    if (!json_is_string(v) || json_string_length(v) > 64) {
        *bad = 1;
        return NULL;
    }
    return json_string_value(v);
}

/* Limits against a hostile or broken kiosk: more than any real day. */
enum { MAX_ROWS = 200000, MAX_KEY = 255, MAX_QUOTE = 2000 };

/* seen: the table's row keys so far. A row twice in one table is refused
 * here: PostgreSQL's primary key would refuse it at insert, stopping the
 * collector, and the broker would hand the same message back for ever. */
static int add_row(json_t *row, int ti, parsed *p, json_t *seen, char *why, size_t whylen)
{
    const report_table_def *d = &earshot__report_defs[ti];
    if (!json_is_object(row)) {
        snprintf(why, whylen, "sections.%s: a row is not an object", d->id);
        return 0;
    }
    char keys[REPORT_MAX_KEYS][MAX_KEY + 1] = {"", ""};
    for (int k = 0; k < d->n_keys; k++) {
        json_t *v = json_object_get(row, d->keys[k]);
        if (json_is_string(v) && json_string_length(v) <= MAX_KEY)
            snprintf(keys[k], sizeof keys[k], "%s", json_string_value(v));
        else if (json_is_integer(v))
            snprintf(keys[k], sizeof keys[k], "%lld", (long long)json_integer_value(v));
        else {
            snprintf(why, whylen, "sections.%s: a row lacks its \"%s\"", d->id, d->keys[k]);
            return 0;
        }
    }
    if (seen) {
        char key[2 * MAX_KEY + 2];
        snprintf(key, sizeof key, "%s\x1f%s", keys[0], keys[1]);
        if (json_object_get(seen, key)) {
            snprintf(why, whylen, "sections.%s: the row \"%.60s%s%.60s\" twice", d->id, keys[0],
                     keys[1][0] ? "/" : "", keys[1]);
            return 0;
        }
        if (json_object_set_new(seen, key, json_true())) {
            snprintf(why, whylen, "out of memory");
            return 0;
        }
    }
    for (int j = 0; j < d->n_cells; j++) {
        json_t *c = json_object_get(row, d->cells[j]);
        long long n = 0, s = 0;
        int flags = 0;
        if (!json_is_object(c)) {
            snprintf(why, whylen, "sections.%s: a row lacks \"%s\"", d->id, d->cells[j]);
            return 0;
        }
        if (json_is_true(json_object_get(c, "suppressed"))) {
            flags = CELL_UNKNOWN;
        } else {
            json_t *jn = json_object_get(c, "n"), *js = json_object_get(c, "sessions");
            if (!json_is_integer(jn) || !json_is_integer(js) || json_integer_value(jn) < 0 ||
                json_integer_value(js) < 0 || json_integer_value(jn) > (1LL << 40) ||
                json_integer_value(js) > (1LL << 40)) {
                snprintf(why, whylen, "sections.%s.%s: not whole numbers n and sessions",
                         d->id, d->cells[j]);
                return 0;
            }
            n = json_integer_value(jn);
            s = json_integer_value(js);
            if (json_is_true(json_object_get(c, "at_least")))
                flags = CELL_PARTIAL;
        }
        json_t *rec = json_pack("{s:s,s:s,s:s,s:s,s:I,s:I,s:i}", "t", d->id, "a", keys[0], "b",
                                keys[1], "c", d->cells[j], "n", (json_int_t)n, "s",
                                (json_int_t)s, "f", flags);
        if (!rec || json_array_append_new(p->figures, rec)) {
            snprintf(why, whylen, "out of memory");
            return 0;
        }
    }
    json_t *qs = json_object_get(row, "quotes"), *q;
    size_t i;
    if (qs && !json_is_array(qs)) {
        snprintf(why, whylen, "sections.%s: quotes must be an array", d->id);
        return 0;
    }
    json_array_foreach(qs, i, q) {
        json_t *t = json_object_get(q, "text"), *c = json_object_get(q, "confidence");
        if (!json_is_string(t) || json_string_length(t) > MAX_QUOTE || !json_is_number(c) ||
            json_number_value(c) < 0 || json_number_value(c) > 1) {
            snprintf(why, whylen, "sections.%s: a quote needs text and a confidence", d->id);
            return 0;
        }
        json_t *rec = json_pack("{s:s,s:s,s:s,s:O,s:i}", "t", d->id, "a", keys[0], "b", keys[1],
                                "q", t, "c", (int)(json_number_value(c) * 1000 + 0.5));
        if (!rec || json_array_append_new(p->quotes, rec)) {
            snprintf(why, whylen, "out of memory");
            return 0;
        }
    }
    return 1;
}

/* Checks a report against its topic and flattens it into p. 0 with why
 * filled in: skip it. */
static int report_parse(json_t *root, parsed *p, char *why, size_t whylen)
{
    json_t *v;
    int bad = 0;
    if (!json_is_object(root) || !json_is_string(v = json_object_get(root, "format")) ||
        strcmp(json_string_value(v), "earshot-report")) {
        snprintf(why, whylen, "not an Earshot report (no \"format\": \"earshot-report\")");
        return 0;
    }
    if (json_integer_value(json_object_get(root, "version")) != 1) {
        snprintf(why, whylen, "report version is not 1");
        return 0;
    }
    if (json_object_get(root, "privacy")) {
        snprintf(why, whylen, "a differentially private report cannot be added up");
        return 0;
    }
    v = json_object_get(root, "min_group");
    if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 1000000) {
        snprintf(why, whylen, "min_group must be a whole number >= 1");
        return 0;
    }
    p->min_group = json_integer_value(v);
    const char *unit = opt_string(root, "time_unit", &bad);
    if (!unit || strcmp(unit, "day")) {
        snprintf(why, whylen, "time_unit must be day");
        return 0;
    }
    p->timezone = opt_string(root, "timezone", &bad);
    if (!p->timezone || (strcmp(p->timezone, "UTC") && strcmp(p->timezone, "local"))) {
        snprintf(why, whylen, "timezone must be UTC or local");
        return 0;
    }
    p->generator = opt_string(root, "generator", &bad);
    json_t *filter = json_object_get(root, "filter"), *period = json_object_get(root, "period");
    p->since = opt_string(filter, "since", &bad);
    p->until = opt_string(filter, "until", &bad);
    p->channel = opt_string(filter, "channel", &bad);
    p->from = opt_string(period, "from", &bad);
    p->to = opt_string(period, "to", &bad);
    if (bad || !json_is_object(filter) || !json_is_object(period)) {
        snprintf(why, whylen, "filter and period must be objects of strings");
        return 0;
    }
    /* One closed day of the whole kiosk, as `earshot publish` sends. */
    if (!p->since || !p->until || strcmp(p->since, p->day) || strcmp(p->until, p->day) ||
        p->channel) {
        snprintf(why, whylen, "the report is not of day %s (filter since/until must be it, "
                 "no channel)", p->day);
        return 0;
    }
    json_t *src = json_object_get(root, "sources");
    if (!json_is_array(src) || json_array_size(src) != 1 ||
        !json_is_string(json_array_get(src, 0)) ||
        strcmp(json_string_value(json_array_get(src, 0)), p->db_id)) {
        snprintf(why, whylen, "sources must be exactly the topic's database %s", p->db_id);
        return 0;
    }
    json_t *sections = json_object_get(root, "sections");
    if (!json_is_object(sections)) {
        snprintf(why, whylen, "no \"sections\" object");
        return 0;
    }
    size_t rows = 0;
    for (int ti = 0; ti < N_TABLES; ti++) {
        const report_table_def *d = &earshot__report_defs[ti];
        json_t *sec = json_object_get(sections, d->id), *row;
        if (!sec) {
            snprintf(why, whylen, "sections.%s is missing", d->id);
            return 0;
        }
        if (d->n_keys == 0) {
            if (!json_is_object(sec)) {
                snprintf(why, whylen, "sections.%s must be an object", d->id);
                return 0;
            }
            if (json_object_size(sec) && !add_row(sec, ti, p, NULL, why, whylen))
                return 0;
            continue;
        }
        if (!json_is_array(sec)) {
            snprintf(why, whylen, "sections.%s must be an array", d->id);
            return 0;
        }
        size_t i;
        json_t *seen = json_object();
        if (!seen) {
            snprintf(why, whylen, "out of memory");
            return 0;
        }
        json_array_foreach(sec, i, row) {
            if (++rows > MAX_ROWS) {
                snprintf(why, whylen, "more than %d rows", MAX_ROWS);
                json_decref(seen);
                return 0;
            }
            if (!add_row(row, ti, p, seen, why, whylen)) {
                json_decref(seen);
                return 0;
            }
        }
        json_decref(seen);
    }
    return 1;
}

/* ------------------------------------------------------------------ */
/* storing it                                                           */
/* ------------------------------------------------------------------ */

static void fatal_db(collector *c, const char *what, PGresult *r)
{
    const char *m = r ? PQresultErrorMessage(r) : PQerrorMessage(c->pg);
    fprintf(stderr, "earshot collect: PostgreSQL: %s: %.*s; stopping before the report is "
                    "acknowledged (the broker keeps it)\n", what, (int)strcspn(m, "\n"), m);
    /* Straight out: the PUBACK queued for this report must never leave. */
    _exit(1);
}

static PGresult *run(collector *c, const char *what, const char *sql, int n,
                     const char *const *vals, const int *lens, const int *fmts,
                     ExecStatusType want)
{
    /* Each statement with parameters is prepared once, on first use: a
     * report's few rows cost less than parsing and planning the statement
     * again (the sample day's 17 rows: half the time per report). */
    static const char *prepared[8];
    static int nprep;
    PGresult *r;
    if (n == 0) {
        r = PQexec(c->pg, sql);
    } else {
        int i = 0;
        while (i < nprep && prepared[i] != sql)
            i++;
        char name[16];
        snprintf(name, sizeof name, "s%d", i);
        if (i == nprep) {
            if (nprep == (int)(sizeof prepared / sizeof prepared[0])) {
                fprintf(stderr, "earshot collect: internal error: too many statements\n");
                _exit(1);
            }
            r = PQprepare(c->pg, name, sql, n, NULL);
            if (PQresultStatus(r) != PGRES_COMMAND_OK)
                fatal_db(c, what, r);
            PQclear(r);
            prepared[nprep++] = sql;
        }
        r = PQexecPrepared(c->pg, name, n, vals, lens, fmts, 0);
    }
    if (PQresultStatus(r) != want)
        fatal_db(c, what, r);
    return r;
}

/* Stores one report inside the batch's transaction: 1 stored, 2 replaced
 * an older version, 3 unchanged (same report). */
static int store(collector *c, const parsed *p, const void *payload, int len)
{
    char *figs = json_dumps(p->figures, JSON_COMPACT);
    char *quotes = json_dumps(p->quotes, JSON_COMPACT);
    char mg[24];
    if (!figs || !quotes) {
        fprintf(stderr, "earshot collect: out of memory\n");
        _exit(1);
    }
    snprintf(mg, sizeof mg, "%lld", p->min_group);
    /* The upsert locks the day's row, so two collectors of a shared
     * subscription handed the same day serialise here; each batch takes
     * its rows in (db_id, period) order, so they never deadlock. */
    const char *v[13] = {p->db_id, p->day, p->site, payload, mg, p->timezone, p->generator,
                         p->since, p->until, p->channel, p->from, p->to, NULL};
    int lens[13] = {0, 0, 0, len};
    int fmts[13] = {0, 0, 0, 1};
    /* old: the day's site before this report (for the site rollup's
     * subtraction when a corrected day moves a kiosk to another site); read
     * in the statement's snapshot, before its upsert. */
    PGresult *r = run(c, "upsert the day",
                      "WITH old AS (SELECT site FROM periods WHERE db_id = $1 AND"
                      " period = $2::date)"
                      " INSERT INTO periods (db_id, period, site, hash, min_group, timezone,"
                      " generator, filter_since, filter_until, filter_channel, period_from,"
                      " period_to)"
                      " VALUES ($1, $2::date, $3, encode(sha256($4::bytea), 'hex'), $5::integer,"
                      " $6, $7, $8, $9, $10, $11, $12)"
                      " ON CONFLICT (db_id, period) DO UPDATE SET site = EXCLUDED.site,"
                      " hash = EXCLUDED.hash, min_group = EXCLUDED.min_group,"
                      " timezone = EXCLUDED.timezone, generator = EXCLUDED.generator,"
                      " filter_since = EXCLUDED.filter_since,"
                      " filter_until = EXCLUDED.filter_until,"
                      " filter_channel = EXCLUDED.filter_channel,"
                      " period_from = EXCLUDED.period_from, period_to = EXCLUDED.period_to,"
                      " received_at = now()"
                      " WHERE periods.hash <> EXCLUDED.hash"
                      " RETURNING (xmax = 0), (SELECT site FROM old)",
                      12, v, lens, fmts, PGRES_TUPLES_OK);
    int outcome;
    if (PQntuples(r) == 0) {
        outcome = 3; /* the same report again: nothing to do */
    } else {
        outcome = !strcmp(PQgetvalue(r, 0, 0), "t") ? 1 : 2;
        if (outcome == 2) {
            /* The old figures leave the site rollup, then the tables. */
            const char *ov[3] = {p->db_id, p->day, PQgetvalue(r, 0, 1)};
            PQclear(run(c, "drop the old day",
                        "INSERT INTO batch_delta SELECT $3, period, tbl, key1, key2, cell, -n,"
                        " -sessions, -1, -(flags & 1), -((flags >> 1) & 1) FROM figures"
                        " WHERE db_id = $1 AND period = $2::date", 3, ov,
                        NULL, NULL, PGRES_COMMAND_OK));
            PQclear(run(c, "drop the old day",
                        "DELETE FROM figures WHERE db_id = $1 AND period = $2::date", 2, v,
                        NULL, NULL, PGRES_COMMAND_OK));
            PQclear(run(c, "drop the old day",
                        "DELETE FROM quotes WHERE db_id = $1 AND period = $2::date", 2, v,
                        NULL, NULL, PGRES_COMMAND_OK));
        }
        /* The report's figures, and the same rows for the site rollup
         * (applied once per batch, in flush()): one parse of the JSON. */
        const char *fv[4] = {p->db_id, p->day, figs, p->site};
        PQclear(run(c, "insert figures",
                    "WITH x AS (SELECT * FROM jsonb_to_recordset($3::jsonb)"
                    " AS x(t text, a text, b text, c text, n bigint, s bigint, f smallint)),"
                    " ins AS (INSERT INTO figures (db_id, period, tbl, key1, key2, cell, n,"
                    " sessions, flags) SELECT $1, $2::date, t, a, b, c, n, s, f FROM x)"
                    " INSERT INTO batch_delta SELECT $4, $2::date, t, a, b, c, n, s, 1, f & 1,"
                    " (f >> 1) & 1 FROM x",
                    4, fv, NULL, NULL, PGRES_COMMAND_OK));
        if (json_array_size(p->quotes)) {
            fv[2] = quotes;
            PQclear(run(c, "insert quotes",
                        "INSERT INTO quotes (db_id, period, tbl, key1, key2, text, confidence)"
                        " SELECT $1, $2::date, t, a, b, q, c FROM jsonb_to_recordset($3::jsonb)"
                        " AS x(t text, a text, b text, q text, c integer)",
                        3, fv, NULL, NULL, PGRES_COMMAND_OK));
        }
    }
    PQclear(r);
    free(figs);
    free(quotes);
    return outcome;
}

/* A batch: the reports read from the socket in one burst, stored in one
 * transaction. One COMMIT (one WAL flush) per batch instead of per report
 * is what lets one collector keep up with a chain; the acknowledgements
 * of the whole batch leave only after that COMMIT (see pump()). */
#define BATCH_MAX 256
#define BATCH_BYTES (32u << 20)

typedef struct pending {
    parsed p;
    json_t *root; /* owns the strings p points into */
    void *payload;
    int len;
    size_t seq;
    char topic[160];
} pending;

static pending batch[BATCH_MAX];
static size_t batch_n, batch_bytes;

static int pending_cmp(const void *a, const void *b)
{
    const pending *x = a, *y = b;
    int d = strcmp(x->p.db_id, y->p.db_id);
    if (!d)
        d = strcmp(x->p.day, y->p.day);
    /* The same day twice in one batch: in arrival order, the later wins. */
    return d ? d : (x->seq > y->seq) - (x->seq < y->seq);
}

static void flush(collector *c)
{
    if (!batch_n)
        return;
    qsort(batch, batch_n, sizeof batch[0], pending_cmp);
    PQclear(run(c, "begin", "BEGIN", 0, NULL, NULL, NULL, PGRES_COMMAND_OK));
    int outcome[BATCH_MAX];
    for (size_t i = 0; i < batch_n; i++)
        outcome[i] = store(c, &batch[i].p, batch[i].payload, batch[i].len);
    /* The batch's figures into the per-site, per-day rollup the fleet
     * report reads: summed first, then each rollup row updated once and in
     * key order, so collectors sharing the subscription never deadlock on
     * them. A row no report counts any more goes. */
    PQclear(run(c, "update the site rollup",
                "INSERT INTO site_figures SELECT site, period, tbl, key1, key2, cell, sum(n),"
                " sum(sessions), sum(inputs), sum(unknown), sum(partial) FROM batch_delta"
                " GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1, 2, 3, 4, 5, 6"
                " ON CONFLICT (site, period, tbl, key1, key2, cell) DO UPDATE SET"
                " n = site_figures.n + EXCLUDED.n,"
                " sessions = site_figures.sessions + EXCLUDED.sessions,"
                " inputs = site_figures.inputs + EXCLUDED.inputs,"
                " unknown = site_figures.unknown + EXCLUDED.unknown,"
                " partial = site_figures.partial + EXCLUDED.partial",
                0, NULL, NULL, NULL, PGRES_COMMAND_OK));
    PQclear(run(c, "update the site rollup",
                "DELETE FROM site_figures r USING (SELECT DISTINCT site, period FROM batch_delta)"
                " d WHERE r.site = d.site AND r.period = d.period AND r.inputs = 0",
                0, NULL, NULL, NULL, PGRES_COMMAND_OK));
    PQclear(run(c, "commit", "COMMIT", 0, NULL, NULL, NULL, PGRES_COMMAND_OK));
    for (size_t i = 0; i < batch_n; i++) {
        pending *e = &batch[i];
        int o = outcome[i];
        if (o == 1)
            c->stored++;
        else if (o == 2)
            c->replaced++;
        else
            c->duplicates++;
        if (c->verbose)
            fprintf(stderr, "earshot collect: %s: %s\n", e->topic,
                    o == 1 ? "stored" : o == 2 ? "replaced the day's earlier report"
                                               : "unchanged (already stored)");
        json_decref(e->p.figures);
        json_decref(e->p.quotes);
        json_decref(e->root);
        free(e->payload);
    }
    c->batches++;
    batch_n = batch_bytes = 0;
}

static void on_message(struct mosquitto *mq, void *user, const struct mosquitto_message *m)
{
    (void)mq;
    collector *c = user;
    c->last = time(NULL);
    pending *e = &batch[batch_n];
    memset(e, 0, sizeof *e);
    parsed *p = &e->p;
    char why[256] = "";
    if (!topic_parse(m->topic, p)) {
        fprintf(stderr, "earshot collect: %.200s: skipped: the topic is not "
                        "earshot/fleet/<site>/<db-id>/<YYYY-MM-DD>\n", m->topic);
        c->skipped++;
        return;
    }
    if ((size_t)m->payloadlen > c->max_bytes) {
        fprintf(stderr, "earshot collect: %s: skipped: %d bytes, over --max-bytes %zu\n",
                m->topic, m->payloadlen, c->max_bytes);
        c->skipped++;
        return;
    }
    json_error_t err;
    e->root = json_loadb(m->payload, (size_t)m->payloadlen, JSON_REJECT_DUPLICATES, &err);
    if (!e->root) {
        fprintf(stderr, "earshot collect: %s: skipped: not JSON: %d:%d: %s\n", m->topic,
                err.line, err.column, err.text);
        c->skipped++;
        return;
    }
    p->figures = json_array();
    p->quotes = json_array();
    e->payload = malloc(m->payloadlen ? (size_t)m->payloadlen : 1);
    if (!p->figures || !p->quotes || !e->payload || !report_parse(e->root, p, why, sizeof why)) {
        fprintf(stderr, "earshot collect: %s: skipped: %s\n", m->topic,
                why[0] ? why : "out of memory");
        c->skipped++;
        json_decref(p->figures);
        json_decref(p->quotes);
        json_decref(e->root);
        free(e->payload);
        return;
    }
    memcpy(e->payload, m->payload, (size_t)m->payloadlen);
    e->len = m->payloadlen;
    e->seq = c->seq++;
    snprintf(e->topic, sizeof e->topic, "%s", m->topic);
    batch_n++;
    batch_bytes += (size_t)m->payloadlen;
}

/* One turn of the MQTT loop, in place of mosquitto_loop(), which would
 * write the queued PUBACKs before we commit. Read every message already
 * waiting on the socket (up to a batch), COMMIT them, and only then write:
 * in threaded mode libmosquitto queues each PUBACK while reading and sends
 * nothing until mosquitto_loop_write(). */
static int pump(struct mosquitto *mq, collector *c, int timeout_ms)
{
    int fd = mosquitto_socket(mq);
    if (fd < 0)
        return MOSQ_ERR_NO_CONN;
    struct pollfd pf = {.fd = fd, .events = POLLIN | (mosquitto_want_write(mq) ? POLLOUT : 0)};
    int pr = poll(&pf, 1, timeout_ms);
    if (pr < 0 && errno != EINTR)
        return MOSQ_ERR_ERRNO;
    int rc = MOSQ_ERR_SUCCESS;
    if (pr > 0 && (pf.revents & (POLLIN | POLLHUP | POLLERR))) {
        for (;;) {
            rc = mosquitto_loop_read(mq, 1);
            if (rc != MOSQ_ERR_SUCCESS || batch_n == BATCH_MAX || batch_bytes >= BATCH_BYTES)
                break;
            struct pollfd more = {.fd = fd, .events = POLLIN};
            if (poll(&more, 1, 0) <= 0)
                break;
        }
    }
    /* Whatever was read is committed, even when the connection broke: its
     * PUBACKs are lost with it and the broker resends; the hashes match. */
    flush(c);
    if (rc != MOSQ_ERR_SUCCESS)
        return rc;
    if (mosquitto_want_write(mq))
        rc = mosquitto_loop_write(mq, 1);
    if (rc == MOSQ_ERR_SUCCESS)
        rc = mosquitto_loop_misc(mq);
    return rc;
}

/* ------------------------------------------------------------------ */
/* the broker                                                           */
/* ------------------------------------------------------------------ */

static const char *subscription;

static void on_connect(struct mosquitto *mq, void *user, int rc)
{
    (void)user;
    if (rc) {
        fprintf(stderr, "earshot collect: the broker refused the connection: %s\n",
                mosquitto_reason_string(rc));
        return;
    }
    int src = mosquitto_subscribe(mq, NULL, subscription, 1);
    if (src != MOSQ_ERR_SUCCESS)
        fprintf(stderr, "earshot collect: cannot subscribe: %s\n", mosquitto_strerror(src));
}

static void on_subscribe(struct mosquitto *mq, void *user, int mid, int n, const int *qos)
{
    (void)mq;
    (void)user;
    (void)mid;
    if (n < 1 || qos[0] > 2)
        fprintf(stderr, "earshot collect: the broker refused the subscription to %s\n",
                subscription);
    else
        fprintf(stderr, "earshot collect: subscribed to %s (QoS %d)\n", subscription, qos[0]);
}

static int parse_mqtt_url(const char *url, char *host, size_t hostlen, int *port)
{
    const char *p = url;
    if (!strncmp(p, "mqtt://", 7))
        p += 7;
    else if (strstr(p, "://"))
        return 0;
    const char *colon = strrchr(p, ':');
    size_t n = colon ? (size_t)(colon - p) : strlen(p);
    if (n == 0 || n >= hostlen)
        return 0;
    memcpy(host, p, n);
    host[n] = '\0';
    *port = 1883;
    if (colon) {
        char *end;
        long v = strtol(colon + 1, &end, 10);
        if (*end || v < 1 || v > 65535)
            return 0;
        *port = (int)v;
    }
    return 1;
}

static int usage_error(const char *fmt, const char *a)
{
    fputs("earshot collect: ", stderr);
    fprintf(stderr, fmt, a);
    fputs("\n(see earshot collect --help)\n", stderr);
    return 2;
}

int earshot_cmd_collect(int argc, char **argv)
{
    const char *mqtt = NULL, *pgurl = NULL, *client_id = "earshot-collect";
    long max_bytes = 4L << 20, exit_idle = 0;
    int shared = 0, verbose = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(collect_usage, stdout);
            return 0;
        } else if (!strcmp(a, "--shared")) {
            shared = 1;
        } else if (!strcmp(a, "--verbose")) {
            verbose = 1;
        } else if (!strcmp(a, "--mqtt") || !strcmp(a, "--pg") || !strcmp(a, "--client-id") ||
                   !strcmp(a, "--max-bytes") || !strcmp(a, "--exit-idle")) {
            if (i + 1 >= argc)
                return usage_error("option '%s' needs a value", a);
            const char *v = argv[++i];
            if (!strcmp(a, "--mqtt"))
                mqtt = v;
            else if (!strcmp(a, "--pg"))
                pgurl = v;
            else if (!strcmp(a, "--client-id"))
                client_id = v;
            else {
                char *end;
                long n = strtol(v, &end, 10);
                if (*end || end == v || n < 1 || n > (1L << 30))
                    return usage_error("%s needs a whole number >= 1", a);
                if (!strcmp(a, "--max-bytes"))
                    max_bytes = n;
                else
                    exit_idle = n;
            }
        } else {
            return usage_error("unexpected argument '%s'", a);
        }
    }
    if (!mqtt || !pgurl)
        return usage_error("%s", "needs --mqtt URL and --pg URL");
    char host[256];
    int port;
    if (!parse_mqtt_url(mqtt, host, sizeof host, &port))
        return usage_error("--mqtt is mqtt://HOST[:PORT], not '%s'", mqtt);
    if (!*client_id || strlen(client_id) > 64)
        return usage_error("%s", "--client-id needs 1 to 64 characters");
    subscription = shared ? "$share/earshot/" TOPIC_PREFIX "#" : TOPIC_PREFIX "#";

    collector c = {.max_bytes = (size_t)max_bytes, .verbose = verbose, .last = time(NULL)};
    if (!(c.pg = earshot__fleet_connect("collect", pgurl)))
        return 1;
    /* A batch's contributions to the site rollup, emptied at each commit. */
    if (!earshot__fleet_exec("collect", c.pg,
                             "CREATE TEMP TABLE batch_delta (site text, period date, tbl text,"
                             " key1 text, key2 text, cell text, n bigint, sessions bigint,"
                             " inputs integer, unknown integer, partial integer)"
                             " ON COMMIT DELETE ROWS")) {
        PQfinish(c.pg);
        return 1;
    }

    mosquitto_lib_init();
    /* clean_session false: the broker keeps the subscription and every
     * unacknowledged report while we are away. */
    struct mosquitto *mq = mosquitto_new(client_id, false, &c);
    if (!mq) {
        fprintf(stderr, "earshot collect: cannot create the MQTT client: %s\n", strerror(errno));
        PQfinish(c.pg);
        mosquitto_lib_cleanup();
        return 1;
    }
    /* MQTT 5: shared subscriptions, and a session kept across
     * disconnections for as long as the broker allows. */
    mosquitto_int_option(mq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
    /* Acknowledge only after commit: see the top of this file. */
    mosquitto_threaded_set(mq, true);
    mosquitto_connect_callback_set(mq, on_connect);
    mosquitto_subscribe_callback_set(mq, on_subscribe);
    mosquitto_message_callback_set(mq, on_message);
    mosquitto_property *props = NULL;
    mosquitto_property_add_int32(&props, MQTT_PROP_SESSION_EXPIRY_INTERVAL, 0xFFFFFFFFu);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    int rc = mosquitto_connect_bind_v5(mq, host, port, 30, NULL, props);
    if (rc != MOSQ_ERR_SUCCESS) {
        fprintf(stderr, "earshot collect: cannot connect to %s:%d: %s\n", host, port,
                rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
        mosquitto_property_free_all(&props);
        mosquitto_destroy(mq);
        mosquitto_lib_cleanup();
        PQfinish(c.pg);
        return 1;
    }
    int down = 0;
    while (!stop_flag) {
        rc = pump(mq, &c, 500);
        if (rc != MOSQ_ERR_SUCCESS && !stop_flag) {
            if (!down)
                fprintf(stderr, "earshot collect: lost the broker (%s); reconnecting\n",
                        rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
            down = 1;
            sleep(1);
            if (mosquitto_reconnect(mq) == MOSQ_ERR_SUCCESS)
                down = 0;
        }
        if (exit_idle && time(NULL) - c.last >= exit_idle)
            break;
    }
    /* Send the acknowledgements of what was committed, then leave; the
     * session stays at the broker. */
    for (int i = 0; i < 3; i++)
        pump(mq, &c, 50);
    mosquitto_disconnect(mq);
    pump(mq, &c, 50);
    fprintf(stderr, "earshot collect: %ld stored, %ld replaced, %ld unchanged, %ld skipped"
                    " (%ld transactions)\n",
            c.stored, c.replaced, c.duplicates, c.skipped, c.batches);
    mosquitto_property_free_all(&props);
    mosquitto_destroy(mq);
    mosquitto_lib_cleanup();
    PQfinish(c.pg);
    return 0;
}
