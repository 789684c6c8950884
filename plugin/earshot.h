/*
 * earshot.h - the one public header of libearshot, an offline
 * customer-listening library.
 *
 * Usage: open a handle, push 16 kHz mono PCM, get one callback per utterance.
 *
 *     static int on_utt(const earshot_utterance *u, void *user) {
 *         printf("%.2f-%.2f: %s\n", u->start, u->end, u->text);
 *         return 0;                              // 0 = keep going
 *     }
 *     earshot_config cfg = earshot_config_default();
 *     cfg.on_utterance = on_utt;
 *     earshot *e = NULL;
 *     if (earshot_open(&e, &cfg) != EARSHOT_OK) {
 *         fprintf(stderr, "%s\n", e ? earshot_errmsg(e) : "out of memory");
 *         earshot_close(e);
 *         return 1;
 *     }
 *     while ((n = read_my_audio(buf, 4096)) > 0)
 *         earshot_feed(e, buf, n);               // any chunk size
 *     earshot_flush(e);                          // end of stream
 *     earshot_close(e);
 *
 * Threads and state: a handle is used by one thread at a time; handles are
 * independent of each other. A call that breaks this (earshot_feed() or
 * earshot_flush() from a second thread while one runs, or from inside the
 * handle's own callback) is detected and returns EARSHOT_MISUSE; the one
 * call safe from any thread, and from a signal handler, is
 * earshot_interrupt(). There is no init call and no global state of
 * Earshot's own. One caveat comes from PocketSphinx 0.8+5prealpha, whose log
 * destination is process-wide: opening a handle silences it unless
 * cfg.verbose is set, and the last handle opened decides.
 *
 * Ownership: the library copies what it is given before a call returns.
 * Data passed to a callback is valid only during the callback. Strings that
 * a function returns belong to the handle and stay valid until the next call
 * on that handle.
 *
 * Errors: functions return an earshot_rc; earshot_errmsg() gives the detail
 * of the last failure on a handle, earshot_errstr() the text for a code.
 */
#ifndef EARSHOT_H
#define EARSHOT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define EARSHOT_VERSION "0.2.0"
/* The sample rate earshot_feed() expects. Other rates go through an
 * earshot_audio source, which resamples. */
#define EARSHOT_SAMPLE_RATE 16000

/* Result codes, code and text kept together (libuv's UV_ERRNO_MAP). */
#define EARSHOT_RC_MAP(X)                                                   \
    X(OK, 0, "not an error")                                                \
    X(NOMEM, 1, "out of memory")                                            \
    X(IO, 2, "input/output error")                                          \
    X(FORMAT, 3, "unsupported or corrupt audio")                            \
    X(MODEL, 4, "cannot load the speech model")                             \
    X(DECODER, 5, "speech decoder failed")                                  \
    X(MISUSE, 6, "library used incorrectly")                                \
    X(STOPPED, 7, "stopped by a callback")                                  \
    X(GRAMMAR, 8, "error in a grammar file")                                \
    X(CONSENT, 9, "no consent for this operation")                          \
    X(STORAGE, 10, "cannot write to the database")                          \
    X(QUEUED, 11, "database busy, full or read-only: kept in memory, will retry") \
    X(CORRUPT, 12, "not an Earshot database, or a damaged one")                 \
    X(PENDING, 13, "erased, but a reader keeps the old copy in the file: completed at next open") \
    X(BUDGET, 14, "the privacy budget for this period is spent")                \
    X(ADAPT, 15, "cannot adapt the speech model")                              \
    X(INTERRUPTED, 16, "interrupted by earshot_interrupt()")

typedef enum earshot_rc {
#define EARSHOT_RC_ENUM_(name, code, text) EARSHOT_##name = code,
    EARSHOT_RC_MAP(EARSHOT_RC_ENUM_)
#undef EARSHOT_RC_ENUM_
} earshot_rc;

/* Text for a result code. Static storage; never NULL. */
const char *earshot_errstr(int rc);

/* The library's version string, EARSHOT_VERSION at build time. */
const char *earshot_version(void);

/* ------------------------------------------------------------------ */
/* Recognition                                                         */
/* ------------------------------------------------------------------ */

typedef struct earshot earshot;

/* One recognised word. Times are seconds from the start of the stream. */
typedef struct earshot_word {
    const char *word;
    double start, end;
    double confidence; /* posterior probability, 0..1 */
} earshot_word;

/* The question the customer was just asked, if any: an answer is read
 * against it (the dialogue context). With EARSHOT_ASK_NONE an utterance is
 * read on its own words, as before.
 *   CONSENT         "May we keep what you say?": a yes-like answer ("sure",
 *                   "fine by me", "okay go on") is consent_yes, a refusal
 *                   ("i'd rather not", "no thanks") consent_no.
 *   RATING          "How likely are you to recommend us, 0 to 10?": a number
 *                   ("seven", "a solid eight") is nps with that score; a bare
 *                   refusal is other, never a revocation of consent.
 *   ANYTHING_ELSE   "Is there anything else?": a bare yes or no ("no that's
 *                   all") is other, with the answer set.
 *   CONFIRM_FORGET  "Shall I delete everything you said today?": yes is
 *                   forget_me, no is other.
 * The yes, no, unsure and filler phrases come from the grammar folder's
 * [answers] section (grammars/README.md). */
typedef enum earshot_question {
    EARSHOT_ASK_NONE = 0,
    EARSHOT_ASK_CONSENT,
    EARSHOT_ASK_RATING,
    EARSHOT_ASK_ANYTHING_ELSE,
    EARSHOT_ASK_CONFIRM_FORGET
} earshot_question;

/* How an utterance answers the pending question. */
typedef enum earshot_answer {
    EARSHOT_ANSWER_NONE = 0, /* no question pending, or no yes/no in the words */
    EARSHOT_ANSWER_YES,
    EARSHOT_ANSWER_NO
} earshot_answer;

/* What an utterance means, by the grammar folder's intents, topics,
 * sentiment lexicon and number words (grammars/README.md). */
typedef struct earshot_analysis {
    const char *intent;       /* e.g. "complaint"; "other" when none applies */
    double confidence;        /* of the intent, 0..1 */
    int score;                /* the rating slot, 0..10, or -1 when none */
    const char *sentiment;    /* "negative", "neutral" or "positive" */
    double sentiment_score;   /* -1..1 */
    const char *const *topics; /* multi-label, in the grammar's order */
    size_t n_topics;
    /* Effort signals ([signal NAME] sections: "third time", "nobody
     * helps", ...), in the grammar's order. */
    const char *const *signals;
    size_t n_signals;
    /* The question this was read against, and the yes or no it gave. */
    earshot_question question;
    earshot_answer answer;
} earshot_analysis;

