/* store_bench.c - how fast consented storage writes, and how big the
 * database grows.
 *
 *   store_bench DIR [UTTERANCES.tsv]
 *
 * 1. One transaction per utterance (what a listener does: each write is
 *    durable when acknowledged), through earshot_store_utterance(), which
 *    also checks consent and redacts; against plain SQLite INSERTs of the
 *    same rows with the same pragmas (WAL, synchronous=FULL) in the same
 *    process, as the reference.
 * 2. Batched: 100,000 utterances queued in memory while another connection
 *    holds the lock, then written in one transaction by
 *    earshot_store_retry(); against one plain INSERT transaction.
 * 3. Size of the database per 100,000 utterances (the dev sentences,
 *    analysed, cycled), after a checkpoint. */
#include "earshot.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum { SINGLE = 2000, BATCH = 100000, MAXS = 512 };

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static char *texts[MAXS];
static size_t n_texts;

static void load_texts(const char *tsv)
{
    FILE *f = tsv ? fopen(tsv, "r") : NULL;
    char line[2048];
    if (f) {
        int first = 1;
        while (fgets(line, sizeof line, f) && n_texts < MAXS) {
            if (first) {
                first = 0;
                continue;
            }
            line[strcspn(line, "\r\n")] = '\0';
            char *t = strrchr(line, '\t');
            if (t)
                texts[n_texts++] = strdup(t + 1);
        }
        fclose(f);
    }
    if (!n_texts) {
        texts[n_texts++] = strdup("the queue at the checkout was far too long today");
        texts[n_texts++] = strdup("i would give you a nine out of ten");
    }
}

static void rm_db(const char *p)
{
    char q[600];
    unlink(p);
    snprintf(q, sizeof q, "%s-wal", p);
    unlink(q);
    snprintf(q, sizeof q, "%s-shm", p);
    unlink(q);
}

static earshot_store *open_store(const char *path, int busy, size_t queue)
{
    earshot_store_config cfg = earshot_store_config_default();
    cfg.path = path;
    cfg.busy_timeout_ms = busy;
    cfg.queue_max = queue;
    earshot_store *s = NULL;
    int rc = earshot_store_open(&s, &cfg);
    if (rc != EARSHOT_OK) {
        fprintf(stderr, "store_bench: %s: %s\n", earshot_errstr(rc), earshot_store_errmsg(s));
        exit(1);
    }
    return s;
}

