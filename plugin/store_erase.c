/* store_erase.c - erasure for real: forget (by session, channel, date or
 * everything), revocation, retention, the checkpoints that copy zeroed
 * pages home (with their bounded retries and the pending-erasure record a
 * blocking reader leaves), and requests to review an erasure heard too
 * unsurely to carry out. The other half of store.c (see its top comment
 * for what the store promises); both share store_internal.h. */
#include "earshot.h"
#include "store.h"
#include "store_internal.h"

#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Queued rows of erased sessions must go too: "forget" covers what is
 * still in memory. */
static void drop_queued(earshot_store *s, const earshot_forget_what *w)
{
    size_t k = 0;
    for (size_t i = 0; i < s->n_queue; i++) {
        pending *p = &s->queue[i];
        int gone, src;
        if (w->all)
            gone = 1;
        else if (w->before)
            gone = strcmp(p->heard_at, w->before) < 0;
        else if (w->channel)
            gone = earshot__store_scalar(s, "SELECT count(*) FROM sessions WHERE id = ?1", p->session, &src) == 0;
        else
            gone = p->session == w->session;
        if (gone) {
            earshot__remove_audio(p->audio);
            earshot__pending_free(p);
        } else {
            s->queue[k++] = *p;
        }
    }
    s->n_queue = k;
}

/* Statements of an erasure select sessions with "WHERE ..." over ?1 (an
 * id) and ?2 (a channel), whichever the selection uses. */
static void bind_where(sqlite3_stmt *st, int64_t arg, const char *text)
{
    sqlite3_bind_int64(st, 1, arg);
    if (text)
        sqlite3_bind_text(st, 2, text, -1, SQLITE_TRANSIENT);
}

/* Runs sql once; a first column of a first row goes to *v. */
static int step_where(earshot_store *s, const char *sql, int64_t arg, const char *text,
                      int64_t *v)
{
    sqlite3_stmt *st;
    int src = earshot__store_prep(s, &st, sql);
    if (src != SQLITE_OK)
        return src;
    bind_where(st, arg, text);
    src = sqlite3_step(st);
    if (src == SQLITE_ROW && v)
        *v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return src == SQLITE_ROW || src == SQLITE_DONE ? SQLITE_OK : src;
}