/* How well an utterance could be heard (README "Audio quality"). Judged
 * on the audio as it arrived, before any front end; the first that
 * applies, in this order, wins. */
typedef enum earshot_quality {
    EARSHOT_QUALITY_OK = 0,
    EARSHOT_QUALITY_CLIPPED = 1,    /* the input overloaded */
    EARSHOT_QUALITY_TOO_QUIET = 2,  /* speech near the converter's floor */
    EARSHOT_QUALITY_NARROWBAND = 3, /* nothing above 5 kHz: a phone line, 8 kHz audio */
    EARSHOT_QUALITY_UNCLEAR = 4,    /* the recogniser doubted its words */
    EARSHOT_QUALITY_NOISY = 5       /* speech little above the noise around it */
} earshot_quality;

/* "ok", "clipped", "too_quiet", "narrowband", "unclear", "noisy";
 * "unknown" for other values. Static storage. */
const char *earshot_quality_name(int quality);


/* One utterance: a stretch of speech between two silences. */
typedef struct earshot_utterance {
    const char *text;   /* words joined by single spaces, lower case */
    double start, end;  /* seconds from the start of the stream */
    double confidence;  /* mean word posterior, 0..1 */
    const earshot_word *words;
    size_t n_words;
    /* NULL when the handle was opened with cfg.analyze = 0. */
    const earshot_analysis *analysis;
    /* Provenance: hashes of the speech model's files and of the grammar
     * folder's content (16 hex digits; grammar_id is "" without
     * analysis). Stored with each utterance, so a figure can be traced to
     * the model and grammar that produced it. */
    const char *model_id;
    const char *grammar_id;
    /* An earshot_quality. When the words were a guess (unclear, or any
     * verdict with a mean posterior that low) or the audio narrowband, the
     * analysis says intent "other" with no rating rather than inventing
     * one; the words stay in the text. */
    int quality;
    double level_dbfs; /* speech level: 95th percentile of 16 ms frame RMS */
    double snr_db;     /* that level over the noise floor of the 3 s around */
    double band_db;    /* share of the speech's energy above 5 kHz, dB */
    /* Two texts, and which is which: `text` (and `words`) is what was
     * recognised, raw, personal data included; `text_redacted` is the same
     * with personal data replaced by tags ("call me on [PHONE]"), what
     * earshot_store_utterance() writes when its store uses the same
     * grammar folder (a number read out across a pause is carried over
     * from the handle's last utterance here, the store's last stored one
     * there; the same when every utterance is stored). Show, print and
     * log text_redacted unless the user
     * asked for the raw text of their own recordings. NULL only when the
     * grammar folder has no redact.rules (or, with cfg.analyze = 0, rules
     * that do not load): then nothing can say what is personal. */
    const char *text_redacted;
} earshot_utterance;

/* Called once per utterance, from inside earshot_feed() or
 * earshot_flush(). The utterance and its strings are valid only during the
 * call. Return 0 to go on; non-zero makes the feeding call return
 * EARSHOT_STOPPED. */
typedef int (*earshot_utterance_fn)(const earshot_utterance *u, void *user);

/* The words heard so far in the utterance under way, for an app to show
 * while the customer speaks. The text is always redacted with the grammar
 * folder's redact.rules, as stored text is, and more cautiously still:
 * when the words so far would become personal data if the customer went
 * on ("my phone number is seven seven ..."), the tail is already shown as
 * its tag ("my phone number is [PHONE]"). A partial that ends in a number
 * word therefore shows [NUMBER] for it until the customer goes on
 * ("i'd give it a [NUMBER]" before "i'd give it a nine out of ten"). The
 * final utterance (on_utterance) may differ from the last partial: its
 * words come from the decoder's second pass. */
typedef struct earshot_partial {
    const char *text; /* redacted; words joined by single spaces, lower case */
    double start;     /* seconds from the start of the stream: the utterance began */
    double at;        /* seconds of audio fed when the hypothesis was taken */
} earshot_partial;

/* Called from inside earshot_feed(), at most every cfg.partial_interval_ms
 * of audio and only when the words changed. Valid during the call only.
 * Non-zero makes the feeding call return EARSHOT_STOPPED. */
typedef int (*earshot_partial_fn)(const earshot_partial *p, void *user);

/* Log levels passed to earshot_log_fn. */
enum { EARSHOT_LOG_ERROR = 0, EARSHOT_LOG_WARN = 1, EARSHOT_LOG_INFO = 2 };
typedef void (*earshot_log_fn)(int level, const char *msg, void *user);

