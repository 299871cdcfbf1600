// Command-line options of the scx_fifo loader, parsed without side effects (unit-tested).
#ifndef KTSTR_SCHEDULER_TESTS_SCHEDULERS_SCX_FIFO_OPTIONS_H_
#define KTSTR_SCHEDULER_TESTS_SCHEDULERS_SCX_FIFO_OPTIONS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace ktstr::schedulers {

struct ScxFifoOptions {
  // 0 = kernel default (30 s). The kernel ejects a scheduler that leaves a runnable task
  // waiting longer than this ("runnable task stall").
  uint32_t timeout_ms = 0;
  // Fault knobs (scx_fifo.bpf.c's top comment says what each does); 0/empty/false = off.
  uint64_t stall_after = 0;
  uint64_t error_after = 0;
  std::string degrade_cgroup;
  bool fail_verify = false;
  // --exit-now=CODE: exit with CODE before loading anything (the "scheduler died" case).
  std::optional<int> exit_now;
  // Seconds between statistics lines on stdout; 0 = only at exit.
  uint32_t stats_interval_s = 0;
  bool help = false;
};

// Parses argv[1..]. Accepts --flag=value and --flag value. Unknown flags, missing or malformed
// values are InvalidArgument errors naming the flag.
absl::StatusOr<ScxFifoOptions> ParseScxFifoOptions(const std::vector<std::string>& args);

// The --help text.
std::string ScxFifoUsage();

}  // namespace ktstr::schedulers

#endif  // KTSTR_SCHEDULER_TESTS_SCHEDULERS_SCX_FIFO_OPTIONS_H_
