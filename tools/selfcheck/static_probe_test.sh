#!/usr/bin/env bash
# The probe must be a static executable (no interpreter) and must run.
set -euo pipefail
bin=tools/selfcheck/static_probe
if readelf -l "$bin" | grep -q 'INTERP'; then echo "FAIL: $bin is dynamically linked"; exit 1; fi
out=$("$bin" | tail -n 1)
[[ "$out" == "static-probe: ok "* ]] || { echo "FAIL: unexpected output: $out"; exit 1; }
echo PASS
