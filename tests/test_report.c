/* test_report.c - anonymised insight reports, against real SQLite files
 * filled through the real pipeline (the dev sentences analysed by the
 * grammar, consented and redacted by the store) plus generated rows.
 *
 * Every section's figures are checked against SQL written here, apart
 * from the report's own code; suppression at K=5 and K=4; no session id,
 * exact time or unredacted personal detail in any format; merging two
 * kiosks' reports equals the report of their merged data; and the HTML is
 * loaded in headless Chromium and screenshotted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "earshot.h"
#include "report.h" /* the dp noise source, tested directly */

#include <jansson.h>
#include <math.h>
#include <regex.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char dir[256];
static char db_a[320], db_b[320], db_c[320];
static char bin[512]; /* the earshot command */

static const char *testdata(void)
{
    const char *d = getenv("EARSHOT_TESTDATA");
    return d ? d : "build/testdata";
}
static earshot_intents *grammar;

/* Personal details spoken in the pipeline sessions; none may reach a
 * report. */
static const char *const pii[] = {"07700", "900123", "john", "smith", "jane.doe",
                                  "example.com", "4111"};

/* ------------------------------------------------------------------ */
/* filling databases                                                    */
/* ------------------------------------------------------------------ */

static void sql_exec(const char *db, const char *sql)
{
    sqlite3 *h;
    assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
    char *err = NULL;
    if (sqlite3_exec(h, sql, NULL, NULL, &err) != SQLITE_OK)
        fail_msg("%s: %s", sql, err);
    sqlite3_close(h);
}

static earshot_store *open_store(const char *db, int read_only)
{
    earshot_store_config cfg = earshot_store_config_default();
    cfg.path = db;
    cfg.grammar_dir = EARSHOT_SOURCE_GRAMMAR_DIR;
    cfg.read_only = read_only;
    /* The dev sentences' forget and refusal lines erase here, as they did
     * when these figures were written: the report is under test, not the
     * review of unsure erasures (tests/test_store.c covers that). */
    cfg.confirm_confidence = 0;
    cfg.confirm_word_confidence = 0;
    earshot_store *s = NULL;
    if (earshot_store_open(&s, &cfg) != EARSHOT_OK)
        fail_msg("%s", earshot_store_errmsg(s));
    return s;
}

static void hear(earshot_store *s, int64_t session, const char *text)
{
    earshot_analysis a;
    assert_int_equal(earshot_intents_analyze(grammar, text, &a), EARSHOT_OK);
    earshot_utterance u = {.text = text, .start = 1.0, .end = 2.5, .confidence = 0.9,
                           .analysis = &a, .model_id = "00000000000000aa",
                           .grammar_id = "00000000000000bb"};
    earshot_heard what;
    assert_int_equal(earshot_store_utterance(s, session, &u, NULL, 0, &what), EARSHOT_OK);
}

/* Generated sessions, deterministic: days in October 2026, two kiosks,
 * ids from base (7 digits, so that the test can look for them). */
static void generate(const char *db, int part)
{
    static const struct {
        const char *intent, *sentiment, *topics, *signals, *text;
        int score;
    } kinds[] = {
        {"complaint", "negative", "wait_time", "long_wait", "i waited for ages at the till", -1},
        {"complaint", "negative", "staff,wait_time", "nobody_helps", "nobody helps you here", -1},
        {"praise", "positive", "staff", "", "the staff were lovely", -1},
        {"nps", "positive", "", "", "nine out of ten", 9},
        {"nps", "negative", "", "", "three out of ten", 3},
        {"nps", "neutral", "", "", "seven out of ten", 7},
        {"cancel", "negative", "price", "", "i want to cancel my membership", -1},
        {"suggestion", "neutral", "store", "", "you should put benches by the door", -1},
        {"question", "neutral", "opening_hours", "", "what time do you close on sundays", -1},
        {"other", "neutral", "", "", "watch the match last night", -1},
    };
    int n_kinds = sizeof kinds / sizeof *kinds;
    char *sql = malloc(1 << 20);
    size_t len = 0;
    len += (size_t)sprintf(sql + len, "BEGIN;");
    unsigned seed = 12345u + (unsigned)part * 777u;
    int base = part == 0 ? 9100000 : 9200000;
    for (int i = 0; i < 120; i++) {
        seed = seed * 1103515245u + 12345u;
        int day = 1 + (int)(seed >> 16) % 14;
        const char *ch = (i % 3 == 0) ? "kiosk-b" : "kiosk-a";
        int id = base + i;
        len += (size_t)sprintf(sql + len,
                               "INSERT INTO sessions VALUES (%d, '%s', '2026-10-%02dT09:%02d:00Z',"
                               " NULL);"
                               "INSERT INTO consents VALUES (%d, %d, 1, %d, 0, '1', 'voice',"
                               " '2026-10-%02dT09:%02d:05Z', NULL);",
                               id, ch, day, i % 60, id, id, i % 2, day, i % 60);
        int n_utt = 1 + (int)(seed >> 8) % 3;
        for (int k = 0; k < n_utt; k++) {
            seed = seed * 1103515245u + 12345u;
            int kind = (int)(seed >> 16) % n_kinds;
            char slots[32] = "{}";
            if (kinds[kind].score >= 0)
                snprintf(slots, sizeof slots, "{\"score\":%d}", kinds[kind].score);
            len += (size_t)sprintf(
                sql + len,
                "INSERT INTO utterances (session_id, consent_id, heard_at, start, end, text, "
                "intent, confidence, slots, sentiment, sentiment_score, topics, signals) VALUES "
                "(%d, %d, '2026-10-%02dT09:%02d:%02dZ', 0, 1, '%s', '%s', 0.%d, '%s', '%s', 0, "
                "'%s', '%s');",
                id, id, day, i % 60, 10 + k, kinds[kind].text, kinds[kind].intent, 50 + k * 7,
                slots, kinds[kind].sentiment, kinds[kind].topics, kinds[kind].signals);
        }
    }
    /* Exactly four sessions on one kiosk: shown at K=4, suppressed at 5. */
    for (int i = 0; i < 4; i++)
        len += (size_t)sprintf(sql + len,
                               "INSERT INTO sessions VALUES (%d, 'kiosk-four', "
                               "'2026-10-03T10:00:00Z', NULL);"
                               "INSERT INTO consents VALUES (%d, %d, 1, 0, 0, '1', 'voice',"
                               " '2026-10-03T10:00:01Z', NULL);"
                               "INSERT INTO utterances (session_id, consent_id, heard_at, text,"
                               " intent, confidence, slots, sentiment, topics) VALUES (%d, %d,"
                               " '2026-10-03T10:00:05Z', 'the card reader is broken',"
                               " 'complaint', 0.8, '{}', 'negative', 'payment');",
                               base + 500 + i, base + 500 + i, base + 500 + i,
                               base + 500 + i, base + 500 + i);
    /* A session that never consented counts in the overview only. */
    len += (size_t)sprintf(sql + len, "INSERT INTO sessions VALUES (%d, 'kiosk-a', "
                                      "'2026-10-05T11:00:00Z', NULL);COMMIT;", base + 900);
    assert_true(len < (1 << 20));
    sql_exec(db, sql);
    free(sql);
}

/* The dev sentences, three to a session, through analysis, consent and
 * redaction; half the sessions allow quotes. Plus sessions that speak
 * personal details, to see that redaction holds in every format. */
static void pipeline(const char *db, int part)
{
    earshot_store *s = open_store(db, 0);
    char tsv[600];
    snprintf(tsv, sizeof tsv, "%s/dev/utterances.tsv", testdata());
    FILE *f = fopen(tsv, "r");
    if (!f)
        fail_msg("%s: run 'make test' (it makes the test data)", tsv);
    char line[1024];
    int i = 0;
    int64_t ses = 0;
    while (fgets(line, sizeof line, f)) {
        if (i++ == 0)
            continue; /* header */
        if ((i % 2) != part)
            continue;
        char *text = strrchr(line, '\t');
        if (!text)
            continue;
        text++;
        text[strcspn(text, "\r\n")] = '\0';
        if ((i / 2) % 3 == 0 || ses == 0) {
            if (ses)
                earshot_session_end(s, ses);
            assert_int_equal(earshot_session_begin(s, part ? "kiosk-b" : "kiosk-a", &ses),
                             EARSHOT_OK);
            unsigned scopes = EARSHOT_SCOPE_TRANSCRIPTS | ((i / 2) % 2 ? EARSHOT_SCOPE_QUOTES : 0);
            assert_int_equal(earshot_consent_grant(s, ses, scopes, EARSHOT_BY_BUTTON, NULL),
                             EARSHOT_OK);
        }
        hear(s, ses, text);
    }
    fclose(f);
    earshot_session_end(s, ses);
    for (int k = 0; k < 6; k++) {
        assert_int_equal(earshot_session_begin(s, part ? "kiosk-b" : "kiosk-a", &ses), EARSHOT_OK);
        assert_int_equal(earshot_consent_grant(s, ses,
                                               EARSHOT_SCOPE_TRANSCRIPTS | EARSHOT_SCOPE_QUOTES,
                                               EARSHOT_BY_API, NULL), EARSHOT_OK);
        hear(s, ses, "my name is john smith and my number is 07700 900123");
        hear(s, ses, "you should add a dark mode to the app and email jane.doe@example.com");
        hear(s, ses, "my card 4111 1111 1111 1111 was charged twice for the parking");
        earshot_session_end(s, ses);
    }
    earshot_store_close(s);
}

