/* redact.c - personal data out of transcripts, before they are stored.
 *
 * The shape: the rules file (grammars/README.md, "Redaction rules") is
 * read into a lexicon (redact_rules.c), where each word carries flags (a
 * number word and its value, a street word, a name, never a name, ...),
 * and a list of cue phrases ("my name is", "call me on"). A text is cut
 * into tokens (words, runs of digits, single punctuation marks, written
 * e-mail addresses; redact_text.h), and one pass per kind of personal
 * data walks the token array and records the spans to replace: a number
 * continued from the last utterance, e-mail, dates of birth, addresses,
 * identity codes, postcodes (those four in redact_shapes.c), names and
 * last digit runs, each pass skipping tokens an earlier pass took. The
 * output copies the original bytes between spans, so case, spacing and
 * punctuation are kept exactly.
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
#include "redact_text.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Limits. */
#define NAME_MAX_WORDS 3    /* "mary ann jones" */
#define ADDRESS_MAX_WORDS 6 /* words after the house number */
#define CUE_GAP_MAX 3       /* glue words or ':' ',' between a cue and its value */
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
/* tokens                                                               */
/* ------------------------------------------------------------------ */

static const struct {
    const char *text;
    unsigned bit;
} tags[] = {
    {"[PHONE]", EARSHOT__PII_PHONE},   {"[CARD]", EARSHOT__PII_CARD},
    {"[NUMBER]", EARSHOT__PII_NUMBER}, {"[EMAIL]", EARSHOT__PII_EMAIL},
    {"[NAME]", EARSHOT__PII_NAME},     {"[ADDRESS]", EARSHOT__PII_ADDRESS},
    {"[DATE]", EARSHOT__PII_DATE},     {"[POSTCODE]", EARSHOT__PII_POSTCODE},
};

static int is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
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
                size_t nl = earshot__rules_normalize(c->text + i, j - i, norm);
                if (nl)
                    t.id = earshot__rules_find(c->r, norm, nl);
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
int earshot__cue_before(const ctx *c, size_t i, unsigned mask, int glue, int *strong)
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

void earshot__add_span(ctx *c, size_t first, size_t last, int type)
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
size_t earshot__spoken_number(const ctx *c, size_t i, digits *g)
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
    size_t len = earshot__spoken_number(c, i, g);
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

/* Dutch BSN (burgerservicenummer): nine digits passing the "11-test",
 * 9*d1 + 8*d2 + ... + 2*d8 - d9 divisible by 11. */
static int bsn_valid(const digits *g)
{
    if (g->unknown || g->n != 9)
        return 0;
    int sum = 0;
    for (int k = 0; k < 8; k++)
        sum += (9 - k) * (g->d[k] - '0');
    sum -= g->d[8] - '0';
    return sum % 11 == 0 && sum != 0;
}

/* Belgian national register number: eleven digits, the last two 97 minus
 * the first nine mod 97 (with a 2 in front of them for people born in
 * 2000 or later). */
static int be_nrn_valid(const digits *g)
{
    if (g->unknown || g->n != 11)
        return 0;
    long long first = 0;
    for (int k = 0; k < 9; k++)
        first = first * 10 + (g->d[k] - '0');
    int check = (g->d[9] - '0') * 10 + (g->d[10] - '0');
    return 97 - first % 97 == check || 97 - (2000000000LL + first) % 97 == check;
}

/* A US social security number read in its 3-2-4 groups: area not 000,
 * 666 or 9xx, group not 00, serial not 0000. (It has no check digit; the
 * grouping is what tells it from other nine digits.) */
static int ssn_valid(const digits *g, const int *groups, int n_groups)
{
    if (g->unknown || g->n != 9 || n_groups != 3 || groups[0] != 3 || groups[1] != 2 ||
        groups[2] != 4)
        return 0;
    const char *d = g->d;
    if (!memcmp(d, "000", 3) || !memcmp(d, "666", 3) || d[0] == '9')
        return 0;
    return memcmp(d + 3, "00", 2) && memcmp(d + 5, "0000", 4);
}

