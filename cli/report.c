/* report.c - earshot report: the anonymised insight report of a database,
 * and 'report merge' of a fleet's JSON reports. */
#include "commands.h"
#include "common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static const char *const report_usage =
    "usage: earshot report [--db PATH] [--since DATE] [--until DATE] [--channel NAME]\n"
    "                      [--min-group K] [--time day|week|month] [--utc]\n"
    "                      [--format html|json|csv|md] [--out FILE]\n"
    "                      [--privacy suppress|dp --epsilon E [--budget B]]\n"
    "                      [--alerts] [--alert KIND[:SUBJECT[:DELTA]]]...\n"
    "       earshot report merge A.json B.json ... [--min-group K]\n"
    "                      [--format html|json|csv|md] [--out FILE]\n"
    "\n"
    "Turns what consenting customers said into an anonymised report for\n"
    "managers: overview, what customers want (and its trend), friction\n"
    "hotspots and effort signals, loyalty (ratings, NPS, cancellations),\n"
    "ideas, knowledge gaps, channels side by side, and unmatched phrases.\n"
    "No session ids, no time finer than a day, only redacted text, quotes\n"
    "only with the quotes consent; every figure from fewer than K sessions\n"
    "is shown as \"<K\". 'merge' adds up the JSON reports of several kiosks\n"
    "and applies K again (build them with --min-group 1 for exact totals).\n"
    "\n"
    "options:\n"
    "  --db PATH         database (default earshot.db); read only\n"
    "  --since DATE      first day, YYYY-MM-DD (default: the first stored)\n"
    "  --until DATE      last day, YYYY-MM-DD, inclusive (default: the last)\n"
    "  --channel NAME    one channel (kiosk) only\n"
    "  --min-group K     suppress groups of fewer than K sessions (default 5)\n"
    "  --time UNIT       the finest time shown and the trend's step (default day)\n"
    "  --utc             days in UTC (default: local time)\n"
    "  --format FMT      html, json, csv or md (default: from --out's extension,\n"
    "                    else md)\n"
    "  --out FILE        where to write (default: standard output); for csv, a\n"
    "                    folder (ending in /) gets one file per section\n"
    "  --privacy MODE    suppress (default: cell suppression under --min-group) or\n"
    "                    dp: differential privacy per session, noisy counts of\n"
    "                    distinct sessions, every category listed (zeros too), no\n"
    "                    phrases, quotes or channels; needs --since, --until and\n"
    "                    --epsilon, never --min-group; writes the database's\n"
    "                    privacy-budget ledger\n"
    "  --epsilon E       dp: this report's privacy loss, 0 < E <= 10\n"
    "  --budget B        dp: epsilon each calendar month may spend over all\n"
    "                    reports (default 2); a report beyond it is refused\n"
    "  --alerts          for cron or monitoring: print the findings (\"what to act\n"
    "                    on\") that cross a threshold, one per line, and exit 3\n"
    "                    when there is one (0 when none); the report itself is\n"
    "                    written only with --out. Alone: any shown finding.\n"
    "  --alert SPEC      a threshold (repeatable; implies --alerts): KIND is\n"
    "                    complaints, driver, channel, theme or effort; SUBJECT a\n"
    "                    topic, channel, word or signal, or *; DELTA signed\n"
    "                    points, e.g. complaints:wait_time:+20 (complaints about\n"
    "                    wait time up 20 points or more)\n";

static int report_format(const char *v, earshot_report_format *f)
{
    static const struct {
        const char *name;
        earshot_report_format f;
    } formats[] = {{"html", EARSHOT_REPORT_HTML}, {"htm", EARSHOT_REPORT_HTML},
                   {"json", EARSHOT_REPORT_JSON}, {"csv", EARSHOT_REPORT_CSV},
                   {"md", EARSHOT_REPORT_MD},     {"markdown", EARSHOT_REPORT_MD}};
    for (size_t i = 0; i < sizeof formats / sizeof *formats; i++)
        if (!strcasecmp(v, formats[i].name)) {
            *f = formats[i].f;
            return 1;
        }
    return 0;
}

enum {
    OPT_DB = 256, OPT_SINCE, OPT_UNTIL, OPT_CHANNEL, OPT_MIN_GROUP, OPT_TIME, OPT_UTC,
    OPT_FORMAT, OPT_OUT, OPT_PRIVACY, OPT_EPSILON, OPT_BUDGET, OPT_ALERTS, OPT_ALERT
};

