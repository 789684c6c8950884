/* grammar.c - reads a grammar folder (grammars/README.md has the format).
 *
 * Every problem is reported with FILE:LINE:COL and the reading goes on, so
 * one run of `earshot grammar check` lists all of them. Expressions are kept
 * as small trees and expanded on demand into token sequences; the matcher
 * indexes those sequences and the domain language model counts them. */
#include "array.h"
#include "grammar.h"
#include "hash.h"
#include "redact.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Limits that keep hostile or mistaken grammars from crashing or hanging
 * the reader: brackets inside brackets on one line; the stack frames one
 * expansion may need (every node on the way to a phrase, rules followed);
 * the size of one file and of the folder (memory is ~20x the bytes). */
enum { MAX_NEST = 64, MAX_FRAMES = 4096 };
#define MAX_FILE_BYTES (4L * 1024 * 1024)
#define MAX_FOLDER_BYTES (16L * 1024 * 1024)

enum { N_WORD, N_SEQ, N_ALT, N_OPT, N_RULE, N_SLOT, N_START, N_ANYNUM, N_END };

typedef struct earshot__node {
    int type;
    int word;       /* N_WORD: vocabulary id; N_SLOT: TOK_*; N_RULE: rule index */
    int file, line, col;
    char *name;     /* N_RULE */
    struct earshot__node **kids;
    size_t n;
    struct earshot__node *target; /* N_RULE, once resolved; not owned */
} node;

typedef struct rule {
    char *name;
    node *expr;
    int file, line, col;
    int state; /* cycle check: 0 new, 1 visiting, 2 done */
    long frames; /* stack frames its expansion needs; -1 too many (reported) */
} rule;

struct earshot__grammar {
    char **files;
    size_t n_files;
    earshot__entry *entries;
    size_t n_entries, cap_entries;
    char **intents, **topics;
    size_t n_intents, n_topics;
    /* topic_signal[i]: topic i came from a [signal NAME] section. Signals
     * are matched like topics but reported apart (effort signals). */
    unsigned char *topic_signal;
    rule *rules;
    size_t n_rules, cap_rules;
    int *rule_slots; /* hash table of rule indices by name, -1 empty */
    size_t n_rule_slots;
    long bytes; /* read from the folder so far */
    /* vocabulary: open-addressing hash of word -> id */
    char **words;
    size_t n_words, cap_words;
    int *slots; /* hash table of ids, -1 empty */
    size_t n_slots;
    uint64_t hash;
    /* diagnostics */
    earshot__diag_fn diag;
    void *user;
    int errors;
    int nomem;
    int col_offset; /* indentation of the line being parsed */
};

/* ------------------------------------------------------------------ */
/* small helpers                                                       */
/* ------------------------------------------------------------------ */

static void diagf(earshot__grammar *g, int file, int line, int col, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    g->errors++;
    if (col > 0)
        col += g->col_offset;
    if (g->diag)
        g->diag(file >= 0 ? g->files[file] : "", line, col, msg, g->user);
}


static size_t hash_str(const char *s, size_t len)
{
    return (size_t)earshot__fnv1a(EARSHOT_FNV_SEED, s, len);
}

static int vocab_find(const earshot__grammar *g, const char *w, size_t len)
{
    if (!g->n_slots)
        return -1;
    size_t mask = g->n_slots - 1;
    for (size_t i = hash_str(w, len) & mask;; i = (i + 1) & mask) {
        int id = g->slots[i];
        if (id < 0)
            return -1;
        if (strlen(g->words[id]) == len && !memcmp(g->words[id], w, len))
            return id;
    }
}

static int vocab_add(earshot__grammar *g, const char *w, size_t len)
{
    int id = vocab_find(g, w, len);
    if (id >= 0)
        return id;
    if ((g->n_words + 1) * 2 > g->n_slots) {
        size_t ns = g->n_slots ? g->n_slots * 2 : 1024;
        int *slots = malloc(ns * sizeof *slots);
        if (!slots)
            return -1;
        for (size_t i = 0; i < ns; i++)
            slots[i] = -1;
        for (size_t k = 0; k < g->n_words; k++) {
            size_t i = hash_str(g->words[k], strlen(g->words[k])) & (ns - 1);
            while (slots[i] >= 0)
                i = (i + 1) & (ns - 1);
            slots[i] = (int)k;
        }
        free(g->slots);
        g->slots = slots;
        g->n_slots = ns;
    }
    if (!earshot__grow((void **)&g->words, &g->cap_words, g->n_words + 1, sizeof *g->words))
        return -1;
    char *copy = strndup(w, len);
    if (!copy)
        return -1;
    id = (int)g->n_words++;
    g->words[id] = copy;
    size_t i = hash_str(w, len) & (g->n_slots - 1);
    while (g->slots[i] >= 0)
        i = (i + 1) & (g->n_slots - 1);
    g->slots[i] = id;
    return id;
}

static void node_free(node *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->n; i++)
        node_free(n->kids[i]);
    free(n->kids);
    free(n->name);
    free(n);
}

static node *node_new(earshot__grammar *g, int type, int file, int line, int col)
{
    node *n = calloc(1, sizeof *n);
    if (!n) {
        g->nomem = 1;
        return NULL;
    }
    n->type = type;
    n->file = file;
    n->line = line;
    n->col = col;
    return n;
}

static int node_add(earshot__grammar *g, node *parent, node *kid)
{
    node **k = realloc(parent->kids, (parent->n + 1) * sizeof *k);
    if (!k) {
        g->nomem = 1;
        node_free(kid);
        return 0;
    }
    parent->kids = k;
    parent->kids[parent->n++] = kid;
    return 1;
}

