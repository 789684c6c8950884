#!/usr/bin/env python3
"""Fits the intent-confidence calibration of plugin/intent.c (calibrate()).

Input: `eval_intents --rows` files written by a build with
-DEARSHOT_FIT_CALIBRATION, whose confidence column is kind + 0.999 * raw
(kind: 0 template, 1 other, 2 model, 3 context). Columns:
id, want, got, confidence, mean word posterior, quality. A row gated to
"other" by the unclear/narrowband check has kind 4 (CAL_GATED).

For each kind, logistic regression of "intent right" on
[1, logit(raw), heard - 1], with an L2 penalty of LAMBDA (the dev text is
100 % right, so without one the weights would run off to infinity), by
Newton's method; b (the raw score's weight) is held >= 0 so the map is
monotone, and c >= 0 so that words heard less surely never make it surer. Kinds with fewer than MIN_ROWS rows keep the identity (a=0, b=1,
c=0). Prints the C constants.

    python3 bench/fit_calibration.py dev_text.rows flite.rows FIELD.rows...

(the shipped fit: the dev text, the flite set and the field subset of
synth-field.sh OUT 10, each condition's rows with --suffix; kinds with no
rows here, the model's, keep the constants already in intent_model.c)

The model (kind 2) decides no dev row by itself (the templates match them
all), so its rows come from a build with -DEARSHOT_FIT_MODEL as well, where
it decides every dev row it would fire on: model.rows holds those rows
(kind 2 only) of the dev text and the flite speech.
"""
import math
import sys

LAMBDA = 1.0
MIN_ROWS = 8
N_KINDS = 5


def logit(p):
    p = min(max(p, 1e-4), 1 - 1e-4)
    return math.log(p / (1 - p))


def solve3(a, b):
    """Solves the 3x3 system a x = b (Gaussian elimination)."""
    n = len(b)
    m = [row[:] + [b[i]] for i, row in enumerate(a)]
    for c in range(n):
        p = max(range(c, n), key=lambda r: abs(m[r][c]))
        m[c], m[p] = m[p], m[c]
        for r in range(n):
            if r != c and m[c][c]:
                f = m[r][c] / m[c][c]
                for k in range(c, n + 1):
                    m[r][k] -= f * m[c][k]
    return [m[i][n] / m[i][i] if m[i][i] else 0.0 for i in range(n)]


def loss(w, xs, ys):
    total = 0.0
    for x, y in zip(xs, ys):
        z = sum(wi * xi for wi, xi in zip(w, x))
        # log(1 + exp(-z)) for y = 1, log(1 + exp(z)) for y = 0, stably
        t = -z if y else z
        total += t + math.log1p(math.exp(-t)) if t > 0 else math.log1p(math.exp(t))
    prior = [0.0, 1.0, 0.0]
    return total + 0.5 * LAMBDA * sum((wi - pi) ** 2 for wi, pi in zip(w, prior))


def fit(xs, ys, fixed=None):
    """Damped Newton: a step that does not lower the loss is halved.
    fixed: {index: value} for weights held (b or c at 0)."""
    fixed = fixed or {}
    w = [fixed.get(0, 0.0), fixed.get(1, 1.0), fixed.get(2, 0.0)]
    free = [i for i in range(3) if i not in fixed]
    cur = loss(w, xs, ys)
    for _ in range(200):
        g = [0.0] * 3
        h = [[0.0] * 3 for _ in range(3)]
        for x, y in zip(xs, ys):
            z = sum(wi * xi for wi, xi in zip(w, x))
            p = 1 / (1 + math.exp(-z)) if z > -700 else 0.0
            for i in range(3):
                g[i] += (p - y) * x[i]
                for j in range(3):
                    h[i][j] += p * (1 - p) * x[i] * x[j]
        for i in range(3):
            g[i] += LAMBDA * (w[i] - (1.0 if i == 1 else 0.0))  # shrink to identity
            h[i][i] += LAMBDA
        hs = [[h[i][j] for j in free] for i in free]
        d = solve3(hs, [g[i] for i in free])
        step = 1.0
        while step > 1e-6:
            trial = w[:]
            for k, i in enumerate(free):
                trial[i] -= step * d[k]
            new = loss(trial, xs, ys)
            if new <= cur:
                break
            step /= 2
        if step <= 1e-6:
            break
        w, done = trial, cur - new < 1e-10
        cur = new
        if done:
            break
    return w


def main():
    rows = []
    for path in sys.argv[1:]:
        for line in open(path):
            f = line.rstrip("\n").split("\t")
            if len(f) < 6:
                continue
            conf = float(f[3])
            kind = int(conf)
            raw = (conf - kind) / 0.999
            heard = float(f[4])
            rows.append((kind, raw, heard, 1.0 if f[1] == f[2] else 0.0, f[5]))
    out = []
    for k in range(N_KINDS):
        sel = [r for r in rows if r[0] == k]
        if k == 4:
            n = len(sel)
            ok = sum(r[3] for r in sel)
            # The gated share right, shrunk toward the dev set's share of
            # "other" rows (11/130) by 10 pseudo-rows.
            p = (ok + 10 * 11 / 130) / (n + 10)
            print(f"gated: {n} rows, {ok:.0f} right -> {p:.3f}")
            out.append((0.0, 0.0, 0.0, p))
            continue
        if len(sel) < MIN_ROWS:
            print(f"kind {k}: {len(sel)} rows, identity")
            out.append((0.0, 1.0, 0.0, None))
            continue
        xs = [[1.0, logit(r[1]), r[2] - 1.0] for r in sel]
        ys = [r[3] for r in sel]
        w = fit(xs, ys)
        fixed = {}
        if w[1] < 0:
            fixed[1] = 0.0
        if w[2] < 0:
            fixed[2] = 0.0
        if fixed:
            w = fit(xs, ys, fixed)
        print(f"kind {k}: {len(sel)} rows, {sum(ys):.0f} right: a={w[0]:.3f} b={w[1]:.3f} c={w[2]:.3f}")
        out.append((w[0], w[1], w[2], None))
    print("static const double cal_a[CAL_N] = {%s};" % ", ".join(f"{o[0]:.3f}" for o in out))
    print("static const double cal_b[CAL_N] = {%s};" % ", ".join(f"{o[1]:.3f}" for o in out))
    print("static const double cal_c[CAL_N] = {%s};" % ", ".join(f"{o[2]:.3f}" for o in out))
    print("static const double cal_gated = %.3f;" % out[4][3])


if __name__ == "__main__":
    main()
