/* store.c - consented local storage: the only module that talks to SQLite.
 *
 * What it promises (issue 4, docs/ARCHITECTURE.md):
 * - nothing is written for a session without an active consent with the
 *   transcripts scope; the voice path (consent_yes / consent_no /
 *   forget_me) is decided here, so every front end behaves the same;
 * - text is redacted (plugin/redact.c) before it reaches a statement;
 * - forget is physical: secure_delete zeroes freed content, and a
 *   TRUNCATE checkpoint copies the zeroed pages home and empties the -wal
 *   file; a reader that holds an old snapshot is waited for (bounded), and
 *   if it will not let go, forget says so (EARSHOT_PENDING) and leaves a
 *   pending-erasure record that the next open completes first;
 * - an acknowledged utterance survives a crash: WAL with synchronous=FULL,
 *   one transaction per utterance;
 * - a locked, full or read-only database never loses a consented
 *   utterance silently: it waits (busy timeout), then queues in bounded
 *   memory and retries; when the queue is full it says so.
 */
#include "earshot.h"
#include "array.h"
#include "redact.h"
#include "store.h"
#include "store_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sndfile.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Migrations, applied in order; PRAGMA user_version counts those applied.
 * Version 1 was the first layout (sessions, consents, utterances);
 * version 2 added provenance and audio columns and the audit table;
 * version 3 added effort signals and the file's random identity;
 * version 4 added requests to review (an erasure heard too unsurely to
 * carry out); version 5 the audio-quality verdict of each utterance;
 * version 6 pending erasures (a forget whose checkpoint a reader blocked);
 * version 7 the privacy-budget ledger of differentially private reports;
 * version 8 the outbox of events for a broker.
 * Never edit a migration that has shipped: add one. */
static const char *const migrations[] = {
    /* 1 */
    "CREATE TABLE sessions ("
    "  id INTEGER PRIMARY KEY,"
    "  channel TEXT NOT NULL DEFAULT '',"
    "  started_at TEXT NOT NULL,"
    "  ended_at TEXT);"
    "CREATE TABLE consents ("
    "  id INTEGER PRIMARY KEY,"
    "  session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,"
    "  scope_transcripts INTEGER NOT NULL DEFAULT 0,"
    "  scope_quotes INTEGER NOT NULL DEFAULT 0,"
    "  scope_audio INTEGER NOT NULL DEFAULT 0,"
    "  text_version TEXT NOT NULL,"
    "  method TEXT NOT NULL CHECK (method IN ('voice','api','button','granted-elsewhere')),"
    "  granted_at TEXT NOT NULL,"
    "  revoked_at TEXT);"
    "CREATE TABLE utterances ("
    "  id INTEGER PRIMARY KEY,"
    "  session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,"
    "  consent_id INTEGER NOT NULL REFERENCES consents(id) ON DELETE CASCADE,"
    "  heard_at TEXT NOT NULL,"
    "  start REAL, end REAL,"
    "  text TEXT NOT NULL,"
    "  intent TEXT, confidence REAL,"
    "  slots TEXT NOT NULL DEFAULT '{}',"
    "  sentiment TEXT, sentiment_score REAL,"
    "  topics TEXT NOT NULL DEFAULT '');"
    "CREATE INDEX utterances_session ON utterances(session_id);"
    "CREATE INDEX utterances_heard ON utterances(heard_at);",
    /* 2 */
    "ALTER TABLE utterances ADD COLUMN model_hash TEXT;"
    "ALTER TABLE utterances ADD COLUMN grammar_hash TEXT;"
    "ALTER TABLE utterances ADD COLUMN audio TEXT;"
    "CREATE INDEX consents_session ON consents(session_id);"
    "CREATE INDEX utterances_consent ON utterances(consent_id);"
    "CREATE TABLE audit ("
    "  id INTEGER PRIMARY KEY,"
    "  at TEXT NOT NULL,"
    "  event TEXT NOT NULL,"       /* forget, export, retention, revoke */
    "  what TEXT NOT NULL DEFAULT '',"  /* session, channel, before, all, voice */
    "  sessions INTEGER NOT NULL DEFAULT 0,"
    "  utterances INTEGER NOT NULL DEFAULT 0);",
    /* 3 */
    "ALTER TABLE utterances ADD COLUMN signals TEXT NOT NULL DEFAULT '';"
    /* A random identity for the file, so that merging fleet reports can
     * tell two kiosks from one report counted twice. It names the
     * database, never a customer. */
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;"
    "INSERT INTO meta VALUES ('id', lower(hex(randomblob(16))));",
    /* 4 */
    /* A forget_me or revocation heard with too little confidence: a person
     * decides. No text is kept (the customer may have asked for exactly
     * that to go), only what was heard and how surely. */
    "CREATE TABLE reviews ("
    "  id INTEGER PRIMARY KEY,"
    "  session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,"
    "  at TEXT NOT NULL,"
    "  intent TEXT NOT NULL,"
    "  confidence REAL,"
    "  word_confidence REAL);"
    "CREATE INDEX reviews_session ON reviews(session_id);",
    /* 5: rows from before the verdict existed are 'ok' by default, which
     * is what every report said of them until then. */
    "ALTER TABLE utterances ADD COLUMN quality TEXT NOT NULL DEFAULT 'ok';",
    /* 6: an erasure committed but not yet checkpointed into the main file
     * because another connection held an old snapshot. Counts only, like
     * the audit row; the next open checkpoints and deletes the record. */
    "CREATE TABLE pending_erasures ("
    "  id INTEGER PRIMARY KEY,"
    "  at TEXT NOT NULL,"
    "  what TEXT NOT NULL,"
    "  sessions INTEGER NOT NULL DEFAULT 0,"
    "  utterances INTEGER NOT NULL DEFAULT 0);",
    /* 7: epsilon spent by differentially private reports, per period
     * (report_dp.c): a report is refused once a period's budget is spent. */
    "CREATE TABLE privacy_budget ("
    "  id INTEGER PRIMARY KEY,"
    "  period TEXT NOT NULL,"       /* YYYY-MM, a calendar month of the data */
    "  at TEXT NOT NULL,"
    "  epsilon REAL NOT NULL,"
    "  budget REAL NOT NULL,"
    "  what TEXT NOT NULL DEFAULT '');"
    "CREATE INDEX privacy_budget_period ON privacy_budget(period);",
    /* 8: the outbox of events for a broker (service/mqtt.c, earshot
     * publish): a row stays until the broker acknowledges it. Session
     * events (session_id set) are deleted once sent and erased with their
     * session (forget, revoke) by the triggers, so no text outlives an
     * erasure here; rows without a session (fleet periods) keep sent_at
     * as the record of what was published. */
    /* AUTOINCREMENT: a sent row is deleted, and its id must never come
     * back, since the publisher reads the rows after the last it sent. */
    "CREATE TABLE outbox ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  topic TEXT NOT NULL,"
    "  payload TEXT NOT NULL,"
    "  created_at TEXT NOT NULL,"
    "  sent_at TEXT,"
    "  session_id INTEGER);"
    "CREATE INDEX outbox_unsent ON outbox(sent_at, id);"
    "CREATE INDEX outbox_topic ON outbox(topic);"
    "CREATE INDEX outbox_session ON outbox(session_id);"
    "CREATE TRIGGER outbox_forget AFTER DELETE ON sessions BEGIN"
    "  DELETE FROM outbox WHERE session_id = old.id; END;"
    "CREATE TRIGGER outbox_revoke AFTER UPDATE OF revoked_at ON consents"
    "  WHEN new.revoked_at IS NOT NULL BEGIN"
    "  DELETE FROM outbox WHERE session_id = new.session_id AND sent_at IS NULL; END;",
};
enum { SCHEMA_VERSION = sizeof migrations / sizeof *migrations };


earshot_store_config earshot_store_config_default(void)
{
    return (earshot_store_config){
        .path = "earshot.db",
        .grammar_dir = NULL,
        .retain_days = 0,
        .busy_timeout_ms = 2000,
        .queue_max = 1000,
        .consent_version = "1",
        .on_log = NULL,
        .log_user = NULL,
        .read_only = 0,
        .create = 1,
        .confirm_confidence = 0.985,
        .confirm_word_confidence = 0.5,
    };
}