/* ------------------------------------------------------------------ */
/* expressions                                                          */
/* ------------------------------------------------------------------ */

typedef struct parser {
    earshot__grammar *g;
    const char *s; /* the whole line */
    size_t pos;
    int file, line;
    int failed; /* an error was reported for this line */
    int depth;  /* brackets open at pos */
} parser;

static void skip_ws(parser *p)
{
    while (p->s[p->pos] == ' ' || p->s[p->pos] == '\t')
        p->pos++;
}

static int col(const parser *p)
{
    return (int)p->pos + 1;
}

static void perr(parser *p, int c, const char *fmt, const char *arg)
{
    if (p->failed)
        return; /* one error per line: the rest would be noise after it */
    p->failed = 1;
    char msg[256];
    snprintf(msg, sizeof msg, fmt, arg);
    diagf(p->g, p->file, p->line, c, "%s", msg);
}

static int is_word_char(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '\'' || c == '_';
}

static int is_name_char(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

static node *parse_alt(parser *p, char close);

static node *parse_item(parser *p)
{
    skip_ws(p);
    char c = p->s[p->pos];
    int c0 = col(p);
    if (c == '(' || c == '[') {
        /* The parser recurses once per bracket: bounded, so 5,000 of them
         * are an error rather than a stack overflow. */
        if (p->depth >= MAX_NEST) {
            perr(p, c0, "nested too deeply: more than %s brackets inside each other", "64");
            return NULL;
        }
        p->pos++;
        char close = c == '(' ? ')' : ']';
        p->depth++;
        node *inner = parse_alt(p, close);
        p->depth--;
        if (!inner)
            return NULL;
        if (p->s[p->pos] != close) {
            char what[2] = {c, 0};
            perr(p, c0, "'%s' is never closed", what);
            node_free(inner);
            return NULL;
        }
        p->pos++;
        if (c == '(')
            return inner;
        node *opt = node_new(p->g, N_OPT, p->file, p->line, c0);
        if (!opt || !node_add(p->g, opt, inner)) {
            node_free(opt);
            return NULL;
        }
        return opt;
    }
    if (c == '<' || c == '{') {
        char close = c == '<' ? '>' : '}';
        size_t start = ++p->pos;
        while (is_name_char((unsigned char)p->s[p->pos]))
            p->pos++;
        if (p->s[p->pos] != close || p->pos == start) {
            perr(p, c0, c == '<' ? "bad rule reference: write <name> with a-z, 0-9, _"
                                 : "bad slot: write {name} with a-z, 0-9, _%s",
                 "");
            return NULL;
        }
        size_t len = p->pos - start;
        p->pos++;
        if (c == '{') {
            if (len != 5 || strncmp(p->s + start, "score", 5)) {
                char name[64];
                snprintf(name, sizeof name, "%.*s", (int)len, p->s + start);
                perr(p, c0, "unknown slot {%s}: the only slot is {score}", name);
                return NULL;
            }
            node *n = node_new(p->g, N_SLOT, p->file, p->line, c0);
            if (n)
                n->word = TOK_SLOT_SCORE;
            return n;
        }
        if (len == 6 && !strncmp(p->s + start, "number", 6)) {
            node *n = node_new(p->g, N_ANYNUM, p->file, p->line, c0);
            if (n)
                n->word = TOK_ANY_NUMBER;
            return n;
        }
        node *n = node_new(p->g, N_RULE, p->file, p->line, c0);
        if (n && !(n->name = strndup(p->s + start, len))) {
            p->g->nomem = 1;
            node_free(n);
            return NULL;
        }
        return n;
    }
    if (c == '^' || c == '$') {
        p->pos++;
        node *n = node_new(p->g, c == '^' ? N_START : N_END, p->file, p->line, c0);
        if (n)
            n->word = c == '^' ? TOK_START : TOK_END;
        return n;
    }
    if (is_word_char((unsigned char)c)) {
        size_t start = p->pos;
        while (is_word_char((unsigned char)p->s[p->pos]))
            p->pos++;
        if (isupper((unsigned char)p->s[p->pos])) {
            perr(p, col(p), "words are lower case%s", "");
            return NULL;
        }
        node *n = node_new(p->g, N_WORD, p->file, p->line, c0);
        if (!n)
            return NULL;
        n->word = vocab_add(p->g, p->s + start, p->pos - start);
        if (n->word < 0) {
            p->g->nomem = 1;
            node_free(n);
            return NULL;
        }
        return n;
    }
    if (isupper((unsigned char)c)) {
        perr(p, c0, "words are lower case%s", "");
        return NULL;
    }
    char what[2] = {c, 0};
    perr(p, c0, "unexpected '%s'", what);
    return NULL;
}

/* seq := item*, up to '|', close or end of line. */
static node *parse_seq(parser *p, char close)
{
    node *seq = node_new(p->g, N_SEQ, p->file, p->line, col(p));
    if (!seq)
        return NULL;
    for (;;) {
        skip_ws(p);
        char c = p->s[p->pos];
        if (c == '\0' || c == '|' || (close && c == close))
            break;
        if (c == ')' || c == ']') {
            char what[2] = {c, 0};
            perr(p, col(p), "'%s' without a matching opening bracket", what);
            node_free(seq);
            return NULL;
        }
        node *it = parse_item(p);
        if (!it || !node_add(p->g, seq, it)) {
            node_free(seq);
            return NULL;
        }
    }
    return seq;
}

static node *parse_alt(parser *p, char close)
{
    int c0 = col(p);
    node *alt = node_new(p->g, N_ALT, p->file, p->line, c0);
    if (!alt)
        return NULL;
    for (;;) {
        skip_ws(p);
        int cs = col(p);
        node *seq = parse_seq(p, close);
        if (!seq) {
            node_free(alt);
            return NULL;
        }
        if (seq->n == 0) {
            perr(p, cs, "empty alternative: write [x] for something optional%s", "");
            node_free(seq);
            node_free(alt);
            return NULL;
        }
        if (!node_add(p->g, alt, seq)) {
            node_free(alt);
            return NULL;
        }
        if (p->s[p->pos] != '|')
            break;
        p->pos++;
    }
    if (!close && p->s[p->pos] != '\0') {
        char what[2] = {p->s[p->pos], 0};
        perr(p, col(p), "'%s' without a matching opening bracket", what);
        node_free(alt);
        return NULL;
    }
    return alt;
}

/* ------------------------------------------------------------------ */
/* lines and sections                                                   */
/* ------------------------------------------------------------------ */

enum { SEC_NONE, SEC_INTENT, SEC_TOPIC, SEC_SENTIMENT, SEC_NUMBERS, SEC_RULES, SEC_ANSWERS };

typedef struct file_state {
    int section;
    int target;
} file_state;

static int add_entry(earshot__grammar *g, earshot__entry_kind kind, int target, double w,
                     int file, int line, node *expr)
{
    if (!earshot__grow((void **)&g->entries, &g->cap_entries, g->n_entries + 1, sizeof *g->entries)) {
        g->nomem = 1;
        node_free(expr);
        return 0;
    }
    g->entries[g->n_entries++] = (earshot__entry){
        .kind = kind, .target = target, .weight = w, .line = line, .file = file, .expr = expr};
    return 1;
}

static int find_name(char **names, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(names[i], s))
            return (int)i;
    return -1;
}

