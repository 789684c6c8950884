#!/usr/bin/env python3
"""test_wyoming.py - `earshot serve --wyoming` against a client written from
the protocol text (rhasspy/wyoming README, wyoming/event.py): one JSON
header line, then data_length bytes of JSON merged into "data", then
payload_length bytes of payload. Standard library only. Run by make test
with EARSHOT_BIN; the server is started and stopped here, on a free
localhost port."""
import json, os, socket, sqlite3, subprocess, sys, tempfile, threading, time, wave

BIN = os.environ.get("EARSHOT_BIN", "build/earshot")
SAMPLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples", "sample.wav")
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def send(s, typ, data=None, payload=b""):
    d = json.dumps(data or {}).encode()
    hdr = {"type": typ, "data_length": len(d), "payload_length": len(payload), "version": "1.5.0"}
    s.sendall(json.dumps(hdr).encode() + b"\n" + d + payload)


def recv(f):
    line = f.readline()
    if not line:
        return None
    h = json.loads(line)
    data = h.get("data") or {}
    if h.get("data_length"):
        data.update(json.loads(f.read(h["data_length"])))
    if h.get("payload_length"):
        f.read(h["payload_length"])
    return h["type"], data


def connect(port):
    s = socket.create_connection(("127.0.0.1", port))
    s.settimeout(300)
    return s, s.makefile("rb")


def stream_wav(port, path, out):
    """Streams a WAV in 1024-frame chunks; out gets every event until the
    intent (or not-recognized)."""
    # A slot is freed once the server sees the previous client hang up:
    # "busy" means try again, as a real client would.
    for _ in range(60):
        s, f = connect(port)
        send(s, "ping")
        ev = recv(f)
        if ev and ev[0] == "pong":
            break
        s.close()
        time.sleep(0.5)
    w = wave.open(path)
    fmt = {"rate": w.getframerate(), "width": w.getsampwidth(), "channels": w.getnchannels()}
    send(s, "transcribe", {"language": "en-us"})
    send(s, "audio-start", fmt)
    while True:
        b = w.readframes(1024)
        if not b:
            break
        send(s, "audio-chunk", fmt, b)
    send(s, "audio-stop")
    while True:
        ev = recv(f)
        if ev is None:
            break
        out.append(ev)
        if ev[0] in ("intent", "not-recognized", "error"):
            break
    s.close()


def alive(port):
    s, f = connect(port)
    send(s, "ping", {"text": "still there"})
    ev = recv(f)
    s.close()
    return ev == ("pong", {"text": "still there"})


def start(args):
    port = free_port()
    p = subprocess.Popen([BIN, "serve", "--wyoming", "tcp://127.0.0.1:%d" % port] + args,
                         stderr=subprocess.PIPE, text=True)
    line = p.stderr.readline()  # "serving Wyoming on ..." once it listens
    check("serving Wyoming" in line, "server starts: " + line.strip())
    threading.Thread(target=lambda: [sys.stderr.write("  server: " + l) for l in p.stderr], daemon=True).start()
    return p, port


def stop(p):
    p.terminate()
    try:
        rc = p.wait(60)
    except subprocess.TimeoutExpired:
        p.kill()
        rc = "hung"
    check(rc == 0, "server stops cleanly on SIGTERM (exit %s)" % rc)


def main():
    tmp = tempfile.mkdtemp(prefix="earshot-wyoming-")
    conf = os.path.join(tmp, "earshot.conf")
    db = os.path.join(tmp, "kiosk.db")
    with open(conf, "w") as c:
        c.write("[serve]\ndb = %s\nconsent = granted\nchannel = lobby\nmax-clients = 2\n" % db)
    p, port = start(["--config", conf])
    try:
        # describe -> info, with an asr and an intent service
        s, f = connect(port)
        send(s, "describe")
        ev = recv(f)
        check(ev and ev[0] == "info", "describe answers info")
        info = ev[1] if ev else {}
        check(bool(info.get("asr")) and info["asr"][0].get("installed") is True, "info has an installed asr service")
        check(bool(info.get("intent")), "info has an intent service")
        langs = [l for m in info.get("asr", [{}])[0].get("models", []) for l in m.get("languages", [])]
        check("en-us" in langs or "en" in langs, "languages from the grammar folder: %s" % langs)
        # text to the intent service
        send(s, "transcript", {"text": "the checkout queue was far too long today"})
        ev = recv(f)
        check(ev and ev[0] == "intent" and ev[1].get("name") == "complaint", "transcript -> intent complaint: %s" % (ev,))
        send(s, "recognize", {"text": "zzz qqq"})
        ev = recv(f)
        check(ev and ev[0] in ("not-recognized", "intent"), "recognize answers: %s" % (ev and ev[0]))
        s.close()

        # two clients at once, each streaming the sample in chunks
        outs = [[], []]
        ts = [threading.Thread(target=stream_wav, args=(port, SAMPLE, o)) for o in outs]
        for t in ts:
            t.start()
        for t in ts:
            t.join(600)
        for i, o in enumerate(outs):
            types = [e[0] for e in o]
            tr = [e[1].get("text", "") for e in o if e[0] == "transcript"]
            check(bool(tr) and "checkout" in tr[0] and "twenty minutes" in tr[0],
                  "client %d: transcript of the sample: %s" % (i, tr[:1]))
            check("intent" in types, "client %d: an intent after the transcript (%s)" % (i, types[-3:]))

        # a third client over --max-clients 2 while two are connected: error, closed
        a, fa = connect(port)
        b, fb = connect(port)
        send(a, "ping")
        send(b, "ping")
        recv(fa), recv(fb)
        c, fc = connect(port)
        ev = recv(fc)
        check(ev is not None and ev[0] == "error", "a client over the limit gets an error: %s" % (ev,))
        for x in (a, b, c):
            x.close()
        time.sleep(0.5)

        # hostile input: each an error event or a closed connection, then the server still answers
        for name, raw in [
            ("malformed header line", b"{this is not json\n"),
            ("payload_length larger than what follows",
             json.dumps({"type": "audio-chunk", "data_length": 0, "payload_length": 4096}).encode() + b"\n" + b"\0" * 100),
            ("2 GB data_length", json.dumps({"type": "audio-start", "data_length": 2 * 1024 ** 3, "payload_length": 0}).encode() + b"\n"),
        ]:
            s, f = connect(port)
            s.settimeout(120)
            s.sendall(raw)
            if name.startswith("payload"):
                s.shutdown(socket.SHUT_WR)
            t0 = time.time()
            try:
                ev = recv(f)
            except (ConnectionError, socket.timeout, ValueError):
                ev = None
            check(ev is None or ev[0] == "error", "%s: %s in %.1f s" % (name, ev and ev[0] or "closed", time.time() - t0))
            s.close()
            check(alive(port), "server answers ping after the %s" % name)
    finally:
        stop(p)

    # --db from the config file, consent granted: the sessions are stored, redacted
    con = sqlite3.connect(db)
    n = con.execute("select count(*) from utterances").fetchone()[0]
    con.close()
    check(n >= 2, "the streamed sessions are stored in the configured database (%d utterances)" % n)

    # an unknown key in the config file: FILE:LINE error, exit non-zero
    with open(conf, "w") as c:
        c.write("[serve]\nno-such-key = 1\n")
    r = subprocess.run([BIN, "serve", "--config", conf], capture_output=True, text=True, timeout=60)
    check(r.returncode != 0 and (conf + ":2") in r.stderr, "unknown config key: %s" % r.stderr.strip())

    subprocess.run(["rm", "-rf", tmp])
    print("%d failed" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