int earshot__store_fail(earshot_store *s, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->errmsg, sizeof s->errmsg, fmt, ap);
    va_end(ap);
    return rc;
}

void earshot__store_say(earshot_store *s, int level, const char *fmt, ...)
{
    if (!s->cfg.on_log)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    s->cfg.on_log(level, msg, s->cfg.log_user);
}

/* SQLite's result as ours: a full disk, a read-only file and a lock are
 * conditions to wait out (the caller queues); anything else is an error. */
int earshot__store_db_fail(earshot_store *s, int src, const char *what)
{
    int base = src & 0xff;
    int rc = EARSHOT_STORAGE;
    if (base == SQLITE_CORRUPT || base == SQLITE_NOTADB)
        rc = EARSHOT_CORRUPT;
    const char *hint = "";
    if (base == SQLITE_FULL || base == SQLITE_IOERR)
        hint = " (is the disk full?)";
    else if (base == SQLITE_READONLY)
        hint = " (is the file or its folder read-only?)";
    return earshot__store_fail(s, rc, "%s: %s: %s%s", s->path, what,
                s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(src), hint);
}

static int transient(int src)
{
    int base = src & 0xff;
    return base == SQLITE_BUSY || base == SQLITE_LOCKED || base == SQLITE_FULL ||
           base == SQLITE_READONLY || base == SQLITE_IOERR || base == SQLITE_CANTOPEN;
}

void earshot__now_iso(char *buf, size_t len, time_t t)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

int earshot__store_exec(earshot_store *s, const char *sql)
{
    int src = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
    return src;
}

/* Prepared statements only: every value goes through a bind. */
int earshot__store_prep(earshot_store *s, sqlite3_stmt **st, const char *sql)
{
    int src = sqlite3_prepare_v2(s->db, sql, -1, st, NULL);
    if (src != SQLITE_OK)
        *st = NULL;
    return src;
}

int64_t earshot__store_scalar(earshot_store *s, const char *sql, int64_t arg, int *src_out)
{
    sqlite3_stmt *st;
    int64_t v = -1;
    int src = earshot__store_prep(s, &st, sql);
    if (src == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, arg);
        src = sqlite3_step(st);
        if (src == SQLITE_ROW) {
            v = sqlite3_column_int64(st, 0);
            src = SQLITE_OK;
        } else if (src == SQLITE_DONE) {
            src = SQLITE_OK;
        }
    }
    sqlite3_finalize(st);
    if (src_out)
        *src_out = src;
    return v;
}

/* A file that is not SQLite, or is damaged, is refused and left exactly as
 * it was: it may be someone's only copy. A path that does not exist is
 * created only when the caller asked to create (cfg.create, not for a
 * read-only handle); an existing empty file (0 bytes) is adopted only
 * then too: "sessions" or "forget" on a mistyped or empty file must not
 * turn it into a database. *fresh says the path is missing or empty. */
static int check_header(earshot_store *s, int *fresh)
{
    int may_create = s->cfg.create && !s->cfg.read_only;
    struct stat st;
    *fresh = 0;
    if (stat(s->path, &st) != 0) {
        if (errno == ENOENT && may_create) {
            *fresh = 1;
            return EARSHOT_OK;
        }
        return earshot__store_fail(s, EARSHOT_IO, "%s: %s", s->path, strerror(errno));
    }
    if (S_ISDIR(st.st_mode))
        return earshot__store_fail(s, EARSHOT_IO, "%s: is a directory, not a database file",
                                   s->path);
    if (!S_ISREG(st.st_mode))
        return earshot__store_fail(s, EARSHOT_IO, "%s: not a regular file, not a database",
                                   s->path);
    if (st.st_size == 0) {
        /* A main file still empty while its -wal holds the first commits
         * (a writer created it a moment ago) is SQLite's to read. */
        char wal[4200];
        struct stat sw;
        snprintf(wal, sizeof wal, "%s-wal", s->path);
        if (stat(wal, &sw) == 0 && sw.st_size > 0)
            return EARSHOT_OK;
        if (may_create) {
            *fresh = 1;
            return EARSHOT_OK;
        }
        return earshot__store_fail(s, EARSHOT_CORRUPT,
                                   "%s: empty file (0 bytes), not an Earshot database", s->path);
    }
    FILE *f = fopen(s->path, "rb");
    if (!f)
        return earshot__store_fail(s, EARSHOT_IO, "%s: %s", s->path, strerror(errno));
    char head[16] = {0};
    size_t n = fread(head, 1, sizeof head, f);
    fclose(f);
    if (n < sizeof head || memcmp(head, "SQLite format 3", 16) != 0)
        return earshot__store_fail(s, EARSHOT_CORRUPT,
                                   "%s: not an SQLite database (refusing to touch it; move it "
                                   "away or use another path)", s->path);
    return EARSHOT_OK;
}

/* "file:" URI of a path, for SQLite's URI parameters: '%', '?' and '#'
 * (and anything unusual) are percent-encoded. malloc'd; NULL when out of
 * memory. */
static char *file_uri(const char *path, const char *params)
{
    size_t n = strlen(path);
    char *u = malloc(5 + 3 * n + strlen(params) + 1);
    if (!u)
        return NULL;
    char *o = u + sprintf(u, "file:");
    for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            strchr("/-._~", *p))
            *o++ = (char)*p;
        else
            o += sprintf(o, "%%%02X", *p);
    }
    strcpy(o, params);
    return u;
}

/* Can this process create files beside the database (its -shm)? */
static int folder_writable(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return access(".", W_OK) == 0;
    if (slash == path)
        return access("/", W_OK) == 0;
    char dir[4200];
    snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    return access(dir, W_OK) == 0;
}

static int migrate(earshot_store *s, int64_t version)
{
    int src;
    for (int64_t v = version; v < SCHEMA_VERSION; v++) {
        char set[64];
        snprintf(set, sizeof set, "PRAGMA user_version = %d", (int)(v + 1));
        if ((src = earshot__store_exec(s, "BEGIN IMMEDIATE")) != SQLITE_OK)
            return earshot__store_db_fail(s, src, "cannot start the schema migration");
        if ((src = earshot__store_exec(s, migrations[v])) != SQLITE_OK ||
            (src = earshot__store_exec(s, set)) != SQLITE_OK) {
            int rc = earshot__store_db_fail(s, src, "schema migration failed");
            earshot__store_exec(s, "ROLLBACK");
            return rc;
        }
        if ((src = earshot__store_exec(s, "COMMIT")) != SQLITE_OK) {
            int rc = earshot__store_db_fail(s, src, "cannot commit the schema migration");
            earshot__store_exec(s, "ROLLBACK");
            return rc;
        }
    }
    return EARSHOT_OK;
}