static int add_name(earshot__grammar *g, char ***names, size_t *n, const char *s)
{
    char **v = realloc(*names, (*n + 1) * sizeof *v);
    if (!v || !(s = strdup(s))) {
        if (v)
            *names = v;
        g->nomem = 1;
        return -1;
    }
    *names = v;
    v[*n] = (char *)s;
    return (int)(*n)++;
}

/* Parses "WORD W:" / "W:" / "WORD:" prefixes. *weight is set when a number
 * is present. Returns the position after the colon, or 0 if the line has
 * no such prefix. */
static size_t prefix(const char *s, const char *keyword, double *weight, int *has_weight)
{
    size_t i = 0;
    *has_weight = 0;
    if (keyword) {
        size_t k = strlen(keyword);
        if (strncmp(s, keyword, k) || (s[k] != ' ' && s[k] != ':'))
            return 0;
        i = k;
    }
    while (s[i] == ' ' || s[i] == '\t')
        i++;
    char *end;
    errno = 0;
    double w = strtod(s + i, &end);
    if (end != s + i && errno == 0) {
        *weight = w;
        *has_weight = 1;
        i = (size_t)(end - s);
        while (s[i] == ' ' || s[i] == '\t')
            i++;
    }
    if (s[i] != ':')
        return 0;
    return i + 1;
}

static node *parse_expr_at(earshot__grammar *g, const char *line, size_t at, int file,
                           int lineno)
{
    parser p = {.g = g, .s = line, .pos = at, .file = file, .line = lineno};
    skip_ws(&p);
    if (p.s[p.pos] == '\0') {
        diagf(g, file, lineno, col(&p), "nothing after ':'");
        return NULL;
    }
    return parse_alt(&p, 0);
}

static void parse_section(earshot__grammar *g, file_state *st, const char *s, int file,
                          int lineno)
{
    const char *close = strchr(s, ']');
    if (!close || close[1] != '\0') {
        diagf(g, file, lineno, 1, "section header must be one of [intent NAME], "
                                  "[topic NAME], [signal NAME], [sentiment], [numbers], "
                                  "[answers], [rules]");
        st->section = SEC_NONE;
        return;
    }
    char kind[32] = "", name[64] = "";
    size_t len = (size_t)(close - s - 1);
    char body[128];
    snprintf(body, sizeof body, "%.*s", (int)(len < sizeof body ? len : sizeof body - 1), s + 1);
    int n = sscanf(body, "%31s %63s", kind, name);
    int has_name = n == 2;
    if (!strcmp(kind, "sentiment") || !strcmp(kind, "numbers") || !strcmp(kind, "rules") ||
        !strcmp(kind, "answers")) {
        if (has_name) {
            diagf(g, file, lineno, (int)(strstr(s, name) - s) + 1, "[%s] takes no name", kind);
        }
        st->section = kind[0] == 's'   ? SEC_SENTIMENT
                      : kind[0] == 'n' ? SEC_NUMBERS
                      : kind[0] == 'a' ? SEC_ANSWERS
                                       : SEC_RULES;
        return;
    }
    if (strcmp(kind, "intent") && strcmp(kind, "topic") && strcmp(kind, "signal")) {
        diagf(g, file, lineno, 2, "unknown section kind '%s': use intent, topic, signal, "
                                  "sentiment, numbers, answers or rules", kind);
        st->section = SEC_NONE;
        return;
    }
    if (!has_name) {
        diagf(g, file, lineno, 1, "[%s] needs a name, as in [%s NAME]", kind, kind);
        st->section = SEC_NONE;
        return;
    }
    for (const char *c = name; *c; c++) {
        if (!is_name_char((unsigned char)*c)) {
            diagf(g, file, lineno, (int)(strstr(s, name) - s) + 1 + (int)(c - name),
                  "%s names use a-z, 0-9 and _", kind);
            st->section = SEC_NONE;
            return;
        }
    }
    int is_intent = kind[0] == 'i';
    char ***names = is_intent ? &g->intents : &g->topics;
    size_t *count = is_intent ? &g->n_intents : &g->n_topics;
    int is_signal = kind[0] == 's';
    int idx = find_name(*names, *count, name);
    if (idx < 0) {
        idx = add_name(g, names, count, name);
        if (!is_intent && idx >= 0) {
            unsigned char *f = realloc(g->topic_signal, *count);
            if (!f) {
                g->nomem = 1;
                st->section = SEC_NONE;
                return;
            }
            g->topic_signal = f;
            f[idx] = (unsigned char)is_signal;
        }
    } else if (!is_intent && g->topic_signal[idx] != is_signal) {
        diagf(g, file, lineno, (int)(strstr(s, name) - s) + 1, "'%s' is already a %s", name,
              is_signal ? "topic" : "signal");
        st->section = SEC_NONE;
        return;
    }
    st->section = is_intent ? SEC_INTENT : SEC_TOPIC;
    st->target = idx;
}