static void make_db(const char *db, int parts)
{
    unlink(db);
    earshot_store *s = open_store(db, 0); /* creates the schema */
    earshot_store_close(s);
    for (int p = 0; p < 2; p++)
        if (parts & (1 << p))
            generate(db, p);
    for (int p = 0; p < 2; p++)
        if (parts & (1 << p))
            pipeline(db, p);
}

static int setup(void **state)
{
    (void)state;
    const char *b = getenv("EARSHOT_BIN");
    snprintf(bin, sizeof bin, "%s", b ? b : "build/earshot");
    snprintf(dir, sizeof dir, "/tmp/earshot-report-XXXXXX");
    assert_non_null(mkdtemp(dir));
    if (earshot_intents_open(&grammar, EARSHOT_SOURCE_GRAMMAR_DIR) != EARSHOT_OK)
        return -1;
    snprintf(db_a, sizeof db_a, "%s/a.db", dir);
    snprintf(db_b, sizeof db_b, "%s/b.db", dir);
    snprintf(db_c, sizeof db_c, "%s/c.db", dir);
    make_db(db_a, 1);
    make_db(db_b, 2);
    make_db(db_c, 3); /* the merged data: both kiosks in one file */
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    earshot_intents_close(grammar);
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd);
}

/* ------------------------------------------------------------------ */
/* helpers                                                              */
/* ------------------------------------------------------------------ */

static earshot_report *build(const char *db, int k)
{
    earshot_store *s = open_store(db, 1);
    earshot_report_config cfg = earshot_report_config_default();
    cfg.min_group = k;
    cfg.utc = 1; /* days as SQL's substr(heard_at, 1, 10) sees them */
    earshot_report *r = NULL;
    if (earshot_report_build(s, &cfg, &r) != EARSHOT_OK)
        fail_msg("%s", earshot_report_errmsg(r));
    earshot_store_close(s);
    return r;
}

static json_t *as_json(earshot_report *r, const char *name)
{
    char path[400];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    assert_int_equal(earshot_report_write(r, EARSHOT_REPORT_JSON, path), EARSHOT_OK);
    json_error_t err;
    json_t *j = json_load_file(path, 0, &err);
    if (!j)
        fail_msg("%s:%d: %s", path, err.line, err.text);
    return j;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot read %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    char *s = malloc((size_t)n + 1);
    assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
    s[n] = '\0';
    fclose(f);
    return s;
}

/* Utterances that are customers' feedback (as the report counts them),
 * with their channel; topics and signals as one row per name. */
#define U "(SELECT u.*, s.channel FROM utterances u JOIN sessions s ON s.id = u.session_id" \
          " WHERE u.intent NOT IN ('consent_yes', 'consent_no', 'forget_me'))"
#define EACH(col) "json_each(CASE WHEN " col " = '' THEN '[\"(none)\"]' ELSE" \
                  " '[\"' || replace(" col ", ',', '\",\"') || '\"]' END)"
/* Per topic, among utterances matching where ("" for all). */
#define BY_TOPIC(where) "SELECT t.value, NULL, count(*), count(DISTINCT session_id) FROM " U \
                        " u, " EACH("u.topics") " t " where " GROUP BY 1"

/* For each row (k0, k1, n, sessions) of sql, the JSON row of section with
 * the same keys must show cell's n and sessions when sessions >= k, and
 * must suppress it (or, for phrases, leave the row out) otherwise; and
 * the JSON may show no figure SQL does not have. */
static void check(const char *db, json_t *rep, const char *section, const char *key0,
                  const char *key1, const char *cell, const char *sql)
{
    int k = (int)json_integer_value(json_object_get(rep, "min_group"));
    json_t *rows = json_object_get(json_object_get(rep, "sections"), section);
    assert_non_null(rows);
    sqlite3 *h;
    assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(h));
    size_t shown = 0, sql_rows = 0, secondary = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *k0 = (const char *)sqlite3_column_text(st, 0);
        const char *k1 = (const char *)sqlite3_column_text(st, 1);
        long long n = sqlite3_column_int64(st, 2), ses = sqlite3_column_int64(st, 3);
        sql_rows++;
        json_t *row = NULL, *r;
        size_t i;
        if (!key0) {
            row = rows;
        } else {
            json_array_foreach(rows, i, r) {
                json_t *a = json_object_get(r, key0), *b = key1 ? json_object_get(r, key1) : NULL;
                char av[64];
                if (json_is_integer(a))
                    snprintf(av, sizeof av, "%lld", (long long)json_integer_value(a));
                else
                    snprintf(av, sizeof av, "%s", json_string_value(a));
                if (!strcmp(av, k0 ? k0 : "") &&
                    (!key1 || !strcmp(json_string_value(b), k1 ? k1 : "")))
                    row = r;
            }
        }
        json_t *c = row ? json_object_get(row, cell) : NULL;
        if (ses >= k && c && json_is_true(json_object_get(c, "suppressed"))) {
            secondary++; /* hidden so that a small one cannot be subtracted out */
        } else if (ses >= k) {
            if (!c || !json_is_integer(json_object_get(c, "n")))
                fail_msg("%s %s/%s %s: SQL has %lld in %lld sessions, the report does not "
                         "show it", section, k0, k1 ? k1 : "", cell, n, ses);
            assert_int_equal(json_integer_value(json_object_get(c, "n")), n);
            assert_int_equal(json_integer_value(json_object_get(c, "sessions")), ses);
            shown++;
        } else if (c && !json_is_true(json_object_get(c, "suppressed"))) {
            fail_msg("%s %s/%s %s: %lld sessions (< %d) but not suppressed", section, k0,
                     k1 ? k1 : "", cell, ses, k);
        }
    }
    sqlite3_finalize(st);
    sqlite3_close(h);
    assert_true(sql_rows > 0); /* a check over nothing proves nothing */
    /* Secondary suppression hides a few large figures, never most. */
    if (key0 && secondary > shown)
        fail_msg("%s.%s: %zu figures hidden beyond K, only %zu shown", section, cell, secondary,
                 shown);
    /* No figure the SQL did not produce (phrase checks pick one phrase). */
    if (key0 && !strcmp(key0, "phrase"))
        return;
    size_t in_json = 0, i;
    json_t *r;
    /* (Zeros are shown, being about nobody; SQL's GROUP BY has no zero rows.) */
    if (!key0) {
        in_json = json_integer_value(json_object_get(json_object_get(rows, cell), "n")) > 0;
    } else {
        json_array_foreach(rows, i, r) {
            in_json += json_integer_value(json_object_get(json_object_get(r, cell), "n")) > 0;
        }
    }
    if (in_json != shown)
        fail_msg("%s.%s: the report shows %zu figures, SQL has %zu at or above K", section, cell,
                 in_json, shown);
}

static void check_all(const char *db, json_t *j)
{
    check(db, j, "overview", NULL, NULL, "sessions",
          "SELECT NULL, NULL, count(*), count(*) FROM sessions");
    check(db, j, "overview", NULL, NULL, "consented_sessions",
          "SELECT NULL, NULL, count(*), count(*) FROM sessions s WHERE EXISTS (SELECT 1 FROM "
          "consents c WHERE c.session_id = s.id AND scope_transcripts AND revoked_at IS NULL)");
    check(db, j, "overview", NULL, NULL, "utterances",
          "SELECT NULL, NULL, count(*), count(DISTINCT session_id) FROM " U);
    check(db, j, "intents", "intent", NULL, "utterances",
          "SELECT intent, NULL, count(*), count(DISTINCT session_id) FROM " U " GROUP BY 1");
    check(db, j, "intent_trend", "period", "intent", "utterances",
          "SELECT substr(heard_at, 1, 10), intent, count(*), count(DISTINCT session_id) FROM " U
          " GROUP BY 1, 2");
    check(db, j, "topics", "topic", NULL, "utterances",
          BY_TOPIC(""));
    check(db, j, "topics", "topic", NULL, "negative",
          BY_TOPIC("WHERE sentiment = 'negative'"));
    check(db, j, "topics", "topic", NULL, "positive",
          BY_TOPIC("WHERE sentiment = 'positive'"));
    check(db, j, "topics", "topic", NULL, "complaints",
          BY_TOPIC("WHERE intent = 'complaint'"));
    check(db, j, "effort", "signal", NULL, "utterances",
          "SELECT t.value, NULL, count(*), count(DISTINCT session_id) FROM " U " u, "
          EACH("u.signals") " t WHERE u.signals != '' GROUP BY 1");
    check(db, j, "ratings", "score", NULL, "ratings",
          "SELECT json_extract(slots, '$.score'), NULL, count(*), count(DISTINCT session_id)"
          " FROM " U " WHERE json_extract(slots, '$.score') IS NOT NULL GROUP BY 1");
    check(db, j, "nps", NULL, NULL, "promoters",
          "SELECT NULL, NULL, count(*), count(DISTINCT session_id) FROM " U
          " WHERE json_extract(slots, '$.score') >= 9");
    check(db, j, "nps", NULL, NULL, "detractors",
          "SELECT NULL, NULL, count(*), count(DISTINCT session_id) FROM " U
          " WHERE json_extract(slots, '$.score') <= 6");
    check(db, j, "churn", "topic", NULL, "cancels",
          BY_TOPIC("WHERE intent = 'cancel'"));
    check(db, j, "ideas", "topic", NULL, "suggestions",
          BY_TOPIC("WHERE intent = 'suggestion'"));
    check(db, j, "questions", "topic", NULL, "questions",
          BY_TOPIC("WHERE intent = 'question'"));
    check(db, j, "channels", "channel", NULL, "sessions",
          "SELECT channel, NULL, count(*), count(*) FROM sessions GROUP BY 1");
    check(db, j, "channels", "channel", NULL, "utterances",
          "SELECT channel, NULL, count(*), count(DISTINCT session_id) FROM " U " GROUP BY 1");
    check(db, j, "channels", "channel", NULL, "complaints",
          "SELECT channel, NULL, count(*), count(DISTINCT session_id) FROM " U
          " WHERE intent = 'complaint' GROUP BY 1");
    check(db, j, "channels", "channel", NULL, "detractors",
          "SELECT channel, NULL, count(*), count(DISTINCT session_id) FROM " U
          " WHERE json_extract(slots, '$.score') <= 6 GROUP BY 1");
    /* Two phrases, as whole words, in unmatched speech and in questions. */
    check(db, j, "unmatched", "phrase", NULL, "utterances",
          "SELECT 'watch the match', NULL, count(*), count(DISTINCT session_id) FROM " U
          " WHERE intent = 'other' AND ' ' || text || ' ' LIKE '% watch the match %'");
    check(db, j, "question_phrases", "phrase", NULL, "utterances",
          "SELECT 'close on sundays', NULL, count(*), count(DISTINCT session_id) FROM " U
          " WHERE intent = 'question' AND ' ' || text || ' ' LIKE '% close on sundays %'");
}

