/* test_store.c - consented storage against a real SQLite file: the consent
 * matrix, the voice path, redaction before writing, forget that erases
 * bytes, export, retention, migrations, refusal of damaged files, a locked
 * and a full database, audio under the audio scope, and crash safety under
 * SIGKILL. Utterances are analysed by the real grammar matcher. */
#define _GNU_SOURCE /* memmem, unshare */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "earshot.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sndfile.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char dir[256];
static char db[300];
static earshot_intents *grammar;

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/earshot-store-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(db, sizeof db, "%s/earshot.db", dir);
    return earshot_intents_open(&grammar, EARSHOT_SOURCE_GRAMMAR_DIR);
}

static int teardown(void **state)
{
    (void)state;
    earshot_intents_close(grammar);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd);
}

/* Each test starts from no database. */
static void fresh(void)
{
    char p[400];
    unlink(db);
    snprintf(p, sizeof p, "%s-wal", db);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", db);
    unlink(p);
    snprintf(p, sizeof p, "rm -rf '%s.audio'", db);
    assert_int_equal(system(p), 0);
}

static earshot_store *open_db(int busy_ms, size_t queue_max)
{
    earshot_store_config cfg = earshot_store_config_default();
    cfg.path = db;
    cfg.grammar_dir = EARSHOT_SOURCE_GRAMMAR_DIR;
    if (busy_ms >= 0)
        cfg.busy_timeout_ms = busy_ms;
    if (queue_max)
        cfg.queue_max = queue_max;
    earshot_store *s = NULL;
    int rc = earshot_store_open(&s, &cfg);
    if (rc != EARSHOT_OK)
        fail_msg("open: %s", earshot_store_errmsg(s));
    return s;
}

/* Analyses text with the real matcher and hands it to the store, as the
 * recogniser's callback would. */
static int hear(earshot_store *s, int64_t session, const char *text, earshot_heard *what)
{
    earshot_analysis a;
    assert_int_equal(earshot_intents_analyze(grammar, text, &a), EARSHOT_OK);
    earshot_utterance u = {.text = text, .start = 1.0, .end = 2.5, .confidence = 0.9,
                           .analysis = &a, .model_id = "00000000000000aa",
                           .grammar_id = "00000000000000bb"};
    return earshot_store_utterance(s, session, &u, NULL, 0, what);
}

/* Independent checks go through SQLite directly, not through the store. */
static long long sql_int(const char *sql)
{
    sqlite3 *h;
    assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(h));
    long long v = -1;
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(h);
    return v;
}

static char *sql_text(const char *sql)
{
    sqlite3 *h;
    assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK);
    char *v = NULL;
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
        v = strdup((const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(h);
    return v;
}

/* Does the file (database or -wal) contain these bytes anywhere? */
static int file_contains(const char *path, const char *needle)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    int found = n > 0 && memmem(buf, (size_t)n, needle, strlen(needle)) != NULL;
    free(buf);
    return found;
}

static int db_files_contain(const char *needle)
{
    char wal[400];
    snprintf(wal, sizeof wal, "%s-wal", db);
    return file_contains(db, needle) || file_contains(wal, needle);
}

