/* store_cmds.c - the commands on a database: earshot sessions (list),
 * forget (physical erasure) and export (a customer's access request). */
#include "commands.h"
#include "common.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char *const sessions_usage =
    "usage: earshot sessions [--db PATH] [--json]\n"
    "\n"
    "Lists the sessions in a database (default earshot.db): id, channel, start,\n"
    "end, stored utterances and whether consent is active.\n";

static const char *const forget_usage =
    "usage: earshot forget [--db PATH] (--session ID | --channel NAME |\n"
    "                       --before YYYY-MM-DD | --all)\n"
    "\n"
    "Erases sessions with their consents, utterances and audio. Erasure is\n"
    "physical: the bytes are overwritten in the database file and its\n"
    "write-ahead log is emptied. An audit row keeps the counts, no content.\n"
    "--before erases utterances heard before that day (UTC).\n";

static const char *const export_usage =
    "usage: earshot export [--db PATH] --session ID [--out FILE]\n"
    "\n"
    "Writes everything the database holds on one session (a customer's\n"
    "access request) as one JSON object: the session, its consents and its\n"
    "redacted utterances.\n";

/* Options the storage commands share; each command takes its own subset. */
typedef struct store_opts {
    const char *db, *grammar, *channel, *before, *out;
    int64_t session;
    int all, json;
} store_opts;

enum { OPT_DB = 256, OPT_GRAMMAR, OPT_SESSION, OPT_OUT, OPT_CHANNEL, OPT_BEFORE, OPT_ALL, OPT_JSON };

/* Returns 0, -1 after --help, or the exit status of a usage error. */
static int parse_store_opts(int argc, char **argv, const char *cmd, const char *usage,
                            const struct option *opts, store_opts *o)
{
    char c[32];
    snprintf(c, sizeof c, "%s ", cmd);
    o->db = "earshot.db";
    int opt;
    while ((opt = earshot__cli_getopt(argc, argv, "h", opts, c)) != -1) {
        switch (opt) {
        case 0:
            return 2;
        case 'h':
            fputs(usage, stdout);
            return -1;
        case OPT_DB: o->db = optarg; break;
        case OPT_GRAMMAR: o->grammar = optarg; break;
        case OPT_CHANNEL: o->channel = optarg; break;
        case OPT_BEFORE: o->before = optarg; break;
        case OPT_OUT: o->out = optarg; break;
        case OPT_ALL: o->all = 1; break;
        case OPT_JSON: o->json = 1; break;
        case OPT_SESSION:
            if ((o->session = earshot__cli_parse_count(optarg)) <= 0)
                return earshot__cli_usage_error(c, "--session needs a session id, not '%s'",
                                                optarg);
            break;
        }
    }
    if (optind < argc)
        return earshot__cli_usage_error(c, "unexpected argument '%s'", argv[optind]);
    return 0;
}

static earshot_store *open_store(const store_opts *o)
{
    earshot_store_config cfg = earshot_store_config_default();
    cfg.path = o->db;
    cfg.grammar_dir = o->grammar;
    cfg.on_log = earshot__cli_log_to_stderr;
    /* Reading or erasing never creates a database by accident, nor turns
     * an empty or foreign file into one. */
    cfg.create = 0;
    if (access(o->db, F_OK) != 0) {
        earshot__cli_errorf("%s: %s", o->db, strerror(errno));
        return NULL;
    }
    earshot_store *s = NULL;
    if (earshot_store_open(&s, &cfg) != EARSHOT_OK) {
        earshot__cli_errorf("%s", earshot_store_errmsg(s));
        earshot_store_close(s);
        return NULL;
    }
    return s;
}

static int print_session(const earshot_session_info *i, void *user)
{
    int json = *(int *)user;
    if (json) {
        json_t *o = json_object();
        json_object_set_new(o, "id", json_integer(i->id));
        json_object_set_new(o, "channel", earshot__cli_jstr(i->channel));
        json_object_set_new(o, "started_at", earshot__cli_jstr(i->started_at));
        json_object_set_new(o, "ended_at", earshot__cli_jstr(i->ended_at));
        json_object_set_new(o, "utterances", json_integer(i->utterances));
        json_object_set_new(o, "consented", json_boolean(i->consented));
        return earshot__cli_json_print(o) ? 1 : 0;
    }
    printf("%6" PRId64 "  %-12s  %-20s  %-20s  %6" PRId64 "  %s\n", i->id, i->channel,
           i->started_at, i->ended_at ? i->ended_at : "-", i->utterances,
           i->consented ? "yes" : "no");
    return 0;
}

