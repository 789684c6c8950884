/* config.h - the service's INI config file (/etc/earshot/earshot.conf,
 * or --config FILE), read with libinih. Every key is a long option of the
 * command without its dashes ("max-clients = 4" is --max-clients 4;
 * underscores may stand for dashes), in a section named for the command
 * ([serve]) or before any section. A boolean option takes yes/no, true/
 * false, on/off or 1/0. The file's options are put before the command
 * line's, so the command line wins. */
#ifndef EARSHOT_SERVICE_CONFIG_H
#define EARSHOT_SERVICE_CONFIG_H

#include <stddef.h>

#define EARSHOT_CONFIG_DEFAULT "/etc/earshot/earshot.conf"

/* One option a command accepts. */
typedef struct earshot_option {
    const char *name; /* "max-clients" */
    int has_value;    /* 0: a flag */
} earshot_option;

/* Reads path and returns a new argv: argv[0], the file's options as
 * "--key value" (or "--key" for a true flag), then argv[1..argc-1].
 * section: the command's name. required 0: a missing file is no error
 * (the default path). Returns 0 and sets *out_argc / *out_argv (free with
 * earshot_config_free_argv) and *out_lines (free()): for each of out_argv,
 * the file line it came from, 0 for the command line's, so a bad value
 * can be reported as FILE:LINE. Or -1 with "FILE:LINE: what" in err. */
int earshot_config_load(const char *path, int required, const char *section,
                        const earshot_option *opts, int argc, char **argv, int *out_argc,
                        char ***out_argv, int **out_lines, char *err, size_t errlen);
void earshot_config_free_argv(int argc, char **argv, int orig_argc);

#endif
