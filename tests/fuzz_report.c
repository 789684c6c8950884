/* fuzz_report.c - libFuzzer target for report loading and merging: any
 * bytes as a JSON report file must load or be refused, and a loaded one
 * merged with itself and written again, never a crash, a leak or undefined
 * behaviour. Built by `make fuzz`. */
#include "earshot.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char path[64], out[64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!path[0]) {
        snprintf(path, sizeof path, "/tmp/earshot-fuzz-report-%ld.json", (long)getpid());
        snprintf(out, sizeof out, "/tmp/earshot-fuzz-report-%ld.out", (long)getpid());
    }
    FILE *f = fopen(path, "wb");
    if (!f)
        return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    earshot_report *r = NULL;
    if (earshot_report_load(path, &r) == EARSHOT_OK) {
        const earshot_report *two[2] = {r, r};
        earshot_report *m = NULL;
        earshot_report_merge(two, 1, 1, &m);
        if (m)
            earshot_report_write(m, EARSHOT_REPORT_JSON, out);
        earshot_report_free(m);
        m = NULL;
        earshot_report_merge(two, 2, 5, &m); /* the same database twice: refused */
        earshot_report_free(m);
    }
    earshot_report_free(r);
    return 0;
}
