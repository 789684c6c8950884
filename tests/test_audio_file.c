/* test_audio_file.c - audio/file.c against real files: a stream (standard
 * input as "-", /dev/stdin, a FIFO) delivers the same 16 kHz samples as
 * the file it carries, for WAV, FLAC and OGG; a truncated OGG file has a
 * sane length and says it is truncated; an empty stream is refused with
 * one line. With EARSHOT_BIN set, `earshot transcribe -` on a pipe and on
 * a FIFO prints the transcript the file gives. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "earshot.h"

#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[256];

static const char *testdata(void)
{
    const char *d = getenv("EARSHOT_TESTDATA");
    return d ? d : "build/testdata";
}

static int setup(void **state)
{
    (void)state;
    signal(SIGPIPE, SIG_IGN);
    snprintf(dir, sizeof dir, "/tmp/earshot-audio-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd);
}

/* All the PCM a source delivers. */
typedef struct pcm {
    int16_t *s;
    size_t n;
} pcm;

static int read_all(const char *path, pcm *out, char *err, size_t errlen)
{
    earshot_audio *a = NULL;
    int rc = earshot_audio_open_file(&a, path);
    out->s = NULL;
    out->n = 0;
    if (rc == EARSHOT_OK) {
        size_t cap = 0;
        long n;
        int16_t buf[4096];
        while ((n = earshot_audio_read(a, buf, 4096)) > 0) {
            if (out->n + (size_t)n > cap) {
                cap = (out->n + (size_t)n) * 2;
                out->s = realloc(out->s, cap * sizeof *out->s);
                assert_non_null(out->s);
            }
            memcpy(out->s + out->n, buf, (size_t)n * sizeof *buf);
            out->n += (size_t)n;
        }
        if (n < 0)
            rc = EARSHOT_FORMAT;
    }
    snprintf(err, errlen, "%s", earshot_audio_errmsg(a));
    earshot_audio_close(a);
    return rc;
}

/* A child writes the file to fd, then exits. */
static pid_t feed(const char *file, int fd)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int in = open(file, O_RDONLY);
        char buf[8192];
        ssize_t n;
        while (in >= 0 && (n = read(in, buf, sizeof buf)) > 0)
            if (write(fd, buf, (size_t)n) != n)
                _exit(1);
        _exit(in >= 0 ? 0 : 2);
    }
    return pid;
}

static void reap(pid_t pid)
{
    int status;
    waitpid(pid, &status, 0);
}

/* Reads `path` (a pipe's name: "-" or "/dev/stdin") with standard input
 * a pipe that carries file. */
static int read_piped(const char *file, const char *path, pcm *out, char *err, size_t len)
{
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = feed(file, p[1]);
    close(p[1]);
    int saved = dup(STDIN_FILENO);
    dup2(p[0], STDIN_FILENO);
    close(p[0]);
    int rc = read_all(path, out, err, len);
    dup2(saved, STDIN_FILENO);
    close(saved);
    reap(pid);
    return rc;
}

static int read_fifo(const char *file, pcm *out, char *err, size_t len)
{
    char fifo[300];
    snprintf(fifo, sizeof fifo, "%s/audio.fifo", dir);
    unlink(fifo);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(fifo, O_WRONLY);
        if (fd < 0)
            _exit(2);
        reap(feed(file, fd));
        _exit(0);
    }
    int rc = read_all(fifo, out, err, len);
    if (rc != EARSHOT_OK)
        kill(pid, SIGKILL); /* a writer nobody opened the FIFO for waits for ever */
    reap(pid);
    unlink(fifo);
    return rc;
}

