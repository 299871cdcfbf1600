#!/bin/bash
# Checks the build products of //scheduler_tests/schedulers: the BPF object and the loader.
set -euo pipefail
obj=$1 loader=$2
fail() { echo "FAIL: $*" >&2; exit 1; }

# The BPF object: an ELF for the BPF machine with the struct_ops map section and our ops.
readelf -h "$obj" | grep -q 'Machine:.*Linux BPF' || fail "$obj is not a BPF ELF"
readelf -S "$obj" | grep -q '\.struct_ops\.link' || fail "$obj has no .struct_ops.link section"
for prog in fifo_select_cpu fifo_enqueue fifo_dispatch fifo_init fifo_exit; do
  readelf -s "$obj" | grep -qw "$prog" || fail "$obj lacks program $prog"
done
readelf -S "$obj" | grep -q '\.BTF' || fail "$obj has no BTF (needed for CO-RE and struct_ops)"

# The loader: static (no PT_INTERP, no DT_NEEDED), so it runs in the minimal guest.
readelf -lW "$loader" | grep -q 'INTERP' && fail "$loader has an ELF interpreter (not static)"
readelf -dW "$loader" 2>/dev/null | grep -q 'NEEDED' && fail "$loader needs shared libraries"
# --help works and mentions every fault knob; bad usage exits 2; --exit-now exits with its code.
help=$("$loader" --help)
for knob in --stall-after --degrade --error-after --fail-verify --exit-now --timeout-ms; do
  grep -q -- "$knob" <<<"$help" || fail "--help does not mention $knob"
done
set +e
"$loader" --no-such-flag 2>/dev/null; rc=$?
[[ $rc -eq 2 ]] || fail "unknown flag exited $rc, want 2"
"$loader" --exit-now=7 2>/dev/null; rc=$?
[[ $rc -eq 7 ]] || fail "--exit-now=7 exited $rc"
echo PASS
