/* partial.c - redaction of a hypothesis the customer has not finished.
 *
 * The redactor judges whole utterances: "four five three nine" alone is
 * four digits, not a card, and "john dot smith at example" is no e-mail
 * address yet, so both pass unchanged, while the same words a second
 * later are [NUMBER] or [EMAIL]. A partial shown on a screen would leak
 * them. So each partial is also redacted with continuations appended that
 * complete whatever could be completed (a long run of digits, a domain
 * ending); where the redaction of the continued text departs from the
 * plain one inside the words heard, those words are a beginning of
 * personal data, and the partial shows the tag from there on.
 *
 * The first pass also mishears the cue that makes the redactor take a
 * number ("nine fell number is a seven seven" for "my phone number is oh
 * seven seven"; the second pass gets it right for the final utterance).
 * So a partial never shows a run of digit words holding two numbers or
 * more ("a seven seven", "two for one"): the run is shown as [NUMBER].
 * Which words are numbers or digits is the redactor's own judgement too
 * (probed with runs of them), so the rules stay in redact.rules: nothing
 * here knows a number word or a cue. */
#include "partial.h"

#include <stdio.h>

#include <stdlib.h>
#include <string.h>

/* Continuations that finish a digit run (19 digits: any phone or card
 * length) or an e-mail address. */
static const char *const probes[] = {
    " one one one one one one one one one one one one one one one one one one one",
    " dot com",
};

/* Where the redaction of text+probe first departs from plain, backed up
 * to a word start; *tag receives the tag at that point (or NULL). Returns
 * strlen(plain) when they agree on all of plain, -1 out of memory. */
static long departure(const earshot__redactor *r, const char *text, const char *plain,
                      const char *probe, char **tag)
{
    size_t tl = strlen(text), pl = strlen(probe);
    char *cont = malloc(tl + pl + 1);
    if (!cont)
        return -1;
    memcpy(cont, text, tl);
    memcpy(cont + tl, probe, pl + 1);
    char *red = earshot__redact(r, cont, NULL);
    free(cont);
    if (!red)
        return -1;
    size_t n = strlen(plain), i = 0;
    while (i < n && red[i] == plain[i])
        i++;
    if (i == n) {
        free(red);
        return (long)n;
    }
    while (i > 0 && plain[i - 1] != ' ')
        i--;
    *tag = NULL;
    if (red[i] == '[') {
        size_t len = strcspn(red + i, "]");
        if (red[i + len] == ']') {
            *tag = malloc(len + 2);
            if (*tag) {
                memcpy(*tag, red + i, len + 1);
                (*tag)[len + 1] = '\0';
            }
        }
    }
    free(red);
    return (long)i;
}

/* Whether probe, redacted, is one tag and nothing else: the redactor took
 * every word of it. 1 yes, 0 no, -1 out of memory. */
static int all_taken(const earshot__redactor *r, const char *probe)
{
    char *red = earshot__redact(r, probe, NULL);
    if (!red)
        return -1;
    int taken = red[0] == '[' && !strchr(red, ' ');
    free(red);
    return taken;
}

/* How the redactor reads a word: 2 a number word ("seven", "double": five
 * of them in a row are a number), 1 a word it takes as a digit only inside
 * a run ("a", "to", "for": the recogniser's versions of "eight", "two",
 * "four"), 0 neither; -1 out of memory. */
static int digit_word(const earshot__redactor *r, const char *w, size_t len)
{
    char *probe = malloc(6 * (len + 1) + 16);
    if (!probe)
        return -1;
    size_t o = 0;
    for (int k = 0; k < 5; k++) {
        memcpy(probe + o, w, len);
        o += len;
        probe[o++] = k < 4 ? ' ' : '\0';
    }
    int d = all_taken(r, probe);
    if (d == 0) {
        snprintf(probe, 6 * (len + 1) + 16, "one one %.*s one one", (int)len, w);
        d = all_taken(r, probe);
    } else if (d == 1) {
        d = 2;
    }
    free(probe);
    return d;
}

/* Copies the first n bytes of s with every run of digit words that holds
 * two or more number words replaced by [NUMBER]. NULL out of memory. */
static char *mask_runs(const earshot__redactor *r, const char *s, size_t n)
{
    static const char tag[] = "[NUMBER]";
    /* A run replaced is at least 3 bytes ("a a") and its tag 8: the text
     * grows by less than 3 times. */
    char *out = malloc(n * 3 + sizeof tag);
    if (!out)
        return NULL;
    size_t o = 0, i = 0;
    while (i < n) {
        if (s[i] == ' ') {
            out[o++] = s[i++];
            continue;
        }
        /* The run of digit words starting here, and where it ends. */
        size_t j = i, numbers = 0, end = i;
        while (j < n && s[j] != ' ') {
            size_t len = 0;
            while (j + len < n && s[j + len] != ' ')
                len++;
            int d = s[j] == '[' ? 0 : digit_word(r, s + j, len);
            if (d < 0) {
                free(out);
                return NULL;
            }
            if (!d)
                break;
            numbers += d == 2;
            end = j + len;
            j = end;
            if (j + 1 < n && s[j] == ' ' && s[j + 1] != ' ')
                j++;
            else
                break;
        }
        if (numbers >= 2) {
            memcpy(out + o, tag, sizeof tag - 1);
            o += sizeof tag - 1;
            i = end;
        } else {
            while (i < n && s[i] != ' ')
                out[o++] = s[i++];
        }
    }
    out[o] = '\0';
    return out;
}

char *earshot__partial_redact(const earshot__redactor *r, const char *text)
{
    char *plain = earshot__redact(r, text, NULL);
    if (!plain)
        return NULL;
    size_t cut = strlen(plain);
    char *tag = NULL;
    for (size_t k = 0; k < sizeof probes / sizeof *probes; k++) {
        char *t = NULL;
        long at = departure(r, text, plain, probes[k], &t);
        if (at < 0) {
            free(plain);
            free(tag);
            return NULL;
        }
        if ((size_t)at < cut) {
            cut = (size_t)at;
            free(tag);
            tag = t;
        } else {
            free(t);
        }
    }
    char *head = mask_runs(r, plain, cut);
    /* A departure without a tag of its own still hides the tail. */
    const char *shown = cut == strlen(plain) ? "" : tag ? tag : "[NUMBER]";
    char *out = head ? malloc(strlen(head) + strlen(shown) + 1) : NULL;
    if (out) {
        strcpy(out, head);
        strcat(out, shown);
    }
    free(head);
    free(plain);
    free(tag);
    return out;
}