int earshot_cmd_report(int argc, char **argv)
{
    /* A fleet's report comes from the head office's PostgreSQL, not from a
     * kiosk database: `report --pg URL ...` is fleet-report (fleet/). */
    for (int i = 1; i < argc && strcmp(argv[i], "--"); i++)
        if (!strcmp(argv[i], "--pg") || !strncmp(argv[i], "--pg=", 5))
            return earshot_cmd_fleet_report(argc, argv);
    static const struct option report_opts[] = {
        {"help", no_argument, NULL, 'h'},
        {"db", required_argument, NULL, OPT_DB},
        {"since", required_argument, NULL, OPT_SINCE},
        {"until", required_argument, NULL, OPT_UNTIL},
        {"channel", required_argument, NULL, OPT_CHANNEL},
        {"min-group", required_argument, NULL, OPT_MIN_GROUP},
        {"time", required_argument, NULL, OPT_TIME},
        {"utc", no_argument, NULL, OPT_UTC},
        {"format", required_argument, NULL, OPT_FORMAT},
        {"out", required_argument, NULL, OPT_OUT},
        {"privacy", required_argument, NULL, OPT_PRIVACY},
        {"epsilon", required_argument, NULL, OPT_EPSILON},
        {"budget", required_argument, NULL, OPT_BUDGET},
        {"alerts", no_argument, NULL, OPT_ALERTS},
        {"alert", required_argument, NULL, OPT_ALERT},
        {0},
    };
    /* merge adds up finished reports: only what shapes the output. */
    static const struct option merge_opts[] = {
        {"help", no_argument, NULL, 'h'},
        {"min-group", required_argument, NULL, OPT_MIN_GROUP},
        {"format", required_argument, NULL, OPT_FORMAT},
        {"out", required_argument, NULL, OPT_OUT},
        {0},
    };
    earshot_report_config cfg = earshot_report_config_default();
    const char *db = "earshot.db", *out = "-", *format = NULL, *inputs[256];
    size_t n_inputs = 0;
    int merge = argc > 1 && !strcmp(argv[1], "merge");
    const char *privacy = NULL, *epsilon = NULL, *budget = NULL;
    const char *alerts[64];
    size_t n_alerts = 0;
    int min_group_given = 0, alert_mode = 0, out_given = 0, c;
    /* After "merge", "merge" is argv[0] of what getopt reads. */
    argc -= merge, argv += merge;
    while ((c = earshot__cli_getopt(argc, argv, "h", merge ? merge_opts : report_opts,
                                    merge ? "report merge " : "report ")) != -1) {
        const char *v = optarg;
        switch (c) {
        case 0:
            return 2;
        case 'h':
            fputs(report_usage, stdout);
            return 0;
        case OPT_UTC: cfg.utc = 1; break;
        case OPT_ALERTS: alert_mode = 1; break;
        case OPT_ALERT:
            if (n_alerts == sizeof alerts / sizeof *alerts)
                return earshot__cli_usage_error("report ", "%s", "at most 64 --alert thresholds");
            alerts[n_alerts++] = v;
            alert_mode = 1;
            break;
        case OPT_DB: db = v; break;
        case OPT_SINCE: cfg.since = v; break;
        case OPT_UNTIL: cfg.until = v; break;
        case OPT_CHANNEL: cfg.channel = v; break;
        case OPT_FORMAT: format = v; break;
        case OPT_OUT: out = v, out_given = 1; break;
        case OPT_PRIVACY: privacy = v; break;
        case OPT_EPSILON: epsilon = v; break;
        case OPT_BUDGET: budget = v; break;
        case OPT_TIME:
            if (!strcmp(v, "day"))
                cfg.time_unit = EARSHOT_TIME_DAY;
            else if (!strcmp(v, "week"))
                cfg.time_unit = EARSHOT_TIME_WEEK;
            else if (!strcmp(v, "month"))
                cfg.time_unit = EARSHOT_TIME_MONTH;
            else
                return earshot__cli_usage_error("report ", "--time is day, week or month, not '%s'",
                                                v);
            break;
        case OPT_MIN_GROUP: {
            long long k = earshot__cli_parse_count(v);
            if (k < 1 || k > 1000000)
                return earshot__cli_usage_error("report ", "--min-group needs a whole number "
                                                ">= 1, not '%s'", v);
            cfg.min_group = (int)k;
            min_group_given = 1;
            break;
        }
        }
    }
    for (; optind < argc; optind++) {
        if (!merge || n_inputs == sizeof inputs / sizeof *inputs)
            return earshot__cli_usage_error("report ", "unexpected argument '%s'", argv[optind]);
        inputs[n_inputs++] = argv[optind];
    }
    earshot_report_format fmt = EARSHOT_REPORT_MD;
    if (format) {
        if (!report_format(format, &fmt))
            return earshot__cli_usage_error("report ", "--format is html, json, csv or md, not '%s'", format);
    } else {
        const char *dot = strrchr(out, '.');
        size_t len = strlen(out);
        if (len && out[len - 1] == '/')
            fmt = EARSHOT_REPORT_CSV;
        else if (dot && !strchr(dot, '/') && !report_format(dot + 1, &fmt))
            return earshot__cli_usage_error("report ", "cannot tell the format from '%s': add --format", out);
    }
    if (merge && n_inputs < 1)
        return earshot__cli_usage_error("report ", "%s", "merge needs JSON reports to add up");
    /* A malformed threshold is refused before any work: checked against a
     * finding of every kind, since a spec names its kind first. */
    for (size_t k = 0; k < n_alerts; k++) {
        earshot_finding probe = {.kind_name = "complaints", .subject = "", .shown = 1};
        if (earshot_finding_matches(&probe, alerts[k]) < 0)
            return earshot__cli_usage_error("report ", "--alert is KIND[:SUBJECT[:DELTA]], e.g. "
                               "complaints:wait_time:+20, not '%s'", alerts[k]);
    }
    /* Suppression and differential privacy never mix by accident. */
    if (privacy && !strcmp(privacy, "dp")) {
        if (min_group_given)
            return earshot__cli_usage_error("report ", "%s", "--min-group is cell suppression and "
                               "--privacy dp replaces it: give one or the other");
        char *end = NULL;
        if (!epsilon)
            return earshot__cli_usage_error("report ", "%s", "--privacy dp needs --epsilon E");
        cfg.epsilon = strtod(epsilon, &end);
        if (end == epsilon || *end || !(cfg.epsilon > 0 && cfg.epsilon <= 10))
            return earshot__cli_usage_error("report ", "--epsilon needs a number above 0 and at most 10, "
                                          "not '%s'", epsilon);
        if (budget) {
            cfg.budget = strtod(budget, &end);
            if (end == budget || *end || !(cfg.budget > 0 && cfg.budget <= 1000))
                return earshot__cli_usage_error("report ", "--budget needs a number above 0, not '%s'",
                                   budget);
        }
        if (!cfg.since || !cfg.until)
            return earshot__cli_usage_error("report ", "%s", "--privacy dp needs --since and --until (the "
                               "window whose months spend the budget)");
        cfg.privacy = EARSHOT_PRIVACY_DP;
        cfg.min_group = 0;
        if (getenv("EARSHOT_DP_TEST_SEED"))
            fprintf(stderr, "earshot: EARSHOT_DP_TEST_SEED is set: the noise is a fixed "
                            "sequence (tests only); this report protects nobody\n");
    } else if (privacy && strcmp(privacy, "suppress")) {
        return earshot__cli_usage_error("report ", "--privacy is suppress or dp, not '%s'", privacy);
    } else if (epsilon || budget) {
        return earshot__cli_usage_error("report ", "%s", "--epsilon and --budget belong to --privacy dp");
    }

    earshot_report *r = NULL;
    int rc;
    if (merge) {
        earshot_report *in[256] = {0};
        rc = EARSHOT_OK;
        for (size_t i = 0; i < n_inputs && rc == EARSHOT_OK; i++)
            if ((rc = earshot_report_load(inputs[i], &in[i])) != EARSHOT_OK)
                earshot__cli_errorf("%s", earshot_report_errmsg(in[i]));
        if (rc == EARSHOT_OK &&
            (rc = earshot_report_merge((const earshot_report *const *)in, n_inputs,
                                       cfg.min_group, &r)) != EARSHOT_OK)
            earshot__cli_errorf("%s", earshot_report_errmsg(r));
        for (size_t i = 0; i < n_inputs; i++)
            earshot_report_free(in[i]);
    } else {
        earshot_store_config scfg = earshot_store_config_default();
        scfg.path = db;
        /* A dp report writes one thing: its line in the budget ledger. A
         * missing file is still an error, never created. */
        scfg.read_only = cfg.privacy != EARSHOT_PRIVACY_DP;
        scfg.create = 0;
        scfg.on_log = earshot__cli_log_to_stderr;
        earshot_store *s = NULL;
        if (!scfg.read_only && access(db, F_OK) != 0) {
            earshot__cli_errorf("%s: %s", db, strerror(errno));
            rc = EARSHOT_IO;
        } else if ((rc = earshot_store_open(&s, &scfg)) != EARSHOT_OK)
            earshot__cli_errorf("%s", earshot_store_errmsg(s));
        else if ((rc = earshot_report_build(s, &cfg, &r)) != EARSHOT_OK)
            earshot__cli_errorf("%s", earshot_report_errmsg(r));
        earshot_store_close(s);
    }
    if (rc == EARSHOT_OK && (!alert_mode || out_given) &&
        (rc = earshot_report_write(r, fmt, out)) != EARSHOT_OK)
        earshot__cli_errorf("%s", earshot_report_errmsg(r));
    int alerted = 0;
    if (rc == EARSHOT_OK && alert_mode) {
        const earshot_finding *f = NULL;
        size_t n = earshot_report_findings(r, &f);
        for (size_t i = 0; i < n; i++) {
            if (!f[i].shown)
                continue;
            int hit = n_alerts == 0;
            for (size_t k = 0; k < n_alerts && !hit; k++)
                hit = earshot_finding_matches(&f[i], alerts[k]) == 1;
            if (hit) {
                printf("alert: %s%s%s: %s\n", f[i].kind_name, *f[i].subject ? ":" : "",
                       f[i].subject, f[i].sentence);
                alerted++;
            }
        }
    }
    earshot_report_free(r);
    if (rc == EARSHOT_OK && alerted)
        return 3;
    return rc == EARSHOT_OK ? 0 : rc == EARSHOT_MISUSE ? 2 : 1;
}
