/* redact.c - personal data out of transcripts, before they are stored.
 *
 * The shape: the rules file (grammars/README.md, "Redaction rules") is
 * read into a lexicon, where each word carries flags (a number word and its
 * value, a street word, a name, never a name, ...), and a list of cue
 * phrases ("my name is", "call me on"). A text is cut into tokens (words,
 * runs of digits, single punctuation marks, written e-mail addresses), and
 * one pass per kind of personal data walks the token array and records the
 * spans to replace: e-mail first, then addresses, names and last digit
 * runs, each pass skipping tokens an earlier pass took. The output copies
 * the original bytes between spans, so case, spacing and punctuation are
 * kept exactly.
 *
 * Transcripts come from a speech recogniser, which mangles read-out digits
 * ("oh seven seven double oh nine" comes out as "a seven seven double a
 * nine"). So digit-like words ("a", "to", "for") count as digits inside a
 * run, and after a strong cue ("my phone number is") the whole stretch up
 * to the end of the clause is taken, noise words and all: a phone number
 * left in a stored transcript is worse than a few words too many redacted.
 *
 * Nothing here is English: the C code knows the shape of a phone number or
 * an e-mail address, the rules file knows the words. */
#include "array.h"
#include "earshot.h"
#include "redact.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Limits. A word longer than MAX_WORD bytes cannot be in the lexicon, so
 * such a token is simply not a rules word. */
#define MAX_WORD 64
#define MAX_PHRASE 8        /* words in one cue phrase */
#define NAME_MAX_WORDS 3    /* "mary ann jones" */
#define ADDRESS_MAX_WORDS 6 /* words after the house number */
#define CUE_GAP_MAX 3       /* glue words or ':' ',' between a cue and its value */
#define EMAIL_CUE_REACH 3   /* unjoined words an e-mail cue may pull into the local part */
/* Digits a run needs to be a [NUMBER]: five, or four right after a number
 * cue ("my pin is 1234"), where a number cannot be a year or a price. */
#define NUMBER_MIN 5
#define CUED_NUMBER_MIN 4
/* Written house numbers have at most this many digits; longer is a phone
 * number or an order number, not "i live at 42". */
#define HOUSE_DIGITS_MAX 5
/* A number read out after a strong cue ("my phone number is ..."): it
 * needs this many digits or digit-like words ("my number is a seven" is
 * none), may have up to STRETCH_NOISE_MAX words in a row that the
 * recogniser made of digits ("seven seven devil line oh nine"), and is cut
 * after STRETCH_MAX_TOKENS tokens (a 19-digit card with noise fits) so that
 * a long text full of cues stays linear. */
#define STRETCH_MIN 3
#define STRETCH_NOISE_MAX 2
#define STRETCH_MAX_TOKENS 64

/* ------------------------------------------------------------------ */
/* the lexicon                                                          */
/* ------------------------------------------------------------------ */

enum {
    W_NUMBER = 1u << 0,       /* number N: value in ->value */
    W_REPEAT = 1u << 1,       /* repeat N: "double", count in ->repeat */
    W_HUNDRED = 1u << 2,      /* hundred: */
    W_HUNDRED_AND = 1u << 3,  /* hundred-and: "one hundred and five" */
    W_PLUS = 1u << 4,         /* plus: spoken '+' before a phone number */
    W_GLUE = 1u << 5,         /* cue-glue: "is", "on" between a cue and its value */
    W_NAME = 1u << 6,         /* from a names-file */
    W_AMBIGUOUS = 1u << 7,    /* ambiguous-name: a name that is an everyday word */
    W_NEVER = 1u << 8,        /* never-name */
    W_SUFFIX = 1u << 9,       /* name-suffix: "speaking" */
    W_BREAK = 1u << 10,       /* clause-break: "and", "but" */
    W_STREET = 1u << 11,      /* street: */
    W_ADDR_PREFIX = 1u << 12, /* address-prefix: "number", "flat" */
    W_EMAIL_AT = 1u << 13,    /* email-at: */
    W_EMAIL_DOT = 1u << 14,   /* email-dot: */
    W_EMAIL_JOIN = 1u << 15,  /* email-join: "underscore", "dash" */
    W_TLD = 1u << 16,         /* tld: */
    W_TITLE = 1u << 17,       /* name-title: "mrs" before a name */
    W_UNIT = 1u << 18,        /* number-unit: "pounds" after a quantity */
    W_DIGIT_LIKE = 1u << 19,  /* digit-like N: "to", a digit only inside a run; N in ->value */
    W_FILLER = 1u << 20,      /* digit-filler: "w", an unknown digit inside a run */
};

enum {
    CUE_PHONE,
    CUE_CARD,
    CUE_NUMBER,
    CUE_NAME,
    CUE_NAME_WEAK,
    CUE_ADDRESS,
    CUE_ADDRESS_WEAK,
    CUE_EMAIL,
};
#define CUE_BIT(k) (1u << (k))

typedef struct word {
    char *text;
    unsigned flags;
    int value;  /* W_NUMBER */
    int repeat; /* W_REPEAT */
    /* Where things were first said, for the conflict messages. */
    int value_line, never_line, never_col, name_line, name_file;
} word;

typedef struct phrase {
    int kind;
    int strong; /* *-strong-cue: the number after it survives recognition noise */
    int n;
    int ids[MAX_PHRASE];
} phrase;

struct earshot__redactor {
    word *words;
    size_t n_words, cap_words;
    int *slots; /* open addressing over words, -1 empty; size a power of 2 */
    size_t n_slots;
    phrase *cues;
    size_t n_cues, cap_cues;
};