/* Rules are looked up by name through a hash table: a linear search per
 * reference made a folder of 100,000 rules take more than 300 s. */
static long rule_find(const earshot__grammar *g, const char *name)
{
    if (!g->n_rule_slots)
        return -1;
    size_t mask = g->n_rule_slots - 1;
    for (size_t i = hash_str(name, strlen(name)) & mask;; i = (i + 1) & mask) {
        int id = g->rule_slots[i];
        if (id < 0)
            return -1;
        if (!strcmp(g->rules[id].name, name))
            return id;
    }
}

static void rule_slot_put(int *slots, size_t n_slots, const char *name, int id)
{
    size_t i = hash_str(name, strlen(name)) & (n_slots - 1);
    while (slots[i] >= 0)
        i = (i + 1) & (n_slots - 1);
    slots[i] = id;
}

/* Appends r (taking its name and expr) or frees them when memory ran out. */
static void rule_add(earshot__grammar *g, rule r)
{
    if ((g->n_rules + 1) * 2 > g->n_rule_slots) {
        size_t ns = g->n_rule_slots ? g->n_rule_slots * 2 : 256;
        int *slots = malloc(ns * sizeof *slots);
        if (!slots)
            goto nomem;
        for (size_t i = 0; i < ns; i++)
            slots[i] = -1;
        for (size_t k = 0; k < g->n_rules; k++)
            rule_slot_put(slots, ns, g->rules[k].name, (int)k);
        free(g->rule_slots);
        g->rule_slots = slots;
        g->n_rule_slots = ns;
    }
    if (!earshot__grow((void **)&g->rules, &g->cap_rules, g->n_rules + 1, sizeof *g->rules))
        goto nomem;
    rule_slot_put(g->rule_slots, g->n_rule_slots, r.name, (int)g->n_rules);
    g->rules[g->n_rules++] = r;
    return;
nomem:
    g->nomem = 1;
    node_free(r.expr);
    free(r.name);
}

static void parse_rule_def(earshot__grammar *g, const char *s, int file, int lineno)
{
    const char *gt = strchr(s, '>');
    size_t len = gt ? (size_t)(gt - s - 1) : 0;
    for (size_t i = 0; gt && i < len; i++)
        if (!is_name_char((unsigned char)s[1 + i]))
            gt = NULL;
    if (!gt || len == 0) {
        diagf(g, file, lineno, 1, "bad rule definition: write <name> = expansion");
        return;
    }
    size_t i = (size_t)(gt - s) + 1;
    while (s[i] == ' ' || s[i] == '\t')
        i++;
    if (s[i] != '=') {
        diagf(g, file, lineno, (int)i + 1, "expected '=' after the rule name");
        return;
    }
    char *name = strndup(s + 1, len);
    if (!name) {
        g->nomem = 1;
        return;
    }
    if (!strcmp(name, "number")) {
        diagf(g, file, lineno, 2, "<number> is built in (a number word 0-10) and cannot be "
                                  "redefined");
        free(name);
        return;
    }
    long k = rule_find(g, name);
    if (k >= 0) {
        diagf(g, file, lineno, 2, "rule <%s> is already defined at %s:%d", name,
              g->files[g->rules[k].file], g->rules[k].line);
        free(name);
        return;
    }
    parser p = {.g = g, .s = s, .pos = i + 1, .file = file, .line = lineno};
    skip_ws(&p);
    if (!s[p.pos]) {
        diagf(g, file, lineno, col(&p), "rule <%s> is empty", name);
        free(name);
        return;
    }
    node *expr = parse_alt(&p, 0);
    if (!expr) {
        free(name);
        return;
    }
    rule_add(g, (rule){.name = name, .expr = expr, .file = file, .line = lineno, .col = 2});
}

