// The `--ktstr-list` JSON: every registered test with every resolved attribute.
#ifndef KTSTR_GUEST_AGENT_TESTLIB_LIST_JSON_H_
#define KTSTR_GUEST_AGENT_TESTLIB_LIST_JSON_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "guest_agent/testlib/registry.h"

namespace ktstr {

// {"tests":[{"name":..., "numa_nodes":N, "llcs":N, "cores":N, "threads":N, "memory_mb":N,
//   "duration_s":N, "workers_per_cgroup":N, "scheduler":"" | name, "expect_err":bool,
//   ..., every check threshold after the merge chain (null when unset), "scheduler_def":
//   {name, binary, sched_args, flags, sysctls, kargs, profiles with their argv} | null}]}
// Errors (attributes that do not resolve) name the test.
absl::StatusOr<std::string> TestsToJson(const std::vector<TestEntry>& tests);
std::string JsonEscape(const std::string& s);

}  // namespace ktstr

#endif  // KTSTR_GUEST_AGENT_TESTLIB_LIST_JSON_H_
