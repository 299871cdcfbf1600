#!/usr/bin/env bash
# A short bounded libFuzzer run of the frame decoder and message validation, seeded with
# real frames. Fails on any crash, sanitizer report, leak or timeout.
set -euo pipefail
fuzzer=guest_agent/wire_fuzzer
seeds=guest_agent/testdata/wire_corpus
work="${TEST_TMPDIR:-/tmp}/wire_corpus"
rm -rf "$work" && mkdir -p "$work"
cp "$seeds"/* "$work"/
# Bounded: a fixed run count and a wall-clock cap, whichever comes first.
"$fuzzer" -runs=300000 -max_total_time=30 -max_len=8192 -timeout=10 -rss_limit_mb=1024 \
  -dict=guest_agent/testdata/wire.dict -print_final_stats=1 "$work" 2>&1 | tail -n 25
echo "wire_fuzzer: PASS"
