/* report_bench.c - insight report time on a large database, against the
 * cheapest possible read of the same rows in the same process.
 *
 *   report_bench DIR DEV_TSV [N]
 *
 * Makes DIR/report.db with N utterances (default 1,000,000): the dev
 * sentences analysed by the real grammar, three to a session on average,
 * over 90 days and 6 kiosks, half the sessions quotable. The rows are
 * written with plain SQLite in one transaction (storage speed is
 * bench/store_bench.c's subject). Then it times:
 *   reference  SELECT of every column a report reads, ordered by session
 *              (what any report must at least do), stepping every row;
 *   report     earshot_report_build() + earshot_report_write(JSON);
 *   html       earshot_report_write(HTML) of the same report;
 * and prints the report/reference ratio and the peak RSS. */
#include "earshot.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

typedef struct sentence {
    char *text, *intent, *sentiment, *topics, *signals, slots[32];
    double confidence;
} sentence;

static size_t load(const char *tsv, sentence *out, size_t max)
{
    earshot_intents *g = NULL;
    if (earshot_intents_open(&g, NULL) != EARSHOT_OK) {
        fprintf(stderr, "report_bench: %s\n", earshot_intents_errmsg(g));
        exit(1);
    }
    FILE *f = fopen(tsv, "r");
    if (!f) {
        perror(tsv);
        exit(1);
    }
    char line[2048];
    size_t n = 0;
    while (fgets(line, sizeof line, f) && n < max) {
        char *t = strrchr(line, '\t');
        if (!t || !strncmp(line, "id\t", 3))
            continue;
        t++;
        t[strcspn(t, "\r\n")] = '\0';
        earshot_analysis a;
        if (earshot_intents_analyze(g, t, &a) != EARSHOT_OK)
            continue;
        if (!strcmp(a.intent, "consent_yes") || !strcmp(a.intent, "consent_no") ||
            !strcmp(a.intent, "forget_me"))
            continue;
        sentence *s = &out[n++];
        s->text = strdup(t);
        s->intent = strdup(a.intent);
        s->sentiment = strdup(a.sentiment);
        s->confidence = a.confidence;
        char buf[512] = "";
        for (size_t i = 0; i < a.n_topics; i++)
            snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s%s", i ? "," : "",
                     a.topics[i]);
        s->topics = strdup(buf);
        buf[0] = '\0';
        for (size_t i = 0; i < a.n_signals; i++)
            snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s%s", i ? "," : "",
                     a.signals[i]);
        s->signals = strdup(buf);
        if (a.score >= 0)
            snprintf(s->slots, sizeof s->slots, "{\"score\":%d}", a.score);
        else
            snprintf(s->slots, sizeof s->slots, "{}");
    }
    fclose(f);
    earshot_intents_close(g);
    return n;
}

static void check(int src, sqlite3 *h, const char *what)
{
    if (src != SQLITE_OK && src != SQLITE_DONE && src != SQLITE_ROW) {
        fprintf(stderr, "report_bench: %s: %s\n", what, sqlite3_errmsg(h));
        exit(1);
    }
}