static void parse_line(earshot__grammar *g, file_state *st, char *s, int file, int lineno)
{
    double w = 1.0;
    int hw;
    size_t at;
    /* "[intent x]" alone on its line is a section; "[please] help me" is
     * a template that starts with an optional word. */
    const char *close = s[0] == '[' ? strchr(s, ']') : NULL;
    if (close && close[1] == '\0' && !strchr(s, '|')) {
        parse_section(g, st, s, file, lineno);
        return;
    }
    if (s[0] == '<' && strchr(s, '=')) {
        parse_rule_def(g, s, file, lineno);
        return;
    }
    node *e;
    switch (st->section) {
    case SEC_NONE:
        diagf(g, file, lineno, 1, "line outside any section: start with [intent NAME], "
                                  "[topic NAME], [signal NAME], [sentiment], [numbers], "
                                  "[answers] or [rules]");
        return;
    case SEC_RULES:
        diagf(g, file, lineno, 1, "[rules] holds only rule definitions: <name> = expansion");
        return;
    case SEC_INTENT:
        if (!strncmp(s, "sentiment ", 10)) {
            char pol[16];
            double f;
            if (sscanf(s + 10, "%15s %lf", pol, &f) != 2 ||
                (strcmp(pol, "positive") && strcmp(pol, "negative"))) {
                diagf(g, file, lineno, 11, "read 'sentiment positive W' or 'sentiment "
                                           "negative W'");
                return;
            }
            add_entry(g, pol[0] == 'p' ? ENTRY_FROM_POSITIVE : ENTRY_FROM_NEGATIVE, st->target,
                      f, file, lineno, NULL);
            return;
        }
        if ((at = prefix(s, "cue", &w, &hw)) && hw) {
            if ((e = parse_expr_at(g, s, at, file, lineno)))
                add_entry(g, ENTRY_CUE, st->target, w, file, lineno, e);
        } else if (!strncmp(s, "cue", 3) && (s[3] == ' ' || s[3] == ':')) {
            diagf(g, file, lineno, 1, "cue lines read 'cue WEIGHT: expansion'");
        } else if ((e = parse_expr_at(g, s, 0, file, lineno))) {
            add_entry(g, ENTRY_TEMPLATE, st->target, 1.0, file, lineno, e);
        }
        return;
    case SEC_TOPIC:
        at = prefix(s, NULL, &w, &hw);
        if ((e = parse_expr_at(g, s, at, file, lineno)))
            add_entry(g, ENTRY_TOPIC, st->target, w, file, lineno, e);
        return;
    case SEC_SENTIMENT: {
        static const struct {
            const char *kw;
            earshot__entry_kind kind;
            int needs_weight;
        } kinds[] = {{"positive", ENTRY_POSITIVE, 1}, {"negative", ENTRY_NEGATIVE, 1},
                     {"intensifier", ENTRY_INTENSIFIER, 1}, {"negator", ENTRY_NEGATOR, 0},
                     {"contrast", ENTRY_CONTRAST, 0}, {"hypothetical", ENTRY_HYPOTHETICAL, 0}};
        for (size_t k = 0; k < sizeof kinds / sizeof *kinds; k++) {
            at = prefix(s, kinds[k].kw, &w, &hw);
            if (!at)
                continue;
            if (kinds[k].needs_weight && !hw) {
                diagf(g, file, lineno, (int)strlen(kinds[k].kw) + 1,
                      "%s needs a weight, as in '%s 1.0: ...'", kinds[k].kw, kinds[k].kw);
                return;
            }
            if ((e = parse_expr_at(g, s, at, file, lineno)))
                add_entry(g, kinds[k].kind, 0, hw ? w : 1.0, file, lineno, e);
            return;
        }
        diagf(g, file, lineno, 1, "sentiment lines start with positive W:, negative W:, "
                                  "intensifier W:, negator:, contrast: or hypothetical:");
        return;
    }
    case SEC_ANSWERS: {
        /* How a customer answers a question put to them; the matcher
         * reads these only while a question is pending. */
        static const struct {
            const char *kw;
            int target;
        } kinds[] = {{"yes", EARSHOT__ANSWER_YES}, {"no", EARSHOT__ANSWER_NO},
                     {"unsure", EARSHOT__ANSWER_UNSURE}, {"filler", EARSHOT__ANSWER_FILLER}};
        for (size_t k = 0; k < sizeof kinds / sizeof *kinds; k++) {
            at = prefix(s, kinds[k].kw, &w, &hw);
            if (!at)
                continue;
            if ((e = parse_expr_at(g, s, at, file, lineno)))
                add_entry(g, ENTRY_ANSWER, kinds[k].target, 1.0, file, lineno, e);
            return;
        }
        diagf(g, file, lineno, 1, "answer lines start with yes:, no:, unsure: or filler:");
        return;
    }
    case SEC_NUMBERS:
        if ((at = prefix(s, "not_score", &w, &hw))) {
            if ((e = parse_expr_at(g, s, at, file, lineno)))
                add_entry(g, ENTRY_NOT_SCORE, 0, 1.0, file, lineno, e);
            return;
        }
        at = prefix(s, NULL, &w, &hw);
        if (!at || !hw || !(w >= 0 && w <= 10) || w != (int)w) {
            diagf(g, file, lineno, 1, "number lines read 'N: words' with N from 0 to 10, "
                                      "or 'not_score: ...'");
            return;
        }
        if ((e = parse_expr_at(g, s, at, file, lineno)))
            add_entry(g, ENTRY_NUMBER, (int)w, 1.0, file, lineno, e);
        return;
    }
}

