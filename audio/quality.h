/* quality.h - per-utterance audio-quality verdict (internal). */
#ifndef EARSHOT_QUALITY_H
#define EARSHOT_QUALITY_H

#include <stddef.h>
#include <stdint.h>

typedef struct earshot__quality earshot__quality;

/* What the verdict was drawn from, for the caller and the bench. */
typedef struct earshot__quality_stats {
    double level_dbfs; /* loudness of the speech: 95th percentile frame RMS */
    double snr_db;     /* that level over the noise floor around it */
    double band_db;    /* share of speech energy above 4.5 kHz, dB */
    double clipped;    /* share of samples at full scale */
} earshot__quality_stats;

earshot__quality *earshot__quality_new(void);
void earshot__quality_free(earshot__quality *q);
/* A new stream: forgets the frames and the filter state. */
void earshot__quality_reset(earshot__quality *q);
/* 16 kHz PCM, in stream order, any chunk size. */
void earshot__quality_feed(earshot__quality *q, const int16_t *pcm, size_t n);
/* The verdict (an earshot_quality value) for the speech between start and
 * end (seconds from the start of the stream) whose words had the given
 * mean posterior; below unclear they were a guess. */
int earshot__quality_judge(const earshot__quality *q, double start, double end,
                           double mean_confidence, double unclear,
                           earshot__quality_stats *out);

/* Whether the stream so far is narrowband (1), wideband (0) or not yet
 * known (-1: under about 0.2 s of sound loud enough to judge). */
int earshot__quality_stream_narrowband(const earshot__quality *q);

#endif
