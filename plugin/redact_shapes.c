/* redact_shapes.c - personal data known by its shape rather than by a
 * digit run: dates of birth after a date cue, postcodes (UK and Dutch
 * shapes, any after a postcode cue), identity codes of letters and
 * digits (IBAN mod 97, UK National Insurance numbers) and e-mail
 * addresses, spoken or written. Each pass walks the token array of
 * redact_text.h and records spans; earshot__redact_next() in redact.c runs
 * them in order. The words come from redact.rules, as everywhere. */
#include "redact_text.h"

#include <stddef.h>
#include <string.h>

#define EMAIL_CUE_REACH 3 /* unjoined words an e-mail cue may pull into the local part */

/* ------------------------------------------------------------------ */
/* dates of birth                                                       */
/* ------------------------------------------------------------------ */

/* "3rd", "21st", "12th": a written day. */
static int written_ordinal(const ctx *c, size_t i)
{
    if (!free_word(c, i) || !c->t[i].digit_first)
        return 0;
    const char *s = c->text + c->t[i].start;
    size_t len = c->t[i].end - c->t[i].start, d = 0;
    while (d < len && is_digit((unsigned char)s[d]))
        d++;
    if (d == 0 || d > 2 || len - d != 2)
        return 0;
    char a = (char)(s[d] | 0x20), b = (char)(s[d + 1] | 0x20);
    return (a == 's' && b == 't') || (a == 'n' && b == 'd') || (a == 'r' && b == 'd') ||
           (a == 't' && b == 'h');
}

/* One piece of a date at token i: returns the tokens it spans (0 when
 * none) and sets *solid for a day, month or year (not for "the", "of" or
 * a mark). */
static size_t date_piece(const ctx *c, size_t i, int *solid)
{
    *solid = 1;
    if (i >= c->n || c->t[i].taken)
        return 0;
    if (c->t[i].kind == T_DIGITS || written_ordinal(c, i))
        return 1;
    unsigned f = flags_of(c, i);
    if (free_word(c, i) && (f & (W_ORDINAL | W_MONTH)))
        return 1;
    digits g = {0};
    size_t len = earshot__spoken_number(c, i, &g);
    if (len)
        return len;
    *solid = 0;
    if (free_word(c, i) && (f & W_DATE_GLUE))
        return 1;
    /* "two thousand and two": the "and" after a glue word. */
    if (free_word(c, i) && (f & W_HUNDRED_AND) && i > 0 && (flags_of(c, i - 1) & W_DATE_GLUE))
        return 1;
    if (punct_is(c, i, "/-.,") && i + 1 < c->n) {
        int s2;
        if (date_piece(c, i + 1, &s2) && s2)
            return 1;
    }
    return 0;
}

/* After a date cue ("date of birth", "born on"), the date: from the first
 * piece to the last day, month or year, "the fifth of may nineteen
 * eighty", "12/05/1980", "3 march 1985". */
void earshot__pass_date(ctx *c)
{
    for (size_t i = 1; i < c->n && !c->nomem; i++) {
        int solid;
        if (c->t[i].taken || !date_piece(c, i, &solid))
            continue;
        if (earshot__cue_before(c, i, CUE_BIT(CUE_DATE), 1, NULL) < 0)
            continue;
        size_t j = i, last = 0;
        int found = 0;
        for (int guard = 0; guard < 16 && j < c->n; guard++) {
            size_t len = date_piece(c, j, &solid);
            if (!len)
                break;
            if (solid) {
                last = j + len - 1;
                found = 1;
            }
            j += len;
        }
        if (!found)
            continue;
        earshot__add_span(c, i, last, TAG_DATE);
        i = last;
    }
}

/* ------------------------------------------------------------------ */
/* postcodes                                                            */
/* ------------------------------------------------------------------ */

/* One letter said or written alone: "s", "W". */
static int letter_token(const ctx *c, size_t i)
{
    if (!free_word(c, i) || c->t[i].end - c->t[i].start != 1)
        return 0;
    unsigned char ch = (unsigned char)c->text[c->t[i].start] | 0x20;
    return ch >= 'a' && ch <= 'z';
}

/* A postcode piece at i, its characters appended to buf (lower case):
 * a letter, a spoken number, written digits, or a short written code
 * ("sw1a", "1aa", "AB"). Returns the tokens used. */
