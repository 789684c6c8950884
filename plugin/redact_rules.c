/* redact_rules.c - reads grammars/<lang>/redact.rules (format in
 * grammars/README.md, "Redaction rules") and the names files it refers to
 * into the lexicon of redact_rules.h: each word with its flags and value,
 * and the list of cue phrases. Every problem is reported as
 * "FILE:LINE:COL: what is wrong"; earshot__redactor_open() stops at the
 * first, earshot__redact_check() lists them all. */
#include "array.h"
#include "earshot.h"
#include "hash.h"
#include "redact_rules.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Declared in redact_rules.h. */
size_t earshot__rules_normalize(const char *s, size_t len, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (o >= MAX_WORD)
            return 0;
        if (c == 0xE2 && i + 2 < len && (unsigned char)s[i + 1] == 0x80 &&
            ((unsigned char)s[i + 2] == 0x98 || (unsigned char)s[i + 2] == 0x99)) {
            out[o++] = '\'';
            i += 2;
        } else {
            out[o++] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
        }
    }
    return o;
}

static size_t hash_bytes(const char *s, size_t len)
{
    return (size_t)earshot__fnv1a(EARSHOT_FNV_SEED, s, len);
}

/* Declared in redact_rules.h. */
int earshot__rules_find(const earshot__redactor *r, const char *s, size_t len)
{
    if (!r->n_slots)
        return -1;
    size_t mask = r->n_slots - 1;
    for (size_t i = hash_bytes(s, len) & mask;; i = (i + 1) & mask) {
        int id = r->slots[i];
        if (id < 0)
            return -1;
        if (!strncmp(r->words[id].text, s, len) && r->words[id].text[len] == '\0')
            return id;
    }
}

/* Returns the id of s, adding it; -1 when memory ran out. */
static int lex_add(earshot__redactor *r, const char *s, size_t len)
{
    int id = earshot__rules_find(r, s, len);
    if (id >= 0)
        return id;
    if ((r->n_words + 1) * 2 > r->n_slots) {
        size_t ns = r->n_slots ? r->n_slots * 2 : 512;
        int *slots = malloc(ns * sizeof *slots);
        if (!slots)
            return -1;
        for (size_t i = 0; i < ns; i++)
            slots[i] = -1;
        for (size_t k = 0; k < r->n_words; k++) {
            size_t i = hash_bytes(r->words[k].text, strlen(r->words[k].text)) & (ns - 1);
            while (slots[i] >= 0)
                i = (i + 1) & (ns - 1);
            slots[i] = (int)k;
        }
        free(r->slots);
        r->slots = slots;
        r->n_slots = ns;
    }
    if (!earshot__grow((void **)&r->words, &r->cap_words, r->n_words + 1, sizeof *r->words))
        return -1;
    char *copy = strndup(s, len);
    if (!copy)
        return -1;
    id = (int)r->n_words++;
    r->words[id] = (word){.text = copy, .value = -1, .name_file = -1};
    size_t i = hash_bytes(s, len) & (r->n_slots - 1);
    while (r->slots[i] >= 0)
        i = (i + 1) & (r->n_slots - 1);
    r->slots[i] = id;
    return id;
}

void earshot__redactor_close(earshot__redactor *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_words; i++)
        free(r->words[i].text);
    free(r->words);
    free(r->slots);
    free(r->cues);
    free(r);
}

/* ------------------------------------------------------------------ */
/* reading redact.rules                                                 */
/* ------------------------------------------------------------------ */

enum { V_NONE, V_NUMBER, V_REPEAT, V_DIGIT, V_ORDINAL };

typedef struct key {
    const char *name;
    int value;      /* V_*: what the number before ':' means */
    int phrases;    /* items may be several words */
    int cue;        /* CUE_*, or -1 */
    unsigned flag;  /* W_* given to each word, or 0 */
    int file;       /* names-file: the item is a file name */
    int strong;     /* a *-strong-cue key */
} key;