static void read_id(earshot_store *s)
{
    sqlite3_stmt *st;
    if (earshot__store_prep(s, &st, "SELECT value FROM meta WHERE key = 'id'") == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        snprintf(s->id, sizeof s->id, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
}

/* Reports read a database that a listener may be writing: no creation,
 * no migration, no pragma that writes; WAL readers see one snapshot.
 * mode=ro makes SQLite itself refuse every write. A WAL reader needs the
 * -shm index, which it creates when missing: in a folder this process
 * cannot write (a read-only mount, a folder of another user's), and with
 * no -wal file holding commits, the file is opened immutable=1 (no
 * locks, no -shm): nobody can be writing it then, since a writer would
 * have to create the -wal there. */
static int open_read_only(earshot_store *s)
{
    struct stat sb;
    if (stat(s->path, &sb) != 0)
        return earshot__store_fail(s, EARSHOT_IO, "%s: %s", s->path, strerror(errno));
    char wal[4200];
    struct stat sw;
    snprintf(wal, sizeof wal, "%s-wal", s->path);
    int immutable = !folder_writable(s->path) && (stat(wal, &sw) != 0 || sw.st_size == 0);
    char *uri = file_uri(s->path, immutable ? "?mode=ro&immutable=1" : "?mode=ro");
    if (!uri)
        return earshot__store_fail(s, EARSHOT_NOMEM, "out of memory");
    int src = sqlite3_open_v2(uri, &s->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL);
    free(uri);
    if (src != SQLITE_OK)
        return earshot__store_db_fail(s, src, "cannot open");
    sqlite3_busy_timeout(s->db, s->cfg.busy_timeout_ms > 0 ? s->cfg.busy_timeout_ms : 0);
    sqlite3_extended_result_codes(s->db, 1);
    s->version = earshot__store_scalar(s, "PRAGMA user_version", 0, &src);
    if (src != SQLITE_OK)
        return earshot__store_db_fail(s, src, "cannot read the schema version");
    if (s->version < 1 || s->version > SCHEMA_VERSION)
        return earshot__store_fail(s, EARSHOT_CORRUPT, "%s: %s", s->path,
                    s->version < 1 ? "not an Earshot database (or an empty one)"
                                   : "schema version is newer than this earshot knows; "
                                     "use a newer earshot");
    read_id(s);
    return EARSHOT_OK;
}

int earshot_store_open(earshot_store **out, const earshot_store_config *cfg)
{
    if (!out)
        return EARSHOT_MISUSE;
    earshot_store *s = calloc(1, sizeof *s);
    *out = s;
    if (!s)
        return EARSHOT_NOMEM;
    if (!cfg)
        return earshot__store_fail(s, EARSHOT_MISUSE, "earshot_store_open: cfg is NULL");
    s->cfg = *cfg;
    s->path = strdup(cfg->path && cfg->path[0] ? cfg->path : "earshot.db");
    s->consent_version = strdup(cfg->consent_version ? cfg->consent_version : "1");
    if (!s->path || !s->consent_version)
        return earshot__store_fail(s, EARSHOT_NOMEM, "out of memory");
    s->cfg.path = s->path;
    s->cfg.consent_version = s->consent_version;
    s->cfg.grammar_dir = NULL; /* not kept: used only here */
    size_t len = strlen(s->path) + 8;
    if (!(s->audio_dir = malloc(len)))
        return earshot__store_fail(s, EARSHOT_NOMEM, "out of memory");
    snprintf(s->audio_dir, len, "%s.audio", s->path);

    /* Redaction rules come first: without them nothing may be written. */
    const char *gdir = cfg->grammar_dir ? cfg->grammar_dir : earshot_default_grammar_dir();
    char err[512];
    s->redactor = earshot__redactor_open(gdir, err, sizeof err);
    if (!s->redactor)
        return earshot__store_fail(s, EARSHOT_GRAMMAR, "%s", err);

    int fresh = 0;
    int rc = check_header(s, &fresh);
    if (rc != EARSHOT_OK)
        return rc;
    if (cfg->read_only)
        return open_read_only(s);
    /* Created 0600: transcripts are nobody else's business. SQLite creates
     * the -wal and -shm files with the main file's permissions. */
    int fd = open(s->path, O_RDWR | (fresh ? O_CREAT : 0) | O_CLOEXEC, 0600);
    if (fd < 0)
        return earshot__store_fail(s, EARSHOT_IO, "%s: %s", s->path, strerror(errno));
    close(fd);
    int src = sqlite3_open_v2(s->path, &s->db, SQLITE_OPEN_READWRITE, NULL);
    if (src != SQLITE_OK)
        return earshot__store_db_fail(s, src, "cannot open");
    sqlite3_busy_timeout(s->db, cfg->busy_timeout_ms > 0 ? cfg->busy_timeout_ms : 0);
    sqlite3_extended_result_codes(s->db, 1);
    /* Read-only checks first: a file that is not ours, is newer, or is
     * damaged is refused before a single byte of it changes (switching it
     * to WAL would already write its header). */
    int64_t bad = earshot__store_scalar(s, "SELECT count(*) FROM pragma_quick_check WHERE quick_check != 'ok' "
                            "AND ?1 = ?1", 0, &src);
    if (src != SQLITE_OK)
        return earshot__store_db_fail(s, src, "cannot read the database");
    if (bad > 0)
        return earshot__store_fail(s, EARSHOT_CORRUPT, "%s: the database is damaged (quick_check failed); "
                                        "refusing to write to it", s->path);
    int64_t version = earshot__store_scalar(s, "PRAGMA user_version", 0, &src);
    if (src != SQLITE_OK)
        return earshot__store_db_fail(s, src, "cannot read the schema version");
    if (version > SCHEMA_VERSION)
        return earshot__store_fail(s, EARSHOT_CORRUPT,
                    "%s: schema version %" PRId64 " is newer than this earshot knows (%d); "
                    "use a newer earshot", s->path, version, (int)SCHEMA_VERSION);
    if (version == 0) {
        /* A version-0 file with tables is some other program's database. */
        int64_t tables = earshot__store_scalar(s, "SELECT count(*) FROM sqlite_schema WHERE ?1 = ?1", 0, &src);
        if (src != SQLITE_OK)
            return earshot__store_db_fail(s, src, "cannot read the schema");
        if (tables > 0)
            return earshot__store_fail(s, EARSHOT_CORRUPT,
                        "%s: an SQLite database but not an Earshot one (refusing to touch it)",
                        s->path);
        /* An empty SQLite file becomes ours only when asked to create. */
        if (!cfg->create)
            return earshot__store_fail(s, EARSHOT_CORRUPT,
                                       "%s: an empty SQLite database, not an Earshot one",
                                       s->path);
    }
    sqlite3_stmt *st;
    src = earshot__store_prep(s, &st, "PRAGMA journal_mode = WAL");
    if (src == SQLITE_OK) {
        src = sqlite3_step(st);
        src = src == SQLITE_ROW ? SQLITE_OK : src;
    }
    sqlite3_finalize(st);
    if (src != SQLITE_OK)
        return earshot__store_db_fail(s, src, "cannot open");
    /* synchronous=FULL: in WAL mode NORMAL may lose the last commits on a
     * power cut; an acknowledged consented utterance must not be lost. */
    if ((src = earshot__store_exec(s, "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;"
                       "PRAGMA secure_delete = ON;")) != SQLITE_OK)
        return earshot__store_db_fail(s, src, "cannot configure");
    if ((rc = migrate(s, version)) != EARSHOT_OK)
        return rc;
    s->version = SCHEMA_VERSION;
    read_id(s);
    /* An erasure a reader blocked last time is finished before anything
     * else happens on this handle. */
    int64_t pend = earshot__store_scalar(s, "SELECT count(*) FROM pending_erasures WHERE ?1 = ?1", 0, &src);
    if (src == SQLITE_OK && pend > 0) {
        if (earshot__store_finish_pending(s))
            earshot__store_say(s, EARSHOT_LOG_INFO, "%s: completed %" PRId64 " pending erasure%s", s->path,
                pend, pend == 1 ? "" : "s");
        else {
            s->pending_erasure = 1;
            earshot__store_say(s, EARSHOT_LOG_WARN, "%s: %" PRId64 " pending erasure%s still blocked by a "
                "reader; retried at close", s->path, pend, pend == 1 ? "" : "s");
        }
    }
    if (cfg->retain_days > 0) {
        int64_t n = 0;
        rc = earshot_store_purge(s, cfg->retain_days, &n);
        /* A reader keeping purged bytes in the file is no reason not to
         * open: the pending erasure is finished at close or next open. */
        if (rc == EARSHOT_PENDING)
            earshot__store_say(s, EARSHOT_LOG_WARN, "%s", s->errmsg);
        else if (rc != EARSHOT_OK)
            return rc;
        s->last_purge = time(NULL);
    }
    return EARSHOT_OK;
}

const char *earshot_store_errmsg(const earshot_store *s)
{
    if (!s)
        return "out of memory";
    return s->errmsg[0] ? s->errmsg : "not an error";
}

void earshot__pending_free(pending *p)
{
    free(p->text);
    free(p->intent);
    free(p->slots);
    free(p->sentiment);
    free(p->topics);
    free(p->signals);
    free(p->model);
    free(p->grammar);
    free(p->audio);
}

void earshot__remove_audio(const char *path)
{
    if (path && path[0])
        unlink(path);
}

void earshot_store_close(earshot_store *s)
{
    if (!s)
        return;
    if (s->db && s->n_queue > 0)
        earshot_store_retry(s);
    if (s->n_queue > 0)
        earshot__store_say(s, EARSHOT_LOG_ERROR,
            "%s: %zu queued utterances could not be written before closing (%s)", s->path,
            s->n_queue, s->errmsg);
    for (size_t i = 0; i < s->n_queue; i++) {
        earshot__remove_audio(s->queue[i].audio);
        earshot__pending_free(&s->queue[i]);
    }
    free(s->queue);
    sqlite3_finalize(s->insert);
    if (s->db) {
        /* Leave no -wal file holding what was written or erased. */
        if (!s->cfg.read_only && s->pending_erasure && !earshot__store_finish_pending(s))
            earshot__store_say(s, EARSHOT_LOG_WARN, "%s: an erasure is still pending (a reader holds an old "
                "snapshot); the next open completes it", s->path);
        else if (!s->cfg.read_only)
            sqlite3_exec(s->db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
        sqlite3_close_v2(s->db);
    }
    earshot__redactor_close(s->redactor);
    free(s->path);
    free(s->audio_dir);
    free(s->consent_version);
    free(s);
}

int earshot_session_begin(earshot_store *s, const char *channel, int64_t *session)
{
    if (!s || !s->db || !session)
        return EARSHOT_MISUSE;
    char at[32];
    earshot__now_iso(at, sizeof at, time(NULL));
    sqlite3_stmt *st;
    int src = earshot__store_prep(s, &st, "INSERT INTO sessions (channel, started_at) VALUES (?1, ?2)");
    if (src == SQLITE_OK) {
        sqlite3_bind_text(st, 1, channel ? channel : "", -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, at, -1, SQLITE_TRANSIENT);
        src = sqlite3_step(st);
    }
    sqlite3_finalize(st);
    if (src != SQLITE_DONE)
        return earshot__store_db_fail(s, src, "cannot begin a session");
    *session = sqlite3_last_insert_rowid(s->db);
    return EARSHOT_OK;
}

int earshot_session_end(earshot_store *s, int64_t session)
{
    if (!s || !s->db)
        return EARSHOT_MISUSE;
    char at[32];
    earshot__now_iso(at, sizeof at, time(NULL));
    sqlite3_stmt *st;
    int src = earshot__store_prep(s, &st, "UPDATE sessions SET ended_at = ?2 WHERE id = ?1");
    if (src == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, session);
        sqlite3_bind_text(st, 2, at, -1, SQLITE_TRANSIENT);
        src = sqlite3_step(st);
    }
    sqlite3_finalize(st);
    if (src != SQLITE_DONE)
        return earshot__store_db_fail(s, src, "cannot end the session");
    return EARSHOT_OK;
}

static const char *method_name(earshot_consent_method how)
{
    switch (how) {
    case EARSHOT_BY_VOICE: return "voice";
    case EARSHOT_BY_API: return "api";
    case EARSHOT_BY_BUTTON: return "button";
    case EARSHOT_BY_ELSEWHERE: return "granted-elsewhere";
    }
    return NULL;
}

int earshot_consent_grant(earshot_store *s, int64_t session, unsigned scopes,
                          earshot_consent_method how, int64_t *consent)
{
    if (!s || !s->db)
        return EARSHOT_MISUSE;
    const char *m = method_name(how);
    if (!m || !scopes || (scopes & ~7u))
        return earshot__store_fail(s, EARSHOT_MISUSE, "earshot_consent_grant: bad scopes or method");
    int src;
    if (earshot__store_scalar(s, "SELECT count(*) FROM sessions WHERE id = ?1", session, &src) != 1)
        return src != SQLITE_OK ? earshot__store_db_fail(s, src, "cannot grant consent")
                                : earshot__store_fail(s, EARSHOT_MISUSE, "no session %" PRId64, session);
    char at[32];
    earshot__now_iso(at, sizeof at, time(NULL));
    sqlite3_stmt *st;
    src = earshot__store_prep(s, &st,
               "INSERT INTO consents (session_id, scope_transcripts, scope_quotes, scope_audio,"
               " text_version, method, granted_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
    if (src == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, session);
        sqlite3_bind_int(st, 2, !!(scopes & EARSHOT_SCOPE_TRANSCRIPTS));
        sqlite3_bind_int(st, 3, !!(scopes & EARSHOT_SCOPE_QUOTES));
        sqlite3_bind_int(st, 4, !!(scopes & EARSHOT_SCOPE_AUDIO));
        sqlite3_bind_text(st, 5, s->consent_version, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 6, m, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 7, at, -1, SQLITE_TRANSIENT);
        src = sqlite3_step(st);
    }
    sqlite3_finalize(st);
    if (src != SQLITE_DONE)
        return earshot__store_db_fail(s, src, "cannot record consent");
    if (consent)
        *consent = sqlite3_last_insert_rowid(s->db);
    return EARSHOT_OK;
}

/* The active consent that allows transcripts, or 0 if none. */
static int64_t active_consent(earshot_store *s, int64_t session, int *audio, int *src)
{
    sqlite3_stmt *st;
    int64_t id = 0;
    *audio = 0;
    *src = earshot__store_prep(s, &st, "SELECT id, scope_audio FROM consents WHERE session_id = ?1 AND "
                        "revoked_at IS NULL AND scope_transcripts = 1 ORDER BY id DESC LIMIT 1");
    if (*src != SQLITE_OK)
        return 0;
    sqlite3_bind_int64(st, 1, session);
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW) {
        id = sqlite3_column_int64(st, 0);
        *audio = sqlite3_column_int(st, 1);
        *src = SQLITE_OK;
    } else {
        *src = r == SQLITE_DONE ? SQLITE_OK : r;
    }
    sqlite3_finalize(st);
    return id;
}

static int write_row(earshot_store *s, const pending *p)
{
    int src = SQLITE_OK;
    if (!s->insert)
        src = sqlite3_prepare_v3(
            s->db,
            "INSERT INTO utterances (session_id, consent_id, heard_at, start, end, text,"
            " intent, confidence, slots, sentiment, sentiment_score, topics, model_hash,"
            " grammar_hash, audio, signals, quality)"
            " VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17)",
            -1, SQLITE_PREPARE_PERSISTENT, &s->insert, NULL);
    if (src != SQLITE_OK)
        return src;
    sqlite3_stmt *st = s->insert;
    sqlite3_clear_bindings(st);
    sqlite3_bind_int64(st, 1, p->session);
    sqlite3_bind_int64(st, 2, p->consent);
    sqlite3_bind_text(st, 3, p->heard_at, -1, SQLITE_STATIC);
    sqlite3_bind_double(st, 4, p->start);
    sqlite3_bind_double(st, 5, p->end);
    sqlite3_bind_text(st, 6, p->text, -1, SQLITE_STATIC);
    if (p->has_analysis) {
        sqlite3_bind_text(st, 7, p->intent, -1, SQLITE_STATIC);
        sqlite3_bind_double(st, 8, p->confidence);
        sqlite3_bind_text(st, 10, p->sentiment, -1, SQLITE_STATIC);
        sqlite3_bind_double(st, 11, p->sentiment_score);
    }
    sqlite3_bind_text(st, 9, p->slots ? p->slots : "{}", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 12, p->topics ? p->topics : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 13, p->model, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 14, p->grammar, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 15, p->audio, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 16, p->signals ? p->signals : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 17, p->quality ? p->quality : "ok", -1, SQLITE_STATIC);
    /* One statement is one transaction (autocommit): when step returns
     * DONE the row is durable, which is what "acknowledged" means. */
    src = sqlite3_step(st);
    sqlite3_reset(st);
    return src == SQLITE_DONE ? SQLITE_OK : src;
}

/* Writes queued rows in order, in one transaction: all of them or none,
 * so a failure half-way leaves the queue as it was. A row whose consent
 * was revoked (or session erased) while it waited is dropped unwritten. */
int earshot_store_retry(earshot_store *s)
{
    if (!s || !s->db)
        return EARSHOT_MISUSE;
    if (s->n_queue == 0)
        return EARSHOT_OK;
    int src = earshot__store_exec(s, "BEGIN IMMEDIATE");
    size_t i = 0;
    unsigned char *drop = calloc(s->n_queue, 1);
    if (!drop)
        src = SQLITE_NOMEM;
    int64_t last_session = -1, c = 0; /* rows come in runs of one session */
    for (; src == SQLITE_OK && i < s->n_queue; i++) {
        pending *p = &s->queue[i];
        int a = 0;
        if (p->session != last_session) {
            c = active_consent(s, p->session, &a, &src);
            last_session = p->session;
        }
        if (src != SQLITE_OK)
            break;
        if (c != p->consent)
            drop[i] = 1;
        else
            src = write_row(s, p);
    }
    if (src == SQLITE_OK)
        src = earshot__store_exec(s, "COMMIT");
    if (src != SQLITE_OK) {
        char why[sizeof s->errmsg];
        earshot__store_db_fail(s, src, "cannot write queued utterances");
        memcpy(why, s->errmsg, sizeof why);
        earshot__store_exec(s, "ROLLBACK");
        memcpy(s->errmsg, why, sizeof why);
        free(drop);
        return transient(src) ? EARSHOT_QUEUED : EARSHOT_STORAGE;
    }
    for (i = 0; i < s->n_queue; i++) {
        if (drop[i])
            earshot__remove_audio(s->queue[i].audio);
        earshot__pending_free(&s->queue[i]);
    }
    free(drop);
    s->n_queue = 0;
    return EARSHOT_OK;
}

size_t earshot_store_queued(const earshot_store *s)
{
    return s ? s->n_queue : 0;
}

/* Audio is kept only with the audio scope: one FLAC file per utterance in
 * DB.audio/, created 0600, named by time and a counter (never by content).
 * Returns the path, or NULL (the utterance is then stored without it). */
static char *save_audio(earshot_store *s, const int16_t *pcm, size_t n)
{
    if (mkdir(s->audio_dir, 0700) != 0 && errno != EEXIST) {
        earshot__store_say(s, EARSHOT_LOG_WARN, "%s: %s; audio not kept", s->audio_dir, strerror(errno));
        return NULL;
    }
    static unsigned counter;
    size_t len = strlen(s->audio_dir) + 64;
    char *path = malloc(len);
    if (!path)
        return NULL;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(path, len, "%s/%lld-%09ld-%u.flac", s->audio_dir, (long long)ts.tv_sec,
             ts.tv_nsec, ++counter);
    SF_INFO info = {.samplerate = EARSHOT_SAMPLE_RATE, .channels = 1,
                    .format = SF_FORMAT_FLAC | SF_FORMAT_PCM_16};
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    SNDFILE *f = fd >= 0 ? sf_open_fd(fd, SFM_WRITE, &info, 1) : NULL;
    if (!f || sf_write_short(f, pcm, (sf_count_t)n) != (sf_count_t)n) {
        earshot__store_say(s, EARSHOT_LOG_WARN, "%s: cannot write audio; audio not kept", path);
        if (f)
            sf_close(f);
        else if (fd >= 0)
            close(fd);
        unlink(path);
        free(path);
        return NULL;
    }
    sf_close(f);
    return path;
}

/* Names joined with commas: how topics and signals are stored. */
static char *join_names(const char *const *names, size_t n)
{
    size_t len = 1;
    for (size_t i = 0; i < n; i++)
        len += strlen(names[i]) + 1;
    char *t = malloc(len);
    if (!t)
        return NULL;
    t[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (i)
            strcat(t, ",");
        strcat(t, names[i]);
    }
    return t;
}

static int enqueue(earshot_store *s, pending *p)
{
    size_t max = s->cfg.queue_max;
    if (s->n_queue >= max ||
        !earshot__grow((void **)&s->queue, &s->queue_cap, s->n_queue + 1, sizeof *s->queue)) {
        s->lost++;
        earshot__remove_audio(p->audio);
        earshot__pending_free(p);
        return earshot__store_fail(s, EARSHOT_STORAGE,
                    "%s: the database cannot be written and the memory queue is full "
                    "(%zu utterances waiting): this utterance was NOT stored (%zu lost so far)",
                    s->path, s->n_queue, s->lost);
    }
    s->queue[s->n_queue++] = *p;
    return EARSHOT_QUEUED;
}

static int store_row(earshot_store *s, int64_t session, int64_t consent, int keep_audio,
                     const earshot_utterance *u, const int16_t *pcm, size_t n)
{
    pending p = {.session = session, .consent = consent, .start = u->start, .end = u->end,
                 .quality = earshot_quality_name(u->quality)};
    earshot__now_iso(p.heard_at, sizeof p.heard_at, time(NULL));
    /* Redaction happens here, on the way in: the unredacted text never
     * reaches a statement, the queue or the file. */
    if (session != s->redact_session || u->start < s->redact_end ||
        u->start - s->redact_end > EARSHOT__REDACT_PAUSE_MAX)
        s->redact_open = 0;
    p.text = earshot__redact_next(s->redactor, u->text ? u->text : "", &s->redact_open, NULL);
    s->redact_session = session;
    s->redact_end = u->end;
    int ok = p.text != NULL;
    const earshot_analysis *a = u->analysis;
    if (a && ok) {
        p.has_analysis = 1;
        p.intent = dup_or_null(a->intent);
        p.sentiment = dup_or_null(a->sentiment);
        p.confidence = a->confidence;
        p.sentiment_score = a->sentiment_score;
        p.topics = join_names(a->topics, a->n_topics);
        p.signals = join_names(a->signals, a->n_signals);
        char slots[32];
        if (a->score >= 0)
            snprintf(slots, sizeof slots, "{\"score\":%d}", a->score);
        else
            snprintf(slots, sizeof slots, "{}");
        p.slots = strdup(slots);
        ok = p.intent && p.sentiment && p.topics && p.signals && p.slots;
    }
    p.model = dup_or_null(u->model_id);
    p.grammar = dup_or_null(u->grammar_id);
    if (!ok) {
        earshot__pending_free(&p);
        return earshot__store_fail(s, EARSHOT_NOMEM, "out of memory: utterance not stored");
    }
    if (keep_audio && pcm && n > 0)
        p.audio = save_audio(s, pcm, n);
    /* Older rows first: a queue means the database was unavailable. */
    if (s->n_queue > 0 && earshot_store_retry(s) != EARSHOT_OK)
        return enqueue(s, &p);
    int src = write_row(s, &p);
    if (src == SQLITE_OK) {
        earshot__pending_free(&p);
        return EARSHOT_OK;
    }
    if (transient(src)) {
        earshot__store_db_fail(s, src, "cannot write");
        char why[sizeof s->errmsg];
        memcpy(why, s->errmsg, sizeof why);
        int rc = enqueue(s, &p);
        if (rc == EARSHOT_QUEUED)
            earshot__store_fail(s, rc, "%.900s; %zu utterance%s kept in memory, will retry", why, s->n_queue,
                 s->n_queue == 1 ? "" : "s");
        return rc;
    }
    int rc = earshot__store_db_fail(s, src, "cannot write the utterance");
    earshot__remove_audio(p.audio);
    earshot__pending_free(&p);
    return rc;
}

static int is_intent(const earshot_utterance *u, const char *name)
{
    return u->analysis && u->analysis->intent && !strcmp(u->analysis->intent, name);
}

/* No destructive act on a guess: sure enough by the intent's confidence
 * and by the recogniser's own confidence in the words (a misheard "thank
 * you don't monitor ..." reads as consent_no at about 0.7). */
static int sure_enough(const earshot_store *s, const earshot_utterance *u)
{
    double words = u->n_words || u->confidence > 0 ? u->confidence : 1.0;
    return u->analysis->confidence >= s->cfg.confirm_confidence &&
           words >= s->cfg.confirm_word_confidence;
}

int earshot_store_utterance(earshot_store *s, int64_t session, const earshot_utterance *u,
                            const int16_t *pcm, size_t n_samples, earshot_heard *what)
{
    earshot_heard dummy;
    if (!what)
        what = &dummy;
    *what = EARSHOT_HEARD_DROPPED;
    if (!s || !s->db || !u)
        return EARSHOT_MISUSE;
    /* A listener runs for weeks: retention applies while it does. */
    if (s->cfg.retain_days > 0 && time(NULL) - s->last_purge >= 3600) {
        s->last_purge = time(NULL);
        if (earshot_store_purge(s, s->cfg.retain_days, NULL) != EARSHOT_OK)
            earshot__store_say(s, EARSHOT_LOG_WARN, "%s", s->errmsg);
    }
    int src;
    int64_t exists = earshot__store_scalar(s, "SELECT count(*) FROM sessions WHERE id = ?1", session, &src);
    if (src != SQLITE_OK) {
        /* Cannot even read: if consent was given, the row must still not
         * be lost, but consent cannot be checked. Queue nothing; report. */
        return earshot__store_db_fail(s, src, "cannot read the session");
    }
    if (exists != 1)
        return EARSHOT_OK; /* forgotten (or never begun): nothing is kept */
    /* The precedence of the intents makes these unambiguous: forget_me
     * outranks consent_no, which outranks consent_yes. */
    if (is_intent(u, "forget_me") && !sure_enough(s, u)) {
        int rc = earshot__store_record_review(s, session, u);
        if (rc == EARSHOT_OK)
            *what = EARSHOT_HEARD_REVIEW;
        return rc;
    }
    if (is_intent(u, "forget_me")) {
        int64_t ns = 0, nu = 0;
        earshot_forget_what w = {.session = session};
        int rc = earshot__store_forget_as(s, &w, "voice", &ns, &nu);
        if (rc == EARSHOT_OK || rc == EARSHOT_PENDING)
            *what = EARSHOT_HEARD_FORGOTTEN;
        return rc;
    }
    int audio;
    int64_t consent = active_consent(s, session, &audio, &src);
    if (src != SQLITE_OK)
        return earshot__store_db_fail(s, src, "cannot read consent");
    if (is_intent(u, "consent_no") && consent && !sure_enough(s, u)) {
        /* Revoking erases what consent covered: the same care as a
         * forget_me. Without consent a "no" destroys nothing and needs
         * none. */
        int rc = earshot__store_record_review(s, session, u);
        if (rc == EARSHOT_OK)
            *what = EARSHOT_HEARD_REVIEW;
        return rc;
    }
    if (is_intent(u, "consent_no")) {
        *what = EARSHOT_HEARD_DECLINED;
        return consent ? earshot_consent_revoke(s, session, NULL) : EARSHOT_OK;
    }
    if (!consent && is_intent(u, "consent_yes")) {
        int rc = earshot_consent_grant(s, session, EARSHOT_SCOPE_TRANSCRIPTS, EARSHOT_BY_VOICE,
                                       NULL);
        if (rc == EARSHOT_OK)
            *what = EARSHOT_HEARD_CONSENTED;
        return rc;
    }
    if (!consent)
        return EARSHOT_OK; /* heard, answered, not kept */
    int rc = store_row(s, session, consent, audio, u, pcm, n_samples);
    if (rc == EARSHOT_OK)
        *what = EARSHOT_HEARD_STORED;
    else if (rc == EARSHOT_QUEUED)
        *what = EARSHOT_HEARD_QUEUED;
    return rc;
}

/* A customer's access request: everything held on one session, as JSON,
 * built by SQLite's own JSON functions so quoting is never hand-rolled. */
int earshot_export_session(earshot_store *s, int64_t session, char **json)
{
    if (!s || !s->db || !json)
        return EARSHOT_MISUSE;
    *json = NULL;
    sqlite3_stmt *st;
    /* A database opened read-only may predate the quality column. */
    char sql[2048];
    snprintf(sql, sizeof sql,
        "SELECT json_object("
        " 'session', json_object('id', id, 'channel', channel, 'started_at', started_at,"
        "   'ended_at', ended_at),"
        " 'consents', (SELECT json_group_array(json_object('id', c.id,"
        /* Only the scopes granted: no null for one that was not. */
        "   'scopes', json((SELECT json_group_array(name) FROM (SELECT 'transcripts' AS name"
        "     WHERE scope_transcripts UNION ALL SELECT 'quotes' WHERE scope_quotes"
        "     UNION ALL SELECT 'audio' WHERE scope_audio))),"
        "   'text_version', text_version, 'method', method, 'granted_at', granted_at,"
        "   'revoked_at', revoked_at)) FROM consents c WHERE c.session_id = sessions.id),"
        " 'utterances', (SELECT json_group_array(json_object('id', u.id, 'consent', consent_id,"
        "   'heard_at', heard_at, 'start', start, 'end', end, 'text', text, 'intent', intent,"
        "   'confidence', confidence, 'slots', json(slots), 'sentiment', sentiment,"
        "   'sentiment_score', sentiment_score,"
        "   'topics', CASE WHEN topics = '' THEN json_array()"
        "     ELSE json('[\"' || replace(topics, ',', '\",\"') || '\"]') END,"
        "   'signals', CASE WHEN signals = '' THEN json_array()"
        "     ELSE json('[\"' || replace(signals, ',', '\",\"') || '\"]') END,"
        "   'model', model_hash, 'grammar', grammar_hash, 'audio', audio IS NOT NULL,"
        "   'quality', %s))"
        "   FROM (SELECT * FROM utterances WHERE session_id = sessions.id ORDER BY id) u))"
        " FROM sessions WHERE id = ?1", s->version >= 5 ? "quality" : "'ok'");
    int src = earshot__store_prep(s, &st, sql);
    if (src != SQLITE_OK)
        return earshot__store_db_fail(s, src, "cannot export");
    sqlite3_bind_int64(st, 1, session);
    src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        *json = strdup((const char *)sqlite3_column_text(st, 0));
        src = SQLITE_OK;
    }
    sqlite3_finalize(st);
    if (src == SQLITE_DONE)
        return earshot__store_fail(s, EARSHOT_MISUSE, "no session %" PRId64, session);
    if (src != SQLITE_OK)
        return earshot__store_db_fail(s, src, "cannot export");
    if (!*json)
        return earshot__store_fail(s, EARSHOT_NOMEM, "out of memory");
    int64_t n = earshot__store_scalar(s, "SELECT count(*) FROM utterances WHERE session_id = ?1", session, &src);
    earshot__store_audit(s, "export", "session", 1, n);
    return EARSHOT_OK;
}

