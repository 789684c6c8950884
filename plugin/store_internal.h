/* store_internal.h - what store.c and store_erase.c share: the handle,
 * the queue's row, and the helpers both halves use. Internal to the store:
 * nothing else includes it (the report module reads through store.h). */
#ifndef EARSHOT_STORE_INTERNAL_H
#define EARSHOT_STORE_INTERNAL_H

#include "earshot.h"
#include "redact.h"

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* A redacted row waiting for the database. */
typedef struct pending {
    int64_t session, consent;
    char heard_at[32];
    double start, end;
    char *text, *intent, *slots, *sentiment, *topics, *signals, *model, *grammar, *audio;
    const char *quality; /* static: earshot_quality_name() */
    double confidence, sentiment_score;
    int has_analysis;
} pending;

struct earshot_store {
    earshot_store_config cfg;
    char *path, *audio_dir, *consent_version;
    sqlite3 *db;
    sqlite3_stmt *insert; /* the one hot statement, prepared once */
    earshot__redactor *redactor;
    /* A number read out across utterances (earshot__redact_next()): what
     * the last stored utterance left open, its session and end. */
    int redact_open;
    int64_t redact_session;
    double redact_end;
    pending *queue;
    size_t n_queue, queue_cap;
    size_t lost; /* utterances refused because the queue was full */
    time_t last_purge; /* retention runs at open and then hourly */
    int64_t version;   /* schema version found at open (read-only handles) */
    int pending_erasure; /* an erasure not yet checkpointed into the main file */
    char id[40];       /* meta.id, "" before schema 3 */
    char errmsg[1024];
};

/* store.c: messages, SQLite helpers, the queue's rows. */
int earshot__store_fail(earshot_store *s, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void earshot__store_say(earshot_store *s, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int earshot__store_db_fail(earshot_store *s, int src, const char *what);
void earshot__now_iso(char *buf, size_t len, time_t t);
int earshot__store_exec(earshot_store *s, const char *sql);
int earshot__store_prep(earshot_store *s, sqlite3_stmt **st, const char *sql);
int64_t earshot__store_scalar(earshot_store *s, const char *sql, int64_t arg, int *src_out);
void earshot__pending_free(pending *p);
void earshot__remove_audio(const char *path);

/* store_erase.c: erasure, reviews and retention. */
void earshot__store_audit(earshot_store *s, const char *event, const char *what,
                          int64_t sessions, int64_t utterances);
int earshot__store_finish_pending(earshot_store *s);
int earshot__store_forget_as(earshot_store *s, const earshot_forget_what *w, const char *how,
                             int64_t *n_sessions, int64_t *n_utterances);
int earshot__store_record_review(earshot_store *s, int64_t session,
                                 const earshot_utterance *u);

#endif