/* ------------------------------------------------------------------ */
/* tests                                                                */
/* ------------------------------------------------------------------ */

static void test_figures_match_sql(void **state)
{
    (void)state;
    earshot_report *r = build(db_c, 5);
    json_t *j = as_json(r, "c5.json");
    check_all(db_c, j);
    /* NPS = (promoters - detractors) / ratings, in whole points. */
    json_t *nps = json_object_get(json_object_get(j, "sections"), "nps");
    long long R = json_integer_value(json_object_get(json_object_get(nps, "ratings"), "n"));
    long long P = json_integer_value(json_object_get(json_object_get(nps, "promoters"), "n"));
    long long D = json_integer_value(json_object_get(json_object_get(nps, "detractors"), "n"));
    assert_true(R > 20);
    double want = 100.0 * (double)(P - D) / (double)R;
    assert_true(json_integer_value(json_object_get(nps, "nps")) - want < 0.51 &&
                want - json_integer_value(json_object_get(nps, "nps")) < 0.51);
    /* Quotes only from the quotes scope: the dev sentence said in a
     * session without it never appears; the redacted app idea does. */
    char *text = json_dumps(j, 0);
    assert_non_null(strstr(text, "you should add a dark mode to the app and email [EMAIL]"));
    free(text);
    json_decref(j);
    earshot_report_free(r);
}

static void test_suppression_k5_k4(void **state)
{
    (void)state;
    for (int k = 4; k <= 5; k++) {
        earshot_report *r = build(db_a, k);
        char name[32];
        snprintf(name, sizeof name, "a%d.json", k);
        json_t *j = as_json(r, name);
        check_all(db_a, j);
        /* Kiosk "kiosk-four" had exactly four sessions: its row is shown
         * with its figures at K=4 and suppressed at K=5. */
        json_t *rows = json_object_get(json_object_get(j, "sections"), "channels"), *row;
        size_t i;
        int seen = 0;
        json_array_foreach(rows, i, row) {
            if (strcmp(json_string_value(json_object_get(row, "channel")), "kiosk-four"))
                continue;
            seen++;
            json_t *c = json_object_get(row, "sessions");
            if (k == 4)
                assert_int_equal(json_integer_value(json_object_get(c, "n")), 4);
            else
                assert_true(json_is_true(json_object_get(c, "suppressed")));
        }
        assert_int_equal(seen, 1);
        /* Shown as "<K" for people. */
        char *text = json_dumps(j, 0);
        char md[400];
        snprintf(md, sizeof md, "%s/a%d.md", dir, k);
        assert_int_equal(earshot_report_write(r, EARSHOT_REPORT_MD, md), EARSHOT_OK);
        char *mdt = slurp(md);
        char needle[64];
        snprintf(needle, sizeof needle, "| kiosk-four | %s |", k == 4 ? "4" : "\\<5");
        if (!strstr(mdt, needle))
            fail_msg("%s not in the Markdown report", needle);
        free(mdt);
        free(text);
        json_decref(j);
        earshot_report_free(r);
    }
    /* Every trend cell of exactly four sessions: shown at K=4, suppressed
     * at K=5. */
    earshot_report *r4 = build(db_a, 4), *r5 = build(db_a, 5);
    json_t *j4 = as_json(r4, "a4b.json"), *j5 = as_json(r5, "a5b.json");
    json_t *t4 = json_object_get(json_object_get(j4, "sections"), "intent_trend");
    json_t *t5 = json_object_get(json_object_get(j5, "sections"), "intent_trend");
    json_t *row;
    size_t i;
    int found = 0;
    json_array_foreach(t4, i, row) {
        json_t *c = json_object_get(row, "utterances");
        if (json_integer_value(json_object_get(c, "sessions")) != 4)
            continue;
        /* Shown at K=4 with its figures... */
        found++;
        const char *p = json_string_value(json_object_get(row, "period"));
        const char *in = json_string_value(json_object_get(row, "intent"));
        json_t *r5row;
        size_t k;
        json_array_foreach(t5, k, r5row) {
            if (!strcmp(json_string_value(json_object_get(r5row, "period")), p) &&
                !strcmp(json_string_value(json_object_get(r5row, "intent")), in))
                /* ... and suppressed at K=5. */
                assert_true(json_is_true(json_object_get(json_object_get(r5row, "utterances"),
                                                         "suppressed")));
        }
    }
    assert_true(found > 0);
    json_decref(j4);
    json_decref(j5);
    earshot_report_free(r4);
    earshot_report_free(r5);
}

/* Every format, every output file: no session id, no time of day, no
 * personal detail as spoken. */
static void test_nothing_identifying(void **state)
{
    (void)state;
    earshot_report *r = build(db_c, 5);
    char out[6][400];
    snprintf(out[0], sizeof out[0], "%s/r.json", dir);
    snprintf(out[1], sizeof out[1], "%s/r.html", dir);
    snprintf(out[2], sizeof out[2], "%s/r.csv", dir);
    snprintf(out[3], sizeof out[3], "%s/r.md", dir);
    snprintf(out[4], sizeof out[4], "%s/csv/", dir);
    assert_int_equal(earshot_report_write(r, EARSHOT_REPORT_JSON, out[0]), EARSHOT_OK);
    assert_int_equal(earshot_report_write(r, EARSHOT_REPORT_HTML, out[1]), EARSHOT_OK);
    assert_int_equal(earshot_report_write(r, EARSHOT_REPORT_CSV, out[2]), EARSHOT_OK);
    assert_int_equal(earshot_report_write(r, EARSHOT_REPORT_MD, out[3]), EARSHOT_OK);
    assert_int_equal(earshot_report_write(r, EARSHOT_REPORT_CSV, out[4]), EARSHOT_OK);
    earshot_report_free(r);

    /* All texts to search: the four files and every file of the folder. */
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "cat '%s' '%s' '%s' '%s' '%s'/*.csv > '%s/all.txt'", out[0], out[1],
             out[2], out[3], out[4], dir);
    assert_int_equal(system(cmd), 0);
    snprintf(out[5], sizeof out[5], "%s/csv/topics.csv", dir);
    assert_int_equal(access(out[5], R_OK), 0);
    char all[400];
    snprintf(all, sizeof all, "%s/all.txt", dir);
    char *text = slurp(all);
    for (char *p = text; *p; p++)
        *p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
    for (size_t i = 0; i < sizeof pii / sizeof *pii; i++)
        if (strstr(text, pii[i]))
            fail_msg("'%s' appears in a report", pii[i]);
    /* The redacted forms do appear: redaction, not omission, is tested. */
    assert_non_null(strstr(text, "[email]"));
    regex_t re;
    assert_int_equal(regcomp(&re, "[0-9]{1,2}:[0-9]{2}|[0-9]T[0-9]", REG_EXTENDED | REG_NOSUB), 0);
    assert_int_equal(regexec(&re, text, 0, NULL, 0), REG_NOMATCH);
    regfree(&re);
    /* Session ids: seven digits each, none may appear. */
    sqlite3 *h;
    assert_int_equal(sqlite3_open_v2(db_c, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(h, "SELECT id FROM sessions", -1, &st, NULL), SQLITE_OK);
    int ids = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(st, 0);
        assert_true(strlen(id) == 7);
        if (strstr(text, id))
            fail_msg("session id %s appears in a report", id);
        ids++;
    }
    assert_true(ids > 200);
    sqlite3_finalize(st);
    sqlite3_close(h);
    free(text);
}