void earshot_free(void *p)
{
    free(p);
}

int earshot_sessions(earshot_store *s, earshot_session_fn fn, void *user)
{
    if (!s || !s->db || !fn)
        return EARSHOT_MISUSE;
    sqlite3_stmt *st;
    int src = earshot__store_prep(s, &st,
        "SELECT id, channel, started_at, ended_at,"
        " (SELECT count(*) FROM utterances WHERE session_id = sessions.id),"
        " (SELECT count(*) FROM consents WHERE session_id = sessions.id AND revoked_at IS NULL"
        "   AND scope_transcripts = 1)"
        " FROM sessions ORDER BY id");
    if (src != SQLITE_OK)
        return earshot__store_db_fail(s, src, "cannot list sessions");
    int rc = EARSHOT_OK;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        earshot_session_info i = {
            .id = sqlite3_column_int64(st, 0),
            .channel = (const char *)sqlite3_column_text(st, 1),
            .started_at = (const char *)sqlite3_column_text(st, 2),
            .ended_at = (const char *)sqlite3_column_text(st, 3),
            .utterances = sqlite3_column_int64(st, 4),
            .consented = sqlite3_column_int(st, 5) > 0,
        };
        if (fn(&i, user)) {
            rc = EARSHOT_STOPPED;
            break;
        }
    }
    if (rc == EARSHOT_OK && src != SQLITE_DONE)
        rc = earshot__store_db_fail(s, src, "cannot list sessions");
    sqlite3_finalize(st);
    return rc;
}

