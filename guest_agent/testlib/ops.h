// The declarative scenario model (ktstr's ops.rs / backdrop.rs): cgroup definitions, cpuset
// and affinity specs, the 13 ops, steps with their hold, and the backdrop.
#ifndef KTSTR_GUEST_AGENT_TESTLIB_OPS_H_
#define KTSTR_GUEST_AGENT_TESTLIB_OPS_H_

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "guest_agent/testlib/topology.h"
#include "guest_agent/testlib/work_types.h"

namespace ktstr {

class Ctx;

// Which CPUs a cgroup's cpuset gets, resolved against the topology's usable CPUs.
struct CpusetSpec {
  enum class Kind { kLlc, kNuma, kRange, kDisjoint, kOverlap, kExact };
  Kind kind = Kind::kExact;
  int index = 0;                        // Llc / Numa index; Disjoint / Overlap partition index
  int of = 1;                           // Disjoint / Overlap partition count
  double start_frac = 0, end_frac = 1;  // Range: [start, end) of the usable CPUs
  double frac = 0;                      // Overlap: how far each partition reaches into the next
  CpuSet cpus;                          // Exact

  static CpusetSpec Llc(int idx) { return {Kind::kLlc, idx}; }
  static CpusetSpec Numa(int node) { return {Kind::kNuma, node}; }
  static CpusetSpec Range(double start_frac, double end_frac) {
    CpusetSpec s{Kind::kRange};
    s.start_frac = start_frac;
    s.end_frac = end_frac;
    return s;
  }
  static CpusetSpec Disjoint(int index, int of) { return {Kind::kDisjoint, index, of}; }
  static CpusetSpec Overlap(int index, int of, double frac) {
    CpusetSpec s{Kind::kOverlap, index, of};
    s.frac = frac;
    return s;
  }
  static CpusetSpec Exact(CpuSet cpus) {
    CpusetSpec s{Kind::kExact};
    s.cpus = std::move(cpus);
    return s;
  }
  // The CPUs, or InvalidArgument ("not enough usable CPUs (4) for 8 partitions", ...).
  absl::StatusOr<CpuSet> Resolve(const TestTopology& topo) const;
  std::string ToString() const;
};

// Per-worker CPU affinity within a cgroup.
struct AffinityKind {
  enum class Kind { kInherit, kRandomSubset, kLlcAligned, kCrossCgroup, kSingleCpu, kExact };
  Kind kind = Kind::kInherit;
  CpuSet cpus;  // kExact
  static AffinityKind Inherit() { return {}; }
  static AffinityKind RandomSubset() { return {Kind::kRandomSubset}; }
  static AffinityKind LlcAligned() { return {Kind::kLlcAligned}; }
  static AffinityKind CrossCgroup() { return {Kind::kCrossCgroup}; }
  static AffinityKind SingleCpu() { return {Kind::kSingleCpu}; }
  static AffinityKind Exact(CpuSet c) { return {Kind::kExact, std::move(c)}; }
};
// One mask per worker (empty = no sched_setaffinity) for `workers` workers of a cgroup whose
// CPUs are `cgroup_cpus` (empty = all usable). `seed` makes RandomSubset reproducible.
std::vector<CpuSet> ResolveAffinity(const AffinityKind& a, const TestTopology& topo,
                                    const CpuSet& cgroup_cpus, int workers, uint64_t seed);

// One group of identical workers.
struct Work {
  int workers = 0;  // 0 = ctx.workers_per_cgroup
  WorkType work_type;
  SchedPolicy sched_policy;
  AffinityKind affinity;
  MemPolicy mem_policy;
};

// A cgroup with its cpuset and work groups (ktstr's CgroupDef builder). Names may nest
// ("outer/inner"); missing parents are created.
class CgroupDef {
 public:
  static CgroupDef named(std::string name);
  CgroupDef& with_cpuset(CpusetSpec spec);
  // These shape the primary work group.
  CgroupDef& workers(int n);
  CgroupDef& work_type(WorkType w);
  CgroupDef& sched_policy(SchedPolicy p);
  CgroupDef& affinity(AffinityKind a);
  CgroupDef& mem_policy(MemPolicy m);
  CgroupDef& mpol_flags(uint32_t flags);
  // Adds another concurrent work group.
  CgroupDef& work(Work w);

