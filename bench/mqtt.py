#!/usr/bin/env python3
"""bench/mqtt.py - events per second through a real broker: a private
mosquitto on a free localhost port and mosquitto_sub (QoS 1) counting
what arrives, against

  1. live:   `earshot serve --wyoming ... --mqtt ... --db ... --consent
             granted`, SESSIONS sessions of WAV streamed unpaced, one
             after another: the rate the service makes events at (bound
             by decoding, not by MQTT);
  2. outbox: the same service started on a database whose outbox holds
             N unsent events (copies of the live run's rows, as after a
             broker outage): the rate they drain at, from the start of
             the service to the last one received, and until the
             database has marked them all sent (each PUBACK is a write);
  3. publish: `earshot publish` of DAYS closed days (the live sessions
             copied onto past days): messages per second, report JSON of
             each day included.

    python3 bench/mqtt.py [BIN] [N] [DAYS] [SESSIONS]
      (default: build/earshot 5000 30 3; the audio is examples/sample.wav)

A figure, not a test: printed, never asserted. Standard library only."""
import os, shutil, sqlite3, subprocess, sys, tempfile, threading, time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
import test_wyoming as wy  # noqa: E402

BIN = sys.argv[1] if len(sys.argv) > 1 else "build/earshot"
N = int(sys.argv[2]) if len(sys.argv) > 2 else 5000
DAYS = int(sys.argv[3]) if len(sys.argv) > 3 else 30
SESSIONS = int(sys.argv[4]) if len(sys.argv) > 4 else 3
wy.BIN = BIN


class Sub:
    """mosquitto_sub -t '#' -q 1 printing topics only; each line timed on arrival."""
    def __init__(self, port):
        self.got = []  # (monotonic time, topic)
        self.p = subprocess.Popen(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-q", "1",
                                   "-t", "#", "-F", "%t"], stdout=subprocess.PIPE, text=True)
        threading.Thread(target=self.read, daemon=True).start()
        time.sleep(0.5)

    def read(self):
        for l in self.p.stdout:
            self.got.append((time.monotonic(), l.rstrip("\n")))

    def wait(self, n, secs):
        t0 = time.monotonic()
        while len(self.got) < n and time.monotonic() - t0 < secs:
            time.sleep(0.05)
        return len(self.got) >= n


def serve_args(db, broker):
    return ["--db", db, "--consent", "granted", "--channel", "bench", "--mqtt", "mqtt://127.0.0.1:%d" % broker]


def stop(p):
    p.terminate()
    try:
        p.wait(60)
    except subprocess.TimeoutExpired:
        p.kill()


def unsent(db):
    con = sqlite3.connect(db, timeout=30)
    n = con.execute("SELECT count(*) FROM outbox WHERE sent_at IS NULL").fetchone()[0]
    con.close()
    return n


def spread_days(db, days):
    """Copies the database's sessions (with their consents and utterances)
    onto each of the `days` days before today: closed days to publish."""
    con = sqlite3.connect(db)
    src = con.execute("SELECT id, channel, started_at, ended_at FROM sessions").fetchall()
    for d in range(1, days + 1):
        day = con.execute("SELECT date('now', ?)", ("-%d days" % d,)).fetchone()[0]
        for sid, ch, st, en in src:
            move = lambda t: t and day + t[10:]
            cur = con.execute("INSERT INTO sessions (channel, started_at, ended_at) VALUES (?,?,?)",
                              (ch, move(st), move(en)))
            nsid = cur.lastrowid
            cmap = {}
            for row in con.execute("SELECT id, scope_transcripts, scope_quotes, scope_audio, text_version, method,"
                                   " granted_at, revoked_at FROM consents WHERE session_id = ?", (sid,)).fetchall():
                c = con.execute("INSERT INTO consents (session_id, scope_transcripts, scope_quotes, scope_audio,"
                                " text_version, method, granted_at, revoked_at) VALUES (?,?,?,?,?,?,?,?)",
                                (nsid,) + row[1:6] + (move(row[6]), row[7]))
                cmap[row[0]] = c.lastrowid
            cols = [r[1] for r in con.execute("PRAGMA table_info(utterances)")
                    if r[1] not in ("id", "session_id", "consent_id", "heard_at")]
            for row in con.execute("SELECT consent_id, heard_at, %s FROM utterances WHERE session_id = ?"
                                   % ", ".join(cols), (sid,)).fetchall():
                con.execute("INSERT INTO utterances (session_id, consent_id, heard_at, %s) VALUES (?,?,?,%s)"
                            % (", ".join(cols), ",".join("?" * len(cols))),
                            (nsid, cmap[row[0]], move(row[1])) + tuple(row[2:]))
    con.execute("DELETE FROM outbox")
    con.commit()
    con.close()