typedef struct earshot_config {
    /* A PocketSphinx model folder: the acoustic model (a folder holding
     * mdef, means, variances, ...), a pronunciation dictionary (*.dict) and
     * a language model (*.lm.bin, *.lm or *.lm.DMP). The acoustic model may
     * be the folder itself or a sub-folder. NULL: Debian's
     * pocketsphinx-en-us, EARSHOT_DEFAULT_MODEL_DIR. */
    const char *model_dir;
    /* Explicit paths; each one set overrides what model_dir gives. */
    const char *hmm, *dict, *lm;

    earshot_utterance_fn on_utterance;
    void *utterance_user;

    earshot_log_fn on_log; /* Earshot's own messages; NULL: none */
    void *log_user;

    /* Non-zero lets PocketSphinx write its own (long) log to stderr. */
    int verbose;

    /* Non-zero (the default): analyse each utterance with the grammar
     * folder and bias the decoder toward it. */
    int analyze;
    /* The grammar folder. NULL: earshot_default_grammar_dir(). */
    const char *grammar_dir;
    /* Weight of the domain language model compiled from the grammar's
     * templates. Its probability is added, at this weight, to the generic
     * model's (which keeps weight 1), so in-domain phrases get likelier
     * while other speech keeps its generic probability. 0 leaves the
     * generic model alone; default 0.3. */
    double domain_weight;
    /* Where compiled domain models are cached (by content hash). NULL:
     * $XDG_CACHE_HOME/earshot or ~/.cache/earshot; if neither can be
     * written, the model is compiled in memory at each open. */
    const char *cache_dir;
    /* Words the recogniser gave a posterior below this never create an
     * intent, a rating or a topic; they stay in the text. Off (0) by
     * default: PocketSphinx's word posteriors do not separate heard from
     * invented words (in noise the domain model invents "cancel" or "two"
     * at 0.10-0.19, while correct words such as "record" or "no" came out
     * at 0.03-0.04), and a floor of 0.10 cost 1.5 points of intent
     * accuracy on the flite dev set for no gain in precision over the
     * utterance-level gate below (README "Audio quality"). */
    double word_confidence_floor;
    /* An utterance whose mean word posterior is below this is "unclear"
     * and gets no intent and no rating. 0: never. Default
     * EARSHOT_DEFAULT_UNCLEAR. */
    double unclear_confidence;
    /* The kiosk vocabulary: with a grammar (analyze on), the generic model
     * is cut to its model_vocab most probable words plus every word of the
     * grammar, with their bigrams and trigrams, and the dictionary to the
     * same words; built once per grammar and size (about 5 s of CPU and
     * 300 MB at its peak) and cached beside the domain model, by content
     * hash. 0 (EARSHOT_MODEL_VOCAB_FULL): the whole generic model. A
     * generic model that is not in PocketSphinx's binary trie form
     * (.lm.bin) is used whole, with an EARSHOT_LOG_WARN message. Grammar
     * words the dictionary lacks stay unheard, as with the full model.
     * Default 40000 (measured, README.md "Kiosk vocabulary": the smallest
     * size with WER no worse than the full model on every set: librivox
     * 28.2 % as full, flite dev 10.9 % vs 11.5 %; peak RSS 101 vs 140 MB).
     * 10000 is the small-board setting: 71 MB, 0.57x the CPU, start-up
     * 0.2 s, flite dev 10.6 %, but librivox 32.4 %. */
    int model_vocab;

    /* Audio front end run on the PCM before the recogniser (speexdsp's
     * preprocessor), the same for fed PCM and files: EARSHOT_FRONTEND_OFF,
     * _DENOISE (noise suppression) or _DENOISE_AGC (plus automatic gain,
     * for a customer far from the microphone). It restarts at each stream
     * and does not depend on chunk size. Default OFF: on the field set it
     * cost more on quiet speech than it gained in noise (README "Audio
     * front end" has the figures). */
    int frontend;
    /* Noise attenuation of the front end in dB, negative; 0: -15. */
    int noise_suppress_db;

    /* Partial hypotheses (earshot_partial). NULL (the default): none, and
     * no cost. Setting it needs redaction rules: the grammar folder's
     * redact.rules (cfg.grammar_dir, or the default folder when analyze is
     * 0) must load, or earshot_open() fails with EARSHOT_GRAMMAR, so a
     * partial can never show text unredacted. */
    earshot_partial_fn on_partial;
    void *partial_user;
    /* Audio between two looks at the hypothesis, in milliseconds; the
     * decoder is asked every 2048-sample block (128 ms) at most, so the
     * interval is rounded up to whole blocks. Default
     * EARSHOT_DEFAULT_PARTIAL_MS (300: three looks a second, each costing
     * a backtrace of the first pass, well under 1 % of the CPU). */
    int partial_interval_ms;

    /* Extra PocketSphinx decoder options, as on its command line
     * ("-maxhmmpf 5000 -fwdflat no"), for measuring on a bench. NULL or
     * "": the library's own settings. An unknown option or a bad value
     * fails earshot_open() with EARSHOT_MODEL; -hmm, -dict and -lm are
     * the model's and cannot be set here. */
    const char *decoder_options;
    /* An MLLR transform of the acoustic model (PocketSphinx's -mllr), as
     * earshot_adapt_write() or `earshot adapt` writes it, for a microphone,
     * room or line the model does not know. NULL: none. A transform fits
     * the model it was built from only. grammars/en-us/phone.mllr is the
     * phone-line transform: field phone WER 72 -> 44 %, with band_fill
     * (README "Phone lines"). With a transform loaded, narrowband
     * utterances are given intents again. */
    const char *mllr;
    /* A pronunciation addendum: lines "word PHONES..." in the model's phone
     * set, each one more pronunciation of a word the dictionary already
     * has (words it lacks are skipped: they would need language-model
     * probabilities too). "#" starts a comment. NULL: the grammar folder's
     * pronunciations.dict when there is one (analyze on); "" for none.
     * The en-us one holds British variants: WER on British voices 35.1 ->
     * 33.2 %, American voices and the field set unchanged (README
     * "British pronunciations"). A bad line: EARSHOT_GRAMMAR, FILE:LINE. */
    const char *pronunciations;
    /* A faint noise floor added in the 4-8 kHz band, RMS in sample units
     * (27: about -62 dBFS), after the quality check. A phone line or an
     * 8 kHz file otherwise leaves the model's upper filters empty and is
     * heard as "hm" (README "Phone lines"). 0: off. Default
     * EARSHOT_DEFAULT_BAND_FILL. */
    double band_fill;
} earshot_config;

#define EARSHOT_DEFAULT_PARTIAL_MS 300

#define EARSHOT_MODEL_VOCAB_FULL 0
#define EARSHOT_MODEL_VOCAB_DEFAULT 40000

/* Measured on the dev set, flite and field (README "Audio quality"). */
#define EARSHOT_DEFAULT_WORD_FLOOR 0.0
#define EARSHOT_DEFAULT_UNCLEAR 0.25
#define EARSHOT_DEFAULT_BAND_FILL 27.0

enum { EARSHOT_FRONTEND_OFF = 0, EARSHOT_FRONTEND_DENOISE = 1, EARSHOT_FRONTEND_DENOISE_AGC = 2 };

#define EARSHOT_DEFAULT_MODEL_DIR "/usr/share/pocketsphinx/model/en-us"

/* The grammar folder used when cfg.grammar_dir is NULL: the environment's
 * EARSHOT_GRAMMAR_DIR when set (a relocated install), else the installed
 * en-us grammar; a library built but not installed uses its source tree's
 * (an installed one never does).
 * Static storage. */
const char *earshot_default_grammar_dir(void);

/* Defaults: Debian's en-us model, no callbacks, quiet decoder. */
earshot_config earshot_config_default(void);

/* Opens a recogniser. *out receives a handle even on failure (except when
 * memory runs out, then *out is NULL) so earshot_errmsg() can say what went
 * wrong; close it with earshot_close() either way. cfg is copied, strings
 * included. Returns EARSHOT_OK, EARSHOT_MODEL (missing or unreadable model
 * files, named in the message), EARSHOT_NOMEM or EARSHOT_MISUSE. */
int earshot_open(earshot **out, const earshot_config *cfg);

/* Pushes n samples of 16 kHz mono signed 16-bit PCM, in any chunk size:
 * the result does not depend on how the stream is cut. Utterances are
 * delivered to cfg.on_utterance as silences end them. Returns EARSHOT_OK,
 * EARSHOT_STOPPED (a callback returned non-zero; the rest of the call's
 * audio is still decoded), EARSHOT_INTERRUPTED (earshot_interrupt(); the
 * rest of the call's audio is not decoded), EARSHOT_DECODER or
 * EARSHOT_MISUSE (also when called from inside this handle's callback, or
 * while another thread is in a call on it: nothing is fed then). */
int earshot_feed(earshot *e, const int16_t *pcm, size_t n);

