/* listen_bench.c - latency and CPU of the listener on a paced device.
 *
 *   listen_bench DEVICE SECONDS
 *
 * Listens for SECONDS of audio on DEVICE (bench/listen.sh plays the dev
 * sentences into a JACK server's dummy driver, which runs in real time)
 * and prints, per utterance, two delays:
 *   decoder: audio time between the end of the words and the moment the
 *            recogniser's voice-activity detector closed the utterance
 *            (PocketSphinx's own end-of-utterance delay);
 *   extra:   wall time from that moment (the sample that closed it was
 *            captured) to the event reaching the app: ring buffer, decoding
 *            of the last block, matching, consent and storage.
 * then the median and 95th percentile of each, and CPU use. */
#include "earshot.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static double wall0, dec[4096], extra[4096];
static size_t n;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void on_event(const earshot_event *ev, void *user)
{
    (void)user;
    if (ev->kind != EARSHOT_EVENT_UTTERANCE || n >= 4096)
        return;
    double w = now() - wall0;
    dec[n] = ev->at - ev->utterance->end;
    extra[n] = w - ev->at;
    n++;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double pct(double *v, size_t k, double p)
{
    qsort(v, k, sizeof *v, cmp);
    size_t i = (size_t)(p * (k - 1) + 0.5);
    return v[i];
}

static double cpu(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: listen_bench DEVICE SECONDS\n");
        return 2;
    }
    earshot_listen_config lc = earshot_listen_config_default();
    lc.device = argv[1];
    lc.max_seconds = atof(argv[2]);
    lc.on_event = on_event;
    earshot_config rc = earshot_config_default();
    earshot_listener *l = NULL;
    if (earshot_listen_open(&l, &lc, &rc, NULL) != EARSHOT_OK) {
        fprintf(stderr, "listen_bench: %s\n", earshot_listen_errmsg(l));
        return 1;
    }
    double c0 = cpu();
    wall0 = now();
    earshot_listen_run(l);
    double secs = now() - wall0, used = cpu() - c0;
    earshot_listen_close(l);
    printf("%zu utterances in %.1f s; CPU %.1f %% of one core\n", n, secs, 100 * used / secs);
    if (n) {
        printf("decoder end-of-utterance delay: median %.0f ms, p95 %.0f ms\n",
               1000 * pct(dec, n, 0.5), 1000 * pct(dec, n, 0.95));
        printf("extra latency to the event:     median %.0f ms, p95 %.0f ms\n",
               1000 * pct(extra, n, 0.5), 1000 * pct(extra, n, 0.95));
    }
    return 0;
}