/* ------------------------------------------------------------------ */
/* reading for reports (store.h)                                        */
/* ------------------------------------------------------------------ */

const char *earshot__store_id(earshot_store *s)
{
    return s->id;
}

int earshot__store_channels(earshot_store *s, const char *name, char *list, size_t size)
{
    sqlite3_stmt *st;
    int found = 0;
    if (size)
        list[0] = '\0';
    if (sqlite3_prepare_v2(s->db, "SELECT DISTINCT channel FROM sessions ORDER BY channel", -1,
                           &st, NULL) != SQLITE_OK)
        return -1;
    size_t used = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *c = (const char *)sqlite3_column_text(st, 0);
        if (!c)
            continue;
        found |= name && !strcmp(c, name);
        int k = snprintf(list + used, size > used ? size - used : 0, "%s%s", used ? ", " : "", c);
        if (k > 0)
            used = used + (size_t)k < size ? used + (size_t)k : size;
    }
    sqlite3_finalize(st);
    return found;
}

char *earshot__store_redact(earshot_store *s, const char *text)
{
    return earshot__redact(s->redactor, text, NULL);
}

char *earshot__store_redact_found(earshot_store *s, const char *text, unsigned *found)
{
    return earshot__redact(s->redactor, text, found);
}

static const char *col_text(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? (const char *)t : "";
}