/* Ends the stream: decodes what is buffered, delivers the last utterance,
 * and makes the next earshot_feed() start a new stream whose times count
 * from zero again. Clears an interrupt not yet seen. EARSHOT_MISUSE as for
 * earshot_feed(). */
int earshot_flush(earshot *e);

/* Asks the earshot_feed() under way on e (in another thread, or the one a
 * signal handler interrupted) to return EARSHOT_INTERRUPTED soon: it is
 * checked before each 2048-sample block, so the call returns within one
 * block's decoding. With no feed under way, the next earshot_feed()
 * returns EARSHOT_INTERRUPTED at once. The handle stays usable: feed on to
 * continue the stream, or earshot_flush() to end it (delivering the
 * utterance heard so far) and start the next. Safe from any thread and
 * from a signal handler (like sqlite3_interrupt()); e must stay open
 * meanwhile. NULL is a no-op. */
void earshot_interrupt(earshot *e);

/* Sets the question pending on this handle: every utterance delivered
 * from now on is read against it (see earshot_question), until it is set
 * again. The listener sets it itself; an app that asks its own questions
 * (on a screen, by a speaker) sets it after asking and back to
 * EARSHOT_ASK_NONE once answered. Returns EARSHOT_OK, or EARSHOT_MISUSE for
 * a NULL handle or an unknown question. */
int earshot_set_question(earshot *e, earshot_question q);

/* Non-zero while someone is speaking: an utterance has begun and not yet
 * ended. */
int earshot_in_speech(const earshot *e);

/* Seconds of audio fed since the stream began. After earshot_flush(), the
 * length of the stream just ended, until the next earshot_feed() starts
 * another. */
double earshot_stream_seconds(const earshot *e);

/* Detail of the last failure on this handle ("not an error" if none has
 * happened): every call that returns a code other than EARSHOT_OK sets it,
 * EARSHOT_STOPPED, EARSHOT_INTERRUPTED and EARSHOT_MISUSE included; a call
 * that succeeds leaves it. Valid until the next call on the handle. NULL
 * handle: "out of memory". */
const char *earshot_errmsg(const earshot *e);

/* Frees the handle. NULL is a no-op. Pending audio is discarded: call
 * earshot_flush() first to hear the end of the stream. Called while a
 * call on the handle runs (from its callback, or another thread), it does
 * nothing: close it after that call returns. */
void earshot_close(earshot *e);

/* ------------------------------------------------------------------ */
/* Text analysis without the recogniser                                 */
/* ------------------------------------------------------------------ */

/* A compiled grammar folder, for analysing text (a transcript from
 * elsewhere, a typed comment). Needs no speech model. */
typedef struct earshot_intents earshot_intents;

/* Compiles a grammar folder (NULL: earshot_default_grammar_dir()). *out is
 * set even on failure (except out of memory); earshot_intents_errmsg()
 * then lists every problem, one "FILE:LINE:COL: what" per line. Returns
 * EARSHOT_OK, EARSHOT_GRAMMAR, EARSHOT_IO or EARSHOT_NOMEM. */
int earshot_intents_open(earshot_intents **out, const char *grammar_dir);

/* Analyses one utterance of text (any case; punctuation is ignored).
 * *out and its strings stay valid until the next call on the handle. */
int earshot_intents_analyze(earshot_intents *g, const char *text, earshot_analysis *out);

/* Sets the question the next texts answer, as earshot_set_question()
 * does for a recogniser: earshot_intents_analyze() reads each text against
 * it until it is set again. EARSHOT_ASK_NONE (the default) reads a text on
 * its own words. Returns EARSHOT_OK or EARSHOT_MISUSE. */
int earshot_intents_set_question(earshot_intents *g, earshot_question q);

const char *earshot_intents_errmsg(const earshot_intents *g);
void earshot_intents_close(earshot_intents *g);

/* Checks a grammar folder: calls fn once per error (all of them, not just
 * the first) with FILE, LINE, COL and a message; with dict_path set, also
 * once per word the pronunciation dictionary lacks, at its first use, with
 * a message starting "warning: ". Returns the number of errors (warnings
 * not counted), or -1 when the dictionary cannot be read. */
typedef void (*earshot_diag_fn)(const char *file, int line, int col, const char *msg,
                                void *user);
long earshot_grammar_check(const char *grammar_dir, const char *dict_path,
                           earshot_diag_fn fn, void *user);

/* ------------------------------------------------------------------ */
/* Audio input                                                          */
/* ------------------------------------------------------------------ */

/* An audio source delivers 16 kHz mono int16 PCM ready for
 * earshot_feed(), whatever the original format: WAV, FLAC, OGG and the
 * other formats libsndfile reads, at any rate and channel count (channels
 * are averaged, the rate converted with libsamplerate). Audio is read in
 * chunks, so an hour-long file takes bounded memory. */
typedef struct earshot_audio earshot_audio;

/* Facts about the original file. */
typedef struct earshot_audio_info {
    int sample_rate;      /* of the file */
    int channels;         /* of the file */
    int64_t frames;       /* as the file's header declares them; 0 when it
                             does not say (an OGG file cut before its last page) */
    double seconds;       /* frames / sample_rate */
} earshot_audio_info;

/* Opens an audio file. As with earshot_open(), *out is set even on failure
 * (except out of memory) so earshot_audio_errmsg() can explain; close it
 * either way. path "-" is standard input. A stream (a pipe, /dev/stdin, a
 * FIFO) is read whole into memory during this call, at most 1 GiB, and
 * decoded from there; a regular file is read in chunks. Returns
 * EARSHOT_OK, EARSHOT_IO (missing or unreadable) or EARSHOT_FORMAT (not
 * audio, empty, no samples, a stream over the limit). */
int earshot_audio_open_file(earshot_audio **out, const char *path);

/* Fills info. The pointer stays valid until earshot_audio_close(). */
const earshot_audio_info *earshot_audio_get_info(const earshot_audio *a);

/* Reads up to max samples of 16 kHz mono PCM into pcm. Returns the count
 * (0 at the end of the audio), or -1 on a read error, detailed by
 * earshot_audio_errmsg(). A file shorter than its header declares ends
 * early and earshot_audio_truncated() then says so; what it held is
 * still delivered. */
long earshot_audio_read(earshot_audio *a, int16_t *pcm, size_t max);

/* Non-zero when the source ended before the length its header declares,
 * or ended without saying its length at all (a cut OGG file): then
 * earshot_audio_errmsg() says so ("truncated or damaged OGG file ..."). */
int earshot_audio_truncated(const earshot_audio *a);

/* Detail of the last failure on this source. */
const char *earshot_audio_errmsg(const earshot_audio *a);

/* NULL is a no-op. */
void earshot_audio_close(earshot_audio *a);


/* ------------------------------------------------------------------ */
/* Consented storage                                                    */
/* ------------------------------------------------------------------ */