static void fill(const char *db, const sentence *s, size_t ns, long n)
{
    earshot_store_config cfg = earshot_store_config_default();
    cfg.path = db;
    earshot_store *st = NULL;
    if (earshot_store_open(&st, &cfg) != EARSHOT_OK) {
        fprintf(stderr, "report_bench: %s\n", earshot_store_errmsg(st));
        exit(1);
    }
    earshot_store_close(st);
    sqlite3 *h;
    check(sqlite3_open(db, &h), h, "open");
    check(sqlite3_exec(h, "PRAGMA synchronous=OFF; BEGIN", NULL, NULL, NULL), h, "begin");
    sqlite3_stmt *ses, *con, *utt;
    check(sqlite3_prepare_v2(h, "INSERT INTO sessions (id, channel, started_at) VALUES (?1, ?2, ?3)",
                             -1, &ses, NULL), h, "prepare");
    check(sqlite3_prepare_v2(h, "INSERT INTO consents VALUES (?1, ?1, 1, ?2, 0, '1', 'voice', ?3,"
                                " NULL)", -1, &con, NULL), h, "prepare");
    check(sqlite3_prepare_v2(h, "INSERT INTO utterances (session_id, consent_id, heard_at, start,"
                                " end, text, intent, confidence, slots, sentiment,"
                                " sentiment_score, topics, signals) VALUES"
                                " (?1, ?1, ?2, 0, 1, ?3, ?4, ?5, ?6, ?7, 0, ?8, ?9)",
                             -1, &utt, NULL), h, "prepare");
    static const char *const channels[] = {"entrance", "cafe", "checkout-1", "checkout-2",
                                           "pharmacy", "car-park"};
    unsigned seed = 42;
    long done = 0;
    for (long id = 1; done < n; id++) {
        seed = seed * 1103515245u + 12345u;
        time_t t = 1790000000 + (time_t)(id * 7776000L / (n / 3 + 1)); /* 90 days */
        char at[32];
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(at, sizeof at, "%Y-%m-%dT%H:%M:%SZ", &tm);
        sqlite3_bind_int64(ses, 1, id);
        sqlite3_bind_text(ses, 2, channels[(seed >> 16) % 6], -1, SQLITE_STATIC);
        sqlite3_bind_text(ses, 3, at, -1, SQLITE_TRANSIENT);
        check(sqlite3_step(ses), h, "session");
        sqlite3_reset(ses);
        sqlite3_bind_int64(con, 1, id);
        sqlite3_bind_int(con, 2, (int)(id & 1));
        sqlite3_bind_text(con, 3, at, -1, SQLITE_TRANSIENT);
        check(sqlite3_step(con), h, "consent");
        sqlite3_reset(con);
        int k = 1 + (int)((seed >> 8) % 5); /* 1..5, three on average */
        for (int i = 0; i < k && done < n; i++, done++) {
            seed = seed * 1103515245u + 12345u;
            const sentence *x = &s[(seed >> 12) % ns];
            sqlite3_bind_int64(utt, 1, id);
            sqlite3_bind_text(utt, 2, at, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(utt, 3, x->text, -1, SQLITE_STATIC);
            sqlite3_bind_text(utt, 4, x->intent, -1, SQLITE_STATIC);
            sqlite3_bind_double(utt, 5, x->confidence);
            sqlite3_bind_text(utt, 6, x->slots, -1, SQLITE_STATIC);
            sqlite3_bind_text(utt, 7, x->sentiment, -1, SQLITE_STATIC);
            sqlite3_bind_text(utt, 8, x->topics, -1, SQLITE_STATIC);
            sqlite3_bind_text(utt, 9, x->signals, -1, SQLITE_STATIC);
            check(sqlite3_step(utt), h, "utterance");
            sqlite3_reset(utt);
        }
    }
    sqlite3_finalize(ses);
    sqlite3_finalize(con);
    sqlite3_finalize(utt);
    check(sqlite3_exec(h, "COMMIT", NULL, NULL, NULL), h, "commit");
    sqlite3_close(h);
}

/* The floor: read every column a report needs, in session order. */
static double reference(const char *db, long *rows)
{
    sqlite3 *h;
    double t0 = now();
    check(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), h, "open");
    sqlite3_stmt *st;
    check(sqlite3_prepare_v2(h, "SELECT u.session_id, s.channel, u.heard_at, u.text, u.intent,"
                                " u.sentiment, u.topics, u.signals, u.slots, u.confidence,"
                                " c.scope_quotes FROM utterances u JOIN sessions s"
                                " ON s.id = u.session_id JOIN consents c ON c.id = u.consent_id"
                                " ORDER BY u.session_id, u.id", -1, &st, NULL), h, "prepare");
    long n = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        /* Every column read, as the report reads them (calls into
         * SQLite, which the compiler cannot leave out). */
        for (int i = 0; i < 11; i++)
            sqlite3_column_bytes(st, i);
        n++;
    }
    sqlite3_finalize(st);
    sqlite3_close(h);
    *rows = n;
    return now() - t0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: report_bench DIR DEV_TSV [N]\n");
        return 2;
    }
    long n = argc > 3 ? atol(argv[3]) : 1000000;
    char db[1024], out[1100];
    snprintf(db, sizeof db, "%s/report.db", argv[1]);
    sentence s[512];
    size_t ns = load(argv[2], s, 512);
    double t0 = now();
    fill(db, s, ns, n);
    printf("  database: %ld utterances, %zu distinct sentences, made in %.1f s\n", n, ns,
           now() - t0);

    /* Warm the page cache once, so that neither measurement pays for the
     * first read from disk. */
    long rows;
    reference(db, &rows);
    double best_ref = 1e9, best_rep = 1e9, best_html = 1e9;
    for (int round = 0; round < 3; round++) {
        double r = reference(db, &rows);
        if (r < best_ref)
            best_ref = r;
        double t1 = now();
        earshot_store_config cfg = earshot_store_config_default();
        cfg.path = db;
        cfg.read_only = 1;
        earshot_store *st = NULL;
        earshot_report *rep = NULL;
        earshot_report_config rc = earshot_report_config_default();
        snprintf(out, sizeof out, "%s/report.json", argv[1]);
        if (earshot_store_open(&st, &cfg) != EARSHOT_OK ||
            earshot_report_build(st, &rc, &rep) != EARSHOT_OK ||
            earshot_report_write(rep, EARSHOT_REPORT_JSON, out) != EARSHOT_OK) {
            fprintf(stderr, "report_bench: %s / %s\n", earshot_store_errmsg(st),
                    earshot_report_errmsg(rep));
            return 1;
        }
        earshot_store_close(st);
        double t2 = now();
        snprintf(out, sizeof out, "%s/report.html", argv[1]);
        earshot_report_write(rep, EARSHOT_REPORT_HTML, out);
        double t3 = now();
        earshot_report_free(rep);
        if (t2 - t1 < best_rep)
            best_rep = t2 - t1;
        if (t3 - t2 < best_html)
            best_html = t3 - t2;
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("  reference (SELECT of the same rows, %ld rows)  %.2f s\n", rows, best_ref);
    printf("  JSON report (build + write)                    %.2f s   ratio %.2f   goal <= 2 s: %s\n",
           best_rep, best_rep / best_ref, best_rep <= 2.0 ? "met" : "NOT met");
    printf("  HTML from the same report (write only)         %.3f s\n", best_html);
    printf("  peak RSS of this process                       %.1f MB\n", ru.ru_maxrss / 1024.0);
    for (size_t i = 0; i < ns; i++) {
        free(s[i].text);
        free(s[i].intent);
        free(s[i].sentiment);
        free(s[i].topics);
        free(s[i].signals);
    }
    return 0;
}
