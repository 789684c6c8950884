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
    int n, cap;
    char err[512];
} cfg_ctx;

static int push(cfg_ctx *c, const char *s)
{
    if (c->n == c->cap) {
        int cap = c->cap ? c->cap * 2 : 16;
        char **p = realloc(c->args, sizeof *p * (size_t)cap);
        if (!p)
            return -1;
        c->args = p;
        c->cap = cap;
    }
    if (!(c->args[c->n] = strdup(s)))
        return -1;
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
                        char ***out_argv, char *err, size_t errlen)
{
    cfg_ctx c = {.path = path, .section = section, .opts = opts};
    FILE *f = fopen(path, "r");
    if (!f && (required || errno != ENOENT)) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (f) {
        int rc = ini_parse_file(f, on_key, &c);
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
            return -1;
        }
    }
    char **av = malloc(sizeof *av * (size_t)(argc + c.n + 1));
    if (!av) {
        snprintf(err, errlen, "out of memory");
        for (int i = 0; i < c.n; i++)
            free(c.args[i]);
        free(c.args);
        return -1;
    }
    av[0] = argv[0];
    for (int i = 0; i < c.n; i++)
        av[1 + i] = c.args[i];
    for (int i = 1; i < argc; i++)
        av[c.n + i] = argv[i];
    av[argc + c.n] = NULL;
    free(c.args);
    *out_argc = argc + c.n;
    *out_argv = av;
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
