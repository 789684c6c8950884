/* config.c - INI config file to command-line options, with libinih. */
#include "config.h"

#include <errno.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct cfg_ctx {
    const char *path, *section;
    const earshot_option *opts;
    char **args; /* the file's options, owned */
    int *lines;  /* the file line of each of args */
    int n, cap;
    FILE *f;
    int line, newlines; /* the line inih is on: it passes no line number */
    char err[512];
} cfg_ctx;

/* inih's reader: fgets, counting lines, so that each option knows the
 * line it came from and a bad value can be reported as FILE:LINE. */
static char *read_line(char *str, int num, void *stream)
{
    cfg_ctx *c = stream;
    char *r = fgets(str, num, c->f);
    if (r) {
        c->line = c->newlines + 1;
        if (strchr(r, '\n'))
            c->newlines++;
    }
    return r;
}

static int push(cfg_ctx *c, const char *s)
{
    if (c->n == c->cap) {
        int cap = c->cap ? c->cap * 2 : 16;
        char **p = realloc(c->args, sizeof *p * (size_t)cap);
        if (!p)
            return -1;
        c->args = p;
        int *l = realloc(c->lines, sizeof *l * (size_t)cap);
        if (!l)
            return -1;
        c->lines = l;
        c->cap = cap;
    }
    if (!(c->args[c->n] = strdup(s)))
        return -1;
    c->lines[c->n] = c->line;
    c->n++;
    return 0;
}

static int truth(const char *v)
{
    static const char *const yes[] = {"1", "yes", "true", "on"}, *const no[] = {"0", "no", "false", "off"};
    for (size_t i = 0; i < 4; i++) {
        if (!strcasecmp(v, yes[i]))
            return 1;
        if (!strcasecmp(v, no[i]))
            return 0;
    }
    return -1;
}

/* inih calls this per key; a non-zero return is success, zero an error
 * at that line (ini_parse returns the first such line's number). */
static int on_key(void *user, const char *section, const char *name, const char *value)
{
    cfg_ctx *c = user;
    if (c->err[0]) /* inih goes on after an error; the first one is reported */
        return 1;
    if (!name) /* a section header alone */
        return 1;
    if (*section && strcmp(section, c->section)) {
        snprintf(c->err, sizeof c->err, "unknown section [%s] (this file has [%s])", section, c->section);
        return 0;
    }
    char key[64];
    snprintf(key, sizeof key, "%s", name);
    for (char *p = key; *p; p++)
        if (*p == '_')
            *p = '-';
    const earshot_option *o = c->opts;
    while (o->name && strcmp(o->name, key))
        o++;
    if (!o->name) {
        snprintf(c->err, sizeof c->err, "unknown key '%s'", name);
        return 0;
    }
    char opt[80];
    snprintf(opt, sizeof opt, "--%s", key);
    if (!o->has_value) {
        int t = truth(value);
        if (t < 0) {
            snprintf(c->err, sizeof c->err, "'%s' is yes or no, not '%s'", name, value);
            return 0;
        }
        if (t && push(c, opt))
            goto nomem;
        return 1;
    }
    if (!*value) {
        snprintf(c->err, sizeof c->err, "'%s' needs a value", name);
        return 0;
    }
    if (push(c, opt) || push(c, value))
        goto nomem;
    return 1;
nomem:
    snprintf(c->err, sizeof c->err, "out of memory");
    return 0;
}

int earshot_config_load(const char *path, int required, const char *section,
                        const earshot_option *opts, int argc, char **argv, int *out_argc,
                        char ***out_argv, int **out_lines, char *err, size_t errlen)
{
    cfg_ctx c = {.path = path, .section = section, .opts = opts};
    FILE *f = fopen(path, "r");
    *out_lines = NULL;
    if (!f && (required || errno != ENOENT)) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (f) {
        c.f = f;
        int rc = ini_parse_stream(read_line, &c, on_key, &c);
        fclose(f);
        if (rc != 0) {
            if (c.err[0] && rc > 0)
                snprintf(err, errlen, "%s:%d: %s", path, rc, c.err);
            else if (rc > 0)
                snprintf(err, errlen, "%s:%d: not an INI line (KEY = VALUE or [SECTION])", path, rc);
            else
                snprintf(err, errlen, "%s: cannot read", path);
            for (int i = 0; i < c.n; i++)
                free(c.args[i]);
            free(c.args);
            free(c.lines);
            return -1;
        }
    }
    char **av = malloc(sizeof *av * (size_t)(argc + c.n + 1));
    int *lines = calloc((size_t)(argc + c.n + 1), sizeof *lines);
    if (!av || !lines) {
        snprintf(err, errlen, "out of memory");
        for (int i = 0; i < c.n; i++)
            free(c.args[i]);
        free(c.args);
        free(c.lines);
        free(av);
        free(lines);
        return -1;
    }
    av[0] = argv[0];
    for (int i = 0; i < c.n; i++) {
        av[1 + i] = c.args[i];
        lines[1 + i] = c.lines[i];
    }
    for (int i = 1; i < argc; i++)
        av[c.n + i] = argv[i];
    av[argc + c.n] = NULL;
    free(c.args);
    free(c.lines);
    *out_argc = argc + c.n;
    *out_argv = av;
    *out_lines = lines;
    return 0;
}

void earshot_config_free_argv(int argc, char **argv, int orig_argc)
{
    if (!argv)
        return;
    /* The file's strings are argv[1 .. argc - orig_argc]. */
    for (int i = 1; i <= argc - orig_argc; i++)
        free(argv[i]);
    free(argv);
}
