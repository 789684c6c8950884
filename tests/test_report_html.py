#!/usr/bin/env python3
"""test_report_html.py - the HTML report in a real browser, at desktop and
phone width (issue 18): headless Chromium driven over WebDriver by a small
client written here with the standard library (urllib to chromedriver's
HTTP API, no selenium).

A report is made from a big generated database (bench/report_bench: the
dev sentences through the real grammar, 90 days, 6 kiosks), loaded at
1280 px and 390 px wide, and at 390 px nothing may stick out sideways:
the document must not scroll horizontally and no element may be wider
than the viewport, except inside a chart (.chart) or table (.scroll)
container, which scrolls on its own; the container itself must fit.
A screenshot of each width (the whole page) is kept in
BUILD/artefacts/report-1280.png and report-390.png.

EARSHOT_PLANT_OVERFLOW=1 injects a wide element first, to see the check
fail (it must)."""
import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
BIN = os.environ.get("EARSHOT_BIN", os.path.join(HERE, "..", "build", "earshot"))
BUILD = os.path.dirname(os.path.abspath(BIN))
DEV = os.path.join(HERE, "..", "..", "shared", "eval", "dev", "utterances.tsv")

# Elements wider than the viewport, or past its right edge, outside a
# chart container; and the document's own scroll width.
OVERFLOW_JS = """
const vw = window.innerWidth, bad = [];
for (const e of document.querySelectorAll('body *')) {
  // Inside a container that scrolls on its own; the container itself
  // must fit.
  if (e.parentElement.closest('.chart, .scroll')) continue;
  const r = e.getBoundingClientRect();
  if (r.width > vw + 0.5 || r.right > vw + 0.5)
    bad.push(e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') +
             (e.className && typeof e.className == 'string' ? '.' + e.className : '') +
             ' ' + Math.round(r.width) + 'px right ' + Math.round(r.right));
}
return {vw: vw, scroll: document.documentElement.scrollWidth, bad: bad.slice(0, 20)};
"""

PLANT_JS = """
const d = document.createElement('div');
d.style.width = '900px'; d.textContent = 'planted';
document.querySelector('main').appendChild(d);
"""


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class WebDriver:
    def __init__(self, port):
        self.base = "http://127.0.0.1:%d" % port
        caps = {"capabilities": {"alwaysMatch": {"goog:chromeOptions": {
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                     "--hide-scrollbars"]}}}}
        v = self.call("POST", "/session", caps)
        self.sid = v["sessionId"]

    def call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return json.loads(r.read())["value"]
        except urllib.error.HTTPError as e:
            sys.exit("test_report_html: %s %s: %s" % (method, path, e.read()[:500]))

    def s(self, method, path, body=None):
        return self.call(method, "/session/%s%s" % (self.sid, path), body)

    def quit(self):
        self.s("DELETE", "")


def main():
    for tool in ("chromium", "chromedriver"):
        if not shutil.which(tool):
            sys.exit("test_report_html: %s is not installed: run 'make deps' "
                     "(Debian packages chromium, chromium-driver)" % tool)
    bench = os.path.join(BUILD, "bench", "report_bench")
    if not os.access(bench, os.X_OK):
        sys.exit("test_report_html: %s is missing: make %s" % (bench, bench))
    tmp = tempfile.mkdtemp(prefix="earshot-html-")
    art = os.path.join(BUILD, "artefacts")
    os.makedirs(art, exist_ok=True)
    drv = None
    try:
        # 60,000 utterances over 90 days and 6 kiosks: every section full.
        subprocess.run([bench, tmp, DEV, "60000"], check=True, stdout=subprocess.DEVNULL)
        html = os.path.join(tmp, "report.html")
        port = free_port()
        drv = subprocess.Popen(["chromedriver", "--port=%d" % port],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        wd = WebDriver(port)
        failures = []
        try:
            for width in (1280, 390):
                wd.s("POST", "/window/rect", {"width": width, "height": 900})
                wd.s("POST", "/url", {"url": "file://" + html})
                if os.environ.get("EARSHOT_PLANT_OVERFLOW") == "1":
                    wd.s("POST", "/execute/sync", {"script": PLANT_JS, "args": []})
                v = wd.s("POST", "/execute/sync", {"script": OVERFLOW_JS, "args": []})
                # The whole page in one picture: the window as tall as the page.
                h = wd.s("POST", "/execute/sync", {
                    "script": "return document.documentElement.scrollHeight", "args": []})
                wd.s("POST", "/window/rect", {"width": width, "height": min(int(h) + 100, 16000)})
                png = os.path.join(art, "report-%d.png" % width)
                with open(png, "wb") as f:
                    f.write(base64.b64decode(wd.s("GET", "/screenshot")))
                print("width %d: viewport %d, document scroll width %d, %d overflowing; "
                      "screenshot: %s" % (width, v["vw"], v["scroll"], len(v["bad"]), png))
                if width == 390 and (v["scroll"] > v["vw"] or v["bad"]):
                    failures.append("at 390 px the page overflows (scroll width %d > %d):\n  %s"
                                    % (v["scroll"], v["vw"], "\n  ".join(v["bad"])))
        finally:
            wd.quit()
        if failures:
            sys.exit("test_report_html: " + "\n".join(failures))
        print("test_report_html: ok")
    finally:
        if drv:
            drv.terminate()
            drv.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