/* A local SQLite database of what consenting customers said: sessions,
 * consents, redacted utterances and an audit trail of erasures and
 * exports. Nothing is written for a session without an active consent
 * with the transcripts scope; text is redacted (the grammar folder's
 * redact.rules) before it is written; forgetting overwrites the erased
 * bytes. One handle per thread; several processes may share a file. */
typedef struct earshot_store earshot_store;

/* What a consent covers. */
enum {
    EARSHOT_SCOPE_TRANSCRIPTS = 1, /* keep redacted transcripts */
    EARSHOT_SCOPE_QUOTES = 2,      /* quote them (redacted) in reports */
    EARSHOT_SCOPE_AUDIO = 4        /* keep the audio, as FLAC beside the database */
};

/* How consent was given. */
typedef enum earshot_consent_method {
    EARSHOT_BY_VOICE,    /* a consent_yes answer */
    EARSHOT_BY_API,      /* the embedding app asked */
    EARSHOT_BY_BUTTON,   /* a button or screen at the kiosk */
    EARSHOT_BY_ELSEWHERE /* obtained outside Earshot, e.g. at the start of a recorded call */
} earshot_consent_method;

typedef struct earshot_store_config {
    const char *path;        /* default "earshot.db"; created mode 0600 */
    const char *grammar_dir; /* for redact.rules; NULL: earshot_default_grammar_dir() */
    int retain_days;         /* > 0: erase utterances older than this at open,
                                then hourly while utterances are stored */
    int busy_timeout_ms;     /* wait this long for a lock before queueing; 2000 */
    size_t queue_max;        /* utterances held in memory while the file cannot
                                be written; 1000 */
    const char *consent_version; /* version of the consent text customers hear; "1" */
    earshot_log_fn on_log;
    void *log_user;
    /* 1: open an existing database for reading only (reports): never
     * created, migrated or written; another process may go on writing. */
    int read_only;
    /* 1 (the default): a path that does not exist is created, and so is
     * an existing empty file (0 bytes). 0: the database must exist and be
     * an Earshot database; a missing path is EARSHOT_IO, an empty file or
     * an empty SQLite file EARSHOT_CORRUPT, and nothing is created (what
     * listing or erasing wants). A read-only handle never creates. */
    int create;
    /* No destructive act on a guess: a forget_me, or a consent_no that
     * would revoke consent already given, erases only when its intent
     * confidence reaches confirm_confidence AND the words' mean recogniser
     * confidence (earshot_utterance.confidence; text has 1) reaches
     * confirm_word_confidence. Otherwise it is EARSHOT_HEARD_REVIEW.
     * Defaults 0.985 and 0.5 (intent confidence is calibrated: raw 0.75
     * at full word confidence is 0.987). An answer to EARSHOT_ASK_CONFIRM_FORGET is the customer's
     * confirmation and needs only these thresholds too. */
    double confirm_confidence;
    double confirm_word_confidence;
} earshot_store_config;

earshot_store_config earshot_store_config_default(void);

/* Opens (or, with cfg->create, creates, migrating its schema) a database.
 * *out is set even on failure, except out of memory. A file that is not
 * an Earshot database, or is damaged, is refused with EARSHOT_CORRUPT and
 * left untouched.
 * Returns EARSHOT_OK, EARSHOT_IO, EARSHOT_CORRUPT, EARSHOT_STORAGE,
 * EARSHOT_GRAMMAR (redaction rules missing or wrong) or EARSHOT_NOMEM. */
int earshot_store_open(earshot_store **out, const earshot_store_config *cfg);
const char *earshot_store_errmsg(const earshot_store *s);
/* Retries queued utterances, empties the write-ahead log, frees. Queued
 * utterances that still cannot be written are reported through on_log. */
void earshot_store_close(earshot_store *s);

/* A session is one customer's visit or call. Beginning one stores only
 * its channel and start time; it awaits consent. */
int earshot_session_begin(earshot_store *s, const char *channel, int64_t *session);
int earshot_session_end(earshot_store *s, int64_t session);

/* Records consent for a session (scopes: EARSHOT_SCOPE_* ored). */
int earshot_consent_grant(earshot_store *s, int64_t session, unsigned scopes,
                          earshot_consent_method how, int64_t *consent);
/* Revokes the session's consents and erases what they covered. */
int earshot_consent_revoke(earshot_store *s, int64_t session, int64_t *n_erased);

/* What earshot_store_utterance() did with an utterance. */
typedef enum earshot_heard {
    EARSHOT_HEARD_DROPPED,   /* no consent (yet), or session forgotten: not kept */
    EARSHOT_HEARD_STORED,    /* redacted, written and committed */
    EARSHOT_HEARD_QUEUED,    /* redacted and held in memory: database unavailable */
    EARSHOT_HEARD_CONSENTED, /* a consent_yes answer: consent recorded (by voice) */
    EARSHOT_HEARD_DECLINED,  /* a consent_no answer: nothing kept, earlier rows erased */
    EARSHOT_HEARD_FORGOTTEN, /* a forget_me: the whole session erased */
    /* A forget_me, or a consent_no that would revoke consent given, heard
     * with too little confidence (see confirm_confidence): nothing is
     * erased and the utterance is not kept; a request to review is
     * recorded on the session (reviews table) for a person to act on. */
    EARSHOT_HEARD_REVIEW
} earshot_heard;

/* The voice path and storage in one call: an utterance heard in a
 * session (with its analysis, from earshot_open with analyze on) decides
 * consent, erases the session, or is redacted and stored if consented.
 * pcm (16 kHz mono, may be NULL) is kept only under the audio scope.
 * Returns EARSHOT_OK (see *what), EARSHOT_QUEUED (kept in memory; the
 * message says why), EARSHOT_STORAGE (not kept: the memory queue is full)
 * or another error. */
int earshot_store_utterance(earshot_store *s, int64_t session, const earshot_utterance *u,
                            const int16_t *pcm, size_t n_samples, earshot_heard *what);
/* Records a request to review on a session (reviews table): an erasure
 * u asked for (its analysis's intent and confidence, u->confidence for the
 * words) that is not carried out, for a person to act on. The listener
 * uses it when a spoken confirmation never came clearly. */
int earshot_store_review(earshot_store *s, int64_t session, const earshot_utterance *u);
/* Writes queued utterances now. EARSHOT_OK once the queue is empty. */
int earshot_store_retry(earshot_store *s);
size_t earshot_store_queued(const earshot_store *s);

