/* analyze.c - earshot analyze: intent, rating, sentiment and topics of
 * text, one utterance per argument or per line of standard input. */
#include "commands.h"
#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

static const char *const analyze_usage =
    "usage: earshot analyze [--json] [--grammar DIR] [--question Q] [TEXT | -]\n"
    "\n"
    "Finds the intent, rating (score 0-10), sentiment and topics of what a\n"
    "customer said. TEXT is one utterance; with '-' or no TEXT, each line of\n"
    "standard input is one utterance. A line holding a NUL byte is not text:\n"
    "it is reported (stdin:LINE) and skipped, the others are analysed, and\n"
    "the exit status is 1.\n"
    "\n"
    "options:\n"
    "  --json          one JSON object per utterance: text, intent, confidence,\n"
    "                  slots, sentiment, sentiment_score, topics, signals, and\n"
    "                  voice2json (intent {name, confidence}, entities)\n"
    "  --grammar DIR   grammar folder (default: the installed en-us grammar)\n"
    "  --question Q    read the text as the answer to a question just asked:\n"
    "                  consent, rating, anything_else or confirm_forget\n"
    "                  (\"fine by me\" is consent_yes after consent; \"seven\" is\n"
    "                  nps 7 after rating); JSON then adds question and answer\n"
    "  -h, --help      this help\n";

static const char *const question_names[] = {
    [EARSHOT_ASK_NONE] = "none",
    [EARSHOT_ASK_CONSENT] = "consent",
    [EARSHOT_ASK_RATING] = "rating",
    [EARSHOT_ASK_ANYTHING_ELSE] = "anything_else",
    [EARSHOT_ASK_CONFIRM_FORGET] = "confirm_forget",
};
static const char *const answer_names[] = {
    [EARSHOT_ANSWER_NONE] = "none", [EARSHOT_ANSWER_YES] = "yes", [EARSHOT_ANSWER_NO] = "no"};

static int print_analysis(const char *text, const earshot_analysis *a, int json)
{
    if (json) {
        json_t *o = json_object();
        json_object_set_new(o, "text", earshot__cli_jstr(text));
        earshot__cli_json_analysis(o, a, text, "confidence");
        if (a->question != EARSHOT_ASK_NONE) {
            json_object_set_new(o, "question", json_string(question_names[a->question]));
            json_object_set_new(o, "answer", json_string(answer_names[a->answer]));
        }
        return earshot__cli_json_print(o);
    }
    printf("%s", text);
    earshot__cli_text_analysis(stdout, a);
    putchar('\n');
    return 0;
}

enum { OPT_JSON = 256, OPT_GRAMMAR, OPT_QUESTION };

int earshot_cmd_analyze(int argc, char **argv)
{
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'},
        {"json", no_argument, NULL, OPT_JSON},
        {"grammar", required_argument, NULL, OPT_GRAMMAR},
        {"question", required_argument, NULL, OPT_QUESTION},
        {0},
    };
    int json = 0, c;
    const char *dir = NULL, *text = NULL;
    earshot_question question = EARSHOT_ASK_NONE;
    while ((c = earshot__cli_getopt(argc, argv, "h", opts, "analyze ")) != -1) {
        switch (c) {
        case 0:
            return 2;
        case 'h':
            fputs(analyze_usage, stdout);
            return 0;
        case OPT_JSON:
            json = 1;
            break;
        case OPT_GRAMMAR:
            dir = optarg;
            break;
        case OPT_QUESTION: {
            size_t q = 1, n = sizeof question_names / sizeof *question_names;
            while (q < n && strcmp(optarg, question_names[q]))
                q++;
            if (q == n)
                return earshot__cli_usage_error("analyze ", "--question is consent, rating, "
                                                "anything_else or confirm_forget, not '%s'",
                                                optarg);
            question = (earshot_question)q;
            break;
        }
        }
    }
    if (optind < argc)
        text = argv[optind++];
    if (optind < argc)
        return earshot__cli_usage_error("analyze ", "%s",
                                        "give one TEXT (quote it), or lines on stdin");
    earshot_intents *g = NULL;
    if (earshot_intents_open(&g, dir) != EARSHOT_OK) {
        earshot__cli_errorf("%s", earshot_intents_errmsg(g));
        earshot_intents_close(g);
        return 1;
    }
    earshot_intents_set_question(g, question);
    earshot_analysis an;
    int rc = 0;
    if (text && strcmp(text, "-")) {
        if (earshot_intents_analyze(g, text, &an) != EARSHOT_OK) {
            earshot__cli_errorf("out of memory");
            rc = 1;
        } else if (print_analysis(text, &an, json) != 0) {
            rc = 1;
        }
    } else {
        char *line = NULL;
        size_t cap = 0;
        ssize_t len;
        long lineno = 0;
        while ((len = getline(&line, &cap, stdin)) >= 0) {
            lineno++;
            while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
                line[--len] = '\0';
            /* A NUL would cut the text where the library reads it: such a
             * line is not text (a binary file by mistake?), said so. */
            size_t nul = strlen(line);
            if (nul < (size_t)len) {
                earshot__cli_errorf("stdin:%ld:%zu: a NUL byte: not text, line skipped", lineno,
                                    nul + 1);
                rc = 1;
                continue;
            }
            if (earshot_intents_analyze(g, line, &an) != EARSHOT_OK) {
                earshot__cli_errorf("out of memory");
                rc = 1;
                break;
            }
            if (print_analysis(line, &an, json) != 0) {
                rc = 1;
                break;
            }
        }
        free(line);
    }
    earshot_intents_close(g);
    return rc;
}