static void test_merge_equals_merged_data(void **state)
{
    (void)state;
    /* Each kiosk exports exact figures (K=1); the fleet merge applies K=5. */
    earshot_report *a = build(db_a, 1), *b = build(db_b, 1);
    char pa[400], pb[400], pm[400];
    snprintf(pa, sizeof pa, "%s/ka.json", dir);
    snprintf(pb, sizeof pb, "%s/kb.json", dir);
    snprintf(pm, sizeof pm, "%s/fleet.json", dir);
    assert_int_equal(earshot_report_write(a, EARSHOT_REPORT_JSON, pa), EARSHOT_OK);
    assert_int_equal(earshot_report_write(b, EARSHOT_REPORT_JSON, pb), EARSHOT_OK);
    earshot_report_free(a);
    earshot_report_free(b);
    /* Through the command, as a head office would run it. */
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "'%s' report merge '%s' '%s' --out '%s'", bin,
             pa, pb, pm);
    assert_int_equal(system(cmd), 0);
    json_error_t err;
    json_t *merged = json_load_file(pm, 0, &err);
    assert_non_null(merged);
    earshot_report *c = build(db_c, 5);
    json_t *direct = as_json(c, "c-direct.json");
    earshot_report_free(c);
    json_t *ms = json_object_get(merged, "sections"), *ds = json_object_get(direct, "sections");
    const char *name;
    json_t *v;
    /* A phrase's example quote is one of many that would do (each input
     * picked its own): the figures must match, the quotes need not. */
    const char *const phrase_tables[] = {"unmatched", "question_phrases"};
    for (int t = 0; t < 2; t++) {
        json_t *row;
        size_t i;
        json_array_foreach(json_object_get(ds, phrase_tables[t]), i, row)
            json_object_del(row, "quotes");
        json_array_foreach(json_object_get(ms, phrase_tables[t]), i, row)
            json_object_del(row, "quotes");
    }
    /* Findings are not recomputed after a merge: the merged file says so. */
    assert_int_equal(json_array_size(json_object_get(merged, "findings")), 0);
    assert_non_null(json_object_get(merged, "findings_note"));
    json_object_foreach(ds, name, v) {
        if (!json_equal(v, json_object_get(ms, name))) {
            char *x = json_dumps(v, JSON_COMPACT), *y = json_dumps(json_object_get(ms, name),
                                                                   JSON_COMPACT);
            fail_msg("section %s differs:\nmerged data: %.600s\nmerged reports: %.600s", name, x,
                     y);
        }
    }
    assert_true(json_equal(json_object_get(merged, "period"), json_object_get(direct, "period")));
    assert_int_equal(json_array_size(json_object_get(merged, "sources")), 2);
    check_all(db_c, merged); /* and so the merge matches SQL on the merged data too */
    json_decref(merged);
    json_decref(direct);

    /* The same kiosk twice is refused: its figures would double. */
    snprintf(cmd, sizeof cmd, "'%s' report merge '%s' '%s' --out '%s/x.json' 2>'%s/err'",
             bin, pa, pa, dir, dir);
    assert_int_equal(WEXITSTATUS(system(cmd)), 2);
    /* Merging reports that were already suppressed gives lower bounds. */
    earshot_report *a5 = build(db_a, 5), *b5 = build(db_b, 5);
    earshot_report_write(a5, EARSHOT_REPORT_JSON, pa);
    earshot_report_write(b5, EARSHOT_REPORT_JSON, pb);
    earshot_report_free(a5);
    earshot_report_free(b5);
    earshot_report *in[2] = {NULL, NULL}, *m = NULL;
    assert_int_equal(earshot_report_load(pa, &in[0]), EARSHOT_OK);
    assert_int_equal(earshot_report_load(pb, &in[1]), EARSHOT_OK);
    assert_int_equal(earshot_report_merge((const earshot_report *const *)in, 2, 5, &m),
                     EARSHOT_OK);
    json_t *mj = as_json(m, "m55.json");
    char *t = json_dumps(mj, 0);
    assert_non_null(strstr(t, "\"at_least\": true"));
    free(t);
    json_decref(mj);
    earshot_report_free(m);
    earshot_report_free(in[0]);
    earshot_report_free(in[1]);
}

/* Question is said in 3 sessions, so it is suppressed at K=5; with the
 * total shown, it would be the total minus complaints minus praise. So
 * one more intent (the smaller, praise) is hidden too, and the trend and
 * the channel's figures follow the same rule. */
static void test_secondary_suppression(void **state)
{
    (void)state;
    char db[400];
    snprintf(db, sizeof db, "%s/secondary.db", dir);
    earshot_store_close(open_store(db, 0));
    char *sql = malloc(1 << 16);
    size_t len = (size_t)sprintf(sql, "BEGIN;");
    static const struct {
        const char *intent;
        int sessions;
    } plan[] = {{"complaint", 12}, {"praise", 9}, {"question", 3}};
    int id = 1000001;
    for (size_t p = 0; p < 3; p++)
        for (int i = 0; i < plan[p].sessions; i++, id++)
            len += (size_t)sprintf(sql + len,
                                   "INSERT INTO sessions VALUES (%d, 'lobby', "
                                   "'2026-10-07T10:00:00Z', NULL);"
                                   "INSERT INTO consents VALUES (%d, %d, 1, 0, 0, '1', 'api',"
                                   " '2026-10-07T10:00:00Z', NULL);"
                                   "INSERT INTO utterances (session_id, consent_id, heard_at, "
                                   "text, intent, confidence, slots, sentiment, topics) VALUES "
                                   "(%d, %d, '2026-10-07T10:00:05Z', 'x', '%s', 0.9, '{}', "
                                   "'neutral', '');", id, id, id, id, id, plan[p].intent);
    strcpy(sql + len, "COMMIT;");
    sql_exec(db, sql);
    free(sql);
    earshot_report *r = build(db, 5);
    json_t *j = as_json(r, "secondary.json");
    earshot_report_free(r);
    json_t *sec = json_object_get(j, "sections");
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(json_object_get(sec, "overview"), "utterances"), "n")),
                     24);
    json_t *row;
    size_t i;
    int hidden = 0;
    json_array_foreach(json_object_get(sec, "intents"), i, row) {
        const char *in = json_string_value(json_object_get(row, "intent"));
        int sup = json_is_true(json_object_get(json_object_get(row, "utterances"), "suppressed"));
        hidden += sup;
        if (!strcmp(in, "complaint"))
            assert_false(sup);
        else
            assert_true(sup); /* question (3) and, to protect it, praise (9) */
    }
    assert_int_equal(hidden, 2);
    /* The one day's trend: the same two hidden. */
    hidden = 0;
    json_array_foreach(json_object_get(sec, "intent_trend"), i, row) {
        hidden += json_is_true(json_object_get(json_object_get(row, "utterances"), "suppressed"));
    }
    assert_int_equal(hidden, 2);
    json_decref(j);
}

static void test_bad_input(void **state)
{
    (void)state;
    char cmd[4096], err[400];
    snprintf(err, sizeof err, "%s/err.txt", dir);
    /* A missing database is not created. */
    snprintf(cmd, sizeof cmd, "'%s' report --db '%s/none.db' --out '%s/x.json' 2>'%s'",
             bin, dir, dir, err);
    assert_int_equal(WEXITSTATUS(system(cmd)), 1);
    char p[400];
    snprintf(p, sizeof p, "%s/none.db", dir);
    assert_int_equal(access(p, F_OK), -1);
    char *e = slurp(err);
    assert_non_null(strstr(e, "none.db: No such file"));
    free(e);
    /* A bad date, one line. */
    snprintf(cmd, sizeof cmd, "'%s' report --db '%s' --since 2026-02-30 2>'%s'",
             bin, db_a, err);
    assert_int_equal(WEXITSTATUS(system(cmd)), 2);
    e = slurp(err);
    assert_string_equal(e, "earshot: since: '2026-02-30' is not a date (YYYY-MM-DD)\n");
    free(e);
    /* A misspelt channel says which there are instead of an empty report. */
    snprintf(cmd, sizeof cmd, "'%s' report --db '%s' --channel nosuch --out '%s/x.json' 2>'%s'",
             bin, db_a, dir, err);
    assert_int_equal(WEXITSTATUS(system(cmd)), 2);
    e = slurp(err);
    assert_non_null(strstr(e, "no session on channel 'nosuch' (channels: "));
    assert_int_equal(strchr(e, '\n') - e + 1, (long)strlen(e)); /* one line */
    free(e);
    /* A damaged JSON report: file:line:column. */
    snprintf(p, sizeof p, "%s/broken.json", dir);
    FILE *f = fopen(p, "w");
    fputs("{\"format\": \"earshot-report\",\n \"version\": 1,\n \"min_group\": }\n", f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "'%s' report merge '%s' --out '%s/y.json' 2>'%s'",
             bin, p, dir, err);
    assert_int_equal(WEXITSTATUS(system(cmd)), 1);
    e = slurp(err);
    assert_non_null(strstr(e, "broken.json:3:"));
    assert_int_equal(strchr(e, '\n') - e + 1, (long)strlen(e)); /* one line */
    free(e);
    /* Since and until filter by day (UTC here): October 3 only. */
    earshot_store *s = open_store(db_a, 1);
    earshot_report_config cfg = earshot_report_config_default();
    cfg.utc = 1;
    cfg.min_group = 1;
    cfg.since = cfg.until = "2026-10-03";
    earshot_report *r = NULL;
    assert_int_equal(earshot_report_build(s, &cfg, &r), EARSHOT_OK);
    json_t *j = as_json(r, "oct3.json");
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "period"), "from")),
                        "2026-10-03");
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "period"), "to")),
                        "2026-10-03");
    json_decref(j);
    earshot_report_free(r);
    earshot_store_close(s);
}

