/* fuzz_redact.c - libFuzzer target for the redactor: any bytes as a
 * transcript (with the shipped redact.rules) must come back redacted, never
 * a crash, a leak or undefined behaviour. Built by `make fuzz`. */
#include "redact.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static earshot__redactor *r;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!r) {
        char err[512];
        r = earshot__redactor_open(EARSHOT_SOURCE_GRAMMAR_DIR, err, sizeof err);
        if (!r)
            abort();
    }
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    unsigned found = 0;
    free(earshot__redact(r, text, &found));
    int open = 0;
    free(earshot__redact_next(r, text, &open, NULL));
    free(earshot__redact_next(r, text, &open, NULL));
    free(text);
    return 0;
}
