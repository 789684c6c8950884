/* wer.c - word error rate: edit distance over words, one row of the
 * dynamic-programming table at a time. */
#include "wer.h"

#include <stdlib.h>
#include <string.h>

static size_t split(char *s, char ***out)
{
    size_t n = 0, cap = 16;
    char **v = malloc(cap * sizeof *v);
    for (char *save = NULL, *w = strtok_r(s, " \t\n", &save); v && w;
         w = strtok_r(NULL, " \t\n", &save)) {
        if (n == cap) {
            char **p = realloc(v, (cap *= 2) * sizeof *v);
            if (!p) {
                free(v);
                v = NULL;
                break;
            }
            v = p;
        }
        v[n++] = w;
    }
    *out = v;
    return v ? n : (size_t)-1;
}

long wer_errors(const char *ref, const char *hyp, size_t *ref_words)
{
    char *r = strdup(ref), *h = strdup(hyp);
    char **rw = NULL, **hw = NULL;
    long result = -1;
    size_t nr, nh;
    if (!r || !h || (nr = split(r, &rw)) == (size_t)-1 || (nh = split(h, &hw)) == (size_t)-1)
        goto out;
    size_t *row = malloc((nh + 1) * sizeof *row);
    if (!row)
        goto out;
    for (size_t j = 0; j <= nh; j++)
        row[j] = j;
    for (size_t i = 1; i <= nr; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= nh; j++) {
            size_t up = row[j];
            size_t best = diag + (strcmp(rw[i - 1], hw[j - 1]) != 0);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    result = (long)row[nh];
    if (ref_words)
        *ref_words = nr;
    free(row);
out:
    free(rw);
    free(hw);
    free(r);
    free(h);
    return result;
}
