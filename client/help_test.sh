#!/bin/bash
# Every ktstr-client command answers --help on stdout with exit 0 and its own details, without
# a daemon (--no-autostart: a help request must never start or need one).
set -u
C="${TEST_SRCDIR}/ktstr/client/ktstr-client"
fail() { echo "FAIL: $*"; exit 1; }
expect() {  # expect "<args>" "<text the help must contain>"
  out="$("$C" --no-autostart --socket /nonexistent/ktstrd.sock $1 2>&1)" ||
    fail "'$1' exited $?: $out"
  grep -qF -- "$2" <<<"$out" || fail "'$1' does not mention '$2':
$out"
}
expect "--help" "exit codes: 0 ok"
expect "test --help" "-v                     stream each job's output live"
expect "gauntlet --help" "--label K=V"
expect "stats --help" "dual gate"
expect "pool --help" "keep COUNT ready clones"
expect "kernel --help" "clean removes corrupt entries"
expect "kernel build --help" "--source DIR"
expect "daemon --help" "--drain first lets every"
expect "cancel --help" "a VM still"
expect "shell --help" "--kernel-arg ARG  append ARG"
echo "all help checks passed"
