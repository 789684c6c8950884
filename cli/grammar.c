/* grammar.c - earshot grammar check: validates a grammar folder. */
#include "commands.h"
#include "common.h"

#include <stdio.h>
#include <string.h>

static const char *const grammar_usage =
    "usage: earshot grammar check [--dict FILE | --no-dict] [DIR]\n"
    "\n"
    "Validates a grammar folder (default: the installed en-us grammar) and\n"
    "lists every problem as FILE:LINE:COL: what is wrong, including words\n"
    "the pronunciation dictionary lacks (default dictionary: the en-us\n"
    "model's). Exit status 0 when the folder is clean, 1 otherwise.\n";

static void print_diag(const char *file, int line, int col, const char *msg, void *user)
{
    (void)user;
    if (line > 0)
        earshot__cli_errorf("%s:%d:%d: %s", file, line, col, msg);
    else
        earshot__cli_errorf("%s: %s", file, msg);
}

enum { OPT_DICT = 256, OPT_NO_DICT };

int earshot_cmd_grammar(int argc, char **argv)
{
    if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        fputs(grammar_usage, stdout);
        return 0;
    }
    if (argc < 2 || strcmp(argv[1], "check"))
        return earshot__cli_usage_error("grammar ", "%s", "the only grammar command is 'check'");
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'},
        {"dict", required_argument, NULL, OPT_DICT},
        {"no-dict", no_argument, NULL, OPT_NO_DICT},
        {0},
    };
    const char *dict = EARSHOT_DEFAULT_MODEL_DIR "/cmudict-en-us.dict", *dir = NULL;
    int c;
    /* "check" is argv[0] of what getopt reads. */
    argc--, argv++;
    while ((c = earshot__cli_getopt(argc, argv, "h", opts, "grammar ")) != -1) {
        switch (c) {
        case 0:
            return 2;
        case 'h':
            fputs(grammar_usage, stdout);
            return 0;
        case OPT_DICT:
            dict = optarg;
            break;
        case OPT_NO_DICT:
            dict = NULL;
            break;
        }
    }
    if (optind < argc)
        dir = argv[optind++];
    if (optind < argc)
        return earshot__cli_usage_error("grammar ", "unexpected argument '%s'", argv[optind]);
    long n = earshot_grammar_check(dir, dict, print_diag, NULL);
    if (n < 0) {
        earshot__cli_errorf("%s: cannot read the pronunciation dictionary", dict);
        return 1;
    }
    if (n == 0) {
        earshot_intents *g = NULL;
        int rc = earshot_intents_open(&g, dir);
        if (rc != EARSHOT_OK) {
            earshot__cli_errorf("%s", earshot_intents_errmsg(g));
            n = 1;
        }
        earshot_intents_close(g);
    }
    if (n == 0)
        printf("%s: ok\n", dir ? dir : earshot_default_grammar_dir());
    return n ? 1 : 0;
}