static int read_file(earshot__grammar *g, const char *path, int file)
{
    /* Only regular files: a FIFO named x.grammar would block the open (and
     * the read) for ever, a device would never end. O_NONBLOCK makes the
     * open itself return, fstat then tells what it is. */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        diagf(g, file, 0, 0, "cannot read: %s", strerror(errno));
        return 0;
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        diagf(g, file, 0, 0, "not a regular file: only regular *.grammar files are read");
        close(fd);
        return 0;
    }
    if (sb.st_size > MAX_FILE_BYTES) {
        diagf(g, file, 0, 0, "too large (%.1f MB): a grammar file holds at most %ld MB",
              (double)sb.st_size / (1024 * 1024), MAX_FILE_BYTES / (1024 * 1024));
        close(fd);
        return 0;
    }
    if (g->bytes + sb.st_size > MAX_FOLDER_BYTES) {
        diagf(g, file, 0, 0, "too large: the folder's grammar files hold more than %ld MB "
              "together", MAX_FOLDER_BYTES / (1024 * 1024));
        close(fd);
        return 0;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0)
        fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    FILE *f = fdopen(fd, "r");
    if (!f) {
        diagf(g, file, 0, 0, "cannot read: %s", strerror(errno));
        close(fd);
        return 0;
    }
    file_state st = {SEC_NONE, 0};
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int lineno = 0;
    long file_bytes = 0;
    g->hash = earshot__fnv1a(g->hash, g->files[file], strlen(g->files[file]) + 1);
    while ((len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        /* A file that grows while read (or a /proc file, size 0) is held
         * to the same limit. */
        g->bytes += len;
        file_bytes += len;
        if (g->bytes > MAX_FOLDER_BYTES || file_bytes > MAX_FILE_BYTES) {
            diagf(g, file, 0, 0, "too large: a grammar file holds at most %ld MB",
                  MAX_FILE_BYTES / (1024 * 1024));
            break;
        }
        g->hash = earshot__fnv1a(g->hash, line, (size_t)len);
        /* Comments run from '#' to the end of the line. */
        char *hash = strchr(line, '#');
        if (hash)
            *hash = '\0';
        char *end = line + strlen(line);
        while (end > line && (end[-1] == '\n' || end[-1] == '\r' || end[-1] == ' ' ||
                              end[-1] == '\t'))
            *--end = '\0';
        char *s = line;
        while (*s == ' ' || *s == '\t')
            s++;
        if (!*s)
            continue;
        /* Columns count from the start of the line as written. */
        g->col_offset = (int)(s - line);
        parse_line(g, &st, s, file, lineno);
        if (g->nomem)
            break;
    }
    free(line);
    fclose(f);
    return 1;
}

/* ------------------------------------------------------------------ */
/* rule resolution                                                      */
/* ------------------------------------------------------------------ */

static void resolve(earshot__grammar *g, node *n)
{
    if (!n)
        return;
    if (n->type == N_RULE) {
        long r = rule_find(g, n->name);
        if (r < 0) {
            diagf(g, n->file, n->line, n->col, "unknown rule <%s>", n->name);
        } else {
            n->target = g->rules[r].expr;
            n->word = (int)r;
        }
        return;
    }
    for (size_t i = 0; i < n->n; i++)
        resolve(g, n->kids[i]);
}

/* The stack frames expanding n needs at most (walk() below takes one per
 * node on the way to a phrase: every part of a sequence, one choice of an
 * alternative, a rule's body), once the rules it uses are measured; -1
 * when a rule it uses was too deep (already reported). Recursion here
 * follows brackets only, which the parser bounds. */
static long frames_of(const earshot__grammar *g, const node *n)
{
    if (!n)
        return 1;
    long f = 0, k;
    switch (n->type) {
    case N_RULE:
        if (!n->target)
            return 1;
        k = g->rules[n->word].frames;
        return k < 0 ? -1 : 1 + k;
    case N_SEQ:
        for (size_t i = 0; i < n->n; i++) {
            if ((k = frames_of(g, n->kids[i])) < 0)
                return -1;
            f += k;
            if (f > MAX_FRAMES)
                f = MAX_FRAMES + 1; /* saturate: no overflow on long lines */
        }
        return 1 + f;
    case N_ALT:
    case N_OPT:
        for (size_t i = 0; i < n->n; i++) {
            if ((k = frames_of(g, n->kids[i])) < 0)
                return -1;
            if (k > f)
                f = k;
        }
        return 1 + f;
    default:
        return 1;
    }
}

/* The first reference in n to a rule not yet measured. */
static node *next_ref(const earshot__grammar *g, node *n)
{
    if (!n)
        return NULL;
    if (n->type == N_RULE)
        return n->target && g->rules[n->word].state != 2 ? n : NULL;
    for (size_t i = 0; i < n->n; i++) {
        node *r = next_ref(g, n->kids[i]);
        if (r)
            return r;
    }
    return NULL;
}

/* Cycles and depth, rule by rule, depth first with a stack of our own:
 * the recursive version overflowed on a chain of 4,000 rules. A rule is
 * measured once all the rules it uses are (state 2); a reference back to a
 * rule still open (state 1) is a cycle, reported and cut. The first rule
 * too deep to expand is reported; the rules and lines using it are not
 * (one error, not thousands). */
static void check_rules(earshot__grammar *g)
{
    if (!g->n_rules)
        return;
    size_t *stack = malloc(g->n_rules * sizeof *stack), sp = 0;
    if (!stack) {
        g->nomem = 1;
        return;
    }
    for (size_t i = 0; i < g->n_rules; i++) {
        if (g->rules[i].state)
            continue;
        g->rules[i].state = 1;
        stack[sp++] = i;
        while (sp) {
            rule *r = &g->rules[stack[sp - 1]];
            node *ref = next_ref(g, r->expr);
            if (ref) {
                rule *t = &g->rules[ref->word];
                if (t->state == 1) {
                    diagf(g, ref->file, ref->line, ref->col, "rule <%s> refers back to itself",
                          ref->name);
                    ref->target = NULL;
                } else {
                    t->state = 1;
                    stack[sp++] = (size_t)ref->word;
                }
                continue;
            }
            r->frames = frames_of(g, r->expr);
            r->state = 2;
            sp--;
            if (r->frames > MAX_FRAMES) {
                diagf(g, r->file, r->line, r->col, "nested too deeply: <%s> expands through "
                      "more than %d rules and brackets", r->name, MAX_FRAMES);
                r->frames = -1;
            }
        }
    }
    free(stack);
    for (size_t i = 0; i < g->n_entries; i++) {
        earshot__entry *e = &g->entries[i];
        if (e->expr && frames_of(g, e->expr) > MAX_FRAMES)
            diagf(g, e->file, e->line, 1, "nested too deeply: this line expands through "
                  "more than %d rules and brackets", MAX_FRAMES);
    }
}