  const std::string& name() const { return name_; }
  const std::optional<CpusetSpec>& cpuset() const { return cpuset_; }
  // The primary group (if shaped or no extra groups were added) then the added groups.
  std::vector<Work> works() const;

 private:
  std::string name_;
  std::optional<CpusetSpec> cpuset_;
  Work primary_;
  bool primary_shaped_ = false;
  std::vector<Work> extra_;
};

// The 13 operations.
namespace op {
struct AddCgroup {
  std::string name;
};
struct RemoveCgroup {
  std::string cgroup;
};  // stops its workers, then rmdir
struct SetCpuset {
  std::string cgroup;
  CpusetSpec cpus;
};
struct ClearCpuset {
  std::string cgroup;
};
struct SwapCpusets {
  std::string a, b;
};
struct Spawn {
  std::string cgroup;
  Work work;
};
struct StopCgroup {
  std::string cgroup;
};  // stops its workers, keeps the cgroup
struct SetAffinity {
  std::string cgroup;
  AffinityKind affinity;
};
struct SpawnHost {
  Work work;
};  // workers left in the harness's cgroup
struct MoveAllTasks {
  std::string from, to;
};
// A background binary (ktstr's payloads), identified by `name` within `cgroup`.
struct RunPayload {
  std::string name;
  std::string binary;
  std::vector<std::string> args;
  std::string cgroup;
};
struct WaitPayload {
  std::string name;
  std::string cgroup;
};  // waits, exit code must be 0
struct KillPayload {
  std::string name;
  std::string cgroup;
};  // SIGKILL and reap
}  // namespace op

using Op = std::variant<op::AddCgroup, op::RemoveCgroup, op::SetCpuset, op::ClearCpuset,
                        op::SwapCpusets, op::Spawn, op::StopCgroup, op::SetAffinity, op::SpawnHost,
                        op::MoveAllTasks, op::RunPayload, op::WaitPayload, op::KillPayload>;
inline constexpr int kNumOpKinds = 13;
const char* OpName(const Op& op);

// How long a step lasts.
struct HoldSpec {
  enum class Kind { kFrac, kFixed, kLoop };
  Kind kind = Kind::kFrac;
  double frac = 1.0;                      // kFrac: of the scenario duration
  std::chrono::milliseconds fixed{0};     // kFixed
  std::chrono::milliseconds interval{0};  // kLoop: ops repeated every interval until the end
  static HoldSpec Frac(double f) { return {Kind::kFrac, f}; }
  static HoldSpec Fixed(std::chrono::milliseconds d) { return {Kind::kFixed, 1.0, d}; }
  static HoldSpec Loop(std::chrono::milliseconds interval) {
    return {Kind::kLoop, 1.0, {}, interval};
  }
  static HoldSpec Full() { return Frac(1.0); }
  absl::Status Validate() const;
};

struct Step {
  std::vector<CgroupDef> defs;                                // Setup::Defs
  std::function<std::vector<CgroupDef>(const Ctx&)> factory;  // Setup::Factory (optional)
  std::vector<Op> ops;
  HoldSpec hold = HoldSpec::Full();

  static Step New(std::vector<Op> ops, HoldSpec hold) {
    return {{}, nullptr, std::move(ops), hold};
  }
  static Step WithDefs(std::vector<CgroupDef> defs, HoldSpec hold) {
    return {std::move(defs), nullptr, {}, hold};
  }
  Step& set_ops(std::vector<Op> o) {
    ops = std::move(o);
    return *this;
  }
};

// Cgroups and ops that live across every step (steps may not remove backdrop cgroups).
struct Backdrop {
  std::vector<CgroupDef> defs;
  std::vector<Op> ops;
};

}  // namespace ktstr

#endif  // KTSTR_GUEST_AGENT_TESTLIB_OPS_H_
