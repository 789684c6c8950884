/* common.c - the messages, option parsing and JSON output every earshot
 * command shares (common.h). */
#include "common.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void earshot__cli_errorf(const char *fmt, ...)
{
    va_list ap;
    fputs("earshot: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

int earshot__cli_usage_error(const char *cmd, const char *fmt, const char *arg)
{
    fputs("earshot: ", stderr);
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nTry 'earshot %s--help'.\n", cmd);
    return 2;
}

int earshot__cli_getopt(int argc, char **argv, const char *shortopts,
                        const struct option *longopts, const char *cmd)
{
    /* ':' first: a missing value is told apart from an unknown option;
     * the messages are ours, not getopt's. */
    char opts[64];
    snprintf(opts, sizeof opts, ":%s", shortopts);
    opterr = 0;
    int c = getopt_long(argc, argv, opts, longopts, NULL);
    if (c != '?' && c != ':')
        return c;
    /* The option as the user typed it, without any "=value". */
    char name[128];
    const char *typed = optind > 0 && optind <= argc ? argv[optind - 1] : "";
    if (optopt > 0 && optopt < 256 && typed[0] == '-' && typed[1] != '-')
        snprintf(name, sizeof name, "-%c", optopt);
    else
        snprintf(name, sizeof name, "%.*s", (int)strcspn(typed, "="), typed);
    if (c == ':')
        return earshot__cli_usage_error(cmd, "option '%s' needs a value", name), 0;
    if (optopt >= 256 && strchr(typed, '='))
        return earshot__cli_usage_error(cmd, "option '%s' takes no value", name), 0;
    return earshot__cli_usage_error(cmd, "unknown option '%s'", name), 0;
}

int earshot__cli_parse_frontend(const char *v)
{
    return !strcmp(v, "off")   ? EARSHOT_FRONTEND_OFF
           : !strcmp(v, "on")  ? EARSHOT_FRONTEND_DENOISE
           : !strcmp(v, "agc") ? EARSHOT_FRONTEND_DENOISE_AGC
                               : -1;
}

int earshot__cli_parse_model_vocab(const char *v)
{
    if (!strcmp(v, "full"))
        return EARSHOT_MODEL_VOCAB_FULL;
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    return errno || end == v || *end || n < 1 || n > 10000000 ? -1 : (int)n;
}

long long earshot__cli_parse_count(const char *v)
{
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    return errno || end == v || *end || n <= 0 ? -1 : n;
}

double earshot__cli_parse_seconds(const char *v)
{
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    return errno || end == v || *end || !(d > 0) || d > 1e7 ? -1 : d;
}

void earshot__cli_log_to_stderr(int level, const char *msg, void *user)
{
    (void)user;
    if (level <= EARSHOT_LOG_WARN)
        earshot__cli_errorf("%s", msg);
}

/* ------------------------------------------------------------------ */
/* JSON                                                                */
/* ------------------------------------------------------------------ */

/* The length of the valid UTF-8 sequence at p (n bytes left), or 0. */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
    if (p[0] < 0x80)
        return 1;
    size_t len;
    unsigned cp;
    if (p[0] >= 0xc2 && p[0] <= 0xdf)
        len = 2, cp = p[0] & 0x1f;
    else if (p[0] >= 0xe0 && p[0] <= 0xef)
        len = 3, cp = p[0] & 0x0f;
    else if (p[0] >= 0xf0 && p[0] <= 0xf4)
        len = 4, cp = p[0] & 0x07;
    else
        return 0; /* a continuation byte, an overlong lead (c0, c1) or f5..ff */
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (p[i] & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

char *earshot__cli_utf8_valid(const char *s, size_t len)
{
    /* At worst every byte becomes the 3 bytes of U+FFFD. */
    char *out = malloc(len * 3 + 1), *o = out;
    if (!out)
        return NULL;
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < len;) {
        size_t k = utf8_seq(p + i, len - i);
        if (k == 0 || p[i] == 0) {
            memcpy(o, "\xef\xbf\xbd", 3);
            o += 3;
            i++;
        } else {
            memcpy(o, p + i, k);
            o += k;
            i += k;
        }
    }
    *o = '\0';
    return out;
}

json_t *earshot__cli_jstr(const char *s)
{
    if (!s)
        return json_null();
    char *v = earshot__cli_utf8_valid(s, strlen(s));
    json_t *j = v ? json_string(v) : NULL;
    free(v);
    return j;
}

json_t *earshot__cli_jnum(double v, int decimals)
{
    if (!isfinite(v))
        return json_null();
    double scale = pow(10.0, decimals);
    return json_real(round(v * scale) / scale);
}

json_t *earshot__cli_jnames(const char *const *names, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(a, earshot__cli_jstr(names[i]));
    return a;
}

int earshot__cli_json_print(json_t *o)
{
    /* 15 significant digits print a rounded value as its decimal form
     * (0.21, not 0.20999999999999999). */
    char *s = o ? json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(15)) : NULL;
    json_decref(o);
    if (!s) {
        earshot__cli_errorf("out of memory writing JSON");
        return -1;
    }
    fputs(s, stdout);
    fputc('\n', stdout);
    free(s);
    return 0;
}

/* Code points before byte offset off of valid UTF-8 text: voice2json's
 * start and end count characters, as Python indexes a str. */
static json_int_t char_offset(const char *text, size_t off)
{
    json_int_t n = 0;
    for (size_t i = 0; i < off; i++)
        n += ((unsigned char)text[i] & 0xc0) != 0x80;
    return n;
}

/* The byte offset of the first whole-word, case-insensitive occurrence of
 * word in text, or -1. */
static long find_word(const char *text, const char *word)
{
    size_t n = strlen(word);
    if (!n)
        return -1;
    for (const char *p = text; *p; p++) {
        if (strncasecmp(p, word, n))
            continue;
        int before = p == text || !isalnum((unsigned char)p[-1]);
        int after = !isalnum((unsigned char)p[n]);
        if (before && after)
            return (long)(p - text);
    }
    return -1;
}

/* One entity; start and end (in characters) only when raw_value was found
 * in the text. */
static json_t *entity(const char *text, const char *name, json_t *value, const char *raw,
                      long at)
{
    json_t *e = json_object();
    json_object_set_new(e, "entity", json_string(name));
    json_object_set_new(e, "value", value);
    json_object_set_new(e, "raw_value", earshot__cli_jstr(raw));
    if (at >= 0) {
        json_object_set_new(e, "start", json_integer(char_offset(text, (size_t)at)));
        json_object_set_new(e, "end", json_integer(char_offset(text, (size_t)at + strlen(raw))));
    }
    return e;
}

/* The rating and the topics as voice2json entities, found in text (valid
 * UTF-8) where their words are. */
static json_t *entities(const earshot_analysis *a, const char *text)
{
    static const char *const numbers[] = {"zero", "one", "two",   "three", "four", "five",
                                          "six",  "seven", "eight", "nine",  "ten"};
    json_t *list = json_array();
    if (a->score >= 0 && a->score <= 10) {
        char digits[4];
        snprintf(digits, sizeof digits, "%d", a->score);
        long at = find_word(text, numbers[a->score]);
        const char *raw = numbers[a->score];
        if (at < 0 && (at = find_word(text, digits)) >= 0)
            raw = digits;
        /* Not found (said another way, or redacted): the spoken form. */
        char found[16];
        snprintf(found, sizeof found, "%.*s", (int)strlen(raw), at >= 0 ? text + at : raw);
        json_array_append_new(list, entity(text, "score", json_integer(a->score), found, at));
    }
    for (size_t i = 0; i < a->n_topics; i++) {
        /* A topic's name, read as words ("wait_time": "wait time"). */
        char words[128];
        snprintf(words, sizeof words, "%s", a->topics[i]);
        for (char *p = words; *p; p++)
            if (*p == '_')
                *p = ' ';
        long at = find_word(text, words);
        char raw[128];
        snprintf(raw, sizeof raw, "%.*s", (int)strlen(words), at >= 0 ? text + at : a->topics[i]);
        json_array_append_new(list, entity(text, "topic", earshot__cli_jstr(a->topics[i]),
                                           at >= 0 ? raw : a->topics[i], at));
    }
    return list;
}

void earshot__cli_json_analysis(json_t *obj, const earshot_analysis *a, const char *text,
                                const char *conf_key)
{
    json_object_set_new(obj, "intent", earshot__cli_jstr(a->intent));
    json_object_set_new(obj, conf_key, earshot__cli_jnum(a->confidence, 3));
    json_t *slots = json_object();
    if (a->score >= 0)
        json_object_set_new(slots, "score", json_integer(a->score));
    json_object_set_new(obj, "slots", slots);
    json_object_set_new(obj, "sentiment", earshot__cli_jstr(a->sentiment));
    json_object_set_new(obj, "sentiment_score", earshot__cli_jnum(a->sentiment_score, 3));
    json_object_set_new(obj, "topics", earshot__cli_jnames(a->topics, a->n_topics));
    json_object_set_new(obj, "signals", earshot__cli_jnames(a->signals, a->n_signals));

    /* The shape voice2json's recognize-intent and Rhasspy's text-to-intent
     * print, under its own key: "intent" above stays the string it has
     * been (README). Nothing recognised is the empty name, as there. */
    char *t = earshot__cli_utf8_valid(text ? text : "", text ? strlen(text) : 0);
    if (!t)
        return;
    json_t *v = json_object(), *intent = json_object();
    json_object_set_new(v, "text", json_string(t));
    json_object_set_new(intent, "name",
                        json_string(a->intent && strcmp(a->intent, "other") ? a->intent : ""));
    json_object_set_new(intent, "confidence", earshot__cli_jnum(a->confidence, 3));
    json_object_set_new(v, "intent", intent);
    json_object_set_new(v, "entities", entities(a, t));
    json_object_set_new(obj, "voice2json", v);
    free(t);
}

void earshot__cli_text_analysis(FILE *f, const earshot_analysis *a)
{
    fprintf(f, " [%s %.2f", a->intent, a->confidence);
    if (a->score >= 0)
        fprintf(f, " score=%d", a->score);
    fprintf(f, " %s", a->sentiment);
    for (size_t i = 0; i < a->n_topics; i++)
        fprintf(f, "%s%s", i ? "," : " ", a->topics[i]);
    for (size_t i = 0; i < a->n_signals; i++)
        fprintf(f, " !%s", a->signals[i]);
    fputc(']', f);
}

/* ------------------------------------------------------------------ */
/* utterances                                                          */
/* ------------------------------------------------------------------ */

const char *earshot__cli_shown_text(const earshot_utterance *u, int redacted)
{
    if (!redacted)
        return u->text;
    return u->text_redacted ? u->text_redacted : "[NOT SHOWN]";
}

static const char *const heard_names[] = {
    [EARSHOT_HEARD_DROPPED] = "not kept",     [EARSHOT_HEARD_STORED] = "stored",
    [EARSHOT_HEARD_QUEUED] = "queued",        [EARSHOT_HEARD_CONSENTED] = "consent given",
    [EARSHOT_HEARD_DECLINED] = "consent refused", [EARSHOT_HEARD_FORGOTTEN] = "session erased",
    [EARSHOT_HEARD_REVIEW] = "not sure enough to erase: marked for review",
};

static const char *const heard_json[] = {
    [EARSHOT_HEARD_DROPPED] = "dropped",     [EARSHOT_HEARD_STORED] = "stored",
    [EARSHOT_HEARD_QUEUED] = "queued",       [EARSHOT_HEARD_CONSENTED] = "consented",
    [EARSHOT_HEARD_DECLINED] = "declined",   [EARSHOT_HEARD_FORGOTTEN] = "forgotten",
    [EARSHOT_HEARD_REVIEW] = "review",
};

const char *earshot__cli_heard_name(earshot_heard h)
{
    return (unsigned)h < sizeof heard_names / sizeof *heard_names ? heard_names[h] : "unknown";
}

const char *earshot__cli_heard_json(earshot_heard h)
{
    return (unsigned)h < sizeof heard_json / sizeof *heard_json ? heard_json[h] : "unknown";
}
