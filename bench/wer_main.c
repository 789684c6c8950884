/* wer_main.c - `wer REF HYP`: prints "errors words" for two text files
 * (words separated by whitespace and newlines). For bench/ scripts. */
#include "../tests/wer.h"

#include <stdio.h>
#include <stdlib.h>

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    if (s)
        s[fread(s, 1, (size_t)n, f)] = '\0';
    fclose(f);
    return s;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: wer REF HYP\n");
        return 2;
    }
    char *ref = slurp(argv[1]), *hyp = slurp(argv[2]);
    if (!ref || !hyp) {
        fprintf(stderr, "wer: cannot read %s\n", ref ? argv[2] : argv[1]);
        return 1;
    }
    size_t words = 0;
    long e = wer_errors(ref, hyp, &words);
    printf("%ld %zu\n", e, words);
    free(ref);
    free(hyp);
    return e < 0;
}
