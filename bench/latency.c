/* latency.c - end-of-speech-to-callback latency on a device paced in real
 * time.
 *
 *   latency DEVICE SECONDS [--no-analyze] [--decoder OPTS] [--partial] [--verbose]
 *
 * Captures SECONDS of audio from DEVICE (bench/latency.sh plays sentences
 * into a JACK server's dummy driver, which runs on the system clock) the
 * way a kiosk does: PortAudio's callback only copies into a ring buffer
 * (the library's own capture code), and one thread reads the ring and
 * feeds the recogniser. For each utterance it prints nothing; at the end,
 * the median and 95th percentile of:
 *   latency  wall time from the end of the words (the recogniser's end of
 *            the last word, placed on the device's clock) to the utterance
 *            callback: what a customer waits for the kiosk to react;
 *   wait     the part of it spent waiting for the voice-activity detector
 *            to call the speech over (audio fed after the last word);
 *   finish   wall and CPU time of the feeding call that ended the utterance
 *            (the decoder's second pass, best path, matching, redaction);
 *   free     wait + finish CPU: the latency on a core of its own, less the
 *            device's buffering. On a machine shared with other jobs the
 *            decoder gets a fraction of a core, falls behind the device
 *            and the wall latency measures the load, not the decoder
 *            (the CPU share printed says how much it got);
 * then CPU use and the words, for the WER of the setting (latency.sh).
 *
 * The device's clock: audio sample i was captured at T0 + i / rate, where
 * T0 is the earliest wall time consistent with every read of the ring
 * (the lower envelope of read time minus samples read so far). Samples
 * reach the ring one JACK period at a time, so a latency includes up to a
 * period of device buffering, as it does on a real sound card. */
#include "capture.h"
#include "earshot.h"
#include "ring.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

enum { MAX_UTT = 1024, CHUNK = 4096 };

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double thread_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

static struct {
    double wall[MAX_UTT]; /* when the callback ran */
    double end[MAX_UTT];  /* end of the last word, stream seconds */
    double fed[MAX_UTT];  /* stream seconds fed at the callback */
    double finish[MAX_UTT];     /* wall time of the feeding call that ended it */
    double finish_cpu[MAX_UTT]; /* its CPU time: what it costs on a free core */
    size_t n, partials;
    int live; /* capturing: the final flush's utterance has no latency */
    earshot *e;
    char text[1 << 16];
} st;

static int on_utt(const earshot_utterance *u, void *user)
{
    (void)user;
    if (st.live && st.n < MAX_UTT) {
        st.wall[st.n] = now();
        st.end[st.n] = u->end;
        st.fed[st.n] = earshot_stream_seconds(st.e);
        st.n++;
    }
    size_t len = strlen(st.text);
    snprintf(st.text + len, sizeof st.text - len, "%s%s", len ? " " : "", u->text);
    return 0;
}

