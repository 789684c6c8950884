/* test_bad_input.c - the bad-input table (tests/data/bad/cases.tsv, format
 * in tests/data/bad/README.md): every case must fail with a non-zero exit
 * status, one line on stderr holding the expected message, no signal and
 * no hang (20 s). Needs EARSHOT_BIN (make test sets it). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TABLE "tests/data/bad/cases.tsv"
#define TIMEOUT_S 20

static char tmp[] = "/tmp/earshot-bad-XXXXXX";

static FILE *grammar_file(const char *sub, const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", tmp, sub);
    mkdir(path, 0700);
    snprintf(path, sizeof path, "%s/%s/%s", tmp, sub, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    return f;
}

/* Inputs too large to commit, or that git cannot hold (a FIFO). Returns
 * the path, in tmp. */
static const char *make_input(const char *name, char *path, size_t len)
{
    snprintf(path, len, "%s/%s", tmp, name + 1);
    struct stat st;
    if (stat(path, &st) == 0)
        return path;
    if (!strcmp(name, "@nest_paren") || !strcmp(name, "@nest_bracket")) {
        int sq = name[6] == 'b';
        FILE *f = grammar_file(name + 1, "deep.grammar");
        fputs("[intent x]\n", f);
        for (int i = 0; i < 5000; i++)
            fputc(sq ? '[' : '(', f);
        fputs("hello", f);
        for (int i = 0; i < 5000; i++)
            fputc(sq ? ']' : ')', f);
        fputc('\n', f);
        fclose(f);
    } else if (!strncmp(name, "@chain_", 7)) {
        long n = atol(name + 7);
        FILE *f = grammar_file(name + 1, "chain.grammar");
        fputs("[intent x]\n<r0>\n[rules]\n", f);
        for (long i = 0; i + 1 < n; i++)
            fprintf(f, "<r%ld> = <r%ld>\n", i, i + 1);
        fprintf(f, "<r%ld> = hello\n", n - 1);
        fclose(f);
    } else if (!strcmp(name, "@fifo")) {
        FILE *f = grammar_file("fifo", "a.grammar");
        fputs("[intent x]\nhello\n", f);
        fclose(f);
        char fifo[700];
        snprintf(fifo, sizeof fifo, "%s/x.grammar", path);
        assert_int_equal(mkfifo(fifo, 0600), 0);
    } else if (!strcmp(name, "@big")) {
        FILE *f = grammar_file("big", "a.grammar");
        fputs("[intent x]\nhello\n", f);
        fclose(f);
        f = grammar_file("big", "big.grammar");
        fputs("[intent y]\n", f);
        for (int i = 0; i < 5 * 1024 * 1024 / 16; i++)
            fputs("hello there you\n", f);
        fclose(f);
    } else {
        fprintf(stderr, "%s: unknown generated input %s\n", TABLE, name);
        fail();
    }
    return path;
}

/* Runs argv with stderr to a file; returns the wait status, or -1 on a
 * timeout (the child is killed). */
static int run(char **argv, const char *err_path)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int nul = open("/dev/null", O_RDWR);
        if (fd < 0 || nul < 0)
            _exit(127);
        dup2(nul, 0);
        dup2(nul, 1);
        dup2(fd, 2);
        execv(argv[0], argv);
        _exit(127);
    }
    struct timespec t0, now, nap = {0, 20 * 1000 * 1000};
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        int status;
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid)
            return status;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - t0.tv_sec >= TIMEOUT_S) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return -1;
        }
        nanosleep(&nap, NULL);
    }
}

static void test_table(void **state)
{
    const char *bin = getenv("EARSHOT_BIN");
    if (!bin)
        bin = "build/earshot";
    FILE *t = fopen(TABLE, "r");
    assert_non_null(t);
    char line[4096];
    int lineno = 0, cases = 0, failed = 0;
    while (fgets(line, sizeof line, t)) {
        lineno++;
        line[strcspn(line, "\r\n")] = '\0';
        if (!line[0] || line[0] == '#')
            continue;
        char *cmd = line, *input = strchr(cmd, '\t'), *want = input ? strchr(input + 1, '\t') : NULL;
        if (!want) {
            fprintf(stderr, "%s:%d: want command<TAB>input<TAB>message\n", TABLE, lineno);
            fail();
        }
        *input++ = '\0';
        *want++ = '\0';
        char path[600];
        if (input[0] == '@')
            make_input(input, path, sizeof path);
        else
            snprintf(path, sizeof path, "tests/data/bad/%s", input);
        char *argv[64], words[4096];
        snprintf(words, sizeof words, "%s", cmd);
        int argc = 0;
        argv[argc++] = (char *)bin;
        for (char *w = strtok(words, " "); w && argc < 62; w = strtok(NULL, " "))
            argv[argc++] = strcmp(w, "{}") ? w : path;
        argv[argc] = NULL;
        char err_path[600];
        snprintf(err_path, sizeof err_path, "%s/stderr", tmp);
        int status = run(argv, err_path);
        char err[8192] = "";
        FILE *e = fopen(err_path, "r");
        size_t n = e ? fread(err, 1, sizeof err - 1, e) : 0;
        err[n] = '\0';
        if (e)
            fclose(e);
        size_t nl = 0;
        for (size_t i = 0; i < n; i++)
            nl += err[i] == '\n';
        const char *why = NULL;
        if (status == -1)
            why = "hung (killed after 20 s)";
        else if (WIFSIGNALED(status))
            why = "killed by a signal";
        else if (WEXITSTATUS(status) == 0)
            why = "exit status 0";
        else if (nl != 1 || err[n - 1] != '\n')
            why = "stderr is not exactly one line";
        else if (!strstr(err, want))
            why = "stderr lacks the expected message";
        cases++;
        if (why) {
            failed++;
            fprintf(stderr, "%s:%d: earshot %s (%s): %s\n  want: %s\n  stderr: %.600s\n", TABLE,
                    lineno, cmd, input, why, want, err);
        }
    }
    fclose(t);
    printf("%d bad-input cases, %d failed\n", cases, failed);
    assert_true(cases > 0);
    assert_int_equal(failed, 0);
}

static int setup(void **state)
{
    return mkdtemp(tmp) ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
    };
    return cmocka_run_group_tests_name("bad_input", tests, setup, teardown);
}
