/* capture.h - microphone input through PortAudio. The PortAudio callback
 * only converts to mono float and copies into a ring buffer; everything
 * else happens on the consumer's thread. Internal to libearshot. */
#ifndef EARSHOT_CAPTURE_H
#define EARSHOT_CAPTURE_H

#include "earshot.h"
#include "ring.h"

typedef struct earshot__capture earshot__capture;

/* Opens and starts capture from device (a name, a part of a name, or an
 * index; NULL: the default input) at rate (0: 16000 if the device takes
 * it, else its default rate). quiet hides the sound system's own stderr
 * chatter while devices are probed. */
int earshot__capture_open(earshot__capture **out, const char *device, int rate, int quiet,
                          earshot__ring *ring, char *err, size_t errlen);
int earshot__capture_rate(const earshot__capture *c);
const char *earshot__capture_name(const earshot__capture *c);
/* Non-zero while the stream runs. */
int earshot__capture_alive(earshot__capture *c);
void earshot__capture_close(earshot__capture *c);
/* Releases a capture whose device went away, giving PortAudio timeout
 * seconds. Returns 1 when released, 0 when PortAudio hung and the capture
 * was abandoned; PortAudio is unusable in this process after that. */
int earshot__capture_close_lost(earshot__capture *c, double timeout);

#endif
