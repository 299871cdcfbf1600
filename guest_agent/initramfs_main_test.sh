#!/usr/bin/env bash
# ktstr-initramfs end to end: a base archive plus stress-ng and its library closure, read back
# with cpio(1); bad input fails with a message.
set -euo pipefail
tool=guest_agent/ktstr-initramfs
tmp="${TEST_TMPDIR:-$(mktemp -d)}/initramfs_main"
rm -rf "$tmp" && mkdir -p "$tmp"
"$tool" --help | grep -q -- '--with-libs'
"$tool" --agent=guest_agent/ktstr-agent --cache-dir="$tmp/cache" \
  --add=/usr/bin/stress-ng:/opt/bin/stress-ng --with-libs --out="$tmp/initrd.gz"
# The file is the cached base archive followed by the extras archive: list each with cpio.
base=$("$tool" --agent=guest_agent/ktstr-agent --cache-dir="$tmp/cache" --print-base)
cmp -n "$(stat -c %s "$base")" "$base" "$tmp/initrd.gz" || { echo "FAIL: base is not a prefix"; exit 1; }
tail -c +"$(( $(stat -c %s "$base") + 1 ))" "$tmp/initrd.gz" > "$tmp/extras.gz"
zcat "$base" | cpio -t --quiet > "$tmp/base.lst"
zcat "$tmp/extras.gz" | cpio -t --quiet > "$tmp/extras.lst"
grep -qx init "$tmp/base.lst" || { echo "FAIL: no /init in the base"; exit 1; }
for want in opt/bin/stress-ng lib64/ld-linux-x86-64.so.2 lib/x86_64-linux-gnu/libc.so.6; do
  grep -qx "$want" "$tmp/extras.lst" || { echo "FAIL: $want missing"; cat "$tmp/extras.lst"; exit 1; }
done
if "$tool" --agent=/nonexistent --out="$tmp/x.gz" 2>"$tmp/err"; then echo "FAIL: accepted a missing agent"; exit 1; fi
grep -q /nonexistent "$tmp/err"
if "$tool" --agent=guest_agent/ktstr-agent --cache-dir="$tmp/cache" --add=/etc/hostname --with-libs \
     --out="$tmp/y.gz" 2>"$tmp/err2"; then echo "FAIL: accepted a non-ELF for --with-libs"; exit 1; fi
grep -q "not an ELF" "$tmp/err2"
echo PASS
