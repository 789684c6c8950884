/* capture.c - PortAudio capture into a ring buffer, and the device list.
 *
 * PortAudio probes every host API it was built with (ALSA, JACK, OSS) and
 * ALSA and JACK print their own complaints to stderr while it does; the
 * handlers below keep those quiet, and with quiet set, stderr itself is
 * pointed at /dev/null while PortAudio initialises (its own debug prints
 * cannot be redirected otherwise). */
#include "capture.h"

#include <alsa/asoundlib.h>
#include <errno.h>
#include <fcntl.h>
#include <jack/jack.h>
#include <portaudio.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { MAX_CHANNELS = 8, FRAMES = 512 };

struct earshot__capture {
    PaStream *stream;
    earshot__ring *ring;
    int channels, rate;
    char name[256];
    int pa_open; /* Pa_Initialize succeeded */
    _Atomic int released;
};

static void alsa_silent(const char *file, int line, const char *fn, int err, const char *fmt,
                        ...)
{
    (void)file, (void)line, (void)fn, (void)err, (void)fmt;
}

static void jack_silent(const char *msg)
{
    (void)msg;
}

static int pa_start(int quiet)
{
    snd_lib_error_set_handler(alsa_silent);
    jack_set_error_function(jack_silent);
    jack_set_info_function(jack_silent);
    int saved = -1;
    if (quiet) {
        fflush(stderr);
        saved = dup(STDERR_FILENO);
        int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
        if (null >= 0) {
            dup2(null, STDERR_FILENO);
            close(null);
        }
    }
    PaError e = Pa_Initialize();
    if (saved >= 0) {
        fflush(stderr);
        dup2(saved, STDERR_FILENO);
        close(saved);
    }
    return e;
}

int earshot_devices(earshot_device_fn fn, void *user, char *err, size_t errlen)
{
    PaError e = pa_start(1);
    if (e != paNoError) {
        snprintf(err, errlen, "cannot start PortAudio: %s", Pa_GetErrorText(e));
        return EARSHOT_IO;
    }
    int n = Pa_GetDeviceCount(), rc = EARSHOT_OK;
    PaDeviceIndex def = Pa_GetDefaultInputDevice();
    for (int i = 0; i < n; i++) {
        const PaDeviceInfo *d = Pa_GetDeviceInfo(i);
        if (!d || d->maxInputChannels < 1)
            continue;
        const PaHostApiInfo *h = Pa_GetHostApiInfo(d->hostApi);
        earshot_device_info info = {.index = i, .name = d->name,
                                    .host_api = h ? h->name : "?",
                                    .default_rate = d->defaultSampleRate,
                                    .channels = d->maxInputChannels, .is_default = i == def};
        if (fn(&info, user)) {
            rc = EARSHOT_STOPPED;
            break;
        }
    }
    Pa_Terminate();
    return rc;
}

/* The callback: to mono float, copy, return. No locks, no allocation.
 * Capture is 16-bit: what microphones deliver, and what ALSA's file
 * plugin (the test device) reads from its raw input. */
static int on_audio(const void *input, void *output, unsigned long frames,
                    const PaStreamCallbackTimeInfo *time, PaStreamCallbackFlags flags, void *user)
{
    (void)output, (void)time, (void)flags;
    earshot__capture *c = user;
    const int16_t *in = input;
    float mono[FRAMES];
    while (in && frames > 0) {
        unsigned long n = frames < FRAMES ? frames : FRAMES;
        for (unsigned long i = 0; i < n; i++) {
            int s = 0;
            for (int ch = 0; ch < c->channels; ch++)
                s += in[i * c->channels + ch];
            mono[i] = (float)s / (32768.0f * c->channels);
        }
        earshot__ring_write(c->ring, mono, n);
        in += n * c->channels;
        frames -= n;
    }
    return paContinue;
}

static PaDeviceIndex find_device(const char *want)
{
    if (!want || !*want)
        return Pa_GetDefaultInputDevice();
    char *end;
    long idx = strtol(want, &end, 10);
    int n = Pa_GetDeviceCount();
    if (*end == '\0' && end != want)
        return idx >= 0 && idx < n ? (PaDeviceIndex)idx : paNoDevice;
    /* An exact name first, then a part of one. */
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < n; i++) {
            const PaDeviceInfo *d = Pa_GetDeviceInfo(i);
            if (d && d->maxInputChannels > 0 &&
                (pass == 0 ? !strcmp(d->name, want) : strstr(d->name, want) != NULL))
                return i;
        }
    return paNoDevice;
}