static void test_streams_match_the_file(void **state)
{
    (void)state;
    const char *names[] = {"libri.flac", "libri-48k-stereo.ogg", "libri-44k-stereo.wav",
                           NULL};
    char file[400], err[600];
    for (int i = 0; i < 4; i++) {
        if (names[i])
            snprintf(file, sizeof file, "%s/%s", testdata(), names[i]);
        else
            snprintf(file, sizeof file, "%s", EARSHOT_SOURCE_GRAMMAR_DIR "/../../examples/sample.wav");
        pcm want, got;
        if (read_all(file, &want, err, sizeof err) != EARSHOT_OK)
            fail_msg("%s: %s", file, err);
        assert_true(want.n > 16000);
        const char *how[] = {"-", "/dev/stdin", "fifo"};
        for (int h = 0; h < 3; h++) {
            int rc = h < 2 ? read_piped(file, how[h], &got, err, sizeof err)
                           : read_fifo(file, &got, err, sizeof err);
            if (rc != EARSHOT_OK)
                fail_msg("%s as %s: %s", file, how[h], err);
            print_message("%s as %s: %zu samples (file %zu)\n", file, how[h], got.n, want.n);
            assert_int_equal(got.n, want.n);
            assert_memory_equal(got.s, want.s, want.n * sizeof *want.s);
            free(got.s);
        }
        free(want.s);
    }
    /* Standard input redirected from the file itself (seekable). */
    snprintf(file, sizeof file, "%s/libri.flac", testdata());
    pcm want, got;
    assert_int_equal(read_all(file, &want, err, sizeof err), EARSHOT_OK);
    int saved = dup(STDIN_FILENO), fd = open(file, O_RDONLY);
    dup2(fd, STDIN_FILENO);
    close(fd);
    int rc = read_all("-", &got, err, sizeof err);
    dup2(saved, STDIN_FILENO);
    close(saved);
    assert_int_equal(rc, EARSHOT_OK);
    assert_int_equal(got.n, want.n);
    assert_memory_equal(got.s, want.s, want.n * sizeof *want.s);
    free(got.s);
    free(want.s);
}

static void test_empty_and_bad_streams(void **state)
{
    (void)state;
    char empty[300], err[600];
    snprintf(empty, sizeof empty, "%s/empty", dir);
    close(open(empty, O_WRONLY | O_CREAT, 0600));
    pcm got;
    assert_int_equal(read_piped(empty, "-", &got, err, sizeof err), EARSHOT_FORMAT);
    assert_string_equal(err, "empty input (0 bytes), no audio");
    assert_int_equal(read_fifo(empty, &got, err, sizeof err), EARSHOT_FORMAT);
    assert_string_equal(err, "empty input (0 bytes), no audio");
    /* Text through a pipe is not audio. */
    FILE *f = fopen(empty, "w");
    fputs("this is not audio, just text\n", f);
    fclose(f);
    assert_int_equal(read_piped(empty, "-", &got, err, sizeof err), EARSHOT_FORMAT);
    assert_non_null(strstr(err, "not a readable audio file"));
}

static void cut(const char *from, const char *to, long bytes)
{
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    assert_non_null(in);
    assert_non_null(out);
    char *buf = malloc((size_t)bytes);
    assert_non_null(buf);
    size_t n = fread(buf, 1, (size_t)bytes, in);
    assert_int_equal(fwrite(buf, 1, n, out), n);
    free(buf);
    fclose(in);
    fclose(out);
}

/* A cut OGG file has no last page, so nothing gives its length: libsndfile
 * says SF_COUNT_MAX frames, which was reported as 192153584101141.16 s. */
