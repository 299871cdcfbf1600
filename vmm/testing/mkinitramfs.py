#!/usr/bin/env python3
"""Writes a gzip'd cpio newc initramfs without root, mknod or cpio(1).

usage: mkinitramfs.py OUT.cpio.gz /init=HOST_FILE [GUEST_PATH=HOST_FILE ...]

The archive always holds the directories dev, proc, sys, tmp and the char device
dev/console (5,1): without it the kernel opens no console for init.
"""
import gzip
import os
import sys


def entry(name, mode, data=b"", rdev=(0, 0), ino=[1000]):
    ino[0] += 1
    name_b = name.encode() + b"\0"
    header = "070701" + "".join("%08X" % v for v in (
        ino[0], mode, 0, 0, 1, 0, len(data), 0, 0, rdev[0], rdev[1], len(name_b), 0))
    out = header.encode() + name_b
    out += b"\0" * (-len(out) % 4)
    out += data
    out += b"\0" * (-len(out) % 4)
    return out


def main(argv):
    if len(argv) < 3 or argv[1] in ("-h", "--help"):
        print(__doc__)
        return 0 if len(argv) > 1 and argv[1] in ("-h", "--help") else 2
    out = bytearray()
    for d in ("dev", "proc", "sys", "tmp"):
        out += entry(d, 0o040755)
    out += entry("dev/console", 0o020600, rdev=(5, 1))
    for spec in argv[2:]:
        guest, host = spec.split("=", 1)
        with open(host, "rb") as f:
            data = f.read()
        out += entry(guest.lstrip("/"), 0o100755, data)
    out += entry("TRAILER!!!", 0)
    with gzip.open(argv[1], "wb", compresslevel=6) as f:
        f.write(bytes(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