static size_t code_piece(const ctx *c, size_t i, char *buf, size_t *n, size_t cap)
{
    if (i >= c->n || c->t[i].taken)
        return 0;
    const token *t = &c->t[i];
    size_t len = t->end - t->start, has_digit = 0;
    for (size_t b = t->start; b < t->end; b++)
        has_digit |= is_digit((unsigned char)c->text[b]);
    /* Words of letters only are pieces up to two letters ("AB"), or four
     * when written in capitals ("WEST" in an IBAN, "CT" though it is a
     * street word): "gent" after "postcode 9000" is the town. */
    int caps = len > 0;
    for (size_t b = t->start; b < t->end; b++)
        caps &= c->text[b] >= 'A' && c->text[b] <= 'Z';
    if (letter_token(c, i) || t->kind == T_DIGITS ||
        (t->kind == T_WORD && len <= 4 && ((t->id < 0 && (has_digit || len <= 2)) || caps))) {
        for (size_t b = t->start; b < t->end && *n + 1 < cap; b++) {
            unsigned char ch = (unsigned char)c->text[b];
            if (!is_alnum(ch))
                return 0;
            buf[(*n)++] = (char)(ch >= 'A' && ch <= 'Z' ? ch | 0x20 : ch);
        }
        return 1;
    }
    digits g = {0};
    size_t used = earshot__spoken_number(c, i, &g);
    if (!used || g.n > 4)
        return 0;
    for (size_t k = 0; k < g.n && *n + 1 < cap; k++)
        buf[(*n)++] = g.d[k];
    return used;
}

static int all_of(const char *s, size_t n, int digit)
{
    for (size_t k = 0; k < n; k++)
        if ((is_digit((unsigned char)s[k]) != 0) != digit)
            return 0;
    return 1;
}

/* The UK shape: outward code A9, A99, A9A, AA9, AA99, AA9A; inward 9AA. */
static int uk_postcode(const char *s, size_t n)
{
    if (n < 5 || n > 7 || !all_of(s + n - 2, 2, 0) || !is_digit((unsigned char)s[n - 3]))
        return 0;
    size_t out = n - 3, letters = 0;
    while (letters < out && !is_digit((unsigned char)s[letters]))
        letters++;
    if (letters < 1 || letters > 2 || letters == out)
        return 0;
    /* A digit, then at most one digit or letter. */
    size_t rest = out - letters;
    return rest == 1 || (rest == 2 && is_alnum((unsigned char)s[letters + 1]));
}

/* Dutch: 4 digits, the first not 0, then 2 letters. */
static int nl_postcode(const char *s, size_t n)
{
    return n == 6 && s[0] != '0' && all_of(s, 4, 1) && all_of(s + 4, 2, 0);
}

/* After a postcode cue everything code-like up to eight tokens, with at
 * least one digit. Without one: a UK or Dutch shape read from up to seven
 * pieces, the longest that fits; spoken letters alone are too common in
 * speech to stand for a postcode in any other shape. */
void earshot__pass_postcode(ctx *c)
{
    for (size_t i = 0; i < c->n && !c->nomem; i++) {
        char buf[40];
        size_t n = 0;
        if (c->t[i].taken || !code_piece(c, i, buf, &n, sizeof buf))
            continue;
        if (i > 0 && earshot__cue_before(c, i, CUE_BIT(CUE_POSTCODE), 1, NULL) >= 0) {
            size_t j = i, last = i;
            n = 0;
            int digits_seen = 0;
            for (int guard = 0; guard < 8; guard++) {
                size_t before = n;
                size_t used = code_piece(c, j, buf, &n, sizeof buf);
                if (!used && punct_is(c, j, "-") && code_piece(c, j + 1, buf, &n, sizeof buf)) {
                    n = before;
                    j++;
                    continue;
                }
                if (!used)
                    break;
                for (size_t k = before; k < n; k++)
                    digits_seen |= is_digit((unsigned char)buf[k]);
                last = j + used - 1;
                j += used;
            }
            if (digits_seen) {
                earshot__add_span(c, i, last, TAG_POSTCODE);
                i = last;
            }
            continue;
        }
        /* The longest shape from i. */
        size_t j = i, best = 0;
        int pieces = 0;
        n = 0;
        while (pieces < 7) {
            size_t used = code_piece(c, j, buf, &n, sizeof buf);
            if (!used)
                break;
            j += used;
            pieces++;
            if (uk_postcode(buf, n) || nl_postcode(buf, n))
                best = j;
        }
        if (!best)
            continue;
        earshot__add_span(c, i, best - 1, TAG_POSTCODE);
        i = best - 1;
    }
}

