/* notify.c - sd_notify readiness and the watchdog. */
#include "notify.h"

#include <systemd/sd-daemon.h>
#include <time.h>

static uint64_t now_usec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void earshot_notify_ready(const char *status)
{
    if (status)
        sd_notifyf(0, "READY=1\nSTATUS=%s", status);
    else
        sd_notify(0, "READY=1");
}

void earshot_notify_stopping(void)
{
    sd_notify(0, "STOPPING=1");
}

void earshot_notify_watchdog(void)
{
    /* Read once: WATCHDOG_USEC does not change while the service runs.
     * Called from one thread only (the server's accept loop). */
    static int checked;
    static uint64_t interval, last;
    if (!checked) {
        uint64_t usec = 0;
        if (sd_watchdog_enabled(0, &usec) > 0)
            interval = usec / 2;
        checked = 1;
    }
    if (!interval)
        return;
    uint64_t t = now_usec();
    if (t - last >= interval) {
        sd_notify(0, "WATCHDOG=1");
        last = t;
    }
}