/* Rows stored under older, weaker rules (written here with SQL, as such
 * a file would hold them): a quote with a leaked digit run, or one
 * today's redactor would change, is dropped; a clean quote stays; a
 * phrase with a number word never reaches the phrase lists. */
static void test_leaked_digits_dropped(void **state)
{
    (void)state;
    char db[400];
    snprintf(db, sizeof db, "%s/leak.db", dir);
    unlink(db);
    earshot_store_close(open_store(db, 0));
    static const char *const ideas[] = {
        "you should take my card [CARD] and one four eight eight and zero three four three",
        "you should call me on 07700 900123 about the benches",
        "you should put benches by the door",
    };
    char sql[4096];
    size_t len = (size_t)snprintf(sql, sizeof sql, "BEGIN;");
    for (int i = 0; i < 6; i++) {
        len += (size_t)snprintf(sql + len, sizeof sql - len,
            "INSERT INTO sessions VALUES (%d, 'k', '2026-10-01T09:00:00Z', NULL);"
            "INSERT INTO consents VALUES (%d, %d, 1, 1, 0, '1', 'api', '2026-10-01T09:00:00Z',"
            " NULL);"
            "INSERT INTO utterances (session_id, consent_id, heard_at, text, intent, confidence,"
            " sentiment, topics) VALUES (%d, %d, '2026-10-01T09:00:10Z', '%s', 'suggestion',"
            " 0.9, 'neutral', 'store'), (%d, %d, '2026-10-01T09:00:20Z',"
            " 'the code was four eight eight nine on the broken screen', 'other', 0.5, 'neutral', '');",
            i + 1, i + 1, i + 1, i + 1, i + 1, ideas[i % 3], i + 1, i + 1);
    }
    snprintf(sql + len, sizeof sql - len, "COMMIT;");
    sql_exec(db, sql);
    earshot_report *r = build(db, 1);
    json_t *j = as_json(r, "leak.json");
    char *text = json_dumps(j, 0);
    assert_non_null(strstr(text, "you should put benches by the door"));
    assert_null(strstr(text, "four eight eight"));
    assert_null(strstr(text, "[CARD] and one"));
    assert_null(strstr(text, "07700"));
    assert_null(strstr(text, "about the benches"));
    /* The phrase list keeps the words around the number, not the number. */
    assert_non_null(strstr(text, "broken screen"));
    json_t *un = json_object_get(json_object_get(j, "sections"), "unmatched"), *row;
    size_t i;
    json_array_foreach(un, i, row) {
        const char *ph = json_string_value(json_object_get(row, "phrase"));
        assert_null(strstr(ph, "four"));
        assert_null(strstr(ph, "eight"));
        assert_null(strstr(ph, "nine"));
    }
    free(text);
    json_decref(j);
    /* Markdown and HTML print the same rows. */
    char md[400];
    snprintf(md, sizeof md, "%s/leak.md", dir);
    assert_int_equal(earshot_report_write(r, EARSHOT_REPORT_MD, md), EARSHOT_OK);
    char *m = slurp(md);
    assert_null(strstr(m, "four eight"));
    assert_non_null(strstr(m, "benches by the door"));
    free(m);
    earshot_report_free(r);
}

/* ------------------------------------------------------------------ */
/* differential privacy (issue 14, item 5)                              */
/* ------------------------------------------------------------------ */

/* 10,000 draws of the two-sided geometric at epsilon 0.5 (alpha =
 * e^-0.5): mean 0 and variance 2 alpha / (1 - alpha)^2 = 7.84, within
 * bounds five standard errors wide; the same seed gives the same draws,
 * and getrandom(2) passes the same bounds. */
static void check_noise(earshot__dp_rng *g, double alpha)
{
    enum { N = 10000 };
    double sum = 0, sq = 0;
    int64_t lo = 0, hi = 0;
    for (int i = 0; i < N; i++) {
        int ok;
        int64_t k = earshot__dp_noise(g, alpha, &ok);
        assert_true(ok);
        sum += (double)k;
        sq += (double)k * (double)k;
        lo = k < lo ? k : lo;
        hi = k > hi ? k : hi;
    }
    double var = 2 * alpha / ((1 - alpha) * (1 - alpha));
    double mean = sum / N, v = sq / N - mean * mean;
    printf("noise alpha %.4f: mean %.4f, variance %.3f (expected 0, %.3f), range %lld..%lld\n",
           alpha, mean, v, var, (long long)lo, (long long)hi);
    /* Standard error of the mean sqrt(var / N); of the variance about
     * var * sqrt((kurtosis - 1) / N), kurtosis of the discrete Laplace
     * near 6. */
    assert_true(fabs(mean) < 5 * sqrt(var / N));
    assert_true(fabs(v - var) < 5 * var * sqrt(5.0 / N));
    assert_true(lo < 0 && hi > 0);
}

static void test_dp_noise_distribution(void **state)
{
    (void)state;
    earshot__dp_rng a = {.state = 42, .seeded = 1}, b = {.state = 42, .seeded = 1};
    check_noise(&a, exp(-0.5));
    for (int i = 0; i < 100; i++) {
        int ok;
        int64_t x = earshot__dp_noise(&b, 0.5, &ok);
        (void)x;
    }
    earshot__dp_rng c = {.state = 7, .seeded = 1}, d = {.state = 7, .seeded = 1};
    for (int i = 0; i < 100; i++) {
        int ok;
        assert_int_equal(earshot__dp_noise(&c, 0.9, &ok), earshot__dp_noise(&d, 0.9, &ok));
    }
    check_noise(&c, exp(-0.1 / 3)); /* a table's alpha at epsilon 1 */
    unsetenv("EARSHOT_DP_TEST_SEED");
    earshot__dp_rng r;
    assert_int_equal(earshot__dp_rng_init(&r), 0); /* getrandom(2) */
    check_noise(&r, exp(-0.5));
    setenv("EARSHOT_DP_TEST_SEED", "99", 1);
    assert_int_equal(earshot__dp_rng_init(&r), 1);
    unsetenv("EARSHOT_DP_TEST_SEED");
}

static int dp_build(const char *db, double eps, double budget, const char *since,
                    const char *until, earshot_report **out, earshot_store **sp)
{
    earshot_store *s = open_store(db, 0);
    earshot_report_config cfg = earshot_report_config_default();
    cfg.privacy = EARSHOT_PRIVACY_DP;
    cfg.min_group = 0;
    cfg.epsilon = eps;
    cfg.budget = budget;
    cfg.since = since;
    cfg.until = until;
    cfg.utc = 1;
    cfg.grammar_dir = EARSHOT_SOURCE_GRAMMAR_DIR;
    int rc = earshot_report_build(s, &cfg, out);
    if (sp)
        *sp = s;
    else
        earshot_store_close(s);
    return rc;
}

static void copy_file(const char *from, const char *to)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "cp '%s' '%s' && rm -f '%s-wal' '%s-shm'", from, to, to, to);
    assert_int_equal(system(cmd), 0);
}

static long long fig(json_t *row, const char *cell)
{
    return json_integer_value(json_object_get(json_object_get(row, cell), "n"));
}

/* A dp report of October: every category released (zeros too), noisy
 * figures of distinct sessions near the exact ones, derived figures from
 * the noisy counts, nothing free-text; the ledger records it and refuses
 * the report that would pass the month's budget. */
