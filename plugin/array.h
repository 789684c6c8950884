/* array.h - growing arrays. Internal. */
#ifndef EARSHOT_ARRAY_H
#define EARSHOT_ARRAY_H

#include <stddef.h>

/* Makes *p (an array of elem-byte items with room for *cap) hold at least
 * need items, doubling as it grows. Returns 1, or 0 when memory ran out
 * (then *p and *cap are unchanged). */
int earshot__grow(void **p, size_t *cap, size_t need, size_t elem);

#endif
