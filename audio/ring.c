/* ring.c - SPSC ring buffer. Head and tail only grow; their difference is
 * the fill. The producer publishes samples with a release store of head
 * after writing them, and the consumer reads head with acquire before
 * reading them (and the mirror image for tail), which is all the ordering
 * one producer and one consumer need. */
#include "ring.h"

#include <stdlib.h>
#include <string.h>

int earshot__ring_init(earshot__ring *r, size_t min)
{
    size_t cap = 1024;
    while (cap < min)
        cap *= 2;
    r->buf = malloc(cap * sizeof *r->buf);
    if (!r->buf)
        return 0;
    r->cap = cap;
    atomic_init(&r->head, 0);
    atomic_init(&r->tail, 0);
    atomic_init(&r->dropped, 0);
    return 1;
}

void earshot__ring_free(earshot__ring *r)
{
    free(r->buf);
    r->buf = NULL;
}

void earshot__ring_write(earshot__ring *r, const float *x, size_t n)
{
    size_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    size_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);
    size_t room = r->cap - (head - tail);
    if (n > room) {
        atomic_fetch_add_explicit(&r->dropped, n - room, memory_order_relaxed);
        n = room;
    }
    size_t at = head & (r->cap - 1);
    size_t first = n < r->cap - at ? n : r->cap - at;
    memcpy(r->buf + at, x, first * sizeof *x);
    memcpy(r->buf, x + first, (n - first) * sizeof *x);
    atomic_store_explicit(&r->head, head + n, memory_order_release);
}

size_t earshot__ring_read(earshot__ring *r, float *out, size_t max)
{
    size_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
    size_t head = atomic_load_explicit(&r->head, memory_order_acquire);
    size_t n = head - tail;
    if (n > max)
        n = max;
    size_t at = tail & (r->cap - 1);
    size_t first = n < r->cap - at ? n : r->cap - at;
    memcpy(out, r->buf + at, first * sizeof *out);
    memcpy(out + first, r->buf, (n - first) * sizeof *out);
    atomic_store_explicit(&r->tail, tail + n, memory_order_release);
    return n;
}

size_t earshot__ring_available(earshot__ring *r)
{
    return atomic_load_explicit(&r->head, memory_order_acquire) -
           atomic_load_explicit(&r->tail, memory_order_relaxed);
}