int earshot__capture_open(earshot__capture **out, const char *device, int rate, int quiet,
                          earshot__ring *ring, char *err, size_t errlen)
{
    *out = NULL;
    earshot__capture *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return EARSHOT_NOMEM;
    }
    c->ring = ring;
    PaError e = pa_start(quiet);
    if (e != paNoError) {
        snprintf(err, errlen, "cannot start PortAudio: %s", Pa_GetErrorText(e));
        free(c);
        return EARSHOT_IO;
    }
    c->pa_open = 1;
    PaDeviceIndex dev = find_device(device);
    if (dev == paNoDevice) {
        snprintf(err, errlen, device ? "no capture device '%s' (earshot devices lists them)"
                                     : "no default capture device%s", device ? device : "");
        earshot__capture_close(c);
        return EARSHOT_IO;
    }
    const PaDeviceInfo *d = Pa_GetDeviceInfo(dev);
    snprintf(c->name, sizeof c->name, "%s", d->name);
    /* Mono when the device offers it; otherwise all its channels (up to
     * 8), averaged in the callback. */
    c->channels = d->maxInputChannels < MAX_CHANNELS ? d->maxInputChannels : MAX_CHANNELS;
    PaStreamParameters p = {.device = dev, .channelCount = 1, .sampleFormat = paInt16,
                            .suggestedLatency = d->defaultHighInputLatency};
    if (Pa_IsFormatSupported(&p, NULL, 16000) == paFormatIsSupported || c->channels < 1)
        c->channels = 1;
    p.channelCount = c->channels;
    c->rate = rate > 0 ? rate : 16000;
    if (rate <= 0 && Pa_IsFormatSupported(&p, NULL, 16000) != paFormatIsSupported)
        c->rate = (int)d->defaultSampleRate;
    e = Pa_OpenStream(&c->stream, &p, NULL, c->rate, paFramesPerBufferUnspecified, paNoFlag,
                      on_audio, c);
    if (e == paNoError)
        e = Pa_StartStream(c->stream);
    if (e != paNoError) {
        snprintf(err, errlen, "%s: cannot capture at %d Hz: %s", c->name, c->rate,
                 Pa_GetErrorText(e));
        earshot__capture_close(c);
        return EARSHOT_IO;
    }
    *out = c;
    return EARSHOT_OK;
}

int earshot__capture_rate(const earshot__capture *c)
{
    return c->rate;
}

const char *earshot__capture_name(const earshot__capture *c)
{
    return c->name;
}

int earshot__capture_alive(earshot__capture *c)
{
    return c->stream && Pa_IsStreamActive(c->stream) == 1;
}

static void release(earshot__capture *c)
{
    if (c->stream) {
        Pa_AbortStream(c->stream);
        Pa_CloseStream(c->stream);
    }
    if (c->pa_open)
        Pa_Terminate();
}

void earshot__capture_close(earshot__capture *c)
{
    if (!c)
        return;
    release(c);
    free(c);
}

/* PortAudio 19.6's JACK backend waits forever in Pa_AbortStream when the
 * JACK server has died (found by killing jackd under a running listener),
 * so a lost device is released on a helper thread that is given a few
 * seconds; if it does not come back, the capture is abandoned (leaked)
 * and the caller is told, rather than hanging the listener. */
static void *release_thread(void *arg)
{
    earshot__capture *c = arg;
    release(c);
    atomic_store(&c->released, 1);
    return NULL;
}

int earshot__capture_close_lost(earshot__capture *c, double timeout)
{
    if (!c)
        return 1;
    atomic_init(&c->released, 0);
    pthread_t t;
    if (pthread_create(&t, NULL, release_thread, c) != 0)
        return 0;
    for (double waited = 0; waited < timeout && !atomic_load(&c->released); waited += 0.05)
        usleep(50000);
    if (!atomic_load(&c->released)) {
        pthread_detach(t);
        return 0; /* abandoned: c is never freed, its thread may still hold it */
    }
    pthread_join(t, NULL);
    free(c);
    return 1;
}
