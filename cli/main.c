/* main.c - the earshot command: a thin client of earshot.h. main() only
 * picks the command; each lives in its own file (commands.h), and what
 * they share is in common.c.
 *
 * Everything here goes through the public API, so an embedding app can do
 * the same. Errors are one line on stderr, GNU style, naming the user's
 * file; exit status 0 ok, 1 failure, 2 usage. */
#include "commands.h"
#include "common.h"

#include <stdio.h>
#include <string.h>

static const char *const main_usage =
    "usage: earshot COMMAND [OPTIONS] [ARGS]\n"
    "\n"
    "Earshot listens to customers offline: speech in, what they meant out.\n"
    "\n"
    "commands:\n"
    "  transcribe     recognise audio files and print one line per utterance\n"
    "  analyze        find intent, rating, sentiment and topics in text\n"
    "  grammar check  validate a grammar folder\n"
    "  listen         listen to a microphone, with a consent dialogue\n"
    "  devices        list capture devices\n"
    "  sessions       list the sessions stored in a database\n"
    "  forget         erase sessions from a database, physically\n"
    "  export         write what a database holds on one session, as JSON\n"
    "  report         anonymised insight report (HTML, JSON, CSV, Markdown);\n"
    "                 'report merge' adds up a fleet's JSON reports\n"
    "  adapt          adapt the acoustic model to a microphone, room or line\n"
    "  serve          a Wyoming speech-to-text and intent service (Home Assistant)\n"
    "  publish        send each closed day's anonymised report to the head office (MQTT)\n"
    "  collect        head office: kiosks' daily reports from MQTT into PostgreSQL\n"
    "  fleet-report   the fleet's report from PostgreSQL (also 'report --pg URL')\n"
    "  sites          'sites import FILE': which region each site is in\n"
    "\n"
    "options:\n"
    "  -h, --help     this help; 'earshot COMMAND --help' for a command's\n"
    "  -V, --version  print the version\n";

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(main_usage, stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
        fputs(main_usage, stdout);
        return 0;
    }
    if (!strcmp(cmd, "-V") || !strcmp(cmd, "--version")) {
        printf("earshot %s\n", earshot_version());
        return 0;
    }
    if (!strcmp(cmd, "transcribe"))
        return earshot_cmd_transcribe(argc - 1, argv + 1);
    if (!strcmp(cmd, "analyze") || !strcmp(cmd, "analyse"))
        return earshot_cmd_analyze(argc - 1, argv + 1);
    if (!strcmp(cmd, "grammar"))
        return earshot_cmd_grammar(argc - 1, argv + 1);
    if (!strcmp(cmd, "listen"))
        return earshot_cmd_listen(argc - 1, argv + 1);
    if (!strcmp(cmd, "devices"))
        return earshot_cmd_devices(argc - 1, argv + 1);
    if (!strcmp(cmd, "sessions"))
        return earshot_cmd_sessions(argc - 1, argv + 1);
    if (!strcmp(cmd, "forget"))
        return earshot_cmd_forget(argc - 1, argv + 1);
    if (!strcmp(cmd, "export"))
        return earshot_cmd_export(argc - 1, argv + 1);
    if (!strcmp(cmd, "report"))
        return earshot_cmd_report(argc - 1, argv + 1);
    if (!strcmp(cmd, "adapt"))
        return earshot_cmd_adapt(argc - 1, argv + 1);
    if (!strcmp(cmd, "serve"))
        return earshot_cmd_serve(argc - 1, argv + 1);
    if (!strcmp(cmd, "publish"))
        return earshot_cmd_publish(argc - 1, argv + 1);
    if (!strcmp(cmd, "collect"))
        return earshot_cmd_collect(argc - 1, argv + 1);
    if (!strcmp(cmd, "fleet-report"))
        return earshot_cmd_fleet_report(argc - 1, argv + 1);
    if (!strcmp(cmd, "sites"))
        return earshot_cmd_sites(argc - 1, argv + 1);
    return earshot__cli_usage_error("", "unknown command '%s'", cmd);
}
