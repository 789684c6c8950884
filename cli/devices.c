/* devices.c - earshot devices: the capture devices there are. */
#include "commands.h"
#include "common.h"

#include <stdio.h>
#include <string.h>

static int print_device(const earshot_device_info *d, void *user)
{
    ++*(int *)user;
    printf("%3d  %-40s  %-28s  %6.0f Hz  %d ch%s\n", d->index, d->name, d->host_api,
           d->default_rate, d->channels, d->is_default ? "  (default)" : "");
    return 0;
}

int earshot_cmd_devices(int argc, char **argv)
{
    if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        puts("usage: earshot devices\n\nLists capture devices: index, name, host API, "
             "default rate, channels.");
        return 0;
    }
    if (argc > 1)
        return earshot__cli_usage_error("devices ", "unexpected argument '%s'", argv[1]);
    char err[512];
    int count = 0;
    if (earshot_devices(print_device, &count, err, sizeof err) != EARSHOT_OK) {
        earshot__cli_errorf("%s", err);
        return 1;
    }
    /* An empty list is an answer a script must not mistake for success. */
    if (count == 0) {
        earshot__cli_errorf("%s", "no audio input devices found (is a sound card, ALSA device or JACK "
               "server available?)");
        return 1;
    }
    return 0;
}