static int on_partial(const earshot_partial *p, void *user)
{
    (void)p, (void)user;
    st.partials++;
    return 0;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double pct(const double *v, size_t k, double p)
{
    double *c = malloc(k * sizeof *c);
    if (!c)
        return NAN;
    memcpy(c, v, k * sizeof *c);
    qsort(c, k, sizeof *c, cmp);
    double r = c[(size_t)(p * (double)(k - 1) + 0.5)];
    free(c);
    return r;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: latency DEVICE SECONDS [--no-analyze] [--decoder OPTS] "
                        "[--partial] [--verbose]\n");
        return 2;
    }
    earshot_config cfg = earshot_config_default();
    cfg.on_utterance = on_utt;
    int verbose = 0;
    for (int i = 3; i < argc; i++) {
        if (!strcmp(argv[i], "--verbose"))
            verbose = 1;
        else if (!strcmp(argv[i], "--no-analyze"))
            cfg.analyze = 0;
        else if (!strcmp(argv[i], "--partial"))
            cfg.on_partial = on_partial;
        else if (!strcmp(argv[i], "--decoder") && i + 1 < argc)
            cfg.decoder_options = argv[++i];
        else {
            fprintf(stderr, "latency: unknown argument '%s'\n", argv[i]);
            return 2;
        }
    }
    double seconds = atof(argv[2]);
    double c0 = cpu();
    if (earshot_open(&st.e, &cfg) != EARSHOT_OK) {
        fprintf(stderr, "latency: %s\n", earshot_errmsg(st.e));
        return 1;
    }
    double startup = cpu() - c0;
    earshot__ring ring;
    if (!earshot__ring_init(&ring, 16000 * 10)) {
        fprintf(stderr, "latency: out of memory\n");
        return 1;
    }
    earshot__capture *cap = NULL;
    char err[512];
    if (earshot__capture_open(&cap, argv[1], 16000, 1, &ring, err, sizeof err) != EARSHOT_OK) {
        fprintf(stderr, "latency: %s\n", err);
        return 1;
    }
    if (earshot__capture_rate(cap) != 16000) {
        fprintf(stderr, "latency: %s runs at %d Hz; the bench needs 16000\n", argv[1],
                earshot__capture_rate(cap));
        return 1;
    }
    static float f[CHUNK];
    static int16_t pcm[CHUNK];
    double t0 = INFINITY, wall0 = now(), c1 = cpu();
    size_t total = 0;
    st.live = 1;
    while (total < (size_t)(seconds * 16000)) {
        size_t n = earshot__ring_read(&ring, f, CHUNK);
        if (!n) {
            struct timespec ts = {0, 1000000}; /* 1 ms */
            nanosleep(&ts, NULL);
            continue;
        }
        total += n;
        double t = now() - (double)total / 16000;
        if (t < t0)
            t0 = t;
        for (size_t i = 0; i < n; i++) {
            float x = f[i] * 32768.0f;
            pcm[i] = (int16_t)(x > 32767.0f ? 32767 : x < -32768.0f ? -32768 : x);
        }
        size_t before = st.n;
        double a = now(), ac = thread_cpu();
        earshot_feed(st.e, pcm, n);
        double b = now(), bc = thread_cpu();
        for (size_t k = before; k < st.n; k++) {
            st.finish[k] = b - a;
            st.finish_cpu[k] = bc - ac;
        }
    }
    earshot__capture_close(cap);
    st.live = 0;
    double secs = now() - wall0, used = cpu() - c1;
    earshot_flush(st.e);
    earshot_close(st.e);
    earshot__ring_free(&ring);
    static double lat[MAX_UTT], wait[MAX_UTT], freec[MAX_UTT];
    for (size_t k = 0; k < st.n; k++) {
        lat[k] = st.wall[k] - (t0 + st.end[k]);
        wait[k] = st.fed[k] - st.end[k];
        freec[k] = wait[k] + st.finish_cpu[k];
        if (verbose)
            printf("utterance %zu: words end %.2f s, latency %.0f ms, vad wait %.0f ms, finish "
                   "%.0f ms (CPU %.0f ms)\n",
                   k, st.end[k], 1000 * lat[k], 1000 * wait[k], 1000 * st.finish[k],
                   1000 * st.finish_cpu[k]);
    }
    printf("utterances %zu, partials %zu, audio %.1f s, CPU %.1f %% of one core, start-up CPU "
           "%.2f s, overflow %zu samples\n",
           st.n, st.partials, secs, 100 * used / secs, startup, (size_t)ring.dropped);
    if (st.n)
        printf("latency median %.0f ms p95 %.0f ms | vad wait median %.0f ms p95 %.0f ms | "
               "finish CPU median %.0f ms p95 %.0f ms (wall %.0f / %.0f)\n"
               "on a free core (vad wait + finish CPU): median %.0f ms p95 %.0f ms\n",
               1000 * pct(lat, st.n, 0.5), 1000 * pct(lat, st.n, 0.95),
               1000 * pct(wait, st.n, 0.5), 1000 * pct(wait, st.n, 0.95),
               1000 * pct(st.finish_cpu, st.n, 0.5), 1000 * pct(st.finish_cpu, st.n, 0.95),
               1000 * pct(st.finish, st.n, 0.5), 1000 * pct(st.finish, st.n, 0.95),
               1000 * pct(freec, st.n, 0.5), 1000 * pct(freec, st.n, 0.95));
    printf("text: %s\n", st.text);
    return 0;
}
