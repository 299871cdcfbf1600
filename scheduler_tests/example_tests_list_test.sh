#!/bin/bash
# Checks the example ktstr test binary's command-line contract: --ktstr-list JSON (names,
# attributes with ktstr's defaults and the test's own values), --help, the no-argument
# handoff to ktstr-client, and the exit codes for bad input. Runs no test on the host.
set -u
BIN="${TEST_SRCDIR}/ktstr/scheduler_tests/example_tests"
fail=0
check() { if ! eval "$1"; then echo "FAIL: $2"; fail=1; fi; }

list="$("$BIN" --ktstr-list)"
check "[ $? -eq 0 ]" "--ktstr-list exits 0"
python3 - "$list" <<'PY' || fail=1
import json, sys
d = json.loads(sys.argv[1])
t = {x["name"]: x for x in d["tests"]}
assert sorted(t) == ["bursty", "steady", "two_groups"], sorted(t)
s = t["steady"]
want = {"numa_nodes": 1, "llcs": 1, "cores": 2, "threads": 1, "memory_mb": 2048,
        "duration_s": 2, "workers_per_cgroup": 2, "scheduler": "", "expect_err": False,
        "max_gap_ms": 2000, "max_spread_pct": 15, "not_starved": True, "isolation": None,
        "max_llcs": 12, "max_cpus": 192, "scheduler_def": None}
for k, v in want.items():
    assert s[k] == v, (k, s[k], v)
assert t["two_groups"]["llcs"] == 2 and t["two_groups"]["cores"] == 2
b = t["bursty"]
assert b["cores"] == 4 and b["duration_s"] == 3 and b["max_gap_ms"] == 1500, b
for x in d["tests"]:
    for k in ["name", "numa_nodes", "llcs", "cores", "threads", "memory_mb", "duration_s",
              "workers_per_cgroup", "scheduler", "expect_err", "min_llcs", "required_flags",
              "max_p99_wake_latency_ns", "max_migration_ratio", "max_throughput_cv",
              "min_work_rate"]:
        assert k in x, (x["name"], k)
print("list ok:", ", ".join(sorted(t)))
PY

"$BIN" --help | grep -q -- "--ktstr-run NAME"
check "[ $? -eq 0 ]" "--help documents --ktstr-run"

# No arguments: the binary execs `ktstr-client test <itself>` and exits with its status.
# A recording stand-in client checks that handoff here (the real client -> ktstrd -> VM path is
# covered by //daemon:ktstrd_vm_itest and //scheduler_tests:scx_fifo_e2e_itest).
tmp="$(mktemp -d)"
cat > "$tmp/fake-client" <<SH
#!/bin/sh
printf '%s\n' "\$@" > "$tmp/args"
exit 7
SH
chmod +x "$tmp/fake-client"
KTSTR_CLIENT="$tmp/fake-client" "$BIN" >/dev/null 2>&1; rc=$?
check "[ $rc -eq 7 ]" "no arguments exits with the client's status (got $rc)"
self="$(readlink -f "$BIN")"
check "[ \"\$(sed -n 1p $tmp/args)\" = test ]" "the client is asked to 'test'"
check "[ \"\$(sed -n 2p $tmp/args)\" = \"$self\" ]" "the client gets the binary's own path"

# Without any client to find: a harness error that names the places tried and the way out.
cp "$BIN" "$tmp/alone"
msg="$(env -u KTSTR_CLIENT -u TEST_SRCDIR -u RUNFILES_DIR PATH=/nonexistent "$tmp/alone" 2>&1)"; rc=$?
check "[ $rc -eq 3 ]" "no client found exits 3 (got $rc)"
check "echo \"\$msg\" | grep -q 'ktstr-client not found'" "says the client was not found"
check "echo \"\$msg\" | grep -q KTSTR_CLIENT" "says how to point at the client"
check "echo \"\$msg\" | grep -q -- '--ktstr-run NAME'" "says how to run bare-metal"
rm -rf "$tmp"

"$BIN" --ktstr-run no_such_test >/dev/null 2>&1; rc=$?
check "[ $rc -eq 3 ]" "unknown test is a harness error (got $rc)"
"$BIN" --ktstr-bogus >/dev/null 2>&1; rc=$?
check "[ $rc -eq 64 ]" "unknown flag is a usage error (got $rc)"
"$BIN" --ktstr-run steady --ktstr-duration-s abc >/dev/null 2>&1; rc=$?
check "[ $rc -eq 64 ]" "bad duration is a usage error (got $rc)"

[ $fail -eq 0 ] && echo "all checks passed"
exit $fail
