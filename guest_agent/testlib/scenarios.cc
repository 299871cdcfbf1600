#include "guest_agent/testlib/scenarios.h"

#include <algorithm>

#include "guest_agent/testlib/scenario.h"

namespace ktstr::scenarios {
namespace {

using std::chrono::milliseconds;

CgroupDef Spin(const std::string& name) { return CgroupDef::named(name); }

Backdrop Two(bool disjoint) {
  Backdrop b;
  for (int i = 0; i < 2; ++i) {
    CgroupDef d = Spin("cg_" + std::to_string(i));
    if (disjoint) d.with_cpuset(CpusetSpec::Disjoint(i, 2));
    b.defs.push_back(d);
  }
  return b;
}

Step Hold(double frac, std::vector<Op> ops = {}) {
  return Step::New(std::move(ops), HoldSpec::Frac(frac));
}

}  // namespace

absl::StatusOr<AssertResult> steady(const Ctx& ctx) {
  return execute_defs(ctx, {Spin("cg_0"), Spin("cg_1")});
}

absl::StatusOr<AssertResult> steady_llc(const Ctx& ctx) {
  if (ctx.topo.split_by_llc().size() < 2) {
    return AssertResult::Skip("steady_llc needs at least 2 LLCs with usable CPUs");
  }
  return execute_defs(ctx, {Spin("cg_0").with_cpuset(CpusetSpec::Llc(0)),
                            Spin("cg_1").with_cpuset(CpusetSpec::Llc(1))});
}

absl::StatusOr<AssertResult> oversubscribed(const Ctx& ctx) {
  return execute_defs(ctx, {Spin("cg_0").workers(32).work_type(WorkType::mixed()),
                            Spin("cg_1").workers(32).work_type(WorkType::mixed())});
}

absl::StatusOr<AssertResult> cpuset_apply(const Ctx& ctx) {
  return execute_scenario(
      ctx, Two(false),
      {Hold(0.5), Hold(0.5, {op::SetCpuset{"cg_0", CpusetSpec::Disjoint(0, 2)},
                             op::SetCpuset{"cg_1", CpusetSpec::Disjoint(1, 2)}})});
}

absl::StatusOr<AssertResult> cpuset_clear(const Ctx& ctx) {
  return execute_scenario(
      ctx, Two(true), {Hold(0.5), Hold(0.5, {op::ClearCpuset{"cg_0"}, op::ClearCpuset{"cg_1"}})});
}

absl::StatusOr<AssertResult> cpuset_resize(const Ctx& ctx) {
  return execute_scenario(ctx, Two(true),
                          {Hold(1.0 / 3),
                           Hold(1.0 / 3, {op::SetCpuset{"cg_0", CpusetSpec::Range(0, 0.25)},
                                          op::SetCpuset{"cg_1", CpusetSpec::Range(0.5, 0.75)}}),
                           Hold(1.0 / 3, {op::SetCpuset{"cg_0", CpusetSpec::Disjoint(0, 2)},
                                          op::SetCpuset{"cg_1", CpusetSpec::Disjoint(1, 2)}})});
}

absl::StatusOr<AssertResult> cgroup_add(const Ctx& ctx) {
  Backdrop b;
  b.defs.push_back(Spin("cg_0"));
  return execute_scenario(
      ctx, b, {Hold(0.5), Step::WithDefs({Spin("cg_1"), Spin("cg_2")}, HoldSpec::Frac(0.5))});
}

absl::StatusOr<AssertResult> cgroup_remove(const Ctx& ctx) {
  // cg_1 and cg_2 belong to the first step, so the engine removes them (stop workers, rmdir)
  // when it ends; cg_0 lives on.
  Backdrop b;
  b.defs.push_back(Spin("cg_0"));
  return execute_scenario(
      ctx, b, {Step::WithDefs({Spin("cg_1"), Spin("cg_2")}, HoldSpec::Frac(0.5)), Hold(0.5)});
}

absl::StatusOr<AssertResult> affinity_change(const Ctx& ctx) {
  return execute_scenario(
      ctx, Two(false),
      {Hold(0.5), Hold(0.5, {op::SetAffinity{"cg_0", AffinityKind::RandomSubset()},
                             op::SetAffinity{"cg_1", AffinityKind::RandomSubset()}})});
}

absl::StatusOr<AssertResult> affinity_pinned(const Ctx& ctx) {
  CpuSet usable = ctx.topo.usable_cpus();
  usable.resize(std::min<size_t>(2, usable.size()));
  return execute_defs(ctx, {Spin("cg_0").affinity(AffinityKind::Exact(usable)),
                            Spin("cg_1").affinity(AffinityKind::Exact(usable))});
}

absl::StatusOr<AssertResult> host_contention(const Ctx& ctx) {
  Step s = Step::WithDefs({Spin("cg_0")}, HoldSpec::Full());
  s.set_ops({op::SpawnHost{Work{}}});
  return execute_steps(ctx, {s});
}

absl::StatusOr<AssertResult> mixed_workloads(const Ctx& ctx) {
  return execute_defs(
      ctx, {Spin("cg_heavy"),
            Spin("cg_bursty").work_type(WorkType::bursty(milliseconds(50), milliseconds(100))),
            Spin("cg_io").work_type(WorkType::io_sync())});
}

absl::StatusOr<AssertResult> nested_steady(const Ctx& ctx) {
  return execute_defs(ctx, {Spin("outer/inner_0"), Spin("outer/inner_1")});
}

absl::StatusOr<AssertResult> nested_task_move(const Ctx& ctx) {
  Backdrop b;
  b.defs.push_back(Spin("outer/a"));
  b.ops.push_back(op::AddCgroup{"outer/b"});
  return execute_scenario(ctx, b, {Hold(0.5), Hold(0.5, {op::MoveAllTasks{"outer/a", "outer/b"}})});
}

const std::vector<NamedScenario>& All() {
  static const std::vector<NamedScenario> kAll = {
      {"steady", steady},
      {"steady_llc", steady_llc},
      {"oversubscribed", oversubscribed},
      {"cpuset_apply", cpuset_apply},
      {"cpuset_clear", cpuset_clear},
      {"cpuset_resize", cpuset_resize},
      {"cgroup_add", cgroup_add},
      {"cgroup_remove", cgroup_remove},
      {"affinity_change", affinity_change},
      {"affinity_pinned", affinity_pinned},
      {"host_contention", host_contention},
      {"mixed_workloads", mixed_workloads},
      {"nested_steady", nested_steady},
      {"nested_task_move", nested_task_move},
  };
  return kAll;
}

}  // namespace ktstr::scenarios
