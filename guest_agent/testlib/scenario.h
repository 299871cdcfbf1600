// The scenario engine: runs cgroup definitions and steps against the real kernel and returns
// the verdict computed from the workers' reports.
#ifndef KTSTR_GUEST_AGENT_TESTLIB_SCENARIO_H_
#define KTSTR_GUEST_AGENT_TESTLIB_SCENARIO_H_

#include <vector>

#include "absl/status/statusor.h"
#include "guest_agent/testlib/checks.h"
#include "guest_agent/testlib/ctx.h"
#include "guest_agent/testlib/ops.h"

namespace ktstr {

// One step holding the full duration.
absl::StatusOr<AssertResult> execute_defs(const Ctx& ctx, std::vector<CgroupDef> defs);
absl::StatusOr<AssertResult> execute_steps(const Ctx& ctx, std::vector<Step> steps);
// As execute_steps, with `checks` instead of ctx.checks when not null.
absl::StatusOr<AssertResult> execute_steps_with(const Ctx& ctx, std::vector<Step> steps,
                                                const Assert* checks);
// Backdrop cgroups/ops first (alive across all steps), then the steps. Per step: apply its
// ops, then its setup (so parents exist first), hold; the scheduler's liveness is checked
// during holds and between steps; step-scoped cgroups and workers are torn down at step end.
// Errors (bad specs, cgroup failures) are harness errors; everything created is removed and
// every worker is stopped on every path.
absl::StatusOr<AssertResult> execute_scenario(const Ctx& ctx, Backdrop backdrop,
                                              std::vector<Step> steps,
                                              const Assert* checks = nullptr);

}  // namespace ktstr

#endif  // KTSTR_GUEST_AGENT_TESTLIB_SCENARIO_H_
