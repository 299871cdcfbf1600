#!/usr/bin/env bash
# ktstr-kernel end to end on a temporary cache: help, usage errors, empty list, import of a
# synthetic bzImage, list (text and JSON), discover, clean --corrupt-only, clean --keep.
set -euo pipefail
BIN="$(dirname "$0")/ktstr-kernel"
[[ -x $BIN ]] || BIN="$TEST_SRCDIR/$TEST_WORKSPACE/kernel_cache/ktstr-kernel"
T="${TEST_TMPDIR:-$(mktemp -d)}/cli"
mkdir -p "$T"
C="$T/kernels"
fail() { echo "FAIL: $*" >&2; exit 1; }

"$BIN" --help | grep -q "Usage: ktstr-kernel" || fail "--help"
set +e
"$BIN" frobnicate >/dev/null 2>&1; [[ $? == 2 ]] || fail "unknown command must exit 2"
"$BIN" --cache-dir "$C" import >/dev/null 2>&1; [[ $? == 2 ]] || fail "import without path must exit 2"
"$BIN" --cache-dir "$C" import /nonexistent >/dev/null 2>&1; [[ $? == 1 ]] || fail "missing file must exit 1"
"$BIN" --cache-dir "$C" clean --keep x >/dev/null 2>&1; [[ $? == 2 ]] || fail "bad --keep must exit 2"
set -e
"$BIN" --cache-dir "$C" list | grep -q "(empty)" || fail "empty list"
[[ "$("$BIN" --cache-dir "$C" list --json)" == "[]" ]] || fail "empty json list"

# A bzImage-shaped file: "HdrS" at 0x202, kernel_version pointer 0x100 at 0x20e -> 0x300.
img="$T/bzImage"
python3 - "$img" <<'PY'
import sys
b = bytearray(0x400)
b[0x202:0x206] = b"HdrS"
b[0x20e:0x210] = (0x100).to_bytes(2, "little")
v = b"6.14.2-cli (t@h) #1"
b[0x300:0x300 + len(v)] = v
open(sys.argv[1], "wb").write(bytes(b))
PY
out=$("$BIN" --cache-dir "$C" import "$img")
echo "$out" | grep -q "^imported: 6.14.2-cli-image-x86_64-kc" || fail "import: $out"
"$BIN" --cache-dir "$C" import "$img" | grep -q "^already cached" || fail "second import must be a no-op"
"$BIN" --cache-dir "$C" list | grep -E "6.14.2-cli +image +no " | grep -q "(default)" || fail "list row"
"$BIN" --cache-dir "$C" list --json | python3 -c '
import json, sys
e = json.load(sys.stdin)
assert len(e) == 1 and e[0]["version"] == "6.14.2-cli" and e[0]["is_default"] and not e[0]["sched_ext"], e'
env -u KTSTR_KERNEL -u KTSTR_TEST_KERNEL "$BIN" --cache-dir "$C" discover | grep -q "$C/6.14.2-cli-image" || fail "discover"
KTSTR_KERNEL=9.9 "$BIN" --cache-dir "$C" discover -v >/dev/null 2>&1 && [[ ! -e /boot/vmlinuz ]] && fail "uncached version must not fall back to the cache"

mkdir -p "$C/broken"
"$BIN" --cache-dir "$C" list | grep -q "broken .*(corrupt: metadata_missing" || fail "corrupt entry listed"
"$BIN" --cache-dir "$C" clean --corrupt-only | grep -q "removed broken" || fail "clean --corrupt-only"
"$BIN" --cache-dir "$C" clean --keep 1 | grep -q "^0 removed" || fail "clean --keep 1 keeps the only entry"
"$BIN" --cache-dir "$C" clean | grep -q "^1 removed" || fail "clean removes all"
# SIGTERM during a build reaches make's own process group: nothing keeps running.
tree="$T/tree"
mkdir -p "$tree"
: > "$tree/Kconfig"
printf 'defconfig:\n\t: > .config\nolddefconfig:\n\ttrue\nbzImage:\n\techo $$$$ > make.pid; exec sleep 60\n' > "$tree/Makefile"
"$BIN" --cache-dir "$C" build --source "$tree" >/dev/null 2>&1 &
tool=$!
for _ in $(seq 300); do [[ -s "$tree/make.pid" ]] && break; sleep 0.1; done
[[ -s "$tree/make.pid" ]] || fail "fake make never started"
kill -TERM "$tool"
wait "$tool" && fail "ktstr-kernel must die of SIGTERM"
child=$(cat "$tree/make.pid")
for _ in $(seq 100); do kill -0 "$child" 2>/dev/null || break; sleep 0.1; done
kill -0 "$child" 2>/dev/null && { kill -KILL "$child"; fail "make's child $child outlived ktstr-kernel"; }
echo "PASS"
