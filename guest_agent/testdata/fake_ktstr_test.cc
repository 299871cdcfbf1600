// A tiny program that follows the test-binary contract (ARCHITECTURE.md):
//   BIN --ktstr-run NAME --ktstr-result-fd FD [--ktstr-duration-s S]
// writes a serialized ktstr.v1.TestReport to FD and exits 0 pass / 1 fail / 2 skip / 3 error.
// Test names choose the behaviour the agent tests need:
//   pass      PASS report, prints to stdout and stderr, reports SCHED_PID in a detail
//   fail      FAIL report, exit 1
//   noreport  exits 0 without writing a report
//   garbage   writes bytes that are no TestReport
//   hang      never ends (for timeouts)
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "proto/ktstr/v1/result.pb.h"

int main(int argc, char** argv) {
  std::string name;
  int fd = -1;
  int duration = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--ktstr-run")) name = argv[i + 1];
    else if (!std::strcmp(argv[i], "--ktstr-result-fd")) fd = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--ktstr-duration-s")) duration = std::atoi(argv[i + 1]);
  }
  if (name.empty() || fd < 0) {
    std::fprintf(stderr, "usage: %s --ktstr-run NAME --ktstr-result-fd FD\n", argv[0]);
    return 3;
  }
  std::printf("running %s for %ds\n", name.c_str(), duration);
  std::fflush(stdout);
  std::fprintf(stderr, "stderr of %s\n", name.c_str());
  ktstr::v1::TestReport report;
  report.set_test_name(name);
  const char* sched_pid = std::getenv("SCHED_PID");
  report.set_stats_text(std::string("SCHED_PID=") + (sched_pid ? sched_pid : ""));
  int code = 0;
  if (name == "pass") {
    report.set_outcome(ktstr::v1::TEST_OUTCOME_PASS);
  } else if (name == "fail") {
    report.set_outcome(ktstr::v1::TEST_OUTCOME_FAIL);
    code = 1;
  } else if (name == "noreport") {
    return 0;
  } else if (name == "garbage") {
    ssize_t w = write(fd, "\xff\xff\xff\xff", 4);
    return w == 4 ? 0 : 3;
  } else if (name == "hang") {
    while (true) pause();
  } else {
    std::fprintf(stderr, "unknown test %s\n", name.c_str());
    return 3;
  }
  std::string bytes = report.SerializeAsString();
  if (write(fd, bytes.data(), bytes.size()) != static_cast<ssize_t>(bytes.size())) return 3;
  return code;
}
