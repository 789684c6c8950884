#!/usr/bin/env bash
# bench/report.sh BUILD_DIR [N] - insight report time on a database of N
# generated utterances (default 1,000,000) against a plain SELECT of the
# same rows in the same process (bench/report_bench.c). Goal: <= 2 s for
# the JSON report.
set -euo pipefail
B=${1:-build}
N=${2:-1000000}
here=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/earshot-bench-XXXXXX"); trap 'rm -rf "$tmp"' EXIT
echo
echo "== Insight report on $N utterances (bench/report_bench.c)"
"$B/bench/report_bench" "$tmp" "$here/../shared/eval/dev/utterances.tsv" "$N"
echo "  database size: $(du -m "$tmp/report.db" | cut -f1) MB; JSON $(du -k "$tmp/report.json" | cut -f1) kB, HTML $(du -k "$tmp/report.html" | cut -f1) kB"
