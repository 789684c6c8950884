/* notify.h - systemd readiness and watchdog (sd_notify, libsystemd). Each
 * call does nothing when the process was not started by systemd with
 * Type=notify (no $NOTIFY_SOCKET), so `earshot serve` run by hand is
 * unaffected. Linked into the earshot command only. */
#ifndef EARSHOT_SERVICE_NOTIFY_H
#define EARSHOT_SERVICE_NOTIFY_H

#include <stdint.h>

/* READY=1 with a STATUS= line ("serving Wyoming on tcp://..."). */
void earshot_notify_ready(const char *status);
/* STOPPING=1. */
void earshot_notify_stopping(void);
/* WATCHDOG=1 when the unit has WatchdogSec= and half of it has passed
 * since the last one; cheap enough to call every second. */
void earshot_notify_watchdog(void);

#endif