/* An IBAN: two letters, two check digits, up to 30 letters and digits,
 * passing ISO 13616's mod 97 (the first four moved to the end, letters
 * read as 10 ... 35, the whole is 1 mod 97). */
static int iban_valid(const char *s, size_t n)
{
    if (n < 15 || n > 34 || !all_of(s, 2, 0) || !all_of(s + 2, 2, 1))
        return 0;
    unsigned r = 0;
    for (size_t k = 0; k < n; k++) {
        unsigned char ch = (unsigned char)s[(k + 4) % n];
        if (is_digit(ch))
            r = (r * 10 + (ch - '0')) % 97;
        else
            r = (r * 100 + (ch - 'a' + 10)) % 97;
    }
    return r == 1;
}

/* A UK National Insurance number: two letters, six digits, and a last
 * letter A to D that people sometimes leave out. */
static int ni_valid(const char *s, size_t n)
{
    if ((n != 8 && n != 9) || !all_of(s, 2, 0) || !all_of(s + 2, 6, 1))
        return 0;
    return n == 8 || (s[8] >= 'a' && s[8] <= 'd');
}

/* Identity codes of letters and digits, written or read out piece by
 * piece ("GB82 WEST 1234 ...", "a b one two three four five six c"):
 * the longest stretch from each token that is a valid IBAN or National
 * Insurance number. A checksum or a fixed shape is what tells them from
 * a sentence, so no cue is needed. */
void earshot__pass_codes(ctx *c)
{
    for (size_t i = 0; i < c->n && !c->nomem; i++) {
        char buf[40];
        size_t n = 0, j = i, best = 0;
        if (c->t[i].taken)
            continue;
        for (int pieces = 0; pieces < 24; pieces++) {
            size_t used = code_piece(c, j, buf, &n, sizeof buf);
            if (!used || n >= sizeof buf - 1)
                break;
            j += used;
            if (iban_valid(buf, n) || ni_valid(buf, n))
                best = j;
        }
        /* After a number cue any such code with two digits or more:
         * "the reference is a b c one two three four". */
        if (!best && i > 0 && earshot__cue_before(c, i, CUE_BIT(CUE_NUMBER), 1, NULL) >= 0) {
            n = 0;
            j = i;
            size_t nd = 0, letters = 0;
            for (int pieces = 0; pieces < 24; pieces++) {
                size_t before = n;
                size_t used = code_piece(c, j, buf, &n, sizeof buf);
                if (!used)
                    break;
                for (size_t k = before; k < n; k++) {
                    nd += is_digit((unsigned char)buf[k]) != 0;
                    letters += !is_digit((unsigned char)buf[k]);
                }
                j += used;
                if (nd >= 2 && letters && n >= 5)
                    best = j;
            }
        }
        if (!best)
            continue;
        earshot__add_span(c, i, best - 1, TAG_NUMBER);
        i = best - 1;
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
static size_t spoken_domain(const ctx *c, size_t i, int loose, int any_tld)
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
        /* Cued, a first label of three words: "flowers by grace dot com". */
        else if (!labels && loose && email_word(c, j) && email_word(c, j + 1) &&
                 email_dot(c, j + 2))
            j += 2;
        while (email_join(c, j) && email_word(c, j + 1))
            j += 2;
        labels++;
        if (labels >= 2 && ((flags_of(c, j - 1) & W_TLD) ||
                            (any_tld && !(flags_of(c, j - 1) & (W_NEVER | W_BREAK)))))
            end = j;
        if (email_dot(c, j) && email_word(c, j + 1))
            j++;
        else
            break;
    }
    return end;
}

