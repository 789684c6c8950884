/* ring.h - a lock-free single-producer/single-consumer ring of floats,
 * between the PortAudio callback (which must never block or allocate) and
 * the thread that decodes. Internal to libearshot. */
#ifndef EARSHOT_RING_H
#define EARSHOT_RING_H

#include <stdatomic.h>
#include <stddef.h>

typedef struct earshot__ring {
    float *buf;
    size_t cap;               /* a power of two */
    _Atomic size_t head;      /* written by the producer only */
    _Atomic size_t tail;      /* written by the consumer only */
    _Atomic size_t dropped;   /* samples that did not fit (overflow) */
} earshot__ring;

/* Room for at least min samples. Returns 0 on out of memory. */
int earshot__ring_init(earshot__ring *r, size_t min);
void earshot__ring_free(earshot__ring *r);

/* Producer: copies what fits, counts the rest as dropped; never blocks. */
void earshot__ring_write(earshot__ring *r, const float *x, size_t n);

/* Consumer: copies up to max samples out; returns the count. */
size_t earshot__ring_read(earshot__ring *r, float *out, size_t max);

size_t earshot__ring_available(earshot__ring *r);

#endif
