/* adapt.c - `earshot adapt`: an MLLR transform from recordings and their
 * transcript, through earshot_adapt_*() (earshot.h).
 *
 * The audio goes through the same reader and resampler as `earshot
 * transcribe`, so an 8 kHz phone recording is adapted to as the recogniser
 * will hear it. */
#include "commands.h"
#include "earshot.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const adapt_usage =
    "usage: earshot adapt --transcript FILE [--wav DIR] [--model DIR]\n"
    "                     [--tools DIR] [--keep DIR] [--band-fill RMS] [--verbose]\n"
    "                     -o OUT\n"
    "\n"
    "Adapts the acoustic model to a microphone, a room or a phone line: builds\n"
    "an MLLR transform from recordings of it whose words are known, for\n"
    "'earshot transcribe --mllr OUT' and 'earshot listen --mllr OUT'.\n"
    "A few minutes of speech (100 or so sentences) is enough.\n"
    "\n"
    "The transcript has one line per recording, either\n"
    "  ID words said            (DIR/ID.wav, or DIR/ID when ID has an extension)\n"
    "or sphinxtrain's form\n"
    "  <s> words said </s> (ID)\n"
    "Words are those of the model's dictionary; '#' lines are comments.\n"
    "\n"
    "options:\n"
    "  --transcript FILE  the words of each recording\n"
    "  --wav DIR     folder of the recordings (default: the transcript's folder);\n"
    "                any format and sample rate earshot transcribe reads\n"
    "  --model DIR   the PocketSphinx model to adapt; default\n"
    "                " EARSHOT_DEFAULT_MODEL_DIR "\n"
    "  --tools DIR   sphinxtrain's programs (bw, mllr_solve); default\n"
    "                $EARSHOT_SPHINXTRAIN or /usr/lib/sphinxtrain (Debian: sphinxtrain)\n"
    "  --keep DIR    keep the features and counts in DIR\n"
    "  --band-fill RMS  the recogniser's band_fill (earshot.h), which must match\n"
    "                the recogniser's; default 27, 0 off\n"
    "  -o OUT        the transform to write\n"
    "  --verbose     show the commands run and PocketSphinx's log\n"
    "  -h, --help    this help\n";

static int usage(const char *fmt, const char *arg)
{
    fputs("earshot: ", stderr);
    fprintf(stderr, fmt, arg);
    fputs("\nTry 'earshot adapt --help'.\n", stderr);
    return 2;
}

/* Splits a transcript line into its id and words (both point into line);
 * 0 when the line has no id. */
static int split_line(char *line, char **id, char **words)
{
    size_t len = strlen(line);
    while (len && isspace((unsigned char)line[len - 1]))
        line[--len] = '\0';
    char *s = line;
    while (isspace((unsigned char)*s))
        s++;
    if (len && line[len - 1] == ')') {
        char *open = strrchr(s, '(');
        if (!open || open == s)
            return 0;
        line[len - 1] = '\0';
        *id = open + 1;
        *open = '\0';
        *words = s;
    } else {
        *id = s;
        s += strcspn(s, " \t");
        if (!*s)
            return 0;
        *s++ = '\0';
        *words = s;
    }
    /* sphinxtrain's sentence markers are not words. */
    char *w;
    while ((w = strstr(*words, "<s>")) || (w = strstr(*words, "</s>")))
        memset(w, ' ', w[1] == '/' ? 4 : 3);
    return **id != '\0';
}

/* Reads a whole file as 16 kHz mono PCM; NULL with the reason in err. */
static int16_t *read_audio(const char *path, size_t *n, char *err, size_t errlen)
{
    earshot_audio *au = NULL;
    int16_t *pcm = NULL;
    size_t len = 0, cap = 0;
    if (earshot_audio_open_file(&au, path) != EARSHOT_OK) {
        snprintf(err, errlen, "%s", au ? earshot_audio_errmsg(au) : "out of memory");
        earshot_audio_close(au);
        return NULL;
    }
    for (;;) {
        if (cap - len < 4096) {
            cap = cap ? cap * 2 : 65536;
            int16_t *p = realloc(pcm, cap * sizeof *p);
            if (!p) {
                snprintf(err, errlen, "out of memory");
                free(pcm);
                earshot_audio_close(au);
                return NULL;
            }
            pcm = p;
        }
        long got = earshot_audio_read(au, pcm + len, cap - len);
        if (got < 0) {
            snprintf(err, errlen, "%s", earshot_audio_errmsg(au));
            free(pcm);
            earshot_audio_close(au);
            return NULL;
        }
        if (got == 0)
            break;
        len += (size_t)got;
    }
    earshot_audio_close(au);
    *n = len;
    return pcm;
}

