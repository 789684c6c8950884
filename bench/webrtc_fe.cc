/* webrtc_fe.cc - a WAV through Debian 12's webrtc-audio-processing (0.3):
 * noise suppression, adaptive digital gain and the high-pass filter, to a
 * WAV at the same rate. A bench tool only (bench/field.sh measures it
 * against audio/frontend.c's speexdsp front end on the field set): it is
 * NOT part of libearshot, and it is built by `make bench` only when
 * pkg-config finds webrtc-audio-processing.
 *
 *   webrtc_fe [--ns 0..3|off] [--agc off|TARGET_DBFS] [--gain DB] [--no-hpf] IN.wav OUT.wav
 *
 *   --ns     noise suppression level: 0 low, 1 moderate (default, the
 *            library's own), 2 high,
 *            3 very high; off disables it
 *   --agc    adaptive digital AGC target peak level in dB below full scale
 *            (0..31, default 3); off disables the AGC
 *   --gain   the AGC's maximum digital compression gain in dB (default 9,
 *            the library's default; 0..90)
 *   --no-hpf high-pass filter off (on by default)
 *
 * Mono input at 8, 16, 32 or 48 kHz (the rates the library processes);
 * other rates or channel counts are refused with a one-line error. */
#include <sndfile.h>
#include <webrtc/modules/audio_processing/include/audio_processing.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

static int fail(const char *msg, const char *arg)
{
    std::fprintf(stderr, "webrtc_fe: %s%s%s\n", msg, arg ? ": " : "", arg ? arg : "");
    return 1;
}

int main(int argc, char **argv)
{
    int ns = 1, agc = 3, gain = 9, hpf = 1;
    const char *in = nullptr, *out = nullptr;
    for (int i = 1; i < argc; i++) {
        if (!std::strcmp(argv[i], "--ns") && i + 1 < argc) {
            i++;
            ns = !std::strcmp(argv[i], "off") ? -1 : std::atoi(argv[i]);
        } else if (!std::strcmp(argv[i], "--agc") && i + 1 < argc) {
            i++;
            agc = !std::strcmp(argv[i], "off") ? -1 : std::atoi(argv[i]);
        } else if (!std::strcmp(argv[i], "--gain") && i + 1 < argc)
            gain = std::atoi(argv[++i]);
        else if (!std::strcmp(argv[i], "--no-hpf"))
            hpf = 0;
        else if (!in)
            in = argv[i];
        else if (!out)
            out = argv[i];
        else
            return fail("unexpected argument", argv[i]);
    }
    if (!in || !out || ns > 3 || agc > 31 || gain < 0 || gain > 90) {
        std::fprintf(stderr, "usage: webrtc_fe [--ns 0..3|off] [--agc off|0..31] [--gain 0..90] "
                             "[--no-hpf] IN.wav OUT.wav\n");
        return 2;
    }
    SF_INFO info = {};
    SNDFILE *sf = sf_open(in, SFM_READ, &info);
    if (!sf)
        return fail(sf_strerror(nullptr), in);
    if (info.channels != 1 ||
        (info.samplerate != 8000 && info.samplerate != 16000 && info.samplerate != 32000 &&
         info.samplerate != 48000)) {
        sf_close(sf);
        return fail("needs mono audio at 8, 16, 32 or 48 kHz", in);
    }
    std::vector<float> pcm((size_t)info.frames);
    sf_count_t got = sf_readf_float(sf, pcm.data(), info.frames);
    sf_close(sf);
    pcm.resize((size_t)(got > 0 ? got : 0));

    /* The analog AGC ("experimental AGC") is on by default in this version
     * and wants a capture device's volume; a file has none, so it is off
     * and the digital adaptive mode does the gain. */
    webrtc::Config config;
    config.Set<webrtc::ExperimentalAgc>(new webrtc::ExperimentalAgc(false));
    std::unique_ptr<webrtc::AudioProcessing> apm(webrtc::AudioProcessing::Create(config));
    if (!apm)
        return fail("cannot create the audio processing module", nullptr);
    apm->high_pass_filter()->Enable(hpf != 0);
    if (ns >= 0) {
        apm->noise_suppression()->set_level((webrtc::NoiseSuppression::Level)ns);
        apm->noise_suppression()->Enable(true);
    }
    if (agc >= 0) {
        apm->gain_control()->set_mode(webrtc::GainControl::kAdaptiveDigital);
        apm->gain_control()->set_target_level_dbfs(agc);
        apm->gain_control()->set_compression_gain_db(gain);
        apm->gain_control()->enable_limiter(true);
        apm->gain_control()->Enable(true);
    }
    webrtc::StreamConfig sc(info.samplerate, 1);
    const size_t frame = (size_t)info.samplerate / 100; /* the library works in 10 ms frames */
    const size_t n = pcm.size();
    pcm.resize((n + frame - 1) / frame * frame, 0.0f); /* the tail padded with silence */
    std::vector<float> buf(frame);
    for (size_t off = 0; off < pcm.size(); off += frame) {
        float *p = pcm.data() + off;
        std::memcpy(buf.data(), p, frame * sizeof(float));
        const float *src[1] = {buf.data()};
        float *dst[1] = {p};
        int rc = apm->ProcessStream(src, sc, sc, dst);
        if (rc != webrtc::AudioProcessing::kNoError) {
            char code[32];
            std::snprintf(code, sizeof code, "error %d", rc);
            return fail("ProcessStream failed", code);
        }
    }
    SF_INFO oinfo = {};
    oinfo.samplerate = info.samplerate;
    oinfo.channels = 1;
    oinfo.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16;
    SNDFILE *of = sf_open(out, SFM_WRITE, &oinfo);
    if (!of)
        return fail(sf_strerror(nullptr), out);
    /* Clip rather than wrap: the limiter keeps peaks under full scale, but
     * the float path does not promise it. */
    sf_command(of, SFC_SET_CLIPPING, nullptr, SF_TRUE);
    sf_count_t w = sf_writef_float(of, pcm.data(), (sf_count_t)n);
    sf_close(of);
    if (w != (sf_count_t)n)
        return fail("short write", out);
    return 0;
}