static void bind_bounds(sqlite3_stmt *st, const earshot__scan *scan)
{
    if (scan->from)
        sqlite3_bind_text(st, 1, scan->from, -1, SQLITE_STATIC);
    if (scan->to)
        sqlite3_bind_text(st, 2, scan->to, -1, SQLITE_STATIC);
    if (scan->channel)
        sqlite3_bind_text(st, 3, scan->channel, -1, SQLITE_STATIC);
}

int earshot__store_scan(earshot_store *s, const earshot__scan *scan)
{
    if (!s || !s->db || !scan)
        return EARSHOT_MISUSE;
    /* One read transaction: sessions and utterances from one snapshot,
     * even while a listener goes on writing. */
    int src = earshot__store_exec(s, "BEGIN");
    if (src != SQLITE_OK)
        return earshot__store_db_fail(s, src, "cannot start reading");
    sqlite3_stmt *st = NULL;
    int rc = EARSHOT_OK;
    src = earshot__store_prep(s, &st,
        "SELECT id, channel, started_at, EXISTS (SELECT 1 FROM consents c"
        "  WHERE c.session_id = sessions.id AND scope_transcripts AND revoked_at IS NULL)"
        " FROM sessions"
        " WHERE (?1 IS NULL OR started_at >= ?1) AND (?2 IS NULL OR started_at < ?2)"
        "  AND (?3 IS NULL OR channel = ?3) ORDER BY id");
    if (src == SQLITE_OK) {
        bind_bounds(st, scan);
        while ((src = sqlite3_step(st)) == SQLITE_ROW) {
            earshot__scan_session ses = {
                .id = sqlite3_column_int64(st, 0),
                .channel = col_text(st, 1),
                .started_at = col_text(st, 2),
                .consented = sqlite3_column_int(st, 3),
            };
            if (scan->on_session && scan->on_session(&ses, scan->user)) {
                rc = EARSHOT_STOPPED;
                break;
            }
        }
    }
    if (rc == EARSHOT_OK && src != SQLITE_DONE)
        rc = earshot__store_db_fail(s, src, "cannot read the sessions");
    sqlite3_finalize(st);
    st = NULL;
    if (rc == EARSHOT_OK) {
        /* Ordered by session through its index, so no sort is needed.
         * Before schema 3 there are no signals. */
        char *sql = sqlite3_mprintf(
            "SELECT u.session_id, s.channel, u.heard_at, u.text, u.intent, u.sentiment,"
            " u.topics, %s, u.slots, u.confidence, c.scope_quotes, %s"
            " FROM utterances u INDEXED BY utterances_session"
            " JOIN sessions s ON s.id = u.session_id JOIN consents c ON c.id = u.consent_id"
            " WHERE (?1 IS NULL OR u.heard_at >= ?1) AND (?2 IS NULL OR u.heard_at < ?2)"
            "  AND (?3 IS NULL OR s.channel = ?3) ORDER BY u.session_id, u.id",
            s->version >= 3 ? "u.signals" : "''", s->version >= 5 ? "u.quality" : "'ok'");
        src = sql ? earshot__store_prep(s, &st, sql) : SQLITE_NOMEM;
        sqlite3_free(sql);
        if (src == SQLITE_OK) {
            bind_bounds(st, scan);
            while ((src = sqlite3_step(st)) == SQLITE_ROW) {
                /* slots is '{}' or '{"score":N}' (store_row writes it). */
                const char *slots = col_text(st, 8);
                const char *sc = strstr(slots, "\"score\":");
                earshot__scan_utterance u = {
                    .session = sqlite3_column_int64(st, 0),
                    .channel = col_text(st, 1),
                    .heard_at = col_text(st, 2),
                    .text = col_text(st, 3),
                    .intent = col_text(st, 4),
                    .sentiment = col_text(st, 5),
                    .topics = col_text(st, 6),
                    .signals = col_text(st, 7),
                    .score = sc ? atoi(sc + 8) : -1,
                    .confidence = sqlite3_column_double(st, 9),
                    .quotable = sqlite3_column_int(st, 10),
                    .quality = col_text(st, 11),
                };
                if (u.score < 0 || u.score > 10)
                    u.score = -1;
                if (scan->on_utterance && scan->on_utterance(&u, scan->user)) {
                    rc = EARSHOT_STOPPED;
                    break;
                }
            }
        }
        if (rc == EARSHOT_OK && src != SQLITE_DONE)
            rc = earshot__store_db_fail(s, src, "cannot read the utterances");
        sqlite3_finalize(st);
    }
    earshot__store_exec(s, "COMMIT");
    return rc;
}