/* Which sessions to erase: exactly one of the fields set. */
typedef struct earshot_forget_what {
    int64_t session;     /* > 0: that session */
    const char *channel; /* every session of a channel */
    const char *before;  /* "YYYY-MM-DD": utterances heard before that day */
    int all;             /* everything */
} earshot_forget_what;
/* Erases physically (the bytes are overwritten and the write-ahead log
 * emptied) and writes an audit row with the counts. EARSHOT_OK means the
 * erased text is in neither the database file nor its -wal file. When
 * another connection holds an older snapshot, the checkpoint that copies
 * the overwritten pages home waits for it (busy_timeout_ms, three times);
 * if it still holds on, the rows are gone for every reader but the old
 * bytes stay in the file: EARSHOT_PENDING, with a pending-erasure record
 * that this handle's close, or the next open, completes first.
 * earshot_consent_revoke() and the voice forget_me behave the same. */
int earshot_forget(earshot_store *s, const earshot_forget_what *what, int64_t *n_sessions,
                   int64_t *n_utterances);
/* Erases utterances older than days (retention). */
int earshot_store_purge(earshot_store *s, int days, int64_t *n_utterances);

/* Everything held on one session, as a JSON object (a customer's access
 * request). *json is malloc'd: free it with earshot_free(). */
int earshot_export_session(earshot_store *s, int64_t session, char **json);
void earshot_free(void *p);

typedef struct earshot_session_info {
    int64_t id;
    const char *channel, *started_at, *ended_at; /* ended_at NULL while open */
    int64_t utterances;
    int consented; /* an active consent with the transcripts scope */
} earshot_session_info;
/* Calls fn per session, oldest first; valid during the call. Non-zero
 * from fn stops (EARSHOT_STOPPED). */
typedef int (*earshot_session_fn)(const earshot_session_info *info, void *user);
int earshot_sessions(earshot_store *s, earshot_session_fn fn, void *user);

/* ------------------------------------------------------------------ */
/* Listening: capture, consent dialogue, sessions                       */
/* ------------------------------------------------------------------ */

/* A capture device, as PortAudio lists it. */
typedef struct earshot_device_info {
    int index;
    const char *name;
    const char *host_api; /* "ALSA", "JACK Audio Connection Kit", ... */
    double default_rate;
    int channels;         /* input channels */
    int is_default;
} earshot_device_info;
typedef int (*earshot_device_fn)(const earshot_device_info *d, void *user);
/* Calls fn per capture device; strings valid during the call. Returns
 * EARSHOT_OK, or EARSHOT_IO with the reason in err. */
int earshot_devices(earshot_device_fn fn, void *user, char *err, size_t errlen);

/* What a listener tells the app, from inside earshot_listen_run(). */
typedef enum earshot_event_kind {
    EARSHOT_EVENT_UTTERANCE,      /* utterance and heard are set */
    EARSHOT_EVENT_SESSION_BEGIN,  /* someone started speaking */
    EARSHOT_EVENT_CONSENT_PROMPT, /* message: the question to put to them */
    EARSHOT_EVENT_SESSION_END,    /* message: why (silence, no answer, ...) */
    EARSHOT_EVENT_TROUBLE,        /* message: device lost, overflow, storage problem */
    EARSHOT_EVENT_RECOVERED,      /* message: capturing again */
    /* message: the question to put to them before erasing anything
     * ("Shall I delete everything you said today?"), after a forget_me or
     * a consent_no that would revoke consent; their yes erases, their no
     * keeps everything; no clear answer (silence for answer_timeout, or an
     * answer not caught twice) keeps everything and records a request to
     * review (earshot_store_review). */
    EARSHOT_EVENT_CONFIRM_PROMPT,
    /* message: the rating question (lcfg.ask_rating), put once per
     * consenting session; the answer is read in the rating context. */
    EARSHOT_EVENT_RATING_PROMPT
} earshot_event_kind;

typedef struct earshot_event {
    earshot_event_kind kind;
    int64_t session;                     /* the store's id (local count without a store) */
    const earshot_utterance *utterance;  /* EARSHOT_EVENT_UTTERANCE only */
    earshot_heard heard;                 /* what storage did with it */
    const char *message;
    double at;                           /* audio seconds captured when this was sent */
    /* The prompts (CONSENT_, CONFIRM_, RATING_PROMPT): the question asked,
     * and 1 when it is asked a second time because the answer was not
     * caught (the message then starts with lcfg.reask_prompt). */
    earshot_question question;
    int repeat;
} earshot_event;
/* Valid during the call only. */
typedef void (*earshot_event_fn)(const earshot_event *ev, void *user);

typedef struct earshot_listen_config {
    const char *device;      /* name, part of a name, or index; NULL: default input */
    int rate;                /* capture rate; 0: 16000 if offered, else the device's */
    int consent_granted;     /* 0: ask by voice; 1: consent was given elsewhere */
    const char *consent_prompt;
    /* Asked before an erasure (EARSHOT_EVENT_CONFIRM_PROMPT); "Shall I
     * delete everything you said today? Say yes or no." */
    const char *confirm_prompt;
    /* An answer counts only from audio judged EARSHOT_QUALITY_OK (in noise
     * the open search made a "yeah" out of the radio alone in 8 of 12
     * clips, all judged noisy; README "Answers in noise"). An answer not
     * caught (any other verdict, or sound the recogniser found no words
     * in) makes the listener ask once more, this sentence before the
     * question: "Sorry, I didn't catch that." A second answer
     * not caught counts as no answer: no consent (nothing kept, the session
     * ends), no erasure (a request to review is recorded instead), no
     * rating. "" asks again with the question alone. */
    const char *reask_prompt;
    /* 1: put the NPS question (rating_prompt: "On a scale from zero to
     * ten, how likely are you to recommend us to a friend?") once per
     * consenting session, right after the customer's first complaint or
     * praise, or else when the session falls silent (session_silence; the
     * session then waits answer_timeout for the answer before it ends).
     * The answer is read in the rating context ("a solid eight" is nps 8)
     * and stored like any utterance. Default 0. Without a store every
     * session counts as consenting (nothing is kept). */
    int ask_rating;
    const char *rating_prompt;
    const char *channel;     /* this kiosk's name in the database; "kiosk" */
    double session_silence;  /* seconds of silence that end a session; 20 */
    double answer_timeout;   /* seconds to wait for an answer to its questions; 15 */
    double max_seconds;      /* stop after this much audio; 0: until stopped */
    double ring_seconds;     /* capture buffer, seconds at 48 kHz; 10 */
    int quiet;               /* hide the sound system's stderr chatter; 1 */
    earshot_event_fn on_event;
    void *event_user;
} earshot_listen_config;

earshot_listen_config earshot_listen_config_default(void);

typedef struct earshot_listener earshot_listener;

/* Opens the recogniser (rcfg; its on_utterance is replaced), the store
 * (scfg; NULL keeps nothing) and the capture device. *out is set even on
 * failure, except out of memory; earshot_listen_errmsg() explains. */