static const key keys[] = {
    {"number", V_NUMBER, 0, -1, W_NUMBER, 0, 0},
    {"repeat", V_REPEAT, 0, -1, W_REPEAT, 0, 0},
    {"hundred", V_NONE, 0, -1, W_HUNDRED, 0, 0},
    {"hundred-and", V_NONE, 0, -1, W_HUNDRED_AND, 0, 0},
    {"plus", V_NONE, 0, -1, W_PLUS, 0, 0},
    {"phone-cue", V_NONE, 1, CUE_PHONE, 0, 0, 0},
    {"card-cue", V_NONE, 1, CUE_CARD, 0, 0, 0},
    {"number-cue", V_NONE, 1, CUE_NUMBER, 0, 0, 0},
    {"phone-strong-cue", V_NONE, 1, CUE_PHONE, 0, 0, 1},
    {"card-strong-cue", V_NONE, 1, CUE_CARD, 0, 0, 1},
    {"number-strong-cue", V_NONE, 1, CUE_NUMBER, 0, 0, 1},
    {"digit-like", V_DIGIT, 0, -1, W_DIGIT_LIKE, 0, 0},
    {"digit-filler", V_NONE, 0, -1, W_FILLER, 0, 0},
    {"cue-glue", V_NONE, 0, -1, W_GLUE, 0, 0},
    {"number-unit", V_NONE, 0, -1, W_UNIT, 0, 0},
    {"names-file", V_NONE, 0, -1, 0, 1, 0},
    {"name-cue", V_NONE, 1, CUE_NAME, 0, 0, 0},
    {"name-weak-cue", V_NONE, 1, CUE_NAME_WEAK, 0, 0, 0},
    {"name-suffix", V_NONE, 0, -1, W_SUFFIX, 0, 0},
    {"name-title", V_NONE, 0, -1, W_TITLE, 0, 0},
    {"ambiguous-name", V_NONE, 0, -1, W_AMBIGUOUS, 0, 0},
    {"never-name", V_NONE, 0, -1, W_NEVER, 0, 0},
    {"clause-break", V_NONE, 0, -1, W_BREAK, 0, 0},
    {"address-cue", V_NONE, 1, CUE_ADDRESS, 0, 0, 0},
    {"address-weak-cue", V_NONE, 1, CUE_ADDRESS_WEAK, 0, 0, 0},
    {"address-prefix", V_NONE, 0, -1, W_ADDR_PREFIX, 0, 0},
    {"street", V_NONE, 0, -1, W_STREET, 0, 0},
    {"email-cue", V_NONE, 1, CUE_EMAIL, 0, 0, 0},
    {"email-at", V_NONE, 0, -1, W_EMAIL_AT, 0, 0},
    {"email-dot", V_NONE, 0, -1, W_EMAIL_DOT, 0, 0},
    {"email-join", V_NONE, 0, -1, W_EMAIL_JOIN, 0, 0},
    {"tld", V_NONE, 0, -1, W_TLD, 0, 0},
    {"digit-join", V_NONE, 0, -1, W_DIGIT_JOIN, 0, 0},
    {"date-cue", V_NONE, 1, CUE_DATE, 0, 0, 0},
    {"ordinal", V_ORDINAL, 0, -1, W_ORDINAL, 0, 0},
    {"month", V_NONE, 0, -1, W_MONTH, 0, 0},
    {"date-glue", V_NONE, 0, -1, W_DATE_GLUE, 0, 0},
    {"postcode-cue", V_NONE, 1, CUE_POSTCODE, 0, 0, 0},
    {"email-role", V_NONE, 0, -1, W_EMAIL_ROLE, 0, 0},
};
#define N_KEYS (sizeof keys / sizeof *keys)

typedef struct loader {
    earshot__redactor *r;
    const char *dir;
    char *path; /* DIR/redact.rules, as reported */
    char **files; /* names files read, for the conflict messages */
    size_t n_files;
    void (*diag)(const char *line, void *user);
    void *user;
    int errors;
    int nomem;
} loader;

