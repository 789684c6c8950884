/* file.c - audio files in, 16 kHz mono int16 out (libsndfile + resample.c).
 *
 * The file is read in fixed chunks so memory does not grow with its length.
 * A 16 kHz mono file is read as int16 directly, so its samples reach the
 * decoder bit for bit as pocketsphinx_continuous would read them; anything
 * else is read as float, averaged to mono, resampled and clipped back to
 * int16. */
#include "earshot.h"
#include "resample.h"

#include <errno.h>
#include <samplerate.h>
#include <sndfile.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum { CHUNK = 4096 };

struct earshot_audio {
    SNDFILE *sf;
    earshot_audio_info info;
    int direct;             /* 16 kHz mono: no conversion */
    earshot__resampler *rs; /* NULL when direct */
    float *frames;          /* CHUNK interleaved frames from the file */
    float *mono;            /* CHUNK mono samples */
    float *out;             /* resampler output not yet handed out */
    size_t out_len, out_pos;
    int64_t frames_read;
    int eof, truncated;
    int64_t declared_frames; /* from the header, before libsndfile's fix-up */
    char errmsg[512];
};

/* libsndfile's decoder messages read "Error : flac decoder lost sync.";
 * keep just the words, to fit in our one-line "FILE: what" form. */
static const char *sf_reason(SNDFILE *sf, char *buf, size_t len)
{
    const char *m = sf_strerror(sf);
    if (!strncmp(m, "Error : ", 8))
        m += 8;
    snprintf(buf, len, "%s", m);
    size_t n = strlen(buf);
    if (n && buf[n - 1] == '.')
        buf[n - 1] = '\0';
    return buf;
}

static int fail(earshot_audio *a, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->errmsg, sizeof a->errmsg, fmt, ap);
    va_end(ap);
    return rc;
}

/* libsndfile quietly shortens a WAV whose header claims more data than the
 * file holds; its log is the only place that says so ("data : 95680 (should
 * be 49956)"). Reading the declared size back lets us report truncation
 * instead of passing a cut-off recording as complete. */
static int64_t declared_frames_from_log(SNDFILE *sf, int block_align)
{
    char log[4096];
    sf_command(sf, SFC_GET_LOG_INFO, log, sizeof log);
    const char *p = strstr(log, "\ndata : ");
    if (!p || block_align <= 0)
        return -1;
    long long declared = 0, actual = 0;
    if (sscanf(p, "\ndata : %lld (should be %lld)", &declared, &actual) != 2)
        return -1;
    return declared / block_align;
}

int earshot_audio_open_file(earshot_audio **out, const char *path)
{
    earshot_audio *a = calloc(1, sizeof *a);
    *out = a;
    if (!a)
        return EARSHOT_NOMEM;
    a->declared_frames = -1;
    struct stat st;
    if (stat(path, &st) != 0)
        return fail(a, EARSHOT_IO, "%s", strerror(errno));
    if (S_ISDIR(st.st_mode))
        return fail(a, EARSHOT_IO, "is a directory, not an audio file");
    if (st.st_size == 0)
        return fail(a, EARSHOT_FORMAT, "empty file (0 bytes), no audio");
    FILE *probe = fopen(path, "rb");
    if (!probe)
        return fail(a, EARSHOT_IO, "%s", strerror(errno));
    fclose(probe);

    SF_INFO si = {0};
    a->sf = sf_open(path, SFM_READ, &si);
    if (!a->sf)
    {
        char why[256];
        return fail(a, EARSHOT_FORMAT, "not a readable audio file (%s)",
                    sf_reason(NULL, why, sizeof why));
    }
    if (si.samplerate <= 0 || si.channels <= 0)
        return fail(a, EARSHOT_FORMAT, "audio header gives %d Hz, %d channels",
                    si.samplerate, si.channels);
    a->info.sample_rate = si.samplerate;
    a->info.channels = si.channels;
    a->info.frames = si.frames;
    int block_align = si.channels;
    switch (si.format & SF_FORMAT_SUBMASK) {
    case SF_FORMAT_PCM_U8: case SF_FORMAT_PCM_S8: break;
    case SF_FORMAT_PCM_16: block_align *= 2; break;
    case SF_FORMAT_PCM_24: block_align *= 3; break;
    case SF_FORMAT_PCM_32: case SF_FORMAT_FLOAT: block_align *= 4; break;
    case SF_FORMAT_DOUBLE: block_align *= 8; break;
    default: block_align = 0; break;
    }
    if ((si.format & SF_FORMAT_TYPEMASK) == SF_FORMAT_WAV)
        a->declared_frames = declared_frames_from_log(a->sf, block_align);
    if (a->declared_frames > si.frames) {
        a->info.frames = a->declared_frames;
        a->truncated = 1;
    }
    a->info.seconds = (double)a->info.frames / si.samplerate;
    if (si.frames <= 0)
        return fail(a, EARSHOT_FORMAT, "no audio samples (zero-length recording)");

    /* Overs in float files clip instead of wrapping around. */
    sf_command(a->sf, SFC_SET_CLIPPING, NULL, SF_TRUE);
    a->direct = si.samplerate == EARSHOT_SAMPLE_RATE && si.channels == 1;
    if (!a->direct) {
        a->frames = malloc((size_t)CHUNK * si.channels * sizeof *a->frames);
        a->mono = malloc(CHUNK * sizeof *a->mono);
        a->rs = earshot__resampler_new(si.samplerate, EARSHOT_SAMPLE_RATE);
        if (!a->frames || !a->mono)
            return fail(a, EARSHOT_NOMEM, "out of memory");
        if (!a->rs)
            return fail(a, EARSHOT_FORMAT, "cannot convert %d Hz to %d Hz",
                        si.samplerate, EARSHOT_SAMPLE_RATE);
        /* Enough room for one chunk's output at any supported ratio. */
        size_t cap = (size_t)((double)CHUNK * EARSHOT_SAMPLE_RATE / si.samplerate) + CHUNK;
        a->out = malloc(cap * sizeof *a->out);
        if (!a->out)
            return fail(a, EARSHOT_NOMEM, "out of memory");
    }
    return EARSHOT_OK;
}

