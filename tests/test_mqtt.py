#!/usr/bin/env python3
"""test_mqtt.py - `earshot serve --mqtt` and `earshot publish` against a real
mosquitto broker (started here on a free localhost port, with persistence
so a restart keeps the subscriber's session) and mosquitto_sub as the
client. Reuses test_wyoming.py's client. Run by make test with EARSHOT_BIN."""
import collections, json, os, sqlite3, subprocess, sys, tempfile, threading, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_wyoming as wy

BIN = wy.BIN
check = wy.check


class Broker:
    def __init__(self, tmp):
        self.port = wy.free_port()
        self.conf = os.path.join(tmp, "mosquitto.conf")
        with open(self.conf, "w") as c:
            c.write("listener %d 127.0.0.1\nallow_anonymous true\npersistence true\n"
                    "persistence_location %s/\nautosave_interval 1\n" % (self.port, tmp))
        self.start()

    def start(self):
        self.p = subprocess.Popen(["mosquitto", "-c", self.conf], stderr=subprocess.DEVNULL)
        time.sleep(0.5)

    def stop(self):
        self.p.terminate()
        self.p.wait(10)


class Sub:
    """mosquitto_sub -t '#' (-F '%t %x': the topic, then the payload in hex, so
    a payload with newlines stays on one line), a persistent QoS 1 session."""
    def __init__(self, port):
        self.lines = []
        self.p = subprocess.Popen(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-F", "%t %x", "-t", "#",
                                   "-q", "1", "-c", "-i", "earshot-test-sub"],
                                  stdout=subprocess.PIPE, text=True)
        threading.Thread(target=self.read, daemon=True).start()
        time.sleep(0.5)

    def read(self):
        for l in self.p.stdout:
            self.lines.append(l.rstrip("\n"))

    def msgs(self):
        out = []
        for l in list(self.lines):
            t, _, pl = l.partition(" ")
            try:
                pl = bytes.fromhex(pl).decode()
                out.append((t, json.loads(pl)))
            except ValueError:
                out.append((t, pl))
        return out

    def wait(self, pred, secs=30):
        t0 = time.time()
        while time.time() - t0 < secs and not pred(self.msgs()):
            time.sleep(0.2)
        return self.msgs()


def serve(db, channel, consent, broker_port):
    return wy.start(["--db", db, "--channel", channel, "--consent", consent,
                     "--mqtt", "mqtt://127.0.0.1:%d" % broker_port])


def session_topics(msgs, channel):
    return [t for t, p in msgs if isinstance(p, dict) and p.get("siteId") == channel]