int earshot_cmd_adapt(int argc, char **argv)
{
    earshot_adapt_config cfg = earshot_adapt_config_default();
    const char *transcript = NULL, *wav = NULL, *out = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(adapt_usage, stdout);
            return 0;
        } else if (!strcmp(a, "--verbose")) {
            cfg.verbose = 1;
        } else if (!strcmp(a, "--transcript") || !strcmp(a, "--wav") || !strcmp(a, "--model") ||
                   !strcmp(a, "--tools") || !strcmp(a, "--keep") || !strcmp(a, "-o") ||
                   !strcmp(a, "--band-fill")) {
            if (i + 1 >= argc)
                return usage("option '%s' needs a value", a);
            const char *v = argv[++i];
            if (!strcmp(a, "--transcript"))
                transcript = v;
            else if (!strcmp(a, "--wav"))
                wav = v;
            else if (!strcmp(a, "--model"))
                cfg.model_dir = v;
            else if (!strcmp(a, "--tools"))
                cfg.tools_dir = v;
            else if (!strcmp(a, "--keep"))
                cfg.work_dir = v;
            else if (!strcmp(a, "--band-fill")) {
                char *end;
                cfg.band_fill = strtod(v, &end);
                if (end == v || *end || cfg.band_fill < 0)
                    return usage("--band-fill needs an RMS level (0: off), not '%s'", v);
            }
            else
                out = v;
        } else {
            return usage("unknown argument '%s'", a);
        }
    }
    if (!transcript)
        return usage("%s", "no --transcript given");
    if (!out)
        return usage("%s", "no output file given (-o OUT)");
    char dir[1024];
    if (wav) {
        snprintf(dir, sizeof dir, "%s", wav);
    } else {
        snprintf(dir, sizeof dir, "%s", transcript);
        char *slash = strrchr(dir, '/');
        if (slash)
            *slash = '\0';
        else
            snprintf(dir, sizeof dir, ".");
    }
    FILE *f = fopen(transcript, "r");
    if (!f) {
        fprintf(stderr, "earshot: %s: cannot open the transcript\n", transcript);
        return 1;
    }
    earshot_adapt *ad = NULL;
    if (earshot_adapt_open(&ad, &cfg) != EARSHOT_OK) {
        fprintf(stderr, "earshot: %s\n", earshot_adapt_errmsg(ad));
        earshot_adapt_close(ad);
        fclose(f);
        return 1;
    }
    char line[8192];
    int lineno = 0, rc = 0, n = 0;
    while (!rc && fgets(line, sizeof line, f)) {
        lineno++;
        char *s = line;
        while (isspace((unsigned char)*s))
            s++;
        if (!*s || *s == '#')
            continue;
        char *id, *words;
        if (!split_line(line, &id, &words)) {
            fprintf(stderr, "earshot: %s:%d: expected \"ID words...\" or \"words (ID)\"\n",
                    transcript, lineno);
            rc = 1;
            break;
        }
        char path[2200];
        const char *dot = strrchr(id, '.');
        if (dot && !strchr(dot, '/'))
            snprintf(path, sizeof path, "%s/%s", dir, id);
        else
            snprintf(path, sizeof path, "%s/%s.wav", dir, id);
        char err[1200];
        size_t len = 0;
        int16_t *pcm = read_audio(path, &len, err, sizeof err);
        if (!pcm) {
            fprintf(stderr, "earshot: %s:%d: %s: %s\n", transcript, lineno, path, err);
            rc = 1;
            break;
        }
        if (earshot_adapt_add(ad, pcm, len, words) != EARSHOT_OK) {
            fprintf(stderr, "earshot: %s:%d: %s: %s\n", transcript, lineno, path,
                    earshot_adapt_errmsg(ad));
            rc = 1;
        }
        free(pcm);
        n++;
    }
    fclose(f);
    if (!rc && n == 0) {
        fprintf(stderr, "earshot: %s: no recordings listed\n", transcript);
        rc = 1;
    }
    int used = 0;
    if (!rc && earshot_adapt_write(ad, out, &used) != EARSHOT_OK) {
        fprintf(stderr, "earshot: %s\n", earshot_adapt_errmsg(ad));
        rc = 1;
    }
    if (!rc)
        fprintf(stderr, "earshot: wrote %s from %d of %d recordings (%.0f s)\n", out, used, n,
                earshot_adapt_seconds(ad));
    earshot_adapt_close(ad);
    return rc;
}
