#!/usr/bin/env python3
"""Prints the closing line `tests: N passed, N failed[, N skipped]` for a Bazel test run.

Counts test *cases* from each target's test.xml (gtest writes one <testcase> per TEST;
Bazel writes one for sh_test/py_test). Only the targets named on the command line are read,
so stale test.xml files of deleted targets never count. A named target without a test.xml
(its build failed, or it never ran) counts as one failed case.

Usage: test_summary.py --testlogs DIR //pkg:target [//pkg:target ...]
       (targets may also come on stdin, one per line, with --stdin)
"""
import argparse
import glob
import os
import sys
import xml.etree.ElementTree as ET


def target_dir(testlogs, label):
    """//pkg/sub:name -> DIR/pkg/sub/name (Bazel's testlogs layout)."""
    label = label.strip()
    if label.startswith("@"):
        label = label[label.index("//"):]
    pkg, _, name = label.lstrip("/").partition(":")
    if not name:
        name = pkg.rsplit("/", 1)[-1]
    return os.path.join(testlogs, pkg, name)


def count_xml(path):
    """Returns (passed, failed, skipped) for one test.xml."""
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError):
        return 0, 1, 0
    passed = failed = skipped = 0
    cases = list(root.iter("testcase"))
    for tc in cases:
        if tc.find("failure") is not None or tc.find("error") is not None:
            failed += 1
        elif (tc.get("result") == "skipped" or tc.get("status") == "notrun"
              or tc.find("skipped") is not None):
            skipped += 1
        else:
            passed += 1
    if not cases:  # a target whose runner wrote no case: judge it by the suite counters
        bad = sum(int(s.get("failures", 0)) + int(s.get("errors", 0))
                  for s in root.iter("testsuite"))
        return (0, 1, 0) if bad else (1, 0, 0)
    return passed, failed, skipped


def summarize(testlogs, labels):
    passed = failed = skipped = 0
    missing = []
    for label in labels:
        d = target_dir(testlogs, label)
        xmls = sorted(glob.glob(os.path.join(d, "test.xml"))
                      + glob.glob(os.path.join(d, "shard_*", "test.xml"))
                      + glob.glob(os.path.join(d, "run_*", "test.xml")))
        if not xmls:
            missing.append(label)
            failed += 1
            continue
        for x in xmls:
            p, f, s = count_xml(x)
            passed, failed, skipped = passed + p, failed + f, skipped + s
    return passed, failed, skipped, missing


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--testlogs", required=True, help="Bazel's bazel-testlogs directory")
    ap.add_argument("--stdin", action="store_true", help="read target labels from stdin")
    ap.add_argument("targets", nargs="*")
    args = ap.parse_args(argv)
    labels = list(args.targets)
    if args.stdin:
        labels += [l.strip() for l in sys.stdin if l.strip()]
    passed, failed, skipped, missing = summarize(args.testlogs, labels)
    for label in missing:
        print(f"no result for {label} (build failed or test did not run)")
    line = f"tests: {passed} passed, {failed} failed"
    if skipped:
        line += f", {skipped} skipped"
    print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
