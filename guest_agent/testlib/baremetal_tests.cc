// A ktstr test binary used by baremetal_test: short scenarios run bare-metal on this host.
#include <chrono>

#include "guest_agent/testlib/ktstr_test.h"

namespace {

using ktstr::AffinityKind;
using ktstr::CgroupDef;
using ktstr::CpusetSpec;
using ktstr::SchedPolicy;

KTSTR_TEST(steady_short, {.duration_s = 1}) { return ktstr::scenarios::steady(ctx); }

// Each cgroup on its own CPU(s); isolation on, so a worker seen elsewhere fails the test.
KTSTR_TEST(cpuset_isolated, {.duration_s = 1, .isolation = true}) {
  if (ctx.topo.usable_cpus().size() < 2) return ktstr::AssertResult::Skip("needs 2 CPUs");
  return ktstr::execute_defs(ctx,
                             {
                                 CgroupDef::named("cg_0").with_cpuset(CpusetSpec::Disjoint(0, 2)),
                                 CgroupDef::named("cg_1").with_cpuset(CpusetSpec::Disjoint(1, 2)),
                             });
}

// A SCHED_IDLE spinner sharing one CPU with a SCHED_FIFO spinner only runs when RT
// throttling (or the fair deadline server) lets it: ~50 ms per second by default, so its
// scheduling gap is ~950 ms, over the 400 ms limit. Bounded: the FIFO worker stops on SIGUSR1
// (or is SIGKILLed at the stop deadline) and the harness runs on the other CPU.
absl::StatusOr<ktstr::AssertResult> StarveIdleWorker(const ktstr::Ctx& ctx) {
  const ktstr::CpuSet usable = ctx.topo.usable_cpus();
  if (usable.size() < 2) return ktstr::AssertResult::Skip("needs 2 CPUs");
  const ktstr::CpuSet victim = {usable.back()};
  return ktstr::execute_defs(ctx, {
                                      CgroupDef::named("rt")
                                          .workers(1)
                                          .sched_policy(SchedPolicy::Fifo(1))
                                          .affinity(AffinityKind::Exact(victim)),
                                      CgroupDef::named("idle")
                                          .workers(1)
                                          .sched_policy(SchedPolicy::Idle())
                                          .affinity(AffinityKind::Exact(victim)),
                                  });
}

KTSTR_TEST(starved, {.duration_s = 2, .max_gap_ms = 400}) { return StarveIdleWorker(ctx); }

// The same starvation, declared as the expected outcome: the verdict is inverted to a pass.
KTSTR_TEST(starved_expected, {.duration_s = 1, .expect_err = true, .max_gap_ms = 400}) {
  return StarveIdleWorker(ctx);
}

// Heavy, bursty and IO (scratch files) cgroups; checked for leftovers, not for fairness.
KTSTR_TEST(mixed_short, {.duration_s = 1, .max_spread_pct = 100}) {
  return ktstr::scenarios::mixed_workloads(ctx);
}

KTSTR_TEST(nested_move, {.duration_s = 1}) { return ktstr::scenarios::nested_task_move(ctx); }

// Long on purpose: the driver interrupts it (SIGTERM) or kills its "scheduler".
KTSTR_TEST(long_steady, {.duration_s = 30}) { return ktstr::scenarios::steady(ctx); }

}  // namespace
