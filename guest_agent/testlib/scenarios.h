// The canned scenarios (ktstr's 14 public scenarios::* functions) for KTSTR_TEST bodies.
#ifndef KTSTR_GUEST_AGENT_TESTLIB_SCENARIOS_H_
#define KTSTR_GUEST_AGENT_TESTLIB_SCENARIOS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "guest_agent/testlib/checks.h"
#include "guest_agent/testlib/ctx.h"

namespace ktstr::scenarios {

using ScenarioFn = absl::StatusOr<AssertResult> (*)(const Ctx&);

// 2 cgroups of CPU spinners, no cpusets.
absl::StatusOr<AssertResult> steady(const Ctx& ctx);
// 2 cgroups on LLC-aligned cpusets (skips with fewer than 2 LLCs).
absl::StatusOr<AssertResult> steady_llc(const Ctx& ctx);
// 2 cgroups x 32 Mixed workers.
absl::StatusOr<AssertResult> oversubscribed(const Ctx& ctx);
// Disjoint cpusets applied half-way.
absl::StatusOr<AssertResult> cpuset_apply(const Ctx& ctx);
// Disjoint cpusets cleared half-way.
absl::StatusOr<AssertResult> cpuset_clear(const Ctx& ctx);
// Disjoint cpusets shrunk at 1/3, grown back at 2/3.
absl::StatusOr<AssertResult> cpuset_resize(const Ctx& ctx);
// One cgroup; two more added half-way.
absl::StatusOr<AssertResult> cgroup_add(const Ctx& ctx);
// Three cgroups; two removed half-way.
absl::StatusOr<AssertResult> cgroup_remove(const Ctx& ctx);
// Worker affinities randomized half-way.
absl::StatusOr<AssertResult> affinity_change(const Ctx& ctx);
// Workers pinned to a 2-CPU subset.
absl::StatusOr<AssertResult> affinity_pinned(const Ctx& ctx);
// Host (harness-cgroup) spinners against cgroup workers.
absl::StatusOr<AssertResult> host_contention(const Ctx& ctx);
// Heavy, bursty and IO cgroups side by side.
absl::StatusOr<AssertResult> mixed_workloads(const Ctx& ctx);
// Workers in nested sub-cgroups.
absl::StatusOr<AssertResult> nested_steady(const Ctx& ctx);
// All tasks moved between nested sibling cgroups half-way.
absl::StatusOr<AssertResult> nested_task_move(const Ctx& ctx);

struct NamedScenario {
  const char* name;
  ScenarioFn fn;
};
// The 14, by name (for catalogs and `--ktstr-list` style tooling).
const std::vector<NamedScenario>& All();

}  // namespace ktstr::scenarios

#endif  // KTSTR_GUEST_AGENT_TESTLIB_SCENARIOS_H_
