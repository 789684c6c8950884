#!/usr/bin/env bash
# bench/store.sh BUILD_DIR - consented storage: inserts per second (one
# transaction per utterance, and batched) against plain SQLite in the same
# process, and database size per 100,000 utterances.
set -euo pipefail
B=${1:-build}
here=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/earshot-bench-XXXXXX"); trap 'rm -rf "$tmp"' EXIT
echo
echo "== Storage (bench/store_bench.c; the database in $(df --output=fstype "$tmp" | tail -1) at ${TMPDIR:-/tmp})"
"$B/bench/store_bench" "$tmp" "$here/../shared/eval/dev/utterances.tsv"