int earshot__store_budget_spend(earshot_store *s, const char *const *periods, size_t n,
                                double epsilon, double budget, const char *what)
{
    if (!s || !s->db)
        return EARSHOT_MISUSE;
    if (s->cfg.read_only)
        return earshot__store_fail(s, EARSHOT_MISUSE, "%s: a differentially private report spends privacy "
                    "budget, recorded in the database: open it for writing", s->path);
    int src = earshot__store_exec(s, "BEGIN IMMEDIATE");
    if (src != SQLITE_OK)
        return earshot__store_db_fail(s, src, "cannot read the privacy budget");
    int rc = EARSHOT_OK;
    sqlite3_stmt *st = NULL;
    src = earshot__store_prep(s, &st, "SELECT coalesce(sum(epsilon), 0) FROM privacy_budget WHERE period = ?1");
    for (size_t i = 0; src == SQLITE_OK && rc == EARSHOT_OK && i < n; i++) {
        sqlite3_reset(st);
        sqlite3_bind_text(st, 1, periods[i], -1, SQLITE_STATIC);
        if ((src = sqlite3_step(st)) != SQLITE_ROW)
            break;
        src = SQLITE_OK;
        double spent = sqlite3_column_double(st, 0);
        /* A small tolerance, so that four reports of 0.5 fit a budget of 2. */
        if (spent + epsilon > budget + 1e-9)
            rc = earshot__store_fail(s, EARSHOT_BUDGET, "%s: the privacy budget of %s is spent: %g of %g "
                      "used, this report needs %g (refused; nothing released)", s->path,
                      periods[i], spent, budget, epsilon);
    }
    sqlite3_finalize(st);
    st = NULL;
    if (src == SQLITE_OK && rc == EARSHOT_OK)
        src = earshot__store_prep(s, &st, "INSERT INTO privacy_budget (period, at, epsilon, budget, what) "
                           "VALUES (?1, ?2, ?3, ?4, ?5)");
    char at[32];
    earshot__now_iso(at, sizeof at, time(NULL));
    for (size_t i = 0; src == SQLITE_OK && rc == EARSHOT_OK && i < n; i++) {
        sqlite3_reset(st);
        sqlite3_bind_text(st, 1, periods[i], -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, at, -1, SQLITE_STATIC);
        sqlite3_bind_double(st, 3, epsilon);
        sqlite3_bind_double(st, 4, budget);
        sqlite3_bind_text(st, 5, what ? what : "", -1, SQLITE_STATIC);
        src = sqlite3_step(st);
        src = src == SQLITE_DONE ? SQLITE_OK : src;
    }
    sqlite3_finalize(st);
    if (src == SQLITE_OK && rc == EARSHOT_OK)
        src = earshot__store_exec(s, "COMMIT");
    if (src != SQLITE_OK || rc != EARSHOT_OK) {
        if (src != SQLITE_OK)
            rc = earshot__store_db_fail(s, src, "cannot record the privacy budget");
        char why[sizeof s->errmsg];
        memcpy(why, s->errmsg, sizeof why);
        earshot__store_exec(s, "ROLLBACK");
        memcpy(s->errmsg, why, sizeof why);
    }
    return rc;
}