int earshot_listen_open(earshot_listener **out, const earshot_listen_config *lcfg,
                        const earshot_config *rcfg, const earshot_store_config *scfg);
/* Listens until earshot_listen_stop() or max_seconds; then finishes the
 * utterance in flight (stored if consented) and ends the session. If the
 * device stops, it says so (EARSHOT_EVENT_TROUBLE), keeps what was heard,
 * and reopens it with backoff. */
int earshot_listen_run(earshot_listener *l);
/* Safe from any thread and from a signal handler. */
void earshot_listen_stop(earshot_listener *l);
const char *earshot_listen_errmsg(const earshot_listener *l);
const char *earshot_listen_device(const earshot_listener *l);
int earshot_listen_rate(const earshot_listener *l);
void earshot_listen_close(earshot_listener *l);

/* ------------------------------------------------------------------ */
/* Adapting the acoustic model to a microphone, room or line             */
/* ------------------------------------------------------------------ */

/* Builds an MLLR transform (earshot_config.mllr) from speech with known
 * words: a few minutes (100 or so sentences) of the line or room to adapt
 * to. The features are the recogniser's own; the statistics are run by
 * sphinxtrain's bw and mllr_solve (Debian package sphinxtrain), found at
 * run time.
 *
 *     earshot_adapt *a;
 *     earshot_adapt_config cfg = earshot_adapt_config_default();
 *     if (earshot_adapt_open(&a, &cfg) != EARSHOT_OK) ...
 *     earshot_adapt_add(a, pcm, n, "where is the bakery");  // per sentence
 *     earshot_adapt_write(a, "shop.mllr", NULL);
 *     earshot_adapt_close(a); */
typedef struct earshot_adapt earshot_adapt;

typedef struct earshot_adapt_config {
    const char *model_dir;  /* as earshot_config; EARSHOT_DEFAULT_MODEL_DIR */
    const char *hmm, *dict; /* explicit paths override model_dir's */
    /* The folder of sphinxtrain's programs. NULL: $EARSHOT_SPHINXTRAIN,
     * then /usr/lib/sphinxtrain (Debian), /usr/libexec/sphinxtrain, ... */
    const char *tools_dir;
    /* Scratch folder for features and counts, kept afterwards. NULL: a
     * temporary folder removed at close. */
    const char *work_dir;
    int verbose; /* the commands run, and PocketSphinx's log, on stderr */
    /* The recogniser's earshot_config.band_fill, which the features must
     * match; default EARSHOT_DEFAULT_BAND_FILL. */
    double band_fill;
} earshot_adapt_config;

earshot_adapt_config earshot_adapt_config_default(void);

/* Loads the model's front end and dictionary. *out is set even on failure
 * (except out of memory); earshot_adapt_errmsg() explains. EARSHOT_ADAPT
 * when sphinxtrain is missing, EARSHOT_MODEL, EARSHOT_IO. */
int earshot_adapt_open(earshot_adapt **out, const earshot_adapt_config *cfg);
/* Adds one utterance: n samples of 16 kHz mono PCM (resampled as the
 * recogniser's input is) and the words said. The words are copied.
 * EARSHOT_ADAPT for a word the dictionary lacks, an empty transcript or
 * audio under 0.2 s or without speech. */
int earshot_adapt_add(earshot_adapt *a, const int16_t *pcm, size_t n, const char *words);
/* Runs bw and mllr_solve and writes the transform to path (replaced
 * whole, never half-written). *n_used (may be NULL) gets the number of
 * utterances bw could align. EARSHOT_ADAPT when a tool fails or no
 * utterance aligns. */
int earshot_adapt_write(earshot_adapt *a, const char *path, int *n_used);
/* Seconds of audio added. */
double earshot_adapt_seconds(const earshot_adapt *a);
const char *earshot_adapt_errmsg(const earshot_adapt *a);
void earshot_adapt_close(earshot_adapt *a);

/* ------------------------------------------------------------------ */
/* Anonymised insight reports                                           */
/* ------------------------------------------------------------------ */

/* What customers said, counted for a manager: intents and their trend,
 * friction (topics by sentiment, effort signals), loyalty (ratings, NPS,
 * cancellations), ideas, questions, channels side by side, and phrases
 * from speech no intent matched. Anonymised: no session ids, no time
 * finer than time_unit, only redacted text, quotes only under the quotes
 * scope, and every figure built from fewer than min_group distinct
 * sessions is suppressed (shown "<K"). Each report states these rules. */
typedef struct earshot_report earshot_report;

typedef enum earshot_report_format {
    EARSHOT_REPORT_JSON, /* machine-readable; mergeable (README, "Report JSON") */
    EARSHOT_REPORT_HTML, /* one self-contained file: inline CSS and SVG, no script */
    EARSHOT_REPORT_CSV,  /* one table per section; a folder path: one file each */
    EARSHOT_REPORT_MD    /* Markdown tables */
} earshot_report_format;

typedef enum earshot_time_unit {
    EARSHOT_TIME_DAY,   /* trend per day; dates shown as YYYY-MM-DD */
    EARSHOT_TIME_WEEK,  /* per ISO week, YYYY-Www */
    EARSHOT_TIME_MONTH  /* per month, YYYY-MM */
} earshot_time_unit;

typedef enum earshot_privacy {
    EARSHOT_PRIVACY_SUPPRESS, /* cell suppression under min_group (default) */
    EARSHOT_PRIVACY_DP        /* differential privacy: noisy counts, a budget ledger */
} earshot_privacy;
/* The epsilon a calendar month may spend on DP reports unless
 * earshot_report_config.budget says otherwise. */
#define EARSHOT_DP_DEFAULT_BUDGET 2.0

typedef struct earshot_report_config {
    const char *since, *until; /* "YYYY-MM-DD", inclusive; NULL: open-ended */
    const char *channel;       /* one channel only; NULL: all */
    int min_group;             /* K: fewer distinct sessions are suppressed; 5 */
    earshot_time_unit time_unit; /* the finest time a report shows; DAY */
    int utc;                   /* days in UTC rather than local time; 0 */
    int max_rows;              /* rows per phrase list in HTML and Markdown; 15 */
    int max_quotes;            /* example quotes per idea topic; 3 */
    /* How the report protects customers. SUPPRESS (the default): figures
     * from fewer than min_group sessions are hidden (no formal
     * guarantee). DP: epsilon-differential privacy per session; needs
     * min_group = 0 (the two are never combined: EARSHOT_MISUSE), since
     * and until, and a store opened for writing (the budget ledger). */
    earshot_privacy privacy;
    /* DP: the privacy loss of this one report, 0 < epsilon <= 10, split
     * evenly over the 10 tables it releases. */
    double epsilon;
    /* DP: the epsilon every calendar month (UTC dates of the window) may
     * spend over all reports; 0: EARSHOT_DP_DEFAULT_BUDGET. A report that
     * would exceed it for any month of its window is refused with
     * EARSHOT_BUDGET and nothing is released. */
    double budget;
    /* DP: the grammar folder whose intents, topics and signals are the
     * pre-declared categories (each released, zeros too); NULL:
     * earshot_default_grammar_dir(). */
    const char *grammar_dir;
} earshot_report_config;

