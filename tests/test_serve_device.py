#!/usr/bin/env python3
"""test_serve_device.py - the kiosk service started by hand with a config
file: `earshot serve --config FILE` listens through a real ALSA device
(the file plugin playing a raw copy of examples/sample.wav as a capture
PCM named "filein", through real PortAudio, as test_cli.c's listen test
does) and stores in the configured database, under the configured
channel, with the configured consent, what `earshot transcribe` stores
for the same audio. The command line wins over the file; a bad file is a
one-line error and stores nothing. Standard library only; run by make
test with EARSHOT_BIN."""
import os, signal, sqlite3, subprocess, sys, tempfile, threading, time, wave

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_wyoming import BIN, SAMPLE, check, failures  # noqa: E402


def make_device(tmp):
    """A raw 16 kHz mono S16_LE copy of the sample (3 s of silence after it)
    and an asoundrc naming it as the capture device "filein"."""
    w = wave.open(SAMPLE)
    assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (16000, 1, 2), "sample is 16 kHz mono 16-bit"
    raw = os.path.join(tmp, "input.raw")
    with open(raw, "wb") as f:
        f.write(w.readframes(w.getnframes()) + b"\0\0" * 16000 * 3)
    rc = os.path.join(tmp, "asoundrc")
    with open(rc, "w") as f:
        f.write('pcm.filein { type file; slave.pcm "nullsrc"; file "/dev/null"; infile "%s"; format "raw" }\n'
                "pcm.nullsrc { type null }\n" % raw)
    env = dict(os.environ)
    env["ALSA_CONFIG_PATH"] = "/usr/share/alsa/alsa.conf:" + rc
    return env


def rows(db, sql, args=()):
    if not os.path.exists(db):
        return []
    con = sqlite3.connect(db, timeout=10)
    try:
        return con.execute(sql, args).fetchall()
    except sqlite3.OperationalError:  # the schema is not made yet
        return []
    finally:
        con.close()


def stored(db):
    """(channel, text, intent, consent method) per utterance, in order."""
    return rows(db, "SELECT s.channel, u.text, u.intent, c.method FROM utterances u"
                    " JOIN sessions s ON s.id = u.session_id JOIN consents c ON c.id = u.consent_id"
                    " ORDER BY u.id")


class Service:
    """`earshot serve ARGS` with its stderr collected by a thread (the
    capture's overflow warnings must not fill the pipe)."""
    def __init__(self, args, env):
        self.lines = []
        self.p = subprocess.Popen([BIN, "serve"] + args, stderr=subprocess.PIPE, text=True, env=env)
        threading.Thread(target=self.read, daemon=True).start()

    def read(self):
        for l in self.p.stderr:
            self.lines.append(l.rstrip("\n"))

    def wait_line(self, what, secs):
        t0 = time.time()
        while time.time() - t0 < secs and self.p.poll() is None:
            if any(what in l for l in self.lines):
                return True
            time.sleep(0.2)
        return any(what in l for l in self.lines)

    def stop(self, secs=30):
        """SIGTERM; the exit code and the seconds it took ("hung" if over)."""
        t0 = time.time()
        self.p.send_signal(signal.SIGTERM)
        try:
            rc = self.p.wait(secs)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
            rc = "hung"
        return rc, time.time() - t0


def run_service(conf, extra, env, db, want, what):
    """Starts the service on conf, waits (bounded) until db holds as many
    utterances as want, stops it with SIGTERM; returns what is stored."""
    s = Service(["--config", conf] + extra, env)
    try:
        check(s.wait_line("listening on filein", 60), "%s: the service listens on the file-plugin device (%s)"
              % (what, " | ".join(s.lines[:2])))
        t0 = time.time()
        while time.time() - t0 < 120 and s.p.poll() is None and len(stored(db)) < len(want):
            time.sleep(0.5)
        got = stored(db)
        check(len(got) >= len(want), "%s: %d utterances stored in %.1f s (want %d)"
              % (what, len(got), time.time() - t0, len(want)))
        check(s.p.poll() is None, "%s: the service is still running before SIGTERM (exit %s)" % (what, s.p.poll()))
    finally:
        rc, secs = s.stop()
    check(rc == 0 and secs < 30, "%s: SIGTERM stops the service cleanly: exit %s in %.1f s" % (what, rc, secs))
    return stored(db)