def main():
    tmp = tempfile.mkdtemp(prefix="earshot-bench-mqtt-")
    bport = wy.free_port()
    conf = os.path.join(tmp, "mosquitto.conf")
    with open(conf, "w") as c:
        c.write("listener %d 127.0.0.1\nallow_anonymous true\nmax_queued_messages 0\n" % bport)
    broker = subprocess.Popen(["mosquitto", "-c", conf], stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    sub = Sub(bport)
    db = os.path.join(tmp, "kiosk.db")
    out = []
    try:
        # 1. live
        p, port = wy.start(serve_args(db, bport))
        t0 = time.monotonic()
        for _ in range(SESSIONS):
            wy.stream_wav(port, wy.SAMPLE, [])
        streamed = time.monotonic() - t0
        sub.wait(1, 10)
        time.sleep(2)  # the last session's end and its acknowledgements
        stop(p)
        live = list(sub.got)
        n_live = len(live)
        span = live[-1][0] - t0 if live else 0
        out.append("live: %d events from %d sessions of %s streamed unpaced in %.1f s: %.1f events/s"
                   " (decoding-bound; %.1f events per session)"
                   % (n_live, SESSIONS, os.path.basename(wy.SAMPLE), span, n_live / span if span else 0,
                      n_live / SESSIONS))
        out.append("  command: earshot serve --wyoming tcp://127.0.0.1:PORT %s" % " ".join(serve_args(db, bport)))

        # 2. outbox drain: N unsent copies of the live run's events
        con = sqlite3.connect(db)
        con.execute("PRAGMA foreign_keys = ON")
        sid = con.execute("SELECT max(id) FROM sessions").fetchone()[0]
        topics = [t for _, t in live if t.startswith("hermes/asr/textCaptured")] or ["hermes/asr/textCaptured"]
        payload = '{"text": "i waited twenty minutes at the checkout today", "siteId": "bench", "likelihood": 0.9}'
        con.executemany("INSERT INTO outbox (topic, payload, created_at, session_id) VALUES (?, ?, ?, ?)",
                        [(topics[0], payload, "2026-01-01T00:00:00Z", sid)] * N)
        con.commit()
        con.close()
        before = unsent(db)
        sub.got.clear()
        t0 = time.monotonic()
        p, port = wy.start(serve_args(db, bport))
        ok = sub.wait(N, 300)
        got = list(sub.got)
        t_recv = got[-1][0] - t0 if got else float("nan")
        t1 = time.monotonic()
        while unsent(db) > 0 and time.monotonic() - t1 < 20:
            time.sleep(0.2)
        t_marked = time.monotonic() - t0
        left = unsent(db)
        stop(p)
        left_after_stop = unsent(db)
        out.append("outbox: %d unsent events drained: %d received in %.2f s from the service's start = %.0f events/s;"
                   " marked sent by %.2f s (%d still unsent then, %d after SIGTERM)%s"
                   % (before, len(got), t_recv, len(got) / t_recv, t_marked, left, left_after_stop,
                      "" if ok else " (TIMED OUT)"))
        out.append("  command: earshot serve --wyoming tcp://127.0.0.1:PORT %s  (outbox pre-filled)"
                   % " ".join(serve_args(db, bport)))

        # 3. earshot publish of DAYS closed days
        fleet = os.path.join(tmp, "fleet.db")
        shutil.copy(db, fleet)
        spread_days(fleet, DAYS)
        sub.got.clear()
        cmd = [BIN, "publish", "--db", fleet, "--mqtt", "mqtt://127.0.0.1:%d" % bport, "--site", "bench"]
        t0 = time.monotonic()
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        wall = time.monotonic() - t0
        sub.wait(DAYS, 10)
        n_pub = len([t for _, t in sub.got if t.startswith("earshot/fleet/")])
        out.append("publish: %d closed days (%d sessions each) -> %d messages in %.2f s wall = %.1f messages/s (exit %d%s)"
                   % (DAYS, SESSIONS, n_pub, wall, n_pub / wall, r.returncode,
                      ": " + r.stderr.strip() if r.returncode else ""))
        out.append("  command: earshot publish --db FLEET.db --mqtt mqtt://127.0.0.1:PORT --site bench")
    finally:
        sub.p.terminate()
        broker.terminate()
        broker.wait(10)
    shutil.rmtree(tmp)
    print("\n".join(out))


if __name__ == "__main__":
    main()
