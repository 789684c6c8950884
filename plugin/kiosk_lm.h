/* kiosk_lm.h - a smaller generic language model for a counter: the N most
 * probable words of the generic model with their n-grams, plus every word
 * of the grammar, and the pronunciation dictionary cut to match. Cached by
 * content hash beside the domain model. Internal. */
#ifndef EARSHOT_KIOSK_LM_H
#define EARSHOT_KIOSK_LM_H

#include "grammar.h"

#include <stddef.h>

/* Writes (or finds, already built) the kiosk model derived from the
 * trigram trie model generic_lm (a PocketSphinx .lm.bin) and dictionary
 * dict, keeping the n_words most probable words and every word g uses.
 * The model's path goes to lm, the cut dictionary's to dict_out. cache_dir
 * as for earshot__domain_lm_file; without a usable cache folder both go to
 * temporary files and *is_temp is set: the caller deletes them after
 * loading. Returns 0; -2 when generic_lm is not a trigram trie model
 * (nothing to cut: the caller may use the full model); -1 on any other
 * failure; the reason in err. */
int earshot__kiosk_lm_files(const earshot__grammar *g, const char *generic_lm,
                            const char *dict, int n_words, const char *cache_dir, char *lm,
                            size_t lmlen, char *dict_out, size_t dictlen, int *is_temp,
                            char *err, size_t errlen);

#endif