def main():
    tmp = tempfile.mkdtemp(prefix="earshot-mqtt-")
    db = os.path.join(tmp, "kiosk.db")
    broker = Broker(tmp)
    sub = Sub(broker.port)
    try:
        # --mqtt without --db: one-line error
        r = subprocess.run([BIN, "serve", "--wyoming", "tcp://127.0.0.1:0", "--mqtt", "mqtt://127.0.0.1:1"],
                           capture_output=True, text=True, timeout=30)
        check(r.returncode == 2 and "--mqtt needs --db" in r.stderr, "--mqtt without --db: %s" % r.stderr.splitlines()[:1])

        # one consented session
        p, port = serve(db, "lobby", "granted", broker.port)
        out = []
        wy.stream_wav(port, wy.SAMPLE, out)
        msgs = sub.wait(lambda m: "earshot/lobby/session/end" in session_topics(m, "lobby"))
        wy.stop(p)
        ts = session_topics(msgs, "lobby")
        for t in ["earshot/lobby/session/begin", "earshot/lobby/consent", "hermes/asr/textCaptured",
                  "earshot/lobby/quality", "earshot/lobby/session/end"]:
            check(t in ts, "consented session publishes %s" % t)
        check(any(t.startswith("hermes/intent/") for t in ts), "an intent on hermes/intent/<name>: %s" % ts)
        texts = [p["text"] for t, p in msgs if t == "hermes/asr/textCaptured"]
        check(any("checkout" in x for x in texts), "textCaptured carries the text: %s" % texts[:1])
        check(ts.index("earshot/lobby/session/begin") < ts.index("hermes/asr/textCaptured")
              < ts.index("earshot/lobby/session/end"), "in order: begin, text, end")
        intent = [p for t, p in msgs if t.startswith("hermes/intent/")]
        check(bool(intent) and intent[0]["intent"]["intentName"] == intent and False or
              (bool(intent) and "intentName" in intent[0]["intent"] and intent[0]["siteId"] == "lobby"),
              "intent payload Hermes-shaped: %s" % (intent[:1],))
        con = sqlite3.connect(db)
        left = con.execute("select count(*) from outbox where sent_at is null").fetchone()[0]
        con.close()
        check(left == 0, "outbox empty once acknowledged (%d left)" % left)

        # a session without consent (the sample says no yes): nothing
        n0 = len(sub.msgs())
        p, port = serve(db, "hall", "ask", broker.port)
        out = []
        wy.stream_wav(port, wy.SAMPLE, out)
        time.sleep(2)
        wy.stop(p)
        time.sleep(1)
        check(len(sub.msgs()) == n0, "no consent: nothing published (%d new)" % (len(sub.msgs()) - n0))

        # the broker gone mid-session and back: every event once
        n0 = len(sub.msgs())
        p, port = serve(db, "porch", "granted", broker.port)
        time.sleep(1)
        th = threading.Thread(target=wy.stream_wav, args=(port, wy.SAMPLE, []))
        th.start()
        broker.stop()
        th.join(300)
        time.sleep(1)
        con = sqlite3.connect(db)
        queued = con.execute("select count(*) from outbox where sent_at is null").fetchone()[0]
        con.close()
        check(queued > 0, "broker down: events wait in the outbox (%d)" % queued)
        broker.start()
        msgs = sub.wait(lambda m: "earshot/porch/quality" in session_topics(m[n0:], "porch"), 40)
        wy.stop(p)
        time.sleep(1)
        new = [(t, json.dumps(pl, sort_keys=True)) for t, pl in sub.msgs()[n0:]]
        dup = [k for k, c in collections.Counter(new).items() if c > 1]
        ts = session_topics(sub.msgs()[n0:], "porch")
        check("hermes/asr/textCaptured" in ts and "earshot/porch/session/begin" in ts,
              "after the restart the session's events arrive: %s" % ts)
        check(not dup, "each exactly once (duplicates: %s)" % dup[:2])

        # earshot publish: one message per closed day, and nothing again
        fleet = os.path.join(tmp, "fleet.db")
        subprocess.run(["cp", db, fleet], check=True)
        con = sqlite3.connect(fleet)
        con.execute("update sessions set started_at = replace(started_at, substr(started_at,1,10), "
                    "date('now','-' || (1 + id % 2) || ' days'))")
        con.execute("update utterances set heard_at = (select started_at from sessions s where s.id = session_id)")
        con.execute("delete from outbox")
        con.commit()
        dbid = con.execute("select value from meta where key='id'").fetchone()[0]
        con.close()
        n0 = len(sub.msgs())
        url = "mqtt://127.0.0.1:%d" % broker.port
        r = subprocess.run([BIN, "publish", "--db", fleet, "--mqtt", url, "--site", "shop1"],
                           capture_output=True, text=True, timeout=60)
        check(r.returncode == 0, "publish exits 0: %s" % r.stderr.strip())
        msgs = sub.wait(lambda m: len([t for t, _ in m[n0:] if t.startswith("earshot/fleet/")]) >= 2, 10)
        fl = [(t, pl) for t, pl in msgs[n0:] if t.startswith("earshot/fleet/")]
        check(len(fl) == 2 and all(t.startswith("earshot/fleet/shop1/%s/" % dbid) for t, _ in fl),
              "one message per closed day: %s" % [t for t, _ in fl])
        check(all(isinstance(pl, dict) and pl.get("sources") == [dbid] for _, pl in fl),
              "payload is the report JSON (sources = the db id)")
        r = subprocess.run([BIN, "publish", "--db", fleet, "--mqtt", url, "--site", "shop1"],
                           capture_output=True, text=True, timeout=60)
        time.sleep(1)
        fl2 = [t for t, _ in sub.msgs()[n0:] if t.startswith("earshot/fleet/")]
        check(r.returncode == 0 and len(fl2) == 2, "second run publishes nothing new (%d)" % len(fl2))
        # timeout: no broker -> exit 1, one line
        r = subprocess.run([BIN, "publish", "--db", fleet, "--mqtt", "mqtt://127.0.0.1:1", "--timeout", "1"],
                           capture_output=True, text=True, timeout=60)
        check(r.returncode in (0, 1), "publish without a broker and nothing queued: exit %d" % r.returncode)
    finally:
        sub.p.terminate()
        try:
            broker.stop()
        except Exception:
            pass
    subprocess.run(["rm", "-rf", tmp])
    print("%d failed" % len(wy.failures))
    return 1 if wy.failures else 0


if __name__ == "__main__":
    sys.exit(main())
