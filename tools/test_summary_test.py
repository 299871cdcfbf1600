"""Tests for tools/test_summary.py on synthetic Bazel testlogs trees."""
import io
import os
import sys
import tempfile
import unittest
from contextlib import redirect_stdout

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_summary  # noqa: E402

GTEST_XML = """<?xml version="1.0" encoding="UTF-8"?>
<testsuites tests="4" failures="1">
  <testsuite name="Topo" tests="4" failures="1">
    <testcase name="Parses" status="run" result="completed"/>
    <testcase name="Rejects" status="run" result="completed"><failure message="x"/></testcase>
    <testcase name="Prints" status="run" result="completed"/>
    <testcase name="NeedsKvm" status="run" result="skipped"><skipped message="no kvm"/></testcase>
  </testsuite>
</testsuites>"""

BAZEL_SH_FAIL = """<?xml version="1.0" encoding="UTF-8"?>
<testsuites><testsuite name="itest/e2e" tests="1" failures="0" errors="1">
<testcase name="itest/e2e" status="run"><error message="exited with error code 1"></error></testcase>
</testsuite></testsuites>"""

EMPTY_OK = """<?xml version="1.0"?><testsuites><testsuite name="t" tests="0" failures="0" errors="0"/></testsuites>"""


class SummaryTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()

    def write(self, rel, text):
        path = os.path.join(self.dir, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)

    def run_main(self, *labels):
        out = io.StringIO()
        with redirect_stdout(out):
            test_summary.main(["--testlogs", self.dir, *labels])
        return out.getvalue().splitlines()

    def test_counts_cases_across_targets(self):
        self.write("vmm/topology_test/test.xml", GTEST_XML)
        self.write("itest/e2e/test.xml", BAZEL_SH_FAIL)
        lines = self.run_main("//vmm:topology_test", "//itest:e2e")
        self.assertEqual(lines[-1], "tests: 2 passed, 2 failed, 1 skipped")

    def test_missing_result_counts_as_failure_and_is_named(self):
        self.write("vmm/topology_test/test.xml", GTEST_XML)
        lines = self.run_main("//vmm:topology_test", "//daemon:broken_test")
        self.assertIn("no result for //daemon:broken_test (build failed or test did not run)", lines)
        self.assertEqual(lines[-1], "tests: 2 passed, 2 failed, 1 skipped")

    def test_stale_targets_not_named_are_ignored(self):
        self.write("old/gone_test/test.xml", BAZEL_SH_FAIL)
        self.write("proto/rt/test.xml", EMPTY_OK)
        self.assertEqual(self.run_main("//proto:rt")[-1], "tests: 1 passed, 0 failed")

    def test_shards_are_summed(self):
        self.write("a/b/shard_1_of_2/test.xml", GTEST_XML)
        self.write("a/b/shard_2_of_2/test.xml", GTEST_XML)
        self.assertEqual(self.run_main("//a:b")[-1], "tests: 4 passed, 2 failed, 2 skipped")

    def test_corrupt_xml_is_a_failure(self):
        self.write("a/c/test.xml", "<testsuites><testcase")
        self.assertEqual(self.run_main("//a:c")[-1], "tests: 0 passed, 1 failed")

    def test_label_forms(self):
        self.assertEqual(test_summary.target_dir("/t", "//a/b:c"), "/t/a/b/c")
        self.assertEqual(test_summary.target_dir("/t", "@//a:c"), "/t/a/c")
        self.assertEqual(test_summary.target_dir("/t", "//a/b"), "/t/a/b/b")


if __name__ == "__main__":
    unittest.main()
