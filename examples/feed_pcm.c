/* feed_pcm.c - an app that brings its own audio: it reads a 16 kHz mono
 * 16-bit WAV by hand and pushes the samples through earshot.h, printing
 * each utterance from the callback.
 *
 * Build (after make install):
 *   cc -std=c11 feed_pcm.c -o feed_pcm $(pkg-config --cflags --libs --static earshot)
 * Run:
 *   ./feed_pcm examples/sample.wav
 */
#include "earshot.h" /* <earshot.h> once installed */

#include <stdio.h>
#include <string.h>

static int on_utterance(const earshot_utterance *u, void *user)
{
    int *count = user;
    printf("%.2f-%.2f (%.2f): %s\n", u->start, u->end, u->confidence, u->text);
    ++*count;
    return 0;
}

static unsigned le16(const unsigned char *p) { return p[0] | p[1] << 8; }
static unsigned long le32(const unsigned char *p)
{
    return p[0] | p[1] << 8 | (unsigned long)p[2] << 16 | (unsigned long)p[3] << 24;
}

/* Walks the RIFF chunks to the start of "data"; 0 on success. */
static int wav_find_data(FILE *f, unsigned long *data_bytes)
{
    unsigned char h[12], c[8], fmt[16];
    int fmt_ok = 0;
    if (fread(h, 1, 12, f) != 12 || memcmp(h, "RIFF", 4) || memcmp(h + 8, "WAVE", 4))
        return -1;
    while (fread(c, 1, 8, f) == 8) {
        unsigned long len = le32(c + 4);
        if (!memcmp(c, "fmt ", 4) && len >= 16) {
            if (fread(fmt, 1, 16, f) != 16)
                return -1;
            fmt_ok = le16(fmt) == 1 && le16(fmt + 2) == 1 &&
                     le32(fmt + 4) == EARSHOT_SAMPLE_RATE && le16(fmt + 14) == 16;
            len -= 16;
        } else if (!memcmp(c, "data", 4)) {
            *data_bytes = len;
            return fmt_ok ? 0 : -1;
        }
        if (fseek(f, (long)(len + (len & 1)), SEEK_CUR) != 0)
            return -1;
    }
    return -1;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: feed_pcm FILE.wav   (16 kHz mono 16-bit PCM)\n");
        return 2;
    }
    FILE *f = fopen(argv[1], "rb");
    unsigned long bytes = 0;
    if (!f || wav_find_data(f, &bytes) != 0) {
        fprintf(stderr, "feed_pcm: %s: not a 16 kHz mono 16-bit PCM WAV\n", argv[1]);
        if (f)
            fclose(f);
        return 1;
    }
    int count = 0;
    earshot_config cfg = earshot_config_default();
    cfg.on_utterance = on_utterance;
    cfg.utterance_user = &count;
    earshot *e = NULL;
    if (earshot_open(&e, &cfg) != EARSHOT_OK) {
        fprintf(stderr, "feed_pcm: %s\n", earshot_errmsg(e));
        earshot_close(e);
        fclose(f);
        return 1;
    }
    /* Samples are little-endian in the file; decode them portably. */
    unsigned char raw[2 * 1000];
    int16_t pcm[1000];
    size_t got;
    while (bytes >= 2 && (got = fread(raw, 2, sizeof pcm / sizeof *pcm, f)) > 0) {
        for (size_t i = 0; i < got; i++)
            pcm[i] = (int16_t)le16(raw + 2 * i);
        if (got * 2 > bytes)
            got = bytes / 2;
        bytes -= got * 2;
        if (earshot_feed(e, pcm, got) != EARSHOT_OK)
            break;
    }
    int rc = earshot_flush(e);
    if (rc != EARSHOT_OK)
        fprintf(stderr, "feed_pcm: %s\n", earshot_errmsg(e));
    earshot_close(e);
    fclose(f);
    fprintf(stderr, "feed_pcm: %d utterances\n", count);
    return rc == EARSHOT_OK ? 0 : 1;
}