/* Both the rules and the text go through this: ASCII lower case, and the
 * typographic apostrophes U+2018/U+2019 become '\'', so "I’m" in a typed
 * comment matches "i'm" in the rules. Returns the normalised length, or 0
 * when it does not fit in MAX_WORD bytes. */
static size_t normalize(const char *s, size_t len, char *out)
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
    uint64_t h = 14695981039346656037ull;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return (size_t)h;
}

/* s is already normalised. */
static int lex_find(const earshot__redactor *r, const char *s, size_t len)
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
    int id = lex_find(r, s, len);
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

enum { V_NONE, V_NUMBER, V_REPEAT, V_DIGIT };

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
        if (k->value == V_REPEAT && (value < 2 || value > 9)) {
            report(L, L->path, line, (int)vstart + 1, "repeat values are 2 to 9");
            return;
        }
        while (s[pos] == ' ' || s[pos] == '\t')
            pos++;
    } else if (k->value != V_NONE) {
        report(L, L->path, line, (int)pos + 1, "'%s' needs a value, as in '%s'", k->name,
               k->value == V_NUMBER  ? "number 7: seven"
               : k->value == V_DIGIT ? "digit-like 2: to"
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
            size_t nl = normalize(s + wstart, pos - wstart, norm);
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
    size_t nl = normalize(s + start, end - start, norm);
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

/* ------------------------------------------------------------------ */
/* tokens                                                               */
/* ------------------------------------------------------------------ */

enum { T_WORD, T_DIGITS, T_PUNCT, T_EMAIL };

typedef struct token {
    size_t start, end;  /* bytes of the text */
    int id;             /* lexicon id of a T_WORD, or -1 */
    unsigned char kind;
    unsigned char gap;  /* white space before it */
    unsigned char digit_first; /* a T_WORD such as "221b" */
    unsigned char taken;       /* inside a span already */
    char punct;         /* a T_PUNCT's byte */
} token;

typedef struct span {
    size_t first, last; /* tokens, inclusive */
    int type;           /* index into tags[] */
} span;

enum { TAG_PHONE, TAG_CARD, TAG_NUMBER, TAG_EMAIL, TAG_NAME, TAG_ADDRESS };
static const struct {
    const char *text;
    unsigned bit;
} tags[] = {
    {"[PHONE]", EARSHOT__PII_PHONE},   {"[CARD]", EARSHOT__PII_CARD},
    {"[NUMBER]", EARSHOT__PII_NUMBER}, {"[EMAIL]", EARSHOT__PII_EMAIL},
    {"[NAME]", EARSHOT__PII_NAME},     {"[ADDRESS]", EARSHOT__PII_ADDRESS},
};

/* Everything one earshot__redact() call works on; the redactor itself is
 * only read. */
typedef struct ctx {
    const earshot__redactor *r;
    const char *text;
    token *t;
    size_t n, cap;
    span *spans;
    size_t n_spans, cap_spans;
    int nomem;
} ctx;

static int is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static int is_alnum(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static int is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* Length of an apostrophe at s: ', U+2018 or U+2019; 0 if none. */
static size_t apos_len(const unsigned char *s)
{
    if (s[0] == '\'')
        return 1;
    if (s[0] == 0xE2 && s[1] == 0x80 && (s[2] == 0x98 || s[2] == 0x99))
        return 3;
    return 0;
}

/* Letters, digits and any non-ASCII byte (so UTF-8 letters, and invalid
 * bytes, stay inside words), but not a typographic apostrophe. */
static int is_word_start(const unsigned char *s)
{
    return is_alnum(s[0]) || (s[0] >= 0x80 && !apos_len(s));
}

/* Written addresses: the local part and domain characters of RFC 5321 that
 * people actually use. */
static int is_local_char(unsigned char c)
{
    return is_alnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-';
}

static int is_domain_char(unsigned char c)
{
    return is_alnum(c) || c == '.' || c == '-';
}

/* If the '@' at `at` is inside a written address, returns its end and sets
 * *start; 0 otherwise. The domain needs a dot and a last label of two or
 * more letters; "a@b" and "me@home." are not addresses. */
static size_t written_email(const char *s, size_t at, size_t floor, size_t *start)
{
    size_t b = at;
    while (b > floor && is_local_char((unsigned char)s[b - 1]))
        b--;
    while (b < at && (s[b] == '.' || s[b] == '-' || s[b] == '+'))
        b++;
    if (b == at)
        return 0;
    size_t e = at + 1;
    while (is_domain_char((unsigned char)s[e]))
        e++;
    while (e > at + 1 && (s[e - 1] == '.' || s[e - 1] == '-'))
        e--;
    /* Labels non-empty, at least two, the last one letters only. */
    size_t dots = 0, label = 0, alpha = 1;
    for (size_t i = at + 1; i < e; i++) {
        if (s[i] == '.') {
            if (label == 0)
                return 0;
            dots++;
            label = 0;
            alpha = 1;
        } else {
            label++;
            if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z')))
                alpha = 0;
        }
    }
    if (!dots || label < 2 || !alpha)
        return 0;
    *start = b;
    return e;
}

static int push_token(ctx *c, token t)
{
    if (!earshot__grow((void **)&c->t, &c->cap, c->n + 1, sizeof *c->t)) {
        c->nomem = 1;
        return 0;
    }
    c->t[c->n++] = t;
    return 1;
}

/* Cuts the text into words, digit runs, single punctuation marks and
 * written e-mail addresses. An apostrophe belongs to a word only between
 * word characters ("i'm", not the quotes of 'john'). */
static void tokenize(ctx *c)
{
    const unsigned char *s = (const unsigned char *)c->text;
    size_t i = 0;
    int gap = 1;
    /* The next written address at or after i, found ahead of the
     * tokenizer so that no word runs into it. */
    size_t em_start = 0, em_end = 0;
    const char *next_at = strchr(c->text, '@');
    while (s[i] && !c->nomem) {
        while (em_end <= i && next_at) {
            size_t at = (size_t)(next_at - c->text), st;
            next_at = strchr(next_at + 1, '@');
            /* Bytes before i are cut already: the local part stops there. */
            size_t e = written_email(c->text, at, i, &st);
            if (e) {
                em_start = st;
                em_end = e;
            }
        }
        if (is_space(s[i])) {
            gap = 1;
            i++;
            continue;
        }
        token t = {.start = i, .id = -1, .gap = (unsigned char)gap};
        gap = 0;
        if (em_end > i && i == em_start) {
            t.kind = T_EMAIL;
            t.end = em_end;
        } else if (is_word_start(s + i)) {
            size_t j = i, a;
            int digits = 1;
            for (;;) {
                if (em_end > j && j == em_start && j > i)
                    break;
                if (is_word_start(s + j)) {
                    digits &= is_digit(s[j]);
                    j++;
                } else if ((a = apos_len(s + j)) && is_word_start(s + j + a)) {
                    digits = 0;
                    j += a;
                } else {
                    break;
                }
            }
            t.end = j;
            t.kind = digits ? T_DIGITS : T_WORD;
            if (!digits) {
                t.digit_first = (unsigned char)is_digit(s[i]);
                char norm[MAX_WORD];
                size_t nl = normalize(c->text + i, j - i, norm);
                if (nl)
                    t.id = lex_find(c->r, norm, nl);
            }
        } else {
            size_t a = apos_len(s + i);
            t.kind = T_PUNCT;
            t.end = i + (a ? a : 1);
            t.punct = (char)s[i];
        }
        i = t.end;
        push_token(c, t);
    }
}

/* ------------------------------------------------------------------ */
/* token helpers                                                        */
/* ------------------------------------------------------------------ */

static unsigned flags_of(const ctx *c, size_t i)
{
    if (i >= c->n || c->t[i].kind != T_WORD || c->t[i].id < 0)
        return 0;
    return c->r->words[c->t[i].id].flags;
}

static int free_word(const ctx *c, size_t i)
{
    return i < c->n && c->t[i].kind == T_WORD && !c->t[i].taken;
}

static int punct_is(const ctx *c, size_t i, const char *set)
{
    return i < c->n && c->t[i].kind == T_PUNCT && !c->t[i].taken && c->t[i].punct &&
           strchr(set, c->t[i].punct);
}

/* A number word of value lo..hi, untaken. */
static int number_word(const ctx *c, size_t i, int lo, int hi)
{
    if (!free_word(c, i) || !(flags_of(c, i) & W_NUMBER))
        return 0;
    int v = c->r->words[c->t[i].id].value;
    return v >= lo && v <= hi;
}

static int value_of(const ctx *c, size_t i)
{
    return c->r->words[c->t[i].id].value;
}

/* The longest cue phrase of a kind in mask that ends just before token e;
 * of two as long, a strong one ("phone number" is both a phone-cue and a
 * phone-strong-cue). Returns its kind, or -1; *len gets its word count and
 * *strong whether it is a strong cue. */
static int cue_ending_at(const ctx *c, size_t e, unsigned mask, int *len, int *strong)
{
    int best = -1, best_n = 0, best_strong = 0;
    for (size_t k = 0; k < c->r->n_cues; k++) {
        const phrase *p = &c->r->cues[k];
        if (!(mask & CUE_BIT(p->kind)) || (size_t)p->n > e || p->n < best_n ||
            (p->n == best_n && (best_strong || !p->strong)))
            continue;
        size_t s = e - (size_t)p->n;
        int ok = 1;
        for (int w = 0; w < p->n && ok; w++)
            ok = c->t[s + (size_t)w].kind == T_WORD && c->t[s + (size_t)w].id == p->ids[w];
        if (ok) {
            best = p->kind;
            best_n = p->n;
            best_strong = p->strong;
        }
    }
    *len = best_n;
    *strong = best_strong;
    return best;
}

/* A cue of a kind in mask before token i, allowing up to CUE_GAP_MAX
 * glue words (when glue is set) or ':' ',' marks in between: "my number
 * is: 0161 ...", "call me on 0161 ...". Returns the kind or -1; *strong
 * (if not NULL) gets whether the cue is a strong one. */
static int cue_before(const ctx *c, size_t i, unsigned mask, int glue, int *strong)
{
    size_t e = i;
    for (int step = 0; step <= CUE_GAP_MAX; step++) {
        int len, st;
        int kind = cue_ending_at(c, e, mask, &len, &st);
        if (kind >= 0) {
            if (strong)
                *strong = st;
            return kind;
        }
        if (e == 0)
            return -1;
        const token *t = &c->t[e - 1];
        if ((glue && (flags_of(c, e - 1) & W_GLUE)) ||
            (t->kind == T_PUNCT && (t->punct == ':' || t->punct == ',')))
            e--;
        else
            return -1;
    }
    return -1;
}

static void add_span(ctx *c, size_t first, size_t last, int type)
{
    if (!earshot__grow((void **)&c->spans, &c->cap_spans, c->n_spans + 1, sizeof *c->spans)) {
        c->nomem = 1;
        return;
    }
    c->spans[c->n_spans++] = (span){first, last, type};
    for (size_t k = first; k <= last; k++)
        c->t[k].taken = 1;
}

/* ------------------------------------------------------------------ */
/* numbers                                                              */
/* ------------------------------------------------------------------ */

/* The digits of a run: how many, the first 20 for the Luhn check (cards
 * have at most 19), and whether a filler stands for a digit nobody knows. */
typedef struct digits {
    size_t n;
    char d[20];
    int unknown;
} digits;

static void put_digit(digits *g, char d)
{
    if (g->n < sizeof g->d)
        g->d[g->n] = d;
    g->n++;
}

static void put_number(digits *g, int v, int width)
{
    if (width == 3)
        put_digit(g, (char)('0' + v / 100));
    if (width >= 2)
        put_digit(g, (char)('0' + v / 10 % 10));
    put_digit(g, (char)('0' + v % 10));
}

/* One spoken number as people read out digits: "seven" 7, "double oh" 00,
 * "fifteen" 15, "forty two" 42, "seven hundred" 700, "one hundred and
 * five" 105. A digit after "hundred" needs the "and", so that "seven
 * hundred nine hundred" reads 700 900, as British phone numbers are said.
 * Returns the tokens used, 0 when token i starts no number. */
static size_t spoken_number(const ctx *c, size_t i, digits *g)
{
    if (!free_word(c, i))
        return 0;
    unsigned f = flags_of(c, i);
    if ((f & W_REPEAT) && number_word(c, i + 1, 0, 9)) {
        int times = c->r->words[c->t[i].id].repeat;
        for (int k = 0; k < times; k++)
            put_number(g, value_of(c, i + 1), 1);
        return 2;
    }
    if (!(f & W_NUMBER))
        return 0;
    int v = value_of(c, i);
    if (v >= 20) {
        if (number_word(c, i + 1, 1, 9)) {
            put_number(g, v + value_of(c, i + 1), 2);
            return 2;
        }
        put_number(g, v, 2);
        return 1;
    }
    if (v >= 10) {
        put_number(g, v, 2);
        return 1;
    }
    if (v >= 1 && free_word(c, i + 1) && (flags_of(c, i + 1) & W_HUNDRED)) {
        size_t k = i + 2;
        int and = 0;
        if (free_word(c, k) && (flags_of(c, k) & W_HUNDRED_AND) && number_word(c, k + 1, 0, 90)) {
            and = 1;
            k++;
        }
        if (number_word(c, k, 20, 90)) {
            int t = value_of(c, k);
            if (number_word(c, k + 1, 1, 9)) {
                put_number(g, v * 100 + t + value_of(c, k + 1), 3);
                return k + 2 - i;
            }
            put_number(g, v * 100 + t, 3);
            return k + 1 - i;
        }
        if (number_word(c, k, 10, 19) || (and && number_word(c, k, 0, 9))) {
            put_number(g, v * 100 + value_of(c, k), 3);
            return k + 1 - i;
        }
        put_number(g, v * 100, 3);
        return 2;
    }
    put_number(g, v, 1);
    return 1;
}

/* What one element of a digit run is. A digit-like word or a filler is a
 * digit only in company, so the run builders need to know which they got. */
enum {
    EL_SINGLE, /* one digit said as one: "seven", "double oh", "7" */
    EL_MULTI,  /* more: "twenty", "fifteen", "seven hundred", "07700" */
    EL_LIKE,   /* a digit-like word: "to", "a", "double a" */
    EL_FILL,   /* a digit-filler: "w", one digit nobody knows */
};

static int is_like(int cls)
{
    return cls == EL_LIKE || cls == EL_FILL;
}

/* One element of a digit run: written digits, a spoken number, or (for
 * the callers to accept or not) a digit-like word or a filler. Returns the
 * tokens used, 0 when token i is none of these; *cls gets the EL_ kind. */
static size_t digit_element(const ctx *c, size_t i, digits *g, int *cls)
{
    if (i < c->n && c->t[i].kind == T_DIGITS && !c->t[i].taken) {
        for (size_t b = c->t[i].start; b < c->t[i].end; b++)
            put_digit(g, c->text[b]);
        *cls = c->t[i].end - c->t[i].start == 1 ? EL_SINGLE : EL_MULTI;
        return 1;
    }
    if (!free_word(c, i))
        return 0;
    unsigned f = flags_of(c, i);
    size_t before = g->n;
    size_t len = spoken_number(c, i, g);
    if (len) {
        *cls = (f & W_REPEAT) || (len == 1 && g->n - before == 1) ? EL_SINGLE : EL_MULTI;
        return len;
    }
    /* "double a": the recogniser's "double oh". */
    if ((f & W_REPEAT) && free_word(c, i + 1) && (flags_of(c, i + 1) & W_DIGIT_LIKE)) {
        for (int k = 0; k < c->r->words[c->t[i].id].repeat; k++)
            put_digit(g, (char)('0' + value_of(c, i + 1)));
        *cls = EL_LIKE;
        return 2;
    }
    if (f & W_DIGIT_LIKE) {
        put_digit(g, (char)('0' + value_of(c, i)));
        *cls = EL_LIKE;
        return 1;
    }
    if (f & W_FILLER) {
        put_digit(g, '?');
        g->unknown = 1;
        *cls = EL_FILL;
        return 1;
    }
    return 0;
}

static int luhn(const digits *g)
{
    if (g->unknown)
        return 0;
    int sum = 0;
    for (size_t k = 0; k < g->n; k++) {
        int d = g->d[g->n - 1 - k] - '0';
        if (k % 2) {
            d *= 2;
            if (d > 9)
                d -= 9;
        }
        sum += d;
    }
    return sum % 10 == 0;
}

/* The tag a run's digits call for by their count, first digit, checksum
 * and the cue before them; -1 when these decide nothing. Cards first: a
 * Luhn-valid 16 digits after "number" is still a card. A leading 0 or '+'
 * is a phone's, never a card's. */
static int classify(const digits *g, int cue, int plus)
{
    int first0 = g->n && g->d[0] == '0';
    if (cue == CUE_CARD && g->n >= 12 && g->n <= 19)
        return TAG_CARD;
    if (!plus && !first0 && g->n >= 13 && g->n <= 19 && luhn(g))
        return TAG_CARD;
    if (cue == CUE_NUMBER && g->n >= CUED_NUMBER_MIN)
        return TAG_NUMBER;
    if (g->n >= 7 && g->n <= 15 && (plus || first0 || cue == CUE_PHONE))
        return TAG_PHONE;
    return -1;
}

/* A mark that may stand inside a number read out after a strong cue:
 * "+44 (0) 7700-900123", "12/05/1980", "12.05.1980" (a '.' only between
 * digits, not the full stop that ends a sentence). */
static int stretch_mark(const ctx *c, size_t j)
{
    if (punct_is(c, j, "+-()/"))
        return 1;
    return punct_is(c, j, ".") && !c->t[j].gap && j + 1 < c->n && !c->t[j + 1].gap;
}

/* Whether a stretch could start at token i: a digit or digit-like word, a
 * '+' or '(', a spoken "plus", or one word of noise right before a digit
 * ("all seven seven ..." for "oh seven seven ..."). A cheap test, so that
 * the cue is looked for only where it could matter. */
static int stretch_start(const ctx *c, size_t i)
{
    digits g = {0};
    int cls;
    if (digit_element(c, i, &g, &cls) || punct_is(c, i, "+(") ||
        (free_word(c, i) && (flags_of(c, i) & W_PLUS)))
        return 1;
    return free_word(c, i) && !(flags_of(c, i) & (W_BREAK | W_GLUE)) &&
           digit_element(c, i + 1, &g, &cls);
}

/* After a strong cue ("my phone number is", "my account number is") the
 * customer is reading a number out, and the recogniser's version of it may
 * hold words that are no digits at all: "a seven seven double a nine w one
 * to three", "oh seven seven devil oh nine ...". So the whole stretch is
 * taken, up to a clause break, a punctuation mark or more than
 * STRETCH_NOISE_MAX words in a row that are no digits, if it holds
 * STRETCH_MIN or more digits and digit-like words. It is tagged by its
 * digits when they decide (a Luhn-valid card after "my account number"),
 * else by the cue. Returns 1 and moves *ip past the span when it took one.
 * The word of noise stretch_start() allows before the first digit is not
 * taken: it is more likely "still" or "the" than a digit. */
static int noisy_stretch(ctx *c, size_t *ip)
{
    size_t i = *ip;
    if (!stretch_start(c, i))
        return 0;
    int strong = 0;
    int cue = cue_before(c, i, CUE_BIT(CUE_PHONE) | CUE_BIT(CUE_CARD) | CUE_BIT(CUE_NUMBER), 1,
                         &strong);
    if (cue < 0 || !strong)
        return 0;
    digits g = {0}, kept = {0};
    size_t j = i, first = 0, last = 0, like_last = 0;
    int started = 0, elements = 0, kept_elements = 0, plus = 0, open = 0, noise = 0;
    int pending = 0; /* digit-like words after the last real digit */
    while (j < c->n && j - i < STRETCH_MAX_TOKENS) {
        const token *t = &c->t[j];
        int cls;
        size_t len;
        if (t->taken || t->kind == T_EMAIL)
            break;
        if (t->kind == T_PUNCT || (free_word(c, j) && (flags_of(c, j) & W_PLUS))) {
            if (t->kind == T_PUNCT && !stretch_mark(c, j))
                break;
            if (!started) {
                first = j;
                started = 1;
            }
            if (!elements && (t->kind == T_WORD || t->punct == '+'))
                plus = 1;
            if (t->kind == T_PUNCT && t->punct == '(')
                open = 1;
            j++;
            continue;
        }
        if ((len = digit_element(c, j, &g, &cls))) {
            if (!started) {
                first = j;
                started = 1;
            }
            j += len;
            elements++;
            noise = 0;
            if (is_like(cls)) {
                pending = 1;
                like_last = j - 1;
            } else {
                kept = g;
                kept_elements = elements;
                last = j - 1;
                pending = 0;
            }
            continue;
        }
        if (flags_of(c, j) & W_BREAK)
            break;
        if (++noise > (started ? STRETCH_NOISE_MAX : 1))
            break;
        j++;
    }
    /* Digit-like words after the last real digit are digits where the
     * clause ends right after them ("... double oh one to"), words where
     * it goes on ("... one two three to confirm", "... thanks a lot"). */
    if (pending && !(free_word(c, like_last + 1) && !(flags_of(c, like_last + 1) & W_BREAK))) {
        kept = g;
        kept_elements = elements;
        last = like_last;
    }
    if (kept_elements < STRETCH_MIN)
        return 0;
    /* "my phone is two to three years old": a quantity, no number read
     * out. */
    if (free_word(c, last + 1) && (flags_of(c, last + 1) & W_UNIT))
        return 0;
    if (open && punct_is(c, last + 1, ")"))
        last++;
    int type = classify(&kept, cue, plus);
    if (type < 0)
        type = cue == CUE_CARD ? TAG_CARD : cue == CUE_PHONE ? TAG_PHONE : TAG_NUMBER;
    add_span(c, first, last, type);
    *ip = last + 1;
    return 1;
}

/* Digit runs: consecutive numbers, spoken or written, joined by spaces,
 * '-' or brackets, read as one string of digits and classified by length,
 * first digit, checksum and the cue before them. A lone number word or
 * "twenty five" has at most three digits, so ratings, prices, times and
 * counts never reach the five a run needs.
 *
 * Digit-like words ("to", "for", "a") are digits here only after a single
 * digit, and stay words at the end of a run when the clause goes on: "nine
 * to five" is 925 (too short to matter), but "a nine", "for a coffee",
 * "thirty to forty five" and "seven for the food" are no runs of them.
 * After a strong cue noisy_stretch() takes over. */
static void pass_digits(ctx *c)
{
    size_t i = 0;
    while (i < c->n && !c->nomem) {
        if (c->t[i].taken) {
            i++;
            continue;
        }
        /* Codes with letters: "AB123456C", "1Z999AA10123456784". */
        if (c->t[i].kind == T_WORD) {
            size_t nd = 0;
            for (size_t b = c->t[i].start; b < c->t[i].end; b++)
                nd += is_digit((unsigned char)c->text[b]);
            if (nd >= NUMBER_MIN) {
                add_span(c, i, i, TAG_NUMBER);
                i++;
                continue;
            }
        }
        if (noisy_stretch(c, &i))
            continue;
        digits g = {0};
        size_t start = i, j = i;
        int plus = 0, open = 0, cls;
        /* "+44 ...", "plus four four ...", "(0161) ..." */
        if (punct_is(c, j, "+") && j + 1 < c->n && !c->t[j + 1].gap) {
            plus = 1;
            j++;
        } else if (free_word(c, j) && (flags_of(c, j) & W_PLUS)) {
            plus = 1;
            j++;
        }
        if (punct_is(c, j, "(") && j + 1 < c->n && !c->t[j + 1].gap) {
            open = 1;
            j++;
        }
        size_t len = digit_element(c, j, &g, &cls);
        /* A digit-like word starts no run: "a nine out of ten", "to the
         * store", "double a batteries". */
        if (!len || is_like(cls)) {
            i++;
            continue;
        }
        int cue = cue_before(c, start, CUE_BIT(CUE_PHONE) | CUE_BIT(CUE_CARD) |
                                           CUE_BIT(CUE_NUMBER), 1, NULL);
        /* After a cue, '/' and '.' join too: "date of birth is
         * 12/05/1980". Without one they are dates, fractions and prices. */
        const char *joins = cue >= 0 ? "-()/." : "-()";
        size_t last = j + len - 1;
        j += len;
        /* Where the run ends should its last digit-like words be words. */
        digits kept = g;
        size_t kept_last = last;
        int prev = cls;
        for (;;) {
            /* Up to two joining marks between elements: "0151-1283",
             * "(0161) 496", "0161)-496". */
            size_t k = j;
            for (int m = 0; m < 2 && punct_is(c, k, joins); m++) {
                if (c->t[k].punct == '(')
                    open = 1;
                k++;
            }
            digits before = g;
            int ncls;
            size_t more = digit_element(c, k, &g, &ncls);
            if (!more)
                break;
            /* After "thirty" or "seven hundred" it is a word again:
             * "thirty to forty five" is a range, not 30245. */
            if (is_like(ncls) && prev == EL_MULTI) {
                g = before;
                break;
            }
            last = k + more - 1;
            j = k + more;
            prev = ncls;
            if (!is_like(ncls)) {
                kept = g;
                kept_last = last;
            }
        }
        /* "... one two three to confirm": the "to" is a word. */
        if (is_like(prev) && free_word(c, last + 1) && !(flags_of(c, last + 1) & W_BREAK)) {
            g = kept;
            last = kept_last;
        }
        if (open && punct_is(c, last + 1, ")"))
            last++;

        /* "$15000", "15000 pounds", "12000 miles": an amount, unless a cue
         * says otherwise. */
        int amount = cue < 0 && !plus &&
                     ((start > 0 && punct_is(c, start - 1, "$") && !c->t[start].gap) ||
                      (free_word(c, last + 1) && (flags_of(c, last + 1) & W_UNIT)));
        int type = amount ? -1 : classify(&g, cue, plus);
        if (!amount && type < 0 && g.n >= NUMBER_MIN)
            type = TAG_NUMBER;
        if (type >= 0)
            add_span(c, start, last, type);
        /* A run that is no personal data is skipped whole: its tail is no
         * run of its own. */
        i = last + 1;
    }
}

/* ------------------------------------------------------------------ */
/* e-mail                                                               */
/* ------------------------------------------------------------------ */

/* A word that can be part of a spoken address: not itself "at", "dot" or
 * a joining word. Digits count ("john eighty seven", "jsmith 99"). */
static int email_word(const ctx *c, size_t i)
{
    if (i >= c->n || c->t[i].taken)
        return 0;
    if (c->t[i].kind == T_DIGITS)
        return 1;
    return c->t[i].kind == T_WORD &&
           !(flags_of(c, i) & (W_EMAIL_AT | W_EMAIL_DOT | W_EMAIL_JOIN));
}

static int email_number(const ctx *c, size_t i)
{
    return i < c->n && !c->t[i].taken &&
           (c->t[i].kind == T_DIGITS || (flags_of(c, i) & (W_NUMBER | W_REPEAT | W_HUNDRED)));
}

/* "dot", or a written '.' touching the words on both sides. */
static int email_dot(const ctx *c, size_t i)
{
    if (free_word(c, i) && (flags_of(c, i) & W_EMAIL_DOT))
        return 1;
    return punct_is(c, i, ".") && i + 1 < c->n && !c->t[i].gap && !c->t[i + 1].gap;
}

static int email_join(const ctx *c, size_t i)
{
    if (free_word(c, i) && (flags_of(c, i) & W_EMAIL_JOIN))
        return 1;
    return punct_is(c, i, "_-") && i + 1 < c->n && !c->t[i].gap && !c->t[i + 1].gap;
}

/* The domain after a spoken "at": label (dot label)+, a label being
 * word (join word)*, ending in a top-level domain word. The recogniser
 * knows no "gmail" or "hotmail" and writes "g mail", "hot mail", so the
 * first label may be two words: unless loose is set, neither of them a
 * never-name word ("she's at the shop dot com" is no address). Returns
 * the token after it, 0 if there is none. */
static size_t spoken_domain(const ctx *c, size_t i, int loose)
{
    size_t j = i, end = 0;
    int labels = 0;
    for (int guard = 0; guard < 16; guard++) {
        if (!email_word(c, j))
            break;
        j++;
        if (!labels && email_word(c, j) && email_dot(c, j + 1) &&
            (loose || !((flags_of(c, j - 1) | flags_of(c, j)) & W_NEVER)))
            j++;
        while (email_join(c, j) && email_word(c, j + 1))
            j += 2;
        labels++;
        if (labels >= 2 && (flags_of(c, j - 1) & W_TLD))
            end = j;
        if (email_dot(c, j) && email_word(c, j + 1))
            j++;
        else
            break;
    }
    return end;
}

/* Written addresses are tokens already. A spoken one needs "at", a domain
 * ending in a known top-level domain, and a local part before "at" that
 * is joined ("john dot smith"), follows an e-mail cue, or is at least not
 * a word that is never a name ("i looked at amazon dot com" is no
 * address). */
static void pass_email(ctx *c)
{
    for (size_t i = 0; i < c->n && !c->nomem; i++) {
        if (c->t[i].kind == T_EMAIL && !c->t[i].taken) {
            add_span(c, i, i, TAG_EMAIL);
            continue;
        }
        if (i == 0 || !free_word(c, i) || !(flags_of(c, i) & W_EMAIL_AT))
            continue;
        size_t end = spoken_domain(c, i + 1, 0);
        /* "hot mail": only where the local part is joined or cued. */
        int loose = 0;
        if (!end) {
            end = spoken_domain(c, i + 1, 1);
            loose = 1;
        }
        if (!end || !email_word(c, i - 1))
            continue;
        size_t s = i - 1;
        int joined = 0;
        for (int guard = 0; guard < 8 && s >= 2; guard++) {
            if ((email_join(c, s - 1) || email_dot(c, s - 1)) && email_word(c, s - 2)) {
                s -= 2;
                joined = 1;
            } else {
                break;
            }
        }
        /* Numbers belong to handles: "john eighty seven at ..." is
         * john87, so the word before the numbers goes with them. */
        if (email_number(c, s)) {
            for (int guard = 0; guard < 4 && s >= 1 && email_number(c, s - 1); guard++)
                s--;
            if (s >= 1 && email_word(c, s - 1) && !email_number(c, s - 1) &&
                !(flags_of(c, s - 1) & (W_NEVER | W_BREAK | W_GLUE)))
                s--;
        }
        /* Spelt-out letters belong to it too: "j smith at ...", "j o
         * smith at ...". */
        for (int guard = 0; guard < 16 && s >= 1 && free_word(c, s - 1) &&
                            c->t[s - 1].end - c->t[s - 1].start == 1 &&
                            !(flags_of(c, s - 1) & (W_NEVER | W_BREAK | W_GLUE));
             guard++)
            s--;
        /* An e-mail cue just before, or a few words before: "my email is
         * john smith at ..." takes "john smith". */
        int cued = 0;
        for (size_t back = 0; back <= EMAIL_CUE_REACH && back <= s; back++) {
            size_t p = s - back;
            if (back && (!email_word(c, p) || (flags_of(c, p) & (W_NEVER | W_BREAK))))
                break;
            if (cue_before(c, p, CUE_BIT(CUE_EMAIL), 1, NULL) >= 0) {
                s = p;
                cued = 1;
                break;
            }
        }
        if (!cued && !joined && (loose || (flags_of(c, i - 1) & (W_NEVER | W_GLUE))))
            continue;
        add_span(c, s, end - 1, TAG_EMAIL);
        i = end - 1;
    }
}

/* ------------------------------------------------------------------ */
/* addresses                                                            */
/* ------------------------------------------------------------------ */

/* A house number: written digits, "221b", or a spoken number. */
static size_t house_number(const ctx *c, size_t i)
{
    if (i >= c->n || c->t[i].taken)
        return 0;
    if (c->t[i].kind == T_DIGITS || (c->t[i].kind == T_WORD && c->t[i].digit_first))
        return c->t[i].end - c->t[i].start <= HOUSE_DIGITS_MAX;
    digits g = {0};
    return spoken_number(c, i, &g);
}

/* "i live at" + a number + words up to a street word (and a town word
 * right before the end of the clause). A strong cue without a street word
 * still takes up to the first word that is never a name, a clause break or
 * ADDRESS_MAX_WORDS words; a weak cue ("i'm at") needs the street word,
 * or "i'm at ten" would be an address. */
static void pass_address(ctx *c)
{
    unsigned mask = CUE_BIT(CUE_ADDRESS) | CUE_BIT(CUE_ADDRESS_WEAK);
    for (size_t i = 1; i < c->n && !c->nomem; i++) {
        if (c->t[i].taken)
            continue;
        int cue = cue_before(c, i, mask, 0, NULL);
        if (cue < 0)
            continue;
        size_t j = i;
        if (free_word(c, j) && (flags_of(c, j) & W_ADDR_PREFIX) && house_number(c, j + 1))
            j++;
        size_t len = house_number(c, j);
        if (!len)
            continue;
        size_t k = j + len, first_never = 0, street = 0;
        int words = 0, found = 0;
        while (k < c->n && words < ADDRESS_MAX_WORDS) {
            const token *t = &c->t[k];
            if (t->taken || t->kind == T_EMAIL)
                break;
            /* "flat 3, 12 high street": a second number right after the
             * first, across a comma. */
            size_t again;
            if (!words && punct_is(c, k, ",") && (again = house_number(c, k + 1))) {
                k += 1 + again;
                continue;
            }
            if (t->kind == T_PUNCT)
                break;
            unsigned f = flags_of(c, k);
            if (f & W_BREAK)
                break;
            if (f & W_STREET) {
                street = k;
                found = 1;
                break;
            }
            if ((f & W_NEVER) && !first_never)
                first_never = k;
            words++;
            k++;
        }
        size_t last;
        if (found) {
            /* Street words can be part of the name: "park lane", "green
             * way". */
            while (free_word(c, street + 1) && (flags_of(c, street + 1) & W_STREET))
                street++;
            last = street;
            /* A town after the street, if the clause ends right after it:
             * "12 high street london", "12 High Street, London." */
            size_t m = street + 1;
            if (punct_is(c, m, ","))
                m++;
            unsigned f = flags_of(c, m);
            if (free_word(c, m) && !c->t[m].digit_first &&
                !(f & (W_NEVER | W_BREAK | W_NUMBER | W_STREET | W_GLUE)) &&
                (m + 1 == c->n || c->t[m + 1].kind == T_PUNCT || (flags_of(c, m + 1) & W_BREAK)))
                last = m;
        } else if (cue == CUE_ADDRESS) {
            size_t stop = first_never ? first_never : k;
            last = stop > j + len ? stop - 1 : j + len - 1;
        } else {
            continue;
        }
        add_span(c, i, last, TAG_ADDRESS);
        i = last;
    }
}

/* ------------------------------------------------------------------ */
/* names                                                                */
/* ------------------------------------------------------------------ */

static int name_word(const ctx *c, size_t i)
{
    if (!free_word(c, i) || c->t[i].digit_first)
        return 0;
    unsigned f = flags_of(c, i);
    return !(f & (W_NEVER | W_BREAK | W_NUMBER | W_REPEAT | W_HUNDRED | W_SUFFIX | W_TITLE |
                  W_EMAIL_AT));
}

/* After a strong cue ("my name is", "call me") any word that can be a name
 * is one, with up to two more (surnames). After a weak cue ("this is",
 * "i'm") most words are not names ("i'm calling", "this is ridiculous"),
 * so the first word must be a listed first name that is not also an
 * everyday word, or the words must be followed by a name suffix ("this is
 * kowalski speaking"). A title ("mrs", "mr") works like a strong cue
 * wherever it stands. */
static void pass_name(ctx *c)
{
    unsigned mask = CUE_BIT(CUE_NAME) | CUE_BIT(CUE_NAME_WEAK);
    for (size_t i = 1; i < c->n && !c->nomem; i++) {
        /* A title makes the next word a name, cue or not, and stays:
         * "call me mrs [NAME]", "mr [NAME] said". */
        if (free_word(c, i - 1) && (flags_of(c, i - 1) & W_TITLE) && name_word(c, i)) {
            size_t last = i;
            while (last + 1 - i < NAME_MAX_WORDS - 1 && name_word(c, last + 1))
                last++;
            add_span(c, i, last, TAG_NAME);
            i = last;
            continue;
        }
        if (!name_word(c, i))
            continue;
        int cue = cue_before(c, i, mask, 0, NULL);
        if (cue < 0)
            continue;
        unsigned f = flags_of(c, i);
        size_t last = i;
        int ok = cue == CUE_NAME || ((f & W_NAME) && !(f & W_AMBIGUOUS));
        if (ok) {
            while (last + 1 - i < NAME_MAX_WORDS && name_word(c, last + 1))
                last++;
        } else {
            for (size_t k = i; k < i + NAME_MAX_WORDS - 1 && name_word(c, k); k++) {
                if (free_word(c, k + 1) && (flags_of(c, k + 1) & W_SUFFIX)) {
                    last = k;
                    ok = 1;
                    break;
                }
            }
        }
        if (!ok)
            continue;
        add_span(c, i, last, TAG_NAME);
        i = last;
    }
}

/* ------------------------------------------------------------------ */
/* the redaction                                                        */
/* ------------------------------------------------------------------ */

static int by_first(const void *a, const void *b)
{
    const span *x = a, *y = b;
    return x->first < y->first ? -1 : x->first > y->first;
}

char *earshot__redact(const earshot__redactor *r, const char *text, unsigned *found)
{
    if (found)
        *found = 0;
    if (!r)
        return NULL;
    if (!text)
        text = "";
    ctx c = {.r = r, .text = text};
    tokenize(&c);
    /* Order matters: an e-mail's words must not become a name, an
     * address's number must not become a digit run. */
    if (!c.nomem)
        pass_email(&c);
    if (!c.nomem)
        pass_address(&c);
    if (!c.nomem)
        pass_name(&c);
    if (!c.nomem)
        pass_digits(&c);
    char *out = NULL;
    if (!c.nomem) {
        if (c.n_spans > 1)
            qsort(c.spans, c.n_spans, sizeof *c.spans, by_first);
        size_t len = strlen(text), size = len + 1;
        for (size_t k = 0; k < c.n_spans; k++)
            size += strlen(tags[c.spans[k].type].text);
        out = malloc(size);
    }
    if (out) {
        size_t o = 0, from = 0;
        unsigned bits = 0;
        for (size_t k = 0; k < c.n_spans; k++) {
            const span *sp = &c.spans[k];
            size_t a = c.t[sp->first].start, b = c.t[sp->last].end;
            memcpy(out + o, text + from, a - from);
            o += a - from;
            size_t tl = strlen(tags[sp->type].text);
            memcpy(out + o, tags[sp->type].text, tl);
            o += tl;
            from = b;
            bits |= tags[sp->type].bit;
        }
        size_t rest = strlen(text + from);
        memcpy(out + o, text + from, rest + 1);
        if (found)
            *found = bits;
    }
    free(c.t);
    free(c.spans);
    return out;
}
