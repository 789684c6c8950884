/* hash.h - FNV-1a, the one hash of the library's string tables (grammar
 * vocabulary, dictionary check, redaction rules). Internal. */
#ifndef EARSHOT_HASH_H
#define EARSHOT_HASH_H

#include <stddef.h>
#include <stdint.h>

#define EARSHOT_FNV_SEED 14695981039346656037ull

/* Folds len bytes into h (start from EARSHOT_FNV_SEED). */
static inline uint64_t earshot__fnv1a(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h;
}

#endif
