/* store.h - what the report module reads from the database, through
 * store.c (the only module that talks to SQLite). Internal. */
#ifndef EARSHOT_STORE_H
#define EARSHOT_STORE_H

#include "earshot.h"

#include <stdint.h>

/* A session as the report sees it. The id is for counting distinct
 * sessions only: it never leaves the report module. */
typedef struct earshot__scan_session {
    int64_t id;
    const char *channel;
    const char *started_at; /* ISO 8601 UTC, "YYYY-MM-DDTHH:MM:SSZ" */
    int consented;          /* an active consent with the transcripts scope */
} earshot__scan_session;

/* A stored utterance as the report sees it: redacted text and analysis. */
typedef struct earshot__scan_utterance {
    int64_t session;
    const char *channel;
    const char *heard_at; /* ISO 8601 UTC */
    const char *text;     /* redacted when it was written */
    const char *intent;   /* "" when stored without analysis */
    const char *sentiment;
    const char *topics, *signals; /* comma-joined names, "" for none */
    int score;            /* the rating slot, or -1 */
    double confidence;
    int quotable;         /* its consent has the quotes scope */
    const char *quality;  /* earshot_quality_name(); "ok" before schema 4 */
} earshot__scan_utterance;

typedef struct earshot__scan {
    const char *from, *to; /* ISO UTC bounds, from <= t < to; NULL: open */
    const char *channel;   /* NULL: every channel */
    int (*on_session)(const earshot__scan_session *s, void *user);
    int (*on_utterance)(const earshot__scan_utterance *u, void *user);
    void *user;
} earshot__scan;

/* Calls on_session for every session that started within the bounds,
 * then on_utterance for every utterance heard within them, ordered by
 * session (so that a caller can count distinct sessions by remembering
 * the last one). Both passes read one snapshot. Non-zero from a callback
 * stops with EARSHOT_STOPPED. */
int earshot__store_scan(earshot_store *s, const earshot__scan *scan);

/* Whether a session of channel name exists: 1 or 0 (-1 on a read
 * error); list gets the channels there are, comma-separated, cut to size. */
int earshot__store_channels(earshot_store *s, const char *name, char *list, size_t size);

/* The database's random identity (schema 3), or "" for an older file. */
const char *earshot__store_id(earshot_store *s);

/* Redacts text with the store's rules; malloc'd, NULL when out of memory.
 * Reports redact quotes again, so a rule added since they were stored
 * still applies. */
char *earshot__store_redact(earshot_store *s, const char *text);
/* The same, with the EARSHOT__PII_* bits of the tags used in *found
 * (found may be NULL). */
char *earshot__store_redact_found(earshot_store *s, const char *text, unsigned *found);

/* The privacy-budget ledger (schema 7). In one write transaction: for
 * each of the n periods ("YYYY-MM"), the epsilon spent so far plus
 * epsilon must not exceed budget; if one would, nothing is recorded and
 * EARSHOT_BUDGET is returned, the store's message naming the period and
 * what it has left. Otherwise one row per period is recorded. A store
 * opened read-only cannot keep a ledger: EARSHOT_MISUSE. */
int earshot__store_budget_spend(earshot_store *s, const char *const *periods, size_t n,
                                double epsilon, double budget, const char *what);

#endif