static void test_consent_matrix(void **state)
{
    (void)state;
    fresh();
    earshot_store *s = open_db(-1, 0);
    earshot_heard what;

    /* No consent: heard, answered, not kept. */
    int64_t none;
    assert_int_equal(earshot_session_begin(s, "kiosk-1", &none), EARSHOT_OK);
    assert_int_equal(hear(s, none, "the checkout queue was far too long", &what), EARSHOT_OK);
    assert_int_equal(what, EARSHOT_HEARD_DROPPED);
    assert_int_equal(sql_int("SELECT count(*) FROM utterances"), 0);

    /* Granted: rows carry that consent's id. */
    int64_t granted, consent;
    assert_int_equal(earshot_session_begin(s, "kiosk-1", &granted), EARSHOT_OK);
    assert_int_equal(earshot_consent_grant(s, granted, EARSHOT_SCOPE_TRANSCRIPTS,
                                           EARSHOT_BY_BUTTON, &consent), EARSHOT_OK);
    assert_int_equal(hear(s, granted, "the checkout queue was far too long", &what), EARSHOT_OK);
    assert_int_equal(what, EARSHOT_HEARD_STORED);
    assert_int_equal(hear(s, granted, "i would give you a nine out of ten", &what), EARSHOT_OK);
    char q[200];
    snprintf(q, sizeof q, "SELECT count(*) FROM utterances WHERE consent_id = %lld",
             (long long)consent);
    assert_int_equal(sql_int(q), 2);
    assert_int_equal(sql_int("SELECT count(*) FROM utterances"), 2);
    char *slots = sql_text("SELECT slots FROM utterances WHERE intent = 'nps'");
    assert_string_equal(slots, "{\"score\":9}");
    free(slots);
    char *m = sql_text("SELECT method FROM consents");
    assert_string_equal(m, "button");
    free(m);
    assert_int_equal(sql_int("SELECT count(*) FROM utterances WHERE model_hash = "
                             "'00000000000000aa' AND grammar_hash = '00000000000000bb'"), 2);

    /* A consent with only the quotes scope does not allow transcripts. */
    int64_t quotes_only;
    assert_int_equal(earshot_session_begin(s, "kiosk-1", &quotes_only), EARSHOT_OK);
    assert_int_equal(earshot_consent_grant(s, quotes_only, EARSHOT_SCOPE_QUOTES, EARSHOT_BY_API,
                                           NULL), EARSHOT_OK);
    assert_int_equal(hear(s, quotes_only, "the staff were lovely", &what), EARSHOT_OK);
    assert_int_equal(what, EARSHOT_HEARD_DROPPED);

    /* Revoked: that consent's rows are gone, and nothing more is kept. */
    int64_t erased = 0;
    assert_int_equal(earshot_consent_revoke(s, granted, &erased), EARSHOT_OK);
    assert_int_equal(erased, 2);
    assert_int_equal(sql_int("SELECT count(*) FROM utterances"), 0);
    assert_int_equal(hear(s, granted, "the staff were lovely", &what), EARSHOT_OK);
    assert_int_equal(what, EARSHOT_HEARD_DROPPED);
    assert_int_equal(sql_int("SELECT count(*) FROM utterances"), 0);
    assert_int_equal(sql_int("SELECT count(*) FROM consents WHERE revoked_at IS NOT NULL"), 1);
    assert_int_equal(sql_int("SELECT count(*) FROM audit WHERE event = 'revoke' AND "
                             "utterances = 2"), 1);
    earshot_store_close(s);

    struct stat st;
    assert_int_equal(stat(db, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(sql_int("PRAGMA user_version"), 8);
    char *mode = sql_text("PRAGMA journal_mode");
    assert_string_equal(mode, "wal");
    free(mode);
}

static void test_voice_path(void **state)
{
    (void)state;
    fresh();
    earshot_store *s = open_db(-1, 0);
    earshot_heard what;
    int64_t a;
    assert_int_equal(earshot_session_begin(s, "kiosk-2", &a), EARSHOT_OK);
    /* Before the answer: not kept. */
    assert_int_equal(hear(s, a, "the coffee was cold", &what), EARSHOT_OK);
    assert_int_equal(what, EARSHOT_HEARD_DROPPED);
    assert_int_equal(hear(s, a, "yes you can record me", &what), EARSHOT_OK);
    assert_int_equal(what, EARSHOT_HEARD_CONSENTED);
    assert_int_equal(sql_int("SELECT count(*) FROM consents WHERE method = 'voice' AND "
                             "scope_transcripts = 1 AND scope_audio = 0"), 1);
    assert_int_equal(hear(s, a, "the coffee was cold", &what), EARSHOT_OK);
    assert_int_equal(what, EARSHOT_HEARD_STORED);
    assert_int_equal(hear(s, a, "your staff were brilliant", &what), EARSHOT_OK);
    assert_int_equal(sql_int("SELECT count(*) FROM utterances"), 2);
    /* The consent answer itself is not stored. */
    assert_int_equal(sql_int("SELECT count(*) FROM utterances WHERE intent LIKE 'consent%'"), 0);

    /* forget me: the session is erased, and stays so. */
    assert_int_equal(hear(s, a, "please delete everything i just said", &what), EARSHOT_OK);
    assert_int_equal(what, EARSHOT_HEARD_FORGOTTEN);
    assert_int_equal(sql_int("SELECT count(*) FROM utterances"), 0);
    assert_int_equal(sql_int("SELECT count(*) FROM sessions"), 0);
    assert_int_equal(sql_int("SELECT count(*) FROM consents"), 0);
    assert_int_equal(hear(s, a, "the coffee was cold", &what), EARSHOT_OK);
    assert_int_equal(what, EARSHOT_HEARD_DROPPED);
    assert_int_equal(sql_int("SELECT count(*) FROM utterances"), 0);
    assert_false(db_files_contain("brilliant"));

    /* A no keeps nothing, even what follows. */
    int64_t b;
    assert_int_equal(earshot_session_begin(s, "kiosk-2", &b), EARSHOT_OK);
    assert_int_equal(hear(s, b, "no i do not want to be recorded", &what), EARSHOT_OK);
    assert_int_equal(what, EARSHOT_HEARD_DECLINED);
    assert_int_equal(hear(s, b, "the coffee was cold", &what), EARSHOT_OK);
    assert_int_equal(what, EARSHOT_HEARD_DROPPED);
    assert_int_equal(sql_int("SELECT count(*) FROM utterances"), 0);
    assert_int_equal(sql_int("SELECT count(*) FROM consents"), 0);

    /* A no after a yes revokes: what was kept goes. */
    int64_t c;
    assert_int_equal(earshot_session_begin(s, "kiosk-2", &c), EARSHOT_OK);
    assert_int_equal(hear(s, c, "sure go ahead and record", &what), EARSHOT_OK);
    assert_int_equal(what, EARSHOT_HEARD_CONSENTED);
    assert_int_equal(hear(s, c, "the coffee was cold", &what), EARSHOT_OK);
    assert_int_equal(sql_int("SELECT count(*) FROM utterances"), 1);
    assert_int_equal(hear(s, c, "actually no i do not want to be recorded", &what), EARSHOT_OK);
    assert_int_equal(what, EARSHOT_HEARD_DECLINED);
    assert_int_equal(sql_int("SELECT count(*) FROM utterances"), 0);
    earshot_store_close(s);
}

/* Like hear(), with the recogniser's mean word confidence and a pending
 * question. */
static int hear_as(earshot_store *s, int64_t session, const char *text, double words,
                   earshot_question q, earshot_analysis *a, earshot_heard *what)
{
    assert_int_equal(earshot_intents_set_question(grammar, q), EARSHOT_OK);
    assert_int_equal(earshot_intents_analyze(grammar, text, a), EARSHOT_OK);
    assert_int_equal(earshot_intents_set_question(grammar, EARSHOT_ASK_NONE), EARSHOT_OK);
    earshot_utterance u = {.text = text, .start = 1.0, .end = 2.5, .confidence = words,
                           .n_words = 1, .analysis = a, .model_id = "00000000000000aa",
                           .grammar_id = "00000000000000bb"};
    return earshot_store_utterance(s, session, &u, NULL, 0, what);
}

/* Issue 12: no destructive act on a guess. */
static void test_no_erasure_on_a_guess(void **state)
{
    (void)state;
    fresh();
    earshot_store *s = open_db(-1, 0);
    earshot_heard what;
    earshot_analysis a;

    /* Consent given elsewhere (--consent granted), two rows kept, then
     * praise misheard as "thank you don't monitor ...": a consent_no
     * below the threshold. Nothing is erased or revoked; a review is
     * recorded, without the words. */
    int64_t granted;
    assert_int_equal(earshot_session_begin(s, "phone", &granted), EARSHOT_OK);
    assert_int_equal(earshot_consent_grant(s, granted, EARSHOT_SCOPE_TRANSCRIPTS,
                                           EARSHOT_BY_ELSEWHERE, NULL), EARSHOT_OK);
    assert_int_equal(hear(s, granted, "the checkout queue was far too long", &what), EARSHOT_OK);
    assert_int_equal(hear(s, granted, "your staff were brilliant", &what), EARSHOT_OK);
    assert_int_equal(hear_as(s, granted, "thank you don't monitor the staff so closely they "
                             "were lovely", 0.9, EARSHOT_ASK_NONE, &a, &what), EARSHOT_OK);
    assert_string_equal(a.intent, "consent_no");
    assert_true(a.confidence < earshot_store_config_default().confirm_confidence);
    assert_int_equal(what, EARSHOT_HEARD_REVIEW);
    assert_int_equal(sql_int("SELECT count(*) FROM utterances"), 2);
    assert_int_equal(sql_int("SELECT count(*) FROM consents WHERE revoked_at IS NULL"), 1);
    assert_int_equal(sql_int("SELECT count(*) FROM reviews WHERE intent = 'consent_no'"), 1);
    assert_false(db_files_contain("monitor"));
    /* Still consented: what follows is kept. */
    assert_int_equal(hear(s, granted, "the coffee was cold", &what), EARSHOT_OK);
    assert_int_equal(what, EARSHOT_HEARD_STORED);

    /* A forget_me the words make plain but the recogniser doubted (mean
     * word confidence 0.3): recorded for review, never erased. */
    assert_int_equal(hear_as(s, granted, "please delete everything i just said", 0.3,
                             EARSHOT_ASK_NONE, &a, &what), EARSHOT_OK);
    assert_string_equal(a.intent, "forget_me");
    assert_int_equal(what, EARSHOT_HEARD_REVIEW);
    /* A forget_me of low intent confidence, however clearly heard. */
    assert_int_equal(hear_as(s, granted, "i've changed my mind please forget all my answers", 1.0,
                             EARSHOT_ASK_NONE, &a, &what), EARSHOT_OK);
    assert_string_equal(a.intent, "forget_me");
    assert_true(a.confidence < earshot_store_config_default().confirm_confidence);
    assert_int_equal(what, EARSHOT_HEARD_REVIEW);
    assert_int_equal(sql_int("SELECT count(*) FROM utterances"), 3);
    assert_int_equal(sql_int("SELECT count(*) FROM reviews WHERE intent = 'forget_me'"), 2);

    /* The customer confirms ("Shall I delete everything you said today?"
     * - "yes please"): that is confident, and the session goes, reviews
     * with it. */
    assert_int_equal(hear_as(s, granted, "yes please", 0.9, EARSHOT_ASK_CONFIRM_FORGET, &a,
                             &what), EARSHOT_OK);
    assert_string_equal(a.intent, "forget_me");
    assert_int_equal(what, EARSHOT_HEARD_FORGOTTEN);
    assert_int_equal(sql_int("SELECT count(*) FROM utterances"), 0);
    assert_int_equal(sql_int("SELECT count(*) FROM sessions"), 0);
    assert_int_equal(sql_int("SELECT count(*) FROM reviews"), 0);

    /* A clear revocation after a spoken yes still revokes. */
    int64_t b;
    assert_int_equal(earshot_session_begin(s, "kiosk", &b), EARSHOT_OK);
    assert_int_equal(hear_as(s, b, "fine by me", 0.9, EARSHOT_ASK_CONSENT, &a, &what),
                     EARSHOT_OK);
    assert_int_equal(what, EARSHOT_HEARD_CONSENTED);
    assert_int_equal(hear(s, b, "the coffee was cold", &what), EARSHOT_OK);
    assert_int_equal(hear(s, b, "actually no i do not want to be recorded", &what), EARSHOT_OK);
    assert_int_equal(what, EARSHOT_HEARD_DECLINED);
    assert_int_equal(sql_int("SELECT count(*) FROM utterances"), 0);
    earshot_store_close(s);
}

static void test_redacted_before_writing(void **state)
{
    (void)state;
    fresh();
    earshot_store *s = open_db(-1, 0);
    int64_t id;
    earshot_heard what;
    assert_int_equal(earshot_session_begin(s, "kiosk-3", &id), EARSHOT_OK);
    assert_int_equal(earshot_consent_grant(s, id, EARSHOT_SCOPE_TRANSCRIPTS, EARSHOT_BY_API, NULL),
                     EARSHOT_OK);
    assert_int_equal(hear(s, id, "my number is oh seven seven double oh nine double oh one two "
                                 "three and i would give you a nine out of ten", &what),
                     EARSHOT_OK);
    assert_int_equal(hear(s, id, "my name is zebedee quiggly and my card is four five three "
                                 "two zero one five one one two eight three zero three six six",
                          &what), EARSHOT_OK);
    assert_int_equal(hear(s, id, "email me at jo.bloggs@example.com please", &what), EARSHOT_OK);
    earshot_store_close(s);
    char *t = sql_text("SELECT text FROM utterances WHERE intent = 'nps'");
    assert_non_null(t);
    assert_non_null(strstr(t, "[PHONE]"));
    assert_non_null(strstr(t, "nine out of ten"));
    free(t);
    assert_int_equal(sql_int("SELECT count(*) FROM utterances WHERE slots = '{\"score\":9}'"), 1);
    assert_false(db_files_contain("double oh nine"));
    assert_false(db_files_contain("zebedee"));
    assert_false(db_files_contain("quiggly"));
    assert_false(db_files_contain("five three two zero"));
    assert_false(db_files_contain("bloggs"));
    assert_int_equal(sql_int("SELECT count(*) FROM utterances WHERE text LIKE '%[NAME]%' AND "
                             "text LIKE '%[CARD]%'"), 1);
}

static int64_t session_with(earshot_store *s, const char *channel, const char *text)
{
    int64_t id;
    earshot_heard what;
    assert_int_equal(earshot_session_begin(s, channel, &id), EARSHOT_OK);
    assert_int_equal(earshot_consent_grant(s, id, EARSHOT_SCOPE_TRANSCRIPTS,
                                           EARSHOT_BY_ELSEWHERE, NULL), EARSHOT_OK);
    assert_int_equal(hear(s, id, text, &what), EARSHOT_OK);
    assert_int_equal(what, EARSHOT_HEARD_STORED);
    return id;
}

static void test_forget_erases_bytes(void **state)
{
    (void)state;
    fresh();
    earshot_store *s = open_db(-1, 0);
    int64_t a = session_with(s, "north", "the parking at the marmalade store is awful");
    session_with(s, "north", "the cappuccino machine was broken again");
    session_with(s, "south", "the gooseberry tart was stale");
    int64_t d = session_with(s, "south", "the rhubarb crumble was lovely");
    /* Everything is in the files before forgetting (or the test proves nothing). */
    assert_true(db_files_contain("marmalade"));
    assert_true(db_files_contain("cappuccino"));

    int64_t ns = 0, nu = 0;
    earshot_forget_what w = {.session = a};
    assert_int_equal(earshot_forget(s, &w, &ns, &nu), EARSHOT_OK);
    assert_int_equal(ns, 1);
    assert_int_equal(nu, 1);
    assert_false(db_files_contain("marmalade"));
    assert_true(db_files_contain("cappuccino"));

    w = (earshot_forget_what){.channel = "north"};
    assert_int_equal(earshot_forget(s, &w, &ns, &nu), EARSHOT_OK);
    assert_int_equal(ns, 1);
    assert_false(db_files_contain("cappuccino"));
    assert_true(db_files_contain("gooseberry"));

    /* --before: move one utterance into the past first. */
    sqlite3 *h;
    assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
    char sql[200];
    snprintf(sql, sizeof sql, "UPDATE utterances SET heard_at = '2020-01-01T10:00:00Z' "
                              "WHERE session_id <> %lld", (long long)d);
    assert_int_equal(sqlite3_exec(h, sql, NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_exec(h, "UPDATE sessions SET started_at = '2020-01-01T09:00:00Z'",
                                  NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(h);
    w = (earshot_forget_what){.before = "2021-01-01"};
    assert_int_equal(earshot_forget(s, &w, &ns, &nu), EARSHOT_OK);
    assert_int_equal(nu, 1);
    assert_int_equal(ns, 1); /* the emptied session goes; d still holds a row */
    assert_false(db_files_contain("gooseberry"));
    assert_true(db_files_contain("rhubarb"));

    w = (earshot_forget_what){.before = "yesterday"};
    assert_int_equal(earshot_forget(s, &w, &ns, &nu), EARSHOT_MISUSE);
    w = (earshot_forget_what){.all = 1, .session = d};
    assert_int_equal(earshot_forget(s, &w, &ns, &nu), EARSHOT_MISUSE);

    w = (earshot_forget_what){.all = 1};
    assert_int_equal(earshot_forget(s, &w, &ns, &nu), EARSHOT_OK);
    assert_false(db_files_contain("rhubarb"));
    earshot_store_close(s);
    assert_int_equal(sql_int("SELECT count(*) FROM sessions"), 0);
    assert_int_equal(sql_int("SELECT count(*) FROM audit WHERE event = 'forget'"), 4);
    assert_int_equal(sql_int("SELECT sum(utterances) FROM audit WHERE event = 'forget'"), 4);
    char *ok = sql_text("PRAGMA integrity_check");
    assert_string_equal(ok, "ok");
    free(ok);
}

/* A reader in another process holds a read transaction (an old
 * snapshot) while forget runs: forget waits for it, and once it returns
 * EARSHOT_OK the phrase is in neither file. The reader lets go only after
 * it has seen the erasure committed and the phrase still in the main
 * file, which proves the checkpoint was really blocked by it (its exit
 * status says so); no timing is assumed. */
static void test_forget_waits_for_reader(void **state)
{
    (void)state;
    fresh();
    earshot_store *s = open_db(20000, 0);
    int64_t a = session_with(s, "north", "the tamarind chutney was far too hot");
    earshot_store_close(s); /* checkpointed: the phrase is in the main file */
    s = open_db(20000, 0);
    assert_true(file_contains(db, "tamarind"));
    int ready[2];
    assert_int_equal(pipe(ready), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(ready[0]);
        sqlite3 *h, *peek;
        if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
            sqlite3_exec(h, "BEGIN; SELECT count(*) FROM utterances;", NULL, NULL, NULL) !=
                SQLITE_OK ||
            sqlite3_open_v2(db, &peek, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
            _exit(3);
        if (write(ready[1], "r", 1) != 1)
            _exit(3);
        /* Until the erasure is committed (a new snapshot sees it)... */
        for (int i = 0;; i++) {
            sqlite3_stmt *st;
            int n = -1;
            if (sqlite3_prepare_v2(peek, "SELECT count(*) FROM utterances", -1, &st, NULL) ==
                    SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
                n = sqlite3_column_int(st, 0);
            sqlite3_finalize(st);
            if (n == 0)
                break;
            if (i > 6000)
                _exit(4); /* a minute: forget never committed */
            usleep(10000);
        }
        /* ...when the old bytes must still be in the main file. */
        int blocked = file_contains(db, "tamarind");
        sqlite3_exec(h, "COMMIT", NULL, NULL, NULL);
        sqlite3_close(h);
        sqlite3_close(peek);
        _exit(blocked ? 0 : 5);
    }
    close(ready[1]);
    char c;
    assert_int_equal(read(ready[0], &c, 1), 1);
    close(ready[0]);
    earshot_forget_what w = {.session = a};
    int64_t ns = 0, nu = 0;
    int rc = earshot_forget(s, &w, &ns, &nu);
    if (rc != EARSHOT_OK)
        fail_msg("forget: %s", earshot_store_errmsg(s));
    assert_int_equal(nu, 1);
    /* Once forget has returned: not in the .db, not in the -wal. */
    assert_false(db_files_contain("tamarind"));
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    earshot_store_close(s);
    assert_false(db_files_contain("tamarind"));
}

/* A reader that never lets go (a second connection in this process):
 * forget cannot finish the checkpoint, says so with EARSHOT_PENDING, and
 * leaves a pending-erasure record; the rows are gone for every reader.
 * After the reader is gone, the next open completes the erasure first. */
static void test_forget_pending_erasure(void **state)
{
    (void)state;
    fresh();
    earshot_store *s = open_db(30, 0);
    int64_t a = session_with(s, "north", "the persimmon sorbet had melted");
    earshot_store_close(s);
    s = open_db(30, 0);
    sqlite3 *h;
    assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    /* Its close must not checkpoint either: only the next open may. */
    assert_int_equal(sqlite3_db_config(h, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_exec(h, "BEGIN; SELECT count(*) FROM utterances;", NULL, NULL,
                                  NULL), SQLITE_OK);
    earshot_forget_what w = {.session = a};
    int64_t ns = 0, nu = 0;
    assert_int_equal(earshot_forget(s, &w, &ns, &nu), EARSHOT_PENDING);
    assert_non_null(strstr(earshot_store_errmsg(s), "pending erasure is recorded"));
    assert_string_not_equal(earshot_errstr(EARSHOT_PENDING), earshot_errstr(EARSHOT_STORAGE));
    assert_int_equal(nu, 1);
    assert_int_equal(sql_int("SELECT count(*) FROM utterances"), 0);
    assert_int_equal(sql_int("SELECT count(*) FROM pending_erasures"), 1);
    assert_true(file_contains(db, "persimmon")); /* what PENDING warns of */
    earshot_store_close(s); /* its retry is blocked too */
    assert_true(file_contains(db, "persimmon"));
    sqlite3_exec(h, "COMMIT", NULL, NULL, NULL);
    sqlite3_close(h);
    assert_true(db_files_contain("persimmon"));
    s = open_db(30, 0);
    assert_false(db_files_contain("persimmon"));
    assert_int_equal(sql_int("SELECT count(*) FROM pending_erasures"), 0);
    assert_int_equal(sql_int("SELECT count(*) FROM audit WHERE event = 'forget'"), 1);
    earshot_store_close(s);
    char *ok = sql_text("PRAGMA integrity_check");
    assert_string_equal(ok, "ok");
    free(ok);
}

static void test_export_and_sessions(void **state)
{
    (void)state;
    fresh();
    earshot_store *s = open_db(-1, 0);
    int64_t id = session_with(s, "east", "call me on 07700 900123 the delivery was late");
    earshot_heard what;
    assert_int_equal(hear(s, id, "i would give you a three out of ten", &what), EARSHOT_OK);
    assert_int_equal(earshot_session_end(s, id), EARSHOT_OK);
    char *json = NULL;
    assert_int_equal(earshot_export_session(s, id, &json), EARSHOT_OK);
    assert_non_null(json);
    assert_non_null(strstr(json, "\"channel\":\"east\""));
    assert_non_null(strstr(json, "\"method\":\"granted-elsewhere\""));
    assert_non_null(strstr(json, "[PHONE]"));
    assert_null(strstr(json, "900123"));
    assert_non_null(strstr(json, "\"slots\":{\"score\":3}"));
    assert_non_null(strstr(json, "\"scopes\":[\"transcripts\""));
    /* Scopes not granted are left out, never listed as null. */
    assert_null(strstr(json, "null,null"));
    assert_null(strstr(json, "\"transcripts\",null"));
    earshot_free(json);
    assert_int_equal(earshot_export_session(s, id + 100, &json), EARSHOT_MISUSE);
    assert_int_equal(sql_int("SELECT count(*) FROM audit WHERE event = 'export' AND utterances = 2"),
                     1);
    earshot_store_close(s);
}

static void test_retention(void **state)
{
    (void)state;
    fresh();
    earshot_store *s = open_db(-1, 0);
    session_with(s, "west", "the old complaint about the toilets");
    session_with(s, "west", "the new complaint about the lifts");
    earshot_store_close(s);
    sqlite3 *h;
    assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
    assert_int_equal(sqlite3_exec(h, "UPDATE utterances SET heard_at = '2001-02-03T04:05:06Z' "
                                     "WHERE text LIKE '%toilets%'", NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(h);
    earshot_store_config cfg = earshot_store_config_default();
    cfg.path = db;
    cfg.grammar_dir = EARSHOT_SOURCE_GRAMMAR_DIR;
    cfg.retain_days = 30;
    assert_int_equal(earshot_store_open(&s, &cfg), EARSHOT_OK);
    earshot_store_close(s);
    assert_int_equal(sql_int("SELECT count(*) FROM utterances"), 1);
    assert_false(db_files_contain("toilets"));
    assert_int_equal(sql_int("SELECT count(*) FROM audit WHERE event = 'retention' AND "
                             "utterances = 1"), 1);
}

/* Version 1 of the schema, as the first release wrote it. */
static const char *const v1_schema =
    "CREATE TABLE sessions (id INTEGER PRIMARY KEY, channel TEXT NOT NULL DEFAULT '',"
    " started_at TEXT NOT NULL, ended_at TEXT);"
    "CREATE TABLE consents (id INTEGER PRIMARY KEY, session_id INTEGER NOT NULL REFERENCES"
    " sessions(id) ON DELETE CASCADE, scope_transcripts INTEGER NOT NULL DEFAULT 0,"
    " scope_quotes INTEGER NOT NULL DEFAULT 0, scope_audio INTEGER NOT NULL DEFAULT 0,"
    " text_version TEXT NOT NULL, method TEXT NOT NULL CHECK (method IN"
    " ('voice','api','button','granted-elsewhere')), granted_at TEXT NOT NULL, revoked_at TEXT);"
    "CREATE TABLE utterances (id INTEGER PRIMARY KEY, session_id INTEGER NOT NULL REFERENCES"
    " sessions(id) ON DELETE CASCADE, consent_id INTEGER NOT NULL REFERENCES consents(id) ON"
    " DELETE CASCADE, heard_at TEXT NOT NULL, start REAL, end REAL, text TEXT NOT NULL,"
    " intent TEXT, confidence REAL, slots TEXT NOT NULL DEFAULT '{}', sentiment TEXT,"
    " sentiment_score REAL, topics TEXT NOT NULL DEFAULT '');"
    "CREATE INDEX utterances_session ON utterances(session_id);"
    "CREATE INDEX utterances_heard ON utterances(heard_at);"
    "INSERT INTO sessions VALUES (1, 'old-kiosk', '2025-05-01T10:00:00Z', NULL);"
    "INSERT INTO consents VALUES (1, 1, 1, 0, 0, '1', 'voice', '2025-05-01T10:00:01Z', NULL);"
    "INSERT INTO utterances (session_id, consent_id, heard_at, text, intent) VALUES"
    " (1, 1, '2025-05-01T10:00:05Z', 'the toilets were dirty', 'complaint');"
    "PRAGMA user_version = 1;";

static void test_migrations(void **state)
{
    (void)state;
    /* From an empty (zero-byte) file. */
    fresh();
    int fd = open(db, O_CREAT | O_WRONLY, 0600);
    close(fd);
    earshot_store *s = open_db(-1, 0);
    earshot_store_close(s);
    assert_int_equal(sql_int("PRAGMA user_version"), 8);
    assert_int_equal(sql_int("SELECT count(*) FROM audit"), 0);

    /* From version 1, keeping its rows. */
    fresh();
    sqlite3 *h;
    assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
    assert_int_equal(sqlite3_exec(h, v1_schema, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(h);
    s = open_db(-1, 0);
    int64_t n = session_with(s, "new-kiosk", "the lifts were broken");
    assert_true(n > 1);
    earshot_store_close(s);
    assert_int_equal(sql_int("PRAGMA user_version"), 8);
    assert_int_equal(sql_int("SELECT count(*) FROM utterances"), 2);
    assert_int_equal(sql_int("SELECT count(*) FROM utterances WHERE text = "
                             "'the toilets were dirty' AND model_hash IS NULL"), 1);
    /* Rows from before the verdict existed read as heard ok. */
    assert_int_equal(sql_int("SELECT count(*) FROM utterances WHERE quality = 'ok'"), 2);
    assert_int_equal(sql_int("SELECT count(*) FROM pragma_table_info('utterances') "
                             "WHERE name = 'grammar_hash'"), 1);
}

static void copy_file(const char *from, const char *to)
{
    char cmd[800];
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", from, to);
    assert_int_equal(system(cmd), 0);
}

static int same_file(const char *a, const char *b)
{
    char cmd[800];
    snprintf(cmd, sizeof cmd, "cmp -s '%s' '%s'", a, b);
    return system(cmd) == 0;
}

static void test_refuses_bad_files(void **state)
{
    (void)state;
    char keep[400];
    snprintf(keep, sizeof keep, "%s/keep", dir);
    earshot_store_config cfg = earshot_store_config_default();
    cfg.path = db;
    cfg.grammar_dir = EARSHOT_SOURCE_GRAMMAR_DIR;
    earshot_store *s = NULL;

    /* Not SQLite at all. */
    fresh();
    FILE *f = fopen(db, "w");
    fputs("these are somebody's notes, not a database\n", f);
    fclose(f);
    copy_file(db, keep);
    assert_int_equal(earshot_store_open(&s, &cfg), EARSHOT_CORRUPT);
    assert_non_null(strstr(earshot_store_errmsg(s), "not an SQLite database"));
    earshot_store_close(s);
    assert_true(same_file(db, keep));

    /* Another program's SQLite database. */
    fresh();
    sqlite3 *h;
    assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
    assert_int_equal(sqlite3_exec(h, "CREATE TABLE recipes (name TEXT); INSERT INTO recipes "
                                     "VALUES ('soup')", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(h);
    copy_file(db, keep);
    assert_int_equal(earshot_store_open(&s, &cfg), EARSHOT_CORRUPT);
    assert_non_null(strstr(earshot_store_errmsg(s), "not an Earshot one"));
    earshot_store_close(s);
    assert_true(same_file(db, keep));

    /* An Earshot database from a newer version. */
    fresh();
    s = open_db(-1, 0);
    earshot_store_close(s);
    assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
    assert_int_equal(sqlite3_exec(h, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(h);
    assert_int_equal(earshot_store_open(&s, &cfg), EARSHOT_CORRUPT);
    assert_non_null(strstr(earshot_store_errmsg(s), "newer"));
    earshot_store_close(s);

    /* A damaged Earshot database: pages overwritten in the middle. */
    fresh();
    s = open_db(-1, 0);
    for (int i = 0; i < 300; i++)
        session_with(s, "kiosk", "the queue at the checkout was far too long today again");
    earshot_store_close(s);
    struct stat st;
    assert_int_equal(stat(db, &st), 0);
    assert_true(st.st_size > 8 * 4096);
    int fd = open(db, O_WRONLY);
    char junk[4096];
    memset(junk, 0x5a, sizeof junk);
    assert_int_equal(pwrite(fd, junk, sizeof junk, 4096), (ssize_t)sizeof junk);
    assert_int_equal(pwrite(fd, junk, sizeof junk, 3 * 4096), (ssize_t)sizeof junk);
    close(fd);
    copy_file(db, keep);
    int rc = earshot_store_open(&s, &cfg);
    assert_int_equal(rc, EARSHOT_CORRUPT);
    assert_non_null(strstr(earshot_store_errmsg(s), db));
    earshot_store_close(s);
    assert_true(same_file(db, keep));
}

static int count_session(const earshot_session_info *i, void *user)
{
    (void)i;
    ++*(int *)user;
    return 0;
}

static long long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

/* Listing or erasing (create = 0) opens only an Earshot database: a
 * missing path, an empty file and an empty SQLite file are refused and
 * left as they were; creating (the default) makes one of a missing path
 * or an empty file. */
static void test_open_refuses_what_is_not_ours(void **state)
{
    (void)state;
    earshot_store_config cfg = earshot_store_config_default();
    cfg.path = db;
    cfg.grammar_dir = EARSHOT_SOURCE_GRAMMAR_DIR;
    cfg.create = 0;
    earshot_store *s = NULL;

    fresh();
    assert_int_equal(earshot_store_open(&s, &cfg), EARSHOT_IO);
    assert_non_null(strstr(earshot_store_errmsg(s), "No such file"));
    earshot_store_close(s);
    assert_int_equal(file_size(db), -1);

    fresh();
    close(open(db, O_WRONLY | O_CREAT, 0600));
    assert_int_equal(earshot_store_open(&s, &cfg), EARSHOT_CORRUPT);
    assert_non_null(strstr(earshot_store_errmsg(s), "empty file (0 bytes), not an Earshot database"));
    earshot_store_close(s);
    assert_int_equal(file_size(db), 0);
    cfg.read_only = 1;
    assert_int_equal(earshot_store_open(&s, &cfg), EARSHOT_CORRUPT);
    earshot_store_close(s);
    assert_int_equal(file_size(db), 0);
    cfg.read_only = 0;

    /* SQLite, but empty: no tables, user_version 0. */
    fresh();
    sqlite3 *h;
    assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
    assert_int_equal(sqlite3_exec(h, "PRAGMA page_size = 4096; VACUUM", NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(h);
    long long size = file_size(db);
    assert_true(size > 0);
    assert_int_equal(earshot_store_open(&s, &cfg), EARSHOT_CORRUPT);
    assert_non_null(strstr(earshot_store_errmsg(s), "not an Earshot"));
    earshot_store_close(s);
    assert_int_equal(file_size(db), size);

    /* A real one opens; sessions are listed. */
    fresh();
    s = open_db(-1, 0);
    session_with(s, "kiosk", "the coffee was cold");
    earshot_store_close(s);
    assert_int_equal(earshot_store_open(&s, &cfg), EARSHOT_OK);
    int n = 0;
    assert_int_equal(earshot_sessions(s, count_session, &n), EARSHOT_OK);
    assert_int_equal(n, 1);
    earshot_store_close(s);

    /* Creating adopts an empty file (mktemp's, say). */
    fresh();
    close(open(db, O_WRONLY | O_CREAT, 0600));
    s = open_db(-1, 0);
    earshot_store_close(s);
    assert_int_equal(sql_int("PRAGMA user_version") > 0, 1);
}

/* Runs fn in a child that sees dir read-only: as root (whom a chmod does
 * not stop) a read-only bind mount of it in a private mount namespace,
 * else (or where mounting is not allowed) a 0555 folder for an
 * unprivileged user. The child's one line of output is returned. */
static void as_read_only_folder(void (*fn)(int out), char *line, size_t len)
{
    int pipefd[2];
    assert_int_equal(pipe(pipefd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(pipefd[0]);
        int ro = 0;
        if (geteuid() == 0 && unshare(CLONE_NEWNS) == 0 &&
            mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0 &&
            mount(dir, dir, NULL, MS_BIND, NULL) == 0 &&
            mount(NULL, dir, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) == 0)
            ro = 1;
        if (!ro) {
            /* The files readable by the user the child becomes. */
            char cmd[700];
            snprintf(cmd, sizeof cmd, "chmod -R a+rX '%s'; chmod 0555 '%s'", dir, dir);
            if (system(cmd) != 0)
                _exit(4);
            if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
                _exit(5);
        }
        if (access(dir, W_OK) == 0)
            _exit(6); /* the folder is not read-only for this child: no test */
        fn(pipefd[1]);
        _exit(0);
    }
    close(pipefd[1]);
    size_t got = 0;
    ssize_t r;
    while (got + 1 < len && (r = read(pipefd[0], line + got, len - 1 - got)) > 0)
        got += (size_t)r;
    line[got] = '\0';
    close(pipefd[0]);
    int status;
    waitpid(pid, &status, 0);
    chmod(dir, 0700);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("read-only child exited %d", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

static void list_read_only(int out)
{
    earshot_store_config cfg = earshot_store_config_default();
    cfg.path = db;
    cfg.grammar_dir = EARSHOT_SOURCE_GRAMMAR_DIR;
    cfg.read_only = 1;
    earshot_store *s = NULL;
    char line[1200];
    int n = 0;
    if (earshot_store_open(&s, &cfg) != EARSHOT_OK ||
        earshot_sessions(s, count_session, &n) != EARSHOT_OK)
        snprintf(line, sizeof line, "error %s\n", earshot_store_errmsg(s));
    else
        snprintf(line, sizeof line, "sessions %d\n", n);
    earshot_store_close(s);
    if (write(out, line, strlen(line)) < 0)
        _exit(3);
}

/* A report is read-only, so a database in a folder it cannot write (a
 * read-only mount, an archive) is read, not refused for want of a -shm
 * file; and while a writer still holds commits in the -wal, they are
 * read too. */
static void test_read_only_folder(void **state)
{
    (void)state;
    fresh();
    earshot_store *s = open_db(-1, 0);
    session_with(s, "kiosk", "the coffee was cold");
    session_with(s, "kiosk", "the tea was lovely");
    earshot_store_close(s);
    char line[1300];
    as_read_only_folder(list_read_only, line, sizeof line);
    print_message("read-only folder, closed database: %s", line);
    assert_string_equal(line, "sessions 2\n");

    /* A writer still open, its last rows only in the -wal. */
    s = open_db(-1, 0);
    session_with(s, "kiosk", "the third one");
    char wal[400];
    snprintf(wal, sizeof wal, "%s-wal", db);
    assert_true(file_size(wal) > 0);
    as_read_only_folder(list_read_only, line, sizeof line);
    print_message("read-only folder, open writer: %s", line);
    assert_string_equal(line, "sessions 3\n");
    earshot_store_close(s);
}

static void test_locked_database_queues(void **state)
{
    (void)state;
    fresh();
    earshot_store *s = open_db(100, 3);
    int64_t id = session_with(s, "kiosk", "first row written normally");
    sqlite3 *h;
    assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
    assert_int_equal(sqlite3_exec(h, "BEGIN EXCLUSIVE", NULL, NULL, NULL), SQLITE_OK);
    earshot_heard what;
    assert_int_equal(hear(s, id, "second row while locked", &what), EARSHOT_QUEUED);
    assert_int_equal(what, EARSHOT_HEARD_QUEUED);
    assert_non_null(strstr(earshot_store_errmsg(s), "locked"));
    assert_int_equal(hear(s, id, "third row while locked", &what), EARSHOT_QUEUED);
    assert_int_equal(hear(s, id, "fourth row while locked", &what), EARSHOT_QUEUED);
    assert_int_equal(earshot_store_queued(s), 3);
    /* The queue is full: the next one is refused, and it says so. */
    assert_int_equal(hear(s, id, "fifth row while locked", &what), EARSHOT_STORAGE);
    assert_non_null(strstr(earshot_store_errmsg(s), "NOT stored"));
    assert_int_equal(earshot_store_retry(s), EARSHOT_QUEUED);
    assert_int_equal(sqlite3_exec(h, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(h);
    /* Unlocked: the next utterance writes the queue first, in order. */
    assert_int_equal(hear(s, id, "sixth row after unlock", &what), EARSHOT_OK);
    assert_int_equal(what, EARSHOT_HEARD_STORED);
    assert_int_equal(earshot_store_queued(s), 0);
    earshot_store_close(s);
    assert_int_equal(sql_int("SELECT count(*) FROM utterances"), 5);
    assert_int_equal(sql_int("SELECT count(*) FROM utterances WHERE text LIKE 'fifth%'"), 0);
    char *order = sql_text("SELECT group_concat(substr(text, 1, 3), ' ') FROM "
                           "(SELECT text FROM utterances ORDER BY id)");
    assert_string_equal(order, "fir sec thi fou six");
    free(order);

    /* A queued row of a session forgotten meanwhile is never written. */
    fresh();
    s = open_db(100, 0);
    id = session_with(s, "kiosk", "first row written normally");
    assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
    assert_int_equal(sqlite3_exec(h, "BEGIN EXCLUSIVE", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(hear(s, id, "the secret pistachio remark", &what), EARSHOT_QUEUED);
    assert_int_equal(sqlite3_exec(h, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(h);
    earshot_forget_what w = {.session = id};
    assert_int_equal(earshot_forget(s, &w, NULL, NULL), EARSHOT_OK);
    assert_int_equal(earshot_store_queued(s), 0);
    earshot_store_close(s);
    assert_false(db_files_contain("pistachio"));
}

/* A full disk, for real: the file-size limit makes write() fail with
 * EFBIG, which SQLite reports as "database or disk is full". Run in a
 * child so the limit touches nothing else. */
static void test_full_disk_queues(void **state)
{
    (void)state;
    fresh();
    earshot_store *s = open_db(-1, 0);
    session_with(s, "kiosk", "a row so the file exists");
    earshot_store_close(s);
    int pipefd[2];
    assert_int_equal(pipe(pipefd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(pipefd[0]);
        signal(SIGXFSZ, SIG_IGN);
        earshot_store *c = open_db(-1, 0);
        int64_t id = session_with(c, "kiosk", "another row");
        struct stat st;
        stat(db, &st);
        char wal[400];
        snprintf(wal, sizeof wal, "%s-wal", db);
        struct stat sw;
        stat(wal, &sw);
        struct rlimit rl;
        getrlimit(RLIMIT_FSIZE, &rl);
        rl.rlim_cur = (rlim_t)(sw.st_size > st.st_size ? sw.st_size : st.st_size) + 8192;
        setrlimit(RLIMIT_FSIZE, &rl);
        char line[1200] = "";
        int queued = 0, n = 0;
        for (int i = 0; i < 400 && !queued; i++) {
            earshot_heard what;
            char text[100];
            snprintf(text, sizeof text, "the checkout queue was too long number %c%c", 'a' + i % 26,
                     'a' + i / 26);
            int rc = hear(c, id, text, &what);
            if (rc == EARSHOT_QUEUED) {
                queued = 1;
                snprintf(line, sizeof line, "queued %d %s\n", n, earshot_store_errmsg(c));
            } else if (rc == EARSHOT_OK) {
                n++;
            } else {
                snprintf(line, sizeof line, "error %s\n", earshot_store_errmsg(c));
                break;
            }
        }
        if (!queued && strncmp(line, "error", 5) != 0)
            snprintf(line, sizeof line, "never full\n");
        /* Room again: the queued row goes in. */
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_FSIZE, &rl);
        int retry = earshot_store_retry(c);
        size_t left = earshot_store_queued(c);
        earshot_store_close(c);
        char tail[64];
        snprintf(tail, sizeof tail, "retry %d left %zu\n", retry, left);
        if (write(pipefd[1], line, strlen(line)) < 0 || write(pipefd[1], tail, strlen(tail)) < 0)
            _exit(3);
        _exit(0);
    }
    close(pipefd[1]);
    char out[4096] = {0};
    size_t got = 0;
    ssize_t r;
    while ((r = read(pipefd[0], out + got, sizeof out - 1 - got)) > 0)
        got += (size_t)r;
    close(pipefd[0]);
    int status;
    waitpid(pid, &status, 0);
    print_message("full disk child: %s", out);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_non_null(strstr(out, "queued"));
    assert_non_null(strstr(out, "disk"));
    assert_non_null(strstr(out, "retry 0 left 0"));
    char *ok = sql_text("PRAGMA integrity_check");
    assert_string_equal(ok, "ok");
    free(ok);
}

static void test_audio_scope(void **state)
{
    (void)state;
    fresh();
    earshot_store *s = open_db(-1, 0);
    int16_t pcm[16000];
    for (size_t i = 0; i < 16000; i++)
        pcm[i] = (int16_t)(3000 * ((i / 40) % 2 ? 1 : -1));
    earshot_analysis a;
    assert_int_equal(earshot_intents_analyze(grammar, "the bread was stale", &a), EARSHOT_OK);
    earshot_utterance u = {.text = "the bread was stale", .end = 1.0, .analysis = &a};
    earshot_heard what;

    /* Transcripts only: no audio file. */
    int64_t t;
    assert_int_equal(earshot_session_begin(s, "k", &t), EARSHOT_OK);
    assert_int_equal(earshot_consent_grant(s, t, EARSHOT_SCOPE_TRANSCRIPTS, EARSHOT_BY_API, NULL),
                     EARSHOT_OK);
    assert_int_equal(earshot_store_utterance(s, t, &u, pcm, 16000, &what), EARSHOT_OK);
    assert_int_equal(sql_int("SELECT count(*) FROM utterances WHERE audio IS NOT NULL"), 0);

    /* With the audio scope: a FLAC file, 0600, that reads back. */
    int64_t id;
    assert_int_equal(earshot_session_begin(s, "k", &id), EARSHOT_OK);
    assert_int_equal(earshot_consent_grant(s, id, EARSHOT_SCOPE_TRANSCRIPTS | EARSHOT_SCOPE_AUDIO,
                                           EARSHOT_BY_BUTTON, NULL), EARSHOT_OK);
    assert_int_equal(earshot_store_utterance(s, id, &u, pcm, 16000, &what), EARSHOT_OK);
    char *path = sql_text("SELECT audio FROM utterances WHERE audio IS NOT NULL");
    assert_non_null(path);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    SF_INFO info = {0};
    SNDFILE *f = sf_open(path, SFM_READ, &info);
    assert_non_null(f);
    assert_int_equal(info.frames, 16000);
    assert_int_equal(info.samplerate, 16000);
    sf_close(f);
    earshot_forget_what w = {.session = id};
    assert_int_equal(earshot_forget(s, &w, NULL, NULL), EARSHOT_OK);
    assert_int_not_equal(stat(path, &st), 0);
    free(path);
    earshot_store_close(s);
}

/* Kills a writing child with SIGKILL at random moments, 20 times: every
 * utterance whose write was acknowledged must be there, and the file
 * must pass integrity_check. */
static void test_crash_safety(void **state)
{
    (void)state;
    fresh();
    srand((unsigned)time(NULL));
    earshot_store *s = open_db(-1, 0);
    int64_t session = session_with(s, "crash", "the first row");
    earshot_store_close(s);
    int acknowledged_total = 0;
    for (int round = 0; round < 20; round++) {
        int pipefd[2];
        assert_int_equal(pipe(pipefd), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(pipefd[0]);
            earshot_store *c = open_db(-1, 0);
            for (int i = 0;; i++) {
                earshot_analysis a;
                earshot_intents_analyze(grammar, "the checkout queue was too long", &a);
                earshot_utterance u = {.text = "the checkout queue was too long",
                                       .start = (round + 1) * 100000.0 + i, .analysis = &a};
                earshot_heard what;
                if (earshot_store_utterance(c, session, &u, NULL, 0, &what) != EARSHOT_OK ||
                    what != EARSHOT_HEARD_STORED)
                    _exit(4);
                char line[32];
                int n = snprintf(line, sizeof line, "%d\n", i);
                if (write(pipefd[1], line, (size_t)n) != n)
                    _exit(5);
            }
        }
        close(pipefd[1]);
        usleep((useconds_t)(20000 + rand() % 300000));
        kill(pid, SIGKILL);
        int status;
        waitpid(pid, &status, 0);
        assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        char buf[1 << 16];
        size_t got = 0;
        ssize_t r;
        while ((r = read(pipefd[0], buf + got, sizeof buf - 1 - got)) > 0)
            got += (size_t)r;
        close(pipefd[0]);
        buf[got] = '\0';
        /* The last acknowledged index: every one up to it must be stored. */
        int last = -1;
        for (char *p = strtok(buf, "\n"); p; p = strtok(NULL, "\n"))
            last = atoi(p);
        char q[200];
        snprintf(q, sizeof q, "SELECT count(*) FROM utterances WHERE start >= %d AND start <= %d",
                 (round + 1) * 100000, (round + 1) * 100000 + last);
        sqlite3 *h;
        assert_int_equal(sqlite3_open(db, &h), SQLITE_OK); /* recovers the WAL, as a reader */
        sqlite3_close(h);
        assert_int_equal(sql_int(q), last + 1);
        char *ok = sql_text("PRAGMA integrity_check");
        assert_string_equal(ok, "ok");
        free(ok);
        acknowledged_total += last + 1;
    }
    print_message("crash safety: 20 SIGKILLs, %d acknowledged utterances, all present\n",
                  acknowledged_total);
    assert_true(acknowledged_total > 20);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_consent_matrix),
        cmocka_unit_test(test_voice_path),
        cmocka_unit_test(test_no_erasure_on_a_guess),
        cmocka_unit_test(test_redacted_before_writing),
        cmocka_unit_test(test_forget_erases_bytes),
        cmocka_unit_test(test_forget_waits_for_reader),
        cmocka_unit_test(test_forget_pending_erasure),
        cmocka_unit_test(test_export_and_sessions),
        cmocka_unit_test(test_retention),
        cmocka_unit_test(test_migrations),
        cmocka_unit_test(test_refuses_bad_files),
        cmocka_unit_test(test_open_refuses_what_is_not_ours),
        cmocka_unit_test(test_read_only_folder),
        cmocka_unit_test(test_locked_database_queues),
        cmocka_unit_test(test_full_disk_queues),
        cmocka_unit_test(test_audio_scope),
        cmocka_unit_test(test_crash_safety),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
