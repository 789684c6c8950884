/* domain_lm.h - compiles the grammar's templates into an ARPA trigram
 * model, cached by content hash. Internal. */
#ifndef EARSHOT_DOMAIN_LM_H
#define EARSHOT_DOMAIN_LM_H

#include "grammar.h"

/* Writes (or finds, already compiled) the domain model of g and puts its
 * path in path. cache_dir NULL: $XDG_CACHE_HOME/earshot, then
 * ~/.cache/earshot. When no cache folder can be written, the model goes to
 * a temporary file and *is_temp is set: the caller deletes it after
 * loading. Returns 0, or -1 with the reason in err. */
int earshot__domain_lm_file(const earshot__grammar *g, const char *cache_dir, char *path,
                            size_t pathlen, int *is_temp, char *err, size_t errlen);

/* The cache folder: cache_dir, else $XDG_CACHE_HOME/earshot, else
 * ~/.cache/earshot, created if missing and put in dir. Returns 0, or -1
 * when there is none that can be created. */
int earshot__cache_dir(const char *cache_dir, char *dir, size_t dirlen);

#endif