/* Deletes files named by a query's first column (audio beside the DB). */
static void unlink_audio(earshot_store *s, const char *sql, int64_t arg, const char *text)
{
    sqlite3_stmt *st;
    if (earshot__store_prep(s, &st, sql) != SQLITE_OK)
        return;
    bind_where(st, arg, text);
    while (sqlite3_step(st) == SQLITE_ROW)
        earshot__remove_audio((const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
}

void earshot__store_audit(earshot_store *s, const char *event, const char *what, int64_t sessions,
                  int64_t utterances)
{
    char at[32];
    earshot__now_iso(at, sizeof at, time(NULL));
    sqlite3_stmt *st;
    if (earshot__store_prep(s, &st, "INSERT INTO audit (at, event, what, sessions, utterances) "
                     "VALUES (?1, ?2, ?3, ?4, ?5)") != SQLITE_OK)
        return;
    sqlite3_bind_text(st, 1, at, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, event, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, what, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, sessions);
    sqlite3_bind_int64(st, 5, utterances);
    sqlite3_step(st);
    sqlite3_finalize(st);
}

/* One TRUNCATE checkpoint, then (should a reader hold an old snapshot)
 * RESTART and TRUNCATE again: each waits through the busy handler
 * (busy_timeout_ms) for readers to move to the newest snapshot, so the
 * whole wait is bounded by three timeouts. SQLITE_OK means every frame is
 * in the main file and the -wal file is empty. */
static int checkpoint_all(earshot_store *s)
{
    static const int modes[] = {SQLITE_CHECKPOINT_TRUNCATE, SQLITE_CHECKPOINT_RESTART,
                                SQLITE_CHECKPOINT_TRUNCATE};
    int src = SQLITE_OK;
    for (size_t i = 0; i < sizeof modes / sizeof *modes; i++) {
        int log = 0, done = 0;
        src = sqlite3_wal_checkpoint_v2(s->db, NULL, modes[i], &log, &done);
        if (src == SQLITE_OK && modes[i] == SQLITE_CHECKPOINT_TRUNCATE)
            return SQLITE_OK;
    }
    return src;
}

/* Pending erasures are done once everything is in the main file: their
 * records go, and that deletion is checkpointed too. */
int earshot__store_finish_pending(earshot_store *s)
{
    if (checkpoint_all(s) != SQLITE_OK)
        return 0;
    if (s->version >= 6)
        earshot__store_exec(s, "DELETE FROM pending_erasures");
    checkpoint_all(s);
    s->pending_erasure = 0;
    return 1;
}

/* After an erasure the deleted text may still sit in WAL frames, and the
 * main file still holds the old pages until a checkpoint copies the
 * zeroed ones (secure_delete) home. A reader holding an old snapshot
 * blocks that copy: it is waited for (bounded); if it still holds on, a
 * pending-erasure record is left and EARSHOT_PENDING returned: the rows
 * are gone for every reader, but the bytes are not yet gone from the
 * file. The next open (or close) finishes it. */
static int scrub(earshot_store *s, const char *what, int64_t ns, int64_t nu)
{
    int src = checkpoint_all(s);
    if (src == SQLITE_OK)
        return s->pending_erasure ? (earshot__store_finish_pending(s), EARSHOT_OK) : EARSHOT_OK;
    s->pending_erasure = 1;
    char at[32];
    earshot__now_iso(at, sizeof at, time(NULL));
    sqlite3_stmt *st;
    int wsrc = earshot__store_prep(s, &st, "INSERT INTO pending_erasures (at, what, sessions, utterances) "
                            "VALUES (?1, ?2, ?3, ?4)");
    if (wsrc == SQLITE_OK) {
        sqlite3_bind_text(st, 1, at, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, what, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, ns);
        sqlite3_bind_int64(st, 4, nu);
        wsrc = sqlite3_step(st);
        wsrc = wsrc == SQLITE_DONE ? SQLITE_OK : wsrc;
    }
    sqlite3_finalize(st);
    return earshot__store_fail(s, EARSHOT_PENDING,
                "%s: erased from the database, but another connection is still reading an "
                "older snapshot, so the erased text stays in the file until it lets go "
                "(waited %d ms x3); %s", s->path, s->cfg.busy_timeout_ms,
                wsrc == SQLITE_OK ? "a pending erasure is recorded and the next open (or "
                                    "this handle's close) completes it"
                                  : "the pending-erasure record could not be written either: "
                                    "this handle's close retries");
}

int earshot_consent_revoke(earshot_store *s, int64_t session, int64_t *n_erased)
{
    if (!s || !s->db)
        return EARSHOT_MISUSE;
    int src;
    if ((src = earshot__store_exec(s, "BEGIN IMMEDIATE")) != SQLITE_OK)
        return earshot__store_db_fail(s, src, "cannot revoke consent");
    int64_t n = earshot__store_scalar(s, "SELECT count(*) FROM utterances WHERE consent_id IN "
                          "(SELECT id FROM consents WHERE session_id = ?1 AND revoked_at IS NULL)",
                       session, &src);
    char at[32];
    earshot__now_iso(at, sizeof at, time(NULL));
    sqlite3_stmt *st = NULL;
    if (src == SQLITE_OK)
        src = earshot__store_prep(s, &st, "DELETE FROM utterances WHERE consent_id IN (SELECT id FROM consents"
                           " WHERE session_id = ?1 AND revoked_at IS NULL) RETURNING audio");
    if (src == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, session);
        while ((src = sqlite3_step(st)) == SQLITE_ROW)
            earshot__remove_audio((const char *)sqlite3_column_text(st, 0));
        src = src == SQLITE_DONE ? SQLITE_OK : src;
    }
    sqlite3_finalize(st);
    if (src == SQLITE_OK)
        src = earshot__store_prep(s, &st, "UPDATE consents SET revoked_at = ?2 WHERE session_id = ?1 "
                           "AND revoked_at IS NULL");
    if (src == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, session);
        sqlite3_bind_text(st, 2, at, -1, SQLITE_TRANSIENT);
        src = sqlite3_step(st);
        src = src == SQLITE_DONE ? SQLITE_OK : src;
        sqlite3_finalize(st);
    }
    if (src == SQLITE_OK) {
        earshot__store_audit(s, "revoke", "session", 1, n);
        src = earshot__store_exec(s, "COMMIT");
    }
    if (src != SQLITE_OK) {
        int rc = earshot__store_db_fail(s, src, "cannot revoke consent");
        earshot__store_exec(s, "ROLLBACK");
        return rc;
    }
    drop_queued(s, &(earshot_forget_what){.session = session});
    if (n_erased)
        *n_erased = n;
    return scrub(s, "revoke", 1, n);
}


