/* test_faults.c - failure injection (SQLite's test_malloc.c): SQLite's Nth
 * allocation fails (a counting allocator installed with
 * SQLITE_CONFIG_MALLOC), or its Nth write or sync fails (a VFS shim over
 * the default VFS), for every N up to the point the operation succeeds.
 * Each run must give a result code that says what happened, leak nothing
 * (run it under SANITIZE=1), and leave an intact database holding what
 * was there before; an utterance reported stored is there afterwards.
 * Earshot's own malloc calls are not failed here (there is no hook). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "earshot.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[256], db[300];
static earshot_intents *grammar;

/* ---- the counting allocator ---- */
static sqlite3_mem_methods real_mem;
static long alloc_count, alloc_fail_at; /* 0: never fail */
static long alloc_failed;

static void *count_malloc(int n)
{
    if (alloc_fail_at && ++alloc_count >= alloc_fail_at) {
        alloc_failed++;
        return NULL;
    }
    return real_mem.xMalloc(n);
}

static void *count_realloc(void *p, int n)
{
    if (alloc_fail_at && ++alloc_count >= alloc_fail_at) {
        alloc_failed++;
        return NULL;
    }
    return real_mem.xRealloc(p, n);
}

/* ---- the write-failing VFS ---- */
static sqlite3_vfs *real_vfs;
static sqlite3_vfs faulty_vfs;
static long write_count, write_fail_at;
static long write_failed;

typedef struct faulty_file {
    sqlite3_file base;
    const sqlite3_io_methods *real_methods;
    sqlite3_io_methods methods;
    sqlite3_file *real; /* follows this struct */
} faulty_file;

static int fail_now(void)
{
    if (write_fail_at && ++write_count >= write_fail_at) {
        write_failed++;
        return 1;
    }
    return 0;
}

static sqlite3_file *real_of(sqlite3_file *f)
{
    return ((faulty_file *)f)->real;
}

static int f_close(sqlite3_file *f)
{
    return real_of(f)->pMethods->xClose(real_of(f));
}
static int f_read(sqlite3_file *f, void *b, int n, sqlite3_int64 o)
{
    return real_of(f)->pMethods->xRead(real_of(f), b, n, o);
}
static int f_write(sqlite3_file *f, const void *b, int n, sqlite3_int64 o)
{
    if (fail_now())
        return SQLITE_IOERR_WRITE;
    return real_of(f)->pMethods->xWrite(real_of(f), b, n, o);
}
static int f_truncate(sqlite3_file *f, sqlite3_int64 size)
{
    if (fail_now())
        return SQLITE_IOERR_TRUNCATE;
    return real_of(f)->pMethods->xTruncate(real_of(f), size);
}
static int f_sync(sqlite3_file *f, int flags)
{
    if (fail_now())
        return SQLITE_IOERR_FSYNC;
    return real_of(f)->pMethods->xSync(real_of(f), flags);
}
static int f_size(sqlite3_file *f, sqlite3_int64 *s)
{
    return real_of(f)->pMethods->xFileSize(real_of(f), s);
}
static int f_lock(sqlite3_file *f, int l)
{
    return real_of(f)->pMethods->xLock(real_of(f), l);
}
static int f_unlock(sqlite3_file *f, int l)
{
    return real_of(f)->pMethods->xUnlock(real_of(f), l);
}
static int f_check(sqlite3_file *f, int *r)
{
    return real_of(f)->pMethods->xCheckReservedLock(real_of(f), r);
}
static int f_fcntl(sqlite3_file *f, int op, void *arg)
{
    return real_of(f)->pMethods->xFileControl(real_of(f), op, arg);
}
static int f_sector(sqlite3_file *f)
{
    return real_of(f)->pMethods->xSectorSize(real_of(f));
}
static int f_caps(sqlite3_file *f)
{
    return real_of(f)->pMethods->xDeviceCharacteristics(real_of(f));
}
static int f_shmmap(sqlite3_file *f, int i, int sz, int ext, void volatile **pp)
{
    return real_of(f)->pMethods->xShmMap(real_of(f), i, sz, ext, pp);
}
static int f_shmlock(sqlite3_file *f, int off, int n, int flags)
{
    return real_of(f)->pMethods->xShmLock(real_of(f), off, n, flags);
}
static void f_shmbarrier(sqlite3_file *f)
{
    real_of(f)->pMethods->xShmBarrier(real_of(f));
}
static int f_shmunmap(sqlite3_file *f, int del)
{
    return real_of(f)->pMethods->xShmUnmap(real_of(f), del);
}

