/* test_handle.c - a recogniser handle used wrongly or stopped from outside:
 * a feed from inside its own callback, a second thread feeding at once,
 * earshot_interrupt() from another thread and from a signal handler, and
 * what earshot_errmsg() and earshot_stream_seconds() say afterwards. Real
 * model, real audio (examples/sample.wav, 11 s of speech). */
#include "earshot.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SAMPLE "examples/sample.wav"

static int16_t *pcm;
static size_t n_pcm;

/* What a callback does, set by each test. */
typedef struct cb {
    earshot *e;
    int utterances;
    int mode;             /* one of the M_* below */
    int feed_rc;          /* M_REENTER: what the inner call returned */
    int flush_rc, close_ok;
    char msg[1024];
    sem_t heard, release; /* M_BLOCK: the callback waits for release */
} cb;

enum { M_COUNT, M_REENTER, M_STOP, M_BLOCK, M_SIGNAL, M_INTERRUPT };

static earshot *signal_target;

static void on_signal(int sig)
{
    (void)sig;
    earshot_interrupt(signal_target);
}

static int on_utterance(const earshot_utterance *u, void *user)
{
    cb *c = user;
    c->utterances++;
    switch (c->mode) {
    case M_REENTER:
        if (c->utterances == 1) {
            int16_t z[4096] = {0};
            c->feed_rc = earshot_feed(c->e, z, 4096);
            snprintf(c->msg, sizeof c->msg, "%s", earshot_errmsg(c->e));
            c->flush_rc = earshot_flush(c->e);
            earshot_close(c->e); /* refused: the handle is in use */
        }
        return 0;
    case M_STOP:
        return 1;
    case M_BLOCK:
        if (c->utterances == 1) {
            sem_post(&c->heard);
            sem_wait(&c->release);
        }
        return 0;
    case M_SIGNAL:
        if (c->utterances == 1)
            raise(SIGUSR1);
        return 0;
    case M_INTERRUPT:
        if (c->utterances == 1)
            sem_post(&c->heard);
        return 0;
    }
    return 0;
}

static earshot *open_handle(cb *c)
{
    earshot_config cfg = earshot_config_default();
    cfg.on_utterance = on_utterance;
    cfg.utterance_user = c;
    earshot *e = NULL;
    if (earshot_open(&e, &cfg) != EARSHOT_OK) {
        fprintf(stderr, "cannot open: %s\n", earshot_errmsg(e));
        fail();
    }
    c->e = e;
    return e;
}

static int group_setup(void **state)
{
    earshot_audio *a = NULL;
    if (earshot_audio_open_file(&a, SAMPLE) != EARSHOT_OK) {
        fprintf(stderr, "%s: %s\n", SAMPLE, earshot_audio_errmsg(a));
        earshot_audio_close(a);
        return -1;
    }
    size_t cap = 16000 * 20;
    pcm = malloc(cap * sizeof *pcm);
    long got;
    while (pcm && n_pcm < cap && (got = earshot_audio_read(a, pcm + n_pcm, cap - n_pcm)) > 0)
        n_pcm += (size_t)got;
    earshot_audio_close(a);
    return pcm && n_pcm > 16000 ? 0 : -1;
}

static int group_teardown(void **state)
{
    free(pcm);
    return 0;
}

/* A long buffer: the sample, eight times (90 s of audio). */
static int16_t *long_buffer(size_t *n)
{
    *n = n_pcm * 8;
    int16_t *b = malloc(*n * sizeof *b);
    assert_non_null(b);
    for (int i = 0; i < 8; i++)
        memcpy(b + (size_t)i * n_pcm, pcm, n_pcm * sizeof *pcm);
    return b;
}

/* Feeding from inside the utterance callback aborted the process in
 * PocketSphinx (hmm_frame(...) == frame_idx); now the inner call is
 * refused and the outer one goes on. */
static void test_feed_from_callback(void **state)
{
    cb c = {.mode = M_REENTER};
    earshot *e = open_handle(&c);
    assert_int_equal(earshot_feed(e, pcm, n_pcm), EARSHOT_OK);
    assert_int_equal(earshot_flush(e), EARSHOT_OK);
    assert_true(c.utterances >= 2);
    assert_int_equal(c.feed_rc, EARSHOT_MISUSE);
    assert_int_equal(c.flush_rc, EARSHOT_MISUSE);
    assert_non_null(strstr(c.msg, "earshot_feed: called from inside a callback"));
    /* The handle still works: a second stream gives the same count. */
    int first = c.utterances;
    c.mode = M_COUNT;
    c.utterances = 0;
    assert_int_equal(earshot_feed(e, pcm, n_pcm), EARSHOT_OK);
    assert_int_equal(earshot_flush(e), EARSHOT_OK);
    assert_int_equal(c.utterances, first);
    earshot_close(e);
}

typedef struct feeder {
    earshot *e;
    const int16_t *pcm;
    size_t n;
    int rc;
    double seconds;
} feeder;

static void *feed_thread(void *user)
{
    feeder *f = user;
    f->rc = earshot_feed(f->e, f->pcm, f->n);
    f->seconds = earshot_stream_seconds(f->e);
    return NULL;
}

/* Two threads feeding one handle aborted in create_dag_nodes; the second
 * is refused while the first is in its call (held there by its callback,
 * so the overlap is certain). */