static void test_dp_report(void **state)
{
    (void)state;
    char db[400], js[400];
    snprintf(db, sizeof db, "%s/dp.db", dir);
    copy_file(db_c, db);
    setenv("EARSHOT_DP_TEST_SEED", "2026", 1);
    earshot_report *r = NULL;
    if (dp_build(db, 1.0, 2.0, "2026-10-01", "2026-10-31", &r, NULL) != EARSHOT_OK)
        fail_msg("%s", earshot_report_errmsg(r));
    json_t *j = as_json(r, "dp.json");
    json_t *sec = json_object_get(j, "sections");
    /* People's formats say which protection it is, and never "<K". */
    char md[400], html[400];
    snprintf(md, sizeof md, "%s/dp.md", dir);
    snprintf(html, sizeof html, "%s/dp.html", dir);
    assert_int_equal(earshot_report_write(r, EARSHOT_REPORT_MD, md), EARSHOT_OK);
    assert_int_equal(earshot_report_write(r, EARSHOT_REPORT_HTML, html), EARSHOT_OK);
    for (int f = 0; f < 2; f++) {
        char *page = slurp(f ? html : md);
        assert_non_null(strstr(page, "ifferential privacy, epsilon 1"));
        assert_non_null(strstr(page, "TEST"));
        assert_null(strstr(page, "suppressed"));
        assert_null(strstr(page, "&lt;0"));
        free(page);
    }
    /* Pre-declared: all 11 scores, every intent of the grammar (11, "other"
     * among them) but the 3 dialogue ones, every day of October for each. */
    json_t *ratings = json_object_get(sec, "ratings");
    assert_int_equal(json_array_size(ratings), 11);
    size_t n_intents = json_array_size(json_object_get(sec, "intents"));
    assert_int_equal(n_intents, 11 - 3);
    assert_int_equal(json_array_size(json_object_get(sec, "intent_trend")), 31 * n_intents);
    size_t zeros = 0, i;
    json_t *row;
    json_array_foreach(json_object_get(sec, "intent_trend"), i, row) {
        zeros += fig(row, "utterances") == 0;
    }
    assert_true(zeros > 0); /* zeros are released, not hidden */
    /* Nothing free-text, no channels, no quotes, nothing suppressed. */
    assert_int_equal(json_array_size(json_object_get(sec, "unmatched")), 0);
    assert_int_equal(json_array_size(json_object_get(sec, "question_phrases")), 0);
    assert_int_equal(json_array_size(json_object_get(sec, "channels")), 0);
    char *text = json_dumps(j, 0);
    assert_null(strstr(text, "suppressed"));
    assert_null(strstr(text, "\"text\""));
    assert_non_null(strstr(text, "TEST ONLY"));
    free(text);
    json_t *priv = json_object_get(j, "privacy");
    assert_string_equal(json_string_value(json_object_get(priv, "mode")), "dp");
    assert_false(json_is_true(json_object_get(priv, "private"))); /* seeded */
    /* Figures are distinct sessions plus noise: near the SQL's, not all equal. */
    sqlite3 *h;
    assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    double absdiff = 0;
    int n = 0, equal = 0;
    json_array_foreach(ratings, i, row) {
        char sql[300];
        snprintf(sql, sizeof sql, "SELECT count(DISTINCT session_id) FROM utterances WHERE "
                 "slots = '{\"score\":%lld}' AND heard_at < '2026-11-01' AND intent NOT IN "
                 "('consent_yes','consent_no','forget_me')",
                 (long long)json_integer_value(json_object_get(row, "score")));
        sqlite3_stmt *st;
        assert_int_equal(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        long long exact = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        long long noisy = fig(row, "ratings");
        absdiff += (double)(noisy > exact ? noisy - exact : exact - noisy);
        equal += noisy == exact;
        n++;
    }
    sqlite3_close(h);
    /* Scale 2 / 0.1 = 20 per figure (ratings: 2 cells a session, 0.1 each
     * table): mean |noise| about 20, never hundreds; clamping at 0 only
     * shrinks it. */
    printf("dp ratings: mean |noisy - exact| %.1f over %d scores, %d equal\n", absdiff / n, n,
           equal);
    assert_true(equal < n);
    assert_true(absdiff / n < 80);
    /* NPS from the noisy counts. */
    json_t *nps = json_object_get(sec, "nps");
    long long R = fig(nps, "ratings"), P = fig(nps, "promoters"), D = fig(nps, "detractors");
    if (R > 0 && json_object_get(nps, "nps")) {
        double want = 100.0 * (double)(P - D) / (double)R;
        assert_true(fabs((double)json_integer_value(json_object_get(nps, "nps")) - want) < 0.51);
    }
    json_decref(j);
    /* A second report of the month spends another 0.5. */
    earshot_report *r2 = NULL;
    assert_int_equal(dp_build(db, 0.5, 2.0, "2026-10-01", "2026-10-31", &r2, NULL),
                     EARSHOT_OK);
    earshot_report_free(r2);
    /* A dp report cannot be merged (suppression would apply to it). */
    snprintf(js, sizeof js, "%s/dp.json", dir);
    earshot_report *in = NULL;
    assert_int_equal(earshot_report_load(js, &in), EARSHOT_FORMAT);
    assert_non_null(strstr(earshot_report_errmsg(in), "differentially private"));
    earshot_report_free(in);
    earshot_report_free(r);

    /* The ledger: 1 + 0.5 of October's 2 spent; 0.5 more fits exactly,
     * then any more is refused and nothing is recorded. */
    assert_int_equal(dp_build(db, 0.5, 2.0, "2026-10-01", "2026-10-31", &r, NULL), EARSHOT_OK);
    earshot_report_free(r);
    earshot_store *s = NULL;
    assert_int_equal(dp_build(db, 0.25, 2.0, "2026-10-15", "2026-11-02", &r, &s),
                     EARSHOT_BUDGET);
    assert_non_null(strstr(earshot_report_errmsg(r), "2026-10"));
    assert_non_null(strstr(earshot_report_errmsg(r), "refused"));
    earshot_report_free(r);
    earshot_store_close(s);
    /* November (not spent) is still open; a larger budget is a choice. */
    assert_int_equal(dp_build(db, 0.25, 2.0, "2026-11-01", "2026-11-30", &r, NULL), EARSHOT_OK);
    earshot_report_free(r);
    assert_int_equal(dp_build(db, 0.25, 3.0, "2026-10-01", "2026-10-31", &r, NULL), EARSHOT_OK);
    earshot_report_free(r);
    assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(h, "SELECT count(*), sum(epsilon) FROM privacy_budget "
                                           "WHERE period = '2026-10'", -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), 4);
    assert_true(fabs(sqlite3_column_double(st, 1) - 2.25) < 1e-9);
    sqlite3_finalize(st);
    sqlite3_close(h);
    unsetenv("EARSHOT_DP_TEST_SEED");
}

/* Suppression and dp cannot be combined by accident: through the API
 * (min_group must be 0) and the command line (--min-group with --privacy
 * dp), each with one clear line; dp on a read-only store, without a
 * window, or with a bad epsilon is refused too. */
static void test_dp_misuse(void **state)
{
    (void)state;
    char db[300];
    snprintf(db, sizeof db, "%s/dp2.db", dir);
    copy_file(db_c, db);
    earshot_store *s = open_store(db, 0);
    earshot_report_config cfg = earshot_report_config_default();
    cfg.privacy = EARSHOT_PRIVACY_DP;
    cfg.epsilon = 1;
    cfg.since = "2026-10-01";
    cfg.until = "2026-10-31";
    cfg.grammar_dir = EARSHOT_SOURCE_GRAMMAR_DIR;
    earshot_report *r = NULL;
    assert_int_equal(earshot_report_build(s, &cfg, &r), EARSHOT_MISUSE); /* min_group 5 */
    assert_non_null(strstr(earshot_report_errmsg(r), "cannot be combined"));
    earshot_report_free(r);
    cfg.min_group = 0;
    cfg.epsilon = 0;
    assert_int_equal(earshot_report_build(s, &cfg, &r), EARSHOT_MISUSE);
    earshot_report_free(r);
    cfg.epsilon = 1;
    cfg.until = NULL;
    assert_int_equal(earshot_report_build(s, &cfg, &r), EARSHOT_MISUSE);
    earshot_report_free(r);
    earshot_store_close(s);
    cfg.until = "2026-10-31";
    s = open_store(db, 1);
    assert_int_equal(earshot_report_build(s, &cfg, &r), EARSHOT_MISUSE);
    assert_non_null(strstr(earshot_report_errmsg(r), "open it for writing"));
    earshot_report_free(r);
    earshot_store_close(s);
    /* Suppression alone ignores epsilon and budget fields it is not given. */
    struct {
        const char *args, *msg;
        int status;
    } cli[] = {
        {"--privacy dp --epsilon 1 --min-group 5 --since 2026-10-01 --until 2026-10-31",
         "give one or the other", 2},
        {"--privacy dp --since 2026-10-01 --until 2026-10-31", "needs --epsilon", 2},
        {"--privacy dp --epsilon 1", "needs --since and --until", 2},
        {"--epsilon 1", "belong to --privacy dp", 2},
        {"--privacy dp --epsilon 0 --since 2026-10-01 --until 2026-10-31", "--epsilon needs", 2},
        {"--privacy laplace", "suppress or dp", 2},
        {"--privacy dp --epsilon 1.5 --budget 1 --since 2026-10-01 --until 2026-10-31",
         "budget of 2026-10 is spent", 1},
    };
    for (size_t i = 0; i < sizeof cli / sizeof *cli; i++) {
        char cmd[2048], err[300];
        snprintf(err, sizeof err, "%s/dp-cli.err", dir);
        snprintf(cmd, sizeof cmd, "'%s' report --db '%s' --out /dev/null %s 2>'%s'", bin, db,
                 cli[i].args, err);
        int st = system(cmd);
        char *e = slurp(err);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != cli[i].status || !strstr(e, cli[i].msg))
            fail_msg("%s: exit %d, stderr: %s", cli[i].args, WEXITSTATUS(st), e);
        free(e);
    }
    /* And the command line's dp report works, spending the ledger. */
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "EARSHOT_DP_TEST_SEED=1 '%s' report --db '%s' --privacy dp "
             "--epsilon 0.5 --since 2026-10-01 --until 2026-10-31 --format json --out '%s/dp-cli."
             "json' 2>/dev/null", bin, db, dir);
    assert_int_equal(system(cmd), 0);
    sqlite3 *h;
    assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(h, "SELECT count(*) FROM privacy_budget", -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), 1);
    sqlite3_finalize(st);
    sqlite3_close(h);
}


/* ------------------------------------------------------------------ */
/* What to act on: planted effects                                      */
/* ------------------------------------------------------------------ */

enum { PLANT_RISE = 1, PLANT_DRIVER = 2, PLANT_CHANNEL = 4 };

/* What the generator put in, counted as the findings count it. */
typedef struct planted {
    long long wait0, wait1, n0, n1;  /* sessions with a wait_time complaint, per half */
    long long park_d, n_d, park_p, n_p; /* parking mentioned: detractors, promoters */
    long long c_compl, c_n, o_compl, o_n; /* complaint sessions: kiosk-c, the others */
} planted;