static int f_open(sqlite3_vfs *v, const char *name, sqlite3_file *file, int flags, int *out)
{
    faulty_file *ff = (faulty_file *)file;
    ff->real = (sqlite3_file *)(ff + 1);
    int rc = real_vfs->xOpen(real_vfs, name, ff->real, flags, out);
    if (rc != SQLITE_OK || !ff->real->pMethods) {
        file->pMethods = NULL;
        return rc;
    }
    ff->real_methods = ff->real->pMethods;
    ff->methods = (sqlite3_io_methods){
        .iVersion = 2, .xClose = f_close, .xRead = f_read, .xWrite = f_write,
        .xTruncate = f_truncate, .xSync = f_sync, .xFileSize = f_size, .xLock = f_lock,
        .xUnlock = f_unlock, .xCheckReservedLock = f_check, .xFileControl = f_fcntl,
        .xSectorSize = f_sector, .xDeviceCharacteristics = f_caps, .xShmMap = f_shmmap,
        .xShmLock = f_shmlock, .xShmBarrier = f_shmbarrier, .xShmUnmap = f_shmunmap};
    file->pMethods = &ff->methods;
    return SQLITE_OK;
}

static int setup(void **state)
{
    (void)state;
    assert_int_equal(sqlite3_config(SQLITE_CONFIG_GETMALLOC, &real_mem), SQLITE_OK);
    sqlite3_mem_methods m = real_mem;
    m.xMalloc = count_malloc;
    m.xRealloc = count_realloc;
    assert_int_equal(sqlite3_config(SQLITE_CONFIG_MALLOC, &m), SQLITE_OK);
    assert_int_equal(sqlite3_initialize(), SQLITE_OK);
    real_vfs = sqlite3_vfs_find(NULL);
    faulty_vfs = *real_vfs;
    faulty_vfs.iVersion = 1; /* no xSetSystemCall etc. */
    faulty_vfs.zName = "faulty";
    faulty_vfs.szOsFile = (int)sizeof(faulty_file) + real_vfs->szOsFile;
    faulty_vfs.xOpen = f_open;
    faulty_vfs.pAppData = NULL;
    assert_int_equal(sqlite3_vfs_register(&faulty_vfs, 1), SQLITE_OK);
    snprintf(dir, sizeof dir, "/tmp/earshot-faults-XXXXXX");
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

static int errors_logged;

static void quiet(int level, const char *msg, void *user)
{
    (void)msg, (void)user;
    if (level == EARSHOT_LOG_ERROR)
        errors_logged++;
}

static earshot_store_config store_cfg(void)
{
    earshot_store_config cfg = earshot_store_config_default();
    cfg.path = db;
    cfg.grammar_dir = EARSHOT_SOURCE_GRAMMAR_DIR;
    cfg.busy_timeout_ms = 10;
    cfg.on_log = quiet;
    return cfg;
}

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

static void intact(long long sessions_at_least, long long marker_rows)
{
    sqlite3 *h;
    assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(h, "PRAGMA integrity_check", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "ok");
    sqlite3_finalize(st);
    sqlite3_close(h);
    assert_true(sql_int("SELECT count(*) FROM sessions") >= sessions_at_least);
    assert_int_equal(sql_int("SELECT count(*) FROM utterances WHERE text LIKE '%marmalade%'"),
                     marker_rows);
}

/* One consented session with one utterance: what must survive. */
static void seed(void)
{
    char p[400];
    unlink(db);
    snprintf(p, sizeof p, "%s-wal", db);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", db);
    unlink(p);
    earshot_store_config cfg = store_cfg();
    earshot_store *s = NULL;
    assert_int_equal(earshot_store_open(&s, &cfg), EARSHOT_OK);
    int64_t id;
    assert_int_equal(earshot_session_begin(s, "kiosk", &id), EARSHOT_OK);
    assert_int_equal(earshot_consent_grant(s, id, EARSHOT_SCOPE_TRANSCRIPTS,
                                           EARSHOT_BY_ELSEWHERE, NULL), EARSHOT_OK);
    earshot_utterance u = {.text = "the marmalade was lovely", .start = 1, .end = 2};
    assert_int_equal(earshot_store_utterance(s, id, &u, NULL, 0, NULL), EARSHOT_OK);
    earshot_store_close(s);
}

static int ok_failure(int rc)
{
    return rc == EARSHOT_NOMEM || rc == EARSHOT_STORAGE || rc == EARSHOT_QUEUED ||
           rc == EARSHOT_IO || rc == EARSHOT_CORRUPT;
}

/* The operation: open, a new consented session, one analysed utterance,
 * close. Returns the first failing code (or OK); *stored says the
 * utterance was acknowledged (OK: in the file; QUEUED: close retries). */
static int operation(int *stored, int *queued)
{
    *stored = *queued = 0;
    earshot_store_config cfg = store_cfg();
    earshot_store *s = NULL;
    int rc = earshot_store_open(&s, &cfg);
    int64_t id = 0;
    if (rc == EARSHOT_OK)
        rc = earshot_session_begin(s, "faults", &id);
    if (rc == EARSHOT_OK)
        rc = earshot_consent_grant(s, id, EARSHOT_SCOPE_TRANSCRIPTS, EARSHOT_BY_API, NULL);
    if (rc == EARSHOT_OK) {
        earshot_analysis a;
        assert_int_equal(earshot_intents_analyze(grammar, "the pistachio queue was too long", &a),
                         EARSHOT_OK);
        earshot_utterance u = {.text = "the pistachio queue was too long", .start = 1,
                               .end = 2, .analysis = &a};
        rc = earshot_store_utterance(s, id, &u, NULL, 0, NULL);
        *stored = rc == EARSHOT_OK;
        *queued = rc == EARSHOT_QUEUED;
    }
    if (rc != EARSHOT_OK && s)
        assert_true(strlen(earshot_store_errmsg(s)) > 0);
    earshot_store_close(s);
    return rc;
}

static void run_faults(long *counter, long *fail_at, long *failed, const char *what)
{
    long n;
    for (n = 1; n < 100000; n++) {
        seed();
        *counter = 0;
        *failed = 0;
        *fail_at = n;
        int stored, queued;
        errors_logged = 0;
        int rc = operation(&stored, &queued);
        *fail_at = 0;
        long fired = *failed;
        if (rc != EARSHOT_OK && !ok_failure(rc))
            fail_msg("%s %ld: unexpected result %d (%s)", what, n, rc, earshot_errstr(rc));
        intact(1, 1);
        long long kept = sql_int("SELECT count(*) FROM utterances WHERE text LIKE '%pistachio%'");
        if (stored && kept != 1)
            fail_msg("%s %ld: utterance acknowledged but not in the file", what, n);
        if (!stored && !queued && kept != 0 && rc != EARSHOT_OK)
            print_message("%s %ld: reported %s, yet the row is there\n", what, n,
                          earshot_errstr(rc));
        /* A consented utterance the close could not write either is
         * reported, never silently dropped. */
        if (queued && kept != 1 && errors_logged == 0)
            fail_msg("%s %ld: queued utterance lost without an error logged", what, n);
        if (!fired && rc == EARSHOT_OK) /* nothing left to fail: done */
            break;
    }
    print_message("%s: the operation succeeded once %ld faults were injected before it\n", what,
                  n - 1);
    assert_true(n > 5);
}

static void test_failing_allocations(void **state)
{
    (void)state;
    run_faults(&alloc_count, &alloc_fail_at, &alloc_failed, "allocation");
}

static void test_failing_writes(void **state)
{
    (void)state;
    run_faults(&write_count, &write_fail_at, &write_failed, "write");
}

/* The report: a read-only open and a build, SQLite's Nth allocation or
 * write failing. It reads, so a failure is an error code, never a
 * changed file. */
static int report_operation(void)
{
    earshot_store_config cfg = store_cfg();
    cfg.read_only = 1;
    earshot_store *s = NULL;
    int rc = earshot_store_open(&s, &cfg);
    earshot_report *r = NULL;
    if (rc == EARSHOT_OK) {
        earshot_report_config rcfg = earshot_report_config_default();
        rcfg.min_group = 1;
        rc = earshot_report_build(s, &rcfg, &r);
        if (rc != EARSHOT_OK)
            assert_true(strlen(earshot_report_errmsg(r)) > 0);
    }
    earshot_report_free(r);
    earshot_store_close(s);
    return rc;
}

static void test_failing_report(void **state)
{
    (void)state;
    long *counters[2][3] = {{&alloc_count, &alloc_fail_at, &alloc_failed},
                            {&write_count, &write_fail_at, &write_failed}};
    for (int k = 0; k < 2; k++) {
        seed();
        long n;
        for (n = 1; n < 100000; n++) {
            *counters[k][0] = 0;
            *counters[k][2] = 0;
            *counters[k][1] = n;
            int rc = report_operation();
            *counters[k][1] = 0;
            if (rc != EARSHOT_OK && !ok_failure(rc))
                fail_msg("report, %s %ld: unexpected result %d (%s)", k ? "write" : "allocation",
                         n, rc, earshot_errstr(rc));
            intact(1, 1);
            if (!*counters[k][2] && rc == EARSHOT_OK)
                break;
        }
        print_message("report, %s: succeeded once %ld faults were injected before it\n",
                      k ? "write" : "allocation", n - 1);
        if (!k)
            assert_true(n > 5);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_failing_allocations),
        cmocka_unit_test(test_failing_writes),
        cmocka_unit_test(test_failing_report),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
