#!/bin/bash
# Runs ktstr test binaries inside a real VM (the default guest kernel, pure cgroup v2 mounted
# at /sys/fs/cgroup as the agent does) to exercise the cgroup v2 backend, the product path
# that this hybrid-cgroup host cannot reach. A throwaway busybox /init stands in for the
# guest agent (its own tests cover it); one boot, the bare-metal scenarios plus all 14
# canned scenarios.
set -u
fail() { echo "FAIL: $*"; [ -n "${CONSOLE:-}" ] && tail -n 60 "$CONSOLE"; exit 1; }

home="$(getent passwd "$(id -un)" | cut -d: -f6)"
KERNEL="${KTSTR_CACHE_DIR:-$home/.cache/ktstr}/debian/default/vmlinux"
[ -r "$KERNEL" ] || fail "no guest kernel at $KERNEL (run tools/setup)"
BUSYBOX="$(command -v busybox)" || fail "busybox-static is missing (tools/setup installs it)"
BM="${TEST_SRCDIR}/ktstr/guest_agent/testlib/baremetal_tests"
EX="${TEST_SRCDIR}/ktstr/scheduler_tests/example_tests"
CAT="${TEST_SRCDIR}/ktstr/scheduler_tests/catalog_tests"
# The 14 canned scenarios, as named in catalog_tests (asserted against its --ktstr-list).
SCENARIOS="steady steady_llc oversubscribed cpuset_apply cpuset_clear cpuset_resize cgroup_add
cgroup_remove affinity_change affinity_pinned host_contention mixed_workloads nested_steady
nested_task_move"
listed="$("$CAT" --ktstr-list | grep -o '"name":"[a-z_]*"' | cut -d'"' -f4 | sort | tr '\n' ' ')"
[ "$listed" = "$(echo $SCENARIOS | tr ' ' '\n' | sort | tr '\n' ' ')" ] ||
  fail "catalog_tests lists [$listed]"

WORK="$(mktemp -d "${TEST_TMPDIR:-/tmp}/vm.XXXXXX")"
QEMU_PID=""
cleanup() { [ -n "$QEMU_PID" ] && kill -9 "$QEMU_PID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
ROOT="$WORK/root"
mkdir -p "$ROOT"/{bin,proc,sys,dev,tmp,lib64}
cp "$BUSYBOX" "$ROOT/bin/busybox"
cp -L "$BM" "$ROOT/baremetal_tests"
cp -L "$EX" "$ROOT/example_tests"
cp -L "$CAT" "$ROOT/catalog_tests"
echo "$SCENARIOS" > "$ROOT/scenarios"
# Shared libraries and the dynamic loader of both binaries.
for f in $(ldd "$BM" "$EX" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\/.*ld-linux/ {print $1}' | sort -u); do
  mkdir -p "$ROOT$(dirname "$f")"
  cp -L "$f" "$ROOT$f"
done
cat > "$ROOT/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp; mount -t cgroup2 none /sys/fs/cgroup
echo "CONTROLLERS $(cat /sys/fs/cgroup/cgroup.controllers)"
for t in cpuset_isolated nested_move starved; do
  /baremetal_tests --ktstr-run $t --ktstr-result-fd 3 3>/tmp/$t.pb
  echo "RESULT $t rc=$? report_bytes=$(wc -c < /tmp/$t.pb)"
done
/example_tests --ktstr-run steady --ktstr-duration-s 1; echo "RESULT steady rc=$?"
for t in $(cat /scenarios); do
  /catalog_tests --ktstr-run $t --ktstr-duration-s 1 --ktstr-result-fd 3 3>/tmp/c.pb >/tmp/c.out
  echo "CATALOG $t rc=$? report_bytes=$(wc -c < /tmp/c.pb)"; head -3 /tmp/c.out
done
echo "LEFTOVER_CGROUPS [$(ls -d /sys/fs/cgroup/ktstr* 2>/dev/null)]"
echo "LEFTOVER_PROCS [$(pidof baremetal_tests example_tests catalog_tests)]"
poweroff -f
INIT
chmod +x "$ROOT/init"
(cd "$ROOT" && find . | cpio -o -H newc 2>/dev/null | gzip -1 > "$WORK/initrd.gz") ||
  fail "cpio failed"

CONSOLE="$WORK/console.log"
# 2 LLCs x 2 cores (usable CPUs 0-2); TCG single-threaded (vmm/README.md).
timeout 500 qemu-system-x86_64 -M q35 -nodefaults -no-user-config -display none -vga none \
  -no-reboot -serial "file:$CONSOLE" -accel tcg,thread=single \
  -cpu qemu64,vendor=GenuineIntel,l3-cache=on -smp 4,sockets=1,dies=2,cores=2,threads=1 \
  -m 1G -kernel "$KERNEL" -initrd "$WORK/initrd.gz" \
  -append "console=ttyS0 rdinit=/init panic=-1 quiet" &
QEMU_PID=$!
wait "$QEMU_PID"
rc=$?
QEMU_PID=""
[ $rc -eq 0 ] || fail "qemu exited with $rc (124 = timed out)"
grep -qE "Oops|Kernel panic|BUG:" "$CONSOLE" && fail "guest kernel crashed"
grep -q "^CONTROLLERS .*cpuset" "$CONSOLE" || fail "cgroup2 without cpuset in the guest"
grep -q "^RESULT cpuset_isolated rc=0 report_bytes=[1-9]" "$CONSOLE" || fail "cpuset_isolated"
grep -q "^RESULT nested_move rc=0 report_bytes=[1-9]" "$CONSOLE" || fail "nested_move"
grep -q "^RESULT starved rc=1 report_bytes=[1-9]" "$CONSOLE" || fail "starved should fail"
grep -qE "^  stuck: stuck [0-9]+ms on cpu2 at \+[0-9]+ms \(idle worker" "$CONSOLE" ||
  fail "starved: no stuck detail for the idle worker on cpu2"
grep -q "^RESULT steady rc=0" "$CONSOLE" || fail "steady"
# Every canned scenario ran to a verdict (pass, or a fairness fail under TCG timing): never
# a harness error (3), never a skip (the VM has 2 LLCs), always a report.
for t in $SCENARIOS; do
  grep -qE "^CATALOG $t rc=[01] report_bytes=[1-9]" "$CONSOLE" || fail "catalog scenario $t"
done
grep -q "^LEFTOVER_CGROUPS \[\]" "$CONSOLE" || fail "cgroups left behind"
grep -q "^LEFTOVER_PROCS \[\]" "$CONSOLE" || fail "processes left behind"
grep -E "^(RESULT|CATALOG|ktstr_test|  [a-z_]+: )" "$CONSOLE"
echo "all checks passed"
