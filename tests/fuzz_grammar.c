/* fuzz_grammar.c - libFuzzer target for the grammar parser and matcher:
 * any bytes as a .grammar file must give diagnostics or a working matcher,
 * never a crash, a leak or undefined behaviour. Built by `make fuzz`. */
#include "earshot.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64];

static void quiet(const char *file, int line, int col, const char *msg, void *user)
{
    (void)file, (void)line, (void)col, (void)msg, (void)user;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/tmp/earshot-fuzz-%ld", (long)getpid());
        mkdir(dir, 0700);
    }
    char path[128];
    snprintf(path, sizeof path, "%s/f.grammar", dir);
    FILE *f = fopen(path, "wb");
    if (!f)
        return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    earshot_grammar_check(dir, NULL, quiet, NULL);
    earshot_intents *g = NULL;
    if (earshot_intents_open(&g, dir) == EARSHOT_OK) {
        earshot_analysis a;
        earshot_intents_analyze(g, "i'd give it a nine out of ten but the queue was awful", &a);
        earshot_intents_analyze(g, (const char *)"", &a);
    }
    earshot_intents_close(g);
    return 0;
}
