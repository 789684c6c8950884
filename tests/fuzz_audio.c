/* fuzz_audio.c - libFuzzer target for audio input: any bytes as an audio
 * file must give a clear error or samples, never a crash. Built by
 * `make fuzz`. */
#include "earshot.h"

#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[64];
    snprintf(path, sizeof path, "/tmp/earshot-fuzz-audio-%ld.wav", (long)getpid());
    FILE *f = fopen(path, "wb");
    if (!f)
        return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    earshot_audio *a = NULL;
    if (earshot_audio_open_file(&a, path) == EARSHOT_OK) {
        int16_t buf[1000];
        long total = 0, n;
        /* Bounded: a header may claim hours of audio. */
        while ((n = earshot_audio_read(a, buf, 1000)) > 0 && (total += n) < 16000 * 30)
            ;
        earshot_audio_get_info(a);
        earshot_audio_truncated(a);
    }
    earshot_audio_errmsg(a);
    earshot_audio_close(a);
    unlink(path);
    return 0;
}