const earshot_audio_info *earshot_audio_get_info(const earshot_audio *a)
{
    return &a->info;
}

static void note_end(earshot_audio *a)
{
    a->eof = 1;
    if (a->frames_read < a->info.frames)
        a->truncated = 1;
}

/* Reads one chunk from the file, converts it, and leaves the 16 kHz
 * samples in a->out. Returns -1 on error, 0 when nothing more will come. */
static long refill(earshot_audio *a)
{
    size_t cap = (size_t)((double)CHUNK * EARSHOT_SAMPLE_RATE / a->info.sample_rate) + CHUNK;
    a->out_pos = a->out_len = 0;
    for (;;) {
        sf_count_t got = 0;
        if (!a->eof) {
            got = sf_readf_float(a->sf, a->frames, CHUNK);
            if (got < 0 || sf_error(a->sf) != SF_ERR_NO_ERROR) {
                a->truncated = 1;
                char why[256];
                return fail(a, EARSHOT_FORMAT, "corrupt or truncated audio: %s",
                            sf_reason(a->sf, why, sizeof why)), -1;
            }
            a->frames_read += got;
            int ch = a->info.channels;
            for (sf_count_t i = 0; i < got; i++) {
                float s = 0;
                for (int c = 0; c < ch; c++)
                    s += a->frames[i * ch + c];
                a->mono[i] = s / ch;
            }
            if (got == 0)
                note_end(a);
        }
        long n = earshot__resampler_run(a->rs, a->mono, (size_t)got, a->eof, a->out, cap);
        if (n < 0)
            return fail(a, EARSHOT_FORMAT, "resampling failed"), -1;
        if (n > 0 || a->eof) {
            a->out_len = (size_t)n;
            return n;
        }
    }
}

long earshot_audio_read(earshot_audio *a, int16_t *pcm, size_t max)
{
    if (!a || !a->sf)
        return -1;
    if (a->direct) {
        if (a->eof)
            return 0;
        sf_count_t got = sf_read_short(a->sf, pcm, (sf_count_t)max);
        if (got < 0 || sf_error(a->sf) != SF_ERR_NO_ERROR) {
            a->truncated = 1;
            char why[256];
            return fail(a, EARSHOT_FORMAT, "corrupt or truncated audio: %s",
                        sf_reason(a->sf, why, sizeof why)), -1;
        }
        a->frames_read += got;
        if (got == 0)
            note_end(a);
        return (long)got;
    }
    size_t done = 0;
    while (done < max) {
        if (a->out_pos == a->out_len) {
            long n = refill(a);
            if (n < 0)
                return done ? (long)done : -1;
            if (n == 0)
                break;
        }
        size_t take = a->out_len - a->out_pos;
        if (take > max - done)
            take = max - done;
        src_float_to_short_array(a->out + a->out_pos, pcm + done, (int)take);
        a->out_pos += take;
        done += take;
    }
    return (long)done;
}

int earshot_audio_truncated(const earshot_audio *a)
{
    return a && a->truncated;
}

const char *earshot_audio_errmsg(const earshot_audio *a)
{
    if (!a)
        return "out of memory";
    return a->errmsg[0] ? a->errmsg : "not an error";
}

void earshot_audio_close(earshot_audio *a)
{
    if (!a)
        return;
    if (a->sf)
        sf_close(a->sf);
    earshot__resampler_free(a->rs);
    free(a->frames);
    free(a->mono);
    free(a->out);
    free(a);
}