earshot_report_config earshot_report_config_default(void);

/* Builds a report from a store (open it with read_only = 1 to read a
 * database another process writes; privacy DP needs it writable, for
 * its ledger). *out is set even on failure, except out of memory;
 * earshot_report_errmsg() explains. EARSHOT_BUDGET: privacy DP refused,
 * a month of the window has spent its budget (nothing is released). */
int earshot_report_build(earshot_store *s, const earshot_report_config *cfg,
                         earshot_report **out);
/* Reads a JSON report written by earshot_report_write(). */
int earshot_report_load(const char *path, earshot_report **out);
/* Adds up n reports of a fleet (counts and distinct sessions add, since
 * each database holds its own sessions) and applies min_group again. A
 * figure an input suppressed is unknown: the sum of the others is shown
 * as a lower bound when it reaches min_group. Refuses the same database
 * twice and reports of different time units. */
int earshot_report_merge(const earshot_report *const *in, size_t n, int min_group,
                         earshot_report **out);
/* Writes r to path ("-": standard output). For CSV, a path that is a
 * folder or ends in '/' gets one file per table. */
int earshot_report_write(earshot_report *r, earshot_report_format format, const char *path);
const char *earshot_report_errmsg(const earshot_report *r);
void earshot_report_free(earshot_report *r);

/* What to act on (README, "What to act on"): findings computed when a
 * report is built from a store, by comparing sessions. Each compares two
 * shares of sessions with a two-proportion z-test (two-sided), held to
 * p < 0.05 divided by the number of candidates tested in its family
 * (Bonferroni). Not computed under privacy DP, nor for a report loaded
 * from JSON or merged (earshot_report_findings() then returns 0). */
typedef enum earshot_finding_kind {
    /* complaints about a topic rose against the previous period of equal
     * length: share of sessions with a complaint about it */
    EARSHOT_FINDING_COMPLAINTS,
    /* the topic that drives detractors most: share of detractor sessions
     * mentioning it against promoter sessions (key-driver analysis) */
    EARSHOT_FINDING_DRIVER,
    /* a channel whose share of sessions with a complaint stands above the
     * other channels' */
    EARSHOT_FINDING_CHANNEL,
    /* a word of unmatched speech heard this period and not the previous */
    EARSHOT_FINDING_THEME,
    /* an effort signal's share of sessions rose against the previous period */
    EARSHOT_FINDING_EFFORT
} earshot_finding_kind;

typedef struct earshot_finding {
    earshot_finding_kind kind;
    const char *kind_name; /* "complaints", "driver", "channel", "theme", "effort" */
    const char *subject;   /* the topic, channel, word or signal; "" for none */
    /* 1: passes min_group (every figure behind it is 0 or >= min_group)
     * and the significance threshold. 0: not enough evidence yet, the
     * best candidate of its family; more_sessions says how many more
     * sessions an 80% chance of a significant result would need. */
    int shown;
    /* The two groups compared: "before" is the previous period (DRIVER:
     * promoter sessions; CHANNEL: the other channels), "after" this
     * period (DRIVER: detractor sessions; CHANNEL: the channel). */
    long long x_before, n_before, x_after, n_after;
    double before_pct, after_pct, delta_pts; /* delta_pts = after - before */
    double ci_low, ci_high;                  /* 95% interval of delta_pts (Wald) */
    double p, alpha;                         /* two-sided p, and the threshold used */
    long long impact;        /* sessions the difference accounts for: the ranking */
    long long more_sessions; /* !shown: estimated sessions more needed (0: shown) */
    const char *sentence;    /* one sentence for people, with its figure and evidence */
} earshot_finding;

/* The report's findings: shown ones first (at most 5, by impact), then
 * one entry per family that has not enough evidence yet. *out points
 * into r (valid until earshot_report_free). Returns their number. */
size_t earshot_report_findings(const earshot_report *r, const earshot_finding **out);
/* Whether a shown finding crosses an alert threshold. spec is
 * KIND[:SUBJECT[:DELTA]]: KIND a kind_name, SUBJECT a name or "*" (any),
 * DELTA a signed number of points: "+20" matches delta_pts >= 20, "-10"
 * delta_pts <= -10; no DELTA: any shown finding of that kind and subject.
 * "complaints:wait_time:+20": complaints about wait time up 20 points or
 * more. Returns 1 or 0; -1 for a malformed spec. */
int earshot_finding_matches(const earshot_finding *f, const char *spec);

/* ------------------------------------------------------------------ */
/* The outbox: events waiting for a broker                              */
/* ------------------------------------------------------------------ */

/* A table in the store of messages (topic, JSON payload) that a
 * publisher (earshot serve --mqtt, earshot publish) sends and marks sent
 * when the broker acknowledges them, so an absent broker loses nothing.
 * Bounded: past EARSHOT_OUTBOX_MAX unsent rows the oldest are dropped,
 * counted (earshot_outbox_dropped) and logged. A row with a session (>0)
 * is deleted once sent and erased with its session (forget, revoke); a
 * row without one keeps its sent time (what was published). */
#define EARSHOT_OUTBOX_MAX 100000
/* The database's random identity (report JSON "sources"); "" before schema 3. */
const char *earshot_store_id(const earshot_store *s);
int earshot_outbox_add(earshot_store *s, const char *topic, const char *payload, int64_t session,
                       int64_t *id);
/* Calls fn for at most max unsent rows with id > after, oldest first
 * (valid during the call); non-zero from fn stops (EARSHOT_STOPPED). */
typedef int (*earshot_outbox_fn)(int64_t id, const char *topic, const char *payload, void *user);
int earshot_outbox_next(earshot_store *s, int64_t after, int max, earshot_outbox_fn fn, void *user);
int earshot_outbox_sent(earshot_store *s, int64_t id);
/* Rows with that topic (NULL: any), only unsent ones when unsent_only; -1 on error. */
int64_t earshot_outbox_count(earshot_store *s, const char *topic, int unsent_only);
/* Events dropped because the outbox was full, over the file's life. */
int64_t earshot_outbox_dropped(earshot_store *s);
/* The bound, process-wide (tests); <= 0 restores EARSHOT_OUTBOX_MAX. */
void earshot_outbox_set_limit(int64_t max_unsent);

#ifdef __cplusplus
}
#endif
#endif /* EARSHOT_H */