/* ------------------------------------------------------------------ */
/* public (internal) interface                                          */
/* ------------------------------------------------------------------ */

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static int is_grammar_file(const struct dirent *d)
{
    size_t n = strlen(d->d_name);
    return d->d_name[0] != '.' && n > 8 && !strcmp(d->d_name + n - 8, ".grammar");
}

earshot__grammar *earshot__grammar_load(const char *dir, earshot__diag_fn diag, void *user)
{
    earshot__grammar *g = calloc(1, sizeof *g);
    if (!g) {
        if (diag)
            diag(dir, 0, 0, "out of memory", user);
        return NULL;
    }
    g->diag = diag;
    g->user = user;
    g->hash = EARSHOT_FNV_SEED;
    struct dirent **list = NULL;
    int n = scandir(dir, &list, is_grammar_file, by_name);
    if (n < 0) {
        if (diag) {
            char msg[300];
            snprintf(msg, sizeof msg, "cannot read grammar folder: %s", strerror(errno));
            diag(dir, 0, 0, msg, user);
        }
        free(g);
        return NULL;
    }
    if (n == 0) {
        if (diag)
            diag(dir, 0, 0, "no *.grammar files in this folder", user);
        free(list);
        free(g);
        return NULL;
    }
    g->files = calloc((size_t)n, sizeof *g->files);
    if (!g->files)
        g->nomem = 1;
    for (int i = 0; i < n; i++) {
        if (g->files && !g->nomem) {
            size_t len = strlen(dir) + strlen(list[i]->d_name) + 2;
            g->files[i] = malloc(len);
            if (g->files[i]) {
                snprintf(g->files[i], len, "%s/%s", dir, list[i]->d_name);
                g->n_files++;
                read_file(g, g->files[i], i);
            } else {
                g->nomem = 1;
            }
        }
        free(list[i]);
    }
    free(list);
    for (size_t i = 0; i < g->n_rules; i++)
        resolve(g, g->rules[i].expr);
    for (size_t i = 0; i < g->n_entries; i++)
        resolve(g, g->entries[i].expr);
    if (!g->nomem)
        check_rules(g);
    if (!g->nomem && g->n_intents == 0) {
        /* A problem of the whole folder is reported against the folder,
         * as "no *.grammar files" is: never an empty file name. */
        g->errors++;
        if (diag)
            diag(dir, 0, 0, "no [intent NAME] section in any *.grammar file", user);
    }
    if (g->nomem && diag)
        diag(dir, 0, 0, "out of memory", user);
    if (g->nomem) {
        earshot__grammar_free(g);
        return NULL;
    }
    return g;
}

int earshot__grammar_n_errors(const earshot__grammar *g)
{
    return g->errors;
}

void earshot__grammar_free(earshot__grammar *g)
{
    if (!g)
        return;
    for (size_t i = 0; i < g->n_entries; i++)
        node_free(g->entries[i].expr);
    free(g->entries);
    for (size_t i = 0; i < g->n_rules; i++) {
        free(g->rules[i].name);
        node_free(g->rules[i].expr);
    }
    free(g->rules);
    free(g->rule_slots);
    for (size_t i = 0; i < g->n_intents; i++)
        free(g->intents[i]);
    free(g->intents);
    for (size_t i = 0; i < g->n_topics; i++)
        free(g->topics[i]);
    free(g->topics);
    free(g->topic_signal);
    for (size_t i = 0; i < g->n_words; i++)
        free(g->words[i]);
    free(g->words);
    free(g->slots);
    for (size_t i = 0; i < g->n_files; i++)
        free(g->files[i]);
    free(g->files);
    free(g);
}

size_t earshot__grammar_n_entries(const earshot__grammar *g) { return g->n_entries; }
const earshot__entry *earshot__grammar_entry(const earshot__grammar *g, size_t i)
{
    return &g->entries[i];
}
size_t earshot__grammar_n_intents(const earshot__grammar *g) { return g->n_intents; }
const char *earshot__grammar_intent(const earshot__grammar *g, size_t i) { return g->intents[i]; }
size_t earshot__grammar_n_topics(const earshot__grammar *g) { return g->n_topics; }
const char *earshot__grammar_topic(const earshot__grammar *g, size_t i) { return g->topics[i]; }
int earshot__grammar_topic_is_signal(const earshot__grammar *g, size_t i)
{
    return g->topic_signal[i];
}
const char *earshot__grammar_file(const earshot__grammar *g, size_t i) { return g->files[i]; }
uint64_t earshot__grammar_hash(const earshot__grammar *g) { return g->hash; }
int earshot__grammar_word_id(const earshot__grammar *g, const char *w, size_t len)
{
    return vocab_find(g, w, len);
}
const char *earshot__grammar_word(const earshot__grammar *g, int id) { return g->words[id]; }
size_t earshot__grammar_n_words(const earshot__grammar *g) { return g->n_words; }

/* Expansion walks the tree with an explicit chain of pending nodes, so a
 * sequence, an alternative or an optional part each continue with "the
 * rest" without building intermediate lists. */