static void test_truncated_ogg(void **state)
{
    (void)state;
    char src[400], path[300], err[600];
    snprintf(src, sizeof src, "%s/libri-48k-stereo.ogg", testdata());
    snprintf(path, sizeof path, "%s/cut.ogg", dir);
    cut(src, path, 20000);
    earshot_audio *a = NULL;
    assert_int_equal(earshot_audio_open_file(&a, path), EARSHOT_OK);
    const earshot_audio_info *info = earshot_audio_get_info(a);
    print_message("cut.ogg: %" PRId64 " frames, %.2f s\n", info->frames, info->seconds);
    assert_true(info->seconds >= 0 && info->seconds < 10);
    int16_t buf[4096];
    long n, total = 0;
    while ((n = earshot_audio_read(a, buf, 4096)) > 0)
        total += n;
    assert_int_equal(n, 0);
    assert_true(total > 16000); /* what it holds is delivered */
    assert_true(earshot_audio_truncated(a));
    snprintf(err, sizeof err, "%s", earshot_audio_errmsg(a));
    print_message("cut.ogg: %s\n", err);
    assert_non_null(strstr(err, "truncated or damaged OGG file"));
    earshot_audio_close(a);

    /* The whole file is not truncated, and says how long it is. */
    assert_int_equal(earshot_audio_open_file(&a, src), EARSHOT_OK);
    assert_true(earshot_audio_get_info(a)->seconds > 2.9 &&
                earshot_audio_get_info(a)->seconds < 3.1);
    while ((n = earshot_audio_read(a, buf, 4096)) > 0)
        ;
    assert_false(earshot_audio_truncated(a));
    earshot_audio_close(a);
}

/* Runs a shell command; its standard output, malloc'd. */
static char *run(const char *cmd)
{
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t cap = 4096, n = 0;
    char *out = malloc(cap);
    assert_non_null(out);
    size_t got;
    while ((got = fread(out + n, 1, cap - n - 1, p)) > 0) {
        n += got;
        if (n + 1 == cap)
            out = realloc(out, cap *= 2);
    }
    out[n] = '\0';
    pclose(p);
    return out;
}

/* Each line "NAME START-END: text" without its name. */
static void strip_names(char *s)
{
    char *o = s;
    for (char *line = s; *line;) {
        char *sp = strchr(line, ' '), *nl = strchr(line, '\n');
        if (!nl)
            nl = line + strlen(line);
        const char *from = sp && sp < nl ? sp : line;
        size_t len = (size_t)(nl - from) + (*nl ? 1 : 0);
        memmove(o, from, len);
        o += len;
        line = nl + (*nl ? 1 : 0);
    }
    *o = '\0';
}

static void test_cli_transcribes_streams(void **state)
{
    (void)state;
    const char *bin = getenv("EARSHOT_BIN");
    if (!bin) {
        print_message("EARSHOT_BIN not set: the command is not tested here\n");
        skip();
    }
    char file[400], cmd[1400];
    snprintf(file, sizeof file, "%s/libri.flac", testdata());
    snprintf(cmd, sizeof cmd, "'%s' transcribe '%s'", bin, file);
    char *want = run(cmd);
    strip_names(want);
    assert_non_null(strstr(want, "he was not"));
    snprintf(cmd, sizeof cmd, "cat '%s' | '%s' transcribe -", file, bin);
    char *piped = run(cmd);
    strip_names(piped);
    assert_string_equal(piped, want);
    snprintf(cmd, sizeof cmd, "cat '%s' | '%s' transcribe /dev/stdin", file, bin);
    char *devstdin = run(cmd);
    strip_names(devstdin);
    assert_string_equal(devstdin, want);
    snprintf(cmd, sizeof cmd, "f='%s/cli.fifo'; rm -f \"$f\"; mkfifo \"$f\" && "
             "{ cat '%s' > \"$f\" & w=$!; '%s' transcribe \"$f\"; kill $w 2>/dev/null; wait; "
             "rm -f \"$f\"; }",
             dir, file, bin);
    char *fifo = run(cmd);
    strip_names(fifo);
    assert_string_equal(fifo, want);
    free(want);
    free(piped);
    free(devstdin);
    free(fifo);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_streams_match_the_file),
        cmocka_unit_test(test_empty_and_bad_streams),
        cmocka_unit_test(test_truncated_ogg),
        cmocka_unit_test(test_cli_transcribes_streams),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
