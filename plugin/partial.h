/* partial.h - what a partial hypothesis may show: redaction of words that
 * are not finished yet. Internal to libearshot. */
#ifndef EARSHOT_PARTIAL_H
#define EARSHOT_PARTIAL_H

#include "redact.h"

/* Returns a malloc'd copy of text redacted as earshot__redact() would,
 * and with any tail that would turn into personal data if more words
 * followed already replaced by that tag. NULL only when memory runs out. */
char *earshot__partial_redact(const earshot__redactor *r, const char *text);

#endif
