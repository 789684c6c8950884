/* test_header.c - earshot.h alone compiles as strict C11 with -pedantic
 * -Werror (built by make test, never run). */
#include "earshot.h"

int earshot_header_compiles(void);
int earshot_header_compiles(void)
{
    earshot_config cfg = earshot_config_default();
    return cfg.verbose + (int)sizeof(earshot_utterance) + EARSHOT_OK;
}
