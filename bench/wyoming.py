#!/usr/bin/env python3
"""bench/wyoming.py - what a Home Assistant user waits for: the time from
`audio-stop` to `transcript` and to `intent` on `earshot serve --wyoming`,
with the audio streamed in real time as a satellite does (1024-frame
chunks, paced), against the same files through `earshot transcribe`
(wall time per file, start-up included: what a one-shot caller pays).
Also the server's memory idle and with 1 and 4 connections open.

    python3 bench/wyoming.py [BIN] [WAV...]
      (default: build/earshot, the first 12 files of build/testdata/dev)

A figure, not a test: printed, never asserted."""
import glob, json, os, socket, statistics, subprocess, sys, threading, time, wave

BIN = sys.argv[1] if len(sys.argv) > 1 else "build/earshot"
WAVS = sys.argv[2:] or sorted(glob.glob("build/testdata/dev/dev*.wav"))[:12]


# The protocol client of the test (one header line, data, payload).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
from test_wyoming import free_port, recv, send  # noqa: E402


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for l in f:
            if l.startswith("VmRSS:"):
                return int(l.split()[1])
    return 0


def pct(v, q):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(q * (len(v) - 1))))]


def one(port, path):
    s = socket.create_connection(("127.0.0.1", port))
    s.settimeout(120)
    f = s.makefile("rb")
    w = wave.open(path)
    fmt = {"rate": w.getframerate(), "width": w.getsampwidth(), "channels": w.getnchannels()}
    send(s, "transcribe", {"language": "en-us"})
    send(s, "audio-start", fmt)
    t0 = time.monotonic()
    sent = 0
    while True:
        b = w.readframes(1024)
        if not b:
            break
        send(s, "audio-chunk", fmt, b)
        sent += 1024
        ahead = t0 + sent / fmt["rate"] - time.monotonic()
        if ahead > 0:
            time.sleep(ahead)
    send(s, "audio-stop")
    stop = time.monotonic()
    to_transcript = to_intent = None
    while True:
        ev = recv(f)
        if ev is None:
            break
        if ev[0] == "transcript" and to_transcript is None:
            to_transcript = time.monotonic() - stop
        if ev[0] in ("intent", "not-recognized"):
            to_intent = time.monotonic() - stop
            break
    s.close()
    return to_transcript, to_intent


def server():
    port = free_port()
    p = subprocess.Popen([BIN, "serve", "--wyoming", "tcp://127.0.0.1:%d" % port, "--max-clients", "8"],
                         stderr=subprocess.PIPE, text=True)
    line = p.stderr.readline()
    if "serving Wyoming" not in line:
        sys.exit("bench/wyoming.py: the server did not start: " + line.strip())
    # Drained, so a chatty server never blocks on a full pipe.
    threading.Thread(target=lambda: [None for _ in p.stderr], daemon=True).start()
    return p, port


def main():
    p, port = server()
    tr, it = [], []
    try:
        one(port, WAVS[0])  # warm: the first connection loads the decoder
        for w in WAVS:
            a, b = one(port, w)
            if a is not None:
                tr.append(a)
            if b is not None:
                it.append(b)
    finally:
        p.terminate()
        p.wait()
    # Memory on a fresh server, so the latency run's freed decoders do not
    # count: idle, then 1 and 4 connections that have started audio.
    p, port = server()
    try:
        idle = rss_kb(p.pid)
        conns = []
        mem = {}
        for k in (1, 4):
            while len(conns) < k:
                s = socket.create_connection(("127.0.0.1", port))
                send(s, "transcribe", {"language": "en-us"})
                send(s, "audio-start", {"rate": 16000, "width": 2, "channels": 1})
                send(s, "audio-chunk", {"rate": 16000, "width": 2, "channels": 1}, b"\0\0" * 16000)
                conns.append(s)
            time.sleep(3)
            mem[k] = rss_kb(p.pid)
        for s in conns:
            s.close()
    finally:
        p.terminate()
        p.wait()
    one_shot = []
    for w in WAVS:
        t = time.monotonic()
        subprocess.run([BIN, "transcribe", w], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        one_shot.append(time.monotonic() - t)
    ms = lambda v: "%.0f ms" % (v * 1000)
    secs = [wave.open(w).getnframes() / wave.open(w).getframerate() for w in WAVS]
    print("files: %d (%s ...), median %.1f s of audio; %d transcripts, %d intent/not-recognized answers"
          % (len(WAVS), WAVS[0], statistics.median(secs), len(tr), len(it)))
    print("wyoming audio-stop -> transcript: median %s, p95 %s" % (ms(statistics.median(tr)), ms(pct(tr, 0.95))))
    print("wyoming audio-stop -> intent:     median %s, p95 %s" % (ms(statistics.median(it)), ms(pct(it, 0.95))))
    print("earshot transcribe FILE (wall, start-up included): median %s, p95 %s"
          % (ms(statistics.median(one_shot)), ms(pct(one_shot, 0.95))))
    print("(transcript and intent are sent together after audio-stop, so their latencies match;"
          " p95 of %d files is about their maximum)" % len(WAVS))
    print("server RSS: idle %.0f MB; 1 connection %.0f MB; 4 connections %.0f MB (%.0f MB per extra connection)"
          % (idle / 1024, mem[1] / 1024, mem[4] / 1024, (mem[4] - mem[1]) / 3 / 1024))


if __name__ == "__main__":
    main()