int earshot__store_record_review(earshot_store *s, int64_t session, const earshot_utterance *u)
{
    char at[32];
    earshot__now_iso(at, sizeof at, time(NULL));
    sqlite3_stmt *st;
    int src = earshot__store_prep(s, &st, "INSERT INTO reviews (session_id, at, intent, confidence, "
                           "word_confidence) VALUES (?1, ?2, ?3, ?4, ?5)");
    if (src != SQLITE_OK)
        return earshot__store_db_fail(s, src, "cannot record a request to review");
    sqlite3_bind_int64(st, 1, session);
    sqlite3_bind_text(st, 2, at, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, u->analysis->intent, -1, SQLITE_TRANSIENT);
    sqlite3_bind_double(st, 4, u->analysis->confidence);
    sqlite3_bind_double(st, 5, u->n_words || u->confidence > 0 ? u->confidence : 1.0);
    src = sqlite3_step(st);
    sqlite3_finalize(st);
    if (src != SQLITE_DONE)
        return earshot__store_db_fail(s, src, "cannot record a request to review");
    earshot__store_say(s, EARSHOT_LOG_WARN, "session %lld: %s heard at confidence %.2f: not erased, marked for "
                             "review", (long long)session, u->analysis->intent,
        u->analysis->confidence);
    return EARSHOT_OK;
}

int earshot_store_review(earshot_store *s, int64_t session, const earshot_utterance *u)
{
    if (!s || !s->db || !u || !u->analysis || !u->analysis->intent)
        return EARSHOT_MISUSE;
    return earshot__store_record_review(s, session, u);
}


/* Erasure. Counts are taken inside the transaction, audio files are
 * removed as their rows go, and the audit row records counts only. */
