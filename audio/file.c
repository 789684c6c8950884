/* file.c - audio files in, 16 kHz mono int16 out (libsndfile + resample.c).
 *
 * The file is read in fixed chunks so memory does not grow with its length.
 * A 16 kHz mono file is read as int16 directly, so its samples reach the
 * decoder bit for bit as pocketsphinx_continuous would read them; anything
 * else is read as float, averaged to mono, resampled and clipped back to
 * int16.
 *
 * A stream (standard input as "-", a pipe such as /dev/stdin, a FIFO) is
 * read into memory first, up to STREAM_MAX bytes, and decoded from there
 * through libsndfile's virtual I/O: libsndfile seeks while it parses
 * headers and finds the length of FLAC and OGG files, which a pipe cannot
 * do (its own pipe support reads WAV but loses sync on FLAC and gives OGG
 * no length). */
#include "earshot.h"
#include "resample.h"

#include <errno.h>
#include <samplerate.h>
#include <sndfile.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

enum { CHUNK = 4096 };

/* The most a stream may hold: an hour of 48 kHz stereo 16-bit WAV is
 * 0.7 GB. A file of any size is read in bounded memory instead. */
#define STREAM_MAX ((size_t)1 << 30)

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
    int unknown_length;      /* the file does not say how long it is */
    int ogg;
    unsigned char *mem;      /* a stream's bytes (virtual I/O), or NULL */
    size_t mem_len;
    sf_count_t mem_pos;
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

/* libsndfile's virtual I/O over a stream read into memory. */
static sf_count_t mem_len(void *user)
{
    return (sf_count_t)((earshot_audio *)user)->mem_len;
}

static sf_count_t mem_seek(sf_count_t off, int whence, void *user)
{
    earshot_audio *a = user;
    sf_count_t base = whence == SEEK_CUR ? a->mem_pos
                    : whence == SEEK_END ? (sf_count_t)a->mem_len : 0;
    sf_count_t to = base + off;
    if (to < 0 || to > (sf_count_t)a->mem_len)
        return -1;
    a->mem_pos = to;
    return to;
}

static sf_count_t mem_read(void *ptr, sf_count_t count, void *user)
{
    earshot_audio *a = user;
    sf_count_t left = (sf_count_t)a->mem_len - a->mem_pos;
    if (count > left)
        count = left;
    if (count <= 0)
        return 0;
    memcpy(ptr, a->mem + a->mem_pos, (size_t)count);
    a->mem_pos += count;
    return count;
}

static sf_count_t mem_write(const void *ptr, sf_count_t count, void *user)
{
    return 0;
}

static sf_count_t mem_tell(void *user)
{
    return ((earshot_audio *)user)->mem_pos;
}

/* Reads all of fd into a->mem (at most STREAM_MAX bytes). */
static int slurp(earshot_audio *a, int fd, const char *what)
{
    size_t cap = 0;
    for (;;) {
        if (a->mem_len == cap) {
            if (cap >= STREAM_MAX)
                return fail(a, EARSHOT_FORMAT, "%s holds more than %zu MiB of audio: save it "
                            "to a file and transcribe that (files are read in bounded memory)",
                            what, STREAM_MAX >> 20);
            size_t next = cap ? cap * 2 : 1 << 16;
            if (next > STREAM_MAX)
                next = STREAM_MAX;
            unsigned char *m = realloc(a->mem, next);
            if (!m)
                return fail(a, EARSHOT_NOMEM, "out of memory reading %s", what);
            a->mem = m;
            cap = next;
        }
        ssize_t n = read(fd, a->mem + a->mem_len, cap - a->mem_len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return fail(a, EARSHOT_IO, "%s", strerror(errno));
        if (n == 0)
            break;
        a->mem_len += (size_t)n;
    }
    if (a->mem_len == 0)
        return fail(a, EARSHOT_FORMAT, "empty input (0 bytes), no audio");
    return EARSHOT_OK;
}

/* Opens path ("-": standard input) as a stream into a->mem. */
static int open_stream(earshot_audio *a, const char *path, int is_stdin)
{
    int fd = is_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fail(a, EARSHOT_IO, "%s", strerror(errno));
    if (isatty(fd)) {
        if (!is_stdin)
            close(fd);
        return fail(a, EARSHOT_IO, "%s is a terminal, not audio: pipe or redirect a file "
                    "into it", is_stdin ? "standard input" : "it");
    }
    int rc = slurp(a, fd, is_stdin ? "standard input" : "the stream");
    if (!is_stdin)
        close(fd);
    return rc;
}

int earshot_audio_open_file(earshot_audio **out, const char *path)
{
    earshot_audio *a = calloc(1, sizeof *a);
    *out = a;
    if (!a)
        return EARSHOT_NOMEM;
    a->declared_frames = -1;
    if (!path)
        return fail(a, EARSHOT_MISUSE, "no file name");
    int is_stdin = !strcmp(path, "-");
    struct stat st;
    if (is_stdin ? fstat(STDIN_FILENO, &st) != 0 : stat(path, &st) != 0)
        return fail(a, EARSHOT_IO, "%s", strerror(errno));
    if (S_ISDIR(st.st_mode))
        return fail(a, EARSHOT_IO, "is a directory, not an audio file");
    SF_INFO si = {0};
    if (S_ISREG(st.st_mode)) {
        if (st.st_size == 0)
            return fail(a, EARSHOT_FORMAT, "empty file (0 bytes), no audio");
        int fd = is_stdin ? dup(STDIN_FILENO) : open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return fail(a, EARSHOT_IO, "%s", strerror(errno));
        /* Standard input redirected from a file is read where it stands. */
        a->sf = sf_open_fd(fd, SFM_READ, &si, 1);
        if (!a->sf)
            close(fd);
    } else {
        int rc = open_stream(a, path, is_stdin);
        if (rc != EARSHOT_OK)
            return rc;
        static SF_VIRTUAL_IO vio = {mem_len, mem_seek, mem_read, mem_write, mem_tell};
        a->sf = sf_open_virtual(&vio, SFM_READ, &si, a);
    }
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
    /* libsndfile gives SF_COUNT_MAX frames when it cannot find the length:
     * an OGG file whose last page (the granule position saying how long it
     * is) is missing, because it was cut short or damaged. */
    a->ogg = (si.format & SF_FORMAT_TYPEMASK) == SF_FORMAT_OGG;
    if (si.frames == SF_COUNT_MAX) {
        a->unknown_length = 1;
        a->info.frames = 0;
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
    if (a->unknown_length) {
        a->truncated = 1;
        fail(a, EARSHOT_FORMAT, "truncated or damaged %s file: it ends without the last page "
             "that gives its length (holds %.2f s)", a->ogg ? "OGG" : "audio",
             (double)a->frames_read / a->info.sample_rate);
    }
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
    free(a->mem);
    free(a);
}