/* 28 days of November 2026, 1,200 sessions, one to three utterances each;
 * the effects are planted on top of a steady base. Deterministic. */
static void make_planted(const char *db, int effects, planted *pl)
{
    unlink(db);
    earshot_store_close(open_store(db, 0));
    memset(pl, 0, sizeof *pl);
    char *sql = malloc(4 << 20);
    size_t len = (size_t)sprintf(sql, "BEGIN;");
    unsigned seed = 4242u;
#define RND() (seed = seed * 1103515245u + 12345u, (double)((seed >> 8) & 0xffff) / 65536.0)
    for (int i = 0; i < 1200; i++) {
        int day = 1 + i % 28, id = 7100000 + i;
        const char *ch = i % 3 == 0 ? "kiosk-a" : i % 3 == 1 ? "kiosk-b" : "kiosk-c";
        len += (size_t)sprintf(sql + len,
                               "INSERT INTO sessions VALUES (%d, '%s', '2026-11-%02dT10:00:00Z',"
                               " NULL);INSERT INTO consents VALUES (%d, %d, 1, 1, 0, '1', "
                               "'voice', '2026-11-%02dT10:00:01Z', NULL);",
                               id, ch, day, id, id, day);
        int second = day > 14;
        double p_wait = (effects & PLANT_RISE) && second ? 0.30 : 0.15;
        int score = (int)(RND() * 11);
        int detr = score <= 6, prom = score >= 9;
        double p_park = (effects & PLANT_DRIVER) && detr ? 0.45 : 0.12;
        double p_store = (effects & PLANT_CHANNEL) && i % 3 == 2 ? 0.35 : 0.12;
        int wait = RND() < p_wait, park = RND() < p_park, store = RND() < p_store;
        int k = 0;
#define UTT(intent, sent, topics, text, slots)                                                 \
    len += (size_t)sprintf(sql + len,                                                          \
                           "INSERT INTO utterances (session_id, consent_id, heard_at, text, "  \
                           "intent, confidence, slots, sentiment, topics) VALUES (%d, %d, "     \
                           "'2026-11-%02dT10:00:%02dZ', '%s', '%s', 0.8, '%s', '%s', '%s');",  \
                           id, id, day, 10 + k++, text, intent, slots, sent, topics)
        char slots[32];
        snprintf(slots, sizeof slots, "{\"score\":%d}", score);
        UTT("nps", "neutral", "", "i would give it a rating", slots);
        if (wait)
            UTT("complaint", "negative", "wait_time", "the queue was far too long", "{}");
        if (park)
            UTT("question", "neutral", "parking", "where can i leave the car", "{}");
        if (store)
            UTT("complaint", "negative", "store", "the shelves were a mess", "{}");
        UTT("other", "neutral", "", "lovely weather outside", "{}");
        pl->n0 += !second;
        pl->n1 += second;
        pl->wait0 += wait && !second;
        pl->wait1 += wait && second;
        pl->n_d += detr;
        pl->n_p += prom;
        pl->park_d += park && detr;
        pl->park_p += park && prom;
        if (i % 3 == 2) {
            pl->c_n++;
            pl->c_compl += wait || store;
        } else {
            pl->o_n++;
            pl->o_compl += wait || store;
        }
    }
#undef UTT
#undef RND
    sprintf(sql + len, "COMMIT;");
    sql_exec(db, sql);
    free(sql);
}

static size_t shown_findings(earshot_report *r, const earshot_finding **fv)
{
    size_t n = earshot_report_findings(r, fv), k = 0;
    for (size_t i = 0; i < n; i++) {
        printf("  finding %s %s shown=%d delta %+.1f p %.3g more %lld: %s\n", (*fv)[i].kind_name,
               (*fv)[i].subject, (*fv)[i].shown, (*fv)[i].delta_pts, (*fv)[i].p,
               (*fv)[i].more_sessions, (*fv)[i].sentence);
        if ((*fv)[i].shown) {
            assert_int_equal(k, i); /* shown ones first */
            k++;
        }
    }
    return k;
}

static void test_findings_planted(void **state)
{
    (void)state;
    char db[400];
    snprintf(db, sizeof db, "%s/planted.db", dir);
    planted pl;
    const earshot_finding *fv;

    /* Without any effect: no finding, and every family says why. */
    make_planted(db, 0, &pl);
    earshot_report *r = build(db, 5);
    assert_int_equal(shown_findings(r, &fv), 0);
    assert_int_equal(earshot_report_findings(r, &fv), 5);
    for (size_t i = 0; i < 5; i++)
        assert_true(strstr(fv[i].sentence, "not enough evidence yet") ||
                    strstr(fv[i].sentence, "none found") || strstr(fv[i].sentence, "nothing to test"));
    earshot_report_free(r);
    /* The command's alert mode stays quiet: exit 0, nothing printed. */
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "'%s' report --db '%s' --alerts >'%s/alerts' 2>&1", bin, db, dir);
    assert_int_equal(WEXITSTATUS(system(cmd)), 0);
    snprintf(cmd, sizeof cmd, "%s/alerts", dir);
    char *quiet = slurp(cmd);
    assert_string_equal(quiet, "");
    free(quiet);

    /* Complaints about wait time doubled in the second half. */
    make_planted(db, PLANT_RISE, &pl);
    r = build(db, 5);
    assert_true(shown_findings(r, &fv) >= 1);
    assert_string_equal(fv[0].kind_name, "complaints");
    assert_string_equal(fv[0].subject, "wait_time");
    assert_int_equal(fv[0].x_before, pl.wait0);
    assert_int_equal(fv[0].n_before, pl.n0);
    assert_int_equal(fv[0].x_after, pl.wait1);
    assert_int_equal(fv[0].n_after, pl.n1);
    assert_true(fv[0].p < fv[0].alpha);
    assert_true(fv[0].ci_low > 0 && fv[0].ci_low < fv[0].delta_pts &&
                fv[0].delta_pts < fv[0].ci_high);
    assert_non_null(strstr(fv[0].sentence, "two-proportion z-test"));
    /* Alerts: a threshold it crosses, one it does not, a bad one. */
    assert_int_equal(earshot_finding_matches(&fv[0], "complaints:wait_time:+5"), 1);
    assert_int_equal(earshot_finding_matches(&fv[0], "complaints:*"), 1);
    assert_int_equal(earshot_finding_matches(&fv[0], "complaints:wait_time:+60"), 0);
    assert_int_equal(earshot_finding_matches(&fv[0], "complaints:price"), 0);
    assert_int_equal(earshot_finding_matches(&fv[0], "complaints:wait_time:20"), -1);
    assert_int_equal(earshot_finding_matches(&fv[0], "nonsense"), -1);
    /* The same through the command, for cron: exit 3 and one line per
     * finding over a threshold; 0 under it; 2 for a malformed threshold. */
    snprintf(cmd, sizeof cmd, "'%s' report --db '%s' --alert complaints:wait_time:+5 >'%s/alerts'",
             bin, db, dir);
    assert_int_equal(WEXITSTATUS(system(cmd)), 3);
    snprintf(cmd, sizeof cmd, "%s/alerts", dir);
    char *loud = slurp(cmd);
    assert_non_null(strstr(loud, "alert: complaints:wait_time: "));
    assert_null(strchr(strchr(loud, '\n') + 1, '\n')); /* one line */
    free(loud);
    snprintf(cmd, sizeof cmd, "'%s' report --db '%s' --alert complaints:wait_time:+60 >'%s/alerts'",
             bin, db, dir);
    assert_int_equal(WEXITSTATUS(system(cmd)), 0);
    snprintf(cmd, sizeof cmd, "'%s' report --db '%s' --alert complaints:wait_time:20 2>/dev/null",
             bin, db);
    assert_int_equal(WEXITSTATUS(system(cmd)), 2);
    /* On top of the HTML, Markdown and JSON reports. */
    char path[400];
    snprintf(path, sizeof path, "%s/planted.html", dir);
    assert_int_equal(earshot_report_write(r, EARSHOT_REPORT_HTML, path), EARSHOT_OK);
    char *page = slurp(path);
    char *act = strstr(page, "id=act"), *ov = strstr(page, "id=overview");
    assert_true(act && ov && act < ov);
    assert_non_null(strstr(act, "Complaints about wait time rose"));
    free(page);
    snprintf(path, sizeof path, "%s/planted.md", dir);
    assert_int_equal(earshot_report_write(r, EARSHOT_REPORT_MD, path), EARSHOT_OK);
    page = slurp(path);
    assert_non_null(strstr(page, "## What to act on"));
    assert_non_null(strstr(page, "Complaints about wait time rose"));
    free(page);
    json_t *j = as_json(r, "planted.json");
    json_t *f0 = json_array_get(json_object_get(j, "findings"), 0);
    assert_string_equal(json_string_value(json_object_get(f0, "kind")), "complaints");
    assert_int_equal(json_integer_value(json_object_get(f0, "x_after")), pl.wait1);
    json_decref(j);
    earshot_report_free(r);

    /* Parking planted in detractor sessions. */
    make_planted(db, PLANT_DRIVER, &pl);
    r = build(db, 5);
    assert_true(shown_findings(r, &fv) >= 1);
    assert_string_equal(fv[0].kind_name, "driver");
    assert_string_equal(fv[0].subject, "parking");
    assert_int_equal(fv[0].x_after, pl.park_d);
    assert_int_equal(fv[0].n_after, pl.n_d);
    assert_int_equal(fv[0].x_before, pl.park_p);
    assert_int_equal(fv[0].n_before, pl.n_p);
    assert_true(fv[0].ci_low > 0);
    earshot_report_free(r);

    /* kiosk-c with a higher complaint share. */
    make_planted(db, PLANT_CHANNEL, &pl);
    r = build(db, 5);
    assert_true(shown_findings(r, &fv) >= 1);
    assert_string_equal(fv[0].kind_name, "channel");
    assert_string_equal(fv[0].subject, "kiosk-c");
    assert_int_equal(fv[0].x_after, pl.c_compl);
    assert_int_equal(fv[0].n_after, pl.c_n);
    assert_int_equal(fv[0].x_before, pl.o_compl);
    assert_int_equal(fv[0].n_before, pl.o_n);
    earshot_report_free(r);
}