int earshot_cmd_sessions(int argc, char **argv)
{
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'},
        {"db", required_argument, NULL, OPT_DB},
        {"grammar", required_argument, NULL, OPT_GRAMMAR},
        {"json", no_argument, NULL, OPT_JSON},
        {0},
    };
    store_opts o = {0};
    int r = parse_store_opts(argc, argv, "sessions", sessions_usage, opts, &o);
    if (r)
        return r < 0 ? 0 : r;
    earshot_store *s = open_store(&o);
    if (!s)
        return 1;
    if (!o.json)
        printf("%6s  %-12s  %-20s  %-20s  %6s  %s\n", "id", "channel", "started", "ended",
               "utts", "consent");
    int rc = earshot_sessions(s, print_session, &o.json);
    if (rc != EARSHOT_OK)
        earshot__cli_errorf("%s", earshot_store_errmsg(s));
    earshot_store_close(s);
    return rc == EARSHOT_OK ? 0 : 1;
}

int earshot_cmd_forget(int argc, char **argv)
{
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'},
        {"db", required_argument, NULL, OPT_DB},
        {"grammar", required_argument, NULL, OPT_GRAMMAR},
        {"session", required_argument, NULL, OPT_SESSION},
        {"channel", required_argument, NULL, OPT_CHANNEL},
        {"before", required_argument, NULL, OPT_BEFORE},
        {"all", no_argument, NULL, OPT_ALL},
        {0},
    };
    store_opts o = {0};
    int r = parse_store_opts(argc, argv, "forget", forget_usage, opts, &o);
    if (r)
        return r < 0 ? 0 : r;
    if ((o.session > 0) + !!o.channel + !!o.before + o.all != 1)
        return earshot__cli_usage_error("forget ", "%s",
                                        "give exactly one of --session, --channel, --before, --all");
    earshot_store *s = open_store(&o);
    if (!s)
        return 1;
    earshot_forget_what w = {.session = o.session, .channel = o.channel, .before = o.before,
                             .all = o.all};
    int64_t ns = 0, nu = 0;
    int rc = earshot_forget(s, &w, &ns, &nu);
    if (rc == EARSHOT_OK)
        printf("erased %" PRId64 " session%s and %" PRId64 " utterance%s\n", ns,
               ns == 1 ? "" : "s", nu, nu == 1 ? "" : "s");
    else
        earshot__cli_errorf("%s", earshot_store_errmsg(s));
    earshot_store_close(s);
    return rc == EARSHOT_OK ? 0 : 1;
}

int earshot_cmd_export(int argc, char **argv)
{
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'},
        {"db", required_argument, NULL, OPT_DB},
        {"grammar", required_argument, NULL, OPT_GRAMMAR},
        {"session", required_argument, NULL, OPT_SESSION},
        {"out", required_argument, NULL, OPT_OUT},
        {0},
    };
    store_opts o = {0};
    int r = parse_store_opts(argc, argv, "export", export_usage, opts, &o);
    if (r)
        return r < 0 ? 0 : r;
    if (o.session <= 0)
        return earshot__cli_usage_error("export ", "%s", "--session ID is required");
    earshot_store *s = open_store(&o);
    if (!s)
        return 1;
    char *json = NULL;
    int rc = earshot_export_session(s, o.session, &json);
    if (rc != EARSHOT_OK) {
        earshot__cli_errorf("%s", earshot_store_errmsg(s));
    } else {
        FILE *f = o.out ? fopen(o.out, "w") : stdout;
        if (!f || fprintf(f, "%s\n", json) < 0 || (o.out && fclose(f) != 0)) {
            earshot__cli_errorf("%s: %s", o.out ? o.out : "stdout", strerror(errno));
            rc = EARSHOT_IO;
        }
    }
    earshot_free(json);
    earshot_store_close(s);
    return rc == EARSHOT_OK ? 0 : 1;
}
