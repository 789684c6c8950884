/* fuzz_intent.c - libFuzzer target for the intent matcher: any bytes as an
 * utterance's text, read with the shipped grammar, with and without a
 * pending question, must give an analysis, never a crash, a leak or
 * undefined behaviour. Built by `make fuzz`. */
#include "earshot.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static earshot_intents *g;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!g && earshot_intents_open(&g, EARSHOT_SOURCE_GRAMMAR_DIR) != EARSHOT_OK)
        abort();
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    earshot_analysis a;
    earshot_intents_set_question(g, size ? (earshot_question)(data[0] % 3) : EARSHOT_ASK_NONE);
    earshot_intents_analyze(g, text, &a);
    earshot_intents_set_question(g, EARSHOT_ASK_NONE);
    earshot_intents_analyze(g, text, &a);
    free(text);
    return 0;
}
