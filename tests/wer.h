/* wer.h - word error counting for tests and benchmarks. */
#ifndef EARSHOT_TEST_WER_H
#define EARSHOT_TEST_WER_H

#include <stddef.h>

/* Word-level edit distance (substitutions + insertions + deletions) between
 * a reference and a hypothesis, both space-separated. *ref_words receives
 * the reference's word count. Returns -1 on out of memory. */
long wer_errors(const char *ref, const char *hyp, size_t *ref_words);

#endif
