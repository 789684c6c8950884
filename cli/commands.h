/* commands.h - the earshot commands that live in their own file (cli/
 * holds one file per command as it grows). Each takes the command's own
 * argc/argv (argv[0] is the command name) and returns the exit status. */
#ifndef EARSHOT_CLI_COMMANDS_H
#define EARSHOT_CLI_COMMANDS_H

int earshot_cmd_transcribe(int argc, char **argv); /* transcribe.c */
int earshot_cmd_analyze(int argc, char **argv);    /* analyze.c */
int earshot_cmd_grammar(int argc, char **argv);    /* grammar.c: grammar check */
int earshot_cmd_listen(int argc, char **argv);     /* listen.c */
int earshot_cmd_devices(int argc, char **argv);    /* devices.c */
int earshot_cmd_sessions(int argc, char **argv);   /* store_cmds.c */
int earshot_cmd_forget(int argc, char **argv);     /* store_cmds.c */
int earshot_cmd_export(int argc, char **argv);     /* store_cmds.c */
int earshot_cmd_report(int argc, char **argv);     /* report.c, and report merge */
int earshot_cmd_adapt(int argc, char **argv);
int earshot_cmd_serve(int argc, char **argv);
int earshot_cmd_collect(int argc, char **argv);
int earshot_cmd_fleet_report(int argc, char **argv);
int earshot_cmd_sites(int argc, char **argv);
int earshot_cmd_publish(int argc, char **argv);

#endif