typedef struct pending {
    const node *n;
    const struct pending *next;
} pending;

typedef struct expand_ctx {
    int toks[256];
    size_t n;
    long count, max;
    int (*fn)(const int *, size_t, void *);
    void *user;
    int stop;
    /* The pending chains of the sequences under way, taken and given back
     * in stack order: kept off the C stack so that a frame stays small. */
    pending pool[MAX_FRAMES];
    size_t pool_n;
    int depth;   /* walk() frames under way; load bounds it (check_rules) */
    long steps;  /* walk() calls, a cap on the work one expansion may do */
} expand_ctx;

/* Work one expansion may do: at most max phrases of at most MAX_FRAMES
 * nodes each, so this is a guard that never trips on a grammar that
 * loaded; it stops a caller that expands a grammar with errors. */
#define MAX_STEPS 200000000L

static void overflow(expand_ctx *c)
{
    c->stop = 1;
    c->count = c->max + 1;
}

static void walk(expand_ctx *c, const pending *p);

static void walk_in(expand_ctx *c, const pending *p)
{
    if (c->depth >= MAX_FRAMES + 1 || ++c->steps > MAX_STEPS) {
        overflow(c);
        return;
    }
    c->depth++;
    walk(c, p);
    c->depth--;
}

static void walk(expand_ctx *c, const pending *p)
{
    if (c->stop)
        return;
    if (p && !p->n) {
        /* A reference left unresolved (an error already reported). */
        walk_in(c, p->next);
        return;
    }
    if (!p) {
        if (++c->count > c->max) {
            c->stop = 1;
            return;
        }
        if (c->fn && c->fn(c->toks, c->n, c->user))
            c->stop = 1;
        return;
    }
    const node *n = p->n;
    switch (n->type) {
    case N_WORD:
    case N_SLOT:
    case N_START:
    case N_END:
    case N_ANYNUM:
        if (c->n >= sizeof c->toks / sizeof *c->toks) {
            overflow(c);
            return;
        }
        c->toks[c->n++] = n->word;
        walk_in(c, p->next);
        c->n--;
        return;
    case N_SEQ: {
        if (n->n == 0) {
            walk_in(c, p->next);
            return;
        }
        if (n->n > 64 || c->pool_n + n->n > MAX_FRAMES) {
            overflow(c);
            return;
        }
        pending *chain = c->pool + c->pool_n;
        c->pool_n += n->n;
        for (size_t i = 0; i < n->n; i++)
            chain[i] = (pending){n->kids[i], i + 1 < n->n ? &chain[i + 1] : p->next};
        walk_in(c, &chain[0]);
        c->pool_n -= n->n;
        return;
    }
    case N_ALT:
        for (size_t i = 0; i < n->n && !c->stop; i++) {
            pending q = {n->kids[i], p->next};
            walk_in(c, &q);
        }
        return;
    case N_OPT: {
        walk_in(c, p->next);
        pending q = {n->kids[0], p->next};
        walk_in(c, &q);
        return;
    }
    case N_RULE: {
        pending q = {n->target, p->next};
        walk_in(c, &q);
        return;
    }
    }
}

long earshot__grammar_expand(const earshot__grammar *g, const earshot__entry *e, long max,
                             int (*fn)(const int *toks, size_t n, void *user), void *user)
{
    (void)g;
    expand_ctx *c = calloc(1, sizeof *c);
    if (!c)
        return -1;
    *c = (expand_ctx){.max = max, .fn = fn, .user = user};
    pending p = {e->expr, NULL};
    walk(c, &p);
    long n = c->count > max ? -1 : c->count;
    free(c);
    return n;
}

static void each_word(const earshot__grammar *g, const node *n, earshot__word_fn fn, void *user)
{
    if (!n)
        return;
    if (n->type == N_WORD)
        fn(g->words[n->word], g->files[n->file], n->line, n->col, user);
    for (size_t i = 0; i < n->n; i++)
        each_word(g, n->kids[i], fn, user);
}

void earshot__grammar_each_word(const earshot__grammar *g, earshot__word_fn fn, void *user)
{
    for (size_t i = 0; i < g->n_rules; i++)
        each_word(g, g->rules[i].expr, fn, user);
    for (size_t i = 0; i < g->n_entries; i++)
        each_word(g, g->entries[i].expr, fn, user);
}

/* ------------------------------------------------------------------ */
/* public: default folder and check                                     */
/* ------------------------------------------------------------------ */

#ifndef EARSHOT_GRAMMAR_DIR
#define EARSHOT_GRAMMAR_DIR "/usr/local/share/earshot/grammars/en-us"
#endif
#ifndef EARSHOT_SOURCE_GRAMMAR_DIR
#define EARSHOT_SOURCE_GRAMMAR_DIR "grammars/en-us"
#endif

const char *earshot_default_grammar_dir(void)
{
    /* Installed copy first; a library built but not installed finds the
     * grammar in its source tree. */
    static const char installed[] = EARSHOT_GRAMMAR_DIR;
    /* A relocated install (a staging folder, an app bundle) names its
     * folder in the environment. */
    const char *env = getenv("EARSHOT_GRAMMAR_DIR");
    if (env && *env)
        return env;
#ifdef EARSHOT_NO_SOURCE_GRAMMAR_DIR
    /* The copy make install puts in place never falls back on the build
     * tree: a missing grammar folder is reported as missing. */
    return installed;
#else
    struct stat st;
    if (stat(installed, &st) == 0 && S_ISDIR(st.st_mode))
        return installed;
    return EARSHOT_SOURCE_GRAMMAR_DIR;
#endif
}