/* ------------------------------------------------------------------ */
/* the outbox (earshot.h)                                               */
/* ------------------------------------------------------------------ */

const char *earshot_store_id(const earshot_store *s)
{
    return s ? s->id : "";
}

static int64_t outbox_limit = EARSHOT_OUTBOX_MAX;

void earshot_outbox_set_limit(int64_t max_unsent)
{
    outbox_limit = max_unsent > 0 ? max_unsent : EARSHOT_OUTBOX_MAX;
}

int earshot_outbox_add(earshot_store *s, const char *topic, const char *payload, int64_t session,
                       int64_t *id)
{
    if (!s || !s->db || !topic || !payload)
        return EARSHOT_MISUSE;
    char at[32];
    earshot__now_iso(at, sizeof at, time(NULL));
    int src = earshot__store_exec(s, "BEGIN IMMEDIATE");
    sqlite3_stmt *st = NULL;
    if (src == SQLITE_OK &&
        (src = earshot__store_prep(s, &st, "INSERT INTO outbox (topic, payload, created_at, "
                                           "session_id) VALUES (?1, ?2, ?3, ?4)")) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, topic, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, payload, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, at, -1, SQLITE_STATIC);
        if (session > 0)
            sqlite3_bind_int64(st, 4, session);
        src = sqlite3_step(st);
        src = src == SQLITE_DONE ? SQLITE_OK : src;
    }
    sqlite3_finalize(st);
    int64_t row = sqlite3_last_insert_rowid(s->db);
    /* Bounded: past the limit the oldest unsent rows go, counted in meta
     * so that the loss is reported, never silent. */
    int64_t over = 0;
    if (src == SQLITE_OK)
        over = earshot__store_scalar(s, "SELECT count(*) - ?1 FROM outbox WHERE sent_at IS NULL",
                                     outbox_limit, &src);
    if (src == SQLITE_OK && over > 0) {
        if ((src = earshot__store_prep(s, &st, "DELETE FROM outbox WHERE id IN (SELECT id FROM "
                                               "outbox WHERE sent_at IS NULL ORDER BY id LIMIT ?1)")) ==
            SQLITE_OK) {
            sqlite3_bind_int64(st, 1, over);
            src = sqlite3_step(st);
            src = src == SQLITE_DONE ? SQLITE_OK : src;
        }
        sqlite3_finalize(st);
        if (src == SQLITE_OK &&
            (src = earshot__store_prep(s, &st, "INSERT INTO meta VALUES ('outbox_dropped', ?1) "
                                               "ON CONFLICT(key) DO UPDATE SET value = "
                                               "CAST(value AS INTEGER) + ?1")) == SQLITE_OK) {
            sqlite3_bind_int64(st, 1, over);
            src = sqlite3_step(st);
            src = src == SQLITE_DONE ? SQLITE_OK : src;
        }
        sqlite3_finalize(st);
    }
    if (src == SQLITE_OK)
        src = earshot__store_exec(s, "COMMIT");
    if (src != SQLITE_OK) {
        int rc = earshot__store_db_fail(s, src, "cannot queue an event in the outbox");
        earshot__store_exec(s, "ROLLBACK");
        return rc;
    }
    if (over > 0)
        earshot__store_say(s, EARSHOT_LOG_WARN, "%s: outbox full (%" PRId64 " unsent): dropped the "
                           "oldest %" PRId64 " event%s", s->path, outbox_limit, over,
                           over == 1 ? "" : "s");
    if (id)
        *id = row;
    return EARSHOT_OK;
}

int earshot_outbox_next(earshot_store *s, int64_t after, int max, earshot_outbox_fn fn, void *user)
{
    if (!s || !s->db || !fn)
        return EARSHOT_MISUSE;
    sqlite3_stmt *st;
    int src = earshot__store_prep(s, &st, "SELECT id, topic, payload FROM outbox WHERE sent_at IS "
                                          "NULL AND id > ?1 ORDER BY id LIMIT ?2");
    if (src != SQLITE_OK)
        return earshot__store_db_fail(s, src, "cannot read the outbox");
    sqlite3_bind_int64(st, 1, after);
    sqlite3_bind_int(st, 2, max > 0 ? max : 1000);
    int rc = EARSHOT_OK;
    while ((src = sqlite3_step(st)) == SQLITE_ROW)
        if (fn(sqlite3_column_int64(st, 0), (const char *)sqlite3_column_text(st, 1),
               (const char *)sqlite3_column_text(st, 2), user)) {
            rc = EARSHOT_STOPPED;
            break;
        }
    if (rc == EARSHOT_OK && src != SQLITE_DONE)
        rc = earshot__store_db_fail(s, src, "cannot read the outbox");
    sqlite3_finalize(st);
    return rc;
}

int earshot_outbox_sent(earshot_store *s, int64_t id)
{
    if (!s || !s->db)
        return EARSHOT_MISUSE;
    char at[32];
    earshot__now_iso(at, sizeof at, time(NULL));
    sqlite3_stmt *st;
    int src = earshot__store_prep(s, &st, "DELETE FROM outbox WHERE id = ?1 AND session_id IS NOT NULL");
    if (src == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, id);
        src = sqlite3_step(st);
        src = src == SQLITE_DONE ? SQLITE_OK : src;
    }
    sqlite3_finalize(st);
    if (src == SQLITE_OK &&
        (src = earshot__store_prep(s, &st, "UPDATE outbox SET sent_at = ?2 WHERE id = ?1 AND "
                                           "sent_at IS NULL")) == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_text(st, 2, at, -1, SQLITE_STATIC);
        src = sqlite3_step(st);
        src = src == SQLITE_DONE ? SQLITE_OK : src;
    }
    sqlite3_finalize(st);
    return src == SQLITE_OK ? EARSHOT_OK : earshot__store_db_fail(s, src, "cannot mark an event sent");
}

int64_t earshot_outbox_count(earshot_store *s, const char *topic, int unsent_only)
{
    if (!s || !s->db)
        return -1;
    sqlite3_stmt *st;
    int64_t n = -1;
    if (earshot__store_prep(s, &st, "SELECT count(*) FROM outbox WHERE (?1 IS NULL OR topic = ?1) "
                                    "AND (?2 = 0 OR sent_at IS NULL)") == SQLITE_OK) {
        sqlite3_bind_text(st, 1, topic, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 2, unsent_only);
        if (sqlite3_step(st) == SQLITE_ROW)
            n = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    return n;
}

int64_t earshot_outbox_dropped(earshot_store *s)
{
    if (!s || !s->db)
        return -1;
    sqlite3_stmt *st;
    int64_t n = 0;
    if (earshot__store_prep(s, &st, "SELECT CAST(value AS INTEGER) FROM meta WHERE key = "
                                    "'outbox_dropped'") == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}
