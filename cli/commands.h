/* commands.h - the earshot commands that live in their own file (cli/
 * holds one file per command as it grows). Each takes the command's own
 * argc/argv (argv[0] is the command name) and returns the exit status. */
#ifndef EARSHOT_CLI_COMMANDS_H
#define EARSHOT_CLI_COMMANDS_H

int earshot_cmd_adapt(int argc, char **argv);
int earshot_cmd_serve(int argc, char **argv);
int earshot_cmd_publish(int argc, char **argv);

#endif