/* One problem: "FILE:LINE:COL: msg", "FILE:LINE: msg" or "FILE: msg". */
static void report(loader *L, const char *file, int line, int col, const char *fmt, ...)
{
    char msg[512], out[1024 + 64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    L->errors++;
    if (line > 0 && col > 0)
        snprintf(out, sizeof out, "%s:%d:%d: %s", file, line, col, msg);
    else if (line > 0)
        snprintf(out, sizeof out, "%s:%d: %s", file, line, msg);
    else
        snprintf(out, sizeof out, "%s: %s", file, msg);
    if (L->diag)
        L->diag(out, L->user);
}

/* A byte as the user would want it quoted in a message. */
static const char *show_byte(unsigned char c, char buf[8])
{
    if (c >= 0x20 && c < 0x7f)
        snprintf(buf, 8, "%c", c);
    else
        snprintf(buf, 8, "\\x%02x", c);
    return buf;
}

static int is_rule_word_byte(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '\'' || c >= 0x80;
}

static int is_upper(unsigned char c)
{
    return c >= 'A' && c <= 'Z';
}

/* Edit distance, for "did you mean" on a mistyped key. Keys are short;
 * longer input is simply not compared. */
static int distance(const char *a, size_t la, const char *b)
{
    size_t lb = strlen(b);
    if (la > 31 || lb > 31)
        return 99;
    int d[32][32];
    for (size_t i = 0; i <= la; i++)
        d[i][0] = (int)i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = (int)j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            int sub = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            int del = d[i - 1][j] + 1, ins = d[i][j - 1] + 1;
            d[i][j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
    return d[la][lb];
}

static void read_names_file(loader *L, const char *name, int rline, int rcol);

/* What a word already means as a digit ("number 7", "digit-like 2", "a
 * digit-filler"), for the conflict messages; NULL when nothing. */
static const char *digit_meaning(const word *w, char buf[32])
{
    if (w->flags & W_NUMBER)
        snprintf(buf, 32, "number %d", w->value);
    else if (w->flags & W_DIGIT_LIKE)
        snprintf(buf, 32, "digit-like %d", w->value);
    else if (w->flags & W_FILLER)
        snprintf(buf, 32, "a digit-filler");
    else
        return NULL;
    return buf;
}

/* Gives word id what its key means. Conflicting meanings of one word are
 * errors: a word cannot be both digit 1 and digit 7, nor a number word and
 * a digit only inside runs. */
static void apply_word(loader *L, const key *k, int value, int id, int line, int col)
{
    word *w = &L->r->words[id];
    if (k->value == V_NUMBER || k->value == V_DIGIT || k->flag == W_FILLER) {
        char buf[32];
        const char *had = digit_meaning(w, buf);
        /* Saying the same thing twice is fine. */
        if (had && !((w->flags & k->flag) && (k->flag == W_FILLER || w->value == value))) {
            report(L, L->path, line, col, "'%s' is already %s (line %d)", w->text, had,
                   w->value_line);
            return;
        }
        if (!had) {
            w->value = k->flag == W_FILLER ? -1 : value;
            w->value_line = line;
        }
    } else if (k->value == V_ORDINAL) {
        if ((w->flags & W_ORDINAL) && w->ordinal != value) {
            report(L, L->path, line, col, "'%s' is already ordinal %d", w->text, w->ordinal);
            return;
        }
        w->ordinal = value;
    } else if (k->value == V_REPEAT) {
        if ((w->flags & W_REPEAT) && w->repeat != value) {
            report(L, L->path, line, col, "'%s' is already repeat %d (line %d)", w->text,
                   w->repeat, w->value_line);
            return;
        }
        w->repeat = value;
        if (!(w->flags & W_REPEAT))
            w->value_line = line;
    } else if (k->flag == W_NEVER && !(w->flags & W_NEVER)) {
        w->never_line = line;
        w->never_col = col;
    }
    w->flags |= k->flag;
}

static void add_cue(loader *L, int kind, int strong, const int *ids, int n)
{
    earshot__redactor *r = L->r;
    if (!earshot__grow((void **)&r->cues, &r->cap_cues, r->n_cues + 1, sizeof *r->cues)) {
        L->nomem = 1;
        return;
    }
    phrase *p = &r->cues[r->n_cues++];
    p->kind = kind;
    p->strong = strong;
    p->n = n;
    memcpy(p->ids, ids, (size_t)n * sizeof *ids);
}

/* One line of redact.rules, comment and line end already cut off:
 *     KEY [VALUE]: item | item ...
 * At most one error per line: after the first, the rest would be noise. */
static void parse_rules_line(loader *L, const char *s, int line)
{
    size_t pos = 0;
    while (s[pos] == ' ' || s[pos] == '\t')
        pos++;
    if (!s[pos])
        return;
    size_t kstart = pos;
    while (s[pos] && s[pos] != ':' && s[pos] != ' ' && s[pos] != '\t')
        pos++;
    size_t klen = pos - kstart;
    const key *k = NULL;
    for (size_t i = 0; i < N_KEYS; i++)
        if (strlen(keys[i].name) == klen && !strncmp(keys[i].name, s + kstart, klen))
            k = &keys[i];
    if (!k) {
        if (klen == 0) {
            report(L, L->path, line, (int)kstart + 1, "expected a key, as in 'street: road | lane'");
            return;
        }
        for (size_t i = kstart; i < pos; i++) {
            if (is_upper((unsigned char)s[i])) {
                report(L, L->path, line, (int)i + 1, "keys are lower case");
                return;
            }
        }
        const char *best = NULL;
        int bd = 3;
        for (size_t i = 0; i < N_KEYS; i++) {
            int d = distance(s + kstart, klen, keys[i].name);
            if (d < bd) {
                bd = d;
                best = keys[i].name;
            }
        }
        if (best)
            report(L, L->path, line, (int)kstart + 1, "unknown key '%.*s' (did you mean '%s'?)",
                   (int)(klen > 64 ? 64 : klen), s + kstart, best);
        else
            report(L, L->path, line, (int)kstart + 1, "unknown key '%.*s'",
                   (int)(klen > 64 ? 64 : klen), s + kstart);
        return;
    }
    while (s[pos] == ' ' || s[pos] == '\t')
        pos++;

    /* The number some keys take: "number 7:", "repeat 2:". */
    int value = -1;
    if (s[pos] >= '0' && s[pos] <= '9') {
        size_t vstart = pos;
        value = 0;
        while (s[pos] >= '0' && s[pos] <= '9') {
            if (value < 1000)
                value = value * 10 + (s[pos] - '0');
            pos++;
        }
        if (k->value == V_NONE) {
            report(L, L->path, line, (int)vstart + 1, "'%s' takes no value", k->name);
            return;
        }
        if (k->value == V_NUMBER && !(value <= 19 || (value <= 90 && value % 10 == 0))) {
            report(L, L->path, line, (int)vstart + 1,
                   "number values are 0 to 19 and the tens 20, 30 ... 90");
            return;
        }
        if (k->value == V_DIGIT && value > 9) {
            report(L, L->path, line, (int)vstart + 1, "digit-like values are 0 to 9");
            return;
        }
        if (k->value == V_ORDINAL && (value < 1 || value > 31)) {
            report(L, L->path, line, (int)vstart + 1, "ordinal values are 1 to 31");
            return;
        }
        if (k->value == V_REPEAT && (value < 2 || value > 9)) {
            report(L, L->path, line, (int)vstart + 1, "repeat values are 2 to 9");
            return;
        }
        while (s[pos] == ' ' || s[pos] == '\t')
            pos++;
    } else if (k->value != V_NONE) {
        report(L, L->path, line, (int)pos + 1, "'%s' needs a value, as in '%s'", k->name,
               k->value == V_NUMBER    ? "number 7: seven"
               : k->value == V_DIGIT   ? "digit-like 2: to"
               : k->value == V_ORDINAL ? "ordinal 5: fifth"
                                       : "repeat 2: double");
        return;
    }
    if (s[pos] != ':') {
        report(L, L->path, line, (int)pos + 1, "expected ':' after '%s'", k->name);
        return;
    }
    pos++;
    while (s[pos] == ' ' || s[pos] == '\t')
        pos++;
    if (!s[pos]) {
        report(L, L->path, line, (int)pos + 1, "nothing after ':'");
        return;
    }

    if (k->file) {
        size_t fstart = pos;
        while (s[pos] && s[pos] != ' ' && s[pos] != '\t')
            pos++;
        size_t fend = pos;
        while (s[pos] == ' ' || s[pos] == '\t')
            pos++;
        if (s[pos]) {
            report(L, L->path, line, (int)pos + 1, "one file name per names-file line");
            return;
        }
        char *name = strndup(s + fstart, fend - fstart);
        if (!name) {
            L->nomem = 1;
            return;
        }
        read_names_file(L, name, line, (int)fstart + 1);
        free(name);
        return;
    }

    /* item (| item)*, each item one word or, for cues, a phrase. */
    for (;;) {
        while (s[pos] == ' ' || s[pos] == '\t')
            pos++;
        size_t istart = pos;
        int ids[MAX_PHRASE], n = 0;
        int cols[MAX_PHRASE];
        for (;;) {
            while (s[pos] == ' ' || s[pos] == '\t')
                pos++;
            unsigned char c = (unsigned char)s[pos];
            if (!c || c == '|')
                break;
            if (!is_rule_word_byte(c)) {
                char b[8];
                if (is_upper(c))
                    report(L, L->path, line, (int)pos + 1, "words are lower case");
                else
                    report(L, L->path, line, (int)pos + 1, "unexpected '%s'", show_byte(c, b));
                return;
            }
            size_t wstart = pos;
            while (is_rule_word_byte((unsigned char)s[pos]))
                pos++;
            if (is_upper((unsigned char)s[pos])) {
                report(L, L->path, line, (int)pos + 1, "words are lower case");
                return;
            }
            if (n == MAX_PHRASE) {
                report(L, L->path, line, (int)wstart + 1, "a phrase has at most %d words",
                       MAX_PHRASE);
                return;
            }
            char norm[MAX_WORD];
            size_t nl = earshot__rules_normalize(s + wstart, pos - wstart, norm);
            if (!nl) {
                report(L, L->path, line, (int)wstart + 1, "a word has at most %d bytes",
                       MAX_WORD);
                return;
            }
            int id = lex_add(L->r, norm, nl);
            if (id < 0) {
                L->nomem = 1;
                return;
            }
            cols[n] = (int)wstart + 1;
            ids[n++] = id;
        }
        if (n == 0) {
            report(L, L->path, line, (int)istart + 1, "empty item: two '|' with nothing between");
            return;
        }
        if (n > 1 && !k->phrases) {
            report(L, L->path, line, (int)istart + 1,
                   "'%s' takes single words; only the *-cue keys take phrases", k->name);
            return;
        }
        if (k->cue >= 0)
            add_cue(L, k->cue, k->strong, ids, n);
        else
            apply_word(L, k, value, ids[0], line, cols[0]);
        if (L->nomem || s[pos] != '|')
            return;
        pos++;
        while (s[pos] == ' ' || s[pos] == '\t')
            pos++;
        if (!s[pos]) {
            report(L, L->path, line, (int)pos + 1, "nothing after '|'");
            return;
        }
    }
}

/* Reads a file line by line, cutting '#' comments, the line end and
 * trailing blanks; calls fn with each line that has anything left. */
static int each_line(const char *path, void (*fn)(loader *, const char *, int, void *),
                     loader *L, void *arg)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    char *buf = NULL;
    size_t cap = 0;
    ssize_t len;
    int line = 0;
    while ((len = getline(&buf, &cap, f)) >= 0 && !L->nomem) {
        line++;
        /* A NUL inside the line ends it: the parsers read C strings. */
        char *hash = strchr(buf, '#');
        if (hash)
            *hash = '\0';
        char *end = buf + strlen(buf);
        while (end > buf && (end[-1] == '\n' || end[-1] == '\r' || end[-1] == ' ' ||
                             end[-1] == '\t'))
            *--end = '\0';
        if (*buf)
            fn(L, buf, line, arg);
    }
    free(buf);
    fclose(f);
    return 1;
}

typedef struct names_arg {
    const char *path;
    int file;
} names_arg;

/* One line of a names file: one lower-case first name. */
static void parse_name_line(loader *L, const char *s, int line, void *arg)
{
    const names_arg *a = arg;
    size_t pos = 0;
    while (s[pos] == ' ' || s[pos] == '\t')
        pos++;
    if (!s[pos])
        return;
    size_t start = pos;
    while (s[pos] && s[pos] != ' ' && s[pos] != '\t') {
        unsigned char c = (unsigned char)s[pos];
        char b[8];
        if (is_upper(c)) {
            report(L, a->path, line, (int)pos + 1, "names are lower case");
            return;
        }
        /* Names with '-' could never match: the text is cut at '-'. */
        if (!is_rule_word_byte(c) || (c >= '0' && c <= '9')) {
            report(L, a->path, line, (int)pos + 1, "unexpected '%s' in a name", show_byte(c, b));
            return;
        }
        pos++;
    }
    size_t end = pos;
    while (s[pos] == ' ' || s[pos] == '\t')
        pos++;
    if (s[pos]) {
        report(L, a->path, line, (int)pos + 1, "one name per line");
        return;
    }
    char norm[MAX_WORD];
    size_t nl = earshot__rules_normalize(s + start, end - start, norm);
    if (!nl) {
        report(L, a->path, line, (int)start + 1, "a name has at most %d bytes", MAX_WORD);
        return;
    }
    int id = lex_add(L->r, norm, nl);
    if (id < 0) {
        L->nomem = 1;
        return;
    }
    word *w = &L->r->words[id];
    if (!(w->flags & W_NAME)) {
        w->name_line = line;
        w->name_file = a->file;
    }
    w->flags |= W_NAME;
}

static void read_names_file(loader *L, const char *name, int rline, int rcol)
{
    size_t len = strlen(L->dir) + strlen(name) + 2;
    char *path = malloc(len);
    char **files = realloc(L->files, (L->n_files + 1) * sizeof *files);
    if (files)
        L->files = files;
    if (!path || !files) {
        free(path);
        L->nomem = 1;
        return;
    }
    if (name[0] == '/')
        snprintf(path, len, "%s", name);
    else
        snprintf(path, len, "%s/%s", L->dir, name);
    L->files[L->n_files] = path;
    names_arg a = {path, (int)L->n_files++};
    if (!each_line(path, parse_name_line, L, &a))
        report(L, L->path, rline, rcol, "cannot read %s: %s", name, strerror(errno));
}

static void rules_line(loader *L, const char *s, int line, void *arg)
{
    (void)arg;
    parse_rules_line(L, s, line);
}

/* Reads DIR/redact.rules into a new redactor, reporting every problem.
 * Returns NULL only when memory ran out (reported too). */
static earshot__redactor *load(loader *L, const char *dir)
{
    if (!dir)
        dir = earshot_default_grammar_dir();
    L->dir = dir;
    L->r = calloc(1, sizeof *L->r);
    size_t len = strlen(dir) + sizeof "/redact.rules";
    L->path = malloc(len);
    if (!L->r || !L->path) {
        report(L, dir, 0, 0, "out of memory");
        free(L->path);
        free(L->r);
        return NULL;
    }
    snprintf(L->path, len, "%s/redact.rules", dir);
    if (!each_line(L->path, rules_line, L, NULL)) {
        report(L, L->path, 0, 0, "cannot read: %s", strerror(errno));
    } else if (!L->nomem) {
        /* The digit runs need every digit; the rest may be left empty,
         * which turns that kind of redaction off. */
        int have[10] = {0};
        for (size_t i = 0; i < L->r->n_words; i++)
            if ((L->r->words[i].flags & W_NUMBER) && L->r->words[i].value <= 9)
                have[L->r->words[i].value] = 1;
        for (int d = 0; d <= 9; d++)
            if (!have[d])
                report(L, L->path, 0, 0, "no word for the digit %d: add 'number %d: ...'", d, d);
        /* A listed name that is also never a name is a contradiction the
         * writer should resolve; ambiguous-name is the way to say "a name,
         * but also an everyday word". */
        for (size_t i = 0; i < L->r->n_words; i++) {
            const word *w = &L->r->words[i];
            if ((w->flags & W_NEVER) && (w->flags & W_NAME)) {
                const char *f = L->files[w->name_file];
                const char *base = strrchr(f, '/');
                report(L, L->path, w->never_line, w->never_col,
                       "'%s' is a never-name word but also in %s (line %d); use ambiguous-name "
                       "for names that are everyday words",
                       w->text, base ? base + 1 : f, w->name_line);
            }
        }
    }
    if (L->nomem)
        report(L, L->path, 0, 0, "out of memory");
    for (size_t i = 0; i < L->n_files; i++)
        free(L->files[i]);
    free(L->files);
    free(L->path);
    L->files = NULL;
    L->path = NULL;
    if (L->nomem) {
        earshot__redactor_close(L->r);
        return NULL;
    }
    return L->r;
}

typedef struct first_err {
    char *buf;
    size_t len;
    int set;
} first_err;

static void keep_first(const char *line, void *user)
{
    first_err *e = user;
    if (e->set || !e->len)
        return;
    e->set = 1;
    snprintf(e->buf, e->len, "%s", line);
}

earshot__redactor *earshot__redactor_open(const char *grammar_dir, char *err, size_t errlen)
{
    first_err fe = {err, err ? errlen : 0, 0};
    if (fe.len)
        err[0] = '\0';
    loader L = {.diag = keep_first, .user = &fe};
    earshot__redactor *r = load(&L, grammar_dir);
    if (r && L.errors) {
        earshot__redactor_close(r);
        return NULL;
    }
    return r;
}

int earshot__redact_check(const char *grammar_dir, void (*diag)(const char *line, void *user),
                          void *user)
{
    loader L = {.diag = diag, .user = user};
    earshot__redactor_close(load(&L, grammar_dir));
    return L.errors;
}