def bad_config(tmp, name, body, line, env):
    conf = os.path.join(tmp, name + ".conf")
    db = os.path.join(tmp, name + ".db")
    with open(conf, "w") as c:
        c.write(body % db)
    try:
        r = subprocess.run([BIN, "serve", "--config", conf], capture_output=True, text=True, timeout=60, env=env)
        rc, err = r.returncode, r.stderr
    except subprocess.TimeoutExpired:
        rc, err = "hung", ""
    lines = err.strip().splitlines()
    check(rc not in (0, "hung") and len(lines) == 1 and lines[0].startswith("earshot: %s:%d: " % (conf, line)),
          "%s: exit %s, one line naming %s:%d: %r" % (name, rc, os.path.basename(conf), line, err.strip()))
    check(not os.path.exists(db), "%s: nothing stored (no database made)" % name)


def main():
    tmp = tempfile.mkdtemp(prefix="earshot-serve-device-")
    env = make_device(tmp)

    # What earshot transcribe stores for the same audio: the reference.
    ref_db = os.path.join(tmp, "ref.db")
    r = subprocess.run([BIN, "transcribe", "--db", ref_db, "--consent", "granted", SAMPLE],
                       capture_output=True, text=True, timeout=300)
    check(r.returncode == 0, "earshot transcribe of the sample (exit %d)" % r.returncode)
    want = [(t, i) for _, t, i, _ in stored(ref_db)]
    check(len(want) >= 2 and any(i == "complaint" for _, i in want),
          "the reference has the sample's utterances: %s" % want)

    # 1. Everything from the config file.
    db = os.path.join(tmp, "kiosk.db")
    conf = os.path.join(tmp, "earshot.conf")
    with open(conf, "w") as c:
        c.write("# a kiosk\n[serve]\ndevice = filein\nrate = 16000\ndb = %s\nconsent = granted\n"
                "channel = lobby\nsession_silence = 5\n" % db)
    got = run_service(conf, [], env, db, want, "config file")
    check([(t, i) for _, t, i, _ in got] == want,
          "the service stores what transcribe stores:\n    got  %s\n    want %s" % ([(t, i) for _, t, i, _ in got], want))
    check(bool(got) and {ch for ch, _, _, _ in got} == {"lobby"}, "stored under the configured channel: %s"
          % sorted({ch for ch, _, _, _ in got}))
    check(bool(got) and {m for _, _, _, m in got} == {"granted-elsewhere"},
          "with the configured consent (granted): %s" % sorted({m for _, _, _, m in got}))

    # 2. The command line wins over the file.
    db2 = os.path.join(tmp, "override.db")
    with open(conf, "w") as c:
        c.write("[serve]\ndevice = filein\ndb = %s\nconsent = granted\nchannel = x\n" % db2)
    got = run_service(conf, ["--channel", "other"], env, db2, want, "--channel over the file")
    check(bool(got) and {ch for ch, _, _, _ in got} == {"other"},
          "--channel other on the command line wins over channel = x: %s" % sorted({ch for ch, _, _, _ in got}))
    check(len(stored(db)) == len(want), "the first database is untouched by the second run")

    # 3. A bad file: one line naming FILE:LINE, exit non-zero, nothing stored.
    bad_config(tmp, "unknown-key", "[serve]\ndevice = filein\ndb = %s\nconsent = granted\nno-such-key = 1\n", 5, env)
    bad_config(tmp, "bad-consent", "[serve]\ndevice = filein\ndb = %s\nconsent = maybe\n", 4, env)
    bad_config(tmp, "bad-rate", "[serve]\ndevice = filein\nrate = fast\ndb = %s\n", 3, env)
    bad_config(tmp, "bad-flag", "[serve]\ndevice = filein\ndb = %s\nask-rating = perhaps\n", 4, env)

    subprocess.run(["rm", "-rf", tmp])
    print("%d failed" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