int earshot__store_forget_as(earshot_store *s, const earshot_forget_what *w, const char *how,
                     int64_t *n_sessions, int64_t *n_utterances)
{
    const char *where; /* selects sessions */
    const char *what;
    int64_t arg = 0;
    const char *text = NULL;
    if (w->all) {
        where = "?1 = ?1";
        what = "all";
    } else if (w->channel) {
        where = "channel = ?2 AND ?1 = ?1";
        text = w->channel;
        what = "channel";
    } else if (w->before) {
        where = NULL;
        text = w->before;
        what = "before";
    } else {
        where = "id = ?1";
        arg = w->session;
        what = "session";
    }
    if (how)
        what = how;
    int src = earshot__store_exec(s, "BEGIN IMMEDIATE");
    if (src != SQLITE_OK)
        return earshot__store_db_fail(s, src, "cannot erase");
    char sql[512];
    int64_t ns = 0, nu = 0;
    if (where) {
        snprintf(sql, sizeof sql, "SELECT count(*) FROM sessions WHERE %s", where);
        src = step_where(s, sql, arg, text, &ns);
        snprintf(sql, sizeof sql, "SELECT count(*) FROM utterances WHERE session_id IN "
                                  "(SELECT id FROM sessions WHERE %s)", where);
        if (src == SQLITE_OK)
            src = step_where(s, sql, arg, text, &nu);
        snprintf(sql, sizeof sql, "SELECT audio FROM utterances WHERE audio IS NOT NULL AND "
                                  "session_id IN (SELECT id FROM sessions WHERE %s)", where);
        if (src == SQLITE_OK)
            unlink_audio(s, sql, arg, text);
        /* ON DELETE CASCADE takes the consents and utterances along. */
        snprintf(sql, sizeof sql, "DELETE FROM sessions WHERE %s", where);
        if (src == SQLITE_OK)
            src = step_where(s, sql, arg, text, NULL);
    } else {
        /* --before DATE: utterances heard before it, then the sessions
         * that began before it and hold nothing any more. */
        sqlite3_stmt *st;
        if ((src = earshot__store_prep(s, &st, "DELETE FROM utterances WHERE heard_at < ?1 RETURNING audio")) ==
            SQLITE_OK) {
            sqlite3_bind_text(st, 1, text, -1, SQLITE_TRANSIENT);
            while ((src = sqlite3_step(st)) == SQLITE_ROW) {
                earshot__remove_audio((const char *)sqlite3_column_text(st, 0));
                nu++;
            }
            src = src == SQLITE_DONE ? SQLITE_OK : src;
            sqlite3_finalize(st);
        }
        if (src == SQLITE_OK &&
            (src = earshot__store_prep(s, &st, "DELETE FROM sessions WHERE started_at < ?1 AND id NOT IN "
                                "(SELECT session_id FROM utterances)")) == SQLITE_OK) {
            sqlite3_bind_text(st, 1, text, -1, SQLITE_TRANSIENT);
            src = sqlite3_step(st);
            src = src == SQLITE_DONE ? SQLITE_OK : src;
            ns = sqlite3_changes(s->db);
            sqlite3_finalize(st);
        }
    }
    if (src == SQLITE_OK) {
        earshot__store_audit(s, !strcmp(what, "retention") ? "retention" : "forget", what, ns, nu);
        src = earshot__store_exec(s, "COMMIT");
    }
    if (src != SQLITE_OK) {
        int rc = earshot__store_db_fail(s, src, "cannot erase");
        earshot__store_exec(s, "ROLLBACK");
        return rc;
    }
    /* What waits in memory goes too. */
    drop_queued(s, w);
    if (n_sessions)
        *n_sessions = ns;
    if (n_utterances)
        *n_utterances = nu;
    return scrub(s, what, ns, nu);
}

/* YYYY-MM-DD, optionally followed by THH:MM:SSZ. */
static int valid_date(const char *d)
{
    int y, m, day;
    char rest[32] = "";
    if (strlen(d) > 20 || sscanf(d, "%4d-%2d-%2d%20s", &y, &m, &day, rest) < 3)
        return 0;
    if (strlen(d) < 10 || d[4] != '-' || d[7] != '-' || m < 1 || m > 12 || day < 1 || day > 31)
        return 0;
    return !rest[0] || (strlen(d) == 20 && d[10] == 'T' && d[19] == 'Z');
}

int earshot_forget(earshot_store *s, const earshot_forget_what *w, int64_t *n_sessions,
                   int64_t *n_utterances)
{
    if (!s || !s->db || !w)
        return EARSHOT_MISUSE;
    int given = (w->session > 0) + !!w->channel + !!w->before + !!w->all;
    if (given != 1)
        return earshot__store_fail(s, EARSHOT_MISUSE, "forget: give exactly one of session, channel, "
                                       "before or all");
    if (w->before && !valid_date(w->before))
        return earshot__store_fail(s, EARSHOT_MISUSE, "forget: '%s' is not a date (YYYY-MM-DD)", w->before);
    return earshot__store_forget_as(s, w, NULL, n_sessions, n_utterances);
}

int earshot_store_purge(earshot_store *s, int days, int64_t *n_utterances)
{
    if (!s || !s->db || days <= 0)
        return EARSHOT_MISUSE;
    char cutoff[32];
    earshot__now_iso(cutoff, sizeof cutoff, time(NULL) - (time_t)days * 86400);
    earshot_forget_what w = {.before = cutoff};
    int64_t ns = 0, nu = 0;
    int rc = earshot__store_forget_as(s, &w, "retention", &ns, &nu);
    if (rc == EARSHOT_OK && nu + ns > 0)
        earshot__store_say(s, EARSHOT_LOG_INFO, "retention: erased %" PRId64 " utterances older than %d days",
            nu, days);
    if (n_utterances)
        *n_utterances = nu;
    return rc;
}

