/* common.h - what the earshot commands share: GNU-style messages, option
 * parsing (getopt_long with the house messages), option values, and the
 * JSON output (jansson; every string made valid UTF-8 first). Internal to
 * the command, never installed. */
#ifndef EARSHOT_CLI_COMMON_H
#define EARSHOT_CLI_COMMON_H

#include "earshot.h"

#include <getopt.h>
#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

/* "earshot: " + the message + newline on stderr. */
void earshot__cli_errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The usage error: "earshot: MESSAGE" and "Try 'earshot CMD--help'." on
 * stderr; returns 2, the exit status for usage. cmd is "" or "NAME ". */
int earshot__cli_usage_error(const char *cmd, const char *fmt, const char *arg);

/* getopt_long with the house messages: returns the next option's val, -1
 * when the options end (optind is then the first operand; "--" ends the
 * options), or 0 after printing a usage error for an unknown option, a
 * missing value or a value given to an option that takes none (the caller
 * returns 2). Long-only options use vals >= 256. Options may follow the
 * operands (GNU order). shortopts lists the short options ("h"). */
int earshot__cli_getopt(int argc, char **argv, const char *shortopts,
                        const struct option *longopts, const char *cmd);

/* Option values. */
int earshot__cli_parse_frontend(const char *v);    /* EARSHOT_FRONTEND_*, or -1 */
int earshot__cli_parse_model_vocab(const char *v); /* 0 full, N > 0, or -1 */
long long earshot__cli_parse_count(const char *v); /* a positive integer, or -1 */
double earshot__cli_parse_seconds(const char *v);  /* a positive number, or -1 */

/* A library log line on stderr (warnings and errors only). */
void earshot__cli_log_to_stderr(int level, const char *msg, void *user);

/* --- JSON ---------------------------------------------------------- */

/* s with every byte that is not part of valid UTF-8 (RFC 3629: no
 * overlong forms, surrogates or code points above U+10FFFF) replaced by
 * U+FFFD; malloc'ed, NULL when out of memory. jansson refuses invalid
 * UTF-8, and a filename or a line of text may hold any bytes. */
char *earshot__cli_utf8_valid(const char *s, size_t len);

/* A JSON string of s made valid UTF-8; JSON null for NULL. */
json_t *earshot__cli_jstr(const char *s);
/* A JSON number rounded to `decimals` places (the precision the text
 * output shows); null when v is not finite (JSON has no NaN). */
json_t *earshot__cli_jnum(double v, int decimals);
/* A JSON array of strings. */
json_t *earshot__cli_jnames(const char *const *names, size_t n);

/* Writes o as one compact line on stdout and releases it; 0, or -1 when
 * it could not be written (out of memory). */
int earshot__cli_json_print(json_t *o);

/* Adds the analysis fields to obj: intent, CONF_KEY (the intent's
 * confidence: "intent_confidence" for utterances, "confidence" for
 * analyze), slots, sentiment, sentiment_score, topics, signals, and the
 * voice2json/Rhasspy-shaped object "voice2json" {text, intent {name,
 * confidence}, entities [{entity, value, raw_value, start, end}]} for the
 * text shown (README "JSON output"). */
void earshot__cli_json_analysis(json_t *obj, const earshot_analysis *a, const char *text,
                                const char *conf_key);

/* The analysis as the text output shows it: " [intent 0.93 score=8 ...]". */
void earshot__cli_text_analysis(FILE *f, const earshot_analysis *a);

/* --- utterances, shared by transcribe and listen ------------------- */

/* What an output shows of an utterance: the redacted text whenever it is
 * stored (or listened to), so that stdout, --json and a journal never hold
 * what the database does not. Without rules to redact by, nothing. */
const char *earshot__cli_shown_text(const earshot_utterance *u, int redacted);
/* An earshot_heard outcome for people ("consent given") and for the JSON
 * "storage" field ("consented"). */
const char *earshot__cli_heard_name(earshot_heard h);
const char *earshot__cli_heard_json(earshot_heard h);

#endif