/* The reference: the same rows by hand, with the same pragmas. */
static double plain_sqlite(const char *path, int n, int batched)
{
    rm_db(path);
    sqlite3 *db;
    sqlite3_open(path, &db);
    sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                     "CREATE TABLE u (id INTEGER PRIMARY KEY, session_id INT, consent_id INT,"
                     " heard_at TEXT, start REAL, end REAL, text TEXT, intent TEXT,"
                     " confidence REAL, slots TEXT, sentiment TEXT, sentiment_score REAL,"
                     " topics TEXT, model_hash TEXT, grammar_hash TEXT, audio TEXT)",
                 NULL, NULL, NULL);
    sqlite3_stmt *st;
    sqlite3_prepare_v2(db, "INSERT INTO u VALUES (NULL, 1, 1, '2026-11-23T10:00:00Z', 1, 2, ?1,"
                           " 'complaint', 0.8, '{}', 'negative', -0.5, 'wait_time',"
                           " '0123456789abcdef', '0123456789abcdef', NULL)", -1, &st, NULL);
    double t0 = now();
    if (batched)
        sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
    for (int i = 0; i < n; i++) {
        sqlite3_bind_text(st, 1, texts[i % n_texts], -1, SQLITE_STATIC);
        sqlite3_step(st);
        sqlite3_reset(st);
    }
    if (batched)
        sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    double t = now() - t0;
    sqlite3_finalize(st);
    sqlite3_close(db);
    rm_db(path);
    return n / t;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: store_bench DIR [UTTERANCES.tsv]\n");
        return 2;
    }
    load_texts(argc > 2 ? argv[2] : NULL);
    earshot_intents *g = NULL;
    if (earshot_intents_open(&g, NULL) != EARSHOT_OK) {
        fprintf(stderr, "store_bench: %s\n", earshot_intents_errmsg(g));
        return 1;
    }
    /* Analyses are computed once per distinct sentence (not timed). */
    earshot_analysis *an = calloc(n_texts, sizeof *an);
    char ***topics = calloc(n_texts, sizeof *topics);
    /* Consent answers and "forget me" steer the session, not storage:
     * leave them out. */
    size_t kept = 0;
    for (size_t i = 0; i < n_texts; i++) {
        earshot_analysis a;
        earshot_intents_analyze(g, texts[i], &a);
        if (!strncmp(a.intent, "consent_", 8) || !strcmp(a.intent, "forget_me"))
            free(texts[i]);
        else
            texts[kept++] = texts[i];
    }
    n_texts = kept;
    for (size_t i = 0; i < n_texts; i++) {
        earshot_intents_analyze(g, texts[i], &an[i]);
        an[i].intent = strdup(an[i].intent);
        an[i].sentiment = strdup(an[i].sentiment);
        topics[i] = calloc(an[i].n_topics + 1, sizeof(char *));
        for (size_t k = 0; k < an[i].n_topics; k++)
            topics[i][k] = strdup(an[i].topics[k]);
        an[i].topics = (const char *const *)topics[i];
    }
    char path[600], ref[600];
    snprintf(path, sizeof path, "%s/bench.db", argv[1]);
    snprintf(ref, sizeof ref, "%s/reference.db", argv[1]);

    /* 1. One transaction per utterance. */
    rm_db(path);
    earshot_store *s = open_store(path, 2000, 1000);
    int64_t session;
    earshot_session_begin(s, "bench", &session);
    earshot_consent_grant(s, session, EARSHOT_SCOPE_TRANSCRIPTS, EARSHOT_BY_API, NULL);
    double t0 = now();
    for (int i = 0; i < SINGLE; i++) {
        size_t k = (size_t)i % n_texts;
        earshot_utterance u = {.text = texts[k], .start = i, .end = i + 1, .analysis = &an[k],
                               .model_id = "0123456789abcdef", .grammar_id = "0123456789abcdef"};
        earshot_heard what;
        if (earshot_store_utterance(s, session, &u, NULL, 0, &what) != EARSHOT_OK ||
            what != EARSHOT_HEARD_STORED) {
            fprintf(stderr, "store_bench: %s\n", earshot_store_errmsg(s));
            return 1;
        }
    }
    double single = SINGLE / (now() - t0);
    earshot_store_close(s);
    double single_ref = plain_sqlite(ref, SINGLE, 0);
    printf("one transaction per utterance: %.0f utterances/s; plain SQLite INSERT %.0f/s; "
           "ratio %.2f\n", single, single_ref, single / single_ref);

    /* 2. Batched through the queue. */
    rm_db(path);
    s = open_store(path, 0, BATCH);
    earshot_session_begin(s, "bench", &session);
    earshot_consent_grant(s, session, EARSHOT_SCOPE_TRANSCRIPTS, EARSHOT_BY_API, NULL);
    sqlite3 *lock;
    sqlite3_open(path, &lock);
    sqlite3_exec(lock, "BEGIN EXCLUSIVE", NULL, NULL, NULL);
    for (int i = 0; i < BATCH; i++) {
        size_t k = (size_t)i % n_texts;
        earshot_utterance u = {.text = texts[k], .start = i, .end = i + 1, .analysis = &an[k],
                               .model_id = "0123456789abcdef", .grammar_id = "0123456789abcdef"};
        earshot_heard what;
        earshot_store_utterance(s, session, &u, NULL, 0, &what);
    }
    size_t queued = earshot_store_queued(s);
    sqlite3_exec(lock, "COMMIT", NULL, NULL, NULL);
    sqlite3_close(lock);
    t0 = now();
    int rc = earshot_store_retry(s);
    double batch = queued / (now() - t0);
    if (rc != EARSHOT_OK || queued != BATCH) {
        fprintf(stderr, "store_bench: batch: %zu queued, %s\n", queued, earshot_store_errmsg(s));
        return 1;
    }
    earshot_store_close(s);
    double batch_ref = plain_sqlite(ref, BATCH, 1);
    printf("batched (100,000 in one transaction): %.0f utterances/s; plain SQLite %.0f/s; "
           "ratio %.2f\n", batch, batch_ref, batch / batch_ref);

    /* 3. Size: the file after close (checkpointed, -wal emptied). */
    struct stat st;
    stat(path, &st);
    printf("database size: %.1f MB per 100,000 utterances (%zu distinct dev sentences, "
           "redacted, with analysis and provenance)\n", st.st_size / 1e6 * 100000.0 / BATCH,
           n_texts);
    rm_db(path);
    for (size_t i = 0; i < n_texts; i++) {
        free((char *)an[i].intent);
        free((char *)an[i].sentiment);
        for (size_t k = 0; k < an[i].n_topics; k++)
            free(topics[i][k]);
        free(topics[i]);
        free(texts[i]);
    }
    free(topics);
    free(an);
    earshot_intents_close(g);
    return 0;
}