/* "a" before a name and after glue is an initial: "it's a smith at ...". */
static int initial_a(const ctx *c, size_t i)
{
    return (c->text[c->t[i].start] | 0x20) == 'a' && i >= 1 && (flags_of(c, i - 1) & W_GLUE) &&
           free_word(c, i + 1) && (flags_of(c, i + 1) & (W_NAME | W_NEVER)) != W_NEVER;
}

/* Written addresses are tokens already. A spoken one needs "at", a domain
 * ending in a known top-level domain, and a local part before "at" that
 * is joined ("john dot smith"), follows an e-mail cue, or is at least not
 * a word that is never a name ("i looked at amazon dot com" is no
 * address). */
void earshot__pass_email(ctx *c)
{
    for (size_t i = 0; i < c->n && !c->nomem; i++) {
        if (c->t[i].kind == T_EMAIL && !c->t[i].taken) {
            earshot__add_span(c, i, i, TAG_EMAIL);
            continue;
        }
        if (i == 0 || !free_word(c, i) || !(flags_of(c, i) & W_EMAIL_AT))
            continue;
        size_t end = spoken_domain(c, i + 1, 0, 0);
        /* "hot mail", or a top-level domain the rules do not list ("dot
         * bike"): only where the local part is joined or cued. */
        int loose = 0;
        if (!end) {
            end = spoken_domain(c, i + 1, 1, 0);
            loose = 1;
        }
        if (!end)
            end = spoken_domain(c, i + 1, 1, 1);
        /* "email me at lena dot fischer at web dot de": the address is the
         * one around the last "at". */
        if (end && free_word(c, end) && (flags_of(c, end) & W_EMAIL_AT))
            continue;
        if (!end || !email_word(c, i - 1))
            continue;
        size_t s = i - 1;
        int joined = 0;
        /* Joined words and numbers, in either order: "emily dot rose
         * nineteen at ...", "j dot smith eighty seven at ...". */
        for (int round = 0; round < 4; round++) {
            size_t was = s;
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
            if (s == was)
                break;
        }
        /* Spelt-out letters belong to it too: "j smith at ...", "j o
         * smith at ...". */
        for (int guard = 0; guard < 16 && s >= 1 && free_word(c, s - 1) &&
                            c->t[s - 1].end - c->t[s - 1].start == 1 &&
                            !(flags_of(c, s - 1) & (W_BREAK | W_GLUE)) &&
                            (!(flags_of(c, s - 1) & W_NEVER) || initial_a(c, s - 1));
             guard++)
            s--;
        /* An e-mail cue just before, or a few words before: "my email is
         * john smith at ..." takes "john smith". */
        int cued = 0;
        for (size_t back = 0; back <= EMAIL_CUE_REACH && back <= s; back++) {
            size_t p = s - back;
            if (back && (!email_word(c, p) || (flags_of(c, p) & (W_NEVER | W_BREAK))))
                break;
            if (earshot__cue_before(c, p, CUE_BIT(CUE_EMAIL), 1, NULL) >= 0) {
                s = p;
                cued = 1;
                break;
            }
        }
        /* A listed first name before "at" makes a loose domain an address
         * too: "oliver at oliver company dot com". */
        unsigned lf = flags_of(c, i - 1);
        int named = ((lf & W_NAME) && !(lf & W_AMBIGUOUS)) || (lf & W_EMAIL_ROLE);
        if (!cued && !joined && ((loose && !named) || ((lf & (W_NEVER | W_GLUE)) && !named)))
            continue;
        /* The name before an uncued handle is part of it: "john smith at
         * gmail dot com" is john.smith or johnsmith, not "john [EMAIL]".
         * Only listed first names or words the rules do not know, so that
         * "tell sales at acme dot com" keeps "tell". */
        for (int guard = 0; !cued && guard < 2 && s >= 1; guard++) {
            size_t p = s - 1;
            unsigned f = flags_of(c, p);
            if (!free_word(c, p) || c->t[p].digit_first ||
                (f & (W_NEVER | W_BREAK | W_GLUE | W_NUMBER | W_TITLE | W_EMAIL_AT)) ||
                !((f & W_NAME) || c->t[p].id < 0))
                break;
            /* A weak name cue right before it ("this is john ...") keeps
             * its word; only the name goes. */
            s = p;
        }
        earshot__add_span(c, s, end - 1, TAG_EMAIL);
        i = end - 1;
    }
}
