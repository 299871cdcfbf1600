// Where a listed test's scheduler loader lives on the host, and the JobSpec.scheduler it
// becomes. The rule (client/README.md "Scheduler binaries"):
//   binary_kind "path":     an absolute path as is; a relative one from the test binary's dir.
//   binary_kind "discover": the first executable NAME in $KTSTR_SCHEDULER_PATH (colon-
//                           separated dirs), then the test binary's dir, then its schedulers/
//                           subdir (a Bazel `data` dependency on //x/schedulers:NAME next to
//                           //x:tests lands there, in bazel-bin and in runfiles alike).
//   "kernel_builtin" is not supported by ktstrd yet (clear error); "eevdf"/null = no scheduler.
#ifndef KTSTR_CLIENT_SCHEDULER_BINARY_H_
#define KTSTR_CLIENT_SCHEDULER_BINARY_H_

#include <string>

#include "absl/status/statusor.h"
#include "proto/ktstr/v1/scheduler.pb.h"
#include "proto/ktstr/v1/test_list.pb.h"

namespace ktstr::client {

namespace config {
// The env var with extra directories searched for "discover" schedulers, before the defaults.
inline constexpr char kSchedulerPathEnv[] = "KTSTR_SCHEDULER_PATH";
}  // namespace config

// True when the test runs under a sched_ext scheduler that must be shipped.
bool NeedsSchedulerBinary(const ktstr::v1::ListedTest& t);

// The host path of the loader; NOT_FOUND names every place searched. `search_path` is the
// value of $KTSTR_SCHEDULER_PATH (passed in for tests).
absl::StatusOr<std::string> ResolveSchedulerBinary(const std::string& test_binary,
                                                   const ktstr::v1::ListedSchedulerDef& def,
                                                   const std::string& search_path);

// JobSpec.scheduler without the binary/support files (the caller uploads those): name, argv of
// `profile` (sched_args, extra_sched_args, flag args; null = the test's default profile),
// sysctls, kernel args, and expected_ops_name = the scheduler's name.
ktstr::v1::SchedulerSpec SchedulerSpecFor(const ktstr::v1::ListedTest& t,
                                          const ktstr::v1::ListedFlagProfile* profile = nullptr);

}  // namespace ktstr::client

#endif  // KTSTR_CLIENT_SCHEDULER_BINARY_H_