static void test_two_threads(void **state)
{
    cb c = {.mode = M_BLOCK};
    sem_init(&c.heard, 0, 0);
    sem_init(&c.release, 0, 0);
    earshot *e = open_handle(&c);
    feeder f = {e, pcm, n_pcm, -1, 0};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, feed_thread, &f), 0);
    sem_wait(&c.heard);
    assert_int_equal(earshot_feed(e, pcm, 1000), EARSHOT_MISUSE);
    assert_non_null(strstr(earshot_errmsg(e), "another thread is using this handle"));
    assert_int_equal(earshot_flush(e), EARSHOT_MISUSE);
    assert_int_equal(earshot_set_question(e, EARSHOT_ASK_NONE), EARSHOT_MISUSE);
    sem_post(&c.release);
    pthread_join(t, NULL);
    assert_int_equal(f.rc, EARSHOT_OK);
    /* Every sample of the first thread's call was taken, none of the
     * refused one's. */
    assert_true(f.seconds == (double)n_pcm / EARSHOT_SAMPLE_RATE);
    assert_int_equal(earshot_flush(e), EARSHOT_OK);
    earshot_close(e);
    sem_destroy(&c.heard);
    sem_destroy(&c.release);
}

/* earshot_interrupt() from another thread: the long feed returns
 * EARSHOT_INTERRUPTED without decoding the rest; the handle then ends the
 * stream and decodes the next one as usual. */
static void test_interrupt_from_thread(void **state)
{
    cb c = {.mode = M_INTERRUPT};
    sem_init(&c.heard, 0, 0);
    earshot *e = open_handle(&c);
    size_t n;
    int16_t *b = long_buffer(&n);
    feeder f = {e, b, n, -1, 0};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, feed_thread, &f), 0);
    sem_wait(&c.heard);
    earshot_interrupt(e);
    pthread_join(t, NULL);
    assert_int_equal(f.rc, EARSHOT_INTERRUPTED);
    assert_non_null(strstr(earshot_errmsg(e), "interrupted at"));
    /* It stopped within the first copy of the sample, of eight. */
    assert_true(f.seconds < (double)n / EARSHOT_SAMPLE_RATE / 4);
    assert_int_equal(earshot_flush(e), EARSHOT_OK);
    c.mode = M_COUNT;
    c.utterances = 0;
    assert_int_equal(earshot_feed(e, pcm, n_pcm), EARSHOT_OK);
    assert_int_equal(earshot_flush(e), EARSHOT_OK);
    assert_true(c.utterances >= 2);
    /* An interrupt with no feed under way stops the next feed at once;
     * a flush clears one not yet seen. */
    earshot_interrupt(e);
    assert_int_equal(earshot_feed(e, pcm, 1000), EARSHOT_INTERRUPTED);
    assert_true(earshot_stream_seconds(e) == 0.0);
    earshot_interrupt(e);
    assert_int_equal(earshot_flush(e), EARSHOT_OK);
    assert_int_equal(earshot_feed(e, pcm, 1000), EARSHOT_OK);
    earshot_interrupt(NULL);
    earshot_close(e);
    free(b);
    sem_destroy(&c.heard);
}

/* From a signal handler (here raised in the feeding thread itself, as a
 * SIGINT handler of a command would be). */
static void test_interrupt_from_signal(void **state)
{
    cb c = {.mode = M_SIGNAL};
    earshot *e = open_handle(&c);
    signal_target = e;
    struct sigaction sa = {0}, old;
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    assert_int_equal(sigaction(SIGUSR1, &sa, &old), 0);
    size_t n;
    int16_t *b = long_buffer(&n);
    assert_int_equal(earshot_feed(e, b, n), EARSHOT_INTERRUPTED);
    assert_true(earshot_stream_seconds(e) < (double)n / EARSHOT_SAMPLE_RATE / 4);
    assert_int_equal(earshot_flush(e), EARSHOT_OK);
    sigaction(SIGUSR1, &old, NULL);
    earshot_close(e);
    free(b);
}

/* earshot_errmsg() said "not an error" after MISUSE and STOPPED;
 * earshot_stream_seconds() was 0 after the flush. */
static void test_errmsg_and_seconds(void **state)
{
    cb c = {.mode = M_STOP};
    earshot *e = open_handle(&c);
    assert_int_equal(earshot_feed(e, pcm, n_pcm), EARSHOT_STOPPED);
    assert_non_null(strstr(earshot_errmsg(e), "stopped: a callback returned non-zero"));
    assert_int_equal(earshot_set_question(e, (earshot_question)99), EARSHOT_MISUSE);
    assert_non_null(strstr(earshot_errmsg(e), "unknown question 99"));
    assert_int_equal(earshot_feed(e, NULL, 5), EARSHOT_MISUSE);
    assert_non_null(strstr(earshot_errmsg(e), "pcm is NULL"));
    c.mode = M_COUNT;
    earshot_flush(e);
    assert_int_equal(earshot_feed(e, pcm, 32000), EARSHOT_OK);
    assert_true(earshot_stream_seconds(e) == 2.0);
    assert_int_equal(earshot_flush(e), EARSHOT_OK);
    assert_true(earshot_stream_seconds(e) == 2.0);
    assert_int_equal(earshot_feed(e, pcm, 1600), EARSHOT_OK);
    assert_true(earshot_stream_seconds(e) == 0.1);
    earshot_close(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_feed_from_callback),
        cmocka_unit_test(test_two_threads),
        cmocka_unit_test(test_interrupt_from_thread),
        cmocka_unit_test(test_interrupt_from_signal),
        cmocka_unit_test(test_errmsg_and_seconds),
    };
    return cmocka_run_group_tests_name("handle", tests, group_setup, group_teardown);
}