/* The HTML in a real browser: loads with no console error or blocked
 * request (its Content-Security-Policy forbids every request), renders
 * every section, and a screenshot is taken (build/tests/report.png). */
static void test_html_in_chromium(void **state)
{
    (void)state;
    earshot_report *r = build(db_c, 5);
    char html[400];
    snprintf(html, sizeof html, "%s/report.html", dir);
    assert_int_equal(earshot_report_write(r, EARSHOT_REPORT_HTML, html), EARSHOT_OK);
    earshot_report_free(r);
    char *page = slurp(html);
    /* Self-contained: nothing to fetch. */
    assert_null(strstr(page, "src="));
    assert_null(strstr(page, "href="));
    assert_null(strstr(page, "url("));
    assert_null(strstr(page, "<script"));
    free(page);
    if (system("command -v chromium >/dev/null") != 0)
        fail_msg("chromium is not installed: run 'make deps' (Debian package chromium)");
    char cmd[4096], log[400], dom[400], png[400];
    snprintf(log, sizeof log, "%s/chromium.log", dir);
    snprintf(dom, sizeof dom, "%s/dom.html", dir);
    /* Beside the test binaries, to be looked at: build/tests/report.png. */
    snprintf(png, sizeof png, "%.*s/tests/report.png",
             (int)(strrchr(bin, '/') ? strrchr(bin, '/') - bin : 1),
             strrchr(bin, '/') ? bin : ".");
    const char *flags = "--headless --no-sandbox --disable-gpu --hide-scrollbars "
                        "--enable-logging=stderr --v=0 --user-data-dir=";
    snprintf(cmd, sizeof cmd, "chromium %s'%s/profile' --window-size=1000,4200 "
             "--screenshot='%s' 'file://%s' 2>'%s' >/dev/null", flags, dir, png, html, log);
    assert_int_equal(system(cmd), 0);
    struct stat st;
    assert_int_equal(stat(png, &st), 0);
    assert_true(st.st_size > 50000); /* a blank page is a few kB */
    snprintf(cmd, sizeof cmd, "chromium %s'%s/profile' --dump-dom 'file://%s' 2>>'%s' >'%s'",
             flags, dir, html, log, dom);
    assert_int_equal(system(cmd), 0);
    char *d = slurp(dom);
    static const char *const ids[] = {"id=\"overview\"", "id=\"intents\"", "id=\"friction\"",
                                      "id=\"loyalty\"", "id=\"ideas\"", "id=\"gaps\"",
                                      "id=\"channels\"", "id=\"unmatched\"",
                                      "How this report protects customers"};
    for (size_t i = 0; i < sizeof ids / sizeof *ids; i++)
        if (!strstr(d, ids[i]))
            fail_msg("rendered page lacks %s", ids[i]);
    free(d);
    char *l = slurp(log);
    static const char *const bad[] = {"CONSOLE", "Refused to", "net::ERR", "Uncaught"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (strstr(l, bad[i]))
            fail_msg("chromium reported a page error (%s):\n%.2000s", bad[i], l);
    free(l);
    printf("screenshot: %s\n", png);
}

/* A database of n_days days from 2026-09-01, eight intents a day, intent
 * j from 12 - j sessions of one utterance each (so every figure shows at
 * K=5 and the order of the intents is known). */
static void make_trend_db(const char *db, int n_days)
{
    static const char *const intents[] = {"complaint", "question", "praise", "suggestion",
                                          "cancel", "nps", "other", "greeting"};
    unlink(db);
    earshot_store_close(open_store(db, 0)); /* the schema */
    char *sql = malloc(1 << 22);
    size_t len = (size_t)sprintf(sql, "BEGIN;");
    int id = 7000000;
    for (int d = 0; d < n_days; d++) {
        char day[16];
        struct tm tm = {.tm_year = 126, .tm_mon = 8, .tm_mday = 1 + d, .tm_hour = 12};
        time_t t = timegm(&tm);
        gmtime_r(&t, &tm);
        strftime(day, sizeof day, "%Y-%m-%d", &tm);
        for (int j = 0; j < 8; j++)
            for (int k = 0; k < 12 - j; k++, id++)
                len += (size_t)sprintf(
                    sql + len,
                    "INSERT INTO sessions VALUES (%d, 'kiosk-a', '%sT12:00:00Z', NULL);"
                    "INSERT INTO consents VALUES (%d, %d, 1, 0, 0, '1', 'voice',"
                    " '%sT12:00:01Z', NULL);"
                    "INSERT INTO utterances (session_id, consent_id, heard_at, text, intent,"
                    " confidence, slots, sentiment, topics) VALUES (%d, %d, '%sT12:00:05Z',"
                    " 'words', '%s', 0.8, '{}', 'neutral', '');",
                    id, day, id, id, day, id, id, day, intents[j]);
    }
    len += (size_t)sprintf(sql + len, "COMMIT;");
    assert_true(len < (1 << 22));
    sql_exec(db, sql);
    free(sql);
}

/* Trend charts stay legible (issue 18): past 31 days of daily data the
 * chart is per ISO week; only the five intents heard most have their own
 * series, the rest are summed as "other intents"; a short database stays
 * per day. The JSON keeps the days. */
static void test_trend_weekly_top_intents(void **state)
{
    (void)state;
    char db[400], html[400];
    snprintf(db, sizeof db, "%s/trend.db", dir);
    snprintf(html, sizeof html, "%s/trend.html", dir);

    make_trend_db(db, 62); /* 2026-09-01 .. 2026-11-01 */
    earshot_report *r = build(db, 5);
    assert_int_equal(earshot_report_write(r, EARSHOT_REPORT_HTML, html), EARSHOT_OK);
    json_t *j = as_json(r, "trend.json");
    earshot_report_free(r);
    char *page = slurp(html);
    assert_non_null(strstr(page, "Over time (per week)"));
    assert_non_null(strstr(page, "aria-label='intents per week' data-unit=week"));
    /* 2026-09-07 .. 09-13 is ISO week 37, a whole week: the top intent 7 x 12,
     * the other three intents summed, 7 x (7 + 6 + 5). */
    assert_non_null(strstr(page, "<title>2026-W37 complaint: 84</title>"));
    assert_non_null(strstr(page, "<title>2026-W37 cancel: 56</title>"));
    assert_non_null(strstr(page, "<title>2026-W37 other intents: 126</title>"));
    /* The first week is partial (Tuesday 1 to Sunday 6): 6 days. */
    assert_non_null(strstr(page, "<title>2026-W36 other intents: 108</title>"));
    /* No column per day, and no series of its own for the sixth intent. */
    assert_null(strstr(page, "<title>2026-09-07 "));
    assert_null(strstr(page, "<title>2026-W37 nps:"));
    assert_non_null(strstr(page, "<span class=other>"));
    char *legend = strstr(page, "<div class=legend>");
    assert_non_null(legend);
    int spans = 0;
    for (char *p = legend; (p = strstr(p, "<span")) && p < strstr(legend, "</div>"); p++)
        spans++;
    assert_int_equal(spans, 6);
    free(page);
    /* The JSON trend is still per day: 62 days x 8 intents. */
    assert_int_equal(json_array_size(json_object_get(json_object_get(j, "sections"),
                                                     "intent_trend")), 62 * 8);
    json_decref(j);

    make_trend_db(db, 20);
    r = build(db, 5);
    assert_int_equal(earshot_report_write(r, EARSHOT_REPORT_HTML, html), EARSHOT_OK);
    earshot_report_free(r);
    page = slurp(html);
    assert_non_null(strstr(page, "Over time (per day)"));
    assert_non_null(strstr(page, "data-unit=day"));
    assert_non_null(strstr(page, "<title>2026-09-03 complaint: 12</title>"));
    assert_non_null(strstr(page, "<title>2026-09-03 other intents: 18</title>"));
    assert_null(strstr(page, "2026-W3"));
    free(page);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_figures_match_sql),
        cmocka_unit_test(test_suppression_k5_k4),
        cmocka_unit_test(test_nothing_identifying),
        cmocka_unit_test(test_merge_equals_merged_data),
        cmocka_unit_test(test_secondary_suppression),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_leaked_digits_dropped),
        cmocka_unit_test(test_dp_noise_distribution),
        cmocka_unit_test(test_dp_report),
        cmocka_unit_test(test_dp_misuse),
        cmocka_unit_test(test_findings_planted),
        cmocka_unit_test(test_html_in_chromium),
        cmocka_unit_test(test_trend_weekly_top_intents),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