/* Whether digits read in groups with "and", "dash" or a comma between
 * them carry a checksum or the shape of an identity number, which makes
 * them one number even when the groups were said as "fourteen eighty
 * eight" rather than digit by digit. */
static int id_checksum(const digits *g, const int *groups, int n_groups)
{
    return (g->n >= 13 && g->n <= 19 && luhn(g)) || bsn_valid(g) || be_nrn_valid(g) ||
           ssn_valid(g, groups, n_groups);
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

/* A word or mark that may join two digit groups: "and", "dash", ','. */
static int digit_join(const ctx *c, size_t i)
{
    return (free_word(c, i) && (flags_of(c, i) & W_DIGIT_JOIN)) || punct_is(c, i, ",");
}

/* How many join tokens stand at i: one, or two ("and then", ", and");
 * 0 when none. The caller checks that digits follow. */
static size_t digit_join_len(const ctx *c, size_t i)
{
    if (!digit_join(c, i))
        return 0;
    return digit_join(c, i + 1) ? 2 : 1;
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
    int cue = earshot__cue_before(c, i, CUE_BIT(CUE_PHONE) | CUE_BIT(CUE_CARD) | CUE_BIT(CUE_NUMBER), 1,
                         &strong);
    if (cue < 0 || !strong)
        return 0;
    digits g = {0}, kept = {0};
    size_t j = i, first = 0, last = 0, like_last = 0;
    int started = 0, elements = 0, kept_elements = 0, plus = 0, open = 0, noise = 0;
    int pending = 0; /* digit-like words after the last real digit */
    /* The state before the last "and"/"then"/','  between digit groups: a
     * group of one digit after it ("... and two items") is no part of the
     * number. */
    digits join_kept = {0};
    size_t join_last = 0;
    int join_elements = 0, joined = 0;
    while (j < c->n && j - i < STRETCH_MAX_TOKENS) {
        const token *t = &c->t[j];
        int cls;
        size_t len;
        if (t->taken || t->kind == T_EMAIL)
            break;
        size_t nj;
        if (started && kept_elements && !pending && (nj = digit_join_len(c, j))) {
            digits probe = {0};
            int pcls;
            if (digit_element(c, j + nj, &probe, &pcls) && !is_like(pcls)) {
                join_kept = kept;
                join_last = last;
                join_elements = kept_elements;
                joined = 1;
                noise = 0;
                j += nj;
                continue;
            }
        }
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
        /* Groups after a join are digits only: in "... one two three,
         * nine out of ten" the rating is no group. */
        if (joined || ++noise > (started ? STRETCH_NOISE_MAX : 1))
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
    if (joined && kept.n - join_kept.n < 2) {
        kept = join_kept;
        last = join_last;
        kept_elements = join_elements;
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
    earshot__add_span(c, first, last, type);
    *ip = last + 1;
    return 1;
}

/* One group of a run between joins, for the digit-by-digit test: every
 * element a single spoken digit ("four", "double oh"), none of them
 * "fourteen", "ninety nine", written digits or a digit-like word. */
typedef struct group {
    size_t digits;
    int single; /* every element so far one spoken digit */
} group;

static void group_add(group *gr, int cls, size_t n)
{
    gr->digits += n;
    if (cls != EL_SINGLE)
        gr->single = 0;
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
                earshot__add_span(c, i, i, TAG_NUMBER);
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
        int cue = earshot__cue_before(c, start, CUE_BIT(CUE_PHONE) | CUE_BIT(CUE_CARD) |
                                           CUE_BIT(CUE_NUMBER), 1, NULL);
        /* After a cue, '/' and '.' join too: "date of birth is
         * 12/05/1980". Without one they are dates, fractions and prices. */
        const char *joins = cue >= 0 ? "-()/." : "-()";
        size_t last = j + len - 1;
        /* Groups joined by a digit-join word or a comma ("four five three
         * nine and one four eight eight ..."): each needs two or more
         * digits, and the whole is one number only when every group was
         * read digit by digit, a cue came first, or the digits pass a
         * checksum (id_checksum()); otherwise the run ends before the
         * first join, as "four ninety nine and two fifty" must. */
        group grp = {0, 1};
        group_add(&grp, cls, g.n);
        int groups[8], n_groups = 0, n_joins = 0, all_single = 1;
        digits at_join = {0}, at_last_join = {0}, at_like = {0};
        size_t at_join_last = 0, at_last_join_last = 0, like_tok = 0, at_like_last = 0;
        int had_like = 0, had_multi = cls == EL_MULTI;
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
            size_t nj;
            if (!more && k == j && (nj = digit_join_len(c, k)) && grp.digits >= 2 &&
                !is_like(prev)) {
                size_t before_n = g.n;
                more = digit_element(c, k + nj, &g, &ncls);
                if (more && is_like(ncls)) {
                    g = before;
                    more = 0;
                }
                if (more) {
                    if (!n_joins) {
                        at_join = before;
                        at_join_last = last;
                    }
                    at_last_join = before;
                    at_last_join_last = last;
                    if (n_groups < 8)
                        groups[n_groups++] = (int)grp.digits;
                    n_joins++;
                    all_single = all_single && grp.single;
                    grp = (group){0, 1};
                    group_add(&grp, ncls, g.n - before_n);
                    k += nj;
                }
            } else if (more) {
                group_add(&grp, ncls, g.n - before.n);
            }
            if (!more)
                break;
            /* After "thirty" or "seven hundred" it is a word again:
             * "thirty to forty five" is a range, not 30245. */
            if (is_like(ncls) && prev == EL_MULTI) {
                g = before;
                break;
            }
            had_multi |= ncls == EL_MULTI;
            if (is_like(ncls) && !had_like) {
                had_like = 1;
                at_like = before;
                at_like_last = last;
                like_tok = k;
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
        if (n_joins) {
            int whole_single = all_single && grp.single;
            if (grp.digits < 2) {
                /* "... and four four four and two": the last group is a
                 * count or a word, not the number's end. */
                g = at_last_join;
                last = at_last_join_last;
                n_joins--;
                whole_single = all_single;
            } else if (n_groups < 8) {
                groups[n_groups++] = (int)grp.digits;
            }
            int ok = cue >= 0 || (whole_single && !g.unknown) ||
                     id_checksum(&g, groups, n_groups);
            if (n_joins && !ok) {
                g = at_join;
                last = at_join_last;
            }
        }
        /* Without a cue a digit-like word next to "thirty" or "fifteen" is
         * a word, unless the run is as long as a phone number: "from one
         * to two thirty" is a time, "seven to nine w nine nine" digits. */
        if (had_like && had_multi && cue < 0 && like_tok <= last && g.n < 7) {
            g = at_like;
            last = at_like_last;
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
            earshot__add_span(c, start, last, type);
        /* A run that is no personal data is skipped whole: its tail is no
         * run of its own. */
        i = last + 1;
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
    return earshot__spoken_number(c, i, &g);
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
        int cue = earshot__cue_before(c, i, mask, 0, NULL);
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
        earshot__add_span(c, i, last, TAG_ADDRESS);
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
            earshot__add_span(c, i, last, TAG_NAME);
            i = last;
            continue;
        }
        if (!name_word(c, i))
            continue;
        int cue = earshot__cue_before(c, i, mask, 0, NULL);
        if (cue < 0)
            continue;
        unsigned f = flags_of(c, i);
        size_t last = i;
        int ok = cue == CUE_NAME || ((f & W_NAME) && !(f & W_AMBIGUOUS));
        if (ok) {
            /* Surnames follow; a name that is also a word ("will", "may")
             * is more likely the verb: "my husband david will collect it". */
            while (last + 1 - i < NAME_MAX_WORDS && name_word(c, last + 1) &&
                   !(flags_of(c, last + 1) & W_AMBIGUOUS))
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
        earshot__add_span(c, i, last, TAG_NAME);
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

/* A number read out across a pause: the recogniser cuts "four five three
 * nine ... one four eight eight ..." into utterances, and the later ones
 * have too few digits to be anything alone. When the previous utterance
 * left a number open (open_tag), the digits this one starts with (after a
 * join word or a filler like "um") continue it: two or more digits in two
 * or more elements or written, so "twenty pounds" and "nine out of ten"
 * stay. */
static void pass_continued(ctx *c, int type)
{
    size_t i = 0;
    while (i < c->n && i < 2 && free_word(c, i) &&
           (flags_of(c, i) & (W_DIGIT_JOIN | W_GLUE | W_BREAK)) && !(flags_of(c, i) & W_NUMBER))
        i++;
    digits g = {0};
    size_t j = i, last = 0;
    int elements = 0, written = 0, have = 0, cls;
    for (int guard = 0; guard < STRETCH_MAX_TOKENS && j < c->n; guard++) {
        size_t nj = 0;
        if (elements && (nj = digit_join_len(c, j)) == 0 && punct_is(c, j, "-"))
            nj = 1;
        digits before = g;
        size_t len = digit_element(c, j + nj, &g, &cls);
        if (!len || (is_like(cls) && !elements)) {
            g = before;
            break;
        }
        written |= c->t[j + nj].kind == T_DIGITS && c->t[j + nj].end - c->t[j + nj].start >= 2;
        elements++;
        j += nj + len;
        if (!is_like(cls)) {
            last = j - 1;
            have = 1;
        }
    }
    if (!have || g.n < 2 || (elements < 2 && !written) ||
        (free_word(c, last + 1) && (flags_of(c, last + 1) & W_UNIT)))
        return;
    earshot__add_span(c, i, last, type);
}

/* What the text leaves open for the next utterance: the tag of a digit
 * span at its very end, or of a phone, card or number cue it ends with
 * ("my card number is"); 0 when nothing. */
static int open_after(const ctx *c)
{
    size_t end = c->n;
    while (end > 0 && c->t[end - 1].kind == T_PUNCT && c->t[end - 1].punct != ',')
        end--;
    if (!end)
        return 0;
    for (size_t k = 0; k < c->n_spans; k++) {
        const span *sp = &c->spans[k];
        if (sp->last == end - 1 &&
            (sp->type == TAG_PHONE || sp->type == TAG_CARD || sp->type == TAG_NUMBER))
            return sp->type + 1;
    }
    if (c->t[end - 1].taken)
        return 0;
    int kind = earshot__cue_before(c, end, CUE_BIT(CUE_PHONE) | CUE_BIT(CUE_CARD) | CUE_BIT(CUE_NUMBER),
                          1, NULL);
    return kind == CUE_PHONE ? TAG_PHONE + 1
           : kind == CUE_CARD ? TAG_CARD + 1
           : kind == CUE_NUMBER ? TAG_NUMBER + 1
                                : 0;
}

char *earshot__redact(const earshot__redactor *r, const char *text, unsigned *found)
{
    return earshot__redact_next(r, text, NULL, found);
}

char *earshot__redact_next(const earshot__redactor *r, const char *text, int *open,
                           unsigned *found)
{
    if (found)
        *found = 0;
    if (!r)
        return NULL;
    if (!text)
        text = "";
    ctx c = {.r = r, .text = text};
    tokenize(&c);
    if (!c.nomem && open && *open > 0 && *open <= TAG_POSTCODE + 1)
        pass_continued(&c, *open - 1);
    /* Order matters: an e-mail's words must not become a name, an
     * address's number must not become a digit run. */
    if (!c.nomem)
        earshot__pass_email(&c);
    if (!c.nomem)
        earshot__pass_date(&c);
    if (!c.nomem)
        pass_address(&c);
    if (!c.nomem)
        earshot__pass_codes(&c);
    if (!c.nomem)
        earshot__pass_postcode(&c);
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
        if (open)
            *open = open_after(&c);
    }
    free(c.t);
    free(c.spans);
    return out;
}
